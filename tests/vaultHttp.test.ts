/**
 * The bootstrap's Vault HTTP adapter against a local HTTP server that answers like Vault's API: the
 * requests it sends (method, path, body, token header), what it makes of the answers, and errors that
 * name the call but never carry key material.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Sensitive } from "../bootstrap/sensitive";
import { VaultHttpApi, VaultHttpError } from "../bootstrap/vaultHttp";

interface Seen {
    method: string;
    url: string;
    token?: string;
    body: unknown;
}

const KEYS = ["a2V5LW9uZQ==", "a2V5LXR3bw==", "a2V5LXRocmVl"];
const ROOT = "hvs.ROOTTOKEN";

describe("VaultHttpApi", () => {
    const seen: Seen[] = [];
    let server: http.Server;
    let base: string;
    let state = { initialized: false, sealed: true, progress: 0 };

    beforeAll(async () => {
        server = http.createServer((req, res) => {
            let raw = "";
            req.on("data", (chunk: Buffer) => (raw += chunk.toString()));
            req.on("end", () => {
                const body = raw === "" ? undefined : (JSON.parse(raw) as Record<string, unknown>);
                seen.push({ method: req.method ?? "", url: req.url ?? "", token: req.headers["x-vault-token"] as string | undefined, body });
                const send = (status: number, payload?: unknown) => {
                    res.writeHead(status, { "content-type": "application/json" });
                    res.end(payload === undefined ? "" : JSON.stringify(payload));
                };
                const status = () => ({ type: "shamir", initialized: state.initialized, sealed: state.sealed, t: 2, n: 3, progress: state.progress });
                switch (`${req.method} ${req.url}`) {
                    case "GET /v1/sys/seal-status":
                        return send(200, status());
                    case "PUT /v1/sys/init":
                        state.initialized = true;
                        return send(200, { keys: KEYS.map((k) => Buffer.from(k, "base64").toString("hex")), keys_base64: KEYS, root_token: ROOT });
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
                        return req.headers["x-vault-token"] === ROOT ? send(200, { data: { id: "x", policies: ["root"] } }) : send(403, { errors: ["permission denied"] });
                    case "POST /v1/auth/token/revoke-self":
                        return send(204);
                    case "POST /v1/secret/data/openova/replication-canary":
                        return req.headers["x-vault-token"] === ROOT ? send(200, { data: { version: 1 } }) : send(403, { errors: ["permission denied"] });
                    default:
                        return send(500, { errors: ["unexpected"] });
                }
            });
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const api = () => new VaultHttpApi(() => Promise.resolve(`${base}/`), "vault-0");

    it("initializes, unseals with two keys, checks and revokes a token, with Vault's request shapes", async () => {
        expect(await api().sealStatus("r", "vault-0")).toEqual({ initialized: false, sealed: true, t: 2, n: 3, progress: 0 });
        const result = await api().init("r", "vault-0", { secretShares: 3, secretThreshold: 2, pgpKeys: ["p1", "p2", "p3"], rootTokenPgpKey: "pr" });
        expect(result.keys.map((k) => k.reveal())).toEqual(KEYS);
        expect(result.rootToken.reveal()).toBe(ROOT);
        expect(seen.at(-1)).toEqual({ method: "PUT", url: "/v1/sys/init", body: { secret_shares: 3, secret_threshold: 2, pgp_keys: ["p1", "p2", "p3"], root_token_pgp_key: "pr" } });

        expect(await api().unseal("r", "vault-1", result.keys[0])).toMatchObject({ sealed: true, progress: 1 });
        expect(await api().unseal("r", "vault-1", result.keys[2])).toMatchObject({ sealed: false, progress: 0 });
        expect(seen.at(-1)).toEqual({ method: "PUT", url: "/v1/sys/unseal", body: { key: KEYS[2] } });

        expect(await api().tokenInfo("r", new Sensitive(ROOT))).toEqual({ valid: true, root: true });
        expect(await api().tokenInfo("r", new Sensitive("hvs.wrong"))).toEqual({ valid: false, root: false });
        await api().revoke("r", result.rootToken);
        expect(seen.at(-1)).toEqual({ method: "POST", url: "/v1/auth/token/revoke-self", token: ROOT, body: undefined });
    });

    it("writes a KV v2 secret under <mount>/data/ with the token", async () => {
        await api().kvPut("r", new Sensitive(ROOT), "secret", "openova/replication-canary", { value: "abc" });
        expect(seen.at(-1)).toEqual({ method: "POST", url: "/v1/secret/data/openova/replication-canary", token: ROOT, body: { data: { value: "abc" } } });
        await expect(api().kvPut("r", new Sensitive("hvs.wrong"), "secret", "openova/replication-canary", { value: "abc" })).rejects.toThrow(
            "region r, vault-0: POST /v1/secret/data/openova/replication-canary answered 403: permission denied",
        );
    });

    it("names the call and Vault's error, never the key", async () => {
        const error = await api().unseal("r", "vault-2", new Sensitive("bm90LWEta2V5")).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(VaultHttpError);
        expect((error as Error).message).toBe("region r, vault-2: PUT /v1/sys/unseal answered 400: Unseal failed, invalid key");
        expect((error as Error).message).not.toContain("bm90LWEta2V5");
    });

    it("says which server could not be reached", async () => {
        const unreachable = new VaultHttpApi(() => Promise.resolve("http://127.0.0.1:1/"));
        await expect(unreachable.sealStatus("r", "vault-0")).rejects.toThrow(/^region r, vault-0: GET \/v1\/sys\/seal-status failed: /);
    });
});
