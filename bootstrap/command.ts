/**
 * What the repository's commands (`npm run synth`, `npm run bench`) share: strict argument parsing
 * that answers a bad argument with the usage and `--help` with the help, and the process entry point.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { closestNames } from "../components/common/spelling";

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
    const typos = optionTypos(argv, { ...options, ...HELP_OPTION });
    if (typos.length > 0) {
        console.error(`${typos.map((typo) => `error: ${typo}`).join("\n")}\n${usage}`);
        return 2;
    }
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

/**
 * Unknown long options in `argv` that look like typos of known ones, as error lines with the
 * suggestion (`unknown option '--baes' (did you mean --base?)`). Other unknown options are left to
 * the strict parse, which names them.
 */
export function optionTypos(argv: readonly string[], options: Options): string[] {
    const known = Object.keys(options);
    // Not strict: unknown options come back as tokens instead of failing the parse.
    const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
    return tokens.flatMap((token) => {
        if (token.kind !== "option" || !token.rawName.startsWith("--") || known.includes(token.name)) {
            return [];
        }
        const suggestions = closestNames(token.name, known);
        return suggestions.length === 0
            ? []
            : [`unknown option '${token.rawName}' (did you mean ${suggestions.map((s) => `--${s}`).join(" or ")}?)`];
    });
}

/** Prints each line as `error: <line>` on stderr. @returns `code`, for the caller to return */
export function failWith(lines: readonly string[], code: number): number {
    for (const line of lines) {
        console.error(`error: ${line}`);
    }
    return code;
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
