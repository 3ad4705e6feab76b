/**
 * The offline synth end to end: the real program for both region stacks, determinism, bad config and
 * bad project files, stack references between synthesized stacks (secret outputs, `requireOutput`),
 * secret redaction, odd stack exports, engine URNs, and workers that hang or cannot report.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { validateEsoObjects } from "./support/esoSchema";
import { main } from "../tools/synth/cli";
import { engineUrn } from "../tools/synth/recorder";
import { REDACTED } from "../tools/synth/render";
import { SynthError, synthesize } from "../tools/synth/runner";

const projectDir = path.resolve(__dirname, "..");
const fixture = path.join(__dirname, "fixtures", "peering");
const edgeCases = path.join(__dirname, "fixtures", "edge-cases");
/** A line of a JavaScript stack trace. */
const STACK_TRACE = /^\s+at .*:\d+/m;

interface Run {
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs the synth CLI in this process, capturing what it prints. */
async function synth(...args: string[]): Promise<Run> {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const log = jest.spyOn(console, "log").mockImplementation((...a: unknown[]) => void stdout.push(a.join(" ")));
    const error = jest.spyOn(console, "error").mockImplementation((...a: unknown[]) => void stderr.push(a.join(" ")));
    try {
        const code = await main(args);
        return { code, stdout: stdout.join("\n"), stderr: stderr.join("\n") };
    } finally {
        log.mockRestore();
        error.mockRestore();
    }
}

function tempDir(): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), "openova-synth-"));
}

function readJson<T>(file: string): T {
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}

interface Resource {
    type: string;
    name: string;
    urn: string;
    parent?: string;
    dependsOn?: string[];
    provider?: string;
    inputs: Record<string, unknown>;
}

function filesUnder(dir: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
        if (entry.isFile()) {
            const file = path.join(entry.parentPath, entry.name);
            out[path.relative(dir, file)] = fs.readFileSync(file, "utf8");
        }
    }
    return out;
}

/** A copy of the project's Pulumi.yaml pointing at the real program, with the given stack files. */
function projectWithStacks(stacks: Record<string, string>): string {
    const dir = tempDir();
    const projectFile = fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8");
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), `${projectFile}\nmain: ${path.join(projectDir, "index.ts")}\n`);
    for (const [stack, content] of Object.entries(stacks)) {
        fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), content);
    }
    return dir;
}

/** A temporary copy of the peering fixture's Pulumi.yaml, running its program, with the given stack files. */
function peeringWithStacks(stacks: Record<string, string>, dir = tempDir()): string {
    const projectFile = fs.readFileSync(path.join(fixture, "Pulumi.yaml"), "utf8").replace(/^main: .*$/m, `main: ${path.join(fixture, "index.ts")}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), projectFile);
    for (const [stack, content] of Object.entries(stacks)) {
        fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), content);
    }
    return dir;
}

/** The lines of a run's stderr that report errors. */
const errorLines = (run: Run) => run.stderr.split("\n").filter((line) => line.startsWith("error: "));

describe("synth of the region stacks", () => {
    const out = tempDir();
    let run: Run;

    beforeAll(async () => {
        run = await synth("--project", projectDir, "--out", out);
    });

    it("succeeds and summarizes each stack", () => {
        expect(run.code).toBe(0);
        expect(run.stdout).toContain("stack region1: 29 resources, 0 warning(s), 9 outputs");
        expect(run.stdout).toContain("stack region2: 26 resources, 0 warning(s), 9 outputs");
        expect(run.stdout).toMatch(/2 {2}kubernetes:helm\.sh\/v4:Chart/);
        expect(Object.keys(filesUnder(out)).sort()).toEqual(
            ["manifests.yaml", "outputs.json", "resources.json"].flatMap((f) => [`region1/${f}`, `region2/${f}`]).sort(),
        );
    });

    it("records the namespace, the Vault chart with its values and the ESO chart in resources.json", () => {
        const resources = readJson<Resource[]>(path.join(out, "region1", "resources.json"));
        for (const r of resources) {
            expect(Object.keys(r).slice(0, 3)).toEqual(["type", "name", "urn"]);
        }
        const namespace = resources.find((r) => r.type === "kubernetes:core/v1:Namespace" && r.name === "region1-vault-namespace");
        expect(namespace?.inputs.metadata).toMatchObject({ name: "vault" });
        const vault = resources.find((r) => r.type === "kubernetes:helm.sh/v4:Chart" && r.name === "region1-vault");
        expect(vault?.inputs).toMatchObject({
            chart: "vault",
            version: "0.34.1",
            namespace: "vault",
            values: {
                injector: { enabled: false },
                server: {
                    ha: { enabled: true, replicas: 3, raft: { enabled: true, setNodeId: true } },
                    ingress: { enabled: true, ingressClassName: "cilium", hosts: [{ host: "vault.region1.example.com", paths: [] }] },
                    dataStorage: { enabled: true, size: "10Gi" },
                    auditStorage: { enabled: true },
                },
            },
        });
        expect(vault?.parent).toContain("openova:vault:VaultServer");
        expect(vault?.dependsOn).toEqual([namespace?.urn]);
        const eso = resources.find((r) => r.type === "kubernetes:helm.sh/v4:Chart" && r.name === "region1-external-secrets");
        expect(eso?.inputs).toMatchObject({ chart: "external-secrets", version: "2.9.0", values: { installCRDs: true, leaderElect: true } });
    });

    it("writes outputs.json with what peers need, the peer access as a secret", () => {
        expect(readJson(path.join(out, "region2", "outputs.json"))).toEqual({
            connectedPeers: ["region1"],
            externalSecretsNamespace: "external-secrets",
            peerAccess: "[secret]",
            peers: ["region1"],
            regionName: "region2",
            vaultAddress: "https://vault.region2.example.com",
            vaultCaCert: "",
            vaultConfigured: true,
            vaultNamespace: "vault",
        });
    });

    it.each(["region1", "region2"])("configures %s's Vault through its own provider and wires it to its peer", (region) => {
        const peer = region === "region1" ? "region2" : "region1";
        const resources = readJson<Resource[]>(path.join(out, region, "resources.json"));
        const provider = resources.find((r) => r.type === "pulumi:providers:vault");
        expect(provider?.inputs).toMatchObject({ address: `https://vault.${region}.example.com` });
        expect(provider?.inputs).not.toHaveProperty("token");
        const vaultTypes = resources.filter((r) => r.type.startsWith("vault:")).map((r) => r.type);
        expect(vaultTypes.sort()).toEqual([
            "vault:index/authBackend:AuthBackend",
            "vault:index/mount:Mount",
            "vault:index/policy:Policy",
            "vault:index/policy:Policy",
            "vault:index/token:Token",
            "vault:kubernetes/authBackendConfig:AuthBackendConfig",
            "vault:kubernetes/authBackendRole:AuthBackendRole",
        ]);
        for (const r of resources.filter((x) => x.type.startsWith("vault:"))) {
            expect(r.provider?.startsWith(`${provider?.urn}::`)).toBe(true);
        }
        const token = resources.find((r) => r.type === "vault:index/token:Token");
        expect(token?.inputs).toMatchObject({ displayName: `peer-${peer}`, noParent: true, period: "720h", renewable: true, policies: ["external-secrets-push"] });
        const stores = resources.filter((r) => r.type === "kubernetes:external-secrets.io/v1:ClusterSecretStore").map((r) => (r.inputs.metadata as { name: string }).name);
        expect(stores.sort()).toEqual(["vault-local", `vault-${peer}`]);
        const tokenSecret = resources.find((r) => r.type === "kubernetes:core/v1:Secret");
        expect(tokenSecret?.inputs).toMatchObject({ metadata: { name: `vault-${peer}-token`, namespace: "external-secrets" }, stringData: "[secret]" });
        const reference = resources.find((r) => r.type === "pulumi:pulumi:StackReference");
        expect(reference?.inputs).toEqual({ name: `organization/openova-vault/${peer}` });
    });

    it("declares stores that ESO's own schemas accept, exactly as synthesized", () => {
        const stores = ["region1", "region2"].flatMap((region) =>
            parseAllDocuments(fs.readFileSync(path.join(out, region, "manifests.yaml"), "utf8"))
                .map((d) => d.toJS() as { kind: string })
                .filter((d) => d.kind === "ClusterSecretStore"),
        );
        expect(stores).toHaveLength(4);
        expect(validateEsoObjects(stores)).toEqual(["", "", "", ""]);
    });

    it("replicates db-credentials: materialized in every region, pushed by region1 to every peer Vault, first value generated once, in region1", () => {
        const objects = (region: string) =>
            parseAllDocuments(fs.readFileSync(path.join(out, region, "manifests.yaml"), "utf8"))
                .map((d) => d.toJS() as { kind: string; apiVersion: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec: Record<string, unknown> })
                .filter((d) => d.metadata.namespace === "databases");
        const [one, two] = [objects("region1"), objects("region2")];
        expect(validateEsoObjects([...one, ...two])).toEqual([...one, ...two].map(() => ""));
        expect(one.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
            "ExternalSecret/db-credentials",
            "Password/replicated-secret-password-32",
            "PushSecret/db-credentials-initial",
            "PushSecret/db-credentials-to-region2",
        ]);
        expect(two.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(["ExternalSecret/db-credentials"]);
        // The push reaches the peer's store: its selector matches that store in region1, and no other.
        const push = one.find((o) => o.kind === "PushSecret" && o.metadata.name === "db-credentials-to-region2");
        const selector = (push?.spec.secretStoreRefs as { labelSelector: { matchLabels: Record<string, string> } }[])[0].labelSelector.matchLabels;
        const stores = parseAllDocuments(fs.readFileSync(path.join(out, "region1", "manifests.yaml"), "utf8"))
            .map((d) => d.toJS() as { kind: string; metadata: { name: string; labels?: Record<string, string> } })
            .filter((d) => d.kind === "ClusterSecretStore");
        const selected = stores.filter((s) => Object.entries(selector).every(([k, v]) => s.metadata.labels?.[k] === v)).map((s) => s.metadata.name);
        expect(selected).toEqual(["vault-region2"]);
        const initial = one.find((o) => o.metadata.name === "db-credentials-initial" && o.kind === "PushSecret");
        expect(initial?.spec).toMatchObject({ updatePolicy: "IfNotExists", secretStoreRefs: [{ kind: "ClusterSecretStore", name: "vault-local" }] });
    });

    it("writes no token value anywhere: neither the peer tokens nor the admin token", () => {
        for (const [file, text] of Object.entries(filesUnder(out))) {
            expect({ file, leaks: /synth-token-|synth-placeholder|hvs\./.test(text) }).toEqual({ file, leaks: false });
        }
    });

    it("writes manifests.yaml as valid multi-document YAML of the declared Kubernetes objects", () => {
        const text = fs.readFileSync(path.join(out, "region1", "manifests.yaml"), "utf8");
        const documents = parseAllDocuments(text);
        expect(documents.flatMap((d) => d.errors)).toEqual([]);
        expect(documents.map((d) => d.toJS() as { kind: string; metadata: { name: string } }).map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual([
            "ClusterSecretStore/vault-local",
            "ClusterSecretStore/vault-region2",
            "ExternalSecret/db-credentials",
            "Namespace/external-secrets",
            "Namespace/vault",
            "Password/replicated-secret-password-32",
            "PushSecret/db-credentials-initial",
            "PushSecret/db-credentials-to-region2",
            "Secret/vault-region2-token",
        ]);
        expect(text).toContain("#   vault 0.34.1 from https://helm.releases.hashicorp.com as release vault in namespace vault");
    });

    it("is deterministic: a second run writes byte-identical files", async () => {
        const again = tempDir();
        expect((await synth("--project", projectDir, "--out", again)).code).toBe(0);
        expect(filesUnder(again)).toEqual(filesUnder(out));
    });

    it("synthesizes only the stacks named with --stack", async () => {
        const only = tempDir();
        expect((await synth("--project", projectDir, "--out", only, "--stack", "region2")).code).toBe(0);
        expect(fs.readdirSync(only)).toEqual(["region2"]);
    });
});

describe("synth of a platform on its way up", () => {
    // region1's Vault is configured; region2's is not initialized yet, so it has issued no token.
    const out = tempDir();
    let run: Run;

    beforeAll(async () => {
        const dir = projectWithStacks({
            region1: "config:\n  openova-vault:domain: example.com\n  openova-vault:vaultInitialized: true\n",
            region2: "config:\n  openova-vault:domain: example.com\n",
        });
        run = await synth("--project", dir, "--out", out);
    });

    it("deploys only the servers and ESO where the Vault is not initialized, and says what to do next", () => {
        expect(run.code).toBe(0);
        const resources = readJson<Resource[]>(path.join(out, "region2", "resources.json"));
        expect(resources.filter((r) => r.type.startsWith("vault:") || r.type === "pulumi:providers:vault")).toEqual([]);
        expect(resources.filter((r) => r.name.includes("store-local"))).toEqual([]);
        expect(run.stdout).toContain("The Vault of region2 is not configured by this run (openova-vault:vaultInitialized is false). Next: initialize and unseal it");
    });

    it("still lets the uninitialized region push to its configured peer", () => {
        const stores = readJson<Resource[]>(path.join(out, "region2", "resources.json")).filter((r) => r.type.endsWith(":ClusterSecretStore"));
        expect(stores.map((r) => r.name)).toEqual(["region2-store-region1"]);
    });

    it("synthesizes a region whose peer has issued no token with a warning, not a failure", () => {
        const resources = readJson<Resource[]>(path.join(out, "region1", "resources.json"));
        expect(resources.filter((r) => r.type.endsWith(":ClusterSecretStore")).map((r) => r.name)).toEqual(["region1-store-local"]);
        expect(readJson<{ connectedPeers: string[] }>(path.join(out, "region1", "outputs.json")).connectedPeers).toEqual([]);
        expect(run.stdout).toContain(
            "Peer region2 (stack organization/openova-vault/region2) cannot receive pushes from region1 yet: it has issued no token for region1 yet (its Vault is not configured",
        );
        expect(run.stdout).toContain("Run `pulumi up -s region1` again after region2's Vault is configured.");
    });
});

describe("synth of a region with the provider settings overridden", () => {
    it("passes the address and CA file to the Vault provider, exports the CA, and reads peers in the given organization", async () => {
        const dir = tempDir();
        const ca = path.join(dir, "vault-ca.pem");
        const pem = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n";
        fs.writeFileSync(ca, pem);
        const project = projectWithStacks({
            region1: [
                "config:",
                "  openova-vault:domain: example.com",
                "  openova-vault:vaultInitialized: true",
                "  openova-vault:vaultAddress: http://127.0.0.1:8200",
                `  openova-vault:vaultCaCertFile: ${ca}`,
                "  openova-vault:peerOrganization: acme",
                "",
            ].join("\n"),
            region2: "config:\n  openova-vault:domain: example.com\n  openova-vault:vaultInitialized: true\n",
        });
        const out = path.join(project, "out");
        expect((await synth("--project", project, "--out", out)).code).toBe(0);
        const resources = readJson<Resource[]>(path.join(out, "region1", "resources.json"));
        expect(resources.find((r) => r.type === "pulumi:providers:vault")?.inputs).toMatchObject({ address: "http://127.0.0.1:8200", caCertFile: ca });
        expect(resources.find((r) => r.type === "pulumi:pulumi:StackReference")?.inputs).toEqual({ name: "acme/openova-vault/region2" });
        expect(readJson<{ vaultCaCert: string; vaultAddress: string }>(path.join(out, "region1", "outputs.json"))).toMatchObject({
            vaultCaCert: pem,
            vaultAddress: "https://vault.region1.example.com",
        });
        // region2 trusts region1's CA in the store that pushes there.
        const peerStore = readJson<Resource[]>(path.join(out, "region2", "resources.json")).find((r) => r.name === "region2-store-region1");
        expect(peerStore?.inputs).toMatchObject({ spec: { provider: { vault: { server: "https://vault.region1.example.com", caBundle: Buffer.from(pem).toString("base64") } } } });
    });
});

describe("synth with bad input", () => {
    it("exits non-zero with one line per problem, naming stack, key and value, and writes nothing", async () => {
        const dir = projectWithStacks({
            region1: "config:\n  openova-vault:domain: https://example.com\n",
            region2: "config:\n  openova-vault:domain: example.com\n  openova-vault:vault:\n    replicas: 2\n",
        });
        const out = path.join(dir, "out");
        const run = await synth("--project", dir, "--out", out);
        expect(run.code).toBe(1);
        const errors = run.stderr.split("\n").filter((line) => line.startsWith("error: "));
        expect(errors).toEqual([
            'error: Invalid config for stack "region1": openova-vault:domain is "https://example.com", but it must be a lowercase DNS name such as example.com, without scheme, port or path. Fix: pulumi config set domain example.com -s region1',
            'error: Invalid config for stack "region2": openova-vault:vault.replicas is 2, but it must be an odd whole number from 1 to 7 (Raft needs a majority of voters; use 3 or 5 in production). Fix: pulumi config set --path vault.replicas 3 -s region2',
        ]);
        expect(run.stderr).not.toMatch(/\bat .*\.ts:\d+/);
        expect(fs.existsSync(out)).toBe(false);
    });

    it("leaves an earlier run's files alone when the config turns bad", async () => {
        const dir = projectWithStacks({ region1: "config:\n  openova-vault:domain: example.com\n  openova-vault:regions: [region1]\n" });
        const out = path.join(dir, "out");
        expect((await synth("--project", dir, "--out", out)).code).toBe(0);
        const before = filesUnder(out);
        fs.writeFileSync(path.join(dir, "Pulumi.region1.yaml"), "config:\n  openova-vault:domain: example.com\n  openova-vault:regions: [region1]\n  openova-vault:vault:\n    storageSize: ten\n");
        expect((await synth("--project", dir, "--out", out)).code).toBe(1);
        expect(filesUnder(out)).toEqual(before);
    });

    it("names the stacks that exist when asked for one that does not", async () => {
        const run = await synth("--project", projectDir, "--out", tempDir(), "--stack", "region9");
        expect(run.code).toBe(1);
        expect(run.stderr).toContain('error: no stack "region9": there is no Pulumi.region9.yaml in');
        expect(run.stderr).toContain("(stacks: region1, region2)");
    });

    it("rejects unknown flags with usage", async () => {
        const run = await synth("--stacks", "region1");
        expect(run.code).toBe(2);
        expect(run.stderr).toContain("usage: npm run synth");
    });
});

describe("synth across stacks", () => {
    const out = tempDir();
    let run: Run;

    beforeAll(async () => {
        run = await synth("--project", fixture, "--out", out, "--stack", "a");
    });

    it("resolves stack references to the other stacks' synthesized outputs, synthesizing referenced stacks too", () => {
        expect(run.code).toBe(0);
        expect(readJson(path.join(out, "a", "outputs.json"))).toMatchObject({ greeting: "hello from a", heard: { b: "hello from b" } });
        // b was synthesized because a reads it, but only a was asked for.
        expect(fs.readdirSync(out)).toEqual(["a"]);
    });

    it("runs a referenced stack it was not asked for, then the reader again with its outputs", () => {
        expect(run.stderr.split("\n").filter((line) => line.startsWith("synth: pass"))).toEqual([
            "synth: pass 1: running a",
            "synth: pass 2: running b",
            "synth: pass 3: running a",
            "synth: pass 4: running b",
        ]);
        expect(run.stdout).toContain("reads outputs of: b (program ran 2 time(s))");
    });

    describe("for stacks that read each other", () => {
        const bothOut = tempDir();
        let both: Run;

        beforeAll(async () => {
            both = await synth("--project", fixture, "--out", bothOut, "--stack", "a", "--stack", "b");
        });

        it("runs them until the outputs they read stop changing", () => {
            expect(both.code).toBe(0);
            // Pass 1: neither has outputs yet. Pass 2: each hears the other. Pass 3: nothing they read changed.
            expect(both.stderr).toContain("synth: pass 3: running a, b");
            expect(both.stderr).toContain("(3 pass(es))");
            expect(both.stdout).toContain("reads outputs of: a (program ran 3 time(s))");
        });

        it("stops a run of pass 1 once its outputs are known, when what it read has changed in that pass", () => {
            expect(both.stderr).toMatch(/synth: pass 1: stopped (a|b) once its outputs were known: outputs of (a|b) it read have changed, so it runs again/);
        });

        it("runs a stack again only when an output it read has changed, not for the others", async () => {
            // Each reads only `greeting` and `token` of the other, which are the same in pass 2 as in pass 1;
            // its `heard` and `peerTokens` outputs change in pass 2, but nobody reads them.
            const named = (peer: string) => `config:\n  peering:peers: [${peer}]\n  peering:namedOutputsOnly: true\n`;
            const run = await synth("--project", peeringWithStacks({ x: named("y"), y: named("x") }), "--out", tempDir());
            expect(run.code).toBe(0);
            expect(run.stderr).toContain("(2 pass(es))");
            expect(run.stdout).toContain("reads outputs of: y (program ran 2 time(s))");
        });

        it("presents a peer's secret outputs as secrets, read through getOutput or through outputs", () => {
            const outputs = readJson<Record<string, unknown>>(path.join(bothOut, "b", "outputs.json"));
            expect(outputs.peerTokens).toBe(REDACTED);
            expect(outputs.peerTokensFromOutputs).toBe(REDACTED);
            // Outputs the peer did not mark secret stay readable.
            expect(outputs.heard).toEqual({ a: "hello from a" });
            const copies = readJson<Resource[]>(path.join(bothOut, "b", "resources.json")).find((r) => r.name === "peer-token-copies");
            expect(copies?.inputs.data).toBe(REDACTED);
            expect(Object.values(filesUnder(bothOut)).join("\n")).not.toContain("token-of-");
        });
    });

    it("replaces every secret with [secret]: outputs, config secrets, resource inputs and Secret data", () => {
        const outputs = readJson<Record<string, unknown>>(path.join(out, "a", "outputs.json"));
        expect(outputs.token).toBe(REDACTED);
        expect(outputs.password).toBe(REDACTED);
        const resources = readJson<Resource[]>(path.join(out, "a", "resources.json"));
        const secret = resources.find((r) => r.name === "peer-tokens");
        // A value built from a secret is secret as a whole.
        expect(secret?.inputs.stringData).toBe(REDACTED);
        const configMap = resources.find((r) => r.name === "greetings");
        // Pulumi marks the whole top-level input secret when any part of it is; plain inputs stay readable.
        expect(configMap?.inputs.metadata).toBe(REDACTED);
        expect(configMap?.inputs.data).toEqual({ mine: "hello from a" });
        const everything = Object.values(filesUnder(out)).join("\n");
        expect(everything).not.toContain("token-of-");
        expect(everything).not.toContain("c2VjcmV0");
    });

    it("fails like Pulumi when a stack references a stack that does not exist", async () => {
        const failed = await synth("--project", fixture, "--out", tempDir(), "--stack", "lonely");
        expect(failed.code).toBe(1);
        expect(failed.stderr).toContain('unknown stack "organization/peering/nobody"');
    });
});

describe("synth with requireOutput of another stack", () => {
    it("retries a stack that failed because a stack it requires had no outputs yet, once that stack has them", async () => {
        const out = tempDir();
        const run = await synth("--project", fixture, "--out", out, "--stack", "needy");
        expect(run.code).toBe(0);
        expect(run.stderr.split("\n").filter((line) => line.startsWith("synth: pass"))).toEqual([
            "synth: pass 1: running needy",
            "synth: pass 1: stack needy failed (it runs again if outputs of base change): Error: Required output 'greeting' does not exist on stack 'organization/peering/base'.",
            "synth: pass 2: running base",
            "synth: pass 3: running needy",
        ]);
        expect(readJson(path.join(out, "needy", "outputs.json"))).toMatchObject({ required: { base: "hello from base" } });
        expect(fs.readdirSync(out)).toEqual(["needy"]);
    });

    it("reports the failure when the stack still fails after the stacks it reads have settled, and writes nothing", async () => {
        const out = tempDir();
        const run = await synth("--project", fixture, "--out", out, "--stack", "greedy");
        expect(run.code).toBe(1);
        expect(run.stderr).toContain("synth: pass 3: running greedy");
        expect(errorLines(run)).toEqual([
            "error: stack greedy: the program failed: Error: Required output 'nonexistent' does not exist on stack 'organization/peering/base'.",
        ]);
        expect(fs.readdirSync(out)).toEqual([]);
    });

    it("shows where a program failed only when asked (SYNTH_STACK_TRACES=1), mapped into the TypeScript sources", async () => {
        const quiet = await synth("--project", fixture, "--out", tempDir(), "--stack", "greedy");
        expect(quiet.stderr).not.toMatch(/^\s+at /m);
        process.env.SYNTH_STACK_TRACES = "1";
        try {
            const traced = await synth("--project", fixture, "--out", tempDir(), "--stack", "greedy");
            expect(traced.code).toBe(1);
            expect(traced.stderr).toMatch(/^\s+at .*stackReference\.ts:\d+/m);
        } finally {
            delete process.env.SYNTH_STACK_TRACES;
        }
    });
});

describe("synth of programs at the edges", () => {
    const out = tempDir();
    let run: Run;
    const edge = (file: string) => path.join(out, "edge", file);

    beforeAll(async () => {
        run = await synth("--project", edgeCases, "--out", out, "--stack", "edge");
    });

    it("records the engine's URNs: the parent's whole type chain, then the resource's type", () => {
        expect(run.code).toBe(0);
        const resources = readJson<Resource[]>(edge("resources.json"));
        const middle = resources.find((r) => r.name === "middle");
        const leaf = resources.find((r) => r.name === "leaf");
        expect(middle?.urn).toBe("urn:pulumi:edge::edge-cases::edge:index:Outer$edge:index:Middle::middle");
        expect(leaf?.urn).toBe("urn:pulumi:edge::edge-cases::edge:index:Outer$edge:index:Middle$kubernetes:core/v1:ConfigMap::leaf");
        expect(leaf?.parent).toBe(middle?.urn);
    });

    it("builds URNs as the engine does, without the root stack's type", () => {
        expect(engineUrn("dev", "proj", undefined, "a:b:C", "c")).toBe("urn:pulumi:dev::proj::a:b:C::c");
        expect(engineUrn("dev", "proj", "urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev", "a:b:C", "c")).toBe("urn:pulumi:dev::proj::a:b:C::c");
        expect(engineUrn("dev", "proj", "urn:pulumi:dev::proj::x:y:P$x:y:Q::q", "a:b:C", "c")).toBe("urn:pulumi:dev::proj::x:y:P$x:y:Q$a:b:C::c");
    });

    it("writes exports that are not plain data as plain data: resources by URN, dates as ISO strings", () => {
        expect(readJson(edge("outputs.json"))).toEqual({
            big: "10",
            component: { urn: "urn:pulumi:edge::edge-cases::edge:index:Outer::outer" },
            configMap: { urn: "urn:pulumi:edge::edge-cases::edge:index:Outer$edge:index:Middle$kubernetes:core/v1:ConfigMap::leaf" },
            epoch: "1970-01-01T00:00:00.000Z",
            nested: {
                leaf: { urn: "urn:pulumi:edge::edge-cases::edge:index:Outer$edge:index:Middle$kubernetes:core/v1:ConfigMap::leaf" },
                list: [null, 1],
                when: "1970-01-02T00:00:00.000Z",
            },
            partlySecret: REDACTED,
        });
        expect(run.stdout).toContain("warning: stack output nothing is undefined; Pulumi leaves it out of the stack outputs");
        expect(run.stdout).toContain("warning: stack output callback is a function; left out");
        expect(run.stdout).toContain("warning: stack output nested.method is a function; left out");
        expect(run.stdout).toContain('warning: stack output big is a bigint; shown as the string "10"');
    });

    it("redacts Kubernetes Secret data wherever a Secret sits: ConfigGroup objs and yaml, List items, SecretList, SecretPatch", () => {
        const everything = Object.values(filesUnder(out)).join("\n");
        expect(everything).not.toContain("hunter2");
        expect(everything).not.toContain("aHVudGVyMi1pbi1saXN0");
        const bundle = readJson<Resource[]>(edge("resources.json")).find((r) => r.name === "bundle");
        expect(bundle?.inputs.objs).toEqual([
            { apiVersion: "v1", kind: "Secret", metadata: { name: "in-objs" }, stringData: { password: REDACTED } },
            {
                apiVersion: "v1",
                kind: "List",
                items: [
                    { apiVersion: "v1", kind: "Secret", metadata: { name: "in-list" }, data: { key: REDACTED } },
                    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "listed-config" }, data: { colour: "blue" } },
                ],
            },
        ]);
        expect(bundle?.inputs.yaml).toContain(`token: "${REDACTED}"`);
    });

    it("writes every declared object to manifests.yaml, Lists flattened, patches marked, and names what it leaves out", () => {
        const text = fs.readFileSync(edge("manifests.yaml"), "utf8");
        const documents = parseAllDocuments(text);
        expect(documents.flatMap((d) => d.errors)).toEqual([]);
        expect(documents.map((d) => d.toJS() as { kind: string; metadata: { name: string } }).map((d) => `${d.kind}/${d.metadata.name}`)).toEqual([
            "ConfigMap/leaf",
            "Secret/in-secret-list",
            "Secret/existing",
            "Secret/in-objs",
            "Secret/in-list",
            "ConfigMap/listed-config",
            "Secret/in-yaml",
        ]);
        expect(text).toContain("---\n# patch (kubernetes:core/v1:SecretPatch patched): server-side applied to an existing Secret");
        expect(text).toContain("#   the files of kubernetes:yaml/v2:ConfigGroup bundle, read by the provider at deploy time: extra/*.yaml");
        expect(run.stdout).toContain("warning: manifests.yaml leaves out the files of kubernetes:yaml/v2:ConfigGroup bundle");
    });
});

describe("synth of a program that exports an entrypoint function", () => {
    it("calls it, as Pulumi does, and writes what it returns as the stack outputs", async () => {
        const out = tempDir();
        const run = await synth("--project", path.join(__dirname, "fixtures", "entrypoint"), "--out", out);
        expect(run.code).toBe(0);
        // Stack references name stacks as <organization>/<project>/<stack>; offline, the organization is
        // that of Pulumi's self-managed backends.
        expect(readJson(path.join(out, "dev", "outputs.json"))).toEqual({ namespace: "apps", organization: "organization", token: REDACTED });
        expect(readJson<Resource[]>(path.join(out, "dev", "resources.json")).map((r) => r.type)).toEqual(["kubernetes:core/v1:Namespace"]);
    });
});

describe("synth workers that misbehave", () => {
    /** The lines of the SynthError `synthesize` fails with. */
    async function failure(stack: string, workerTimeoutMs?: number): Promise<readonly string[]> {
        try {
            await synthesize({ projectDir: edgeCases, stacks: [stack], workerTimeoutMs });
        } catch (error) {
            if (error instanceof SynthError) {
                return error.lines;
            }
            throw error;
        }
        throw new Error(`stack ${stack} did not fail`);
    }

    it("stops a worker that does not finish in time, with one line", async () => {
        expect(await failure("hang", 2_000)).toEqual([
            "stack hang: the worker did not finish within 2 s and was stopped (does a resource input or stack output never resolve?)",
        ]);
    });

    it("fails, with the worker's own explanation, when a worker cannot send its result", async () => {
        const lines = await failure("hangup");
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/^stack hangup: the worker exited with code 1 without a result:\n/);
        expect(lines[0]).toContain("synth worker: could not send its result to the synth runner: Channel closed");
    });
});

describe("synth with a bad project, stack name or --out", () => {
    it("rejects a stack file whose name is no stack name, and removes nothing", async () => {
        const root = tempDir();
        const dir = peeringWithStacks({ base: "config: {}\n", "..": "config: {}\n" }, path.join(root, "project"));
        fs.writeFileSync(path.join(dir, "keep.txt"), "still here");
        const run = await synth("--project", dir, "--out", path.join(dir, "out"));
        expect(run.code).toBe(1);
        expect(errorLines(run)).toEqual([
            `error: ${path.join(dir, "Pulumi....yaml")}: ".." is not a valid stack name (letters, digits, "-", "_" and ".", at most 100 characters, and not "." or ".."); rename or remove the file`,
        ]);
        expect(fs.readFileSync(path.join(dir, "keep.txt"), "utf8")).toBe("still here");
        expect(fs.existsSync(path.join(dir, "out"))).toBe(false);
    });

    it.each(["..", ".", "../base", "a/b", ""])("rejects --stack %j as no stack name", async (stack) => {
        const run = await synth("--project", fixture, "--out", tempDir(), "--stack", stack);
        expect(run.code).toBe(2);
        expect(run.stderr).toContain(`error: --stack ${JSON.stringify(stack)} is not a valid stack name`);
    });

    it("resolves --out against the current directory, not --project, as --help says", async () => {
        const cwd = process.cwd();
        const here = tempDir();
        let run: Run;
        try {
            process.chdir(here);
            run = await synth("--project", fixture, "--out", "relative", "--stack", "base");
        } finally {
            process.chdir(cwd);
        }
        expect(run.code).toBe(0);
        expect(fs.readdirSync(path.join(here, "relative", "base")).sort()).toEqual(["manifests.yaml", "outputs.json", "resources.json"]);
        expect(fs.existsSync(path.join(fixture, "relative"))).toBe(false);
        expect((await synth("--help")).stdout).toContain("--out DIR      where to write, relative to the current directory");
    });

    it("says in one line that there is no Pulumi.yaml, and writes nothing", async () => {
        const dir = tempDir();
        const run = await synth("--project", dir, "--out", path.join(dir, "out"));
        expect(run.code).toBe(1);
        expect(errorLines(run)).toEqual([`error: ${path.join(dir, "Pulumi.yaml")}: not found; --project must name a Pulumi project directory`]);
        expect(run.stderr).not.toMatch(STACK_TRACE);
        expect(fs.readdirSync(dir)).toEqual([]);
    });

    it("names the file and the problem, in one line, for a YAML syntax error in Pulumi.yaml", async () => {
        const dir = tempDir();
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: peering\nconfig: [unclosed\n");
        const run = await synth("--project", dir, "--out", path.join(dir, "out"));
        expect(run.code).toBe(1);
        expect(errorLines(run)).toHaveLength(1);
        expect(errorLines(run)[0]).toMatch(new RegExp(`^error: ${path.join(dir, "Pulumi.yaml").replace(/[.]/g, "\\.")}: invalid YAML: .*line 3`));
        expect(run.stderr).not.toMatch(STACK_TRACE);
        expect(fs.existsSync(path.join(dir, "out"))).toBe(false);
    });

    it("names the file and the problem, in one line, for a YAML syntax error in a stack file", async () => {
        const dir = peeringWithStacks({ base: "config: {}\n", broken: "config:\n  peering:peers: [a\n" });
        const run = await synth("--project", dir, "--out", path.join(dir, "out"));
        expect(run.code).toBe(1);
        expect(errorLines(run)).toHaveLength(1);
        expect(errorLines(run)[0]).toContain(`error: ${path.join(dir, "Pulumi.broken.yaml")}: invalid YAML: `);
        expect(run.stderr).not.toMatch(STACK_TRACE);
        expect(fs.existsSync(path.join(dir, "out"))).toBe(false);
    });

    it("does not replace a stack directory under --out that holds files the synth did not write", async () => {
        const out = tempDir();
        fs.mkdirSync(path.join(out, "base"));
        fs.writeFileSync(path.join(out, "base", "notes.txt"), "mine");
        const run = await synth("--project", fixture, "--out", out, "--stack", "base");
        expect(run.code).toBe(1);
        expect(errorLines(run)).toEqual([
            `error: refusing to replace ${path.join(out, "base")}: it holds files the synth did not write (notes.txt); move them or choose another --out`,
        ]);
        expect(fs.readdirSync(path.join(out, "base"))).toEqual(["notes.txt"]);
    });
});

describe("npm run synth", () => {
    it("runs the real CLI as the README's quick start does", async () => {
        const out = tempDir();
        const { stdout } = await promisify(execFile)("npm", ["run", "--silent", "synth", "--", "--out", out, "--stack", "region1"], {
            cwd: projectDir,
        });
        expect(stdout).toContain("stack region1: 29 resources");
        expect(fs.readdirSync(path.join(out, "region1")).sort()).toEqual(["manifests.yaml", "outputs.json", "resources.json"]);
    });
});
