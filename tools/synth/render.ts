/**
 * Turns a recorded program run into the synth's review files: `resources.json` (every resource with
 * its inputs, every secret replaced by "[secret]") and `manifests.yaml` (the Kubernetes objects the
 * stack declares). Both are deterministic: keys sorted, resources in URN order.
 */
import * as pulumi from "@pulumi/pulumi";
import { parseAllDocuments, stringify } from "yaml";
import type { RecordedResource } from "./mockRun";

/** What every secret value becomes in synth output. */
export const REDACTED = "[secret]";

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Object keys sorted at every depth, so output does not depend on construction order. */
export function sortKeys(value: unknown): unknown {
    if (Array.isArray(value)) {
        return value.map(sortKeys);
    }
    if (isRecord(value)) {
        return Object.fromEntries(
            Object.keys(value)
                .sort()
                .map((k) => [k, sortKeys(value[k])]),
        );
    }
    return value;
}

/** Every Pulumi secret in `value` (at any depth) replaced with {@link REDACTED}. */
export function redactSecrets(value: unknown): unknown {
    if (isRecord(value) && value[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig) {
        return REDACTED;
    }
    if (Array.isArray(value)) {
        return value.map(redactSecrets);
    }
    return isRecord(value) ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactSecrets(v)])) : value;
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

/** The kind a built-in `<Kind>Patch` resource patches (a custom kind ending in "Patch" is not one). */
function patchedKind(apiVersion: string, kind: string): string | undefined {
    const group = apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
    const builtIn = !group.includes(".") || group.endsWith(".k8s.io");
    return builtIn && kind.length > "Patch".length && kind.endsWith("Patch") ? kind.slice(0, -"Patch".length) : undefined;
}

const SECRET_KINDS = new Set(["Secret", "SecretPatch"]);
/** A YAML text that may hold a Secret: a `kind: Secret` line, quoted or not. */
const SECRET_IN_YAML = /^\s*kind:\s*["']?Secret(Patch)?["']?\s*$/m;

/**
 * Every Kubernetes Secret's values redacted wherever the Secret sits, whether or not Pulumi marked
 * them secret: the resource itself (`kind` is its type's), a SecretList's items, Secrets inside other
 * inputs (a ConfigGroup's `objs`, a List's `items`) and Secrets in YAML text (a ConfigGroup's `yaml`).
 * YAML that cannot be read back is redacted whole.
 */
export function redactKubernetesSecrets(value: unknown, kind?: string): unknown {
    if (Array.isArray(value)) {
        return value.map((item) => redactKubernetesSecrets(item));
    }
    if (typeof value === "string") {
        if (!SECRET_IN_YAML.test(value)) {
            return value;
        }
        const documents = parseAllDocuments(value);
        if (documents.some((document) => document.errors.length > 0)) {
            return REDACTED;
        }
        return documents.map((document) => stringify(redactKubernetesSecrets(document.toJS()))).join("---\n");
    }
    if (!isRecord(value)) {
        return value;
    }
    const ownKind = kind ?? (typeof value.kind === "string" ? value.kind : undefined);
    if (ownKind !== undefined && SECRET_KINDS.has(ownKind)) {
        const redact = (data: unknown) => (isRecord(data) ? Object.fromEntries(Object.keys(data).map((k) => [k, REDACTED])) : REDACTED);
        return {
            ...value,
            ...(value.data === undefined ? {} : { data: redact(value.data) }),
            ...(value.stringData === undefined ? {} : { stringData: redact(value.stringData) }),
        };
    }
    if (ownKind === "SecretList" && Array.isArray(value.items)) {
        return { ...value, items: value.items.map((item) => redactKubernetesSecrets(item, "Secret")) };
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactKubernetesSecrets(v)]));
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
    readonly options?: Readonly<Record<string, unknown>>;
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
            inputs: sortKeys(redactKubernetesSecrets(redactSecrets(r.inputs), kubernetesKind(r.type)?.kind)),
        }));
}

/** A Kubernetes object with `apiVersion`, `kind` and `metadata` first, as people write them. */
function ordered(object: Record<string, unknown>): Record<string, unknown> {
    const { apiVersion, kind, metadata, ...rest } = object;
    return { apiVersion, kind, metadata, ...rest };
}

/** What {@link manifestsYaml} renders, and what it had to leave out. */
export interface Manifests {
    readonly yaml: string;
    /** One per thing declared but not shown, naming it; the header of `yaml` lists them too. */
    readonly warnings: string[];
}

/**
 * Every Kubernetes object the stack declares, as multi-document YAML. Helm charts are rendered by the
 * Kubernetes provider against the cluster at deploy time, so they are listed in the header (their
 * values are in resources.json); a `<Kind>Patch` is shown as the object it patches, marked as a patch;
 * any other Kubernetes provider resource that expands at deploy time (a ConfigGroup, say) is named in
 * the header and in the warnings.
 */
export function manifestsYaml(stack: string, resources: readonly SynthResource[]): Manifests {
    const header = [`# Kubernetes objects declared by stack ${stack}, in URN order. Secret values are ${REDACTED}.`];
    const charts: string[] = [];
    const leftOut: string[] = [];
    const documents: string[] = [];
    for (const resource of resources) {
        const inputs = isRecord(resource.inputs) ? resource.inputs : {};
        const label = `${resource.type} ${resource.name}`;
        if (resource.type.startsWith("kubernetes:helm.sh/")) {
            const repo = isRecord(inputs.repositoryOpts) ? inputs.repositoryOpts.repo : undefined;
            charts.push(`#   ${String(inputs.chart)} ${String(inputs.version)} from ${String(repo)} as release ${String(inputs.name)} in namespace ${String(inputs.namespace)}`);
            continue;
        }
        const kind = kubernetesKind(resource.type);
        if (kind === undefined) {
            continue;
        }
        if (!resource.custom || /^(yaml|kustomize)$/.test(resource.type.split(":")[1].split("/")[0])) {
            leftOut.push(`${label}: the provider expands it at deploy time`);
            continue;
        }
        const patched = patchedKind(kind.apiVersion, kind.kind);
        const comment = patched ? `# patch (${label}): server-side applied to an existing ${patched}; only the fields this stack manages` : `# ${label}`;
        documents.push(`---\n${comment}\n${stringify(ordered({ ...inputs, apiVersion: kind.apiVersion, kind: patched ?? kind.kind }), { lineWidth: 0 })}`);
    }
    if (charts.length > 0) {
        header.push("# Helm charts, rendered by the Kubernetes provider at deploy time (their values are in resources.json):", ...charts);
    }
    if (leftOut.length > 0) {
        header.push("# Not shown:", ...leftOut.map((what) => `#   ${what}`));
    }
    return { yaml: `${header.join("\n")}\n${documents.join("")}`, warnings: leftOut.map((what) => `manifests.yaml leaves out ${what}`) };
}
