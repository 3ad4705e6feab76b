/**
 * Predicates shared by the config module (which turns a failure into a one-line error naming the
 * config key) and the components (which throw early when an importer passes impossible args).
 */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** An RFC 1123 label: lowercase letters, digits and '-', 1-63 characters, alphanumeric at both ends. */
export function isDnsLabel(value: string): boolean {
    return DNS_LABEL.test(value);
}

/** An RFC 1123 subdomain: dot-separated DNS labels, at most 253 characters, no trailing dot. */
export function isDnsSubdomain(value: string): boolean {
    return value.length <= 253 && value.split(".").every(isDnsLabel);
}

/** Raft needs a majority of voters: an odd number of servers, at most 7. */
export function isRaftReplicaCount(value: number): boolean {
    return Number.isInteger(value) && value >= 1 && value <= 7 && value % 2 === 1;
}

/** A whole number in [min, max]. */
export function isIntegerBetween(value: number, min: number, max: number): boolean {
    return Number.isInteger(value) && value >= min && value <= max;
}

const SEMVER = /^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

/** A Helm chart version: semantic version without a leading `v`. */
export function isChartVersion(value: string): boolean {
    return SEMVER.test(value);
}

const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(@sha256:[a-f0-9]{64})?$/;

/**
 * A pinned OCI image tag, optionally with its digest (`2.0.4@sha256:...`). `latest` is refused: it
 * pins nothing, so two regions (or two runs) could run different Vault versions.
 */
export function isImageTag(value: string): boolean {
    return IMAGE_TAG.test(value) && value.split("@")[0] !== "latest";
}

/** Namespaces this project must never create, own or delete. */
export const RESERVED_NAMESPACES: readonly string[] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/** A DNS label that is not one of the cluster's own namespaces. */
export function isOwnNamespace(value: string): boolean {
    return isDnsLabel(value) && !RESERVED_NAMESPACES.includes(value);
}

/** A kubeconfig context name: not empty, no surrounding whitespace, no control characters. */
export function isContextName(value: string): boolean {
    return value.length > 0 && value.trim() === value && ![...value].some((char) => char < " " || char === "\u007f");
}

/** Paths Vault keeps for itself: nothing can be mounted there. */
const RESERVED_MOUNTS = ["sys", "auth", "identity", "cubbyhole"];

/** A KV mount path this project can write policies for: one path segment, no slashes or globs, not one Vault keeps for itself. */
export function isKvMount(value: string): boolean {
    return /^[a-z0-9][a-z0-9_-]{0,62}$/.test(value) && !RESERVED_MOUNTS.includes(value);
}

/** A Pulumi organization name. */
export function isOrganizationName(value: string): boolean {
    return /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/.test(value);
}

/**
 * An address for the Vault provider: `http://` or `https://`, a host, an optional port, and no path,
 * query or credentials (a token in a URL would end up in the stack file).
 */
export function isVaultAddress(value: string): boolean {
    let url: URL;
    try {
        url = new URL(value);
    } catch {
        return false;
    }
    return (
        (url.protocol === "https:" || url.protocol === "http:") &&
        url.hostname !== "" &&
        url.username === "" &&
        url.password === "" &&
        (url.pathname === "/" || url.pathname === "") &&
        url.search === "" &&
        url.hash === "" &&
        !value.endsWith("/")
    );
}

/** A Go duration such as "30s", "1h", "1m30s" or "500ms", in milliseconds. @throws Error when it is not one */
export function parseDurationMs(duration: string): number {
    const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
    const parts = [...duration.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
    if (parts.length === 0 || parts.map((p) => p[0]).join("") !== duration)
        throw new Error(`not a Go duration: ${JSON.stringify(duration)}`);
    return Math.round(parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]], 0));
}

/** A positive Go duration as ESO's refresh intervals take it: `30s`, `1m30s`, `1h`, `500ms`. */
export function isRefreshInterval(value: string): boolean {
    try {
        return parseDurationMs(value) > 0;
    } catch {
        return false;
    }
}

const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** A Kubernetes label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63 characters. */
export function isLabelKey(key: string): boolean {
    const slash = key.indexOf("/");
    return slash === -1 ? LABEL_NAME.test(key) : isDnsSubdomain(key.slice(0, slash)) && LABEL_NAME.test(key.slice(slash + 1));
}

/** A Kubernetes label value: empty, or at most 63 characters of letters, digits, `-`, `_` and `.`, alphanumeric at both ends. */
export function isLabelValue(value: string): boolean {
    return value === "" || LABEL_NAME.test(value);
}

const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

/** A Kubernetes Secret key: letters, digits, `-`, `.` and `_`. */
export function isSecretKey(key: string): boolean {
    return SECRET_KEY.test(key);
}

/**
 * A path under a KV mount: segments that are Secret keys, other than `.` and `..`, separated by `/`.
 * No `*` or `+`, so a policy naming it covers that secret alone.
 */
export function isRemoteKey(key: string): boolean {
    return key.split("/").every((part) => isSecretKey(part) && part !== "." && part !== "..");
}
