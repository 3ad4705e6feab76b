/**
 * The offline synth: runs each stack's real program under Pulumi's mock runtime, in this process, one
 * stack after another, and collects what it declares.
 *
 * Stacks may read each other's outputs (a region reads its peers'). Like the real deployment, which
 * deploys every region and then runs them again once their peers have outputs, the synth runs every
 * stack once (in name order; a stack not run yet has no outputs), then runs again each stack that read
 * an output that has changed since, until nothing it read changes. A program that fails because a
 * peer's output is missing runs again by the same rule, and fails the synth only if it still fails
 * once its inputs have settled.
 */
import * as path from "node:path";
import { ProjectError, readProject, readStackConfig } from "../../stack/projectFiles";
import { type RecordedResource, type RunResult, type StackOutputs, runProgram } from "./mockRun";

/** What programs see as `VAULT_TOKEN` under the synth: not a token, and never sent anywhere. */
export const SYNTH_VAULT_TOKEN = "synth-placeholder-not-a-token";

/** Outputs that real providers compute and this project's programs read, faked deterministically. */
const COMPUTED_OUTPUTS = {
    // Vault issues the token; offline it is a recognizable placeholder, and the program marks it secret.
    "vault:index/token:Token": (args: { name: string }) => ({ clientToken: `synth-token-${args.name}` }),
};

export interface StackSynth {
    readonly stack: string;
    readonly resources: readonly RecordedResource[];
    readonly outputs: RunResult["outputs"];
    readonly warnings: readonly string[];
    readonly referencedStacks: readonly string[];
    /** How many times the program ran before its inputs settled. */
    readonly runs: number;
}

export interface SynthResult {
    readonly project: string;
    /** The stacks asked for, in the order asked. */
    readonly requested: readonly string[];
    /** Every stack synthesized (requested, and any they reference), by name. */
    readonly stacks: ReadonlyMap<string, StackSynth>;
}

/** A failure to report: one line each, no stack traces for expected problems. */
export class SynthError extends Error {
    constructor(readonly lines: readonly string[]) {
        super(lines.join("\n"));
        this.name = "SynthError";
    }
}

export interface SynthRequest {
    /** Directory holding `Pulumi.yaml`. */
    readonly projectDir: string;
    /** Stacks to synthesize; default every `Pulumi.<stack>.yaml`. */
    readonly stacks?: readonly string[];
    /** Give up when outputs still change after this many runs of one stack. Default 5. */
    readonly maxRuns?: number;
    readonly progress?: (line: string) => void;
}

interface StackState {
    result?: RunResult;
    error?: unknown;
    runs: number;
    /** What the last run read of other stacks, by stack. */
    reads?: Map<string, Set<string> | "all">;
    /** The outputs of other stacks as this stack last read them. */
    seen: Map<string, string>;
}

const outputsOf = (result: RunResult | undefined): StackOutputs => ({
    outputs: Object.fromEntries(Object.entries(result?.outputs ?? {}).map(([name, o]) => [name, o.value])),
    secretOutputNames: Object.entries(result?.outputs ?? {})
        .filter(([, o]) => o.secret)
        .map(([name]) => name),
});

/** What `reads` covers of `outputs`, as text to compare runs by. */
function readView(outputs: StackOutputs, reads: Set<string> | "all"): string {
    const names = reads === "all" ? Object.keys(outputs.outputs).sort() : [...reads].sort();
    return JSON.stringify(names.map((name) => [name, outputs.outputs[name] ?? null, outputs.secretOutputNames.includes(name)]));
}

/** Synthesizes the project's stacks; see the module comment. @throws SynthError */
export async function synthesize(request: SynthRequest): Promise<SynthResult> {
    let project;
    try {
        project = readProject(path.resolve(request.projectDir));
    } catch (error) {
        throw error instanceof ProjectError ? new SynthError([error.message]) : error;
    }
    const requested = request.stacks ?? project.stacks;
    const unknown = requested.filter((stack) => !project.stacks.includes(stack));
    if (unknown.length > 0) {
        throw new SynthError(unknown.map((stack) => `--stack ${stack}: there is no Pulumi.${stack}.yaml in ${project.stackDir} (stacks: ${project.stacks.join(", ") || "none"})`));
    }
    const maxRuns = request.maxRuns ?? 5;
    const states = new Map<string, StackState>();
    const configs = new Map(project.stacks.map((stack) => [stack, readStackConfigOrFail(project, stack)]));
    const queue = [...requested];

    const run = async (stack: string): Promise<void> => {
        const state: StackState = states.get(stack) ?? { runs: 0, seen: new Map() };
        states.set(stack, state);
        state.runs++;
        request.progress?.(`running ${stack}${state.runs > 1 ? ` again (run ${state.runs})` : ""}`);
        const config = configs.get(stack) as ReturnType<typeof readStackConfig>;
        const result = await runProgram({
                project: project.name,
                stack,
                config: config.config,
                secretKeys: config.secretKeys,
                program: project.program,
                computedOutputs: COMPUTED_OUTPUTS,
                environment: { VAULT_TOKEN: SYNTH_VAULT_TOKEN },
                resolveStack: (target, targetProject) => {
                    if (targetProject !== project.name || !project.stacks.includes(target)) {
                        return undefined;
                    }
                    if (!states.has(target) && !queue.includes(target)) {
                        queue.push(target); // referenced, not asked for: synthesized too
                    }
                    return outputsOf(states.get(target)?.result);
                },
            });
        state.result = result.error === undefined ? result : undefined;
        state.error = result.error;
        state.reads = result.reads;
        state.seen = new Map([...result.reads].map(([target, reads]) => [target, readView(outputsOf(states.get(target)?.result), reads)]));
    };
    /** A stack runs (again) when it never ran, or an output it read has changed since. */
    const stale = (stack: string): boolean => {
        const state = states.get(stack);
        if (state === undefined) {
            return true;
        }
        return [...(state.reads ?? [])].some(([target, names]) => readView(outputsOf(states.get(target)?.result), names) !== state.seen.get(target));
    };

    for (let changed = true; changed; ) {
        changed = false;
        for (const stack of [...queue]) {
            if (!stale(stack)) {
                continue;
            }
            if ((states.get(stack)?.runs ?? 0) >= maxRuns) {
                throw new SynthError([`stack ${stack}: the outputs it reads still change after ${maxRuns} runs`]);
            }
            await run(stack);
            changed = true;
        }
    }

    const failed = [...states].filter(([, state]) => state.result === undefined);
    if (failed.length > 0) {
        throw new SynthError(failed.map(([stack, state]) => `stack ${stack}: ${describe(state.error)}`));
    }
    return {
        project: project.name,
        requested,
        stacks: new Map(
            [...states].map(([stack, state]) => {
                const result = state.result as RunResult;
                return [stack, { stack, resources: result.resources, outputs: result.outputs, warnings: result.warnings, referencedStacks: [...result.reads.keys()].sort(), runs: state.runs }];
            }),
        ),
    };
}

function readStackConfigOrFail(project: ReturnType<typeof readProject>, stack: string) {
    try {
        return readStackConfig(project, stack);
    } catch (error) {
        throw error instanceof ProjectError ? new SynthError([error.message]) : error;
    }
}

/** A program's failure in one line where it is an expected one (rejected config), with its stack trace otherwise. */
function describe(error: unknown): string {
    if (error instanceof Error && (error.name === "RunError" || error.constructor.name === "RunError" || error.name === "InputPropertiesError" || error.name === "InputPropertyError")) {
        return error.message;
    }
    return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
