/**
 * Run by tests/preflight.test.ts in a child process (`@kubernetes/client-node` is an ES module, which
 * jest's CommonJS runtime cannot load): for each case of $PREFLIGHT_CASES (a stack and its raw config,
 * as Pulumi hands it to the program), validates the config as the program does and runs the program's
 * preflight against the cluster of the stack's kubeconfig context ($KUBECONFIG); prints, per case,
 * the lines of the error it stopped with (none when it passed) and the warnings it gave, as JSON. A case with `reads` makes
 * those reads instead and prints what they returned.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterRead, ReadResult } from "../../components/region/prerequisites";
import { parseConfig } from "../../stack/config";
import { readObjects } from "../../stack/kubernetes";
import { NOTHING_CHANGED, missingPrerequisites, preflight } from "../../stack/preflight";

interface Case {
    readonly name: string;
    readonly stack: string;
    readonly config: Record<string, string>;
    /** Run the preflight's check with this read timeout instead of its own (its lines then count as a RunError's). */
    readonly timeoutMs?: number;
    /** Instead of the preflight: these reads, through the stack's context, and what they returned. */
    readonly reads?: ClusterRead[];
}

const ROOT = path.join(__dirname, "..", "..");

async function run(entry: Case): Promise<{ name: string; lines: string[]; runError: boolean; warnings?: string[]; found?: ReadResult[] }> {
    if (entry.reads !== undefined) {
        const context = entry.config["openova-vault:kubeContext"];
        return { name: entry.name, lines: [], runError: false, found: (await readObjects(context, entry.reads)).results };
    }
    const parsed = parseConfig(entry.stack, entry.config, {
        // An HCP region's provider login is checked here too; the preflight never uses it.
        environment: { TERRAFORM_VAULT_AUTH_JWT: "a JWT the preflight does not use" },
        readFile: (file) => fs.readFileSync(path.resolve(ROOT, file), "utf8"),
    });
    if (!parsed.ok) {
        throw new Error(`case ${entry.name}: ${parsed.problems.join("; ")}`);
    }
    if (entry.timeoutMs !== undefined) {
        const lines = await missingPrerequisites(parsed.config, entry.timeoutMs);
        return { name: entry.name, lines: lines.length === 0 ? [] : [...lines, NOTHING_CHANGED], runError: lines.length > 0 };
    }
    const warnings: string[] = [];
    try {
        await preflight(parsed.config, (line) => warnings.push(line));
        return { name: entry.name, lines: [], runError: false, warnings };
    } catch (error) {
        if (error instanceof Error) {
            return { name: entry.name, lines: error.message.split("\n"), runError: pulumi.RunError.isInstance(error), warnings };
        }
        throw error;
    }
}

async function main(): Promise<void> {
    const cases = JSON.parse(process.env.PREFLIGHT_CASES ?? "[]") as Case[];
    const results = [];
    for (const entry of cases) {
        results.push(await run(entry));
    }
    process.stdout.write(JSON.stringify(results));
}

main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
});
