/**
 * `npm run bench`: its synth comparison runs the real project and a baseline of as many plain
 * resources; its model table shows the figures docs/consistency.md states.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { benchSynth, median, modelTable, resourceCounts, synthTable } from "../tools/bench/cli";

describe("npm run bench", () => {
    it("times the project with N replicated secrets against a baseline that declares exactly as many resources", async () => {
        const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "bench-test-"));
        const timing = await benchSynth(2, 1, scratch).finally(() => fs.rmSync(scratch, { recursive: true, force: true }));
        // region1 is the home of every generated secret: more objects there than in region2.
        expect(timing.project.resources.region1).toBeGreaterThan(timing.project.resources.region2);
        expect(timing.baseline.resources).toEqual(timing.project.resources);
        expect(timing.project.ms).toHaveLength(1);
        const [, , committed, row] = synthTable([1000, 2000, 3000], [timing]);
        expect(committed).toBe("| the committed stacks | | 2.0 s, 3.0 s (1.0, 2.0, 3.0) | | |");
        expect(row).toMatch(
            new RegExp(
                `^\\| 2 replicated secret\\(s\\) \\| ${timing.project.resources.region1} / ${timing.project.resources.region2} \\| \\d+\\.\\d s, \\d+\\.\\d s \\([\\d.]+\\) \\| \\d+\\.\\d s, \\d+\\.\\d s \\([\\d.]+\\) \\| \\d+\\.\\d\\d \\|$`,
            ),
        );
    }, 120_000);

    it("reads the resource counts from the synth's summary, and takes medians", () => {
        expect(
            resourceCounts("stack region1: 45 resources, 0 warning(s), 9 outputs\n    1  x\nstack region2: 42 resources, 1 warning(s)"),
        ).toEqual({ region1: 45, region2: 42 });
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
});
