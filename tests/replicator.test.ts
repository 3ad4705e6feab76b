/**
 * The real replicator engine (replicator/engine.ts) against fake Vaults that answer like KV v2:
 * either region writes, the greatest stamp wins everywhere, deletions follow the same order, and it
 * holds through partitions, lost answers, restarts, duplicate deliveries and clock offsets, on
 * thousands of generated histories.
 */
import * as fc from "fast-check";
import { compareStamps, formatStamp } from "../replicator/stamp";
import { doorbellKey, inboxKey, stateKey } from "../replicator/records";
import { RELOGIN_AFTER_403_MS, VaultClient } from "../replicator/vault";
import { FakeVault } from "../tools/fakes/fakeVault";
import { Lab, MOUNT, localActor, peerActor } from "../tools/fakes/replicationLab";

const KEY = "apps/db";

async function lab(options: Partial<ConstructorParameters<typeof Lab>[0]> = {}): Promise<Lab> {
    const made = new Lab({ regions: ["region1", "region2"], keys: [KEY], ...options });
    await made.start();
    return made;
}

/** A write in region `i`'s Vault, and its audit hint reaching that region's replicator, which works it off and offers it. */
async function writeAndHint(l: Lab, i: number, value: string): Promise<void> {
    l.vaults[i].put(KEY, { v: value });
    l.engines[i].hint(KEY);
    await l.step(i);
}

describe("the replicator, region to region", () => {
    it("carries a write made in either region to the other, through the peer's inbox and doorbell", async () => {
        const l = await lab();
        await writeAndHint(l, 0, "first");
        expect(l.vaults[1].current(inboxKey("region1", KEY))).toMatchObject({ deleted: "false", data: JSON.stringify({ v: "first" }) });
        expect(l.vaults[1].current(doorbellKey("region1"))).toMatchObject({ count: "1" });
        await l.step(1);
        expect(l.value(1, KEY)).toBe("first");
        // And back the other way.
        await writeAndHint(l, 1, "second");
        await l.step(0);
        expect([l.value(0, KEY), l.value(1, KEY)]).toEqual(["second", "second"]);
        expect(l.stateStamps(KEY)[0]).toBe(l.stateStamps(KEY)[1]);
        await l.stop();
    });

    it("holds back an entry from a region whose clock runs further ahead than the bound, and says which region to check", async () => {
        const l = await lab({ clockOffsetMs: [0, 60_000] });
        await writeAndHint(l, 1, "from-the-future");
        await l.step(0);
        expect(l.value(0, KEY)).toBeUndefined();
        expect(l.logs.join("\n")).toMatch(
            /held back \d+\.0\.region2 from region2, \d+ ms ahead of this clock \(the bound is 5000 ms\): check that region's clock/,
        );
        await l.stop();
    });

    it("looks again at an entry held back far ahead no sooner than the next scan would, and takes one just beyond the bound once its clock gets there", async () => {
        const l = new Lab({
            regions: ["region1", "region2"],
            keys: [KEY],
            manual: false,
            timing: { scanIntervalMs: 600_000, doorbellIntervalMs: 600_000, retryIntervalMs: 600_000 },
        });
        // 30 days ahead: beyond what a timer can wait (2^31-1 ms), which Node.js turns into 1 ms.
        const far = Date.now() + 30 * 86_400_000;
        l.vaults[0].put(inboxKey("region2", KEY), { stamp: `${far}.0.region2`, deleted: "false", data: JSON.stringify({ v: "far" }) });
        await l.start();
        await new Promise((resolve) => setTimeout(resolve, 500));
        await l.stop();
        expect(l.engines[0].counters.rounds).toBe(1);
        expect(l.value(0, KEY)).toBeUndefined();
        // A held-back entry just beyond the bound is taken by itself once this clock reaches it.
        const near = new Lab({ regions: ["region1", "region2"], keys: [KEY], manual: false, timing: { maxAheadMs: 0 } });
        near.vaults[0].put(inboxKey("region2", KEY), {
            stamp: `${Date.now() + 300}.0.region2`,
            deleted: "false",
            data: JSON.stringify({ v: "near" }),
        });
        await near.start();
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(near.value(0, KEY)).toBeUndefined();
        await new Promise((resolve) => setTimeout(resolve, 400));
        await near.stop();
        expect(near.value(0, KEY)).toBe("near");
    });

    it("delays, not reorders: a region whose clock runs 60 s ahead still beats a write made 30 s after its own, once peers' clocks reach its stamp", async () => {
        let now = 1_800_000_000_000;
        const l = await lab({ clock: () => now, clockOffsetMs: [0, 60_000] });
        await writeAndHint(l, 1, "ahead");
        await l.settle();
        now += 30_000;
        await writeAndHint(l, 0, "30-s-later");
        await l.settle();
        expect([l.value(0, KEY), l.value(1, KEY)]).toEqual(["30-s-later", "ahead"]);
        expect(l.engines[0].counters.heldBack).toBeGreaterThan(0);
        // region1's clock reaches the stamp less the bound: the entry counts, and wins.
        now += 30_000;
        await l.settle();
        expect([l.value(0, KEY), l.value(1, KEY)]).toEqual(["ahead", "ahead"]);
        await l.stop();
    });

    it("replaces an entry in a peer's inbox stamped beyond its own clock and the bound, so it cannot keep its later writes out", async () => {
        let now = 1_800_000_000_000;
        const l = await lab({ clock: () => now });
        // An entry region1's replicator does not hold (its state was lost, or it was not written by it), a day ahead.
        l.vaults[1].put(inboxKey("region1", KEY), {
            stamp: `${now + 86_400_000}.0.region1`,
            deleted: "false",
            data: JSON.stringify({ v: "stray" }),
        });
        now += 1_000;
        await writeAndHint(l, 0, "real");
        await l.step(1);
        expect([l.value(0, KEY), l.value(1, KEY)]).toEqual(["real", "real"]);
        expect(l.logs.join("\n")).toMatch(
            /apps\/db: replaced \d+\.0\.region1 in region2's inbox for this region, \d+ ms ahead of this clock/,
        );
        await l.stop();
    });

    it("asks for a refresh of the secret's readers in both regions: where the write was made, and where it arrived", async () => {
        const l = await lab();
        await writeAndHint(l, 0, "first");
        await l.step(1);
        expect(l.value(1, KEY)).toBe("first");
        await new Promise((resolve) => setImmediate(resolve));
        expect(
            l.refreshed
                .filter((r) => r.key === KEY)
                .map((r) => r.region)
                .sort(),
        ).toEqual(expect.arrayContaining([0, 1]));
        await l.stop();
    });

    it("writes each region's path only through that region's replicator: a peer may reach its inbox and doorbell, nothing else", async () => {
        const l = await lab();
        const asPeer = new VaultClient({
            address: "http://in-process",
            login: { kind: "token-file", path: "t" },
            readFile: () =>
                l.vaults[1].issueToken({
                    displayName: peerActor("region1", "region2"),
                    allow: [`${MOUNT}/data/${inboxKey("region1", "")}`, `${MOUNT}/data/${doorbellKey("region1")}`],
                }),
            transport: l.vaults[1].transport(),
        });
        await expect(asPeer.write(MOUNT, KEY, { v: "x" }, 0)).rejects.toThrow(/HTTP 403/);
        await expect(asPeer.write(MOUNT, stateKey(KEY), { v: "x" }, 0)).rejects.toThrow(/HTTP 403/);
        await expect(asPeer.write(MOUNT, inboxKey("region3", KEY), { v: "x" }, 0)).rejects.toThrow(/HTTP 403/);
        await l.stop();
    });

    it("goes on offering the other secrets when a peer refuses one (403), offers that one again after the retry interval, and does not log in again on every refusal", async () => {
        let now = 1_800_000_000_000;
        const l = await lab({ clock: () => now, keys: [KEY, "apps/api"] });
        const refusing = (path: string) => path === inboxKey("region1", KEY);
        l.vaults[1].refuseWrite.set(peerActor("region1", "region2"), refusing);
        for (const [key, value] of [
            [KEY, "refused"],
            ["apps/api", "taken"],
        ]) {
            l.vaults[0].put(key, { v: value });
            l.engines[0].hint(key);
        }
        await l.step(0);
        await l.step(1);
        expect([l.value(1, KEY), l.value(1, "apps/api")]).toEqual([undefined, "taken"]);
        expect(l.logs.join("\n")).toMatch(/offering apps\/db to region2 failed: .*HTTP 403/);
        // Once the peer grants it, the refused secret follows at the next retry, not before.
        l.vaults[1].refuseWrite.clear();
        now += 1_000;
        await l.step(0);
        expect(l.vaults[1].current(inboxKey("region1", KEY))).toBeUndefined();
        now += 5_000;
        await l.step(0);
        await l.step(1);
        expect(l.value(1, KEY)).toBe("refused");
        await l.stop();

        // A client refused again and again keeps its token instead of logging in for every request.
        let reads = 0;
        const token = l.vaults[1].issueToken({ displayName: "refused-client", allow: [] });
        const client = new VaultClient({
            address: "http://in-process",
            login: { kind: "token-file", path: "t" },
            readFile: () => {
                reads++;
                return token;
            },
            transport: l.vaults[1].transport(),
        });
        for (let n = 0; n < 5; n++) await expect(client.write(MOUNT, KEY, { v: "x" }, 0)).rejects.toThrow(/HTTP 403/);
        expect(reads).toBe(1);
    });

    it("lets the later write win in both regions when both write before either hears of the other", async () => {
        let now = 1_800_000_000_000;
        const l = await lab({ clock: () => now });
        l.vaults[0].put(KEY, { v: "earlier" });
        now += 1_000;
        l.vaults[1].put(KEY, { v: "later" });
        for (const i of [0, 1]) {
            l.engines[i].hint(KEY);
            await l.engines[i].drain();
        }
        await l.settle();
        expect([l.value(0, KEY), l.value(1, KEY)]).toEqual(["later", "later"]);
        await l.stop();
    });

    it("orders deletions the same way: a later write brings the secret back, a write stamped before the deletion does not", async () => {
        let now = 1_800_000_000_000;
        const l = await lab({ clock: () => now });
        await writeAndHint(l, 0, "v1");
        await l.settle();
        // Cut off, region2 deletes it; region1, whose clock is 10 s behind, writes 1 s later: its write is
        // stamped 9 s before the deletion, so the deletion wins once they meet.
        l.cut(0, 1);
        now += 1_000;
        l.vaults[1].softDelete(KEY);
        l.engines[1].hint(KEY);
        await l.step(1);
        l.vaults[0].clockOffsetMs = -10_000;
        now += 1_000;
        await writeAndHint(l, 0, "stamped-earlier");
        l.cut(0, 1, false);
        await l.settle();
        expect([l.value(0, KEY), l.value(1, KEY)]).toEqual([undefined, undefined]);
        // Now region1 has seen the deletion: a write there is ordered after it, whatever its clock says.
        now += 1_000;
        await writeAndHint(l, 0, "after");
        await l.settle();
        expect([l.value(0, KEY), l.value(1, KEY)]).toEqual(["after", "after"]);
        await l.stop();
    });

    it("keeps a peer's newer value adopted over a deleted path when writing it to the path fails, instead of deleting it everywhere", async () => {
        let now = 1_800_000_000_000;
        const l = await lab({ clock: () => now });
        await writeAndHint(l, 0, "v1");
        await l.settle();
        now += 1_000;
        l.vaults[1].softDelete(KEY);
        l.engines[1].hint(KEY);
        await l.settle();
        expect([l.value(0, KEY), l.value(1, KEY)]).toEqual([undefined, undefined]);
        now += 1_000;
        await writeAndHint(l, 0, "v2");
        // region2 records the value it takes, then its write of the path fails (a 503 while the active node changes).
        l.vaults[1].failWrite.set(localActor("region2"), (path) => path === KEY);
        await l.step(1);
        expect(l.vaults[1].failWrite.size).toBe(0);
        expect(l.value(1, KEY)).toBeUndefined();
        now += 1_000;
        await l.settle();
        expect([l.value(0, KEY), l.value(1, KEY)]).toEqual(["v2", "v2"]);
        // The deletion region2 had already seen is not taken for a new one.
        expect(l.localStamps().filter((s) => s.value === undefined)).toHaveLength(1);
        await l.stop();
    });

    it("offers a second write taken while the first was being offered, right after that offer ends", async () => {
        for (const manual of [true, false]) {
            const l = await lab({ manual, timing: { scanIntervalMs: 600_000, doorbellIntervalMs: 600_000, retryIntervalMs: 600_000 } });
            const engine = l.engines[0];
            let release = () => {};
            l.vaults[1].held.set(peerActor("region1", "region2"), new Promise<void>((resolve) => (release = resolve)));
            const write = async (value: string) => {
                l.vaults[0].put(KEY, { v: value });
                engine.hint(KEY);
                if (manual) await engine.drain();
                while (l.localStamps().at(-1)?.value !== value) await new Promise((resolve) => setTimeout(resolve, 5));
            };
            await write("first");
            const offering = manual ? engine.offerPending() : undefined;
            // The first offer waits on region2's Vault; meanwhile a second write is taken.
            await new Promise((resolve) => setTimeout(resolve, 20));
            await write("second");
            l.vaults[1].held.clear();
            release();
            await offering;
            const offered = () => l.vaults[1].current(inboxKey("region1", KEY))?.data;
            if (manual) await engine.offerPending();
            // Well before the next retry (10 minutes away).
            for (let waited = 0; waited < 1_000 && offered() !== JSON.stringify({ v: "second" }); waited += 10) {
                await new Promise((resolve) => setTimeout(resolve, 10));
            }
            expect(offered()).toBe(JSON.stringify({ v: "second" }));
            await l.stop();
        }
    });

    it("keeps both sides writing through a partition and converges on the later write once it heals", async () => {
        let now = 1_800_000_000_000;
        const l = await lab({ clock: () => now });
        await writeAndHint(l, 0, "before");
        await l.settle();
        l.cut(0, 1);
        now += 1_000;
        await writeAndHint(l, 0, "left");
        now += 1_000;
        await writeAndHint(l, 1, "right");
        await l.step(0);
        await l.step(1);
        expect([l.value(0, KEY), l.value(1, KEY)]).toEqual(["left", "right"]);
        expect(l.logs.some((line) => /offering apps\/db to region2 failed/.test(line))).toBe(true);
        l.cut(0, 1, false);
        await l.settle();
        expect([l.value(0, KEY), l.value(1, KEY)]).toEqual(["right", "right"]);
        await l.stop();
    });

    it("loses nothing and doubles nothing when an answer is lost after a write was applied, or a replicator restarts", async () => {
        const l = await lab();
        l.vaults[1].loseNextAnswer.add(peerActor("region1", "region2"));
        await writeAndHint(l, 0, "one");
        expect(l.logs.some((line) => /offering apps\/db to region2 failed/.test(line))).toBe(true);
        // The inbox write landed although region1 never heard: the retry finds it there.
        expect(l.vaults[1].current(inboxKey("region1", KEY))).toBeDefined();
        l.vaults[0].loseNextAnswer.add(localActor("region1"));
        l.restart(0);
        await l.settle();
        expect([l.value(0, KEY), l.value(1, KEY)]).toEqual(["one", "one"]);
        // One local write, one version written in region2, nothing re-stamped.
        expect(l.localStamps()).toHaveLength(1);
        expect(l.vaults[1].keys(KEY)).toEqual([KEY]);
        await l.stop();
    });

    it("never overwrites unseen a write made while it was deciding (check-and-set), and takes it as the newer write", async () => {
        let now = 1_800_000_000_000;
        const l = await lab({ clock: () => now });
        await writeAndHint(l, 1, "from-region2");
        // region1's replicator reads, then someone writes region1's path before the replicator writes it.
        const vault = l.vaults[0];
        const original = vault.dispatch.bind(vault);
        let injected = false;
        vault.dispatch = (method, target, token, body) => {
            if (!injected && method === "POST" && target === `/v1/${MOUNT}/data/${KEY}`) {
                injected = true;
                now += 5;
                vault.put(KEY, { v: "person" });
            }
            return original(method, target, token, body);
        };
        await l.step(0);
        await l.settle();
        expect([l.value(0, KEY), l.value(1, KEY)]).toEqual(["person", "person"]);
        expect(l.engines[0].counters.retriedRounds).toBeGreaterThan(0);
        await l.stop();
    });

    it("tells its own writes from others' where Vault does not record the writer (OpenBao), by the version it said it would make", async () => {
        const l = await lab({ attribution: false });
        await writeAndHint(l, 0, "a");
        await l.settle();
        expect(l.localStamps()).toHaveLength(1);
        // The same value written by a person is a new write, stamped and carried.
        l.vaults[1].put(KEY, { v: "a" });
        l.engines[1].hint(KEY);
        await l.settle();
        expect(l.localStamps()).toHaveLength(2);
        await l.stop();
    });

    it("tries a failed round again after the retry interval: a write made while its Vault answered 503 still reaches the peer", async () => {
        const l = await lab({ manual: false, timing: { scanIntervalMs: 600_000, doorbellIntervalMs: 50, retryIntervalMs: 200 } });
        await l.engines[0].idle();
        // The round's first write (its state) is refused while the active node changes.
        l.vaults[0].failWrite.set(localActor("region1"), () => true);
        const started = Date.now();
        l.vaults[0].put(KEY, { v: "after-503" });
        l.engines[0].hint(KEY);
        while (l.value(1, KEY) !== "after-503" && Date.now() - started < 2_000) {
            await new Promise((resolve) => setTimeout(resolve, 10));
        }
        await l.stop();
        expect(l.logs.join("\n")).toMatch(/round for apps\/db failed: .*HTTP 503/);
        expect(l.value(1, KEY)).toBe("after-503");
    });

    it("holds a fixed number of timers however long it runs", async () => {
        const l = await lab({ manual: false, timing: { scanIntervalMs: 20, doorbellIntervalMs: 5, retryIntervalMs: 5 } });
        await new Promise((resolve) => setTimeout(resolve, 300));
        const held = l.engines.map((engine) => engine.timerCount);
        await l.stop();
        expect(l.engines[0].counters.lastScanMs).toBeGreaterThan(0);
        expect(held).toEqual([3, 3]);
    });

    it("says whether its latest login failed, so the replicator's up metric falls back to 0 when logins start failing", async () => {
        const vault = new FakeVault({ logins: { "kubernetes/replicator": { jwt: "good", identity: { displayName: "replicator" } } } });
        let jwt = "good";
        const client = new VaultClient({
            address: "http://in-process",
            login: { kind: "jwt-file", mount: "kubernetes", role: "replicator", path: "jwt" },
            readFile: () => jwt,
            transport: vault.transport(),
        });
        expect(await client.displayName()).toBe("replicator");
        expect(client.loginFailing).toBe(false);
        // The token is revoked and the role now refuses this service account.
        vault.revokeAll();
        jwt = "refused";
        await expect(client.displayName()).rejects.toThrow(/HTTP 403/);
        // Refused past RELOGIN_AFTER_403_MS after its login, the client logs in again.
        const now = Date.now();
        jest.spyOn(Date, "now").mockImplementation(() => now + RELOGIN_AFTER_403_MS);
        await expect(client.displayName()).rejects.toThrow(/HTTP 403/);
        await expect(client.displayName()).rejects.toThrow(/login: HTTP 400/);
        expect(client.loginFailing).toBe(true);
        jwt = "good";
        expect(await client.displayName()).toBe("replicator");
        expect(client.loginFailing).toBe(false);
        jest.restoreAllMocks();
    });

    it("works over HTTP too, each engine on its own timers, within the propagation bound", async () => {
        const l = await lab({
            inProcess: false,
            manual: false,
            timing: { scanIntervalMs: 60_000, doorbellIntervalMs: 50, retryIntervalMs: 200 },
        });
        const started = Date.now();
        l.vaults[0].put(KEY, { v: "over-http" });
        l.engines[0].hint(KEY);
        while (l.value(1, KEY) !== "over-http" && Date.now() - started < 5_000) {
            await new Promise((resolve) => setTimeout(resolve, 10));
        }
        expect(l.value(1, KEY)).toBe("over-http");
        expect(Date.now() - started).toBeLessThan(2_000);
        await l.stop();
    });
});

// ---------------------------------------------------------------------------------------------
// Generated histories
// ---------------------------------------------------------------------------------------------

const KEYS = ["apps/db", "apps/api"];
const SKEW_MS = 2_000;

type Step =
    | { readonly op: "write"; readonly region: number; readonly key: number; readonly value: string }
    | { readonly op: "delete" | "purge" | "hint"; readonly region: number; readonly key: number }
    | { readonly op: "step" | "scan" | "restart" | "loseLocal"; readonly region: number }
    | { readonly op: "cut" | "heal" | "losePeer"; readonly region: number; readonly other: number }
    | { readonly op: "failLocal"; readonly region: number; readonly what: "path" | "any" }
    | { readonly op: "tick"; readonly ms: number };

const region = fc.integer({ min: 0, max: 2 });
const key = fc.integer({ min: 0, max: 1 });
const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant("write" as const), region, key, value: fc.constantFrom("a", "b", "c", "d") }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constantFrom("delete" as const, "purge" as const), region, key }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("hint" as const), region, key }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constantFrom("step" as const, "scan" as const), region }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constantFrom("restart" as const, "loseLocal" as const), region }) },
    // The next write of the region's own replicator (to a secret's path, or to anything) fails without being applied.
    {
        weight: 1,
        arbitrary: fc.record({ op: fc.constant("failLocal" as const), region, what: fc.constantFrom("path" as const, "any" as const) }),
    },
    {
        weight: 1,
        arbitrary: fc.record({ op: fc.constantFrom("cut" as const, "heal" as const, "losePeer" as const), region, other: region }),
    },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("tick" as const), ms: fc.integer({ min: 1, max: 8_000 }) }) },
);

const histories = fc.record({
    regions: fc.integer({ min: 2, max: 3 }),
    offsets: fc.array(fc.integer({ min: -SKEW_MS, max: SKEW_MS }), { minLength: 3, maxLength: 3 }),
    attribution: fc.boolean(),
    steps: fc.array(step, { minLength: 1, maxLength: 40 }),
});

type History = typeof histories extends fc.Arbitrary<infer T> ? T : never;

/** Runs a history to its end, heals everything, lets every region settle, and returns the lab. */
async function run(
    history: History,
    inProcess = true,
): Promise<{ lab: Lab; lostLocal: boolean; writes: { atMs: number; key: string; value: string }[]; deletions: Map<string, number> }> {
    let now = 1_800_000_000_000;
    const regions = ["region1", "region2", "region3"].slice(0, history.regions);
    const l = new Lab({
        regions,
        keys: KEYS,
        clockOffsetMs: history.offsets,
        clock: () => now,
        attribution: history.attribution,
        inProcess,
    });
    await l.start();
    const r = (n: number) => n % history.regions;
    let lostLocal = false;
    const writes: { atMs: number; key: string; value: string }[] = [];
    /** Deletions and purges made, per region and key (`<region>/<key>`). */
    const deletions = new Map<string, number>();
    const deleted = (i: number, k: string) => deletions.set(`${i}/${k}`, (deletions.get(`${i}/${k}`) ?? 0) + 1);
    for (const s of history.steps) {
        switch (s.op) {
            case "write":
                now += 1;
                l.vaults[r(s.region)].put(KEYS[s.key], { v: s.value });
                writes.push({ atMs: now, key: KEYS[s.key], value: s.value });
                break;
            case "delete":
                now += 1;
                l.vaults[r(s.region)].softDelete(KEYS[s.key]);
                deleted(r(s.region), KEYS[s.key]);
                break;
            case "purge":
                now += 1;
                l.vaults[r(s.region)].purge(KEYS[s.key]);
                deleted(r(s.region), KEYS[s.key]);
                break;
            case "hint":
                l.engines[r(s.region)].hint(KEYS[s.key]);
                await l.engines[r(s.region)].drain();
                break;
            case "step":
                await l.step(r(s.region));
                break;
            case "scan":
                l.engines[r(s.region)].scan();
                await l.step(r(s.region));
                break;
            case "restart":
                l.restart(r(s.region));
                break;
            case "loseLocal":
                lostLocal = true;
                l.vaults[r(s.region)].loseNextAnswer.add(localActor(regions[r(s.region)]));
                break;
            case "failLocal":
                l.vaults[r(s.region)].failWrite.set(localActor(regions[r(s.region)]), (path) => s.what === "any" || KEYS.includes(path));
                break;
            case "cut":
            case "heal":
                if (r(s.region) !== r(s.other)) l.cut(r(s.region), r(s.other), s.op === "cut");
                break;
            case "losePeer":
                if (r(s.region) !== r(s.other))
                    l.vaults[r(s.other)].loseNextAnswer.add(peerActor(regions[r(s.region)], regions[r(s.other)]));
                break;
            case "tick":
                now += s.ms;
                break;
        }
    }
    l.healAll();
    for (const vault of l.vaults) {
        vault.loseNextAnswer.clear();
        vault.failWrite.clear();
    }
    now += 10_000;
    await l.settle(12);
    return { lab: l, lostLocal, writes, deletions };
}

async function checkHistory(history: History, inProcess = true): Promise<void> {
    const { lab: l, lostLocal, deletions } = await run(history, inProcess);
    try {
        for (const k of KEYS) {
            const values = l.vaults.map((_, i) => l.value(i, k));
            // Converged: one value and one state everywhere.
            expect(new Set(values).size).toBe(1);
            expect(new Set(l.stateStamps(k)).size).toBe(1);
            const local = l.localStamps().filter((s) => s.key === k);
            const last = [...local].sort((a, b) => compareStamps(a.stamp, b.stamp)).at(-1);
            const final = l.stateStamps(k)[0];
            if (last !== undefined && !lostLocal) {
                // The greatest stamp won, with its value (or its deletion).
                expect(final).toBe(formatStamp(last.stamp));
                expect(values[0]).toBe(last.value);
            }
            // No flip-flop: every region's state stamps only grew.
            for (let i = 0; i < l.vaults.length; i++) {
                // And no deletion made up: a region stamps no more deletions than were made in it.
                expect(local.filter((s) => s.region === i && s.value === undefined).length).toBeLessThanOrEqual(
                    deletions.get(`${i}/${k}`) ?? 0,
                );
                const stamps = l.decided
                    .filter((d) => d.region === i && d.key === k && d.decision.state !== undefined)
                    .map((d) => d.decision.state?.stamp);
                for (let n = 1; n < stamps.length; n++) {
                    expect(compareStamps(stamps[n] as never, stamps[n - 1] as never)).toBeGreaterThanOrEqual(0);
                }
            }
        }
    } finally {
        await l.stop();
    }
}

describe("the replicator on generated histories", () => {
    jest.setTimeout(120_000);
    const RUNS = Number(process.env.REPLICATOR_RUNS ?? 2_000);

    it(`converges, lets the greatest stamp win and never flips back, on ${RUNS} histories (in-process Vaults)`, async () => {
        await fc.assert(
            fc.asyncProperty(histories, (history) => checkHistory(history)),
            { numRuns: RUNS },
        );
    });

    it("does the same over HTTP, on fewer histories", async () => {
        await fc.assert(
            fc.asyncProperty(histories, (history) => checkHistory(history, false)),
            { numRuns: 40 },
        );
    });

    it("lets the last write in true time win when it came more than twice the clock offset after every other", async () => {
        let checked = 0;
        await fc.assert(
            fc.asyncProperty(histories, async (history) => {
                const mutations = history.steps.filter((s) => s.op === "write" || s.op === "delete" || s.op === "purge");
                if (mutations.some((s) => s.op !== "write")) return;
                const { lab: l, writes } = await run(history);
                try {
                    for (const k of KEYS) {
                        const onKey = writes.filter((w) => w.key === k);
                        const lastWrite = onKey.at(-1);
                        if (lastWrite === undefined || !onKey.slice(0, -1).every((w) => w.atMs < lastWrite.atMs - 2 * SKEW_MS - 1))
                            continue;
                        checked++;
                        expect(l.vaults.map((_, i) => l.value(i, k))).toEqual(l.vaults.map(() => lastWrite.value));
                    }
                } finally {
                    await l.stop();
                }
            }),
            { numRuns: Math.ceil(RUNS / 4) },
        );
        expect(checked).toBeGreaterThan(RUNS / 40);
    });
});
