/**
 * Outputs that real providers compute and this project's programs read, faked deterministically for
 * the mock runtime. Keyed by resource type.
 */
import type { MockResourceArgs } from "@pulumi/pulumi/runtime/mocks";

export const computedOutputs: Readonly<Record<string, (args: MockResourceArgs) => Record<string, unknown>>> = {
    // Vault issues the token; offline it is a recognizable placeholder, and the program marks it secret.
    "vault:index/token:Token": (args) => ({ clientToken: `synth-token-${args.name}` }),
};
