/**
 * Observability for a region, as pure builders: Vault's telemetry for Prometheus, the Prometheus
 * Operator's ServiceMonitors (Vault's through its chart, ESO's through its own), and a short list of
 * alerts worth having, as one PrometheusRule. No Pulumi resources here, so tests call them directly.
 *
 * Metrics are scraped authenticated by default: Vault serves `/v1/sys/metrics` only to a token with
 * `read` on `sys/metrics` (a standby then redirects to the active server), unless the listener's
 * `unauthenticated_metrics_access` is set, which has to be chosen explicitly.
 */
import { readOnlyPolicyDocument } from "../vault-config/policies";
import { PERIODIC_TOKEN } from "../vault-config/setupValues";
import { z } from "zod";
import { option, options, text } from "../common/options";
import { isDnsLabel, isLabelKey, isLabelValue, isRefreshInterval, parseDurationMs } from "../common/predicates";

/** The scrape interval of the ServiceMonitors. */
export const SCRAPE_INTERVAL = "30s";

/** The least retention that still covers two scrapes. */
const MIN_RETENTION_MS = 2 * 30_000;

function isRetention(value: string): boolean {
    return isRefreshInterval(value) && parseDurationMs(value) >= MIN_RETENTION_MS;
}

/** A map of Kubernetes labels. */
export const labelMap = z
    .record(z.string(), z.string())
    .refine((labels) => Object.entries(labels).every(([k, v]) => isLabelKey(k) && isLabelValue(v)));

/** Telemetry, ServiceMonitors and alerts of a region. */
export const monitoringOptions = options({
    retention: option(text(isRetention).default("60s"), {
        description: "How long Vault keeps metrics for Prometheus (its `prometheus_retention_time`).",
        allowed: `a Go duration of at least 60s (twice the ${SCRAPE_INTERVAL} scrape interval)`,
        example: "60s",
    }),
    unauthenticatedMetrics: option(z.boolean().default(false), {
        description:
            "Let anyone who reaches Vault's API read `/v1/sys/metrics` without a token (the listener's `unauthenticated_metrics_access`). When false, Prometheus presents a token that can read the metrics only.",
        example: "false",
    }),
    serviceMonitor: option(z.boolean().default(false), {
        description:
            "ServiceMonitors for Vault's active server (verifying its certificate) and for ESO. Needs the Prometheus Operator's CRDs.",
        example: "true",
    }),
    prometheusRules: option(z.boolean().default(false), {
        description:
            "A PrometheusRule with the alerts: a Vault server sealed or down, no active server, failing audit devices, a store not Ready, a PushSecret failing, an ExternalSecret not synced, a failed snapshot.",
        allowed: "{values} (true needs the Prometheus Operator's CRDs)",
        example: "true",
    }),
    prometheusNamespace: option(text(isDnsLabel).default("monitoring"), {
        description: "Where Prometheus runs: admitted to Vault's API port when serviceMonitor is on.",
        allowed: "a namespace name (a DNS label) other than Vault's namespace",
        example: "monitoring",
    }),
    labels: option(labelMap.default({ release: "prometheus" }), {
        description: "Labels on the ServiceMonitors and the PrometheusRule, so the Prometheus Operator's selectors pick them up.",
        allowed: "an object of Kubernetes labels",
        example: "{release: prometheus}",
    }),
});

export type MonitoringOptions = z.input<typeof monitoringOptions>;
export type ResolvedMonitoringOptions = z.output<typeof monitoringOptions>;

/** The Vault policy Prometheus's token carries: read the metrics, nothing else. */
export const METRICS_POLICY = "prometheus-metrics";
export const METRICS_API_PATH = "sys/metrics";

/** The metrics policy (JSON): `read` on `sys/metrics`, nothing else. */
export function metricsPolicyDocument(): string {
    return readOnlyPolicyDocument(METRICS_API_PATH);
}

/** The Secret (in Vault's namespace) holding the token Prometheus scrapes Vault with, and its key. */
export const METRICS_TOKEN_SECRET = "vault-metrics-token";
export const METRICS_TOKEN_KEY = "token";

/** The metrics token: orphan and periodic like a peer token (renewed by `pulumi refresh`), metrics policy only. */
export function metricsTokenSettings(region: string) {
    return {
        displayName: "prometheus-metrics",
        ...PERIODIC_TOKEN,
        metadata: { "issued-by": region, purpose: "prometheus-metrics" },
    };
}

/** The chart's `serverTelemetry` values: the ServiceMonitor on the active server, verifying its certificate. */
export interface VaultTelemetryValues {
    serviceMonitor: {
        enabled: boolean;
        selectors: Record<string, string>;
        interval: string;
        scrapeTimeout: string;
        tlsConfig?: { ca: { secret: { name: string; key: string } }; serverName: string };
        authorization?: { type: "Bearer"; credentials: { name: string; key: string } };
    };
}

/**
 * `serverTelemetry` for the Vault chart. The chart's ServiceMonitor would skip certificate checks
 * when given no `tlsConfig`; here it verifies the active server with the certificate's CA, by the
 * service name the certificate covers. Without unauthenticated access it presents the metrics token.
 */
export function vaultTelemetryValues(args: {
    readonly monitoring: ResolvedMonitoringOptions;
    readonly namespace: string;
    readonly releaseName: string;
    /** The certificate's Secret, when TLS is on. */
    readonly caSecret?: string;
}): VaultTelemetryValues {
    const { monitoring } = args;
    return {
        serviceMonitor: {
            enabled: monitoring.serviceMonitor,
            selectors: { ...monitoring.labels },
            interval: SCRAPE_INTERVAL,
            scrapeTimeout: "10s",
            ...(args.caSecret === undefined
                ? {}
                : {
                      tlsConfig: {
                          ca: { secret: { name: args.caSecret, key: "ca.crt" } },
                          serverName: `${args.releaseName}-active.${args.namespace}.svc`,
                      },
                  }),
            ...(monitoring.unauthenticatedMetrics
                ? {}
                : { authorization: { type: "Bearer" as const, credentials: { name: METRICS_TOKEN_SECRET, key: METRICS_TOKEN_KEY } } }),
        },
    };
}

/** ESO chart values for its metrics, with a ServiceMonitor: the controller's metrics Service and the ServiceMonitor. None otherwise (the chart's defaults). */
export function externalSecretsMonitoringValues(monitoring: ResolvedMonitoringOptions):
    | {
          metrics: { service: { enabled: boolean } };
          serviceMonitor: { enabled: boolean; additionalLabels: Record<string, string>; interval: string; honorLabels: boolean };
      }
    | Record<string, never> {
    if (!monitoring.serviceMonitor) {
        return {};
    }
    return {
        metrics: { service: { enabled: true } },
        // honorLabels: ESO's metrics carry the object's own `namespace` label, which would otherwise be
        // renamed exported_namespace and replaced by the target's (ESO's namespace).
        serviceMonitor: { enabled: true, additionalLabels: { ...monitoring.labels }, interval: SCRAPE_INTERVAL, honorLabels: true },
    };
}

/** One Prometheus alerting rule. */
export interface AlertRule {
    readonly alert: string;
    readonly expr: string;
    readonly for: string;
    readonly labels: { readonly severity: "critical" | "warning" };
    readonly annotations: { readonly summary: string; readonly description: string };
}

/**
 * The alerts worth having for a region, over Vault's metrics, ESO's and kube-state-metrics':
 * - a Vault server sealed or down (its readiness probe fails while sealed);
 * - no active Vault server (no leader: Raft lost its quorum);
 * - audit devices failing (Vault refuses requests once every device fails);
 * - a ClusterSecretStore not Ready (a region's Vault unreachable, or its credentials refused);
 * - a PushSecret failing (replication to a Vault stopped);
 * - an ExternalSecret not synced (a Secret in the cluster is going stale);
 * - a failed Raft snapshot Job.
 */
export function alertRules(args: {
    readonly vaultNamespace: string;
    readonly externalSecretsNamespace: string;
    readonly releaseName: string;
}): AlertRule[] {
    const ns = args.vaultNamespace;
    const rule = (
        alert: string,
        expr: string,
        forDuration: string,
        severity: "critical" | "warning",
        summary: string,
        description: string,
    ): AlertRule => ({
        alert,
        expr,
        for: forDuration,
        labels: { severity },
        annotations: { summary, description },
    });
    return [
        rule(
            "VaultServerSealedOrDown",
            `kube_pod_status_ready{namespace="${ns}", pod=~"${args.releaseName}-[0-9]+", condition="true"} == 0`,
            "5m",
            "critical",
            "A Vault server is sealed or down",
            "{{ $labels.pod }} in {{ $labels.namespace }} has not been Ready for 5 minutes: Vault's readiness check fails while it is sealed. Unseal it (Shamir), or check its KMS access (auto-unseal) and its logs.",
        ),
        rule(
            "VaultNoActiveServer",
            `absent(max(vault_core_active{namespace="${ns}"}) == 1)`,
            "2m",
            "critical",
            "No active Vault server",
            `No server in ${ns} reports itself active (or none is scraped): Raft has no leader, so the region can neither read nor write secrets. Check \`vault operator raft list-peers\` and the pods.`,
        ),
        rule(
            "VaultAuditDeviceFailing",
            `sum(increase(vault_audit_log_request_failure{namespace="${ns}"}[5m])) > 0`,
            "0m",
            "critical",
            "Vault audit devices are failing",
            "Vault failed to write audit entries in the last 5 minutes; once every device fails it refuses all requests. Check the audit volume's free space.",
        ),
        rule(
            "ExternalSecretsStoreNotReady",
            `clustersecretstore_status_condition{condition="Ready", status="False"} == 1`,
            "5m",
            "critical",
            "A ClusterSecretStore is not Ready",
            "Store {{ $labels.name }} cannot reach or log in to its Vault: ExternalSecrets through it are not refreshed, and PushSecrets through it do not replicate.",
        ),
        rule(
            "ExternalSecretsPushFailing",
            `pushsecret_status_condition{condition="Ready", status="False"} == 1`,
            "5m",
            "warning",
            "A PushSecret is failing",
            "PushSecret {{ $labels.namespace }}/{{ $labels.name }} cannot write to its Vault: that region's copy of the secret is going stale.",
        ),
        rule(
            "ExternalSecretNotSynced",
            `externalsecret_status_condition{condition="Ready", status="False"} == 1`,
            "10m",
            "warning",
            "An ExternalSecret is not synced",
            "ExternalSecret {{ $labels.namespace }}/{{ $labels.name }} has not synced for 10 minutes: its Kubernetes Secret keeps its last value.",
        ),
        rule(
            "VaultSnapshotFailed",
            // kube_job_failed is the Job's Failed condition; kube_job_status_failed counts failed pods,
            // which a retry that then succeeds would leave behind.
            `kube_job_failed{namespace="${ns}", job_name=~"vault-snapshot-.*", condition="true"} == 1`,
            "0m",
            "warning",
            "A Vault Raft snapshot failed",
            "Snapshot job {{ $labels.job_name }} failed: see its logs (`kubectl -n {{ $labels.namespace }} logs job/{{ $labels.job_name }}`) and docs/backup-restore.md.",
        ),
    ];
}

/** The PrometheusRule holding {@link alertRules}, in Vault's namespace. */
export function prometheusRule(args: {
    readonly vaultNamespace: string;
    readonly externalSecretsNamespace: string;
    readonly releaseName: string;
    readonly labels: Readonly<Record<string, string>>;
}): {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace: string; labels: Record<string, string> };
    spec: { groups: { name: string; rules: AlertRule[] }[] };
} {
    return {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        metadata: { name: "openova-vault", namespace: args.vaultNamespace, labels: { ...args.labels } },
        spec: { groups: [{ name: "openova-vault", rules: alertRules(args) }] },
    };
}
