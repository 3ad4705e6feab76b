/**
 * The bootstrap's adapter to Vault's HTTP API (https://developer.hashicorp.com/vault/api-docs):
 * `sys/seal-status`, `sys/init`, `sys/unseal`, `auth/token/lookup-self`, `auth/token/revoke-self`,
 * a KV v2 write (the `--verify` canary), and for the restore `sys/storage/raft/snapshot(-force)` and
 * `sys/storage/raft/configuration`, on one server at a time. Where a server is reached (a port-forward to the
 * pod, say) is the `endpoint` function's business.
 *
 * With TLS on for a region, every call is HTTPS (node:https): the server's certificate must chain to
 * the region's CA and cover the pod's in-cluster name ({@link vaultServerName}), which is also sent as
 * SNI. The port-forward's address (127.0.0.1) is never what is verified, and verification is never
 * turned off. With TLS off, plain HTTP.
 *
 * Key material goes only into request bodies and the `X-Vault-Token` header, and comes back only
 * wrapped in {@link Sensitive}. Errors carry the method, path, HTTP status and Vault's own error
 * messages, never a request or response body.
 */
import * as http from "node:http";
import * as https from "node:https";
import { type Engine, engineFacts } from "../components/common/engine";
import type { InitRequest, InitResult, RaftServer, SealStatus, VaultApi } from "./ports";
import { Sensitive } from "./sensitive";

/**
 * The base URL of one Vault server, e.g. `http://127.0.0.1:8200` for a port-forward to it. For a
 * region with TLS on, its scheme is replaced by https (a port-forward carries either).
 */
export type Endpoint = (region: string, pod: string) => Promise<string>;

/** TLS to a region's servers: the CA (PEM) their certificates chain to, and the namespace they run in. */
export interface RegionTls {
    readonly ca: string;
    readonly namespace: string;
}

/**
 * The name a server's certificate is verified against: `<pod>.vault-internal.<namespace>.svc`, its
 * name behind the chart's headless service, which the certificate covers
 * (`*.vault-internal.<namespace>.svc`, components/vault-server/tls.ts; `openbao-internal` with
 * OpenBao). Not the shorter `<pod>.vault-internal`: Node.js refuses a wildcard over two labels
 * (`*.vault-internal`), as a `*.<tld>` wildcard, so that name never verifies.
 */
export function vaultServerName(pod: string, namespace: string, engine: Engine = "vault"): string {
    return `${pod}.${engineFacts(engine).releaseName}-internal.${namespace}.svc`;
}

export class VaultHttpError extends Error {
    constructor(
        readonly status: number,
        message: string,
    ) {
        super(message);
        this.name = "VaultHttpError";
    }
}

interface Call {
    readonly method: "GET" | "PUT" | "POST";
    readonly path: string;
    readonly body?: unknown;
    /** A binary body instead (a snapshot), sent as it is. */
    readonly raw?: Uint8Array;
    readonly token?: Sensitive;
    /** Longer than the default for a call that may wait on the server (a follower's last unseal key joins Raft first). */
    readonly timeoutMs?: number;
}

export interface VaultHttpOptions {
    /** Per region: TLS to its servers, or undefined for plain HTTP (the default for every region). */
    readonly tls?: (region: string) => RegionTls | undefined;
    /** Per region: its engine, which names its servers. Default `vault` for every region. */
    readonly engine?: (region: string) => Engine;
    /** The server token calls go to (any unsealed one forwards to the active server). Default the region's first, `vault-0` (`openbao-0`). */
    readonly tokenPod?: string;
    /** How long one request may take. Default 30 s. */
    readonly timeoutMs?: number;
}

function sealStatusOf(body: Record<string, unknown>): SealStatus {
    return {
        initialized: body.initialized === true,
        sealed: body.sealed === true,
        t: Number(body.t ?? 0),
        n: Number(body.n ?? 0),
        progress: Number(body.progress ?? 0),
    };
}

export class VaultHttpApi implements VaultApi {
    private readonly tls: (region: string) => RegionTls | undefined;
    private readonly engine: (region: string) => Engine;
    private readonly tokenPodOf: (region: string) => string;
    private readonly timeoutMs: number;

    /** @param endpoint where each server is reached */
    constructor(
        private readonly endpoint: Endpoint,
        options: VaultHttpOptions = {},
    ) {
        this.tls = options.tls ?? (() => undefined);
        const engine = options.engine ?? (() => "vault");
        this.engine = engine;
        const tokenPod = options.tokenPod;
        this.tokenPodOf = (region) => tokenPod ?? `${engineFacts(engine(region)).releaseName}-0`;
        this.timeoutMs = options.timeoutMs ?? 30_000;
    }

    private async call(region: string, pod: string, call: Call): Promise<{ status: number; body: Record<string, unknown> }> {
        const tls = this.tls(region);
        const failed = (message: string) =>
            new VaultHttpError(0, `region ${region}, ${pod}: ${call.method} ${call.path} failed: ${message}`);
        if (tls !== undefined && tls.ca.trim() === "") {
            throw failed("TLS is on, but there is no CA to verify the server with (openova-vault:vaultCaCertFile)");
        }
        const url = new URL(call.path, await this.endpoint(region, pod));
        if (tls !== undefined) {
            url.protocol = "https:";
        }
        const headers: Record<string, string> = { accept: "application/json" };
        const payload = call.raw !== undefined ? Buffer.from(call.raw) : call.body === undefined ? undefined : JSON.stringify(call.body);
        if (payload !== undefined) {
            headers["content-type"] = call.raw !== undefined ? "application/octet-stream" : "application/json";
            headers["content-length"] = String(Buffer.byteLength(payload));
        }
        if (call.token !== undefined) {
            headers["x-vault-token"] = call.token.reveal();
        }
        let response: { status: number; text: string };
        try {
            response = await send(url, {
                method: call.method,
                headers,
                payload,
                timeoutMs: call.timeoutMs ?? this.timeoutMs,
                tls: tls && { ca: tls.ca, servername: vaultServerName(pod, tls.namespace, this.engine(region)) },
            });
        } catch (error) {
            throw failed((error as Error).message);
        }
        const text = response.text;
        let body: Record<string, unknown> = {};
        try {
            body = text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
        } catch {
            // Not JSON (a proxy's error page, say): the status says enough.
        }
        if (response.status < 200 || response.status > 299) {
            const errors = Array.isArray(body.errors) ? body.errors.filter((e): e is string => typeof e === "string") : [];
            throw new VaultHttpError(
                response.status,
                `region ${region}, ${pod}: ${call.method} ${call.path} answered ${response.status}${errors.length > 0 ? `: ${errors.join("; ")}` : ""}`,
            );
        }
        return { status: response.status, body };
    }

    async sealStatus(region: string, pod: string): Promise<SealStatus> {
        return sealStatusOf((await this.call(region, pod, { method: "GET", path: "/v1/sys/seal-status" })).body);
    }

    async init(region: string, pod: string, request: InitRequest): Promise<InitResult> {
        const auto = request.autoUnseal === true;
        const { body } = await this.call(region, pod, {
            method: "PUT",
            path: "/v1/sys/init",
            // With auto-unseal, the shares are recovery keys; Vault sets the (stored) unseal key itself.
            body: auto
                ? {
                      recovery_shares: request.secretShares,
                      recovery_threshold: request.secretThreshold,
                      ...(request.pgpKeys ? { recovery_pgp_keys: request.pgpKeys } : {}),
                      ...(request.rootTokenPgpKey ? { root_token_pgp_key: request.rootTokenPgpKey } : {}),
                  }
                : {
                      secret_shares: request.secretShares,
                      secret_threshold: request.secretThreshold,
                      ...(request.pgpKeys ? { pgp_keys: request.pgpKeys } : {}),
                      ...(request.rootTokenPgpKey ? { root_token_pgp_key: request.rootTokenPgpKey } : {}),
                  },
        });
        // keys_base64 (recovery_keys_base64) holds the plain keys, or with PGP keys the same encrypted values as keys (recovery_keys).
        const [base64, plain] = auto ? [body.recovery_keys_base64, body.recovery_keys] : [body.keys_base64, body.keys];
        const keys = Array.isArray(base64) ? base64 : Array.isArray(plain) ? plain : [];
        if (keys.length !== request.secretShares || typeof body.root_token !== "string") {
            throw new VaultHttpError(
                200,
                `region ${region}, ${pod}: PUT /v1/sys/init answered without ${request.secretShares} ${auto ? "recovery " : ""}keys and a root token`,
            );
        }
        return { keys: keys.map((key) => new Sensitive(String(key))), rootToken: new Sensitive(body.root_token) };
    }

    async unseal(region: string, pod: string, key: Sensitive): Promise<SealStatus> {
        return sealStatusOf(
            (
                await this.call(region, pod, {
                    method: "PUT",
                    path: "/v1/sys/unseal",
                    body: { key: key.reveal() },
                    timeoutMs: 4 * this.timeoutMs,
                })
            ).body,
        );
    }

    async tokenInfo(region: string, token: Sensitive): Promise<{ valid: boolean; root: boolean }> {
        try {
            const { body } = await this.call(region, this.tokenPodOf(region), { method: "GET", path: "/v1/auth/token/lookup-self", token });
            const data = (body.data ?? {}) as { policies?: unknown };
            return { valid: true, root: Array.isArray(data.policies) && data.policies.includes("root") };
        } catch (error) {
            if (error instanceof VaultHttpError && error.status === 403) {
                return { valid: false, root: false };
            }
            throw error;
        }
    }

    async revoke(region: string, token: Sensitive): Promise<void> {
        await this.call(region, this.tokenPodOf(region), { method: "POST", path: "/v1/auth/token/revoke-self", token });
    }

    async kvPut(region: string, token: Sensitive, mount: string, path: string, data: Readonly<Record<string, string>>): Promise<void> {
        await this.call(region, this.tokenPodOf(region), { method: "POST", path: `/v1/${mount}/data/${path}`, token, body: { data } });
    }

    async restoreSnapshot(region: string, pod: string, token: Sensitive, snapshot: Uint8Array, force: boolean): Promise<void> {
        // Vault API, "Restore Raft using a snapshot" and "Force restore Raft using a snapshot" (sys/storage/raft);
        // OpenBao serves the same paths (openbao v2.6.2 vault/logical_system_raft.go).
        await this.call(region, pod, {
            method: "POST",
            path: force ? "/v1/sys/storage/raft/snapshot-force" : "/v1/sys/storage/raft/snapshot",
            token,
            raw: snapshot,
            timeoutMs: 20 * this.timeoutMs,
        });
    }

    async raftServers(region: string, token: Sensitive): Promise<RaftServer[]> {
        const { body } = await this.call(region, this.tokenPodOf(region), {
            method: "GET",
            path: "/v1/sys/storage/raft/configuration",
            token,
        });
        const servers = ((body.data as { config?: { servers?: unknown } } | undefined)?.config?.servers ?? []) as Record<string, unknown>[];
        return servers.map((server) => ({
            nodeId: typeof server.node_id === "string" ? server.node_id : "",
            address: typeof server.address === "string" ? server.address : "",
            leader: server.leader === true,
            voter: server.voter === true,
        }));
    }
}

/** One request over HTTP, or HTTPS verified with `tls` (never without verification). @throws on no answer within the time */
function send(
    url: URL,
    request: {
        readonly method: string;
        readonly headers: Readonly<Record<string, string>>;
        readonly payload?: string | Buffer;
        readonly timeoutMs: number;
        readonly tls?: { readonly ca: string; readonly servername: string };
    },
): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
        // No keep-alive agent: a connection through a port-forward is not reused, nor left open.
        const common = { method: request.method, headers: { ...request.headers }, agent: false } as const;
        const req =
            request.tls === undefined
                ? http.request(url, common)
                : https.request(url, { ...common, ca: request.tls.ca, servername: request.tls.servername, rejectUnauthorized: true });
        const timer = setTimeout(
            () => req.destroy(new Error(`no answer within ${Math.round(request.timeoutMs / 1000)} s`)),
            request.timeoutMs,
        );
        const done =
            <T>(settle: (value: T) => void) =>
            (value: T) => {
                clearTimeout(timer);
                settle(value);
            };
        req.on("error", done(reject));
        req.on("response", (response) => {
            const chunks: Buffer[] = [];
            response.on("data", (chunk: Buffer) => chunks.push(chunk));
            response.on("error", done(reject));
            response.on("end", () => done(resolve)({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        });
        req.end(request.payload);
    });
}
