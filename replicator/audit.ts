/**
 * Hints from Vault's audit log: Vault's `socket` audit device streams one JSON document per line for
 * every request and response (Vault's audit docs; `audit/sink_socket.go`). A response to a create,
 * update or delete on a replicated secret's path, without an error, names a secret that may have
 * changed; the replicator then reads it from Vault (an entry's values are HMAC'd, and it may be lost:
 * a hint, never the data).
 */
import * as net from "node:net";

/** The secret path a line names, when it is a successful change under `mount`; undefined otherwise. */
export function changedKey(line: string, mount: string): string | undefined {
    let entry: unknown;
    try {
        entry = JSON.parse(line);
    } catch {
        return undefined;
    }
    if (typeof entry !== "object" || entry === null) return undefined;
    const { type, error, request } = entry as { type?: unknown; error?: unknown; request?: unknown };
    if (type !== "response" || (typeof error === "string" && error !== "") || typeof request !== "object" || request === null) {
        return undefined;
    }
    const { operation, path } = request as { operation?: unknown; path?: unknown };
    if (typeof path !== "string" || !["create", "update", "delete"].includes(String(operation))) {
        return undefined;
    }
    const match = /^([^/]+)\/(data|metadata|delete|destroy|undelete)\/(.+)$/.exec(path);
    return match !== null && match[1] === mount ? match[3] : undefined;
}

/**
 * The secret a changed path is a hint for: the path itself, or, for a peer's offer landing in this
 * region's inbox (`_replication/inbox/<peer>/<key>`), the secret it offers (sooner than the doorbell).
 */
export function hintFor(changed: string): string {
    return /^_replication\/inbox\/[^/]+\/(.+)$/.exec(changed)?.[1] ?? changed;
}

/**
 * Listens for Vault's audit socket on `port`, calling `hint` with every changed path. It reads every
 * line at once and never blocks the sender (a slow audit device slows every Vault request).
 */
export function listenForAudit(port: number, mount: string, hint: (key: string) => void, log: (line: string) => void): net.Server {
    const server = net.createServer((socket) => {
        let buffered = "";
        socket.setEncoding("utf8");
        socket.on("data", (chunk: string) => {
            buffered += chunk;
            let newline = buffered.indexOf("\n");
            while (newline !== -1) {
                const key = changedKey(buffered.slice(0, newline), mount);
                if (key !== undefined) hint(key);
                buffered = buffered.slice(newline + 1);
                newline = buffered.indexOf("\n");
            }
            // One entry is bounded by Vault's request size; a runaway line is dropped.
            if (buffered.length > 4 * 1024 * 1024) buffered = "";
        });
        socket.on("error", (error) => log(`audit connection: ${error.message}`));
    });
    server.listen(port);
    return server;
}
