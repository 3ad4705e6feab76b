/**
 * Outputs that real providers compute and this project's programs read, faked deterministically for
 * the mock runtime. Keyed by resource type; empty until a program reads a computed output.
 */
import type { MockResourceArgs } from "@pulumi/pulumi/runtime/mocks";

export const computedOutputs: Readonly<Record<string, (args: MockResourceArgs) => Record<string, unknown>>> = {};
