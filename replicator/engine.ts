/**
 * A region's replicator: for each secret replicated with every region as a writer, it reads what
 * the region's Vault holds, decides with `decide.ts`, records its state, brings the secret's path to
 * the state, and offers the state to every peer region's inbox, ringing that peer's doorbell.
 *
 * When it works on a secret (a **round**):
 * - when a hint names it: an audit entry of a write to its path, or a peer's doorbell listing it;
 * - when a peer's doorbell was rung more often than it lists: every secret;
 * - every `scanIntervalMs`: every secret, the safety net for a lost hint;
 * - right after it wrote the path, to record the version it made.
 *
 * Rounds run one at a time. Every write is a check-and-set against what the round read, so a write
 * made meanwhile (by a person, by an app, by another replica of this replicator) makes the round start
 * over instead of being overwritten; with that, several replicas may run at once. Nothing it needs is
 * kept only in memory: after a restart it offers every state again, and a peer that already holds it
 * says so.
 *
 * Offers to a peer that cannot be reached are retried every `retryIntervalMs`, and so is a round that
 * failed (its Vault did not answer, or refused).
 */
import type { ReplicatorTiming } from "./config.ts";
import { type DecideInput, type Decision, type Entry, type PathView, type State, decide } from "./decide.ts";
import {
    DOORBELL_KEYS,
    decodeDoorbell,
    decodeEntry,
    decodeState,
    doorbellKey,
    encodeDoorbell,
    encodeEntry,
    encodeState,
    inboxKey,
    stateKey,
} from "./records.ts";
import { type Stamp, compareStamps, formatStamp, parseVaultTime } from "./stamp.ts";
import { type VaultClient, VaultError } from "./vault.ts";

export interface Peer {
    readonly region: string;
    /** A client for the peer's Vault, logged in with what the peer granted this region's replicator. */
    readonly client: VaultClient;
}

export interface EngineOptions {
    readonly region: string;
    /** The KV v2 mount, the same in every region. */
    readonly mount: string;
    /** The secrets' paths under the mount. */
    readonly keys: readonly string[];
    /** This region's Vault, logged in as the replicator. */
    readonly local: VaultClient;
    readonly peers: readonly Peer[];
    readonly timing: ReplicatorTiming;
    /**
     * The name this region's Vault records as the writer of the replicator's own versions (its
     * token's display name); undefined where Vault records none.
     */
    readonly actor?: string;
    /** The replicator's clock. */
    readonly now: () => number;
    readonly log: (line: string) => void;
    /** Called after the replicator changed a secret's path (to refresh the ESO objects that read it). */
    readonly changed?: (key: string) => Promise<void> | void;
    /** Called with every round's decision (the replicator's metrics, and tests). */
    readonly decided?: (key: string, decision: Decision) => void;
    /** Tests drive the engine step by step ({@link Engine.drain}, {@link Engine.offerPending}) instead of letting it run. */
    readonly manual?: boolean;
}

/** What the replicator counts, for its metrics. */
export interface EngineCounters {
    rounds: number;
    roundsFailed: number;
    retriedRounds: number;
    localWrites: number;
    received: number;
    pathWrites: number;
    pathDeletes: number;
    offers: number;
    offersFailed: number;
    heldBack: number;
    /** Milliseconds from a received entry's stamp to its being written here, last seen. */
    lastLagMs: number;
    lastScanMs: number;
}

const ATTEMPTS = 5;

export class Engine {
    private readonly options: EngineOptions;
    private readonly keys: ReadonlySet<string>;
    private readonly queue = new Set<string>();
    private readonly offers = new Map<string, Entry>();
    /** Per peer: the greatest stamp it acknowledged for each key. */
    private readonly delivered = new Map<string, Map<string, Stamp>>();
    /** Per peer: keys whose offer it has not acknowledged. */
    private readonly outbound = new Map<string, Set<string>>();
    /** Per peer: keys it refused (a 4xx answer), with when to offer them again. */
    private readonly refused = new Map<string, Map<string, number>>();
    /** Per peer: the doorbell count last read. */
    private readonly rung = new Map<string, number>();
    private readonly timers: ReturnType<typeof setInterval>[] = [];
    /** Per key: the timer that queues it again (after a failed round, or once a held-back entry may count); one at most. */
    private readonly lookAgain = new Map<string, { readonly atMs: number; readonly timer: ReturnType<typeof setTimeout> }>();
    private working?: Promise<void>;
    private flushing?: Promise<void>;
    /** Whether a round took an entry to offer while a flush ran. */
    private flushAgain = false;
    private stopped = false;
    readonly counters: EngineCounters = {
        rounds: 0,
        roundsFailed: 0,
        retriedRounds: 0,
        localWrites: 0,
        received: 0,
        pathWrites: 0,
        pathDeletes: 0,
        offers: 0,
        offersFailed: 0,
        heldBack: 0,
        lastLagMs: 0,
        lastScanMs: 0,
    };

    constructor(options: EngineOptions) {
        this.options = options;
        this.keys = new Set(options.keys);
        for (const peer of options.peers) {
            this.delivered.set(peer.region, new Map());
            this.outbound.set(peer.region, new Set());
            this.refused.set(peer.region, new Map());
        }
    }

    /** Starts the timers: a scan now and every `scanIntervalMs`, doorbells, retries. */
    start(): void {
        if (this.stopped) return;
        const every = (ms: number, run: () => void) => {
            run();
            // One handle per interval, kept for stop(): nothing accumulates while the replicator runs.
            this.timers.push(
                setInterval(() => {
                    if (!this.stopped) run();
                }, ms),
            );
        };
        every(this.options.timing.scanIntervalMs, () => this.scan());
        every(
            this.options.timing.doorbellIntervalMs,
            () => void this.pollDoorbells().catch((error: unknown) => this.failed("doorbells", error)),
        );
        every(this.options.timing.retryIntervalMs, () => this.flush());
    }

    /** How many timer handles the engine holds: its three intervals, and at most one per secret. */
    get timerCount(): number {
        return this.timers.length + this.lookAgain.size;
    }

    /** Stops the timers and waits for the work under way. */
    async stop(): Promise<void> {
        this.stopped = true;
        for (const timer of this.timers) clearInterval(timer);
        for (const { timer } of this.lookAgain.values()) clearTimeout(timer);
        this.lookAgain.clear();
        await this.working;
        await this.flushing;
    }

    /** A hint that a secret changed (an audit entry naming its path). Unknown paths are ignored. */
    hint(key: string): void {
        if (this.keys.has(key)) {
            this.enqueue([key]);
        }
    }

    /** Every secret, once. */
    scan(): void {
        this.counters.lastScanMs = this.options.now();
        this.enqueue(this.options.keys);
    }

    /** Resolves once nothing is queued or being offered (for tests and for a clean stop). */
    async idle(): Promise<void> {
        while (this.working !== undefined || this.flushing !== undefined) {
            await this.working;
            await this.flushing;
        }
    }

    private enqueue(keys: Iterable<string>): void {
        for (const key of keys) this.queue.add(key);
        if (this.options.manual === true) return;
        this.working ??= this.work().finally(() => {
            this.working = undefined;
            this.flush();
        });
    }

    /** The keys queued for a round. */
    get queued(): readonly string[] {
        return [...this.queue];
    }

    /** Runs the queued rounds now (what the engine does by itself unless `manual`). */
    async drain(): Promise<void> {
        await this.work();
    }

    private async work(): Promise<void> {
        while (this.queue.size > 0 && !this.stopped) {
            const [key] = this.queue;
            this.queue.delete(key);
            try {
                await this.round(key);
            } catch (error) {
                this.counters.roundsFailed++;
                this.failed(`round for ${key}`, error);
                this.later(key, this.options.timing.retryIntervalMs);
            }
        }
    }

    /**
     * Queues a round for `key` in `ms` (at most the scan interval away: a timer cannot wait longer than
     * 2^31-1 ms, and a longer wait would make it fire at once), unless one is already due sooner.
     */
    private later(key: string, ms: number): void {
        if (this.options.manual === true || this.stopped) return;
        const atMs = Date.now() + Math.min(ms, this.options.timing.scanIntervalMs);
        const due = this.lookAgain.get(key);
        if (due !== undefined) {
            if (due.atMs <= atMs) return;
            clearTimeout(due.timer);
        }
        const timer = setTimeout(() => {
            this.lookAgain.delete(key);
            this.hint(key);
        }, atMs - Date.now());
        this.lookAgain.set(key, { atMs, timer });
    }

    private failed(what: string, error: unknown): void {
        this.options.log(`${what} failed: ${error instanceof Error ? error.message : String(error)}`);
    }

    /** What the secret's path holds; its data is read only when the version is one the state has not seen. */
    /** Asks {@link EngineOptions.changed} to refresh what reads `key`, in the background; a failure is logged, never thrown. */
    private refresh(key: string): void {
        if (this.options.changed === undefined) return;
        void Promise.resolve()
            .then(() => this.options.changed?.(key))
            .catch((error: unknown) =>
                this.options.log(`refreshing the readers of ${key} failed: ${error instanceof Error ? error.message : String(error)}`),
            );
    }

    private async pathView(key: string, state: State | undefined): Promise<PathView> {
        const { local, mount, actor, now } = this.options;
        const metadata = await local.metadata(mount, key);
        const number = metadata?.currentVersion ?? 0;
        const version = metadata?.versions[String(number)];
        if (metadata === undefined || number === 0 || version === undefined) {
            return { kind: "absent" };
        }
        const createdMs = parseVaultTime(version.createdTime) ?? now();
        const id = { version: number, createdMs };
        const deletedMs = parseVaultTime(version.deletionTime);
        if (version.destroyed || (deletedMs !== undefined && deletedMs <= now())) {
            return { kind: "deleted", id, deletedMs: deletedMs ?? now() };
        }
        const byReplicator = actor === undefined || version.createdBy === undefined ? undefined : version.createdBy === actor;
        // The version the state was matched with holds the state's value, unless the state has since
        // taken another value it has yet to write (it then names the version that write will make).
        const known =
            state !== undefined &&
            !state.deleted &&
            state.pending === undefined &&
            state.seen?.version === number &&
            state.seen.createdMs === createdMs &&
            state.seen.deleted !== true;
        if (known && state.data !== undefined) {
            return { kind: "live", id, data: state.data, ...(byReplicator === undefined ? {} : { byReplicator }) };
        }
        const read = await local.read(mount, key, number);
        if (read.kind !== "data") {
            return { kind: "deleted", id, deletedMs: now() };
        }
        return { kind: "live", id, data: read.data, ...(byReplicator === undefined ? {} : { byReplicator }) };
    }

    /** One round for a secret, started over (up to {@link ATTEMPTS} times) when a check-and-set write finds a newer version. */
    async round(key: string): Promise<void> {
        const { local, mount, peers, region, timing, now } = this.options;
        for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
            if (attempt > 0) this.counters.retriedRounds++;
            const stateRead = await local.read(mount, stateKey(key));
            const state = stateRead.kind === "data" ? decodeState(stateRead.data) : undefined;
            if (stateRead.kind === "data" && state === undefined) {
                this.options.log(`the state of ${key} is not one this replicator wrote; it is replaced`);
            }
            const path = await this.pathView(key, state);
            const receivedFrom: (Entry | undefined)[] = [];
            for (const peer of peers) {
                const read = await local.read(mount, inboxKey(peer.region, key));
                receivedFrom.push(read.kind === "data" ? decodeEntry(read.data) : undefined);
            }
            const received = receivedFrom.filter((entry): entry is Entry => entry !== undefined);
            const input: DecideInput = { region, nowMs: now(), maxAheadMs: timing.maxAheadMs, path, received, ...(state ? { state } : {}) };
            const decision = decide(input);
            this.counters.heldBack += decision.heldBack.length;
            for (const entry of decision.heldBack) {
                this.options.log(
                    `${key}: held back ${formatStamp(entry.stamp)} from ${entry.stamp.region}, ${entry.stamp.ms - now()} ms ahead of this clock (the bound is ${timing.maxAheadMs} ms): check that region's clock`,
                );
            }
            if (decision.heldBack.length > 0) {
                // Look again once this clock has reached the earliest held-back stamp, or at the next scan's
                // distance, whichever comes first (a timer cannot wait longer than 2^31-1 ms, and a stamp
                // far ahead would otherwise make it fire at once, again and again).
                const waitMs = Math.min(...decision.heldBack.map((entry) => entry.stamp.ms)) - timing.maxAheadMs - now();
                this.later(key, Math.max(0, waitMs) + 1);
            }
            try {
                if (decision.state !== undefined) {
                    await local.write(
                        mount,
                        stateKey(key),
                        encodeState(decision.state),
                        stateRead.kind === "absent" ? 0 : stateRead.version,
                    );
                }
                const action = decision.path;
                if (action?.kind === "write") {
                    await local.write(mount, key, action.data, action.cas);
                    this.counters.pathWrites++;
                } else if (action?.kind === "delete") {
                    await local.deleteVersions(mount, key, [action.version]);
                    this.counters.pathDeletes++;
                }
                if (action !== undefined) {
                    if (decision.cause === "received" && decision.state !== undefined) {
                        this.counters.lastLagMs = now() - decision.state.stamp.ms;
                    }
                    // Record the version just made, on a round of its own.
                    this.queue.add(key);
                }
                if (action !== undefined || decision.cause === "local") {
                    // The path now holds a value this region's ESO has not read (a value taken from a peer, or a
                    // write made here): ask for a refresh, without holding up the rounds while the API answers.
                    this.refresh(key);
                }
            } catch (error) {
                if (error instanceof VaultError && error.casMismatch) {
                    continue; // written meanwhile: read again
                }
                throw error;
            }
            this.counters.rounds++;
            this.options.decided?.(key, decision);
            if (decision.cause === "local") {
                this.counters.localWrites++;
                this.options.log(
                    `${key}: a ${decision.state?.deleted ? "deletion" : "write"} here, stamped ${formatStamp(decision.state?.stamp as Stamp)}`,
                );
            } else if (decision.cause === "received") {
                this.counters.received++;
                this.options.log(`${key}: took ${formatStamp(decision.state?.stamp as Stamp)} from a peer`);
            }
            if (decision.offer !== undefined) {
                this.offers.set(key, decision.offer);
                // A peer whose own offer is this entry (or a newer one) holds it: nothing to send back.
                peers.forEach((peer, i) => {
                    const theirs = receivedFrom[i];
                    if (
                        theirs !== undefined &&
                        !decision.heldBack.includes(theirs) &&
                        compareStamps(theirs.stamp, (decision.offer as Entry).stamp) >= 0
                    ) {
                        this.delivered.get(peer.region)?.set(key, theirs.stamp);
                    }
                });
                for (const peer of peers) {
                    const acknowledged = this.delivered.get(peer.region)?.get(key);
                    if (acknowledged === undefined || compareStamps(acknowledged, decision.offer.stamp) < 0) {
                        this.outbound.get(peer.region)?.add(key);
                        if (this.flushing !== undefined) this.flushAgain = true;
                    }
                }
            }
            return;
        }
        this.options.log(`${key}: written again during each of ${ATTEMPTS} rounds; trying later`);
        this.queue.add(key);
    }

    /** Offers every pending entry to its peer, one peer after another, then rings that peer's doorbell. */
    private flush(): void {
        if (this.stopped || this.flushing !== undefined || this.options.manual === true) return;
        if (![...this.outbound.values()].some((keys) => keys.size > 0)) return;
        this.flushAgain = false;
        this.flushing = this.offerPending().finally(() => {
            this.flushing = undefined;
            // Entries taken while this flush ran are offered now, not at the next retry.
            if (this.flushAgain) this.flush();
        });
    }

    /** Offers what is pending to every peer now (what the engine does by itself unless `manual`). */
    async offerPending(): Promise<void> {
        for (const peer of this.options.peers) {
            await this.offerTo(peer).catch((error: unknown) => this.failed(`offers to ${peer.region}`, error));
        }
    }

    private async offerTo(peer: Peer): Promise<void> {
        const pending = this.outbound.get(peer.region) as Set<string>;
        const delivered = this.delivered.get(peer.region) as Map<string, Stamp>;
        const { mount, region } = this.options;
        const offered: string[] = [];
        const refused = this.refused.get(peer.region) as Map<string, number>;
        for (const key of [...pending]) {
            if ((refused.get(key) ?? 0) > this.options.now()) continue;
            refused.delete(key);
            const entry = this.offers.get(key);
            if (entry === undefined) {
                pending.delete(key);
                continue;
            }
            this.counters.offers++;
            try {
                const held = await peer.client.read(mount, inboxKey(region, key));
                const current = held.kind === "data" ? decodeEntry(held.data) : undefined;
                // An entry there stamped beyond this clock and the bound is not one this replicator
                // holds (its state never gets that far ahead: it holds such entries back too, and
                // stamps its writes above its state): one written before its state was lost, or not
                // by it. It is replaced, so it cannot keep this region's later writes out of that inbox.
                const foreign =
                    current !== undefined &&
                    current.stamp.ms > this.options.now() + this.options.timing.maxAheadMs &&
                    compareStamps(current.stamp, entry.stamp) > 0;
                if (foreign) {
                    this.options.log(
                        `${key}: replaced ${formatStamp(current.stamp)} in ${peer.region}'s inbox for this region, ${current.stamp.ms - this.options.now()} ms ahead of this clock, with ${formatStamp(entry.stamp)}`,
                    );
                }
                if (current === undefined || foreign || compareStamps(current.stamp, entry.stamp) < 0) {
                    await peer.client.write(mount, inboxKey(region, key), encodeEntry(entry), held.kind === "absent" ? 0 : held.version);
                    offered.push(key);
                }
                delivered.set(
                    key,
                    current !== undefined && !foreign && compareStamps(current.stamp, entry.stamp) > 0 ? current.stamp : entry.stamp,
                );
                // A round may have taken a newer entry meanwhile: it stays pending, to be offered next.
                if (this.offers.get(key) === entry) pending.delete(key);
            } catch (error) {
                this.counters.offersFailed++;
                if (error instanceof VaultError && error.casMismatch) continue;
                this.failed(`offering ${key} to ${peer.region}`, error);
                if (!(error instanceof VaultError) || error.status === 0 || error.status >= 500) {
                    // Unreachable, or its Vault cannot answer: the rest waits for the next retry.
                    break;
                }
                // Refused (a policy that does not grant it, a token not yet renewed): this key waits for
                // the next retry, the others go on.
                refused.set(key, this.options.now() + this.options.timing.retryIntervalMs);
            }
        }
        if (offered.length > 0) {
            await this.ring(peer, offered);
        }
    }

    /** Rings a peer's doorbell for the keys just offered (check-and-set, so two replicas never lose a ring). */
    private async ring(peer: Peer, keys: readonly string[]): Promise<void> {
        const { mount, region } = this.options;
        for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
            const read = await peer.client.read(mount, doorbellKey(region));
            const doorbell = (read.kind === "data" ? decodeDoorbell(read.data) : undefined) ?? { count: 0, recent: [] };
            let count = doorbell.count;
            const recent = [...doorbell.recent, ...keys.map((key) => [++count, key] as const)].slice(-DOORBELL_KEYS);
            try {
                await peer.client.write(
                    mount,
                    doorbellKey(region),
                    encodeDoorbell({ count, recent }),
                    read.kind === "absent" ? 0 : read.version,
                );
                return;
            } catch (error) {
                if (!(error instanceof VaultError && error.casMismatch)) throw error;
            }
        }
    }

    /** Reads every peer's doorbell in this region's Vault and queues the keys rung since the last read. */
    async pollDoorbells(): Promise<void> {
        const { local, mount, peers } = this.options;
        for (const peer of peers) {
            const read = await local.read(mount, doorbellKey(peer.region));
            const doorbell = read.kind === "data" ? decodeDoorbell(read.data) : undefined;
            if (doorbell === undefined) continue;
            const last = this.rung.get(peer.region);
            if (last === doorbell.count) continue;
            const listed = doorbell.recent.filter(([count]) => last === undefined || count > last);
            const missed = last === undefined || doorbell.count - last > listed.length;
            this.rung.set(peer.region, doorbell.count);
            this.enqueue(missed ? this.options.keys : listed.map(([, key]) => key).filter((key) => this.keys.has(key)));
        }
    }
}
