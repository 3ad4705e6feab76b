/**
 * The replicator's configuration file, which the stack writes (components/replication/
 * replicatorSpecs.ts) and the process reads (main.ts): one definition for both. Types only.
 */

/** How a client logs in to a Vault. */
export type VaultLogin =
    /** A token read from a file (a mounted Secret), re-read now and then. */
    | { readonly kind: "token-file"; readonly path: string }
    /** Kubernetes auth or JWT auth: a service-account token read from a file, presented to `auth/<mount>/login` with `role`. */
    | { readonly kind: "jwt-file"; readonly mount: string; readonly role: string; readonly path: string };

/** Where and how to reach one Vault. */
export interface VaultEndpoint {
    readonly address: string;
    /** File holding the PEM CA that signs its certificate; absent for the system's CAs. */
    readonly caFile?: string;
    readonly login: VaultLogin;
}

/** An ExternalSecret that reads a replicated secret, which the replicator refreshes after changing it. */
export interface ExternalSecretRef {
    readonly namespace: string;
    readonly name: string;
}

/** How often the replicator does what, in milliseconds. */
export interface ReplicatorTiming {
    /** Every secret is worked on at least this often: the safety net for a lost hint. */
    readonly scanIntervalMs: number;
    /** How often it reads its peers' doorbells in its own Vault. */
    readonly doorbellIntervalMs: number;
    /** How soon it offers again to a peer it could not reach. */
    readonly retryIntervalMs: number;
    /** How far ahead of its clock a received stamp may be and still count. */
    readonly maxAheadMs: number;
}

/**
 * The defaults: a scan every 5 minutes (the net for a lost audit entry; a hint finds a write within
 * milliseconds), doorbells read every second, an unreachable peer tried again every 5 s, stamps up to
 * 5 s ahead of the clock accepted (the clock bound).
 */
export const DEFAULT_TIMING: ReplicatorTiming = {
    scanIntervalMs: 300_000,
    doorbellIntervalMs: 1_000,
    retryIntervalMs: 5_000,
    maxAheadMs: 5_000,
};

export interface ReplicatorConfig {
    readonly region: string;
    /** The KV v2 mount, the same in every region. */
    readonly mount: string;
    /** This region's Vault. */
    readonly vault: VaultEndpoint;
    /** Every peer region's Vault, with what that peer grants this region's replicator. */
    readonly peers: readonly (VaultEndpoint & { readonly region: string })[];
    /** The secrets (paths under the mount), each with the ExternalSecrets in this region that read it. */
    readonly secrets: readonly { readonly key: string; readonly externalSecrets: readonly ExternalSecretRef[] }[];
    readonly timing: ReplicatorTiming;
    /** Where Vault's socket audit device connects to. */
    readonly auditPort: number;
    /** Where `/metrics` and `/healthz` are served. */
    readonly metricsPort: number;
    /** The Kubernetes API; default the cluster's, from the pod's service account. */
    readonly kubernetes?: { readonly address: string };
}
