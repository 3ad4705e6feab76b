/**
 * Pod and network hardening for a region's Vault servers, as pure builders: the servers' resource
 * requests and limits, their security context, and the network policies that admit only the clients
 * Vault has. No Pulumi resources here: the VaultServer component puts the first two into the
 * hashicorp/vault chart's values and declares the policies as objects of their own.
 */
import { isDnsLabel, isDnsSubdomain, isIntegerBetween, isLabelKey, isLabelValue, quantityBytes } from "../common/predicates";

// ---------------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------------

/** CPU and memory for each Vault server container (the chart's `server.resources`). */
export interface VaultResourceOptions {
    /** CPU the scheduler reserves for each server, as a Kubernetes CPU quantity (`500m`, `1`, `2.5`). Default `500m`. */
    readonly cpuRequest?: string;
    /** Memory the scheduler reserves for each server (`256Mi`, `1Gi`, `512M`). Default `256Mi`. */
    readonly memoryRequest?: string;
    /**
     * Memory each server may use before the kernel kills it (`1Gi`). Default `1Gi`. Must not be less
     * than {@link memoryRequest}. An out-of-memory kill seals that server (with Shamir, until an
     * operator unseals it again), so leave room for Vault's caches and Raft's memory-mapped database.
     */
    readonly memoryLimit?: string;
}

/** {@link VaultResourceOptions} with every default applied. */
export type ResolvedVaultResourceOptions = Required<VaultResourceOptions>;

/**
 * Defaults for every {@link VaultResourceOptions} field. There is deliberately no CPU limit: the
 * kernel enforces a CPU limit by throttling the container for the rest of each scheduling period
 * (CFS quota), which shows up as latency spikes on every request and, worse, as missed Raft
 * heartbeats and needless leader elections. The request alone reserves CPU for scheduling and gives
 * the server its fair share under contention; memory, which cannot be throttled, is limited.
 */
export const VAULT_RESOURCE_DEFAULTS = {
    cpuRequest: "500m",
    memoryRequest: "256Mi",
    memoryLimit: "1Gi",
} as const satisfies ResolvedVaultResourceOptions;

const CPU_QUANTITY = /^(?:([1-9][0-9]*)m|(0|[1-9][0-9]*)(?:\.([0-9]{1,3}))?)$/;

/**
 * A positive Kubernetes CPU quantity in whole millicores: `500m`, `1`, `2.5`, `0.25`. Refused:
 * zero, fractions of a millicore (`0.0005`, `1.5m`, which Kubernetes would round), exponents and
 * unit suffixes other than `m`.
 */
export function isCpuQuantity(value: string): boolean {
    const match = CPU_QUANTITY.exec(value);
    if (match === null) {
        return false;
    }
    const millicores = match[1] !== undefined ? Number(match[1]) : Number(match[2]) * 1000 + Number((match[3] ?? "").padEnd(3, "0"));
    return millicores > 0;
}

/**
 * The bytes a memory quantity such as `256Mi`, `1Gi` or `512M` stands for, or `undefined` when it is
 * not one {@link isMemoryQuantity} accepts (the same quantities as storage, see {@link quantityBytes}).
 */
export function memoryQuantityBytes(value: string): number | undefined {
    return quantityBytes(value);
}

/**
 * A positive Kubernetes memory quantity with a unit: `256Mi`, `1Gi`, `512M`, `1.5Gi`. Refused: a bare
 * number (bytes to Kubernetes, so `256` is a typo for `256Mi`), a lowercase `m` (`256m` is 0.256
 * bytes), lowercase binary units (`1gi`) and zero.
 */
export function isMemoryQuantity(value: string): boolean {
    const bytes = memoryQuantityBytes(value);
    return bytes !== undefined && bytes > 0;
}

/**
 * Applies {@link VAULT_RESOURCE_DEFAULTS} and checks the quantities.
 * @throws Error naming each bad field as `resources.<field>`, and the memory request when it is more
 * than the limit (Kubernetes would reject the StatefulSet's pods).
 */
export function resolveResourceOptions(options: VaultResourceOptions | undefined): ResolvedVaultResourceOptions {
    const resolved: ResolvedVaultResourceOptions = {
        cpuRequest: options?.cpuRequest ?? VAULT_RESOURCE_DEFAULTS.cpuRequest,
        memoryRequest: options?.memoryRequest ?? VAULT_RESOURCE_DEFAULTS.memoryRequest,
        memoryLimit: options?.memoryLimit ?? VAULT_RESOURCE_DEFAULTS.memoryLimit,
    };
    const problems: string[] = [];
    if (!isCpuQuantity(resolved.cpuRequest)) {
        problems.push(`resources.cpuRequest ${JSON.stringify(resolved.cpuRequest)} is not a CPU quantity such as 500m, 1 or 2.5`);
    }
    for (const field of ["memoryRequest", "memoryLimit"] as const) {
        if (!isMemoryQuantity(resolved[field])) {
            problems.push(`resources.${field} ${JSON.stringify(resolved[field])} is not a memory quantity with a unit such as 256Mi, 1Gi or 512M`);
        }
    }
    const request = memoryQuantityBytes(resolved.memoryRequest);
    const limit = memoryQuantityBytes(resolved.memoryLimit);
    if (request !== undefined && limit !== undefined && request > limit) {
        problems.push(`resources.memoryRequest ${resolved.memoryRequest} is more than resources.memoryLimit ${resolved.memoryLimit}: raise the limit or lower the request`);
    }
    if (problems.length > 0) {
        throw new Error(problems.join("; "));
    }
    return resolved;
}

/** The chart's `server.resources`: a Kubernetes ResourceRequirements. */
export interface VaultResourceValues {
    requests: { cpu: string; memory: string };
    limits: { memory: string };
}

/** `server.resources` for the chart: CPU and memory requests, a memory limit and no CPU limit. */
export function vaultResourceValues(resolved: ResolvedVaultResourceOptions): VaultResourceValues {
    return {
        requests: { cpu: resolved.cpuRequest, memory: resolved.memoryRequest },
        limits: { memory: resolved.memoryLimit },
    };
}

// ---------------------------------------------------------------------------------------------------
// Security context
// ---------------------------------------------------------------------------------------------------

/** The user the `hashicorp/vault` image runs as (`vault`), and so the owner of existing Raft and audit files. */
export const VAULT_RUN_AS_USER = 100;
/** The group of the image's `vault` user, also the volumes' group (`fsGroup`). */
export const VAULT_RUN_AS_GROUP = 1000;

/** The chart's `server.statefulSet.securityContext`: the pod's and the `vault` container's security contexts. */
export interface VaultSecurityContextValues {
    pod: {
        runAsNonRoot: true;
        runAsUser: number;
        runAsGroup: number;
        fsGroup: number;
        seccompProfile: { type: "RuntimeDefault" };
    };
    container: {
        allowPrivilegeEscalation: false;
        capabilities: { drop: string[] };
    };
}

/**
 * `server.statefulSet.securityContext` for the chart. A non-empty `pod` or `container` here
 * REPLACES the chart's own default for it (the chart renders either these values or its defaults,
 * never both), so this repeats every default explicitly (pod: non-root, uid 100, gid and fsGroup
 * 1000; container: no privilege escalation) and adds:
 * - the runtime's default seccomp profile, which the Pod Security "restricted" level requires;
 * - no Linux capabilities at all. Vault needs none: the chart sets `SKIP_SETCAP` (the image's
 *   entrypoint then does not grant IPC_LOCK) and the configuration disables mlock, and the ports
 *   are above 1024.
 *
 * `readOnlyRootFilesystem` is deliberately not set. The chart's start command copies the server
 * configuration to `/tmp/storageconfig.hcl` and substitutes addresses into it with `sed -i` before
 * starting Vault, and the chart mounts nothing at `/tmp` (its only scratch volume is the `home`
 * emptyDir at `/home/vault`; `/vault/data` and `/vault/audit` are the volumes). With a read-only
 * root filesystem the container would fail before Vault starts. Turning it on needs an emptyDir at
 * `/tmp` through `server.volumes` and `server.volumeMounts` as well.
 */
export function vaultSecurityContextValues(): VaultSecurityContextValues {
    return {
        pod: {
            runAsNonRoot: true,
            runAsUser: VAULT_RUN_AS_USER,
            runAsGroup: VAULT_RUN_AS_GROUP,
            fsGroup: VAULT_RUN_AS_GROUP,
            seccompProfile: { type: "RuntimeDefault" },
        },
        container: {
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["ALL"] },
        },
    };
}

// ---------------------------------------------------------------------------------------------------
// Network policies
// ---------------------------------------------------------------------------------------------------

/** The IngressClass of Cilium's ingress controller, which needs a CiliumNetworkPolicy as well. */
export const CILIUM_INGRESS_CLASS = "cilium";

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
 * The labels the hashicorp/vault chart puts on its server pods (and selects them by): the chart's
 * name `vault`, the release, and `component: server`. Vault's agent injector, were it enabled, has
 * `component: webhook`, and the chart's test pod none, so neither matches.
 */
export function vaultServerPodLabels(releaseName: string): Record<string, string> {
    return {
        "app.kubernetes.io/name": "vault",
        "app.kubernetes.io/instance": releaseName,
        component: "server",
    };
}

/** What {@link vaultNetworkPolicies} needs to know about the region. */
export interface VaultNetworkPolicyArgs {
    /** Vault's namespace, where the policies go. */
    readonly namespace: string;
    /** The Helm release name of the servers (`vault`). */
    readonly releaseName: string;
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
    | { podSelector: { matchLabels: Record<string, string> } }
    | { namespaceSelector: { matchLabels: Record<string, string> } };

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
    apiVersion: "cilium.io/v2";
    kind: "CiliumNetworkPolicy";
    metadata: { name: string; namespace: string; labels: Record<string, string> };
    spec: {
        endpointSelector: { matchLabels: Record<string, string> };
        ingress: { fromEntities: ["ingress"]; toPorts: { ports: { port: string; protocol: "TCP" }[] }[] }[];
    };
}

/** Any object {@link vaultNetworkPolicies} returns. */
export type VaultNetworkPolicy = VaultKubernetesNetworkPolicy | VaultCiliumNetworkPolicy;

function labelProblems(what: string, labels: Readonly<Record<string, string>>): string[] {
    return Object.entries(labels).flatMap(([key, value]) => {
        if (!isLabelKey(key)) return [`${what} has ${JSON.stringify(key)}, which is not a label key`];
        if (!isLabelValue(value)) return [`${what} has ${key}=${JSON.stringify(value)}, which is not a label value`];
        return [];
    });
}

/**
 * The namespace whose pods the ingress controller runs in: the one given, else the class's default.
 * `undefined` for Cilium without one (its proxy is admitted by identity instead).
 * @throws Error when the class is neither Cilium nor in {@link INGRESS_CONTROLLER_NAMESPACES} and no namespace is given.
 */
export function ingressControllerNamespace(ingressClassName: string, explicit: string | undefined): string | undefined {
    if (explicit !== undefined || ingressClassName === CILIUM_INGRESS_CLASS) {
        return explicit;
    }
    // Own keys only: a class named like an Object.prototype member ("constructor") is not known.
    const known = Object.hasOwn(INGRESS_CONTROLLER_NAMESPACES, ingressClassName) ? INGRESS_CONTROLLER_NAMESPACES[ingressClassName] : undefined;
    if (known === undefined) {
        throw new Error(
            `the network policy cannot admit the ingress controller of IngressClass ${JSON.stringify(ingressClassName)}: its namespace is not known, so set vault.ingressControllerNamespace to the namespace its pods run in`,
        );
    }
    return known;
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
 * - the pods of {@link VaultNetworkPolicyArgs.extraPodSelectors} in Vault's namespace (the snapshot job);
 * - the ingress controller, through which peer regions, operators and the Vault provider reach
 *   Vault: the pods of its namespace, and for Cilium a CiliumNetworkPolicy besides (below).
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
 * @throws Error listing every bad argument, or when the ingress controller's namespace is unknown.
 */
export function vaultNetworkPolicies(args: VaultNetworkPolicyArgs): VaultNetworkPolicy[] {
    const extraPodSelectors = args.extraPodSelectors ?? [];
    const problems: string[] = [];
    const check = (ok: boolean, problem: string) => ok || problems.push(problem);
    check(isDnsLabel(args.namespace), `namespace ${JSON.stringify(args.namespace)} is not a DNS label`);
    check(isDnsLabel(args.releaseName), `releaseName ${JSON.stringify(args.releaseName)} is not a DNS label`);
    check(isIntegerBetween(args.apiPort, 1, 65535), `apiPort ${args.apiPort} is not a port from 1 to 65535`);
    check(isIntegerBetween(args.clusterPort, 1, 65535), `clusterPort ${args.clusterPort} is not a port from 1 to 65535`);
    check(args.apiPort !== args.clusterPort, `apiPort and clusterPort are both ${args.apiPort}`);
    check(isDnsLabel(args.externalSecretsNamespace), `externalSecretsNamespace ${JSON.stringify(args.externalSecretsNamespace)} is not a DNS label`);
    // A rule for Vault's own namespace would admit every pod in it.
    check(args.externalSecretsNamespace !== args.namespace, `externalSecretsNamespace is Vault's namespace ${JSON.stringify(args.namespace)}, but ESO needs its own`);
    check(isDnsSubdomain(args.ingressClassName), `ingressClassName ${JSON.stringify(args.ingressClassName)} is not a DNS name`);
    if (args.ingressControllerNamespace !== undefined) {
        check(isDnsLabel(args.ingressControllerNamespace), `ingressControllerNamespace ${JSON.stringify(args.ingressControllerNamespace)} is not a DNS label`);
        check(
            args.ingressControllerNamespace !== args.namespace,
            `ingressControllerNamespace is Vault's namespace ${JSON.stringify(args.namespace)}: that would admit every pod in it`,
        );
    }
    if (args.metricsNamespace !== undefined) {
        check(isDnsLabel(args.metricsNamespace), `metricsNamespace ${JSON.stringify(args.metricsNamespace)} is not a DNS label`);
        check(args.metricsNamespace !== args.namespace, `metricsNamespace is Vault's namespace ${JSON.stringify(args.namespace)}: that would admit every pod in it`);
    }
    extraPodSelectors.forEach((selector, i) => {
        check(Object.keys(selector).length > 0, `extraPodSelectors[${i}] is empty, which would select every pod in Vault's namespace`);
        problems.push(...labelProblems(`extraPodSelectors[${i}]`, selector));
    });
    problems.push(...labelProblems("labels", args.labels));
    if (problems.length > 0) {
        throw new Error(`vault network policy: ${problems.join("; ")}`);
    }
    const controllerNamespace = ingressControllerNamespace(args.ingressClassName, args.ingressControllerNamespace);

    const serverPods = vaultServerPodLabels(args.releaseName);
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
    if (args.ingressClassName === CILIUM_INGRESS_CLASS) {
        policies.push({
            apiVersion: "cilium.io/v2",
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
