/**
 * The offline synth: runs each stack's real program under Pulumi's mock runtime, one worker process
 * per stack, and collects what it declares.
 *
 * Stacks may reference each other (a region reads its peers' outputs). Like the real deployment
 * order, which deploys every region and then runs them again once their peers have outputs, the
 * runner works in passes: in the first pass a referenced stack that has not been synthesized yet
 * exists but has no outputs; afterwards a stack runs again whenever an output it read has changed,
 * until nothing changes. Referenced stacks that were not asked for are synthesized too.
 */
import { type ChildProcess, fork } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import type { WorkerJob, WorkerResult } from "./protocol";
import type { ResolvedOutput, StackOutputs } from "./recorder";
import { readProject, readStackConfig } from "./project";
import type { SynthResource } from "./render";

export interface SynthRequest {
    /** Directory holding `Pulumi.yaml`. */
    readonly projectDir: string;
    /** Stacks to synthesize; default every `Pulumi.<stack>.yaml`. */
    readonly stacks?: readonly string[];
    /** Give up when outputs still change after this many passes. Default 5. */
    readonly maxPasses?: number;
    /** Progress lines (which stacks run in which pass). */
    readonly progress?: (line: string) => void;
}

export interface StackSynth {
    readonly stack: string;
    readonly resources: SynthResource[];
    readonly outputs: Record<string, ResolvedOutput>;
    readonly manifests: string;
    readonly warnings: string[];
    readonly referencedStacks: string[];
    /** How many times the stack's program ran before its inputs settled. */
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
const TS_CONFIG = path.resolve(__dirname, "..", "..", "tsconfig.json");

/** Runs one job in a fresh worker process. */
function runWorker(job: WorkerJob): Promise<WorkerResult> {
    return new Promise((resolve) => {
        const output: string[] = [];
        const child: ChildProcess = fork(WORKER, [], {
            cwd: path.dirname(job.program),
            execArgv: ["-r", require.resolve("ts-node/register/transpile-only")],
            env: { ...process.env, TS_NODE_PROJECT: TS_CONFIG, PULUMI_CONFIG: undefined },
            stdio: ["ignore", "pipe", "pipe", "ipc"],
        });
        child.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
        child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
        let result: WorkerResult | undefined;
        child.on("message", (message: WorkerResult) => {
            result = message;
        });
        child.on("exit", (code) => {
            resolve(
                result ?? {
                    ok: false,
                    kind: "program",
                    message: `the worker for stack ${job.stack} exited with code ${code} without a result\n${output.join("")}`,
                },
            );
        });
        child.send(job);
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

/** A stable fingerprint of a stack's outputs, to tell whether a reader must run again. */
function fingerprint(outputs: StackOutputs | undefined): string {
    return JSON.stringify(outputs ?? null, (_key, value: unknown) =>
        typeof value === "object" && value !== null && !Array.isArray(value)
            ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
            : value,
    );
}

/** Synthesizes the requested stacks. @throws SynthError with one line per problem; nothing is written. */
export async function synthesize(request: SynthRequest): Promise<SynthResult> {
    const project = readProject(request.projectDir);
    const requested = request.stacks && request.stacks.length > 0 ? [...new Set(request.stacks)] : [...project.stacks];
    if (requested.length === 0) {
        throw new SynthError([`no stacks to synthesize: ${project.dir} has no Pulumi.<stack>.yaml`]);
    }
    const missing = requested.filter((stack) => !project.stacks.includes(stack));
    if (missing.length > 0) {
        throw new SynthError(
            missing.map((stack) => `no stack "${stack}": there is no Pulumi.${stack}.yaml in ${project.stackDir} (stacks: ${project.stacks.join(", ") || "none"})`),
        );
    }

    const maxPasses = request.maxPasses ?? 5;
    const included = new Set(requested);
    const results = new Map<string, StackSynth>();
    /** What each stack saw of every stack it referenced, the last time it ran. */
    const seen = new Map<string, Map<string, string>>();
    const outputsOf = (stack: string) => {
        const result = results.get(stack);
        return result ? asStackOutputs(result.outputs) : undefined;
    };

    let pending = [...requested];
    let pass = 0;
    while (pending.length > 0) {
        pass++;
        if (pass > maxPasses) {
            throw new SynthError([`stack outputs did not settle after ${maxPasses} passes; still changing: ${pending.join(", ")}`]);
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
        const outcomes = await pool(
            jobs.map((job) => () => runWorker(job)),
            Math.max(1, os.availableParallelism?.() ?? os.cpus().length),
        );

        const failures = outcomes.flatMap((outcome, i) =>
            outcome.ok ? [] : outcome.kind === "config" ? outcome.message.split("\n") : [`stack ${jobs[i].stack}: the program failed: ${outcome.message}`],
        );
        if (failures.length > 0) {
            throw new SynthError(failures);
        }

        outcomes.forEach((outcome, i) => {
            if (!outcome.ok) {
                return;
            }
            const stack = jobs[i].stack;
            results.set(stack, {
                stack,
                resources: outcome.resources,
                outputs: outcome.outputs,
                manifests: outcome.manifests,
                warnings: outcome.warnings,
                referencedStacks: outcome.referencedStacks,
                runs: (results.get(stack)?.runs ?? 0) + 1,
            });
            seen.set(stack, new Map(outcome.referencedStacks.map((ref) => [ref, fingerprint(snapshot[ref])])));
            for (const ref of outcome.referencedStacks) {
                included.add(ref);
            }
        });

        pending = [...included].filter((stack) => {
            const saw = seen.get(stack);
            if (saw === undefined) {
                return true;
            }
            return [...saw].some(([ref, print]) => fingerprint(outputsOf(ref)) !== print);
        });
    }

    return { project: project.name, requested, stacks: results, passes: pass };
}
