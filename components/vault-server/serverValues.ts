/**
 * Pure builders for the Vault server: option defaults, the Raft server configuration (HCL) and the
 * values for the hashicorp/vault chart. No Pulumi resources here, so tests call them directly.
 */
import { type HclBlock, type HclValue, renderHcl } from "../common/hcl";
import {
    MONITORING_DEFAULTS,
    type MonitoringOptions,
    type ResolvedMonitoringOptions,
    type VaultTelemetryValues,
    monitoringProblems,
    resolveMonitoringOptions,
    vaultTelemetryValues,
} from "../monitoring/monitoringSpecs";
import {
    type ResolvedVaultResourceOptions,
    VAULT_RESOURCE_DEFAULTS,
    type VaultResourceOptions,
    type VaultResourceValues,
    type VaultSecurityContextValues,
    ingressControllerNamespace,
    resolveResourceOptions,
    vaultResourceValues,
    vaultSecurityContextValues,
} from "./podHardening";
import { type ResolvedVaultSealOptions, type VaultSealOptions, resolveSealOptions, sealBlock, sealChartValues, sealProblems } from "./seal";
import { type ResolvedVaultTls, TLS_DEFAULTS, TLS_PASSTHROUGH_ANNOTATIONS, type VaultTlsOptions, passthroughAnnotations, resolveTlsOptions, tlsMountPath, tlsProblems } from "./tls";
import { isChartVersion, isDnsSubdomain, isImageTag, isOwnNamespace, isRaftReplicaCount, isStorageQuantity } from "../common/predicates";
import { VAULT_CHART, VAULT_IMAGE } from "../common/versions";

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
    /** TLS on the listener, end to end. Default: a certificate from cert-manager's `vault-ca-issuer` ClusterIssuer. */
    readonly tls?: VaultTlsOptions;
    /** How the servers are unsealed. Default: Shamir key shares. */
    readonly seal?: VaultSealOptions;
    /**
     * Extra annotations for the ingress; they win over the pass-through annotation this project sets
     * for the classes it knows (cilium, nginx, haproxy). Required with TLS for any other class: give
     * the annotations that make it pass TLS through. Default none.
     */
    readonly ingressAnnotations?: Readonly<Record<string, string>>;
    /**
     * Namespace of the ingress controller, which the servers' NetworkPolicy admits. Default by class
     * (nginx `ingress-nginx`, haproxy `haproxy-controller`); cilium needs none (its proxy is admitted
     * by a CiliumNetworkPolicy); required for any other class.
     */
    readonly ingressControllerNamespace?: string;
    /** CPU and memory per server. Default {@link VAULT_RESOURCE_DEFAULTS}. */
    readonly resources?: VaultResourceOptions;
    /** Telemetry, the ServiceMonitor and alerts. Default: telemetry on, scraped with a token, no ServiceMonitor or rules. */
    readonly monitoring?: MonitoringOptions;
}

/** {@link VaultServerOptions} with every default applied. */
export interface ResolvedVaultServerOptions
    extends Required<Omit<VaultServerOptions, "storageClass" | "tls" | "seal" | "ingressControllerNamespace" | "resources" | "monitoring">> {
    readonly monitoring: ResolvedMonitoringOptions;
    readonly storageClass?: string;
    /** Undefined for cilium, whose ingress proxy needs no namespace rule. */
    readonly ingressControllerNamespace?: string;
    readonly resources: ResolvedVaultResourceOptions;
    readonly tls: ResolvedVaultTls;
    readonly seal: ResolvedVaultSealOptions;
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
        tls: { enabled: false },
        seal: { type: "shamir" },
        ingressAnnotations: { ...(options.ingressAnnotations ?? {}) },
        resources: VAULT_RESOURCE_DEFAULTS,
        monitoring: resolveMonitoringOptions(undefined),
    };
    const problems: string[] = [...tlsProblems(options.tls), ...sealProblems(options.seal), ...monitoringProblems(options.monitoring)];
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
    let resources: ResolvedVaultResourceOptions = VAULT_RESOURCE_DEFAULTS;
    let controllerNamespace: string | undefined;
    try {
        resources = resolveResourceOptions(options.resources);
    } catch (error) {
        problems.push((error as Error).message);
    }
    try {
        controllerNamespace = ingressControllerNamespace(resolved.ingressClassName, options.ingressControllerNamespace);
    } catch (error) {
        problems.push((error as Error).message);
    }
    // The NetworkPolicy admits the controller's whole namespace: Vault's own would admit every pod in it.
    check(controllerNamespace !== resolved.namespace, `ingressControllerNamespace is Vault's namespace ${JSON.stringify(resolved.namespace)}: the NetworkPolicy would admit every pod in it`);
    check(
        options.monitoring?.serviceMonitor !== true || (options.monitoring.prometheusNamespace ?? MONITORING_DEFAULTS.prometheusNamespace) !== resolved.namespace,
        `monitoring.prometheusNamespace is Vault's namespace ${JSON.stringify(resolved.namespace)}: the NetworkPolicy would admit every pod in it`,
    );
    const tlsOn = (options.tls?.source ?? TLS_DEFAULTS.source) !== "none";
    check(
        !tlsOn || passthroughAnnotations(resolved.ingressClassName) !== undefined || Object.keys(resolved.ingressAnnotations).length > 0,
        `ingressClassName ${JSON.stringify(resolved.ingressClassName)} is not one this project knows how to pass TLS through (${Object.keys(TLS_PASSTHROUGH_ANNOTATIONS).join(", ")}): set ingressAnnotations to the annotations that make it pass TLS through to Vault`,
    );
    if (problems.length > 0) {
        throw new Error(`VaultServer: ${problems.join("; ")}`);
    }
    return {
        ...resolved,
        tls: resolveTlsOptions(options.tls),
        seal: resolveSealOptions(options.seal),
        resources,
        monitoring: resolveMonitoringOptions(options.monitoring),
        ...(controllerNamespace === undefined ? {} : { ingressControllerNamespace: controllerNamespace }),
    };
}

/** `http` or `https`, as the servers listen. */
export function vaultScheme(tls: ResolvedVaultTls): "http" | "https" {
    return tls.enabled ? "https" : "http";
}

/** The host name of one server pod behind the chart's headless service (covered by the certificate's `*.vault-internal`). */
export function serverPodHost(ordinal: number): string {
    return `${VAULT_RELEASE_NAME}-${ordinal}.${VAULT_RELEASE_NAME}-internal`;
}

/** In-cluster API address of one server pod, through the chart's headless service. */
export function serverPodAddress(ordinal: number, tls: ResolvedVaultTls): string {
    return `${vaultScheme(tls)}://${serverPodHost(ordinal)}:${VAULT_API_PORT}`;
}

/** Files of the mounted certificate Secret: the chart mounts `extraVolumes` Secrets under /vault/userconfig/<name>. */
export function tlsFiles(tls: Extract<ResolvedVaultTls, { enabled: true }>): { cert: string; key: string; ca: string } {
    const dir = tlsMountPath(tls.secretName);
    return { cert: `${dir}/tls.crt`, key: `${dir}/tls.key`, ca: `${dir}/ca.crt` };
}

/**
 * The server configuration (HCL) for HA on Raft. It replaces the chart's default `raft.config`
 * completely, so everything the server needs is here:
 * - a `listener "tcp"`: without one Vault serves nothing (the seed design's config has none). With
 *   TLS (the default) it serves the mounted certificate, TLS 1.2 at least;
 * - `storage "raft"` with one `retry_join` per server, so new pods join the cluster on their own
 *   instead of needing `vault operator raft join` by hand. With TLS each join verifies the leader
 *   with the CA and the pod's name;
 * - the `seal` stanza of an auto-unseal seal (none for Shamir);
 * - `service_registration "kubernetes"`, which labels the leader pod so `vault-active` finds it;
 * - `telemetry` for Prometheus.
 */
export function raftConfig(options: ResolvedVaultServerOptions): string {
    const tls = options.tls;
    const retryJoins: HclBlock[] = Array.from({ length: options.replicas }, (_, ordinal) => {
        const attributes: Record<string, HclValue> = { leader_api_addr: serverPodAddress(ordinal, tls) };
        if (tls.enabled) {
            attributes.leader_ca_cert_file = tlsFiles(tls).ca;
            attributes.leader_tls_servername = serverPodHost(ordinal);
        }
        return { type: "retry_join", attributes };
    });
    const monitoring = options.monitoring;
    const listenerTls: Record<string, HclValue> = tls.enabled ? { tls_cert_file: tlsFiles(tls).cert, tls_key_file: tlsFiles(tls).key, tls_min_version: "tls12" } : { tls_disable: true };
    const seal = sealBlock(options.seal);
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
                attributes: { address: `[::]:${VAULT_API_PORT}`, cluster_address: `[::]:${VAULT_CLUSTER_PORT}`, ...listenerTls },
                // Only when chosen: without it, /v1/sys/metrics needs a token with the metrics policy.
                blocks: monitoring.unauthenticatedMetrics ? [{ type: "telemetry", attributes: { unauthenticated_metrics_access: true } }] : [],
            },
            {
                type: "storage",
                labels: ["raft"],
                attributes: { path: VAULT_DATA_PATH, performance_multiplier: 1 },
                blocks: retryJoins,
            },
            ...(seal ? [seal] : []),
            { type: "service_registration", labels: ["kubernetes"] },
            {
                type: "telemetry",
                attributes: { prometheus_retention_time: monitoring.retention, disable_hostname: true },
            },
        ],
    });
}

/** The subset of the hashicorp/vault chart's values this project sets; everything else keeps the chart default. */
export interface VaultHelmValues {
    global: { enabled: boolean; tlsDisable: boolean };
    injector: { enabled: boolean };
    /** Only with a ServiceMonitor (the chart's defaults otherwise). */
    serverTelemetry?: VaultTelemetryValues;
    server: {
        image: { repository: string; tag: string };
        dataStorage: VolumeValues;
        auditStorage: VolumeValues;
        extraEnvironmentVars: Record<string, string>;
        extraSecretEnvironmentVars: { envName: string; secretName: string; secretKey: string }[];
        extraVolumes: { type: "secret"; name: string }[];
        serviceAccount: { annotations: Record<string, string> };
        extraLabels: Record<string, string>;
        resources: VaultResourceValues;
        statefulSet: { securityContext: VaultSecurityContextValues };
        ingress: {
            enabled: boolean;
            ingressClassName: string;
            pathType: string;
            activeService: boolean;
            annotations: Record<string, string>;
            hosts: { host: string; paths: string[] }[];
        };
        ha: {
            enabled: boolean;
            replicas: number;
            apiAddr: string;
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
 * The ingress annotations: the operator's own (`ingressAnnotations`) win; with TLS, the class's
 * pass-through annotation from {@link TLS_PASSTHROUGH_ANNOTATIONS} is added.
 */
export function ingressAnnotations(options: ResolvedVaultServerOptions): Record<string, string> {
    const passthrough = options.tls.enabled ? (passthroughAnnotations(options.ingressClassName) ?? {}) : {};
    return { ...passthrough, ...options.ingressAnnotations };
}

/**
 * Values for the hashicorp/vault chart: HA on Raft, persistent data and audit volumes, an ingress
 * to the active server, and no agent injector (the External Secrets Operator delivers secrets).
 * With TLS the certificate Secret is mounted, `VAULT_CACERT` lets the CLI in the pods verify it, and
 * the ingress passes TLS through. An auto-unseal seal gets its credentials from a Secret (environment
 * or files) or from workload identity (service-account annotations); never from the values.
 * The chart's pod anti-affinity and PodDisruptionBudget are kept (the PDB only with more than one server).
 */
export function vaultHelmValues(options: ResolvedVaultServerOptions): VaultHelmValues {
    const tls = options.tls;
    const seal = sealChartValues(options.seal);
    const secretVolumes = [...(tls.enabled ? [tls.secretName] : []), ...seal.volumes.map((v) => v.name)];
    return {
        global: { enabled: true, tlsDisable: !tls.enabled },
        injector: { enabled: false },
        ...(options.monitoring.serviceMonitor
            ? {
                  serverTelemetry: vaultTelemetryValues({
                      monitoring: options.monitoring,
                      namespace: options.namespace,
                      releaseName: VAULT_RELEASE_NAME,
                      ...(tls.enabled ? { caSecret: tls.secretName } : {}),
                  }),
              }
            : {}),
        server: {
            image: { repository: VAULT_IMAGE.repository, tag: options.imageTag },
            dataStorage: volume(options.storageSize, options.storageClass),
            auditStorage: volume(options.auditStorageSize, options.storageClass),
            extraEnvironmentVars: tls.enabled ? { VAULT_CACERT: tlsFiles(tls).ca } : {},
            extraSecretEnvironmentVars: seal.secretEnvironment,
            extraVolumes: [...new Set(secretVolumes)].map((name) => ({ type: "secret" as const, name })),
            serviceAccount: { annotations: seal.serviceAccountAnnotations },
            extraLabels: seal.podLabels,
            resources: vaultResourceValues(options.resources),
            // The chart's own non-root defaults, repeated: values here replace them rather than merge.
            statefulSet: { securityContext: vaultSecurityContextValues() },
            ingress: {
                enabled: true,
                ingressClassName: options.ingressClassName,
                pathType: "Prefix",
                activeService: true,
                annotations: ingressAnnotations(options),
                hosts: [{ host: options.host, paths: [] }],
            },
            ha: {
                enabled: true,
                replicas: options.replicas,
                // The address a standby redirects clients to: the pod's name behind the headless
                // service, which the certificate covers (the chart's default, the pod IP, is not).
                // VAULT_K8S_POD_NAME comes before VAULT_API_ADDR in the chart's env list, so it expands.
                apiAddr: `${vaultScheme(tls)}://$(VAULT_K8S_POD_NAME).${VAULT_RELEASE_NAME}-internal:${VAULT_API_PORT}`,
                // The chart's PDB allows (replicas - 1) / 2 pods down; with one server that is zero,
                // which would block every node drain, so a single server gets no PDB.
                disruptionBudget: { enabled: options.replicas > 1 },
                raft: { enabled: true, setNodeId: true, config: raftConfig(options) },
            },
        },
    };
}
