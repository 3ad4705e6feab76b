/**
 * `npm run bench -- [--secrets 1,100,1000] [--runs 5]`
 *
 * Two tables (docs/performance.md):
 * 1. Synth time, each run a fresh `npm run synth` process into a fresh output directory, as CI and a
 *    new clone run it: the committed stacks, and both region stacks with N replicated secrets against a
 *    baseline program that registers as many plain resources in each stack under the same synth. Every
 *    run's wall time is reported (median and worst) with the median of the process's CPU time (which
 *    other work on a shared machine changes less), and the ratios of the medians (this project's cost
 *    over the SDK's own).
 * 2. From the consistency model (model/replication.ts): the worst-case propagation time and the Vault
 *    request rate per region that ESO generates for 1,000 secrets, at the defaults and at the seed's
 *    one-hour intervals.
 * 3. For secrets every region writes (`writers: any`): the real replicator engines against fake Vaults
 *    over local HTTP (tools/bench/activeActive.ts): propagation, idle load and requests per write.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { parseCommandLine, runCommand } from "../../bootstrap/command";
import { DEFAULT_MAX_DELAY_MS, replicationNumbers, propagationBound } from "../../model/replication";
import { activeActiveTable, benchActiveActive } from "./activeActive";
import { writeBaseline, writeProject } from "./projects";

const USAGE = "usage: npm run bench -- [--secrets 1,100,1000] [--runs N]";
const ROOT = path.resolve(__dirname, "..", "..");

/** Wall and CPU times of `runs` synth processes of one project, the resources each stack declared, and where each run wrote. */
export interface SynthRuns {
    readonly resources: Readonly<Record<string, number>>;
    readonly ms: readonly number[];
    readonly cpuMs: readonly number[];
    readonly outDirs: readonly string[];
}

export interface SynthTiming {
    readonly secrets: number;
    readonly project: SynthRuns;
    readonly baseline: SynthRuns;
}

export function median(values: readonly number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The resources per stack a synth printed (`stack region1: 45 resources, ...`). */
export function resourceCounts(summary: string): Record<string, number> {
    return Object.fromEntries([...summary.matchAll(/^stack (\S+): (\d+) resources/gm)].map((m) => [m[1], Number(m[2])]));
}

/** The process CPU time the synth printed last (`synth: done in 2.1s (process CPU 2.6s)`), in ms. */
export function cpuTime(stderr: string): number {
    const match = /^synth: done in [\d.]+s \(process CPU ([\d.]+)s\)$/m.exec(stderr);
    if (match === null) {
        throw new Error(`the synth printed no CPU time:\n${stderr.slice(-2000)}`);
    }
    return Number(match[1]) * 1000;
}

/**
 * Runs the synth CLI on `projectDir` `runs` times, each in a fresh process writing into a fresh
 * directory under `scratch` (removed afterwards), timing each run's wall clock and noting its CPU time.
 */
export async function timeSynth(projectDir: string, runs: number, scratch: string): Promise<SynthRuns> {
    const ms: number[] = [];
    const cpuMs: number[] = [];
    const outDirs: string[] = [];
    let resources: Record<string, number> = {};
    for (let i = 0; i < runs; i++) {
        const out = fs.mkdtempSync(path.join(scratch, "out-"));
        outDirs.push(out);
        const started = performance.now();
        const { stdout, stderr } = await promisify(execFile)(
            process.execPath,
            ["--import", "tsx", path.join(ROOT, "tools", "synth", "cli.ts"), "--project", projectDir, "--out", out],
            {
                cwd: ROOT,
                maxBuffer: 64 * 1024 * 1024,
            },
        );
        ms.push(performance.now() - started);
        cpuMs.push(cpuTime(stderr));
        resources = resourceCounts(stdout);
        fs.rmSync(out, { recursive: true, force: true });
    }
    return { resources, ms, cpuMs, outDirs };
}

/** Times the project with `secrets` replicated secrets and the baseline with as many resources. */
export async function benchSynth(secrets: number, runs: number, scratch: string): Promise<SynthTiming> {
    const project = await timeSynth(writeProject(path.join(scratch, `project-${secrets}`), secrets), runs, scratch);
    // The baseline's stacks declare their provider too, so `count` plain objects make as many resources.
    const counts = Object.fromEntries(Object.entries(project.resources).map(([stack, count]) => [stack, count - 1]));
    const baseline = await timeSynth(writeBaseline(path.join(scratch, `baseline-${secrets}`), counts), runs, scratch);
    if (JSON.stringify(baseline.resources) !== JSON.stringify(project.resources)) {
        throw new Error(`the baseline declared ${JSON.stringify(baseline.resources)} resources, not ${JSON.stringify(project.resources)}`);
    }
    return { secrets, project, baseline };
}

/** The machine's load averages over 1, 5 and 15 minutes: how busy it was while the bench ran. */
const loadAverage = () =>
    os
        .loadavg()
        .map((load) => load.toFixed(2))
        .join(", ");

/** Wall time of a synth, to a tenth of a second. */
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
/** A bound: whole seconds, and hours when it runs into them. */
const duration = (ms: number) => `${Math.round(ms / 1000)} s${ms >= 3_600_000 ? ` (${(ms / 3_600_000).toFixed(1)} h)` : ""}`;
const rate = (perSecond: number) => perSecond.toFixed(2);

const runsText = (ms: readonly number[]) => ms.map((m) => (m / 1000).toFixed(1)).join(", ");
/** Wall time as median, worst (every run); then the median CPU time. */
const timesText = (runs: Pick<SynthRuns, "ms" | "cpuMs">) =>
    `${seconds(median(runs.ms))}, ${seconds(Math.max(...runs.ms))} (${runsText(runs.ms)}) | ${seconds(median(runs.cpuMs))}`;
const ratio = (a: readonly number[], b: readonly number[]) => (median(a) / median(b)).toFixed(2);

/** The synth table, as Markdown. */
export function synthTable(committed: Pick<SynthRuns, "ms" | "cpuMs">, rows: readonly SynthTiming[]): string[] {
    return [
        "| Project | Resources (region1 / region2) | Wall: median, worst (every run) | CPU: median | Baseline wall: median, worst (every run) | Baseline CPU: median | Ratio of medians: wall, CPU |",
        "|---|---|---|---|---|---|---|",
        `| the committed stacks | | ${timesText(committed)} | | | |`,
        ...rows.map(
            (row) =>
                `| ${row.secrets} replicated secret(s) | ${row.project.resources.region1} / ${row.project.resources.region2} | ${timesText(row.project)} | ${timesText(row.baseline)} | ${ratio(row.project.ms, row.baseline.ms)}, ${ratio(row.project.cpuMs, row.baseline.cpuMs)} |`,
        ),
    ];
}

/** The model's table for `secrets` secrets in two regions, as Markdown. */
export function modelTable(secrets: number): string[] {
    return [
        `| Setup (${secrets} secrets, 2 regions) | Worst-case propagation | Under ESO's controller as read | Reads/s | Writes/s | Token lookups/s | Logins/hour |`,
        "|---|---|---|---|---|---|---|",
        ...replicationNumbers(secrets, 2).map((row) => {
            const sequential = propagationBound(row.layout, {
                intervals: row.intervals,
                maxDelayMs: DEFAULT_MAX_DELAY_MS,
                reconcile: "sequential",
                remoteTargets: 1,
            });
            const bound = (b: typeof sequential) => `${b.formula} = ${duration(b.ms)}${b.guaranteed ? "" : ", not guaranteed"}`;
            const { reads, writes, tokenCalls, logins } = row.peak;
            return `| ${row.name} | ${bound(row.propagation)} | ${bound(sequential)} | ${rate(reads)} | ${rate(writes)} | ${rate(tokenCalls)} | ${Math.round(logins * 3600)} |`;
        }),
    ];
}

export async function main(argv: readonly string[]): Promise<number> {
    const values = parseCommandLine(
        argv,
        { secrets: { type: "string", default: "1,100,1000" }, runs: { type: "string", default: "5" } },
        USAGE,
        USAGE,
    );
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
        console.log(
            `Synth, ${runs} fresh process(es) each, each into a fresh output directory (${os.availableParallelism()} CPUs, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, load average ${loadAverage()} at the start):\n`,
        );
        console.error("bench: the committed stacks...");
        const committed = await timeSynth(ROOT, runs, scratch);
        const rows: SynthTiming[] = [];
        for (const secrets of sizes) {
            console.error(`bench: ${secrets} replicated secret(s)...`);
            rows.push(await benchSynth(secrets, runs, scratch));
        }
        console.log(synthTable(committed, rows).join("\n"));
        console.log(`\nLoad average at the end: ${loadAverage()} (1, 5 and 15 minutes; ${os.availableParallelism()} CPUs).`);
        console.log(
            `\nReplication, from the model (model/replication.ts; maxDelay = ${duration(DEFAULT_MAX_DELAY_MS)}; rates at the busiest region's Vault):\n`,
        );
        console.log(modelTable(1000).join("\n"));
        console.log(
            "\nSecrets every region writes (writers: any): two replicators, real engines at their default timing, against fake Vaults over local HTTP (network latency not included):\n",
        );
        const activeActive = [];
        for (const secrets of sizes) {
            console.error(`bench: writers any, ${secrets} secret(s)...`);
            activeActive.push(await benchActiveActive(secrets));
        }
        console.log(activeActiveTable(activeActive).join("\n"));
        return 0;
    } finally {
        fs.rmSync(scratch, { recursive: true, force: true });
    }
}

if (require.main === module) {
    runCommand(main);
}
