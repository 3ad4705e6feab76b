/**
 * `--verify`: a canary secret written into one region's Vault must reach every region's Kubernetes
 * Secret within the bound docs/consistency.md states. The canary uses the same ESO objects as any
 * replicated secret (built by components/replication/replicationSpecs.ts): an ExternalSecret in every region
 * and, in the first region (its home), a PushSecret to each peer, all in ESO's namespace.
 *
 * Two writes: the first sets the canary up (new ESO objects reconcile at once, faster than the steady
 * state); the second is timed, with the objects in place, as any later write would be. Afterwards the
 * ESO objects are deleted (the ExternalSecrets' Secrets with them); the canary's path stays in every
 * Vault (`<kvMount>/<ESO's namespace>/openova-replication-canary`, a random value, not a secret), to be
 * overwritten by the next check. Every region's policies already grant the canary's home that push
 * (components/replication/replicationSpecs.ts `replicationCanary`).
 *
 * Across a mix of backends it runs as any replicated secret does: each ExternalSecret reads its own
 * region's backend as that backend lays the secret out, and each PushSecret writes as its target's
 * backend does (components/backends/backendStores.ts `backendPullSource`, `backendPushData`); a cloud
 * store keeps the canary as `<secretPrefix><ESO's namespace>/openova-replication-canary`, spelt as the
 * store allows (docs/backends.md). Its home, the first region, must have the self-hosted Vault: the
 * bootstrap writes the canary there with that Vault's admin token, and holds no credential for a
 * managed backend.
 */
import { randomBytes } from "node:crypto";
import type { RegionConfig } from "../stack/config";
import {
    CANARY_KEY as KEY,
    CANARY_NAME,
    DEFAULT_INTERVAL,
    externalSecret,
    pushSecret,
    remoteKeyOf,
    replicationCanary,
} from "../components/replication/replicationSpecs";
import { type Bound, DEFAULT_MAX_DELAY_MS, type Layout, parseDurationMs, propagationBound } from "../model/replication";
import { backendPullSource, backendPushData } from "../components/backends/backendStores";
import { productOf } from "./engineWords";
import { poll } from "./poll";
import type { KubeObject, Ports } from "./ports";
import type { Sensitive } from "./sensitive";

/** ESO's namespace in a region, where the canary's objects go. */
const namespaceOf = (config: RegionConfig) => config.resolved.externalSecrets.namespace;

/**
 * The bound a replicated secret's write must meet, as docs/consistency.md states it: the model's
 * propagation bound for its layout and intervals, with ESO's controller as read (one reconcile at a
 * time) and one remote target per PushSecret (there is one PushSecret per target Vault).
 */
export function replicationBound(layout: Exclude<Layout, "seed">, pullInterval: string, pushInterval: string): Bound {
    const intervals = { pullIntervalMs: parseDurationMs(pullInterval), pushIntervalMs: parseDurationMs(pushInterval) };
    return propagationBound(layout, { intervals, maxDelayMs: DEFAULT_MAX_DELAY_MS, reconcile: "sequential", remoteTargets: 1 });
}

/** The bound the canary must meet: 2E + P + 2·maxDelay at the default intervals (100 s). */
export function canaryBoundMs(): number {
    return replicationBound("home/vault-written", DEFAULT_INTERVAL, DEFAULT_INTERVAL).ms;
}

/**
 * Why the canary cannot run, if it cannot: its path is under ESO's namespace, which every region then
 * reads it from, so that namespace must be the same everywhere.
 */
export function canaryProblems(configs: readonly RegionConfig[]): string[] {
    const home = configs[0];
    const managedHome =
        home.backend.type === "vault"
            ? []
            : [
                  `region ${home.region}: --verify writes its canary into the first region's Vault with that Vault's admin token, but ${home.region}'s backend is ${home.backend.type}, which the bootstrap holds no credential for: run --verify with a region that has the self-hosted Vault first in --regions and in openova-vault:regions, or leave --verify out`,
              ];
    return [
        ...managedHome,
        ...configs
            .filter((config) => namespaceOf(config) !== namespaceOf(home))
            .map(
                (config) =>
                    `region ${config.region}: ESO runs in namespace ${namespaceOf(config)}, not ${namespaceOf(home)} as in ${home.region}; --verify needs externalSecrets.namespace to be the same in every region (the canary's ${productOf([home.resolved.engine ?? "vault"])} path is under it)`,
            ),
    ];
}

/** The canary's ESO objects, per region. */
export function canaryObjects(configs: readonly RegionConfig[]): Map<string, KubeObject[]> {
    const spec = replicationCanary(
        namespaceOf(configs[0]),
        configs.map((config) => config.region),
    );
    const path = remoteKeyOf(spec);
    const backends = new Map(configs.map((config) => [config.region, config.backend]));
    // A peer not among them has the self-hosted Vault, as its program assumes (vaultRegion.ts).
    const backendOf = (region: string): RegionConfig["backend"] => backends.get(region) ?? { type: "vault" };
    const pushed = [{ from: KEY, to: KEY }];
    const objects = new Map<string, KubeObject[]>();
    for (const config of configs) {
        const pushes =
            config.region === spec.home
                ? config.peers.map((peer) => pushSecret(spec, peer, backendPushData(backendOf(peer), path, pushed)))
                : [];
        objects.set(config.region, [
            externalSecret(spec, backendPullSource(config.backend, path, [KEY])),
            ...pushes,
        ] as unknown as KubeObject[]);
    }
    return objects;
}

export interface CanaryResult {
    /** How long the timed write took to reach every region, in ms. */
    readonly tookMs: number;
    readonly boundMs: number;
}

/**
 * Runs the canary. @returns the timing, or the lines saying which regions did not get it in time
 * @param homeToken an admin token for the first region's Vault (it writes the canary there)
 */
export async function verifyReplication(
    ports: Ports,
    configs: readonly RegionConfig[],
    homeToken: Sensitive,
    pollMs: number,
): Promise<CanaryResult | { readonly problems: string[] }> {
    const { cluster, vault, clock, progress } = ports;
    const home = configs[0];
    const unfit = canaryProblems(configs);
    if (unfit.length > 0) {
        return { problems: unfit };
    }
    const objects = canaryObjects(configs);
    const path = remoteKeyOf(
        replicationCanary(
            namespaceOf(home),
            configs.map((config) => config.region),
        ),
    );
    const boundMs = canaryBoundMs();

    /** Waits until every region's Secret holds `value`, or `limitMs` passes. @returns the regions that do not */
    const waitFor = (value: string, limitMs: number): Promise<string[]> =>
        poll(clock, { timeoutMs: limitMs, pollMs }, async (last) => {
            const missing: string[] = [];
            for (const config of configs) {
                if ((await cluster.secretValue(config.region, namespaceOf(config), CANARY_NAME, KEY)) !== value) {
                    missing.push(config.region);
                }
            }
            return missing.length === 0 || last ? missing : undefined;
        });

    try {
        for (const config of configs) {
            progress.step(config.region, "canary", "running");
        }
        const first = randomBytes(16).toString("hex");
        await vault.kvPut(home.region, homeToken, home.resolved.kvMount, path, { [KEY]: first });
        for (const config of configs) {
            for (const object of objects.get(config.region) ?? []) {
                await cluster.apply(config.region, object);
            }
        }
        const notSetUp = await waitFor(first, 2 * boundMs);
        if (notSetUp.length > 0) {
            return {
                problems: notSetUp.map(
                    (region) =>
                        `region ${region}: the canary secret did not arrive within ${Math.round((2 * boundMs) / 1000)} s of being set up: check the ExternalSecret ${CANARY_NAME} there (and the PushSecrets in ${home.region})`,
                ),
            };
        }
        const second = randomBytes(16).toString("hex");
        const started = clock.now();
        await vault.kvPut(home.region, homeToken, home.resolved.kvMount, path, { [KEY]: second });
        const late = await waitFor(second, boundMs);
        const tookMs = clock.now() - started;
        if (late.length > 0) {
            return {
                problems: late.map(
                    (region) =>
                        `region ${region}: a write into ${home.region}'s ${productOf([home.resolved.engine ?? "vault"])} did not arrive within the ${Math.round(boundMs / 1000)} s that docs/consistency.md states`,
                ),
            };
        }
        for (const config of configs) {
            progress.step(
                config.region,
                "canary",
                "done",
                `a write in ${home.region} arrived everywhere in ${Math.round(tookMs / 1000)} s (bound ${Math.round(boundMs / 1000)} s)`,
            );
        }
        return { tookMs, boundMs };
    } finally {
        for (const config of configs) {
            for (const object of objects.get(config.region) ?? []) {
                await cluster.remove(config.region, object);
            }
        }
    }
}
