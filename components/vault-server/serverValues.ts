/**
 * Pure builders for the Vault servers: the server configuration and the values for the
 * hashicorp/vault chart, from the validated options (`serverOptions.ts`). No Pulumi resources here,
 * so tests call them directly.
 */
import { type ResolvedMonitoringOptions, type VaultTelemetryValues, vaultTelemetryValues } from "../monitoring/monitoringSpecs";
import { VAULT_IMAGE } from "../common/versions";
import { type VaultResourceValues, type VaultSecurityContextValues, vaultResourceValues, vaultSecurityContextValues } from "./resources";
import { type ResolvedVaultSealOptions, resolvedSeal, sealChartValues, sealStanza } from "./seal";
import type { ResolvedVaultServerOptions } from "./serverOptions";
import { type ResolvedVaultTls, passthroughAnnotations, resolvedTls, tlsMountPath } from "./tls";
import { type TlsReloaderContainer, type TlsReloaderValues, tlsReloaderValues } from "./tlsReload";
import { proxyProtocolSupport, sourceRangeEnforcement } from "./sourceRanges";

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

/** Everything the builders need: the validated options, the host and the monitoring options. */
export interface VaultServerSettings extends Omit<ResolvedVaultServerOptions, "tls" | "seal"> {
    /** Public host name the ingress serves, `vault.<region>.<domain>`. */
    readonly host: string;
    readonly tls: ResolvedVaultTls;
    readonly seal: ResolvedVaultSealOptions;
    readonly monitoring: ResolvedMonitoringOptions;
}

/** The builders' settings from validated options. */
export function serverSettings(
    options: ResolvedVaultServerOptions,
    host: string,
    monitoring: ResolvedMonitoringOptions,
): VaultServerSettings {
    return { ...options, host, tls: resolvedTls(options.tls), seal: resolvedSeal(options.seal), monitoring };
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
 * The server configuration for HA on Raft, as JSON (Vault reads JSON as well as HCL, and the chart
 * passes a JSON configuration through as it is). It replaces the chart's default `raft.config`
 * completely, so everything the server needs is here:
 * - a `listener "tcp"`: without one Vault serves nothing. With TLS (the default) it serves the mounted
 *   certificate, TLS 1.2 at least;
 * - `storage "raft"` with one `retry_join` per server, so new pods join the cluster on their own
 *   instead of needing `vault operator raft join` by hand. With TLS each join verifies the leader
 *   with the CA and the pod's name;
 * - the `seal` stanza of an auto-unseal seal (none for Shamir);
 * - `service_registration "kubernetes"`, which labels the leader pod so `vault-active` finds it;
 * - `telemetry` for Prometheus.
 */
export function serverConfig(settings: VaultServerSettings): string {
    const tls = settings.tls;
    const retryJoin = Array.from({ length: settings.replicas }, (_, ordinal) => ({
        leader_api_addr: serverPodAddress(ordinal, tls),
        ...(tls.enabled ? { leader_ca_cert_file: tlsFiles(tls).ca, leader_tls_servername: serverPodHost(ordinal) } : {}),
    }));
    const monitoring = settings.monitoring;
    const seal = sealStanza(settings.seal);
    const config = {
        ui: true,
        // Vault recommends disabling mlock with integrated storage; nodes must then run without swap.
        disable_mlock: true,
        listener: {
            tcp: {
                address: `[::]:${VAULT_API_PORT}`,
                cluster_address: `[::]:${VAULT_CLUSTER_PORT}`,
                ...(tls.enabled
                    ? { tls_cert_file: tlsFiles(tls).cert, tls_key_file: tlsFiles(tls).key, tls_min_version: "tls12" }
                    : { tls_disable: true }),
                // Only when chosen: without it, /v1/sys/metrics needs a token with the metrics policy.
                ...(monitoring.unauthenticatedMetrics ? { telemetry: { unauthenticated_metrics_access: true } } : {}),
                // The ingress's PROXY protocol header gives the client's address, trusted from the
                // controller's addresses alone; a connection from anywhere else (ESO, the jobs, Raft
                // joins, the probes) keeps its own address, header or not (allow_authorized).
                ...(settings.proxyProtocolRanges === undefined
                    ? {}
                    : { proxy_protocol_behavior: "allow_authorized", proxy_protocol_authorized_addrs: [...settings.proxyProtocolRanges] }),
            },
        },
        storage: { raft: { path: VAULT_DATA_PATH, performance_multiplier: 1, retry_join: retryJoin } },
        ...(seal ? { seal } : {}),
        service_registration: { kubernetes: {} },
        telemetry: { prometheus_retention_time: monitoring.retention, disable_hostname: true },
    };
    return `${JSON.stringify(config, null, 2)}\n`;
}

/** The subset of the hashicorp/vault chart's values this project sets; everything else keeps the chart default. */
export interface VaultHelmValues {
    global: { enabled: boolean; tlsDisable: boolean };
    injector: { enabled: boolean };
    /** Only with a ServiceMonitor (the chart's defaults otherwise). */
    serverTelemetry?: VaultTelemetryValues;
    server: {
        image: { repository: string; tag: string };
        logLevel: string;
        dataStorage: VolumeValues;
        auditStorage: VolumeValues;
        extraEnvironmentVars: Record<string, string>;
        extraSecretEnvironmentVars: { envName: string; secretName: string; secretKey: string }[];
        extraVolumes: { type: "secret"; name: string }[];
        /** With TLS: the certificate reloader sidecar ({@link tlsReloaderValues}) and what it needs. */
        shareProcessNamespace: boolean;
        extraContainers?: TlsReloaderContainer[];
        volumes?: TlsReloaderValues["volumes"];
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
 * pass-through annotation from {@link TLS_PASSTHROUGH_ANNOTATIONS} is added; with
 * `allowedSourceRanges`, the class's allow-list annotation (a class that enforces them by policy,
 * cilium, gets none); with `proxyProtocolRanges`, the class's PROXY protocol annotation.
 */
export function ingressAnnotations(options: VaultServerSettings): Record<string, string> {
    const passthrough = options.tls.enabled ? (passthroughAnnotations(options.ingressClassName) ?? {}) : {};
    const enforcement =
        options.allowedSourceRanges === undefined ? undefined : sourceRangeEnforcement(options.ingressClassName, options.tls.enabled);
    const allowList =
        enforcement?.by === "annotation" && options.allowedSourceRanges !== undefined
            ? { [enforcement.annotation]: options.allowedSourceRanges.join(",") }
            : {};
    const proxy = options.proxyProtocolRanges === undefined ? undefined : proxyProtocolSupport(options.ingressClassName);
    const proxyAnnotations = proxy !== undefined && "annotations" in proxy ? proxy.annotations : {};
    return { ...passthrough, ...allowList, ...proxyAnnotations, ...options.ingressAnnotations };
}

/**
 * Values for the hashicorp/vault chart: HA on Raft, persistent data and audit volumes, an ingress
 * to the active server, and no agent injector (the External Secrets Operator delivers secrets).
 * With TLS the certificate Secret is mounted, `VAULT_CACERT` lets the CLI in the pods verify it, a
 * sidecar sends each server `SIGHUP` when the certificate is renewed (`tlsReload.ts`), and the
 * ingress passes TLS through. An auto-unseal seal gets its credentials from a Secret (environment
 * or files) or from workload identity (service-account annotations); never from the values.
 * The chart's pod anti-affinity and PodDisruptionBudget are kept (the PDB only with more than one server).
 */
export function vaultHelmValues(options: VaultServerSettings): VaultHelmValues {
    const tls = options.tls;
    const seal = sealChartValues(options.seal);
    const secretVolumes = [...(tls.enabled ? [tls.secretName] : []), ...seal.volumes.map((v) => v.name)];
    const image = { repository: VAULT_IMAGE.repository, tag: options.imageTag };
    const reloader = tls.enabled
        ? tlsReloaderValues({
              image: `${image.repository}:${image.tag}`,
              secretName: tls.secretName,
              certFile: tlsFiles(tls).cert,
              keyFile: tlsFiles(tls).key,
          })
        : undefined;
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
            image,
            logLevel: options.logLevel,
            dataStorage: volume(options.storageSize, options.storageClass),
            auditStorage: volume(options.auditStorageSize, options.storageClass),
            extraEnvironmentVars: tls.enabled ? { VAULT_CACERT: tlsFiles(tls).ca } : {},
            extraSecretEnvironmentVars: seal.secretEnvironment,
            extraVolumes: [...new Set(secretVolumes)].map((name) => ({ type: "secret" as const, name })),
            ...(reloader ?? { shareProcessNamespace: false }),
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
                // service, in full so that it resolves from every namespace, which the certificate
                // covers (the chart's default, the pod IP, is not). VAULT_K8S_POD_NAME comes before
                // VAULT_API_ADDR in the chart's env list, so it expands.
                apiAddr: `${vaultScheme(tls)}://$(VAULT_K8S_POD_NAME).${VAULT_RELEASE_NAME}-internal.${options.namespace}.svc:${VAULT_API_PORT}`,
                // The chart's PDB allows (replicas - 1) / 2 pods down; with one server that is zero,
                // which would block every node drain, so a single server gets no PDB.
                disruptionBudget: { enabled: options.replicas > 1 },
                raft: { enabled: true, setNodeId: true, config: serverConfig(options) },
            },
        },
    };
}
