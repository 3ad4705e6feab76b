/**
 * A deterministic, discrete-event model of one secret replicated with every region as a writer
 * (`writers: any`): each region's Vault (the secret's path, the replicator's state, an inbox per
 * peer), each region's replicator deciding with the same code the real one runs
 * (`replicator/decide.ts`), a network with delays and partitions, clocks with offsets, and
 * replicators that crash and lose their memory. Pure TypeScript: no clock, no Math.random.
 *
 * What a replicator does, as modelled (the real one, `replicator/engine.ts`, does the same with
 * Vault's API):
 * - A **round** for the secret: read the path, the state and the inbox; decide; record the state;
 *   act on the path (a write lands as a new version stamped with this region's clock, a deletion
 *   marks the current version); then offer the state to every peer it has not yet reached with that
 *   entry. Local reads and writes are immediate.
 * - An **offer** is a write into the peer's inbox, landing after a delay in [0, maxDelayMs]; it fails
 *   if the link is cut at any time of its flight, and the sender offers its state again
 *   `retryIntervalMs` later. A landed offer keeps only the greater stamp (the real one is a
 *   check-and-set write) and rings the peer's doorbell.
 * - Rounds run: every `scanIntervalMs` (the safety net); `hintDelayMs` after a local write, when the
 *   audit hint arrives (a lost hint is modelled by leaving it out); and after a doorbell poll
 *   (every `doorbellIntervalMs`) that finds the doorbell rung.
 * - A crashed replicator does nothing until it restarts, and restarts knowing nothing it did not
 *   store in Vault: it offers its state to every peer again.
 */
import { DEFAULT_TIMING as REPLICATOR_DEFAULTS } from "../replicator/config.ts";
import { type Entry, type PathView, type SecretData, type State, decide } from "../replicator/decide.ts";
import { type Stamp, compareStamps } from "../replicator/stamp.ts";

/** The replicator's timing. */
export interface ReplicatorTiming {
    /** Every secret is reconciled at least this often. */
    readonly scanIntervalMs: number;
    /** How often a replicator reads its doorbells (one read per peer). */
    readonly doorbellIntervalMs: number;
    /** How soon a replicator offers again to a peer it could not reach. */
    readonly retryIntervalMs: number;
    /** How long after a local write its audit hint starts a round; undefined: no hints, the scan finds it. */
    readonly hintDelayMs?: number;
    /** Worst time for one cross-region write to land. */
    readonly maxDelayMs: number;
    /** How far ahead of its clock a replicator accepts a stamp (the stated clock bound). */
    readonly maxAheadMs: number;
}

/**
 * The replicator's defaults, with what the model assumes of the world: an audit hint within 500 ms
 * of a write, and a cross-region write landing within 2 s.
 */
export const DEFAULT_TIMING: ReplicatorTiming = {
    scanIntervalMs: REPLICATOR_DEFAULTS.scanIntervalMs,
    doorbellIntervalMs: REPLICATOR_DEFAULTS.doorbellIntervalMs,
    retryIntervalMs: REPLICATOR_DEFAULTS.retryIntervalMs,
    maxAheadMs: REPLICATOR_DEFAULTS.maxAheadMs,
    hintDelayMs: 500,
    maxDelayMs: 2_000,
};

/** Something done to a region's Vault from outside: a write, a deletion of the current version, or a deletion of the path with all its versions. */
export interface ActiveEvent {
    readonly atMs: number;
    readonly region: number;
    readonly kind: "write" | "delete" | "purge";
    readonly value?: string;
}

/** The link between two regions is down in [fromMs, untilMs). */
export interface LinkDown {
    readonly between: readonly [number, number];
    readonly fromMs: number;
    readonly untilMs: number;
}

/** A region's replicator is down in [atMs, atMs + downForMs). */
export interface Crash {
    readonly region: number;
    readonly atMs: number;
    readonly downForMs: number;
}

export interface ActiveScenario {
    readonly regions: readonly string[];
    /** Each region's clock minus true time (its Vault and its replicator share it). */
    readonly clockOffsetMs?: readonly number[];
    readonly timing?: ReplicatorTiming;
    /** Delay of the n-th offer from `from` to `to`, clamped to [0, maxDelayMs]; default: seeded. */
    readonly delayMs?: (from: number, to: number, n: number) => number;
    readonly seed?: number;
    readonly partitions?: readonly LinkDown[];
    readonly crashes?: readonly Crash[];
    /** Offers that land twice (the sender's retry after a lost acknowledgement), by their number. */
    readonly duplicates?: (from: number, to: number, n: number) => boolean;
    readonly events: readonly ActiveEvent[];
    readonly untilMs: number;
    /** Whether Vault records who wrote each version (Vault 2's KV `created_by`); default false, as in OpenBao. */
    readonly attribution?: boolean;
}

/** One change of a region's path. */
export interface PathChange {
    readonly atMs: number;
    readonly region: number;
    /** The value it holds after, or undefined when deleted. */
    readonly value: string | undefined;
    readonly by: "outside" | "replicator";
    /** The region's state stamp after the round (for the replicator's changes). */
    readonly stamp?: Stamp;
}

/** The stamp a region gave an outside event, when its replicator saw it. */
export interface StampedEvent {
    readonly event: ActiveEvent;
    readonly stamp: Stamp;
}

export interface ActiveResult {
    /** Each region's path at the end: a value, or undefined. */
    readonly finalValues: readonly (string | undefined)[];
    readonly finalStates: readonly (State | undefined)[];
    readonly changes: readonly PathChange[];
    /** Every region's state stamp after each round, in order (for monotonicity). */
    readonly stateStamps: readonly (readonly Stamp[])[];
    readonly stamped: readonly StampedEvent[];
    /** Requests per region: to its own Vault, and offers to peers. */
    readonly requests: readonly { localReads: number; localWrites: number; offers: number; doorbellReads: number }[];
}

const KEY = "value";

interface Version {
    readonly data?: SecretData;
    readonly createdMs: number;
    readonly by: "outside" | "replicator";
    deletedMs?: number;
}

interface RegionVault {
    versions: Map<number, Version>;
    current: number;
    exists: boolean;
    state?: State;
    readonly inbox: Map<number, Entry>;
    /** How often each peer rang this region's doorbell. */
    readonly doorbell: Map<number, number>;
}

interface Replicator {
    up: boolean;
    /** Per peer, the stamp of the last offer it acknowledged. */
    readonly delivered: Map<number, Stamp>;
    /** Per peer, the doorbell count this replicator last read. */
    readonly rung: Map<number, number>;
    /** Per peer, when the last offer on the link lands (offers on a link stay in order). */
    readonly lastArrival: Map<number, number>;
    readonly sent: Map<number, number>;
}

type Job =
    | { readonly kind: "event"; readonly event: ActiveEvent }
    | { readonly kind: "round"; readonly region: number }
    | { readonly kind: "scan"; readonly region: number }
    | { readonly kind: "doorbell"; readonly region: number }
    | { readonly kind: "land"; readonly from: number; readonly to: number; readonly entry: Entry; readonly sentAtMs: number }
    | { readonly kind: "retry"; readonly from: number; readonly to: number }
    | { readonly kind: "crash"; readonly crash: Crash }
    | { readonly kind: "restart"; readonly region: number };

/** A min-heap of jobs on (time, insertion order). */
class Jobs {
    private readonly heap: { atMs: number; seq: number; job: Job }[] = [];
    private seq = 0;

    push(atMs: number, job: Job): void {
        this.heap.push({ atMs, seq: this.seq++, job });
        let i = this.heap.length - 1;
        while (i > 0) {
            const parent = (i - 1) >> 1;
            if (!this.less(i, parent)) break;
            [this.heap[i], this.heap[parent]] = [this.heap[parent], this.heap[i]];
            i = parent;
        }
    }

    pop(): { atMs: number; job: Job } | undefined {
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
        return x.atMs !== y.atMs ? x.atMs < y.atMs : x.seq < y.seq;
    }
}

/** mulberry32, so runs are reproducible. */
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

/** What a region's path holds, as the replicator reads it (with who wrote it, where Vault records that). */
function pathView(vault: RegionVault, attribution = false): PathView {
    if (!vault.exists) {
        return { kind: "absent" };
    }
    const version = vault.versions.get(vault.current);
    if (version === undefined) {
        return { kind: "absent" };
    }
    const id = { version: vault.current, createdMs: version.createdMs };
    return version.deletedMs !== undefined || version.data === undefined
        ? { kind: "deleted", id, deletedMs: version.deletedMs ?? version.createdMs }
        : { kind: "live", id, data: version.data, ...(attribution ? { byReplicator: version.by === "replicator" } : {}) };
}

function valueOf(vault: RegionVault): string | undefined {
    const view = pathView(vault);
    return view.kind === "live" ? view.data[KEY] : undefined;
}

/** Runs a scenario to its end. */
export function simulateActive(scenario: ActiveScenario): ActiveResult {
    const n = scenario.regions.length;
    const timing = scenario.timing ?? DEFAULT_TIMING;
    const offsets = scenario.clockOffsetMs ?? scenario.regions.map(() => 0);
    const random = prng(scenario.seed ?? 1);
    const delayOf = scenario.delayMs ?? (() => Math.floor(random() * (timing.maxDelayMs + 1)));
    const clock = (region: number, atMs: number) => atMs + offsets[region];

    const vaults: RegionVault[] = scenario.regions.map(() => ({
        versions: new Map(),
        current: 0,
        exists: false,
        inbox: new Map(),
        doorbell: new Map(),
    }));
    const replicators: Replicator[] = scenario.regions.map(() => ({
        up: true,
        delivered: new Map(),
        rung: new Map(),
        lastArrival: new Map(),
        sent: new Map(),
    }));
    const changes: PathChange[] = [];
    const stateStamps: Stamp[][] = scenario.regions.map(() => []);
    const stamped: StampedEvent[] = [];
    const requests = scenario.regions.map(() => ({ localReads: 0, localWrites: 0, offers: 0, doorbellReads: 0 }));
    /** The outside event behind each region's current version, until its replicator sees it. */
    const pendingEvents = scenario.regions.map(() => new Map<string, ActiveEvent>());

    const jobs = new Jobs();
    for (const event of scenario.events) {
        jobs.push(event.atMs, { kind: "event", event });
    }
    for (const crash of scenario.crashes ?? []) {
        jobs.push(crash.atMs, { kind: "crash", crash });
    }
    for (let region = 0; region < n; region++) {
        // Phases spread over the interval, so regions do not scan in lockstep.
        jobs.push(Math.floor((timing.scanIntervalMs * region) / n), { kind: "scan", region });
        jobs.push(Math.floor((timing.doorbellIntervalMs * region) / n), { kind: "doorbell", region });
    }

    const linkDown = (a: number, b: number, fromMs: number, untilMs: number) =>
        (scenario.partitions ?? []).some(
            (p) =>
                ((p.between[0] === a && p.between[1] === b) || (p.between[0] === b && p.between[1] === a)) &&
                p.fromMs < untilMs &&
                fromMs < p.untilMs,
        );

    const round = (region: number, atMs: number) => {
        const vault = vaults[region];
        const peers = [...vault.inbox.keys()].sort((a, b) => a - b);
        requests[region].localReads += 2 + peers.length;
        const before = vault.state;
        const path = pathView(vault, scenario.attribution === true);
        const decision = decide({
            region: scenario.regions[region],
            nowMs: clock(region, atMs),
            maxAheadMs: timing.maxAheadMs,
            path,
            ...(before ? { state: before } : {}),
            received: peers.map((peer) => vault.inbox.get(peer) as Entry),
        });
        if (decision.state !== undefined) {
            vault.state = decision.state;
            requests[region].localWrites++;
            if (decision.cause === "local" && path.kind !== "absent" && decision.state.stamp.region === scenario.regions[region]) {
                const key = `${path.id.version}/${path.id.createdMs}`;
                const event = pendingEvents[region].get(key);
                if (event !== undefined) {
                    stamped.push({ event, stamp: decision.state.stamp });
                    pendingEvents[region].delete(key);
                }
            } else if (decision.cause === "local" && path.kind === "absent") {
                const event = pendingEvents[region].get("purge");
                if (event !== undefined) {
                    stamped.push({ event, stamp: decision.state.stamp });
                    pendingEvents[region].delete("purge");
                }
            }
        }
        if (vault.state !== undefined) {
            stateStamps[region].push(vault.state.stamp);
        }
        const action = decision.path;
        if (action !== undefined) {
            requests[region].localWrites++;
            if (action.kind === "write") {
                vault.current++;
                vault.exists = true;
                vault.versions.set(vault.current, { data: action.data, createdMs: clock(region, atMs), by: "replicator" });
            } else {
                const version = vault.versions.get(action.version);
                if (version !== undefined) {
                    version.deletedMs = clock(region, atMs);
                }
            }
            changes.push({ atMs, region, value: valueOf(vault), by: "replicator", ...(vault.state ? { stamp: vault.state.stamp } : {}) });
        }
        for (let peer = 0; peer < n; peer++) {
            if (peer !== region) offerTo(region, peer, atMs);
        }
    };

    /** Offers a region's state to one peer, unless the peer acknowledged it already. */
    const offerTo = (region: number, peer: number, atMs: number) => {
        const replicator = replicators[region];
        const state = vaults[region].state;
        if (state === undefined) {
            return;
        }
        const offer: Entry = state.deleted
            ? { stamp: state.stamp, deleted: true }
            : { stamp: state.stamp, deleted: false, data: state.data };
        {
            const acknowledged = replicator.delivered.get(peer);
            if (acknowledged !== undefined && compareStamps(acknowledged, offer.stamp) >= 0) {
                return;
            }
            const count = replicator.sent.get(peer) ?? 0;
            replicator.sent.set(peer, count + 1);
            requests[region].offers++;
            const delay = Math.max(0, Math.min(timing.maxDelayMs, Math.floor(delayOf(region, peer, count))));
            const landsAt = Math.max(atMs + delay, replicator.lastArrival.get(peer) ?? 0);
            replicator.lastArrival.set(peer, landsAt);
            jobs.push(landsAt, { kind: "land", from: region, to: peer, entry: offer, sentAtMs: atMs });
            if (scenario.duplicates?.(region, peer, count) === true) {
                jobs.push(landsAt + 1, { kind: "land", from: region, to: peer, entry: offer, sentAtMs: atMs });
            }
        }
    };

    for (let job = jobs.pop(); job !== undefined && job.atMs <= scenario.untilMs; job = jobs.pop()) {
        const { atMs } = job;
        const current = job.job;
        switch (current.kind) {
            case "event": {
                const { event } = current;
                const vault = vaults[event.region];
                if (event.kind === "write") {
                    vault.current++;
                    vault.exists = true;
                    const createdMs = clock(event.region, atMs);
                    vault.versions.set(vault.current, { data: { [KEY]: event.value ?? "" }, createdMs, by: "outside" });
                    pendingEvents[event.region].set(`${vault.current}/${createdMs}`, event);
                } else if (event.kind === "delete") {
                    const version = vault.versions.get(vault.current);
                    if (vault.exists && version !== undefined && version.deletedMs === undefined) {
                        version.deletedMs = clock(event.region, atMs);
                        pendingEvents[event.region].set(`${vault.current}/${version.createdMs}`, event);
                    }
                } else {
                    vault.versions = new Map();
                    vault.current = 0;
                    vault.exists = false;
                    pendingEvents[event.region].set("purge", event);
                }
                changes.push({ atMs, region: event.region, value: valueOf(vault), by: "outside" });
                if (timing.hintDelayMs !== undefined) {
                    jobs.push(atMs + timing.hintDelayMs, { kind: "round", region: event.region });
                }
                break;
            }
            case "round":
                if (replicators[current.region].up) {
                    round(current.region, atMs);
                }
                break;
            case "scan":
                if (replicators[current.region].up) {
                    round(current.region, atMs);
                }
                jobs.push(atMs + timing.scanIntervalMs, { kind: "scan", region: current.region });
                break;
            case "doorbell": {
                const replicator = replicators[current.region];
                if (replicator.up) {
                    const vault = vaults[current.region];
                    requests[current.region].doorbellReads += n - 1;
                    const rung = [...vault.doorbell].some(([peer, count]) => replicator.rung.get(peer) !== count);
                    if (rung) {
                        for (const [peer, count] of vault.doorbell) {
                            replicator.rung.set(peer, count);
                        }
                        round(current.region, atMs);
                    }
                }
                jobs.push(atMs + timing.doorbellIntervalMs, { kind: "doorbell", region: current.region });
                break;
            }
            case "land": {
                const { from, to, entry, sentAtMs } = current;
                if (linkDown(from, to, sentAtMs, atMs + 1)) {
                    // Lost: the sender, told by its timeout, offers again a retry interval later.
                    jobs.push(atMs + timing.retryIntervalMs, { kind: "retry", from, to });
                    break;
                }
                const inbox = vaults[to].inbox;
                const held = inbox.get(from);
                if (held === undefined || compareStamps(entry.stamp, held.stamp) > 0) {
                    inbox.set(from, entry);
                }
                vaults[to].doorbell.set(from, (vaults[to].doorbell.get(from) ?? 0) + 1);
                // The sender hears back only if it is still up and the link still holds.
                const sender = replicators[from];
                if (sender.up) {
                    const known = sender.delivered.get(to);
                    if (known === undefined || compareStamps(entry.stamp, known) > 0) {
                        sender.delivered.set(to, entry.stamp);
                    }
                }
                break;
            }
            case "retry":
                if (replicators[current.from].up) {
                    offerTo(current.from, current.to, atMs);
                }
                break;
            case "crash": {
                const replicator = replicators[current.crash.region];
                replicator.up = false;
                jobs.push(atMs + current.crash.downForMs, { kind: "restart", region: current.crash.region });
                break;
            }
            case "restart": {
                const replicator = replicators[current.region];
                replicator.up = true;
                replicator.delivered.clear();
                replicator.rung.clear();
                round(current.region, atMs);
                break;
            }
        }
    }

    return {
        finalValues: vaults.map(valueOf),
        finalStates: vaults.map((vault) => vault.state),
        changes,
        stateStamps,
        stamped,
        requests,
    };
}

/**
 * The longest a write made in one region's Vault takes to be in every other region's Vault, with no
 * partition and every replicator up: its hint (or, without one, the scan), the offer's flight, the
 * peer's next doorbell read.
 */
export function activePropagationBoundMs(timing: ReplicatorTiming = DEFAULT_TIMING): number {
    const detect = timing.hintDelayMs ?? timing.scanIntervalMs;
    return detect + timing.maxDelayMs + timing.doorbellIntervalMs;
}

/**
 * After a partition heals (or a crashed replicator restarts), the longest until every region holds
 * the winner again: the flight that failed, the sender's retry, the new flight, the peer's doorbell read.
 */
export function activeHealingBoundMs(timing: ReplicatorTiming = DEFAULT_TIMING): number {
    return timing.maxDelayMs + timing.retryIntervalMs + timing.maxDelayMs + timing.doorbellIntervalMs;
}
