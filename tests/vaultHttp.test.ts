/**
 * The bootstrap's Vault HTTP adapter against a local HTTP server that answers like Vault's API: the
 * requests it sends (method, path, body, token header), what it makes of the answers (unseal keys, or
 * an auto-unseal Vault's recovery keys), and errors that name the call but never carry key material.
 * With TLS, against a local HTTPS server whose certificate is made here at run time (node:crypto keys,
 * the openssl CLI to sign): verified with the region's CA, for the pod's in-cluster name.
 */
import { generateKeyPairSync } from "node:crypto";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { TLSSocket } from "node:tls";
import { Sensitive } from "../bootstrap/sensitive";
import { VaultHttpApi, VaultHttpError, vaultServerName } from "../bootstrap/vaultHttp";
import { certificateNames } from "../components/vault-server/tls";

interface Seen {
    method: string;
    url: string;
    token?: string;
    body: unknown;
}

const KEYS = ["a2V5LW9uZQ==", "a2V5LXR3bw==", "a2V5LXRocmVl"];
const RECOVERY_KEYS = ["cmVjb3Zlcnktb25l", "cmVjb3ZlcnktdHdv"];
const ROOT = "hvs.ROOTTOKEN";

describe("VaultHttpApi", () => {
    const seen: Seen[] = [];
    let server: http.Server;
    let base: string;
    let state = { initialized: false, sealed: true, progress: 0 };
    const restored: { url: string; type: string | undefined; token: unknown; body: Buffer }[] = [];

    beforeAll(async () => {
        server = http.createServer((req, res) => {
            let raw = "";
            const bytes: Buffer[] = [];
            req.on("data", (chunk: Buffer) => {
                bytes.push(chunk);
                raw += chunk.toString();
            });
            req.on("end", () => {
                if (req.url?.startsWith("/v1/sys/storage/raft/snapshot")) {
                    // A snapshot is binary: kept as it came, with its content type.
                    restored.push({
                        url: req.url,
                        type: req.headers["content-type"],
                        token: req.headers["x-vault-token"],
                        body: Buffer.concat(bytes),
                    });
                    res.writeHead(req.headers["x-vault-token"] === ROOT ? 204 : 403, { "content-type": "application/json" });
                    res.end(req.headers["x-vault-token"] === ROOT ? "" : JSON.stringify({ errors: ["permission denied"] }));
                    return;
                }
                const body = raw === "" ? undefined : (JSON.parse(raw) as Record<string, unknown>);
                seen.push({
                    method: req.method ?? "",
                    url: req.url ?? "",
                    token: req.headers["x-vault-token"] as string | undefined,
                    body,
                });
                const send = (status: number, payload?: unknown) => {
                    res.writeHead(status, { "content-type": "application/json" });
                    res.end(payload === undefined ? "" : JSON.stringify(payload));
                };
                const status = () => ({
                    type: "shamir",
                    initialized: state.initialized,
                    sealed: state.sealed,
                    t: 2,
                    n: 3,
                    progress: state.progress,
                });
                switch (`${req.method} ${req.url}`) {
                    case "GET /v1/sys/seal-status":
                        return send(200, status());
                    case "PUT /v1/sys/init":
                        state.initialized = true;
                        // As Vault answers with an auto-unseal seal: recovery keys, and no unseal keys.
                        if (body?.recovery_shares !== undefined) {
                            const hex = RECOVERY_KEYS.map((k) => Buffer.from(k, "base64").toString("hex"));
                            return send(200, {
                                keys: [],
                                keys_base64: [],
                                recovery_keys: hex,
                                recovery_keys_base64: RECOVERY_KEYS,
                                root_token: ROOT,
                            });
                        }
                        return send(200, {
                            keys: KEYS.map((k) => Buffer.from(k, "base64").toString("hex")),
                            keys_base64: KEYS,
                            root_token: ROOT,
                        });
                    case "PUT /v1/sys/unseal":
                        if (!KEYS.includes(String(body?.key))) {
                            return send(400, { errors: ["Unseal failed, invalid key"] });
                        }
                        state.progress++;
                        if (state.progress >= 2) {
                            state = { ...state, sealed: false, progress: 0 };
                        }
                        return send(200, status());
                    case "GET /v1/auth/token/lookup-self":
                        return req.headers["x-vault-token"] === ROOT
                            ? send(200, { data: { id: "x", policies: ["root"] } })
                            : send(403, { errors: ["permission denied"] });
                    case "POST /v1/auth/token/revoke-self":
                        return send(204);
                    case "GET /v1/sys/storage/raft/configuration":
                        return send(200, {
                            data: {
                                config: {
                                    index: 42,
                                    servers: [
                                        {
                                            node_id: "vault-0",
                                            address: "vault-0.vault-internal:8201",
                                            leader: true,
                                            voter: true,
                                            protocol_version: "3",
                                        },
                                        {
                                            node_id: "vault-1",
                                            address: "vault-1.vault-internal:8201",
                                            leader: false,
                                            voter: false,
                                            protocol_version: "3",
                                        },
                                    ],
                                },
                            },
                        });
                    case "POST /v1/secret/data/openova/replication-canary":
                        return req.headers["x-vault-token"] === ROOT
                            ? send(200, { data: { version: 1 } })
                            : send(403, { errors: ["permission denied"] });
                    default:
                        return send(500, { errors: ["unexpected"] });
                }
            });
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const api = () => new VaultHttpApi(() => Promise.resolve(`${base}/`));

    it("restores a snapshot as a binary body, forced or not, and reads the Raft servers", async () => {
        const snapshot = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff, 0x00, 0x7f]);
        await api().restoreSnapshot("r", "vault-0", new Sensitive(ROOT), snapshot, true);
        await api().restoreSnapshot("r", "vault-0", new Sensitive(ROOT), snapshot, false);
        expect(restored.map((r) => ({ ...r, body: r.body.toString("hex") }))).toEqual([
            { url: "/v1/sys/storage/raft/snapshot-force", type: "application/octet-stream", token: ROOT, body: snapshot.toString("hex") },
            { url: "/v1/sys/storage/raft/snapshot", type: "application/octet-stream", token: ROOT, body: snapshot.toString("hex") },
        ]);
        await expect(api().restoreSnapshot("r", "vault-0", new Sensitive("hvs.wrong"), snapshot, true)).rejects.toThrow(
            "region r, vault-0: POST /v1/sys/storage/raft/snapshot-force answered 403: permission denied",
        );
        expect(await api().raftServers("r", new Sensitive(ROOT))).toEqual([
            { nodeId: "vault-0", address: "vault-0.vault-internal:8201", leader: true, voter: true },
            { nodeId: "vault-1", address: "vault-1.vault-internal:8201", leader: false, voter: false },
        ]);
    });

    it("initializes, unseals with two keys, checks and revokes a token, with Vault's request shapes", async () => {
        expect(await api().sealStatus("r", "vault-0")).toEqual({ initialized: false, sealed: true, t: 2, n: 3, progress: 0 });
        const result = await api().init("r", "vault-0", {
            secretShares: 3,
            secretThreshold: 2,
            pgpKeys: ["p1", "p2", "p3"],
            rootTokenPgpKey: "pr",
        });
        expect(result.keys.map((k) => k.reveal())).toEqual(KEYS);
        expect(result.rootToken.reveal()).toBe(ROOT);
        expect(seen.at(-1)).toEqual({
            method: "PUT",
            url: "/v1/sys/init",
            body: { secret_shares: 3, secret_threshold: 2, pgp_keys: ["p1", "p2", "p3"], root_token_pgp_key: "pr" },
        });

        expect(await api().unseal("r", "vault-1", result.keys[0])).toMatchObject({ sealed: true, progress: 1 });
        expect(await api().unseal("r", "vault-1", result.keys[2])).toMatchObject({ sealed: false, progress: 0 });
        expect(seen.at(-1)).toEqual({ method: "PUT", url: "/v1/sys/unseal", body: { key: KEYS[2] } });

        expect(await api().tokenInfo("r", new Sensitive(ROOT))).toEqual({ valid: true, root: true });
        expect(await api().tokenInfo("r", new Sensitive("hvs.wrong"))).toEqual({ valid: false, root: false });
        await api().revoke("r", result.rootToken);
        expect(seen.at(-1)).toEqual({ method: "POST", url: "/v1/auth/token/revoke-self", token: ROOT, body: undefined });
    });

    it("initializes an auto-unseal Vault with recovery settings, and returns its recovery keys", async () => {
        const result = await api().init("r", "vault-0", {
            secretShares: 2,
            secretThreshold: 2,
            pgpKeys: ["p1", "p2"],
            rootTokenPgpKey: "pr",
            autoUnseal: true,
        });
        expect(seen.at(-1)).toEqual({
            method: "PUT",
            url: "/v1/sys/init",
            body: { recovery_shares: 2, recovery_threshold: 2, recovery_pgp_keys: ["p1", "p2"], root_token_pgp_key: "pr" },
        });
        expect(result.keys.map((k) => k.reveal())).toEqual(RECOVERY_KEYS);
        expect(result.rootToken.reveal()).toBe(ROOT);
        // Fewer recovery keys than asked for: refused, without the keys in the message.
        const error = await api()
            .init("r", "vault-0", { secretShares: 3, secretThreshold: 2, autoUnseal: true })
            .catch((e: unknown) => e);
        expect((error as Error).message).toBe("region r, vault-0: PUT /v1/sys/init answered without 3 recovery keys and a root token");
        expect(seen.at(-1)?.body).toEqual({ recovery_shares: 3, recovery_threshold: 2 });
    });

    it("sends token calls to the first server of the region's engine: vault-0, or openbao-0 with OpenBao", async () => {
        const pods: string[] = [];
        const endpoint = (region: string, pod: string) => {
            pods.push(`${region}/${pod}`);
            return Promise.resolve(`${base}/`);
        };
        const engines = new VaultHttpApi(endpoint, { engine: (region) => (region === "bao" ? "openbao" : "vault") });
        await engines.tokenInfo("bao", new Sensitive(ROOT));
        await engines.tokenInfo("vlt", new Sensitive(ROOT));
        expect(pods).toEqual(["bao/openbao-0", "vlt/vault-0"]);
    });

    it("writes a KV v2 secret under <mount>/data/ with the token", async () => {
        await api().kvPut("r", new Sensitive(ROOT), "secret", "openova/replication-canary", { value: "abc" });
        expect(seen.at(-1)).toEqual({
            method: "POST",
            url: "/v1/secret/data/openova/replication-canary",
            token: ROOT,
            body: { data: { value: "abc" } },
        });
        await expect(
            api().kvPut("r", new Sensitive("hvs.wrong"), "secret", "openova/replication-canary", { value: "abc" }),
        ).rejects.toThrow("region r, vault-0: POST /v1/secret/data/openova/replication-canary answered 403: permission denied");
    });

    it("names the call and Vault's error, never the key", async () => {
        const error = await api()
            .unseal("r", "vault-2", new Sensitive("bm90LWEta2V5"))
            .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(VaultHttpError);
        expect((error as Error).message).toBe("region r, vault-2: PUT /v1/sys/unseal answered 400: Unseal failed, invalid key");
        expect((error as Error).message).not.toContain("bm90LWEta2V5");
    });

    it("says which server could not be reached", async () => {
        const unreachable = new VaultHttpApi(() => Promise.resolve("http://127.0.0.1:1/"));
        await expect(unreachable.sealStatus("r", "vault-0")).rejects.toThrow(/^region r, vault-0: GET \/v1\/sys\/seal-status failed: /);
    });
});

/** The openssl CLI, which signs the test certificates; without it the TLS tests are skipped, saying so. */
const OPENSSL = spawnSync("openssl", ["version"], { encoding: "utf8" }).error === undefined;
if (!OPENSSL) {
    console.warn("VaultHttpApi TLS tests skipped: the openssl CLI is not on PATH (it signs the certificates they make)");
}

/** A CA, and server certificates it signs, made at run time in a temporary directory. */
class TestPki {
    readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "vault-tls-"));
    private serial = 1;

    constructor() {
        fs.writeFileSync(path.join(this.dir, "openssl.cnf"), "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n");
    }

    private openssl(...args: string[]): void {
        const result = spawnSync("openssl", args, { cwd: this.dir, encoding: "utf8" });
        if (result.status !== 0) {
            throw new Error(`openssl ${args.join(" ")}: ${result.stderr}`);
        }
    }

    /** A new EC P-256 private key (PEM), written to `<name>.key`. */
    private key(name: string): string {
        const { privateKey } = generateKeyPairSync("ec", {
            namedCurve: "P-256",
            privateKeyEncoding: { type: "pkcs8", format: "pem" },
            publicKeyEncoding: { type: "spki", format: "pem" },
        });
        fs.writeFileSync(path.join(this.dir, `${name}.key`), privateKey, { mode: 0o600 });
        return privateKey;
    }

    /** A self-signed CA. @returns its certificate (PEM) */
    ca(name: string): string {
        this.key(name);
        fs.writeFileSync(
            path.join(this.dir, `${name}.ext`),
            "basicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n",
        );
        this.openssl("req", "-new", "-config", "openssl.cnf", "-key", `${name}.key`, "-subj", `/CN=${name}`, "-out", `${name}.csr`);
        this.openssl(
            "x509",
            "-req",
            "-in",
            `${name}.csr`,
            "-signkey",
            `${name}.key`,
            "-days",
            "1",
            "-extfile",
            `${name}.ext`,
            "-set_serial",
            String(this.serial++),
            "-out",
            `${name}.pem`,
        );
        return fs.readFileSync(path.join(this.dir, `${name}.pem`), "utf8");
    }

    /** A server certificate for `altNames` (openssl subjectAltName entries), signed by `ca`. */
    server(name: string, ca: string, altNames: readonly string[]): { key: string; cert: string } {
        const key = this.key(name);
        fs.writeFileSync(
            path.join(this.dir, `${name}.ext`),
            `basicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\nsubjectAltName = ${altNames.join(",")}\n`,
        );
        this.openssl("req", "-new", "-config", "openssl.cnf", "-key", `${name}.key`, "-subj", `/CN=${name}`, "-out", `${name}.csr`);
        this.openssl(
            "x509",
            "-req",
            "-in",
            `${name}.csr`,
            "-CA",
            `${ca}.pem`,
            "-CAkey",
            `${ca}.key`,
            "-days",
            "1",
            "-extfile",
            `${name}.ext`,
            "-set_serial",
            String(this.serial++),
            "-out",
            `${name}.pem`,
        );
        return { key, cert: fs.readFileSync(path.join(this.dir, `${name}.pem`), "utf8") };
    }
}

(OPENSSL ? describe : describe.skip)("VaultHttpApi with TLS (a local HTTPS server, certificates made at run time)", () => {
    const namespace = "vault";
    let pki: TestPki;
    let rightCa: string;
    let wrongCa: string;
    const servers: https.Server[] = [];
    /** Server names (SNI) the servers were asked for, and the requests that reached them. */
    const sni: (string | false)[] = [];
    let requests = 0;

    /** Starts an HTTPS server that answers seal-status like Vault. @returns its port */
    async function serve(credentials: { key: string; cert: string }): Promise<number> {
        const server = https.createServer(credentials, (req, res) => {
            requests++;
            // The server name the client asked for (SNI): false when it sent none.
            sni.push((req.socket as TLSSocket & { readonly servername: string | false }).servername);
            res.writeHead(200, { "content-type": "application/json" });
            res.end(JSON.stringify({ type: "awskms", initialized: true, sealed: false, t: 3, n: 5, progress: 0 }));
        });
        servers.push(server);
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        return (server.address() as AddressInfo).port;
    }

    /** The adapter as the bootstrap builds it: a port-forward's plain address, TLS with the region's CA. */
    const api = (port: number, ca: string) =>
        new VaultHttpApi(() => Promise.resolve(`http://127.0.0.1:${port}/`), { tls: () => ({ ca, namespace }) });

    let projectCert: number;
    let podNameOnly: number;

    beforeAll(async () => {
        pki = new TestPki();
        rightCa = pki.ca("region-ca");
        wrongCa = pki.ca("other-ca");
        // The names the project's certificate covers (components/vaultTls.ts), and 127.0.0.1.
        const names = certificateNames({ host: "vault.region1.example.com", namespace, releaseName: "vault" });
        projectCert = await serve(
            pki.server("vault-server", "region-ca", [
                ...names.dnsNames.map((n) => `DNS:${n}`),
                ...names.ipAddresses.map((ip) => `IP:${ip}`),
            ]),
        );
        // Only *.vault-internal and 127.0.0.1: a two-label wildcard, which TLS clients (Node.js among them) refuse.
        podNameOnly = await serve(pki.server("short-wildcard", "region-ca", ["DNS:*.vault-internal", "IP:127.0.0.1"]));
    });

    afterAll(async () => {
        await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
        fs.rmSync(pki.dir, { recursive: true, force: true });
    });

    it("speaks HTTPS to the port-forward and verifies the server with the region's CA, for the pod's in-cluster name", async () => {
        const before = requests;
        expect(await api(projectCert, rightCa).sealStatus("region1", "vault-1")).toEqual({
            initialized: true,
            sealed: false,
            t: 3,
            n: 5,
            progress: 0,
        });
        expect(requests).toBe(before + 1);
        // The name verified (and sent as SNI) is the pod's, never the port-forward's 127.0.0.1.
        expect(vaultServerName("vault-1", namespace)).toBe("vault-1.vault-internal.vault.svc");
        // OpenBao's pods, behind its chart's headless service, which its certificate covers.
        expect(vaultServerName("openbao-1", namespace, "openbao")).toBe("openbao-1.openbao-internal.vault.svc");
        expect(certificateNames({ host: "vault.r.example.com", namespace, releaseName: "openbao" }).dnsNames).toContain(
            "*.openbao-internal.vault.svc",
        );
        expect(sni.at(-1)).toBe("vault-1.vault-internal.vault.svc");
    });

    it("fails with a CA that did not sign the server's certificate, before any request reaches it", async () => {
        const before = requests;
        const error = await api(projectCert, wrongCa)
            .sealStatus("region1", "vault-0")
            .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(VaultHttpError);
        expect((error as Error).message).toMatch(/^region region1, vault-0: GET \/v1\/sys\/seal-status failed: .*(certificate|issuer)/);
        expect(requests).toBe(before);
    });

    it("fails when the certificate covers 127.0.0.1 but not the pod's name: it verifies by name", async () => {
        const before = requests;
        const error = await api(podNameOnly, rightCa)
            .sealStatus("region1", "vault-0")
            .catch((e: unknown) => e);
        expect((error as Error).message).toMatch(
            /^region region1, vault-0: GET \/v1\/sys\/seal-status failed: Hostname\/IP does not match certificate's altnames/,
        );
        expect(requests).toBe(before);
    });

    it("refuses to call without a CA rather than trust anything", async () => {
        await expect(api(projectCert, "").sealStatus("region1", "vault-0")).rejects.toThrow(
            "region region1, vault-0: GET /v1/sys/seal-status failed: TLS is on, but there is no CA to verify the server with (openova-vault:vaultCaCertFile)",
        );
    });

    it("with TLS off, speaks plain HTTP (an HTTPS server does not answer it)", async () => {
        const plain = new VaultHttpApi(() => Promise.resolve(`http://127.0.0.1:${projectCert}/`));
        await expect(plain.sealStatus("region1", "vault-0")).rejects.toBeInstanceOf(VaultHttpError);
    });
});
