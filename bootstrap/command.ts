/**
 * What the repository's commands (`npm run synth`, `npm run bench`) share: strict argument parsing
 * that answers a bad argument with the usage and `--help` with the help, and the process entry point.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;
const HELP_OPTION = { help: { type: "boolean", short: "h" } } as const;
type Values<O extends Options> = ReturnType<
    typeof parseArgs<{ args: string[]; options: O & typeof HELP_OPTION; strict: true; allowPositionals: false }>
>["values"];

/**
 * Parses `argv` against `options` (plus `-h`/`--help`), with no positional arguments.
 * @returns the values, or the exit code once it has printed why not: 2 for a bad argument (with the
 *   usage), 0 after the help
 */
export function parseCommandLine<O extends Options>(argv: readonly string[], options: O, usage: string, help: string): Values<O> | number {
    let values: Values<O>;
    try {
        values = parseArgs({ args: [...argv], options: { ...options, ...HELP_OPTION }, strict: true, allowPositionals: false }).values;
    } catch (error) {
        console.error(`error: ${(error as Error).message}\n${usage}`);
        return 2;
    }
    if ((values as { help?: boolean }).help === true) {
        console.log(help);
        return 0;
    }
    return values;
}

/** Runs `main` with the process's arguments and exits with its code (1, with the error, if it throws). */
export function runCommand(main: (argv: readonly string[]) => Promise<number>): void {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (error: unknown) => {
            console.error(error);
            process.exit(1);
        },
    );
}
