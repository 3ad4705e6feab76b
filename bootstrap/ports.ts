/**
 * What the bootstrap talks to, as small interfaces, so that its orchestration (orchestrator.ts) is
 * pure and testable with in-memory fakes. The real adapters (adapters.ts) are thin: the Pulumi
 * Automation API over this project's stacks, Vault's HTTP API, and the Kubernetes API.
 */
import type { Engine } from "../components/common/engine";
import type { Sensitive } from "./sensitive";

/** One region's stack, through the Automation API's local workspace over this project. */
export interface Workspace {
    /** Region stacks that exist. */
    stackExists(stack: string): Promise<boolean>;
    /** Creates an empty stack; its settings come from the committed `Pulumi.<stack>.yaml`. */
    createStack(stack: string): Promise<void>;
    /** The stack's config as the program receives it (`openova-vault:key` to string); a stack not created yet has its committed file's. */
    config(stack: string): Promise<Record<string, string>>;
    /** Sets one plain config value in the stack's settings. */
    setConfig(stack: string, key: string, value: string): Promise<void>;
    /**
     * `pulumi up` of the stack. `vaultToken`, when given, reaches the program only through the
     * Automation API's process environment (`VAULT_TOKEN`), never config or a file.
     */
    up(stack: string, options: UpOptions): Promise<void>;
    /**
     * `pulumi refresh` of the given resources only (URN globs): reads them back from the cluster, and
     * forgets those that no longer exist (a lost cluster's objects).
     */
    refresh(stack: string, options: { readonly targets: readonly string[]; readonly onOutput: (line: string) => void }): Promise<void>;
    /** The URNs of the resources in the stack's state. */
    resources(stack: string): Promise<string[]>;
    /** The stack's outputs; secret ones are not revealed (only whether they exist). */
    outputs(stack: string): Promise<Record<string, unknown>>;
    /**
     * Reads a file a stack's config names (`vaultCaCertFile`), as `pulumi up` does: a relative path
     * is relative to the project directory (where Pulumi.yaml is). @throws like `fs.readFileSync`
     */
    readFile(file: string): string;
}

/** What one `pulumi up` does. */
export interface UpOptions {
    /** The admin token, which reaches the program only as `VAULT_TOKEN` in its process environment. */
    readonly vaultToken?: Sensitive;
    readonly onOutput: (line: string) => void;
    /** Only these resources (URN globs); resources outside them are left as they are, even if the program no longer declares them. */
    readonly targets?: readonly string[];
    /** Refresh every resource from the cluster and Vault first (`pulumi up --refresh`). */
    readonly refresh?: boolean;
}

/** A Raft server, as `sys/storage/raft/configuration` lists it. */
export interface RaftServer {
    readonly nodeId: string;
    readonly address: string;
    readonly leader: boolean;
    readonly voter: boolean;
}

/** `GET /v1/sys/seal-status` of one Vault server. */
export interface SealStatus {
    readonly initialized: boolean;
    readonly sealed: boolean;
    /** Keys needed (threshold) and keys issued (shares). */
    readonly t: number;
    readonly n: number;
    /** Keys entered so far towards the threshold. */
    readonly progress: number;
}

export interface InitRequest {
    /** Key shares and threshold: of the unseal keys, or with {@link autoUnseal} of the recovery keys. */
    readonly secretShares: number;
    readonly secretThreshold: number;
    /** Operator PGP public keys (base64, one per share): the unseal (or recovery) keys come back encrypted to them. */
    readonly pgpKeys?: readonly string[];
    /** A PGP public key (base64) to encrypt the root token to. */
    readonly rootTokenPgpKey?: string;
    /**
     * The server has an auto-unseal seal (a KMS): the shares, threshold and PGP keys are those of the
     * recovery keys (`recovery_shares`, `recovery_threshold`, `recovery_pgp_keys`), and Vault returns
     * recovery keys and no unseal keys. The server unseals itself.
     */
    readonly autoUnseal?: boolean;
}

export interface InitResult {
    /** Unseal keys (recovery keys with auto-unseal): plain (base64), or PGP-encrypted when pgpKeys were given. */
    readonly keys: readonly Sensitive[];
    /** The initial root token: plain, or PGP-encrypted when rootTokenPgpKey was given. */
    readonly rootToken: Sensitive;
}

/** Vault's HTTP API, per region and server (pod `vault-<i>`). */
export interface VaultApi {
    sealStatus(region: string, pod: string): Promise<SealStatus>;
    /** `PUT /v1/sys/init` on one server; Raft followers join it with `retry_join`. */
    init(region: string, pod: string, request: InitRequest): Promise<InitResult>;
    /** `PUT /v1/sys/unseal` with one key. */
    unseal(region: string, pod: string, key: Sensitive): Promise<SealStatus>;
    /** Whether a token is valid for this region's Vault, and whether it is a root token (`auth/token/lookup-self`). */
    tokenInfo(region: string, token: Sensitive): Promise<{ readonly valid: boolean; readonly root: boolean }>;
    /** `auth/token/revoke-self`. */
    revoke(region: string, token: Sensitive): Promise<void>;
    /** Writes a KV v2 secret (`POST /v1/<mount>/data/<path>`). */
    kvPut(region: string, token: Sensitive, mount: string, path: string, data: Readonly<Record<string, string>>): Promise<void>;
    /**
     * Restores a Raft snapshot through one server (`POST /v1/sys/storage/raft/snapshot`, or
     * `snapshot-force` with `force`, which takes a snapshot of another Vault: other keys).
     */
    restoreSnapshot(region: string, pod: string, token: Sensitive, snapshot: Uint8Array, force: boolean): Promise<void>;
    /** The Raft servers (`GET /v1/sys/storage/raft/configuration`). */
    raftServers(region: string, token: Sensitive): Promise<RaftServer[]>;
}

/** Where off-site snapshots are read from (the operator's own cloud credentials, on the operator's machine). */
export interface SnapshotSource {
    /** The snapshot at `uri`, and the sha256 written beside it when there is one. */
    fetch(uri: string): Promise<{ readonly bytes: Uint8Array; readonly sha256?: string }>;
}

/** A Kubernetes object the bootstrap creates for a while (the `--verify` canary's ESO objects). */
export interface KubeObject {
    readonly apiVersion: string;
    readonly kind: string;
    readonly metadata: { readonly name: string; readonly namespace: string; readonly labels?: Readonly<Record<string, string>> };
    readonly [field: string]: unknown;
}

export interface PodStatus {
    readonly name: string;
    /** The container runs (a sealed Vault is running but not Ready). */
    readonly running: boolean;
}

export interface StoreStatus {
    readonly name: string;
    readonly ready: boolean;
    readonly message?: string;
}

/** The region's Kubernetes API. */
export interface Cluster {
    vaultPods(region: string): Promise<PodStatus[]>;
    /**
     * What the region's stack needs from its cluster but does not install, read as the program's
     * preflight reads it: one line per missing prerequisite, empty when all are there.
     */
    missingPrerequisites(region: string): Promise<string[]>;
    /** The ClusterSecretStores of this project in the region, with their Ready condition. */
    stores(region: string): Promise<StoreStatus[]>;
    /** Creates a namespaced custom object, or replaces the one of that name. */
    apply(region: string, object: KubeObject): Promise<void>;
    /** Deletes a namespaced custom object if it exists. */
    remove(region: string, object: KubeObject): Promise<void>;
    /** One key of a Secret, decoded; undefined when the Secret or the key does not exist. */
    secretValue(region: string, namespace: string, name: string, key: string): Promise<string | undefined>;
}

/** A Vault's new key material, as `sys/init` returned it. */
export interface KeyMaterial {
    /** Unseal keys, or with {@link recovery} recovery keys. */
    readonly keys: readonly Sensitive[];
    readonly rootToken: Sensitive;
    /** The keys are PGP-encrypted (to `pgpKeys`). */
    readonly keysEncrypted: boolean;
    /** The root token is PGP-encrypted (to `rootTokenPgpKey`). */
    readonly rootTokenEncrypted: boolean;
    /**
     * The keys are recovery keys (an auto-unseal Vault): they cannot unseal it; they authorize
     * `generate-root` and seal migration.
     */
    readonly recovery?: boolean;
    /** The region's engine, whose name the lines that show the keys use. Default `vault`. */
    readonly engine?: Engine;
}

/** The person running the bootstrap (or, non-interactive, what stands in for one). */
export interface Operator {
    /**
     * Shows a region's new key material once, on the terminal, and resolves when the operator has
     * confirmed that it is stored offline.
     */
    keepOffline(region: string, material: KeyMaterial): Promise<void>;
    /** Unseal keys for a sealed Shamir Vault the bootstrap holds no keys for (after a restart); never asked for an auto-unseal one. */
    unsealKeys(region: string, threshold: number): Promise<Sensitive[]>;
    /** An admin token for a region whose Vault is initialized but whose root token is not in memory. */
    adminToken(region: string): Promise<Sensitive>;
}

export type StepState = "running" | "done" | "skipped" | "failed";

/** Where the bootstrap shows its progress, per region and step. */
export interface Progress {
    step(region: string, step: string, state: StepState, detail?: string): void;
}

export interface Clock {
    sleep(ms: number): Promise<void>;
    /** Milliseconds since some fixed point (to time the canary). */
    now(): number;
}

export interface Ports {
    readonly workspace: Workspace;
    readonly vault: VaultApi;
    readonly cluster: Cluster;
    readonly operator: Operator;
    readonly progress: Progress;
    readonly clock: Clock;
}
