/**
 * The real program (index.ts) in this process, under the mock runtime, with a bad config: it must stop
 * before registering anything, with a RunError (Pulumi prints those without a stack trace).
 */
import * as path from "node:path";
import { runProgram } from "../tools/synth/mockRun";

it("stops on bad config before any resource is registered, with a RunError listing every problem", async () => {
    const result = await runProgram({
        project: "openova-vault",
        stack: "region1",
        config: {
            "openova-vault:regions": '["region1","region2"]',
            "openova-vault:domain": "https://example.com",
            "openova-vault:vault": '{"replicas":4}',
        },
        secretKeys: [],
        program: path.resolve(__dirname, "..", "index.ts"),
        resolveStack: () => ({ outputs: {}, secretOutputNames: [] }),
    });
    expect((result.error as Error | undefined)?.constructor.name).toBe("RunError");
    expect((result.error as Error).message.split("\n")).toEqual([
        expect.stringContaining('openova-vault:domain is "https://example.com"'),
        expect.stringContaining("openova-vault:vault.replicas is 4"),
    ]);
    expect(result.resources).toEqual([]);
});
