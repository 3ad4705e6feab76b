/**
 * The restore of one region's Vault from an off-site Raft snapshot into a fresh cluster (the old one
 * lost), as a sequence of steps over {@link RestorePorts}, each shown as progress and each failing with
 * a line that says what to do. Pure over its ports: tested step by step against the bootstrap's fakes.
 *
 * 1. fetch: read the snapshot from the off-site store, and check it against the `.sha256` written
 *    beside it (when there is one);
 * 2. server: forget the lost cluster's objects in the stack's state (a refresh of the server side's
 *    resources), then deploy the server side only (the Vault servers and ESO) with the stack's gate
 *    `vaultInitialized` off for that run, so the Vault provider is not asked to reach a Vault that is
 *    not there yet; the Vault configuration in the state is left as it is (a targeted update changes
 *    nothing outside its targets);
 * 3. pods: wait for the Vault pods;
 * 4. init: initialize vault-0 as a temporary Vault (one key share, or one recovery share with
 *    auto-unseal), whose keys and root token stay in memory and are worthless after the restore;
 * 5. restore: `POST sys/storage/raft/snapshot-force` with the snapshot, through vault-0 (the
 *    `vault operator raft snapshot restore -force` of the CLI): the Vault now holds the snapshot's
 *    data, keyring and tokens, and is sealed with the snapshot's keys;
 * 6. unseal: with the original region's unseal keys (Shamir), asked from the operator; or, with
 *    auto-unseal, each server unseals itself through the same KMS key. The other servers join vault-0
 *    by their `retry_join` and are unsealed the same way;
 * 7. raft: check that every server is in the Raft configuration as a voter, with a leader (with an
 *    admin token of the restored Vault, asked from the operator);
 * 8. configure: the gate on again, and `pulumi up --refresh` with that token: the state is read back
 *    from the restored Vault and the cluster, and whatever the snapshot predates, or the new cluster
 *    lacks (stores, jobs, peer access), is created again;
 * 9. peers: `pulumi up` in each peer region (its stores to this Vault, its JWT mount for this
 *    region's new cluster), each with its own admin token;
 * 10. stores: wait until this region's stores and each peer's store for it are Ready.
 *
 * Running it again after a failure picks up where it stopped: a server side already deployed is left,
 * a vault-0 already restored is recognized (the original unseal keys open it; Shamir), and the steps
 * after it are idempotent.
 *
 * With OpenBao (the region's `openova-vault:engine`), the same steps on its own names: pods
 * `openbao-<i>`, its product in every message and its CLI in every hint (engineWords.ts). OpenBao
 * serves the same `sys/storage/raft/snapshot-force` and `sys/storage/raft/configuration` (openbao
 * v2.6.2 vault/logical_system_raft.go).
 */
import { createHash } from "node:crypto";
import { type Engine, engineFacts } from "../components/common/engine";
import { parseConfig, PROJECT, type RegionConfig } from "../stack/config";
import { isAutoUnseal, resolvedSeal } from "../components/vault-server/seal";
import { peerStoreName } from "../components/stores/storeSpecs";
import { peersNeedingAccess } from "../components/region/vaultRegion";
import { aProduct, newAdminTokenHint } from "./engineWords";
import { BootstrapError, isManaged, unsealWithKeys, vaultPodNames, waitForAutoUnseal, waitForPods, waitForStatus } from "./orchestrator";
import { poll } from "./poll";
import type { Ports, RaftServer, SnapshotSource } from "./ports";
import type { Sensitive } from "./sensitive";

export interface RestorePorts extends Ports {
    readonly snapshots: SnapshotSource;
}

export interface RestoreOptions {
    /** The region (stack) to restore. */
    readonly region: string;
    /** Where the snapshot is: `s3://`, `gs://`, `https://<account>.blob.core.windows.net/` or `file://`. */
    readonly snapshot: string;
    /** The peer regions to bring in line afterwards (default: none). */
    readonly peers: readonly string[];
    readonly podTimeoutMs: number;
    readonly pollMs: number;
}

export interface RestoreReport {
    readonly region: string;
    readonly snapshotBytes: number;
    readonly sha256: string;
    /** Whether the sha256 was checked against one written beside the snapshot. */
    readonly verified: boolean;
    /** False when an earlier run had restored it already. */
    readonly restored: boolean;
    readonly servers: RaftServer[];
    readonly peersUpdated: string[];
}

const INITIALIZED_KEY = `${PROJECT}:vaultInitialized`;

/** The snapshot URIs the restore reads. */
export const SNAPSHOT_URI =
    /^(s3:\/\/[a-z0-9.-]+\/|gs:\/\/[a-z0-9._-]+\/|https:\/\/[a-z0-9]{3,24}\.blob\.core\.windows\.net\/[a-z0-9-]+\/|file:\/\/\/)[^\s]+$/;

/**
 * Why a region cannot be restored here, if it cannot: its backend is managed, so there is no Vault of
 * this project's, and no Raft snapshot of it, to restore; its provider's own backup is the way back.
 */
export function managedRestoreProblem(config: Pick<RegionConfig, "region" | "backend">): string | undefined {
    return isManaged(config)
        ? `region ${config.region}: its backend is ${config.backend.type}, which keeps no Vault of this project's and no Raft snapshot to restore: recover its secrets with the provider's own backup and recovery, then run \`pulumi up -s ${config.region}\` (its replicated secrets also come back with their homes' next pushes)`
        : undefined;
}

/** Checks the options before anything happens. @returns one line per problem */
export function restoreProblems(options: RestoreOptions, regions: readonly string[]): string[] {
    const problems: string[] = [];
    if (!regions.includes(options.region)) {
        problems.push(`--stack ${options.region} is not one of the regions (${regions.join(", ")})`);
    }
    if (!SNAPSHOT_URI.test(options.snapshot)) {
        problems.push(
            `--snapshot ${JSON.stringify(options.snapshot)} is not a snapshot URI: s3://<bucket>/<key>, gs://<bucket>/<key>, https://<account>.blob.core.windows.net/<container>/<key> or file:///<path>`,
        );
    }
    for (const peer of options.peers) {
        if (peer === options.region || !regions.includes(peer)) {
            problems.push(`--peers names ${peer}, which is not a peer of ${options.region}`);
        }
    }
    return problems;
}

/**
 * The URNs of a region's server side in its stack's state: the Vault servers' and ESO's components,
 * everything under them, and the Kubernetes provider they use. Nothing of Vault's configuration.
 */
export function serverSideUrns(urns: readonly string[]): string[] {
    return urns.filter((urn) => {
        const type = urn.split("::")[2] ?? "";
        return (
            type.includes("openova:vault:VaultServer") ||
            type.includes("openova:vault:ExternalSecretsOperator") ||
            type === "pulumi:providers:kubernetes"
        );
    });
}

/** Restores `options.region` from the snapshot; see the module comment. @throws BootstrapError naming what to do */
export async function restoreRegion(ports: RestorePorts, options: RestoreOptions): Promise<RestoreReport> {
    const { progress, workspace } = ports;
    const region = options.region;
    const parsed = parseConfig(region, await workspace.config(region), {
        environment: { VAULT_TOKEN: "asked later" },
        readFile: (file) => workspace.readFile(file),
    });
    if (!parsed.ok) {
        throw new BootstrapError([...parsed.problems]);
    }
    const config = parsed.config;
    const managed = managedRestoreProblem(config);
    if (managed !== undefined) {
        throw new BootstrapError([managed]);
    }
    const seal = resolvedSeal(config.resolved.vault.seal);
    const auto = isAutoUnseal(seal);
    const engine = config.resolved.engine;
    const pods = vaultPodNames(config.resolved.vault.replicas, engine);
    const wait = { podTimeoutMs: options.podTimeoutMs, pollMs: options.pollMs };

    // 1. The snapshot, checked before anything changes.
    progress.step(region, "fetch", "running", options.snapshot);
    let fetched: { readonly bytes: Uint8Array; readonly sha256?: string };
    try {
        fetched = await ports.snapshots.fetch(options.snapshot);
    } catch (error) {
        progress.step(region, "fetch", "failed");
        throw new BootstrapError([`region ${region}: cannot read the snapshot ${options.snapshot}: ${(error as Error).message}`]);
    }
    const sha256 = createHash("sha256").update(fetched.bytes).digest("hex");
    if (fetched.bytes.length === 0) {
        throw new BootstrapError([`region ${region}: the snapshot ${options.snapshot} is empty`]);
    }
    if (fetched.sha256 !== undefined && fetched.sha256 !== sha256) {
        progress.step(region, "fetch", "failed");
        throw new BootstrapError([
            `region ${region}: the snapshot ${options.snapshot} does not match the sha256 written beside it (${fetched.sha256}, but it is ${sha256}): it is damaged or incomplete; take the one before it`,
        ]);
    }
    progress.step(
        region,
        "fetch",
        "done",
        `${fetched.bytes.length} bytes, sha256 ${sha256}${fetched.sha256 === undefined ? " (no .sha256 beside it to check)" : " (matches)"}`,
    );

    // 2. The server side on the new cluster.
    await deployServerSide(ports, config);

    // 3. The pods.
    await waitForPods(ports, wait, region, pods);

    // 4-6. Init a temporary server, restore, unseal with the original keys (or the KMS).
    const regionServers = new Map<string, RegionServers>([[region, { engine, autoUnseal: auto }]]);
    for (const peer of options.peers) {
        regionServers.set(peer, await serversOf(ports, peer));
    }
    const tokens = new AdminTokens(ports, (r) => regionServers.get(r) ?? { engine, autoUnseal: auto });
    const restored = await restoreInto(ports, tokens, options, config, pods, fetched.bytes, auto);
    if (auto) {
        await waitForAutoUnseal(ports, wait, config, seal, pods, true, { autoUnsealed: [] });
    } else {
        await unsealWithKeys(ports, wait, region, pods, undefined, { unsealed: [] });
    }

    // 7. Raft: every server a voter, with a leader.
    const token = await tokens.checked(region, "the restored");
    const servers = await checkRaft(ports, options, region, pods, token, engine);

    // 8. The stack in line with the restored Vault and the new cluster.
    progress.step(region, "configure", "running", "pulumi up --refresh");
    if (!config.vaultInitialized || (await workspace.config(region))[INITIALIZED_KEY] !== "true") {
        await workspace.setConfig(region, INITIALIZED_KEY, "true");
    }
    await workspace.up(region, {
        vaultToken: token,
        refresh: true,
        onOutput: (line) => progress.step(region, "configure", "running", line),
    });
    progress.step(region, "configure", "done");

    // 9. The peers.
    const peersUpdated: string[] = [];
    /** The updated peers that push to this region, so have a store for it (a managed peer pushes only the secrets it is the home of). */
    const pushingHere: string[] = [];
    for (const peer of options.peers) {
        const peerConfig = await configOf(ports, peer);
        const peerManaged = peerConfig !== undefined && isManaged(peerConfig);
        progress.step(
            peer,
            "peer",
            "running",
            peerManaged
                ? `pulumi up (its store to ${region}; backend ${peerConfig.backend.type}, no admin token)`
                : `pulumi up (its stores to ${region}, its access for ${region}'s new cluster)`,
        );
        const peerToken = peerManaged ? undefined : await tokens.checked(peer, "its");
        await workspace.up(peer, {
            ...(peerToken === undefined ? {} : { vaultToken: peerToken }),
            onOutput: (line) => progress.step(peer, "peer", "running", line),
        });
        peersUpdated.push(peer);
        if (peerConfig === undefined || peersNeedingAccess({ ...peerConfig.resolved, region: peer }).includes(region)) {
            pushingHere.push(peer);
        }
        progress.step(peer, "peer", "done");
    }

    // 10. The stores, here and at the peers that push here.
    await waitForStores(ports, options, region, pushingHere);
    return { region, snapshotBytes: fetched.bytes.length, sha256, verified: fetched.sha256 !== undefined, restored, servers, peersUpdated };
}

/** What a region's servers are, for the words of a message: its engine and whether it unseals itself. */
interface RegionServers {
    readonly engine: Engine;
    readonly autoUnseal: boolean;
}

/** A region's config, from its stack; undefined if it does not parse. */
async function configOf(ports: RestorePorts, region: string): Promise<RegionConfig | undefined> {
    const parsed = parseConfig(region, await ports.workspace.config(region), {
        environment: { VAULT_TOKEN: "asked later" },
        readFile: (file) => ports.workspace.readFile(file),
    });
    return parsed.ok ? parsed.config : undefined;
}

/** A peer's servers, from its stack's config (a stack may run another engine than the project's); Vault with Shamir if it does not parse. */
async function serversOf(ports: RestorePorts, region: string): Promise<RegionServers> {
    const config = await configOf(ports, region);
    return config !== undefined
        ? { engine: config.resolved.engine, autoUnseal: isAutoUnseal(resolvedSeal(config.resolved.vault.seal)) }
        : { engine: "vault", autoUnseal: false };
}

/** Step 2: forget the lost cluster's objects, then deploy the server side alone, with the gate off for that run. */
async function deployServerSide(ports: RestorePorts, config: RegionConfig): Promise<void> {
    const { progress, workspace } = ports;
    const region = config.region;
    progress.step(region, "server", "running", "refreshing the server side's objects in the state");
    const targets = serverSideUrns(await workspace.resources(region));
    if (targets.length === 0) {
        progress.step(region, "server", "failed");
        throw new BootstrapError([
            `region ${region}: its stack's state has no server side to restore into (was it ever deployed?); bring it up with \`npm run bootstrap -- --regions ${region}\` instead`,
        ]);
    }
    const onOutput = (line: string) => progress.step(region, "server", "running", line);
    await workspace.refresh(region, { targets, onOutput });
    // With the gate on, the program would ask the Vault provider to reach a Vault that is not there yet.
    if (config.vaultInitialized) {
        await workspace.setConfig(region, INITIALIZED_KEY, "false");
    }
    await workspace.up(region, { targets, onOutput });
    progress.step(region, "server", "done", `${targets.length} resources`);
}

/** Steps 4 and 5. @returns whether this run restored it (false: an earlier run had) */
async function restoreInto(
    ports: RestorePorts,
    tokens: AdminTokens,
    options: RestoreOptions,
    config: RegionConfig,
    pods: readonly string[],
    snapshot: Uint8Array,
    auto: boolean,
): Promise<boolean> {
    const { progress, vault } = ports;
    const region = config.region;
    const { product } = engineFacts(config.resolved.engine);
    const wait = { podTimeoutMs: options.podTimeoutMs, pollMs: options.pollMs };
    const first = pods[0];
    progress.step(region, "init", "running", `${aProduct(`temporary ${product}`)} on ${first}, to restore into`);
    const status = await waitForStatus(ports, wait, region, first, () => true, "to answer");
    if (status.initialized) {
        // An earlier run got this far. Restored already, it opens with the original keys (Shamir) or
        // unseals itself (KMS), and takes the original server's admin token; a temporary one, whose
        // keys and root token that run held, does neither and cannot be used again.
        progress.step(region, "init", "skipped", `${first} is initialized: checking whether an earlier run restored it`);
        const leftover = new BootstrapError([
            `region ${region}: ${first} holds ${aProduct(`temporary ${product}`)} from an earlier restore run, whose keys are gone. Delete its data (kubectl -n ${config.resolved.vault.namespace} delete pvc data-${first}, then delete pod ${first}) and run the restore again`,
        ]);
        let current = status;
        if (!auto && current.sealed) {
            for (const key of await ports.operator.unsealKeys(region, current.t)) {
                try {
                    current = await vault.unseal(region, first, key);
                } catch {
                    throw leftover;
                }
                if (!current.sealed) {
                    break;
                }
            }
        }
        current = await waitForStatus(ports, wait, region, first, (s) => !s.sealed, "to unseal");
        if (current.sealed || !(await vault.tokenInfo(region, await tokens.get(region))).valid) {
            throw leftover;
        }
        progress.step(region, "restore", "skipped", "an earlier run restored it");
        return false;
    }
    const temporary = await vault.init(region, first, { secretShares: 1, secretThreshold: 1, ...(auto ? { autoUnseal: true } : {}) });
    progress.step(region, "init", "done", "temporary keys, kept in memory only");
    if (!auto) {
        await vault.unseal(region, first, temporary.keys[0]);
    }
    await waitForStatus(ports, wait, region, first, (s) => !s.sealed, "to unseal");
    progress.step(region, "restore", "running", `snapshot restore -force through ${first}`);
    try {
        await vault.restoreSnapshot(region, first, temporary.rootToken, snapshot, true);
    } catch (error) {
        progress.step(region, "restore", "failed");
        throw new BootstrapError([
            `region ${region}: ${product} refused the snapshot: ${(error as Error).message}. The temporary ${product} on ${first} is of no further use: delete its data (kubectl -n ${config.resolved.vault.namespace} delete pvc data-${first}, then delete pod ${first}) before running the restore again`,
        ]);
    }
    progress.step(
        region,
        "restore",
        "done",
        auto ? "the servers unseal themselves through the same KMS key" : "sealed with the original region's keys",
    );
    return true;
}

/** Admin tokens from the operator, asked once per region and kept in memory for the run. */
class AdminTokens {
    private readonly known = new Map<string, Sensitive>();

    constructor(
        private readonly ports: RestorePorts,
        private readonly serversOf: (region: string) => RegionServers,
    ) {}

    /** The operator's token for `region`, asked the first time. */
    async get(region: string): Promise<Sensitive> {
        const known = this.known.get(region);
        if (known !== undefined) {
            return known;
        }
        const token = await this.ports.operator.adminToken(region);
        this.known.set(region, token);
        return token;
    }

    /** The token, checked valid for `region`'s server (`whose`: `the restored`, `its`). @throws BootstrapError when it is not */
    async checked(region: string, whose: string): Promise<Sensitive> {
        const token = await this.get(region);
        if (!(await this.ports.vault.tokenInfo(region, token)).valid) {
            const { engine, autoUnseal } = this.serversOf(region);
            const { product } = engineFacts(engine);
            const restored =
                whose === "the restored"
                    ? `after a restore, a token of the original ${product} is: the snapshot holds its token store; else `
                    : "";
            throw new BootstrapError([
                `region ${region}: the admin token given is not valid for ${whose} ${product} (${restored}make one ${newAdminTokenHint(engine, autoUnseal)})`,
            ]);
        }
        return token;
    }
}

/** Step 7: every server in the Raft configuration as a voter, one leader; waits while followers join. */
async function checkRaft(
    ports: RestorePorts,
    options: RestoreOptions,
    region: string,
    pods: readonly string[],
    token: Sensitive,
    engine: Engine,
): Promise<RaftServer[]> {
    const { progress } = ports;
    progress.step(region, "raft", "running", "waiting for every server to join (retry_join)");
    return poll(ports.clock, { timeoutMs: options.podTimeoutMs, pollMs: options.pollMs }, async (last) => {
        const servers = await ports.vault.raftServers(region, token);
        const voters = servers.filter((s) => s.voter).map((s) => s.nodeId);
        const missing = pods.filter((pod) => !voters.includes(pod));
        const leaders = servers.filter((s) => s.leader);
        if (missing.length === 0 && leaders.length === 1) {
            progress.step(region, "raft", "done", `${voters.length} voters, leader ${leaders[0].nodeId}`);
            return servers;
        }
        if (last) {
            progress.step(region, "raft", "failed");
            throw new BootstrapError([
                `region ${region}: ${missing.length > 0 ? `${missing.join(", ")} did not join the restored Raft cluster` : `${leaders.length} leaders`} within ${Math.round(options.podTimeoutMs / 1000)} s: check their logs for retry_join errors; a server stuck on the temporary ${engineFacts(engine).product}'s join is fixed by deleting its pod (it joins again)`,
            ]);
        }
        progress.step(region, "raft", "running", `${voters.length}/${pods.length} voters`);
        return undefined;
    });
}

/** Step 10: this region's stores, and each updated peer's store for it, Ready. */
async function waitForStores(ports: RestorePorts, options: RestoreOptions, region: string, peers: readonly string[]): Promise<void> {
    const { progress, cluster } = ports;
    progress.step(region, "stores", "running");
    await poll(ports.clock, { timeoutMs: options.podTimeoutMs, pollMs: options.pollMs }, async (last) => {
        const notReady: string[] = [];
        for (const store of await cluster.stores(region)) {
            if (!store.ready) {
                notReady.push(`${region}/${store.name}${store.message ? ` (${store.message})` : ""}`);
            }
        }
        for (const peer of peers) {
            const stores = await cluster.stores(peer);
            const toRegion = stores.find((store) => store.name === peerStoreName(region));
            if (toRegion === undefined || !toRegion.ready) {
                notReady.push(
                    `${peer}/${peerStoreName(region)}${toRegion === undefined ? " (missing)" : toRegion.message ? ` (${toRegion.message})` : ""}`,
                );
            }
        }
        if (notReady.length === 0) {
            progress.step(
                region,
                "stores",
                "done",
                peers.length === 0 ? "this region's stores are Ready" : `Ready here and at ${peers.join(", ")}`,
            );
            return true;
        }
        if (last) {
            progress.step(region, "stores", "failed");
            throw new BootstrapError([`region ${region}: stores not Ready after the restore: ${notReady.join(", ")}`]);
        }
        progress.step(region, "stores", "running", `waiting for ${notReady.join(", ")}`);
        return undefined;
    });
}
