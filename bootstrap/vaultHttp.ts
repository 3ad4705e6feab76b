/**
 * The bootstrap's adapter to Vault's HTTP API (https://developer.hashicorp.com/vault/api-docs):
 * `sys/seal-status`, `sys/init`, `sys/unseal`, `auth/token/lookup-self`, `auth/token/revoke-self`
 * and a KV v2 write (the `--verify` canary), on one server at a time. Where a server is reached (a port-forward to the
 * pod, say) is the `endpoint` function's business.
 *
 * Key material goes only into request bodies and the `X-Vault-Token` header, and comes back only
 * wrapped in {@link Sensitive}. Errors carry the method, path, HTTP status and Vault's own error
 * messages, never a request or response body.
 */
import type { InitRequest, InitResult, SealStatus, VaultApi } from "./ports";
import { Sensitive } from "./sensitive";

/** The base URL of one Vault server, e.g. `http://127.0.0.1:8200` for a port-forward to it. */
export type Endpoint = (region: string, pod: string) => Promise<string>;

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
    readonly token?: Sensitive;
    /** Longer than the default for a call that may wait on the server (a follower's last unseal key joins Raft first). */
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
    /**
     * @param endpoint where each server is reached
     * @param tokenPod the server token calls go to (any unsealed one forwards to the active server)
     * @param timeoutMs how long one request may take
     */
    constructor(
        private readonly endpoint: Endpoint,
        private readonly tokenPod = "vault-0",
        private readonly timeoutMs = 30_000,
    ) {}

    private async call(region: string, pod: string, call: Call): Promise<{ status: number; body: Record<string, unknown> }> {
        const base = await this.endpoint(region, pod);
        const headers: Record<string, string> = { accept: "application/json" };
        if (call.body !== undefined) {
            headers["content-type"] = "application/json";
        }
        if (call.token !== undefined) {
            headers["x-vault-token"] = call.token.reveal();
        }
        let response: Response;
        try {
            response = await fetch(new URL(call.path, base), {
                method: call.method,
                headers,
                body: call.body === undefined ? undefined : JSON.stringify(call.body),
                signal: AbortSignal.timeout(call.timeoutMs ?? this.timeoutMs),
            });
        } catch (error) {
            throw new VaultHttpError(0, `region ${region}, ${pod}: ${call.method} ${call.path} failed: ${(error as Error).message}`);
        }
        const text = await response.text();
        let body: Record<string, unknown> = {};
        try {
            body = text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
        } catch {
            // Not JSON (a proxy's error page, say): the status says enough.
        }
        if (!response.ok) {
            const errors = Array.isArray(body.errors) ? body.errors.filter((e): e is string => typeof e === "string") : [];
            throw new VaultHttpError(response.status, `region ${region}, ${pod}: ${call.method} ${call.path} answered ${response.status}${errors.length > 0 ? `: ${errors.join("; ")}` : ""}`);
        }
        return { status: response.status, body };
    }

    async sealStatus(region: string, pod: string): Promise<SealStatus> {
        return sealStatusOf((await this.call(region, pod, { method: "GET", path: "/v1/sys/seal-status" })).body);
    }

    async init(region: string, pod: string, request: InitRequest): Promise<InitResult> {
        const { body } = await this.call(region, pod, {
            method: "PUT",
            path: "/v1/sys/init",
            body: {
                secret_shares: request.secretShares,
                secret_threshold: request.secretThreshold,
                ...(request.pgpKeys ? { pgp_keys: request.pgpKeys } : {}),
                ...(request.rootTokenPgpKey ? { root_token_pgp_key: request.rootTokenPgpKey } : {}),
            },
        });
        // keys_base64 holds the plain keys, or with pgp_keys the same encrypted values as keys.
        const keys = Array.isArray(body.keys_base64) ? body.keys_base64 : Array.isArray(body.keys) ? body.keys : [];
        if (keys.length !== request.secretShares || typeof body.root_token !== "string") {
            throw new VaultHttpError(200, `region ${region}, ${pod}: PUT /v1/sys/init answered without ${request.secretShares} keys and a root token`);
        }
        return { keys: keys.map((key) => new Sensitive(String(key))), rootToken: new Sensitive(body.root_token) };
    }

    async unseal(region: string, pod: string, key: Sensitive): Promise<SealStatus> {
        return sealStatusOf((await this.call(region, pod, { method: "PUT", path: "/v1/sys/unseal", body: { key: key.reveal() }, timeoutMs: 4 * this.timeoutMs })).body);
    }

    async tokenInfo(region: string, token: Sensitive): Promise<{ valid: boolean; root: boolean }> {
        try {
            const { body } = await this.call(region, this.tokenPod, { method: "GET", path: "/v1/auth/token/lookup-self", token });
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
        await this.call(region, this.tokenPod, { method: "POST", path: "/v1/auth/token/revoke-self", token });
    }

    async kvPut(region: string, token: Sensitive, mount: string, path: string, data: Readonly<Record<string, string>>): Promise<void> {
        await this.call(region, this.tokenPod, { method: "POST", path: `/v1/${mount}/data/${path}`, token, body: { data } });
    }
}
