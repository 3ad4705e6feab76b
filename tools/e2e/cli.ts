/**
 * `npm run e2e -- [STEP...] [options]`: the end-to-end lane (docs/e2e.md). Runs the steps
 * (tools/e2e/steps.ts), records each one's outcome under the work directory's `report/`, and the
 * summary step turns the records into `e2e-report.json` and the job summary.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { runCommand } from "../../bootstrap/command";
import { run } from "./exec";
import { laneVersions, type Lane, openLane, RUNNERS, type StepOutcome } from "./lane";
import { workDir } from "./names";
import { type LaneReport, mergeReport, renderSummary, type StepRecord } from "./report";
import { parseLaneArgs, STEPS } from "./steps";

const REPO = path.resolve(__dirname, "..", "..");

/** The records the steps left in the report directory. */
function readRecords(dir: string): StepRecord[] {
    return STEPS.map((s) => path.join(dir, `${s.name}.json`))
        .filter((file) => fs.existsSync(file))
        .map((file) => JSON.parse(fs.readFileSync(file, "utf8")) as StepRecord);
}

/** Writes `e2e-report.json` and `summary.md`, and appends the summary to the Actions job summary when there is one. */
async function summarize(lane: Lane): Promise<LaneReport> {
    const commit = await run("git", ["-C", lane.repo, "rev-parse", "HEAD"], { allowFailure: true });
    const report = mergeReport(
        readRecords(lane.work.report),
        laneVersions(lane.repo),
        commit.code === 0 ? commit.stdout.trim() : undefined,
    );
    const summary = renderSummary(report);
    fs.writeFileSync(path.join(lane.work.report, "e2e-report.json"), `${JSON.stringify(report, null, 2)}\n`);
    fs.writeFileSync(path.join(lane.work.report, "summary.md"), summary);
    if (lane.env.GITHUB_STEP_SUMMARY) {
        fs.appendFileSync(lane.env.GITHUB_STEP_SUMMARY, summary);
    }
    console.log(summary);
    console.log(`[e2e] report: ${path.join(lane.work.report, "e2e-report.json")}`);
    return report;
}

async function runStep(lane: Lane, name: string): Promise<StepRecord> {
    const startedAt = new Date();
    console.log(`[e2e] step ${name}`);
    let outcome: StepOutcome;
    try {
        outcome = await RUNNERS[name](lane);
    } catch (error) {
        outcome = { problems: [error instanceof Error ? error.message : String(error)] };
    }
    const record: StepRecord = {
        step: name,
        ok: outcome.problems.length === 0,
        startedAt: startedAt.toISOString(),
        seconds: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
        problems: outcome.problems,
        ...(outcome.data === undefined ? {} : { data: outcome.data }),
    };
    fs.writeFileSync(path.join(lane.work.report, `${name}.json`), `${JSON.stringify(record, null, 2)}\n`);
    for (const problem of outcome.problems) {
        console.error(`error: ${name}: ${problem}`);
    }
    console.log(`[e2e] step ${name} ${record.ok ? "passed" : "failed"} in ${record.seconds} s`);
    return record;
}

export async function main(argv: readonly string[], repo = REPO): Promise<number> {
    const args = parseLaneArgs(
        argv,
        { repoDir: repo, env: process.env },
        { out: (text) => console.log(text), err: (text) => console.error(text) },
    );
    if (typeof args === "number") {
        return args;
    }
    const work = workDir(args.workDir);
    let lane: Lane;
    try {
        lane = openLane(repo, work, args, process.env);
    } catch (error) {
        console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
        return 1;
    }
    fs.mkdirSync(work.report, { recursive: true });
    // The in-process Kubernetes clients (the forwards, the bootstrap's adapters) read the lane's kubeconfig too.
    process.env.KUBECONFIG = lane.env.KUBECONFIG;
    let failed = false;
    for (const name of args.steps) {
        const always = STEPS.find((s) => s.name === name)?.always === true;
        if (failed && args.full && !always) {
            console.log(`[e2e] step ${name} skipped after a failure`);
            continue;
        }
        if (name === "summary") {
            await summarize(lane);
            continue;
        }
        failed = !(await runStep(lane, name)).ok || failed;
    }
    return failed ? 1 : 0;
}

if (require.main === module) {
    runCommand(main);
}
