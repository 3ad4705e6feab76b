/**
 * Turns a recorded program run into the synth's review files: resources with every secret replaced
 * by "[secret]", and the Kubernetes objects the stack declares as multi-document YAML.
 */
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import {
    type KubernetesObject,
    REDACTED,
    flattenLists,
    isRecord,
    kubernetesKind,
    listedKind,
    parseYamlObjects,
    patchedKind,
    redactKubernetesSecrets,
    redactYamlSecrets,
    sortKeys,
} from "./kubernetes";
import type { RecordedOptions, RecordedResource } from "./recorder";

export { REDACTED, kubernetesKind };

function isSecretMarker(value: unknown): boolean {
    return isRecord(value) && value[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig;
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

const CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup";
const CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile";
/** API groups of the Kubernetes provider's own resource types, which are not Kubernetes objects. */
const PROVIDER_GROUPS = /^kubernetes:(helm\.sh|yaml|kustomize)\//;

/**
 * A resource's inputs with Kubernetes Secret data redacted, wherever a Secret sits: the inputs of a
 * Secret (or SecretPatch, or the items of a SecretList) and any Secret object nested in the inputs
 * (a ConfigGroup's `objs`, the items of a `List`), including those in a ConfigGroup's `yaml` text.
 */
function redactResourceInputs(type: string, inputs: unknown): unknown {
    const redacted = redactKubernetesSecrets(inputs, kubernetesKind(type)?.kind);
    if (type !== CONFIG_GROUP || !isRecord(redacted)) {
        return redacted;
    }
    const yaml = redacted.yaml;
    if (typeof yaml === "string") {
        return { ...redacted, yaml: redactYamlSecrets(yaml) };
    }
    if (Array.isArray(yaml)) {
        return { ...redacted, yaml: (yaml as unknown[]).map((text) => (typeof text === "string" ? redactYamlSecrets(text) : text)) };
    }
    return redacted;
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
            inputs: sortKeys(redactResourceInputs(r.type, redactSecrets(r.inputs))),
        }));
}

/** One document of `manifests.yaml`, with the comment line that precedes it. */
interface Manifest {
    readonly comment: string;
    readonly object: unknown;
}

/** What {@link manifestsYaml} renders, and what it had to leave out. */
export interface Manifests {
    readonly yaml: string;
    /** One per thing declared but not shown, naming it; the header of `yaml` lists them too. */
    readonly warnings: string[];
}

/** A Kubernetes object with `apiVersion`, `kind` and `metadata` first, as people write them. */
function ordered(object: unknown): unknown {
    if (!isRecord(object)) {
        return object;
    }
    const { apiVersion, kind, metadata, ...rest } = object;
    return { apiVersion, kind, metadata, ...rest };
}

/** The objects of a ConfigGroup: its `objs` and its `yaml` text; `files` are read at deploy time. */
function configGroupManifests(resource: SynthResource, inputs: KubernetesObject, leftOut: string[]): Manifest[] {
    const label = `${resource.type} ${resource.name}`;
    const comment = `# from ${label}`;
    const objects: unknown[] = [];
    if (inputs.objs === REDACTED) {
        leftOut.push(`the objs of ${label}: they contain secret values, so Pulumi marks them secret as a whole`);
    } else if (Array.isArray(inputs.objs)) {
        objects.push(...(inputs.objs as unknown[]));
    } else if (inputs.objs !== undefined) {
        objects.push(inputs.objs);
    }
    const texts: unknown[] = Array.isArray(inputs.yaml) ? inputs.yaml : inputs.yaml === undefined ? [] : [inputs.yaml];
    for (const text of texts) {
        const parsed = typeof text === "string" && text !== REDACTED ? parseYamlObjects(text) : undefined;
        if (parsed?.ok) {
            objects.push(...parsed.objects);
        } else {
            leftOut.push(`the yaml of ${label}: ${parsed ? `it does not parse (${parsed.problem})` : "it is secret"}`);
        }
    }
    const files: unknown[] = Array.isArray(inputs.files) ? inputs.files : inputs.files === undefined ? [] : [inputs.files];
    if (files.length > 0) {
        leftOut.push(`the files of ${label}, read by the provider at deploy time: ${files.map(String).join(", ")}`);
    }
    return flattenLists(objects).map((object) => ({ comment, object: ordered(object) }));
}

/**
 * The Kubernetes objects one resource declares.
 *
 * Patch resources (`<Kind>Patch`, e.g. SecretPatch) are rendered, not skipped: as the object kind they
 * patch, preceded by a comment that says they are a patch. The provider applies them with server-side
 * apply to an object that already exists, so they show only the fields the stack takes over.
 */
function resourceManifests(resource: SynthResource, leftOut: string[]): Manifest[] {
    const inputs = isRecord(resource.inputs) ? resource.inputs : {};
    const label = `${resource.type} ${resource.name}`;
    if (resource.type === CONFIG_GROUP) {
        return configGroupManifests(resource, inputs, leftOut);
    }
    if (resource.type === CONFIG_FILE) {
        leftOut.push(`the objects of ${label}, read by the provider at deploy time from ${String(inputs.file)}`);
        return [];
    }
    if (resource.type.startsWith("kubernetes:helm.sh/")) {
        return []; // listed in the header
    }
    if (PROVIDER_GROUPS.test(resource.type)) {
        leftOut.push(`the objects of ${label}, which the provider reads at deploy time`);
        return [];
    }
    const kind = kubernetesKind(resource.type);
    if (kind === undefined) {
        return [];
    }
    if (!resource.custom) {
        leftOut.push(`${label}: a component the provider expands at deploy time`);
        return [];
    }
    const patched = patchedKind(kind.apiVersion, kind.kind);
    if (patched !== undefined) {
        const comment = `# patch (${label}): server-side applied to an existing ${patched}; only the fields this stack manages`;
        return [{ comment, object: ordered({ ...inputs, apiVersion: kind.apiVersion, kind: patched }) }];
    }
    const comment = `# ${label}`;
    if (listedKind(kind.kind) !== undefined && Array.isArray(inputs.items)) {
        return flattenLists([{ ...inputs, ...kind }]).map((object) => ({ comment, object: ordered(object) }));
    }
    return [{ comment, object: ordered({ ...inputs, ...kind }) }];
}

/** The header line of a Helm chart or release: chart, version, repository, release and namespace. */
function chartLine(chart: SynthResource): string {
    const inputs = isRecord(chart.inputs) ? chart.inputs : {};
    const repo = isRecord(inputs.repositoryOpts) ? inputs.repositoryOpts.repo : undefined;
    return `#   ${String(inputs.chart)} ${String(inputs.version)} from ${String(repo)} as release ${String(inputs.name)} in namespace ${String(inputs.namespace)}`;
}

/**
 * Every Kubernetes object the stack declares, as multi-document YAML: typed resources, the items of
 * Lists, and the objects of a ConfigGroup's `objs` and `yaml`. Helm charts are rendered by the
 * Kubernetes provider against the cluster at deploy time (`helm template --dry-run=server`
 * semantics), so they are listed in the header, not expanded; whatever else cannot be shown offline
 * (a ConfigGroup's `files`, a ConfigFile) is named in the header and in the returned warnings.
 */
export function manifestsYaml(stack: string, resources: readonly SynthResource[]): Manifests {
    const header = [`# Kubernetes objects declared by stack ${stack}, in URN order. Secret values are ${REDACTED}.`];
    const charts = resources.filter((r) => r.type.startsWith("kubernetes:helm.sh/"));
    if (charts.length > 0) {
        header.push("# Helm charts, rendered by the Kubernetes provider at deploy time (their values are in resources.json):");
        header.push(...charts.map(chartLine));
    }
    const leftOut: string[] = [];
    const manifests = resources.flatMap((r) => resourceManifests(r, leftOut));
    if (leftOut.length > 0) {
        header.push("# Not shown:");
        header.push(...leftOut.map((what) => `#   ${what}`));
    }
    const documents = manifests.map(({ comment, object }) => `---\n${comment}\n${stringify(object, { lineWidth: 0 })}`);
    return {
        yaml: `${header.join("\n")}\n${documents.join("")}`,
        warnings: leftOut.map((what) => `manifests.yaml leaves out ${what}`),
    };
}
