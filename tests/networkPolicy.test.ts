/**
 * The network policies in front of the Vault servers: what they admit, to which ports. The builder
 * takes validated options; the rules about which namespaces and classes are allowed are the options'
 * (checked at the end, through the schema and the VaultServer component).
 */
import type { V1NetworkPolicy } from "@kubernetes/client-node" with { "resolution-mode": "import" };
import * as pulumi from "@pulumi/pulumi";
import * as fc from "fast-check";
import { projectLabels } from "../components/common/labels";
import {
    INGRESS_CONTROLLER_NAMESPACES,
    type VaultCiliumNetworkPolicy,
    type VaultKubernetesNetworkPolicy,
    type VaultNetworkPolicy,
    type VaultNetworkPolicyArgs,
    ingressControllerNamespace,
    vaultNetworkPolicies,
    vaultServerPodLabels,
} from "../components/vault-server/networkPolicy";
import { type VaultServerOptions, admittedNamespaceProblems, vaultServerOptions } from "../components/vault-server/serverOptions";
import { VaultServer } from "../components/vault-server/vaultServer";

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

    it("admits Prometheus's namespace to the API port only, when one is given (a ServiceMonitor scrapes /v1/sys/metrics)", () => {
        const rules = kubernetesPolicy(vaultNetworkPolicies({ ...baseArgs, metricsNamespace: "monitoring" })).spec.ingress;
        expect(rules).toHaveLength(5);
        expect(rules.at(-1)).toEqual({
            from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }],
            ports: [{ port: 8200, protocol: "TCP" }],
        });
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
        const labelKey = fc
            .tuple(fc.option(fc.stringMatching(/^[a-z0-9]{1,6}(\.[a-z0-9]{1,6}){0,2}$/), { nil: undefined }), labelName)
            .map(([prefix, name]) => (prefix === undefined ? name : `${prefix}/${name}`));
        const labelValue = fc.oneof(fc.constant(""), labelName);
        const labels = (minKeys: number) => fc.dictionary(labelKey, labelValue, { minKeys, maxKeys: 3 });
        const ingress: fc.Arbitrary<{ ingressClassName: string; ingressControllerNamespace?: string }> = fc.oneof(
            fc.record({ ingressClassName: fc.constantFrom("nginx", "haproxy", "cilium") }),
            fc.record({
                ingressClassName: fc.constantFrom("nginx", "haproxy", "cilium", "traefik", "contour"),
                ingressControllerNamespace: dnsLabel,
            }),
        );
        const args: fc.Arbitrary<VaultNetworkPolicyArgs> = fc
            .record({
                namespaces: fc.uniqueArray(dnsLabel, { minLength: 2, maxLength: 2 }),
                releaseName: dnsLabel,
                ports: fc.uniqueArray(fc.integer({ min: 1, max: 65535 }), { minLength: 2, maxLength: 2 }),
                ingress,
                extraPodSelectors: fc.array(labels(1), { maxLength: 3 }),
                labels: labels(0),
                metricsNamespace: fc.option(dnsLabel, { nil: undefined }),
            })
            // What the options let through: no namespace admitted whole is Vault's own.
            .filter(
                ({ namespaces, ingress, metricsNamespace }) =>
                    ingress.ingressControllerNamespace !== namespaces[0] && metricsNamespace !== namespaces[0],
            )
            .map(({ namespaces, ports, ingress, metricsNamespace, ...rest }) => ({
                ...rest,
                ...ingress,
                ...(metricsNamespace === undefined ? {} : { metricsNamespace }),
                namespace: namespaces[0],
                externalSecretsNamespace: namespaces[1],
                apiPort: ports[0],
                clusterPort: ports[1],
            }));

        it("every policy selects exactly the server pods, in Vault's namespace, and opens only the API and cluster ports, never to all of Vault's namespace", () => {
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
                                    if ("namespaceSelector" in peer) {
                                        expect(peer.namespaceSelector.matchLabels).not.toEqual({
                                            "kubernetes.io/metadata.name": a.namespace,
                                        });
                                    }
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

describe("ingressControllerNamespace", () => {
    it("is the one given, else the known class's default, else none (cilium is admitted by identity; an unknown class by the options' rule)", () => {
        expect(ingressControllerNamespace("nginx", undefined)).toBe("ingress-nginx");
        expect(ingressControllerNamespace("haproxy", undefined)).toBe("haproxy-controller");
        expect(ingressControllerNamespace("nginx", "edge")).toBe("edge");
        expect(ingressControllerNamespace("traefik", "traefik")).toBe("traefik");
        expect(ingressControllerNamespace("cilium", undefined)).toBeUndefined();
        expect(ingressControllerNamespace("traefik", undefined)).toBeUndefined();
        // Own keys only: a class named like an Object.prototype member is not a known one.
        expect(ingressControllerNamespace("constructor", undefined)).toBeUndefined();
    });
});

/** Where the server options' rules fail, as paths. */
function refusedPaths(options: VaultServerOptions): string[] {
    const result = vaultServerOptions.safeParse(options);
    return result.success ? [] : result.error.issues.map((issue) => issue.path.join("."));
}

/** The properties a VaultServer refuses, as its InputPropertiesError names them. */
function serverRefusals(run: () => unknown): { propertyPath: string; reason: string }[] {
    try {
        run();
    } catch (error) {
        if (pulumi.InputPropertiesError.isInstance(error)) {
            return error.errors;
        }
        throw error;
    }
    throw new Error("not refused");
}

describe("the options the policies are built from", () => {
    const passthrough = { ingressAnnotations: { "example.com/tls-passthrough": "true" } };

    it("refuses an ingress class whose controller namespace is unknown until it is given", () => {
        expect(refusedPaths({ ingressClassName: "traefik", ...passthrough })).toEqual(["ingressControllerNamespace"]);
        expect(refusedPaths({ ingressClassName: "constructor", ...passthrough })).toEqual(["ingressControllerNamespace"]);
        expect(refusedPaths({ ingressClassName: "traefik", ingressControllerNamespace: "traefik", ...passthrough })).toEqual([]);
        expect(refusedPaths({ ingressClassName: "cilium" })).toEqual([]);
    });

    it.each<[VaultServerOptions, string]>([
        [{ ingressClassName: "Nginx" }, "ingressClassName"],
        [{ ingressControllerNamespace: "-x" }, "ingressControllerNamespace"],
        // The controller's namespace is admitted whole: Vault's own would admit every pod in it.
        [{ ingressClassName: "nginx", ingressControllerNamespace: "vault" }, "ingressControllerNamespace"],
        [{ ingressClassName: "nginx", namespace: "ingress-nginx" }, "ingressControllerNamespace"],
    ])("refuses %j", (options, path) => {
        expect(refusedPaths(options)).toEqual([path]);
    });

    it("refuses ESO's or Prometheus's namespace when it is Vault's own (admitted whole, it would admit every pod in it)", () => {
        expect(
            admittedNamespaceProblems("vault", [
                { path: ["externalSecretsNamespace"], namespace: "vault", who: "the External Secrets Operator" },
                { path: ["monitoring", "prometheusNamespace"], namespace: "monitoring", who: "Prometheus" },
            ]),
        ).toEqual([
            {
                path: ["externalSecretsNamespace"],
                message: expect.stringContaining(
                    "is vault, Vault's own namespace, but the External Secrets Operator needs its own",
                ) as unknown,
            },
        ]);
        const host = "vault.region1.example.com";
        expect(serverRefusals(() => new VaultServer("v", { host, externalSecretsNamespace: "vault" }))).toEqual([
            { propertyPath: "externalSecretsNamespace", reason: expect.stringContaining("Vault's own namespace") as unknown },
        ]);
        expect(
            serverRefusals(
                () =>
                    new VaultServer("v", {
                        host,
                        namespace: "platform",
                        monitoring: { serviceMonitor: true, prometheusNamespace: "platform" },
                    }),
            ),
        ).toEqual([
            { propertyPath: "monitoring.prometheusNamespace", reason: expect.stringContaining("Vault's own namespace") as unknown },
        ]);
        expect(serverRefusals(() => new VaultServer("v", { host, externalSecretsNamespace: "eso!" }))).toEqual([
            {
                propertyPath: "externalSecretsNamespace",
                reason: expect.stringContaining('is "eso!", but it must be a namespace name') as unknown,
            },
        ]);
    });

    it("names the server's own options by their own paths, as its args spell them", () => {
        const host = "vault.region1.example.com";
        expect(serverRefusals(() => new VaultServer("v", { host, replicas: 2 }))).toEqual([
            { propertyPath: "replicas", reason: expect.stringContaining("is 2, but it must be an odd whole number") as unknown },
        ]);
        expect(
            serverRefusals(() => new VaultServer("v", { host, replica: 3 } as unknown as ConstructorParameters<typeof VaultServer>[1])),
        ).toEqual([
            {
                propertyPath: "replica",
                reason: expect.stringContaining("is not an option of VaultServer (known: namespace, replicas") as unknown,
            },
        ]);
    });
});
