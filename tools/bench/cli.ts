/**
 * `npm run bench -- [--secrets 1,100,1000] [--runs N]`
 *
 * Two tables (docs/performance.md):
 * 1. Synth time of both region stacks with N replicated secrets, against a baseline program that
 *    registers the same number of plain resources in each stack under the same runner and mock
 *    runtime, and the ratio (this project's cost over the SDK's own). Each figure is the median of
 *    `--runs` runs after one warm-up run (which fills the synth's compile cache).
 * 2. From the consistency model (model/replication.ts): the worst-case propagation time and the Vault
 *    request rate per region that ESO generates for 1,000 secrets, at the defaults and at the seed's
 *    one-hour intervals.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseCommandLine, runCommand } from "../../bootstrap/command";
import { DEFAULT_MAX_DELAY_MS, replicationNumbers, propagationBound } from "../../model/replication";
import { type SynthResult, synthesize } from "../synth/synth";
import { writeBaseline, writeProject } from "./projects";

const USAGE = "usage: npm run bench -- [--secrets 1,100,1000] [--runs N]";

export interface SynthTiming {
    readonly secrets: number;
    /** Resources each stack declares, by stack. */
    readonly resources: Readonly<Record<string, number>>;
    readonly passes: number;
    /** Median wall time of the project's synth, and of the baseline's, in milliseconds. */
    readonly projectMs: number;
    readonly baselineMs: number;
}

function median(values: readonly number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Synthesizes `projectDir` once to warm up, then `runs` times; @returns the last result and the median time. */
async function timeSynth(projectDir: string, runs: number): Promise<{ result: SynthResult; ms: number }> {
    let result = await synthesize({ projectDir });
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
        const started = performance.now();
        result = await synthesize({ projectDir });
        times.push(performance.now() - started);
    }
    return { result, ms: median(times) };
}

/** Times the project with `secrets` replicated secrets and the baseline with as many resources. */
export async function benchSynth(secrets: number, runs: number, scratch: string): Promise<SynthTiming> {
    const project = await timeSynth(writeProject(path.join(scratch, `project-${secrets}`), secrets), runs);
    const resources = Object.fromEntries([...project.result.stacks.values()].map((stack) => [stack.stack, stack.resources.length]));
    // The baseline's stacks declare their provider too, so `count` plain objects make as many resources.
    const counts = Object.fromEntries(Object.entries(resources).map(([stack, count]) => [stack, count - 1]));
    const baseline = await timeSynth(writeBaseline(path.join(scratch, `baseline-${secrets}`), counts), runs);
    const baselineResources = Object.fromEntries([...baseline.result.stacks.values()].map((stack) => [stack.stack, stack.resources.length]));
    if (JSON.stringify(baselineResources) !== JSON.stringify(resources)) {
        throw new Error(`the baseline declared ${JSON.stringify(baselineResources)} resources, not ${JSON.stringify(resources)}`);
    }
    return { secrets, resources, passes: project.result.passes, projectMs: project.ms, baselineMs: baseline.ms };
}

/** Wall time of a synth, to a tenth of a second. */
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
/** A bound: whole seconds, and hours when it runs into them. */
const duration = (ms: number) => `${Math.round(ms / 1000)} s${ms >= 3_600_000 ? ` (${(ms / 3_600_000).toFixed(1)} h)` : ""}`;
const rate = (perSecond: number) => perSecond.toFixed(2);

/** The synth table, as Markdown. */
export function synthTable(rows: readonly SynthTiming[]): string[] {
    return [
        "| Replicated secrets | Resources (region1 / region2) | Synth, both stacks | Passes | Baseline: as many plain resources | Ratio |",
        "|---|---|---|---|---|---|",
        ...rows.map(
            (row) =>
                `| ${row.secrets} | ${row.resources.region1} / ${row.resources.region2} | ${seconds(row.projectMs)} | ${row.passes} | ${seconds(row.baselineMs)} | ${(row.projectMs / row.baselineMs).toFixed(2)} |`,
        ),
    ];
}

/** The model's table for `secrets` secrets in two regions, as Markdown. */
export function modelTable(secrets: number): string[] {
    return [
        `| Setup (${secrets} secrets, 2 regions) | Worst-case propagation | Under ESO's controller as read | Reads/s | Writes/s | Token lookups/s | Logins/hour |`,
        "|---|---|---|---|---|---|---|",
        ...replicationNumbers(secrets, 2).map((row) => {
            const sequential = propagationBound(row.layout, { intervals: row.intervals, maxDelayMs: DEFAULT_MAX_DELAY_MS, reconcile: "sequential", remoteTargets: 1 });
            const bound = (b: typeof sequential) => `${b.formula} = ${duration(b.ms)}${b.guaranteed ? "" : ", not guaranteed"}`;
            const { reads, writes, tokenCalls, logins } = row.peak;
            return `| ${row.name} | ${bound(row.propagation)} | ${bound(sequential)} | ${rate(reads)} | ${rate(writes)} | ${rate(tokenCalls)} | ${Math.round(logins * 3600)} |`;
        }),
    ];
}

export async function main(argv: readonly string[]): Promise<number> {
    const values = parseCommandLine(argv, { secrets: { type: "string", default: "1,100,1000" }, runs: { type: "string", default: "3" } }, USAGE, USAGE);
    if (typeof values === "number") {
        return values;
    }
    const sizes = values.secrets.split(",").map(Number);
    const runs = Number(values.runs);
    if (sizes.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(runs) || runs < 1) {
        console.error(`error: --secrets takes whole numbers >= 1, separated by commas, and --runs a whole number >= 1\n${USAGE}`);
        return 2;
    }

    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "openova-bench-"));
    try {
        console.log(`Synth (median of ${runs} run(s) after a warm-up; ${os.availableParallelism()} CPUs, Node ${process.version}):\n`);
        const rows: SynthTiming[] = [];
        for (const secrets of sizes) {
            console.error(`bench: ${secrets} replicated secret(s)...`);
            rows.push(await benchSynth(secrets, runs, scratch));
        }
        console.log(synthTable(rows).join("\n"));
        console.log(`\nReplication, from the model (model/replication.ts; maxDelay = ${duration(DEFAULT_MAX_DELAY_MS)}; rates at the busiest region's Vault):\n`);
        console.log(modelTable(1000).join("\n"));
        return 0;
    } finally {
        fs.rmSync(scratch, { recursive: true, force: true });
    }
}

if (require.main === module) {
    runCommand(main);
}
