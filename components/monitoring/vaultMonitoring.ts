import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { type Engine, engineFacts, engineOption } from "../common/engine";
import { projectLabels } from "../common/labels";
import { parseOptions } from "../common/options";
import {
    METRICS_POLICY,
    METRICS_TOKEN_KEY,
    METRICS_TOKEN_SECRET,
    type MonitoringOptions,
    type SnapshotMonitoring,
    issuesMetricsToken,
    metricsPolicyDocument,
    metricsTokenSettings,
    prometheusRule,
    monitoringOptions,
} from "./monitoringSpecs";

export interface VaultMonitoringArgs {
    /** This region (named in the metrics token's metadata). */
    readonly region: string;
    /** Vault's namespace: the PrometheusRule and the metrics token's Secret go there. */
    readonly namespace: string;
    /** ESO's namespace (its alerts). */
    readonly externalSecretsNamespace: string;
    readonly monitoring?: MonitoringOptions;
    /**
     * The region's Vault admin provider, once the Vault is configured: with a ServiceMonitor and
     * authenticated scraping, it writes the metrics policy and issues the token Prometheus presents.
     */
    readonly provider?: vault.Provider;
    /** The engine of the servers, whose pods and container the alerts select. Default `vault`. */
    readonly engine?: Engine;
    /** The region's snapshots, when it takes them: their staleness alert and the age of the newest (off-site) copy. */
    readonly snapshots?: SnapshotMonitoring;
}

/**
 * A region's monitoring objects beyond the charts' ServiceMonitors: the PrometheusRule with the
 * alerts ({@link prometheusRule}), and for an authenticated scrape the `prometheus-metrics` policy
 * (`read` on `sys/metrics` only) and a long-lived token with it (orphan, periodic, a one-year maximum
 * lifetime), kept in the Secret `vault-metrics-token` the Vault ServiceMonitor reads. The region's
 * token renewer renews it by its accessor ({@link metricsTokenAccessor}). Raising
 * `monitoring.metricsTokenGeneration` issues a new token and puts it in the Secret; the old one is
 * kept (`retainOnDelete`) until its period runs out, so the scrape never fails.
 *
 * Pass the region cluster's Kubernetes provider in `opts.providers` (or through a parent).
 */
export class VaultMonitoring extends pulumi.ComponentResource {
    /** Whether the PrometheusRule is declared. */
    public readonly rules: boolean;
    /** Whether this component issued the metrics token. */
    public readonly metricsToken: boolean;
    /** The metrics token's accessor (its ID), which the token renewer renews it by; when it is issued. */
    public readonly metricsTokenAccessor?: pulumi.Output<string>;

    constructor(name: string, args: VaultMonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        const monitoring = parseOptions("VaultMonitoring", monitoringOptions, args.monitoring ?? {}, ["monitoring"]);
        const engine = engineFacts(parseOptions("VaultMonitoring", engineOption, args.engine, ["engine"]));
        super("openova:vault:VaultMonitoring", name, {}, opts);
        const child = { parent: this, dependsOn: opts?.dependsOn };

        this.rules = monitoring.prometheusRules;
        if (monitoring.prometheusRules) {
            const rule = prometheusRule({
                vaultNamespace: args.namespace,
                externalSecretsNamespace: args.externalSecretsNamespace,
                releaseName: engine.releaseName,
                labels: { ...projectLabels("monitoring"), ...monitoring.labels },
                engine,
                ...(args.snapshots === undefined ? {} : { snapshots: args.snapshots }),
            });
            new k8s.apiextensions.CustomResource(`${name}-rules`, { ...rule }, child);
        }

        this.metricsToken = issuesMetricsToken(monitoring, args.provider !== undefined);
        if (this.metricsToken && args.provider !== undefined) {
            const inVault = { ...child, provider: args.provider };
            const policy = new vault.Policy(`${name}-metrics-policy`, { name: METRICS_POLICY, policy: metricsPolicyDocument() }, inVault);
            const token = new vault.Token(
                `${name}-metrics-token`,
                { ...metricsTokenSettings(args.region, monitoring.metricsTokenGeneration), policies: [policy.name] },
                // Kept when replaced (a new generation): Prometheus holds it until it reads the new Secret.
                // No longer renewed, it lapses at the end of its period.
                { ...inVault, retainOnDelete: true },
            );
            this.metricsTokenAccessor = token.id;
            new k8s.core.v1.Secret(
                `${name}-metrics-token`,
                {
                    metadata: { name: METRICS_TOKEN_SECRET, namespace: args.namespace, labels: projectLabels("monitoring") },
                    type: "Opaque",
                    stringData: { [METRICS_TOKEN_KEY]: pulumi.secret(token.clientToken) },
                },
                child,
            );
        }

        this.registerOutputs({ rules: this.rules, metricsToken: this.metricsToken, metricsTokenAccessor: this.metricsTokenAccessor });
    }
}
