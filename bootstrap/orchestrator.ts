/**
 * The bootstrap's orchestration: from empty clusters (or any state in between) to every region's
 * Vault initialized, unsealed, configured and wired to its peers. Pure over {@link Ports}: it decides
 * from what it observes (stacks, config, pods, seal status, stack outputs), so running it again picks
 * up where an earlier run stopped, and on a bootstrapped platform it changes nothing.
 *
 * Order: every missing stack is created before any deploy (a stack reference to a missing stack
 * fails); then the server side of every region; then per region its pods, init, unseal and
 * configuration; then, once every region is configured, the pass that wires peers; then the checks.
 */
import { parseConfig, PROJECT, type RegionConfig } from "../config";
import { VAULT_SERVER_DEFAULTS } from "../components/vaultServerValues";
import { PEER_ACCESS_OUTPUT } from "../peering";
import type { Ports } from "./ports";
import type { Sensitive } from "./sensitive";

export interface BootstrapOptions {
    /** Regions to bring up, in order; each is the stack of the same name. */
    readonly regions: readonly string[];
    /** Unseal key shares and threshold for a Vault being initialized. */
    readonly keyShares: number;
    readonly keyThreshold: number;
    /** Operator PGP public keys (base64), one per share: the unseal keys are returned encrypted. */
    readonly pgpKeys?: readonly string[];
    /** PGP public key (base64) for the root token. */
    readonly rootTokenPgpKey?: string;
    /** Keep the initial root tokens alive at the end (default: revoke them). */
    readonly keepRootToken: boolean;
    /** Whether a person is at a terminal; without one, nothing unencrypted may be shown. */
    readonly interactive: boolean;
    /** How long to wait for a region's Vault pods, and how often to look. */
    readonly podTimeoutMs: number;
    readonly pollMs: number;
}

export const BOOTSTRAP_DEFAULTS = { keyShares: 5, keyThreshold: 3, podTimeoutMs: 10 * 60_000, pollMs: 5_000 } as const;

/** A problem the operator must act on: one line each, no stack trace. */
export class BootstrapError extends Error {
    constructor(readonly lines: readonly string[]) {
        super(lines.join("\n"));
        this.name = "BootstrapError";
    }
}

/** What the run did, per region, for the summary. */
export interface BootstrapReport {
    readonly created: string[];
    readonly initialized: string[];
    readonly unsealed: string[];
    readonly configured: string[];
    readonly wired: string[];
    readonly revokedRootTokens: string[];
}

const INITIALIZED_KEY = `${PROJECT}:vaultInitialized`;

/** The Vault server pods of a region: `vault-0` .. `vault-<replicas-1>` (the chart's StatefulSet). */
export function vaultPodNames(replicas: number): string[] {
    return Array.from({ length: replicas }, (_, i) => `vault-${i}`);
}

/** Checks the options before anything happens. @returns one line per problem */
export function optionProblems(options: BootstrapOptions): string[] {
    const problems: string[] = [];
    if (options.regions.length === 0) {
        problems.push("--regions names no region");
    }
    if (!Number.isInteger(options.keyShares) || options.keyShares < 1 || options.keyShares > 255) {
        problems.push(`--key-shares ${options.keyShares} must be a whole number from 1 to 255`);
    }
    if (!Number.isInteger(options.keyThreshold) || options.keyThreshold < 1 || options.keyThreshold > options.keyShares) {
        problems.push(`--key-threshold ${options.keyThreshold} must be a whole number from 1 to --key-shares (${options.keyShares})`);
    }
    if (options.keyShares > 1 && options.keyThreshold === 1) {
        problems.push("--key-threshold 1 with more than one share lets any one key holder unseal alone; use at least 2");
    }
    if (options.pgpKeys !== undefined && options.pgpKeys.length !== options.keyShares) {
        problems.push(`--pgp-keys lists ${options.pgpKeys.length} key(s), but --key-shares is ${options.keyShares}: give one PGP key per share`);
    }
    if (!options.interactive && (options.pgpKeys === undefined || options.rootTokenPgpKey === undefined)) {
        problems.push(
            "--non-interactive needs --pgp-keys (one per share) and --root-token-pgp-key: without a terminal, new unseal keys and the root token may only be shown encrypted",
        );
    }
    return problems;
}

/** Bootstraps every region. @throws BootstrapError when something needs the operator */
export async function bootstrap(ports: Ports, options: BootstrapOptions): Promise<BootstrapReport> {
    const problems = optionProblems(options);
    if (problems.length > 0) {
        throw new BootstrapError(problems);
    }
    const { workspace, progress } = ports;
    const report: BootstrapReport = { created: [], initialized: [], unsealed: [], configured: [], wired: [], revokedRootTokens: [] };
    /** Admin tokens in memory, per region: the root token from init, or what the operator gave. */
    const tokens = new Map<string, { token: Sensitive; root: boolean }>();

    // 1. Every stack exists before any program runs: each region's program references its peers'.
    for (const region of options.regions) {
        progress.step(region, "stack", "running");
        if (await workspace.stackExists(region)) {
            progress.step(region, "stack", "skipped", "exists");
        } else {
            await workspace.createStack(region);
            report.created.push(region);
            progress.step(region, "stack", "done", "created");
        }
    }

    // 2. The server side of every region first, so that all clusters start their pods at once; then
    //    per region: pods, init, unseal, configuration.
    const configs = new Map<string, RegionConfig>();
    for (const region of options.regions) {
        const config = await regionConfig(ports, region);
        configs.set(region, config);
        await deployServer(ports, config);
    }
    for (const region of options.regions) {
        await bringUp(ports, options, configs.get(region) as RegionConfig, tokens, report);
    }

    // 3. Wire the peers: run each region again once every peer has issued it a token.
    for (const region of options.regions) {
        const config = configs.get(region) as RegionConfig;
        const outputs = await workspace.outputs(region);
        const connected = Array.isArray(outputs.connectedPeers) ? (outputs.connectedPeers as string[]) : [];
        const missing = config.peers.filter((peer) => !connected.includes(peer));
        if (missing.length === 0) {
            progress.step(region, "wire", "skipped", "every peer connected");
            continue;
        }
        progress.step(region, "wire", "running", `connecting ${missing.join(", ")}`);
        await workspace.up(region, { vaultToken: await adminToken(ports, region, tokens), onOutput: (line) => progress.step(region, "wire", "running", line) });
        report.wired.push(region);
        progress.step(region, "wire", "done");
    }

    // 4. Checks: every store Ready.
    const notReady: string[] = [];
    for (const region of options.regions) {
        progress.step(region, "verify", "running");
        const stores = await ports.cluster.stores(region);
        const bad = stores.filter((store) => !store.ready);
        notReady.push(...bad.map((store) => `region ${region}: ClusterSecretStore ${store.name} is not Ready${store.message ? `: ${store.message}` : ""}`));
        progress.step(region, "verify", bad.length === 0 ? "done" : "failed", `${stores.length - bad.length}/${stores.length} stores Ready`);
    }

    // 5. No root token stays alive unless asked.
    if (!options.keepRootToken) {
        for (const [region, { token, root }] of tokens) {
            if (root) {
                await ports.vault.revoke(region, token);
                report.revokedRootTokens.push(region);
            }
        }
    }
    if (notReady.length > 0) {
        throw new BootstrapError(notReady);
    }
    return report;
}

async function regionConfig(ports: Ports, region: string): Promise<RegionConfig> {
    // The token check of parseConfig is about `pulumi up`'s environment; the bootstrap passes a token there itself.
    const parsed = parseConfig(region, await ports.workspace.config(region), { environment: { VAULT_TOKEN: "set by the bootstrap" } });
    if (!parsed.ok) {
        throw new BootstrapError(parsed.problems);
    }
    if (parsed.config.region !== region) {
        throw new BootstrapError([`stack ${region} deploys region ${parsed.config.region}: the bootstrap expects each region's stack to be named after it`]);
    }
    return parsed.config;
}

async function bringUp(
    ports: Ports,
    options: BootstrapOptions,
    config: RegionConfig,
    tokens: Map<string, { token: Sensitive; root: boolean }>,
    report: BootstrapReport,
): Promise<void> {
    const { workspace, progress, vault } = ports;
    const region = config.region;
    const pods = vaultPodNames(config.vault.replicas ?? VAULT_SERVER_DEFAULTS.replicas);

    await waitForPods(ports, options, region, pods);

    // Init, through the first server; the others join it (retry_join).
    progress.step(region, "init", "running");
    const first = await vault.sealStatus(region, pods[0]);
    let keys: readonly Sensitive[] | undefined;
    if (!first.initialized) {
        const result = await vault.init(region, pods[0], {
            secretShares: options.keyShares,
            secretThreshold: options.keyThreshold,
            pgpKeys: options.pgpKeys,
            rootTokenPgpKey: options.rootTokenPgpKey,
        });
        const encrypted = options.pgpKeys !== undefined;
        await ports.operator.keepOffline(region, { keys: result.keys, rootToken: result.rootToken, encrypted });
        if (!encrypted) {
            keys = result.keys;
        }
        if (options.rootTokenPgpKey === undefined) {
            tokens.set(region, { token: result.rootToken, root: true });
        }
        report.initialized.push(region);
        progress.step(region, "init", "done", `${options.keyShares} key shares, threshold ${options.keyThreshold}`);
    } else {
        progress.step(region, "init", "skipped", "already initialized");
    }

    // Unseal every server still sealed, with the keys in memory or the operator's.
    progress.step(region, "unseal", "running");
    let unsealedAny = false;
    for (const pod of pods) {
        let status = await vault.sealStatus(region, pod);
        if (!status.sealed) {
            continue;
        }
        keys ??= await ports.operator.unsealKeys(region, status.t);
        for (const key of keys) {
            if (!status.sealed) {
                break;
            }
            status = await vault.unseal(region, pod, key);
        }
        if (status.sealed) {
            throw new BootstrapError([`region ${region}: ${pod} is still sealed after ${keys.length} key(s) (progress ${status.progress} of ${status.t}); check the keys and run the bootstrap again`]);
        }
        unsealedAny = true;
        progress.step(region, "unseal", "running", `${pod} unsealed`);
    }
    if (unsealedAny) {
        report.unsealed.push(region);
    }
    progress.step(region, "unseal", unsealedAny ? "done" : "skipped", unsealedAny ? undefined : "every server is unsealed");

    // Configuration: mark the stack and deploy with the admin token in the process environment only.
    const outputs = await workspace.outputs(region);
    if (config.vaultInitialized && outputs[PEER_ACCESS_OUTPUT] !== undefined) {
        progress.step(region, "configure", "skipped", "already configured");
        return;
    }
    progress.step(region, "configure", "running");
    const token = await adminToken(ports, region, tokens);
    if (!config.vaultInitialized) {
        await workspace.setConfig(region, INITIALIZED_KEY, "true");
    }
    await workspace.up(region, { vaultToken: token, onOutput: (line) => progress.step(region, "configure", "running", line) });
    report.configured.push(region);
    progress.step(region, "configure", "done");
}

/** The server side: only while the stack does not configure Vault yet (a configured stack needs a token to run). */
async function deployServer(ports: Ports, config: RegionConfig): Promise<void> {
    const { progress, workspace } = ports;
    const region = config.region;
    if (config.vaultInitialized) {
        progress.step(region, "server", "skipped", "already deployed and configured by its stack");
        return;
    }
    progress.step(region, "server", "running");
    await workspace.up(region, { onOutput: (line) => progress.step(region, "server", "running", line) });
    progress.step(region, "server", "done");
}

async function waitForPods(ports: Ports, options: BootstrapOptions, region: string, pods: readonly string[]): Promise<void> {
    const { cluster, clock, progress } = ports;
    progress.step(region, "pods", "running", `waiting for ${pods.join(", ")}`);
    for (let waited = 0; ; waited += options.pollMs) {
        const running = new Set((await cluster.vaultPods(region)).filter((pod) => pod.running).map((pod) => pod.name));
        const missing = pods.filter((pod) => !running.has(pod));
        if (missing.length === 0) {
            progress.step(region, "pods", "done", `${pods.length} running`);
            return;
        }
        if (waited >= options.podTimeoutMs) {
            progress.step(region, "pods", "failed");
            throw new BootstrapError([
                `region ${region}: ${missing.join(", ")} not running after ${Math.round(options.podTimeoutMs / 1000)} s; check \`kubectl -n <vault namespace> describe pod\` (storage class, node capacity) and run the bootstrap again`,
            ]);
        }
        progress.step(region, "pods", "running", `${pods.length - missing.length}/${pods.length} running`);
        await clock.sleep(options.pollMs);
    }
}

/** The admin token for a region: the root token still in memory, or the operator's (checked). */
async function adminToken(ports: Ports, region: string, tokens: Map<string, { token: Sensitive; root: boolean }>): Promise<Sensitive> {
    const known = tokens.get(region);
    if (known !== undefined) {
        return known.token;
    }
    const given = await ports.operator.adminToken(region);
    if (!(await ports.vault.tokenValid(region, given))) {
        throw new BootstrapError([`region ${region}: the admin token given is not valid for its Vault`]);
    }
    tokens.set(region, { token: given, root: false });
    return given;
}
