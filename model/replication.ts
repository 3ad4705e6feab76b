/**
 * A deterministic, discrete-event model of one replicated secret between N regions, each with a
 * HashiCorp Vault (KV v2) and the External Secrets Operator (ESO), and the numbers derived from it:
 * propagation bounds and Vault request rates. Pure TypeScript: no Pulumi, no clock, no Math.random.
 *
 * What is modelled (ESO's behaviour as read from its code and docs; see docs/consistency.md):
 * - Per region, a Vault KV v2 entry for the secret: data, version (+1 on every data write, restarting
 *   at 1 after the secret is deleted) and `custom_metadata.managed-by`. An operator's or app's write
 *   changes the data only: the metadata it had stays, and a secret it creates has no `managed-by`.
 * - Per region, the Kubernetes Secret: either the target of an ExternalSecret (ES) that owns it, or,
 *   in the home region of the cluster-written layout, a Secret that an app owns.
 * - An ES refreshes every E ms from its own phase: it reads the local Vault and updates its Secret
 *   only if the value differs; if the Vault secret is missing, the Secret keeps its value
 *   (deletionPolicy Retain). An edit of an ES-owned Secret makes the ES re-sync at once (reading the
 *   local Vault again, which restarts its refresh interval), so the edit is reverted.
 * - A PushSecret (PS) reads its source Secret when it runs (it does not watch it) and, per target
 *   store: reads the data; if the secret exists, reads the metadata and fails with "not managed" unless
 *   `managed-by` is `external-secrets`; skips if the data is equal; else writes the metadata and the
 *   data. `IfNotExists` skips any secret that exists. deletionPolicy None: it never deletes.
 * - A network: a push to another region's Vault lands after a delay in [0, maxDelay]; pushes between two
 *   regions are delivered in order; a push whose flight overlaps a partition of that link fails.
 *   Local operations are immediate.
 * - Two PushSecret reconcile models:
 *   - "independent" (the default): the PS runs every P ms from its own phase; each target is pushed
 *     on its own; a failed target is retried at the next interval.
 *   - "sequential" (closer to ESO's controller code as read): one reconcile at a time; targets in a
 *     random order (Go map iteration), each remote request taking its delay; the first error ends the
 *     reconcile; the next one starts P ms after a successful end, or after controller-runtime's
 *     per-object exponential backoff (5 ms doubling, capped at 1000 s, reset on success) after a
 *     failed one.
 * - A move of the home (vault-written only; see {@link Failover}): each region's stack applies the new
 *   home at its own time. From then on its Vault lets only the new home push the secret (the peer's
 *   push policy, `peer-<peer>-push`, lists exactly the secrets that peer is the home of), so a push
 *   from the old home landing there is refused ("fenced"); the old home's PushSecrets go at its own
 *   apply time, and the new home's start at its apply time.
 */

/** Where a secret is written and who pushes it; see {@link regionRoles}. */
export type Layout = "seed" | "home/vault-written" | "home/cluster-written";
export const LAYOUTS: readonly Layout[] = ["seed", "home/vault-written", "home/cluster-written"];

/** ExternalSecret refresh interval E and PushSecret refresh interval P, in milliseconds. */
export interface Intervals {
    readonly pullIntervalMs: number;
    readonly pushIntervalMs: number;
}

/** The adopted defaults: E = P = 30 s. */
export const DEFAULT_INTERVALS: Intervals = { pullIntervalMs: 30_000, pushIntervalMs: 30_000 };
/** The seed's intervals (and ESO's defaults): E = P = 1 h. */
export const SEED_INTERVALS: Intervals = { pullIntervalMs: 3_600_000, pushIntervalMs: 3_600_000 };
/** Assumed worst time for one cross-region push request to land (read, compare, write), in ms. */
export const DEFAULT_MAX_DELAY_MS = 5_000;
/** Refresh interval of the one-time initial-value PushSecret (IfNotExists). */
export const DEFAULT_INITIAL_INTERVAL_MS = 3_600_000;
/** Lifetime of the local ESO role's Vault tokens (README: 15 minutes). */
export const DEFAULT_TOKEN_TTL_MS = 900_000;
/** controller-runtime's default per-object backoff after a failed reconcile. */
export const RETRY_BACKOFF = { baseMs: 5, capMs: 1_000_000 } as const;
/** The `custom_metadata` value that lets ESO overwrite a Vault secret. */
export const MANAGED_BY = "external-secrets";

export type ReconcileModel = "independent" | "sequential";

/** What one region runs for one secret. */
export interface RegionRole {
    /** An ExternalSecret from the local Vault into the region's Secret. */
    readonly pulls: boolean;
    /** A PushSecret from the region's Secret to no store, every peer's store, or every store. */
    readonly pushes: "none" | "peers" | "all";
    /** Who owns the region's Secret: its ExternalSecret, or an app (nothing reverts its edits). */
    readonly owner: "external-secret" | "app";
}

/** The roles of every region for a layout with `regions` regions and home region `home`. */
export function regionRoles(layout: Layout, regions: number, home = 0): RegionRole[] {
    checkRegions(regions, home);
    return Array.from({ length: regions }, (_, r): RegionRole => {
        switch (layout) {
            case "seed":
                return { pulls: true, pushes: "all", owner: "external-secret" };
            case "home/vault-written":
                return { pulls: true, pushes: r === home ? "peers" : "none", owner: "external-secret" };
            case "home/cluster-written":
                return r === home
                    ? { pulls: false, pushes: "all", owner: "app" }
                    : { pulls: true, pushes: "none", owner: "external-secret" };
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Scenario and result types
// ---------------------------------------------------------------------------------------------

/** A Vault KV v2 secret. */
export interface KvEntry {
    readonly data: string;
    readonly version: number;
    readonly managedBy?: string;
}

/** Every region's Vault secret and Kubernetes Secret at one moment (undefined: does not exist). */
export interface Snapshot {
    readonly vaults: readonly (KvEntry | undefined)[];
    readonly secrets: readonly (string | undefined)[];
}

/**
 * Something done from outside ESO at a given time:
 * - `vault-write`: an operator or app writes a value into a region's Vault (`vault kv put`);
 * - `vault-delete`: deletes it there with all versions and metadata (`vault kv metadata delete`);
 * - `secret-write`: changes the region's Kubernetes Secret (an app writing its own Secret, or a
 *   `kubectl edit` of an ExternalSecret's target, which the ExternalSecret reverts);
 * - `secret-delete`: deletes the region's Kubernetes Secret;
 * - `vault-mark`: marks the region's Vault secret as ESO's (`vault kv metadata patch
 *   -custom-metadata=managed-by=external-secrets`), so pushes may overwrite it.
 */
export type ExternalEvent =
    | { readonly atMs: number; readonly kind: "vault-write"; readonly region: number; readonly value: string }
    | { readonly atMs: number; readonly kind: "vault-delete"; readonly region: number }
    | { readonly atMs: number; readonly kind: "secret-write"; readonly region: number; readonly value: string }
    | { readonly atMs: number; readonly kind: "secret-delete"; readonly region: number }
    | { readonly atMs: number; readonly kind: "vault-mark"; readonly region: number };

/** The link between two regions is down (both directions) in [fromMs, untilMs). */
export interface Partition {
    readonly between: readonly [number, number];
    readonly fromMs: number;
    readonly untilMs: number;
}

/**
 * The one-time initial value: a PushSecret in the home region with `updatePolicy: IfNotExists` into
 * the home Vault, from a generator (a new value `<prefix>-<n>` on every run, as ESO's Password
 * generator) or from a fixed operator-supplied value.
 */
export interface InitialValuePush {
    readonly source: { readonly generate: string } | { readonly value: string };
    readonly phaseMs: number;
    readonly intervalMs?: number;
}

/**
 * Moving a vault-written secret's home to `newHome`: the home named in each region's stack changes, and
 * each region applies it (`pulumi up`) at its own time, `appliedAtMs[region]` (undefined: not within the
 * run, a region still down, say). From a region's apply time on:
 * - its Vault accepts the secret's pushes from the new home only: the old home's are refused ("fenced",
 *   a 403 in Vault, as its `peer-<old home>-push` policy no longer lists the secret), and the new home's
 *   are accepted (its `peer-<new home>-push` now lists it). Before it, the other way round. A Vault's own
 *   region writes it through its local policy, which is not fenced.
 * - its PushSecrets are those of its role under the new home: the old home's go (a run in progress
 *   stops after the request in flight), and the new home's are created and push at once, then every P.
 */
export interface Failover {
    readonly newHome: number;
    readonly appliedAtMs: readonly (number | undefined)[];
}

export interface Scenario {
    readonly layout: Layout;
    readonly regions: number;
    /** The home region (default 0); the seed has none. */
    readonly home?: number;
    readonly intervals?: Intervals;
    /** Time of the first refresh of each region's ExternalSecret (pull) and PushSecret (push). */
    readonly phases: { readonly pull: readonly number[]; readonly push: readonly number[] };
    readonly maxDelayMs?: number;
    /** Delay of a cross-region push (clamped to [0, maxDelayMs]); default: seeded pseudo-random. */
    readonly delayMs?: (from: number, to: number, sentAtMs: number) => number;
    /** Seed of the pseudo-random delays and store orders. */
    readonly seed?: number;
    readonly partitions?: readonly Partition[];
    readonly reconcile?: ReconcileModel;
    /** Sequential model only: the order in which a reconcile visits its targets (default: seeded shuffle). */
    readonly storeOrder?: (targets: readonly number[], reconcile: number) => readonly number[];
    /**
     * One PushSecret per target store (same phase) instead of one selecting every target store: a
     * failing target then only holds back its own PushSecret (matters in the sequential model).
     */
    readonly pushSecretPerTarget?: boolean;
    /**
     * The state at time 0: every Vault (written by ESO, so `managed-by` is set, version 1) and every
     * Secret holding `value` (the default, with value "v0"), or nothing anywhere.
     */
    readonly start?: { readonly value: string } | "empty";
    readonly initial?: InitialValuePush;
    readonly events?: readonly ExternalEvent[];
    /** A move of the home during the run (vault-written only); none: the home stays where it is. */
    readonly failover?: Failover;
    /** The simulation runs events at times up to and including this. */
    readonly untilMs: number;
}

export type Cause = "external" | "pull" | "revert" | "push" | "initial";

/** One change of a Vault secret or Kubernetes Secret. */
export interface Change {
    readonly atMs: number;
    readonly region: number;
    readonly store: "vault" | "secret";
    readonly value: string | undefined;
    /** The Vault version after the change. */
    readonly version?: number;
    readonly cause: Cause;
    /** For a push: the region whose PushSecret wrote it. */
    readonly from?: number;
}

export interface PushError {
    readonly atMs: number;
    readonly from: number;
    readonly to?: number;
    /** `fenced`: the target's Vault let only another region push the secret at that time (see {@link Failover}). */
    readonly reason: "unreachable" | "not-managed" | "source-missing" | "fenced";
}

/** Requests ESO made to one region's Vault. */
export interface RequestCounts {
    dataReads: number;
    metadataReads: number;
    dataWrites: number;
    metadataWrites: number;
    tokenLookups: number;
}

export interface SimResult {
    readonly layout: Layout;
    readonly regions: number;
    readonly home: number;
    readonly untilMs: number;
    readonly initial: Snapshot;
    readonly final: Snapshot;
    readonly changes: readonly Change[];
    readonly errors: readonly PushError[];
    readonly requests: readonly RequestCounts[];
    /** How many times the initial-value PushSecret wrote a value. */
    readonly initialWrites: number;
}

// ---------------------------------------------------------------------------------------------
// Simulation
// ---------------------------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so runs are reproducible. */
function prng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

/** Which of a pusher's sources it reads. */
type PushSource =
    | { readonly kind: "secret" }
    | { readonly kind: "generate"; readonly prefix: string }
    | { readonly kind: "value"; readonly value: string };

interface Pusher {
    readonly id: number;
    readonly region: number;
    readonly targets: readonly number[];
    readonly policy: "Replace" | "IfNotExists";
    readonly source: PushSource;
    readonly intervalMs: number;
    readonly phaseMs: number;
    readonly isInitial: boolean;
    /** The PushSecret exists from its phase until this time (a failover removes it); Infinity: for the whole run. */
    readonly untilMs: number;
    generated: number;
    failures: number;
    reconciles: number;
    /** Independent model: time the last push to each target lands (pushes on a link stay in order). */
    readonly lastArrival: Map<number, number>;
}

/** Priority among events at the same time: outside writes, then deliveries, then pulls, then pushes. */
const PRIORITY = { external: 0, deliver: 1, pull: 2, push: 3 } as const;

type QueuedEvent =
    | { readonly kind: "external"; readonly ev: ExternalEvent }
    | { readonly kind: "pull"; readonly region: number; readonly generation: number }
    | { readonly kind: "push"; readonly pusher: Pusher }
    | { readonly kind: "deliver"; readonly pusher: Pusher; readonly target: number; readonly value: string }
    | { readonly kind: "arrive"; readonly pusher: Pusher; readonly run: SequentialRun };

interface SequentialRun {
    readonly value: string;
    readonly order: readonly number[];
    index: number;
    readonly sentAtMs: number;
}

interface Queued {
    readonly atMs: number;
    readonly priority: number;
    readonly seq: number;
    readonly event: QueuedEvent;
}

/** A binary min-heap on (time, priority, insertion order). */
class EventQueue {
    private readonly heap: Queued[] = [];
    private seq = 0;

    push(atMs: number, event: QueuedEvent): void {
        const priority = PRIORITY[event.kind === "arrive" ? "deliver" : event.kind];
        this.heap.push({ atMs, priority, seq: this.seq++, event });
        let i = this.heap.length - 1;
        while (i > 0) {
            const parent = (i - 1) >> 1;
            if (!this.less(i, parent)) break;
            [this.heap[i], this.heap[parent]] = [this.heap[parent], this.heap[i]];
            i = parent;
        }
    }

    pop(): Queued | undefined {
        const top = this.heap[0];
        const last = this.heap.pop();
        if (this.heap.length > 0 && last !== undefined) {
            this.heap[0] = last;
            let i = 0;
            for (;;) {
                const l = 2 * i + 1;
                const r = l + 1;
                let m = i;
                if (l < this.heap.length && this.less(l, m)) m = l;
                if (r < this.heap.length && this.less(r, m)) m = r;
                if (m === i) break;
                [this.heap[i], this.heap[m]] = [this.heap[m], this.heap[i]];
                i = m;
            }
        }
        return top;
    }

    private less(a: number, b: number): boolean {
        const x = this.heap[a];
        const y = this.heap[b];
        return x.atMs !== y.atMs ? x.atMs < y.atMs : x.priority !== y.priority ? x.priority < y.priority : x.seq < y.seq;
    }
}

function checkRegions(regions: number, home: number): void {
    if (!Number.isInteger(regions) || regions < 1) throw new Error(`regions must be a whole number >= 1, got ${regions}`);
    if (!Number.isInteger(home) || home < 0 || home >= regions)
        throw new Error(`home must be a region index in [0, ${regions - 1}], got ${home}`);
}

function checkMs(name: string, ms: number, min: number): void {
    if (!Number.isInteger(ms) || ms < min) throw new Error(`${name} must be a whole number of ms >= ${min}, got ${ms}`);
}

/**
 * The region whose pushes of the secret `region`'s Vault accepts at a time: the new home from the
 * region's apply time on, else the scenario's home.
 */
export function homeSeenBy(scenario: Pick<Scenario, "home" | "failover">, region: number, atMs: number): number {
    const applied = scenario.failover?.appliedAtMs[region];
    return scenario.failover !== undefined && applied !== undefined && atMs >= applied ? scenario.failover.newHome : (scenario.home ?? 0);
}

function checkFailover(scenario: Scenario, failover: Failover): void {
    const home = scenario.home ?? 0;
    if (scenario.layout !== "home/vault-written")
        throw new Error(`a failover is modelled for home/vault-written only, not ${scenario.layout}`);
    checkRegions(scenario.regions, failover.newHome);
    if (failover.newHome === home) throw new Error(`failover.newHome is the home already (${home})`);
    if (failover.appliedAtMs.length !== scenario.regions)
        throw new Error(`failover.appliedAtMs needs one time (or undefined) per region (${scenario.regions})`);
    for (const at of failover.appliedAtMs) if (at !== undefined) checkMs("failover apply time", at, 0);
}

/** Run a scenario to its end and return what happened. */
export function simulate(scenario: Scenario): SimResult {
    const n = scenario.regions;
    const home = scenario.home ?? 0;
    checkRegions(n, home);
    const { pullIntervalMs: E, pushIntervalMs: P } = scenario.intervals ?? DEFAULT_INTERVALS;
    checkMs("pullIntervalMs", E, 1);
    checkMs("pushIntervalMs", P, 1);
    const maxDelay = scenario.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    checkMs("maxDelayMs", maxDelay, 0);
    checkMs("untilMs", scenario.untilMs, 0);
    if (scenario.phases.pull.length !== n || scenario.phases.push.length !== n)
        throw new Error(`phases need one pull and one push time per region (${n})`);
    [...scenario.phases.pull, ...scenario.phases.push].forEach((t) => checkMs("phase", t, 0));
    const reconcile = scenario.reconcile ?? "independent";
    const random = prng(scenario.seed ?? 1);
    const roles = regionRoles(scenario.layout, n, home);
    const failover = scenario.failover;
    if (failover !== undefined) checkFailover(scenario, failover);
    /** When a region applies the new home: Infinity when it never does (or there is no failover). */
    const appliedAt = (region: number): number => failover?.appliedAtMs[region] ?? Number.POSITIVE_INFINITY;
    const partitions = scenario.partitions ?? [];
    for (const p of partitions) {
        const [a, b] = p.between;
        if (a === b || a < 0 || b < 0 || a >= n || b >= n) throw new Error(`bad partition between ${a} and ${b}`);
    }

    // State.
    const start = scenario.start ?? { value: "v0" };
    const vaults: (KvEntry | undefined)[] = Array.from({ length: n }, () =>
        start === "empty" ? undefined : { data: start.value, version: 1, managedBy: MANAGED_BY },
    );
    const secrets: (string | undefined)[] = Array.from({ length: n }, () => (start === "empty" ? undefined : start.value));
    const initial: Snapshot = { vaults: [...vaults], secrets: [...secrets] };
    const changes: Change[] = [];
    const errors: PushError[] = [];
    const requests: RequestCounts[] = Array.from({ length: n }, () => ({
        dataReads: 0,
        metadataReads: 0,
        dataWrites: 0,
        metadataWrites: 0,
        tokenLookups: 0,
    }));
    const pullGeneration: number[] = Array.from({ length: n }, () => 0);
    let initialWrites = 0;
    const queue = new EventQueue();

    const setSecret = (atMs: number, region: number, value: string | undefined, cause: Cause): void => {
        if (secrets[region] === value) return;
        secrets[region] = value;
        changes.push({ atMs, region, store: "secret", value, cause });
    };

    const linkDown = (a: number, b: number, fromMs: number, toMs: number): boolean =>
        partitions.some(
            (p) =>
                ((p.between[0] === a && p.between[1] === b) || (p.between[0] === b && p.between[1] === a)) &&
                fromMs < p.untilMs &&
                toMs >= p.fromMs,
        );

    const delay = (from: number, to: number, atMs: number): number => {
        const d = scenario.delayMs ? scenario.delayMs(from, to, atMs) : Math.floor(random() * (maxDelay + 1));
        return Math.min(maxDelay, Math.max(0, Math.floor(d)));
    };

    /** An ExternalSecret's sync: read the local Vault; update the Secret if the value differs. */
    const pull = (atMs: number, region: number, cause: "pull" | "revert"): void => {
        requests[region].dataReads++;
        requests[region].tokenLookups++;
        const entry = vaults[region];
        if (entry !== undefined) setSecret(atMs, region, entry.data, cause);
    };

    /** One PushSecret write into one Vault, as ESO's Vault provider does it. */
    const apply = (atMs: number, pusher: Pusher, target: number, value: string): "ok" | "not-managed" | "fenced" => {
        const req = requests[target];
        req.dataReads++;
        // A peer's push goes through that peer's policy in the target's Vault; the first request is refused.
        if (failover !== undefined && target !== pusher.region && homeSeenBy(scenario, target, atMs) !== pusher.region) {
            errors.push({ atMs, from: pusher.region, to: target, reason: "fenced" });
            return "fenced";
        }
        const existing = vaults[target];
        if (existing !== undefined) {
            if (pusher.policy === "IfNotExists") return "ok";
            req.metadataReads++;
            if (existing.managedBy !== MANAGED_BY) {
                errors.push({ atMs, from: pusher.region, to: target, reason: "not-managed" });
                return "not-managed";
            }
            if (existing.data === value) return "ok";
        }
        req.metadataWrites++;
        req.dataWrites++;
        const entry: KvEntry = { data: value, version: (existing?.version ?? 0) + 1, managedBy: MANAGED_BY };
        vaults[target] = entry;
        const cause: Cause = pusher.isInitial ? "initial" : "push";
        if (pusher.isInitial) initialWrites++;
        changes.push({ atMs, region: target, store: "vault", value, version: entry.version, cause, from: pusher.region });
        return "ok";
    };

    const sourceValue = (pusher: Pusher): string | undefined => {
        switch (pusher.source.kind) {
            case "secret":
                return secrets[pusher.region];
            case "value":
                return pusher.source.value;
            case "generate":
                return `${pusher.source.prefix}-${++pusher.generated}`;
        }
    };

    // Pushers.
    const pushers: Pusher[] = [];
    const newPusher = (p: Omit<Pusher, "id" | "generated" | "failures" | "reconciles" | "lastArrival">): void => {
        pushers.push({ ...p, id: pushers.length, generated: 0, failures: 0, reconciles: 0, lastArrival: new Map() });
    };
    const regionPushers = (r: number, role: RegionRole, phaseMs: number, untilMs: number): void => {
        if (role.pushes === "none") return;
        const targets = Array.from({ length: n }, (_, t) => t).filter((t) => role.pushes === "all" || t !== r);
        for (const group of scenario.pushSecretPerTarget ? targets.map((t) => [t]) : [targets]) {
            newPusher({
                region: r,
                targets: group,
                policy: "Replace",
                source: { kind: "secret" },
                intervalMs: P,
                phaseMs,
                isInitial: false,
                untilMs,
            });
        }
    };
    // A failover changes the PushSecrets of the regions whose role it changes (the old and the new home), at their apply times.
    const newRoles = failover === undefined ? roles : regionRoles(scenario.layout, n, failover.newHome);
    roles.forEach((role, r) => {
        const changes = newRoles[r].pushes !== role.pushes;
        regionPushers(r, role, scenario.phases.push[r], changes ? appliedAt(r) : Number.POSITIVE_INFINITY);
        if (changes && appliedAt(r) !== Number.POSITIVE_INFINITY) regionPushers(r, newRoles[r], appliedAt(r), Number.POSITIVE_INFINITY);
    });
    if (scenario.initial) {
        const src = scenario.initial.source;
        const intervalMs = scenario.initial.intervalMs ?? DEFAULT_INITIAL_INTERVAL_MS;
        checkMs("initial.intervalMs", intervalMs, 1);
        checkMs("initial.phaseMs", scenario.initial.phaseMs, 0);
        // It follows the home: the old home's goes at its apply time, the new home's starts at its own.
        const initialPusher = (region: number, phaseMs: number, untilMs: number) =>
            newPusher({
                region,
                targets: [region],
                policy: "IfNotExists",
                source: "generate" in src ? { kind: "generate", prefix: src.generate } : { kind: "value", value: src.value },
                intervalMs,
                phaseMs,
                isInitial: true,
                untilMs,
            });
        initialPusher(home, scenario.initial.phaseMs, appliedAt(home));
        if (failover !== undefined && appliedAt(failover.newHome) !== Number.POSITIVE_INFINITY)
            initialPusher(failover.newHome, appliedAt(failover.newHome), Number.POSITIVE_INFINITY);
    }
    /** A PushSecret that a failover has removed does nothing more (and is not run again). */
    const gone = (atMs: number, pusher: Pusher): boolean => atMs >= pusher.untilMs;

    // Independent model: every P from the phase; each target on its own.
    const pushIndependent = (atMs: number, pusher: Pusher): void => {
        if (gone(atMs, pusher)) return;
        queue.push(atMs + pusher.intervalMs, { kind: "push", pusher });
        const value = sourceValue(pusher);
        if (value === undefined) {
            errors.push({ atMs, from: pusher.region, reason: "source-missing" });
            return;
        }
        if (pusher.targets.includes(pusher.region)) requests[pusher.region].tokenLookups++;
        for (const target of pusher.targets) {
            if (target === pusher.region) {
                apply(atMs, pusher, target, value);
                continue;
            }
            const arrival = Math.max(atMs + delay(pusher.region, target, atMs), pusher.lastArrival.get(target) ?? 0);
            if (linkDown(pusher.region, target, atMs, arrival)) {
                errors.push({ atMs, from: pusher.region, to: target, reason: "unreachable" });
                continue;
            }
            pusher.lastArrival.set(target, arrival);
            queue.push(arrival, { kind: "deliver", pusher, target, value });
        }
    };

    // Sequential model: one reconcile at a time, first error ends it, backoff after a failure.
    const endReconcile = (atMs: number, pusher: Pusher, ok: boolean): void => {
        if (gone(atMs, pusher)) return;
        if (ok) {
            pusher.failures = 0;
            queue.push(atMs + pusher.intervalMs, { kind: "push", pusher });
        } else {
            pusher.failures++;
            const backoff = Math.min(RETRY_BACKOFF.capMs, RETRY_BACKOFF.baseMs * 2 ** Math.min(pusher.failures - 1, 40));
            queue.push(atMs + backoff, { kind: "push", pusher });
        }
    };
    const shuffle = (targets: readonly number[]): number[] => {
        const out = [...targets];
        for (let i = out.length - 1; i > 0; i--) {
            const j = Math.floor(random() * (i + 1));
            [out[i], out[j]] = [out[j], out[i]];
        }
        return out;
    };
    const continueRun = (atMs: number, pusher: Pusher, run: SequentialRun): void => {
        if (gone(atMs, pusher)) return;
        while (run.index < run.order.length) {
            const target = run.order[run.index];
            if (target === pusher.region) {
                if (apply(atMs, pusher, target, run.value) !== "ok") return endReconcile(atMs, pusher, false);
                run.index++;
                continue;
            }
            if (linkDown(pusher.region, target, atMs, atMs)) {
                errors.push({ atMs, from: pusher.region, to: target, reason: "unreachable" });
                return endReconcile(atMs, pusher, false);
            }
            queue.push(atMs + delay(pusher.region, target, atMs), { kind: "arrive", pusher, run: { ...run, sentAtMs: atMs } });
            return;
        }
        endReconcile(atMs, pusher, true);
    };
    const pushSequential = (atMs: number, pusher: Pusher): void => {
        if (gone(atMs, pusher)) return;
        const value = sourceValue(pusher);
        if (value === undefined) {
            errors.push({ atMs, from: pusher.region, reason: "source-missing" });
            return endReconcile(atMs, pusher, false);
        }
        const order = scenario.storeOrder ? [...scenario.storeOrder(pusher.targets, pusher.reconciles)] : shuffle(pusher.targets);
        pusher.reconciles++;
        if ([...order].sort().join() !== [...pusher.targets].sort().join())
            throw new Error("storeOrder must return a permutation of the targets");
        if (pusher.targets.includes(pusher.region)) requests[pusher.region].tokenLookups++;
        continueRun(atMs, pusher, { value, order, index: 0, sentAtMs: atMs });
    };
    const arrive = (atMs: number, pusher: Pusher, run: SequentialRun): void => {
        const target = run.order[run.index];
        if (linkDown(pusher.region, target, run.sentAtMs, atMs)) {
            errors.push({ atMs, from: pusher.region, to: target, reason: "unreachable" });
            return endReconcile(atMs, pusher, false);
        }
        if (apply(atMs, pusher, target, run.value) !== "ok") return endReconcile(atMs, pusher, false);
        continueRun(atMs, pusher, { ...run, index: run.index + 1 });
    };

    const external = (ev: ExternalEvent): void => {
        const { atMs, region } = ev;
        if (!Number.isInteger(region) || region < 0 || region >= n) throw new Error(`event for unknown region ${region}`);
        switch (ev.kind) {
            case "vault-write": {
                const existing = vaults[region];
                if (existing?.data === ev.value) return;
                // A KV v2 write changes the data and bumps the version; the metadata stays as it was.
                const entry: KvEntry = { data: ev.value, version: (existing?.version ?? 0) + 1, managedBy: existing?.managedBy };
                vaults[region] = entry;
                changes.push({ atMs, region, store: "vault", value: ev.value, version: entry.version, cause: "external" });
                return;
            }
            case "vault-mark": {
                const existing = vaults[region];
                // Metadata only: no new version, no change of the data.
                if (existing !== undefined) vaults[region] = { ...existing, managedBy: MANAGED_BY };
                return;
            }
            case "vault-delete":
                if (vaults[region] === undefined) return;
                vaults[region] = undefined;
                changes.push({ atMs, region, store: "vault", value: undefined, cause: "external" });
                return;
            case "secret-write":
            case "secret-delete": {
                setSecret(atMs, region, ev.kind === "secret-write" ? ev.value : undefined, "external");
                if (roles[region].owner === "external-secret") {
                    // The ExternalSecret sees its target change and re-syncs at once; its interval restarts.
                    pull(atMs, region, "revert");
                    pullGeneration[region]++;
                    queue.push(atMs + E, { kind: "pull", region, generation: pullGeneration[region] });
                }
                return;
            }
        }
    };

    // Schedule.
    roles.forEach((role, r) => {
        if (role.pulls) queue.push(scenario.phases.pull[r], { kind: "pull", region: r, generation: 0 });
    });
    for (const p of pushers) queue.push(p.phaseMs, { kind: "push", pusher: p });
    for (const ev of scenario.events ?? []) {
        checkMs("event time", ev.atMs, 0);
        queue.push(ev.atMs, { kind: "external", ev });
    }

    for (let q = queue.pop(); q !== undefined && q.atMs <= scenario.untilMs; q = queue.pop()) {
        const { atMs, event } = q;
        switch (event.kind) {
            case "external":
                external(event.ev);
                break;
            case "pull":
                if (event.generation !== pullGeneration[event.region]) break;
                pull(atMs, event.region, "pull");
                queue.push(atMs + E, { kind: "pull", region: event.region, generation: event.generation });
                break;
            case "push":
                if (reconcile === "independent") pushIndependent(atMs, event.pusher);
                else pushSequential(atMs, event.pusher);
                break;
            case "deliver":
                apply(atMs, event.pusher, event.target, event.value);
                break;
            case "arrive":
                arrive(atMs, event.pusher, event.run);
                break;
        }
    }

    return {
        layout: scenario.layout,
        regions: n,
        home,
        untilMs: scenario.untilMs,
        initial,
        final: { vaults: [...vaults], secrets: [...secrets] },
        changes,
        errors,
        requests,
        initialWrites,
    };
}

/** The state at a time (after every change at or before it). */
export function stateAt(result: SimResult, atMs: number): Snapshot {
    const vaults = [...result.initial.vaults];
    const secrets = [...result.initial.secrets];
    for (const c of result.changes) {
        if (c.atMs > atMs) break;
        if (c.store === "secret") secrets[c.region] = c.value;
        else
            vaults[c.region] =
                c.value === undefined ? undefined : { data: c.value, version: c.version ?? 0, managedBy: vaults[c.region]?.managedBy };
    }
    return { vaults, secrets };
}

/** Changes strictly after a time. */
export function changesAfter(result: SimResult, atMs: number): Change[] {
    return result.changes.filter((c) => c.atMs > atMs);
}

/** Does every Vault and every Secret hold this value? */
export function allHold(snapshot: Snapshot, value: string): boolean {
    return snapshot.vaults.every((v) => v?.data === value) && snapshot.secrets.every((s) => s === value);
}

/** The values a region's Vault or Secret held over the run, in order (the starting value first). */
export function history(result: SimResult, region: number, store: "vault" | "secret"): (string | undefined)[] {
    const first = store === "vault" ? result.initial.vaults[region]?.data : result.initial.secrets[region];
    return [first, ...result.changes.filter((c) => c.region === region && c.store === store).map((c) => c.value)];
}

// ---------------------------------------------------------------------------------------------
// Bounds
// ---------------------------------------------------------------------------------------------

/** The timing a bound is computed for; every field has the adopted default. */
export interface Timing {
    readonly intervals?: Intervals;
    readonly maxDelayMs?: number;
    readonly reconcile?: ReconcileModel;
    /** Sequential model: remote targets of one PushSecret (its reconcile visits them one by one). Default 1. */
    readonly remoteTargets?: number;
}

export interface Bound {
    readonly ms: number;
    readonly formula: string;
    /** False for the seed: its writes can be lost, so no time bound holds. */
    readonly guaranteed: boolean;
}

function timing(t: Timing = {}) {
    const { pullIntervalMs: E, pushIntervalMs: P } = t.intervals ?? DEFAULT_INTERVALS;
    const D = t.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    const sequential = (t.reconcile ?? "independent") === "sequential";
    const R = t.remoteTargets ?? 1;
    // Sequential: a reconcile that read the source just before the change may take R*D to end, and the
    // next one R*D to land; independent: one delay.
    const landing = sequential ? 2 * R * D : D;
    const landingText = sequential ? `2·${R}·maxDelay` : "maxDelay";
    return { E, P, D, R, sequential, landing, landingText };
}

/**
 * Worst-case time from a write (into the home Vault for vault-written, into the home Secret for
 * cluster-written) until every region's Vault and Secret hold it, without partitions. The seed's
 * figure is the same chain (pull, push, pull) when no other region pushes first; it is not a bound.
 */
export function propagationBound(layout: Layout, t?: Timing): Bound {
    const { E, P, landing, landingText } = timing(t);
    switch (layout) {
        case "home/vault-written":
        case "seed":
            return { ms: 2 * E + P + landing, formula: `2E + P + ${landingText}`, guaranteed: layout !== "seed" };
        case "home/cluster-written":
            return { ms: P + E + landing, formula: `P + E + ${landingText}`, guaranteed: true };
    }
}

/** Worst-case time from the end of the last partition until every region holds the home's value. */
export function healBound(layout: Layout, t?: Timing): Bound {
    const { E, P, D, R, sequential } = timing(t);
    if (sequential)
        return { ms: 2 * R * D + RETRY_BACKOFF.capMs + E, formula: `backoffCap + 2·${R}·maxDelay + E`, guaranteed: layout !== "seed" };
    return { ms: P + D + E, formula: "P + maxDelay + E", guaranteed: layout !== "seed" };
}

/**
 * How long a value written into a Vault other than the home's (or, cluster-written, into any Vault)
 * lasts: until the home's next push lands (`vault`), and until that region's Secret is back (`secret`).
 */
export function nonHomeRevertBound(layout: Exclude<Layout, "seed">, t?: Timing): { readonly vault: Bound; readonly secret: Bound } {
    const { E, P, landing, landingText } = timing(t);
    void layout;
    return {
        vault: { ms: P + landing, formula: `P + ${landingText}`, guaranteed: true },
        secret: { ms: P + landing + E, formula: `P + ${landingText} + E`, guaranteed: true },
    };
}

/**
 * The time by which every region holds the home's last value and nothing changes any more: the later
 * of (last home write + propagation bound), (last heal + heal bound) and (last write into another
 * Vault + its revert bound).
 */
export function convergenceDeadline(
    layout: Exclude<Layout, "seed">,
    times: { readonly lastHomeWriteMs: number; readonly lastHealMs?: number; readonly lastOtherWriteMs?: number },
    t?: Timing,
): number {
    const candidates = [times.lastHomeWriteMs + propagationBound(layout, t).ms];
    if (times.lastHealMs !== undefined) candidates.push(times.lastHealMs + healBound(layout, t).ms);
    if (times.lastOtherWriteMs !== undefined) candidates.push(times.lastOtherWriteMs + nonHomeRevertBound(layout, t).secret.ms);
    return Math.max(...candidates);
}

// ---------------------------------------------------------------------------------------------
// Vault request rates
// ---------------------------------------------------------------------------------------------

export interface RateInput {
    readonly layout: Layout;
    readonly secrets: number;
    readonly regions: number;
    readonly intervals?: Intervals;
    /** How home regions are assigned: round-robin over the regions (default), or all in region 0. */
    readonly homes?: "spread" | "one-region";
    /** Value changes per second over all secrets (default 0: steady state). */
    readonly changesPerSecond?: number;
    /** ESO's Vault token cache (`--enable-vault-token-cache`, on in this project). Default true. */
    readonly tokenCache?: boolean;
    readonly tokenTtlMs?: number;
    /** Count the initial-value PushSecret (IfNotExists, home Vault) at this interval; default: not counted. */
    readonly initialIntervalMs?: number;
}

/** Requests per second that ESO sends to one region's Vault. */
export interface RegionRate {
    readonly region: number;
    readonly dataReads: number;
    readonly metadataReads: number;
    /** dataReads + metadataReads. */
    readonly reads: number;
    /** Data and metadata writes (only when a value changes). */
    readonly writes: number;
    /** `auth/token/lookup-self` (one per reconcile on the local store with the token cache) and, without the cache, `revoke-self`. */
    readonly tokenCalls: number;
    /** Kubernetes-auth logins. */
    readonly logins: number;
    readonly total: number;
}

/**
 * ESO's requests per second to each region's Vault for `secrets` replicated secrets, from the model's
 * per-operation costs: an ExternalSecret refresh is 1 data read (local Vault); a PushSecret run is,
 * per target, 1 data read + 1 metadata read, and 1 metadata write + 1 data write only when the value
 * changed; with the token cache a local-store reconcile costs 1 token lookup and a login happens about
 * once per token lifetime (peer stores use a static token: no login, no lookup); without it, every
 * local-store reconcile logs in, looks the token up and revokes it.
 */
export function vaultRequestRates(input: RateInput): RegionRate[] {
    const { layout, secrets: S, regions: N } = input;
    checkRegions(N, 0);
    if (!Number.isInteger(S) || S < 0) throw new Error(`secrets must be a whole number >= 0, got ${S}`);
    const { pullIntervalMs, pushIntervalMs } = input.intervals ?? DEFAULT_INTERVALS;
    const E = pullIntervalMs / 1000;
    const P = pushIntervalMs / 1000;
    const cache = input.tokenCache ?? true;
    const ttl = (input.tokenTtlMs ?? DEFAULT_TOKEN_TTL_MS) / 1000;
    const changesPerSecret = S === 0 ? 0 : (input.changesPerSecond ?? 0) / S;
    const homesIn = Array.from({ length: N }, (_, r) =>
        input.homes === "one-region" ? (r === 0 ? S : 0) : Math.floor(S / N) + (r < S % N ? 1 : 0),
    );

    const acc = Array.from({ length: N }, () => ({ dataReads: 0, metadataReads: 0, writes: 0, localReconciles: 0 }));
    for (let h = 0; h < N; h++) {
        const count = homesIn[h];
        if (count === 0) continue;
        const roles = regionRoles(layout, N, h);
        roles.forEach((role, r) => {
            if (role.pulls) {
                acc[r].dataReads += count / E;
                acc[r].localReconciles += count / E;
            }
            if (role.pushes === "none") return;
            // The seed: every region pushes every secret; homes only decide who pushes in the home layouts.
            for (let t = 0; t < N; t++) {
                if (role.pushes === "peers" && t === r) continue;
                acc[t].dataReads += count / P;
                acc[t].metadataReads += count / P;
                if (t === r) acc[t].localReconciles += count / P;
            }
        });
        // A change (written at the home: its Vault, or its Secret when cluster-written) is written by
        // ESO into every Vault that does not hold it yet: metadata and data.
        for (let t = 0; t < N; t++) {
            if (layout !== "home/cluster-written" && t === h) continue;
            acc[t].writes += 2 * count * changesPerSecret;
        }
        if (input.initialIntervalMs !== undefined) {
            acc[h].dataReads += count / (input.initialIntervalMs / 1000);
            acc[h].localReconciles += count / (input.initialIntervalMs / 1000);
        }
    }
    return acc.map((a, region) => {
        const tokenCalls = cache ? a.localReconciles : 2 * a.localReconciles;
        const logins = cache ? 1 / ttl : a.localReconciles;
        const reads = a.dataReads + a.metadataReads;
        return {
            region,
            dataReads: a.dataReads,
            metadataReads: a.metadataReads,
            reads,
            writes: a.writes,
            tokenCalls,
            logins,
            total: reads + a.writes + tokenCalls + logins,
        };
    });
}

/** The busiest region's rates. */
export function peakVaultRequestRate(input: RateInput): RegionRate {
    return vaultRequestRates(input).reduce((a, b) => (b.total > a.total ? b : a));
}

/** ESO's Vault writes (metadata + data) for one changed value, over all regions. */
export function writesPerChange(layout: Layout, regions: number): number {
    checkRegions(regions, 0);
    return 2 * (layout === "home/cluster-written" ? regions : regions - 1);
}

// ---------------------------------------------------------------------------------------------
// For the bench
// ---------------------------------------------------------------------------------------------

export interface ReplicationRow {
    readonly name: string;
    readonly layout: Layout;
    readonly intervals: Intervals;
    readonly propagation: Bound;
    readonly peak: RegionRate;
}

/** The figures docs/consistency.md and the bench print: the adopted design at 30 s and the seed at 1 h. */
export function replicationNumbers(secrets = 1000, regions = 2, maxDelayMs = DEFAULT_MAX_DELAY_MS): ReplicationRow[] {
    const rows: [string, Layout, Intervals][] = [
        ["adopted, vault-written, E = P = 30 s", "home/vault-written", DEFAULT_INTERVALS],
        ["adopted, cluster-written, E = P = 30 s", "home/cluster-written", DEFAULT_INTERVALS],
        ["seed, E = P = 1 h", "seed", SEED_INTERVALS],
        ["seed layout at E = P = 30 s", "seed", DEFAULT_INTERVALS],
    ];
    return rows.map(([name, layout, intervals]) => ({
        name,
        layout,
        intervals,
        propagation: propagationBound(layout, { intervals, maxDelayMs }),
        peak: peakVaultRequestRate({ layout, secrets, regions, intervals }),
    }));
}

/** A Go duration in milliseconds: the components' parser, so the model reads intervals as they do. */
export { parseDurationMs } from "../components/common/predicates";
