/**
 * The model of `writers: any` (model/activeActive.ts), which decides with the replicator's own code:
 * convergence, last write wins, no flip-flop and the propagation bounds, on generated histories with
 * partitions, crashes, duplicate deliveries and clock offsets.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as fc from "fast-check";
import {
    type ActiveEvent,
    type ActiveScenario,
    DEFAULT_TIMING,
    activeHealingBoundMs,
    activePropagationBoundMs,
    simulateActive,
} from "../model/activeActive";
import { compareStamps } from "../replicator/stamp";

const REGIONS = ["region1", "region2", "region3", "region4"];
/** The clock offset the generated histories stay within (each region's clock is within this of true time). */
const SKEW_MS = 2_000;

/** A generated history: regions, offsets, outside events in the first minute, partitions and crashes. */
const histories = fc
    .record({
        regions: fc.integer({ min: 2, max: 4 }),
        seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        offsets: fc.array(fc.integer({ min: -SKEW_MS, max: SKEW_MS }), { minLength: 4, maxLength: 4 }),
        events: fc.array(
            fc.record({
                atMs: fc.integer({ min: 0, max: 60_000 }),
                region: fc.integer({ min: 0, max: 3 }),
                kind: fc.constantFrom<ActiveEvent["kind"]>("write", "write", "write", "delete", "purge"),
                value: fc.constantFrom("a", "b", "c", "d", "e"),
            }),
            { minLength: 1, maxLength: 12 },
        ),
        partitions: fc.array(
            fc.record({
                a: fc.integer({ min: 0, max: 3 }),
                b: fc.integer({ min: 0, max: 3 }),
                fromMs: fc.integer({ min: 0, max: 60_000 }),
                forMs: fc.integer({ min: 1, max: 90_000 }),
            }),
            { maxLength: 3 },
        ),
        crashes: fc.array(
            fc.record({
                region: fc.integer({ min: 0, max: 3 }),
                atMs: fc.integer({ min: 0, max: 60_000 }),
                downForMs: fc.integer({ min: 1, max: 120_000 }),
            }),
            { maxLength: 2 },
        ),
        hints: fc.boolean(),
        attribution: fc.boolean(),
        duplicates: fc.boolean(),
    })
    .map((h): ActiveScenario => {
        const clamp = (r: number) => r % h.regions;
        const events = h.events.map((e) => ({ ...e, region: clamp(e.region) }));
        const partitions = h.partitions
            .map((p) => ({ between: [clamp(p.a), clamp(p.b)] as const, fromMs: p.fromMs, untilMs: p.fromMs + p.forMs }))
            .filter((p) => p.between[0] !== p.between[1]);
        const crashes = h.crashes.map((c) => ({ ...c, region: clamp(c.region) }));
        const quietFrom = Math.max(
            ...events.map((e) => e.atMs),
            ...partitions.map((p) => p.untilMs),
            ...crashes.map((c) => c.atMs + c.downForMs),
        );
        const timing = h.hints ? DEFAULT_TIMING : { ...DEFAULT_TIMING, hintDelayMs: undefined };
        return {
            regions: REGIONS.slice(0, h.regions),
            clockOffsetMs: h.offsets.slice(0, h.regions),
            seed: h.seed,
            timing,
            attribution: h.attribution,
            events,
            partitions,
            crashes,
            ...(h.duplicates ? { duplicates: (_from: number, _to: number, count: number) => count % 3 === 0 } : {}),
            // Long enough after the last outside event, partition and crash for every region to settle.
            // A write is found by its hint, or without hints by the next scan.
            untilMs: quietFrom + (timing.hintDelayMs ?? timing.scanIntervalMs) + 2 * activeHealingBoundMs(timing),
        };
    });

const RUNS = Number(process.env.MODEL_RUNS ?? 1_000);

describe("writers: any, in the model", () => {
    it("converges: once the network and the replicators are back, every region holds the same value and the same state", () => {
        fc.assert(
            fc.property(histories, (scenario) => {
                const result = simulateActive(scenario);
                expect(new Set(result.finalValues).size).toBe(1);
                const stamps = result.finalStates.map((state) => (state === undefined ? "none" : JSON.stringify(state.stamp)));
                expect(new Set(stamps).size).toBe(1);
            }),
            { numRuns: RUNS },
        );
    });

    it("lets the write with the greatest stamp win everywhere, a deletion too", () => {
        fc.assert(
            fc.property(histories, (scenario) => {
                const result = simulateActive(scenario);
                if (result.stamped.length === 0) {
                    return;
                }
                const last = [...result.stamped].sort((a, b) => compareStamps(a.stamp, b.stamp)).at(-1);
                const expected = last?.event.kind === "write" ? last.event.value : undefined;
                expect(result.finalValues).toEqual(scenario.regions.map(() => expected));
                expect(result.finalStates[0]?.stamp).toEqual(last?.stamp);
            }),
            { numRuns: RUNS },
        );
    });

    it("lets the last write in true time win when it came more than twice the clock offset after every other", () => {
        let checked = 0;
        fc.assert(
            fc.property(histories, (scenario) => {
                const events = [...scenario.events].sort((a, b) => a.atMs - b.atMs);
                const last = events.at(-1) as ActiveEvent;
                const clear = events.slice(0, -1).every((e) => e.atMs < last.atMs - 2 * SKEW_MS - 1);
                // A purge leaves no time behind (the replicator stamps it when it notices it), so histories with one are left out.
                if (!clear || last.kind !== "write" || events.some((e) => e.kind === "purge")) {
                    return;
                }
                checked++;
                expect(simulateActive(scenario).finalValues).toEqual(scenario.regions.map(() => last.value));
            }),
            { numRuns: RUNS },
        );
        expect(checked).toBeGreaterThan(RUNS / 10);
    });

    it("never flips a region back: each region's state stamp only grows", () => {
        fc.assert(
            fc.property(histories, (scenario) => {
                for (const stamps of simulateActive(scenario).stateStamps) {
                    for (let i = 1; i < stamps.length; i++) {
                        expect(compareStamps(stamps[i], stamps[i - 1])).toBeGreaterThanOrEqual(0);
                    }
                }
            }),
            { numRuns: RUNS },
        );
    });

    it("orders a write after the value its region held, whatever the clocks say", () => {
        // region1's clock is 2 s ahead: its write at 0 s is stamped 2 s. region2 holds it by 3.5 s and
        // writes at 4 s, which its clock (2 s behind) stamps 2 s: it is raised above region1's stamp and wins.
        const result = simulateActive({
            regions: ["region1", "region2"],
            clockOffsetMs: [2_000, -2_000],
            delayMs: () => 1_000,
            events: [
                { atMs: 0, region: 0, kind: "write", value: "first" },
                { atMs: 4_000, region: 1, kind: "write", value: "second" },
            ],
            untilMs: 120_000,
        });
        expect(result.changes.find((c) => c.region === 1 && c.by === "replicator")?.value).toBe("first");
        expect(result.finalValues).toEqual(["second", "second"]);
        expect(result.stamped.map((s) => s.stamp)).toEqual([
            { ms: 2_000, counter: 0, region: "region1" },
            { ms: 2_000, counter: 1, region: "region2" },
        ]);
    });

    it("reaches every region within the propagation bound, with no partition", () => {
        const bound = activePropagationBoundMs();
        expect(bound).toBe(500 + 2_000 + 1_000);
        fc.assert(
            fc.property(
                fc.integer({ min: 2, max: 4 }),
                fc.integer({ min: 0, max: 3 }),
                fc.integer({ min: 0, max: 60_000 }),
                fc.integer({ min: 1, max: 2 ** 31 - 1 }),
                (regions, writer, atMs, seed) => {
                    const from = writer % regions;
                    const result = simulateActive({
                        regions: REGIONS.slice(0, regions),
                        seed,
                        events: [{ atMs, region: from, kind: "write", value: "new" }],
                        untilMs: atMs + bound,
                    });
                    expect(result.finalValues).toEqual(REGIONS.slice(0, regions).map(() => "new"));
                },
            ),
            { numRuns: 300 },
        );
    });

    it("heals within the healing bound after a partition", () => {
        const result = simulateActive({
            regions: ["region1", "region2"],
            partitions: [{ between: [0, 1], fromMs: 0, untilMs: 30_000 }],
            events: [{ atMs: 1_000, region: 0, kind: "write", value: "during" }],
            untilMs: 30_000 + activeHealingBoundMs(),
        });
        expect(result.finalValues).toEqual(["during", "during"]);
        const arrived = result.changes.find((c) => c.region === 1 && c.value === "during");
        expect(arrived?.atMs).toBeGreaterThanOrEqual(30_000);
    });

    it("holds back a stamp further ahead than the clock bound, and lets it count once the clock gets there", () => {
        const ahead = DEFAULT_TIMING.maxAheadMs + 10_000;
        const result = simulateActive({
            regions: ["region1", "region2"],
            clockOffsetMs: [ahead, 0],
            delayMs: () => 0,
            events: [{ atMs: 0, region: 0, kind: "write", value: "from-the-future" }],
            untilMs: 5_000,
        });
        expect(result.finalValues).toEqual(["from-the-future", undefined]);
        const later = simulateActive({
            regions: ["region1", "region2"],
            clockOffsetMs: [ahead, 0],
            delayMs: () => 0,
            events: [
                { atMs: 0, region: 0, kind: "write", value: "from-the-future" },
                // Made later in true time, while the first is held back: the hold-back delays, it does not reorder.
                { atMs: 3_000, region: 1, kind: "write", value: "meanwhile" },
            ],
            untilMs: 10_000 + DEFAULT_TIMING.scanIntervalMs,
        });
        expect(later.finalValues).toEqual(["from-the-future", "from-the-future"]);
    });
});

describe("docs/consistency.md, every region writes", () => {
    const doc = fs.readFileSync(path.join(__dirname, "..", "docs", "consistency.md"), "utf8");
    const section = doc.slice(doc.indexOf("## Every region writes"), doc.indexOf("## Summary"));
    const seconds = (ms: number) => `${ms / 1000} s`;

    it("states the bounds the model computes, and what the clock bound is and what holding back does (in the README too)", () => {
        const flat = (text: string) => text.replace(/\s+/g, " ");
        expect(flat(section)).toContain(`hint + flight + doorbell = **${seconds(activePropagationBoundMs())}**`);
        expect(flat(section)).toContain(`flight + retry + flight + doorbell = **${seconds(activeHealingBoundMs())}**`);
        expect(flat(section)).toContain(
            `within ${DEFAULT_TIMING.hintDelayMs} ms of a write and a cross-region write landing within ${seconds(DEFAULT_TIMING.maxDelayMs)}`,
        );
        expect(flat(section)).toContain("**The clock bound is the regions' clock difference**");
        expect(flat(section)).toContain("The hold-back **delays** such an entry");
        const readme = flat(fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8"));
        expect(readme).toContain(`within ${seconds(activePropagationBoundMs())} and`);
        expect(readme).toContain(`within ${seconds(activeHealingBoundMs())} of it healing`);
        expect(readme).toContain(
            `a clock further ahead than ${seconds(DEFAULT_TIMING.maxAheadMs)} at the defaults is reported and its writes delayed, but not reordered`,
        );
    });

    it("names only tests of this file that exist", () => {
        const self = fs.readFileSync(__filename, "utf8");
        const titles = [...self.matchAll(/^\s*it\(\s*"([^"]+)"/gm)].map((m) => m[1]);
        const line = section.split("\n- ").find((item) => item.startsWith("`tests/activeActiveModel.test.ts`")) ?? "";
        const named = [...line.replace(/\n\s*/g, " ").matchAll(/`([^`]+)`/g)].map((m) => m[1]).slice(1);
        expect(named.length).toBeGreaterThan(5);
        expect(named.filter((name) => !titles.includes(name))).toEqual([]);
    });
});
