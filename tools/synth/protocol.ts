/** Messages between the synth runner and its per-stack worker processes. */
import type { ResolvedOutput } from "./exports";
import type { StackOutputs } from "./recorder";
import type { SynthResource } from "./render";

/** Everything a worker needs to run one stack's program. */
export interface WorkerJob {
    readonly project: string;
    readonly stack: string;
    /** Absolute path of the program's entry module. */
    readonly program: string;
    readonly config: Readonly<Record<string, string>>;
    readonly secretKeys: readonly string[];
    /** Stacks that exist in the project; a reference to any other stack fails. */
    readonly knownStacks: readonly string[];
    /** Outputs of the stacks synthesized so far; an existing stack without an entry has no outputs yet. */
    readonly stackOutputs: Readonly<Record<string, StackOutputs>>;
}

/**
 * What a worker reports as soon as the program's outputs are resolved, before the mock runtime has
 * drained and the manifests are rendered: enough for the runner to tell whether another stack must run
 * again, and whether this run's full result is still needed (docs/synth-performance.md).
 */
export interface WorkerOutputs {
    readonly kind: "outputs";
    readonly outputs: Record<string, ResolvedOutput>;
    readonly referencedStacks: string[];
    readonly stackReads: Record<string, string[] | "all">;
}

/** What a worker reports back at the end. */
export type WorkerResult =
    | {
          readonly ok: true;
          readonly resources: SynthResource[];
          readonly outputs: Record<string, ResolvedOutput>;
          readonly manifests: string;
          readonly warnings: string[];
          readonly referencedStacks: string[];
          /** Per referenced stack, the output names the program read, or "all" (see Recording.stackReads). */
          readonly stackReads: Record<string, string[] | "all">;
      }
    | {
          readonly ok: false;
          /**
           * `config`: the program rejected its configuration (a Pulumi RunError); `program`: anything
           * else the program did, which may pass once stacks it references have outputs; `worker`:
           * the worker itself failed (crashed, timed out, could not report), set by the runner.
           */
          readonly kind: "config" | "program" | "worker";
          readonly message: string;
          /** Stacks the program referenced before it failed, so the runner can retry it once they have outputs. */
          readonly referencedStacks?: string[];
      };
