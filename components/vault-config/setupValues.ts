/**
 * Pure settings and builders for configuring a region's Vault for the External Secrets Operator:
 * the KV mount, Kubernetes auth for the local ESO, and the tokens peers push with. No Pulumi
 * resources here, so tests call them directly.
 */
import { z } from "zod";
import { ENGINE_FACTS, type EngineFacts } from "../common/engine";
import { option, text } from "../common/options";
import { isKvMount } from "../common/predicates";
import { LONG_LIVED_TOKEN, tokenMetadata } from "../token-renewal/tokenLifetime";
import { type PolicyPurpose, policyName } from "./policies";

/** Path of the KV v2 secrets engine, the same in every region. */
export const kvMountOption = option(text(isKvMount).default("secret"), {
    description: "Path of the KV v2 secrets engine in every region's Vault: the stores read and write there.",
    allowed: "a mount path of lowercase letters, digits, '-' and '_', other than sys, auth, identity and cubbyhole",
    example: "secret",
    projectWide: true,
});

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

/**
 * Settings of a Kubernetes auth role bound to one service account, to spread into
 * `vault.kubernetes.AuthBackendRole`: ESO's roles, the snapshot job's role.
 */
export interface KubernetesAuthRole {
    readonly roleName: string;
    readonly boundServiceAccountNames: string[];
    readonly boundServiceAccountNamespaces: string[];
    /** The audience the service account's token is requested for (ESO's `serviceAccountRef.audiences`, a projected token's `audience`). */
    readonly audience: string;
    /** Seconds; the client logs in again when a token runs out. */
    readonly tokenTtl: number;
    readonly tokenMaxTtl: number;
    readonly tokenPolicies: string[];
}

/** Audience of the service-account tokens ESO presents to Vault: a token minted for anything else is refused. */
export const EXTERNAL_SECRETS_AUDIENCE = "vault";

/**
 * The service accounts ESO logs in as for a namespace's ExternalSecrets (`pull`) and PushSecrets
 * (`push`) through the local stores: ESO mints the token for the account of that name in the
 * namespace of the ExternalSecret or PushSecret ("referent" authentication), so Vault sees which
 * namespace asks, and the namespace's policy covers only its own prefix.
 */
export const NAMESPACE_SERVICE_ACCOUNTS: Readonly<Record<PolicyPurpose, string>> = {
    pull: "vault-secrets-reader",
    push: "vault-secrets-writer",
};

/**
 * A role for a namespace's access through the local stores: bound to the service account of
 * {@link NAMESPACE_SERVICE_ACCOUNTS} in whichever namespace it logs in from, with an audience, a
 * 15-minute token and one policy, templated by that namespace. `pull` backs `vault-local`
 * (ExternalSecrets read); `push` backs `vault-local-push` (PushSecrets write cluster-written secrets
 * and initial values), so a namespace allowed only to read cannot write even through a misused
 * store.
 */
export function namespaceRole(purpose: PolicyPurpose): KubernetesAuthRole {
    return {
        roleName: `namespace-${purpose}`,
        boundServiceAccountNames: [NAMESPACE_SERVICE_ACCOUNTS[purpose]],
        // Any namespace: what one may reach is its own prefix, which the policy's template enforces. The
        // namespace labels gate ESO's stores, not this role: a namespace's own account of this name can log
        // in directly and reach its own prefix (docs/security.md, "Who may read or write through ESO").
        boundServiceAccountNamespaces: ["*"],
        audience: EXTERNAL_SECRETS_AUDIENCE,
        tokenTtl: 15 * 60,
        tokenMaxTtl: 60 * 60,
        tokenPolicies: [policyName(purpose)],
    };
}

/** Audit devices this project can enable: a file on the audit volume, and the container's stdout. */
export const AUDIT_DEVICES = ["file", "stdout"] as const;
export type AuditDevice = (typeof AUDIT_DEVICES)[number];

/** The audit devices of a region's Vault. Default both: if every audit device fails, Vault refuses requests; with two, one can fail. */
export const auditDevicesOption = option(
    z
        .array(z.enum(AUDIT_DEVICES))
        .min(1)
        .refine((list) => new Set(list).size === list.length)
        .default(["file", "stdout"]),
    {
        description: `Audit devices of the region's Vault: a file on the audit volume (\`${auditLogFile(ENGINE_FACTS.vault)}\`, or \`${auditLogFile(ENGINE_FACTS.openbao)}\` with OpenBao; mode 0600) and the container's stdout.`,
        allowed: "a list of {values}, each once (Vault runs unaudited without one)",
        example: "[file, stdout]",
    },
);

/** Where the file device writes: on the chart's audit volume, mounted on every server (`/vault/audit/vault-audit.log`, `/openbao/audit/openbao-audit.log`). */
export function auditLogFile(engine: EngineFacts): string {
    return `${engine.paths.audit}/${engine.releaseName}-audit.log`;
}

/** Where the Vault engine's file device writes. */
export const AUDIT_LOG_FILE = auditLogFile(ENGINE_FACTS.vault);

/** Settings of one audit device for `vault.Audit` (or, with OpenBao, an `audit` stanza of the server configuration). */
export interface AuditDeviceSettings {
    readonly path: string;
    readonly type: "file";
    readonly description: string;
    readonly options: Record<string, string>;
}

/**
 * An audit device. Both are Vault's `file` type: `file_path` is the audit volume's log, or `stdout`
 * (collected with the container's logs). The file is written `0600`: since Vault 1.20.1 a file device
 * with an executable mode is refused (CVE-2025-6000); OpenBao 2.4 zeroes the executable bits.
 */
export function auditDevice(device: AuditDevice, engine: EngineFacts = ENGINE_FACTS.vault): AuditDeviceSettings {
    return device === "file"
        ? {
              path: "file",
              type: "file",
              description: "Audit log on the servers' audit volume",
              options: { file_path: auditLogFile(engine), mode: "0600" },
          }
        : { path: "stdout", type: "file", description: "Audit log to the container's stdout", options: { file_path: "stdout" } };
}

/** What a region needs to know to let a peer's ESO log in with its own service-account tokens (JWT peer auth). */
export interface PeerIdentity {
    /** The `iss` claim of the peer cluster's service-account tokens. */
    readonly issuer: string;
    /** PEM public keys that sign them; or, when empty, Vault discovers them from the issuer (OIDC discovery). */
    readonly publicKeys: readonly string[];
    /** PEM CA for OIDC discovery against the issuer; empty for the system's CAs. */
    readonly discoveryCaCert: string;
    /** The peer's ESO service account, the only subject the role accepts. */
    readonly serviceAccount: { readonly name: string; readonly namespace: string };
}

/** Path of the JWT auth mount a region creates for `peer`. */
export function peerJwtPath(peer: string): string {
    return `jwt-${peer}`;
}

/** Settings of the JWT auth backend and role for one peer, for `vault.jwt.AuthBackend` and `AuthBackendRole`. */
export function peerJwtSettings<Audience = string>(peer: string, identity: PeerIdentity, audience: Audience) {
    // The peer's pushes only: the secrets it is the home of, and the bootstrap's canary.
    const keys = identity.publicKeys.length > 0;
    return {
        backend: {
            path: peerJwtPath(peer),
            type: "jwt",
            description: `Service-account tokens of ${peer}'s cluster`,
            boundIssuer: identity.issuer,
            ...(keys
                ? { jwtValidationPubkeys: [...identity.publicKeys] }
                : {
                      oidcDiscoveryUrl: identity.issuer,
                      ...(identity.discoveryCaCert === "" ? {} : { oidcDiscoveryCaPem: identity.discoveryCaCert }),
                  }),
        },
        role: {
            roleName: PEER_JWT_ROLE,
            roleType: "jwt",
            userClaim: "sub",
            boundSubject: `system:serviceaccount:${identity.serviceAccount.namespace}:${identity.serviceAccount.name}`,
            boundAudiences: [audience],
            tokenPolicies: [policyName("push", peer)],
            // Short: a JWT login cannot be revoked through Kubernetes (no TokenReview), so tokens stay brief.
            tokenTtl: 10 * 60,
            tokenMaxTtl: 15 * 60,
        },
    };
}

/** The role a peer's ESO logs in as on a JWT mount. */
export const PEER_JWT_ROLE = "external-secrets-push";

/** Settings of the token a region issues for one peer's ESO to push with, for `vault.Token`. */
export interface PeerTokenSettings {
    readonly displayName: string;
    readonly policies: string[];
    /** An orphan: it outlives the Vault provider's own short-lived child token (20 minutes). */
    readonly noParent: true;
    /** Periodic: every renewal (by the region's token renewer) resets its TTL to the period. */
    readonly period: string;
    /** Its hard end, counted from its creation: the token is rotated before it (see `tokenLifetime.ts`). */
    readonly explicitMaxTtl: string;
    readonly renewable: true;
    readonly metadata: Record<string, string>;
}

/**
 * The peer token: push policy only (plus Vault's `default` policy, which holds the token
 * self-lookup ESO validates a store with), long-lived ({@link LONG_LIVED_TOKEN}: periodic, 30-day
 * period, one-year maximum lifetime), renewed by the issuing region's token renewer. `generation`
 * (default 1) is in its metadata: raising it issues a new token.
 */
export function peerTokenSettings(issuer: string, peer: string, generation = 1): PeerTokenSettings {
    return {
        displayName: `peer-${peer}`,
        policies: [policyName("push", peer)],
        ...LONG_LIVED_TOKEN,
        metadata: tokenMetadata({ issuedBy: issuer, usedBy: peer, purpose: "external-secrets-push", generation }),
    };
}
