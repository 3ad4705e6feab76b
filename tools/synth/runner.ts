/**
 * The offline synth: runs each stack's real program under Pulumi's mock runtime, one worker process
 * per stack, and collects what it declares.
 *
 * Stacks may reference each other (a region reads its peers' outputs). Like the real deployment
 * order, which deploys every region and then runs them again once their peers have outputs, the
 * runner works in passes: in the first pass a referenced stack that has not been synthesized yet
 * exists but has no outputs; afterwards a stack runs again whenever an output it read has changed,
 * until nothing changes. A stack whose program failed (a `requireOutput` of an output that does not
 * exist yet) runs again by the same rule, and fails the synth only if it still fails once nothing it
 * reads changes any more. Referenced stacks that were not asked for are synthesized too.
 */
import { type ChildProcess, fork } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import type { WorkerJob, WorkerOutputs, WorkerResult } from "./protocol";
import type { ResolvedOutput } from "./exports";
import type { StackOutputs } from "./recorder";
import { type ProjectFile, ProjectError, STACK_NAME_RULE, isValidStackName, readProject, readStackConfig } from "../../stack/projectFiles";
import type { SynthResource } from "./render";

export interface SynthRequest {
    /** Directory holding `Pulumi.yaml`. */
    readonly projectDir: string;
    /** Stacks to synthesize; default every `Pulumi.<stack>.yaml`. */
    readonly stacks?: readonly string[];
    /** Give up when outputs still change after this many passes. Default 5. */
    readonly maxPasses?: number;
    /** Stop a stack's worker, and fail, when it has not reported after this many milliseconds. Default 120 000. */
    readonly workerTimeoutMs?: number;
    /** Progress lines (which stacks run in which pass, which failed and will run again). */
    readonly progress?: (line: string) => void;
}

export interface StackSynth {
    readonly stack: string;
    readonly resources: SynthResource[];
    readonly outputs: Record<string, ResolvedOutput>;
    readonly manifests: string;
    readonly warnings: string[];
    readonly referencedStacks: string[];
    /** How many times the stack's program ran (failed runs included) before its inputs settled. */
    readonly runs: number;
}

export interface SynthResult {
    readonly project: string;
    /** The stacks asked for, in the order asked. */
    readonly requested: readonly string[];
    /** Every stack synthesized (requested, and any they reference), by name. */
    readonly stacks: ReadonlyMap<string, StackSynth>;
    readonly passes: number;
}

/** A failure to report to the operator: one line each, no stack traces for expected problems. */
export class SynthError extends Error {
    constructor(readonly lines: readonly string[]) {
        super(lines.join("\n"));
        this.name = "SynthError";
    }
}

const WORKER = path.join(__dirname, "worker.ts");

/** What programs see as `VAULT_TOKEN` under the synth: not a token, and never sent anywhere. */
export const SYNTH_VAULT_TOKEN = "synth-placeholder-not-a-token";
const TS_CONFIG = path.resolve(__dirname, "..", "..", "tsconfig.json");
const DEFAULT_WORKER_TIMEOUT_MS = 120_000;

/**
 * A larger young generation: a program run allocates a great deal of short-lived objects (promises,
 * protobuf messages) per resource, and with Node's default semi-space the scavenger runs far more
 * often; 64 MB took about a second off a 1,000-secret region (docs/synth-performance.md).
 */
const WORKER_NODE_OPTIONS = ["--max-semi-space-size=64"];

/** `SYNTH_CPU_PROFILE_DIR=<dir>`: every worker that finishes writes a V8 CPU profile there (docs/synth-performance.md). */
function profiling(): string[] {
    const dir = process.env.SYNTH_CPU_PROFILE_DIR;
    return dir ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(dir)}`] : [];
}

/**
 * How workers load TypeScript: the caching loader (tools/synth/transpile.cjs), or ts-node when stack
 * traces are asked for (`SYNTH_STACK_TRACES=1`), since only ts-node maps them back into the `.ts` files.
 */
function workerLoader(): string {
    return process.env.SYNTH_STACK_TRACES === "1" ? require.resolve("ts-node/register/transpile-only") : path.join(__dirname, "transpile.cjs");
}

function workerFailure(message: string): WorkerResult {
    return { ok: false, kind: "worker", message };
}

/** A run the runner stopped once its early report showed that the stack must run again anyway. */
interface Superseded {
    readonly ok: "superseded";
    readonly early: WorkerOutputs;
}

/** One worker in flight: its early report once it came, and a way to stop it when that is enough. */
interface RunningWorker {
    early?: WorkerOutputs;
    /** Stops the worker, unless it has already finished; its run then ends as superseded by the early report. @returns whether it was stopped */
    supersede(): boolean;
}

/**
 * Runs one job in a fresh worker process. Resolves once the process has closed (so everything it
 * printed has been collected) with its result, or with a `worker` failure when it exits without one,
 * cannot be started or sent the job, or has not finished within `timeoutMs` (then it is killed).
 * `onOutputs` hears the worker's early report (its outputs), and may call `supersede` from then on.
 */
function runWorker(job: WorkerJob, timeoutMs: number, onOutputs: (worker: RunningWorker) => void): Promise<WorkerResult | Superseded> {
    return new Promise((resolve) => {
        const output: string[] = [];
        let result: WorkerResult | undefined;
        let problem: string | undefined;
        let superseded = false;
        let settled = false;
        const child: ChildProcess = fork(WORKER, [], {
            cwd: path.dirname(job.program),
            execArgv: [...WORKER_NODE_OPTIONS, ...profiling(), "-r", workerLoader()],
            // The synth never contacts Vault: a placeholder stands in for the admin token, so a stack
            // with vaultInitialized true shows its whole configuration, and a real token in the
            // operator's environment never reaches the program.
            env: { ...process.env, TS_NODE_PROJECT: TS_CONFIG, PULUMI_CONFIG: undefined, VAULT_TOKEN: SYNTH_VAULT_TOKEN },
            stdio: ["ignore", "pipe", "pipe", "ipc"],
        });
        const finish = (outcome: WorkerResult | Superseded) => {
            if (!settled) {
                settled = true;
                clearTimeout(timer);
                resolve(outcome);
            }
        };
        /** Records why the worker is being stopped; 'close' then reports it. */
        const stop = (why: string) => {
            problem ??= why;
            child.kill("SIGKILL");
        };
        const timer = setTimeout(
            () => stop(`the worker did not finish within ${timeoutMs / 1000} s and was stopped (does a resource input or stack output never resolve?)`),
            timeoutMs,
        );
        const worker: RunningWorker = {
            supersede: () => {
                if (superseded || worker.early === undefined || result !== undefined || problem !== undefined) {
                    return false;
                }
                superseded = true;
                child.kill("SIGKILL");
                return true;
            },
        };
        child.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
        child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
        child.on("message", (message: WorkerResult | WorkerOutputs) => {
            if ("kind" in message && message.kind === "outputs") {
                worker.early = message;
                onOutputs(worker);
            } else {
                result = message;
            }
        });
        child.on("error", (error) => {
            // Failed to start, to be signalled or to be sent a message; 'close' may never come.
            stop(`the worker failed: ${error.message}`);
            finish(workerFailure(problem ?? error.message));
        });
        child.on("close", (code, signal) => {
            // A worker told to stop may have finished first (its result was still in the pipe): then
            // its result stands.
            if (superseded && worker.early !== undefined && result === undefined) {
                finish({ ok: "superseded", early: worker.early });
                return;
            }
            if (problem !== undefined) {
                finish(workerFailure(problem));
                return;
            }
            const printed = output.join("").trim();
            const exit = code !== null ? `code ${code}` : `signal ${signal}`;
            finish(result ?? workerFailure(`the worker exited with ${exit} without a result${printed ? `:\n${printed}` : ""}`));
        });
        child.send(job, (error: Error | null) => {
            if (error) {
                stop(`could not send the job to the worker: ${error.message}`);
            }
        });
    });
}

/** Runs `tasks` with at most `limit` at a time, keeping their order in the result. */
async function pool<T>(tasks: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
    const results: T[] = new Array<T>(tasks.length);
    let next = 0;
    const lanes = Array.from({ length: Math.min(limit, tasks.length) }, async () => {
        while (next < tasks.length) {
            const index = next++;
            results[index] = await tasks[index]();
        }
    });
    await Promise.all(lanes);
    return results;
}

function asStackOutputs(outputs: Record<string, ResolvedOutput>): StackOutputs {
    return {
        outputs: Object.fromEntries(Object.entries(outputs).map(([name, o]) => [name, o.value])),
        secretOutputNames: Object.entries(outputs)
            .filter(([, o]) => o.secret)
            .map(([name]) => name)
            .sort(),
    };
}

const NO_OUTPUTS: StackOutputs = { outputs: {}, secretOutputNames: [] };

/**
 * A stable fingerprint of what a reader saw of a stack's outputs: those it read (`reads`), or all of
 * them. A stack not synthesized yet looks to a program exactly like one without outputs.
 */
function fingerprint(outputs: StackOutputs | undefined, reads: readonly string[] | "all"): string {
    const seen = outputs ?? NO_OUTPUTS;
    const visible =
        reads === "all"
            ? seen
            : {
                  outputs: Object.fromEntries(reads.filter((name) => Object.hasOwn(seen.outputs, name)).map((name) => [name, seen.outputs[name]])),
                  secretOutputNames: seen.secretOutputNames.filter((name) => reads.includes(name)),
              };
    return JSON.stringify(visible, (_key, value: unknown) =>
        typeof value === "object" && value !== null && !Array.isArray(value)
            ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
            : value,
    );
}

/** The stacks asked for, checked against the project. @throws SynthError */
function requestedStacks(project: ProjectFile, stacks: readonly string[] | undefined): string[] {
    const requested = stacks && stacks.length > 0 ? [...new Set(stacks)] : [...project.stacks];
    if (requested.length === 0) {
        throw new SynthError([`no stacks to synthesize: ${project.dir} has no Pulumi.<stack>.yaml`]);
    }
    const invalid = requested.filter((stack) => !isValidStackName(stack));
    if (invalid.length > 0) {
        throw new SynthError(invalid.map((stack) => `"${stack}" is not a valid stack name (${STACK_NAME_RULE})`));
    }
    const missing = requested.filter((stack) => !project.stacks.includes(stack));
    if (missing.length > 0) {
        throw new SynthError(
            missing.map((stack) => `no stack "${stack}": there is no Pulumi.${stack}.yaml in ${project.stackDir} (stacks: ${project.stacks.join(", ") || "none"})`),
        );
    }
    return requested;
}

/** The lines that report a failed run of `stack`. */
function failureLines(stack: string, outcome: Extract<WorkerResult, { ok: false }>): string[] {
    switch (outcome.kind) {
        case "config":
            return outcome.message.split("\n");
        case "program":
            return [`stack ${stack}: the program failed: ${outcome.message}`];
        case "worker":
            return [`stack ${stack}: ${outcome.message}`];
    }
}

/**
 * Synthesizes the requested stacks.
 *
 * A stack whose program fails (say, `requireOutput` of a stack that has no outputs yet) is not
 * reported at once: like any stack, it runs again in a later pass once an output of a stack it
 * referenced has changed, and its failure is reported only if it still fails when nothing it reads
 * changes any more (or `maxPasses` is reached). Rejected config and failed workers are reported at once.
 * @throws SynthError with one line per problem; nothing is written
 */
export async function synthesize(request: SynthRequest): Promise<SynthResult> {
    try {
        return await synthesizeProject(request);
    } catch (error) {
        if (error instanceof ProjectError) {
            throw new SynthError([error.message]);
        }
        throw error;
    }
}

async function synthesizeProject(request: SynthRequest): Promise<SynthResult> {
    const project = readProject(request.projectDir);
    const requested = requestedStacks(project, request.stacks);
    // Every requested stack file is read before any program runs, so a broken one fails fast.
    for (const stack of requested) {
        readStackConfig(project, stack);
    }

    const maxPasses = request.maxPasses ?? 5;
    const timeoutMs = request.workerTimeoutMs ?? DEFAULT_WORKER_TIMEOUT_MS;
    const included = new Set(requested);
    const results = new Map<string, StackSynth>();
    /** Program failures of the latest run of each stack that has not run successfully since. */
    const failures = new Map<string, string[]>();
    const runs = new Map<string, number>();
    /** What each stack read of every stack it referenced, and what that was, the last time it ran. */
    const seen = new Map<string, Map<string, { reads: readonly string[] | "all"; print: string }>>();
    const outputsOf = (stack: string) => {
        const result = results.get(stack);
        return result ? asStackOutputs(result.outputs) : undefined;
    };

    let pending = [...requested];
    let pass = 0;
    while (pending.length > 0) {
        pass++;
        if (pass > maxPasses) {
            throw new SynthError([
                `stack outputs did not settle after ${maxPasses} passes; still changing: ${pending.join(", ")}`,
                ...[...failures.values()].flat(),
            ]);
        }
        request.progress?.(`pass ${pass}: running ${pending.join(", ")}`);
        const snapshot: Record<string, StackOutputs> = {};
        for (const stack of results.keys()) {
            snapshot[stack] = outputsOf(stack) as StackOutputs;
        }
        const jobs = pending.map((stack): WorkerJob => {
            const { config, secretKeys } = readStackConfig(project, stack);
            return {
                project: project.name,
                stack,
                program: project.program,
                config,
                secretKeys,
                knownStacks: project.stacks,
                stackOutputs: snapshot,
            };
        });
        // A run whose early report shows that an output it read has changed in this very pass will
        // run again in the next one: its full result is not needed, so it is stopped there and then.
        const inPass = new Set(pending);
        const running = new Map<string, RunningWorker>();
        const supersedeStale = () => {
            const settled = (ref: string) => !inPass.has(ref) || running.get(ref)?.early !== undefined;
            const latest = (ref: string) => {
                const early = running.get(ref)?.early;
                return early ? asStackOutputs(early.outputs) : outputsOf(ref);
            };
            for (const [stack, worker] of running) {
                const early = worker.early;
                if (early === undefined) {
                    continue;
                }
                const refs = early.referencedStacks.filter((ref) => project.stacks.includes(ref));
                const reads = (ref: string) => early.stackReads[ref] ?? [];
                const changed = refs.filter((ref) => fingerprint(latest(ref), reads(ref)) !== fingerprint(snapshot[ref], reads(ref)));
                if (refs.every(settled) && changed.length > 0 && worker.supersede()) {
                    request.progress?.(`pass ${pass}: stopped ${stack} once its outputs were known: outputs of ${changed.join(", ")} it read have changed, so it runs again`);
                }
            }
        };
        const outcomes = await pool(
            jobs.map(
                (job) => () =>
                    runWorker(job, timeoutMs, (worker) => {
                        running.set(job.stack, worker);
                        supersedeStale();
                    }),
            ),
            Math.max(1, os.availableParallelism?.() ?? os.cpus().length),
        );

        const fatal: string[] = [];
        const supersededRuns = new Set<string>();
        outcomes.forEach((outcome, i) => {
            const stack = jobs[i].stack;
            runs.set(stack, (runs.get(stack) ?? 0) + 1);
            if (outcome.ok === "superseded") {
                const { early } = outcome;
                const referenced = early.referencedStacks.filter((ref) => project.stacks.includes(ref));
                // What it saw does not matter: a stopped run always runs again (supersededRuns).
                referenced.forEach((ref) => included.add(ref));
                failures.delete(stack);
                supersededRuns.add(stack);
                // Provisional: the stack runs again in the next pass, whose result replaces this one.
                results.set(stack, { stack, resources: [], outputs: early.outputs, manifests: "", warnings: [], referencedStacks: early.referencedStacks, runs: runs.get(stack) ?? 1 });
                return;
            }
            const referenced = (outcome.referencedStacks ?? []).filter((ref) => project.stacks.includes(ref));
            // A failed run may not have recorded every read: then anything that changes counts.
            const readsOf = (ref: string) => (outcome.ok ? (outcome.stackReads[ref] ?? []) : "all");
            seen.set(stack, new Map(referenced.map((ref) => [ref, { reads: readsOf(ref), print: fingerprint(snapshot[ref], readsOf(ref)) }])));
            for (const ref of referenced) {
                included.add(ref);
            }
            if (!outcome.ok) {
                const lines = failureLines(stack, outcome);
                if (outcome.kind === "program") {
                    failures.set(stack, lines);
                    const retry = referenced.length > 0 ? ` (it runs again if outputs of ${referenced.join(", ")} change)` : "";
                    request.progress?.(`pass ${pass}: stack ${stack} failed${retry}: ${outcome.message.split("\n")[0]}`);
                } else {
                    fatal.push(...lines);
                }
                return;
            }
            failures.delete(stack);
            results.set(stack, {
                stack,
                resources: outcome.resources,
                outputs: outcome.outputs,
                manifests: outcome.manifests,
                warnings: outcome.warnings,
                referencedStacks: outcome.referencedStacks,
                runs: runs.get(stack) ?? 1,
            });
        });
        if (fatal.length > 0) {
            throw new SynthError(fatal);
        }

        pending = [...included].filter((stack) => {
            const saw = seen.get(stack);
            // A stopped run always runs again (even if the output that changed came from a run that
            // then failed, so that the results show no change).
            if (saw === undefined || supersededRuns.has(stack)) {
                return true;
            }
            return [...saw].some(([ref, { reads, print }]) => fingerprint(outputsOf(ref), reads) !== print);
        });
    }

    if (failures.size > 0) {
        throw new SynthError([...failures.keys()].sort().flatMap((stack) => failures.get(stack) ?? []));
    }
    return { project: project.name, requested, stacks: results, passes: pass };
}
