/**
 * The admission policies that keep each namespace to its own secrets where Vault alone cannot: pure
 * builders of up to four `admissionregistration.k8s.io/v1` ValidatingAdmissionPolicies and their bindings,
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
 *   `spec.dataTo[]` entry aimed at those stores, starts with `<namespace>/` in a Vault, and with the
 *   backend's spelling of it in a cloud store.
 *
 * Where ESO names a store (ESO v2.9.0 `apis/externalsecrets/v1/externalsecret_types.go`,
 * `apis/externalsecrets/v1alpha1/pushsecret_types.go`):
 * - an ExternalSecret: `spec.secretStoreRef`, `spec.data[].sourceRef.storeRef`,
 *   `spec.dataFrom[].sourceRef.storeRef`, each `{name, kind}`, where a missing `kind` is a
 *   namespaced `SecretStore` (`pkg/controllers/secretstore/client_manager.go` `getStore`);
 * - a PushSecret: `spec.secretStoreRefs[]` (`{name, kind, labelSelector}`, `kind` defaulted to
 *   `SecretStore`), and `spec.dataTo[].storeRef`, which picks among the stores those resolve to. A
 *   label selector of kind `ClusterSecretStore` may select any ClusterSecretStore, this project's
 *   among them; a reference with a selector is resolved by it, its name ignored
 *   (`pkg/controllers/pushsecret/pushsecret_controller.go` `GetSecretStores`), while a `dataTo` entry
 *   picks by name first (`dataToMatchesStore`).
 *
 * Each key is checked against the backend its target store reaches, as that backend spells the
 * namespace's names (`remoteNames.ts`): `vault-local-push` reaches this region's backend, `vault-<peer>`
 * the peer's, and a label selector reaches the region its `vault.openova.io/vault-region` label names
 * (a selector without it could reach any store, so it is refused). No PushSecret may name `vault-local`,
 * the read store. In a region whose own backend is a cloud store, which acts as one identity for every
 * namespace, a third policy keeps ExternalSecrets reading through `vault-local` or `vault-local-push` to
 * their namespace's names, and refuses `dataFrom[].find`; with AWS EKS Pod Identity, a fourth refuses
 * any SecretStore or ClusterSecretStore of the `aws` provider without `auth` but this project's own, since
 * ESO would then use the controller's identity, which is the backend's role (ESO v2.9.0
 * `providers/v1/aws/auth/auth.go` `constructCredsProvider`: no `jwt` or `secretRef`, the SDK's default chain).
 *
 * A Vault key is refused too when it holds an empty, `.` or `..` segment, or starts with `<kvMount>/`:
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
import { isCloudBackend } from "../backends/backendOptions";
import { BACKEND_LABEL } from "../backends/backendStores";
import { type NamedBackend, REMOTE_NAME_RULES, spelled } from "../backends/remoteNames";
import {
    LOCAL_PUSH_STORE_NAME,
    LOCAL_STORE_NAME,
    PUSH_TARGET_LABEL,
    STORE_SCOPE_LABEL,
    VAULT_REGION_LABEL,
    peerStoreName,
} from "./storeSpecs";

/** The API group and version of the policies; the cluster must serve it. */
export const ADMISSION_POLICY_API = { group: "admissionregistration.k8s.io", version: "v1" } as const;

/** The first Kubernetes release that serves {@link ADMISSION_POLICY_API}'s ValidatingAdmissionPolicy. */
export const MINIMUM_KUBERNETES_VERSION = "1.30";

/** The policy (and its binding) refusing ExternalSecrets that name a peer store. */
export const PEER_STORE_READ_POLICY = "openova-vault-no-reads-from-peer-stores";

/** The policy (and its binding) keeping PushSecrets' keys under their namespace. */
export const PUSH_PREFIX_POLICY = "openova-vault-push-own-prefix";

/** The policy (and its binding) keeping ExternalSecrets' keys under their namespace, in a region whose own backend is a cloud store. */
export const READ_PREFIX_POLICY = "openova-vault-read-own-prefix";

/** The policy (and its binding) refusing AWS stores without `auth`, in a region whose ESO controller holds the backend's role. */
export const AWS_CONTROLLER_ROLE_POLICY = "openova-vault-no-aws-stores-without-auth";

/** A backend as the policies need it: its type and name prefix, and, for AWS, how this region's ESO holds its role. */
export interface AdmissionBackend extends NamedBackend {
    /** AWS: `pod-identity` when the ESO controller itself holds the role (EKS Pod Identity). */
    readonly identity?: string;
}

/** What the policies need to know: the region, its peers (their stores, present or to come), the KV mount and the backends. */
export interface StoreAdmissionSpec {
    /** This region: `vault-local-push` carries its name in `vault.openova.io/vault-region`. */
    readonly region: string;
    /** Every peer region: a store `vault-<peer>` exists, or will, for each. */
    readonly peers: readonly string[];
    /** The KV v2 mount the Vault stores use. */
    readonly kvMount: string;
    /** This region's own backend, which `vault-local` and `vault-local-push` reach. Default: the self-hosted Vault. */
    readonly backend?: AdmissionBackend;
    /** Per peer, the backend its store `vault-<peer>` reaches; a peer not listed has the self-hosted Vault. */
    readonly peerBackends?: Readonly<Record<string, NamedBackend>>;
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
 * The CEL that holds when `key` is a name under the object's namespace as the cloud `backend` spells it
 * (`remoteNames.ts`): the backend's prefix, the namespace, and what the backend puts for `/`
 * (`openova-<namespace>/` in AWS, `openova-<namespace>_` in GCP, `openova-<namespace>-` in Azure), with
 * no character the backend does not allow in a name. That also keeps `/` out of GCP keys, which ESO puts
 * into a resource path, and out of Azure keys, where ESO reads `secret/x`, `key/x` and `cert/x` as an
 * object type and a name (ESO v2.9.0 `providers/v1/azure/keyvault/keyvault.go` `getObjType`). A namespace
 * is a DNS label, which every backend spells as it is. In Azure, `-` also joins the words of a namespace,
 * so `openova-a-` is a prefix of namespace `a-b`'s names too (docs/backends.md).
 * @throws Error for a Vault backend, which takes a key as it is ({@link keyUnderNamespace}), or a prefix that cannot be quoted.
 */
export function keyUnderNamespaceIn(key: string, backend: NamedBackend): string {
    if (!isCloudBackend(backend.type)) {
        throw new Error(`store admission: a ${backend.type} backend takes a key as it is (keyUnderNamespace)`);
    }
    const prefix = spelled(backend.type, backend.secretPrefix ?? "");
    const separator = spelled(backend.type, "/");
    if (!/^[A-Za-z0-9/_.+=@-]*$/.test(prefix)) {
        throw new Error(`store admission: the secret prefix ${JSON.stringify(prefix)} cannot be quoted safely`);
    }
    const allowed = REMOTE_NAME_RULES[backend.type].allowed.source;
    return `(${key}.startsWith('${prefix}' + object.metadata.namespace + '${separator}') && ${key}.matches('^${allowed}+$'))`;
}

/** Backends that spell names alike share one spelling: every Vault, and each cloud type with its prefix. */
function spellingOf(backend: NamedBackend): string {
    return isCloudBackend(backend.type) ? `${backend.type}:${spelled(backend.type, backend.secretPrefix ?? "")}` : "vault";
}

/** The CEL that holds when `key` is under the object's namespace as `backend` spells it. */
function keyUnderNamespaceOf(key: string, backend: NamedBackend, kvMount: string): string {
    return isCloudBackend(backend.type) ? keyUnderNamespaceIn(key, backend) : keyUnderNamespace(key, kvMount);
}

/** How `backend` spells a name of the namespace, for the policies' messages. */
function spellingExample(backend: NamedBackend, kvMount: string): string {
    if (!isCloudBackend(backend.type)) {
        return `<namespace>/<name> (no empty, '.' or '..' segment, not starting with ${kvMount}/)`;
    }
    return `${spelled(backend.type, backend.secretPrefix ?? "")}<namespace>${spelled(backend.type, "/")}<name> (characters ${REMOTE_NAME_RULES[backend.type].allowed.source} only)`;
}

/** The CEL of the region a label selector (`selector`, a CEL expression) pins. */
const pinnedRegion = (selector: string) => `${selector}.matchLabels['${VAULT_REGION_LABEL}']`;

/**
 * The CEL that holds when the label selector `selector` pins one of `regions` (a CEL map keyed by
 * region): its `matchLabels` set {@link VAULT_REGION_LABEL}, which every store a PushSecret may write
 * through carries and `vault-local` does not, to one of them.
 */
function pinsRegion(selector: string, regions: string): string {
    return `(has(${selector}.matchLabels) && '${VAULT_REGION_LABEL}' in ${selector}.matchLabels && ${pinnedRegion(selector)} in ${regions})`;
}

/** A CEL map literal of plain strings (checked by the caller: no quote or backslash can be in them). */
function celMap(entries: readonly (readonly [string, string])[]): string {
    return `{${entries.map(([key, value]) => `'${key}': '${value}'`).join(", ")}}`;
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

/** Each store a PushSecret may name, and each region a selector may pin, with the backend it reaches. */
function pushTargetsOf(spec: StoreAdmissionSpec): {
    readonly stores: readonly [string, NamedBackend][];
    readonly regions: readonly [string, NamedBackend][];
} {
    const own: NamedBackend = spec.backend ?? { type: "vault" };
    const peer = (name: string): NamedBackend => spec.peerBackends?.[name] ?? { type: "vault" };
    return {
        stores: [[LOCAL_PUSH_STORE_NAME, own], ...spec.peers.map((name): [string, NamedBackend] => [peerStoreName(name), peer(name)])],
        regions: [[spec.region, own], ...spec.peers.map((name): [string, NamedBackend] => [name, peer(name)])],
    };
}

/**
 * The PushSecret policy's CEL. Variables: the spelling of each project store's backend by store name,
 * and by region (`vault.openova.io/vault-region`); the ClusterSecretStore references; whether one names
 * `vault-local` or selects without pinning a region; the spellings of the stores the object reaches.
 * Validations: none names `vault-local`; every selector pins a region; every `data` key is under the
 * namespace as each reached store's backend spells it; every `dataTo` entry that may reach a project
 * store has a `remoteKey`, under the namespace likewise.
 */
export function pushPrefixCel(spec: StoreAdmissionSpec): {
    readonly variables: NamedCel[];
    readonly validations: { readonly readStore: string; readonly selectors: string; readonly data: string; readonly dataTo: string };
} {
    const { stores, regions } = pushTargetsOf(spec);
    const byStore = "variables.storeSpellings";
    const byRegion = "variables.regionSpellings";
    // Each spelling this region's stores reach, once, with a backend that spells it.
    const spellings = new Map([...stores, ...regions].map(([, backend]) => [spellingOf(backend), backend]));
    const underEach = (key: string) =>
        [...spellings]
            .map(([id, backend]) => `(!('${id}' in variables.targets) || ${keyUnderNamespaceOf(key, backend, spec.kvMount)})`)
            .join(" && ");
    // ESO resolves a secretStoreRefs entry by its labelSelector when it has one, else by name (pushsecret_controller.go GetSecretStores).
    const reached = (ref: string) =>
        `(has(${ref}.labelSelector) ? ${pinsRegion(`${ref}.labelSelector`, byRegion)} : (has(${ref}.name) && ${ref}.name in ${byStore}))`;
    const spellingOfRef = (ref: string) =>
        `(has(${ref}.labelSelector) ? ${byRegion}[${pinnedRegion(`${ref}.labelSelector`)}] : ${byStore}[${ref}.name])`;
    // A dataTo entry picks among those stores by name when it has one, else by its selector (dataToMatchesStore).
    const projectStores = celList([LOCAL_STORE_NAME, ...stores.map(([name]) => name)]);
    const dataToMayReach = (ref: string) =>
        `(has(${ref}.kind) && ${ref}.kind == 'ClusterSecretStore' && (!has(${ref}.name) || ${ref}.name in ${projectStores}))`;
    return {
        variables: [
            { name: "storeSpellings", expression: celMap(stores.map(([name, backend]) => [name, spellingOf(backend)])) },
            { name: "regionSpellings", expression: celMap(regions.map(([name, backend]) => [name, spellingOf(backend)])) },
            {
                name: "clusterRefs",
                expression: "object.spec.secretStoreRefs.filter(ref, has(ref.kind) && ref.kind == 'ClusterSecretStore')",
            },
            {
                name: "namesReadStore",
                expression: `variables.clusterRefs.exists(ref, !has(ref.labelSelector) && has(ref.name) && ref.name == '${LOCAL_STORE_NAME}')`,
            },
            {
                name: "unpinnedSelector",
                expression: `variables.clusterRefs.exists(ref, has(ref.labelSelector) && !${pinsRegion("ref.labelSelector", byRegion)})`,
            },
            { name: "targets", expression: `variables.clusterRefs.filter(ref, ${reached("ref")}).map(ref, ${spellingOfRef("ref")})` },
        ],
        validations: {
            readStore: "!variables.namesReadStore",
            selectors: "!variables.unpinnedSelector",
            data: `!has(object.spec.data) || object.spec.data.all(d, ${underEach("d.match.remoteRef.remoteKey")})`,
            dataTo: `!has(object.spec.dataTo) || object.spec.dataTo.all(t, !(has(t.storeRef) && ${dataToMayReach("t.storeRef")}) || (has(t.remoteKey) && ${underEach("t.remoteKey")}))`,
        },
    };
}

/**
 * The CEL of the ExternalSecret policy of a region whose own backend is a cloud store: an entry that
 * reads through `vault-local` or `vault-local-push` (its `sourceRef.storeRef`, else `spec.secretStoreRef`,
 * as ESO v2.9.0 `pkg/controllers/secretstore/client_manager.go` `Get` picks the store) names a key under
 * the namespace as the backend spells it, and searches nothing (`dataFrom[].find`).
 * @throws Error when the region's own backend is not a cloud store (its Vault's policy keeps each namespace to its prefix).
 */
export function readPrefixCel(backend: NamedBackend): {
    readonly variables: NamedCel[];
    readonly validations: { readonly data: string; readonly find: string; readonly extract: string };
} {
    const local = (ref: string) =>
        `(has(${ref}.kind) && ${ref}.kind == 'ClusterSecretStore' && has(${ref}.name) && ${ref}.name in ${celList([LOCAL_STORE_NAME, LOCAL_PUSH_STORE_NAME])})`;
    const top = "object.spec.secretStoreRef";
    // A data[].sourceRef without a storeRef makes ESO look for a store with no name, never one of these (toStoreGenSourceRef).
    const dataReadsLocal = `(has(d.sourceRef) ? (has(d.sourceRef.storeRef) && ${local("d.sourceRef.storeRef")}) : variables.topIsLocal)`;
    const fromReadsLocal = `(has(f.sourceRef) && has(f.sourceRef.storeRef) ? ${local("f.sourceRef.storeRef")} : variables.topIsLocal)`;
    return {
        variables: [{ name: "topIsLocal", expression: `has(${top}) && ${local(top)}` }],
        validations: {
            data: `!has(object.spec.data) || object.spec.data.all(d, !${dataReadsLocal} || ${keyUnderNamespaceIn("d.remoteRef.key", backend)})`,
            find: `!has(object.spec.dataFrom) || object.spec.dataFrom.all(f, !${fromReadsLocal} || !has(f.find))`,
            extract: `!has(object.spec.dataFrom) || object.spec.dataFrom.all(f, !${fromReadsLocal} || !has(f.extract) || ${keyUnderNamespaceIn("f.extract.key", backend)})`,
        },
    };
}

/**
 * The CEL that holds for a SecretStore or ClusterSecretStore that does not reach AWS with the ESO
 * controller's own credentials: no `aws` provider, or one whose `auth` has `jwt` or `secretRef` (with
 * neither, ESO v2.9.0 falls back to the AWS SDK's default chain: `providers/v1/aws/auth/auth.go`
 * `constructCredsProvider`), or this project's own local store (its kind, name and labels).
 */
export function awsStoreAuthCel(): string {
    const aws = "object.spec.provider.aws";
    const labels = "object.metadata.labels";
    const label = (name: string, value: string) => `'${name}' in ${labels} && ${labels}['${name}'] == '${value}'`;
    const ours = `object.kind == 'ClusterSecretStore' && object.metadata.name in ${celList([LOCAL_STORE_NAME, LOCAL_PUSH_STORE_NAME])} && has(${labels}) && ${label(BACKEND_LABEL, "aws-secrets-manager")} && ${label(STORE_SCOPE_LABEL, "local")}`;
    return `!has(object.spec.provider) || !has(${aws}) || (has(${aws}.auth) && (has(${aws}.auth.jwt) || has(${aws}.auth.secretRef))) || (${ours})`;
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
    resource: { readonly version: string; readonly resources: string[] },
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
                            resources: resource.resources,
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
 * The region's admission policies and bindings: the PushSecret one always; the ExternalSecret one
 * against peer stores when the region has peers; the ExternalSecret one on its own names when its own
 * backend is a cloud store; and the one against AWS stores without `auth` when its ESO controller holds
 * the backend's AWS role (EKS Pod Identity).
 * @throws Error when the region or a peer is not a DNS label or the mount not a KV mount path (neither could be quoted safely).
 */
export function storeAdmissionPolicies(spec: StoreAdmissionSpec): { readonly policy: Policy; readonly binding: Binding }[] {
    const regions = [spec.region, ...spec.peers];
    const bad = [...regions.filter((region) => !isDnsLabel(region)), ...(isKvMount(spec.kvMount) ? [] : [spec.kvMount])];
    if (bad.length > 0) {
        throw new Error(`store admission: ${bad.map((value) => JSON.stringify(value)).join(", ")} is not a region name or KV mount path`);
    }
    const own: AdmissionBackend = spec.backend ?? { type: "vault" };
    const { stores } = pushTargetsOf(spec);
    const spellings = stores.map(([name, backend]) => `${name}: ${spellingExample(backend, spec.kvMount)}`).join("; ");
    const policies: { readonly policy: Policy; readonly binding: Binding }[] = [];
    if (spec.peers.length > 0) {
        const reads = peerStoreReadCel(spec.peers);
        policies.push(
            policyWithBinding(
                PEER_STORE_READ_POLICY,
                { version: "v1", resources: ["externalsecrets"] },
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
            ),
        );
    }
    const pushes = pushPrefixCel(spec);
    policies.push(
        policyWithBinding(
            PUSH_PREFIX_POLICY,
            { version: "v1alpha1", resources: ["pushsecrets"] },
            {
                variables: pushes.variables,
                validations: [
                    {
                        expression: pushes.validations.readStore,
                        reason: "Forbidden",
                        message: `a PushSecret may not name ClusterSecretStore ${LOCAL_STORE_NAME}: it is the read store. Push through ${LOCAL_PUSH_STORE_NAME}, or select the target store by the labels ${Object.keys(PUSH_TARGET_LABEL).join(", ")} and ${VAULT_REGION_LABEL}.`,
                    },
                    {
                        expression: pushes.validations.selectors,
                        reason: "Forbidden",
                        message: `a PushSecret that selects ClusterSecretStores by label must pin one region, with spec.secretStoreRefs[].labelSelector.matchLabels['${VAULT_REGION_LABEL}'] one of ${regions.join(", ")}: without it, the selector may reach any store, whose backend spells names its own way.`,
                    },
                    {
                        expression: pushes.validations.data,
                        reason: "Forbidden",
                        message: `a PushSecret that writes to this project's stores must keep every spec.data[].match.remoteRef.remoteKey under its own namespace, as the backend of each store it reaches spells it (${spellings}).`,
                    },
                    {
                        expression: pushes.validations.dataTo,
                        reason: "Forbidden",
                        message: `a spec.dataTo[] entry aimed at this project's Vault stores needs a remoteKey under its own namespace, as the backend of each store the PushSecret reaches spells it (${spellings}): without one, each key of the source Secret becomes a secret of its own, outside that prefix.`,
                    },
                ],
            },
        ),
    );
    if (isCloudBackend(own.type)) {
        const reads = readPrefixCel(own);
        const spelling = spellingExample(own, spec.kvMount);
        const stores = `ClusterSecretStore ${LOCAL_STORE_NAME} or ${LOCAL_PUSH_STORE_NAME}`;
        const why = `acts as this region's one ${own.type} identity for every namespace`;
        policies.push(
            policyWithBinding(
                READ_PREFIX_POLICY,
                { version: "v1", resources: ["externalsecrets"] },
                {
                    variables: reads.variables,
                    validations: [
                        {
                            expression: reads.validations.data,
                            reason: "Forbidden",
                            message: `an ExternalSecret that reads through ${stores} (which ${why}) must keep every spec.data[].remoteRef.key under its own namespace: ${spelling}.`,
                        },
                        {
                            expression: reads.validations.find,
                            reason: "Forbidden",
                            message: `an ExternalSecret may not search (spec.dataFrom[].find) through ${stores}, which ${why}: name each secret, ${spelling}.`,
                        },
                        {
                            expression: reads.validations.extract,
                            reason: "Forbidden",
                            message: `an ExternalSecret that reads through ${stores} (which ${why}) must keep every spec.dataFrom[].extract.key under its own namespace: ${spelling}.`,
                        },
                    ],
                },
            ),
        );
    }
    if (own.type === "aws-secrets-manager" && own.identity === "pod-identity") {
        policies.push(
            policyWithBinding(
                AWS_CONTROLLER_ROLE_POLICY,
                { version: "v1", resources: ["secretstores", "clustersecretstores"] },
                {
                    variables: [],
                    validations: [
                        {
                            expression: awsStoreAuthCel(),
                            reason: "Forbidden",
                            message: `a SecretStore or ClusterSecretStore with spec.provider.aws needs spec.provider.aws.auth.jwt or .secretRef here: without them ESO uses the controller's own credentials, which in this region are the backend's role (EKS Pod Identity), with every replicated secret. Only this project's ${LOCAL_STORE_NAME} and ${LOCAL_PUSH_STORE_NAME} use it.`,
                        },
                    ],
                },
            ),
        );
    }
    return policies;
}
