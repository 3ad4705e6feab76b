/**
 * `npm run synth -- [--stack NAME]... [--out DIR] [--project DIR]`
 *
 * Runs the program of every stack (or the named ones) offline, under Pulumi's mock runtime, prints a
 * short summary per stack and writes, per stack:
 *   DIR/<stack>/resources.json  every registered resource: type, name, urn, parent, provider, dependsOn, inputs
 *   DIR/<stack>/outputs.json    the stack outputs
 *   DIR/<stack>/manifests.yaml  every Kubernetes object the stack declares
 * Secret values are "[secret]" everywhere. Output is deterministic, so it can be diffed in review.
 * On any error nothing is written and the exit code is 1.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { REDACTED, sortKeys } from "./render";
import { type StackSynth, SynthError, type SynthResult, synthesize } from "./runner";

const USAGE = "usage: npm run synth -- [--stack NAME]... [--out DIR] [--project DIR]";

function outputsJson(result: StackSynth): string {
    const outputs = Object.fromEntries(
        Object.entries(result.outputs).map(([name, o]) => [name, o.secret ? REDACTED : o.value]),
    );
    return `${JSON.stringify(sortKeys(outputs), null, 2)}\n`;
}

/** Writes one stack's files, replacing whatever an earlier run left in its directory. */
function writeStack(outDir: string, result: StackSynth): string[] {
    const dir = path.join(outDir, result.stack);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const files: [string, string][] = [
        ["resources.json", `${JSON.stringify(result.resources, null, 2)}\n`],
        ["outputs.json", outputsJson(result)],
        ["manifests.yaml", result.manifests],
    ];
    for (const [name, content] of files) {
        fs.writeFileSync(path.join(dir, name), content);
    }
    return files.map(([name]) => path.join(dir, name));
}

function summary(result: StackSynth): string[] {
    const byType = new Map<string, number>();
    for (const resource of result.resources) {
        byType.set(resource.type, (byType.get(resource.type) ?? 0) + 1);
    }
    const lines = [
        `stack ${result.stack}: ${result.resources.length} resources, ${result.warnings.length} warning(s), ${Object.keys(result.outputs).length} outputs`,
        ...[...byType].sort(([a], [b]) => (a < b ? -1 : 1)).map(([type, count]) => `  ${String(count).padStart(3)}  ${type}`),
        ...result.warnings.map((warning) => `  warning: ${warning}`),
    ];
    if (result.referencedStacks.length > 0) {
        lines.push(`  reads outputs of: ${result.referencedStacks.join(", ")} (program ran ${result.runs} time(s))`);
    }
    return lines;
}

export async function main(argv: readonly string[]): Promise<number> {
    let args;
    try {
        args = parseArgs({
            args: [...argv],
            options: {
                stack: { type: "string", multiple: true, short: "s" },
                out: { type: "string", default: "synth" },
                project: { type: "string", default: "." },
                help: { type: "boolean", short: "h" },
            },
            strict: true,
            allowPositionals: false,
        });
    } catch (error) {
        console.error(`error: ${(error as Error).message}\n${USAGE}`);
        return 2;
    }
    if (args.values.help) {
        console.log(USAGE);
        return 0;
    }
    const projectDir = path.resolve(args.values.project);
    const outDir = path.resolve(projectDir, args.values.out);

    let result: SynthResult;
    const started = Date.now();
    try {
        result = await synthesize({
            projectDir,
            stacks: args.values.stack,
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

    for (const stack of result.requested) {
        const stackResult = result.stacks.get(stack);
        if (stackResult === undefined) {
            continue;
        }
        console.log(summary(stackResult).join("\n"));
        const files = writeStack(outDir, stackResult);
        console.log(`  wrote ${files.map((f) => path.relative(process.cwd(), f)).join(", ")}`);
    }
    console.error(`synth: done in ${((Date.now() - started) / 1000).toFixed(1)}s (${result.passes} pass(es))`);
    return 0;
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (error: unknown) => {
            console.error(error);
            process.exit(1);
        },
    );
}
