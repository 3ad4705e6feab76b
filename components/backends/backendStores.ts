/**
 * Pure builders for what a region's ESO needs to reach a managed backend (its own, or a peer's it
 * pushes to): the ClusterSecretStores (`external-secrets.io/v1`) of the backend's ESO provider, the
 * ServiceAccounts that carry the workload identity, and the `data` of the ExternalSecrets and
 * PushSecrets, whose remote references differ per provider.
 *
 * The stores keep the names and labels of the Vault stores (`storeSpecs.ts`): `vault-local` to read,
 * `vault-local-push` and `vault-<peer>` to push, selected by PushSecrets through the same labels, and
 * scoped to namespaces by the same namespace labels. So a replicated secret's objects change only in
 * their remote references, whatever mix of backends the regions have. Each store also carries
 * {@link BACKEND_LABEL}.
 *
 * What each provider takes, from external-secrets v2.9.0 (`apis/externalsecrets/v1`):
 * - `aws` (`secretstore_aws_types.go`): `service: SecretsManager`, `region`, and `auth.jwt.serviceAccountRef`
 *   for IRSA (ESO reads the role from the account's `eks.amazonaws.com/role-arn` annotation, mints a
 *   token for `sts.amazonaws.com` and calls AssumeRoleWithWebIdentity, `providers/v1/aws/auth/auth.go`),
 *   or no `auth` for EKS Pod Identity, which ESO supports only as the controller's own identity
 *   (`docs/provider/aws-access.md`, "EKS Pod Identity Setup").
 * - `gcpsm` (`secretstore_gcpsm_types.go`): `projectID` and `auth.workloadIdentity.serviceAccountRef`
 *   (GKE; cluster name, location and project come from the metadata server when left out) or
 *   `auth.workloadIdentityFederation` with `serviceAccountRef` and `audience` (any cluster). In both,
 *   ESO impersonates the Google service account of the account's `iam.gke.io/gcp-service-account`
 *   annotation (`providers/v1/gcp/secretmanager/workload_identity.go`, `workload_identity_federation.go`).
 * - `azurekv` (`secretstore_azurekv_types.go`): `authType: WorkloadIdentity`, `vaultUrl`, `tenantId`,
 *   `serviceAccountRef`; the client ID from the account's `azure.workload.identity/client-id`
 *   annotation, the token minted by ESO for `api://AzureADTokenExchange`
 *   (`providers/v1/azure/keyvault/keyvault.go`), so no webhook or pod label is needed. The tenant is
 *   given once, as the store's `tenantId`: ESO refuses a tenant that is also in the account's
 *   `azure.workload.identity/tenant-id` annotation ("multiple tenantID found",
 *   `authorizerForWorkloadIdentity` in the same file).
 * - `vault` for HCP Vault: `namespace` (HCP's `admin`) and JWT auth with a service-account token, as a
 *   peer's Vault store has (`secretstore_vault_types.go`): HCP cannot reach the cluster's API server for
 *   the TokenReview that Kubernetes auth makes.
 *
 * ESO creates each ServiceAccount's token itself (TokenRequest); the ESO chart grants that by default
 * (`rbac.serviceAccountTokenCreate: true`, deploy/charts/external-secrets/values.yaml at 2.9.0).
 */
import type { IClusterSecretStore } from "@kubernetes-models/external-secrets/external-secrets.io/v1/ClusterSecretStore" with {
    "resolution-mode": "import",
};
import type { IExternalSecret } from "@kubernetes-models/external-secrets/external-secrets.io/v1/ExternalSecret" with {
    "resolution-mode": "import",
};
import type { IPushSecret } from "@kubernetes-models/external-secrets/external-secrets.io/v1alpha1/PushSecret" with {
    "resolution-mode": "import",
};
import { projectLabels } from "../common/labels";
import {
    LOCAL_PUSH_STORE_NAME,
    LOCAL_STORE_NAME,
    PEER_JWT_EXPIRATION_SECONDS,
    PUSH_TARGET_LABEL,
    READ_NAMESPACE_LABEL,
    REPLICATE_NAMESPACE_LABEL,
    STORE_SCOPE_LABEL,
    VAULT_REGION_LABEL,
    peerStore,
    peerStoreName,
} from "../stores/storeSpecs";
import type { PolicyPurpose } from "../vault-config/policies";
import { NAMESPACE_SERVICE_ACCOUNTS, PEER_JWT_ROLE, namespaceRole, peerJwtPath } from "../vault-config/setupValues";
import { EXTERNAL_SECRETS_SERVICE_ACCOUNT } from "../eso/operatorValues";
import { AZURE_VAULT_DOMAINS, type ResolvedBackend, hcpAudience } from "./backendOptions";
import { REMOTE_NAME_RULES, awsPushProperty, remoteSecrets } from "./remoteNames";

/** The label that says which kind of backend a store reaches. */
export const BACKEND_LABEL = "vault.openova.io/backend";

/** What a store needs besides the backend. */
export interface BackendStoreContext {
    /** The region whose backend this store reaches. */
    readonly region: string;
    /** ESO's namespace, where the identity ServiceAccounts live. */
    readonly esoNamespace: string;
    /** The KV v2 mount, for a Vault backend (HCP). */
    readonly kvMount: string;
}

/** The ServiceAccount, in ESO's namespace, whose token reaches `region`'s managed backend. */
export function backendServiceAccountName(region: string): string {
    return `eso-backend-${region}`;
}

/** The annotations that bind a ServiceAccount to the backend's cloud identity. */
export function identityAnnotations(backend: ResolvedBackend): Record<string, string> | undefined {
    switch (backend.type) {
        case "aws-secrets-manager":
            return { "eks.amazonaws.com/role-arn": backend.roleArn };
        case "gcp-secret-manager":
            return { "iam.gke.io/gcp-service-account": backend.serviceAccount };
        case "azure-key-vault":
            // Not the tenant: the store's tenantId gives it, and ESO refuses a second source.
            return { "azure.workload.identity/client-id": backend.clientId };
        default:
            return undefined;
    }
}

/**
 * Whether ESO reaches `backend` through a ServiceAccount of its own (one per target region): the
 * cloud stores, except AWS with Pod Identity from the region's own cluster (the controller's identity).
 */
export function needsIdentityServiceAccount(backend: ResolvedBackend, local: boolean): boolean {
    return (
        identityAnnotations(backend) !== undefined &&
        !(local && backend.type === "aws-secrets-manager" && backend.identity === "pod-identity")
    );
}

/**
 * The ServiceAccount that carries the cloud identity for `region`'s backend, in ESO's namespace: no
 * pod runs as it (ESO only requests tokens for it), so it mounts no token.
 * @throws Error for a backend that needs none ({@link needsIdentityServiceAccount}).
 */
export function identityServiceAccount(backend: ResolvedBackend, context: Pick<BackendStoreContext, "region" | "esoNamespace">) {
    const annotations = identityAnnotations(backend);
    if (annotations === undefined) {
        throw new Error(`a ${backend.type} backend is reached without a cloud identity, so it has no identity ServiceAccount`);
    }
    return {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: {
            name: backendServiceAccountName(context.region),
            namespace: context.esoNamespace,
            labels: { ...projectLabels("secret-store"), [BACKEND_LABEL]: backend.type, [VAULT_REGION_LABEL]: context.region },
            annotations,
        },
        automountServiceAccountToken: false,
    } as const;
}

/** The Azure environment of a vault, from its domain (ESO's `environmentType`). */
export function azureEnvironment(vaultUrl: string): string {
    const domain = new URL(vaultUrl).hostname.split(".").slice(1).join(".");
    const environment = AZURE_VAULT_DOMAINS[domain];
    if (environment === undefined) {
        throw new Error(`${vaultUrl} is not a key vault URL of a known Azure cloud`);
    }
    return environment;
}

/**
 * The audience of `writer`'s tokens for a GCP workload identity pool: the full resource name of the
 * pool's provider for that cluster (named after the region), which is both the STS audience ESO asks
 * for and the `aud` its Kubernetes token carries. A provider with no `allowedAudiences` accepts exactly
 * this name, with or without `https:` (Google IAM, `WorkloadIdentityPoolProvider.Oidc.allowedAudiences`,
 * https://cloud.google.com/iam/docs/reference/rest/v1/projects.locations.workloadIdentityPools.providers).
 */
export function gcpFederationAudience(pool: string, writer: string): string {
    return `//iam.googleapis.com/${pool}/providers/${writer}`;
}

type Provider = NonNullable<IClusterSecretStore["spec"]>["provider"];

/**
 * Why `writer`'s cluster cannot reach `target`'s managed backend, or undefined when it can: a GCP
 * backend without a workload identity pool is reached only from its own cluster (GKE Workload Identity).
 */
export function unreachableBackend(backend: ResolvedBackend, target: string, writer: string): string | undefined {
    return backend.type === "gcp-secret-manager" && backend.workloadIdentityPool === undefined && target !== writer
        ? `${target}'s gcp-secret-manager backend has no workloadIdentityPool, so ${writer}'s cluster cannot authenticate to it: set backend.workloadIdentityPool in ${target}'s stack`
        : undefined;
}

/**
 * The provider block of a cloud backend's store, as `writer`'s ESO reaches `target`'s backend:
 * through the identity ServiceAccount for `target`, or, for AWS Pod Identity from the region's own
 * cluster, as the controller.
 * @throws Error for a GCP backend without a workload identity pool reached from another cluster.
 */
function cloudProvider(backend: ResolvedBackend, target: string, writer: string, esoNamespace: string): Provider {
    const local = target === writer;
    const serviceAccountRef = { name: backendServiceAccountName(target), namespace: esoNamespace };
    switch (backend.type) {
        case "aws-secrets-manager":
            return {
                aws: {
                    service: "SecretsManager",
                    region: backend.region,
                    ...(needsIdentityServiceAccount(backend, local) ? { auth: { jwt: { serviceAccountRef } } } : {}),
                },
            };
        case "gcp-secret-manager": {
            const unreachable = unreachableBackend(backend, target, writer);
            if (unreachable !== undefined) {
                throw new Error(unreachable);
            }
            const audience =
                backend.workloadIdentityPool === undefined ? undefined : gcpFederationAudience(backend.workloadIdentityPool, writer);
            const auth =
                audience === undefined
                    ? { workloadIdentity: { serviceAccountRef } }
                    : {
                          // Not in the CRD models this project validates with (they predate it): ESO v2.9.0 secretstore_gcpsm_types.go.
                          workloadIdentityFederation: {
                              // The Kubernetes token's own audience: ESO requests it with serviceAccountRef.audiences alone
                              // (workload_identity_federation.go, k8sSATokenReader), and Google accepts it only for the
                              // provider's resource name when the provider lists no allowed audiences.
                              serviceAccountRef: { ...serviceAccountRef, audiences: [audience] },
                              // What ESO asks Google's STS for.
                              audience,
                          },
                      };
            return { gcpsm: { projectID: backend.project, auth } };
        }
        case "azure-key-vault":
            return {
                azurekv: {
                    authType: "WorkloadIdentity",
                    vaultUrl: backend.vaultUrl,
                    tenantId: backend.tenantId,
                    environmentType: azureEnvironment(backend.vaultUrl) as NonNullable<Provider["azurekv"]>["environmentType"],
                    serviceAccountRef,
                },
            };
        default:
            throw new Error(`a ${backend.type} backend is not a cloud secret store`);
    }
}

const storeMetadata = (name: string, backend: ResolvedBackend, labels: Record<string, string>) => ({
    name,
    labels: { ...projectLabels("secret-store"), ...labels, [BACKEND_LABEL]: backend.type },
});

const onlyNamespacesLabelled = (label: string) => [{ namespaceSelector: { matchLabels: { [label]: "true" } } }];

/**
 * `vault-local` (read) or `vault-local-push` (write) for a region whose backend is managed. The cloud
 * stores act as the backend's one identity; HCP Vault logs in as the namespace that asks, through the
 * region's own JWT mount (`jwt-<region>`) with the roles and service accounts of the self-hosted
 * local stores, so HCP's templated policies can keep each namespace to its prefix as Vault's do.
 * @throws Error for a `vault` backend, whose stores are `storeSpecs.localStore`.
 */
export function managedLocalStore(backend: ResolvedBackend, context: BackendStoreContext, purpose: "read" | "push"): IClusterSecretStore {
    const labels = purpose === "push" ? { ...PUSH_TARGET_LABEL, [VAULT_REGION_LABEL]: context.region } : {};
    const vaultPurpose: PolicyPurpose = purpose === "push" ? "push" : "pull";
    let provider: Provider;
    if (backend.type === "vault") {
        throw new Error("a vault backend's local stores are storeSpecs.localStore");
    } else if (backend.type === "hcp-vault") {
        const audience = hcpAudience(backend);
        provider = {
            vault: {
                server: backend.address,
                namespace: backend.namespace,
                path: context.kvMount,
                version: "v2",
                auth: {
                    jwt: {
                        path: peerJwtPath(context.region),
                        role: namespaceRole(vaultPurpose).roleName,
                        kubernetesServiceAccountToken: {
                            // No namespace: ESO mints the token for this account in the namespace that asks.
                            serviceAccountRef: { name: NAMESPACE_SERVICE_ACCOUNTS[vaultPurpose], audiences: [audience] },
                            // Set, although deprecated: left out, ESO adds the audience "vault".
                            audiences: [audience],
                            expirationSeconds: PEER_JWT_EXPIRATION_SECONDS,
                        },
                    },
                },
            },
        };
    } else {
        provider = cloudProvider(backend, context.region, context.region, context.esoNamespace);
    }
    return {
        apiVersion: "external-secrets.io/v1",
        kind: "ClusterSecretStore",
        metadata: storeMetadata(purpose === "push" ? LOCAL_PUSH_STORE_NAME : LOCAL_STORE_NAME, backend, {
            ...labels,
            [STORE_SCOPE_LABEL]: "local",
        }),
        spec: {
            conditions: onlyNamespacesLabelled(purpose === "push" ? REPLICATE_NAMESPACE_LABEL : READ_NAMESPACE_LABEL),
            provider,
        },
    };
}

/** What {@link managedPeerStore} needs besides the peer's backend. */
export interface PeerBackendContext {
    /** The peer whose backend the store writes to. */
    readonly peer: string;
    /** This region, which pushes. */
    readonly writer: string;
    /** ESO's namespace here. */
    readonly esoNamespace: string;
    /** The KV v2 mount, for a Vault backend (HCP). */
    readonly kvMount: string;
}

/**
 * `vault-<peer>` for a peer whose backend is managed: the PushSecrets of this region write to the
 * peer's backend through it. A cloud store acts as the peer's identity, through a ServiceAccount here
 * bound to it (which the peer's identity trusts: IRSA's OIDC provider, the pool's provider for this
 * region, a federated credential); an HCP store logs in with ESO's own token on the JWT mount the
 * peer's HCP Vault has for this region, as a self-hosted peer's store does.
 * @throws Error for a `vault` peer (`storeSpecs.peerStore`), or a GCP peer without a workload identity pool.
 */
export function managedPeerStore(peerBackend: ResolvedBackend, context: PeerBackendContext): IClusterSecretStore {
    if (peerBackend.type === "vault") {
        throw new Error("a vault peer's store is storeSpecs.peerStore");
    }
    if (peerBackend.type === "hcp-vault") {
        const store = peerStore({
            peer: context.peer,
            address: peerBackend.address,
            // HCP's endpoints carry publicly trusted certificates.
            caCert: "",
            kvMount: context.kvMount,
            namespace: context.esoNamespace,
            auth: {
                kind: "jwt",
                path: peerJwtPath(context.writer),
                role: PEER_JWT_ROLE,
                audience: hcpAudience(peerBackend),
                serviceAccount: { name: EXTERNAL_SECRETS_SERVICE_ACCOUNT, namespace: context.esoNamespace },
            },
        });
        const spec = store.spec as NonNullable<IClusterSecretStore["spec"]>;
        const vault = spec.provider.vault as NonNullable<Provider["vault"]>;
        return {
            ...store,
            metadata: { ...store.metadata, labels: { ...store.metadata?.labels, [BACKEND_LABEL]: peerBackend.type } },
            spec: { ...spec, provider: { vault: { ...vault, namespace: peerBackend.namespace } } },
        };
    }
    return {
        apiVersion: "external-secrets.io/v1",
        kind: "ClusterSecretStore",
        metadata: storeMetadata(peerStoreName(context.peer), peerBackend, {
            ...PUSH_TARGET_LABEL,
            [STORE_SCOPE_LABEL]: "peer",
            [VAULT_REGION_LABEL]: context.peer,
        }),
        spec: {
            conditions: onlyNamespacesLabelled(REPLICATE_NAMESPACE_LABEL),
            provider: cloudProvider(peerBackend, context.peer, context.writer, context.esoNamespace),
        },
    };
}

// ---------------------------------------------------------------------------------------------------
// Remote references of ExternalSecrets and PushSecrets.

/** A key a PushSecret carries: from the source Secret's key `from` to the remote key `to`. */
export interface PushedKey {
    readonly from: string;
    readonly to: string;
}

export type PushSecretData = NonNullable<NonNullable<IPushSecret["spec"]>["data"]>;

/** The PushSecretMetadata envelope ESO parses strictly, unknown fields refused (runtime/esutils/metadata/metadata.go). */
function pushMetadata(spec: Record<string, unknown>) {
    return { apiVersion: "kubernetes.external-secrets.io/v1alpha1", kind: "PushSecretMetadata", spec };
}

/**
 * The provider-specific metadata of a push, or undefined when none is needed.
 * - AWS: `secretPushFormat: string` (ESO's default is binary, which readers of SecretString miss), the
 *   KMS key and the replica regions (applied when ESO creates the secret, kept so on every push)
 *   (providers/v1/aws/secretsmanager/secretsmanager.go, `PushSecretMetadataSpec`).
 * - GCP, with user-managed replication: the replication locations, applied when ESO creates the
 *   secret (providers/v1/gcp/secretmanager/push_secret.go, `buildReplication`).
 */
export function backendPushMetadata(backend: ResolvedBackend) {
    switch (backend.type) {
        case "aws-secrets-manager":
            return pushMetadata({
                secretPushFormat: "string",
                ...(backend.kmsKeyId === undefined ? {} : { kmsKeyId: backend.kmsKeyId }),
                ...(backend.replicaRegions.length === 0 ? {} : { replicationLocations: [...backend.replicaRegions] }),
            });
        case "gcp-secret-manager":
            return backend.replication === "user-managed" && backend.locations !== undefined
                ? pushMetadata({ replicationLocations: [...backend.locations] })
                : undefined;
        default:
            return undefined;
    }
}

/**
 * The `data` of a PushSecret that writes a replicated secret into `backend`: the whole Secret (no
 * `keys`), or the listed keys. In a Vault (and AWS) each key is a property of one secret; in GCP and
 * Azure each its own secret ({@link remoteSecrets}).
 */
export function backendPushData(backend: ResolvedBackend, remoteKey: string, keys?: readonly PushedKey[]): PushSecretData {
    const metadata = backendPushMetadata(backend);
    const withMetadata = metadata === undefined ? {} : { metadata };
    if (keys === undefined) {
        const [whole] = remoteSecrets(backend, remoteKey);
        return [{ match: { remoteRef: { remoteKey: whole.name } }, ...withMetadata }];
    }
    const remote = remoteSecrets(
        backend,
        remoteKey,
        keys.map((key) => key.to),
    );
    return keys.map(({ from, to }, i) => {
        switch (backend.type) {
            case "vault":
            case "hcp-vault":
                return { match: { secretKey: from, remoteRef: { remoteKey: remote[0].name, property: to } } };
            case "aws-secrets-manager":
                return {
                    match: { secretKey: from, remoteRef: { remoteKey: remote[0].name, property: awsPushProperty(to) } },
                    ...withMetadata,
                };
            default:
                return { match: { secretKey: from, remoteRef: { remoteKey: remote[i].name } }, ...withMetadata };
        }
    });
}

/** How an ExternalSecret reads a replicated secret: `data` (listed keys) or `dataFrom` (the whole secret). */
type ExternalSecretSpec = NonNullable<IExternalSecret["spec"]>;
export type PullSource = Pick<ExternalSecretSpec, "data"> | Pick<ExternalSecretSpec, "dataFrom">;

/**
 * The source of an ExternalSecret that reads a replicated secret from `backend`: the whole remote
 * secret's JSON object (`extract`), or each listed key (a property of one secret, or its own secret in
 * GCP and Azure).
 */
export function backendPullSource(backend: ResolvedBackend, remoteKey: string, keys?: readonly string[]): PullSource {
    const remote = remoteSecrets(backend, remoteKey, keys);
    if (keys === undefined) {
        return { dataFrom: [{ extract: { key: remote[0].name } }] };
    }
    const perKey = REMOTE_NAME_RULES[backend.type].layout === "one-per-key";
    return {
        data: keys.map((secretKey, i) =>
            perKey
                ? { secretKey, remoteRef: { key: remote[i].name } }
                : { secretKey, remoteRef: { key: remote[0].name, property: secretKey } },
        ),
    };
}
