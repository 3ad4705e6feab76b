/**
 * The Vault policies this project writes, generated from one least-privilege table.
 *
 * What ESO's Vault provider calls (ESO v2.9.0, `providers/v1/vault/client_push.go` and
 * `client_get.go`):
 * - pulling a secret (`data`, `dataFrom.extract`): GET `<mount>/data/<key>`;
 * - pushing (PushSecret, `updatePolicy` Replace or IfNotExists): GET `<mount>/data/<key>`, GET
 *   `<mount>/metadata/<key>` (to check `custom_metadata.managed-by`), POST `<mount>/metadata/<key>`
 *   (to set `managed-by: external-secrets`) and POST `<mount>/data/<key>`. A POST is `create` for a
 *   new path and `update` for an existing one.
 * Token self-lookup (`auth/token/lookup-self`), which ESO uses to validate a store, is in Vault's
 * built-in `default` policy, which every token here keeps.
 *
 * Nothing gets `delete` (PushSecrets use `deletionPolicy: None`, so a deletion in one region never
 * erases another region's copy), `list` (no `dataFrom.find`), `sudo`, `sys/*` or `*`.
 */

/** A Vault ACL policy document in Vault's JSON form: `path` is an object keyed by path. */
export interface PolicyDocument {
    readonly path: Record<string, { readonly capabilities: readonly Capability[] }>;
}

/** The text Vault takes (its policy parser reads JSON as well as HCL). */
export function policyText(document: PolicyDocument): string {
    return `${JSON.stringify(document, null, 2)}\n`;
}

/** Vault capabilities this project may grant. `delete`, `list`, `sudo`, `deny` and `patch` are absent on purpose. */
export type Capability = "create" | "read" | "update";

/** One `path` stanza: a path relative to the KV mount, and its capabilities. */
export interface PolicyRule {
    /** `data` or `metadata`: the KV v2 sub-tree. */
    readonly tree: "data" | "metadata";
    readonly capabilities: readonly Capability[];
}

/** What each policy is for. */
export type PolicyPurpose = "pull" | "push";

/**
 * The table: every capability this project grants, and why.
 * - pull: ExternalSecrets read a secret's data from the local Vault.
 * - push: PushSecrets write a secret (data and metadata) to any region's Vault.
 */
export const POLICY_TABLE: Readonly<Record<PolicyPurpose, readonly PolicyRule[]>> = {
    pull: [{ tree: "data", capabilities: ["read"] }],
    push: [
        { tree: "data", capabilities: ["create", "read", "update"] },
        { tree: "metadata", capabilities: ["create", "read", "update"] },
    ],
};

/** The Vault policy name for a purpose. */
export function policyName(purpose: PolicyPurpose): string {
    return `external-secrets-${purpose}`;
}

/**
 * The policy document for `purpose` on the KV v2 mount at `mount`, covering every secret under it
 * (`<mount>/data/*`, `<mount>/metadata/*`), as Vault's JSON policy text.
 */
export function policyDocument(purpose: PolicyPurpose, mount: string): string {
    return policyText({
        path: Object.fromEntries(
            POLICY_TABLE[purpose].map((rule) => [`${mount}/${rule.tree}/*`, { capabilities: [...rule.capabilities] }]),
        ),
    });
}

/**
 * A policy granting `read` on exactly one path and nothing else: the snapshot job's
 * (`sys/storage/raft/snapshot`) and Prometheus's (`sys/metrics`).
 */
export function readOnlyPolicyDocument(path: string): string {
    return policyText({ path: { [path]: { capabilities: ["read"] } } });
}
