/**
 * The real program (index.ts) in this process, under the mock runtime: with a bad config, or a cluster
 * that lacks a prerequisite, it must stop before registering anything, with a RunError (Pulumi prints
 * those without a stack trace). The preflight itself is replaced here (under the mock runtime it
 * skips the cluster); tests/preflight.test.ts runs the real one against fake clusters.
 */
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { preflight } from "../stack/preflight";
import { runProgram } from "../tools/synth/mockRun";

jest.mock("../stack/preflight", () => ({ preflight: jest.fn() }));
const preflightStub = jest.mocked(preflight);

function run(config: Record<string, string>) {
    return runProgram({
        project: "openova-vault",
        stack: "region1",
        config: { "openova-vault:regions": '["region1","region2"]', ...config },
        secretKeys: [],
        program: path.resolve(__dirname, "..", "index.ts"),
        resolveStack: () => ({ outputs: {}, secretOutputNames: [] }),
    });
}

const GOOD = {
    "openova-vault:domain": "example.com",
    "openova-vault:kubeContext": "cluster-one",
    "openova-vault:vaultCaCertFile": "certs/example-platform-ca.pem",
    "openova-vault:serviceAccountIssuer": JSON.stringify({ url: "https://oidc.region1.example.com", discovery: true }),
};

beforeEach(() => preflightStub.mockReset().mockResolvedValue(undefined));

it("stops on bad config before any resource is registered, with a RunError listing every problem", async () => {
    const result = await run({
        "openova-vault:domain": "https://example.com",
        "openova-vault:vault": '{"replicas":4}',
    });
    expect((result.error as Error | undefined)?.constructor.name).toBe("RunError");
    expect((result.error as Error).message.split("\n")).toEqual([
        expect.stringContaining('openova-vault:domain is "https://example.com"'),
        expect.stringContaining("openova-vault:vault.replicas is 4"),
    ]);
    expect(result.resources).toEqual([]);
    expect(preflightStub).not.toHaveBeenCalled();
});

it("stops when the preflight finds a prerequisite missing, before any resource is registered", async () => {
    const lines = [
        'Missing prerequisite for stack "region1" (kubeconfig context "cluster-one"): cert-manager is not installed. Fix: install cert-manager',
        "Nothing was changed: the program stopped before declaring any resource.",
    ];
    preflightStub.mockRejectedValue(new pulumi.RunError(lines.join("\n")));
    const result = await run(GOOD);
    expect(pulumi.RunError.isInstance(result.error)).toBe(true);
    expect((result.error as Error).message.split("\n")).toEqual(lines);
    expect(result.resources).toEqual([]);
});

it("checks the cluster of the kubeconfig context its Kubernetes provider uses, then declares the region", async () => {
    const result = await run(GOOD);
    expect(result.error).toBeUndefined();
    expect(preflightStub).toHaveBeenCalledTimes(1);
    const checked = preflightStub.mock.calls[0][0];
    expect(checked.kubeContext).toBe("cluster-one");
    const provider = result.resources.find((r) => r.type === "pulumi:providers:kubernetes");
    expect(provider?.inputs.context).toBe(checked.kubeContext);
    expect(result.resources.length).toBeGreaterThan(5);
});
