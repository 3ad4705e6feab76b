/**
 * Turns a recorded program run into the synth's review files: resources with every secret replaced
 * by "[secret]", and the Kubernetes objects the stack declares as multi-document YAML.
 */
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import type { RecordedOptions, RecordedResource } from "./recorder";

/** What every secret value becomes in synth output. */
export const REDACTED = "[secret]";

function isSecretMarker(value: unknown): boolean {
    return (
        typeof value === "object" &&
        value !== null &&
        (value as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig
    );
}

/** Replaces every Pulumi secret in `value` (at any depth) with {@link REDACTED}. */
export function redactSecrets(value: unknown): unknown {
    if (isSecretMarker(value)) {
        return REDACTED;
    }
    if (Array.isArray(value)) {
        return value.map(redactSecrets);
    }
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactSecrets(v)]));
    }
    return value;
}

/** Object keys sorted at every depth, so output does not depend on construction order. */
export function sortKeys(value: unknown): unknown {
    if (Array.isArray(value)) {
        return value.map(sortKeys);
    }
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(
            Object.keys(value)
                .sort()
                .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
        );
    }
    return value;
}

const KUBERNETES_SECRET = "kubernetes:core/v1:Secret";

/**
 * A Kubernetes Secret's `data` and `stringData` are secret whether or not the program marked them:
 * the provider marks them at deploy time, which the mock runtime does not do.
 */
function redactSecretData(type: string, inputs: Record<string, unknown>): Record<string, unknown> {
    if (type !== KUBERNETES_SECRET) {
        return inputs;
    }
    const out = { ...inputs };
    for (const field of ["data", "stringData"]) {
        const data = out[field];
        if (typeof data === "object" && data !== null) {
            out[field] = Object.fromEntries(Object.keys(data).map((k) => [k, REDACTED]));
        } else if (data !== undefined) {
            out[field] = REDACTED;
        }
    }
    return out;
}

/** A resource as `resources.json` shows it. */
export interface SynthResource {
    readonly type: string;
    readonly name: string;
    readonly urn: string;
    readonly custom: boolean;
    readonly parent?: string;
    readonly provider?: string;
    readonly dependsOn?: readonly string[];
    readonly options?: RecordedOptions;
    readonly inputs: unknown;
}

/** Redacted, key-sorted resources in URN order: the content of `resources.json`. */
export function synthResources(recorded: readonly RecordedResource[]): SynthResource[] {
    return [...recorded]
        .sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0))
        .map((r) => ({
            type: r.type,
            name: r.name,
            urn: r.urn,
            custom: r.custom,
            ...(r.parent ? { parent: r.parent } : {}),
            ...(r.provider ? { provider: r.provider } : {}),
            ...(r.dependsOn.length > 0 ? { dependsOn: r.dependsOn } : {}),
            ...(r.options ? { options: r.options } : {}),
            inputs: sortKeys(redactSecretData(r.type, redactSecrets(r.inputs) as Record<string, unknown>)),
        }));
}

const KUBERNETES_TYPE = /^kubernetes:([^/:]+)\/([^/:]+):([A-Za-z0-9]+)$/;

/** The `apiVersion` and `kind` of a Kubernetes resource type token, or undefined for other types. */
export function kubernetesKind(type: string): { apiVersion: string; kind: string } | undefined {
    const match = KUBERNETES_TYPE.exec(type);
    if (match === null) {
        return undefined;
    }
    const [, group, version, kind] = match;
    return { apiVersion: group === "core" ? version : `${group}/${version}`, kind };
}

/**
 * Every Kubernetes object the stack declares directly, as multi-document YAML. Helm charts are
 * rendered by the Kubernetes provider against the cluster at deploy time (`helm template
 * --dry-run=server` semantics), so they are listed in the header, not expanded.
 */
export function manifestsYaml(stack: string, resources: readonly SynthResource[]): string {
    const header = [`# Kubernetes objects declared by stack ${stack}, in URN order. Secret values are ${REDACTED}.`];
    const charts = resources.filter((r) => r.type.startsWith("kubernetes:helm.sh/"));
    if (charts.length > 0) {
        header.push("# Helm charts, rendered by the Kubernetes provider at deploy time (their values are in resources.json):");
        for (const chart of charts) {
            const inputs = chart.inputs as Record<string, unknown>;
            const repo = (inputs.repositoryOpts as Record<string, unknown> | undefined)?.repo;
            header.push(`#   ${String(inputs.chart)} ${String(inputs.version)} from ${String(repo)} as release ${String(inputs.name)} in namespace ${String(inputs.namespace)}`);
        }
    }
    const documents = resources.flatMap((r) => {
        const kind = r.custom ? kubernetesKind(r.type) : undefined;
        if (kind === undefined) {
            return [];
        }
        const { apiVersion: _apiVersion, kind: _kind, metadata, ...rest } = r.inputs as Record<string, unknown>;
        return [stringify({ ...kind, metadata, ...rest }, { lineWidth: 0 })];
    });
    return `${header.join("\n")}\n${documents.map((d) => `---\n${d}`).join("")}`;
}
