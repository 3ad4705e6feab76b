/**
 * In-memory fakes of what the bootstrap talks to (bootstrap/ports.ts): region stacks whose `up`
 * behaves like this project's program (server side; with `vaultInitialized` and a valid token, the
 * Vault configuration and peer tokens; stores for the peers that have issued one), Vault servers with
 * Shamir keys and seal state that behave like Raft followers (uninitialized until vault-0 is
 * unsealed and they join it; unsealed in the background after their last key), or with an
 * auto-unseal seal (init returns recovery keys; vault-0 unseals itself at init, every server a poll
 * after it is sealed and joined, unless its KMS is down), pods that start a few polls after the
 * server is deployed, the project's files (the CA file a stack's config names), and an operator.
 * Everything any fake writes or keeps (progress, `up` output, stack config and outputs,
 * errors) is recorded in `written`, so a test can scan it for key material; the one channel meant
 * to carry keys, the operator's terminal, is recorded apart in `terminal`.
 */
import { LOCAL_PUSH_STORE_NAME, LOCAL_STORE_NAME } from "../../components/stores/storeSpecs";
import type { InitRequest, KeyMaterial, Ports, SealStatus, StepState } from "../../bootstrap/ports";
import { Sensitive } from "../../bootstrap/sensitive";
import type { VaultSealOptions } from "../../components/vault-server/seal";
import { type Engine, engineFacts } from "../../components/common/engine";

/** An auto-unseal seal as a stack configures it: AWS KMS through workload identity (IRSA). */
export const AWS_KMS_SEAL: VaultSealOptions = {
    type: "awskms",
    parameters: { region: "eu-west-1", kms_key_id: "alias/openova-vault" },
    credentials: "workload-identity",
    workloadIdentity: "arn:aws:iam::123456789012:role/openova-vault-unseal",
};

/** The CA file every fake stack names (`vaultCaCertFile`), relative to the project directory. */
export const CA_FILE = "certs/vault-ca.pem";
const CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBfakeCAcertificateForTheBootstrapFakes\n-----END CERTIFICATE-----\n";

interface FakePod {
    sealed: boolean;
    entered: Set<string>;
    /** A follower has joined vault-0's Raft cluster (vault-0 itself counts as joined once initialized). */
    joined: boolean;
    /** The last key was entered; the server unseals before its next status. */
    unsealing: boolean;
    /** Its volume is gone: it reports uninitialized and never joins. */
    lost?: boolean;
}

interface FakeVault {
    /** An auto-unseal seal: init takes recovery settings and returns recovery keys; the servers unseal themselves. */
    readonly autoUnseal: boolean;
    initialized: boolean;
    /** Unseal keys, or with autoUnseal recovery keys. */
    keys: string[];
    threshold: number;
    /** Valid tokens, and which of them are root tokens. */
    tokens: Set<string>;
    roots: Set<string>;
    /** Every token ever issued, revoked ones included. */
    issued: string[];
    pods: Map<string, FakePod>;
    /** Which Vault this is: a new one at every init; a snapshot restores its own. */
    clusterId: number;
}

interface FakeStack {
    config: Record<string, string>;
    outputs: Record<string, unknown>;
    /** The peers its last configured run granted access: with JWT peer auth, those whose identity was published then. */
    granted: string[];
    serverDeployed: boolean;
    /** Polls of the pods since the server was deployed. */
    podPolls: number;
    /** Its state lists objects of a cluster that is gone: until a refresh, an `up` thinks they exist and creates nothing. */
    stale?: boolean;
}

export interface FakeOptions {
    readonly regions: readonly string[];
    /** Regions whose stack exists at the start, and with which config (default: only the committed file's). */
    readonly replicas?: number;
    /** Polls before a deployed region's pods run. */
    readonly podsAfterPolls?: number;
    /** Regions whose stack configures an auto-unseal seal (`vault.seal`), and which; the others are Shamir. */
    readonly autoUnseal?: Readonly<Record<string, VaultSealOptions>>;
    /** Peer auth as every stack's config sets it; default none set, so the project's default (jwt). */
    readonly peerAuth?: "token" | "jwt";
    /** Regions whose stack sets an engine (`openova-vault:engine`), and which; the others run the default, Vault. */
    readonly engine?: Readonly<Record<string, Engine>>;
    /**
     * Regions whose stack sets a managed backend (`openova-vault:backend`), and which: their stack file has no
     * self-hosted Vault key (as the config's rules require), their `up` deploys no server and takes no admin
     * token, and they connect every managed peer and each self-hosted peer that has granted them access;
     * a configured self-hosted region grants a managed peer access only if that peer pushes to it (here:
     * it is the canary's home, the first region).
     */
    readonly backends?: Readonly<Record<string, Readonly<Record<string, unknown>> & { readonly type: string }>>;
}

let counter = 0;

export class FakePlatform {
    readonly stacks = new Map<string, FakeStack>();
    readonly vaults = new Map<string, FakeVault>();
    /** Every line a fake printed or kept, except the operator's terminal. */
    readonly written: string[] = [];
    /** What the operator's terminal showed (key material belongs here, and only here). */
    readonly terminal: string[] = [];
    /** The order of the calls that change something, as `<call> <region>`. */
    readonly calls: string[] = [];
    /**
     * Throws once at the call named here (`<call> <region>`, e.g. `unseal region2`, or `up region1#2`
     * for its second occurrence), as a crash would: before the call has any effect, or with
     * `failAfterEffect`, once it has had it (the answer is lost).
     */
    failAt: string | undefined;
    failAfterEffect = false;
    private readonly occurrences = new Map<string, number>();
    /** What the operator answers: keys for a sealed Vault, and an admin token. */
    operatorKeys = new Map<string, string[]>();
    operatorTokens = new Map<string, string>();
    readonly storesReady = new Map<string, boolean>();
    /** The fake clock (ms), advanced by sleep. */
    now = 0;
    /** The canary: KV writes per region (path to value and when), ESO objects per region, and how long replication takes to each region. */
    readonly kv = new Map<string, Map<string, { value: Record<string, string>; at: number }>>();
    readonly objects = new Map<string, Set<string>>();
    readonly replicationDelayMs = new Map<string, number>();
    /** Stores (`<region>/<name>`) that do not exist, polls before stores get Ready, regions whose `up` connects no peer. */
    readonly missingStores = new Set<string>();
    storesReadyAfterPolls = 0;
    private storePolls = 0;
    readonly refusesPeers = new Set<string>();
    /** Regions whose Kubernetes API, or whose Vault, does not answer. */
    readonly clusterDown = new Set<string>();
    readonly vaultDown = new Set<string>();
    /** Per region, the lines of the prerequisites its cluster lacks. */
    readonly missingPrerequisites = new Map<string, string[]>();
    /** Status calls per region that fail with a refused connection first, as a server not listening yet. */
    readonly refusedFirst = new Map<string, number>();
    /** Auto-unseal servers whose KMS is unreachable (or refuses them): `<region>` for all of them, or `<region>/<pod>`. */
    readonly kmsDown = new Set<string>();
    /** The project's files, by the path config names them with (relative to the project directory), and those read. */
    readonly files = new Map<string, string>([[CA_FILE, CA_PEM]]);
    readonly filesRead: string[] = [];
    /** Every init request, as `<region>` to what the bootstrap sent. */
    readonly initRequests = new Map<string, InitRequest>();
    /** Every key material shown, without the material itself: whose, and what kind. */
    readonly shown: { region: string; recovery: boolean; keysEncrypted: boolean; keys: number }[] = [];

    constructor(readonly options: FakeOptions) {
        for (const region of options.regions) {
            this.vaults.set(region, {
                autoUnseal: options.autoUnseal?.[region] !== undefined,
                initialized: false,
                keys: [],
                threshold: 0,
                tokens: new Set(),
                roots: new Set(),
                issued: [],
                pods: new Map(),
                clusterId: 0,
            });
        }
    }

    /** The committed stack file's config for a region, as `pulumi stack init` would find it (the gate on, as committed). */
    private committedConfig(region: string): Record<string, string> {
        const backend = this.options.backends?.[region];
        if (backend !== undefined) {
            return {
                "openova-vault:domain": "example.com",
                "openova-vault:regions": JSON.stringify(this.options.regions),
                "openova-vault:kubeContext": region,
                "openova-vault:backend": JSON.stringify(backend),
                "openova-vault:serviceAccountIssuer": JSON.stringify({ url: `https://oidc.${region}.example.com`, discovery: true }),
                ...(this.options.peerAuth === undefined ? {} : { "openova-vault:peerAuth": this.options.peerAuth }),
            };
        }
        return {
            "openova-vault:vaultInitialized": "true",
            "openova-vault:domain": "example.com",
            "openova-vault:regions": JSON.stringify(this.options.regions),
            "openova-vault:vault": JSON.stringify({
                replicas: this.options.replicas ?? 3,
                ...(this.options.autoUnseal?.[region] ? { seal: this.options.autoUnseal[region] } : {}),
            }),
            "openova-vault:kubeContext": region,
            "openova-vault:vaultCaCertFile": CA_FILE,
            // As the committed stacks: the cluster's token issuer, for the peers' JWT mounts.
            "openova-vault:serviceAccountIssuer": JSON.stringify({ url: `https://oidc.${region}.example.com`, discovery: true }),
            ...(this.options.peerAuth === undefined ? {} : { "openova-vault:peerAuth": this.options.peerAuth }),
            ...(this.options.engine?.[region] === undefined ? {} : { "openova-vault:engine": this.options.engine[region] }),
        };
    }

    /** A region's backend type: `vault` unless {@link FakeOptions.backends} names another. */
    backendOf(region: string): string {
        return this.options.backends?.[region]?.type ?? "vault";
    }

    /** A region's server pod `i`, as its engine's chart names it: `vault-<i>`, or `openbao-<i>`. */
    pod(region: string, i: number): string {
        return `${engineFacts(this.options.engine?.[region]).releaseName}-${i}`;
    }

    /** Records a call; throws if it is the one to fail before its effect. @returns whether to fail after it */
    private step(call: string, region: string): boolean {
        const name = `${call} ${region}`;
        const n = (this.occurrences.get(name) ?? 0) + 1;
        this.occurrences.set(name, n);
        const hit = this.failAt === name || this.failAt === `${name}#${n}`;
        if (hit && !this.failAfterEffect) {
            this.failAt = undefined;
            throw new Error(`injected failure at ${name}`);
        }
        if (call !== "status") {
            this.calls.push(name);
        }
        if (hit) {
            this.failAt = undefined;
        }
        return hit;
    }

    /** Throws after an effect, when {@link step} said so. */
    private static lost(fail: boolean, name: string): void {
        if (fail) {
            throw new Error(`injected failure after ${name}`);
        }
    }

    private stack(region: string): FakeStack {
        const stack = this.stacks.get(region);
        if (stack === undefined) {
            throw new Error(`no stack ${region}`);
        }
        return stack;
    }

    private vault(region: string): FakeVault {
        return this.vaults.get(region) as FakeVault;
    }

    /** Every pod of a region sealed again, as after a restart (followers keep their Raft data). */
    restart(region: string): void {
        for (const pod of this.vault(region).pods.values()) {
            pod.sealed = true;
            pod.unsealing = false;
            pod.entered.clear();
        }
    }

    /**
     * A Raft snapshot of a region's Vault, as bytes: which Vault it is, its keys, its tokens and its
     * KV data. Restoring it brings all of them back (the snapshot holds the whole keyring and token store).
     */
    snapshot(region: string): Buffer {
        const v = this.vault(region);
        const kv = [...(this.kv.get(region) ?? new Map<string, { value: Record<string, string>; at: number }>())];
        return Buffer.from(
            JSON.stringify({
                clusterId: v.clusterId,
                keys: v.keys,
                threshold: v.threshold,
                tokens: [...v.tokens],
                roots: [...v.roots],
                kv,
            }),
        );
    }

    /**
     * A region's cluster lost and replaced by an empty one: no Vault data, no pods, nothing of the
     * stack's objects; the stack's state still lists them (stale) and its config and outputs stay.
     */
    loseCluster(region: string): void {
        const v = this.vault(region);
        v.initialized = false;
        v.keys = [];
        v.threshold = 0;
        v.tokens.clear();
        v.roots.clear();
        v.pods.clear();
        v.clusterId = 0;
        this.kv.delete(region);
        const stack = this.stack(region);
        stack.serverDeployed = false;
        stack.podPolls = 0;
        stack.stale = true;
    }

    /** A server's volume lost: it starts again as an empty, uninitialized Vault. */
    loseData(region: string, pod: string): void {
        const p = this.vault(region).pods.get(pod) as FakePod;
        p.joined = false;
        p.lost = true;
        p.sealed = true;
    }

    /** The secrets a test must never find outside the terminal: every key and token ever issued. */
    keyMaterial(): string[] {
        return [...this.vaults.values()].flatMap((v) => [...v.keys, ...v.issued]);
    }

    /** The server side deployed: the pods, sealed and not joined. */
    private deployServer(region: string, stack: FakeStack): void {
        stack.serverDeployed = true;
        for (let i = 0; i < (this.options.replicas ?? 3); i++) {
            this.vault(region).pods.set(this.pod(region, i), { sealed: true, entered: new Set(), joined: false, unsealing: false });
        }
    }

    /** Whether an auto-unseal server can reach its KMS. */
    private kmsAnswers(region: string, pod: string): boolean {
        return !this.kmsDown.has(region) && !this.kmsDown.has(`${region}/${pod}`);
    }

    /**
     * A server's view: a follower is uninitialized until it joins, which it does once vault-0 is
     * unsealed. An auto-unseal server that is sealed and joined unseals itself before its next status.
     */
    private podStatus(region: string, name: string): SealStatus {
        const v = this.vault(region);
        const pod = v.pods.get(name);
        if (pod === undefined) {
            throw new Error(`${region}/${name} does not exist`);
        }
        const leader = v.pods.get(this.pod(region, 0));
        if (!pod.joined && !pod.lost && v.initialized && leader !== undefined && !leader.sealed) {
            pod.joined = true;
        }
        if (pod.unsealing) {
            pod.unsealing = false;
            pod.sealed = false;
        } else if (v.autoUnseal && pod.joined && pod.sealed && this.kmsAnswers(region, name)) {
            pod.unsealing = true;
        }
        return pod.joined
            ? { initialized: true, sealed: pod.sealed, t: v.threshold, n: v.keys.length, progress: pod.entered.size }
            : { initialized: false, sealed: true, t: 0, n: 0, progress: 0 };
    }

    ports(): Ports {
        const record = (line: string) => this.written.push(line);
        return {
            workspace: {
                stackExists: (stack) => Promise.resolve(this.stacks.has(stack)),
                createStack: (stack) => {
                    const fail = this.step("createStack", stack);
                    this.stacks.set(stack, {
                        config: this.committedConfig(stack),
                        outputs: {},
                        granted: [],
                        serverDeployed: false,
                        podPolls: 0,
                    });
                    FakePlatform.lost(fail, `createStack ${stack}`);
                    return Promise.resolve();
                },
                // As the real adapter, which reads the stack file: a stack not created yet has the committed one.
                config: (stack) => Promise.resolve({ ...(this.stacks.get(stack)?.config ?? this.committedConfig(stack)) }),
                setConfig: (stack, key, value) => {
                    const fail = this.step("setConfig", stack);
                    this.stack(stack).config[key] = value;
                    record(`config ${stack} ${key}=${value}`);
                    FakePlatform.lost(fail, `setConfig ${stack}`);
                    return Promise.resolve();
                },
                up: (region, { vaultToken, onOutput, targets, refresh }) => {
                    const fail = this.step(targets === undefined ? (refresh === true ? "up-refresh" : "up") : "up-targets", region);
                    const stack = this.stack(region);
                    const managed = this.backendOf(region) !== "vault";
                    if (managed && vaultToken !== undefined) {
                        throw new Error(
                            `up ${region}: given an admin token, but its backend is ${this.backendOf(region)}: there is no Vault of ours to configure`,
                        );
                    }
                    const configure = stack.config["openova-vault:vaultInitialized"] === "true";
                    if (configure && (vaultToken === undefined || !this.vault(region).tokens.has(vaultToken.reveal()))) {
                        throw new Error(`up ${region}: the Vault provider could not authenticate`);
                    }
                    if (refresh === true) {
                        stack.stale = false;
                    }
                    if (targets !== undefined) {
                        // Only the server side; the rest of the state is left as it is.
                        if (!stack.stale && !stack.serverDeployed) {
                            this.deployServer(region, stack);
                        }
                        onOutput(
                            `Updating (${region}): ${targets.length} target(s)${stack.stale ? ", unchanged (the state lists them already)" : ""}`,
                        );
                        FakePlatform.lost(fail, `up ${region}`);
                        return Promise.resolve();
                    }
                    if (stack.stale) {
                        throw new Error(`up ${region}: the state lists objects its cluster does not have; refresh first`);
                    }
                    if (!stack.serverDeployed) {
                        if (managed) {
                            stack.serverDeployed = true;
                        } else {
                            this.deployServer(region, stack);
                        }
                    }
                    // As the program does: peerAccess is always exported (empty until configured). A configured
                    // region grants each peer access: with a token, every peer; with JWT peer auth (the
                    // default), each peer whose stack has published its token issuer. A peer is connected
                    // once it has granted this region access.
                    const jwt = (stack.config["openova-vault:peerAuth"] ?? "jwt") === "jwt";
                    const peers = this.options.regions.filter((r) => r !== region);
                    stack.granted = configure
                        ? peers.filter(
                              (r) =>
                                  (!jwt || this.stacks.get(r)?.outputs.serviceAccountIssuer !== undefined) &&
                                  (this.backendOf(r) === "vault" || r === this.options.regions[0]),
                          )
                        : [];
                    const issuer = stack.config["openova-vault:serviceAccountIssuer"];
                    const outputs: Record<string, unknown> = {
                        regionName: region,
                        peers,
                        vaultConfigured: configure,
                        peerAccess: jwt ? {} : "[secret]",
                        backend: this.options.backends?.[region] ?? { type: "vault" },
                        connectedPeers: this.refusesPeers.has(region)
                            ? []
                            : peers.filter((r) => this.backendOf(r) !== "vault" || this.stacks.get(r)?.granted.includes(region) === true),
                        ...(jwt && issuer !== undefined ? { serviceAccountIssuer: JSON.parse(issuer) as unknown } : {}),
                    };
                    stack.outputs = outputs;
                    onOutput(`Updating (${region}): ${configure ? "Vault configured" : "server side"}`);
                    record(JSON.stringify(outputs));
                    FakePlatform.lost(fail, `up ${region}`);
                    return Promise.resolve();
                },
                refresh: (region, { targets, onOutput }) => {
                    const fail = this.step("refresh", region);
                    const stack = this.stack(region);
                    if (targets.length === 0) {
                        throw new Error("refresh: no targets");
                    }
                    stack.stale = false;
                    onOutput(`Refreshing (${region}): ${targets.length} target(s)`);
                    FakePlatform.lost(fail, `refresh ${region}`);
                    return Promise.resolve();
                },
                resources: (region) => {
                    // A deployed stack's state: the server side, ESO, the providers and (configured) Vault's configuration.
                    const stack = this.stacks.get(region);
                    if (stack?.outputs.regionName === undefined) {
                        return Promise.resolve([]);
                    }
                    const urn = (type: string, name: string) => `urn:pulumi:${region}::openova-vault::${type}::${name}`;
                    const top = "openova:vault:VaultRegion";
                    return Promise.resolve([
                        urn("pulumi:pulumi:Stack", `openova-vault-${region}`),
                        urn("pulumi:providers:kubernetes", region),
                        urn(top, region),
                        urn(`${top}$openova:vault:VaultServer`, `${region}-vault`),
                        urn(`${top}$openova:vault:VaultServer$kubernetes:core/v1:Namespace`, `${region}-vault-namespace`),
                        urn(`${top}$openova:vault:VaultServer$kubernetes:helm.sh/v4:Chart`, `${region}-vault`),
                        urn(`${top}$openova:vault:ExternalSecretsOperator`, `${region}-external-secrets`),
                        ...(stack.outputs.vaultConfigured === true
                            ? [
                                  urn("pulumi:providers:vault", region),
                                  urn(`${top}$openova:vault:VaultSetup`, `${region}-setup`),
                                  urn(`${top}$openova:vault:VaultSetup$vault:index/mount:Mount`, `${region}-setup-kv`),
                              ]
                            : []),
                    ]);
                },
                outputs: (stack) => Promise.resolve({ ...this.stack(stack).outputs }),
                readFile: (file) => {
                    this.filesRead.push(file);
                    const text = this.files.get(file);
                    if (text === undefined) {
                        throw Object.assign(new Error(`ENOENT: no such file or directory, open '${file}'`), { code: "ENOENT" });
                    }
                    return text;
                },
            },
            vault: {
                sealStatus: (region, pod) => {
                    const refused = this.refusedFirst.get(region) ?? 0;
                    if (this.vaultDown.has(region) || (refused > 0 && this.refusedFirst.set(region, refused - 1))) {
                        return Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:41234"));
                    }
                    this.step("status", region);
                    return Promise.resolve(this.podStatus(region, pod));
                },
                init: (region, pod, request) => {
                    const fail = this.step("init", region);
                    const v = this.vault(region);
                    if (v.initialized) {
                        throw new Error("Vault is already initialized");
                    }
                    // As Vault does: recovery settings only with an auto-unseal seal, and unseal-key settings only with Shamir.
                    if (v.autoUnseal !== (request.autoUnseal === true)) {
                        throw new Error(
                            v.autoUnseal
                                ? "Vault has an auto-unseal seal: init takes recovery_shares"
                                : "parameters recovery_shares,recovery_threshold not applicable to seal type shamir",
                        );
                    }
                    if (v.autoUnseal && !this.kmsAnswers(region, pod)) {
                        throw new Error("failed to encrypt barrier key: the KMS did not answer");
                    }
                    this.initRequests.set(region, request);
                    v.initialized = true;
                    v.clusterId = ++counter;
                    v.tokens.clear();
                    v.roots.clear();
                    const first = v.pods.get(pod) as FakePod;
                    first.joined = true;
                    // An auto-unseal server unseals itself right after init.
                    first.sealed = first.sealed && !v.autoUnseal;
                    v.threshold = request.secretThreshold;
                    const kind = v.autoUnseal ? "recovery" : "unseal";
                    v.keys = Array.from(
                        { length: request.secretShares },
                        () => `${kind}-key-${region}-${++counter}-${Math.random().toString(36).slice(2)}`,
                    );
                    const root = `hvs.root-${region}-${++counter}-${Math.random().toString(36).slice(2)}`;
                    v.tokens.add(root);
                    v.roots.add(root);
                    v.issued.push(root);
                    FakePlatform.lost(fail, `init ${region}`);
                    const encrypt = (value: string, key: string | undefined) =>
                        key === undefined ? value : `pgp(${key}):${Buffer.from(value).toString("base64")}`;
                    return Promise.resolve({
                        keys: v.keys.map((key, i) => new Sensitive(encrypt(key, request.pgpKeys?.[i]))),
                        rootToken: new Sensitive(encrypt(root, request.rootTokenPgpKey)),
                    });
                },
                unseal: (region, pod, key) => {
                    const fail = this.step("unseal", region);
                    const v = this.vault(region);
                    if (v.autoUnseal) {
                        throw new Error(`${region}/${pod}: Vault unseals itself through its KMS; sys/unseal takes no key`);
                    }
                    const status = this.podStatus(region, pod);
                    const p = v.pods.get(pod) as FakePod;
                    if (!status.initialized) {
                        throw new Error(`${region}/${pod}: Vault is not initialized`);
                    }
                    if (!v.keys.includes(key.reveal())) {
                        throw new Error("invalid key");
                    }
                    if (!p.sealed) {
                        return Promise.resolve(status);
                    }
                    // As Vault does, a key entered twice counts once.
                    p.entered.add(key.reveal());
                    if (p.entered.size >= v.threshold) {
                        p.entered.clear();
                        // vault-0 unseals at once; a follower finishes in the background (sealed, progress 0).
                        if (pod === this.pod(region, 0)) {
                            p.sealed = false;
                        } else {
                            p.unsealing = true;
                        }
                    }
                    FakePlatform.lost(fail, `unseal ${region}`);
                    return Promise.resolve({
                        initialized: true,
                        sealed: p.sealed,
                        t: v.threshold,
                        n: v.keys.length,
                        progress: p.entered.size,
                    });
                },
                tokenInfo: (region, token) => {
                    const v = this.vault(region);
                    return Promise.resolve({ valid: v.tokens.has(token.reveal()), root: v.roots.has(token.reveal()) });
                },
                kvPut: (region, token, mount, path, data) => {
                    if (!this.vault(region).tokens.has(token.reveal())) {
                        return Promise.reject(new Error("permission denied"));
                    }
                    const paths = this.kv.get(region) ?? new Map<string, { value: Record<string, string>; at: number }>();
                    paths.set(`${mount}/${path}`, { value: { ...data }, at: this.now });
                    this.kv.set(region, paths);
                    return Promise.resolve();
                },
                restoreSnapshot: (region, pod, token, bytes, force) => {
                    const fail = this.step("restore", region);
                    const v = this.vault(region);
                    const p = v.pods.get(pod);
                    if (p === undefined || !p.joined || p.sealed) {
                        return Promise.reject(new Error(`${region}/${pod}: Vault is sealed or not initialized`));
                    }
                    if (!v.roots.has(token.reveal())) {
                        return Promise.reject(new Error("permission denied"));
                    }
                    let snapshot: {
                        clusterId: number;
                        keys: string[];
                        threshold: number;
                        tokens: string[];
                        roots: string[];
                        kv: [string, { value: Record<string, string>; at: number }][];
                    };
                    try {
                        snapshot = JSON.parse(Buffer.from(bytes).toString("utf8")) as typeof snapshot;
                    } catch {
                        return Promise.reject(new Error("failed to read snapshot file: unexpected EOF"));
                    }
                    if (snapshot.clusterId !== v.clusterId && !force) {
                        return Promise.reject(
                            new Error(
                                "could not verify hash file, possibly the snapshot is using a different set of unseal keys; use the snapshot-force API to bypass this check",
                            ),
                        );
                    }
                    v.clusterId = snapshot.clusterId;
                    v.keys = snapshot.keys;
                    v.threshold = snapshot.threshold;
                    v.tokens = new Set(snapshot.tokens);
                    v.roots = new Set(snapshot.roots);
                    this.kv.set(region, new Map(snapshot.kv));
                    // Sealed with the snapshot's keys; the followers join again once the leader is unsealed.
                    for (const [name, other] of v.pods) {
                        other.sealed = true;
                        other.unsealing = false;
                        other.entered.clear();
                        other.joined = name === pod;
                    }
                    FakePlatform.lost(fail, `restore ${region}`);
                    return Promise.resolve();
                },
                raftServers: (region, token) => {
                    const v = this.vault(region);
                    if (!v.tokens.has(token.reveal())) {
                        return Promise.reject(new Error("permission denied"));
                    }
                    return Promise.resolve(
                        [...v.pods]
                            .filter(([, p]) => p.joined && !p.sealed)
                            .map(([name]) => ({
                                nodeId: name,
                                address: `${name}.${engineFacts(this.options.engine?.[region]).releaseName}-internal:8201`,
                                leader: name === this.pod(region, 0),
                                voter: true,
                            })),
                    );
                },
                revoke: (region, token) => {
                    const fail = this.step("revoke", region);
                    this.vault(region).tokens.delete(token.reveal());
                    FakePlatform.lost(fail, `revoke ${region}`);
                    return Promise.resolve();
                },
            },
            cluster: {
                vaultPods: (region) => {
                    if (this.clusterDown.has(region)) {
                        return Promise.reject(new Error("connect ETIMEDOUT 10.0.0.1:6443"));
                    }
                    const stack = this.stacks.get(region);
                    if (stack?.serverDeployed) {
                        stack.podPolls++;
                    }
                    const running = stack !== undefined && stack.serverDeployed && stack.podPolls > (this.options.podsAfterPolls ?? 0);
                    return Promise.resolve([...this.vault(region).pods.keys()].map((name) => ({ name, running })));
                },
                missingPrerequisites: (region) => Promise.resolve([...(this.missingPrerequisites.get(region) ?? [])]),
                apply: (region, object) => {
                    const set = this.objects.get(region) ?? new Set<string>();
                    set.add(`${object.kind}/${object.metadata.namespace}/${object.metadata.name}`);
                    this.objects.set(region, set);
                    return Promise.resolve();
                },
                remove: (region, object) => {
                    this.objects.get(region)?.delete(`${object.kind}/${object.metadata.namespace}/${object.metadata.name}`);
                    return Promise.resolve();
                },
                secretValue: (region, namespace, name, key) => {
                    // ESO, simplified: the home's value reaches a region's Secret once its ExternalSecret
                    // exists, (for a peer) the home pushes to it, and that region's delay has passed.
                    const home = this.options.regions[0];
                    const objects = this.objects.get(region) ?? new Set<string>();
                    const pushed =
                        region === home || (this.objects.get(home)?.has(`PushSecret/${namespace}/${name}-to-${region}`) ?? false);
                    // What the ExternalSecret reads: the default remote key, <namespace>/<name>, under the mount.
                    const written = this.kv.get(home)?.get(`secret/${namespace}/${name}`);
                    if (!objects.has(`ExternalSecret/${namespace}/${name}`) || !pushed || written === undefined) {
                        return Promise.resolve(undefined);
                    }
                    return Promise.resolve(
                        this.now - written.at >= (this.replicationDelayMs.get(region) ?? 0) ? written.value[key] : undefined,
                    );
                },
                stores: (region) => {
                    const outputs = this.stacks.get(region)?.outputs ?? {};
                    const connected = Array.isArray(outputs.connectedPeers) ? (outputs.connectedPeers as string[]) : [];
                    const ready = (this.storesReady.get(region) ?? true) && ++this.storePolls > this.storesReadyAfterPolls;
                    return Promise.resolve(
                        [
                            { name: LOCAL_STORE_NAME, ready },
                            { name: LOCAL_PUSH_STORE_NAME, ready },
                            ...connected.map((peer) => ({ name: `vault-${peer}`, ready })),
                        ].filter((store) => !this.missingStores.has(`${region}/${store.name}`)),
                    );
                },
            },
            operator: {
                keepOffline: (region, material: KeyMaterial) => {
                    // Shown first; a failure here is the operator stopping at the confirmation.
                    this.terminal.push(`${region}: ${material.keys.map((k) => k.reveal()).join(" ")} root ${material.rootToken.reveal()}`);
                    this.shown.push({
                        region,
                        recovery: material.recovery === true,
                        keysEncrypted: material.keysEncrypted,
                        keys: material.keys.length,
                    });
                    FakePlatform.lost(this.step("keepOffline", region), `keepOffline ${region}`);
                    return Promise.resolve();
                },
                unsealKeys: (region) => {
                    this.step("askKeys", region);
                    if (this.vault(region).autoUnseal) {
                        return Promise.reject(new Error(`asked for unseal keys of ${region}, whose Vault unseals itself`));
                    }
                    return Promise.resolve((this.operatorKeys.get(region) ?? []).map((key) => new Sensitive(key)));
                },
                adminToken: (region) => {
                    this.step("askToken", region);
                    return Promise.resolve(new Sensitive(this.operatorTokens.get(region) ?? ""));
                },
            },
            progress: {
                step: (region: string, step: string, state: StepState, detail?: string) =>
                    record(`${region} ${step} ${state}${detail ? ` ${detail}` : ""}`),
            },
            clock: {
                sleep: (ms) => {
                    this.now += ms;
                    return Promise.resolve();
                },
                now: () => this.now,
            },
        };
    }
}
