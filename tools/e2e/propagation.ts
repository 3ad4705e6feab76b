/**
 * The end-to-end lane's propagation measurement: which writes to make (from the stack config's
 * replicated secrets), timing each write until every region's Kubernetes Secret holds it, and the
 * arithmetic of the results, next to the bound the model states for that secret
 * (docs/consistency.md). Pure but for {@link PropagationPorts}, which the lane implements with the
 * real clusters and the tests with fakes.
 */
import { replicationBound } from "../../bootstrap/canary";
import { type ReplicatedSecretSpec, remoteKeyOf, writersOf } from "../../components/replication/replicationSpecs";
import { activePropagationBoundMs } from "../../model/activeActive";
import { type Bound, LAYOUTS, type Layout } from "../../model/replication";
import { parseDurationMs } from "../../components/common/predicates";

/** A replicated secret as a resolved stack config lists it. */
export type SecretEntry = Pick<
    ReplicatedSecretSpec,
    "name" | "namespace" | "remoteKey" | "keys" | "mode" | "writers" | "pullInterval" | "pushInterval"
> & { readonly home?: string };

/** The key a whole-Secret replicated secret (no `keys`) is written under. */
export const WHOLE_SECRET_KEY = "value";

/** One secret written in one region, timed until every region holds the value. */
export interface WriteCase {
    readonly secret: string;
    readonly namespace: string;
    /** Its path under the KV mount (a vault-written secret is written there). */
    readonly remoteKey: string;
    /** The keys each write sets, all to the same new value. */
    readonly keys: readonly string[];
    readonly mode: string;
    /** Where the write is made. */
    readonly writer: string;
    /** Every region, each of whose Secrets must hold the value. */
    readonly regions: readonly string[];
    /** What the model says the write takes at most, if it states a bound for this secret. */
    readonly bound?: Bound;
}

/**
 * The regions a secret may be written in: every region for a secret with `writers: any`, else its
 * home alone (a write anywhere else is undone, not replicated: docs/consistency.md).
 */
export function writerRegions(entry: SecretEntry, regions: readonly string[]): string[] {
    if (writersOf(entry) === "any") {
        return [...regions];
    }
    return [entry.home ?? regions[0]];
}

/** The model's layout of a secret written only in its home, or undefined for one every region writes or the model has no layout for. */
export function layoutOf(entry: SecretEntry): Exclude<Layout, "seed"> | undefined {
    if (writersOf(entry) === "any") {
        return undefined;
    }
    const layout = `home/${entry.mode}`;
    return (LAYOUTS as readonly string[]).includes(layout) ? (layout as Exclude<Layout, "seed">) : undefined;
}

/**
 * The bound a write of `entry` must meet in every region's Kubernetes Secret: for a secret every region
 * writes, the replicators' bound into every Vault (model/activeActive.ts) plus one refresh interval of
 * its ExternalSecret (the replicator asks ESO to refresh at once; the interval is what holds if that
 * request is lost); else the home layout's bound (model/replication.ts).
 */
export function boundOf(entry: SecretEntry): Bound | undefined {
    if (writersOf(entry) === "any") {
        return {
            ms: activePropagationBoundMs() + parseDurationMs(entry.pullInterval),
            formula: "hint + flight + doorbell + E",
            guaranteed: true,
        };
    }
    const layout = layoutOf(entry);
    return layout === undefined ? undefined : replicationBound(layout, entry.pullInterval, entry.pushInterval);
}

/** Every write the lane times: each secret in each region that may write it. */
export function writePlan(entries: readonly SecretEntry[], regions: readonly string[]): WriteCase[] {
    return entries.flatMap((entry) => {
        const bound = boundOf(entry);
        return writerRegions(entry, regions).map((writer) => ({
            secret: entry.name,
            namespace: entry.namespace,
            remoteKey: remoteKeyOf(entry),
            keys: entry.keys ?? [WHOLE_SECRET_KEY],
            mode: entry.mode,
            writer,
            regions,
            ...(bound === undefined ? {} : { bound }),
        }));
    });
}

/** Median and maximum of some durations. @throws on an empty list */
export function stats(samplesMs: readonly number[]): { readonly count: number; readonly medianMs: number; readonly maxMs: number } {
    if (samplesMs.length === 0) {
        throw new Error("no samples");
    }
    const sorted = [...samplesMs].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    const medianMs = sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    return { count: sorted.length, medianMs, maxMs: sorted[sorted.length - 1] };
}

/** What a measurement needs from the platform. */
export interface PropagationPorts {
    /** Writes `value` under every key of the case, in its writer region (its Vault, or its Secret for cluster-written). */
    write(c: WriteCase, value: string): Promise<void>;
    /** Whether `region`'s Secret of the case holds `value` under every key. */
    holds(region: string, c: WriteCase, value: string): Promise<boolean>;
    /** A new random value, never shown. */
    newValue(): string;
    now(): number;
    sleep(ms: number): Promise<void>;
}

export interface MeasureOptions {
    /** Timed writes per case. */
    readonly writes: number;
    /** How often every region is looked at while a write travels. */
    readonly pollMs: number;
    /** How long a write may take before it counts as lost (well over the bound, to measure a slow one). */
    readonly timeoutMs: (c: WriteCase) => number;
}

/** The outcome of one case. */
export interface CaseResult {
    readonly secret: string;
    readonly mode: string;
    readonly writer: string;
    readonly bound?: { readonly ms: number; readonly formula: string };
    /** Each timed write: from the write's return until the last region held it. */
    readonly samplesMs: readonly number[];
    /** Per region, each timed write's arrival there. */
    readonly arrivalsMs: Readonly<Record<string, readonly number[]>>;
    readonly medianMs?: number;
    readonly maxMs?: number;
    /** Writes that took longer than the bound. */
    readonly overBound: number;
    /** Why the case stopped early, if it did. */
    readonly failure?: string;
}

/**
 * Times one case: an untimed first write (it settles whatever state the case starts from), then
 * `writes` timed ones, one after the other: each starts when the previous has reached every region.
 */
export async function measureCase(ports: PropagationPorts, c: WriteCase, options: MeasureOptions): Promise<CaseResult> {
    const samplesMs: number[] = [];
    const arrivalsMs: Record<string, number[]> = Object.fromEntries(c.regions.map((region) => [region, []]));
    const result = (failure?: string): CaseResult => {
        const summary = samplesMs.length === 0 ? undefined : stats(samplesMs);
        return {
            secret: c.secret,
            mode: c.mode,
            writer: c.writer,
            ...(c.bound === undefined ? {} : { bound: { ms: c.bound.ms, formula: c.bound.formula } }),
            samplesMs,
            arrivalsMs,
            ...(summary === undefined ? {} : { medianMs: summary.medianMs, maxMs: summary.maxMs }),
            overBound: c.bound === undefined ? 0 : samplesMs.filter((ms) => ms > (c.bound as Bound).ms).length,
            ...(failure === undefined ? {} : { failure }),
        };
    };
    for (let i = 0; i <= options.writes; i++) {
        const value = ports.newValue();
        await ports.write(c, value);
        const started = ports.now();
        const limit = options.timeoutMs(c);
        const arrived = new Map<string, number>();
        for (;;) {
            for (const region of c.regions.filter((r) => !arrived.has(r))) {
                if (await ports.holds(region, c, value)) {
                    arrived.set(region, ports.now() - started);
                }
            }
            if (arrived.size === c.regions.length) {
                break;
            }
            if (ports.now() - started >= limit) {
                const missing = c.regions.filter((r) => !arrived.has(r));
                const which = i === 0 ? "the first (untimed) write" : `timed write ${i} of ${options.writes}`;
                return result(
                    `${which} of ${c.secret} in ${c.writer} had not reached ${missing.join(", ")} after ${Math.round(limit / 1000)} s`,
                );
            }
            await ports.sleep(options.pollMs);
        }
        if (i > 0) {
            samplesMs.push(Math.max(...arrived.values()));
            for (const [region, ms] of arrived) {
                arrivalsMs[region].push(ms);
            }
        }
    }
    return result();
}

/** Every case at once (each case's writes one after the other). */
export function measureAll(ports: PropagationPorts, plan: readonly WriteCase[], options: MeasureOptions): Promise<CaseResult[]> {
    return Promise.all(plan.map((c) => measureCase(ports, c, options)));
}

/** One line per case that failed or broke its bound. */
export function propagationProblems(results: readonly CaseResult[]): string[] {
    return results.flatMap((r) => [
        ...(r.failure === undefined ? [] : [r.failure]),
        ...(r.overBound > 0 && r.bound !== undefined
            ? [
                  `${r.overBound} of ${r.samplesMs.length} writes of ${r.secret} in ${r.writer} took longer than the model's bound (${Math.round(r.bound.ms / 1000)} s, ${r.bound.formula}); the slowest took ${Math.round((r.maxMs ?? 0) / 1000)} s`,
              ]
            : []),
    ]);
}
