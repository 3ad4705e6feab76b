/**
 * One run of one stack: its program under the mock runtime, and what it declared, ready to be rendered
 * into the synth's files (only the runs that turn out final are).
 */
import * as pulumi from "@pulumi/pulumi";
import type { StackOutputs } from "./mockRun";
import { runProgram } from "./mockRun";
import { manifestsYaml, synthResources } from "./render";

/** What to run. */
export interface StackRunRequest {
    readonly project: string;
    readonly stack: string;
    readonly config: Readonly<Record<string, string>>;
    readonly secretKeys: readonly string[];
    readonly program: string;
    /** The outputs of every stack that has them, by name; `knownStacks` exist but may have none yet. */
    readonly stackOutputs: Readonly<Record<string, StackOutputs>>;
    readonly knownStacks: readonly string[];
    readonly environment: Readonly<Record<string, string>>;
}

/** What a run declared. */
export interface StackRun {
    readonly stack: string;
    readonly resourceCount: number;
    readonly resourceTypes: Readonly<Record<string, number>>;
    /** `resources.json` and `manifests.yaml`, rendered on first use, and what the manifests leave out. */
    files(): { readonly resourcesJson: string; readonly manifests: string; readonly warnings: readonly string[] };
    readonly outputs: Record<string, { readonly value: unknown; readonly secret: boolean }>;
    /** The program's warnings. */
    readonly warnings: string[];
    /** Per referenced stack, the output names read, or "all". */
    readonly reads: Record<string, string[] | "all">;
    /** Why the program failed: one line for an expected failure (rejected config), with its stack otherwise. */
    readonly error?: string;
    readonly ms: number;
}

/** Outputs that real providers compute and this project's programs read, faked deterministically. */

const EMPTY: StackOutputs = { outputs: {}, secretOutputNames: [] };

/** An expected failure (rejected config or args) as its message, anything else with its stack. */
function describe(error: unknown): string {
    if (pulumi.RunError.isInstance(error) || pulumi.InputPropertiesError.isInstance(error) || pulumi.InputPropertyError.isInstance(error)) {
        return error.message;
    }
    if (!(error instanceof Error)) {
        return String(error);
    }
    // Where it failed only when asked: most failures are the program's own, explained by its message.
    return process.env.SYNTH_STACK_TRACES === "1" ? (error.stack ?? error.message) : `${error.name}: ${error.message}`;
}

export async function runStack(request: StackRunRequest): Promise<StackRun> {
    const started = performance.now();
    const result = await runProgram({
        ...request,
        resolveStack: (stack, project) =>
            project === request.project && request.knownStacks.includes(stack) ? (request.stackOutputs[stack] ?? EMPTY) : undefined,
    });
    const resources = synthResources(result.resources);
    let files: ReturnType<StackRun["files"]> | undefined;
    const resourceTypes: Record<string, number> = {};
    for (const resource of resources) {
        resourceTypes[resource.type] = (resourceTypes[resource.type] ?? 0) + 1;
    }
    return {
        stack: request.stack,
        resourceCount: resources.length,
        resourceTypes,
        files: () => {
            if (files === undefined) {
                const manifests = manifestsYaml(request.stack, resources);
                files = { resourcesJson: `${JSON.stringify(resources, null, 2)}\n`, manifests: manifests.yaml, warnings: manifests.warnings };
            }
            return files;
        },
        outputs: result.outputs,
        warnings: result.warnings,
        reads: Object.fromEntries([...result.reads].map(([stack, names]) => [stack, names === "all" ? "all" : [...names].sort()])),
        ...(result.error === undefined ? {} : { error: describe(result.error) }),
        ms: performance.now() - started,
    };
}

