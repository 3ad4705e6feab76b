/**
 * Runs one stack's program under Pulumi's mock runtime, in its own process (Pulumi's runtime state is
 * process-wide, exactly as it is under `pulumi up`). Started by the runner with an IPC channel: it
 * receives one {@link WorkerJob} and answers with one {@link WorkerResult}. If it cannot send the
 * result, it says so on stderr and exits with code 1, so the runner never mistakes silence for success.
 */
import * as pulumi from "@pulumi/pulumi";
import type { WorkerJob, WorkerOutputs, WorkerResult } from "./protocol";
import { computedOutputs } from "./computedOutputs";
import { programExports, resolveExports } from "./exports";
import { type Recording, type StackOutputs, outputReads, referencedStackName, startRecording } from "./recorder";
import { manifestsYaml, synthResources } from "./render";

const NO_OUTPUTS: StackOutputs = { outputs: {}, secretOutputNames: [] };

/** The run in progress, so a failure can still report which stacks the program referenced. */
let recording: Recording | undefined;

/**
 * Stack traces are most of what a resource costs under the mock runtime: Pulumi captures one for
 * every resource (its source position, with `Error.stackTraceLimit` raised to infinity for the
 * purpose, in `Resource.callsites`) and every internal promise (leak diagnostics), and ts-node maps
 * each through source maps. The synth records neither, so it captures none and formats none: errors
 * carry their message only, resources no source position, and internal promises no leak diagnostics.
 * That makes a large stack several times faster (docs/synth-performance.md). `SYNTH_STACK_TRACES=1`
 * brings them back, to debug a program that fails under the synth.
 */
function limitStackTraces(): void {
    if (process.env.SYNTH_STACK_TRACES !== "1") {
        Error.stackTraceLimit = 0;
        Error.prepareStackTrace = (error: Error) => `${error.name}: ${error.message}`;
        // Where each resource was declared (the engine shows it in diagnostics; the synth does not).
        (pulumi.Resource as unknown as { callsites: () => unknown[] }).callsites = () => [];
        // The SDK's promise-leak diagnostics: a stack trace, three properties and a tracking set
        // per internal promise. The synth waits for every promise anyway (it drains the runtime).
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- an SDK module's export is replaced, so it must be the module object itself
        const debuggable = require("@pulumi/pulumi/runtime/debuggable") as { debuggablePromise: <T>(p: Promise<T>, ctx: unknown) => Promise<T> };
        debuggable.debuggablePromise = (promise) => promise;
    }
}

async function run(job: WorkerJob, warnings: string[]): Promise<WorkerResult> {
    limitStackTraces();
    pulumi.runtime.setAllConfig({ ...job.config }, [...job.secretKeys]);
    recording = await startRecording({
        project: job.project,
        stack: job.stack,
        computedOutputs,
        resolveStack: (reference) => {
            const parts = reference.split("/");
            const stack = referencedStackName(reference);
            const project = parts.length >= 2 ? parts[parts.length - 2] : job.project;
            if (project !== job.project || !job.knownStacks.includes(stack)) {
                return undefined;
            }
            return job.stackOutputs[stack] ?? NO_OUTPUTS;
        },
    });

    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the program is loaded only after the mocks are in place
    const program = await programExports(require(job.program));
    const exported = await resolveExports(program);
    const referencedStacks = [...recording.referencedStacks].sort();
    const stackReads = readsByStack(await outputReads(recording));
    tell({ kind: "outputs", outputs: exported.outputs, referencedStacks, stackReads });
    await pulumi.runtime.disconnect();

    const resources = synthResources(recording.resources);
    const manifests = manifestsYaml(job.stack, resources);
    return {
        ok: true,
        resources,
        outputs: exported.outputs,
        manifests: manifests.yaml,
        warnings: [...warnings, ...exported.warnings, ...manifests.warnings],
        // Read again: a reference may still have been registered while the runtime drained.
        referencedStacks: [...recording.referencedStacks].sort(),
        stackReads: readsByStack(await outputReads(recording)),
    };
}

function readsByStack(reads: ReadonlyMap<string, ReadonlySet<string> | "all">): Record<string, string[] | "all"> {
    return Object.fromEntries([...reads].map(([stack, names]) => [stack, names === "all" ? "all" : [...names].sort()]));
}

/** Sends the early report; a failure to send shows up as a missing result, which the runner reports. */
function tell(message: WorkerOutputs): void {
    process.send?.(message);
}

function failure(error: unknown): WorkerResult {
    const referencedStacks = recording ? [...recording.referencedStacks].sort() : [];
    if (pulumi.RunError.isInstance(error)) {
        return { ok: false, kind: "config", message: error.message, referencedStacks };
    }
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    return { ok: false, kind: "program", message, referencedStacks };
}

/** Exits with code 1 after saying on stderr why the result could not reach the runner. */
function cannotSend(reason: unknown): never {
    const detail = reason instanceof Error ? reason.message : String(reason);
    process.stderr.write(`synth worker: could not send its result to the synth runner: ${detail}\n`);
    process.exit(1);
}

/** Sends the result over the IPC channel and exits: 0 once it was sent, 1 if it could not be. */
function send(result: WorkerResult): void {
    if (process.send === undefined) {
        cannotSend("there is no IPC channel (the worker runs only under the synth runner)");
    }
    try {
        process.send(result, undefined, {}, (error: Error | null) => (error ? cannotSend(error) : process.exit(0)));
    } catch (error) {
        cannotSend(error);
    }
}

function main(): void {
    const warnings: string[] = [];
    // Under mocks there is no engine, so pulumi.log.warn prints "warning: [runtime] <message>".
    const warn = console.warn.bind(console);
    console.warn = (...args: unknown[]) => {
        const text = args.map(String).join(" ");
        const match = /^warning: \[runtime\] ([\s\S]*)$/.exec(text);
        if (match) {
            warnings.push(match[1]);
        } else {
            warn(...args);
        }
    };

    let answered = false;
    const answer = (result: WorkerResult) => {
        if (answered) {
            return;
        }
        answered = true;
        send(result);
    };
    process.on("unhandledRejection", (reason) => answer(failure(reason)));
    process.on("uncaughtException", (error) => answer(failure(error)));
    process.once("message", (job: WorkerJob) => {
        run(job, warnings).then(answer, (error: unknown) => answer(failure(error)));
    });
}

main();
