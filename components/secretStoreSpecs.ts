/**
 * Pure builders for the ESO objects that connect a region to every Vault: the ClusterSecretStores
 * (`external-secrets.io/v1`) and the Secrets holding peer tokens. Typed with ESO's own models
 * (`@kubernetes-models/external-secrets`, types only: nothing of that ESM package is loaded at run
 * time); the tests validate every object against ESO's JSON schemas.
 */
import type { IClusterSecretStore } from "@kubernetes-models/external-secrets/external-secrets.io/v1/ClusterSecretStore" with { "resolution-mode": "import" };
import { projectLabels } from "./labels";
import { VAULT_API_PORT, VAULT_RELEASE_NAME } from "./vaultServerValues";

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

/** The store ExternalSecrets pull from: this region's own Vault. */
export const LOCAL_STORE_NAME = "vault-local";

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

/** The in-cluster address of the active Vault server (the chart's `vault-active` service), not the ingress. */
export function inClusterVaultAddress(vaultNamespace: string): string {
    return `http://${VAULT_RELEASE_NAME}-active.${vaultNamespace}.svc:${VAULT_API_PORT}`;
}

export interface LocalStoreSpec {
    /** The region whose Vault this is. */
    readonly region: string;
    /** Namespace of the Vault release. */
    readonly vaultNamespace: string;
    readonly kvMount: string;
    readonly authPath: string;
    readonly role: string;
    /** ESO's service account, which logs in with a token minted for `audience`. */
    readonly serviceAccount: { readonly name: string; readonly namespace: string };
    readonly audience: string;
}

/**
 * `vault-local`: the region's own Vault through its in-cluster service, KV v2, logging in with
 * Kubernetes auth as ESO's service account. The service-account reference names its namespace, as a
 * ClusterSecretStore must (without one ESO resolves it in each ExternalSecret's namespace).
 */
export function localStore(spec: LocalStoreSpec): IClusterSecretStore {
    return {
        apiVersion: "external-secrets.io/v1",
        kind: "ClusterSecretStore",
        metadata: { name: LOCAL_STORE_NAME, labels: { ...projectLabels("secret-store"), ...PUSH_TARGET_LABEL, [STORE_SCOPE_LABEL]: "local", [VAULT_REGION_LABEL]: spec.region } },
        spec: {
            provider: {
                vault: {
                    server: inClusterVaultAddress(spec.vaultNamespace),
                    path: spec.kvMount,
                    version: "v2",
                    auth: {
                        kubernetes: {
                            mountPath: spec.authPath,
                            role: spec.role,
                            serviceAccountRef: { ...spec.serviceAccount, audiences: [spec.audience] },
                        },
                    },
                },
            },
        },
    };
}

export interface PeerStoreSpec {
    readonly peer: string;
    /** The peer Vault's public address, `https://vault.<peer>.<domain>`. */
    readonly address: string;
    /** PEM of the CA that signs the peer's certificate; empty to trust the system's CAs. */
    readonly caCert: string;
    readonly kvMount: string;
    /** ESO's namespace, where the token Secret lives. */
    readonly namespace: string;
}

/**
 * `vault-<peer>`: the peer's Vault through its public address, KV v2, with the token the peer issued
 * for this region (read from the Secret {@link peerTokenSecretName}).
 */
export function peerStore(spec: PeerStoreSpec): IClusterSecretStore {
    const ca = spec.caCert === "" ? {} : { caBundle: Buffer.from(spec.caCert, "utf8").toString("base64") };
    return {
        apiVersion: "external-secrets.io/v1",
        kind: "ClusterSecretStore",
        metadata: { name: peerStoreName(spec.peer), labels: { ...projectLabels("secret-store"), ...PUSH_TARGET_LABEL, [STORE_SCOPE_LABEL]: "peer", [VAULT_REGION_LABEL]: spec.peer } },
        spec: {
            provider: {
                vault: {
                    server: spec.address,
                    path: spec.kvMount,
                    version: "v2",
                    ...ca,
                    auth: {
                        tokenSecretRef: { name: peerTokenSecretName(spec.peer), namespace: spec.namespace, key: PEER_TOKEN_KEY },
                    },
                },
            },
        },
    };
}
