/**
 * The network policies in front of a region's Vault servers, as a pure builder: they admit only the
 * clients Vault has. The VaultServer component declares them as objects of their own.
 */

/** The IngressClass of Cilium's ingress controller, which needs a CiliumNetworkPolicy as well. */
export const CILIUM_INGRESS_CLASS = "cilium";

/** Cilium's policy API group and version (its CRD `ciliumnetworkpolicies.cilium.io`). */
export const CILIUM_POLICY_API = { group: "cilium.io", version: "v2" } as const;

/**
 * Whether the servers' policies include a CiliumNetworkPolicy, and so need Cilium's CRDs: only for
 * Cilium's own ingress class (see {@link vaultNetworkPolicies}).
 */
export function needsCiliumPolicy(ingressClassName: string): boolean {
    return ingressClassName === CILIUM_INGRESS_CLASS;
}

/**
 * The namespace each known ingress controller runs in by default (the namespace its own install
 * instructions use). For any other class, `vault.ingressControllerNamespace` must be set; Cilium
 * needs none (see {@link vaultNetworkPolicies}).
 */
export const INGRESS_CONTROLLER_NAMESPACES: Readonly<Record<string, string>> = {
    nginx: "ingress-nginx",
    haproxy: "haproxy-controller",
};

/** Name of the NetworkPolicy in front of the servers. */
export const VAULT_NETWORK_POLICY_NAME = "vault-server";
/** Name of the CiliumNetworkPolicy that admits Cilium's ingress proxy. */
export const VAULT_CILIUM_INGRESS_POLICY_NAME = "vault-server-from-ingress";

/**
 * The labels the server chart puts on its server pods (and selects them by): the chart's name (`vault`,
 * or `openbao` for the openbao/openbao chart, whose templates keep these labels), the release, and
 * `component: server`. The agent injector, were it enabled, has `component: webhook`, and the chart's
 * test pod none, so neither matches.
 */
export function vaultServerPodLabels(releaseName: string, appName = "vault"): Record<string, string> {
    return {
        "app.kubernetes.io/name": appName,
        "app.kubernetes.io/instance": releaseName,
        component: "server",
    };
}

/** What {@link vaultNetworkPolicies} needs to know about the region. */
export interface VaultNetworkPolicyArgs {
    /** Vault's namespace, where the policies go. */
    readonly namespace: string;
    /** The Helm release name of the servers (`vault`, `openbao`). */
    readonly releaseName: string;
    /** The chart's name, which its pods carry as `app.kubernetes.io/name`. Default `vault`. */
    readonly appName?: string;
    /** Vault's API port (8200). */
    readonly apiPort: number;
    /** Vault's cluster port for Raft and request forwarding (8201). */
    readonly clusterPort: number;
    /** The External Secrets Operator's namespace: its pods reach Vault's API. */
    readonly externalSecretsNamespace: string;
    /** The IngressClass that serves Vault's host; it decides how the ingress proxy is admitted. */
    readonly ingressClassName: string;
    /**
     * The namespace the ingress controller's pods run in. Default by class from
     * {@link INGRESS_CONTROLLER_NAMESPACES}; required for any other class but `cilium`.
     */
    readonly ingressControllerNamespace?: string;
    /**
     * Label sets of other clients in Vault's namespace that reach Vault's API, each selecting pods by
     * all its labels: e.g. the snapshot job's `{ "app.kubernetes.io/name": "vault-snapshot" }`. An
     * empty set is refused: it would select every pod in the namespace.
     */
    readonly extraPodSelectors?: readonly Readonly<Record<string, string>>[];
    /** Labels for the policies' own metadata (the project's labels). */
    readonly labels: Readonly<Record<string, string>>;
    /** The namespace Prometheus scrapes from, when a ServiceMonitor is on: admitted to the API port (`/v1/sys/metrics`). */
    readonly metricsNamespace?: string;
}

/** A port rule of a Kubernetes NetworkPolicy. */
export interface NetworkPolicyPortValues {
    port: number;
    protocol: "TCP";
}

/** A peer of a Kubernetes NetworkPolicy rule: pods of this namespace by label, or every pod of a namespace. */
export type NetworkPolicyPeerValues =
    { podSelector: { matchLabels: Record<string, string> } } | { namespaceSelector: { matchLabels: Record<string, string> } };

/** A `networking.k8s.io/v1` NetworkPolicy that admits traffic to the Vault servers (ingress only). */
export interface VaultKubernetesNetworkPolicy {
    apiVersion: "networking.k8s.io/v1";
    kind: "NetworkPolicy";
    metadata: { name: string; namespace: string; labels: Record<string, string> };
    spec: {
        podSelector: { matchLabels: Record<string, string> };
        policyTypes: ["Ingress"];
        ingress: { from: NetworkPolicyPeerValues[]; ports: NetworkPolicyPortValues[] }[];
    };
}

/** A `cilium.io/v2` CiliumNetworkPolicy that admits Cilium's ingress proxy to the Vault servers. */
export interface VaultCiliumNetworkPolicy {
    apiVersion: `${typeof CILIUM_POLICY_API.group}/${typeof CILIUM_POLICY_API.version}`;
    kind: "CiliumNetworkPolicy";
    metadata: { name: string; namespace: string; labels: Record<string, string> };
    spec: {
        endpointSelector: { matchLabels: Record<string, string> };
        ingress: { fromEntities: ["ingress"]; toPorts: { ports: { port: string; protocol: "TCP" }[] }[] }[];
    };
}

/** Any object {@link vaultNetworkPolicies} returns. */
export type VaultNetworkPolicy = VaultKubernetesNetworkPolicy | VaultCiliumNetworkPolicy;

/**
 * The namespace whose pods the ingress controller runs in: the one given, else the class's default
 * from {@link INGRESS_CONTROLLER_NAMESPACES}. `undefined` for Cilium without one (its proxy is
 * admitted by identity instead) and for a class this project does not know, which the options refuse
 * unless the namespace is given.
 */
export function ingressControllerNamespace(ingressClassName: string, explicit: string | undefined): string | undefined {
    if (explicit !== undefined || ingressClassName === CILIUM_INGRESS_CLASS) {
        return explicit;
    }
    // Own keys only: a class named like an Object.prototype member ("constructor") is not known.
    return Object.hasOwn(INGRESS_CONTROLLER_NAMESPACES, ingressClassName) ? INGRESS_CONTROLLER_NAMESPACES[ingressClassName] : undefined;
}

function namespacePeer(namespace: string): NetworkPolicyPeerValues {
    // Kubernetes sets this label on every namespace (1.21 and later).
    return { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } } };
}

/**
 * The network policies in front of a region's Vault servers. They admit, to the API port only
 * unless said otherwise:
 * - every pod in the External Secrets Operator's namespace (the local ClusterSecretStore);
 * - the other Vault servers, to the API port (`retry_join`) and the cluster port (Raft's own
 *   traffic, and standbys forwarding requests to the leader);
 * - the pods of {@link VaultNetworkPolicyArgs.extraPodSelectors} in Vault's namespace (the snapshot job,
 *   the token renewer);
 * - the ingress controller, through which peer regions, operators and the Vault provider reach
 *   Vault: the pods of its namespace, and for Cilium a CiliumNetworkPolicy besides (below).
 *
 * Its args come from validated options (the VaultServer component's); it checks nothing itself.
 *
 * Everything else in the cluster is refused, including a Prometheus in another namespace scraping
 * `/v1/sys/metrics`: add its pods when monitoring is set up. Policies only add to each other, so the
 * chart's own `server.networkPolicy` (which admits the API port from every namespace) must stay off.
 *
 * Only ingress is restricted; egress is left open on purpose: the servers need DNS, the Kubernetes
 * API (service registration labels the active pod; Kubernetes auth calls TokenReview), the
 * auto-unseal KMS and the peers' Raft ports, and a cloud KMS endpoint has no stable address a
 * NetworkPolicy could name.
 *
 * Not subject to these policies in the common CNIs (Cilium, Calico): kubelet's probes (the chart's
 * readiness probe is an `exec` of `vault status` against 127.0.0.1 anyway) and `kubectl
 * port-forward`, which the runtime connects inside the pod's network namespace. The bootstrap
 * reaches each server through port-forward, so it keeps working.
 *
 * Cilium's ingress is an Envoy proxy whose connections to the backends carry Cilium's reserved
 * `ingress` identity, not the address of any pod or namespace, so no Kubernetes NetworkPolicy can
 * admit it: for class `cilium` a CiliumNetworkPolicy `vault-server-from-ingress` admits the
 * `ingress` entity to the API port (Cilium adds up both kinds of policy). An ingress controller
 * that runs with `hostNetwork` (an option of ingress-nginx) connects from node addresses that no
 * namespace selector matches either; such a cluster needs a policy of its CNI.
 *
 */
export function vaultNetworkPolicies(args: VaultNetworkPolicyArgs): VaultNetworkPolicy[] {
    const extraPodSelectors = args.extraPodSelectors ?? [];
    const controllerNamespace = ingressControllerNamespace(args.ingressClassName, args.ingressControllerNamespace);

    const serverPods = vaultServerPodLabels(args.releaseName, args.appName);
    const api: NetworkPolicyPortValues = { port: args.apiPort, protocol: "TCP" };
    const cluster: NetworkPolicyPortValues = { port: args.clusterPort, protocol: "TCP" };
    const metadata = (name: string) => ({ name, namespace: args.namespace, labels: { ...args.labels } });

    const rules: VaultKubernetesNetworkPolicy["spec"]["ingress"] = [
        { from: [namespacePeer(args.externalSecretsNamespace)], ports: [{ ...api }] },
        // A podSelector without a namespaceSelector selects pods of the policy's own namespace.
        { from: [{ podSelector: { matchLabels: { ...serverPods } } }], ports: [{ ...api }, { ...cluster }] },
        ...extraPodSelectors.map((selector) => ({ from: [{ podSelector: { matchLabels: { ...selector } } }], ports: [{ ...api }] })),
        ...(controllerNamespace === undefined ? [] : [{ from: [namespacePeer(controllerNamespace)], ports: [{ ...api }] }]),
        ...(args.metricsNamespace === undefined ? [] : [{ from: [namespacePeer(args.metricsNamespace)], ports: [{ ...api }] }]),
    ];
    const policies: VaultNetworkPolicy[] = [
        {
            apiVersion: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            metadata: metadata(VAULT_NETWORK_POLICY_NAME),
            spec: { podSelector: { matchLabels: { ...serverPods } }, policyTypes: ["Ingress"], ingress: rules },
        },
    ];
    if (needsCiliumPolicy(args.ingressClassName)) {
        policies.push({
            apiVersion: `${CILIUM_POLICY_API.group}/${CILIUM_POLICY_API.version}`,
            kind: "CiliumNetworkPolicy",
            metadata: metadata(VAULT_CILIUM_INGRESS_POLICY_NAME),
            spec: {
                // Cilium limits an endpointSelector to the policy's namespace.
                endpointSelector: { matchLabels: { ...serverPods } },
                ingress: [{ fromEntities: ["ingress"], toPorts: [{ ports: [{ port: String(args.apiPort), protocol: "TCP" }] }] }],
            },
        });
    }
    return policies;
}

/** A `cilium.io/v2` CiliumClusterwideNetworkPolicy (cluster-scoped: no namespace). */
export interface VaultSourceRangePolicy {
    apiVersion: `${typeof CILIUM_POLICY_API.group}/${typeof CILIUM_POLICY_API.version}`;
    kind: "CiliumClusterwideNetworkPolicy";
    metadata: { name: string; labels: Record<string, string> };
    spec: {
        description: string;
        endpointSelector: { matchExpressions: { key: string; operator: "Exists" }[] };
        enableDefaultDeny: { ingress: false; egress: false };
        ingressDeny: { fromCIDRSet: { cidr: string; except?: string[] }[]; toPorts: { ports: { port: string; protocol: "TCP" }[] }[] }[];
    };
}

/** The cluster-wide name of a Vault's source-range policy: one per Vault namespace. */
export function sourceRangePolicyName(namespace: string): string {
    return `openova-vault-${namespace}-source-ranges`;
}

/**
 * The allowed source ranges of a Vault behind Cilium's ingress, as Cilium enforces them: on the
 * reserved `ingress` identity (Cilium's per-node Envoy), where the client's own address is still
 * known, not on the Vault pods, which only see that identity. A CiliumClusterwideNetworkPolicy, since
 * the identity is the whole cluster's; so that it takes nothing from any other Ingress:
 * - it only denies (`ingressDeny`, which wins over every allow): any address outside the cluster
 *   that is not in `ranges`, IPv4 and IPv6, and only to the Vault backend's port (`apiPort`; Cilium
 *   matches the backend's port there, not the node port);
 * - it turns no default-deny on (`enableDefaultDeny` false both ways; Cilium 1.16 and later, with
 *   `enableNonDefaultDenyPolicies`, the default): traffic it does not deny stays as it was.
 * In-cluster clients that go through the ingress are not outside the cluster, so not denied. Another
 * Ingress of the same cluster whose backends listen on the same port gets the same ranges: this is
 * the finest place Cilium enforces a source address for its ingress.
 */
export function vaultSourceRangePolicy(args: {
    readonly namespace: string;
    readonly apiPort: number;
    readonly ranges: readonly string[];
    readonly labels: Readonly<Record<string, string>>;
}): VaultSourceRangePolicy {
    const v4 = args.ranges.filter((range) => !range.includes(":"));
    const v6 = args.ranges.filter((range) => range.includes(":"));
    const except = (ranges: string[]) => (ranges.length === 0 ? {} : { except: ranges });
    return {
        apiVersion: `${CILIUM_POLICY_API.group}/${CILIUM_POLICY_API.version}`,
        kind: "CiliumClusterwideNetworkPolicy",
        metadata: { name: sourceRangePolicyName(args.namespace), labels: { ...args.labels } },
        spec: {
            description: `openova-vault: only the allowed source ranges reach the servers in namespace ${args.namespace} (port ${args.apiPort}) through Cilium's ingress`,
            endpointSelector: { matchExpressions: [{ key: "reserved:ingress", operator: "Exists" }] },
            enableDefaultDeny: { ingress: false, egress: false },
            ingressDeny: [
                {
                    fromCIDRSet: [
                        { cidr: "0.0.0.0/0", ...except(v4) },
                        { cidr: "::/0", ...except(v6) },
                    ],
                    toPorts: [{ ports: [{ port: String(args.apiPort), protocol: "TCP" }] }],
                },
            ],
        },
    };
}
