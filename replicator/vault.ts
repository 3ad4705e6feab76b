/**
 * The few calls the replicator makes to a Vault (or OpenBao) KV v2 engine, over Node's own HTTP
 * client: no dependency, so the files run in the official Node.js image as they are.
 *
 * KV v2 API (Vault's kv-v2 API docs; vault-plugin-secrets-kv): `GET <mount>/data/<p>[?version=N]`
 * reads a version (404, with the version's metadata in the body, when it is deleted or destroyed);
 * `POST <mount>/data/<p>` with `options.cas` writes only if the current version is `cas` (0: only if
 * the path has no version), and a mismatch is a 400 whose message says "check-and-set"; `GET
 * <mount>/metadata/<p>` has `current_version` and every version's `created_time`, `deletion_time` and
 * (Vault 2) `created_by`; `POST <mount>/delete/<p>` soft-deletes the listed versions.
 */
import * as http from "node:http";
import * as https from "node:https";
import type { VaultLogin } from "./config.ts";
import type { SecretData } from "./decide.ts";

/** Sends one request and returns the answer: Node's HTTP client by default; tests may answer in-process. */
export type Transport = (request: {
    readonly method: string;
    readonly url: URL;
    readonly headers: Readonly<Record<string, string>>;
    readonly body?: string;
}) => Promise<{ readonly status: number; readonly text: string }>;

export interface VaultClientOptions {
    /** `https://host:port` (or `http://` in tests). */
    readonly address: string;
    /** PEM of the CA to verify the server with; undefined for the system's CAs. */
    readonly ca?: string;
    readonly login: VaultLogin;
    /** Reads a file (the token files change when Kubernetes rotates them). */
    readonly readFile: (path: string) => string;
    /** Milliseconds a request may take. */
    readonly timeoutMs?: number;
    /** Default: HTTP(S) with `ca`. */
    readonly transport?: Transport;
}

/** A version's metadata, as much of it as the replicator reads. */
export interface VersionMetadata {
    readonly createdTime: string;
    readonly deletionTime: string;
    readonly destroyed: boolean;
    /** Who wrote it (Vault 2's KV records `created_by.actor`); undefined where Vault does not say. */
    readonly createdBy?: string;
}

export interface PathMetadata {
    readonly currentVersion: number;
    readonly versions: Readonly<Record<string, VersionMetadata>>;
}

/** A read of one version: its data, or that it is deleted or destroyed. */
export type DataRead =
    | { readonly kind: "absent" }
    | { readonly kind: "gone"; readonly version: number }
    | { readonly kind: "data"; readonly version: number; readonly data: SecretData };

/** A failed request: its HTTP status (0 when none came back) and Vault's messages. */
export class VaultError extends Error {
    readonly status: number;

    constructor(message: string, status: number) {
        super(message);
        this.name = "VaultError";
        this.status = status;
    }

    /** Whether a check-and-set write found another version than it named. */
    get casMismatch(): boolean {
        return this.status === 400 && /check-and-set/i.test(this.message);
    }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** String values only: a secret's keys carry strings (anything else is written as its JSON). */
function toSecretData(value: unknown): SecretData {
    const data: Record<string, string> = {};
    if (isRecord(value)) {
        for (const [key, item] of Object.entries(value)) {
            data[key] = typeof item === "string" ? item : JSON.stringify(item);
        }
    }
    return data;
}

/** How long a token is kept after it was refused (403) before the client logs in again. */
export const RELOGIN_AFTER_403_MS = 30_000;

/** A client for one Vault's KV v2 mount. */
export class VaultClient {
    private token?: { readonly value: string; readonly renewAtMs: number; readonly sinceMs: number };
    private readonly agent: http.Agent;
    private readonly options: VaultClientOptions;
    private readonly transport: Transport;
    /** Whether the latest login failed (or has not answered yet): the client has no token it can use. */
    loginFailing = false;

    constructor(options: VaultClientOptions) {
        this.options = options;
        const secure = options.address.startsWith("https:");
        this.agent = secure
            ? new https.Agent({ keepAlive: true, ...(options.ca ? { ca: options.ca } : {}) })
            : new http.Agent({ keepAlive: true });
        this.transport = options.transport ?? ((request) => this.send(request));
    }

    /** One request over HTTP(S), within the timeout. */
    private send(request: Parameters<Transport>[0]): Promise<{ status: number; text: string }> {
        const { method, url, headers, body } = request;
        const send = url.protocol === "https:" ? https.request : http.request;
        const timeoutMs = this.options.timeoutMs ?? 10_000;
        return new Promise((resolve, reject) => {
            const outgoing = send(url, { method, headers, agent: this.agent, timeout: timeoutMs }, (response) => {
                const chunks: Buffer[] = [];
                response.on("data", (chunk: Buffer) => chunks.push(chunk));
                response.on("end", () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
                response.on("error", reject);
            });
            outgoing.on("timeout", () => outgoing.destroy(new Error(`no answer within ${timeoutMs} ms`)));
            outgoing.on("error", reject);
            outgoing.end(body);
        });
    }

    /** The address, for messages. */
    get address(): string {
        return this.options.address;
    }

    close(): void {
        this.agent.destroy();
    }

    private async request(method: string, path: string, body?: unknown, authenticated = true): Promise<{ status: number; json: unknown }> {
        const headers: Record<string, string> = { accept: "application/json" };
        if (authenticated) {
            headers["x-vault-token"] = await this.currentToken();
        }
        const payload = body === undefined ? undefined : JSON.stringify(body);
        if (payload !== undefined) {
            headers["content-type"] = "application/json";
            headers["content-length"] = String(Buffer.byteLength(payload));
        }
        const url = new URL(`/v1/${path}`, this.options.address);
        let answer: { status: number; text: string };
        try {
            answer = await this.transport({ method, url, headers, ...(payload === undefined ? {} : { body: payload }) });
        } catch (error) {
            throw new VaultError(`${method} ${url.href}: ${error instanceof Error ? error.message : String(error)}`, 0);
        }
        const { status, text } = answer;
        let json: unknown;
        try {
            json = text === "" ? undefined : (JSON.parse(text) as unknown);
        } catch {
            json = undefined;
        }
        if (status === 403 && authenticated && this.token !== undefined && Date.now() - this.token.sinceMs >= RELOGIN_AFTER_403_MS) {
            // Vault answers 403 both for a token that expired or was revoked early and for a path its
            // policy does not grant: log in again next time, but at most once per RELOGIN_AFTER_403_MS,
            // so a path refused again and again does not make a login of every request.
            this.token = undefined;
        }
        return { status, json };
    }

    private fail(method: string, path: string, status: number, json: unknown): never {
        const errors = isRecord(json) && Array.isArray(json.errors) ? json.errors.map(String).join("; ") : "";
        throw new VaultError(`${method} ${this.options.address}/v1/${path}: HTTP ${status}${errors ? `: ${errors}` : ""}`, status);
    }

    /** A token, logging in when there is none or it is past two thirds of its lease. */
    private async currentToken(): Promise<string> {
        if (this.token !== undefined && Date.now() < this.token.renewAtMs) {
            return this.token.value;
        }
        const { login, readFile } = this.options;
        if (login.kind === "token-file") {
            const value = readFile(login.path).trim();
            // Re-read the file now and then: the Secret behind it may be rotated.
            this.token = { value, renewAtMs: Date.now() + 60_000, sinceMs: Date.now() };
            return value;
        }
        const path = `auth/${login.mount}/login`;
        this.loginFailing = true;
        const { status, json } = await this.request("POST", path, { role: login.role, jwt: readFile(login.path).trim() }, false);
        const auth = isRecord(json) && isRecord(json.auth) ? json.auth : undefined;
        if (status !== 200 || auth === undefined || typeof auth.client_token !== "string") {
            this.fail("POST", path, status, json);
        }
        this.loginFailing = false;
        const leaseMs = typeof auth.lease_duration === "number" ? auth.lease_duration * 1000 : 60_000;
        this.token = { value: auth.client_token, renewAtMs: Date.now() + (leaseMs * 2) / 3, sinceMs: Date.now() };
        return auth.client_token;
    }

    /**
     * The display name of this client's token (`auth/token/lookup-self`, which Vault's default policy
     * allows): what Vault records as the writer of its versions.
     */
    async displayName(): Promise<string> {
        const path = "auth/token/lookup-self";
        const { status, json } = await this.request("GET", path);
        const data = isRecord(json) && isRecord(json.data) ? json.data : undefined;
        if (status !== 200 || data === undefined || typeof data.display_name !== "string") {
            this.fail("GET", path, status, json);
        }
        return data.display_name;
    }

    /** The path's metadata, or undefined when it has none (never written, or deleted with its metadata). */
    async metadata(mount: string, key: string): Promise<PathMetadata | undefined> {
        const path = `${mount}/metadata/${key}`;
        const { status, json } = await this.request("GET", path);
        if (status === 404) {
            return undefined;
        }
        const data = isRecord(json) && isRecord(json.data) ? json.data : undefined;
        if (status !== 200 || data === undefined) {
            this.fail("GET", path, status, json);
        }
        const versions: Record<string, VersionMetadata> = {};
        for (const [number, version] of Object.entries(isRecord(data.versions) ? data.versions : {})) {
            if (isRecord(version)) {
                const by =
                    isRecord(version.created_by) && typeof version.created_by.actor === "string" ? version.created_by.actor : undefined;
                versions[number] = {
                    createdTime: typeof version.created_time === "string" ? version.created_time : "",
                    deletionTime: typeof version.deletion_time === "string" ? version.deletion_time : "",
                    destroyed: version.destroyed === true,
                    ...(by === undefined ? {} : { createdBy: by }),
                };
            }
        }
        return { currentVersion: Number(data.current_version ?? 0), versions };
    }

    /** A version of the path (the current one without `version`). */
    async read(mount: string, key: string, version?: number): Promise<DataRead> {
        const path = `${mount}/data/${key}${version === undefined ? "" : `?version=${version}`}`;
        const { status, json } = await this.request("GET", path);
        const data = isRecord(json) && isRecord(json.data) ? json.data : undefined;
        const metadata = data !== undefined && isRecord(data.metadata) ? data.metadata : undefined;
        if (status === 404) {
            return metadata !== undefined && typeof metadata.version === "number"
                ? { kind: "gone", version: metadata.version }
                : { kind: "absent" };
        }
        if (status !== 200 || data === undefined || metadata === undefined) {
            this.fail("GET", path, status, json);
        }
        return { kind: "data", version: Number(metadata.version), data: toSecretData(data.data) };
    }

    /**
     * Writes a version if the current one is `cas` (0: if there is none).
     * @returns the new version's number and creation time
     * @throws VaultError with `casMismatch` when another version was written first
     */
    async write(mount: string, key: string, data: SecretData, cas: number): Promise<{ version: number; createdTime: string }> {
        const path = `${mount}/data/${key}`;
        const { status, json } = await this.request("POST", path, { options: { cas }, data });
        const result = isRecord(json) && isRecord(json.data) ? json.data : undefined;
        if (status !== 200 || result === undefined) {
            this.fail("POST", path, status, json);
        }
        return { version: Number(result.version), createdTime: typeof result.created_time === "string" ? result.created_time : "" };
    }

    /** Soft-deletes the listed versions (a version already deleted, or gone, is left as it is). */
    async deleteVersions(mount: string, key: string, versions: readonly number[]): Promise<void> {
        const path = `${mount}/delete/${key}`;
        const { status, json } = await this.request("POST", path, { versions });
        if (status !== 204 && status !== 200) {
            this.fail("POST", path, status, json);
        }
    }
}
