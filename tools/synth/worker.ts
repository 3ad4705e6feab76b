/**
 * Runs one stack's program under Pulumi's mock runtime, in its own process (Pulumi's runtime state is
 * process-wide, exactly as it is under `pulumi up`). Started by the runner with an IPC channel: it
 * receives one {@link WorkerJob} and answers with one {@link WorkerResult}.
 */
import * as pulumi from "@pulumi/pulumi";
import type { WorkerJob, WorkerResult } from "./protocol";
import { computedOutputs } from "./computedOutputs";
import { type StackOutputs, referencedStackName, resolveExports, startRecording } from "./recorder";
import { manifestsYaml, synthResources } from "./render";

const NO_OUTPUTS: StackOutputs = { outputs: {}, secretOutputNames: [] };

async function run(job: WorkerJob, warnings: string[]): Promise<WorkerResult> {
    pulumi.runtime.setAllConfig({ ...job.config }, [...job.secretKeys]);
    const recording = await startRecording({
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
    const program = require(job.program) as Record<string, unknown>;
    const outputs = await resolveExports(program);
    await pulumi.runtime.disconnect();

    const resources = synthResources(recording.resources);
    return {
        ok: true,
        resources,
        outputs,
        manifests: manifestsYaml(job.stack, resources),
        warnings,
        referencedStacks: [...recording.referencedStacks].sort(),
    };
}

function failure(error: unknown): WorkerResult {
    if (pulumi.RunError.isInstance(error)) {
        return { ok: false, kind: "config", message: (error).message };
    }
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    return { ok: false, kind: "program", message };
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
        process.send?.(result, undefined, {}, () => process.exit(0));
    };
    process.on("unhandledRejection", (reason) => answer(failure(reason)));
    process.on("uncaughtException", (error) => answer(failure(error)));
    process.once("message", (job: WorkerJob) => {
        run(job, warnings).then(answer, (error: unknown) => answer(failure(error)));
    });
}

main();
