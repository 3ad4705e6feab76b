/**
 * What the stack deploys for a region's replicator, as the pure builders make it: its policies (read
 * back with Vault's own parser), its configuration file, and its code, which the test runs exactly as
 * the pod would, from the ConfigMap's files.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPLICATOR_IMAGE } from "../components/common/versions";
import {
    type ReplicatorSpec,
    peerReplicatePolicyDocument,
    replicatorCode,
    replicatorConfig,
    replicatorConfigData,
    replicatorDeployment,
    replicatorOptions,
    replicatorPolicyDocument,
} from "../components/replication/replicatorSpecs";
import { doorbellKey, inboxKey } from "../replicator/records";
import { FakeVault } from "../tools/fakes/fakeVault";
import { parseVaultPolicy } from "./support/vaultHcl";

const ROOT = path.resolve(__dirname, "..");
const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

const spec = (overrides: Partial<ReplicatorSpec> = {}): ReplicatorSpec => ({
    region: "region1",
    namespace: "external-secrets",
    kvMount: "secret",
    vaultAddress: "https://vault-active.vault.svc:8200",
    vaultCaCert: CA,
    authPath: "kubernetes",
    peers: [
        {
            region: "region2",
            address: "https://vault.region2.example.com",
            caCert: CA,
            jwtMount: "jwt-region1",
            audience: "https://vault.region2.example.com",
        },
    ],
    secrets: [{ key: "databases/db-credentials", externalSecrets: [{ namespace: "databases", name: "db-credentials" }] }],
    options: replicatorOptions.parse({}),
    ...overrides,
});

describe("the replicator's policies", () => {
    it("let it read and write exactly its secrets, read their metadata, soft-delete their versions, keep its state and read its inboxes", () => {
        expect(parseVaultPolicy(replicatorPolicyDocument("secret", ["apps/db"], ["region2"]))).toEqual({
            "secret/data/apps/db": { capabilities: ["create", "read", "update"] },
            "secret/metadata/apps/db": { capabilities: ["read"] },
            "secret/delete/apps/db": { capabilities: ["update"] },
            "secret/data/_replication/state/apps/db": { capabilities: ["create", "read", "update"] },
            "secret/data/_replication/inbox/region2/apps/db": { capabilities: ["read"] },
            "secret/data/_replication/doorbell/region2": { capabilities: ["read"] },
        });
    });

    it("let a peer's replicator write its own inbox entries for exactly these secrets, and its doorbell, nothing else", () => {
        const policy = parseVaultPolicy(peerReplicatePolicyDocument("secret", ["apps/db", "apps/api"], "region2"));
        expect(Object.keys(policy)).toEqual([
            "secret/data/_replication/inbox/region2/apps/api",
            "secret/data/_replication/inbox/region2/apps/db",
            "secret/data/_replication/doorbell/region2",
        ]);
        // The paths the replicator writes are the ones granted (one definition of the layout).
        expect(`secret/data/${inboxKey("region2", "apps/db")}` in policy).toBe(true);
        expect(`secret/data/${doorbellKey("region2")}` in policy).toBe(true);
    });
});

describe("the replicator's configuration and pod", () => {
    it("names its Vault, its peers with their JWT mounts, its secrets with their ExternalSecrets, and its timing", () => {
        expect(replicatorConfig(spec())).toEqual({
            region: "region1",
            mount: "secret",
            vault: {
                address: "https://vault-active.vault.svc:8200",
                caFile: "/etc/openova-replicator/ca-local.pem",
                login: { kind: "jwt-file", mount: "kubernetes", role: "replicator", path: "/var/run/secrets/openova-replicator/vault" },
            },
            peers: [
                {
                    region: "region2",
                    address: "https://vault.region2.example.com",
                    caFile: "/etc/openova-replicator/ca-region2.pem",
                    login: {
                        kind: "jwt-file",
                        mount: "jwt-region1",
                        role: "replicator",
                        path: "/var/run/secrets/openova-replicator/peer-region2",
                    },
                },
            ],
            secrets: [{ key: "databases/db-credentials", externalSecrets: [{ namespace: "databases", name: "db-credentials" }] }],
            timing: { scanIntervalMs: 300_000, doorbellIntervalMs: 1_000, retryIntervalMs: 5_000, maxAheadMs: 5_000 },
            auditPort: 9090,
            metricsPort: 9102,
        });
        expect(Object.keys(replicatorConfigData(spec())).sort()).toEqual(["ca-local.pem", "ca-region2.pem", "config.json"]);
        expect(Object.keys(replicatorConfigData(spec({ vaultCaCert: "", peers: [] })))).toEqual(["config.json"]);
    });

    it("runs the official Node.js image (the project's Node.js version), non-root and read-only, with a token per Vault's audience", () => {
        const deployment = replicatorDeployment(spec(), "abc");
        const pod = deployment.spec.template.spec;
        const [container] = pod.containers;
        expect(container.image).toBe(`node:${REPLICATOR_IMAGE.tag}`);
        const ciNode = /^NODE_VERSION=(\S+)/m.exec(fs.readFileSync(path.join(ROOT, ".ci", "run"), "utf8"))?.[1];
        expect(REPLICATOR_IMAGE.tag.startsWith(`${ciNode}-`)).toBe(true);
        expect(container.command).toEqual(["node", "/opt/openova-replicator/main.ts"]);
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
        expect(container.securityContext).toEqual({
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ["ALL"] },
        });
        expect(pod.volumes[2].projected?.sources.map((s) => [s.serviceAccountToken.audience, s.serviceAccountToken.path])).toEqual([
            ["vault", "vault"],
            ["https://vault.region2.example.com", "peer-region2"],
        ]);
        expect(deployment.spec.template.metadata.annotations).toEqual({ "openova.io/config-sha256": "abc" });
    });

    it("ships every file of replicator/ and nothing else, with a package.json that makes them ES modules", () => {
        const code = replicatorCode();
        const files = fs.readdirSync(path.join(ROOT, "replicator")).filter((f) => f.endsWith(".ts"));
        expect(Object.keys(code).sort()).toEqual(["package.json", ...files].sort());
        expect(JSON.parse(code["package.json"])).toMatchObject({ type: "module" });
        // The ConfigMap's 1 MiB limit, with room to spare.
        expect(Buffer.byteLength(JSON.stringify(code))).toBeLessThan(256 * 1024);
    });
});

describe("the replicator as the pod runs it", () => {
    jest.setTimeout(30_000);
    let child: ChildProcess | undefined;
    let dir: string | undefined;
    afterEach(() => {
        child?.kill("SIGKILL");
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("starts from the ConfigMaps' files alone (code, configuration, CAs) and logs in with the projected token", async () => {
        const local = new FakeVault({
            logins: {
                "kubernetes/replicator": {
                    jwt: "projected-token",
                    identity: { displayName: "kubernetes-external-secrets-openova-replicator" },
                },
            },
        });
        await local.start();
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "replicator-pod-"));
        const base = dir;
        // Lay the ConfigMaps and the projected volume out as the pod's mounts are, under a temporary root.
        const at = (mount: string) => path.join(base, mount);
        fs.mkdirSync(at("/opt/openova-replicator"), { recursive: true });
        for (const [file, text] of Object.entries(replicatorCode())) {
            fs.writeFileSync(path.join(at("/opt/openova-replicator"), file), text);
        }
        const data = replicatorConfigData(
            spec({ vaultAddress: local.address, vaultCaCert: "", peers: [], secrets: [{ key: "apps/db", externalSecrets: [] }] }),
        );
        const config = JSON.parse(data["config.json"]) as { vault: { login: { path: string } }; auditPort: number; metricsPort: number };
        config.vault.login.path = at(config.vault.login.path);
        config.auditPort = 0;
        config.metricsPort = 0;
        fs.mkdirSync(at("/etc/openova-replicator"), { recursive: true });
        fs.writeFileSync(at("/etc/openova-replicator/config.json"), JSON.stringify(config));
        fs.mkdirSync(path.dirname(config.vault.login.path), { recursive: true });
        fs.writeFileSync(config.vault.login.path, "projected-token");
        let output = "";
        child = spawn(process.execPath, [at("/opt/openova-replicator/main.ts")], {
            env: { ...process.env, REPLICATOR_CONFIG: at("/etc/openova-replicator/config.json") },
            stdio: ["ignore", "pipe", "pipe"],
        });
        child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
        child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
        const started = Date.now();
        while (!output.includes("replicating") && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 20));
        expect(output).toContain("replicating 1 secret(s) of region1 with no peer, as kubernetes-external-secrets-openova-replicator");
        expect(output).not.toMatch(/ExperimentalWarning|SyntaxError/);
        child.kill("SIGTERM");
        await local.stop();
    });
});
