/**
 * Pure builders for the ESO objects that connect a region to every Vault: the ClusterSecretStores
 * (`external-secrets.io/v1`) and the Secrets holding peer tokens. Typed with ESO's own models
 * (`@kubernetes-models/external-secrets`, types only: nothing of that ESM package is loaded at run
 * time); the tests validate every object against ESO's JSON schemas.
 */
import type { IClusterSecretStore } from "@kubernetes-models/external-secrets/external-secrets.io/v1/ClusterSecretStore" with {
    "resolution-mode": "import",
};
import { type Engine, engineFacts } from "../common/engine";
import { projectLabels } from "../common/labels";
import { NAMESPACE_SERVICE_ACCOUNTS } from "../vault-config/setupValues";
import { VAULT_API_PORT } from "../vault-server/serverValues";

/**
 * The label every store a PushSecret may write to carries. PushSecrets select their store by this
 * label and {@link VAULT_REGION_LABEL} (`secretStoreRefs: [{ kind: ClusterSecretStore, labelSelector }]`),
 * never by name: a selector that matches no store yet (the peer has not connected) is a no-op for
 * ESO, where a missing named store is an error it retries with backoff.
 */
export const PUSH_TARGET_LABEL: Readonly<Record<string, string>> = { "vault.openova.io/push-target": "true" };

/** Whose Vault a store reaches: the region's name. */
export const VAULT_REGION_LABEL = "vault.openova.io/vault-region";

/** Which Vault a store reaches: this region's own (`local`) or a peer's (`peer`). */
export const STORE_SCOPE_LABEL = "vault.openova.io/store-scope";

/** The store ExternalSecrets pull from: this region's own Vault, read-only. */
export const LOCAL_STORE_NAME = "vault-local";

/** The store PushSecrets write to this region's own Vault through (cluster-written secrets, initial values). */
export const LOCAL_PUSH_STORE_NAME = "vault-local-push";

/**
 * Namespace labels that scope the stores (`spec.conditions`). ESO lets anyone who can edit a
 * namespace create ExternalSecrets and PushSecrets there, so the stores themselves decide which
 * namespaces may use them; labelling a namespace takes cluster-level rights an app team usually
 * lacks, so the label is the platform team's grant.
 * - {@link READ_NAMESPACE_LABEL}: may read from this region's Vault (`vault-local`).
 * - {@link REPLICATE_NAMESPACE_LABEL}: may write to any Vault (`vault-local-push`, `vault-<peer>`).
 */
export const READ_NAMESPACE_LABEL = "vault.openova.io/read";
export const REPLICATE_NAMESPACE_LABEL = "vault.openova.io/replicate";

/** The labels that let a namespace read from this region's Vault, and with `writes` also push to every Vault. */
export function namespaceGrantLabels(writes: boolean): Record<string, string> {
    return { [READ_NAMESPACE_LABEL]: "true", ...(writes ? { [REPLICATE_NAMESPACE_LABEL]: "true" } : {}) };
}

/** The store's condition: only namespaces carrying `label: "true"`. */
function onlyNamespacesLabelled(label: string): { namespaceSelector: { matchLabels: Record<string, string> } }[] {
    return [{ namespaceSelector: { matchLabels: { [label]: "true" } } }];
}

/** The store that pushes to `peer`'s Vault (with two regions, the seed's `vault-remote`). */
export function peerStoreName(peer: string): string {
    return `vault-${peer}`;
}

/** The Secret, in ESO's namespace, holding the token `peer` issued for this region. */
export function peerTokenSecretName(peer: string): string {
    return `vault-${peer}-token`;
}

/** Key of the token in that Secret. */
export const PEER_TOKEN_KEY = "token";

/**
 * The in-cluster address of the active server (the chart's `<release>-active` service: `vault-active`,
 * or `openbao-active` with OpenBao), not the ingress: `https` unless TLS is off.
 */
export function inClusterVaultAddress(vaultNamespace: string, scheme: "http" | "https" = "https", engine: Engine = "vault"): string {
    return `${scheme}://${engineFacts(engine).releaseName}-active.${vaultNamespace}.svc:${VAULT_API_PORT}`;
}

/** A Secret key holding the CA that signs the local servers' certificate (cert-manager writes `ca.crt`). */
export interface CaSecretRef {
    readonly name: string;
    readonly namespace: string;
    readonly key: string;
}

export interface LocalStoreSpec {
    /** The region whose Vault this is. */
    readonly region: string;
    /** Namespace of the Vault release. */
    readonly vaultNamespace: string;
    readonly kvMount: string;
    readonly authPath: string;
    /** The Kubernetes auth role: read-only for `vault-local`, push for `vault-local-push`. */
    readonly role: string;
    /** The audience of the service-account tokens ESO mints to log in with. */
    readonly audience: string;
    /** The CA of the servers' certificate; without it (TLS off) the store talks plain HTTP. */
    readonly caSecret?: CaSecretRef;
    /** The engine of the region's servers, which names their service. Default `vault`. */
    readonly engine?: Engine;
}

/**
 * `vault-local` (read) or `vault-local-push` (write): the region's own Vault through its in-cluster
 * service, KV v2, verifying the server with the CA from the certificate's Secret. It logs in with
 * Kubernetes auth as the namespace that asks: the service-account reference names no namespace, so
 * ESO mints the token for the account of that name (`vault-secrets-reader` to read,
 * `vault-secrets-writer` to push) in the namespace of the ExternalSecret or PushSecret ("referent"
 * authentication, ESO v2.9.0 `providers/v1/vault/auth.go`). Vault then knows the namespace, and its
 * templated policy lets it reach only `<kvMount>/data/<namespace>/...`. The read store serves
 * namespaces labelled {@link READ_NAMESPACE_LABEL}; the push store, which PushSecrets select by label,
 * only those labelled {@link REPLICATE_NAMESPACE_LABEL}.
 */
export function localStore(spec: LocalStoreSpec, purpose: "read" | "push"): IClusterSecretStore {
    const labels = purpose === "push" ? { ...PUSH_TARGET_LABEL, [VAULT_REGION_LABEL]: spec.region } : {};
    const ca = spec.caSecret === undefined ? {} : { caProvider: { type: "Secret" as const, ...spec.caSecret } };
    return {
        apiVersion: "external-secrets.io/v1",
        kind: "ClusterSecretStore",
        metadata: {
            name: purpose === "push" ? LOCAL_PUSH_STORE_NAME : LOCAL_STORE_NAME,
            labels: { ...projectLabels("secret-store"), ...labels, [STORE_SCOPE_LABEL]: "local" },
        },
        spec: {
            conditions: onlyNamespacesLabelled(purpose === "push" ? REPLICATE_NAMESPACE_LABEL : READ_NAMESPACE_LABEL),
            provider: {
                vault: {
                    server: inClusterVaultAddress(spec.vaultNamespace, spec.caSecret === undefined ? "http" : "https", spec.engine),
                    path: spec.kvMount,
                    version: "v2",
                    ...ca,
                    auth: {
                        kubernetes: {
                            mountPath: spec.authPath,
                            role: spec.role,
                            serviceAccountRef: {
                                name: NAMESPACE_SERVICE_ACCOUNTS[purpose === "push" ? "push" : "pull"],
                                audiences: [spec.audience],
                            },
                        },
                    },
                },
            },
        },
    };
}

/** How a region's ESO logs in to a peer's Vault: the token the peer issued, or its own service-account token (JWT). */
export type PeerStoreAuth =
    | { readonly kind: "token" }
    | {
          readonly kind: "jwt";
          /** The JWT auth mount the peer created for this region, e.g. `jwt-region1`. */
          readonly path: string;
          readonly role: string;
          /** The audience the peer's role requires; the token ESO mints carries only this one. */
          readonly audience: string;
          /** ESO's service account, whose token is presented. */
          readonly serviceAccount: { readonly name: string; readonly namespace: string };
      };

export interface PeerStoreSpec {
    readonly peer: string;
    /** The peer Vault's public address, `https://vault.<peer>.<domain>`. */
    readonly address: string;
    /** PEM of the CA that signs the peer's certificate; empty to trust the system's CAs. */
    readonly caCert: string;
    readonly kvMount: string;
    /** ESO's namespace, where the token Secret lives. */
    readonly namespace: string;
    /** Default: the peer's token. */
    readonly auth?: PeerStoreAuth;
}

/** Lifetime of the service-account token ESO mints for a JWT login (the minimum Kubernetes allows). */
export const PEER_JWT_EXPIRATION_SECONDS = 600;

/**
 * `vault-<peer>`: the peer's Vault through its public address, KV v2, verifying it with the peer's CA.
 * It logs in with the token the peer issued for this region (read from the Secret
 * {@link peerTokenSecretName}), or, with JWT peer auth, with a short-lived token for ESO's service
 * account minted for the peer's audience only. Only namespaces labelled
 * {@link REPLICATE_NAMESPACE_LABEL} may push through it.
 */
export function peerStore(spec: PeerStoreSpec): IClusterSecretStore {
    const ca = spec.caCert === "" ? {} : { caBundle: Buffer.from(spec.caCert, "utf8").toString("base64") };
    const auth = spec.auth ?? { kind: "token" };
    return {
        apiVersion: "external-secrets.io/v1",
        kind: "ClusterSecretStore",
        metadata: {
            name: peerStoreName(spec.peer),
            labels: {
                ...projectLabels("secret-store"),
                ...PUSH_TARGET_LABEL,
                [STORE_SCOPE_LABEL]: "peer",
                [VAULT_REGION_LABEL]: spec.peer,
            },
        },
        spec: {
            conditions: onlyNamespacesLabelled(REPLICATE_NAMESPACE_LABEL),
            provider: {
                vault: {
                    server: spec.address,
                    path: spec.kvMount,
                    version: "v2",
                    ...ca,
                    auth:
                        auth.kind === "token"
                            ? { tokenSecretRef: { name: peerTokenSecretName(spec.peer), namespace: spec.namespace, key: PEER_TOKEN_KEY } }
                            : {
                                  jwt: {
                                      path: auth.path,
                                      role: auth.role,
                                      kubernetesServiceAccountToken: {
                                          serviceAccountRef: { ...auth.serviceAccount, audiences: [auth.audience] },
                                          // Set, although deprecated: left out, ESO adds the audience "vault",
                                          // and a token for "vault" is also good for this region's own Vault.
                                          audiences: [auth.audience],
                                          expirationSeconds: PEER_JWT_EXPIRATION_SECONDS,
                                      },
                                  },
                              },
                },
            },
        },
    };
}
