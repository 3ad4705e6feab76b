/**
 * Runs a command-line tool's `main` in the test's own process and captures what it prints, so its
 * tests need no child process.
 */

/** What a run returned and printed. */
export interface CliRun {
    code: number;
    stdout: string;
    stderr: string;
}

/**
 * @param raw also capture `process.stdout.write`, as written (a tool that writes its output, not
 *   lines): stdout is then the pieces joined as they are; otherwise the `console.log` lines, joined
 *   with newlines.
 */
export async function runCli(
    main: (args: string[]) => Promise<number>,
    args: string[],
    options: { readonly raw?: boolean } = {},
): Promise<CliRun> {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const log = jest.spyOn(console, "log").mockImplementation((...a: unknown[]) => void stdout.push(a.join(" ")));
    const error = jest.spyOn(console, "error").mockImplementation((...a: unknown[]) => void stderr.push(a.join(" ")));
    const write = options.raw
        ? jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
              stdout.push(chunk.toString());
              return true;
          })
        : undefined;
    try {
        const code = await main(args);
        return { code, stdout: stdout.join(options.raw ? "" : "\n"), stderr: stderr.join("\n") };
    } finally {
        log.mockRestore();
        error.mockRestore();
        write?.mockRestore();
    }
}
