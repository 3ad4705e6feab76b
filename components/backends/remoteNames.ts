/**
 * Where a replicated secret lives in each kind of backend: the name of the remote secret (or secrets)
 * and how its keys are laid out. A replicated secret is `<namespace>/<name>` (or its `remoteKey`) in
 * every Vault; the cloud secret stores allow fewer characters, so each has its own spelling of it.
 *
 * - `vault`, `hcp-vault`: the KV v2 path as it is; each key a property of one secret.
 * - `aws-secrets-manager`: `<secretPrefix><remoteKey>` as it is (AWS secret names allow letters,
 *   digits and `/_+=.@-`, CreateSecret `Name`, https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html);
 *   one JSON document per secret, each key a top-level property. ESO merges a pushed property into the
 *   document with sjson, where `.` would nest, so a pushed key's dots are escaped (`\.`); reading a
 *   property, ESO escapes the dots itself when the plain path finds nothing (external-secrets v2.9.0,
 *   providers/v1/aws/secretsmanager/secretsmanager.go, `getNewSecretValue`, `escapeDotsIfRequired`).
 * - `gcp-secret-manager`: every character other than letters, digits, `_` and `-` becomes `_`
 *   (secret IDs allow only those, at most 255, https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/create).
 * - `azure-key-vault`: every character other than letters, digits and `-` becomes `-` (secret names
 *   allow only those, at most 127; names are compared without case).
 *
 * In GCP and Azure a secret with `keys` is one remote secret per key, `<name>--<key>`, each holding
 * the key's value; without `keys`, one remote secret holds the whole Secret as a JSON object. One per
 * key because a GCP push cannot carry both metadata (the replication locations) and a property, and
 * Azure's push ignores the property (external-secrets v2.9.0, providers/v1/gcp/secretmanager/push_secret.go
 * `newPushSecretBuilder`; providers/v1/azure/keyvault/keyvault.go `PushSecret` never reads it).
 *
 * The mapping is not one-to-one (`a/b` and `a_b` are one GCP name): the region's rules refuse two
 * replicated secrets whose names meet in a backend, and names over the backend's length.
 */
import type { BackendType } from "./backendOptions";

/** How a backend holds a replicated secret's keys. */
export type RemoteLayout = "properties" | "one-per-key";

/** The naming rules of the cloud secret stores. */
export interface RemoteNameRules {
    /** A character the backend allows in a name. */
    readonly allowed: RegExp;
    /** What replaces any other character. */
    readonly replacement: string;
    readonly maxLength: number;
    /** Whether the backend compares names without case. */
    readonly caseInsensitive: boolean;
    readonly layout: RemoteLayout;
}

/** Per backend type. The Vault types keep the KV path as it is (any character a remote key may have). */
export const REMOTE_NAME_RULES: Readonly<Record<BackendType, RemoteNameRules>> = {
    vault: { allowed: /[A-Za-z0-9/_.-]/, replacement: "", maxLength: Infinity, caseInsensitive: false, layout: "properties" },
    "hcp-vault": { allowed: /[A-Za-z0-9/_.-]/, replacement: "", maxLength: Infinity, caseInsensitive: false, layout: "properties" },
    "aws-secrets-manager": { allowed: /[A-Za-z0-9/_+=.@-]/, replacement: "", maxLength: 512, caseInsensitive: false, layout: "properties" },
    "gcp-secret-manager": { allowed: /[A-Za-z0-9_-]/, replacement: "_", maxLength: 255, caseInsensitive: false, layout: "one-per-key" },
    "azure-key-vault": { allowed: /[A-Za-z0-9-]/, replacement: "-", maxLength: 127, caseInsensitive: true, layout: "one-per-key" },
};

/** Joins a secret's name and a key's in the one-per-key layout. */
export const KEY_SEPARATOR = "--";

/** What the naming needs of a backend: its type and, for the cloud stores, the prefix of every name. */
export interface NamedBackend {
    readonly type: BackendType;
    readonly secretPrefix?: string;
}

/** `text` as a name in a backend of `type`: every character it does not allow replaced. */
export function spelled(type: BackendType, text: string): string {
    const rules = REMOTE_NAME_RULES[type];
    return [...text].map((char) => (rules.allowed.test(char) ? char : rules.replacement)).join("");
}

/** One remote secret of a replicated secret: its name in the backend and, in the one-per-key layout, the key it holds. */
export interface RemoteSecret {
    readonly name: string;
    readonly key?: string;
}

/**
 * The remote secrets that hold a replicated secret in `backend`: one (properties layout, or no
 * `keys`), or one per key.
 */
export function remoteSecrets(backend: NamedBackend, remoteKey: string, keys?: readonly string[]): RemoteSecret[] {
    const base = spelled(backend.type, `${backend.secretPrefix ?? ""}${remoteKey}`);
    if (REMOTE_NAME_RULES[backend.type].layout === "properties" || keys === undefined) {
        return [{ name: base }];
    }
    return keys.map((key) => ({ name: `${base}${KEY_SEPARATOR}${spelled(backend.type, key)}`, key }));
}

/** The names as the backend compares them (lower case where it ignores case). */
export function comparedName(backend: NamedBackend, name: string): string {
    return REMOTE_NAME_RULES[backend.type].caseInsensitive ? name.toLowerCase() : name;
}

/** A property as ESO's AWS push writes it: sjson reads `.` as nesting, so dots are escaped. */
export function awsPushProperty(key: string): string {
    return key.replace(/\./g, "\\.");
}
