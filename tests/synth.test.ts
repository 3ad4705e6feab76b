/**
 * The offline synth end to end: the real program for both region stacks, determinism, bad config,
 * stack references between synthesized stacks, and secret redaction.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { main } from "../tools/synth/cli";
import { REDACTED } from "../tools/synth/render";

const projectDir = path.resolve(__dirname, "..");
const fixture = path.join(__dirname, "fixtures", "peering");

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

describe("synth of the region stacks", () => {
    const out = tempDir();
    let run: Run;

    beforeAll(async () => {
        run = await synth("--project", projectDir, "--out", out);
    });

    it("succeeds and summarizes each stack", () => {
        expect(run.code).toBe(0);
        expect(run.stdout).toContain("stack region1: 8 resources, 0 warning(s), 5 outputs");
        expect(run.stdout).toContain("stack region2: 8 resources, 0 warning(s), 5 outputs");
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

    it("writes outputs.json with what peers need", () => {
        expect(readJson(path.join(out, "region2", "outputs.json"))).toEqual({
            externalSecretsNamespace: "external-secrets",
            peers: ["region1"],
            regionName: "region2",
            vaultAddress: "https://vault.region2.example.com",
            vaultNamespace: "vault",
        });
    });

    it("writes manifests.yaml as valid multi-document YAML of the declared Kubernetes objects", () => {
        const text = fs.readFileSync(path.join(out, "region1", "manifests.yaml"), "utf8");
        const documents = parseAllDocuments(text);
        expect(documents.flatMap((d) => d.errors)).toEqual([]);
        expect(documents.map((d) => d.toJS() as { kind: string; metadata: { name: string } }).map((d) => `${d.kind}/${d.metadata.name}`)).toEqual([
            "Namespace/external-secrets",
            "Namespace/vault",
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
        const dir = projectWithStacks({ region1: "config:\n  openova-vault:domain: example.com\n" });
        const out = path.join(dir, "out");
        expect((await synth("--project", dir, "--out", out)).code).toBe(0);
        const before = filesUnder(out);
        fs.writeFileSync(path.join(dir, "Pulumi.region1.yaml"), "config:\n  openova-vault:domain: example.com\n  openova-vault:vault:\n    storageSize: ten\n");
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

    it("runs stacks that read each other until the outputs they read stop changing", async () => {
        const both = await synth("--project", fixture, "--out", tempDir(), "--stack", "a", "--stack", "b");
        expect(both.code).toBe(0);
        // Pass 1: neither has outputs yet. Pass 2: each hears the other. Pass 3: nothing they read changed.
        expect(both.stderr).toContain("synth: pass 3: running a, b");
        expect(both.stderr).toContain("(3 pass(es))");
        expect(both.stdout).toContain("reads outputs of: a (program ran 3 time(s))");
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

describe("npm run synth", () => {
    it("runs the real CLI as the README's quick start does", async () => {
        const out = tempDir();
        const { stdout } = await promisify(execFile)("npm", ["run", "--silent", "synth", "--", "--out", out, "--stack", "region1"], {
            cwd: projectDir,
        });
        expect(stdout).toContain("stack region1: 8 resources");
        expect(fs.readdirSync(path.join(out, "region1")).sort()).toEqual(["manifests.yaml", "outputs.json", "resources.json"]);
    });
});
