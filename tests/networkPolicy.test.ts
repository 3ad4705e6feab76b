import type { V1NetworkPolicy, V1PodSecurityContext, V1ResourceRequirements, V1SecurityContext } from "@kubernetes/client-node" with { "resolution-mode": "import" };
import * as fc from "fast-check";
import { projectLabels } from "../components/common/labels";
import {
    INGRESS_CONTROLLER_NAMESPACES,
    VAULT_RESOURCE_DEFAULTS,
    type VaultCiliumNetworkPolicy,
    type VaultKubernetesNetworkPolicy,
    type VaultNetworkPolicy,
    type VaultNetworkPolicyArgs,
    isCpuQuantity,
    isMemoryQuantity,
    memoryQuantityBytes,
    resolveResourceOptions,
    vaultNetworkPolicies,
    vaultResourceValues,
    vaultSecurityContextValues,
    vaultServerPodLabels,
} from "../components/vault-server/podHardening";
import { chartValidator, loadChartSchema as loadSchema, undeclaredPaths } from "./support/vaultChartSchema";

const SERVER_PODS = { "app.kubernetes.io/name": "vault", "app.kubernetes.io/instance": "vault", component: "server" };
const SNAPSHOT = { "app.kubernetes.io/name": "vault-snapshot" };

const baseArgs: VaultNetworkPolicyArgs = {
    namespace: "vault",
    releaseName: "vault",
    apiPort: 8200,
    clusterPort: 8201,
    externalSecretsNamespace: "external-secrets",
    ingressClassName: "nginx",
    extraPodSelectors: [SNAPSHOT],
    labels: projectLabels("vault"),
};

function kubernetesPolicy(policies: VaultNetworkPolicy[]): VaultKubernetesNetworkPolicy {
    const found = policies.filter((p): p is VaultKubernetesNetworkPolicy => p.kind === "NetworkPolicy");
    expect(found).toHaveLength(1);
    return found[0];
}

function ciliumPolicies(policies: VaultNetworkPolicy[]): VaultCiliumNetworkPolicy[] {
    return policies.filter((p): p is VaultCiliumNetworkPolicy => p.kind === "CiliumNetworkPolicy");
}

describe("resolveResourceOptions", () => {
    it("applies the defaults: 500m CPU and 256Mi requested, 1Gi memory limit, no CPU limit", () => {
        expect(VAULT_RESOURCE_DEFAULTS).toEqual({ cpuRequest: "500m", memoryRequest: "256Mi", memoryLimit: "1Gi" });
        expect(resolveResourceOptions(undefined)).toEqual(VAULT_RESOURCE_DEFAULTS);
        expect(resolveResourceOptions({})).toEqual(VAULT_RESOURCE_DEFAULTS);
        expect(vaultResourceValues(resolveResourceOptions({}))).toEqual({
            requests: { cpu: "500m", memory: "256Mi" },
            limits: { memory: "1Gi" },
        });
    });

    it("keeps what is given", () => {
        const resolved = resolveResourceOptions({ cpuRequest: "2.5", memoryRequest: "1Gi", memoryLimit: "4Gi" });
        expect(vaultResourceValues(resolved)).toEqual({ requests: { cpu: "2.5", memory: "1Gi" }, limits: { memory: "4Gi" } });
    });

    it("never sets a CPU limit (throttling would delay Raft heartbeats)", () => {
        const values = vaultResourceValues(resolveResourceOptions({ cpuRequest: "4" }));
        expect(Object.keys(values.limits)).toEqual(["memory"]);
    });

    it.each([
        [{ cpuRequest: "fast" }, 'resources.cpuRequest "fast" is not a CPU quantity such as 500m, 1 or 2.5'],
        [{ cpuRequest: "0" }, 'resources.cpuRequest "0" is not a CPU quantity'],
        [{ cpuRequest: "500M" }, 'resources.cpuRequest "500M" is not a CPU quantity'],
        [{ memoryRequest: "256" }, 'resources.memoryRequest "256" is not a memory quantity with a unit such as 256Mi, 1Gi or 512M'],
        [{ memoryRequest: "256m" }, 'resources.memoryRequest "256m" is not a memory quantity'],
        [{ memoryLimit: "1gi" }, 'resources.memoryLimit "1gi" is not a memory quantity with a unit'],
        [{ memoryLimit: "0Gi" }, 'resources.memoryLimit "0Gi" is not a memory quantity'],
    ])("rejects %j, naming the field", (options, message) => {
        expect(() => resolveResourceOptions(options)).toThrow(message);
    });

    it("reports every bad field at once", () => {
        expect(() => resolveResourceOptions({ cpuRequest: "x", memoryRequest: "y", memoryLimit: "z" })).toThrow(
            /resources\.cpuRequest "x".*; resources\.memoryRequest "y".*; resources\.memoryLimit "z"/,
        );
    });

    it.each([
        ["2Gi", "1Gi"],
        ["1100M", "1Gi"],
        ["1025Mi", "1Gi"],
    ])("rejects a memory request of %s above a limit of %s (compared in bytes)", (memoryRequest, memoryLimit) => {
        expect(() => resolveResourceOptions({ memoryRequest, memoryLimit })).toThrow(
            `resources.memoryRequest ${memoryRequest} is more than resources.memoryLimit ${memoryLimit}`,
        );
    });

    it.each([
        ["1Gi", "1Gi"],
        ["1024Mi", "1Gi"],
        ["1000M", "1Gi"],
    ])("accepts a memory request of %s with a limit of %s", (memoryRequest, memoryLimit) => {
        expect(resolveResourceOptions({ memoryRequest, memoryLimit })).toEqual({ ...VAULT_RESOURCE_DEFAULTS, memoryRequest, memoryLimit });
    });

    it("compares the defaults' request with a lower limit given alone", () => {
        expect(() => resolveResourceOptions({ memoryLimit: "128Mi" })).toThrow("resources.memoryRequest 256Mi is more than resources.memoryLimit 128Mi");
    });
});

describe("isCpuQuantity", () => {
    it.each(["500m", "1", "2.5", "0.25", "0.001", "1000m", "16"])("accepts %s", (value) => {
        expect(isCpuQuantity(value)).toBe(true);
    });

    it.each(["", "0", "0m", "0.0", "500M", "1.5m", "0.0005", "-1", "1e3", " 1", "01", "500mi", "m", "1.", ".5"])("rejects %j", (value) => {
        expect(isCpuQuantity(value)).toBe(false);
    });
});

describe("isMemoryQuantity", () => {
    it.each(["256Mi", "1Gi", "512M", "1.5Gi", "1024Ki", "1G", "2Ti"])("accepts %s", (value) => {
        expect(isMemoryQuantity(value)).toBe(true);
    });

    it.each(["", "256", "256m", "1gi", "0Mi", "Mi", "1.Gi", "-1Gi", "01Gi", "256 Mi", "1GB"])("rejects %j", (value) => {
        expect(isMemoryQuantity(value)).toBe(false);
    });

    it("parses binary and decimal units to bytes", () => {
        expect(memoryQuantityBytes("256Mi")).toBe(256 * 2 ** 20);
        expect(memoryQuantityBytes("512M")).toBe(512e6);
        expect(memoryQuantityBytes("1.5Gi")).toBe(1.5 * 2 ** 30);
        expect(memoryQuantityBytes("256")).toBeUndefined();
    });
});

describe("vaultSecurityContextValues", () => {
    const context = vaultSecurityContextValues();

    it("repeats every default of the chart, which values here replace", () => {
        expect(context.pod).toMatchObject({ runAsNonRoot: true, runAsUser: 100, runAsGroup: 1000, fsGroup: 1000 });
        expect(context.container).toMatchObject({ allowPrivilegeEscalation: false });
    });

    it("adds the runtime's seccomp profile and drops every capability", () => {
        expect(context).toEqual({
            pod: { runAsNonRoot: true, runAsUser: 100, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: "RuntimeDefault" } },
            container: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
        });
    });

    it("leaves the root filesystem writable (the chart's start command writes /tmp/storageconfig.hcl)", () => {
        expect("readOnlyRootFilesystem" in context.container).toBe(false);
    });

    it("is a Kubernetes pod and container security context", () => {
        // Compile-time: the shapes fit @kubernetes/client-node's models.
        const pod: V1PodSecurityContext = context.pod;
        const container: V1SecurityContext = context.container;
        expect([pod, container]).toHaveLength(2);
    });
});

describe("the chart's values schema", () => {
    const values = {
        server: {
            resources: vaultResourceValues(resolveResourceOptions({})),
            statefulSet: { securityContext: vaultSecurityContextValues() },
        },
    };

    it("accepts the resources under server.resources and the security context under server.statefulSet.securityContext", () => {
        const validate = chartValidator();
        expect(validate(values) ? [] : validate.errors).toEqual([]);
        expect(undeclaredPaths(values, loadSchema())).toEqual([]);
        const resources: V1ResourceRequirements = values.server.resources;
        expect(resources.limits).toEqual({ memory: "1Gi" });
    });

    it("would catch values of the wrong type or at an undeclared path (so the check above can fail)", () => {
        const validate = chartValidator();
        expect(validate({ server: { resources: "500m", statefulSet: { securityContext: { pod: 1 } } } })).toBe(false);
        expect(validate.errors?.map((e) => e.instancePath).sort()).toEqual(["/server/resources", "/server/statefulSet/securityContext/pod"]);
        expect(undeclaredPaths({ server: { resource: {}, statefulSet: { securityContexts: {} } } }, loadSchema())).toEqual([
            "server.resource",
            "server.statefulSet.securityContexts",
        ]);
    });
});

describe("vaultNetworkPolicies", () => {
    it("selects the chart's server pods", () => {
        expect(vaultServerPodLabels("vault")).toEqual(SERVER_PODS);
    });

    it("for nginx admits exactly ESO's namespace, the peers, the snapshot job and ingress-nginx, to the right ports", () => {
        const policies = vaultNetworkPolicies(baseArgs);
        expect(policies).toHaveLength(1);
        const policy = kubernetesPolicy(policies);
        const api = { port: 8200, protocol: "TCP" };
        const cluster = { port: 8201, protocol: "TCP" };
        expect(policy).toEqual({
            apiVersion: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            metadata: { name: "vault-server", namespace: "vault", labels: projectLabels("vault") },
            spec: {
                podSelector: { matchLabels: SERVER_PODS },
                policyTypes: ["Ingress"],
                ingress: [
                    { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "external-secrets" } } }], ports: [api] },
                    { from: [{ podSelector: { matchLabels: SERVER_PODS } }], ports: [api, cluster] },
                    { from: [{ podSelector: { matchLabels: SNAPSHOT } }], ports: [api] },
                    { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } }], ports: [api] },
                ],
            },
        });
        // Compile-time: the object fits @kubernetes/client-node's NetworkPolicy model.
        const typed: V1NetworkPolicy = policy;
        expect(typed.spec?.egress).toBeUndefined();
    });

    it("leaves egress open (no Egress policy type, no egress rules)", () => {
        for (const ingressClassName of ["nginx", "cilium"]) {
            const policy = kubernetesPolicy(vaultNetworkPolicies({ ...baseArgs, ingressClassName }));
            expect(policy.spec.policyTypes).toEqual(["Ingress"]);
            expect("egress" in policy.spec).toBe(false);
        }
    });

    it("uses the known namespace of haproxy, and an explicit namespace over the default", () => {
        expect(INGRESS_CONTROLLER_NAMESPACES).toEqual({ nginx: "ingress-nginx", haproxy: "haproxy-controller" });
        const lastSource = (args: VaultNetworkPolicyArgs) => kubernetesPolicy(vaultNetworkPolicies(args)).spec.ingress.at(-1)?.from;
        expect(lastSource({ ...baseArgs, ingressClassName: "haproxy" })).toEqual([
            { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "haproxy-controller" } } },
        ]);
        expect(lastSource({ ...baseArgs, ingressControllerNamespace: "edge" })).toEqual([
            { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "edge" } } },
        ]);
        expect(lastSource({ ...baseArgs, ingressClassName: "traefik", ingressControllerNamespace: "traefik" })).toEqual([
            { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "traefik" } } },
        ]);
    });

    it("for cilium also returns a CiliumNetworkPolicy admitting the ingress identity to the API port, and no controller namespace", () => {
        const policies = vaultNetworkPolicies({ ...baseArgs, ingressClassName: "cilium" });
        expect(policies.map((p) => `${p.apiVersion} ${p.kind} ${p.metadata.name}`)).toEqual([
            "networking.k8s.io/v1 NetworkPolicy vault-server",
            "cilium.io/v2 CiliumNetworkPolicy vault-server-from-ingress",
        ]);
        expect(kubernetesPolicy(policies).spec.ingress.flatMap((rule) => rule.from)).toEqual([
            { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "external-secrets" } } },
            { podSelector: { matchLabels: SERVER_PODS } },
            { podSelector: { matchLabels: SNAPSHOT } },
        ]);
        expect(ciliumPolicies(policies)).toEqual([
            {
                apiVersion: "cilium.io/v2",
                kind: "CiliumNetworkPolicy",
                metadata: { name: "vault-server-from-ingress", namespace: "vault", labels: projectLabels("vault") },
                spec: {
                    endpointSelector: { matchLabels: SERVER_PODS },
                    ingress: [{ fromEntities: ["ingress"], toPorts: [{ ports: [{ port: "8200", protocol: "TCP" }] }] }],
                },
            },
        ]);
    });

    it("without extra selectors admits only ESO, the peers and the ingress", () => {
        const { extraPodSelectors: _omitted, ...args } = baseArgs;
        expect(kubernetesPolicy(vaultNetworkPolicies(args)).spec.ingress).toHaveLength(3);
    });

    it("refuses an ingress class whose controller namespace is unknown, naming the config key", () => {
        expect(() => vaultNetworkPolicies({ ...baseArgs, ingressClassName: "traefik" })).toThrow(
            /IngressClass "traefik".*set vault\.ingressControllerNamespace/,
        );
    });

    it.each<[Partial<VaultNetworkPolicyArgs>, string]>([
        [{ namespace: "Vault" }, 'namespace "Vault" is not a DNS label'],
        [{ releaseName: "vault_1" }, 'releaseName "vault_1" is not a DNS label'],
        [{ apiPort: 0 }, "apiPort 0 is not a port from 1 to 65535"],
        [{ clusterPort: 65536 }, "clusterPort 65536 is not a port from 1 to 65535"],
        [{ clusterPort: 8200.5 }, "clusterPort 8200.5 is not a port"],
        [{ clusterPort: 8200 }, "apiPort and clusterPort are both 8200"],
        [{ externalSecretsNamespace: "eso!" }, 'externalSecretsNamespace "eso!" is not a DNS label'],
        [{ externalSecretsNamespace: "vault" }, 'externalSecretsNamespace is Vault\'s namespace "vault", but ESO needs its own'],
        [{ ingressClassName: "Nginx" }, 'ingressClassName "Nginx" is not a DNS name'],
        [{ ingressControllerNamespace: "-x" }, 'ingressControllerNamespace "-x" is not a DNS label'],
        [{ ingressControllerNamespace: "vault" }, "ingressControllerNamespace is Vault's namespace \"vault\": that would admit every pod in it"],
        [{ extraPodSelectors: [{}] }, "extraPodSelectors[0] is empty, which would select every pod in Vault's namespace"],
        [{ extraPodSelectors: [SNAPSHOT, { "bad key": "x" }] }, 'extraPodSelectors[1] has "bad key", which is not a label key'],
        [{ extraPodSelectors: [{ app: "-x" }] }, 'extraPodSelectors[0] has app="-x", which is not a label value'],
        [{ labels: { "example.com/": "x" } }, 'labels has "example.com/", which is not a label key'],
    ])("rejects %j", (override, message) => {
        expect(() => vaultNetworkPolicies({ ...baseArgs, ...override })).toThrow(message);
    });

    it("reports every bad argument at once", () => {
        expect(() => vaultNetworkPolicies({ ...baseArgs, namespace: "A", apiPort: -1 })).toThrow(
            /vault network policy: namespace "A" is not a DNS label; apiPort -1 is not a port/,
        );
    });

    it("copies the labels it is given (no shared objects between the policies and the caller)", () => {
        const labels = { team: "platform" };
        const selector = { app: "snap" };
        const policies = vaultNetworkPolicies({ ...baseArgs, ingressClassName: "cilium", labels, extraPodSelectors: [selector] });
        policies.forEach((p) => {
            expect(p.metadata.labels).toEqual(labels);
            expect(p.metadata.labels).not.toBe(labels);
        });
        expect(kubernetesPolicy(policies).spec.ingress[2].from[0]).toEqual({ podSelector: { matchLabels: selector } });
    });

    describe("for any valid arguments", () => {
        const dnsLabel = fc.stringMatching(/^[a-z]([-a-z0-9]{0,10}[a-z0-9])?$/);
        const labelName = fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,10}[A-Za-z0-9])?$/);
        const labelKey = fc.tuple(fc.option(fc.stringMatching(/^[a-z0-9]{1,6}(\.[a-z0-9]{1,6}){0,2}$/), { nil: undefined }), labelName).map(([prefix, name]) =>
            prefix === undefined ? name : `${prefix}/${name}`,
        );
        const labelValue = fc.oneof(fc.constant(""), labelName);
        const labels = (minKeys: number) => fc.dictionary(labelKey, labelValue, { minKeys, maxKeys: 3 });
        const ingress: fc.Arbitrary<{ ingressClassName: string; ingressControllerNamespace?: string }> = fc.oneof(
            fc.record({ ingressClassName: fc.constantFrom("nginx", "haproxy", "cilium") }),
            fc.record({ ingressClassName: fc.constantFrom("nginx", "haproxy", "cilium", "traefik", "contour"), ingressControllerNamespace: dnsLabel }),
        );
        const args: fc.Arbitrary<VaultNetworkPolicyArgs> = fc
            .record({
                namespaces: fc.uniqueArray(dnsLabel, { minLength: 2, maxLength: 2 }),
                releaseName: dnsLabel,
                ports: fc.uniqueArray(fc.integer({ min: 1, max: 65535 }), { minLength: 2, maxLength: 2 }),
                ingress,
                extraPodSelectors: fc.array(labels(1), { maxLength: 3 }),
                labels: labels(0),
            })
            .filter(({ namespaces, ingress }) => ingress.ingressControllerNamespace !== namespaces[0])
            .map(({ namespaces, ports, ingress, ...rest }) => ({
                ...rest,
                ...ingress,
                namespace: namespaces[0],
                externalSecretsNamespace: namespaces[1],
                apiPort: ports[0],
                clusterPort: ports[1],
            }));

        it("every policy selects exactly the server pods, in Vault's namespace, and opens only the API and cluster ports", () => {
            fc.assert(
                fc.property(args, (a) => {
                    const policies = vaultNetworkPolicies(a);
                    const serverPods = vaultServerPodLabels(a.releaseName);
                    expect(policies).toHaveLength(a.ingressClassName === "cilium" ? 2 : 1);
                    for (const policy of policies) {
                        expect(policy.metadata.namespace).toBe(a.namespace);
                        if (policy.kind === "NetworkPolicy") {
                            expect(policy.spec.podSelector).toEqual({ matchLabels: serverPods });
                            expect(policy.spec.policyTypes).toEqual(["Ingress"]);
                            for (const rule of policy.spec.ingress) {
                                // An empty `from` admits every source and an empty `ports` every port.
                                expect(rule.from.length).toBeGreaterThan(0);
                                expect(rule.ports.length).toBeGreaterThan(0);
                                for (const peer of rule.from) {
                                    const selector = "podSelector" in peer ? peer.podSelector : peer.namespaceSelector;
                                    expect(Object.keys(peer)).toHaveLength(1);
                                    expect(Object.keys(selector.matchLabels).length).toBeGreaterThan(0);
                                }
                                for (const port of rule.ports) {
                                    expect([a.apiPort, a.clusterPort]).toContain(port.port);
                                    expect(port.protocol).toBe("TCP");
                                }
                            }
                        } else {
                            expect(policy.spec.endpointSelector).toEqual({ matchLabels: serverPods });
                            for (const port of policy.spec.ingress.flatMap((rule) => rule.toPorts.flatMap((to) => to.ports))) {
                                expect([String(a.apiPort), String(a.clusterPort)]).toContain(port.port);
                                expect(port.protocol).toBe("TCP");
                            }
                        }
                    }
                    // The cluster port is open to the servers alone.
                    const clusterSources = kubernetesPolicy(policies)
                        .spec.ingress.filter((rule) => rule.ports.some((port) => port.port === a.clusterPort))
                        .flatMap((rule) => rule.from);
                    expect(clusterSources).toEqual([{ podSelector: { matchLabels: serverPods } }]);
                }),
                { numRuns: 300 },
            );
        });
    });
});
