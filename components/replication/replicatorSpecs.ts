/**
 * Pure builders for a region's replicator (the process in `replicator/`, which carries the writes of
 * secrets with `writers: any` between regions): its options, its Vault policies, its configuration
 * file and its Kubernetes objects. No Pulumi resources here, so tests call them directly.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { DEFAULT_TIMING, type ReplicatorConfig } from "../../replicator/config";
import { projectLabels } from "../common/labels";
import { options, option, text } from "../common/options";
import { isImageTag, isRefreshInterval, parseDurationMs } from "../common/predicates";
import { REPLICATOR_IMAGE } from "../common/versions";
import { policyText } from "../vault-config/policies";

/** The replicator's name: its Deployment, service account, Service, ConfigMaps and Vault role. */
export const REPLICATOR_NAME = "openova-replicator";

/** The Vault role it logs in as: with Kubernetes auth in its own region, on its JWT mount in each peer's. */
export const REPLICATOR_ROLE = "replicator";

/** Where Vault's socket audit device sends its stream, and where the metrics are served. */
export const REPLICATOR_PORTS = { audit: 9090, metrics: 9102 } as const;

/** The prefix of the replicator's records in the KV mount (replicator/records.ts). */
export const REPLICATION_PREFIX = "_replication";

/** Milliseconds as a Go duration (`5m`, `1s`, `500ms`). */
function goDuration(ms: number): string {
    return ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1_000 === 0 ? `${ms / 1_000}s` : `${ms}ms`;
}

const duration = (fallbackMs: number, description: string) => duration_(goDuration(fallbackMs), description);
const duration_ = (fallback: string, description: string) =>
    option(text(isRefreshInterval).default(fallback), {
        description,
        allowed: "a positive Go duration such as 500ms, 5s or 1m",
        example: fallback,
    });

/** How a region's replicator runs. */
export const replicatorOptions = options({
    imageTag: option(text(isImageTag).default(REPLICATOR_IMAGE.tag), {
        description: `Tag of the official Node.js image (\`${REPLICATOR_IMAGE.repository}\`) the replicator runs in (its code is mounted, nothing is built), optionally with its digest.`,
        allowed: "a pinned image tag (not latest), optionally @sha256:<digest>",
        example: REPLICATOR_IMAGE.tag,
    }),
    scanInterval: duration(
        DEFAULT_TIMING.scanIntervalMs,
        "How often the replicator works on every secret, the safety net for a lost hint. Each scan reads each secret's state and metadata and each peer's inbox entry from the region's Vault.",
    ),
    doorbellInterval: duration(
        DEFAULT_TIMING.doorbellIntervalMs,
        "How often the replicator reads its peers' doorbells in its own Vault (one read per peer), to learn what they offered.",
    ),
    retryInterval: duration(DEFAULT_TIMING.retryIntervalMs, "How soon the replicator offers again to a peer it could not reach."),
    maxClockAhead: duration(
        DEFAULT_TIMING.maxAheadMs,
        "How far ahead of the replicator's clock a stamp from a peer may be and still count (the clock bound of docs/consistency.md); one further ahead waits until the clock gets there.",
    ),
    auditHints: option(z.boolean().optional(), {
        description:
            "Whether the region's Vault streams its audit log to the replicator (a socket audit device), which then sees a write within milliseconds. Off, a write is found by the next scan. Vault keeps serving while the replicator is down (its file and stdout devices still work), but while the replicator's address does not answer, each request may wait up to about four times the device's write timeout (200 ms): two tries for the request's entry and two for the response's. Not with OpenBao, which takes audit devices only from its server configuration, where a device that cannot reach the replicator would hold up the server.",
        example: "true",
        defaultText: "true with the Vault engine, false with OpenBao",
    }),
});

export type ReplicatorOptions = z.input<typeof replicatorOptions>;
export type ResolvedReplicatorOptions = z.output<typeof replicatorOptions>;

/** The replicator's timing in milliseconds, as its configuration file carries it. */
export function replicatorTiming(options: ResolvedReplicatorOptions): ReplicatorConfig["timing"] {
    return {
        scanIntervalMs: parseDurationMs(options.scanInterval),
        doorbellIntervalMs: parseDurationMs(options.doorbellInterval),
        retryIntervalMs: parseDurationMs(options.retryInterval),
        maxAheadMs: parseDurationMs(options.maxClockAhead),
    };
}

/** How long the socket audit device waits on the replicator before giving up on one entry. */
export const AUDIT_WRITE_TIMEOUT = "200ms";

const rule = (capabilities: readonly ("create" | "read" | "update")[]) => ({ capabilities: [...capabilities] });

/**
 * The replicator's policy in its own region's Vault, for exactly the secrets it carries: read and
 * write each secret (check-and-set), read its metadata (versions, times, writer), soft-delete its
 * versions (`update` on `delete/`, to apply a deletion from a peer; never `delete`, which would erase
 * every version), its own state, and read each peer's inbox entry and doorbell.
 */
export function replicatorPolicyDocument(mount: string, keys: readonly string[], peers: readonly string[]): string {
    const paths: Record<string, { capabilities: ("create" | "read" | "update")[] }> = {};
    for (const key of [...new Set(keys)].sort()) {
        paths[`${mount}/data/${key}`] = rule(["create", "read", "update"]);
        paths[`${mount}/metadata/${key}`] = rule(["read"]);
        paths[`${mount}/delete/${key}`] = rule(["update"]);
        paths[`${mount}/data/${REPLICATION_PREFIX}/state/${key}`] = rule(["create", "read", "update"]);
        for (const peer of peers) {
            paths[`${mount}/data/${REPLICATION_PREFIX}/inbox/${peer}/${key}`] = rule(["read"]);
        }
    }
    for (const peer of peers) {
        paths[`${mount}/data/${REPLICATION_PREFIX}/doorbell/${peer}`] = rule(["read"]);
    }
    return policyText({ path: paths });
}

/** The policy a region gives a peer's replicator: its own inbox entries for exactly these secrets, and its doorbell. */
export function peerReplicatePolicyDocument(mount: string, keys: readonly string[], peer: string): string {
    const paths: Record<string, { capabilities: ("create" | "read" | "update")[] }> = {};
    for (const key of [...new Set(keys)].sort()) {
        paths[`${mount}/data/${REPLICATION_PREFIX}/inbox/${peer}/${key}`] = rule(["create", "read", "update"]);
    }
    paths[`${mount}/data/${REPLICATION_PREFIX}/doorbell/${peer}`] = rule(["create", "read", "update"]);
    return policyText({ path: paths });
}

/** The Vault policy name for what a peer's replicator may do here. */
export function peerReplicatePolicyName(peer: string): string {
    return `peer-${peer}-replicate`;
}

/** The local replicator's policy name. */
export const REPLICATOR_POLICY = REPLICATOR_NAME;

/** Where the pod finds what the configuration names. */
const MOUNTS = {
    code: "/opt/openova-replicator",
    config: "/etc/openova-replicator",
    tokens: "/var/run/secrets/openova-replicator",
} as const;

/** A peer as the replicator reaches it. */
export interface ReplicatorPeer {
    readonly region: string;
    readonly address: string;
    /** PEM of its CA; empty for the system's CAs. */
    readonly caCert: string;
    /** The JWT mount it created for this region, and the audience its roles require. */
    readonly jwtMount: string;
    readonly audience: string;
}

export interface ReplicatorSpec {
    readonly region: string;
    /** ESO's namespace, where the replicator runs. */
    readonly namespace: string;
    readonly kvMount: string;
    /** This region's Vault inside the cluster, and the PEM of its CA (empty for the system's CAs). */
    readonly vaultAddress: string;
    readonly vaultCaCert: string;
    readonly authPath: string;
    readonly peers: readonly ReplicatorPeer[];
    readonly secrets: readonly {
        readonly key: string;
        readonly externalSecrets: readonly { readonly namespace: string; readonly name: string }[];
    }[];
    readonly options: ResolvedReplicatorOptions;
}

const tokenFile = (name: string) => `${MOUNTS.tokens}/${name}`;
const caFile = (name: string) => `${MOUNTS.config}/${name}`;

/** The configuration file (replicator/config.ts). */
export function replicatorConfig(spec: ReplicatorSpec): ReplicatorConfig {
    return {
        region: spec.region,
        mount: spec.kvMount,
        vault: {
            address: spec.vaultAddress,
            ...(spec.vaultCaCert === "" ? {} : { caFile: caFile("ca-local.pem") }),
            login: { kind: "jwt-file", mount: spec.authPath, role: REPLICATOR_ROLE, path: tokenFile("vault") },
        },
        peers: spec.peers.map((peer) => ({
            region: peer.region,
            address: peer.address,
            ...(peer.caCert === "" ? {} : { caFile: caFile(`ca-${peer.region}.pem`) }),
            login: { kind: "jwt-file", mount: peer.jwtMount, role: REPLICATOR_ROLE, path: tokenFile(`peer-${peer.region}`) },
        })),
        secrets: spec.secrets.map((secret) => ({ key: secret.key, externalSecrets: secret.externalSecrets.map((ref) => ({ ...ref })) })),
        timing: replicatorTiming(spec.options),
        auditPort: REPLICATOR_PORTS.audit,
        metricsPort: REPLICATOR_PORTS.metrics,
    };
}

/** The data of the configuration ConfigMap: the file, and every CA it names. */
export function replicatorConfigData(spec: ReplicatorSpec): Record<string, string> {
    return {
        "config.json": `${JSON.stringify(replicatorConfig(spec), null, 2)}\n`,
        ...(spec.vaultCaCert === "" ? {} : { "ca-local.pem": spec.vaultCaCert }),
        ...Object.fromEntries(spec.peers.filter((peer) => peer.caCert !== "").map((peer) => [`ca-${peer.region}.pem`, peer.caCert])),
    };
}

/** The directory of the replicator's code: `replicator/` beside `components/`, in the repository and in the package. */
export function replicatorCodeDirectory(from = __dirname): string {
    for (let dir = from; dir !== path.dirname(dir); dir = path.dirname(dir)) {
        const candidate = path.join(dir, "replicator");
        if (fs.existsSync(path.join(candidate, "main.ts"))) {
            return candidate;
        }
    }
    throw new Error(`the replicator's code (replicator/main.ts) is not in any directory above ${from}`);
}

/**
 * The code ConfigMap's data: every `.ts` file of the replicator, as it is (Node.js strips the types
 * when it runs them), and a package.json saying they are ES modules.
 */
export function replicatorCode(directory = replicatorCodeDirectory()): Record<string, string> {
    const files = fs
        .readdirSync(directory)
        .filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))
        .sort();
    return {
        "package.json": `${JSON.stringify({ name: REPLICATOR_NAME, private: true, type: "module" })}\n`,
        ...Object.fromEntries(files.map((file) => [file, fs.readFileSync(path.join(directory, file), "utf8")])),
    };
}

/** The labels of the replicator's pods, which its Service and NetworkPolicy select. */
export const REPLICATOR_POD_LABELS = { "app.kubernetes.io/name": REPLICATOR_NAME } as const;

/** The Deployment's metadata. */
export function replicatorDeploymentMetadata(namespace: string) {
    return { name: REPLICATOR_NAME, namespace, labels: { ...projectLabels("replicator"), ...REPLICATOR_POD_LABELS } };
}

/** The Deployment: one pod, the official Node.js image, the code and configuration mounted, a token per Vault. */
export function replicatorDeployment(spec: ReplicatorSpec, checksum: string) {
    return {
        apiVersion: "apps/v1" as const,
        kind: "Deployment" as const,
        metadata: replicatorDeploymentMetadata(spec.namespace),
        spec: {
            replicas: 1,
            // Never two at once in the normal run (two would be safe: every write is a check-and-set).
            strategy: { type: "Recreate" },
            selector: { matchLabels: { ...REPLICATOR_POD_LABELS } },
            template: {
                metadata: {
                    labels: { ...projectLabels("replicator"), ...REPLICATOR_POD_LABELS },
                    // A new configuration or new code rolls the pod (a mounted file changes, the running process does not).
                    annotations: { "openova.io/config-sha256": checksum },
                },
                spec: {
                    serviceAccountName: REPLICATOR_NAME,
                    securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: "RuntimeDefault" } },
                    containers: [
                        {
                            name: "replicator",
                            image: `${REPLICATOR_IMAGE.repository}:${spec.options.imageTag}`,
                            command: ["node", `${MOUNTS.code}/main.ts`],
                            env: [{ name: "REPLICATOR_CONFIG", value: `${MOUNTS.config}/config.json` }],
                            ports: [
                                { name: "audit", containerPort: REPLICATOR_PORTS.audit, protocol: "TCP" },
                                { name: "metrics", containerPort: REPLICATOR_PORTS.metrics, protocol: "TCP" },
                            ],
                            readinessProbe: { httpGet: { path: "/healthz", port: "metrics" }, periodSeconds: 10 },
                            livenessProbe: {
                                httpGet: { path: "/healthz", port: "metrics" },
                                periodSeconds: 30,
                                failureThreshold: 6,
                                initialDelaySeconds: 30,
                            },
                            resources: { requests: { cpu: "10m", memory: "64Mi" }, limits: { memory: "256Mi" } },
                            securityContext: {
                                allowPrivilegeEscalation: false,
                                readOnlyRootFilesystem: true,
                                capabilities: { drop: ["ALL"] },
                            },
                            volumeMounts: [
                                { name: "code", mountPath: MOUNTS.code, readOnly: true },
                                { name: "config", mountPath: MOUNTS.config, readOnly: true },
                                { name: "tokens", mountPath: MOUNTS.tokens, readOnly: true },
                            ],
                        },
                    ],
                    volumes: [
                        { name: "code", configMap: { name: `${REPLICATOR_NAME}-code` } },
                        { name: "config", configMap: { name: REPLICATOR_NAME } },
                        {
                            name: "tokens",
                            projected: {
                                sources: [
                                    // Its own Vault's Kubernetes auth checks tokens for "vault".
                                    { serviceAccountToken: { audience: "vault", expirationSeconds: 3600, path: "vault" } },
                                    // Each peer's JWT role requires a token for that peer's address.
                                    ...spec.peers.map((peer) => ({
                                        serviceAccountToken: {
                                            audience: peer.audience,
                                            expirationSeconds: 3600,
                                            path: `peer-${peer.region}`,
                                        },
                                    })),
                                ],
                            },
                        },
                    ],
                },
            },
        },
    };
}

/** The Service Vault's socket audit device connects to. */
export function replicatorService(spec: Pick<ReplicatorSpec, "namespace">) {
    return {
        apiVersion: "v1" as const,
        kind: "Service" as const,
        // The pods' name label too: the ServiceMonitor selects the Service by it.
        metadata: {
            name: REPLICATOR_NAME,
            namespace: spec.namespace,
            labels: { ...projectLabels("replicator"), ...REPLICATOR_POD_LABELS },
        },
        spec: {
            selector: { ...REPLICATOR_POD_LABELS },
            ports: [
                { name: "audit", port: REPLICATOR_PORTS.audit, targetPort: "audit", protocol: "TCP" },
                { name: "metrics", port: REPLICATOR_PORTS.metrics, targetPort: "metrics", protocol: "TCP" },
            ],
        },
    };
}

/** The address Vault's socket audit device dials. */
export function replicatorAuditAddress(namespace: string): string {
    return `${REPLICATOR_NAME}.${namespace}.svc:${REPLICATOR_PORTS.audit}`;
}

/** The checksum of what the pod mounts, for the pod template's annotation. */
export function contentChecksum(...data: readonly Record<string, string>[]): string {
    const hash = createHash("sha256");
    for (const map of data) {
        for (const key of Object.keys(map).sort()) {
            hash.update(key).update("\0").update(map[key]).update("\0");
        }
    }
    return hash.digest("hex");
}
