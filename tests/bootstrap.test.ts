/**
 * The bootstrap's orchestration against in-memory fakes of the workspace, Vault and Kubernetes
 * (tests/support/bootstrapFakes.ts): bring-up order, resume after a failure at every step, an
 * already-bootstrapped platform, a sealed restart, auto-unseal regions (recovery keys, servers that
 * unseal themselves), the CA file read from the project, and no key material anywhere but the terminal.
 */
import { inspect } from "node:util";
import type { RegionConfig } from "../stack/config";
import { canaryBoundMs, canaryObjects, canaryProblems } from "../bootstrap/canary";
import { BOOTSTRAP_DEFAULTS, type BootstrapOptions, BootstrapError, bootstrap, optionProblems } from "../bootstrap/orchestrator";
import { REDACTED, Sensitive } from "../bootstrap/sensitive";
import { AWS_KMS_SEAL, CA_FILE, type FakeOptions, FakePlatform } from "./support/bootstrapFakes";
import { MANAGED_BACKENDS } from "./support/backendFixtures";

const options = (regions: readonly string[], more: Partial<BootstrapOptions> = {}): BootstrapOptions => ({
    regions,
    keyShares: BOOTSTRAP_DEFAULTS.keyShares,
    keyThreshold: BOOTSTRAP_DEFAULTS.keyThreshold,
    keepRootToken: false,
    interactive: true,
    podTimeoutMs: 60_000,
    pollMs: 1_000,
    ...more,
});

/** What an operator who kept what the terminal showed can answer later: the keys and root token per region. */
function operatorRemembers(platform: FakePlatform): void {
    for (const line of platform.terminal) {
        const [region, rest] = line.split(": ");
        const [keys, token] = rest.split(" root ");
        platform.operatorKeys.set(region, keys.split(" "));
        platform.operatorTokens.set(region, token);
    }
}

/** The platform's end state: every server unsealed, every stack configured and connected to every peer. */
function bootstrapped(platform: FakePlatform, regions: readonly string[]): boolean {
    return regions.every((region) => {
        const vault = platform.vaults.get(region);
        const stack = platform.stacks.get(region);
        const connected = stack?.outputs.connectedPeers as string[] | undefined;
        return (
            vault !== undefined &&
            vault.initialized &&
            [...vault.pods.values()].every((pod) => !pod.sealed) &&
            stack?.config["openova-vault:vaultInitialized"] === "true" &&
            stack.outputs.peerAccess !== undefined &&
            regions.filter((r) => r !== region).every((peer) => connected?.includes(peer))
        );
    });
}

const leaks = (platform: FakePlatform, extra: readonly string[] = []) => {
    const everything = [...platform.written, ...extra].join("\n");
    return platform.keyMaterial().filter((secret) => everything.includes(secret));
};

/**
 * Ports whose operator decrypts the PGP-encrypted material as it is shown: asked for unseal keys, it
 * answers with the first two plain keys (the fake knows them once init has run), and with the root
 * token as its admin token. `asked` lists the regions it was asked unseal keys for.
 */
function decryptingOperator(platform: FakePlatform): { ports: ReturnType<FakePlatform["ports"]>; asked: string[] } {
    const ports = platform.ports();
    const asked: string[] = [];
    ports.operator.unsealKeys = (region) => {
        asked.push(region);
        return Promise.resolve((platform.vaults.get(region)?.keys ?? []).slice(0, 2).map((k) => new Sensitive(k)));
    };
    ports.operator.adminToken = (region) => Promise.resolve(new Sensitive([...(platform.vaults.get(region)?.tokens ?? [])][0] ?? ""));
    return { ports, asked };
}

describe("an OpenBao region", () => {
    const regions = ["region1", "region2"];

    it("is brought up like a Vault one, through its own pods, and keeps its root token (OpenBao makes none from the unseal keys)", async () => {
        // region1 runs OpenBao, region2 Vault: the pods are each chart's, and only Vault's root token is revoked.
        const platform = new FakePlatform({ regions, engine: { region1: "openbao" } });
        const report = await bootstrap(platform.ports(), options(regions));

        expect(bootstrapped(platform, regions)).toBe(true);
        expect([...(platform.vaults.get("region1")?.pods.keys() ?? [])]).toEqual(["openbao-0", "openbao-1", "openbao-2"]);
        expect([...(platform.vaults.get("region2")?.pods.keys() ?? [])]).toEqual(["vault-0", "vault-1", "vault-2"]);
        expect(report.engines).toEqual({ region1: "openbao", region2: "vault" });
        expect(report.revokedRootTokens).toEqual(["region2"]);
        expect(report.keptRootTokens).toEqual(["region1"]);
        expect(platform.vaults.get("region1")?.tokens.size).toBe(1);
        expect(platform.vaults.get("region2")?.tokens.size).toBe(0);
        expect(leaks(platform)).toEqual([]);
    });

    it("keeps an OpenBao root token when a run fails, and says how to make a new admin token in OpenBao's words", async () => {
        const platform = new FakePlatform({ regions: ["solo"], engine: { solo: "openbao" } });
        platform.failAt = "up solo#2";
        const first = (await bootstrap(platform.ports(), options(["solo"])).catch((e: unknown) => e)) as BootstrapError;
        expect(first.lines).toContain(
            "the root token of solo is still alive: the next run asks for it, and keeps it (OpenBao makes no root token from the unseal keys alone)",
        );
        platform.operatorTokens.set("solo", "not-a-token");
        const second = (await bootstrap(platform.ports(), options(["solo"])).catch((e: unknown) => e)) as BootstrapError;
        expect(second.lines[0]).toBe(
            "region solo: the admin token given is not valid for its OpenBao (a root token an earlier run revoked? make a new one with `bao token create` and another admin token (OpenBao makes no root token from the unseal keys alone))",
        );
    });

    it("names the OpenBao CLI when a server lost its data", async () => {
        const platform = new FakePlatform({ regions: ["region1"], engine: { region1: "openbao" } });
        await bootstrap(platform.ports(), options(["region1"]));
        platform.restart("region1");
        platform.loseData("region1", "openbao-0");
        operatorRemembers(platform);
        const error = await bootstrap(platform.ports(), options(["region1"])).catch((e: unknown) => e);
        expect((error as BootstrapError).lines[0]).toBe(
            "region region1: openbao-0 is not initialized but other servers are: its data is gone. Not initializing a second cluster: restore openbao-0's volume, or unseal another server and remove openbao-0 from Raft (`bao operator raft remove-peer`)",
        );
    });
});

describe("a fresh bring-up", () => {
    it.each([
        [["region1", "region2"], "jwt"],
        [["north", "east", "south"], "jwt"],
        [["region1", "region2"], "token"],
    ] as const)(
        "brings %j up in order, with %s peer auth: every stack first, then each region, then the wiring",
        async (regions, peerAuth) => {
            // JWT (the default, left unset): a region grants a peer access once the peer's stack has published its
            // token issuer, which every stack does from its first (server-side) run on.
            const platform = new FakePlatform({ regions, podsAfterPolls: 2, ...(peerAuth === "token" ? { peerAuth } : {}) });
            const report = await bootstrap(platform.ports(), options(regions));

            expect(bootstrapped(platform, regions)).toBe(true);
            const creates = platform.calls.filter((c) => c.startsWith("createStack"));
            expect(creates).toEqual(regions.map((r) => `createStack ${r}`));
            // No program runs before every stack exists; every server side (the committed gate turned off
            // first, as these stacks were never deployed) before any init.
            expect(platform.calls.slice(regions.length, 3 * regions.length)).toEqual(regions.flatMap((r) => [`setConfig ${r}`, `up ${r}`]));
            expect(platform.calls.findIndex((c) => c.startsWith("init"))).toBe(3 * regions.length);
            // Per region: init, show once, unseal, mark, configure; the first regions are wired once their peers exist.
            const [first] = regions;
            expect(platform.calls.filter((c) => c.endsWith(` ${first}`) && !c.startsWith("unseal"))).toEqual([
                `createStack ${first}`,
                `setConfig ${first}`,
                `up ${first}`,
                `init ${first}`,
                `keepOffline ${first}`,
                `setConfig ${first}`,
                `up ${first}`,
                `up ${first}`,
                `revoke ${first}`,
            ]);
            expect(report.initialized).toEqual(regions);
            expect(report.configured).toEqual(regions);
            expect(report.wired).toEqual(regions.slice(0, -1));
            // The root tokens are revoked at the end.
            expect(report.revokedRootTokens).toEqual(regions);
            expect(regions.every((r) => platform.vaults.get(r)?.tokens.size === 0)).toBe(true);
            expect(leaks(platform)).toEqual([]);
        },
    );

    it("keeps the root tokens when asked", async () => {
        const platform = new FakePlatform({ regions: ["a", "b"] });
        const report = await bootstrap(platform.ports(), options(["a", "b"], { keepRootToken: true }));
        expect(report.revokedRootTokens).toEqual([]);
        expect([...platform.vaults.values()].every((v) => v.tokens.size === 1)).toBe(true);
    });

    it("checks first that every cluster, and every Vault already running, answers, and changes nothing if one does not", async () => {
        const platform = new FakePlatform({ regions: ["a", "b", "c"] });
        await bootstrap(platform.ports(), options(["a", "b", "c"]));
        platform.calls.length = 0;
        platform.restart("b");
        platform.clusterDown.add("a");
        platform.vaultDown.add("b");
        const error = await bootstrap(platform.ports(), options(["a", "b", "c"])).catch((e: unknown) => e);
        expect((error as BootstrapError).lines).toEqual([
            "region a: its Kubernetes API did not answer: connect ETIMEDOUT 10.0.0.1:6443",
            "region b: its server vault-0 did not answer: connect ECONNREFUSED 127.0.0.1:41234",
            "nothing was changed",
        ]);
        expect(platform.calls).toEqual([]);
    });

    it("checks first that every region's cluster has what the region needs, and changes nothing in any region if one lacks something", async () => {
        const platform = new FakePlatform({ regions: ["a", "b", "c"] });
        const missing = [
            'Missing prerequisite for stack "b" (kubeconfig context "b"): cert-manager is not installed. Fix: install cert-manager',
            'Missing prerequisite for stack "b" (kubeconfig context "b"): IngressClass cilium does not exist. Fix: enable it',
        ];
        platform.missingPrerequisites.set("b", missing);
        const error = await bootstrap(platform.ports(), options(["a", "b", "c"])).catch((e: unknown) => e);
        expect((error as BootstrapError).lines).toEqual([...missing, "nothing was changed"]);
        expect(platform.calls).toEqual([]);
        expect(platform.stacks.size).toBe(0);
    });

    it("keeps asking a Vault that does not listen yet right after its container started", async () => {
        const platform = new FakePlatform({ regions: ["a", "b"] });
        platform.refusedFirst.set("a", 4);
        await bootstrap(platform.ports(), options(["a", "b"]));
        expect(bootstrapped(platform, ["a", "b"])).toBe(true);
    });

    it("fails with what to check when the pods do not start in time", async () => {
        const platform = new FakePlatform({ regions: ["a", "b"], podsAfterPolls: 100 });
        await expect(bootstrap(platform.ports(), options(["a", "b"], { podTimeoutMs: 5_000 }))).rejects.toThrow(
            /^region a: vault-0, vault-1, vault-2 not running after 5 s; check/,
        );
    });
});

describe("running it again", () => {
    const regions = ["region1", "region2"];

    it("changes nothing on a bootstrapped platform", async () => {
        const platform = new FakePlatform({ regions });
        await bootstrap(platform.ports(), options(regions));
        platform.calls.length = 0;
        const report = await bootstrap(platform.ports(), options(regions));
        expect(platform.calls).toEqual([]);
        expect(report).toEqual({
            created: [],
            initialized: [],
            unsealed: [],
            autoUnsealed: [],
            configured: [],
            wired: [],
            revokedRootTokens: [],
            keptRootTokens: [],
            engines: { region1: "vault", region2: "vault" },
            managed: {},
        });
    });

    it("only unseals a Vault that restarted sealed, with keys the operator enters", async () => {
        const platform = new FakePlatform({ regions });
        await bootstrap(platform.ports(), options(regions));
        operatorRemembers(platform);
        platform.restart("region2");
        platform.calls.length = 0;
        const report = await bootstrap(platform.ports(), options(regions));
        expect(new Set(platform.calls)).toEqual(new Set(["askKeys region2", "unseal region2"]));
        expect(report.unsealed).toEqual(["region2"]);
        expect(bootstrapped(platform, regions)).toBe(true);
    });

    it("fails clearly when the operator's keys do not unseal", async () => {
        const platform = new FakePlatform({ regions });
        await bootstrap(platform.ports(), options(regions));
        operatorRemembers(platform);
        platform.operatorKeys.set("region1", (platform.operatorKeys.get("region1") ?? []).slice(0, 2));
        platform.restart("region1");
        await expect(bootstrap(platform.ports(), options(regions))).rejects.toThrow(
            "region region1: vault-0 is still sealed after 2 key(s) (progress 2 of 3)",
        );
    });

    const freshCalls = freshCallsOf(regions);

    it("picks up where it stopped after a failure before any step, and ends bootstrapped", async () => {
        expect(freshCalls().length).toBeGreaterThan(20);
        for (const failure of freshCalls()) {
            await failThenResume(regions, failure, false);
        }
    });

    it("picks up where it stopped when a step took effect but its answer was lost", async () => {
        // Except init: if its answer (the keys) is lost, nobody has them. That Vault must be wiped and
        // initialized again, which the bootstrap does not do for you.
        for (const failure of freshCalls().filter((call) => !call.startsWith("init"))) {
            await failThenResume(regions, failure, true);
        }
    });
});

/**
 * Every call that changes something, each occurrence, in the order a fresh bring-up makes them
 * (known once the describe block's beforeAll has run).
 */
function freshCallsOf(regions: readonly string[], fake: Partial<FakeOptions> = {}): () => string[] {
    const platform = new FakePlatform({ regions, ...fake });
    let calls: string[] = [];
    beforeAll(async () => {
        await bootstrap(platform.ports(), options(regions));
        const seen = new Map<string, number>();
        calls = platform.calls.map((call) => {
            const n = (seen.get(call) ?? 0) + 1;
            seen.set(call, n);
            return `${call}#${n}`;
        });
    });
    return () => calls;
}

/** Fails the run at `failure` (before or after its effect), lets the operator run it again, and checks the end state. */
async function failThenResume(
    regions: readonly string[],
    failure: string,
    afterEffect: boolean,
    fake: Partial<FakeOptions> = {},
): Promise<FakePlatform> {
    const platform = new FakePlatform({ regions, ...fake });
    platform.failAt = failure;
    platform.failAfterEffect = afterEffect;
    const first = await bootstrap(platform.ports(), options(regions)).then(
        () => undefined,
        (error: unknown) => error,
    );
    const label = `${failure}${afterEffect ? " (after its effect)" : ""}`;
    expect({ label, failed: first instanceof Error }).toEqual({ label, failed: true });
    // The operator kept what the terminal showed, and runs the bootstrap again.
    operatorRemembers(platform);
    await bootstrap(platform.ports(), options(regions));
    expect({ label, bootstrapped: bootstrapped(platform, regions) }).toEqual({ label, bootstrapped: true });
    // Nothing was initialized twice. A root token still alive is one the failed run named (the
    // completing run revoked every one it held or was given).
    expect({ label, inits: platform.calls.filter((c) => c.startsWith("init")) }).toEqual({ label, inits: regions.map((r) => `init ${r}`) });
    // A root token alive after the completing run is one the failed run told the operator to revoke.
    const alive = regions.filter((r) => (platform.vaults.get(r)?.tokens.size ?? 0) > 0);
    const yours = /the root token of (.+?) is still alive and no later run needs it/.exec(String(first))?.[1].split(", ") ?? [];
    expect({ label, aliveAndNotNamed: alive.filter((r) => !yours.includes(r)) }).toEqual({ label, aliveAndNotNamed: [] });
    expect({ label, leaks: leaks(platform, [String(first)]) }).toEqual({ label, leaks: [] });
    return platform;
}

describe("auto-unseal", () => {
    // region1 unseals itself through AWS KMS; region2 is Shamir.
    const regions = ["region1", "region2"];
    const mixed: Partial<FakeOptions> = { autoUnseal: { region1: AWS_KMS_SEAL } };

    it("a fresh bring-up: recovery keys and no unseal in the auto-unseal region, Shamir as before in the other", async () => {
        const platform = new FakePlatform({ regions, ...mixed });
        const report = await bootstrap(platform.ports(), options(regions, { keyShares: 5, keyThreshold: 3 }));

        expect(bootstrapped(platform, regions)).toBe(true);
        // Init takes the key settings as the recovery keys' in region1, as the unseal keys' in region2.
        expect(platform.initRequests.get("region1")).toEqual({ secretShares: 5, secretThreshold: 3, autoUnseal: true });
        expect(platform.initRequests.get("region2")).toEqual({ secretShares: 5, secretThreshold: 3 });
        expect(platform.shown).toEqual([
            { region: "region1", recovery: true, keysEncrypted: false, keys: 5 },
            { region: "region2", recovery: false, keysEncrypted: false, keys: 5 },
        ]);
        // Nothing unsealed by hand, and no keys asked for, in region1: same calls as a Shamir region without the unseals.
        expect(platform.calls.filter((c) => c.endsWith(" region1"))).toEqual([
            "createStack region1",
            "setConfig region1",
            "up region1",
            "init region1",
            "keepOffline region1",
            "setConfig region1",
            "up region1",
            "up region1",
            "revoke region1",
        ]);
        expect(platform.calls.filter((c) => c === "unseal region2")).toHaveLength(3 * 3);
        expect(report.unsealed).toEqual(["region2"]);
        expect(report.autoUnsealed).toEqual(["region1"]);
        expect(platform.written).toContain("region1 init done 5 recovery key shares, threshold 3 (auto-unseal through awskms)");
        expect(platform.written).toContain("region1 unseal done every server unsealed itself (auto-unseal through awskms)");
        expect(platform.written).toContain("region1 unseal running waiting for vault-1 to unseal itself (awskms)");
        expect(report.revokedRootTokens).toEqual(regions);
        expect(leaks(platform)).toEqual([]);
    });

    const freshCalls = freshCallsOf(regions, mixed);

    it("picks up where it stopped after a failure before any step, asking no keys for the auto-unseal region", async () => {
        expect(freshCalls().filter((call) => call.startsWith("unseal region1"))).toEqual([]);
        for (const failure of freshCalls()) {
            const platform = await failThenResume(regions, failure, false, mixed);
            expect({ failure, asked: platform.calls.filter((c) => c === "askKeys region1") }).toEqual({ failure, asked: [] });
        }
    });

    it("picks up where it stopped when a step took effect but its answer was lost", async () => {
        for (const failure of freshCalls().filter((call) => !call.startsWith("init"))) {
            const platform = await failThenResume(regions, failure, true, mixed);
            expect({ failure, asked: platform.calls.filter((c) => c === "askKeys region1") }).toEqual({ failure, asked: [] });
        }
    });

    it("after a restart, a sealed auto-unseal Vault asks for no keys: the run waits until every server has unsealed itself", async () => {
        const platform = new FakePlatform({ regions, ...mixed });
        await bootstrap(platform.ports(), options(regions));
        operatorRemembers(platform);
        platform.restart("region1");
        platform.calls.length = 0;
        const ports = platform.ports();
        const asked: string[] = [];
        ports.operator.unsealKeys = (region) => {
            asked.push(region);
            return Promise.reject(new Error("no keys here"));
        };
        const report = await bootstrap(ports, options(regions));
        expect(asked).toEqual([]);
        expect(platform.calls).toEqual([]);
        expect(report.autoUnsealed).toEqual(["region1"]);
        expect(report.unsealed).toEqual([]);
        expect(bootstrapped(platform, regions)).toBe(true);

        // Both restarted: keys are asked for the Shamir region only.
        platform.restart("region1");
        platform.restart("region2");
        const again = await bootstrap(platform.ports(), options(regions));
        expect(new Set(platform.calls)).toEqual(new Set(["askKeys region2", "unseal region2"]));
        expect([again.autoUnsealed, again.unsealed]).toEqual([["region1"], ["region2"]]);
        expect(bootstrapped(platform, regions)).toBe(true);
    });

    it("a server that never unseals itself fails clearly: the region, the server, the KMS and its credentials", async () => {
        const platform = new FakePlatform({ regions, ...mixed });
        await bootstrap(platform.ports(), options(regions));
        operatorRemembers(platform);
        platform.restart("region1");
        platform.kmsDown.add("region1");
        platform.calls.length = 0;
        const error = (await bootstrap(platform.ports(), options(regions)).catch((e: unknown) => e)) as BootstrapError;
        expect(error).toBeInstanceOf(BootstrapError);
        expect(error.lines[0]).toBe(
            "region region1: vault-0 is still sealed after 60 s, but with vault.seal.type awskms it unseals itself through the KMS: the KMS is unreachable from the cluster, " +
                "or the workload identity arn:aws:iam::123456789012:role/openova-vault-unseal is not bound to the servers' service account or may not use the key. " +
                "Check `kubectl -n vault logs vault-0` for seal errors, fix it, and run the bootstrap again (it asks for no unseal keys)",
        );
        expect(platform.calls.filter((c) => c.startsWith("askKeys") || c.startsWith("unseal"))).toEqual([]);
        expect(platform.written).toContain("region1 unseal failed vault-0 is still sealed");
        // Once the KMS answers again, the next run only waits.
        platform.kmsDown.clear();
        platform.calls.length = 0;
        await bootstrap(platform.ports(), options(regions));
        expect(platform.calls).toEqual([]);
        expect(bootstrapped(platform, regions)).toBe(true);
    });

    it("a follower that joins but cannot reach the KMS, with credentials from a Secret, is named with that Secret", async () => {
        const secretSeal = {
            type: "awskms",
            parameters: AWS_KMS_SEAL.parameters,
            credentials: "secret",
            credentialsSecret: "vault-kms-credentials",
        } as const;
        const platform = new FakePlatform({ regions, autoUnseal: { region1: secretSeal } });
        platform.kmsDown.add("region1/vault-2");
        const error = (await bootstrap(platform.ports(), options(regions)).catch((e: unknown) => e)) as BootstrapError;
        expect(error.lines[0]).toMatch(
            /^region region1: vault-2 is still sealed after 60 s, but with vault\.seal\.type awskms it unseals itself through the KMS: the KMS is unreachable from the cluster, or the Secret vault-kms-credentials in namespace vault is missing or holds wrong credentials\. /,
        );
        // Initialized (its recovery keys shown), nothing asked or unsealed by hand; the root token kept for the next run.
        expect(platform.shown.map((m) => [m.region, m.recovery])).toEqual([["region1", true]]);
        expect(platform.calls.filter((c) => c.startsWith("askKeys") || c.startsWith("unseal"))).toEqual([]);
        expect(error.lines).toContain(
            "the root token of region1 is still alive: the next run asks for it, and revokes it when it completes",
        );
    });

    it("with PGP keys, shows only encrypted recovery keys, and asks for decrypted unseal keys for the Shamir region only", async () => {
        const platform = new FakePlatform({ regions, ...mixed });
        const pgp = { pgpKeys: ["p1", "p2", "p3"], rootTokenPgpKey: "pr", keyShares: 3, keyThreshold: 2, interactive: false };
        const { ports, asked } = decryptingOperator(platform);
        await bootstrap(ports, options(regions, pgp));
        expect(bootstrapped(platform, regions)).toBe(true);
        expect(asked).toEqual(["region2"]);
        expect(platform.initRequests.get("region1")).toEqual({
            secretShares: 3,
            secretThreshold: 2,
            pgpKeys: ["p1", "p2", "p3"],
            rootTokenPgpKey: "pr",
            autoUnseal: true,
        });
        expect(platform.shown[0]).toEqual({ region: "region1", recovery: true, keysEncrypted: true, keys: 3 });
        expect(platform.terminal[0]).toMatch(/^region1: pgp\(p1\):\S+ pgp\(p2\):\S+ pgp\(p3\):\S+ root pgp\(pr\):\S+$/);
        expect(platform.terminal.every((line) => !platform.keyMaterial().some((secret) => line.includes(secret)))).toBe(true);
    });
});

describe("the CA file a stack names", () => {
    const regions = ["region1", "region2"];

    it("is read from the project (relative to where Pulumi.yaml is), as `pulumi up` reads it", async () => {
        const platform = new FakePlatform({ regions });
        await bootstrap(platform.ports(), options(regions));
        expect(bootstrapped(platform, regions)).toBe(true);
        expect(new Set(platform.filesRead)).toEqual(new Set([CA_FILE]));
    });

    it("that cannot be read stops the run before any server is deployed, naming the key", async () => {
        const platform = new FakePlatform({ regions });
        platform.files.delete(CA_FILE);
        const error = (await bootstrap(platform.ports(), options(regions)).catch((e: unknown) => e)) as BootstrapError;
        expect(error).toBeInstanceOf(BootstrapError);
        expect(error.lines[0]).toContain(`openova-vault:vaultCaCertFile is "${CA_FILE}", but it cannot be read (ENOENT)`);
        expect(platform.calls.filter((c) => !c.startsWith("createStack"))).toEqual([]);
    });
});

describe("failures at the end", () => {
    const regions = ["region1", "region2"];

    it("stores that never get Ready: named, and the root tokens revoked (no later run needs them); the next run only checks", async () => {
        const platform = new FakePlatform({ regions });
        platform.storesReady.set("region2", false);
        const error = (await bootstrap(platform.ports(), options(regions)).catch((e: unknown) => e)) as BootstrapError;
        expect(error.lines).toEqual([
            "region region2: ClusterSecretStore vault-local is not Ready",
            "region region2: ClusterSecretStore vault-local-push is not Ready",
            "region region2: ClusterSecretStore vault-region1 is not Ready",
        ]);
        expect(regions.map((r) => platform.vaults.get(r)?.tokens.size)).toEqual([0, 0]);
        platform.storesReady.set("region2", true);
        platform.calls.length = 0;
        await bootstrap(platform.ports(), options(regions));
        expect(platform.calls).toEqual([]);
    });

    it("a store that does not exist is named", async () => {
        const platform = new FakePlatform({ regions });
        platform.missingStores.add("region1/vault-region2");
        const error = (await bootstrap(platform.ports(), options(regions)).catch((e: unknown) => e)) as BootstrapError;
        expect(error.lines[0]).toBe("region region1: ClusterSecretStore vault-region2 does not exist");
    });

    it("waits for stores that get Ready a little later", async () => {
        const platform = new FakePlatform({ regions });
        platform.storesReadyAfterPolls = 3;
        await bootstrap(platform.ports(), options(regions));
        expect(bootstrapped(platform, regions)).toBe(true);
    });

    it("a root token that cannot be revoked is named, with how to revoke it", async () => {
        const platform = new FakePlatform({ regions });
        platform.failAt = "revoke region2";
        const error = (await bootstrap(platform.ports(), options(regions)).catch((e: unknown) => e)) as BootstrapError;
        expect(error.lines).toEqual([
            "everything else is done, but revoking the root token of region2 failed",
            "the root token of region2 is still alive and no later run needs it: revoke it (`VAULT_TOKEN=<it> vault token revoke -self`)",
        ]);
        expect(regions.map((r) => platform.vaults.get(r)?.tokens.size)).toEqual([0, 1]);
    });

    it("a peer its run did not connect is named", async () => {
        const platform = new FakePlatform({ regions });
        platform.refusesPeers.add("region1");
        const error = (await bootstrap(platform.ports(), options(regions)).catch((e: unknown) => e)) as BootstrapError;
        expect(error.lines[0]).toBe(
            "region region1: not connected to region2 after its run: see the warnings of `pulumi up -s region1` (a peer that has granted it no access: that peer's own warnings say why)",
        );
    });

    it("refuses --regions that leave out a peer, before anything happens", async () => {
        const platform = new FakePlatform({ regions });
        platform.stacks.set("region1", {
            config: {
                "openova-vault:domain": "example.com",
                "openova-vault:regions": JSON.stringify(regions),
                "openova-vault:kubeContext": "region1",
                "openova-vault:vaultCaCertFile": CA_FILE,
                "openova-vault:serviceAccountIssuer": JSON.stringify({ url: "https://oidc.region1.example.com", discovery: true }),
            },
            outputs: {},
            granted: [],
            serverDeployed: false,
            podPolls: 0,
        });
        const error = (await bootstrap(platform.ports(), options(["region1"])).catch((e: unknown) => e)) as BootstrapError;
        expect(error.lines[0]).toContain("stack region1 reads its peers region2, which --regions leaves out");
        expect(platform.calls).toEqual([]);
    });

    it("refuses to initialize a second cluster when vault-0 lost its data but the others have theirs", async () => {
        const platform = new FakePlatform({ regions });
        await bootstrap(platform.ports(), options(regions));
        operatorRemembers(platform);
        platform.restart("region1");
        platform.loseData("region1", "vault-0");
        platform.calls.length = 0;
        const error = (await bootstrap(platform.ports(), options(regions)).catch((e: unknown) => e)) as BootstrapError;
        expect(error.lines[0]).toContain(
            "region region1: vault-0 is not initialized but other servers are: its data is gone. Not initializing a second cluster",
        );
        expect(platform.calls.filter((c) => c.startsWith("init"))).toEqual([]);
    });
});

describe("key material", () => {
    it("is never written anywhere but the terminal: progress, output, config, state, errors (unseal and recovery keys)", async () => {
        const regions = ["region1", "region2", "region3"];
        // region2 auto-unseals: its recovery keys are key material like unseal keys.
        const platform = new FakePlatform({ regions, autoUnseal: { region2: AWS_KMS_SEAL } });
        const report = await bootstrap(platform.ports(), options(regions));
        platform.restart("region1");
        operatorRemembers(platform);
        // A run that fails half way, with the operator's keys and tokens in memory.
        platform.failAt = "unseal region1";
        const error = await bootstrap(platform.ports(), options(regions)).catch((e: unknown) => e);
        // A run that fails waiting for an auto-unseal Vault whose KMS does not answer.
        platform.restart("region2");
        platform.kmsDown.add("region2");
        const sealedError = await bootstrap(platform.ports(), options(regions)).catch((e: unknown) => e);
        expect(String(sealedError)).toContain("region region2: vault-0 is still sealed");
        const everything = [
            JSON.stringify(report),
            String(error),
            inspect(error),
            String(sealedError),
            inspect(sealedError),
            ...platform.written,
        ];
        expect(platform.keyMaterial().length).toBeGreaterThan(0);
        const recoveryKeys = platform.vaults.get("region2")?.keys ?? [];
        expect(recoveryKeys.length).toBe(BOOTSTRAP_DEFAULTS.keyShares);
        expect(recoveryKeys.every((key) => key.startsWith("recovery-key-") && platform.keyMaterial().includes(key))).toBe(true);
        expect(platform.terminal.join(" ")).toContain(platform.vaults.get("region3")?.keys[0]);
        expect(platform.terminal.join(" ")).toContain(recoveryKeys[0]);
        expect(leaks(platform, everything)).toEqual([]);
    });

    it("prints as [sensitive] however it is printed", () => {
        const key = new Sensitive("s3cr3t-unseal-key");
        const printed = [
            String(key),
            // eslint-disable-next-line @typescript-eslint/restrict-template-expressions -- how it prints in a template is what is tested
            `${key}`,
            JSON.stringify({ key }),
            inspect({ key }),
            inspect(key),
            new Error("bad " + String(key)).message,
        ];
        expect(printed.filter((text) => text.includes("s3cr3t"))).toEqual([]);
        expect(printed[0]).toBe(REDACTED);
        expect(key.reveal()).toBe("s3cr3t-unseal-key");
    });
});

describe("PGP and non-interactive runs", () => {
    it("refuses to run without a terminal unless every key and the root token are PGP-encrypted, before anything happens", async () => {
        const platform = new FakePlatform({ regions: ["a", "b"] });
        await expect(bootstrap(platform.ports(), options(["a", "b"], { interactive: false }))).rejects.toBeInstanceOf(BootstrapError);
        expect(platform.calls).toEqual([]);
        expect(optionProblems(options(["a"], { interactive: false }))).toEqual([
            "--non-interactive needs --pgp-keys (one per share) and --root-token-pgp-key: without a terminal, new unseal keys and the root token may only be shown encrypted",
        ]);
    });

    it("checks the key options", () => {
        expect(optionProblems(options(["a"], { keyShares: 3, keyThreshold: 4 }))).toEqual([
            "--key-threshold 4 must be a whole number from 1 to --key-shares (3)",
        ]);
        expect(optionProblems(options(["a"], { keyShares: 3, keyThreshold: 1 }))).toEqual([
            "--key-threshold 1 with more than one share lets any one key holder unseal alone; use at least 2",
        ]);
        expect(optionProblems(options(["a"], { pgpKeys: ["k1"] }))).toEqual([
            "--pgp-keys lists 1 key(s), but --key-shares is 5: give one PGP key per share",
        ]);
        expect(optionProblems(options([]))).toEqual(["--regions names no region"]);
    });

    it("with PGP keys, shows only encrypted material and unseals with the keys the operator decrypted", async () => {
        const regions = ["a", "b"];
        const platform = new FakePlatform({ regions });
        const pgp = { pgpKeys: ["p1", "p2", "p3"], rootTokenPgpKey: "pr", keyShares: 3, keyThreshold: 2, interactive: false };
        // The operator decrypts the keys as they are shown: the fake answers with the plain keys once init has run.
        const { ports, asked } = decryptingOperator(platform);
        const report = await bootstrap(ports, options(regions, pgp));
        expect(bootstrapped(platform, regions)).toBe(true);
        expect(asked).toEqual(regions);
        expect(platform.terminal.every((line) => !platform.keyMaterial().some((secret) => line.includes(secret)))).toBe(true);
        expect(platform.terminal[0]).toMatch(/^a: pgp\(p1\):\S+ pgp\(p2\):\S+ pgp\(p3\):\S+ root pgp\(pr\):\S+$/);
        // The root tokens the operator decrypted and gave are root tokens: revoked at the end like any.
        expect(report.revokedRootTokens).toEqual(regions);
        expect(regions.every((r) => platform.vaults.get(r)?.tokens.size === 0)).toBe(true);
    });
});

describe("--verify", () => {
    const regions = ["region1", "region2", "region3"];

    it("times a canary write in the first region until every region's Secret holds it, within the bound, and removes the canary's objects", async () => {
        const platform = new FakePlatform({ regions });
        platform.replicationDelayMs.set("region2", 40_000);
        platform.replicationDelayMs.set("region3", 70_000);
        const report = await bootstrap(platform.ports(), options(regions, { verify: true }));
        expect(canaryBoundMs()).toBe(100_000);
        expect(report.canary?.boundMs).toBe(100_000);
        // The slowest region (70 s), to the poll interval (1 s).
        expect(report.canary?.tookMs).toBeGreaterThanOrEqual(70_000);
        expect(report.canary?.tookMs).toBeLessThanOrEqual(71_000);
        expect([...platform.objects.values()].every((objects) => objects.size === 0)).toBe(true);
        // The root token was used for the canary write, then revoked.
        expect(report.revokedRootTokens).toEqual(regions);
    });

    it("fails, naming the region, when a write takes longer than docs/consistency.md states", async () => {
        const platform = new FakePlatform({ regions });
        platform.replicationDelayMs.set("region3", 130_000);
        const error = await bootstrap(platform.ports(), options(regions, { verify: true })).catch((e: unknown) => e);
        expect((error as BootstrapError).lines[0]).toBe(
            "region region3: a write into region1's Vault did not arrive within the 100 s that docs/consistency.md states",
        );
        expect([...platform.objects.values()].every((objects) => objects.size === 0)).toBe(true);
    });

    it("refuses, before writing anything, when ESO's namespace differs between regions (the canary's path is under it)", () => {
        const config = (region: string, namespace: string) =>
            ({
                region,
                peers: [],
                backend: { type: "vault" },
                resolved: { externalSecrets: { namespace }, kvMount: "secret" },
            }) as unknown as RegionConfig;
        expect(canaryProblems([config("a", "eso"), config("b", "eso")])).toEqual([]);
        expect(canaryProblems([config("a", "eso"), config("b", "external-secrets")])).toEqual([
            "region b: ESO runs in namespace external-secrets, not eso as in a; --verify needs externalSecrets.namespace to be the same in every region (the canary's Vault path is under it)",
        ]);
    });

    it("uses the replicated-secret objects: an ExternalSecret everywhere, and the home's PushSecret to each peer", () => {
        const config = (region: string, peers: string[]) =>
            ({
                region,
                peers,
                backend: { type: "vault" },
                resolved: { externalSecrets: { namespace: "external-secrets" }, kvMount: "secret" },
            }) as unknown as RegionConfig;
        const objects = canaryObjects([config("a", ["b"]), config("b", ["a"])]);
        expect(
            [...objects].map(([region, list]) => [region, list.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`)]),
        ).toEqual([
            [
                "a",
                [
                    "ExternalSecret/external-secrets/openova-replication-canary",
                    "PushSecret/external-secrets/openova-replication-canary-to-b",
                ],
            ],
            ["b", ["ExternalSecret/external-secrets/openova-replication-canary"]],
        ]);
    });
});

describe("regions whose backend is managed", () => {
    const { "aws-secrets-manager": AWS, "azure-key-vault": AZURE, "hcp-vault": HCP } = MANAGED_BACKENDS;
    const regions = ["eu", "us", "ap"];
    const mixed = (): FakePlatform => new FakePlatform({ regions, backends: { us: AWS, ap: AZURE } });

    it("are created and deployed like the others, and wired, with no pods, init, unseal or admin token", async () => {
        const platform = mixed();
        const report = await bootstrap(platform.ports(), options(regions));
        expect(report.created).toEqual(regions);
        expect(report.initialized).toEqual(["eu"]);
        expect(report.configured).toEqual(["eu"]);
        expect(report.managed).toEqual({ us: "aws-secrets-manager", ap: "azure-key-vault" });
        // The managed regions: their stacks created and deployed (no server), which connects their managed peers at once; nothing else.
        for (const region of ["us", "ap"]) {
            expect(platform.calls.filter((call) => call.endsWith(` ${region}`))).toEqual([`createStack ${region}`, `up ${region}`]);
            expect(platform.written).toContain(
                `${region} init skipped backend ${platform.backendOf(region)}, run by its provider: nothing to initialize or unseal here`,
            );
            expect(platform.vaults.get(region)?.pods.size).toBe(0);
        }
        // Only eu's keys were shown, and only eu's root token revoked.
        expect(platform.terminal.map((line) => line.split(":")[0])).toEqual(["eu"]);
        expect(report.revokedRootTokens).toEqual(["eu"]);
        // eu reaches every peer; a managed region connects the managed peers, and no self-hosted one it pushes nothing to.
        const connected = (region: string) => platform.stacks.get(region)?.outputs.connectedPeers;
        expect(connected("eu")).toEqual(["us", "ap"]);
        expect(connected("us")).toEqual(["ap"]);
        expect(connected("ap")).toEqual(["us"]);
        expect(report.wired).toEqual([]);
        expect(platform.written).toContain("us wire skipped connected to ap");
    });

    it("change nothing on a bootstrapped platform", async () => {
        const platform = mixed();
        await bootstrap(platform.ports(), options(regions));
        platform.calls.length = 0;
        const report = await bootstrap(platform.ports(), options(regions));
        expect(platform.calls).toEqual([]);
        expect(report.managed).toEqual({ us: "aws-secrets-manager", ap: "azure-key-vault" });
    });

    it("count on their stores: a managed region's store that is not Ready is named", async () => {
        const platform = mixed();
        platform.missingStores.add("us/vault-ap");
        const error = await bootstrap(platform.ports(), options(regions)).catch((e: unknown) => e);
        expect((error as BootstrapError).lines[0]).toBe("region us: ClusterSecretStore vault-ap does not exist");
    });

    it("expect no store for a self-hosted peer they push nothing to, but one for the peer they push the canary to", async () => {
        // us is the first region, so the canary's home: it pushes to eu, which grants it that.
        const platform = new FakePlatform({ regions: ["us", "eu"], backends: { us: AWS } });
        const report = await bootstrap(platform.ports(), options(["us", "eu"]));
        expect(platform.stacks.get("us")?.outputs.connectedPeers).toEqual(["eu"]);
        // Its first run came before eu granted it access: the wiring runs it again, without an admin token.
        expect(report.wired).toEqual(["us"]);
        expect(platform.calls.filter((call) => call.endsWith(" us"))).toEqual(["createStack us", "up us", "up us"]);
        // Without the grant, the run says which peer it is not connected to.
        const refused = new FakePlatform({ regions: ["us", "eu"], backends: { us: AWS } });
        refused.refusesPeers.add("us");
        const error = await bootstrap(refused.ports(), options(["us", "eu"])).catch((e: unknown) => e);
        expect((error as BootstrapError).lines[0]).toMatch(/^region us: not connected to eu after its run/);
    });

    it("need no key settings: without a terminal, no PGP keys when every region is managed, and still when one is not", async () => {
        const managedOnly = new FakePlatform({ regions: ["us", "ap"], backends: { us: AWS, ap: HCP } });
        const report = await bootstrap(managedOnly.ports(), options(["us", "ap"], { interactive: false, keyShares: 0 }));
        expect(report.initialized).toEqual([]);
        expect(report.managed).toEqual({ us: "aws-secrets-manager", ap: "hcp-vault" });
        expect(managedOnly.calls.some((call) => /^(askToken|askKeys|keepOffline|init)/.test(call))).toBe(false);

        const platform = mixed();
        const error = await bootstrap(platform.ports(), options(regions, { interactive: false })).catch((e: unknown) => e);
        expect((error as BootstrapError).lines).toEqual([
            "--non-interactive needs --pgp-keys (one per share) and --root-token-pgp-key: without a terminal, new unseal keys and the root token may only be shown encrypted",
            "nothing was changed",
        ]);
        expect(platform.calls).toEqual([]);
        expect(optionProblems(options(["us"], { interactive: false, keyShares: 0 }), [])).toEqual([]);
        expect(optionProblems(options(["us"], { interactive: false, keyShares: 0 }), ["us"])).toHaveLength(3);
    });

    it("--verify: a canary write in the first region reaches the managed regions too, through their own stores", async () => {
        const platform = mixed();
        platform.replicationDelayMs.set("us", 20_000);
        platform.replicationDelayMs.set("ap", 30_000);
        const report = await bootstrap(platform.ports(), options(regions, { verify: true }));
        expect(report.canary?.tookMs).toBeGreaterThanOrEqual(30_000);
        expect([...platform.objects.values()].every((objects) => objects.size === 0)).toBe(true);
        expect(platform.calls.some((call) => call === "askToken us" || call === "askToken ap")).toBe(false);
    });

    it("--verify refuses a managed first region before anything changes: the canary is written into the home's Vault", async () => {
        const platform = new FakePlatform({ regions: ["us", "eu"], backends: { us: AWS } });
        const error = await bootstrap(platform.ports(), options(["us", "eu"], { verify: true })).catch((e: unknown) => e);
        expect((error as BootstrapError).lines).toEqual([
            "region us: --verify writes its canary into the first region's Vault with that Vault's admin token, but us's backend is aws-secrets-manager, which the bootstrap holds no credential for: run --verify with a region that has the self-hosted Vault first in --regions and in openova-vault:regions, or leave --verify out",
            "nothing was changed",
        ]);
        expect(platform.calls).toEqual([]);
    });

    it("get the canary's objects as their backends lay the secret out: each region reads its own, the home pushes as each peer's backend takes it", () => {
        const config = (region: string, peers: string[], backend: Record<string, unknown>) =>
            ({
                region,
                peers,
                backend,
                resolved: { externalSecrets: { namespace: "external-secrets" }, kvMount: "secret" },
            }) as unknown as RegionConfig;
        const resolvedAws = { ...AWS, identity: "irsa", replicaRegions: [], secretPrefix: "openova-" };
        const resolvedAzure = { ...AZURE, secretPrefix: "openova-" };
        const objects = canaryObjects([
            config("eu", ["us", "ap"], { type: "vault" }),
            config("us", ["eu", "ap"], resolvedAws),
            config("ap", ["eu", "us"], resolvedAzure),
        ]);
        const spec = (region: string, kind: string) =>
            (objects.get(region)?.find((o) => o.kind === kind)?.spec ?? {}) as Record<string, unknown>;
        const push = (target: string) =>
            (objects.get("eu")?.find((o) => o.metadata.name === `openova-replication-canary-to-${target}`)?.spec as { data: unknown[] })
                .data;
        // eu's own Vault: the path and property, as before.
        expect(spec("eu", "ExternalSecret").data).toEqual([
            { secretKey: "value", remoteRef: { key: "external-secrets/openova-replication-canary", property: "value" } },
        ]);
        // AWS keeps one secret with the key as a property, under the prefix; Azure one secret per key.
        expect(spec("us", "ExternalSecret").data).toEqual([
            { secretKey: "value", remoteRef: { key: "openova-external-secrets/openova-replication-canary", property: "value" } },
        ]);
        expect(spec("ap", "ExternalSecret").data).toEqual([
            { secretKey: "value", remoteRef: { key: "openova-external-secrets-openova-replication-canary--value" } },
        ]);
        expect(push("us")).toMatchObject([
            {
                match: {
                    secretKey: "value",
                    remoteRef: { remoteKey: "openova-external-secrets/openova-replication-canary", property: "value" },
                },
                metadata: { spec: { secretPushFormat: "string" } },
            },
        ]);
        expect(push("ap")).toMatchObject([
            { match: { secretKey: "value", remoteRef: { remoteKey: "openova-external-secrets-openova-replication-canary--value" } } },
        ]);
        // Only the home pushes.
        expect(objects.get("us")?.map((o) => o.kind)).toEqual(["ExternalSecret"]);
    });
});
