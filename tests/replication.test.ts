/**
 * Model-based tests of secret replication (model/replication.ts): the seed's layout loses writes and
 * flip-flops; the adopted home-region layouts converge within the bounds docs/consistency.md states,
 * never flip-flop, never lose the home's last write, and delete nothing across regions. Each claim of
 * docs/consistency.md names the test here that backs it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import fc from "fast-check";
import {
    DEFAULT_INTERVALS,
    DEFAULT_MAX_DELAY_MS,
    MANAGED_BY,
    RETRY_BACKOFF,
    SEED_INTERVALS,
    type ExternalEvent,
    type Layout,
    type Partition,
    type ReconcileModel,
    type Scenario,
    type SimResult,
    type Timing,
    allHold,
    changesAfter,
    convergenceDeadline,
    healBound,
    history,
    nonHomeRevertBound,
    parseDurationMs,
    peakVaultRequestRate,
    propagationBound,
    regionRoles,
    replicationNumbers,
    simulate,
    stateAt,
    vaultRequestRates,
    writesPerChange,
} from "../model/replication";

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const { pullIntervalMs: E, pushIntervalMs: P } = DEFAULT_INTERVALS;
/** Writes and partitions start within this window. */
const WINDOW = 3 * MIN;
const RUNS = { numRuns: 150 };

type HomeLayout = Exclude<Layout, "seed">;

interface HomeCase {
    readonly n: number;
    readonly home: number;
    readonly pull: number[];
    readonly push: number[];
    readonly maxDelayMs: number;
    readonly seed: number;
    /** Times of the writes at home, in order; the i-th writes `w<i+1>`. */
    readonly writes: number[];
    readonly partitions: Partition[];
}

const partitionArb = (n: number) =>
    fc
        .tuple(fc.nat(n - 1), fc.nat(n - 2), fc.nat(WINDOW), fc.integer({ min: 1, max: 150 * SEC }))
        .map(([a, b, fromMs, length]): Partition => ({ between: [a, b >= a ? b + 1 : b], fromMs, untilMs: fromMs + length }));

const homeCase = (opts: { partitions: boolean; minWrites?: number }) =>
    fc.integer({ min: 2, max: 5 }).chain((n) =>
        fc.record({
            n: fc.constant(n),
            home: fc.nat(n - 1),
            pull: fc.array(fc.nat(E - 1), { minLength: n, maxLength: n }),
            push: fc.array(fc.nat(P - 1), { minLength: n, maxLength: n }),
            maxDelayMs: fc.nat(10 * SEC),
            seed: fc.integer(),
            writes: fc.array(fc.nat(WINDOW), { minLength: opts.minWrites ?? 1, maxLength: 4 }).map((ws) => [...ws].sort((a, b) => a - b)),
            partitions: opts.partitions ? fc.array(partitionArb(n), { maxLength: 3 }) : fc.constant<Partition[]>([]),
        }),
    );

/** The write the home receives: into its Vault (vault-written) or into its own Secret (cluster-written). */
const homeWrite = (layout: HomeLayout, atMs: number, region: number, value: string): ExternalEvent =>
    layout === "home/vault-written" ? { atMs, kind: "vault-write", region, value } : { atMs, kind: "secret-write", region, value };

const timingOf = (c: HomeCase, reconcile: ReconcileModel, remoteTargets = c.n - 1): Timing => ({
    maxDelayMs: c.maxDelayMs,
    reconcile,
    remoteTargets,
});

/** Run a case; return the result, the deadline the docs state and the value every region must end with. */
function runHome(layout: HomeLayout, c: HomeCase, reconcile: ReconcileModel = "independent", extra: Partial<Scenario> = {}) {
    const t = timingOf(c, reconcile, extra.pushSecretPerTarget ? 1 : c.n - 1);
    const lastHeal = c.partitions.length > 0 ? Math.max(...c.partitions.map((p) => p.untilMs)) : undefined;
    const lastWrite = c.writes.length > 0 ? c.writes[c.writes.length - 1] : 0;
    const deadline = convergenceDeadline(layout, { lastHomeWriteMs: lastWrite, lastHealMs: lastHeal }, t);
    const expected = c.writes.length > 0 ? `w${c.writes.length}` : "v0";
    const result = simulate({
        layout,
        regions: c.n,
        home: c.home,
        phases: { pull: c.pull, push: c.push },
        maxDelayMs: c.maxDelayMs,
        seed: c.seed,
        partitions: c.partitions,
        reconcile,
        events: c.writes.map((atMs, i) => homeWrite(layout, atMs, c.home, `w${i + 1}`)),
        untilMs: deadline + 3 * Math.max(E, P) + 2 * c.maxDelayMs,
        ...extra,
    });
    return { result, deadline, expected };
}

/** Every Vault and Secret of every region only ever moves forward in this order of values. */
function movesForwardOnly(result: SimResult, order: readonly string[]): boolean {
    for (let r = 0; r < result.regions; r++) {
        for (const store of ["vault", "secret"] as const) {
            const indices = history(result, r, store)
                .filter((v): v is string => v !== undefined)
                .map((v) => order.indexOf(v));
            if (indices.some((i, k) => i < 0 || (k > 0 && i <= indices[k - 1]))) return false;
        }
    }
    return true;
}

/** The property both home layouts share: with random writes and partitions, every region holds the home's last value by the bound. */
function convergesByTheBound(layout: HomeLayout): void {
    fc.assert(
        fc.property(homeCase({ partitions: true }), (c) => {
            const { result, deadline, expected } = runHome(layout, c);
            expect(allHold(stateAt(result, deadline), expected)).toBe(true);
        }),
        RUNS,
    );
}

/** And: once converged, nothing changes any more (no flip-flop); values only ever move forward. */
function staysConverged(layout: HomeLayout): void {
    fc.assert(
        fc.property(homeCase({ partitions: true }), (c) => {
            const { result, deadline } = runHome(layout, c);
            expect(changesAfter(result, deadline)).toEqual([]);
            expect(movesForwardOnly(result, ["v0", ...c.writes.map((_, i) => `w${i + 1}`)])).toBe(true);
        }),
        RUNS,
    );
}

// -------------------------------------------------------------------------------------------------

describe("the seed's layout (every region pulls into K_r and pushes K_r to every Vault)", () => {
    const twoRegionsSeed = (overrides: Partial<Scenario>): Scenario => ({
        layout: "seed",
        regions: 2,
        intervals: SEED_INTERVALS,
        phases: { pull: [30 * MIN, 30 * MIN], push: [50 * MIN, 10 * MIN] },
        delayMs: () => 200,
        untilMs: 6 * HOUR,
        ...overrides,
    });

    it("seed: loses a write when a region with a stale Secret pushes before the write reaches it", () => {
        // Region 0's Vault gets "new" at 0:05; region 1's PushSecret runs at 0:10 with its Secret still
        // "v0" and pushes it to every Vault, region 0's included: the write is gone for good.
        const result = simulate(twoRegionsSeed({ events: [{ atMs: 5 * MIN, kind: "vault-write", region: 0, value: "new" }] }));
        expect(result.changes.map((c) => [c.atMs, c.region, c.store, c.value, c.cause])).toEqual([
            [5 * MIN, 0, "vault", "new", "external"],
            [10 * MIN + 200, 0, "vault", "v0", "push"],
        ]);
        expect(history(result, 0, "secret")).toEqual(["v0"]);
        expect(history(result, 1, "secret")).toEqual(["v0"]);
        expect(allHold(result.final, "v0")).toBe(true);
    });

    it("seed: flip-flops forever under concurrent writes when the two PushSecrets run within a network delay of each other", () => {
        // Both PushSecrets were created together (one pipeline run), so they run at 0:40:00.000 and
        // 0:40:00.050 every hour. "a" is written in region 0 and "b" in region 1 at 0:10; both Secrets
        // pick them up at 0:20. Each PushSecret finds its own Vault equal and overwrites the other one:
        // the Vaults swap, then the Secrets swap, every hour, for ever.
        const result = simulate(
            twoRegionsSeed({
                phases: { pull: [20 * MIN, 20 * MIN], push: [40 * MIN, 40 * MIN + 50] },
                events: [
                    { atMs: 10 * MIN, kind: "vault-write", region: 0, value: "a" },
                    { atMs: 10 * MIN, kind: "vault-write", region: 1, value: "b" },
                ],
                untilMs: 24 * HOUR,
            }),
        );
        expect(history(result, 0, "vault").slice(0, 6)).toEqual(["v0", "a", "b", "a", "b", "a"]);
        expect(history(result, 1, "secret").slice(0, 6)).toEqual(["v0", "b", "a", "b", "a", "b"]);
        // Still swapping after a day: a new KV version in each Vault every hour.
        expect(changesAfter(result, 23 * HOUR).filter((c) => c.store === "vault")).toHaveLength(2);
        expect(result.final.vaults.map((v) => v?.version)).toEqual([26, 26]);
        expect(result.final.secrets[0]).not.toBe(result.final.secrets[1]);
    });

    it("seed: an edit of the Secret never reaches Vault (the ExternalSecret reverts it at once)", () => {
        const result = simulate(twoRegionsSeed({ events: [{ atMs: 5 * MIN, kind: "secret-write", region: 0, value: "edited" }] }));
        expect(result.changes.map((c) => [c.atMs, c.store, c.value, c.cause])).toEqual([
            [5 * MIN, "secret", "edited", "external"],
            [5 * MIN, "secret", "v0", "revert"],
        ]);
        expect(allHold(result.final, "v0")).toBe(true);
    });

    const seedCase = fc.integer({ min: 2, max: 4 }).chain((n) =>
        fc.record({
            n: fc.constant(n),
            pull: fc.array(fc.nat(HOUR - 1), { minLength: n, maxLength: n }),
            push: fc.array(fc.nat(HOUR - 1), { minLength: n, maxLength: n }),
            seed: fc.integer(),
            writer: fc.nat(n - 1),
            at: fc.nat(HOUR),
        }),
    );

    it("seed: fast-check finds a lost write from random phases", () => {
        // Property the seed promises: a single write into any Vault reaches every region.
        const outcome = fc.check(
            fc.property(seedCase, (c) => {
                const result = simulate({
                    layout: "seed",
                    regions: c.n,
                    intervals: SEED_INTERVALS,
                    phases: { pull: c.pull, push: c.push },
                    seed: c.seed,
                    events: [{ atMs: c.at, kind: "vault-write", region: c.writer, value: "new" }],
                    untilMs: c.at + 4 * HOUR,
                });
                return allHold(result.final, "new");
            }),
            { numRuns: 200 },
        );
        expect(outcome.failed).toBe(true);
    });

    it("seed: fast-check finds a flip-flop that outlives ten refresh intervals", () => {
        // PushSecrets created by one pipeline run tick within seconds of each other; two regions write.
        const flipCase = fc.integer({ min: 2, max: 3 }).chain((n) =>
            fc.record({
                n: fc.constant(n),
                pull: fc.array(fc.nat(HOUR - 1), { minLength: n, maxLength: n }),
                push: fc.array(fc.nat(10 * SEC), { minLength: n, maxLength: n }),
                seed: fc.integer(),
                at: fc.array(fc.nat(HOUR), { minLength: 2, maxLength: 2 }),
            }),
        );
        const outcome = fc.check(
            fc.property(flipCase, (c) => {
                const last = Math.max(...c.at);
                const result = simulate({
                    layout: "seed",
                    regions: c.n,
                    intervals: SEED_INTERVALS,
                    phases: { pull: c.pull, push: c.push },
                    seed: c.seed,
                    events: [
                        { atMs: c.at[0], kind: "vault-write", region: 0, value: "a" },
                        { atMs: c.at[1], kind: "vault-write", region: 1, value: "b" },
                    ],
                    untilMs: last + 12 * HOUR,
                });
                return changesAfter(result, last + 10 * HOUR).length === 0;
            }),
            { numRuns: 200 },
        );
        expect(outcome.failed).toBe(true);
    });
});

// -------------------------------------------------------------------------------------------------

describe("home/vault-written (writes go into the home Vault; only the home pushes, to the peers)", () => {
    const layout = "home/vault-written";

    it("vault-written: converges to the home's last write within 2E + P + maxDelay, and within P + maxDelay + E of the last heal", () => {
        convergesByTheBound(layout);
    });

    it("vault-written: does not flip-flop: after convergence no Vault gets a new version and no Secret changes", () => {
        staysConverged(layout);
    });

    it("vault-written: never loses a write to the home: ESO never writes the home Vault, and no region goes back to an older value", () => {
        fc.assert(
            fc.property(homeCase({ partitions: true }), (c) => {
                const { result } = runHome(layout, c);
                const homeVaultCauses = result.changes.filter((ch) => ch.region === c.home && ch.store === "vault").map((ch) => ch.cause);
                expect(homeVaultCauses.every((cause) => cause === "external")).toBe(true);
                expect(movesForwardOnly(result, ["v0", ...c.writes.map((_, i) => `w${i + 1}`)])).toBe(true);
            }),
            RUNS,
        );
    });

    it("vault-written: during a partition the cut-off region keeps its last value, and gets the new one within P + maxDelay + E of the heal", () => {
        fc.assert(
            fc.property(homeCase({ partitions: false }), fc.nat(3), fc.integer({ min: 1, max: 30 * MIN }), (c, k, length) => {
                const cut = (c.home + 1 + (k % (c.n - 1))) % c.n;
                const w = c.writes[c.writes.length - 1];
                const partition: Partition = { between: [c.home, cut], fromMs: w, untilMs: w + length };
                const { result, expected } = runHome(layout, { ...c, partitions: [partition] });
                // Nothing the home pushes after the write gets through before the heal.
                expect(result.changes.filter((ch) => ch.region === cut && ch.value === expected && ch.atMs < partition.untilMs)).toEqual(
                    [],
                );
                const deadline = convergenceDeadline(
                    layout,
                    { lastHomeWriteMs: w, lastHealMs: partition.untilMs },
                    timingOf(c, "independent"),
                );
                expect(allHold(stateAt(result, deadline), expected)).toBe(true);
            }),
            RUNS,
        );
    });

    it("vault-written: pushes on one link land in order even when delays exceed P, so no region goes back", () => {
        fc.assert(
            fc.property(homeCase({ partitions: false }), fc.integer({ min: P, max: 3 * P }), (c, maxDelayMs) => {
                const { result } = runHome(layout, { ...c, maxDelayMs, writes: c.writes.map((w, i) => w + i * 10 * SEC) });
                expect(movesForwardOnly(result, ["v0", ...c.writes.map((_, i) => `w${i + 1}`)])).toBe(true);
            }),
            RUNS,
        );
    });

    const otherWrites = homeCase({ partitions: false, minWrites: 0 }).chain((c) =>
        fc.record({
            c: fc.constant(c),
            others: fc.array(fc.tuple(fc.nat(WINDOW), fc.nat(c.n - 2)), { minLength: 1, maxLength: 3 }),
        }),
    );

    it("vault-written: a write into a non-home Vault is reverted within P + maxDelay there (Secret: + E), never leaves its region, and the home's value wins", () => {
        fc.assert(
            fc.property(otherWrites, ({ c, others }) => {
                const t = timingOf(c, "independent");
                const writes = others.map(([atMs, k]) => ({ atMs, region: k >= c.home ? k + 1 : k }));
                const events: ExternalEvent[] = writes.map((w, i) => ({
                    atMs: w.atMs,
                    kind: "vault-write",
                    region: w.region,
                    value: `x${i + 1}`,
                }));
                const lastOther = Math.max(...writes.map((w) => w.atMs));
                const { result } = runHome(layout, c, "independent", {
                    events: [...c.writes.map((atMs, i) => homeWrite(layout, atMs, c.home, `w${i + 1}`)), ...events],
                    untilMs: WINDOW + 10 * MIN,
                });
                const bound = nonHomeRevertBound(layout, t);
                writes.forEach((w, i) => {
                    const value = `x${i + 1}`;
                    expect(stateAt(result, w.atMs + bound.vault.ms).vaults[w.region]?.data).not.toBe(value);
                    expect(stateAt(result, w.atMs + bound.secret.ms).secrets[w.region]).not.toBe(value);
                    expect(result.changes.filter((ch) => ch.value === value && ch.region !== w.region)).toEqual([]);
                });
                const lastHome = c.writes.length > 0 ? c.writes[c.writes.length - 1] : 0;
                const deadline = convergenceDeadline(layout, { lastHomeWriteMs: lastHome, lastOtherWriteMs: lastOther }, t);
                const expected = c.writes.length > 0 ? `w${c.writes.length}` : "v0";
                expect(allHold(stateAt(result, deadline), expected)).toBe(true);
                expect(changesAfter(result, deadline)).toEqual([]);
            }),
            RUNS,
        );
    });

    it("vault-written: deleting the secret in the home Vault deletes it nowhere else; every peer Vault and every Secret keeps the last value", () => {
        fc.assert(
            fc.property(homeCase({ partitions: false }), fc.nat(10 * MIN), (c, after) => {
                const t = timingOf(c, "independent");
                const converged = c.writes[c.writes.length - 1] + propagationBound(layout, t).ms;
                const deleteAt = converged + after;
                const { result, expected } = runHome(layout, c, "independent", {
                    events: [
                        ...c.writes.map((atMs, i) => homeWrite(layout, atMs, c.home, `w${i + 1}`)),
                        { atMs: deleteAt, kind: "vault-delete", region: c.home },
                    ],
                    untilMs: deleteAt + 2 * HOUR,
                });
                const before = stateAt(result, deleteAt - 1);
                expect(changesAfter(result, deleteAt - 1).map((ch) => [ch.region, ch.store, ch.value])).toEqual([
                    [c.home, "vault", undefined],
                ]);
                result.final.vaults.forEach((v, r) => {
                    if (r === c.home) expect(v).toBeUndefined();
                    else expect(v).toEqual(before.vaults[r]);
                });
                expect(result.final.secrets.every((s) => s === expected)).toBe(true);
            }),
            RUNS,
        );
    });

    it("vault-written: a deletion before the home's Secret picked up the last write leaves every region the value that Secret had", () => {
        const result = simulate({
            layout,
            regions: 3,
            home: 0,
            phases: { pull: [20 * SEC, 0, 0], push: [0, 0, 0] },
            events: [
                { atMs: 5 * SEC, kind: "vault-write", region: 0, value: "last" },
                { atMs: 10 * SEC, kind: "vault-delete", region: 0 },
            ],
            untilMs: HOUR,
        });
        expect(result.final.vaults.map((v) => v?.data)).toEqual([undefined, "v0", "v0"]);
        expect(result.final.secrets).toEqual(["v0", "v0", "v0"]);
    });

    it("vault-written: a secret created outside ESO in a peer Vault blocks pushes to that peer (not managed by external-secrets)", () => {
        // Empty start; an operator creates the secret in peer 1 first (no managed-by), then at home.
        const result = simulate({
            layout,
            regions: 2,
            home: 0,
            phases: { pull: [0, 0], push: [0, 0] },
            start: "empty",
            events: [
                { atMs: 1 * SEC, kind: "vault-write", region: 1, value: "peer-first" },
                { atMs: 2 * SEC, kind: "vault-write", region: 0, value: "home" },
            ],
            untilMs: HOUR,
        });
        expect(result.final.vaults[1]).toEqual({ data: "peer-first", version: 1, managedBy: undefined });
        expect(result.final.secrets).toEqual(["home", "peer-first"]);
        expect(result.errors.filter((e) => e.reason === "not-managed").length).toBeGreaterThan(100);
        // Marking it as ESO's (vault kv metadata patch -custom-metadata=managed-by=external-secrets) unblocks it;
        // in the model: the same run from a start where the peer's copy is ESO-managed converges.
        const fixed = simulate({
            layout,
            regions: 2,
            home: 0,
            phases: { pull: [0, 0], push: [0, 0] },
            events: [
                { atMs: 1 * SEC, kind: "vault-write", region: 1, value: "peer-first" },
                { atMs: 2 * SEC, kind: "vault-write", region: 0, value: "home" },
            ],
            untilMs: HOUR,
        });
        expect(allHold(fixed.final, "home")).toBe(true);
    });
});

// -------------------------------------------------------------------------------------------------

describe("home/cluster-written (an app owns the home's Secret; the home pushes it to every Vault)", () => {
    const layout = "home/cluster-written";

    it("cluster-written: converges to the home Secret's last value within P + E + maxDelay, and within P + maxDelay + E of the last heal", () => {
        convergesByTheBound(layout);
    });

    it("cluster-written: does not flip-flop and never goes back to an older value", () => {
        staysConverged(layout);
    });

    const edits = homeCase({ partitions: false }).chain((c) =>
        fc.record({
            c: fc.constant(c),
            edits: fc.array(fc.tuple(fc.nat(WINDOW), fc.nat(c.n - 1), fc.boolean()), { minLength: 1, maxLength: 4 }),
        }),
    );

    it("cluster-written: an edit of another region's Secret is reverted at once; a write into any Vault is reverted within P + maxDelay", () => {
        fc.assert(
            fc.property(edits, ({ c, edits: list }) => {
                const t = timingOf(c, "independent");
                // Each edit goes to a non-home Secret (kubectl edit) or into any region's Vault.
                const events: ExternalEvent[] = list.map(([atMs, region, intoVault], i) =>
                    intoVault || region === c.home
                        ? { atMs, kind: "vault-write", region, value: `x${i + 1}` }
                        : { atMs, kind: "secret-write", region, value: `x${i + 1}` },
                );
                const { result } = runHome(layout, c, "independent", {
                    events: [...c.writes.map((atMs, i) => homeWrite(layout, atMs, c.home, `w${i + 1}`)), ...events],
                    untilMs: WINDOW + 10 * MIN,
                });
                events.forEach((ev) => {
                    const value = ev.kind === "vault-write" || ev.kind === "secret-write" ? ev.value : "";
                    if (ev.kind === "secret-write") {
                        expect(stateAt(result, ev.atMs).secrets[ev.region]).not.toBe(value);
                        expect(result.changes.filter((ch) => ch.value === value && ch.store === "vault")).toEqual([]);
                    } else {
                        expect(stateAt(result, ev.atMs + nonHomeRevertBound(layout, t).vault.ms).vaults[ev.region]?.data).not.toBe(value);
                        expect(stateAt(result, ev.atMs + nonHomeRevertBound(layout, t).secret.ms).secrets[ev.region]).not.toBe(value);
                    }
                });
                const lastOther = Math.max(...events.map((ev) => ev.atMs));
                const deadline = convergenceDeadline(
                    layout,
                    { lastHomeWriteMs: c.writes[c.writes.length - 1], lastOtherWriteMs: lastOther },
                    t,
                );
                expect(allHold(stateAt(result, deadline), `w${c.writes.length}`)).toBe(true);
            }),
            RUNS,
        );
    });

    it("cluster-written: deleting the home Secret deletes nothing; a Vault copy deleted by hand comes back within P + maxDelay", () => {
        fc.assert(
            fc.property(homeCase({ partitions: false }), fc.nat(10 * MIN), fc.nat(4), (c, after, victim) => {
                const t = timingOf(c, "independent");
                const converged = c.writes[c.writes.length - 1] + propagationBound(layout, t).ms;
                const vaultDeleteAt = converged + after;
                const vaultVictim = victim % c.n;
                const secretDeleteAt = vaultDeleteAt + 10 * MIN;
                const { result, expected } = runHome(layout, c, "independent", {
                    events: [
                        ...c.writes.map((atMs, i) => homeWrite(layout, atMs, c.home, `w${i + 1}`)),
                        { atMs: vaultDeleteAt, kind: "vault-delete", region: vaultVictim },
                        { atMs: secretDeleteAt, kind: "secret-delete", region: c.home },
                    ],
                    untilMs: secretDeleteAt + 2 * HOUR,
                });
                // The Vault copy is back, with the same value, and no Secret changed meanwhile.
                const back = stateAt(result, vaultDeleteAt + nonHomeRevertBound(layout, t).vault.ms);
                expect(allHold(back, expected)).toBe(true);
                expect(back.vaults[vaultVictim]?.version).toBe(1);
                expect(changesAfter(result, vaultDeleteAt - 1).filter((ch) => ch.store === "secret" && ch.region !== c.home)).toEqual([]);
                // After the home Secret is deleted: every Vault and every other Secret keeps the value.
                expect(changesAfter(result, secretDeleteAt - 1).map((ch) => [ch.region, ch.store, ch.value])).toEqual([
                    [c.home, "secret", undefined],
                ]);
                result.final.vaults.forEach((v) => expect(v?.data).toBe(expected));
                result.final.secrets.forEach((s, r) => expect(s).toBe(r === c.home ? undefined : expected));
            }),
            RUNS,
        );
    });
});

// -------------------------------------------------------------------------------------------------

describe("initial values (a PushSecret with IfNotExists into the home Vault, in the home region only)", () => {
    const layout = "home/vault-written";

    it("initial: creates the value once, in the home Vault only; it reaches every region within 2E + P + maxDelay; it never overwrites a value that exists", () => {
        const initialCase = homeCase({ partitions: false, minWrites: 0 }).chain((c) =>
            fc.record({ c: fc.constant(c), initialPhase: fc.nat(HOUR - 1) }),
        );
        fc.assert(
            fc.property(initialCase, ({ c, initialPhase }) => {
                const t = timingOf(c, "independent");
                // Home writes land anywhere in the first 3 h; the initial PushSecret runs every hour.
                const writes = c.writes.map((w) => w * 60);
                const result = simulate({
                    layout,
                    regions: c.n,
                    home: c.home,
                    phases: { pull: c.pull, push: c.push },
                    maxDelayMs: c.maxDelayMs,
                    seed: c.seed,
                    start: "empty",
                    initial: { source: { generate: "gen" }, phaseMs: initialPhase },
                    events: writes.map((atMs, i) => homeWrite(layout, atMs, c.home, `w${i + 1}`)),
                    untilMs: 4 * HOUR,
                });
                const initialChanges = result.changes.filter((ch) => ch.cause === "initial");
                if (writes.length === 0)
                    expect(result.final.vaults.map((v) => v?.managedBy)).toEqual(Array.from({ length: c.n }, () => MANAGED_BY));
                const firstWrite = writes.length > 0 ? writes[0] : Infinity;
                const created = firstWrite > initialPhase;
                expect(result.initialWrites).toBe(created ? 1 : 0);
                expect(initialChanges.map((ch) => [ch.atMs, ch.region, ch.value, ch.version])).toEqual(
                    created ? [[initialPhase, c.home, "gen-1", 1]] : [],
                );
                // No later generated value ever appears anywhere.
                expect(result.changes.filter((ch) => ch.value?.startsWith("gen-") && ch.value !== "gen-1")).toEqual([]);
                const order = created ? ["gen-1", ...writes.map((_, i) => `w${i + 1}`)] : writes.map((_, i) => `w${i + 1}`);
                expect(movesForwardOnly(result, order)).toBe(true);
                const lastWrite = Math.max(created ? initialPhase : 0, ...writes);
                const deadline = lastWrite + propagationBound(layout, t).ms;
                expect(allHold(stateAt(result, deadline), order[order.length - 1])).toBe(true);
                expect(changesAfter(result, deadline)).toEqual([]);
            }),
            RUNS,
        );
    });

    it("initial: deleting the secret in the home Vault while the initial PushSecret exists re-creates it: a new generated value, or the operator's first value", () => {
        const run = (source: { generate: string } | { value: string }) =>
            simulate({
                layout,
                regions: 3,
                home: 0,
                phases: { pull: [1 * SEC, 2 * SEC, 3 * SEC], push: [4 * SEC, 5 * SEC, 6 * SEC] },
                start: "empty",
                initial: { source, phaseMs: 0 },
                events: [
                    { atMs: 10 * MIN, kind: "vault-write", region: 0, value: "rotated-by-hand" },
                    { atMs: 20 * MIN, kind: "vault-delete", region: 0 },
                ],
                untilMs: 3 * HOUR,
            });
        const generated = run({ generate: "gen" });
        expect(history(generated, 2, "secret")).toEqual([undefined, "gen-1", "rotated-by-hand", "gen-2"]);
        expect(allHold(generated.final, "gen-2")).toBe(true);
        const supplied = run({ value: "operator" });
        expect(history(supplied, 2, "secret")).toEqual([undefined, "operator", "rotated-by-hand", "operator"]);
        expect(allHold(supplied.final, "operator")).toBe(true);
    });

    it("initial: only the home region has an initial PushSecret and only the home pushes", () => {
        for (const l of ["home/vault-written", "home/cluster-written"] as const) {
            for (let n = 2; n <= 5; n++) {
                for (let h = 0; h < n; h++) {
                    const pushers = regionRoles(l, n, h).flatMap((role, r) => (role.pushes === "none" ? [] : [r]));
                    expect(pushers).toEqual([h]);
                }
            }
        }
        expect(regionRoles("home/vault-written", 3, 1)).toEqual([
            { pulls: true, pushes: "none", owner: "external-secret" },
            { pulls: true, pushes: "peers", owner: "external-secret" },
            { pulls: true, pushes: "none", owner: "external-secret" },
        ]);
        expect(regionRoles("home/cluster-written", 2, 0)).toEqual([
            { pulls: false, pushes: "all", owner: "app" },
            { pulls: true, pushes: "none", owner: "external-secret" },
        ]);
    });
});

// -------------------------------------------------------------------------------------------------

describe("the sequential reconcile model (ESO's PushSecret controller as read: one request at a time, first error ends the run, backoff)", () => {
    const sequentialConverges = (layout: HomeLayout, pushSecretPerTarget = false) =>
        fc.assert(
            fc.property(homeCase({ partitions: true }), (c) => {
                const { result, deadline, expected } = runHome(layout, c, "sequential", { pushSecretPerTarget });
                expect(allHold(stateAt(result, deadline), expected)).toBe(true);
                expect(changesAfter(result, deadline)).toEqual([]);
                expect(movesForwardOnly(result, ["v0", ...c.writes.map((_, i) => `w${i + 1}`)])).toBe(true);
            }),
            { numRuns: 100 },
        );

    it("sequential: vault-written converges within 2E + P + 2·(N-1)·maxDelay, or backoffCap + 2·(N-1)·maxDelay + E after the last heal, and never goes back", () => {
        sequentialConverges("home/vault-written");
    });

    it("sequential: cluster-written converges within P + E + 2·(N-1)·maxDelay, or backoffCap + 2·(N-1)·maxDelay + E after the last heal, and never goes back", () => {
        sequentialConverges("home/cluster-written");
    });

    it("sequential: with one PushSecret per target store, both layouts converge within the bounds for one remote target, whatever N", () => {
        sequentialConverges("home/vault-written", true);
        sequentialConverges("home/cluster-written", true);
    });

    // Region 1 is cut off from the home (0) for 40 minutes; region 2 is fine. A write at home at 1:30.
    const partitioned = (pushSecretPerTarget: boolean) =>
        simulate({
            layout: "home/vault-written",
            regions: 3,
            home: 0,
            phases: { pull: [0, 0, 0], push: [0, 0, 0] },
            delayMs: () => 100,
            reconcile: "sequential",
            storeOrder: (targets) => [...targets].sort((a, b) => a - b), // the partitioned store first, every time
            pushSecretPerTarget,
            partitions: [{ between: [0, 1], fromMs: 60 * SEC, untilMs: 60 * SEC + 40 * MIN }],
            events: [{ atMs: 90 * SEC, kind: "vault-write", region: 0, value: "new" }],
            untilMs: 2 * HOUR,
        });
    const firstHeld = (result: SimResult, region: number, value: string) =>
        result.changes.find((ch) => ch.region === region && ch.store === "secret" && ch.value === value)?.atMs ?? Infinity;

    it("sequential: one PushSecret for all stores lets a partitioned peer hold back a healthy one, and resumes up to backoffCap after the heal", () => {
        const result = partitioned(false);
        const heal = 60 * SEC + 40 * MIN;
        const timing: Timing = { reconcile: "sequential", maxDelayMs: 100, remoteTargets: 2 };
        // Region 2 was reachable all along but gets the write only after the heal (at 56:30)...
        expect(firstHeld(result, 2, "new")).toBe(56 * MIN + 30 * SEC);
        // ...and region 1 gets it 15:30 after the heal, far beyond the independent model's heal bound:
        // after 40 minutes of failures the PushSecret retries only every backoffCap.
        expect(firstHeld(result, 1, "new") - heal).toBe(15 * MIN + 30 * SEC);
        expect(firstHeld(result, 1, "new") - heal).toBeGreaterThan(healBound("home/vault-written").ms);
        expect(firstHeld(result, 1, "new") - heal).toBeLessThanOrEqual(healBound("home/vault-written", timing).ms);
        expect(allHold(result.final, "new")).toBe(true);
    });

    it("sequential: one PushSecret per target store keeps a healthy peer within the normal bound during another peer's partition", () => {
        const result = partitioned(true);
        const timing: Timing = { reconcile: "sequential", maxDelayMs: 100, remoteTargets: 1 };
        expect(firstHeld(result, 2, "new")).toBe(2 * MIN);
        expect(firstHeld(result, 2, "new")).toBeLessThanOrEqual(90 * SEC + propagationBound("home/vault-written", timing).ms);
        expect(allHold(result.final, "new")).toBe(true);
    });
    it("sequential: a PushSecret whose source does not exist yet backs off, so the initial value can reach the peers up to backoffCap late", () => {
        fc.assert(
            fc.property(fc.integer({ min: 20 * MIN, max: HOUR }), fc.nat(E - 1), fc.nat(P - 1), (initialAt, pullPhase, pushPhase) => {
                const result = simulate({
                    layout: "home/vault-written",
                    regions: 2,
                    home: 0,
                    phases: { pull: [pullPhase, pullPhase], push: [pushPhase, pushPhase] },
                    delayMs: () => 100,
                    reconcile: "sequential",
                    start: "empty",
                    initial: { source: { generate: "gen" }, phaseMs: initialAt },
                    untilMs: 2 * HOUR,
                });
                const reached = firstHeld(result, 1, "gen-1");
                expect(reached - initialAt).toBeLessThanOrEqual(2 * E + RETRY_BACKOFF.capMs + 100);
            }),
            { numRuns: 50 },
        );
        // One schedule where it shows: the value is created at 0:50:00 and reaches the peer at 0:55:30,
        // although 2E + P + 2·maxDelay is 90.2 s.
        const late = simulate({
            layout: "home/vault-written",
            regions: 2,
            home: 0,
            phases: { pull: [0, 0], push: [0, 0] },
            delayMs: () => 100,
            reconcile: "sequential",
            start: "empty",
            initial: { source: { generate: "gen" }, phaseMs: 50 * MIN },
            untilMs: 2 * HOUR,
        });
        expect(firstHeld(late, 1, "gen-1")).toBe(55 * MIN + 30 * SEC);
        expect(propagationBound("home/vault-written", { reconcile: "sequential", maxDelayMs: 100 }).ms).toBe(90_200);
    });
});

// -------------------------------------------------------------------------------------------------

describe("the bounds are reached (worst-case schedules), so a slower model would fail", () => {
    /** A phase such that a loop started at it runs at `atMs` (loops run at phase + k * period). */
    const phaseFor = (atMs: number, period: number) => ((atMs % period) + period) % period;
    const worstCase = fc
        .integer({ min: 2, max: 5 })
        .chain((n) =>
            fc.record({ n: fc.constant(n), home: fc.nat(n - 1), d: fc.nat(10 * SEC), w: fc.integer({ min: 2 * MIN, max: 10 * MIN }) }),
        );
    /** A worst-case schedule's run: every link delays exactly `d`, and one outside write happens. */
    const worstRun = (
        layout: Layout,
        { n, home, d }: { n: number; home: number; d: number },
        phases: Scenario["phases"],
        event: ExternalEvent,
        untilMs: number,
        more: Partial<Scenario> = {},
    ) => simulate({ layout, regions: n, home, phases, maxDelayMs: d, delayMs: () => d, events: [event], untilMs, ...more });
    /** Checks a worst-case schedule for 100 random region counts, homes, delays and write times. */
    const forWorstCases = (check: (c: { n: number; home: number; d: number; w: number }) => void) =>
        fc.assert(fc.property(worstCase, check), { numRuns: 100 });
    /** Every region holds the value at `atMs` and not a millisecond sooner. */
    const reachedAt = (result: SimResult, atMs: number, value: string) => {
        expect(allHold(stateAt(result, atMs), value)).toBe(true);
        expect(allHold(stateAt(result, atMs - 1), value)).toBe(false);
    };

    it("bounds: vault-written reaches 2E + P + maxDelay when each step just misses the previous one", () => {
        forWorstCases(({ n, home, d, w }) => {
            // The home's pull ran 1 ms before the write; its push 1 ms before the pull that saw it;
            // every peer's pull 1 ms before the push landed.
            const pulledAt = w - 1 + E;
            const pushAt = pulledAt - 1 + P;
            const landed = pushAt + d;
            const pull = Array.from({ length: n }, (_, r) => (r === home ? phaseFor(w - 1, E) : phaseFor(landed - 1, E)));
            const push = Array.from({ length: n }, () => phaseFor(pulledAt - 1, P));
            const result = worstRun(
                "home/vault-written",
                { n, home, d },
                { pull, push },
                { atMs: w, kind: "vault-write", region: home, value: "new" },
                w + 5 * MIN,
            );
            reachedAt(result, w + propagationBound("home/vault-written", { maxDelayMs: d }).ms - 3, "new");
        });
    });

    it("bounds: cluster-written reaches P + E + maxDelay when each step just misses the previous one", () => {
        forWorstCases(({ n, home, d, w }) => {
            const landed = w - 1 + P + d;
            const pull = Array.from({ length: n }, () => phaseFor(landed - 1, E));
            const push = Array.from({ length: n }, () => phaseFor(w - 1, P));
            const result = worstRun(
                "home/cluster-written",
                { n, home, d },
                { pull, push },
                { atMs: w, kind: "secret-write", region: home, value: "new" },
                w + 5 * MIN,
            );
            reachedAt(result, w + propagationBound("home/cluster-written", { maxDelayMs: d }).ms - 2, "new");
        });
    });

    it("bounds: a non-home write lasts P + maxDelay in its Vault and P + maxDelay + E in its Secret at worst", () => {
        forWorstCases(({ n, home, d, w }) => {
            const victim = (home + 1) % n;
            // A push landed 1 ms before the write (sent with no delay); the next one takes maxDelay.
            const reverted = w - 1 + P + d;
            const pull = Array.from({ length: n }, () => phaseFor(reverted - 1, E));
            const push = Array.from({ length: n }, () => phaseFor(w - 1, P));
            const result = worstRun(
                "home/vault-written",
                { n, home, d },
                { pull, push },
                { atMs: w, kind: "vault-write", region: victim, value: "x" },
                w + 5 * MIN,
                {
                    delayMs: (_from, _to, sentAtMs) => (sentAtMs === w - 1 ? 0 : d),
                },
            );
            const bound = nonHomeRevertBound("home/vault-written", { maxDelayMs: d });
            expect(stateAt(result, w + bound.vault.ms - 1).vaults[victim]?.data).toBe("v0");
            expect(stateAt(result, w + bound.vault.ms - 2).vaults[victim]?.data).toBe("x");
            expect(stateAt(result, w + bound.secret.ms - 2).secrets[victim]).toBe("v0");
            expect(stateAt(result, w + bound.secret.ms - 3).secrets[victim]).toBe("x");
        });
    });

    it("bounds: after a partition heals, convergence takes P + maxDelay + E at worst", () => {
        forWorstCases(({ n, home, d, w }) => {
            // Every peer is cut off from the home from just before the write until `heal`; the push
            // that would have made it ran 1 ms before the heal.
            const heal = w + 3 * MIN;
            const landed = heal - 1 + P + d;
            const pull = Array.from({ length: n }, (_, r) => (r === home ? phaseFor(w, E) : phaseFor(landed - 1, E)));
            const push = Array.from({ length: n }, () => phaseFor(heal - 1, P));
            const partitions = Array.from({ length: n }, (_, r) => r)
                .filter((r) => r !== home)
                .map((r): Partition => ({ between: [home, r], fromMs: w - 1, untilMs: heal }));
            const result = worstRun(
                "home/vault-written",
                { n, home, d },
                { pull, push },
                { atMs: w, kind: "vault-write", region: home, value: "new" },
                heal + 5 * MIN,
                { partitions },
            );
            reachedAt(result, heal + healBound("home/vault-written", { maxDelayMs: d }).ms - 2, "new");
        });
    });

    it("bounds: the sequential model reaches 2E + P + 2·(N-1)·maxDelay (a run that read the old value, then a full run)", () => {
        forWorstCases(({ n, home, d, w }) => {
            const R = n - 1;
            const pulledAt = w - 1 + E;
            // A run starts 1 ms before the home's Secret changes and takes R*d; the next starts P later.
            const cycle = P + R * d;
            const landed = pulledAt - 1 + cycle + R * d;
            const pull = Array.from({ length: n }, (_, r) => (r === home ? phaseFor(w - 1, E) : phaseFor(landed - 1, E)));
            const push = Array.from({ length: n }, () => phaseFor(pulledAt - 1, cycle));
            const result = worstRun(
                "home/vault-written",
                { n, home, d },
                { pull, push },
                { atMs: w, kind: "vault-write", region: home, value: "new" },
                w + 10 * MIN,
                { reconcile: "sequential", storeOrder: (targets) => [...targets].sort((a, b) => a - b) },
            );
            reachedAt(
                result,
                w + propagationBound("home/vault-written", { maxDelayMs: d, reconcile: "sequential", remoteTargets: R }).ms - 3,
                "new",
            );
        });
    });
});

// -------------------------------------------------------------------------------------------------

describe("bounds and request rates", () => {
    it("bounds: the adopted defaults give at most 2 minutes (95 s and 65 s); the seed's chain is 3 h and not guaranteed", () => {
        expect(DEFAULT_MAX_DELAY_MS).toBe(5 * SEC);
        expect(propagationBound("home/vault-written")).toEqual({ ms: 95 * SEC, formula: "2E + P + maxDelay", guaranteed: true });
        expect(propagationBound("home/cluster-written")).toEqual({ ms: 65 * SEC, formula: "P + E + maxDelay", guaranteed: true });
        expect(healBound("home/vault-written")).toEqual({ ms: 65 * SEC, formula: "P + maxDelay + E", guaranteed: true });
        expect(nonHomeRevertBound("home/vault-written")).toEqual({
            vault: { ms: 35 * SEC, formula: "P + maxDelay", guaranteed: true },
            secret: { ms: 65 * SEC, formula: "P + maxDelay + E", guaranteed: true },
        });
        expect(propagationBound("seed", { intervals: SEED_INTERVALS })).toEqual({
            ms: 3 * HOUR + 5 * SEC,
            formula: "2E + P + maxDelay",
            guaranteed: false,
        });
        expect(propagationBound("home/vault-written", { reconcile: "sequential", remoteTargets: 1 }).ms).toBe(100 * SEC);
        expect(propagationBound("home/cluster-written", { reconcile: "sequential", remoteTargets: 1 }).ms).toBe(70 * SEC);
        expect(propagationBound("home/vault-written", { reconcile: "sequential", remoteTargets: 4 }).ms).toBe(130 * SEC);
        expect(healBound("home/vault-written", { reconcile: "sequential", remoteTargets: 1 }).ms).toBe(RETRY_BACKOFF.capMs + 40 * SEC);
        expect(parseDurationMs("30s")).toBe(E);
        expect(parseDurationMs("1h")).toBe(SEED_INTERVALS.pushIntervalMs);
        expect(parseDurationMs("1m30s")).toBe(90 * SEC);
        expect(() => parseDurationMs("30")).toThrow("not a Go duration");
    });

    it("rates: the request-rate formulas match the requests the simulation counts", () => {
        const rateCase = fc.record({
            layout: fc.constantFrom<Layout>("seed", "home/vault-written", "home/cluster-written"),
            n: fc.integer({ min: 2, max: 4 }),
            e: fc.constantFrom(10, 20, 30, 60),
            p: fc.constantFrom(10, 20, 30, 60),
            seed: fc.integer(),
        });
        fc.assert(
            fc.property(rateCase, ({ layout, n, e, p, seed }) => {
                const intervals = { pullIntervalMs: e * SEC, pushIntervalMs: p * SEC };
                const T = HOUR;
                const result = simulate({
                    layout,
                    regions: n,
                    home: 0,
                    intervals,
                    phases: { pull: Array.from({ length: n }, (_, r) => r * 7), push: Array.from({ length: n }, (_, r) => r * 11) },
                    seed,
                    untilMs: T - 1,
                });
                const rates = vaultRequestRates({ layout, secrets: 1, regions: n, intervals, homes: "one-region" });
                rates.forEach((rate, r) => {
                    const got = result.requests[r];
                    expect(Math.abs(got.dataReads - rate.dataReads * (T / SEC))).toBeLessThanOrEqual(n + 1);
                    expect(Math.abs(got.metadataReads - rate.metadataReads * (T / SEC))).toBeLessThanOrEqual(n + 1);
                    expect(Math.abs(got.tokenLookups - rate.tokenCalls * (T / SEC))).toBeLessThanOrEqual(n + 1);
                    expect(got.dataWrites + got.metadataWrites).toBe(0);
                });
            }),
            { numRuns: 100 },
        );
    });

    it("rates: each change costs ESO 2 writes per Vault it lands in, as writesPerChange says", () => {
        fc.assert(
            fc.property(
                homeCase({ partitions: false }),
                fc.constantFrom<HomeLayout>("home/vault-written", "home/cluster-written"),
                (c, layout) => {
                    // Writes far enough apart that each one lands everywhere before the next.
                    const spaced = c.writes.map((_, i) => i * 3 * MIN);
                    const { result } = runHome(layout, { ...c, writes: spaced });
                    const esoWrites = result.requests.reduce((sum, q) => sum + q.dataWrites + q.metadataWrites, 0);
                    expect(esoWrites).toBe(spaced.length * writesPerChange(layout, c.n));
                },
            ),
            { numRuns: 100 },
        );
    });

    it("rates: 1,000 secrets in two regions, adopted design at 30 s against the seed at 1 h", () => {
        const round = (x: number) => Math.round(x * 100) / 100;
        const rows = replicationNumbers(1000, 2).map((row) => ({
            name: row.name,
            propagationS: row.propagation.ms / SEC,
            guaranteed: row.propagation.guaranteed,
            reads: round(row.peak.reads),
            writes: row.peak.writes,
            tokenCalls: round(row.peak.tokenCalls),
            logins: round(row.peak.logins * 3600),
        }));
        expect(rows).toEqual([
            {
                name: "adopted, vault-written, E = P = 30 s",
                propagationS: 95,
                guaranteed: true,
                reads: 66.67,
                writes: 0,
                tokenCalls: 33.33,
                logins: 4,
            },
            {
                name: "adopted, cluster-written, E = P = 30 s",
                propagationS: 65,
                guaranteed: true,
                reads: 83.33,
                writes: 0,
                tokenCalls: 33.33,
                logins: 4,
            },
            { name: "seed, E = P = 1 h", propagationS: 10805, guaranteed: false, reads: 1.39, writes: 0, tokenCalls: 0.56, logins: 4 },
            {
                name: "seed layout at E = P = 30 s",
                propagationS: 95,
                guaranteed: false,
                reads: 166.67,
                writes: 0,
                tokenCalls: 66.67,
                logins: 4,
            },
        ]);
        // Where vault-written's 66.67 reads/s come from: 33.33 pulls, and 16.67 data + 16.67 metadata reads of pushes.
        const [spread] = vaultRequestRates({ layout: "home/vault-written", secrets: 1000, regions: 2 });
        expect([round(spread.dataReads), round(spread.metadataReads)]).toEqual([50, 16.67]);
        // All secrets homed in one region: its peers carry every push.
        expect(round(peakVaultRequestRate({ layout: "home/vault-written", secrets: 1000, regions: 2, homes: "one-region" }).reads)).toBe(
            100,
        );
        // Without ESO's token cache every local reconcile logs in.
        expect(round(peakVaultRequestRate({ layout: "home/vault-written", secrets: 1000, regions: 2, tokenCache: false }).logins)).toBe(
            33.33,
        );
        // A value change: 2 writes per peer Vault.
        expect(peakVaultRequestRate({ layout: "home/vault-written", secrets: 1000, regions: 2, changesPerSecond: 1 }).writes).toBe(1);
        expect(MANAGED_BY).toBe("external-secrets");
    });
});

// -------------------------------------------------------------------------------------------------

describe("docs/consistency.md", () => {
    const doc = fs.readFileSync(path.resolve(__dirname, "..", "docs", "consistency.md"), "utf8");
    const self = fs.readFileSync(__filename, "utf8");

    it("docs: names only tests that exist, and every test of this file", () => {
        const section = doc.slice(doc.indexOf("## How the tests back this"));
        const named = [...section.matchAll(/`((?:seed|vault-written|cluster-written|initial|sequential|bounds|rates|docs): [^`]+)`/g)].map(
            (m) => m[1],
        );
        const titles = [...self.matchAll(/^\s*(?:it|it\.each\([^)]*\))\(\s*"([^"]+)"/gm)].map((m) => m[1]);
        expect(named.length).toBeGreaterThan(0);
        expect(named.filter((name) => !titles.includes(name))).toEqual([]);
        expect(titles.filter((title) => !named.includes(title))).toEqual([]);
    });

    it("docs: states the bounds and numbers the model computes", () => {
        const f = (x: number) => (Math.round(x * 100) / 100).toFixed(2);
        for (const row of replicationNumbers(1000, 2)) {
            const propagation = `${row.propagation.formula} = ${row.propagation.ms / SEC} s${row.propagation.guaranteed ? "" : " (not guaranteed)"}`;
            expect(doc).toContain(
                `| ${row.name} | ${propagation} | ${f(row.peak.reads)} | ${f(row.peak.writes)} | ${f(row.peak.tokenCalls)} | ${Math.round((row.peak.logins * HOUR) / SEC)} per hour |`,
            );
        }
        expect(doc).toContain(`E = P = ${E / SEC} s`);
        expect(doc).toContain(`maxDelay = ${DEFAULT_MAX_DELAY_MS / SEC} s`);
        expect(doc).toContain(`${RETRY_BACKOFF.capMs / SEC} s`);
    });
});
