/**
 * Model-based tests of moving a vault-written secret's home (model/replication.ts, `failover`): the old
 * home is cut off, every surviving region applies the new home, the new home takes writes, and the old
 * home comes back. Each region's Vault then lets only the new home push the secret (the peer push
 * policies), so with the runbook's order (docs/operations.md, "Moving a secret's home (failover)") no
 * stale value of the old home reaches another region, every region that applied the new home converges
 * to its last write within the documented bounds, and no write in the new home is lost; in the other
 * order fast-check finds a stale value landing. docs/consistency.md ("Failover of a home") names each test.
 *
 * MODEL_RUNS sets the number of random runs per property (default 300).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import fc from "fast-check";
import {
    DEFAULT_INTERVALS,
    type ExternalEvent,
    type Partition,
    type ReconcileModel,
    type Scenario,
    type SimResult,
    convergenceDeadline,
    history,
    simulate,
    stateAt,
} from "../model/replication";

const SEC = 1000;
const MIN = 60 * SEC;
const { pullIntervalMs: E, pushIntervalMs: P } = DEFAULT_INTERVALS;
/** Cuts, applies, returns and writes are spread over windows of this length. */
const WINDOW = 3 * MIN;
const RUNS = Number(process.env.MODEL_RUNS ?? 300);
const LAYOUT = "home/vault-written";

/** What fast-check draws; {@link toScenario} turns it into a schedule, in the runbook's order or not. */
interface Draw {
    readonly n: number;
    readonly oldHome: number;
    readonly newHome: number;
    readonly pull: number[];
    readonly push: number[];
    readonly maxDelayMs: number;
    readonly seed: number;
    readonly reconcile: ReconcileModel;
    /** When the old home is cut off from every other region. */
    readonly cutMs: number;
    /** Per region: how long after the cut it applies the new home (the old home's is unused). */
    readonly applyAfterCut: number[];
    /** Per region: how long after its apply (runbook order) or after the cut (any order) its link to the old home returns. */
    readonly returnGap: number[];
    /** Every link to the old home returns at once (the gap of region 0 after the last apply), or each on its own. */
    readonly together: boolean;
    /** How long after its last link returns the old home applies the new home; undefined: never within the run. */
    readonly oldApplyGap: number | undefined;
    /** Writes at the old home before the cut (`h1`, `h2`, …), as times before the cut. */
    readonly beforeCut: number[];
    /** Writes at the old home after the cut, while it still takes itself for the home (`s1`, `s2`, …): after the cut by these. */
    readonly stale: number[];
    /** Writes at the new home (`w1`, `w2`, …): after its apply by these. */
    readonly writes: number[];
    /** Partitions between surviving regions, as [a, b, from, length]. */
    readonly otherPartitions: [number, number, number, number][];
}

const draws = fc.integer({ min: 2, max: 5 }).chain((n) =>
    fc
        .record({
            n: fc.constant(n),
            oldHome: fc.nat(n - 1),
            shift: fc.integer({ min: 1, max: n - 1 }),
            pull: fc.array(fc.nat(E - 1), { minLength: n, maxLength: n }),
            push: fc.array(fc.nat(P - 1), { minLength: n, maxLength: n }),
            maxDelayMs: fc.nat(10 * SEC),
            seed: fc.integer(),
            reconcile: fc.constantFrom<ReconcileModel>("independent", "sequential"),
            cutMs: fc.integer({ min: 1, max: WINDOW }),
            applyAfterCut: fc.array(fc.nat(WINDOW), { minLength: n, maxLength: n }),
            returnGap: fc.array(fc.integer({ min: 1, max: WINDOW }), { minLength: n, maxLength: n }),
            together: fc.boolean(),
            oldApplyGap: fc.option(fc.nat(WINDOW), { nil: undefined }),
            beforeCut: fc.array(fc.nat(WINDOW), { maxLength: 2 }),
            stale: fc.array(fc.nat(2 * WINDOW), { minLength: 1, maxLength: 3 }),
            writes: fc.array(fc.nat(WINDOW), { minLength: 1, maxLength: 3 }),
            otherPartitions: fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1), fc.nat(2 * WINDOW), fc.integer({ min: 1, max: 2 * MIN })), {
                maxLength: 2,
            }),
        })
        .map(({ shift, ...d }): Draw => ({ ...d, newHome: (d.oldHome + shift) % n })),
);

/** A schedule built from a draw, with what the properties need to know about it. */
interface Case {
    readonly draw: Draw;
    readonly scenario: Scenario;
    readonly applied: (number | undefined)[];
    /** Per region: when its link to the old home returns (the old home's own: unused). */
    readonly returns: number[];
    /** The value every region that applied the new home must end with. */
    readonly last: string;
    /** By when: the documented bounds, counting every apply as a heal. */
    readonly deadline: number;
}

/**
 * The schedule of a draw. `runbook`: every link to the old home returns only after the region at its
 * other end has applied the new home; otherwise links return after the cut, whenever the draw says.
 */
function toScenario(draw: Draw, runbook: boolean): Case {
    const { n, oldHome, newHome, cutMs } = draw;
    const others = Array.from({ length: n }, (_, r) => r).filter((r) => r !== oldHome);
    const applied: (number | undefined)[] = Array.from({ length: n }, (_, r) =>
        r === oldHome ? undefined : cutMs + draw.applyAfterCut[r],
    );
    const lastApply = Math.max(...others.map((r) => applied[r] ?? 0));
    const returns = Array.from({ length: n }, (_, r) => {
        if (!runbook) return cutMs + draw.returnGap[r];
        return draw.together ? lastApply + draw.returnGap[0] : (applied[r] ?? 0) + draw.returnGap[r];
    });
    const lastReturn = Math.max(...others.map((r) => returns[r]));
    if (draw.oldApplyGap !== undefined) applied[oldHome] = lastReturn + draw.oldApplyGap;
    const oldApply = applied[oldHome];

    const cut: Partition[] = others.map((r) => ({ between: [oldHome, r], fromMs: cutMs, untilMs: returns[r] }));
    const otherPartitions: Partition[] = draw.otherPartitions
        .map(([a, b, fromMs, length]): Partition => ({ between: [a, b], fromMs, untilMs: fromMs + length }))
        .filter((p) => p.between[0] !== p.between[1] && !p.between.includes(oldHome));
    const partitions = [...cut, ...otherPartitions];

    const write = (atMs: number, region: number, value: string): ExternalEvent => ({ atMs, kind: "vault-write", region, value });
    const newHomeApply = applied[newHome] ?? 0;
    const writes = [...draw.writes].sort((a, b) => a - b).map((gap) => newHomeApply + gap);
    const events: ExternalEvent[] = [
        ...draw.beforeCut
            .filter((t) => t < cutMs)
            .sort((a, b) => a - b)
            .map((t, i) => write(t, oldHome, `h${i + 1}`)),
        // The old home takes writes until it applies the new home (after that, a write there is a non-home write).
        ...draw.stale
            .map((gap) => cutMs + gap)
            .filter((t) => oldApply === undefined || t < oldApply)
            .sort((a, b) => a - b)
            .map((t, i) => write(t, oldHome, `s${i + 1}`)),
        ...writes.map((t, i) => write(t, newHome, `w${i + 1}`)),
    ];

    const timing = { maxDelayMs: draw.maxDelayMs, reconcile: draw.reconcile, remoteTargets: 1 };
    const heals = [...partitions.map((p) => p.untilMs), ...applied.filter((t): t is number => t !== undefined)];
    const deadline = convergenceDeadline(LAYOUT, { lastHomeWriteMs: writes[writes.length - 1], lastHealMs: Math.max(...heals) }, timing);
    const scenario: Scenario = {
        layout: LAYOUT,
        regions: n,
        home: oldHome,
        phases: { pull: draw.pull, push: draw.push },
        maxDelayMs: draw.maxDelayMs,
        seed: draw.seed,
        reconcile: draw.reconcile,
        // As the component deploys them: one PushSecret per target Vault.
        pushSecretPerTarget: true,
        partitions,
        events,
        failover: { newHome, appliedAtMs: applied },
        untilMs: deadline + 3 * Math.max(E, P) + 2 * draw.maxDelayMs,
    };
    return { draw, scenario, applied, returns, last: `w${writes.length}`, deadline };
}

const isStale = (value: string | undefined) => value !== undefined && value.startsWith("s");
const writeIndex = (value: string | undefined) => (value !== undefined && value.startsWith("w") ? Number(value.slice(1)) : -1);

/** Regions other than the old home whose Vault or Secret ever held a value the old home took after it was cut off. */
function staleReached(result: SimResult, c: Case): number[] {
    return Array.from({ length: c.draw.n }, (_, r) => r).filter(
        (r) => r !== c.draw.oldHome && (history(result, r, "vault").some(isStale) || history(result, r, "secret").some(isStale)),
    );
}

/** Pushes from the old home that landed in a region at or after that region applied the new home. */
function landedAfterFence(result: SimResult, c: Case) {
    return result.changes.filter(
        (ch) => ch.from === c.draw.oldHome && ch.region !== c.draw.oldHome && ch.atMs >= (c.applied[ch.region] ?? Number.POSITIVE_INFINITY),
    );
}

/** Regions whose Vault or Secret, once it held a write of the new home, later held anything but a newer one. */
function wentBack(result: SimResult, c: Case): number[] {
    return Array.from({ length: c.draw.n }, (_, r) => r).filter((r) =>
        (["vault", "secret"] as const).some((store) => {
            const values = history(result, r, store);
            const first = values.findIndex((v) => writeIndex(v) > 0);
            if (first < 0) return false;
            const after = values.slice(first).map(writeIndex);
            return after.some((i, k) => i < 0 || (k > 0 && i <= after[k - 1]));
        }),
    );
}

describe("moving a secret's home (failover), in the model", () => {
    it("failover: in the runbook's order no stale value of the old home reaches another region: its pushes are refused from each region's apply on, and stop at its own", () => {
        let fencedRuns = 0;
        fc.assert(
            fc.property(draws, (draw) => {
                const c = toScenario(draw, true);
                const result = simulate(c.scenario);
                expect(landedAfterFence(result, c)).toEqual([]);
                expect(staleReached(result, c)).toEqual([]);
                // Every refusal is the fence: the old home's from a region's apply on, the new home's before it.
                for (const e of result.errors.filter((e) => e.reason === "fenced")) {
                    const applied = c.applied[e.to ?? -1] ?? Number.POSITIVE_INFINITY;
                    expect({
                        ...e,
                        fenced: e.from === draw.oldHome ? e.atMs >= applied : e.from === draw.newHome && e.atMs < applied,
                    }).toEqual({
                        ...e,
                        fenced: true,
                    });
                }
                // And the old home stops pushing once it applies: a request already in flight may still land, and be
                // refused, or find the link down, within the longest delay.
                const oldApply = c.applied[draw.oldHome] ?? Number.POSITIVE_INFINITY;
                const inFlight = (e: { reason: string }) => e.reason === "fenced" || e.reason === "unreachable";
                expect(
                    result.errors.filter(
                        (e) => e.from === draw.oldHome && (inFlight(e) ? e.atMs > oldApply + draw.maxDelayMs : e.atMs >= oldApply),
                    ),
                ).toEqual([]);
                if (result.errors.some((e) => e.reason === "fenced" && e.from === draw.oldHome)) fencedRuns++;
            }),
            { numRuns: RUNS },
        );
        // The old home did come back and push, and was refused, in most runs: the property is not empty.
        expect(fencedRuns).toBeGreaterThan(RUNS / 2);
    });

    it("failover: every region that applied the new home holds its last write within the documented bounds, counting each apply as a heal, and keeps it", () => {
        fc.assert(
            fc.property(draws, (draw) => {
                const c = toScenario(draw, true);
                const result = simulate(c.scenario);
                const atDeadline = stateAt(result, c.deadline);
                for (let r = 0; r < draw.n; r++) {
                    if (c.applied[r] === undefined) continue;
                    expect({ region: r, vault: atDeadline.vaults[r]?.data, secret: atDeadline.secrets[r] }).toEqual({
                        region: r,
                        vault: c.last,
                        secret: c.last,
                    });
                    expect(result.changes.filter((ch) => ch.region === r && ch.atMs > c.deadline)).toEqual([]);
                }
            }),
            { numRuns: RUNS },
        );
    });

    it("failover: an old home that has not applied the new home keeps serving its own value: the new home's pushes are refused there", () => {
        let checked = 0;
        fc.assert(
            fc.property(draws, (draw) => {
                const c = toScenario({ ...draw, oldApplyGap: undefined }, true);
                const result = simulate(c.scenario);
                const old = draw.oldHome;
                expect(history(result, old, "vault").some((v) => writeIndex(v) > 0)).toBe(false);
                expect(history(result, old, "secret").some((v) => writeIndex(v) > 0)).toBe(false);
                expect(result.changes.filter((ch) => ch.region === old && ch.cause === "push")).toEqual([]);
                if (result.errors.some((e) => e.reason === "fenced" && e.from === draw.newHome && e.to === old)) checked++;
            }),
            { numRuns: RUNS },
        );
        expect(checked).toBeGreaterThan(RUNS / 2);
    });

    it("failover: no write in the new home is lost: once a region holds one, it only moves to newer ones, and no push overwrites the new home's Vault", () => {
        fc.assert(
            fc.property(draws, (draw) => {
                const c = toScenario(draw, true);
                const result = simulate(c.scenario);
                expect(wentBack(result, c)).toEqual([]);
                const newHomeApply = c.applied[draw.newHome] ?? 0;
                expect(
                    result.changes.filter(
                        (ch) => ch.region === draw.newHome && ch.store === "vault" && ch.cause !== "external" && ch.atMs >= newHomeApply,
                    ),
                ).toEqual([]);
            }),
            { numRuns: RUNS },
        );
    });

    it("failover: fast-check finds a stale value of the old home landing in a region that reconnected to it before applying the new home", () => {
        const outcome = fc.check(
            fc.property(draws, (draw) => {
                const c = toScenario(draw, false);
                return staleReached(simulate(c.scenario), c).length === 0;
            }),
            { numRuns: 300 },
        );
        expect(outcome.failed).toBe(true);
        // Every stale value that lands does so before the region applied: the fence itself holds in any order.
        fc.assert(
            fc.property(draws, (draw) => {
                const c = toScenario(draw, false);
                expect(landedAfterFence(simulate(c.scenario), c)).toEqual([]);
            }),
            { numRuns: RUNS },
        );
    });

    it("failover: a region that reconnects before applying takes the old home's stale value and refuses the new home's write until it applies", () => {
        // Three regions; region 0 (the old home) is cut off at 0:01:00 and takes a write `s1` at 0:01:30.
        // Region 1 (the new home) applies at 0:02:00 and takes `w1` at 0:02:30. Region 2 reconnects to
        // region 0 at 0:05:00 but applies only at 0:10:00: region 0's push at 0:05:00 lands there.
        const result = simulate({
            layout: LAYOUT,
            regions: 3,
            home: 0,
            phases: { pull: [0, 0, 0], push: [0, 0, 0] },
            delayMs: () => SEC,
            pushSecretPerTarget: true,
            partitions: [
                { between: [0, 1], fromMs: MIN, untilMs: 60 * MIN },
                { between: [0, 2], fromMs: MIN, untilMs: 5 * MIN },
            ],
            events: [
                { atMs: 90 * SEC, kind: "vault-write", region: 0, value: "s1" },
                { atMs: 150 * SEC, kind: "vault-write", region: 1, value: "w1" },
            ],
            failover: { newHome: 1, appliedAtMs: [undefined, 2 * MIN, 10 * MIN] },
            untilMs: 15 * MIN,
        });
        const region2 = result.changes.filter((c) => c.region === 2).map((c) => [c.atMs / SEC, c.store, c.value, c.from]);
        expect(region2).toEqual([
            [301, "vault", "s1", 0],
            [330, "secret", "s1", undefined],
            [601, "vault", "w1", 1],
            [630, "secret", "w1", undefined],
        ]);
        // Before 0:10:00 region 2 refused the new home's pushes; after it, the old home's.
        const refused = result.errors.filter((e) => e.reason === "fenced" && e.to === 2);
        expect(refused.filter((e) => e.from === 1).every((e) => e.atMs < 10 * MIN)).toBe(true);
        expect(refused.filter((e) => e.from === 0).every((e) => e.atMs >= 10 * MIN)).toBe(true);
        expect(refused.filter((e) => e.from === 0).length).toBeGreaterThan(0);
    });

    it("failover: the new home's pushes undo a write the old home had pushed to some regions but not to the new home before it was cut off", () => {
        // Region 0 takes `h1` at 0:00:10 and pushes it at 0:00:40: it lands in region 2 at 0:00:41, but the
        // flight to region 1 (5 s) is cut at 0:00:42. Region 1 becomes the home with `v0`, and once region 2
        // applies (0:01:30) region 1's push takes it back to `v0`.
        const result = simulate({
            layout: LAYOUT,
            regions: 3,
            home: 0,
            phases: { pull: [0, 0, 0], push: [40 * SEC, 0, 0] },
            delayMs: (_from, to) => (to === 1 ? 5 * SEC : SEC),
            pushSecretPerTarget: true,
            partitions: [
                { between: [0, 1], fromMs: 42 * SEC, untilMs: 60 * MIN },
                { between: [0, 2], fromMs: 42 * SEC, untilMs: 60 * MIN },
            ],
            events: [{ atMs: 10 * SEC, kind: "vault-write", region: 0, value: "h1" }],
            failover: { newHome: 1, appliedAtMs: [undefined, MIN, 90 * SEC] },
            untilMs: 5 * MIN,
        });
        expect(history(result, 2, "vault")).toEqual(["v0", "h1", "v0"]);
        expect(result.changes.find((c) => c.region === 2 && c.store === "vault" && c.value === "v0")?.atMs).toBe(91 * SEC);
        expect(history(result, 1, "vault")).toEqual(["v0"]);
    });

    it("failover: a copy in the old home's Vault that ESO did not write refuses the new home's pushes (not managed) until it is marked", () => {
        // The secret was created by `vault kv put` in region 0's Vault (no managed-by); ESO carried it to
        // region 1. After the move, region 1's pushes into region 0 fail until the copy there is marked.
        const run = (mark: boolean) =>
            simulate({
                layout: LAYOUT,
                regions: 2,
                home: 0,
                start: "empty",
                phases: { pull: [0, 0], push: [0, 0] },
                delayMs: () => SEC,
                events: [
                    { atMs: 10 * SEC, kind: "vault-write", region: 0, value: "v1" },
                    { atMs: 3 * MIN, kind: "vault-write", region: 1, value: "w1" },
                    ...(mark ? [{ atMs: 5 * MIN, kind: "vault-mark" as const, region: 0 }] : []),
                ],
                failover: { newHome: 1, appliedAtMs: [2 * MIN, 2 * MIN] },
                untilMs: 10 * MIN,
            });
        const unmarked = run(false);
        expect(unmarked.final.vaults.map((v) => v?.data)).toEqual(["v1", "w1"]);
        expect(unmarked.errors.some((e) => e.reason === "not-managed" && e.from === 1 && e.to === 0)).toBe(true);
        const marked = run(true);
        expect(marked.final.vaults.map((v) => v?.data)).toEqual(["w1", "w1"]);
        expect(marked.final.secrets).toEqual(["w1", "w1"]);
        expect(marked.changes.find((c) => c.region === 0 && c.value === "w1" && c.store === "vault")?.atMs).toBe(5 * MIN + SEC);
    });

    it("failover: the way back, with writes paused until every region holds the current home's value, loses no write and converges to the new home's writes", () => {
        // Every region reachable: the current home takes writes `b1`, `b2`, …, then pauses; once every region
        // holds its last one, each region applies the move (in any order) and the new home takes `w1`, `w2`, ….
        const planned = fc.integer({ min: 2, max: 5 }).chain((n) =>
            fc.record({
                n: fc.constant(n),
                home: fc.nat(n - 1),
                shift: fc.integer({ min: 1, max: n - 1 }),
                pull: fc.array(fc.nat(E - 1), { minLength: n, maxLength: n }),
                push: fc.array(fc.nat(P - 1), { minLength: n, maxLength: n }),
                maxDelayMs: fc.nat(10 * SEC),
                seed: fc.integer(),
                reconcile: fc.constantFrom<ReconcileModel>("independent", "sequential"),
                before: fc.array(fc.nat(WINDOW), { minLength: 1, maxLength: 3 }),
                applyGap: fc.array(fc.nat(WINDOW), { minLength: n, maxLength: n }),
                writes: fc.array(fc.nat(WINDOW), { minLength: 1, maxLength: 3 }),
            }),
        );
        fc.assert(
            fc.property(planned, (d) => {
                const newHome = (d.home + d.shift) % d.n;
                const timing = { maxDelayMs: d.maxDelayMs, reconcile: d.reconcile, remoteTargets: 1 };
                const before = [...d.before].sort((a, b) => a - b);
                const paused = convergenceDeadline(LAYOUT, { lastHomeWriteMs: before[before.length - 1] }, timing);
                const applied = d.applyGap.map((gap) => paused + gap);
                const writes = [...d.writes].sort((a, b) => a - b).map((gap) => applied[newHome] + gap);
                const deadline = convergenceDeadline(
                    LAYOUT,
                    { lastHomeWriteMs: writes[writes.length - 1], lastHealMs: Math.max(...applied) },
                    timing,
                );
                const result = simulate({
                    layout: LAYOUT,
                    regions: d.n,
                    home: d.home,
                    phases: { pull: d.pull, push: d.push },
                    maxDelayMs: d.maxDelayMs,
                    seed: d.seed,
                    reconcile: d.reconcile,
                    pushSecretPerTarget: true,
                    events: [
                        ...before.map((t, i): ExternalEvent => ({ atMs: t, kind: "vault-write", region: d.home, value: `b${i + 1}` })),
                        ...writes.map((t, i): ExternalEvent => ({ atMs: t, kind: "vault-write", region: newHome, value: `w${i + 1}` })),
                    ],
                    failover: { newHome, appliedAtMs: applied },
                    untilMs: deadline + 3 * Math.max(E, P) + 2 * d.maxDelayMs,
                });
                const order = ["v0", ...before.map((_, i) => `b${i + 1}`), ...writes.map((_, i) => `w${i + 1}`)];
                const last = order[order.length - 1];
                for (let r = 0; r < d.n; r++) {
                    // The paused home's last write reached every region by the pause's end. (Checked as "landed by
                    // then", not as the value held then: the new home may write at that very millisecond.)
                    const landed = result.changes.find((c) => c.region === r && c.store === "vault" && c.value === order[before.length]);
                    expect({ region: r, landedBy: (landed?.atMs ?? Infinity) <= paused }).toEqual({ region: r, landedBy: true });
                    for (const store of ["vault", "secret"] as const) {
                        const indices = history(result, r, store).map((v) => order.indexOf(v ?? ""));
                        expect({ region: r, store, forward: indices.every((i, k) => i >= 0 && (k === 0 || i > indices[k - 1])) }).toEqual({
                            region: r,
                            store,
                            forward: true,
                        });
                    }
                    const atDeadline = stateAt(result, deadline);
                    expect([atDeadline.vaults[r]?.data, atDeadline.secrets[r]]).toEqual([last, last]);
                }
            }),
            { numRuns: RUNS },
        );
    });

    it("failover: a failover that no region has applied changes nothing, and one the model cannot follow is refused", () => {
        fc.assert(
            fc.property(draws, (draw) => {
                const { scenario } = toScenario(draw, true);
                const { failover, ...without } = scenario;
                const idle = simulate({
                    ...without,
                    failover: { newHome: failover?.newHome ?? 0, appliedAtMs: Array(draw.n).fill(undefined) },
                });
                expect(idle).toEqual(simulate(without));
            }),
            { numRuns: Math.ceil(RUNS / 3) },
        );
        const base: Scenario = { layout: LAYOUT, regions: 2, phases: { pull: [0, 0], push: [0, 0] }, untilMs: MIN };
        expect(() => simulate({ ...base, failover: { newHome: 0, appliedAtMs: [0, 0] } })).toThrow("is the home already");
        expect(() => simulate({ ...base, failover: { newHome: 1, appliedAtMs: [0] } })).toThrow("one time (or undefined) per region");
        expect(() => simulate({ ...base, layout: "home/cluster-written", failover: { newHome: 1, appliedAtMs: [0, 0] } })).toThrow(
            "home/vault-written only",
        );
        expect(() => simulate({ ...base, failover: { newHome: 1, appliedAtMs: [0, -1] } })).toThrow("failover apply time");
    });
});

describe("docs/consistency.md, Failover of a home", () => {
    it("failover: docs name only tests that exist, and every test of this file", () => {
        const doc = fs.readFileSync(path.resolve(__dirname, "..", "docs", "consistency.md"), "utf8");
        const start = doc.indexOf("## Failover of a home");
        expect(start).toBeGreaterThanOrEqual(0);
        const next = doc.indexOf("\n## ", start + 1);
        const section = doc.slice(start, next < 0 ? undefined : next);
        const named = [...section.matchAll(/`(failover: [^`]+)`/g)].map((m) => m[1]);
        const self = fs.readFileSync(__filename, "utf8");
        const titles = [...self.matchAll(/^\s*it\(\s*"([^"]+)"/gm)].map((m) => m[1]);
        expect(named.length).toBeGreaterThan(0);
        expect(named.filter((name) => !titles.includes(name))).toEqual([]);
        expect(titles.filter((title) => !named.includes(title))).toEqual([]);
    });
});
