/**
 * Who may reach a region's Vault through its ingress (vault.allowedSourceRanges) and the client's
 * address in Vault's audit log (vault.proxyProtocolRanges): the CIDR check, what each ingress class
 * enforces (an annotation, Cilium's cluster-wide policy on its ingress identity) and the refusals of
 * the combinations a class cannot enforce, naming the key and the fix; the listener's PROXY protocol
 * settings; the preflight of Cilium's policy CRD; the warning of an open API.
 */
import * as k8s from "@pulumi/kubernetes";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { monitoringOptions } from "../components/monitoring/monitoringSpecs";
import { regionPrerequisites } from "../components/region/prerequisites";
import { regionVaultOptions } from "../components/region/regionOptions";
import { sourceRangePolicyName, vaultSourceRangePolicy } from "../components/vault-server/networkPolicy";
import { vaultServerOptions } from "../components/vault-server/serverOptions";
import { serverConfig, serverSettings, vaultHelmValues } from "../components/vault-server/serverValues";
import { cidrProblem } from "../components/vault-server/sourceRanges";
import { VaultServer } from "../components/vault-server/vaultServer";
import { PROJECT, parseConfig } from "../stack/config";
import { runProgram } from "../tools/synth/mockRun";

const RANGES = ["203.0.113.0/24", "198.51.100.7/32", "2001:db8::/32"];

describe("cidrProblem", () => {
    it.each([
        "203.0.113.0/24",
        "198.51.100.7/32",
        "0.0.0.0/0",
        "10.0.0.0/8",
        "2001:db8::/32",
        "::/0",
        "fd00::1/128",
        "2001:db8:0:0:0:0:0:0/64",
    ])("takes %s", (cidr) => expect(cidrProblem(cidr)).toBeUndefined());

    it.each([
        ["10.0.0.1/8", "has host bits set: the network is 10.0.0.0/8"],
        ["2001:db8::1/32", "has host bits set: the network is 2001:db8:0:0:0:0:0:0/32"],
        ["10.0.0.0/33", "has a prefix length above 32"],
        ["10.0.0.0", "is not an IPv4 or IPv6 address with a prefix length"],
        ["256.0.0.0/8", "is not an IPv4"],
        ["010.0.0.0/8", "is not an IPv4"],
        ["2001:db8::g/32", "is not an IPv4"],
        ["1::2::3/64", "is not an IPv4"],
        ["example.com/24", "is not an IPv4"],
    ])("refuses %s: %s", (cidr, why) => expect(cidrProblem(cidr)).toContain(why));
});

const settings = (server: Record<string, unknown>) =>
    serverSettings(vaultServerOptions.parse(server), "vault.region1.example.com", monitoringOptions.parse({}));

describe("enforcement per ingress class", () => {
    it("haproxy: its allow-list annotation on the ingress, which it applies in the TLS pass-through frontend", () => {
        const values = vaultHelmValues(settings({ ingressClassName: "haproxy", allowedSourceRanges: RANGES }));
        expect(values.server.ingress.annotations).toEqual({
            "haproxy.org/ssl-passthrough": "true",
            "haproxy.org/allow-list": "203.0.113.0/24,198.51.100.7/32,2001:db8::/32",
        });
    });

    it("nginx: its allow-list annotation only with TLS off (NGINX then sees the request)", () => {
        const values = vaultHelmValues(
            settings({ ingressClassName: "nginx", tls: { source: "none", allowPlaintext: true }, allowedSourceRanges: RANGES }),
        );
        expect(values.server.ingress.annotations).toEqual({
            "nginx.ingress.kubernetes.io/allowlist-source-range": "203.0.113.0/24,198.51.100.7/32,2001:db8::/32",
        });
    });

    it("cilium: no annotation, a CiliumClusterwideNetworkPolicy that only denies other outside addresses on Vault's port at the ingress identity", () => {
        expect(vaultHelmValues(settings({ allowedSourceRanges: RANGES })).server.ingress.annotations).toEqual({
            "ingress.cilium.io/tls-passthrough": "enabled",
        });
        const policy = vaultSourceRangePolicy({ namespace: "vault", apiPort: 8200, ranges: RANGES, labels: { a: "b" } });
        expect(policy).toEqual({
            apiVersion: "cilium.io/v2",
            kind: "CiliumClusterwideNetworkPolicy",
            metadata: { name: "openova-vault-vault-source-ranges", labels: { a: "b" } },
            spec: {
                description: expect.stringContaining("namespace vault (port 8200)") as unknown,
                endpointSelector: { matchExpressions: [{ key: "reserved:ingress", operator: "Exists" }] },
                enableDefaultDeny: { ingress: false, egress: false },
                ingressDeny: [
                    {
                        fromCIDRSet: [
                            { cidr: "0.0.0.0/0", except: ["203.0.113.0/24", "198.51.100.7/32"] },
                            { cidr: "::/0", except: ["2001:db8::/32"] },
                        ],
                        toPorts: [{ ports: [{ port: "8200", protocol: "TCP" }] }],
                    },
                ],
            },
        });
        // Nothing it allows (it would open other Ingresses), and no namespace: the identity is the cluster's.
        expect(policy.spec).not.toHaveProperty("ingress");
        expect(policy.metadata).not.toHaveProperty("namespace");
        // Only IPv4 ranges: every IPv6 address outside is denied.
        expect(
            vaultSourceRangePolicy({ namespace: "v", apiPort: 8200, ranges: ["10.0.0.0/8"], labels: {} }).spec.ingressDeny[0]
                .fromCIDRSet[1],
        ).toEqual({
            cidr: "::/0",
        });
    });

    it("without ranges, no allow-list anywhere", () => {
        for (const server of [{}, { ingressClassName: "haproxy" }]) {
            const annotations = vaultHelmValues(settings(server)).server.ingress.annotations;
            expect(Object.keys(annotations).filter((key) => /allow-?list|source-range/.test(key))).toEqual([]);
        }
    });

    it("haproxy with proxyProtocolRanges: sends PROXY protocol v1, and the listener trusts its header from those ranges alone", () => {
        const haproxy = settings({ ingressClassName: "haproxy", proxyProtocolRanges: ["10.244.0.0/16"] });
        expect(vaultHelmValues(haproxy).server.ingress.annotations).toMatchObject({ "haproxy.org/send-proxy-protocol": "proxy-v1" });
        const listener = (JSON.parse(serverConfig(haproxy)) as { listener: { tcp: Record<string, unknown> } }).listener.tcp;
        expect(listener).toMatchObject({ proxy_protocol_behavior: "allow_authorized", proxy_protocol_authorized_addrs: ["10.244.0.0/16"] });
        const plain = (JSON.parse(serverConfig(settings({}))) as { listener: { tcp: Record<string, unknown> } }).listener.tcp;
        expect(plain).not.toHaveProperty("proxy_protocol_behavior");
    });
});

describe("refusals, naming the key and the fix", () => {
    const problems = (vault: Record<string, unknown>) => {
        const result = parseConfig(
            "region1",
            {
                [`${PROJECT}:domain`]: "example.com",
                [`${PROJECT}:vaultCaCertFile`]: "certs/ca.pem",
                [`${PROJECT}:peerAuth`]: "token",
                [`${PROJECT}:vault`]: JSON.stringify(vault),
            },
            { readFile: () => "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" },
        );
        return result.ok ? [] : result.problems;
    };

    it("refuses ranges with nginx while it passes TLS through: its pass-through ignores the allow-list", () => {
        const [line, ...rest] = problems({ ingressClassName: "nginx", allowedSourceRanges: RANGES });
        expect(rest).toEqual([]);
        expect(line).toMatch(
            /^Invalid config for stack "region1": openova-vault:vault\.allowedSourceRanges is set, but the ingress class nginx cannot enforce it while it passes TLS through: ingress-nginx hands a pass-through connection to a TCP proxy .*Use a class that can \(cilium, haproxy\), or remove allowedSourceRanges and restrict the ranges in front of the ingress .*Fix: pulumi config rm --path vault\.allowedSourceRanges -s region1/,
        );
    });

    it("refuses ranges with a class it does not know how to enforce them for", () => {
        const [line] = problems({
            ingressClassName: "traefik",
            ingressControllerNamespace: "traefik",
            ingressAnnotations: { a: "b" },
            allowedSourceRanges: RANGES,
        });
        expect(line).toContain("openova-vault:vault.allowedSourceRanges is set, but the ingress class traefik cannot enforce it");
        expect(line).toContain("does not know how class traefik enforces source ranges");
    });

    it("refuses a range that admits everyone, and a range that is not a CIDR, with its reason", () => {
        expect(problems({ allowedSourceRanges: ["0.0.0.0/0"] })[0]).toContain("lists 0.0.0.0/0, which admits everyone");
        expect(problems({ allowedSourceRanges: ["10.0.0.1/8"] })[0]).toContain(
            'openova-vault:vault.allowedSourceRanges[0] is "10.0.0.1/8", which has host bits set: the network is 10.0.0.0/8',
        );
        expect(problems({ allowedSourceRanges: [] })[0]).toContain("openova-vault:vault.allowedSourceRanges is []");
        expect(problems({ allowedSourceRanges: ["10.0.0.0/8", "10.0.0.0/8"] })[0]).toContain("openova-vault:vault.allowedSourceRanges");
    });

    it("refuses the allow-list annotation set by hand beside the ranges", () => {
        const [line] = problems({
            ingressClassName: "haproxy",
            allowedSourceRanges: RANGES,
            ingressAnnotations: { "haproxy.org/allow-list": "1.2.3.4" },
        });
        expect(line).toContain("openova-vault:vault.ingressAnnotations sets haproxy.org/allow-list, which allowedSourceRanges sets");
    });

    it.each([
        ["cilium", "Cilium's ingress opens a new TCP stream to the backend"],
        ["nginx", "ingress-nginx's pass-through proxy never sends PROXY protocol"],
    ])("refuses proxyProtocolRanges with %s, and says why", (cls, why) => {
        const [line] = problems({ ingressClassName: cls, proxyProtocolRanges: ["10.244.0.0/16"] });
        expect(line).toContain(`openova-vault:vault.proxyProtocolRanges is set, but ${why}`);
        expect(line).toContain("or use the haproxy class");
    });

    it("accepts what each class can enforce", () => {
        expect(problems({ allowedSourceRanges: RANGES })).toEqual([]);
        expect(problems({ ingressClassName: "haproxy", allowedSourceRanges: RANGES, proxyProtocolRanges: ["10.244.0.0/16"] })).toEqual([]);
    });
});

describe("the stack's warning of an open API", () => {
    const warnings = (vault: Record<string, unknown>) => {
        const result = parseConfig(
            "region1",
            {
                [`${PROJECT}:domain`]: "example.com",
                [`${PROJECT}:vaultCaCertFile`]: "certs/ca.pem",
                [`${PROJECT}:peerAuth`]: "token",
                [`${PROJECT}:vault`]: JSON.stringify(vault),
            },
            { readFile: () => "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" },
        );
        return result.ok ? result.warnings : [];
    };

    it("warns on every run without ranges, and not with them", () => {
        expect(warnings({})).toContain(
            "openova-vault:vault.allowedSourceRanges is not set: the Vault API and UI of region1 are open to everyone who reaches its ingress. List the peer regions' egress addresses and your operators' ranges (docs/security.md, \"Who can reach Vault\").",
        );
        expect(warnings({ allowedSourceRanges: RANGES }).join("\n")).not.toContain("allowedSourceRanges");
    });
});

describe("preflight of Cilium's cluster-wide policy", () => {
    const options = (vault: Record<string, unknown>) => ({
        vault: regionVaultOptions.parse(vault),
        monitoring: monitoringOptions.parse({}),
    });
    const check = (found: unknown) =>
        regionPrerequisites(options({ allowedSourceRanges: RANGES }))
            .find((p) => p.id === "crd:ciliumclusterwidenetworkpolicies.cilium.io")
            ?.check(found);
    const crd = (spec: Record<string, unknown>) => ({
        spec: { versions: [{ name: "v2", served: true, schema: { openAPIV3Schema: { properties: { spec: { properties: spec } } } } }] },
    });

    it("needs its CRD only with the cilium class and ranges", () => {
        const ids = (vault: Record<string, unknown>) => regionPrerequisites(options(vault)).map((p) => p.id);
        expect(ids({ allowedSourceRanges: RANGES })).toContain("crd:ciliumclusterwidenetworkpolicies.cilium.io");
        expect(ids({})).not.toContain("crd:ciliumclusterwidenetworkpolicies.cilium.io");
        expect(ids({ ingressClassName: "haproxy", allowedSourceRanges: RANGES })).not.toContain(
            "crd:ciliumclusterwidenetworkpolicies.cilium.io",
        );
    });

    it("refuses a Cilium whose policies have no enableDefaultDeny (before 1.16): the policy would cut off every other Ingress", () => {
        expect(check(crd({ enableDefaultDeny: {}, ingressDeny: {} }))).toBeUndefined();
        expect(check(crd({ ingressDeny: {} }))?.what).toContain("has no enableDefaultDeny (Cilium before 1.16)");
        expect(check(undefined)?.what).toContain("CustomResourceDefinition ciliumclusterwidenetworkpolicies.cilium.io does not exist");
    });
});

describe("VaultServer with ranges (Pulumi mock runtime)", () => {
    const PROGRAM = "openova-vault.tests.sourceRanges.program";

    it("declares the cluster-wide policy for Cilium, and none for another class", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "source-ranges-"));
        const entry = path.join(dir, "program.js");
        fs.writeFileSync(entry, `module.exports = () => globalThis[Symbol.for(${JSON.stringify(PROGRAM)})]();\n`);
        const slot = globalThis as unknown as Record<symbol, unknown>;
        slot[Symbol.for(PROGRAM)] = () => {
            const cluster = new k8s.Provider("c", { context: "c" });
            new VaultServer("cilium", { host: "vault.a.example.com", allowedSourceRanges: RANGES }, { providers: { kubernetes: cluster } });
            new VaultServer(
                "haproxy",
                { host: "vault.b.example.com", namespace: "vault-b", ingressClassName: "haproxy", allowedSourceRanges: RANGES },
                { providers: { kubernetes: cluster } },
            );
        };
        try {
            const run = await runProgram({
                project: "p",
                stack: "s",
                config: {},
                secretKeys: [],
                program: entry,
                resolveStack: () => undefined,
            });
            expect(run.error).toBeUndefined();
            const policies = run.resources.filter((r) => r.type === "kubernetes:cilium.io/v2:CiliumClusterwideNetworkPolicy");
            expect(policies.map((p) => (p.inputs.metadata as { name: string }).name)).toEqual([sourceRangePolicyName("vault")]);
        } finally {
            delete slot[Symbol.for(PROGRAM)];
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
