/**
 * Kubernetes objects in recorded resource inputs: which type tokens declare objects, where objects sit
 * inside other resources (a ConfigGroup's `objs` and `yaml`, the items of a List), and the redaction of
 * Secret data wherever a Secret appears.
 */
import { parseAllDocuments, stringify } from "yaml";

/** What every secret value becomes in synth output. */
export const REDACTED = "[secret]";

/** A Kubernetes object (or anything shaped like a JSON object). */
export type KubernetesObject = Record<string, unknown>;

export function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
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


const KUBERNETES_TYPE = /^kubernetes:([^/:]+)\/([^/:]+):([A-Za-z0-9]+)$/;

/**
 * The `apiVersion` and `kind` of a Kubernetes resource type token, or undefined for other types.
 * `kubernetes:core/v1:SecretPatch` gives kind `SecretPatch`, `kubernetes:core/v1:SecretList` kind
 * `SecretList`: see {@link patchedKind} and {@link listedKind}.
 */
export function kubernetesKind(type: string): { apiVersion: string; kind: string } | undefined {
    const match = KUBERNETES_TYPE.exec(type);
    if (match === null) {
        return undefined;
    }
    const [, group, version, kind] = match;
    return { apiVersion: group === "core" ? version : `${group}/${version}`, kind };
}

/**
 * The kind a `<Kind>Patch` resource patches, or undefined when it is not a patch. The Kubernetes
 * provider has patch resources for the built-in API groups only (`core`, `apps`, `*.k8s.io`, ...), so
 * a custom resource whose kind happens to end in "Patch" is not taken for one.
 */
export function patchedKind(apiVersion: string, kind: string): string | undefined {
    const group = apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
    const builtIn = !group.includes(".") || group.endsWith(".k8s.io");
    return builtIn && kind.length > "Patch".length && kind.endsWith("Patch") ? kind.slice(0, -"Patch".length) : undefined;
}

/** The kind of the items of a typed `<Kind>List`, or undefined when `kind` is not a typed list kind. */
export function listedKind(kind: string): string | undefined {
    return kind.length > "List".length && kind.endsWith("List") ? kind.slice(0, -"List".length) : undefined;
}

/** Replaces every value under a Secret's `data` and `stringData` (or the whole field) with {@link REDACTED}. */
function redactSecretFields(secret: KubernetesObject): KubernetesObject {
    const out = { ...secret };
    for (const field of ["data", "stringData"]) {
        const data = out[field];
        if (isRecord(data)) {
            out[field] = Object.fromEntries(Object.keys(data).map((k) => [k, REDACTED]));
        } else if (data !== undefined) {
            out[field] = REDACTED;
        }
    }
    return out;
}

/**
 * Redacts the `data` and `stringData` of every Kubernetes Secret in `value`, at any depth: objects of
 * kind `Secret` (in a ConfigGroup's `objs`, in a `List`, anywhere) and the items of a `SecretList`.
 * They are secret whether or not the program marked them: the Kubernetes provider marks them at deploy
 * time, which the mock runtime does not do. `impliedKind` is the kind of `value` when it has no `kind`
 * of its own (the inputs of a typed resource, the items of a typed list).
 */
export function redactKubernetesSecrets(value: unknown, impliedKind?: string): unknown {
    if (Array.isArray(value)) {
        return value.map((item) => redactKubernetesSecrets(item));
    }
    if (!isRecord(value)) {
        return value;
    }
    const kind = typeof value.kind === "string" ? value.kind : impliedKind;
    const itemKind = kind === undefined ? undefined : listedKind(kind);
    const out = Object.fromEntries(
        Object.entries(value).map(([key, item]) => [
            key,
            key === "items" && Array.isArray(item) ? item.map((i) => redactKubernetesSecrets(i, itemKind)) : redactKubernetesSecrets(item),
        ]),
    );
    return kind === "Secret" || kind === "SecretPatch" ? redactSecretFields(out) : out;
}

/** The result of parsing a YAML string of Kubernetes objects. */
export type ParsedYaml = { readonly ok: true; readonly objects: unknown[] } | { readonly ok: false; readonly problem: string };

/** Parses multi-document YAML; the problem is one line. */
export function parseYamlObjects(text: string): ParsedYaml {
    const documents = parseAllDocuments(text);
    const errors = documents.flatMap((d) => d.errors);
    if (errors.length > 0) {
        return { ok: false, problem: errors[0].message.split("\n")[0] };
    }
    return { ok: true, objects: documents.map((d) => d.toJS() as unknown).filter((o) => o !== null && o !== undefined) };
}

/**
 * A YAML string of Kubernetes objects with the data of its Secrets redacted: the same text when it
 * holds no Secret data, the objects re-serialized otherwise. Text that does not parse is kept: the
 * provider would reject it before anything reaches a cluster.
 */
export function redactYamlSecrets(text: string): string {
    const parsed = parseYamlObjects(text);
    if (!parsed.ok) {
        return text;
    }
    const redacted = parsed.objects.map((o) => redactKubernetesSecrets(o));
    if (JSON.stringify(redacted) === JSON.stringify(parsed.objects)) {
        return text;
    }
    return redacted.map((o) => `---\n${stringify(o, { lineWidth: 0 })}`).join("");
}

/**
 * The objects in `objects` with every `kind: List` (and typed `<Kind>List`) replaced by its items, at
 * any depth, as `kubectl apply` treats them. Items of a typed list without their own `apiVersion` and
 * `kind` get the list's.
 */
export function flattenLists(objects: readonly unknown[]): unknown[] {
    return objects.flatMap((object): unknown[] => {
        if (!isRecord(object) || typeof object.kind !== "string" || !Array.isArray(object.items)) {
            return [object];
        }
        const itemKind = object.kind === "List" ? undefined : listedKind(object.kind);
        if (object.kind !== "List" && itemKind === undefined) {
            return [object];
        }
        const items = (object.items as unknown[]).map((item) =>
            isRecord(item) && itemKind !== undefined ? { apiVersion: object.apiVersion, kind: itemKind, ...item } : item,
        );
        return flattenLists(items);
    });
}
