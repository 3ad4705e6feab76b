/**
 * The bootstrap's orchestration: from empty clusters (or any state in between) to every region's
 * Vault initialized, unsealed, configured and wired to its peers. Pure over {@link Ports}: it decides
 * from what it observes (stacks, config, pods, seal status, stack outputs), so running it again picks
 * up where an earlier run stopped, and on a bootstrapped platform it changes nothing.
 *
 * Order: every missing stack is created before any deploy (a stack reference to a missing stack
 * fails); then the server side of every region; then per region its pods, init, unseal and
 * configuration; then, once every region is configured, the pass that wires peers; then the checks.
 *
 * Each region's seal (its `vault.seal` config) decides how it is initialized and unsealed: Shamir
 * (the default) gets unseal keys, and the bootstrap unseals every server with them; an auto-unseal
 * seal (a KMS) gets recovery keys, which cannot unseal, and every server unseals itself (vault-0 right
 * after init, followers once they have joined Raft), so the bootstrap only waits for that.
 *
 * A region whose backend is managed (`openova-vault:backend` other than `vault`) runs no Vault of this
 * project's: its stack is created and deployed like the others (ESO and the backend's stores) and run
 * again in the wiring pass when a peer it pushes to has granted it access since, always without an
 * admin token; there are no pods to wait for and nothing to initialize, unseal or configure. The key
 * settings matter only when some region has the self-hosted Vault.
 *
 * Each region's engine (its `engine` config) names its servers (`vault-<i>`, or `openbao-<i>`), its
 * CLI in the hints and its product in every message (engineWords.ts); the HTTP API is the same.
 */
import { PROVIDER_JWT_VARIABLE } from "../components/backends/hcpVault";
import { parseConfig, PROJECT, type RegionConfig } from "../stack/config";
import { LOCAL_PUSH_STORE_NAME, LOCAL_STORE_NAME, peerStoreName } from "../components/stores/storeSpecs";
import { type ResolvedVaultSealOptions, isAutoUnseal, resolvedSeal } from "../components/vault-server/seal";
import { type Engine, engineFacts } from "../components/common/engine";
import type { BackendType } from "../components/backends/backendOptions";
import { peersNeedingAccess } from "../components/region/vaultRegion";
import { canaryProblems, verifyReplication } from "./canary";
import { keptRootTokenAdvice, newAdminTokenHint, productOf, revokeCommand } from "./engineWords";
import { poll } from "./poll";
import type { Ports, SealStatus } from "./ports";
import type { Sensitive } from "./sensitive";

export interface BootstrapOptions {
    /** Regions to bring up, in order; each is the stack of the same name. */
    readonly regions: readonly string[];
    /**
     * Key shares and threshold for a Vault being initialized: of its unseal keys (Shamir), or of its
     * recovery keys (auto-unseal).
     */
    readonly keyShares: number;
    readonly keyThreshold: number;
    /** Operator PGP public keys (base64), one per share: the unseal (or recovery) keys are returned encrypted. */
    readonly pgpKeys?: readonly string[];
    /** PGP public key (base64) for the root token. */
    readonly rootTokenPgpKey?: string;
    /**
     * Keep the initial root tokens alive at the end (default: revoke them where the unseal keys can
     * make a new one, Vault; an OpenBao region's is kept anyway: see {@link mayRevokeRootToken}).
     */
    readonly keepRootToken: boolean;
    /** Whether a person is at a terminal; without one, nothing unencrypted may be shown. */
    readonly interactive: boolean;
    /** After the checks, send a canary secret through every region and time it (`--verify`). */
    readonly verify?: boolean;
    /** How long to wait for a region's Vault pods, and how often to look. */
    readonly podTimeoutMs: number;
    readonly pollMs: number;
}

/** How long to wait for pods and servers, and how often to look; the bootstrap's and the restore's. */
export type Waiting = Pick<BootstrapOptions, "podTimeoutMs" | "pollMs">;

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
    /** Regions whose servers the bootstrap unsealed with keys (Shamir). */
    readonly unsealed: string[];
    /** Regions whose sealed servers it waited for until they had unsealed themselves (auto-unseal). */
    readonly autoUnsealed: string[];
    readonly configured: string[];
    readonly wired: string[];
    readonly revokedRootTokens: string[];
    /** Root tokens left alive because the region's engine makes no new one from the unseal keys (OpenBao). */
    readonly keptRootTokens?: string[];
    /** The engine of each region the run looked at (its config), for the summary's words; a region not in it runs Vault. */
    readonly engines?: Readonly<Record<string, Engine>>;
    /** The regions whose backend is managed (no Vault of this project's there: nothing to initialize or unseal), with their backend. */
    readonly managed?: Readonly<Record<string, BackendType>>;
    /** With `verify`: how long the timed canary write took to reach every region, and the bound, in ms. */
    canary?: { readonly tookMs: number; readonly boundMs: number };
}

const INITIALIZED_KEY = `${PROJECT}:vaultInitialized`;

/**
 * Whether the bootstrap revokes a region's root token when it is done: only where a quorum of the
 * unseal (or recovery) keys makes a new one, as Vault does. OpenBao 2.6 makes a root token only for a
 * caller who already holds a token, so revoking its last admin credential would lock the operator
 * out for good: its root token is kept, and the summary says to replace it and revoke it.
 */
export function mayRevokeRootToken(config: RegionConfig | undefined): boolean {
    return engineFacts(config?.resolved.engine).rootGeneration === "keys";
}

/** The server pods of a region: `vault-0` .. `vault-<replicas-1>` (the chart's StatefulSet; `openbao-<i>` with OpenBao). */
export function vaultPodNames(replicas: number, engine: Engine = "vault"): string[] {
    return Array.from({ length: replicas }, (_, i) => `${engineFacts(engine).releaseName}-${i}`);
}

/**
 * Whether a region's backend is managed (`openova-vault:backend` other than `vault`): its stack runs
 * ESO and the backend's stores only, so it has no Vault of this project's to initialize, unseal or
 * configure, and no admin token.
 */
export function isManaged(config: Pick<RegionConfig, "backend">): boolean {
    return config.backend.type !== "vault";
}

/**
 * The peers a region's run connects once their stacks have published what it needs: every peer whose
 * backend is managed (its store needs no grant), and every self-hosted peer it pushes to (all of them
 * from a self-hosted region; from a managed one, only those it is the home of a secret for, the
 * canary's included: vaultRegion.ts `peersNeedingAccess`). A self-hosted peer grants a managed region
 * nothing else, so no store for it is expected.
 */
export function expectedPeers(config: RegionConfig, backends: ReadonlyMap<string, BackendType>): string[] {
    const pushes = peersNeedingAccess({ ...config.resolved, region: config.region });
    return config.peers.filter((peer) => (backends.get(peer) ?? "vault") !== "vault" || pushes.includes(peer));
}

/** The peers a region's last run connected, from its stack outputs. */
function connectedPeersOf(outputs: Readonly<Record<string, unknown>>): string[] {
    return Array.isArray(outputs.connectedPeers) ? (outputs.connectedPeers as string[]) : [];
}

/** How the lines name a managed backend. */
export function managedWords(type: BackendType): string {
    return `backend ${type}, run by its provider`;
}

/**
 * Checks the options before anything happens. The key settings matter only where a Vault may be
 * initialized: with `selfHosted` empty (every region's backend is managed), they are not checked, and
 * no PGP key is needed without a terminal. @returns one line per problem
 * @param selfHosted the regions with a self-hosted Vault (default: all of them, before their configs are read)
 */
export function optionProblems(options: BootstrapOptions, selfHosted: readonly string[] = options.regions): string[] {
    return [...(options.regions.length === 0 ? ["--regions names no region"] : []), ...(selfHosted.length > 0 ? keyProblems(options) : [])];
}

/** The key settings' problems: what a Vault being initialized gets (its unseal or recovery keys, the root token). */
export function keyProblems(options: BootstrapOptions): string[] {
    const problems: string[] = [];
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
        problems.push(
            `--pgp-keys lists ${options.pgpKeys.length} key(s), but --key-shares is ${options.keyShares}: give one PGP key per share`,
        );
    }
    if (!options.interactive && (options.pgpKeys === undefined || options.rootTokenPgpKey === undefined)) {
        problems.push(
            "--non-interactive needs --pgp-keys (one per share) and --root-token-pgp-key: without a terminal, new unseal keys and the root token may only be shown encrypted",
        );
    }
    return problems;
}

/**
 * Bootstraps every region. A run that fails keeps the root tokens it holds alive (running it again
 * needs them, and revokes them when it completes) and says whose they are.
 * @throws BootstrapError when something needs the operator, or a step failed
 */
export async function bootstrap(ports: Ports, options: BootstrapOptions): Promise<BootstrapReport> {
    // The key settings are checked once the regions' configs say whether any has a Vault to initialize.
    const problems = optionProblems(options, []);
    if (problems.length > 0) {
        throw new BootstrapError(problems);
    }
    /** Admin tokens in memory, per region: the root token from init, or what the operator gave. */
    const tokens = new Map<string, { token: Sensitive; root: boolean }>();
    const configs = new Map<string, RegionConfig>();
    let report: BootstrapReport;
    try {
        report = await run(ports, options, tokens, configs);
    } catch (error) {
        const lines = error instanceof BootstrapError ? [...error.lines] : [error instanceof Error ? error.message : String(error)];
        // Root tokens no later run will ask for are revoked now (a later run asks only for a region it
        // still has to configure or connect, or the first one to --verify); the others stay alive for
        // it, and are named.
        const complete = await completeRegions(ports, tokens, configs);
        const home = options.regions[0];
        const notNeeded = [...complete].filter(
            (region) =>
                tokens.get(region)?.root === true &&
                !(options.verify === true && region === home) &&
                mayRevokeRootToken(configs.get(region)),
        );
        const failed = await revokeRootTokens(ports, tokens, notNeeded);
        throw new BootstrapError([...lines, ...rootTokensLeft(tokens, new Set(notNeeded), failed, configs)]);
    }
    // No root token stays alive unless asked.
    if (!options.keepRootToken) {
        const held = [...tokens].filter(([, { root }]) => root).map(([region]) => region);
        const roots = held.filter((region) => mayRevokeRootToken(configs.get(region)));
        report.keptRootTokens?.push(...held.filter((region) => !roots.includes(region)));
        const failed = await revokeRootTokens(ports, tokens, roots);
        report.revokedRootTokens.push(...roots.filter((region) => !failed.includes(region)));
        if (failed.length > 0) {
            throw new BootstrapError([
                `everything else is done, but revoking the root token of ${failed.join(", ")} failed`,
                ...rootTokensLeft(tokens, new Set(failed), failed, configs),
            ]);
        }
    }
    return report;
}

/** Of the regions whose token is held, those configured and connected to every peer (as far as can be told now). */
async function completeRegions(
    ports: Ports,
    tokens: Map<string, { token: Sensitive; root: boolean }>,
    configs: ReadonlyMap<string, RegionConfig>,
): Promise<Set<string>> {
    const complete = new Set<string>();
    for (const region of tokens.keys()) {
        const config = configs.get(region);
        try {
            const outputs = await ports.workspace.outputs(region);
            const connected = connectedPeersOf(outputs);
            if (config !== undefined && outputs.vaultConfigured === true && config.peers.every((peer) => connected.includes(peer))) {
                complete.add(region);
            }
        } catch {
            // Cannot tell: keep its token for the next run.
        }
    }
    return complete;
}

/**
 * Revokes the root tokens of `regions`, each on its own (one failure does not keep the others alive),
 * and forgets them. @returns the regions whose token could not be revoked
 */
async function revokeRootTokens(
    ports: Ports,
    tokens: Map<string, { token: Sensitive; root: boolean }>,
    regions: readonly string[],
): Promise<string[]> {
    const failed: string[] = [];
    for (const region of regions) {
        const held = tokens.get(region);
        if (held === undefined) {
            continue;
        }
        try {
            await ports.vault.revoke(region, held.token);
            tokens.delete(region);
        } catch {
            failed.push(region);
        }
    }
    return failed;
}

async function run(
    ports: Ports,
    options: BootstrapOptions,
    tokens: Map<string, { token: Sensitive; root: boolean }>,
    configs: Map<string, RegionConfig>,
): Promise<BootstrapReport> {
    const { workspace, progress } = ports;
    const engines: Record<string, Engine> = {};
    const managed: Record<string, BackendType> = {};
    const report: BootstrapReport = {
        created: [],
        initialized: [],
        unsealed: [],
        autoUnsealed: [],
        configured: [],
        wired: [],
        revokedRootTokens: [],
        keptRootTokens: [],
        engines,
        managed,
    };

    // 0. Every region's config, read from its stack file (a stack not created yet has the committed one):
    //    whether it has a Vault to initialize decides which options matter.
    for (const region of options.regions) {
        const config = await regionConfig(ports, region, options.regions);
        configs.set(region, config);
        engines[region] = config.resolved.engine;
        if (isManaged(config)) {
            managed[region] = config.backend.type;
        }
    }
    const ordered = options.regions.map((region) => configs.get(region) as RegionConfig);
    const unfit = [
        ...optionProblems(
            options,
            ordered.filter((config) => !isManaged(config)).map((config) => config.region),
        ),
        // The canary needs a home it can write into.
        ...(options.verify === true ? canaryProblems(ordered) : []),
    ];
    if (unfit.length > 0) {
        throw new BootstrapError([...unfit, "nothing was changed"]);
    }
    const backends = new Map(ordered.map((config) => [config.region, config.backend.type]));

    //    Then every region's cluster answers and has what the region needs (the program's preflight),
    //    and its Vault answers where it already runs: all checked before anything changes, in every
    //    region, one line per problem.
    const unreachable = (await Promise.all(options.regions.map((region) => reachability(ports, region)))).flat();
    if (unreachable.length > 0) {
        throw new BootstrapError([...unreachable, "nothing was changed"]);
    }

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
    for (const region of options.regions) {
        configs.set(region, await deployServer(ports, configs.get(region) as RegionConfig));
    }
    for (const region of options.regions) {
        await bringUp(ports, options, configs.get(region) as RegionConfig, tokens, report);
    }

    // 3. Wire the peers: run each region again once every peer has granted it access (a JWT mount, or a token).
    for (const region of options.regions) {
        const config = configs.get(region) as RegionConfig;
        const outputs = await workspace.outputs(region);
        const connected = connectedPeersOf(outputs);
        const expected = expectedPeers(config, backends);
        const missing = expected.filter((peer) => !connected.includes(peer));
        if (missing.length === 0) {
            progress.step(
                region,
                "wire",
                "skipped",
                expected.length === config.peers.length ? "every peer connected" : connectedDetail(expected),
            );
            continue;
        }
        progress.step(region, "wire", "running", `connecting ${missing.join(", ")}`);
        await workspace.up(region, {
            // A managed region's run takes no admin token (nothing of ours to configure there; an HCP
            // region's Vault provider logs in with what its backend.providerAuth names, from this process's environment).
            ...(isManaged(config) ? {} : { vaultToken: await adminToken(ports, config, tokens) }),
            onOutput: (line) => progress.step(region, "wire", "running", line),
        });
        const after = await workspace.outputs(region);
        const still = expected.filter((peer) => !connectedPeersOf(after).includes(peer));
        if (still.length > 0) {
            progress.step(region, "wire", "failed");
            throw new BootstrapError([
                `region ${region}: not connected to ${still.join(", ")} after its run: see the warnings of \`pulumi up -s ${region}\` (a peer that has granted it no access: that peer's own warnings say why)`,
            ]);
        }
        report.wired.push(region);
        progress.step(region, "wire", "done");
    }

    // 4. Checks: every region's stores (its own Vault's and one per peer) Ready, waiting for ESO to reconcile them.
    const notReady: string[] = [];
    for (const region of options.regions) {
        const config = configs.get(region) as RegionConfig;
        notReady.push(...(await storesReady(ports, options, config, expectedPeers(config, backends))));
    }
    if (notReady.length > 0) {
        throw new BootstrapError(notReady);
    }

    // 5. With --verify: a canary write in the first region reaches every region within the bound.
    if (options.verify === true) {
        const result = await verifyReplication(ports, ordered, await adminToken(ports, ordered[0], tokens), options.pollMs);
        if ("problems" in result) {
            throw new BootstrapError(result.problems);
        }
        report.canary = result;
    }

    return report;
}

/**
 * @returns why the region's cluster cannot be reached, what it lacks of the region's prerequisites, and
 * whether its first running server (`vault-0`, `openbao-0`: the cluster lists the engine's server pods)
 * cannot be reached (nothing when all is well)
 */
async function reachability(ports: Ports, region: string): Promise<string[]> {
    let pods;
    try {
        pods = await ports.cluster.vaultPods(region);
    } catch (error) {
        return [`region ${region}: its Kubernetes API did not answer: ${(error as Error).message}`];
    }
    const missing = await ports.cluster.missingPrerequisites(region);
    const first = pods.find((pod) => pod.name.endsWith("-0") && pod.running);
    if (first === undefined) {
        return missing;
    }
    try {
        await ports.vault.sealStatus(region, first.name);
        return missing;
    } catch (error) {
        return [...missing, `region ${region}: its server ${first.name} did not answer: ${(error as Error).message}`];
    }
}

/** A line for every root token a failed run leaves alive, saying whether a later run will revoke it. */
function rootTokensLeft(
    tokens: Map<string, { token: Sensitive; root: boolean }>,
    notNeeded: ReadonlySet<string>,
    failed: readonly string[],
    configs: ReadonlyMap<string, RegionConfig>,
): string[] {
    const alive = [...tokens].filter(([, { root }]) => root).map(([region]) => region);
    const forNextRun = alive.filter((region) => !notNeeded.has(region) && !failed.includes(region));
    const yours = alive.filter((region) => !forNextRun.includes(region));
    const engineOf = (region: string): Engine => configs.get(region)?.resolved.engine ?? "vault";
    const commands = [...new Set(yours.map((region) => revokeCommand(engineOf(region))))];
    const kept = yours.filter((region) => !mayRevokeRootToken(configs.get(region)));
    const revokedLater = forNextRun.filter((region) => mayRevokeRootToken(configs.get(region)));
    const keptLater = forNextRun.filter((region) => !revokedLater.includes(region));
    return [
        ...(revokedLater.length > 0
            ? [`the root token of ${revokedLater.join(", ")} is still alive: the next run asks for it, and revokes it when it completes`]
            : []),
        ...(keptLater.length > 0
            ? [
                  `the root token of ${keptLater.join(", ")} is still alive: the next run asks for it, and keeps it (${productOf(keptLater.map(engineOf))} makes no root token from the unseal keys alone)`,
              ]
            : []),
        ...(yours.length > 0
            ? [
                  `the root token of ${yours.join(", ")} is still alive and no later run needs it: revoke it (${commands.map((command) => `\`${command}\``).join(" or ")})${kept.length > 0 ? `, for ${kept.join(", ")} once ${keptRootTokenAdvice(kept.map(engineOf))}` : ""}`,
              ]
            : []),
    ];
}

/** The wire step's detail for a region that connects only some of its peers. */
function connectedDetail(expected: readonly string[]): string {
    return expected.length === 0
        ? "no peer to connect (it pushes to none with a self-hosted Vault)"
        : `connected to ${expected.join(", ")}`;
}

async function storesReady(ports: Ports, options: BootstrapOptions, config: RegionConfig, peers: readonly string[]): Promise<string[]> {
    const { progress, cluster, clock } = ports;
    const region = config.region;
    const expected = [LOCAL_STORE_NAME, LOCAL_PUSH_STORE_NAME, ...peers.map(peerStoreName)];
    progress.step(region, "verify", "running");
    return poll(clock, { timeoutMs: options.podTimeoutMs, pollMs: options.pollMs }, async (last) => {
        const stores = await cluster.stores(region);
        const problems = expected.flatMap((name) => {
            const store = stores.find((s) => s.name === name);
            return store === undefined
                ? [`region ${region}: ClusterSecretStore ${name} does not exist`]
                : store.ready
                  ? []
                  : [`region ${region}: ClusterSecretStore ${name} is not Ready${store.message ? `: ${store.message}` : ""}`];
        });
        if (problems.length === 0) {
            progress.step(region, "verify", "done", `${expected.length}/${expected.length} stores Ready`);
            return [];
        }
        if (last) {
            progress.step(region, "verify", "failed", `${expected.length - problems.length}/${expected.length} stores Ready`);
            return problems;
        }
        return undefined;
    });
}

async function regionConfig(ports: Ports, region: string, regions: readonly string[]): Promise<RegionConfig> {
    // The credential checks of parseConfig are about `pulumi up`'s environment: the bootstrap passes a
    // self-hosted Vault's token there itself, and an HCP region's provider login was checked by the
    // command line before anything changed. Files the config names (the CA) are read as `pulumi up` reads them.
    const parsed = parseConfig(region, await ports.workspace.config(region), {
        environment: { VAULT_TOKEN: "set by the bootstrap", [PROVIDER_JWT_VARIABLE]: "checked by the command line" },
        readFile: (file) => ports.workspace.readFile(file),
    });
    if (!parsed.ok) {
        throw new BootstrapError(parsed.problems);
    }
    sealOf(parsed.config);
    if (parsed.config.region !== region) {
        throw new BootstrapError([
            `stack ${region} deploys region ${parsed.config.region}: the bootstrap expects each region's stack to be named after it`,
        ]);
    }
    const left = parsed.config.peers.filter((peer) => !regions.includes(peer));
    if (left.length > 0) {
        throw new BootstrapError([
            `stack ${region} reads its peers ${left.join(", ")}, which --regions leaves out: every region of openova-vault:regions must be brought up together (a stack reference to a missing stack fails)`,
        ]);
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
    if (isManaged(config)) {
        // No pods to wait for, nothing to initialize, unseal or configure: the provider runs the backend.
        progress.step(region, "init", "skipped", `${managedWords(config.backend.type)}: nothing to initialize or unseal here`);
        return;
    }
    const engine = engineFacts(config.resolved.engine);
    const pods = vaultPodNames(config.resolved.vault.replicas, engine.engine);
    const seal = sealOf(config);
    const auto = isAutoUnseal(seal);

    await waitForPods(ports, options, region, pods);

    // Init, through the first server, only if no server is initialized; the others join it (retry_join).
    progress.step(region, "init", "running");
    const statuses: SealStatus[] = [];
    for (const pod of pods) {
        statuses.push(await waitForStatus(ports, options, region, pod, () => true, "to answer"));
    }
    let keys: readonly Sensitive[] | undefined;
    if (statuses.every((status) => !status.initialized)) {
        // With auto-unseal, the key settings are the recovery keys' (the server refuses unseal-key settings then).
        const result = await vault.init(region, pods[0], {
            secretShares: options.keyShares,
            secretThreshold: options.keyThreshold,
            pgpKeys: options.pgpKeys,
            rootTokenPgpKey: options.rootTokenPgpKey,
            ...(auto ? { autoUnseal: true } : {}),
        });
        const keysEncrypted = options.pgpKeys !== undefined;
        const rootTokenEncrypted = options.rootTokenPgpKey !== undefined;
        await ports.operator.keepOffline(region, {
            keys: result.keys,
            rootToken: result.rootToken,
            keysEncrypted,
            rootTokenEncrypted,
            ...(auto ? { recovery: true } : {}),
            engine: engine.engine,
        });
        // Recovery keys cannot unseal: they are shown, never kept.
        if (!keysEncrypted && !auto) {
            keys = result.keys;
        }
        if (!rootTokenEncrypted) {
            tokens.set(region, { token: result.rootToken, root: true });
        }
        report.initialized.push(region);
        progress.step(
            region,
            "init",
            "done",
            auto
                ? `${options.keyShares} recovery key shares, threshold ${options.keyThreshold} (auto-unseal through ${seal.type})`
                : `${options.keyShares} key shares, threshold ${options.keyThreshold}`,
        );
    } else if (!statuses[0].initialized && statuses.some((status) => status.initialized && status.sealed)) {
        // A sealed follower that is initialized holds Raft data of its own: vault-0 lost its volume.
        throw new BootstrapError([
            `region ${region}: ${pods[0]} is not initialized but other servers are: its data is gone. Not initializing a second cluster: restore ${pods[0]}'s volume, or unseal another server and remove ${pods[0]} from Raft (\`${engine.cli} operator raft remove-peer\`)`,
        ]);
    } else {
        progress.step(region, "init", "skipped", "already initialized");
    }

    if (auto) {
        await waitForAutoUnseal(
            ports,
            options,
            config,
            seal,
            pods,
            statuses.some((status) => status.sealed),
            report,
        );
    } else {
        await unsealWithKeys(ports, options, region, pods, keys, report);
    }

    // Configuration: mark the stack and deploy with the admin token in the process environment only.
    const outputs = await workspace.outputs(region);
    if (config.vaultInitialized && outputs.vaultConfigured === true) {
        progress.step(region, "configure", "skipped", "already configured");
        return;
    }
    progress.step(region, "configure", "running");
    const token = await adminToken(ports, config, tokens);
    if (!config.vaultInitialized) {
        await workspace.setConfig(region, INITIALIZED_KEY, "true");
    }
    await workspace.up(region, { vaultToken: token, onOutput: (line) => progress.step(region, "configure", "running", line) });
    report.configured.push(region);
    progress.step(region, "configure", "done");
}

/**
 * Shamir: unseals every server still sealed, with the keys from init or (after a restart) the
 * operator's, vault-0 first: a follower joins it (retry_join) only once it is unsealed, reports
 * initialized only then, and finishes unsealing after its last key (in the background).
 */
export async function unsealWithKeys(
    ports: Ports,
    options: Waiting,
    region: string,
    pods: readonly string[],
    fromInit: readonly Sensitive[] | undefined,
    report: Pick<BootstrapReport, "unsealed">,
): Promise<void> {
    const { progress, vault } = ports;
    let keys = fromInit;
    progress.step(region, "unseal", "running");
    let unsealedAny = false;
    for (const pod of pods) {
        let status = await waitForStatus(
            ports,
            options,
            region,
            pod,
            (s) => !s.sealed || (s.initialized && s.t > 0),
            "to join the Raft cluster",
        );
        if (!status.sealed) {
            continue;
        }
        keys ??= await ports.operator.unsealKeys(region, status.t);
        // Key by key until the threshold is met: unsealed, or (a follower) progress back to 0 while it
        // finishes. A key an interrupted earlier run entered already counts once; Vault ignores it again.
        for (const key of keys) {
            status = await vault.unseal(region, pod, key);
            if (!status.sealed || status.progress === 0) {
                break;
            }
        }
        status = await waitForStatus(ports, options, region, pod, (s) => !s.sealed || (s.progress > 0 && s.progress < s.t), "to unseal");
        if (status.sealed) {
            throw new BootstrapError([
                `region ${region}: ${pod} is still sealed after ${keys.length} key(s) (progress ${status.progress} of ${status.t}); check the keys and run the bootstrap again`,
            ]);
        }
        unsealedAny = true;
        progress.step(region, "unseal", "running", `${pod} unsealed`);
    }
    if (unsealedAny) {
        report.unsealed.push(region);
    }
    progress.step(region, "unseal", unsealedAny ? "done" : "skipped", unsealedAny ? undefined : "every server is unsealed");
}

/**
 * Auto-unseal: nothing to unseal by hand (and no keys are asked for). Waits, server by server, until
 * each reports initialized and unsealed: vault-0 unseals itself right after init (or a restart), a
 * follower once it has joined Raft. One that stays sealed cannot reach its KMS or is refused by it.
 * @param sawSealed whether a server was already seen sealed (before init, say)
 */
export async function waitForAutoUnseal(
    ports: Ports,
    options: Waiting,
    config: RegionConfig,
    seal: ResolvedVaultSealOptions,
    pods: readonly string[],
    sawSealed: boolean,
    report: Pick<BootstrapReport, "autoUnsealed">,
): Promise<void> {
    const { progress, vault, clock } = ports;
    const region = config.region;
    const namespace = config.resolved.vault.namespace;
    let waited = sawSealed;
    progress.step(region, "unseal", "running", `auto-unseal through ${seal.type}: waiting for every server to unseal itself`);
    for (const pod of pods) {
        await poll(clock, { timeoutMs: options.podTimeoutMs, pollMs: options.pollMs }, async (last) => {
            let status: SealStatus;
            try {
                status = await vault.sealStatus(region, pod);
            } catch (error) {
                // A container that just started may not listen yet: keep trying until the timeout.
                if (last) {
                    throw error;
                }
                progress.step(region, "unseal", "running", `waiting for ${pod} to answer`);
                return undefined;
            }
            if (status.initialized && !status.sealed) {
                return status;
            }
            waited = true;
            if (last) {
                progress.step(region, "unseal", "failed", `${pod} is still sealed`);
                throw new BootstrapError([autoUnsealTimeout(region, namespace, pod, seal, status, options.podTimeoutMs)]);
            }
            progress.step(
                region,
                "unseal",
                "running",
                `waiting for ${pod} to ${status.initialized ? "unseal itself" : "join the Raft cluster and unseal itself"} (${seal.type})`,
            );
            return undefined;
        });
    }
    if (waited) {
        report.autoUnsealed.push(region);
        progress.step(region, "unseal", "done", `every server unsealed itself (auto-unseal through ${seal.type})`);
    } else {
        progress.step(region, "unseal", "skipped", "every server is unsealed");
    }
}

/** Why an auto-unseal server is still sealed, most likely, and what to check. */
function autoUnsealTimeout(
    region: string,
    namespace: string,
    pod: string,
    seal: ResolvedVaultSealOptions,
    status: SealStatus,
    timeoutMs: number,
): string {
    const seconds = Math.round(timeoutMs / 1000);
    const credentials =
        seal.type === "shamir"
            ? ""
            : seal.credentials === "secret"
              ? `the Secret ${seal.credentialsSecret ?? "(vault.seal.credentialsSecret)"} in namespace ${namespace} is missing or holds wrong credentials`
              : `the workload identity ${seal.workloadIdentity ?? "(vault.seal.workloadIdentity)"} is not bound to the servers' service account or may not use the key`;
    const state = status.initialized
        ? `is still sealed after ${seconds} s`
        : `has not joined the Raft cluster and unsealed itself after ${seconds} s`;
    return (
        `region ${region}: ${pod} ${state}, but with vault.seal.type ${seal.type} it unseals itself through the KMS: the KMS is unreachable from the cluster, or ${credentials}. ` +
        `Check \`kubectl -n ${namespace} logs ${pod}\` for seal${status.initialized ? "" : " and retry_join"} errors, fix it, and run the bootstrap again (it asks for no unseal keys)`
    );
}

/** The region's seal, from its validated config. */
function sealOf(config: RegionConfig): ResolvedVaultSealOptions {
    return resolvedSeal(config.resolved.vault.seal);
}

/**
 * The server side: only while the stack does not configure Vault yet (a configured stack needs a
 * token to run); a managed region's (ESO and its backend's stores) only until it is first deployed.
 * A stack never deployed starts with `vaultInitialized` false, whatever its file says (the committed
 * ones say true): there is no Vault yet, so nothing to configure or to lose.
 * @returns the config as it now is
 */
async function deployServer(ports: Ports, config: RegionConfig): Promise<RegionConfig> {
    const { progress, workspace } = ports;
    const region = config.region;
    let current = config;
    if (current.vaultInitialized && (await workspace.outputs(region)).regionName === undefined) {
        await workspace.setConfig(region, INITIALIZED_KEY, "false");
        current = { ...current, vaultInitialized: false };
    }
    if (current.vaultInitialized) {
        progress.step(region, "server", "skipped", "already deployed and configured by its stack");
        return current;
    }
    // A managed region's stack has nothing to wait for between its runs: once deployed, only the wiring may run it again.
    if (isManaged(current) && (await workspace.outputs(region)).regionName !== undefined) {
        progress.step(region, "server", "skipped", `already deployed by its stack (${managedWords(current.backend.type)})`);
        return current;
    }
    progress.step(
        region,
        "server",
        "running",
        isManaged(current) ? `ESO and the ${current.backend.type} stores, no Vault server` : undefined,
    );
    await workspace.up(region, { onOutput: (line) => progress.step(region, "server", "running", line) });
    progress.step(region, "server", "done");
    return current;
}

export async function waitForPods(ports: Ports, options: Waiting, region: string, pods: readonly string[]): Promise<void> {
    const { cluster, clock, progress } = ports;
    progress.step(region, "pods", "running", `waiting for ${pods.join(", ")}`);
    await poll(clock, { timeoutMs: options.podTimeoutMs, pollMs: options.pollMs }, async (last) => {
        const running = new Set((await cluster.vaultPods(region)).filter((pod) => pod.running).map((pod) => pod.name));
        const missing = pods.filter((pod) => !running.has(pod));
        if (missing.length === 0) {
            progress.step(region, "pods", "done", `${pods.length} running`);
            return true;
        }
        if (last) {
            progress.step(region, "pods", "failed");
            throw new BootstrapError([
                `region ${region}: ${missing.join(", ")} not running after ${Math.round(options.podTimeoutMs / 1000)} s; check \`kubectl -n <vault namespace> describe pod\` (storage class, node capacity) and run the bootstrap again`,
            ]);
        }
        progress.step(region, "pods", "running", `${pods.length - missing.length}/${pods.length} running`);
        return undefined;
    });
}

/**
 * Polls a server's seal status until `done` holds (or the pod timeout passes). @returns the last status
 * @throws BootstrapError when it never does and the server stays sealed
 */
export async function waitForStatus(
    ports: Ports,
    options: Waiting,
    region: string,
    pod: string,
    done: (status: SealStatus) => boolean,
    what: string,
): Promise<SealStatus> {
    return poll(ports.clock, { timeoutMs: options.podTimeoutMs, pollMs: options.pollMs }, async (last) => {
        let status: SealStatus;
        try {
            status = await ports.vault.sealStatus(region, pod);
        } catch (error) {
            // A container that just started may not listen yet: keep trying until the timeout.
            if (last) {
                throw error;
            }
            ports.progress.step(region, "unseal", "running", `waiting for ${pod} to answer`);
            return undefined;
        }
        if (done(status) || (last && !status.sealed)) {
            return status;
        }
        if (last) {
            if (!status.initialized) {
                throw new BootstrapError([
                    `region ${region}: ${pod} did not join the Raft cluster within ${Math.round(options.podTimeoutMs / 1000)} s: check its logs (\`kubectl logs ${pod}\`) for retry_join errors`,
                ]);
            }
            return status;
        }
        ports.progress.step(region, "unseal", "running", `waiting for ${pod} ${what}`);
        return undefined;
    });
}

/** The admin token for a region: the root token still in memory, or the operator's (checked). */
async function adminToken(
    ports: Ports,
    config: RegionConfig,
    tokens: Map<string, { token: Sensitive; root: boolean }>,
): Promise<Sensitive> {
    const region = config.region;
    const known = tokens.get(region);
    if (known !== undefined) {
        return known.token;
    }
    const given = await ports.operator.adminToken(region);
    const info = await ports.vault.tokenInfo(region, given);
    if (!info.valid) {
        throw new BootstrapError([
            `region ${region}: the admin token given is not valid for its ${productOf([config.resolved.engine])} (a root token an earlier run revoked? make a new one ${newAdminTokenHint(config.resolved.engine, isAutoUnseal(sealOf(config)))})`,
        ]);
    }
    // A root token the operator gives is revoked at the end like one from init.
    tokens.set(region, { token: given, root: info.root });
    return given;
}
