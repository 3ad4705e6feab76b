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

/** What a worker reports back. */
export type WorkerResult =
    | {
          readonly ok: true;
          readonly resources: SynthResource[];
          readonly outputs: Record<string, ResolvedOutput>;
          readonly manifests: string;
          readonly warnings: string[];
          readonly referencedStacks: string[];
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
