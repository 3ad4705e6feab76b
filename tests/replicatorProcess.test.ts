/**
 * The replicator as it runs in its pod: `node replicator/main.ts` (Node.js strips the types; nothing
 * is compiled or bundled), two processes for two regions against fake Vaults over HTTP, logging in
 * with service-account tokens, woken by Vault's audit stream, serving metrics, stopping on SIGTERM.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { changedKey } from "../replicator/audit";
import type { ReplicatorConfig } from "../replicator/config";
import { doorbellKey, inboxKey } from "../replicator/records";
import { FakeVault } from "../tools/fakes/fakeVault";

const ROOT = path.resolve(__dirname, "..");
const KEY = "apps/db";

async function freePort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
}

/** One audit line as Vault's socket device writes it, for a write to `path`. */
const auditLine = (p: string) =>
    `${JSON.stringify({ type: "response", request: { operation: "update", path: p }, response: { data: { version: "hmac-sha256:x" } } })}\n`;

describe("the replicator's process", () => {
    jest.setTimeout(30_000);
    const regions = ["region1", "region2"];
    const vaults: FakeVault[] = [];
    const processes: ChildProcess[] = [];
    const output: string[] = ["", ""];
    const ports: { audit: number; metrics: number }[] = [];
    let dir: string;

    beforeAll(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "replicator-"));
        for (const [i, region] of regions.entries()) {
            const peer = regions[1 - i];
            vaults.push(
                new FakeVault({
                    logins: {
                        [`kubernetes/replicator`]: { jwt: `sa-${region}`, identity: { displayName: `kubernetes-vault-vault-replicator` } },
                        [`jwt-${peer}/replicator`]: {
                            jwt: `sa-${peer}-for-${region}`,
                            identity: {
                                displayName: `jwt-${peer}-replicator`,
                                allow: [`secret/data/${inboxKey(peer, "")}`, `secret/data/${doorbellKey(peer)}`],
                            },
                        },
                    },
                }),
            );
        }
        await Promise.all(vaults.map((vault) => vault.start()));
        for (const [i, region] of regions.entries()) {
            const peer = regions[1 - i];
            ports.push({ audit: await freePort(), metrics: await freePort() });
            fs.writeFileSync(path.join(dir, `${region}-local`), `sa-${region}\n`);
            fs.writeFileSync(path.join(dir, `${region}-for-${peer}`), `sa-${region}-for-${peer}\n`);
            const config: ReplicatorConfig = {
                region,
                mount: "secret",
                vault: {
                    address: vaults[i].address,
                    login: { kind: "jwt-file", mount: "kubernetes", role: "replicator", path: path.join(dir, `${region}-local`) },
                },
                peers: [
                    {
                        region: peer,
                        address: vaults[1 - i].address,
                        login: {
                            kind: "jwt-file",
                            mount: `jwt-${region}`,
                            role: "replicator",
                            path: path.join(dir, `${region}-for-${peer}`),
                        },
                    },
                ],
                secrets: [{ key: KEY, externalSecrets: [] }],
                timing: { scanIntervalMs: 60_000, doorbellIntervalMs: 5_000, retryIntervalMs: 1_000, maxAheadMs: 5_000 },
                auditPort: ports[i].audit,
                metricsPort: ports[i].metrics,
            };
            fs.writeFileSync(path.join(dir, `${region}.json`), JSON.stringify(config));
            const child = spawn(process.execPath, [path.join(ROOT, "replicator", "main.ts")], {
                env: { ...process.env, REPLICATOR_CONFIG: path.join(dir, `${region}.json`) },
                stdio: ["ignore", "pipe", "pipe"],
            });
            child.stdout?.on("data", (chunk: Buffer) => (output[i] += chunk.toString()));
            child.stderr?.on("data", (chunk: Buffer) => (output[i] += chunk.toString()));
            processes.push(child);
        }
        const started = Date.now();
        while (!output.every((text) => text.includes("replicating 1 secret(s)")) && Date.now() - started < 15_000) {
            await new Promise((resolve) => setTimeout(resolve, 20));
        }
    });

    afterAll(async () => {
        for (const child of processes) if (child.exitCode === null) child.kill("SIGKILL");
        await Promise.all(vaults.map((vault) => vault.stop()));
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("starts from its files as they are, logs in to its own Vault with Kubernetes auth, and learns the name Vault records for it", () => {
        expect(output[0]).toContain("replicating 1 secret(s) of region1 with region2, as kubernetes-vault-vault-replicator");
        expect(output[1]).toContain("replicating 1 secret(s) of region2 with region1");
    });

    it("is woken by the audit stream: a write in region1 is in region2's Vault within a second, through the peer's inbox", async () => {
        const started = Date.now();
        vaults[0].put(KEY, { v: "from-region1" });
        const socket = net.connect(ports[0].audit, "127.0.0.1");
        socket.write(auditLine("secret/data/other"));
        socket.write(auditLine(`secret/data/${KEY}`));
        // region2's Vault streams the inbox write to its replicator.
        const wake = setInterval(() => {
            if (vaults[1].current(inboxKey("region1", KEY)) !== undefined) {
                const second = net.connect(ports[1].audit, "127.0.0.1");
                second.end(auditLine(`secret/data/${inboxKey("region1", KEY)}`));
                clearInterval(wake);
            }
        }, 5);
        while (vaults[1].current(KEY)?.v !== "from-region1" && Date.now() - started < 5_000) {
            await new Promise((resolve) => setTimeout(resolve, 10));
        }
        clearInterval(wake);
        socket.end();
        expect(vaults[1].current(KEY)).toEqual({ v: "from-region1" });
        expect(Date.now() - started).toBeLessThan(1_000);
    });

    it("serves its metrics", async () => {
        const text = await (await fetch(`http://127.0.0.1:${ports[0].metrics}/metrics`)).text();
        expect(text).toMatch(/openova_replicator_up\{region="region1"\} 1/);
        expect(text).toMatch(/openova_replicator_local_writes_total\{region="region1"\} 1/);
        expect((await fetch(`http://127.0.0.1:${ports[0].metrics}/healthz`)).status).toBe(200);
    });

    it("serves its metrics while it cannot log in, with openova_replicator_up 0, and 1 once it can", async () => {
        const config = JSON.parse(fs.readFileSync(path.join(dir, "region1.json"), "utf8")) as ReplicatorConfig;
        const metricsPort = await freePort();
        const jwt = path.join(dir, "refused-local");
        fs.writeFileSync(jwt, "not-the-service-account-token\n");
        const refused: ReplicatorConfig = {
            ...config,
            vault: { ...config.vault, login: { kind: "jwt-file", mount: "kubernetes", role: "replicator", path: jwt } },
            auditPort: await freePort(),
            metricsPort,
        };
        fs.writeFileSync(path.join(dir, "refused.json"), JSON.stringify(refused));
        const child = spawn(process.execPath, [path.join(ROOT, "replicator", "main.ts")], {
            env: { ...process.env, REPLICATOR_CONFIG: path.join(dir, "refused.json") },
            stdio: "ignore",
        });
        try {
            const up = async () => {
                for (const started = Date.now(); Date.now() - started < 10_000;) {
                    const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then(
                        (response) => response.text(),
                        () => "",
                    );
                    const match = /openova_replicator_up\{region="region1"\} (\d)/.exec(text);
                    if (match !== null) return match[1];
                    await new Promise((resolve) => setTimeout(resolve, 50));
                }
                return "no answer";
            };
            expect(await up()).toBe("0");
            expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status).toBe(200);
            fs.writeFileSync(jwt, "sa-region1\n");
            for (const started = Date.now(); (await up()) !== "1" && Date.now() - started < 10_000;) {
                await new Promise((resolve) => setTimeout(resolve, 100));
            }
            expect(await up()).toBe("1");
        } finally {
            child.kill("SIGKILL");
        }
    });

    it("stops on SIGTERM", async () => {
        const exits = processes.map((child) => new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code))));
        for (const child of processes) child.kill("SIGTERM");
        expect(await Promise.all(exits)).toEqual([0, 0]);
    });
});

describe("audit lines", () => {
    it("name the secret of a successful write, deletion or metadata change under the mount, and nothing else", () => {
        const line = (entry: unknown) => JSON.stringify(entry);
        const ok = { type: "response", request: { operation: "update", path: "secret/data/apps/db" } };
        expect(changedKey(line(ok), "secret")).toBe("apps/db");
        expect(changedKey(line({ ...ok, request: { operation: "delete", path: "secret/metadata/apps/db" } }), "secret")).toBe("apps/db");
        expect(changedKey(line({ ...ok, request: { operation: "update", path: "secret/delete/apps/db" } }), "secret")).toBe("apps/db");
        expect(changedKey(line({ ...ok, type: "request" }), "secret")).toBeUndefined();
        expect(changedKey(line({ ...ok, error: "check-and-set parameter did not match the current version" }), "secret")).toBeUndefined();
        expect(changedKey(line({ ...ok, request: { operation: "read", path: "secret/data/apps/db" } }), "secret")).toBeUndefined();
        expect(changedKey(line({ ...ok, request: { operation: "update", path: "other/data/apps/db" } }), "secret")).toBeUndefined();
        expect(changedKey("not json", "secret")).toBeUndefined();
    });
});
