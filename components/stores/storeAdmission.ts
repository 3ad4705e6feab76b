/**
 * The admission policies that keep each namespace to its own secrets where Vault alone cannot: pure
 * builders of two `admissionregistration.k8s.io/v1` ValidatingAdmissionPolicies and their bindings,
 * with their CEL. No Pulumi resources here, so tests call them directly (and run the CEL).
 *
 * Why Vault alone cannot: the local stores log in as the namespace that asks, and Vault's templated
 * policy keeps it to `<namespace>/`. A peer store (`vault-<peer>`) cannot: it logs in to the peer's
 * Vault as this region's ESO (its service account with JWT peer auth, the peer's token with token
 * peer auth), one identity for every namespace, whose peer policy covers every secret this region
 * pushes there, whichever namespace it belongs to. ESO's Vault provider reads and writes through any
 * store (`ReadWrite`, ESO v2.9.0 `providers/v1/vault/provider.go`), and a store's `spec.conditions`
 * only say which namespaces may use it (`pkg/controllers/secretstore/client_manager.go`
 * `shouldProcessSecret`), not which keys. So, in the cluster of the region that holds the peer
 * stores, before ESO ever sees the object:
 * - **no ExternalSecret names a peer store**: every region reads from its own Vault (`vault-local`),
 *   so nothing needs to, and one that did could read another namespace's secrets in the peer's Vault;
 * - **a PushSecret that may reach one of this project's stores writes only under its namespace's
 *   prefix**: every `spec.data[].match.remoteRef.remoteKey`, and the `remoteKey` of every
 *   `spec.dataTo[]` entry aimed at those stores, starts with `<namespace>/`.
 *
 * Where ESO names a store (ESO v2.9.0 `apis/externalsecrets/v1/externalsecret_types.go`,
 * `apis/externalsecrets/v1alpha1/pushsecret_types.go`):
 * - an ExternalSecret: `spec.secretStoreRef`, `spec.data[].sourceRef.storeRef`,
 *   `spec.dataFrom[].sourceRef.storeRef`, each `{name, kind}`, where a missing `kind` is a
 *   namespaced `SecretStore` (`pkg/controllers/secretstore/client_manager.go` `getStore`);
 * - a PushSecret: `spec.secretStoreRefs[]` (`{name, kind, labelSelector}`, `kind` defaulted to
 *   `SecretStore`), and `spec.dataTo[].storeRef`, which picks among the stores those resolve to. A
 *   label selector of kind `ClusterSecretStore` may select any ClusterSecretStore, this project's
 *   among them (`pkg/controllers/pushsecret/pushsecret_controller.go` `GetSecretStores`).
 *
 * A key is refused too when it holds an empty, `.` or `..` segment, or starts with `<kvMount>/`:
 * ESO strips a leading `<mount>/` (and then `data/`) from a key before it builds the Vault path
 * (`providers/v1/vault/client_get.go` `buildPath`), so `<mount>/data/<other namespace>/x` would
 * land outside the prefix it seems to start with.
 *
 * Validating admission runs after the object's schema validation and defaulting, so the fields the
 * CRDs require or default are there. An update that leaves `spec` as it was (a finalizer, a label)
 * is not checked: it changes nothing a store does, and an object from before the policy can still be
 * cleaned up. ValidatingAdmissionPolicy is stable from Kubernetes 1.30
 * (https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/).
 */
import { projectLabels } from "../common/labels";
import { isDnsLabel, isKvMount } from "../common/predicates";
import { type NamedBackend, spelled } from "../backends/remoteNames";
import { LOCAL_PUSH_STORE_NAME, LOCAL_STORE_NAME, peerStoreName } from "./storeSpecs";

/** The API group and version of the policies; the cluster must serve it. */
export const ADMISSION_POLICY_API = { group: "admissionregistration.k8s.io", version: "v1" } as const;

/** The first Kubernetes release that serves {@link ADMISSION_POLICY_API}'s ValidatingAdmissionPolicy. */
export const MINIMUM_KUBERNETES_VERSION = "1.30";

/** The policy (and its binding) refusing ExternalSecrets that name a peer store. */
export const PEER_STORE_READ_POLICY = "openova-vault-no-reads-from-peer-stores";

/** The policy (and its binding) keeping PushSecrets' keys under their namespace. */
export const PUSH_PREFIX_POLICY = "openova-vault-push-own-prefix";

/** What the policies need to know: the region's peers (their stores, present or to come) and the KV mount. */
export interface StoreAdmissionSpec {
    /** Every peer region: a store `vault-<peer>` exists, or will, for each. */
    readonly peers: readonly string[];
    /** The KV v2 mount the stores use. */
    readonly kvMount: string;
    /**
     * The backends other than a Vault that this region's stores reach (its own, its peers'): a key
     * spelt as one of them spells it (`backendStores.ts`) is under the namespace too. Default: none.
     */
    readonly backends?: readonly NamedBackend[];
}

/** A CEL list literal of plain strings (checked by the caller: no quote or backslash can be in them). */
function celList(values: readonly string[]): string {
    return `[${values.map((value) => `'${value}'`).join(", ")}]`;
}

/**
 * The CEL that holds when `key` (a CEL string expression) is a path under the object's namespace:
 * `<namespace>/...`, with no empty, `.` or `..` segment, and not starting with `<kvMount>/`.
 */
export function keyUnderNamespace(key: string, kvMount: string): string {
    return `(${key}.startsWith(object.metadata.namespace + '/') && !${key}.startsWith('${kvMount}/') && !${key}.matches('(^|/)[.]{0,2}(/|$)'))`;
}

/**
 * The CEL that holds when `key` is a name under the object's namespace as `backend` spells it
 * (`remoteNames.ts`): the backend's prefix, the namespace, and what the backend puts for `/`
 * (`openova-<namespace>/` in AWS, `openova-<namespace>_` in GCP, `openova-<namespace>-` in Azure).
 * A namespace is a DNS label, which every backend spells as it is. In Azure, `-` also joins the words
 * of a namespace, so `openova-a-` is a prefix of namespace `a-b`'s names too: there the namespace
 * labels stay the boundary (docs/backends.md).
 */
export function keyUnderNamespaceIn(key: string, backend: NamedBackend): string {
    const prefix = spelled(backend.type, backend.secretPrefix ?? "");
    const separator = spelled(backend.type, "/");
    if (!/^[A-Za-z0-9/_.+=@-]*$/.test(prefix)) {
        throw new Error(`store admission: the secret prefix ${JSON.stringify(prefix)} cannot be quoted safely`);
    }
    return `${key}.startsWith('${prefix}' + object.metadata.namespace + '${separator}')`;
}

/** The CEL that holds when `key` is under the object's namespace in a Vault, or as one of `backends` spells it. */
function keyUnderNamespaceAnywhere(key: string, kvMount: string, backends: readonly NamedBackend[]): string {
    // A Vault (self-hosted or HCP) takes the key as it is; a cloud store with its prefix.
    const spellings = new Set(backends.filter((backend) => backend.secretPrefix !== undefined).map((b) => keyUnderNamespaceIn(key, b)));
    return [keyUnderNamespace(key, kvMount), ...spellings].join(" || ");
}

/**
 * The CEL that holds when `ref` (a PushSecret store reference) may reach one of `stores`: a
 * ClusterSecretStore by one of those names, or any ClusterSecretStore by label.
 */
function mayReachStores(ref: string, stores: string): string {
    return `(has(${ref}.kind) && ${ref}.kind == 'ClusterSecretStore' && (has(${ref}.labelSelector) || (has(${ref}.name) && ${ref}.name in ${stores})))`;
}

/** Only a create, or an update that changes `spec`. */
const SPEC_CHANGES = { name: "creates-or-changes-spec", expression: "oldObject == null || object.spec != oldObject.spec" };

/**
 * The ExternalSecret policy's CEL: the names of the ClusterSecretStores the object reads from (a
 * variable), and the validation that none is a peer store.
 */
export function peerStoreReadCel(peers: readonly string[]): { readonly variables: NamedCel[]; readonly validation: string } {
    const named = (list: string) =>
        `(has(object.spec.${list}) ? object.spec.${list}.filter(d, has(d.sourceRef) && has(d.sourceRef.storeRef) && has(d.sourceRef.storeRef.kind) && d.sourceRef.storeRef.kind == 'ClusterSecretStore' && has(d.sourceRef.storeRef.name)).map(d, d.sourceRef.storeRef.name) : [])`;
    const top = "object.spec.secretStoreRef";
    return {
        variables: [
            { name: "peerStores", expression: celList(peers.map(peerStoreName)) },
            {
                name: "clusterStores",
                expression: `(has(${top}) && has(${top}.kind) && ${top}.kind == 'ClusterSecretStore' && has(${top}.name) ? [${top}.name] : []) + ${named("data")} + ${named("dataFrom")}`,
            },
        ],
        validation: "!variables.clusterStores.exists(store, store in variables.peerStores)",
    };
}

/** The PushSecret policy's CEL: the project's stores (a variable), and the validations of `data` and `dataTo`. */
export function pushPrefixCel(spec: StoreAdmissionSpec): {
    readonly variables: NamedCel[];
    readonly validations: { readonly data: string; readonly dataTo: string };
} {
    const stores = "variables.projectStores";
    const under = (key: string) => keyUnderNamespaceAnywhere(key, spec.kvMount, spec.backends ?? []);
    return {
        variables: [
            { name: "projectStores", expression: celList([LOCAL_STORE_NAME, LOCAL_PUSH_STORE_NAME, ...spec.peers.map(peerStoreName)]) },
            { name: "reachesProjectStore", expression: `object.spec.secretStoreRefs.exists(ref, ${mayReachStores("ref", stores)})` },
        ],
        validations: {
            data: `!variables.reachesProjectStore || !has(object.spec.data) || object.spec.data.all(d, ${under("d.match.remoteRef.remoteKey")})`,
            dataTo: `!has(object.spec.dataTo) || object.spec.dataTo.all(t, !(has(t.storeRef) && ${mayReachStores("t.storeRef", stores)}) || (has(t.remoteKey) && (${under("t.remoteKey")})))`,
        },
    };
}

/** A named CEL expression: a variable, or a match condition. */
export interface NamedCel {
    readonly name: string;
    readonly expression: string;
}

/** One validation of a policy: the CEL that must hold, and the message of a refusal. */
export interface PolicyValidation {
    readonly expression: string;
    readonly reason: "Forbidden";
    readonly message: string;
}

/** A ValidatingAdmissionPolicy as this project writes it. */
export interface AdmissionPolicy {
    readonly apiVersion: "admissionregistration.k8s.io/v1";
    readonly kind: "ValidatingAdmissionPolicy";
    readonly metadata: { readonly name: string; readonly labels: Record<string, string> };
    readonly spec: {
        readonly failurePolicy: "Fail";
        readonly matchConstraints: {
            readonly resourceRules: {
                readonly apiGroups: string[];
                readonly apiVersions: string[];
                readonly operations: ("CREATE" | "UPDATE")[];
                readonly resources: string[];
            }[];
            readonly matchPolicy: "Equivalent";
        };
        readonly matchConditions: NamedCel[];
        readonly variables: NamedCel[];
        readonly validations: PolicyValidation[];
    };
}

/** Its binding: the policy applies, denying, in every namespace. */
export interface AdmissionPolicyBinding {
    readonly apiVersion: "admissionregistration.k8s.io/v1";
    readonly kind: "ValidatingAdmissionPolicyBinding";
    readonly metadata: { readonly name: string; readonly labels: Record<string, string> };
    readonly spec: { readonly policyName: string; readonly validationActions: "Deny"[] };
}

type Policy = AdmissionPolicy;
type Binding = AdmissionPolicyBinding;

/** A policy and its binding, which denies (in every namespace) what the policy refuses. */
function policyWithBinding(
    name: string,
    resource: { readonly version: string; readonly resource: string },
    spec: Pick<Policy["spec"], "variables" | "validations">,
): { readonly policy: Policy; readonly binding: Binding } {
    const apiVersion = `${ADMISSION_POLICY_API.group}/${ADMISSION_POLICY_API.version}` as const;
    const metadata = { name, labels: projectLabels("store-admission") };
    return {
        policy: {
            apiVersion,
            kind: "ValidatingAdmissionPolicy",
            metadata,
            spec: {
                // An expression that cannot be evaluated refuses the object, rather than letting it through.
                failurePolicy: "Fail",
                matchConstraints: {
                    resourceRules: [
                        {
                            apiGroups: ["external-secrets.io"],
                            apiVersions: [resource.version],
                            operations: ["CREATE", "UPDATE"],
                            resources: [resource.resource],
                        },
                    ],
                    // Another served version of the same kind is converted to this one and checked too.
                    matchPolicy: "Equivalent",
                },
                matchConditions: [SPEC_CHANGES],
                ...spec,
            },
        },
        binding: {
            apiVersion,
            kind: "ValidatingAdmissionPolicyBinding",
            metadata,
            spec: { policyName: name, validationActions: ["Deny"] },
        },
    };
}

/**
 * The region's admission policies and bindings: the ExternalSecret one when the region has peers,
 * and the PushSecret one always.
 * @throws Error when a peer is not a DNS label or the mount not a KV mount path (neither could be quoted safely).
 */
export function storeAdmissionPolicies(spec: StoreAdmissionSpec): { readonly policy: Policy; readonly binding: Binding }[] {
    const bad = [...spec.peers.filter((peer) => !isDnsLabel(peer)), ...(isKvMount(spec.kvMount) ? [] : [spec.kvMount])];
    if (bad.length > 0) {
        throw new Error(`store admission: ${bad.map((value) => JSON.stringify(value)).join(", ")} is not a region name or KV mount path`);
    }
    const reads = peerStoreReadCel(spec.peers);
    const pushes = pushPrefixCel(spec);
    const readPolicy = policyWithBinding(
        PEER_STORE_READ_POLICY,
        { version: "v1", resource: "externalsecrets" },
        {
            variables: reads.variables,
            validations: [
                {
                    expression: reads.validation,
                    reason: "Forbidden",
                    message: `an ExternalSecret may not read from a peer region's store (${spec.peers.map(peerStoreName).join(", ")}): it logs in as this region's ESO for every namespace. Read from ClusterSecretStore ${LOCAL_STORE_NAME}, which every region has.`,
                },
            ],
        },
    );
    const pushPolicy = policyWithBinding(
        PUSH_PREFIX_POLICY,
        { version: "v1alpha1", resource: "pushsecrets" },
        {
            variables: pushes.variables,
            validations: [
                {
                    expression: pushes.validations.data,
                    reason: "Forbidden",
                    message: `a PushSecret that may write to this project's Vault stores (${LOCAL_PUSH_STORE_NAME} and vault-<peer>, or any ClusterSecretStore by label) must keep every spec.data[].match.remoteRef.remoteKey under its own namespace: <namespace>/<name>, without empty, '.' or '..' segments, and not starting with ${spec.kvMount}/.`,
                },
                {
                    expression: pushes.validations.dataTo,
                    reason: "Forbidden",
                    message: `a spec.dataTo[] entry aimed at this project's Vault stores needs a remoteKey under its own namespace (<namespace>/<name>): without one, each key of the source Secret becomes a secret of its own, outside that prefix.`,
                },
            ],
        },
    );
    return spec.peers.length > 0 ? [readPolicy, pushPolicy] : [pushPolicy];
}
