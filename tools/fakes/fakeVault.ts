/**
 * A local HTTP server that answers like a Vault KV v2 engine, for the replicator's tests: the data,
 * metadata, delete and login calls the replicator makes, as Vault's kv-v2 API docs and the KV plugin's
 * code describe them (vault-plugin-secrets-kv): versions counting up per path, check-and-set on writes
 * (a 400 saying "check-and-set parameter did not match the current version"), soft deletion that keeps
 * the version and its metadata (a read answers 404 with the metadata), deletion of the metadata with
 * every version, `max_versions` 10, `custom_metadata` replaced as a whole, `created_time` from this
 * server's own clock, and, as Vault 2 does, who wrote each version (`created_by.actor`).
 *
 * Faults for the tests: a clock offset, callers cut off (their requests are dropped, as across a
 * partition), answers lost after the write was applied, writes refused without being applied, and a
 * count of every request. And what a socket audit device would stream: listeners told of every change,
 * by its path under the mount.
 *
 * Dev tooling: the replicator's tests and the bench use it.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

interface Version {
    readonly data: Record<string, unknown>;
    readonly createdTime: string;
    deletionTime: string;
    destroyed: boolean;
    readonly createdBy: string;
}

interface Entry {
    currentVersion: number;
    oldestVersion: number;
    readonly versions: Map<number, Version>;
    customMetadata: Record<string, string> | null;
    readonly createdTime: string;
    updatedTime: string;
}

/** Who a token belongs to, and what it may reach. */
export interface FakeIdentity {
    /** Vault's display name for the token (`created_by.actor`). */
    readonly displayName: string;
    /** Path prefixes (after `/v1/`) the token may use; every path when absent. */
    readonly allow?: readonly string[];
}

export interface FakeVaultOptions {
    /** This server's clock minus true time, in ms. */
    readonly clockOffsetMs?: number;
    /** True time in ms; default the system clock (tests of generated histories pass a virtual one). */
    readonly clock?: () => number;
    /** Whether versions record who wrote them (Vault 2 does; OpenBao does not). Default true. */
    readonly attribution?: boolean;
    /** Logins this server accepts: `<mount>/<role>` and the JWT it must be shown, to an identity. */
    readonly logins?: Readonly<Record<string, { readonly jwt: string; readonly identity: FakeIdentity }>>;
}

/** RFC 3339 with nanoseconds, as Vault writes times. */
function vaultTime(ms: number, nanos: number): string {
    return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, (_m, millis: string) => `.${millis}${String(nanos).padStart(6, "0")}Z`);
}

export class FakeVault {
    private readonly server: http.Server;
    private readonly entries = new Map<string, Entry>();
    private readonly tokens = new Map<string, FakeIdentity>();
    private nanos = 0;
    private tokenCount = 0;
    clockOffsetMs: number;
    private readonly clock: () => number;
    readonly attribution: boolean;
    /** Display names whose requests are dropped without an answer (a cut link). */
    readonly cutOff = new Set<string>();
    /** Display names whose next write is applied but answered with a dropped connection (a lost acknowledgement). */
    readonly loseNextAnswer = new Set<string>();
    /**
     * Display names whose next write to a path the test names (by its path under the mount) fails
     * without being applied, answered 503 as while the active node changes.
     */
    readonly failWrite = new Map<string, (key: string) => boolean>();
    /** Display names refused (403) every write to a path the test names, as where a policy does not grant it. */
    readonly refuseWrite = new Map<string, (key: string) => boolean>();
    /** Display names whose requests wait for a promise before they are answered (in-process only): a slow link, held open by the test. */
    readonly held = new Map<string, Promise<void>>();
    /** Revokes every token this Vault issued (as `vault token revoke` would, one by one). */
    revokeAll(): void {
        this.tokens.clear();
    }

    /** Told of every change (a write, a deletion), with its path under the mount, as a socket audit device streams it. */
    readonly audit = new Set<(key: string) => void>();
    /** Requests served, by method and kind (`GET data`, `POST data`, `GET metadata`, ...), and by caller. */
    readonly requests = { total: 0, byKind: new Map<string, number>(), byCaller: new Map<string, number>() };
    private readonly logins: NonNullable<FakeVaultOptions["logins"]>;

    constructor(options: FakeVaultOptions = {}) {
        this.clockOffsetMs = options.clockOffsetMs ?? 0;
        this.clock = options.clock ?? Date.now;
        this.attribution = options.attribution ?? true;
        this.logins = options.logins ?? {};
        this.server = http.createServer((request, response) => {
            const chunks: Buffer[] = [];
            request.on("data", (chunk: Buffer) => chunks.push(chunk));
            request.on("end", () => {
                const token = request.headers["x-vault-token"];
                const answer = this.dispatch(
                    request.method ?? "GET",
                    request.url ?? "/",
                    typeof token === "string" ? token : undefined,
                    Buffer.concat(chunks).toString("utf8"),
                );
                if (answer === "drop") {
                    request.socket.destroy();
                    return;
                }
                response.writeHead(answer.status, { "content-type": "application/json", "content-length": Buffer.byteLength(answer.text) });
                response.end(answer.text);
            });
        });
        this.server.keepAliveTimeout = 60_000;
    }

    async start(): Promise<string> {
        await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
        return this.address;
    }

    get address(): string {
        return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    }

    async stop(): Promise<void> {
        this.server.closeAllConnections();
        await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }

    /** A token for `identity`, as if it had logged in. */
    issueToken(identity: FakeIdentity): string {
        const token = `hvs.fake-${++this.tokenCount}`;
        this.tokens.set(token, identity);
        return token;
    }

    private now(): string {
        // Strictly increasing nanoseconds within a millisecond, as Vault's times are.
        this.nanos = (this.nanos + 1) % 1_000_000;
        return vaultTime(this.clock() + this.clockOffsetMs, this.nanos);
    }

    // --- What people and apps do to this Vault directly (the tests' writes) ---

    /** `vault kv put`: writes a new version, no check-and-set. */
    put(key: string, data: Record<string, string>, actor = "operator"): number {
        return this.addVersion(key, data, actor);
    }

    /** `vault kv delete`: soft-deletes the current version. */
    softDelete(key: string): void {
        const entry = this.entries.get(key);
        const version = entry?.versions.get(entry.currentVersion);
        if (version !== undefined && version.deletionTime === "") {
            version.deletionTime = this.now();
            this.changed(key);
        }
    }

    /** `vault kv metadata delete`: removes the path with every version. */
    purge(key: string): void {
        this.entries.delete(key);
        this.changed(key);
    }

    private changed(key: string): void {
        for (const listener of this.audit) listener(key);
    }

    /** The current value of a path: its data, or undefined when it has none or it is deleted. */
    current(key: string): Record<string, unknown> | undefined {
        const entry = this.entries.get(key);
        const version = entry?.versions.get(entry.currentVersion);
        return version === undefined || version.deletionTime !== "" || version.destroyed ? undefined : version.data;
    }

    /** Every path with versions under a prefix. */
    keys(prefix = ""): string[] {
        return [...this.entries.keys()].filter((key) => key.startsWith(prefix)).sort();
    }

    private addVersion(key: string, data: Record<string, unknown>, actor: string): number {
        const time = this.now();
        let entry = this.entries.get(key);
        if (entry === undefined) {
            entry = {
                currentVersion: 0,
                oldestVersion: 0,
                versions: new Map(),
                customMetadata: null,
                createdTime: time,
                updatedTime: time,
            };
            this.entries.set(key, entry);
        }
        entry.currentVersion++;
        entry.updatedTime = time;
        entry.versions.set(entry.currentVersion, { data, createdTime: time, deletionTime: "", destroyed: false, createdBy: actor });
        this.changed(key);
        // max_versions 10: the oldest versions go.
        while (entry.versions.size > 10) {
            const oldest = Math.min(...entry.versions.keys());
            entry.versions.delete(oldest);
            entry.oldestVersion = Math.min(...entry.versions.keys());
        }
        return entry.currentVersion;
    }

    private versionMetadata(version: Version, number: number): Record<string, unknown> {
        return {
            version: number,
            created_time: version.createdTime,
            deletion_time: version.deletionTime,
            destroyed: version.destroyed,
            ...(this.attribution ? { created_by: { actor: version.createdBy, operation: "create" } } : {}),
        };
    }

    /**
     * A transport for the replicator's VaultClient that answers in-process, without sockets (for
     * thousands of generated histories); a dropped request fails as a lost connection does.
     */
    transport(): (request: {
        method: string;
        url: URL;
        headers: Readonly<Record<string, string>>;
        body?: string;
    }) => Promise<{ status: number; text: string }> {
        return async (request) => {
            const token = request.headers["x-vault-token"];
            const held = this.held.get((token === undefined ? undefined : this.tokens.get(token)?.displayName) ?? "anonymous");
            if (held !== undefined) await held;
            const answer = this.dispatch(
                request.method,
                `${request.url.pathname}${request.url.search}`,
                request.headers["x-vault-token"],
                request.body ?? "",
            );
            if (answer === "drop") throw new Error("socket hang up");
            return answer;
        };
    }

    /** One request: its answer, or "drop" for a connection closed without one. */
    dispatch(method: string, target: string, token: string | undefined, body: string): { status: number; text: string } | "drop" {
        let result: { status: number; text: string } | "drop" = "drop";
        const url = new URL(target, "http://fake");
        const path = decodeURIComponent(url.pathname.replace(/^\/v1\//, ""));
        const identity = token === undefined ? undefined : this.tokens.get(token);
        const caller = identity?.displayName ?? "anonymous";
        if (this.cutOff.has(caller)) {
            return "drop";
        }
        this.requests.total++;
        const kind = `${method} ${/^[^/]+\/(data|metadata|delete)\//.exec(path)?.[1] ?? path.split("/")[0]}`;
        this.requests.byKind.set(kind, (this.requests.byKind.get(kind) ?? 0) + 1);
        this.requests.byCaller.set(caller, (this.requests.byCaller.get(caller) ?? 0) + 1);
        const failing = method === "GET" ? undefined : this.failWrite.get(caller);
        if (method !== "GET" && this.refuseWrite.get(caller)?.(path.replace(/^[^/]+\/(data|metadata|delete)\//, "")) === true) {
            return { status: 403, text: JSON.stringify({ errors: ["1 error occurred:\n\t* permission denied\n\n"] }) };
        }
        if (failing?.(path.replace(/^[^/]+\/(data|metadata|delete)\//, "")) === true) {
            this.failWrite.delete(caller);
            return { status: 503, text: JSON.stringify({ errors: ["local node not active but active cluster node not found"] }) };
        }
        const send = (status: number, json?: unknown) => {
            if (this.loseNextAnswer.has(caller) && method !== "GET") {
                this.loseNextAnswer.delete(caller);
                result = "drop";
                return;
            }
            result = { status, text: json === undefined ? "" : JSON.stringify(json) };
        };
        let parsed: Record<string, unknown> = {};
        try {
            parsed = body === "" ? {} : (JSON.parse(body) as Record<string, unknown>);
        } catch {
            send(400, { errors: ["failed to parse JSON input"] });
            return result;
        }

        const login = /^auth\/(.+)\/login$/.exec(path);
        if (login !== null && method === "POST") {
            const accepted = this.logins[`${login[1]}/${String(parsed.role)}`];
            if (accepted === undefined || accepted.jwt !== parsed.jwt) {
                send(400, { errors: ["permission denied"] });
                return result;
            }
            send(200, { auth: { client_token: this.issueToken(accepted.identity), lease_duration: 900, renewable: true } });
            return result;
        }
        if (identity === undefined) {
            send(403, { errors: ["permission denied"] });
            return result;
        }
        // Vault's default policy: every token may look itself up.
        if (path === "auth/token/lookup-self" && method === "GET") {
            send(200, { data: { display_name: identity.displayName, policies: ["default"] } });
            return result;
        }
        if (identity.allow !== undefined && !identity.allow.some((prefix) => path.startsWith(prefix))) {
            send(403, { errors: ["1 error occurred:\n\t* permission denied\n\n"] });
            return result;
        }
        const route = /^([^/]+)\/(data|metadata|delete)\/(.+)$/.exec(path);
        if (route === null) {
            send(404, { errors: [] });
            return result;
        }
        const [, , section, key] = route;
        const entry = this.entries.get(key);

        if (section === "data" && method === "GET") {
            const number =
                url.searchParams.has("version") && url.searchParams.get("version") !== "0"
                    ? Number(url.searchParams.get("version"))
                    : entry?.currentVersion;
            const version = number === undefined ? undefined : entry?.versions.get(number);
            if (entry === undefined || version === undefined || number === undefined) {
                send(404, { errors: [] });
                return result;
            }
            const metadata = { ...this.versionMetadata(version, number), custom_metadata: entry.customMetadata };
            if (version.deletionTime !== "" || version.destroyed) {
                send(404, { data: { data: null, metadata } });
                return result;
            }
            send(200, { data: { data: version.data, metadata } });
            return result;
        }
        if (section === "data" && (method === "POST" || method === "PUT")) {
            const options = (parsed.options ?? {}) as Record<string, unknown>;
            const data = parsed.data;
            if (typeof data !== "object" || data === null) {
                send(400, { errors: ["no data provided"] });
                return result;
            }
            if (options.cas !== undefined && Number(options.cas) !== (entry?.currentVersion ?? 0)) {
                send(400, { errors: ["check-and-set parameter did not match the current version"] });
                return result;
            }
            const number = this.addVersion(key, data as Record<string, unknown>, caller);
            const version = this.entries.get(key)?.versions.get(number) as Version;
            send(200, { data: this.versionMetadata(version, number) });
            return result;
        }
        if (section === "data" && method === "DELETE") {
            this.softDelete(key);
            send(204);
            return result;
        }
        if (section === "delete" && (method === "POST" || method === "PUT")) {
            const versions = Array.isArray(parsed.versions) ? parsed.versions.map(Number) : [];
            for (const number of versions) {
                const version = entry?.versions.get(number);
                if (version !== undefined && version.deletionTime === "" && !version.destroyed) {
                    version.deletionTime = this.now();
                    this.changed(key);
                }
            }
            send(204);
            return result;
        }
        if (section === "metadata" && method === "GET") {
            if (entry === undefined) {
                send(404, { errors: [] });
                return result;
            }
            send(200, {
                data: {
                    current_version: entry.currentVersion,
                    oldest_version: entry.oldestVersion,
                    created_time: entry.createdTime,
                    updated_time: entry.updatedTime,
                    max_versions: 0,
                    cas_required: false,
                    delete_version_after: "0s",
                    custom_metadata: entry.customMetadata,
                    versions: Object.fromEntries(
                        [...entry.versions].map(([number, version]) => {
                            const { version: _n, ...rest } = this.versionMetadata(version, number);
                            return [String(number), rest];
                        }),
                    ),
                },
            });
            return result;
        }
        if (section === "metadata" && method === "DELETE") {
            this.purge(key);
            send(204);
            return result;
        }
        if (section === "metadata" && method === "POST") {
            const target = entry ?? this.entries.get(key);
            if (target !== undefined && parsed.custom_metadata !== undefined) {
                target.customMetadata = parsed.custom_metadata as Record<string, string>;
            }
            send(204);
            return result;
        }
        send(405, { errors: ["unsupported operation"] });
        return result;
    }
}
