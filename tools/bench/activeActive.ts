/**
 * The `writers: any` rows of `npm run bench`: the real replicator engines, one per region, against
 * fake Vaults over HTTP on this machine (tools/fakes/), at the replicator's default timing, with the
 * audit stream as the trigger (the fakes tell each engine of every change, as Vault's socket audit
 * device does). For each size:
 * - **propagation**: writes into a random region's Vault, one at a time; each timed from the write
 *   until every region's Vault holds it (median and worst);
 * - **requests per second per region while idle**: the doorbell reads, counted over `idleMs` with no
 *   write, plus one scan's requests (counted by starting a scan of every secret in every region at
 *   once) spread over the scan interval;
 * - **requests per write**: every request all Vaults served for the timed writes, divided by them.
 */
import { DEFAULT_TIMING } from "../../model/activeActive";
import { Lab } from "../fakes/replicationLab";

export interface ActiveActiveFigures {
    readonly secrets: number;
    readonly regions: number;
    readonly writes: number;
    readonly propagationMs: { readonly median: number; readonly worst: number };
    /** Per region: doorbell reads per second, and one scan's requests, and the two as one rate at the scan interval. */
    readonly doorbellRequestsPerSecond: readonly number[];
    readonly scanRequests: readonly number[];
    readonly idleRequestsPerSecond: readonly number[];
    readonly requestsPerWrite: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function median(values: readonly number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Measures one size. `idleMs` (the window the doorbell reads are counted over) defaults to 30 s. */
export async function benchActiveActive(
    secrets: number,
    options: { writes?: number; regions?: number; idleMs?: number } = {},
): Promise<ActiveActiveFigures> {
    const regions = ["region1", "region2", "region3"].slice(0, options.regions ?? 2);
    const keys = Array.from({ length: secrets }, (_, i) => `bench/secret-${i}`);
    const lab = new Lab({
        regions,
        keys,
        inProcess: false,
        manual: false,
        auditHints: true,
        timing: {
            scanIntervalMs: DEFAULT_TIMING.scanIntervalMs,
            doorbellIntervalMs: DEFAULT_TIMING.doorbellIntervalMs,
            maxAheadMs: DEFAULT_TIMING.maxAheadMs,
        },
    });
    await lab.start();
    try {
        // Every secret exists everywhere first (the first scan carries them), then the idle window.
        keys.forEach((key, i) => lab.vaults[i % regions.length].put(key, { v: "initial" }));
        const settled = Date.now();
        while (!keys.every((key) => lab.vaults.every((_, r) => lab.value(r, key) === "initial")) && Date.now() - settled < 120_000) {
            await sleep(50);
        }
        // Quiet first: only the doorbell reads (one per peer and second) go on.
        const quietFrom = Date.now();
        for (let last = -1; Date.now() - quietFrom < 120_000;) {
            const total = lab.vaults.reduce((sum, vault) => sum + vault.requests.total, 0);
            if (last !== -1 && total - last <= regions.length * (regions.length - 1) * 2) break;
            last = total;
            await sleep(1_000);
        }
        const idleMs = options.idleMs ?? 30_000;
        const before = lab.vaults.map((vault) => vault.requests.total);
        await sleep(idleMs);
        const doorbellRequestsPerSecond = lab.vaults.map((vault, r) => ((vault.requests.total - before[r]) * 1000) / idleMs);
        // One scan in every region at once, counted until every engine is idle again (doorbells included, a few).
        const beforeScan = lab.vaults.map((vault) => vault.requests.total);
        const scanStarted = Date.now();
        for (const engine of lab.engines) engine.scan();
        await Promise.all(lab.engines.map((engine) => engine.idle()));
        const scanMs = Date.now() - scanStarted;
        const scanRequests = lab.vaults.map(
            (vault, r) => vault.requests.total - beforeScan[r] - Math.round((doorbellRequestsPerSecond[r] * scanMs) / 1000),
        );
        const idleRequestsPerSecond = doorbellRequestsPerSecond.map(
            (rate, r) => rate + (scanRequests[r] * 1000) / DEFAULT_TIMING.scanIntervalMs,
        );

        const writes = options.writes ?? 20;
        const times: number[] = [];
        const atStart = lab.vaults.reduce((sum, vault) => sum + vault.requests.total, 0);
        for (let n = 0; n < writes; n++) {
            const key = keys[(n * 7919) % keys.length];
            const value = `write-${n}`;
            const started = performance.now();
            lab.vaults[n % regions.length].put(key, { v: value });
            while (!lab.vaults.every((_, r) => lab.value(r, key) === value)) {
                await sleep(1);
                if (performance.now() - started > 120_000) throw new Error(`write ${n} did not reach every region within 120 s`);
            }
            times.push(performance.now() - started);
            // Let the write's own follow-up rounds finish, so the next one is timed on its own.
            await sleep(50);
        }
        const atEnd = lab.vaults.reduce((sum, vault) => sum + vault.requests.total, 0);
        return {
            secrets,
            regions: regions.length,
            writes,
            propagationMs: { median: median(times), worst: Math.max(...times) },
            doorbellRequestsPerSecond,
            scanRequests,
            idleRequestsPerSecond,
            requestsPerWrite: (atEnd - atStart) / writes,
        };
    } finally {
        await lab.stop();
    }
}

/** The `writers: any` table, as Markdown. */
export function activeActiveTable(rows: readonly ActiveActiveFigures[]): string[] {
    const rate = (values: readonly number[]) => values.map((v) => v.toFixed(2)).join(" / ");
    return [
        "| Secrets | Regions | Writes timed | Propagation median | Propagation worst | Idle requests/s per region (doorbells + scans) | One scan's requests per region | Requests per write (all Vaults) |",
        "|---|---|---|---|---|---|---|---|",
        ...rows.map(
            (row) =>
                `| ${row.secrets} | ${row.regions} | ${row.writes} | ${row.propagationMs.median.toFixed(0)} ms | ${row.propagationMs.worst.toFixed(0)} ms | ${rate(row.idleRequestsPerSecond)} | ${row.scanRequests.join(" / ")} | ${row.requestsPerWrite.toFixed(1)} |`,
        ),
    ];
}
