import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { projectLabels } from "../common/labels";
import { ENGINE_FACTS, type Engine } from "../common/engine";
import { parseOptions } from "../common/options";
import { replicatorServiceMonitor } from "../monitoring/monitoringSpecs";
import { EXTERNAL_SECRETS_AUDIENCE } from "../vault-config/setupValues";
import {
    AUDIT_WRITE_TIMEOUT,
    REPLICATOR_NAME,
    REPLICATOR_POD_LABELS,
    REPLICATOR_POLICY,
    REPLICATOR_PORTS,
    REPLICATOR_ROLE,
    type ReplicatorOptions,
    type ReplicatorPeer,
    type ReplicatorSpec,
    contentChecksum,
    replicatorAuditAddress,
    replicatorCode,
    replicatorConfigData,
    replicatorDeployment,
    replicatorDeploymentMetadata,
    replicatorOptions,
    replicatorPolicyDocument,
    replicatorService,
} from "./replicatorSpecs";

export interface ReplicatorArgs {
    /** This region's Vault provider, authenticated as an admin: the replicator's policy, role and audit device. */
    readonly provider: vault.Provider;
    readonly region: string;
    /** ESO's namespace, where the replicator runs. */
    readonly namespace: string;
    /** Vault's namespace (its server pods send the audit stream). */
    readonly vaultNamespace: string;
    readonly kvMount: pulumi.Input<string>;
    readonly authPath: pulumi.Input<string>;
    /** This region's Vault inside the cluster, and the PEM of its CA (empty for the system's CAs). */
    readonly vaultAddress: string;
    readonly vaultCaCert: pulumi.Input<string>;
    /** The peers that granted this region's replicator access (their JWT mount for it, and its role there). */
    readonly peers: readonly (Omit<ReplicatorPeer, "address" | "caCert"> & {
        readonly address: pulumi.Input<string>;
        readonly caCert: pulumi.Input<string>;
    })[];
    /** Every peer region (the inboxes the replicator reads here, whether or not that peer is connected yet). */
    readonly peerRegions: readonly string[];
    /** The secrets it carries: their paths, and the ExternalSecrets that read each here. */
    readonly secrets: ReplicatorSpec["secrets"];
    readonly options?: ReplicatorOptions;
    /** The namespace Prometheus scrapes from, when it does: admitted to the metrics port. */
    readonly metricsNamespace?: string;
    /** The engine (default `vault`): with one that takes audit devices only from its configuration, no audit hints. */
    readonly engine?: Engine;
    /** When Prometheus scrapes (the Prometheus Operator's CRDs installed): the labels of the replicator's ServiceMonitor. */
    readonly serviceMonitorLabels?: Readonly<Record<string, string>>;
}

/**
 * A region's replicator, for the secrets every region writes (`writers: any`): its code (the files
 * of `replicator/`, in a ConfigMap) run by the official Node.js image; a Kubernetes auth role in its
 * own Vault with a policy for exactly those secrets; the rights to refresh their ExternalSecrets; and,
 * unless `auditHints` is off, a socket audit device that streams this Vault's audit log to it. What a
 * peer grants it (its JWT role there) is that peer's {@link PeerAccess}.
 *
 * Pass the region cluster's Kubernetes provider in `opts.providers` (or through a parent); list ESO
 * and the Vault setup in `opts.dependsOn`.
 */
export class Replicator extends pulumi.ComponentResource {
    /** The Deployment's name. */
    public readonly deploymentName: pulumi.Output<string>;

    constructor(name: string, args: ReplicatorArgs, opts?: pulumi.ComponentResourceOptions) {
        const resolved = parseOptions("Replicator", replicatorOptions, args.options ?? {});
        super("openova:vault:Replicator", name, {}, opts);
        const inCluster = { parent: this, dependsOn: opts?.dependsOn };
        const inVault = { parent: this, provider: args.provider, dependsOn: opts?.dependsOn };
        const keys = args.secrets.map((secret) => secret.key);

        const policy = new vault.Policy(
            `${name}-policy`,
            {
                name: REPLICATOR_POLICY,
                policy: pulumi.output(args.kvMount).apply((mount) => replicatorPolicyDocument(mount, keys, args.peerRegions)),
            },
            inVault,
        );
        const role = new vault.kubernetes.AuthBackendRole(
            `${name}-role`,
            {
                backend: args.authPath,
                roleName: REPLICATOR_ROLE,
                boundServiceAccountNames: [REPLICATOR_NAME],
                boundServiceAccountNamespaces: [args.namespace],
                audience: EXTERNAL_SECRETS_AUDIENCE,
                tokenTtl: 15 * 60,
                tokenMaxTtl: 60 * 60,
                tokenPolicies: [policy.name],
            },
            inVault,
        );

        const account = new k8s.core.v1.ServiceAccount(
            `${name}-account`,
            { metadata: { name: REPLICATOR_NAME, namespace: args.namespace, labels: projectLabels("replicator") } },
            inCluster,
        );
        // The ExternalSecrets it refreshes, by name, in each namespace: nothing else.
        const byNamespace = new Map<string, Set<string>>();
        for (const secret of args.secrets) {
            for (const ref of secret.externalSecrets) {
                byNamespace.set(ref.namespace, (byNamespace.get(ref.namespace) ?? new Set()).add(ref.name));
            }
        }
        const grants = [...byNamespace].flatMap(([namespace, names]) => {
            const rbac = new k8s.rbac.v1.Role(
                `${name}-refresh-${namespace}`,
                {
                    metadata: { name: `${REPLICATOR_NAME}-refresh`, namespace, labels: projectLabels("replicator") },
                    rules: [
                        {
                            apiGroups: ["external-secrets.io"],
                            resources: ["externalsecrets"],
                            verbs: ["get", "patch"],
                            resourceNames: [...names].sort(),
                        },
                    ],
                },
                inCluster,
            );
            return [
                rbac,
                new k8s.rbac.v1.RoleBinding(
                    `${name}-refresh-${namespace}`,
                    {
                        metadata: { name: `${REPLICATOR_NAME}-refresh`, namespace, labels: projectLabels("replicator") },
                        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: rbac.metadata.name },
                        subjects: [{ kind: "ServiceAccount", name: REPLICATOR_NAME, namespace: args.namespace }],
                    },
                    inCluster,
                ),
            ];
        });

        const code = replicatorCode();
        const codeMap = new k8s.core.v1.ConfigMap(
            `${name}-code`,
            { metadata: { name: `${REPLICATOR_NAME}-code`, namespace: args.namespace, labels: projectLabels("replicator") }, data: code },
            inCluster,
        );
        const spec = pulumi
            .all([
                args.kvMount,
                args.authPath,
                args.vaultCaCert,
                pulumi.all(args.peers.map((peer) => pulumi.all([peer.address, peer.caCert]))),
            ])
            .apply(([kvMount, authPath, vaultCaCert, endpoints]): ReplicatorSpec => ({
                region: args.region,
                namespace: args.namespace,
                kvMount,
                authPath,
                vaultAddress: args.vaultAddress,
                vaultCaCert,
                peers: args.peers.map((peer, i) => ({ ...peer, address: endpoints[i][0], caCert: endpoints[i][1] })),
                secrets: args.secrets,
                options: resolved,
            }));
        const configData = spec.apply(replicatorConfigData);
        const configMap = new k8s.core.v1.ConfigMap(
            `${name}-config`,
            { metadata: { name: REPLICATOR_NAME, namespace: args.namespace, labels: projectLabels("replicator") }, data: configData },
            inCluster,
        );
        const deployment = new k8s.apps.v1.Deployment(
            name,
            {
                metadata: replicatorDeploymentMetadata(args.namespace),
                spec: pulumi.all([spec, configData]).apply(([s, data]) => replicatorDeployment(s, contentChecksum(code, data)).spec),
            },
            // Pulumi waits until the pod is ready, so the audit device below finds it listening.
            {
                parent: this,
                dependsOn: pulumi
                    .output(opts?.dependsOn ?? [])
                    .apply((before) => [...[before].flat(), account, codeMap, configMap, role, ...grants]),
            },
        );
        const service = new k8s.core.v1.Service(`${name}-service`, replicatorService(args), inCluster);
        new k8s.networking.v1.NetworkPolicy(
            `${name}-ingress`,
            {
                metadata: { name: REPLICATOR_NAME, namespace: args.namespace, labels: projectLabels("replicator") },
                spec: {
                    podSelector: { matchLabels: { ...REPLICATOR_POD_LABELS } },
                    policyTypes: ["Ingress"],
                    ingress: [
                        {
                            // Only Vault's servers send the audit stream.
                            from: [
                                {
                                    namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": args.vaultNamespace } },
                                    podSelector: { matchLabels: { "app.kubernetes.io/name": "vault", component: "server" } },
                                },
                            ],
                            ports: [{ port: REPLICATOR_PORTS.audit, protocol: "TCP" }],
                        },
                        // The kubelet's probes need no rule; Prometheus, when it scrapes, does.
                        ...(args.metricsNamespace === undefined
                            ? []
                            : [
                                  {
                                      from: [
                                          { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": args.metricsNamespace } } },
                                      ],
                                      ports: [{ port: REPLICATOR_PORTS.metrics, protocol: "TCP" }],
                                  },
                              ]),
                    ],
                },
            },
            inCluster,
        );
        if (args.serviceMonitorLabels !== undefined) {
            new k8s.apiextensions.CustomResource(
                `${name}-service-monitor`,
                replicatorServiceMonitor(args.namespace, args.serviceMonitorLabels),
                {
                    ...inCluster,
                    dependsOn: [service],
                },
            );
        }
        const hintsByApi = ENGINE_FACTS[args.engine ?? "vault"].auditDevices === "api";
        if (resolved.auditHints === true && !hintsByApi) {
            throw new Error(
                `Replicator: auditHints needs an engine that creates audit devices through its API; ${ENGINE_FACTS[args.engine ?? "vault"].product} takes them only from its server configuration`,
            );
        }
        if (resolved.auditHints ?? hintsByApi) {
            // Vault writes a test entry when the device is enabled, so the replicator must be running first.
            new vault.Audit(
                `${name}-audit`,
                {
                    path: "replicator",
                    type: "socket",
                    description: "The audit stream, as hints of changed secrets, to the replicator",
                    options: {
                        address: replicatorAuditAddress(args.namespace),
                        socket_type: "tcp",
                        write_timeout: AUDIT_WRITE_TIMEOUT,
                        format: "json",
                    },
                },
                { ...inVault, dependsOn: [deployment, service] },
            );
        }
        this.deploymentName = deployment.metadata.name;
        this.registerOutputs({ deploymentName: this.deploymentName });
    }
}
