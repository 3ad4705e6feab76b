/**
 * The Vault policies this project writes, generated from one least-privilege table and a scope.
 *
 * What ESO's Vault provider calls (ESO v2.9.0, `providers/v1/vault/client_push.go` and
 * `client_get.go`):
 * - pulling a secret (`data`, `dataFrom.extract`): GET `<mount>/data/<key>`;
 * - pushing (PushSecret, `updatePolicy` Replace or IfNotExists): GET `<mount>/data/<key>`, GET
 *   `<mount>/metadata/<key>` (to check `custom_metadata.managed-by`), POST `<mount>/metadata/<key>`
 *   with only `custom_metadata` (to set `managed-by: external-secrets`) and POST `<mount>/data/<key>`.
 *   A POST is `create` for a new path and `update` for an existing one.
 * Token self-lookup (`auth/token/lookup-self`), which ESO uses to validate a store, is in Vault's
 * built-in `default` policy, which every token here keeps.
 *
 * Nothing gets `delete` (PushSecrets use `deletionPolicy: None`, so a deletion in one region never
 * erases another region's copy), `list` (no `dataFrom.find`), `sudo`, `sys/*` or `*`. A metadata
 * write may carry `custom_metadata` and nothing else (`allowed_parameters`), so no writer can change
 * a secret's `max_versions`, `delete_version_after` or `cas_required`, which would destroy versions.
 *
 * And nothing reaches the whole mount: a namespace's policy covers its own prefix (`<namespace>/*`,
 * templated by the namespace of the service account that logged in), and a peer's covers exactly the
 * secrets it pushes.
 */

/** A Vault ACL policy document in Vault's JSON form: `path` is an object keyed by path. */
export interface PolicyDocument {
    readonly path: Record<
        string,
        { readonly capabilities: readonly (Capability | "deny")[]; readonly allowed_parameters?: Readonly<Record<string, readonly []>> }
    >;
}

/** The text Vault takes (its policy parser reads JSON as well as HCL). */
export function policyText(document: PolicyDocument): string {
    return `${JSON.stringify(document, null, 2)}\n`;
}

/** Vault capabilities this project may grant. `delete`, `list`, `sudo`, `deny` and `patch` are absent on purpose. */
export type Capability = "create" | "read" | "update";

/** One `path` stanza: the KV v2 sub-tree, its capabilities, and the only body keys a write may send. */
export interface PolicyRule {
    /** `data` or `metadata`: the KV v2 sub-tree. */
    readonly tree: "data" | "metadata";
    readonly capabilities: readonly Capability[];
    /** When set, a request may carry these top-level keys and no other. */
    readonly allowedParameters?: readonly string[];
}

/** What each policy is for. */
export const POLICY_PURPOSES = ["pull", "push"] as const;
export type PolicyPurpose = (typeof POLICY_PURPOSES)[number];

/**
 * The table: every capability this project grants, and why.
 * - pull: ExternalSecrets read a secret's data from the local Vault.
 * - push: PushSecrets write a secret (its data, and its metadata's `custom_metadata` only).
 */
export const POLICY_TABLE: Readonly<Record<PolicyPurpose, readonly PolicyRule[]>> = {
    pull: [{ tree: "data", capabilities: ["read"] }],
    push: [
        { tree: "data", capabilities: ["create", "read", "update"] },
        { tree: "metadata", capabilities: ["create", "read", "update"], allowedParameters: ["custom_metadata"] },
    ],
};

/**
 * Where a policy applies under the KV mount:
 * - `namespace`: the prefix named after the Kubernetes namespace of the service account that logged
 *   in through the Kubernetes auth mount with this accessor (Vault fills in the template per login);
 * - `paths`: exactly these secrets (their paths under the mount).
 */
export type PolicyScope =
    { readonly kind: "namespace"; readonly authAccessor: string } | { readonly kind: "paths"; readonly remoteKeys: readonly string[] };

/** The template Vault fills in with the namespace of the service account that logged in. */
export function namespaceTemplate(authAccessor: string): string {
    return `{{identity.entity.aliases.${authAccessor}.metadata.service_account_namespace}}`;
}

/** The Vault policy name for a purpose on the local stores (per namespace), or for a peer's pushes. */
export function policyName(purpose: PolicyPurpose, peer?: string): string {
    return peer === undefined ? `namespace-${purpose}` : `peer-${peer}-${purpose}`;
}

/** The policy document for `purpose` on the KV v2 mount at `mount`, within `scope`, as Vault's JSON policy text. */
export function policyDocument(purpose: PolicyPurpose, mount: string, scope: PolicyScope): string {
    const keys = scope.kind === "namespace" ? [`${namespaceTemplate(scope.authAccessor)}/*`] : [...new Set(scope.remoteKeys)].sort();
    if (keys.length === 0) {
        // Nothing to reach: say so, rather than send an empty document.
        return policyText({ path: { [`${mount}/*`]: { capabilities: ["deny"] } } });
    }
    const path: PolicyDocument["path"] = {};
    for (const rule of POLICY_TABLE[purpose]) {
        for (const key of keys) {
            path[`${mount}/${rule.tree}/${key}`] = {
                capabilities: [...rule.capabilities],
                ...(rule.allowedParameters === undefined
                    ? {}
                    : { allowed_parameters: Object.fromEntries(rule.allowedParameters.map((name) => [name, []] as const)) }),
            };
        }
    }
    return policyText({ path });
}

/**
 * A policy granting `read` on exactly one path and nothing else: the snapshot job's
 * (`sys/storage/raft/snapshot`) and Prometheus's (`sys/metrics`).
 */
export function readOnlyPolicyDocument(path: string): string {
    return policyText({ path: { [path]: { capabilities: ["read"] } } });
}
