import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { projectLabels } from "../common/labels";
import { checkedInput, input, option, parseOptions, refuseArgs, text } from "../common/options";
import { isDnsSubdomain, isOwnNamespace } from "../common/predicates";
import { type Engine, engineOption } from "../common/engine";
import { type MonitoringOptions, monitoringOptions } from "../monitoring/monitoringSpecs";
import { SNAPSHOT_CRONJOB_NAME } from "../snapshots/snapshotSpecs";
import { RENEWER_NAME } from "../token-renewal/renewalSpecs";
import { type AuditDevice, auditDevicesOption } from "../vault-config/setupValues";
import { needsCiliumPolicy, vaultNetworkPolicies, vaultSourceRangePolicy } from "./networkPolicy";
import { type VaultServerOptions, admittedNamespaceProblems, vaultServerOptions } from "./serverOptions";
import { VAULT_API_PORT, VAULT_CLUSTER_PORT, type VaultServerSettings, serverSettings, vaultHelmValues } from "./serverValues";
import { serverCertificate } from "./tls";

/** The host the ingress serves: a DNS name, or another resource's output that resolves to one. */
export const hostOption = option(text(isDnsSubdomain), {
    description: "Public host name the ingress serves this Vault on, e.g. `vault.region1.example.com`; peer regions reach it there.",
    allowed: "a DNS name",
    example: "vault.region1.example.com",
});

/** The External Secrets Operator's namespace, whose pods the servers' NetworkPolicy admits to the API. */
const externalSecretsNamespaceOption = option(text(isOwnNamespace).default("external-secrets"), {
    description: "Namespace of the External Secrets Operator, whose pods the servers' NetworkPolicy admits to the API.",
    allowed: "a namespace name (a DNS label) other than default, kube-* and Vault's namespace",
    example: "external-secrets",
});

export interface VaultServerArgs extends VaultServerOptions {
    /** Public host name the ingress serves this Vault on; peer regions reach it there. */
    readonly host: pulumi.Input<string>;
    /** Telemetry, and whether Prometheus's namespace is admitted (with a ServiceMonitor). Default: telemetry on, no ServiceMonitor. */
    readonly monitoring?: MonitoringOptions;
    /** Namespace of the External Secrets Operator, whose pods the servers' NetworkPolicy admits to the API. Default `external-secrets`. */
    readonly externalSecretsNamespace?: string;
    /** The engine: `vault` (default, the hashicorp/vault chart) or `openbao` (the openbao/openbao chart). */
    readonly engine?: Engine;
    /**
     * The audit devices, for an engine whose configuration declares them (OpenBao); Vault's are enabled
     * through its API by VaultSetup. Default both.
     */
    readonly auditDevices?: readonly AuditDevice[];
}

/**
 * One region's Vault: its namespace and the engine's official chart (hashicorp/vault, or
 * openbao/openbao) running HA on Raft, reachable in the cluster through `<release>-active`
 * (`vault-active`, `openbao-active`) and from other regions through the ingress.
 *
 * The chart is applied with `skipAwait`: Vault pods only turn Ready once Vault is initialized and
 * unsealed, which happens after the first deploy, so Pulumi's readiness wait would time out on every
 * fresh cluster. The bootstrap waits for the pods itself. So nothing of the chart is waited for: not
 * the pods being scheduled or running, nor their volumes being bound, nor the ingress being admitted.
 * What the servers need before they can start is checked before the run (the stack's preflight), and
 * the Certificate below is waited for until cert-manager has issued it (its Secret is what the pods
 * mount), so a run does not report success while the servers wait for a certificate.
 *
 * The namespace is retained when the component is deleted: deleting it would delete the Raft data
 * volumes, and with them every secret in the region.
 *
 * With TLS from cert-manager (the default) it also declares the servers' `Certificate`; cert-manager
 * itself and the issuer are the operator's.
 *
 * Pass the cluster's Kubernetes provider in `opts.providers` (or `opts.provider`).
 */
export class VaultServer extends pulumi.ComponentResource {
    /** The options in effect, defaults applied (the host as given). */
    public readonly settings: Omit<VaultServerSettings, "host">;
    /** Namespace the servers run in. */
    public readonly namespace: pulumi.Output<string>;
    /** The chart release; depend on it to wait until every object of the chart is applied. */
    public readonly chart: k8s.helm.v4.Chart;
    /** Public host name the ingress serves. */
    public readonly host: pulumi.Output<string>;

    constructor(name: string, args: VaultServerArgs, opts?: pulumi.ComponentResourceOptions) {
        // Reject impossible options before the component is registered: nothing half-created.
        const { host, monitoring, externalSecretsNamespace, engine, auditDevices, ...server } = args;
        const parsed = {
            server: parseOptions("VaultServer", vaultServerOptions, server),
            host: parseOptions("VaultServer", input(hostOption), host, ["host"]),
            monitoring: parseOptions("VaultServer", monitoringOptions, monitoring ?? {}, ["monitoring"]),
            externalSecretsNamespace: parseOptions("VaultServer", externalSecretsNamespaceOption, externalSecretsNamespace, [
                "externalSecretsNamespace",
            ]),
            engine: parseOptions("VaultServer", engineOption, engine, ["engine"]),
            auditDevices: parseOptions("VaultServer", auditDevicesOption, auditDevices, ["auditDevices"]),
        };
        const problems = admittedNamespaceProblems(parsed.server.namespace, [
            { path: ["externalSecretsNamespace"], namespace: parsed.externalSecretsNamespace, who: "the External Secrets Operator" },
            ...(parsed.monitoring.serviceMonitor
                ? [{ path: ["monitoring", "prometheusNamespace"], namespace: parsed.monitoring.prometheusNamespace, who: "Prometheus" }]
                : []),
        ]);
        if (problems.length > 0) {
            refuseArgs(
                "VaultServer",
                problems.map((p) => ({ propertyPath: p.path.join("."), reason: p.message })),
            );
        }
        super("openova:vault:VaultServer", name, {}, opts);
        const settings = serverSettings(parsed.server, "", parsed.monitoring, { engine: parsed.engine, auditDevices: parsed.auditDevices });
        const facts = settings.engine;
        this.settings = settings;
        this.host = checkedInput("VaultServer", "host", hostOption, parsed.host);

        const namespace = new k8s.core.v1.Namespace(
            `${name}-namespace`,
            { metadata: { name: settings.namespace, labels: projectLabels("vault") } },
            { parent: this, retainOnDelete: true },
        );
        this.namespace = namespace.metadata.name;

        // The servers' certificate, before the chart: the pods mount its Secret and start only once it exists.
        const tls = settings.tls;
        const certificateFor = (host: string) =>
            tls.enabled && tls.issuer !== undefined
                ? serverCertificate({
                      namespace: settings.namespace,
                      host,
                      releaseName: facts.releaseName,
                      secretName: tls.secretName,
                      issuer: tls.issuer,
                      labels: projectLabels("vault-tls"),
                  })
                : undefined;
        // Only the names in the spec depend on the host.
        const shape = certificateFor("");
        const certificate =
            shape === undefined
                ? undefined
                : new k8s.apiextensions.CustomResource(
                      `${name}-certificate`,
                      {
                          apiVersion: shape.apiVersion,
                          kind: shape.kind,
                          metadata: shape.metadata,
                          spec: this.host.apply((h) => certificateFor(h)?.spec),
                      },
                      { parent: this, dependsOn: [namespace] },
                  );

        this.chart = new k8s.helm.v4.Chart(
            name,
            {
                name: facts.releaseName,
                namespace: this.namespace,
                chart: facts.chart.chart,
                version: settings.chartVersion,
                repositoryOpts: { repo: facts.chart.repository },
                values: this.host.apply((h) => vaultHelmValues({ ...settings, host: h })),
                skipAwait: true,
            },
            { parent: this, dependsOn: certificate ? [certificate] : [] },
        );

        // Only the ingress, ESO, the snapshot job and the servers themselves reach the API (and only
        // the servers the cluster port); the chart's PDB and required anti-affinity are kept as they are.
        const policies = vaultNetworkPolicies({
            namespace: settings.namespace,
            releaseName: facts.releaseName,
            appName: facts.appName,
            apiPort: VAULT_API_PORT,
            clusterPort: VAULT_CLUSTER_PORT,
            externalSecretsNamespace: parsed.externalSecretsNamespace,
            ingressClassName: settings.ingressClassName,
            ...(settings.ingressControllerNamespace === undefined
                ? {}
                : { ingressControllerNamespace: settings.ingressControllerNamespace }),
            // The snapshot job and the token renewer (each admitted whether or not the region runs it).
            extraPodSelectors: [{ "app.kubernetes.io/name": SNAPSHOT_CRONJOB_NAME }, { "app.kubernetes.io/name": RENEWER_NAME }],
            ...(settings.monitoring.serviceMonitor ? { metricsNamespace: settings.monitoring.prometheusNamespace } : {}),
            labels: projectLabels("vault"),
        });
        for (const policy of policies) {
            if (policy.kind === "NetworkPolicy") {
                new k8s.networking.v1.NetworkPolicy(
                    `${name}-${policy.metadata.name}`,
                    { metadata: policy.metadata, spec: policy.spec },
                    { parent: this, dependsOn: [namespace] },
                );
            } else {
                new k8s.apiextensions.CustomResource(
                    `${name}-${policy.metadata.name}`,
                    { ...policy },
                    { parent: this, dependsOn: [namespace] },
                );
            }
        }

        // The allowed source ranges, where the class enforces them by policy (Cilium); the other classes
        // that can enforce them get their annotation on the ingress (serverValues.ts).
        if (settings.allowedSourceRanges !== undefined && needsCiliumPolicy(settings.ingressClassName)) {
            const policy = vaultSourceRangePolicy({
                namespace: settings.namespace,
                apiPort: VAULT_API_PORT,
                ranges: settings.allowedSourceRanges,
                labels: projectLabels("vault"),
            });
            new k8s.apiextensions.CustomResource(`${name}-source-ranges`, { ...policy }, { parent: this });
        }

        this.registerOutputs({ namespace: this.namespace, host: this.host });
    }
}
