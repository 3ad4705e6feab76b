/**
 * The offline synth: runs each stack's real program under Pulumi's mock runtime, in this process, one
 * stack after another, and collects what it declares.
 *
 * Stacks may read each other's outputs (a region reads its peers'). Like the real deployment, which
 * deploys every region and then runs them again once their peers have outputs, the synth runs every
 * stack once, in name order (a stack not run yet has no outputs), then runs again each stack that read
 * an output that has changed since, until nothing it read changes. A program that fails because a
 * peer's output is missing runs again by the same rule, and fails the synth only if it still fails
 * once its inputs have settled.
 *
 * The order depends on nothing but the names: not on an earlier synth's files, so a fresh output
 * directory (CI, each commit of the synth diff, a new clone) runs exactly what a used one does. Of
 * stacks that read each other, the first in name order is the one that runs twice.
 */
import * as path from "node:path";
import { ProjectError, type ProjectFile, readProject, readStackConfig } from "../../stack/projectFiles";
import type { StackOutputs } from "./mockRun";
import { type StackRun, runStack } from "./stackRun";

/** What programs see as `VAULT_TOKEN` under the synth: not a token, and never sent anywhere. */
export const SYNTH_VAULT_TOKEN = "synth-placeholder-not-a-token";

/** What programs see as `TERRAFORM_VAULT_AUTH_JWT` (an HCP Vault region's provider login) under the synth: not a JWT either. */
export const SYNTH_VAULT_AUTH_JWT = "synth-placeholder-not-a-jwt";

/** One stack's final run. */
export type StackSynth = StackRun & { readonly runs: number; readonly referencedStacks: readonly string[] };

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
    /** Fail when one run of a program takes longer than this. Default 120 000 ms. */
    readonly timeoutMs?: number;
    readonly progress?: (line: string) => void;
}

interface StackState {
    answer?: StackRun;
    runs: number;
    /** The outputs of other stacks as this stack's last finished run read them. */
    seen: Map<string, string>;
}

const outputsOf = (answer: StackRun | undefined): StackOutputs => ({
    outputs: Object.fromEntries(Object.entries(answer?.error === undefined ? (answer?.outputs ?? {}) : {}).map(([name, o]) => [name, o.value])),
    secretOutputNames: Object.entries(answer?.error === undefined ? (answer?.outputs ?? {}) : {})
        .filter(([, o]) => o.secret)
        .map(([name]) => name),
});

/** What `reads` covers of `outputs`, as text to compare runs by. */
function readView(outputs: StackOutputs, reads: readonly string[] | "all"): string {
    const names = reads === "all" ? Object.keys(outputs.outputs).sort() : reads;
    return JSON.stringify(names.map((name) => [name, outputs.outputs[name] ?? null, outputs.secretOutputNames.includes(name)]));
}

/** Synthesizes the project's stacks; see the module comment. @throws SynthError */
export async function synthesize(request: SynthRequest): Promise<SynthResult> {
    let project: ProjectFile;
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
    const queue = [...requested].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const stateOf = (stack: string): StackState => {
        const state = states.get(stack) ?? { runs: 0, seen: new Map<string, string>() };
        states.set(stack, state);
        return state;
    };
    /** A stack runs (again) when it never ran, or an output it read has changed since. */
    const stale = (stack: string): boolean => {
        const state = stateOf(stack);
        if (state.answer === undefined) {
            return true;
        }
        return Object.entries(state.answer.reads).some(([target, names]) => readView(outputsOf(states.get(target)?.answer), names) !== state.seen.get(target));
    };
    const configs = new Map<string, ReturnType<typeof readStackConfig>>();
    const configOf = (stack: string) => {
        if (!configs.has(stack)) {
            try {
                configs.set(stack, readStackConfig(project, stack));
            } catch (error) {
                throw error instanceof ProjectError ? new SynthError([error.message]) : error;
            }
        }
        return configs.get(stack) as ReturnType<typeof readStackConfig>;
    };

    for (;;) {
        const next = queue.find(stale);
        if (next === undefined) {
            break;
        }
        const state = stateOf(next);
        if (state.runs >= maxRuns) {
            throw new SynthError([`stack ${next}: the outputs it reads still change after ${maxRuns} runs`]);
        }
        state.runs++;
        const given = Object.fromEntries([...states].map(([name, s]) => [name, outputsOf(s.answer)]));
        const config = configOf(next);
        // The run it replaces is not needed any more (its outputs are in `given`): let it go before this one allocates.
        state.answer = undefined;
        const timeoutMs = request.timeoutMs ?? 120_000;
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<never>((_resolve, reject) => {
            timer = setTimeout(
                () => reject(new SynthError([`stack ${next}: its program did not finish within ${Math.round(timeoutMs / 1000)} s (does a resource input or stack output never resolve?)`])),
                timeoutMs,
            );
        });
        const running = runStack({
            project: project.name,
            stack: next,
            config: config.config,
            secretKeys: config.secretKeys,
            program: project.program,
            stackOutputs: given,
            knownStacks: project.stacks,
            environment: { VAULT_TOKEN: SYNTH_VAULT_TOKEN, TERRAFORM_VAULT_AUTH_JWT: SYNTH_VAULT_AUTH_JWT },
        });
        const answer = await Promise.race([running, timedOut]).finally(() => clearTimeout(timer));
        state.answer = answer;
        state.seen = new Map(Object.entries(answer.reads).map(([target, names]) => [target, readView(given[target] ?? outputsOf(undefined), names)]));
        const outcome = answer.error === undefined ? `${answer.resourceCount} resources in ${(answer.ms / 1000).toFixed(1)}s` : `failed (it runs again if what it read changes): ${answer.error.split("\n")[0]}`;
        request.progress?.(`ran ${next}${state.runs > 1 ? ` again (run ${state.runs})` : ""}: ${outcome}`);
        for (const target of Object.keys(answer.reads)) {
            if (project.stacks.includes(target) && !queue.includes(target)) {
                queue.push(target); // referenced, not asked for: synthesized too
            }
        }
    }

    const failed = [...states].filter(([, state]) => state.answer?.error !== undefined);
    if (failed.length > 0) {
        // Rejected config names its stack on every line already.
        throw new SynthError(failed.flatMap(([stack, state]) => (state.answer?.error ?? "").split("\n").map((line) => (line.startsWith(`Invalid config for stack "${stack}"`) ? line : `stack ${stack}: ${line}`))));
    }
    return {
        project: project.name,
        requested,
        stacks: new Map(
            [...states].map(([stack, state]) => {
                const answer = state.answer as StackRun;
                return [stack, { ...answer, runs: state.runs, referencedStacks: Object.keys(answer.reads).sort() }];
            }),
        ),
    };
}
