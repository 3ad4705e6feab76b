/**
 * The real program (index.ts) in this process, under the mock runtime, with a bad config: it must stop
 * before registering anything, with a RunError (Pulumi prints those without a stack trace).
 */
import * as pulumi from "@pulumi/pulumi";
import { startRecording } from "../tools/synth/recorder";

it("stops on bad config before any resource is registered, with a RunError listing every problem", async () => {
    pulumi.runtime.setAllConfig({
        "openova-vault:regions": '["region1","region2"]',
        "openova-vault:domain": "https://example.com",
        "openova-vault:vault": '{"replicas":4}',
    });
    const recording = await startRecording({ project: "openova-vault", stack: "region1" });
    let error: unknown;
    try {
        let program: (() => Promise<unknown>) | undefined;
        jest.isolateModules(() => {
            // eslint-disable-next-line @typescript-eslint/no-require-imports -- the program loads only after the mocks are in place
            program = require("../index") as () => Promise<unknown>;
        });
        // The program is an async entry point, as Pulumi runs it.
        await program?.();
    } catch (caught) {
        error = caught;
    }
    await pulumi.runtime.disconnect();

    expect(pulumi.RunError.isInstance(error)).toBe(true);
    expect((error as Error).message.split("\n")).toEqual([
        expect.stringContaining('openova-vault:domain is "https://example.com"'),
        expect.stringContaining("openova-vault:vault.replicas is 4"),
    ]);
    expect(recording.resources).toEqual([]);
});
