/**
 * Pure builders for the Vault servers: the server configuration and the values for the engine's
 * chart (hashicorp/vault, or openbao/openbao: `components/common/engine.ts`), from the validated
 * options (`serverOptions.ts`). No Pulumi resources here, so tests call them directly.
 */
import { type Engine, type EngineFacts, ENGINE_FACTS, engineFacts, engineImage } from "../common/engine";
import { type ResolvedMonitoringOptions, type VaultTelemetryValues, vaultTelemetryValues } from "../monitoring/monitoringSpecs";
import { AUDIT_DEVICES, type AuditDevice, auditDevice } from "../vault-config/setupValues";
import { type VaultResourceValues, type VaultSecurityContextValues, vaultResourceValues, vaultSecurityContextValues } from "./resources";
import { type ResolvedVaultSealOptions, resolvedSeal, sealChartValues, sealStanza } from "./seal";
import type { ResolvedVaultServerOptions } from "./serverOptions";
import { type ResolvedVaultTls, passthroughAnnotations, resolvedTls, tlsMountPath } from "./tls";
import { type TlsReloaderContainer, type TlsReloaderValues, tlsReloaderValues } from "./tlsReload";
import { proxyProtocolSupport, sourceRangeEnforcement } from "./sourceRanges";

/**
 * The Helm release name of the Vault engine ({@link EngineFacts.releaseName}; `openbao` for OpenBao):
 * pods `vault-0..n`, the headless service `vault-internal` that Raft peers use, and `vault-active` in
 * front of the leader. The `retry_join` addresses and the stores' in-cluster address are derived from
 * it, so it is deliberately not an option.
 */
export const VAULT_RELEASE_NAME = ENGINE_FACTS.vault.releaseName;

/** Vault's API port (the listener) and the Raft/cluster port. */
export const VAULT_API_PORT = 8200;
export const VAULT_CLUSTER_PORT = 8201;

/** Where the Vault chart mounts the data volume; Raft keeps its log and snapshots here ({@link EngineFacts.paths}). */
export const VAULT_DATA_PATH = ENGINE_FACTS.vault.paths.data;

/** Everything the builders need: the validated options, the host, the monitoring options and the engine. */
export interface VaultServerSettings extends Omit<ResolvedVaultServerOptions, "tls" | "seal" | "chartVersion" | "imageTag"> {
    /** Public host name the ingress serves, `vault.<region>.<domain>`. */
    readonly host: string;
    readonly tls: ResolvedVaultTls;
    readonly seal: ResolvedVaultSealOptions;
    readonly monitoring: ResolvedMonitoringOptions;
    /** The engine's facts: its chart, image, names and paths. */
    readonly engine: EngineFacts;
    /** The chart version and image tag in effect: the options', else the engine's pinned ones. */
    readonly chartVersion: string;
    readonly imageTag: string;
    /** The audit devices, which the server configuration declares when the engine takes them there ({@link EngineFacts.auditDevices}). */
    readonly auditDevices: readonly AuditDevice[];
}

/** What the builders need besides the server options: the engine (default `vault`) and the audit devices (default all). */
export interface ServerContext {
    readonly engine?: Engine;
    readonly auditDevices?: readonly AuditDevice[];
}

/** The builders' settings from validated options. */
export function serverSettings(
    options: ResolvedVaultServerOptions,
    host: string,
    monitoring: ResolvedMonitoringOptions,
    context: ServerContext = {},
): VaultServerSettings {
    const engine = engineFacts(context.engine);
    return {
        ...options,
        host,
        tls: resolvedTls(options.tls),
        seal: resolvedSeal(options.seal),
        monitoring,
        engine,
        chartVersion: options.chartVersion ?? engine.chart.version,
        imageTag: options.imageTag ?? engine.image.tag,
        auditDevices: context.auditDevices ?? AUDIT_DEVICES,
    };
}

/** `http` or `https`, as the servers listen. */
export function vaultScheme(tls: ResolvedVaultTls): "http" | "https" {
    return tls.enabled ? "https" : "http";
}

/** The host name of one server pod behind the chart's headless service (covered by the certificate's `*.<release>-internal`). */
export function serverPodHost(ordinal: number, engine: EngineFacts = ENGINE_FACTS.vault): string {
    return `${engine.releaseName}-${ordinal}.${engine.releaseName}-internal`;
}

/** In-cluster API address of one server pod, through the chart's headless service. */
export function serverPodAddress(ordinal: number, tls: ResolvedVaultTls, engine: EngineFacts = ENGINE_FACTS.vault): string {
    return `${vaultScheme(tls)}://${serverPodHost(ordinal, engine)}:${VAULT_API_PORT}`;
}

/** Files of the mounted certificate Secret: the chart mounts `extraVolumes` Secrets under <userconfig>/<name> (`/vault/userconfig`, `/openbao/userconfig`). */
export function tlsFiles(
    tls: Extract<ResolvedVaultTls, { enabled: true }>,
    engine: EngineFacts = ENGINE_FACTS.vault,
): { cert: string; key: string; ca: string } {
    const dir = tlsMountPath(tls.secretName, engine);
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
 * - `service_registration "kubernetes"`, which labels the leader pod so `<release>-active` finds it;
 * - `telemetry` for Prometheus;
 * - with an engine that takes its audit devices from the configuration (OpenBao), one `audit` stanza
 *   per device, the same devices Vault gets through its API (`vault-config/setupValues.ts`).
 */
export function serverConfig(settings: VaultServerSettings): string {
    const { tls, engine } = settings;
    const retryJoin = Array.from({ length: settings.replicas }, (_, ordinal) => ({
        leader_api_addr: serverPodAddress(ordinal, tls, engine),
        ...(tls.enabled ? { leader_ca_cert_file: tlsFiles(tls, engine).ca, leader_tls_servername: serverPodHost(ordinal, engine) } : {}),
    }));
    const monitoring = settings.monitoring;
    const seal = sealStanza(settings.seal, engine);
    const config = {
        ui: true,
        // Vault recommends disabling mlock with integrated storage; nodes must then run without swap.
        // OpenBao has no mlock (and no such option) at all.
        ...(engine.mlockOption ? { disable_mlock: true } : {}),
        listener: {
            tcp: {
                address: `[::]:${VAULT_API_PORT}`,
                cluster_address: `[::]:${VAULT_CLUSTER_PORT}`,
                ...(tls.enabled
                    ? { tls_cert_file: tlsFiles(tls, engine).cert, tls_key_file: tlsFiles(tls, engine).key, tls_min_version: "tls12" }
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
        storage: { raft: { path: engine.paths.data, performance_multiplier: 1, retry_join: retryJoin } },
        ...(seal ? { seal } : {}),
        service_registration: { kubernetes: {} },
        telemetry: { prometheus_retention_time: monitoring.retention, disable_hostname: true },
        ...(engine.auditDevices === "config" ? { audit: auditStanzas(settings.auditDevices, engine) } : {}),
    };
    return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * The `audit` stanzas of the server configuration, in its JSON form: a list of
 * `{<type>: {<path>: {description, options}}}` (OpenBao's configuration/audit documentation). The
 * active server creates each device at start and on SIGHUP, and removes a device whose stanza is gone.
 */
export function auditStanzas(
    devices: readonly AuditDevice[],
    engine: EngineFacts,
): Record<string, Record<string, { description: string; options: Record<string, string> }>>[] {
    return devices.map((device) => {
        const { path, type, description, options } = auditDevice(device, engine);
        return { [type]: { [path]: { description, options } } };
    });
}

/**
 * The subset of the server chart's values this project sets; everything else keeps the chart default.
 * The openbao/openbao chart forked hashicorp/vault's and kept these values' names.
 */
export interface VaultHelmValues {
    global: { enabled: boolean; tlsDisable: boolean };
    injector: { enabled: boolean };
    /** Only with a ServiceMonitor (the chart's defaults otherwise). */
    serverTelemetry?: VaultTelemetryValues;
    server: {
        /** `registry` only for OpenBao's chart, whose template puts it before the repository. */
        image: { registry?: string; repository: string; tag: string };
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
 * Values for the engine's chart: HA on Raft, persistent data and audit volumes, an ingress to the
 * active server, and no agent injector (the External Secrets Operator delivers secrets).
 * With TLS the certificate Secret is mounted, `VAULT_CACERT` (`BAO_CACERT`) lets the CLI in the pods
 * verify it, a sidecar sends each server `SIGHUP` when the certificate is renewed (`tlsReload.ts`), and
 * the ingress passes TLS through. An auto-unseal seal gets its credentials from a Secret (environment
 * or files) or from workload identity (service-account annotations); never from the values.
 * The chart's pod anti-affinity and PodDisruptionBudget are kept (the PDB only with more than one server).
 */
export function vaultHelmValues(options: VaultServerSettings): VaultHelmValues {
    const { tls, engine } = options;
    const seal = sealChartValues(options.seal);
    const secretVolumes = [...(tls.enabled ? [tls.secretName] : []), ...seal.volumes.map((v) => v.name)];
    const image = {
        ...(engine.image.registry === undefined ? {} : { registry: engine.image.registry }),
        repository: engine.image.repository,
        tag: options.imageTag,
    };
    const reloader = tls.enabled
        ? tlsReloaderValues({
              image: engineImage(engine, image.tag),
              secretName: tls.secretName,
              certFile: tlsFiles(tls, engine).cert,
              keyFile: tlsFiles(tls, engine).key,
              engine,
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
                      releaseName: engine.releaseName,
                      ...(tls.enabled ? { caSecret: tls.secretName } : {}),
                  }),
              }
            : {}),
        server: {
            image,
            logLevel: options.logLevel,
            dataStorage: volume(options.storageSize, options.storageClass),
            auditStorage: volume(options.auditStorageSize, options.storageClass),
            extraEnvironmentVars: tls.enabled ? { [`${engine.envPrefix}CACERT`]: tlsFiles(tls, engine).ca } : {},
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
                // covers (the chart's default, the pod IP, is not). VAULT_K8S_POD_NAME (BAO_K8S_POD_NAME)
                // comes before VAULT_API_ADDR (BAO_API_ADDR) in the chart's env list, so it expands.
                apiAddr: `${vaultScheme(tls)}://$(${engine.envPrefix}K8S_POD_NAME).${engine.releaseName}-internal.${options.namespace}.svc:${VAULT_API_PORT}`,
                // The chart's PDB allows (replicas - 1) / 2 pods down; with one server that is zero,
                // which would block every node drain, so a single server gets no PDB.
                disruptionBudget: { enabled: options.replicas > 1 },
                raft: { enabled: true, setNodeId: true, config: serverConfig(options) },
            },
        },
    };
}
