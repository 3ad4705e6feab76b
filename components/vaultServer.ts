import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { projectLabels } from "./labels";
import { VAULT_CHART } from "./versions";
import {
    type ResolvedVaultServerOptions,
    VAULT_RELEASE_NAME,
    type VaultServerOptions,
    resolveVaultServerOptions,
    vaultHelmValues,
} from "./vaultServerValues";

export type VaultServerArgs = VaultServerOptions;

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
            { parent: this },
        );

        this.registerOutputs({ namespace: this.namespace, host: this.host });
    }
}
