/**
 * What the end-to-end lane reads from the tools it runs, as pure functions: kubectl's JSON, Pulumi's
 * JSON, the bootstrap's lines, CoreDNS's Corefile and the pinned versions file. No secret value is
 * ever returned: a Secret's keys come back as SHA-256 digests.
 */
import { createHash } from "node:crypto";

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** `KEY=value` lines of a shell env file (scripts/e2e/versions.env); comments and blank lines skipped. @throws on any other line */
export function parseEnvFile(text: string): Record<string, string> {
    const values: Record<string, string> = {};
    text.split("\n").forEach((line, i) => {
        const trimmed = line.trim();
        if (trimmed === "" || trimmed.startsWith("#")) {
            return;
        }
        const match = /^([A-Z][A-Z0-9_]*)=([^\s"'$`\\]+)$/.exec(trimmed);
        if (match === null) {
            throw new Error(`line ${i + 1}: expected KEY=value with a plain value (no quotes, spaces or expansions): ${trimmed}`);
        }
        values[match[1]] = match[2];
    });
    return values;
}

/** The items of a `kubectl get ... -o json` answer (a List, or one object). @throws when it is neither */
export function kubeItems(json: unknown): Record<string, unknown>[] {
    if (isRecord(json) && Array.isArray(json.items)) {
        return json.items.filter(isRecord);
    }
    if (isRecord(json) && isRecord(json.metadata)) {
        return [json];
    }
    throw new Error("not a Kubernetes object or list");
}

/** An object's `Ready` condition, as kubectl shows it. */
export interface Readiness {
    readonly kind: string;
    readonly namespace?: string;
    readonly name: string;
    readonly ready: boolean;
    readonly reason?: string;
    readonly message?: string;
}

/** The Ready condition of every object in a list (ESO's stores, ExternalSecrets and PushSecrets all have one). */
export function readiness(json: unknown): Readiness[] {
    return kubeItems(json).map((item) => {
        const metadata = isRecord(item.metadata) ? item.metadata : {};
        const status = isRecord(item.status) ? item.status : {};
        const conditions = Array.isArray(status.conditions) ? status.conditions.filter(isRecord) : [];
        const ready = conditions.find((c) => c.type === "Ready");
        const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);
        return {
            kind: text(item.kind) ?? "",
            ...(text(metadata.namespace) === undefined ? {} : { namespace: text(metadata.namespace) }),
            name: text(metadata.name) ?? "",
            ready: ready?.status === "True",
            ...(text(ready?.reason) === undefined ? {} : { reason: text(ready?.reason) }),
            ...(text(ready?.message) === undefined ? {} : { message: text(ready?.message) }),
        };
    });
}

/** `Kind namespace/name` or `Kind name`. */
export function objectName(object: Pick<Readiness, "kind" | "namespace" | "name">): string {
    return `${object.kind} ${object.namespace === undefined ? "" : `${object.namespace}/`}${object.name}`;
}

/** One line per object that is not Ready, with its reason and message. */
export function notReady(region: string, objects: readonly Readiness[]): string[] {
    return objects
        .filter((o) => !o.ready)
        .map(
            (o) => `region ${region}: ${objectName(o)} is not Ready${o.reason ? ` (${o.reason}${o.message ? `: ${o.message}` : ""})` : ""}`,
        );
}

/**
 * ESO's reason for a store it could not check: a store whose service account is the referent's own
 * (the local stores) skips the login, and reports Ready with this reason (external-secrets v2.9.0,
 * pkg/controllers/secretstore/common.go), so only its ExternalSecrets and PushSecrets prove it works.
 */
export const VALIDATION_UNKNOWN = "ValidationUnknown";

/** The InternalIP of the first node in a `kubectl get nodes -o json` answer. */
export function nodeAddress(json: unknown): string | undefined {
    for (const node of kubeItems(json)) {
        const status = isRecord(node.status) ? node.status : {};
        const addresses = Array.isArray(status.addresses) ? status.addresses.filter(isRecord) : [];
        const internal = addresses.find((a) => a.type === "InternalIP" && typeof a.address === "string");
        if (internal !== undefined) {
            return internal.address as string;
        }
    }
    return undefined;
}

/** The SHA-256 of each key's value in a `kubectl get secret -o json` answer; the values never leave this function. */
export function secretDigests(json: unknown): Record<string, string> {
    const [secret] = kubeItems(json);
    const data: Record<string, unknown> = isRecord(secret?.data) ? secret.data : {};
    return Object.fromEntries(
        Object.entries(data)
            .filter((entry): entry is [string, string] => typeof entry[1] === "string")
            .map(([key, value]): [string, string] => [key, createHash("sha256").update(Buffer.from(value, "base64")).digest("hex")])
            .sort(([a], [b]) => a.localeCompare(b)),
    );
}

/** The SHA-256 of a value, as {@link secretDigests} gives it for a Secret holding it. */
export function digestOf(value: string): string {
    return createHash("sha256").update(value, "utf8").digest("hex");
}

const BLOCK_START = "    # openova-e2e: every region's Vault host, at that region's ingress node";
const BLOCK_END = "    # openova-e2e: end";

/**
 * The Corefile with a `hosts` block in its `.:53` server that answers each Vault host with its
 * region's ingress node (https://coredns.io/plugins/hosts/); other names fall through to the rest.
 * Running it again replaces the lane's own block. @throws when there is no `.:53` server, or it has a
 * `hosts` block of its own (a server takes one)
 */
export function corefileWithHosts(corefile: string, entries: readonly { readonly address: string; readonly host: string }[]): string {
    const lines = corefile.split("\n");
    const start = lines.indexOf(BLOCK_START);
    const end = lines.indexOf(BLOCK_END);
    const without = start >= 0 && end > start ? [...lines.slice(0, start), ...lines.slice(end + 1)] : lines;
    const server = without.findIndex((line) => /^\.:53\s*\{\s*$/.test(line));
    if (server < 0) {
        throw new Error("the Corefile has no `.:53 {` server block");
    }
    if (without.some((line) => /^\s+hosts(\s|$)/.test(line))) {
        throw new Error("the Corefile has a hosts block already; the lane adds its own only to a Corefile without one");
    }
    const block = [
        BLOCK_START,
        "    hosts {",
        ...entries.map(({ address, host }) => `        ${address} ${host}`),
        "        fallthrough",
        "    }",
        BLOCK_END,
    ];
    return [...without.slice(0, server + 1), ...block, ...without.slice(server + 1)].join("\n");
}

/** A region's new key material, PGP-encrypted, as the non-interactive bootstrap prints it. */
export interface EncryptedKeys {
    readonly kind: "unseal" | "recovery";
    readonly keys: readonly string[];
    readonly rootToken: string;
}

/**
 * The PGP-encrypted key material in the bootstrap's output, per region (bootstrap/terminal.ts,
 * `keyMaterialLines`). Material shown in the clear is never taken: a non-interactive run refuses to
 * show it anyway.
 */
export function encryptedKeyMaterial(output: string): Map<string, EncryptedKeys> {
    const found = new Map<string, EncryptedKeys>();
    let current: { region: string; kind: "unseal" | "recovery"; keys: string[] } | undefined;
    for (const line of output.split("\n")) {
        const header =
            /^Region (\S+): Vault is initialized\. Its (unseal|recovery) keys \(PGP-encrypted\) and root token \(PGP-encrypted\):$/.exec(
                line,
            );
        if (header !== null) {
            current = { region: header[1], kind: header[2] as "unseal" | "recovery", keys: [] };
            continue;
        }
        if (current === undefined) {
            continue;
        }
        const key = /^ {2}(?:Unseal|Recovery) key \d+: ([A-Za-z0-9+/=]+)$/.exec(line);
        const root = /^ {2}Initial root token: ([A-Za-z0-9+/=]+)$/.exec(line);
        if (key !== null) {
            current.keys.push(key[1]);
        } else if (root !== null) {
            found.set(current.region, { kind: current.kind, keys: current.keys, rootToken: root[1] });
            current = undefined;
        } else {
            current = undefined;
        }
    }
    return found;
}

/** What a stopped non-interactive bootstrap needs before it can go on: regions to unseal, and admin tokens by variable. */
export interface BootstrapNeeds {
    readonly unseal: readonly string[];
    readonly tokens: readonly { readonly region: string; readonly variable: string }[];
}

/** Reads the bootstrap's error lines (bootstrap/terminal.ts, `NonInteractiveOperator`) for what it needs. */
export function bootstrapNeeds(output: string): BootstrapNeeds {
    const unseal: string[] = [];
    const tokens: { region: string; variable: string }[] = [];
    for (const line of output.split("\n")) {
        const sealed = /^error: region (\S+): its Vault is sealed and a non-interactive run cannot ask for keys/.exec(line);
        const token = /^error: region (\S+): set (VAULT_TOKEN_[A-Z0-9_]+) to an admin token/.exec(line);
        if (sealed !== null && !unseal.includes(sealed[1])) {
            unseal.push(sealed[1]);
        }
        if (token !== null && !tokens.some((t) => t.region === token[1])) {
            tokens.push({ region: token[1], variable: token[2] });
        }
    }
    return { unseal, tokens };
}

/** The bootstrap's `--verify` line (bootstrap/cli.ts, `summary`): the canary's time and bound, in seconds. */
export function canaryResult(output: string): { readonly tookS: number; readonly boundS: number } | undefined {
    const match = /^A canary write reached every region in (\d+) s \(bound (\d+) s\)\.$/m.exec(output);
    return match === null ? undefined : { tookS: Number(match[1]), boundS: Number(match[2]) };
}

/** The stack names in `pulumi stack ls --json` (`name` may be `org/project/stack`). @throws when it is not that list */
export function stackNames(json: unknown): string[] {
    if (!Array.isArray(json)) {
        throw new Error("pulumi stack ls --json: expected a list");
    }
    return json.filter(isRecord).map((stack) => String(stack.name));
}

/** `issuer` of a cluster's `/.well-known/openid-configuration`. @throws when it has none */
export function issuerOf(json: unknown): string {
    if (isRecord(json) && typeof json.issuer === "string" && json.issuer !== "") {
        return json.issuer;
    }
    throw new Error("the OpenID configuration has no issuer");
}
