/**
 * The replicator's pure parts: the stamps' order and text form, and the decision for one secret.
 */
import * as fc from "fast-check";
import { type DecideInput, type Entry, type State, decide, sameData } from "../replicator/decide";
import { decodeState, encodeState } from "../replicator/records";
import { compareStamps, formatStamp, parseStamp, parseVaultTime, stampAfter } from "../replicator/stamp";

const stamps = fc.record({
    ms: fc.integer({ min: 0, max: 2 ** 42 }),
    counter: fc.integer({ min: 0, max: 1_000 }),
    region: fc.constantFrom("region1", "region2", "eu-west-1"),
});

describe("stamps", () => {
    it("order by time, then counter, then region, totally", () => {
        fc.assert(
            fc.property(stamps, stamps, stamps, (a, b, c) => {
                expect(Math.sign(compareStamps(a, b))).toBe(-Math.sign(compareStamps(b, a)));
                if (compareStamps(a, b) <= 0 && compareStamps(b, c) <= 0) {
                    expect(compareStamps(a, c)).toBeLessThanOrEqual(0);
                }
                expect(compareStamps(a, b) === 0).toBe(JSON.stringify(a) === JSON.stringify(b));
            }),
        );
    });

    it("read back what they write, and refuse anything else", () => {
        fc.assert(fc.property(stamps, (stamp) => expect(parseStamp(formatStamp(stamp))).toEqual(stamp)));
        for (const text of ["", "1.2", "1.2.Region", "1.2.region1.x", "-1.0.r", "1e3.0.r", 7, undefined, "99999999999999999.0.r"]) {
            expect(parseStamp(text)).toBeUndefined();
        }
    });

    it("stamp a local write above the value the region held, even when its clock is behind", () => {
        fc.assert(
            fc.property(fc.integer({ min: 0, max: 2 ** 42 }), fc.option(stamps, { nil: undefined }), (physical, previous) => {
                const stamp = stampAfter(physical, previous, "region2");
                expect(stamp.region).toBe("region2");
                expect(stamp.ms).toBeGreaterThanOrEqual(physical);
                if (previous !== undefined) {
                    expect(compareStamps(stamp, previous)).toBeGreaterThan(0);
                }
            }),
        );
        expect(stampAfter(1_000, { ms: 5_000, counter: 3, region: "region1" }, "region2")).toEqual({
            ms: 5_000,
            counter: 4,
            region: "region2",
        });
        expect(stampAfter(6_000, { ms: 5_000, counter: 3, region: "region1" }, "region2")).toEqual({
            ms: 6_000,
            counter: 0,
            region: "region2",
        });
    });

    it("read Vault's times (RFC 3339 with nanoseconds) to the millisecond, and nothing for an empty or zero time", () => {
        expect(parseVaultTime("2026-12-06T09:29:06.123456789Z")).toBe(Date.UTC(2026, 11, 6, 9, 29, 6, 123));
        expect(parseVaultTime("2026-12-06T09:29:06Z")).toBe(Date.UTC(2026, 11, 6, 9, 29, 6));
        expect([parseVaultTime(""), parseVaultTime("0001-01-01T00:00:00Z"), parseVaultTime(undefined)]).toEqual([
            undefined,
            undefined,
            undefined,
        ]);
    });
});

const S = (ms: number, region = "region1", counter = 0) => ({ ms, counter, region });
const base: Omit<DecideInput, "path"> = { region: "region1", nowMs: 100_000, maxAheadMs: 5_000, received: [] };
const live = (version: number, createdMs: number, value: string, byReplicator?: boolean) =>
    ({ kind: "live", id: { version, createdMs }, data: { v: value }, ...(byReplicator === undefined ? {} : { byReplicator }) }) as const;

describe("decide", () => {
    it("stamps a write made in this region with the time Vault took it, and offers it", () => {
        const decision = decide({ ...base, path: live(1, 50_000, "a") });
        expect(decision.cause).toBe("local");
        expect(decision.state).toEqual({ stamp: S(50_000), deleted: false, data: { v: "a" }, seen: { version: 1, createdMs: 50_000 } });
        expect(decision.offer).toEqual({ stamp: S(50_000), deleted: false, data: { v: "a" } });
        expect(decision.path).toBeUndefined();
    });

    it("adopts a newer entry from a peer: records it with the version its write will create, then writes it with check-and-set", () => {
        const state: State = { stamp: S(50_000), deleted: false, data: { v: "a" }, seen: { version: 1, createdMs: 50_000 } };
        const received: Entry[] = [{ stamp: S(60_000, "region2"), deleted: false, data: { v: "b" } }];
        const decision = decide({ ...base, path: live(1, 50_000, "a"), state, received });
        expect(decision.cause).toBe("received");
        expect(decision.state).toEqual({
            stamp: S(60_000, "region2"),
            deleted: false,
            data: { v: "b" },
            seen: { version: 1, createdMs: 50_000 },
            pending: 2,
        });
        expect(decision.path).toEqual({ kind: "write", data: { v: "b" }, cas: 1 });
        // Its own write, found on the next round: seen, and not a local write.
        const next = decide({ ...base, path: live(2, 99_000, "b"), state: decision.state, received });
        expect(next.cause).toBe("none");
        expect(next.state).toEqual({
            stamp: S(60_000, "region2"),
            deleted: false,
            data: { v: "b" },
            seen: { version: 2, createdMs: 99_000 },
        });
        expect(next.path).toBeUndefined();
    });

    it("ignores an older entry, and an entry stamped further ahead of its clock than the bound (held back)", () => {
        const state: State = { stamp: S(50_000), deleted: false, data: { v: "a" }, seen: { version: 1, createdMs: 50_000 } };
        const older: Entry = { stamp: S(40_000, "region2"), deleted: false, data: { v: "old" } };
        const ahead: Entry = { stamp: S(105_001, "region2"), deleted: false, data: { v: "future" } };
        const decision = decide({ ...base, path: live(1, 50_000, "a"), state, received: [older, ahead] });
        expect(decision.state).toBeUndefined();
        expect(decision.cause).toBe("none");
        expect(decision.heldBack).toEqual([ahead]);
        expect(decide({ ...base, nowMs: 100_001, path: live(1, 50_000, "a"), state, received: [ahead] }).state?.data).toEqual({
            v: "future",
        });
    });

    it("takes a version with the state's value as a local write unless it is the one the replicator said it would create", () => {
        const state: State = {
            stamp: S(60_000, "region2"),
            deleted: false,
            data: { v: "b" },
            seen: { version: 1, createdMs: 50_000 },
            pending: 2,
        };
        expect(decide({ ...base, path: live(3, 99_000, "b"), state }).cause).toBe("local");
        expect(decide({ ...base, path: live(2, 99_000, "b"), state }).cause).toBe("none");
    });

    it("trusts Vault's record of who wrote a version where there is one", () => {
        const state: State = { stamp: S(60_000, "region2"), deleted: false, data: { v: "b" }, seen: { version: 1, createdMs: 50_000 } };
        // An older value the replicator wrote (two replicas raced): not a local write; the path is brought to the state.
        const stale = decide({ ...base, path: live(2, 99_000, "a", true), state });
        expect(stale.cause).toBe("none");
        expect(stale.path).toEqual({ kind: "write", data: { v: "b" }, cas: 2 });
        // The state's own value, written by someone else: a local write.
        expect(decide({ ...base, path: live(2, 99_000, "b", false), state: { ...state, pending: 2 } }).cause).toBe("local");
    });

    it("stamps a deletion with its deletion time, and a path deleted with its metadata with the replicator's clock", () => {
        const state: State = { stamp: S(50_000), deleted: false, data: { v: "a" }, seen: { version: 1, createdMs: 50_000 } };
        const soft = decide({ ...base, path: { kind: "deleted", id: { version: 1, createdMs: 50_000 }, deletedMs: 70_000 }, state });
        expect(soft.state).toEqual({ stamp: S(70_000), deleted: true, seen: { version: 1, createdMs: 50_000, deleted: true } });
        expect(soft.offer).toEqual({ stamp: S(70_000), deleted: true });
        const purged = decide({ ...base, path: { kind: "absent" }, state });
        expect(purged.state).toEqual({ stamp: S(100_000), deleted: true });
    });

    it("applies a received deletion by deleting the version it read, and a newer write brings the secret back", () => {
        const state: State = { stamp: S(50_000), deleted: false, data: { v: "a" }, seen: { version: 4, createdMs: 50_000 } };
        const deletion = decide({ ...base, path: live(4, 50_000, "a"), state, received: [{ stamp: S(60_000, "region2"), deleted: true }] });
        expect(deletion.path).toEqual({ kind: "delete", version: 4 });
        const deleted = deletion.state as State;
        const back = decide({
            ...base,
            path: { kind: "deleted", id: { version: 4, createdMs: 50_000 }, deletedMs: 61_000 },
            state: deleted,
            received: [{ stamp: S(65_000, "region2"), deleted: false, data: { v: "again" } }],
        });
        expect(back.path).toEqual({ kind: "write", data: { v: "again" }, cas: 4 });
    });

    it("takes a deletion it has seen for no new one while the newer value it took is not yet written (its write failed)", () => {
        const deletedPath = { kind: "deleted", id: { version: 4, createdMs: 50_000 }, deletedMs: 61_000 } as const;
        const seenDeleted = decide({ ...base, path: deletedPath, state: { stamp: S(50_000), deleted: false, data: { v: "a" } } });
        const adopted = decide({
            ...base,
            path: deletedPath,
            state: seenDeleted.state,
            received: [{ stamp: S(65_000, "region2"), deleted: false, data: { v: "again" } }],
        });
        expect(adopted.path).toEqual({ kind: "write", data: { v: "again" }, cas: 4 });
        // The write was not made: the next round finds the same deleted version.
        const retried = decide({ ...base, nowMs: 200_000, path: deletedPath, state: adopted.state });
        expect(retried.cause).toBe("none");
        expect(retried.offer).toEqual({ stamp: S(65_000, "region2"), deleted: false, data: { v: "again" } });
        expect(retried.path).toEqual({ kind: "write", data: { v: "again" }, cas: 4 });
        // And the state's record keeps what it saw.
        expect(decodeState(encodeState(adopted.state as State))).toEqual(adopted.state);
    });

    it("writes a value into a path that is gone with check-and-set 0 (create only)", () => {
        const decision = decide({
            ...base,
            path: { kind: "absent" },
            received: [{ stamp: S(60_000, "region2"), deleted: false, data: { v: "b" } }],
        });
        expect(decision.path).toEqual({ kind: "write", data: { v: "b" }, cas: 0 });
        expect(decision.state?.pending).toBe(1);
    });

    it("merges the same way whatever order the entries come in, and merging again changes nothing", () => {
        const entries = fc.array(
            fc
                .record({ stamp: stamps, deleted: fc.boolean(), value: fc.constantFrom("a", "b", "c") })
                .map(({ stamp, deleted, value }): Entry => (deleted ? { stamp, deleted } : { stamp, deleted, data: { v: value } })),
            { maxLength: 6 },
        );
        fc.assert(
            fc.property(entries, (received) => {
                const input = { ...base, nowMs: 2 ** 43, path: { kind: "absent" } as const };
                const once = decide({ ...input, received });
                const reversed = decide({ ...input, received: [...received].reverse() });
                expect(reversed.offer).toEqual(once.offer);
                const again = decide({ ...input, ...(once.state ? { state: once.state } : {}), received });
                expect(again.offer).toEqual(once.offer);
            }),
        );
    });

    it("compares values key by key", () => {
        expect(sameData({ a: "1", b: "2" }, { b: "2", a: "1" })).toBe(true);
        expect(sameData({ a: "1" }, { a: "1", b: "2" })).toBe(false);
        expect(sameData({ a: "1" }, undefined)).toBe(false);
        expect(sameData({ toString: "x" }, {})).toBe(false);
    });
});
