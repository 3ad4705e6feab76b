/**
 * Pure builders for the Vault server: option defaults, the Raft server configuration (HCL) and the
 * values for the hashicorp/vault chart. No Pulumi resources here, so tests call them directly.
 */
import { type HclBlock, renderHcl } from "./hcl";
import { isChartVersion, isDnsSubdomain, isImageTag, isOwnNamespace, isRaftReplicaCount, isStorageQuantity } from "./validation";
import { VAULT_CHART, VAULT_IMAGE } from "./versions";

/** Defaults for every optional {@link VaultServerOptions} field; the README's config table shows the same values. */
export const VAULT_SERVER_DEFAULTS = {
    namespace: "vault",
    replicas: 3,
    storageSize: "10Gi",
    auditStorageSize: "10Gi",
    ingressClassName: "cilium",
    chartVersion: VAULT_CHART.version,
    imageTag: VAULT_IMAGE.tag,
} as const;

/**
 * The Helm release name. The chart names its objects after its "fullname", which is the release name
 * when that contains the chart name `vault` (and no `fullnameOverride` is set, which this project never
 * sets): pods `vault-0..n`, the headless service `vault-internal` that Raft peers use, and
 * `vault-active` in front of the leader. The `retry_join` addresses and the stores' in-cluster address
 * are derived from this constant, so it is deliberately not an option.
 */
export const VAULT_RELEASE_NAME = "vault";

/** Vault's API port (the listener) and the Raft/cluster port. */
export const VAULT_API_PORT = 8200;
export const VAULT_CLUSTER_PORT = 8201;

/** Where the chart mounts the data volume; Raft keeps its log and snapshots here. */
export const VAULT_DATA_PATH = "/vault/data";

export interface VaultServerOptions {
    /**
     * Public host name the ingress serves this Vault on, e.g. `vault.region1.example.com`.
     * Peer regions' External Secrets Operators reach this Vault through it.
     */
    readonly host: string;
    /** Namespace for the Vault release; created by the component. Default `vault`. */
    readonly namespace?: string;
    /**
     * Number of Vault servers (Raft voters). Raft needs a majority to elect a leader, so this must be
     * odd: 3 tolerates one failure, 5 tolerates two. Default 3. The chart's required pod
     * anti-affinity places each server on its own node, so the cluster needs at least this many nodes.
     */
    readonly replicas?: number;
    /** Size of each server's Raft data volume, as a Kubernetes quantity. Default `10Gi`. */
    readonly storageSize?: string;
    /** Size of each server's audit-log volume (mounted at `/vault/audit`). Default `10Gi`. */
    readonly auditStorageSize?: string;
    /** StorageClass for the data and audit volumes. Default: the cluster's default StorageClass. */
    readonly storageClass?: string;
    /** IngressClass that serves {@link host}. Default `cilium`. */
    readonly ingressClassName?: string;
    /** hashicorp/vault chart version. Default {@link VAULT_CHART}.version. */
    readonly chartVersion?: string;
    /** Tag of the `hashicorp/vault` image. Default {@link VAULT_IMAGE}.tag. */
    readonly imageTag?: string;
}

/** {@link VaultServerOptions} with every default applied. */
export interface ResolvedVaultServerOptions extends Required<Omit<VaultServerOptions, "storageClass">> {
    readonly storageClass?: string;
}

/**
 * Applies the defaults and rejects impossible options early, before any resource exists.
 * @throws Error naming the option and what is allowed.
 */
export function resolveVaultServerOptions(options: VaultServerOptions): ResolvedVaultServerOptions {
    const resolved: ResolvedVaultServerOptions = {
        host: options.host,
        namespace: options.namespace ?? VAULT_SERVER_DEFAULTS.namespace,
        replicas: options.replicas ?? VAULT_SERVER_DEFAULTS.replicas,
        storageSize: options.storageSize ?? VAULT_SERVER_DEFAULTS.storageSize,
        auditStorageSize: options.auditStorageSize ?? VAULT_SERVER_DEFAULTS.auditStorageSize,
        storageClass: options.storageClass,
        ingressClassName: options.ingressClassName ?? VAULT_SERVER_DEFAULTS.ingressClassName,
        chartVersion: options.chartVersion ?? VAULT_SERVER_DEFAULTS.chartVersion,
        imageTag: options.imageTag ?? VAULT_SERVER_DEFAULTS.imageTag,
    };
    const problems: string[] = [];
    const check = (ok: boolean, problem: string) => ok || problems.push(problem);
    check(isDnsSubdomain(resolved.host), `host ${JSON.stringify(resolved.host)} is not a DNS name`);
    check(isOwnNamespace(resolved.namespace), `namespace ${JSON.stringify(resolved.namespace)} is not a DNS label other than default and kube-*`);
    check(isRaftReplicaCount(resolved.replicas), `replicas ${resolved.replicas} is not an odd number from 1 to 7`);
    check(isStorageQuantity(resolved.storageSize), `storageSize ${JSON.stringify(resolved.storageSize)} is not a storage quantity of at least 1Gi such as 10Gi`);
    check(isStorageQuantity(resolved.auditStorageSize), `auditStorageSize ${JSON.stringify(resolved.auditStorageSize)} is not a storage quantity of at least 1Gi such as 10Gi`);
    check(resolved.storageClass === undefined || isDnsSubdomain(resolved.storageClass), `storageClass ${JSON.stringify(resolved.storageClass)} is not a DNS name`);
    check(isDnsSubdomain(resolved.ingressClassName), `ingressClassName ${JSON.stringify(resolved.ingressClassName)} is not a DNS name`);
    check(isChartVersion(resolved.chartVersion), `chartVersion ${JSON.stringify(resolved.chartVersion)} is not a semantic version`);
    check(isImageTag(resolved.imageTag), `imageTag ${JSON.stringify(resolved.imageTag)} is not a pinned image tag (not latest)`);
    if (problems.length > 0) {
        throw new Error(`VaultServer: ${problems.join("; ")}`);
    }
    return resolved;
}

/** In-cluster API address of one server pod, through the chart's headless service. */
export function serverPodAddress(ordinal: number): string {
    return `http://${VAULT_RELEASE_NAME}-${ordinal}.${VAULT_RELEASE_NAME}-internal:${VAULT_API_PORT}`;
}

/**
 * The server configuration (HCL) for HA on Raft. It replaces the chart's default `raft.config`
 * completely, so everything the server needs is here:
 * - a `listener "tcp"`: without one Vault serves nothing (the seed design's config has none);
 * - `storage "raft"` with one `retry_join` per server, so new pods join the cluster on their own
 *   instead of needing `vault operator raft join` by hand;
 * - `service_registration "kubernetes"`, which labels the leader pod so `vault-active` finds it;
 * - `telemetry` for Prometheus.
 *
 * TLS is off on the listener until TLS end to end lands (issue 6): traffic inside the cluster is
 * plain HTTP and the ingress terminates TLS.
 */
export function raftConfig(options: ResolvedVaultServerOptions): string {
    const retryJoins: HclBlock[] = Array.from({ length: options.replicas }, (_, ordinal) => ({
        type: "retry_join",
        attributes: { leader_api_addr: serverPodAddress(ordinal) },
    }));
    return renderHcl({
        attributes: {
            ui: true,
            // Vault recommends disabling mlock with integrated storage; nodes must then run without swap.
            disable_mlock: true,
        },
        blocks: [
            {
                type: "listener",
                labels: ["tcp"],
                attributes: {
                    address: `[::]:${VAULT_API_PORT}`,
                    cluster_address: `[::]:${VAULT_CLUSTER_PORT}`,
                    tls_disable: true,
                },
            },
            {
                type: "storage",
                labels: ["raft"],
                attributes: { path: VAULT_DATA_PATH, performance_multiplier: 1 },
                blocks: retryJoins,
            },
            { type: "service_registration", labels: ["kubernetes"] },
            {
                type: "telemetry",
                attributes: { prometheus_retention_time: "30s", disable_hostname: true },
            },
        ],
    });
}

/** The subset of the hashicorp/vault chart's values this project sets; everything else keeps the chart default. */
export interface VaultHelmValues {
    global: { enabled: boolean; tlsDisable: boolean };
    injector: { enabled: boolean };
    server: {
        image: { repository: string; tag: string };
        dataStorage: VolumeValues;
        auditStorage: VolumeValues;
        ingress: {
            enabled: boolean;
            ingressClassName: string;
            pathType: string;
            activeService: boolean;
            hosts: { host: string; paths: string[] }[];
        };
        ha: {
            enabled: boolean;
            replicas: number;
            disruptionBudget: { enabled: boolean };
            raft: { enabled: boolean; setNodeId: boolean; config: string };
        };
    };
}

interface VolumeValues {
    enabled: boolean;
    size: string;
    storageClass?: string;
}

function volume(size: string, storageClass: string | undefined): VolumeValues {
    return storageClass === undefined ? { enabled: true, size } : { enabled: true, size, storageClass };
}

/**
 * Values for the hashicorp/vault chart: HA on Raft, persistent data and audit volumes, an ingress
 * to the active server, and no agent injector (the External Secrets Operator delivers secrets).
 * The chart's pod anti-affinity and PodDisruptionBudget are kept (the PDB only with more than one server).
 */
export function vaultHelmValues(options: ResolvedVaultServerOptions): VaultHelmValues {
    return {
        global: { enabled: true, tlsDisable: true },
        injector: { enabled: false },
        server: {
            image: { repository: VAULT_IMAGE.repository, tag: options.imageTag },
            dataStorage: volume(options.storageSize, options.storageClass),
            auditStorage: volume(options.auditStorageSize, options.storageClass),
            ingress: {
                enabled: true,
                ingressClassName: options.ingressClassName,
                pathType: "Prefix",
                activeService: true,
                hosts: [{ host: options.host, paths: [] }],
            },
            ha: {
                enabled: true,
                replicas: options.replicas,
                // The chart's PDB allows (replicas - 1) / 2 pods down; with one server that is zero,
                // which would block every node drain, so a single server gets no PDB.
                disruptionBudget: { enabled: options.replicas > 1 },
                raft: { enabled: true, setNodeId: true, config: raftConfig(options) },
            },
        },
    };
}
