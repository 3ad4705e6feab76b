/**
 * In-memory fakes of what the bootstrap talks to (bootstrap/ports.ts): region stacks whose `up`
 * behaves like this project's program (server side; with `vaultInitialized` and a valid token, the
 * Vault configuration and peer tokens; stores for the peers that have issued one), Vault servers with
 * Shamir keys and seal state, pods that start a few polls after the server is deployed, and an
 * operator. Everything any fake writes or keeps (progress, `up` output, stack config and outputs,
 * errors) is recorded in `written`, so a test can scan it for key material; the one channel meant
 * to carry keys, the operator's terminal, is recorded apart in `terminal`.
 */
import type { Ports, SealStatus, StepState } from "../../bootstrap/ports";
import { Sensitive } from "../../bootstrap/sensitive";

interface FakeVault {
    initialized: boolean;
    keys: string[];
    threshold: number;
    tokens: Set<string>;
    /** Per pod: sealed, and the keys entered towards the threshold. */
    pods: Map<string, { sealed: boolean; entered: Set<string> }>;
}

interface FakeStack {
    config: Record<string, string>;
    outputs: Record<string, unknown>;
    serverDeployed: boolean;
    /** Polls of the pods since the server was deployed. */
    podPolls: number;
}

export interface FakeOptions {
    readonly regions: readonly string[];
    /** Regions whose stack exists at the start, and with which config (default: only the committed file's). */
    readonly replicas?: number;
    /** Polls before a deployed region's pods run. */
    readonly podsAfterPolls?: number;
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
    /** Throws once at the first call named here (`<call> <region>`, e.g. `unseal region2`), as a crash would. */
    failAt: string | undefined;
    /** What the operator answers: keys for a sealed Vault, and an admin token. */
    operatorKeys = new Map<string, string[]>();
    operatorTokens = new Map<string, string>();
    readonly storesReady = new Map<string, boolean>();

    constructor(readonly options: FakeOptions) {
        for (const region of options.regions) {
            this.vaults.set(region, { initialized: false, keys: [], threshold: 0, tokens: new Set(), pods: new Map() });
        }
    }

    /** The committed stack file's config for a region, as `pulumi stack init` would find it. */
    private committedConfig(region: string): Record<string, string> {
        return {
            "openova-vault:domain": "example.com",
            "openova-vault:regions": JSON.stringify(this.options.regions),
            "openova-vault:vault": JSON.stringify({ replicas: this.options.replicas ?? 3 }),
            "openova-vault:kubeContext": region,
        };
    }

    private step(call: string, region: string): void {
        if (this.failAt === `${call} ${region}`) {
            this.failAt = undefined;
            throw new Error(`injected failure at ${call} ${region}`);
        }
        if (call !== "status") {
            this.calls.push(`${call} ${region}`);
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

    /** Every pod of a region sealed again, as after a restart. */
    restart(region: string): void {
        for (const pod of this.vault(region).pods.values()) {
            pod.sealed = true;
            pod.entered.clear();
        }
    }

    /** The secrets a test must never find outside the terminal: every key and token ever issued. */
    keyMaterial(): string[] {
        return [...this.vaults.values()].flatMap((v) => [...v.keys, ...v.tokens]);
    }

    ports(): Ports {
        const record = (line: string) => this.written.push(line);
        return {
            workspace: {
                stackExists: (stack) => Promise.resolve(this.stacks.has(stack)),
                createStack: (stack) => {
                    this.step("createStack", stack);
                    this.stacks.set(stack, { config: this.committedConfig(stack), outputs: {}, serverDeployed: false, podPolls: 0 });
                    return Promise.resolve();
                },
                config: (stack) => Promise.resolve({ ...this.stack(stack).config }),
                setConfig: (stack, key, value) => {
                    this.step("setConfig", stack);
                    this.stack(stack).config[key] = value;
                    record(`config ${stack} ${key}=${value}`);
                    return Promise.resolve();
                },
                up: (region, { vaultToken, onOutput }) => {
                    this.step("up", region);
                    const stack = this.stack(region);
                    const configure = stack.config["openova-vault:vaultInitialized"] === "true";
                    if (configure && (vaultToken === undefined || !this.vault(region).tokens.has(vaultToken.reveal()))) {
                        throw new Error(`up ${region}: the Vault provider could not authenticate`);
                    }
                    if (!stack.serverDeployed) {
                        stack.serverDeployed = true;
                        for (let i = 0; i < (this.options.replicas ?? 3); i++) {
                            this.vault(region).pods.set(`vault-${i}`, { sealed: true, entered: new Set() });
                        }
                    }
                    const outputs: Record<string, unknown> = { regionName: region, peers: this.options.regions.filter((r) => r !== region) };
                    if (configure) {
                        outputs.peerAccess = "[secret]";
                        // A peer is connected once it has issued this region a token (it is configured).
                        outputs.connectedPeers = this.options.regions.filter((r) => r !== region && this.stacks.get(r)?.outputs.peerAccess !== undefined);
                    } else {
                        outputs.connectedPeers = this.options.regions.filter((r) => r !== region && this.stacks.get(r)?.outputs.peerAccess !== undefined);
                    }
                    stack.outputs = outputs;
                    onOutput(`Updating (${region}): ${configure ? "Vault configured" : "server side"}`);
                    record(JSON.stringify(outputs));
                    return Promise.resolve();
                },
                outputs: (stack) => Promise.resolve({ ...this.stack(stack).outputs }),
            },
            vault: {
                sealStatus: (region, pod) => {
                    this.step("status", region);
                    const v = this.vault(region);
                    const p = v.pods.get(pod);
                    if (p === undefined) {
                        throw new Error(`${region}/${pod} does not exist`);
                    }
                    const status: SealStatus = { initialized: v.initialized, sealed: p.sealed, t: v.threshold, n: v.keys.length, progress: p.entered.size };
                    return Promise.resolve(status);
                },
                init: (region, _pod, request) => {
                    this.step("init", region);
                    const v = this.vault(region);
                    if (v.initialized) {
                        throw new Error("Vault is already initialized");
                    }
                    v.initialized = true;
                    v.threshold = request.secretThreshold;
                    v.keys = Array.from({ length: request.secretShares }, () => `unseal-key-${region}-${++counter}-${Math.random().toString(36).slice(2)}`);
                    const root = `hvs.root-${region}-${++counter}-${Math.random().toString(36).slice(2)}`;
                    v.tokens.add(root);
                    const encrypt = (value: string, key: string | undefined) => (key === undefined ? value : `pgp(${key}):${Buffer.from(value).toString("base64")}`);
                    return Promise.resolve({
                        keys: v.keys.map((key, i) => new Sensitive(encrypt(key, request.pgpKeys?.[i]))),
                        rootToken: new Sensitive(encrypt(root, request.rootTokenPgpKey)),
                    });
                },
                unseal: (region, pod, key) => {
                    this.step("unseal", region);
                    const v = this.vault(region);
                    const p = v.pods.get(pod);
                    if (p === undefined || !v.initialized) {
                        throw new Error(`${region}/${pod} cannot be unsealed`);
                    }
                    if (!v.keys.includes(key.reveal())) {
                        throw new Error("invalid key");
                    }
                    p.entered.add(key.reveal());
                    if (p.entered.size >= v.threshold) {
                        p.sealed = false;
                        p.entered.clear();
                    }
                    return Promise.resolve({ initialized: true, sealed: p.sealed, t: v.threshold, n: v.keys.length, progress: p.entered.size });
                },
                tokenValid: (region, token) => Promise.resolve(this.vault(region).tokens.has(token.reveal())),
                revoke: (region, token) => {
                    this.step("revoke", region);
                    this.vault(region).tokens.delete(token.reveal());
                    return Promise.resolve();
                },
            },
            cluster: {
                vaultPods: (region) => {
                    const stack = this.stacks.get(region);
                    if (stack?.serverDeployed) {
                        stack.podPolls++;
                    }
                    const running = stack !== undefined && stack.serverDeployed && stack.podPolls > (this.options.podsAfterPolls ?? 0);
                    return Promise.resolve([...this.vault(region).pods.keys()].map((name) => ({ name, running })));
                },
                stores: (region) => {
                    const outputs = this.stacks.get(region)?.outputs ?? {};
                    const connected = Array.isArray(outputs.connectedPeers) ? (outputs.connectedPeers as string[]) : [];
                    const ready = this.storesReady.get(region) ?? true;
                    return Promise.resolve([
                        { name: "vault-local", ready },
                        ...connected.map((peer) => ({ name: `vault-${peer}`, ready })),
                    ]);
                },
            },
            operator: {
                keepOffline: (region, material) => {
                    // Shown first; a failure here is the operator stopping at the confirmation.
                    this.terminal.push(`${region}: ${material.keys.map((k) => k.reveal()).join(" ")} root ${material.rootToken.reveal()}`);
                    this.step("keepOffline", region);
                    return Promise.resolve();
                },
                unsealKeys: (region) => {
                    this.step("askKeys", region);
                    return Promise.resolve((this.operatorKeys.get(region) ?? []).map((key) => new Sensitive(key)));
                },
                adminToken: (region) => {
                    this.step("askToken", region);
                    return Promise.resolve(new Sensitive(this.operatorTokens.get(region) ?? ""));
                },
            },
            progress: {
                step: (region: string, step: string, state: StepState, detail?: string) => record(`${region} ${step} ${state}${detail ? ` ${detail}` : ""}`),
            },
            clock: { sleep: () => Promise.resolve() },
        };
    }
}
