/**
 * `npm run synth -- [--stack NAME]... [--out DIR] [--project DIR]`
 *
 * Runs the program of every stack (or the named ones) offline, under Pulumi's mock runtime, prints a
 * short summary per stack and writes, per stack:
 *   DIR/<stack>/resources.json  every registered resource: type, name, urn, parent, provider, dependsOn, inputs
 *   DIR/<stack>/outputs.json    the stack outputs
 *   DIR/<stack>/manifests.yaml  every Kubernetes object the stack declares
 * Secret values are "[secret]" everywhere. Output is deterministic, so it can be diffed in review.
 * On any error nothing is written and the exit code is 1 (2 for bad arguments).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseCommandLine, runCommand } from "../../bootstrap/command";
import { STACK_NAME_RULE, isValidStackName } from "../../stack/projectFiles";
import { REDACTED, sortKeys } from "./render";
import { type StackSynth, SynthError, type SynthResult, synthesize } from "./synth";

const USAGE = "usage: npm run synth -- [--stack NAME]... [--out DIR] [--project DIR] [--timeout SECONDS]";

const HELP = `${USAGE}

Runs each stack's Pulumi program offline, under Pulumi's mock runtime, and writes per stack
DIR/<stack>/resources.json, outputs.json and manifests.yaml, with every secret as "${REDACTED}".

Options:
  -s, --stack NAME   synthesize only this stack (repeatable); default: every Pulumi.<stack>.yaml.
                     Stacks it references are synthesized too, but not written.
      --out DIR      where to write, relative to the current directory (default: synth). Under
                     \`npm run\`, that is the package root, where npm runs scripts. Each synthesized
                     stack's DIR/<stack> is replaced; nothing else in DIR is touched.
      --project DIR  the Pulumi project directory, holding Pulumi.yaml, relative to the current
                     directory (default: the current directory)
      --timeout SECONDS
                     fail when one run of a stack's program takes longer (default: 120)
  -h, --help         show this help

SYNTH_STACK_TRACES=1 adds where a failing program failed (its stack trace) to the error.

Exit codes: 0 written; 1 the project, its config or a program failed (nothing written); 2 bad arguments.`;

function outputsJson(result: StackSynth): string {
    const outputs = Object.fromEntries(
        Object.entries(result.outputs).map(([name, o]) => [name, o.secret ? REDACTED : o.value]),
    );
    return `${JSON.stringify(sortKeys(outputs), null, 2)}\n`;
}

/** The files the synth writes for each stack. */
const STACK_FILES = ["resources.json", "outputs.json", "manifests.yaml"] as const;

/**
 * The directory of one stack under `outDir`, if the synth may replace it: it must be a direct child of
 * `outDir` (the stack name was validated; this checks once more) and hold nothing but the synth's own
 * files, so that `--out .` cannot remove, say, a source directory that happens to share a stack's name.
 * @returns a problem to report, or undefined
 */
function unreplaceable(outDir: string, stack: string): string | undefined {
    const dir = path.join(outDir, stack);
    if (!isValidStackName(stack) || path.dirname(dir) !== outDir) {
        return `refusing to write stack "${stack}" outside ${outDir}`;
    }
    if (!fs.existsSync(dir)) {
        return undefined;
    }
    if (!fs.statSync(dir).isDirectory()) {
        return `refusing to replace ${dir}: it is not a directory`;
    }
    const foreign = fs.readdirSync(dir).filter((name) => !(STACK_FILES as readonly string[]).includes(name));
    return foreign.length > 0
        ? `refusing to replace ${dir}: it holds files the synth did not write (${foreign.sort().join(", ")}); move them or choose another --out`
        : undefined;
}

/** Writes one stack's files, replacing whatever an earlier run left in its directory. */
function writeStack(outDir: string, result: StackSynth): string[] {
    const dir = path.join(outDir, result.stack);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const contents: Record<(typeof STACK_FILES)[number], string> = {
        "resources.json": result.files().resourcesJson,
        "outputs.json": outputsJson(result),
        "manifests.yaml": result.files().manifests,
    };
    for (const name of STACK_FILES) {
        fs.writeFileSync(path.join(dir, name), contents[name]);
    }
    return STACK_FILES.map((name) => path.join(dir, name));
}

function summary(result: StackSynth): string[] {
    const warnings = [...result.warnings, ...result.files().warnings];
    const lines = [
        `stack ${result.stack}: ${result.resourceCount} resources, ${warnings.length} warning(s), ${Object.keys(result.outputs).length} outputs`,
        ...Object.entries(result.resourceTypes)
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([type, count]) => `  ${String(count).padStart(3)}  ${type}`),
        ...warnings.map((warning) => `  warning: ${warning}`),
    ];
    if (result.referencedStacks.length > 0) {
        lines.push(`  reads outputs of: ${result.referencedStacks.join(", ")} (program ran ${result.runs} time(s))`);
    }
    return lines;
}

/**
 * Runs the CLI with `argv` (the arguments after the script), printing to the console.
 * @returns the process exit code
 */
export async function main(argv: readonly string[]): Promise<number> {
    const values = parseCommandLine(
        argv,
        {
            stack: { type: "string", multiple: true, short: "s" },
            out: { type: "string", default: "synth" },
            project: { type: "string", default: "." },
            timeout: { type: "string", default: "120" },
        },
        USAGE,
        HELP,
    );
    if (typeof values === "number") {
        return values;
    }
    const invalid = (values.stack ?? []).filter((stack) => !isValidStackName(stack));
    if (invalid.length > 0) {
        for (const stack of invalid) {
            console.error(`error: --stack "${stack}" is not a valid stack name (${STACK_NAME_RULE})`);
        }
        console.error(USAGE);
        return 2;
    }
    const timeout = Number(values.timeout);
    if (!(Number.isInteger(timeout) && timeout > 0)) {
        console.error(`error: --timeout ${values.timeout} must be a whole number of seconds above 0\n${USAGE}`);
        return 2;
    }
    const projectDir = path.resolve(values.project);
    const outDir = path.resolve(values.out);

    let result: SynthResult;
    const started = Date.now();
    try {
        result = await synthesize({
            projectDir,
            stacks: values.stack,
            timeoutMs: timeout * 1000,
            progress: (line) => console.error(`synth: ${line}`),
        });
    } catch (error) {
        if (error instanceof SynthError) {
            for (const line of error.lines) {
                console.error(`error: ${line}`);
            }
            return 1;
        }
        throw error;
    }

    const written = result.requested.flatMap((stack) => result.stacks.get(stack) ?? []);
    const problems =
        fs.existsSync(outDir) && !fs.statSync(outDir).isDirectory()
            ? [`--out ${outDir} is not a directory`]
            : written.flatMap((stackResult) => unreplaceable(outDir, stackResult.stack) ?? []);
    if (problems.length > 0) {
        for (const problem of problems) {
            console.error(`error: ${problem}`);
        }
        return 1;
    }
    for (const stackResult of written) {
        console.log(summary(stackResult).join("\n"));
        const files = writeStack(outDir, stackResult);
        console.log(`  wrote ${files.map((f) => path.relative(process.cwd(), f)).join(", ")}`);
    }
    // The CPU time of the whole process (loading the SDKs included): what other work on the machine changes least.
    const cpu = process.cpuUsage();
    console.error(`synth: done in ${((Date.now() - started) / 1000).toFixed(1)}s (process CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)}s)`);
    return 0;
}

if (require.main === module) {
    runCommand(main);
}
