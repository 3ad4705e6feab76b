import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { projectLabels } from "../common/labels";
import { VAULT_CHART } from "../common/versions";
import { serverCertificate } from "./tls";
import { EXTERNAL_SECRETS_DEFAULTS } from "../eso/operatorValues";
import { SNAPSHOT_CRONJOB_NAME } from "../snapshots/snapshotSpecs";
import { vaultNetworkPolicies } from "./podHardening";
import {
    type ResolvedVaultServerOptions,
    VAULT_API_PORT,
    VAULT_CLUSTER_PORT,
    VAULT_RELEASE_NAME,
    type VaultServerOptions,
    resolveVaultServerOptions,
    vaultHelmValues,
} from "./serverValues";

export interface VaultServerArgs extends VaultServerOptions {
    /**
     * Namespace of the External Secrets Operator, whose pods the servers' NetworkPolicy admits to the
     * API. Default `external-secrets`.
     */
    readonly externalSecretsNamespace?: string;
}

/**
 * One region's Vault: its namespace and the official hashicorp/vault chart running HA on Raft,
 * reachable in the cluster through `vault-active` and from other regions through the ingress.
 *
 * The chart is applied with `skipAwait`: Vault pods only turn Ready once Vault is initialized and
 * unsealed, which happens after the first deploy, so Pulumi's readiness wait would time out on every
 * fresh cluster. The bootstrap waits for the pods itself.
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
    /** The options in effect, defaults applied. */
    public readonly options: ResolvedVaultServerOptions;
    /** Namespace the servers run in. */
    public readonly namespace: pulumi.Output<string>;
    /** The chart release; depend on it to wait until every object of the chart is applied. */
    public readonly chart: k8s.helm.v4.Chart;
    /** Public host name the ingress serves. */
    public readonly host: string;

    constructor(name: string, args: VaultServerArgs, opts?: pulumi.ComponentResourceOptions) {
        // Reject impossible options before the component is registered: nothing half-created.
        const options = resolveVaultServerOptions(args);
        super("openova:vault:VaultServer", name, {}, opts);
        this.options = options;
        this.host = this.options.host;

        const namespace = new k8s.core.v1.Namespace(
            `${name}-namespace`,
            { metadata: { name: this.options.namespace, labels: projectLabels("vault") } },
            { parent: this, retainOnDelete: true },
        );
        this.namespace = namespace.metadata.name;

        // The servers' certificate, before the chart: the pods mount its Secret and start only once it exists.
        const tls = this.options.tls;
        const certificate =
            tls.enabled && tls.issuer !== undefined
                ? new k8s.apiextensions.CustomResource(
                      `${name}-certificate`,
                      {
                          ...serverCertificate({
                              namespace: this.options.namespace,
                              host: this.host,
                              releaseName: VAULT_RELEASE_NAME,
                              secretName: tls.secretName,
                              issuer: tls.issuer,
                              labels: projectLabels("vault-tls"),
                          }),
                      },
                      { parent: this, dependsOn: [namespace] },
                  )
                : undefined;

        this.chart = new k8s.helm.v4.Chart(
            name,
            {
                name: VAULT_RELEASE_NAME,
                namespace: this.namespace,
                chart: VAULT_CHART.chart,
                version: this.options.chartVersion,
                repositoryOpts: { repo: VAULT_CHART.repository },
                values: vaultHelmValues(this.options),
                skipAwait: true,
            },
            { parent: this, dependsOn: certificate ? [certificate] : [] },
        );

        // Only the ingress, ESO, the snapshot job and the servers themselves reach the API (and only
        // the servers the cluster port); the chart's PDB and required anti-affinity are kept as they are.
        const policies = vaultNetworkPolicies({
            namespace: this.options.namespace,
            releaseName: VAULT_RELEASE_NAME,
            apiPort: VAULT_API_PORT,
            clusterPort: VAULT_CLUSTER_PORT,
            externalSecretsNamespace: args.externalSecretsNamespace ?? EXTERNAL_SECRETS_DEFAULTS.namespace,
            ingressClassName: this.options.ingressClassName,
            ...(this.options.ingressControllerNamespace === undefined ? {} : { ingressControllerNamespace: this.options.ingressControllerNamespace }),
            extraPodSelectors: [{ "app.kubernetes.io/name": SNAPSHOT_CRONJOB_NAME }],
            ...(this.options.monitoring.serviceMonitor ? { metricsNamespace: this.options.monitoring.prometheusNamespace } : {}),
            labels: projectLabels("vault"),
        });
        for (const policy of policies) {
            if (policy.kind === "NetworkPolicy") {
                new k8s.networking.v1.NetworkPolicy(`${name}-${policy.metadata.name}`, { metadata: policy.metadata, spec: policy.spec }, { parent: this, dependsOn: [namespace] });
            } else {
                new k8s.apiextensions.CustomResource(`${name}-${policy.metadata.name}`, { ...policy }, { parent: this, dependsOn: [namespace] });
            }
        }

        this.registerOutputs({ namespace: this.namespace, host: this.host });
    }
}
