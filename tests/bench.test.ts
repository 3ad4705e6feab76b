/**
 * `npm run bench`: its synth comparison runs the real project and a baseline of as many plain
 * resources; its model table shows the figures docs/consistency.md states.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { activeActiveTable, benchActiveActive } from "../tools/bench/activeActive";
import { benchSynth, cpuTime, median, modelTable, resourceCounts, synthTable, timeSynth } from "../tools/bench/cli";

describe("npm run bench", () => {
    it("times the project with N replicated secrets against a baseline that declares exactly as many resources", async () => {
        const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "bench-test-"));
        const timing = await benchSynth(2, 1, scratch).finally(() => fs.rmSync(scratch, { recursive: true, force: true }));
        // region1 is the home of every generated secret: more objects there than in region2.
        expect(timing.project.resources.region1).toBeGreaterThan(timing.project.resources.region2);
        expect(timing.baseline.resources).toEqual(timing.project.resources);
        expect(timing.project.ms).toHaveLength(1);
        expect(timing.project.cpuMs[0]).toBeGreaterThan(0);
        const [, , committed, row] = synthTable({ ms: [1000, 2000, 3000], cpuMs: [1500, 2500, 3500] }, [timing]);
        expect(committed).toBe("| the committed stacks | | 2.0 s, 3.0 s (1.0, 2.0, 3.0) | 2.5 s | | | |");
        expect(row).toMatch(
            new RegExp(
                `^\\| 2 replicated secret\\(s\\) \\| ${timing.project.resources.region1} / ${timing.project.resources.region2} \\| \\d+\\.\\d s, \\d+\\.\\d s \\([\\d.]+\\) \\| \\d+\\.\\d s \\| \\d+\\.\\d s, \\d+\\.\\d s \\([\\d.]+\\) \\| \\d+\\.\\d s \\| \\d+\\.\\d\\d, \\d+\\.\\d\\d \\|$`,
            ),
        );
    }, 120_000);

    it("times each run in a fresh process writing into a fresh output directory, as CI and a new clone run the synth", async () => {
        const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "bench-test-"));
        try {
            const runs = await timeSynth(path.join(__dirname, "fixtures", "entrypoint"), 2, scratch);
            expect(runs.ms).toHaveLength(2);
            expect(new Set(runs.outDirs).size).toBe(2);
            expect(runs.outDirs.every((dir) => path.dirname(dir) === scratch && !fs.existsSync(dir))).toBe(true);
            expect(runs.resources).toEqual({ dev: 1 });
        } finally {
            fs.rmSync(scratch, { recursive: true, force: true });
        }
    }, 60_000);

    it("reads the resource counts from the synth's summary, and takes medians", () => {
        expect(
            resourceCounts("stack region1: 45 resources, 0 warning(s), 9 outputs\n    1  x\nstack region2: 42 resources, 1 warning(s)"),
        ).toEqual({ region1: 45, region2: 42 });
        expect(cpuTime("synth: ran a: 3 resources in 0.1s\nsynth: done in 2.1s (process CPU 2.6s)\n")).toBe(2600);
        expect(() => cpuTime("synth: done in 2.1s")).toThrow("the synth printed no CPU time");
        expect(median([3, 1, 2])).toBe(2);
        expect(median([4, 1, 2, 3])).toBe(2.5);
    });

    it("prints the model's bounds and rates for 1,000 secrets, the same figures docs/consistency.md states", () => {
        const table = modelTable(1000).join("\n");
        const doc = fs.readFileSync(path.join(__dirname, "..", "docs", "consistency.md"), "utf8");
        expect(table).toContain(
            "| adopted, vault-written, E = P = 30 s | 2E + P + maxDelay = 95 s | 2E + P + 2·1·maxDelay = 100 s | 66.67 | 0.00 | 33.33 | 4 |",
        );
        expect(table).toContain("| seed, E = P = 1 h | 2E + P + maxDelay = 10805 s (3.0 h), not guaranteed |");
        expect(doc).toContain("2E + P + maxDelay = 95 s");
        expect(doc).toContain("| 66.67 | 0.00 | 33.33 | 4 per hour |");
    });

    it("measures secrets every region writes with the real engines over HTTP: every write timed until both Vaults hold it, a scan counted per secret", async () => {
        const figures = await benchActiveActive(3, { writes: 3, idleMs: 1_000 });
        expect(figures).toMatchObject({ secrets: 3, regions: 2, writes: 3 });
        expect(figures.propagationMs.worst).toBeGreaterThanOrEqual(figures.propagationMs.median);
        expect(figures.propagationMs.median).toBeGreaterThan(0);
        // A scan reads at least each secret and its state in each region.
        expect(figures.scanRequests.every((n) => n >= 2 * 3)).toBe(true);
        expect(figures.requestsPerWrite).toBeGreaterThan(2);
        const [header, , row] = activeActiveTable([figures]);
        expect(header).toContain("Propagation median");
        expect(row).toMatch(/^\| 3 \| 2 \| 3 \| \d+ ms \| \d+ ms \| [\d.]+ \/ [\d.]+ \| \d+ \/ \d+ \| [\d.]+ \|$/);
    }, 60_000);
});
