/**
 * Observability for a region, as pure builders: Vault's telemetry for Prometheus, the Prometheus
 * Operator's ServiceMonitors (Vault's through its chart, ESO's through its own), and a short list of
 * alerts worth having, as one PrometheusRule. No Pulumi resources here, so tests call them directly.
 *
 * Metrics are scraped authenticated by default: Vault serves `/v1/sys/metrics` only to a token with
 * `read` on `sys/metrics` (a standby then redirects to the active server), unless the listener's
 * `unauthenticated_metrics_access` is set, which has to be chosen explicitly.
 */
import { ENGINE_FACTS, type EngineFacts } from "../common/engine";
import { readOnlyPolicyDocument } from "../vault-config/policies";
import { TLS_RELOADER_CONTAINER } from "../vault-server/tlsReload";
import { REPLICATOR_NAME, REPLICATOR_POD_LABELS } from "../replication/replicatorSpecs";
import {
    LIFETIME_CHECK_NAME,
    LIFETIME_CHECK_STALE_SECONDS,
    RENEWER_JOB_DEADLINE_SECONDS,
    RENEWER_NAME,
    RENEWER_STALE_SECONDS,
} from "../token-renewal/renewalSpecs";
import { LONG_LIVED_TOKEN, metricsTokenGenerationOption, tokenMetadata } from "../token-renewal/tokenLifetime";
import { z } from "zod";
import { option, options, text } from "../common/options";
import { SNAPSHOT_CRONJOB_NAME, SNAPSHOT_JOB_DEADLINE_SECONDS, cronMaxGapSeconds } from "../snapshots/snapshotSpecs";
import { isDnsLabel, isLabelKey, isLabelValue, isRefreshInterval, parseDurationMs } from "../common/predicates";

/**
 * The Prometheus Operator's API group and version: the PrometheusRule here, and the ServiceMonitors the
 * Vault and ESO charts render (`monitoring.coreos.com/v1` in both charts' templates).
 */
export const PROMETHEUS_OPERATOR_API = { group: "monitoring.coreos.com", version: "v1" } as const;

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
            "ServiceMonitors for Vault's active server (verifying its certificate), for ESO and for the replicator. Needs the Prometheus Operator's CRDs.",
        example: "true",
    }),
    prometheusRules: option(z.boolean().default(false), {
        description:
            "A PrometheusRule with the alerts: a Vault server sealed or down, no active server, failing audit devices, a certificate reloader not ready, a store not Ready, a PushSecret failing, an ExternalSecret not synced, a failed snapshot, no recent snapshot (with snapshots on), token renewal failing or stalled, a token near its maximum lifetime, the replicator down, logged out or failing.",
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
    metricsTokenGeneration: metricsTokenGenerationOption,
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

/** Whether a region issues the metrics token: a ServiceMonitor scraping with a token, once its Vault is configured. */
export function issuesMetricsToken(monitoring: ResolvedMonitoringOptions, vaultConfigured: boolean): boolean {
    return monitoring.serviceMonitor && !monitoring.unauthenticatedMetrics && vaultConfigured;
}

/**
 * The metrics token: long-lived like a peer token (orphan, periodic, a one-year maximum lifetime;
 * renewed by the region's token renewer), metrics policy only. `generation` is in its metadata.
 */
export function metricsTokenSettings(region: string, generation = 1) {
    return {
        displayName: "prometheus-metrics",
        ...LONG_LIVED_TOKEN,
        metadata: tokenMetadata({ issuedBy: region, purpose: "prometheus-metrics", generation }),
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

/** One alerting rule, from its parts. */
function rule(
    alert: string,
    expr: string,
    forDuration: string,
    severity: "critical" | "warning",
    summary: string,
    description: string,
): AlertRule {
    return { alert, expr, for: forDuration, labels: { severity }, annotations: { summary, description } };
}

/**
 * The alerts worth having for a region, over Vault's metrics, ESO's and kube-state-metrics':
 * - a Vault server sealed or down (its readiness probe fails while sealed);
 * - no active Vault server (no leader: Raft lost its quorum);
 * - audit devices failing (Vault refuses requests once every device fails);
 * - a certificate reloader not ready (that server will keep serving its certificate past a renewal);
 * - a ClusterSecretStore not Ready (a peer's Vault unreachable, or its credentials refused). Only the
 *   peer stores can report it: the local stores log in as the namespace that asks ("referent"
 *   authentication), so ESO's store controller, which has no namespace, skips their login and their
 *   validation returns Unknown, which it counts as Ready (ESO v2.9.0 `providers/v1/vault/validate.go`,
 *   `pkg/controllers/secretstore/common.go`); their login failures show only as ExternalSecrets not
 *   synced and PushSecrets failing;
 * - a PushSecret failing (replication to a Vault stopped);
 * - an ExternalSecret not synced (a Secret in the cluster is going stale);
 * - a failed Raft snapshot Job;
 * - with `snapshots`: no successful snapshot run (and so, with an off-site target, no off-site copy)
 *   for longer than the recovery point allows ({@link snapshotStaleAlert});
 * - the token renewer failing or stalled, and a token near its maximum lifetime ({@link tokenRenewalAlerts});
 * - the replicator down, logged out or failing ({@link replicatorAlerts}).
 *
 * With OpenBao the metric names are the same (its server registers its telemetry under the service
 * name `vault`: openbao v2.6.2 `command/server.go`, `SetupTelemetry`); the pods, the server container
 * and the CLI the descriptions name are OpenBao's. The alerts keep their names, whatever the engine.
 */
export function alertRules(args: {
    readonly vaultNamespace: string;
    readonly externalSecretsNamespace: string;
    readonly releaseName: string;
    /** The engine of the servers. Default Vault. */
    readonly engine?: EngineFacts;
    readonly snapshots?: SnapshotMonitoring;
}): AlertRule[] {
    const ns = args.vaultNamespace;
    const { product, cli, serverContainer } = args.engine ?? ENGINE_FACTS.vault;
    return [
        rule(
            "VaultServerSealedOrDown",
            // The vault container's readiness, not the pod's: the pod is also NotReady when only its
            // certificate reloader is, which VaultTlsReloaderNotReady reports.
            `kube_pod_container_status_ready{namespace="${ns}", pod=~"${args.releaseName}-[0-9]+", container="${serverContainer}"} == 0`,
            "5m",
            "critical",
            `A ${product} server is sealed or down`,
            `The ${serverContainer} container of {{ $labels.pod }} in {{ $labels.namespace }} has not been ready for 5 minutes: ${product}'s readiness check fails while it is sealed. Unseal it (Shamir), or check its KMS access (auto-unseal) and its logs.`,
        ),
        rule(
            "VaultNoActiveServer",
            `absent(max(vault_core_active{namespace="${ns}"}) == 1)`,
            "2m",
            "critical",
            `No active ${product} server`,
            `No server in ${ns} reports itself active (or none is scraped): Raft has no leader, so the region can neither read nor write secrets. Check \`${cli} operator raft list-peers\` and the pods.`,
        ),
        rule(
            "VaultAuditDeviceFailing",
            `sum(increase(vault_audit_log_request_failure{namespace="${ns}"}[5m])) > 0`,
            "0m",
            "critical",
            `${product} audit devices are failing`,
            `${product} failed to write audit entries in the last 5 minutes; once every device fails it refuses all requests. Check the audit volume's free space.`,
        ),
        rule(
            "VaultTlsReloaderNotReady",
            `kube_pod_container_status_ready{namespace="${ns}", pod=~"${args.releaseName}-[0-9]+", container="${TLS_RELOADER_CONTAINER}"} == 0`,
            "15m",
            "warning",
            `A ${product} server's certificate reloader is not working`,
            `The ${TLS_RELOADER_CONTAINER} container of {{ $labels.pod }} in {{ $labels.namespace }} has not been ready for 15 minutes: it cannot find or signal ${product}, or has stopped. That server keeps serving its current certificate after a renewal, and clients fail TLS once it expires (cert-manager renews 30 days before). See \`kubectl -n {{ $labels.namespace }} logs {{ $labels.pod }} -c ${TLS_RELOADER_CONTAINER}\` and docs/operations.md, "The certificate reloader".`,
        ),
        rule(
            "ExternalSecretsStoreNotReady",
            `clustersecretstore_status_condition{condition="Ready", status="False"} == 1`,
            "5m",
            "critical",
            "A ClusterSecretStore is not Ready",
            `Store {{ $labels.name }} cannot reach or log in to its ${product}: ExternalSecrets through it are not refreshed, and PushSecrets through it do not replicate. Only a peer store (vault-<peer>) can report this: vault-local and vault-local-push log in as each namespace that uses them, so ESO cannot check their login and always reports them Ready; their failures show as ExternalSecretNotSynced and ExternalSecretsPushFailing.`,
        ),
        rule(
            "ExternalSecretsPushFailing",
            `pushsecret_status_condition{condition="Ready", status="False"} == 1`,
            "5m",
            "warning",
            "A PushSecret is failing",
            `PushSecret {{ $labels.namespace }}/{{ $labels.name }} cannot write to its ${product}: that region's copy of the secret is going stale.`,
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
            `A ${product} Raft snapshot failed`,
            "Snapshot job {{ $labels.job_name }} failed: see its logs (`kubectl -n {{ $labels.namespace }} logs job/{{ $labels.job_name }}`) and docs/backup-restore.md.",
        ),
        ...(args.snapshots === undefined ? [] : [snapshotStaleAlert(ns, args.snapshots, product)]),
        ...tokenRenewalAlerts(ns, product),
        ...replicatorAlerts(args.externalSecretsNamespace, product),
    ];
}

/** What the snapshot alerts and the off-site copy's age need to know about a region's snapshots. */
export interface SnapshotMonitoring {
    /** The CronJob's schedule (UTC). */
    readonly schedule: string;
    /** Where each snapshot is copied off the cluster (for the alert's text), if anywhere. */
    readonly offsite?: string;
}

/**
 * How long a region may go without a successful snapshot run before {@link snapshotStaleAlert}
 * fires: two of the schedule's longest intervals plus a run's deadline, so one missed or failed run
 * (which VaultSnapshotFailed reports at once) does not fire it, and two in a row do.
 */
export function snapshotStaleSeconds(schedule: string): number {
    return 2 * cronMaxGapSeconds(schedule) + SNAPSHOT_JOB_DEADLINE_SECONDS;
}

/** kube-state-metrics' time of the snapshot CronJob's last successful Job, per namespace. */
function snapshotSucceeded(namespace: string): string {
    return `max by (namespace, cronjob) (kube_cronjob_status_last_successful_time{namespace="${namespace}", cronjob="${SNAPSHOT_CRONJOB_NAME}"})`;
}

/**
 * No successful snapshot run for {@link snapshotStaleSeconds}, or none ever since the CronJob was
 * created that long ago. With an off-site target the Job succeeds only once every copy is written
 * (the copy is its last container), so the CronJob's last successful time is the last off-site copy's.
 */
export function snapshotStaleAlert(namespace: string, snapshots: SnapshotMonitoring, product = ENGINE_FACTS.vault.product): AlertRule {
    const bound = snapshotStaleSeconds(snapshots.schedule);
    const succeeded = snapshotSucceeded(namespace);
    const created = `max by (namespace, cronjob) (kube_cronjob_created{namespace="${namespace}", cronjob="${SNAPSHOT_CRONJOB_NAME}"})`;
    const what = snapshots.offsite === undefined ? "snapshot" : `snapshot copied off the cluster (to ${snapshots.offsite})`;
    return rule(
        "VaultSnapshotStale",
        `(time() - ${succeeded} > ${bound}) or ((time() - ${created} > ${bound}) unless ${succeeded})`,
        "0m",
        "critical",
        snapshots.offsite === undefined ? `No recent ${product} snapshot` : `No recent off-site ${product} snapshot`,
        `The newest ${what} in {{ $labels.namespace }} is older than ${Math.round(bound / 60)} minutes (two intervals of the schedule "${snapshots.schedule}" and a run's deadline): a restore would lose more than the recovery point allows. Check the CronJob ${SNAPSHOT_CRONJOB_NAME} (suspended? its Jobs failing?) and the logs of its last Job (docs/backup-restore.md).`,
    );
}

/** One Prometheus recording rule. */
export interface RecordingRule {
    readonly record: string;
    readonly expr: string;
}

/** The metric of the age of the newest successful snapshot run, which with an off-site target is the newest off-site copy's. */
export const SNAPSHOT_AGE_METRIC = "openova_vault:snapshot_last_success_age_seconds";

/**
 * The snapshots' recording rule: {@link SNAPSHOT_AGE_METRIC}, in seconds, per namespace. Derived
 * from kube-state-metrics (already scraped for the alerts), so nothing in the job pushes a metric.
 */
export function snapshotRecordingRules(namespace: string): RecordingRule[] {
    return [{ record: SNAPSHOT_AGE_METRIC, expr: `time() - ${snapshotSucceeded(namespace)}` }];
}

/**
 * The replicator's alerts (components/replication), over kube-state-metrics' Deployment metrics and the
 * replicator's own (`replicator/main.ts`, scraped by {@link replicatorServiceMonitor}). None fires in a
 * region without a replicator: there is no such Deployment or metric. While the replicator is down or
 * failing, no write is lost: this region's writes stay in its Vault, and peers' writes wait in its inbox,
 * until it runs again; but the regions' copies differ meanwhile.
 */
export function replicatorAlerts(namespace: string, product = ENGINE_FACTS.vault.product): AlertRule[] {
    const selector = `{namespace="${namespace}"}`;
    const runbook = 'docs/operations.md, "The replicator"';
    const logs = `\`kubectl -n {{ $labels.namespace }} logs deploy/${REPLICATOR_NAME} --tail=50\``;
    return [
        rule(
            "VaultReplicatorUnavailable",
            `kube_deployment_status_replicas_available{namespace="${namespace}", deployment="${REPLICATOR_NAME}"} < 1`,
            "5m",
            "critical",
            "The secrets replicator is down",
            `The replicator in {{ $labels.namespace }} has had no available pod for 5 minutes: writes made in this region do not reach the others, and the peers' writes wait in this ${product}'s inbox until it runs again. Check its pod and logs: ${logs} (${runbook}).`,
        ),
        rule(
            "VaultReplicatorLoggedOut",
            `openova_replicator_up${selector} == 0`,
            "5m",
            "critical",
            `The secrets replicator cannot log in to its ${product}`,
            `The replicator in {{ $labels.namespace }} has not logged in to its own ${product} for 5 minutes (sealed, unreachable, or its Kubernetes auth role refused). Nothing replicates from or into this region until it does. ${logs} (${runbook}).`,
        ),
        rule(
            "VaultReplicatorOffersFailing",
            `sum by (namespace) (increase(openova_replicator_offers_failed_total${selector}[10m])) > 0`,
            "15m",
            "warning",
            "The secrets replicator cannot reach a peer",
            `For 15 minutes the replicator in {{ $labels.namespace }} has failed to offer writes to a peer region (unreachable, sealed, or its JWT role there refused): that peer's copies are going stale. Every write is kept and offered again; the log names the peer. ${logs} (${runbook}).`,
        ),
        rule(
            "VaultReplicatorRoundsFailing",
            `sum by (namespace) (increase(openova_replicator_rounds_failed_total${selector}[10m])) > 0`,
            "15m",
            "warning",
            "The secrets replicator is failing to apply writes",
            `For 15 minutes rounds of the replicator in {{ $labels.namespace }} have failed (its ${product} refused or did not answer): replicated secrets may differ between regions. ${logs} (${runbook}).`,
        ),
        rule(
            "VaultReplicatorClockAhead",
            `sum by (namespace) (increase(openova_replicator_held_back_total${selector}[10m])) > 0`,
            "0m",
            "warning",
            "A peer region's clock runs ahead of the clock bound",
            `The replicator in {{ $labels.namespace }} holds back entries stamped further ahead of its clock than replicator.maxClockAhead: the region that stamped them (the log names it) has a clock ahead, and its writes will beat writes made up to that far later in true time elsewhere once they count. Fix that region's clock (NTP). ${logs} (${runbook}).`,
        ),
    ];
}

/** The replicator's ServiceMonitor: its metrics port, in ESO's namespace, with the labels Prometheus selects. */
export function replicatorServiceMonitor(namespace: string, labels: Readonly<Record<string, string>>) {
    return {
        apiVersion: `${PROMETHEUS_OPERATOR_API.group}/${PROMETHEUS_OPERATOR_API.version}`,
        kind: "ServiceMonitor",
        metadata: { name: REPLICATOR_NAME, namespace, labels: { ...labels } },
        spec: {
            selector: { matchLabels: { ...REPLICATOR_POD_LABELS } },
            endpoints: [{ port: "metrics", path: "/metrics", interval: SCRAPE_INTERVAL }],
        },
    };
}

/** How long the renewer's latest run may stay unsuccessful before it alerts: three times a run's deadline, so a run in progress never does. */
export const RENEWAL_FAILING_FOR = `${(3 * RENEWER_JOB_DEADLINE_SECONDS) / 60}m`;

/**
 * The token renewer's alerts (components/token-renewal), over kube-state-metrics' CronJob metrics,
 * which carry `namespace` and `cronjob` labels (kube-state-metrics
 * `docs/metrics/workload/cronjob-metrics.md`). `kube_cronjob_status_last_successful_time` exists only
 * once a Job of the CronJob has succeeded (kube-state-metrics `internal/store/cronjob.go`); Kubernetes
 * sets it to that Job's completion time (`pkg/controller/cronjob/cronjob_controllerv2.go`), after the
 * Job's scheduled time. Each alert reads one CronJob, whose Jobs fail for one reason only
 * (`RENEWAL_MODES` in renewalSpecs.ts):
 * - **failing** (the renewer): its latest run was scheduled after its last success (or nothing ever
 *   succeeded) and stays so past a run's deadline: a token's renewal failed. The Job's log says which;
 * - **stalled** (the renewer): no run has succeeded for a day (none ran, or all failed), while every
 *   token still has weeks of its 30-day period left. A token near its maximum lifetime does not fail
 *   the renewer, so neither of these fires for it;
 * - **near its maximum lifetime** (the daily lifetime check): its latest run failed, so a token is
 *   within 30 days of its one-year maximum lifetime and must be rotated; or the check has not been
 *   scheduled for two days, so nobody would learn that.
 * None fires in a region without a renewer (token peer auth off and no metrics token): there is no
 * such CronJob to measure.
 */
export function tokenRenewalAlerts(namespace: string, product = ENGINE_FACTS.vault.product): AlertRule[] {
    const latest = (metric: string, cronJob: string) =>
        `max by (namespace, cronjob) (${metric}{namespace="${namespace}", cronjob="${cronJob}"})`;
    const scheduled = latest("kube_cronjob_status_last_schedule_time", RENEWER_NAME);
    const succeeded = latest("kube_cronjob_status_last_successful_time", RENEWER_NAME);
    const checked = latest("kube_cronjob_status_last_schedule_time", LIFETIME_CHECK_NAME);
    const checkPassed = latest("kube_cronjob_status_last_successful_time", LIFETIME_CHECK_NAME);
    const checkCreated = latest("kube_cronjob_created", LIFETIME_CHECK_NAME);
    const runbook = 'docs/operations.md, "The token renewer"';
    const logs = (cronJob: string) => `\`kubectl -n {{ $labels.namespace }} logs -l app.kubernetes.io/instance=${cronJob} --tail=50\``;
    return [
        rule(
            "VaultTokenRenewalFailing",
            `(${scheduled} > ${succeeded}) or (${scheduled} unless ${succeeded})`,
            RENEWAL_FAILING_FOR,
            "warning",
            `${product} token renewal is failing`,
            `The latest run of the token renewer in {{ $labels.namespace }} did not succeed: a token's renewal failed. Its log names the token and what ${product} said: ${logs(RENEWER_NAME)} (${runbook}).`,
        ),
        rule(
            "VaultTokenRenewerStalled",
            `(time() - ${succeeded} > ${RENEWER_STALE_SECONDS}) or ((time() - ${latest("kube_cronjob_created", RENEWER_NAME)} > ${RENEWER_STALE_SECONDS}) unless ${succeeded})`,
            "0m",
            "critical",
            `${product} tokens have not been renewed for a day`,
            `The token renewer in {{ $labels.namespace }} has not succeeded for ${RENEWER_STALE_SECONDS / 3600} hours: the region's long-lived tokens (peer tokens, the metrics token) lapse at the end of their 30-day period unless it runs again. Check the CronJob (suspended? its Jobs failing or not scheduled?) and its logs (${runbook}).`,
        ),
        rule(
            "VaultTokenNearMaxLifetime",
            `(${checked} > ${checkPassed}) or (${checked} unless ${checkPassed}) or (time() - ${checked} > ${LIFETIME_CHECK_STALE_SECONDS}) or ((time() - ${checkCreated} > ${LIFETIME_CHECK_STALE_SECONDS}) unless ${checked})`,
            RENEWAL_FAILING_FOR,
            "warning",
            `A ${product} token must be rotated within 30 days`,
            `The daily token lifetime check in {{ $labels.namespace }} failed, or has not run for ${LIFETIME_CHECK_STALE_SECONDS / 86400} days: a long-lived token is within 30 days of its one-year maximum lifetime, after which it stops working. Its log names each such token (${logs(LIFETIME_CHECK_NAME)}). Rotate it (raise its generation, pulumi up in this region, then in the region that uses it) (docs/operations.md, "Rotating a long-lived token").`,
        ),
    ];
}

/** The PrometheusRule holding {@link alertRules} (and with `snapshots` the snapshots' recording rule), in Vault's namespace. */
export function prometheusRule(args: {
    readonly vaultNamespace: string;
    readonly externalSecretsNamespace: string;
    readonly releaseName: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly engine?: EngineFacts;
    readonly snapshots?: SnapshotMonitoring;
}): {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace: string; labels: Record<string, string> };
    spec: { groups: ({ name: string; rules: AlertRule[] } | { name: string; rules: RecordingRule[] })[] };
} {
    return {
        apiVersion: `${PROMETHEUS_OPERATOR_API.group}/${PROMETHEUS_OPERATOR_API.version}`,
        kind: "PrometheusRule",
        metadata: { name: "openova-vault", namespace: args.vaultNamespace, labels: { ...args.labels } },
        spec: {
            groups: [
                { name: "openova-vault", rules: alertRules(args) },
                ...(args.snapshots === undefined
                    ? []
                    : [{ name: "openova-vault-snapshots", rules: snapshotRecordingRules(args.vaultNamespace) }]),
            ],
        },
    };
}
