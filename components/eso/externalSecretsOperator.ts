import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { projectLabels } from "../common/labels";
import { EXTERNAL_SECRETS_CHART } from "../common/versions";
import { parseOptions } from "../common/options";
import { type MonitoringOptions, externalSecretsMonitoringValues, monitoringOptions } from "../monitoring/monitoringSpecs";
import {
    EXTERNAL_SECRETS_RELEASE_NAME,
    EXTERNAL_SECRETS_SERVICE_ACCOUNT,
    type ExternalSecretsOptions,
    type ResolvedExternalSecretsOptions,
    externalSecretsHelmValues,
    externalSecretsOptions,
} from "./operatorValues";

export interface ExternalSecretsOperatorArgs extends ExternalSecretsOptions {
    /** The region's monitoring: with a ServiceMonitor, ESO's metrics Service and ServiceMonitor too. Default none. */
    readonly monitoring?: MonitoringOptions;
}

/** Type token of a CustomResourceDefinition in the Kubernetes provider. */
export const CRD_TYPE = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition";

/**
 * A transform for the chart that keeps ESO's CustomResourceDefinitions when Pulumi deletes them.
 *
 * Deleting a CRD deletes every object of that kind in the cluster: every ExternalSecret (and with
 * them, through their owner references, the Secrets they created), every store and PushSecret of
 * every team. That must never follow from `pulumi destroy` or from `externalSecrets.install: false`.
 * With this transform Pulumi forgets the CRDs instead; delete them by hand to really uninstall.
 */
export function retainCustomResourceDefinitions(args: pulumi.ResourceTransformArgs): pulumi.ResourceTransformResult | undefined {
    if (args.type !== CRD_TYPE) {
        return undefined;
    }
    return { props: args.props, opts: pulumi.mergeOptions(args.opts, { retainOnDelete: true }) };
}

/**
 * The External Secrets Operator: its namespace and the external-secrets chart with its CRDs.
 *
 * Anything that creates ESO objects (stores, ExternalSecrets, PushSecrets) should list this
 * component in `dependsOn`: Pulumi then waits for every object of the chart, CRDs and webhook
 * included, so a fresh cluster never meets a missing CRD or an unready webhook.
 *
 * Pass the cluster's Kubernetes provider in `opts.providers` (or `opts.provider`).
 */
export class ExternalSecretsOperator extends pulumi.ComponentResource {
    /** The options in effect, defaults applied. */
    public readonly options: ResolvedExternalSecretsOptions;
    /** Namespace the operator runs in; the per-peer token Secrets live here too. */
    public readonly namespace: pulumi.Output<string>;
    /** The controller's ServiceAccount, which Vault's Kubernetes auth role binds to. */
    public readonly serviceAccountName: string;
    /** The chart release. */
    public readonly chart: k8s.helm.v4.Chart;

    constructor(name: string, args: ExternalSecretsOperatorArgs, opts?: pulumi.ComponentResourceOptions) {
        // Reject impossible options before the component is registered: nothing half-created.
        const { monitoring: monitoringArgs, ...operatorArgs } = args;
        const options = parseOptions("ExternalSecretsOperator", externalSecretsOptions, operatorArgs);
        const monitoring = parseOptions("ExternalSecretsOperator", monitoringOptions, monitoringArgs ?? {}, ["monitoring"]);
        super("openova:vault:ExternalSecretsOperator", name, {}, opts);
        this.options = options;
        this.serviceAccountName = EXTERNAL_SECRETS_SERVICE_ACCOUNT;

        const namespace = new k8s.core.v1.Namespace(
            `${name}-namespace`,
            { metadata: { name: this.options.namespace, labels: projectLabels("external-secrets") } },
            { parent: this },
        );
        this.namespace = namespace.metadata.name;

        this.chart = new k8s.helm.v4.Chart(
            name,
            {
                name: EXTERNAL_SECRETS_RELEASE_NAME,
                namespace: this.namespace,
                chart: EXTERNAL_SECRETS_CHART.chart,
                version: this.options.chartVersion,
                repositoryOpts: { repo: EXTERNAL_SECRETS_CHART.repository },
                values: { ...externalSecretsHelmValues(this.options), ...externalSecretsMonitoringValues(monitoring) },
            },
            { parent: this, transforms: [retainCustomResourceDefinitions] },
        );

        this.registerOutputs({ namespace: this.namespace, serviceAccountName: this.serviceAccountName });
    }
}
