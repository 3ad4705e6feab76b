/**
 * The restore (bootstrap/restore.ts), step by step, against the bootstrap's fakes: a platform is
 * bootstrapped, a snapshot of region1 is taken, a write lands after it, region1's cluster is lost and
 * replaced by an empty one; the restore then fetches the snapshot, redeploys the server side (after
 * forgetting the lost cluster's objects, with the gate off), restores into a temporary Vault, unseals
 * with the original keys (or through the KMS), checks Raft, brings the stack and its peer in line and
 * waits for the stores. Also each step's failure, the resume after one, and the snapshot adapter
 * against fake cloud CLIs.
 */
import { createHash } from "node:crypto";
import type { Engine } from "../components/common/engine";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BootstrapError, bootstrap, BOOTSTRAP_DEFAULTS } from "../bootstrap/orchestrator";
import { type RestoreOptions, type RestorePorts, restoreProblems, restoreRegion, serverSideUrns } from "../bootstrap/restore";
import { EnvironmentOperator, main, unsealKeysVariable } from "../bootstrap/restoreCli";
import { runCli } from "./support/cliRun";
import { Sensitive } from "../bootstrap/sensitive";
import { CliSnapshotSource } from "../bootstrap/snapshotSource";
import { AWS_KMS_SEAL, type FakeOptions, FakePlatform } from "./support/bootstrapFakes";
import { MANAGED_BACKENDS } from "./support/backendFixtures";

const REGIONS = ["region1", "region2"];
const URI = "s3://example-vault-snapshots-region1/vault-snapshots/region1/vault-20261130T120000Z.snap";

const restoreOptions = (more: Partial<RestoreOptions> = {}): RestoreOptions => ({
    region: "region1",
    snapshot: URI,
    peers: ["region2"],
    podTimeoutMs: 60_000,
    pollMs: 1_000,
    ...more,
});

interface World {
    platform: FakePlatform;
    ports: RestorePorts;
    /** The snapshot the fake store holds, and the sha256 beside it. */
    store: { bytes: Uint8Array; sha256?: string; fails?: string };
    /** What the operator was asked for. */
    asked: string[];
    originalKeys: string[];
}

/** A bootstrapped platform whose region1 was snapshotted, written to afterwards, then lost. */
async function lostRegion(auto = false, engine?: Readonly<Record<string, Engine>>, backends?: FakeOptions["backends"]): Promise<World> {
    const platform = new FakePlatform({
        regions: REGIONS,
        ...(auto ? { autoUnseal: { region1: AWS_KMS_SEAL } } : {}),
        ...(engine === undefined ? {} : { engine }),
        ...(backends === undefined ? {} : { backends }),
    });
    await bootstrap(platform.ports(), {
        regions: REGIONS,
        keyShares: BOOTSTRAP_DEFAULTS.keyShares,
        keyThreshold: BOOTSTRAP_DEFAULTS.keyThreshold,
        keepRootToken: true,
        interactive: true,
        podTimeoutMs: 60_000,
        pollMs: 1_000,
    });
    const vault1 = platform.vaults.get("region1");
    const originalKeys = [...(vault1?.keys ?? [])];
    const root = [...(vault1?.roots ?? [])][0];
    const base = platform.ports();
    await base.vault.kvPut("region1", new Sensitive(root), "secret", "app/db", { password: "before" });
    const bytes = platform.snapshot("region1");
    await base.vault.kvPut("region1", new Sensitive(root), "secret", "app/late", { password: "after the snapshot" });
    platform.loseCluster("region1");

    const store: World["store"] = { bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
    const asked: string[] = [];
    const ports: RestorePorts = {
        ...base,
        operator: {
            ...base.operator,
            unsealKeys: (region) => {
                asked.push(`keys ${region}`);
                return Promise.resolve(originalKeys.slice(0, 3).map((key) => new Sensitive(key)));
            },
            // The original Vault's root token (which the snapshot holds), and the peer's own.
            adminToken: (region) => {
                asked.push(`token ${region}`);
                return Promise.resolve(
                    new Sensitive(region === "region1" ? root : ([...(platform.vaults.get(region)?.roots ?? [])][0] ?? "")),
                );
            },
        },
        snapshots: {
            fetch: (uri) =>
                store.fails !== undefined
                    ? Promise.reject(new Error(store.fails))
                    : uri === URI
                      ? Promise.resolve({ bytes: store.bytes, ...(store.sha256 === undefined ? {} : { sha256: store.sha256 }) })
                      : Promise.reject(new Error("NoSuchKey")),
        },
    };
    return { platform, ports, store, asked, originalKeys };
}

/** region1 as the snapshot left it: every server unsealed with the original keys, the data of then and not after. */
function restoredAsSnapshot(world: World): void {
    const vault = world.platform.vaults.get("region1");
    expect(vault?.keys).toEqual(world.originalKeys);
    expect([...(vault?.pods.values() ?? [])].map((pod) => ({ joined: pod.joined, sealed: pod.sealed }))).toEqual(
        Array.from({ length: 3 }, () => ({ joined: true, sealed: false })),
    );
    const kv = world.platform.kv.get("region1");
    expect(kv?.get("secret/app/db")?.value).toEqual({ password: "before" });
    expect(kv?.has("secret/app/late")).toBe(false);
}

describe("restoreRegion, step by step", () => {
    it("restores a lost region into a fresh cluster and brings it and its peer back in line", async () => {
        const world = await lostRegion();
        world.platform.calls.length = 0;
        const report = await restoreRegion(world.ports, restoreOptions());

        restoredAsSnapshot(world);
        expect(report).toMatchObject({ region: "region1", restored: true, verified: true, peersUpdated: ["region2"] });
        expect(report.servers.map((s) => s.nodeId)).toEqual(["vault-0", "vault-1", "vault-2"]);
        const calls = world.platform.calls.filter((c) => !c.startsWith("unseal"));
        expect(calls).toEqual([
            // The lost cluster's objects forgotten, then the server side alone, with the gate off.
            "refresh region1",
            "setConfig region1",
            "up-targets region1",
            // A temporary Vault, then the snapshot forced into it.
            "init region1",
            "restore region1",
            // The gate on again, the stack brought in line with the restored Vault, then the peer.
            "setConfig region1",
            "up-refresh region1",
            "up region2",
        ]);
        expect(world.platform.stacks.get("region1")?.config["openova-vault:vaultInitialized"]).toBe("true");
        // The temporary Vault's keys were never shown; the original keys and admin token were asked once.
        expect(world.platform.terminal.filter((line) => line.startsWith("region1"))).toHaveLength(1);
        expect(world.asked).toEqual(["keys region1", "token region1", "token region2"]);
        // No key material in anything the fakes printed or kept.
        const written = world.platform.written.join("\n");
        expect(world.platform.keyMaterial().filter((secret) => written.includes(secret))).toEqual([]);
        // Both regions' stores, each peer's included, are Ready.
        expect(world.platform.written.some((line) => line.startsWith("region1 stores done Ready here and at region2"))).toBe(true);
    });

    it("with auto-unseal: asks for no unseal key; the servers unseal themselves through the same KMS key", async () => {
        const world = await lostRegion(true);
        const report = await restoreRegion(world.ports, restoreOptions());
        expect(report.restored).toBe(true);
        expect(world.asked).not.toContain("keys region1");
        expect(world.platform.initRequests.get("region1")).toMatchObject({ autoUnseal: true, secretShares: 1, secretThreshold: 1 });
        expect([...(world.platform.vaults.get("region1")?.pods.values() ?? [])].every((pod) => !pod.sealed)).toBe(true);
        expect(world.platform.kv.get("region1")?.get("secret/app/db")?.value).toEqual({ password: "before" });
    });

    it("refuses a snapshot that does not match the sha256 beside it, before changing anything", async () => {
        const world = await lostRegion();
        world.store.sha256 = "0".repeat(64);
        world.platform.calls.length = 0;
        await expect(restoreRegion(world.ports, restoreOptions())).rejects.toThrow(/does not match the sha256 written beside it/);
        expect(world.platform.calls).toEqual([]);
    });

    it("says when the snapshot cannot be read, or is empty", async () => {
        const world = await lostRegion();
        world.store.fails = "An error occurred (AccessDenied) when calling the GetObject operation";
        await expect(restoreRegion(world.ports, restoreOptions())).rejects.toThrow(/cannot read the snapshot s3:.*AccessDenied/);
        world.store.fails = undefined;
        world.store.bytes = new Uint8Array();
        world.store.sha256 = undefined;
        await expect(restoreRegion(world.ports, restoreOptions())).rejects.toThrow(/is empty/);
    });

    it("tells the operator to start the temporary Vault over when Vault refuses the snapshot", async () => {
        const world = await lostRegion();
        world.store.bytes = Buffer.from("not a snapshot");
        world.store.sha256 = undefined;
        const error = await restoreRegion(world.ports, restoreOptions()).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(BootstrapError);
        expect((error as BootstrapError).lines[0]).toMatch(/Vault refused the snapshot: .*delete pvc data-vault-0/);
    });

    it("after a failure right after the restore, runs again and finishes without restoring twice", async () => {
        const world = await lostRegion();
        world.platform.failAt = "restore region1";
        world.platform.failAfterEffect = true;
        await expect(restoreRegion(world.ports, restoreOptions())).rejects.toThrow(/injected failure after restore region1/);
        world.platform.calls.length = 0;
        const report = await restoreRegion(world.ports, restoreOptions());
        expect(report.restored).toBe(false);
        expect(world.platform.calls.filter((c) => c.startsWith("init") || c.startsWith("restore"))).toEqual([]);
        restoredAsSnapshot(world);
    });

    it("after a failure before the restore, refuses the leftover temporary Vault and says how to start over", async () => {
        const world = await lostRegion();
        world.platform.failAt = "restore region1";
        await expect(restoreRegion(world.ports, restoreOptions())).rejects.toThrow(/injected failure at restore region1/);
        await expect(restoreRegion(world.ports, restoreOptions())).rejects.toThrow(
            /vault-0 holds a temporary Vault from an earlier restore run, whose keys are gone\. Delete its data \(kubectl -n vault delete pvc data-vault-0/,
        );
    });

    it("needs the state refreshed first: without it, the server side would not be deployed again", async () => {
        const world = await lostRegion();
        world.ports = { ...world.ports, workspace: { ...world.ports.workspace, refresh: () => Promise.resolve() } };
        await expect(restoreRegion(world.ports, restoreOptions({ podTimeoutMs: 5_000 }))).rejects.toThrow(/not running after 5 s/);
    });

    it("refuses a stack whose state has no server side", async () => {
        const world = await lostRegion();
        world.ports = { ...world.ports, workspace: { ...world.ports.workspace, resources: () => Promise.resolve([]) } };
        await expect(restoreRegion(world.ports, restoreOptions())).rejects.toThrow(
            /has no server side to restore into .*npm run bootstrap/,
        );
    });

    it("fails naming the server that did not join Raft", async () => {
        const world = await lostRegion();
        const ports = world.ports;
        world.ports = {
            ...ports,
            vault: {
                ...ports.vault,
                raftServers: async (region, token) => (await ports.vault.raftServers(region, token)).filter((s) => s.nodeId !== "vault-2"),
            },
        };
        await expect(restoreRegion(world.ports, restoreOptions({ podTimeoutMs: 5_000 }))).rejects.toThrow(
            /vault-2 did not join the restored Raft cluster within 5 s/,
        );
    });

    it("restores an OpenBao region by OpenBao's names, and says OpenBao where the bootstrap does", async () => {
        // region1 runs OpenBao, its peer Vault (a stack may override the project's engine).
        const world = await lostRegion(false, { region1: "openbao" });
        const report = await restoreRegion(world.ports, restoreOptions());
        restoredAsSnapshot(world);
        expect(report.servers.map((s) => s.nodeId)).toEqual(["openbao-0", "openbao-1", "openbao-2"]);
        expect(report.servers.find((s) => s.leader)?.nodeId).toBe("openbao-0");
        // The restore's own steps (the fakes' Pulumi output aside), from the fetch on.
        const steps = world.platform.written
            .slice(world.platform.written.findIndex((line) => line.startsWith("region1 fetch")))
            .filter((line) => /^region1 (fetch|server|pods|init|restore|unseal|raft|stores) /.test(line) && !line.includes("Updating ("));
        expect(steps).toContain("region1 init running a temporary OpenBao on openbao-0, to restore into");
        expect(steps.join("\n")).not.toMatch(/\bVault\b|vault-0/);

        // A wrong token: the hint is OpenBao's (no root token from the keys alone), the peer's Vault's.
        const wrong = await lostRegion(false, { region1: "openbao" });
        wrong.ports = {
            ...wrong.ports,
            operator: { ...wrong.ports.operator, adminToken: () => Promise.resolve(new Sensitive("hvs.wrong")) },
        };
        await expect(restoreRegion(wrong.ports, restoreOptions())).rejects.toThrow(
            "the admin token given is not valid for the restored OpenBao (after a restore, a token of the original OpenBao is: the snapshot holds its token store; else make one with `bao token create` and another admin token (OpenBao makes no root token from the unseal keys alone))",
        );
        const peerWrong = await lostRegion(false, { region1: "openbao" });
        const original = peerWrong.ports.operator;
        peerWrong.ports = {
            ...peerWrong.ports,
            operator: {
                ...original,
                adminToken: (region) => (region === "region1" ? original.adminToken(region) : Promise.resolve(new Sensitive("hvs.wrong"))),
            },
        };
        await expect(restoreRegion(peerWrong.ports, restoreOptions())).rejects.toThrow(
            "region region2: the admin token given is not valid for its Vault (make one with `vault operator generate-root` and the unseal keys)",
        );
    });

    it("refuses an admin token the restored Vault does not take", async () => {
        const world = await lostRegion();
        world.ports = {
            ...world.ports,
            operator: { ...world.ports.operator, adminToken: () => Promise.resolve(new Sensitive("hvs.wrong")) },
        };
        await expect(restoreRegion(world.ports, restoreOptions())).rejects.toThrow(
            /the admin token given is not valid for the restored Vault \(after a restore, a token of the original Vault is/,
        );
    });
});

describe("restore options", () => {
    it.each([
        [{ region: "region3" }, "--stack region3 is not one of the regions"],
        [{ snapshot: "ftp://x/y" }, "is not a snapshot URI"],
        [{ snapshot: "s3://bucket" }, "is not a snapshot URI"],
        [{ peers: ["region1"] }, "--peers names region1, which is not a peer of region1"],
    ])("refuses %j", (more, why) => {
        expect(restoreProblems(restoreOptions(more), REGIONS).join("\n")).toContain(why);
    });

    it.each([URI, "gs://b/p/vault-1.snap", "https://acct.blob.core.windows.net/c/p/vault-1.snap", "file:///tmp/vault-1.snap"])(
        "takes %s",
        (snapshot) => {
            expect(restoreProblems(restoreOptions({ snapshot }), REGIONS)).toEqual([]);
        },
    );

    it("targets the server side only: the Vault servers, ESO and the cluster's provider, never Vault's configuration", () => {
        const urn = (type: string, name: string) => `urn:pulumi:region1::openova-vault::${type}::${name}`;
        expect(
            serverSideUrns([
                urn("pulumi:pulumi:Stack", "s"),
                urn("pulumi:providers:kubernetes", "region1"),
                urn("pulumi:providers:vault", "region1"),
                urn("openova:vault:VaultRegion$openova:vault:VaultServer$kubernetes:helm.sh/v4:Chart", "region1-vault"),
                urn("openova:vault:VaultRegion$openova:vault:ExternalSecretsOperator", "region1-external-secrets"),
                urn("openova:vault:VaultRegion$openova:vault:VaultSetup$vault:index/mount:Mount", "kv"),
            ]).map((u) => u.split("::").slice(2).join("::")),
        ).toEqual([
            "pulumi:providers:kubernetes::region1",
            "openova:vault:VaultRegion$openova:vault:VaultServer$kubernetes:helm.sh/v4:Chart::region1-vault",
            "openova:vault:VaultRegion$openova:vault:ExternalSecretsOperator::region1-external-secrets",
        ]);
    });

    it("reads the original unseal keys from the environment without a terminal, and says which variable when they are missing", async () => {
        expect(unsealKeysVariable("region-1")).toBe("VAULT_UNSEAL_KEYS_REGION_1");
        const keys = await new EnvironmentOperator({ VAULT_UNSEAL_KEYS_REGION1: "a, b,c" }).unsealKeys("region1", 3);
        expect(keys.map((k) => k.reveal())).toEqual(["a", "b", "c"]);
        await expect(new EnvironmentOperator({}).unsealKeys("region1", 3)).rejects.toThrow(
            /set VAULT_UNSEAL_KEYS_REGION1 to 3 of its original unseal keys/,
        );
    });
});

describe("CliSnapshotSource (against fake cloud CLIs)", () => {
    let root: string;
    const CONTENT = "raft snapshot bytes";
    const SUM = createHash("sha256").update(CONTENT).digest("hex");
    // Each fake writes the object named by its arguments to the destination file: the snapshot, or its .sha256 when asked.
    const FAKE = `#!/bin/sh
printf '%s %s\\n' "$(basename "$0")" "$*" >> "$FAKE_LOG"
dest=
src=
prev=
for arg in "$@"; do
    case "$prev" in --file) dest=$arg ;; --name) src=$arg ;; esac
    case "$arg" in s3://*|gs://*) src=$arg ;; esac
    prev=$arg
done
[ -z "$dest" ] && dest=$(eval "echo \\\${$#}")
case "$src" in
*.sha256) [ -n "\${FAKE_NO_SUM:-}" ] && { echo "NoSuchKey" >&2; exit 1; }; printf '%s  vault-1.snap\\n' "$FAKE_SUM" > "$dest" ;;
*) [ -n "\${FAKE_DENY:-}" ] && { echo "An error occurred (AccessDenied)" >&2; exit 1; }; printf '%s' "$FAKE_CONTENT" > "$dest" ;;
esac
`;

    beforeAll(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "snapshot-source-"));
        fs.mkdirSync(path.join(root, "bin"));
        for (const cli of ["aws", "gcloud", "az"]) {
            fs.writeFileSync(path.join(root, "bin", cli), FAKE, { mode: 0o755 });
        }
    });
    afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

    /** The adapter with the fakes first on its PATH (and whatever switches `env` sets for them). */
    function source(env: Record<string, string> = {}): CliSnapshotSource {
        fs.writeFileSync(path.join(root, "log"), "");
        return new CliSnapshotSource({
            PATH: `${path.join(root, "bin")}:${process.env.PATH ?? ""}`,
            FAKE_LOG: path.join(root, "log"),
            FAKE_CONTENT: CONTENT,
            FAKE_SUM: SUM,
            ...env,
        });
    }
    const log = () => fs.readFileSync(path.join(root, "log"), "utf8").trim().split("\n");

    it.each([
        ["s3://b/p/vault-1.snap", "aws s3 cp --only-show-errors s3://b/p/vault-1.snap "],
        ["gs://b/p/vault-1.snap", "gcloud --quiet storage cp gs://b/p/vault-1.snap "],
        [
            "https://acct.blob.core.windows.net/c/p/vault-1.snap",
            "az storage blob download --auth-mode login --account-name acct --container-name c --name p/vault-1.snap --file ",
        ],
    ])("reads %s and the sha256 beside it with the store's CLI and the operator's own login", async (uri, command) => {
        const result = await source().fetch(uri);
        expect(Buffer.from(result.bytes).toString()).toBe(CONTENT);
        expect(result.sha256).toBe(SUM);
        expect(log()[0].startsWith(command)).toBe(true);
        expect(log()).toHaveLength(2);
    });

    it("reads a snapshot without a .sha256 beside it, and says so by leaving the sum out", async () => {
        const result = await source({ FAKE_NO_SUM: "1" }).fetch("s3://b/p/vault-1.snap");
        expect(result.sha256).toBeUndefined();
    });

    it("passes the CLI's own error on, and leaves no copy behind", async () => {
        const before = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith("vault-restore-")).length;
        await expect(source({ FAKE_DENY: "1" }).fetch("s3://b/p/vault-1.snap")).rejects.toThrow(
            /aws failed: An error occurred \(AccessDenied\)/,
        );
        expect(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith("vault-restore-")).length).toBe(before);
    });

    it("reads a local file, with its .sha256 when there is one", async () => {
        const file = path.join(root, "vault-1.snap");
        fs.writeFileSync(file, CONTENT);
        expect((await new CliSnapshotSource().fetch(`file://${file}`)).sha256).toBeUndefined();
        fs.writeFileSync(`${file}.sha256`, `${SUM}  vault-1.snap\n`);
        expect(await new CliSnapshotSource().fetch(`file://${file}`)).toEqual({ bytes: Buffer.from(CONTENT), sha256: SUM });
    });
});

describe("npm run restore", () => {
    it("documents its flags, and refuses bad ones with exit 2", async () => {
        // As `npm run restore` runs it, once: its own process.
        const help = spawnSync(process.execPath, ["--import", "tsx", "bootstrap/restoreCli.ts", "--help"], {
            cwd: path.join(__dirname, ".."),
            encoding: "utf8",
        });
        expect(help.status).toBe(0);
        for (const flag of ["--stack", "--snapshot", "--peers", "--non-interactive", "--pod-timeout", "VAULT_UNSEAL_KEYS_<REGION>"]) {
            expect(help.stdout).toContain(flag);
        }
        // The rest in this process, with no kubeconfig whatever this machine has.
        const saved = process.env.KUBECONFIG;
        process.env.KUBECONFIG = path.join(os.tmpdir(), "no-such-kubeconfig");
        try {
            const bad = await runCli(main, ["--stack", "region1", "--snapshot", "ftp://nope"]);
            expect(bad.code).toBe(2);
            expect(bad.stderr).toContain("is not a snapshot URI");
            expect((await runCli(main, ["--stack", "region1"])).stderr).toContain("--snapshot is required");
        } finally {
            if (saved === undefined) {
                delete process.env.KUBECONFIG;
            } else {
                process.env.KUBECONFIG = saved;
            }
        }
    });
});

describe("a region whose backend is managed", () => {
    const AWS = MANAGED_BACKENDS["aws-secrets-manager"];

    it("is refused in one line before anything changes: there is no Vault of ours, nor a Raft snapshot, to restore", async () => {
        const world = await lostRegion(false, undefined, { region2: AWS });
        world.platform.calls.length = 0;
        const error = await restoreRegion(world.ports, restoreOptions({ region: "region2", peers: ["region1"] })).catch((e: unknown) => e);
        expect((error as BootstrapError).lines).toEqual([
            "region region2: its backend is aws-secrets-manager, which keeps no Vault of this project's and no Raft snapshot to restore: recover its secrets with the provider's own backup and recovery, then run `pulumi up -s region2` (its replicated secrets also come back with their homes' next pushes)",
        ]);
        expect(world.platform.calls).toEqual([]);
        expect(world.asked).toEqual([]);
    });

    it("as a peer, is run again without an admin token, and has no store for the restored region it pushes nothing to", async () => {
        const world = await lostRegion(false, undefined, { region2: AWS });
        world.platform.calls.length = 0;
        const report = await restoreRegion(world.ports, restoreOptions());
        restoredAsSnapshot(world);
        expect(report.peersUpdated).toEqual(["region2"]);
        expect(world.platform.calls).toContain("up region2");
        expect(world.asked).toEqual(["keys region1", "token region1"]);
    });
});
