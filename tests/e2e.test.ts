/**
 * The end-to-end lane (docs/e2e.md), where it can run without Docker: its scripts parse (bash -n, and
 * shellcheck where it is installed), its pinned versions agree, its stack files pass the program's own
 * config validation, and its pure parts (command line, the tools' outputs it reads, the propagation
 * arithmetic and measuring loop over fakes, the report) do what the lane relies on. The lane itself
 * needs Docker and kind, and runs in .github/workflows/e2e.yml or on a laptop.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { summary } from "../bootstrap/cli";
import { BootstrapError } from "../bootstrap/orchestrator";
import { EnvironmentOperator } from "../bootstrap/restoreCli";
import { restoreProblems } from "../bootstrap/restore";
import { Sensitive } from "../bootstrap/sensitive";
import { keyMaterialLines, NonInteractiveOperator } from "../bootstrap/terminal";
import { WRITE_MODES, WRITERS, writersOf } from "../components/replication/replicationSpecs";
import { activePropagationBoundMs } from "../model/activeActive";
import { ingressControllerNamespace } from "../components/vault-server/networkPolicy";
import { resolvedTls } from "../components/vault-server/tls";
import { SNAPSHOT_CRONJOB_NAME, SNAPSHOT_DIR } from "../components/snapshots/snapshotSpecs";
import { parseConfig, PROJECT } from "../stack/config";
import { readProject, readStackConfig } from "../stack/projectFiles";
import { mask } from "../tools/e2e/exec";
import { decryptBase64, ensureKey, keyParameters, publicKeyBase64 } from "../tools/e2e/gpg";
import {
    backendStackFiles,
    bootstrapArgs,
    KEY_SHARES,
    KEY_THRESHOLD,
    laneEnv,
    laneVersions,
    pulumiVersion,
    RUNNERS,
} from "../tools/e2e/lane";
import { CA_CERT_FILE, jwksFile, kubeContext, providerVaultAddress, vaultPort, workDir } from "../tools/e2e/names";
import {
    bootstrapNeeds,
    canaryResult,
    corefileWithHosts,
    digestOf,
    encryptedKeyMaterial,
    issuerOf,
    nodeAddress,
    notReady,
    parseEnvFile,
    readiness,
    secretDigests,
    stackNames,
    VALIDATION_UNKNOWN,
} from "../tools/e2e/outputs";
import {
    type CaseResult,
    measureCase,
    propagationProblems,
    type PropagationPorts,
    type SecretEntry,
    stats,
    type WriteCase,
    boundOf,
    writePlan,
} from "../tools/e2e/propagation";
import { mergeReport, renderSummary, type StepRecord } from "../tools/e2e/report";
import {
    newestSnapshot,
    propagationBrief,
    READER_POD,
    readerPod,
    RESTORE_PHASES,
    restoreArgs,
    restoreEnv,
    restoredRegion,
    restorePlan,
    SNAPSHOT_JOB,
} from "../tools/e2e/restore";
import {
    laneOptions,
    laneStackConfig,
    LANE_SETTINGS_FILE,
    readLaneSettings,
    settingsProblems,
    stackFileText,
} from "../tools/e2e/stackFiles";
import { DEFAULT_WRITES, parseLaneArgs, SCRIPTS, STEPS } from "../tools/e2e/steps";

const ROOT = path.resolve(__dirname, "..");
const SCRIPT_DIR = path.join(ROOT, "scripts", "e2e");
const scripts = () =>
    fs
        .readdirSync(SCRIPT_DIR)
        .filter((f) => f.endsWith(".sh"))
        .map((f) => path.join(SCRIPT_DIR, f));
const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

describe("the lane's scripts", () => {
    it("exist for every step that runs one, executable, and are all the scripts there are (with lib.sh)", () => {
        for (const script of Object.values(SCRIPTS)) {
            const file = path.join(ROOT, script);
            expect(fs.existsSync(file)).toBe(true);
            expect(fs.statSync(file).mode & 0o111).not.toBe(0);
        }
        expect(
            scripts()
                .map((f) => path.relative(ROOT, f))
                .sort(),
        ).toEqual([...Object.values(SCRIPTS), "scripts/e2e/lib.sh"].sort());
    });

    it.each(scripts().map((f) => path.basename(f)))("%s passes bash -n", (name) => {
        const result = spawnSync("bash", ["-n", path.join(SCRIPT_DIR, name)], { encoding: "utf8" });
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
    });

    it("bash -n rejects a broken script, so the check above can fail", () => {
        const broken = path.join(tmp("e2e-sh-"), "broken.sh");
        fs.writeFileSync(broken, 'if [ -n "$x" ]; then\n  echo\n');
        expect(spawnSync("bash", ["-n", broken]).status).not.toBe(0);
    });

    const shellcheck = spawnSync("shellcheck", ["--version"]).status === 0;
    // GitHub's Ubuntu runners have shellcheck, and .ci/run installs it; elsewhere the check says it is skipped.
    (shellcheck || process.env.OPENOVA_REQUIRE_SHELLCHECK === "1" ? it : it.skip)(
        "pass shellcheck (with the sourced files followed)",
        () => {
            const result = spawnSync("shellcheck", ["-x", ...scripts()], { cwd: SCRIPT_DIR, encoding: "utf8" });
            expect(result.stdout).toBe("");
            expect(result.status).toBe(0);
        },
    );

    it.each([
        ["clusters.sh", [], /usage: clusters.sh create/],
        ["clusters.sh", ["create", "--network"], /--network needs a value/],
        ["platform.sh", ["--issuer", "x"], /usage: platform.sh/],
        ["install-tools.sh", ["--bin", "/tmp/x"], /usage: install-tools.sh/],
        ["ca.sh", [], /usage: ca.sh DIR/],
    ])("%s %j stops with its usage before touching anything", (name, args, message) => {
        const result = spawnSync("bash", [path.join(SCRIPT_DIR, name), ...args], { encoding: "utf8" });
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(message);
    });

    it("ca.sh makes a CA certificate once, and keeps its key to the owner", () => {
        const dir = path.join(tmp("e2e-ca-"), "ca");
        execFileSync("bash", [path.join(SCRIPT_DIR, "ca.sh"), dir], { stdio: "pipe" });
        const pem = fs.readFileSync(path.join(dir, "ca.pem"), "utf8");
        expect(execFileSync("openssl", ["x509", "-noout", "-ext", "basicConstraints"], { input: pem }).toString()).toContain("CA:TRUE");
        expect(fs.statSync(path.join(dir, "ca.key")).mode & 0o077).toBe(0);
        execFileSync("bash", [path.join(SCRIPT_DIR, "ca.sh"), dir], { stdio: "pipe" });
        expect(fs.readFileSync(path.join(dir, "ca.pem"), "utf8")).toBe(pem);
    });
});

describe("the pinned versions (scripts/e2e/versions.env)", () => {
    const text = fs.readFileSync(path.join(SCRIPT_DIR, "versions.env"), "utf8");
    const versions = parseEnvFile(text);

    it("holds every variable the scripts use, and nothing else", () => {
        const used = new Set(
            scripts()
                .flatMap((f) => [...fs.readFileSync(f, "utf8").matchAll(/\$\{?([A-Z][A-Z0-9_]*)\}?/g)].map((m) => m[1]))
                .filter((name) => /_(VERSION|REPO|IMAGE)$/.test(name)),
        );
        expect([...used].sort()).toEqual(Object.keys(versions).sort());
    });

    it("pins the kind node image by digest, and kubectl to the node image's Kubernetes version", () => {
        const image = /^kindest\/node:(v\d+\.\d+\.\d+)@sha256:[0-9a-f]{64}$/.exec(versions.KIND_NODE_IMAGE);
        expect(image).not.toBeNull();
        expect(versions.KUBECTL_VERSION).toBe(image?.[1]);
        expect(versions.KIND_VERSION).toMatch(/^v\d+\.\d+\.\d+$/);
    });

    it("takes the Pulumi CLI's version from the SDK's pin, and reports it with the charts the program deploys", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
        expect(pulumiVersion(ROOT)).toBe(pkg.devDependencies["@pulumi/pulumi"]);
        expect(laneVersions(ROOT)).toMatchObject({ ...versions, PULUMI_CLI: pulumiVersion(ROOT), VAULT_CHART: "0.34.1" });
        expect(text).not.toMatch(/PULUMI/);
    });

    it("reads only plain KEY=value lines, so the shell and the report read the same values", () => {
        expect(parseEnvFile("# c\n\nA_VERSION=v1\n")).toEqual({ A_VERSION: "v1" });
        expect(() => parseEnvFile('A="v1"')).toThrow(/line 1/);
        expect(() => parseEnvFile("A=$(curl x)")).toThrow(/plain value/);
    });
});

/** A JWKS with one RSA public key, as a cluster serves it. */
function jwks(): string {
    const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    return JSON.stringify({ keys: [{ ...publicKey.export({ format: "jwk" }), kid: "k1", use: "sig", alg: "RS256" }] });
}

describe("the lane's stack files", () => {
    const settings = readLaneSettings(ROOT);
    const issuer = "https://kubernetes.default.svc.cluster.local";

    it("cover the regions of Pulumi.yaml and the committed stacks' replicated secrets", () => {
        expect(settings.regions).toEqual(["region1", "region2"]);
        expect(settings.committedSecrets).toEqual([expect.objectContaining({ name: "db-credentials", home: "region1" })]);
    });

    /** Writes the generated stack files into a copy-like project and reads them as the program does. */
    function generatedProject() {
        const dir = tmp("e2e-project-");
        fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
        fs.mkdirSync(path.join(dir, "certs"));
        fs.copyFileSync(path.join(ROOT, "certs", "example-platform-ca.pem"), path.join(dir, CA_CERT_FILE));
        for (const region of settings.regions) {
            fs.writeFileSync(path.join(dir, jwksFile(region)), jwks());
            fs.writeFileSync(path.join(dir, `Pulumi.${region}.yaml`), stackFileText(region, laneStackConfig(settings, region, { issuer })));
        }
        return dir;
    }

    it.each(["region1", "region2"])("%s passes the program's config validation, as the lane generates it", (region) => {
        const dir = generatedProject();
        const raw = readStackConfig(readProject(dir), region);
        const parsed = parseConfig(region, raw.config, { readFile: (file) => fs.readFileSync(path.join(dir, file), "utf8") });
        expect(parsed.ok ? [] : parsed.problems).toEqual([]);
        if (!parsed.ok) {
            return;
        }
        expect(parsed.config.kubeContext).toBe(kubeContext(region));
        expect(parsed.config.vaultAddress).toBe(providerVaultAddress(settings.regions, region));
        expect(parsed.config.vaultInitialized).toBe(false);
        expect(parsed.config.serviceAccountIssuer?.issuer).toBe(issuer);
        // The ingress-nginx stand-in: a Kubernetes NetworkPolicy admitting the controller's namespace.
        expect(parsed.config.resolved.vault.ingressClassName).toBe("nginx");
        expect(ingressControllerNamespace("nginx", parsed.config.resolved.vault.ingressControllerNamespace)).toBe("ingress-nginx");
        expect(parsed.config.resolved.replicatedSecrets.map((s) => s.name)).toEqual([
            "db-credentials",
            "e2e-vault-written-1",
            "e2e-vault-written-2",
            "e2e-cluster-written-1",
            "e2e-cluster-written-2",
        ]);
    });

    it("are what the stack file says, read back as YAML", () => {
        const config = laneStackConfig(settings, "region2", { issuer });
        const text = stackFileText("region2", config);
        expect(text.split("\n")[0]).toMatch(/^# Region region2 of the end-to-end lane/);
        expect((parse(text) as { config: unknown }).config).toEqual(config);
        expect(config[`${PROJECT}:vaultAddress`]).toBe("https://127.0.0.1:18202");
    });

    it("time a write in every region for every write mode and writer mode the program offers", () => {
        const secrets = laneOptions(settings, "region1").replicatedSecrets;
        const plan = writePlan(secrets, settings.regions);
        const writersOfCase = (c: { secret: string }) => writersOf(secrets.find((s) => s.name === c.secret) ?? secrets[0]);
        for (const mode of WRITE_MODES) {
            for (const writers of WRITERS.filter((w) => mode === "vault-written" || w === "home")) {
                for (const region of settings.regions) {
                    expect({
                        mode,
                        writers,
                        region,
                        timed: plan.some((c) => c.mode === mode && writersOfCase(c) === writers && c.writer === region),
                    }).toEqual({
                        mode,
                        writers,
                        region,
                        timed: true,
                    });
                }
            }
        }
    });

    it("need from the platform what the lane installs: a ClusterIssuer, and one worker per Vault server", () => {
        const options = laneOptions(settings, "region1");
        expect(resolvedTls(options.vault.tls)).toMatchObject({ enabled: true, issuer: { kind: "ClusterIssuer", name: "vault-ca-issuer" } });
        expect(options.vault.replicas).toBe(3);
        expect(options.domain).toBe("e2e.internal");
    });

    it("leave what the lane sets from its clusters out of the settings file", () => {
        expect(
            settingsProblems((parse(fs.readFileSync(path.join(ROOT, LANE_SETTINGS_FILE), "utf8")) as { config: unknown }).config),
        ).toEqual([]);
        expect(settingsProblems({ [`${PROJECT}:kubeContext`]: "x", domain: "y", [`${PROJECT}:regions`]: ["a"] })).toEqual([
            `${LANE_SETTINGS_FILE}: ${PROJECT}:kubeContext is set by the lane from its clusters; remove it`,
            `${LANE_SETTINGS_FILE}: domain is not a key of ${PROJECT} (write it as ${PROJECT}:domain)`,
            `${LANE_SETTINGS_FILE}: ${PROJECT}:regions is set, but the lane makes one cluster per region of Pulumi.yaml; remove it`,
        ]);
        expect(settingsProblems([])).toEqual([`${LANE_SETTINGS_FILE}: expected a "config:" mapping`]);
    });

    it("give each region its own forwarded port", () => {
        expect(vaultPort(["a", "b"], "a")).toBe(18201);
        expect(vaultPort(["a", "b"], "b")).toBe(18202);
        expect(() => vaultPort(["a"], "c")).toThrow(/not one of the regions/);
    });
});

describe("what the lane reads from the tools", () => {
    const list = (items: unknown[]) => ({ apiVersion: "v1", kind: "List", items });
    const object = (kind: string, name: string, ready?: { status: string; reason?: string; message?: string }, namespace?: string) => ({
        kind,
        metadata: { name, ...(namespace === undefined ? {} : { namespace }) },
        status: ready === undefined ? {} : { conditions: [{ type: "Ready", ...ready }] },
    });

    it("finds every object that is not Ready, with its reason, and the stores ESO could not check", () => {
        const found = readiness(
            list([
                object("ClusterSecretStore", "vault-local", { status: "True", reason: VALIDATION_UNKNOWN }),
                object("ClusterSecretStore", "vault-region2", {
                    status: "False",
                    reason: "InvalidProviderConfig",
                    message: "login failed",
                }),
                object("ExternalSecret", "db-credentials", undefined, "databases"),
                object("PushSecret", "x-to-region2", { status: "True", reason: "Synced" }, "e2e"),
            ]),
        );
        expect(notReady("region1", found)).toEqual([
            "region region1: ClusterSecretStore vault-region2 is not Ready (InvalidProviderConfig: login failed)",
            "region region1: ExternalSecret databases/db-credentials is not Ready",
        ]);
        expect(found.filter((o) => o.reason === VALIDATION_UNKNOWN).map((o) => o.name)).toEqual(["vault-local"]);
        expect(() => readiness({ kind: "Status" })).toThrow(/not a Kubernetes object or list/);
    });

    it("reads a node's InternalIP", () => {
        const node = {
            metadata: { name: "n" },
            status: {
                addresses: [
                    { type: "Hostname", address: "n" },
                    { type: "InternalIP", address: "172.18.0.3" },
                ],
            },
        };
        expect(nodeAddress(list([node]))).toBe("172.18.0.3");
        expect(nodeAddress(list([]))).toBeUndefined();
    });

    it("gives a Secret's keys as digests, never its values", () => {
        const secret = {
            metadata: { name: "s" },
            data: { password: Buffer.from("hunter2").toString("base64"), b: Buffer.from("").toString("base64") },
        };
        const digests = secretDigests(secret);
        expect(Object.keys(digests)).toEqual(["b", "password"]);
        expect(digests.password).toBe(digestOf("hunter2"));
        expect(JSON.stringify(digests)).not.toContain("hunter2");
        expect(JSON.stringify(digests)).not.toContain(secret.data.password);
    });

    const kindCorefile = [
        ".:53 {",
        "    errors",
        "    health {",
        "       lameduck 5s",
        "    }",
        "    kubernetes cluster.local in-addr.arpa ip6.arpa {",
        "       pods insecure",
        "       fallthrough in-addr.arpa ip6.arpa",
        "    }",
        "    forward . /etc/resolv.conf",
        "    reload",
        "}",
        "",
    ].join("\n");
    const hosts = [
        { address: "172.18.0.3", host: "vault.region1.e2e.internal" },
        { address: "172.18.0.7", host: "vault.region2.e2e.internal" },
    ];

    it("adds a hosts block with every region's Vault to CoreDNS's server, once however often it runs", () => {
        const once = corefileWithHosts(kindCorefile, hosts);
        const lines = once.split("\n");
        expect(lines[0]).toBe(".:53 {");
        expect(lines.slice(2, 7)).toEqual([
            "    hosts {",
            "        172.18.0.3 vault.region1.e2e.internal",
            "        172.18.0.7 vault.region2.e2e.internal",
            "        fallthrough",
            "    }",
        ]);
        expect(corefileWithHosts(once, hosts)).toBe(once);
        expect(corefileWithHosts(once, hosts.slice(0, 1))).not.toContain("172.18.0.7");
        expect(once.replace(/ {4}# openova-e2e[^\n]*\n| {4}hosts \{\n(?: {8}[^\n]*\n)* {4}\}\n/g, "")).toBe(kindCorefile);
    });

    it("refuses a Corefile it cannot extend", () => {
        expect(() => corefileWithHosts("example.org:53 {\n}\n", hosts)).toThrow(/no `.:53 {` server block/);
        expect(() => corefileWithHosts(".:53 {\n    hosts /etc/hosts\n}\n", hosts)).toThrow(/hosts block already/);
    });

    it("takes the PGP-encrypted key material from the bootstrap's output, as the bootstrap prints it", () => {
        const printed = (region: string, keys: string[], root: string) =>
            keyMaterialLines(region, {
                keys: keys.map((k) => new Sensitive(k)),
                rootToken: new Sensitive(root),
                keysEncrypted: true,
                rootTokenEncrypted: true,
            });
        const output = [
            "[ok] region1      init      3 key shares, threshold 2",
            ...printed("region1", ["wcFMA1==", "wcFMA2=="], "wcFMAr+/"),
            "[..] region1      unseal    running",
            ...printed("eu-2", ["a"], "b"),
        ].join("\n");
        expect([...encryptedKeyMaterial(output)]).toEqual([
            ["region1", { kind: "unseal", keys: ["wcFMA1==", "wcFMA2=="], rootToken: "wcFMAr+/" }],
            ["eu-2", { kind: "unseal", keys: ["a"], rootToken: "b" }],
        ]);
        // Material shown in the clear is never taken.
        const plain = keyMaterialLines("region3", {
            keys: [new Sensitive("k")],
            rootToken: new Sensitive("t"),
            keysEncrypted: false,
            rootTokenEncrypted: false,
        });
        expect(encryptedKeyMaterial(plain.join("\n")).size).toBe(0);
    });

    it("reads what a stopped non-interactive bootstrap needs, from the bootstrap's own error lines", async () => {
        const lines = async (p: Promise<unknown>) => {
            const error = await p.catch((e: unknown) => e);
            expect(error).toBeInstanceOf(BootstrapError);
            return (error as BootstrapError).lines.map((line) => `error: ${line}`);
        };
        const operator = new NonInteractiveOperator({});
        const stderr = [
            ...(await lines(operator.unsealKeys("region2", 2))),
            ...(await lines(operator.adminToken("eu-1"))),
            "error: run the bootstrap again once this is fixed: it picks up where it stopped",
        ].join("\n");
        expect(bootstrapNeeds(stderr)).toEqual({ unseal: ["region2"], tokens: [{ region: "eu-1", variable: "VAULT_TOKEN_EU_1" }] });
        expect(bootstrapNeeds("error: region region1: its Vault (vault-0) did not answer")).toEqual({ unseal: [], tokens: [] });
    });

    it("reads the canary's time from the bootstrap's summary", () => {
        const report = { created: [], initialized: [], unsealed: [], autoUnsealed: [], configured: [], wired: [], revokedRootTokens: [] };
        expect(canaryResult(summary({ ...report, canary: { tookMs: 41_400, boundMs: 100_000 } }).join("\n"))).toEqual({
            tookS: 41,
            boundS: 100,
        });
        expect(canaryResult(summary(report).join("\n"))).toBeUndefined();
    });

    it("reads Pulumi's stack list and a cluster's token issuer", () => {
        expect(stackNames([{ name: "organization/openova-vault/region1", current: false }, { name: "region2" }])).toEqual([
            "organization/openova-vault/region1",
            "region2",
        ]);
        expect(() => stackNames({})).toThrow(/expected a list/);
        expect(issuerOf({ issuer: "https://kubernetes.default.svc.cluster.local", jwks_uri: "x" })).toBe(
            "https://kubernetes.default.svc.cluster.local",
        );
        expect(() => issuerOf({})).toThrow(/no issuer/);
    });
});

describe("propagation", () => {
    const entry = (over: Partial<SecretEntry>): SecretEntry => ({
        name: "s",
        namespace: "ns",
        mode: "vault-written",
        writers: "home",
        home: "region1",
        pullInterval: "30s",
        pushInterval: "30s",
        ...over,
    });

    it("writes a home secret only in its home, and a secret with writers: any in every region", () => {
        const plan = writePlan(
            [
                entry({ keys: ["password"] }),
                entry({ name: "c", mode: "cluster-written", home: "region2" }),
                entry({ name: "aa", writers: "any" }),
            ],
            ["region1", "region2"],
        );
        expect(plan.map((c) => [c.secret, c.writer, c.keys, c.remoteKey])).toEqual([
            ["s", "region1", ["password"], "ns/s"],
            ["c", "region2", ["value"], "ns/c"],
            ["aa", "region1", ["value"], "ns/aa"],
            ["aa", "region2", ["value"], "ns/aa"],
        ]);
    });

    it("holds each write to the model's bound for its layout and intervals (docs/consistency.md: 100 s and 70 s at the defaults, 33.5 s for writers: any)", () => {
        const [vault, cluster, slow, any] = writePlan(
            [entry({}), entry({ mode: "cluster-written" }), entry({ pullInterval: "1m" }), entry({ writers: "any" })],
            ["region1", "region2"],
        );
        expect(vault.bound).toMatchObject({ ms: 100_000, formula: "2E + P + 2·1·maxDelay", guaranteed: true });
        expect(cluster.bound?.ms).toBe(70_000);
        expect(slow.bound?.ms).toBe(160_000);
        // A secret every region writes: the replicators' bound into every Vault, and one ExternalSecret interval.
        expect(any.bound).toEqual({ ms: activePropagationBoundMs() + 30_000, formula: "hint + flight + doorbell + E", guaranteed: true });
    });

    it("takes the median and the maximum", () => {
        expect(stats([3, 1, 2])).toEqual({ count: 3, medianMs: 2, maxMs: 3 });
        expect(stats([4, 1, 3, 2])).toEqual({ count: 4, medianMs: 2.5, maxMs: 4 });
        expect(() => stats([])).toThrow(/no samples/);
    });

    /** A fake platform: a write arrives in each region after that region's delay; time only moves when the lane sleeps. */
    function fakePorts(delays: Record<string, number[]>): PropagationPorts & { writes: number } {
        let now = 0;
        let count = 0;
        let current = { value: "", at: 0, index: -1 };
        const ports = {
            writes: 0,
            write: (_c: WriteCase, value: string) => {
                current = { value, at: now, index: current.index + 1 };
                ports.writes += 1;
                return Promise.resolve();
            },
            holds: (region: string, _c: WriteCase, value: string) =>
                Promise.resolve(value === current.value && now - current.at >= (delays[region][current.index] ?? Infinity)),
            newValue: () => `v${++count}`,
            now: () => now,
            sleep: (ms: number) => {
                now += ms;
                return Promise.resolve();
            },
        };
        return ports;
    }
    const plan = writePlan([entry({})], ["region1", "region2"])[0];

    it("times each write from its end until the last region holds it, after an untimed first write", async () => {
        const ports = fakePorts({ region1: [5_000, 10_000, 20_000, 30_000], region2: [50_000, 40_000, 110_000, 60_000] });
        const result = await measureCase(ports, plan, { writes: 3, pollMs: 1_000, timeoutMs: () => 300_000 });
        expect(ports.writes).toBe(4);
        expect(result.samplesMs).toEqual([40_000, 110_000, 60_000]);
        expect(result.arrivalsMs).toEqual({ region1: [10_000, 20_000, 30_000], region2: [40_000, 110_000, 60_000] });
        expect(result).toMatchObject({ medianMs: 60_000, maxMs: 110_000, overBound: 1 });
        expect(propagationProblems([result])).toEqual([
            "1 of 3 writes of s in region1 took longer than the model's bound (100 s, 2E + P + 2·1·maxDelay); the slowest took 110 s",
        ]);
    });

    it("stops a case whose write never arrives, saying where it is missing", async () => {
        const ports = fakePorts({ region1: [1_000, 1_000], region2: [1_000] });
        const result: CaseResult = await measureCase(ports, plan, { writes: 2, pollMs: 1_000, timeoutMs: () => 30_000 });
        expect(result.failure).toBe("timed write 1 of 2 of s in region1 had not reached region2 after 30 s");
        expect(result.samplesMs).toEqual([]);
        expect(propagationProblems([result])).toEqual([result.failure]);
    });
});

describe("the report", () => {
    const record = (step: string, ok: boolean, data?: Record<string, unknown>): StepRecord => ({
        step,
        ok,
        startedAt: "2026-12-06T00:00:00.000Z",
        seconds: 12.3,
        problems: ok ? [] : [`${step} broke`],
        ...(data === undefined ? {} : { data }),
    });
    const cases: CaseResult[] = [
        {
            secret: "db-credentials",
            mode: "vault-written",
            writer: "region1",
            bound: { ms: 100_000, formula: "2E + P + 2·1·maxDelay" },
            samplesMs: [40_000, 61_000],
            arrivalsMs: {},
            medianMs: 50_500,
            maxMs: 61_000,
            overBound: 0,
        },
    ];

    it("keeps the steps in the lane's order, each once, and renders them with the propagation table next to the bound", () => {
        const report = mergeReport(
            [record("propagation", true, { cases, writes: 2, pollMs: 1000 }), record("clusters", false), record("clusters", true)],
            { KIND_VERSION: "v0.32.0" },
            "abc123",
        );
        expect(report.steps.map((s) => [s.step, s.ok])).toEqual([
            ["clusters", true],
            ["propagation", true],
        ]);
        const markdown = renderSummary(report);
        expect(markdown).toContain(
            "| db-credentials | vault-written | region1 | 2 | 50.5 s | 61.0 s | 100.0 s (2E + P + 2·1·maxDelay) | 0 |",
        );
        expect(markdown).toContain("2 timed writes per row");
        expect(markdown).toContain("Not run: tools, platform, dns,");
        expect(markdown).toContain("not measurements");
        expect(markdown).toContain("- KIND_VERSION: `v0.32.0`");
        expect(markdown).not.toContain("### Problems");
        expect(renderSummary(mergeReport([record("checks", false)], {}))).toContain("- checks: checks broke");
    });
});

describe("the restore step", () => {
    it("restores the last region, and only while another region stays up as its peer", () => {
        expect(restoredRegion(["region1", "region2"])).toBe("region2");
        expect(restoredRegion(["a", "b", "c"])).toBe("c");
        expect(() => restoredRegion(["region1"])).toThrow("needs a peer region");
        expect(SNAPSHOT_JOB).toBe(`${SNAPSHOT_CRONJOB_NAME}-e2e`);
    });

    it("runs every phase from the start, and a rerun keeps the copy and a cluster already made again", () => {
        expect(restorePlan({ recreated: false })).toEqual(["snapshot", "copy", "recreate", "restore", "checks", "propagation"]);
        expect(restorePlan({ recreated: false })).toEqual([...RESTORE_PHASES]);
        expect(restorePlan({ snapshot: "vault-20261206T120000Z.snap", recreated: false })).toEqual([
            "recreate",
            "restore",
            "checks",
            "propagation",
        ]);
        expect(restorePlan({ snapshot: "vault-20261206T120000Z.snap", recreated: true })).toEqual(["restore", "checks", "propagation"]);
    });

    it("takes the newest complete snapshot from ls, never a partial one or another file", () => {
        const listing = [
            "vault-20261206T110000Z.snap",
            ".partial-20261206T130000Z.snap",
            "vault-20261206T120000Z.snap",
            "vault-20261206T120000Z.snap.sha256",
            "vault-20261205T230000Z.snap",
            "lost+found",
            "",
        ].join("\n");
        expect(newestSnapshot(listing)).toBe("vault-20261206T120000Z.snap");
        expect(newestSnapshot("vault-20261206T120000Z.snap\r\nvault-20261206T140000Z.snap\r\n")).toBe("vault-20261206T140000Z.snap");
        expect(newestSnapshot(".partial-20261206T130000Z.snap\nlost+found\n")).toBeUndefined();
        expect(newestSnapshot("")).toBeUndefined();
    });

    it("runs npm run restore non-interactively with a file URI the restore accepts", () => {
        const args = restoreArgs("region2", "/work/lane/restore/region2/vault-20261206T120000Z.snap");
        expect(args).toEqual([
            "run",
            "--silent",
            "restore",
            "--",
            "--stack",
            "region2",
            "--snapshot",
            "file:///work/lane/restore/region2/vault-20261206T120000Z.snap",
            "--non-interactive",
        ]);
        const snapshot = args[args.indexOf("--snapshot") + 1];
        expect(
            restoreProblems({ region: "region2", snapshot, peers: ["region1"], podTimeoutMs: 1, pollMs: 1 }, ["region1", "region2"]),
        ).toEqual([]);
        expect(() => restoreArgs("region2", "restore/region2/vault-20261206T120000Z.snap")).toThrow("absolute path");
    });

    it("hands the restore the original unseal keys and every region's admin token where the restore reads them", async () => {
        const tokens = new Map([
            ["region1", new Sensitive("root-1")],
            ["region2", new Sensitive("root-2")],
        ]);
        const env = restoreEnv({ PATH: "/bin" }, "region2", [new Sensitive("key-a"), new Sensitive("key-b")], tokens);
        expect(env.PATH).toBe("/bin");
        const operator = new EnvironmentOperator(env);
        expect((await operator.unsealKeys("region2", 2)).map((k) => k.reveal())).toEqual(["key-a", "key-b"]);
        expect((await operator.adminToken("region2")).reveal()).toBe("root-2");
        expect((await operator.adminToken("region1")).reveal()).toBe("root-1");
        expect(() => restoreEnv({}, "region2", [], tokens)).toThrow("no unseal keys");
        expect(() => restoreEnv({}, "region2", [new Sensitive("k")], new Map([["region1", new Sensitive("t")]]))).toThrow("no admin token");
    });

    it("reads the claim with a pod the restricted Pod Security level admits, the claim mounted read-only", () => {
        const pod = readerPod("vault", "vault-snapshots") as {
            metadata: { name: string; namespace: string };
            spec: {
                securityContext: Record<string, unknown>;
                containers: { securityContext: Record<string, unknown>; volumeMounts: { mountPath: string; readOnly: boolean }[] }[];
                volumes: { persistentVolumeClaim: { claimName: string; readOnly: boolean } }[];
            };
        };
        expect(pod.metadata).toEqual({ name: READER_POD, namespace: "vault" });
        expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
        expect(pod.spec.containers[0].securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
        expect(pod.spec.containers[0].volumeMounts).toEqual([{ name: "snapshots", mountPath: SNAPSHOT_DIR, readOnly: true }]);
        expect(pod.spec.volumes[0].persistentVolumeClaim).toEqual({ claimName: "vault-snapshots", readOnly: true });
    });

    it("reports the restore with its measured recovery time, and the checks and propagation after it", () => {
        const after: CaseResult[] = [
            { secret: "a", mode: "vault-written", writer: "region1", samplesMs: [1000, 4000], arrivalsMs: {}, maxMs: 4000, overBound: 1 },
            {
                secret: "b",
                mode: "cluster-written",
                writer: "region2",
                samplesMs: [],
                arrivalsMs: {},
                overBound: 0,
                failure: "never arrived",
            },
        ];
        const brief = propagationBrief(after);
        expect(brief).toEqual({ cases: 2, overBound: 1, lost: 1, maxMs: 4000 });
        expect(propagationBrief([])).toEqual({ cases: 0, overBound: 0, lost: 0 });
        const data = {
            region: "region2",
            restored: true,
            snapshot: "vault-20261206T120000Z.snap",
            snapshotBytes: 20480,
            phases: { snapshot: 8.2, copy: 5, recreate: 240.5, restore: 180.25 },
            recoverySeconds: 420.75,
            checks: [],
            propagation: brief,
        };
        const record = (ok: boolean, extra: Record<string, unknown> = {}): StepRecord => ({
            step: "restore",
            ok,
            startedAt: "2026-12-06T00:00:00.000Z",
            seconds: 500,
            problems: ok ? [] : ["after the restore: x"],
            data: { ...data, ...extra },
        });
        const markdown = renderSummary(mergeReport([record(true)], {}));
        expect(markdown).toContain("### Disaster recovery");
        expect(markdown).toContain("Region region2: restored from vault-20261206T120000Z.snap (20480 bytes)");
        expect(markdown).toContain("until the restore finished: **420.8 s**");
        expect(markdown).toContain("Phases: snapshot 8.2 s, copy 5.0 s, recreate 240.5 s, restore 180.3 s.");
        expect(markdown).toContain("Checks after the restore: passed.");
        expect(markdown).toContain("slowest write 4.0 s, 1 writes over the bound, 1 cases lost.");
        const failed = renderSummary(mergeReport([record(false, { restored: false, recoverySeconds: undefined, checks: ["a", "b"] })], {}));
        expect(failed).toContain("Region region2: **not restored**");
        expect(failed).toContain("until the restore finished: not measured");
        expect(failed).toContain("Checks after the restore: **2 problems**");
        // A failed step whose restore finished (its checks after it failed) still says the region was restored.
        expect(renderSummary(mergeReport([record(false, { checks: ["a"] })], {}))).toContain("Region region2: restored from");
        expect(renderSummary(mergeReport([record(true, { region: undefined })], {}))).not.toContain("Disaster recovery");
    });
});

describe("the command line", () => {
    const parseArgs = (argv: string[], env: Record<string, string> = {}) => {
        const out: string[] = [];
        const err: string[] = [];
        const result = parseLaneArgs(argv, { repoDir: "/repo", env }, { out: (t) => out.push(t), err: (t) => err.push(t) });
        return { result, out: out.join("\n"), err: err.join("\n") };
    };

    it("runs every step by default, and every step has a runner (the summary is the command's own)", () => {
        expect(parseArgs([]).result).toEqual({
            steps: STEPS.map((s) => s.name),
            full: true,
            workDir: "/repo/.e2e",
            writes: DEFAULT_WRITES,
            keep: false,
        });
        expect(Object.keys(RUNNERS)).toEqual(STEPS.map((s) => s.name).filter((name) => name !== "summary"));
        expect(STEPS.filter((s) => s.always).map((s) => s.name)).toEqual(["teardown", "summary"]);
    });

    it("runs the steps named, in their order; --keep skips the tear-down of a full run", () => {
        expect(parseArgs(["checks", "bootstrap", "--writes", "3", "--work-dir", "/w"]).result).toMatchObject({
            steps: ["checks", "bootstrap"],
            full: false,
            writes: 3,
            workDir: "/w",
        });
        expect(parseArgs(["--keep"]).result).toMatchObject({ steps: STEPS.map((s) => s.name).filter((n) => n !== "teardown"), keep: true });
        expect(parseArgs([], { E2E_WORK_DIR: "/tmp/lane", E2E_WRITES: "7" }).result).toMatchObject({ workDir: "/tmp/lane", writes: 7 });
        expect(parseArgs([], { E2E_WRITES: "" }).result).toMatchObject({ writes: DEFAULT_WRITES });
    });

    it("answers a bad argument with the usage and exit code 2, and --help with the steps", () => {
        expect(parseArgs(["bootstarp"])).toMatchObject({
            result: 2,
            err: expect.stringContaining("unknown step bootstarp (did you mean bootstrap?)") as unknown,
        });
        expect(parseArgs(["--wrties", "3"])).toMatchObject({
            result: 2,
            err: expect.stringContaining("did you mean --writes?") as unknown,
        });
        expect(parseArgs(["--writes", "0"])).toMatchObject({
            result: 2,
            err: expect.stringContaining("--writes 0 must be a whole number") as unknown,
        });
        expect(parseArgs([], { E2E_WRITES: "x" })).toMatchObject({
            result: 2,
            err: expect.stringContaining("E2E_WRITES x must be") as unknown,
        });
        const help = parseArgs(["--help"]);
        expect(help.result).toBe(0);
        for (const step of STEPS) {
            expect(help.out).toContain(`  ${step.name} `);
        }
    });
});

describe("the lane's environment and bootstrap", () => {
    const work = workDir("/work/lane");

    it("puts the pinned tools first, and keeps the kubeconfig and Pulumi backend in the work directory", () => {
        expect(laneEnv(work, { PATH: "/usr/bin", HOME: "/home/me" })).toEqual({
            PATH: `/work/lane/bin${path.delimiter}/usr/bin`,
            HOME: "/home/me",
            KUBECONFIG: "/work/lane/kubeconfig",
            PULUMI_BACKEND_URL: "file:///work/lane/backend",
            PULUMI_CONFIG_PASSPHRASE_FILE: "/work/lane/passphrase",
            PULUMI_SKIP_UPDATE_CHECK: "true",
        });
    });

    it("runs the bootstrap non-interactively, verified, with one PGP key per share and one for the root token", () => {
        const args = bootstrapArgs({ work });
        expect(args.slice(0, 3)).toEqual(["--non-interactive", "--verify", "--keep-root-token"]);
        expect(args[args.indexOf("--pgp-keys") + 1].split(",")).toHaveLength(KEY_SHARES);
        expect(args[args.indexOf("--key-threshold") + 1]).toBe(String(KEY_THRESHOLD));
        expect(args[args.indexOf("--root-token-pgp-key") + 1]).toBe("/work/lane/pgp/root-token.b64");
    });

    it("finds the stacks a local backend still holds", () => {
        const backend = tmp("e2e-backend-");
        expect(backendStackFiles(backend)).toEqual([]);
        fs.mkdirSync(path.join(backend, ".pulumi", "stacks", "openova-vault"), { recursive: true });
        fs.mkdirSync(path.join(backend, ".pulumi", "history"), { recursive: true });
        expect(backendStackFiles(backend)).toEqual([]);
        fs.writeFileSync(path.join(backend, ".pulumi", "stacks", "openova-vault", "region1.json"), "{}");
        expect(backendStackFiles(backend)).toEqual([path.join(".pulumi", "stacks", "openova-vault", "region1.json")]);
    });

    it("masks a secret in a GitHub Actions log, and prints nothing elsewhere", () => {
        const written: string[] = [];
        mask("s3cret", { GITHUB_ACTIONS: "true" }, (t) => written.push(t));
        mask("s3cret", {}, (t) => written.push(t));
        expect(written).toEqual(["::add-mask::s3cret\n"]);
    });
});

describe("the operators' PGP keys (GnuPG in batch mode)", () => {
    it("makes a key once, exports its public half as the bootstrap reads it, and decrypts what was encrypted to it", async () => {
        const home = tmp("e2e-gnupg-");
        fs.chmodSync(home, 0o700);
        try {
            await ensureKey(home, "lane test", "lane@e2e.invalid");
            await ensureKey(home, "lane test", "lane@e2e.invalid");
            const listed = execFileSync("gpg", ["--batch", "--homedir", home, "--with-colons", "--list-keys"]).toString();
            expect(listed.match(/^pub:/gm)).toHaveLength(1);
            expect(listed).toMatch(/^sub:[^:]*:3072:1:/m);
            const exported = await publicKeyBase64(home, "lane@e2e.invalid");
            // The bootstrap's check of a --pgp-keys file (bootstrap/cli.ts, readPgpKey).
            expect(exported).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
            expect(exported).not.toContain("PRIVATE");
            const encrypted = execFileSync(
                "gpg",
                ["--batch", "--homedir", home, "--trust-model", "always", "--encrypt", "-r", "lane@e2e.invalid"],
                {
                    input: "unseal-key-1",
                },
            );
            expect(await decryptBase64(home, encrypted.toString("base64"))).toBe("unseal-key-1");
        } finally {
            spawnSync("gpgconf", ["--homedir", home, "--kill", "gpg-agent"]);
        }
        expect(keyParameters("n", "e@x")).toContain("%no-protection\n");
    });
});

describe("docs/e2e.md", () => {
    const doc = fs.readFileSync(path.join(ROOT, "docs", "e2e.md"), "utf8");

    it("describes every step, in the lane's order, and says the lane has not run and its figures are not the model's", () => {
        const rows = [...doc.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1]);
        expect(rows).toEqual(STEPS.map((s) => s.name));
        expect(doc).toContain("**It has not run yet.**");
        expect(doc).toContain("**Its figures come from the lane, not from the model.**");
    });

    it("states the lane's key shares and ports as the code has them", () => {
        const words = ["zero", "one", "two", "three", "four", "five"];
        expect(doc).toContain(`one per unseal key share (${words[KEY_SHARES]}, ${words[KEY_THRESHOLD]} needed)`);
        expect(doc).toContain(`${words[KEY_SHARES + 1].replace(/^./, (c) => c.toUpperCase())} RSA keys`);
        expect(doc).toContain(`\`${providerVaultAddress(["a", "b"], "a")}\` (region 1) or \`${vaultPort(["a", "b"], "b")}\` (region 2)`);
    });

    it("states the bounds the model computes for the default intervals", () => {
        const [any, vault, cluster] = (
            [
                ["vault-written", "any"],
                ["vault-written", "home"],
                ["cluster-written", "home"],
            ] as const
        ).map(([mode, writers]) =>
            boundOf({ name: "s", namespace: "ns", mode, writers, home: "a", pullInterval: "30s", pushInterval: "30s" }),
        );
        expect(doc.replace(/\s+/g, " ")).toContain(
            `${(any?.ms ?? 0) / 1000} s for \`writers: any\`, ${(vault?.ms ?? 0) / 1000} s for \`vault-written\` and ${(cluster?.ms ?? 0) / 1000} s for \`cluster-written\` with \`writers: home\``,
        );
    });
});
