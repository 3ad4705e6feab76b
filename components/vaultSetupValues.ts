/**
 * Pure settings and builders for configuring a region's Vault for the External Secrets Operator:
 * the KV mount, Kubernetes auth for the local ESO, and the tokens peers push with. No Pulumi
 * resources here, so tests call them directly.
 */
import { policyName } from "./vaultPolicies";

/** Default path of the KV v2 secrets engine (the seed's `secret`). */
export const DEFAULT_KV_MOUNT = "secret";

/** Path of the Kubernetes auth method. */
export const KUBERNETES_AUTH_PATH = "kubernetes";

/**
 * The Kubernetes API as Vault sees it from inside the cluster. With `kubernetes_ca_cert` and
 * `token_reviewer_jwt` left unset, Vault (1.9.3+) reads its own pod's CA and re-reads its projected
 * service-account token for TokenReview, which is the setup HashiCorp recommends for a Vault running
 * in the cluster since Kubernetes 1.24 (no long-lived reviewer token). The chart grants Vault's
 * service account `system:auth-delegator`, which TokenReview needs.
 */
export const KUBERNETES_API_IN_CLUSTER = "https://kubernetes.default.svc";

/** Settings of the Kubernetes auth role the local ESO logs in with. */
export interface ExternalSecretsRole {
    readonly roleName: string;
    readonly boundServiceAccountNames: string[];
    readonly boundServiceAccountNamespaces: string[];
    /** The audience ESO requests for the service-account token (`serviceAccountRef.audiences`). */
    readonly audience: string;
    /** Seconds; ESO's token cache logs in again when a token runs out. */
    readonly tokenTtl: number;
    readonly tokenMaxTtl: number;
    readonly tokenPolicies: string[];
}

/** Audience of the service-account tokens ESO presents to Vault: a token minted for anything else is refused. */
export const EXTERNAL_SECRETS_AUDIENCE = "vault";

/**
 * The role for the local ESO: bound to exactly one service account in one namespace, with an
 * audience, a 15-minute token and only the pull and push policies. ESO pulls from its local Vault
 * (ExternalSecrets) and pushes to it in cluster-written mode and for initial values (PushSecrets
 * select their store by label, the local one included).
 */
export function externalSecretsRole(serviceAccount: { readonly name: string; readonly namespace: string }): ExternalSecretsRole {
    return {
        roleName: "external-secrets",
        boundServiceAccountNames: [serviceAccount.name],
        boundServiceAccountNamespaces: [serviceAccount.namespace],
        audience: EXTERNAL_SECRETS_AUDIENCE,
        tokenTtl: 15 * 60,
        tokenMaxTtl: 60 * 60,
        tokenPolicies: [policyName("pull"), policyName("push")],
    };
}

/** Settings of the token a region issues for one peer's ESO to push with. */
export interface PeerTokenSettings {
    readonly displayName: string;
    readonly policies: string[];
    /** An orphan: it outlives the Vault provider's own short-lived child token (20 minutes). */
    readonly noParent: true;
    /** Periodic: every renewal resets its TTL to `period`, with no maximum lifetime. */
    readonly period: string;
    readonly renewable: true;
    /** When a refresh finds less than this many seconds left, the provider renews the token. */
    readonly renewMinLease: number;
    /** Seconds a renewal asks for (Vault grants at most `period`). */
    readonly renewIncrement: number;
    readonly metadata: Record<string, string>;
}

const DAY = 24 * 60 * 60;

/**
 * The peer token: push policy only (plus Vault's `default` policy, which holds the token
 * self-lookup ESO validates a store with), periodic with a 30-day period, renewed by any
 * `pulumi refresh` (or `pulumi up --refresh`) of the issuing region in the second half of its period.
 */
export function peerTokenSettings(issuer: string, peer: string): PeerTokenSettings {
    return {
        displayName: `peer-${peer}`,
        policies: [policyName("push")],
        noParent: true,
        period: "720h",
        renewable: true,
        renewMinLease: 15 * DAY,
        renewIncrement: 30 * DAY,
        metadata: { "issued-by": issuer, "used-by": peer, purpose: "external-secrets-push" },
    };
}
