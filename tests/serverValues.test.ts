import { parse as parseHcl } from "@cdktf/hcl2json";
import * as fc from "fast-check";
import { hclString } from "../components/common/hcl";
import { VAULT_CHART, VAULT_IMAGE } from "../components/common/versions";
import { chartValidator, loadChartSchema as loadSchema, undeclaredPaths } from "./support/vaultChartSchema";
import {
    VAULT_SERVER_DEFAULTS,
    raftConfig,
    resolveVaultServerOptions,
    vaultHelmValues,
    type ResolvedVaultServerOptions,
} from "../components/vault-server/serverValues";

interface RaftJson {
    ui: boolean;
    disable_mlock: boolean;
    listener: { tcp: Record<string, string | boolean>[] };
    storage: { raft: { path: string; performance_multiplier: number; retry_join: Record<string, string>[] }[] };
    seal?: Record<string, Record<string, string>[]>;
    service_registration: { kubernetes: object[] };
    telemetry: { prometheus_retention_time: string; disable_hostname: boolean }[];
}

async function parsedRaftConfig(options: ResolvedVaultServerOptions): Promise<RaftJson> {
    return (await parseHcl("vault.hcl", raftConfig(options))) as RaftJson;
}

const defaults = resolveVaultServerOptions({ host: "vault.region1.example.com" });

describe("resolveVaultServerOptions", () => {
    it("applies every default", () => {
        expect(defaults).toEqual({
            host: "vault.region1.example.com",
            ...VAULT_SERVER_DEFAULTS,
            storageClass: undefined,
            tls: { enabled: true, source: "cert-manager", secretName: "vault-server-tls", issuer: { kind: "ClusterIssuer", name: "vault-ca-issuer" } },
            seal: { type: "shamir" },
            ingressAnnotations: {},
            resources: { cpuRequest: "500m", memoryRequest: "256Mi", memoryLimit: "1Gi" },
            monitoring: {
                retention: "60s",
                unauthenticatedMetrics: false,
                serviceMonitor: false,
                prometheusRules: false,
                prometheusNamespace: "monitoring",
                labels: { release: "prometheus" },
            },
        });
        expect(defaults.chartVersion).toBe(VAULT_CHART.version);
        expect(defaults.imageTag).toBe(VAULT_IMAGE.tag);
    });

    it.each([
        [{ replicas: 4 }, "replicas 4 is not an odd number from 1 to 7"],
        [{ replicas: 0 }, "replicas 0 is not an odd number"],
        [{ storageSize: "ten" }, 'storageSize "ten" is not a storage quantity'],
        [{ namespace: "Vault" }, 'namespace "Vault" is not a DNS label'],
        [{ namespace: "default" }, 'namespace "default" is not a DNS label other than default and kube-*'],
        [{ storageSize: "100" }, 'storageSize "100" is not a storage quantity of at least 1Gi'],
        [{ host: "https://vault.example.com" }, "is not a DNS name"],
        [{ chartVersion: "latest" }, 'chartVersion "latest" is not a semantic version'],
        [{ tls: { source: "none" as const } }, "set tls.allowPlaintext to true"],
        [{ seal: { type: "awskms" as const, parameters: { region: "eu-west-1", kms_key_id: "k" } } }, "needs credentials for the KMS"],
        [{ ingressClassName: "traefik" }, "set ingressAnnotations"],
        [{ resources: { memoryRequest: "2Gi", memoryLimit: "1Gi" } }, "more than resources.memoryLimit"],
    ])("rejects %j early", (override, message) => {
        expect(() => resolveVaultServerOptions({ host: "vault.region1.example.com", ...override })).toThrow(message);
    });
});

describe("raftConfig", () => {
    it("is HCL that HashiCorp's parser accepts, with a listener, Raft storage, Kubernetes service registration and telemetry", async () => {
        const config = await parsedRaftConfig(defaults);
        expect(config.ui).toBe(true);
        expect(config.disable_mlock).toBe(true);
        expect(config.listener.tcp).toEqual([
            {
                address: "[::]:8200",
                cluster_address: "[::]:8201",
                tls_cert_file: "/vault/userconfig/vault-server-tls/tls.crt",
                tls_key_file: "/vault/userconfig/vault-server-tls/tls.key",
                tls_min_version: "tls12",
            },
        ]);
        expect(config.seal).toBeUndefined();
        expect(config.storage.raft).toHaveLength(1);
        expect(config.storage.raft[0].path).toBe("/vault/data");
        expect(config.storage.raft[0].performance_multiplier).toBe(1);
        expect(config.service_registration).toEqual({ kubernetes: [{}] });
        expect(config.telemetry).toEqual([{ prometheus_retention_time: "60s", disable_hostname: true }]);
    });

    it.each([1, 3, 5, 7])("has one retry_join per server for %i servers, at each pod's stable address, verifying it with the CA and its name", async (replicas) => {
        const config = await parsedRaftConfig({ ...defaults, replicas });
        expect(config.storage.raft[0].retry_join).toEqual(
            Array.from({ length: replicas }, (_, i) => ({
                leader_api_addr: `https://vault-${i}.vault-internal:8200`,
                leader_ca_cert_file: "/vault/userconfig/vault-server-tls/ca.crt",
                leader_tls_servername: `vault-${i}.vault-internal`,
            })),
        );
    });

    it("with TLS explicitly off, listens and joins in plain HTTP", async () => {
        const config = await parsedRaftConfig(resolveVaultServerOptions({ host: "vault.region1.example.com", tls: { source: "none", allowPlaintext: true } }));
        expect(config.listener.tcp).toEqual([{ address: "[::]:8200", cluster_address: "[::]:8201", tls_disable: true }]);
        expect(config.storage.raft[0].retry_join[0]).toEqual({ leader_api_addr: "http://vault-0.vault-internal:8200" });
    });

    it("with a certificate Secret of the operator's, serves and verifies with that Secret's files", async () => {
        const config = await parsedRaftConfig(resolveVaultServerOptions({ host: "vault.region1.example.com", tls: { source: "secret", secretName: "my-vault-tls" } }));
        expect(config.listener.tcp[0].tls_cert_file).toBe("/vault/userconfig/my-vault-tls/tls.crt");
        expect(config.storage.raft[0].retry_join[0].leader_ca_cert_file).toBe("/vault/userconfig/my-vault-tls/ca.crt");
    });

    it("contains no Helm template syntax (the chart passes it through tpl)", () => {
        expect(raftConfig(defaults)).not.toMatch(/\{\{|\}\}/);
    });
});

describe("hclString", () => {
    const hasTemplate = (value: string) => value.includes("${") || value.includes("%{");

    it("quotes any string without a template sequence so HashiCorp's parser reads it back unchanged", async () => {
        await fc.assert(
            fc.asyncProperty(
                fc.string({ unit: "binary" }).filter((value) => !hasTemplate(value)),
                async (value) => {
                    const parsed = (await parseHcl("s.hcl", `s = ${hclString(value)}\n`)) as { s: string };
                    // HCL normalizes string literals to Unicode NFC.
                    expect(parsed.s).toBe(value.normalize("NFC"));
                },
            ),
            { numRuns: 300 },
        );
    });

    it.each(["${path}", "a%{if x}b", "x${"])("refuses %j: HCL 1 (Vault) and HCL 2 read template escapes differently", (value) => {
        expect(() => hclString(value)).toThrow(/template sequence/);
    });

    it("accepts a lone $ or % that opens no template", () => {
        expect(hclString("$5 and 10% {x}")).toBe('"$5 and 10% {x}"');
    });
});

describe("vaultHelmValues", () => {
    const values = vaultHelmValues(resolveVaultServerOptions({ host: "vault.region2.example.com", storageClass: "fast-ssd", replicas: 5 }));

    it("is valid against the chart's own values schema", () => {
        const validate = chartValidator();
        expect(validate(values) ? [] : validate.errors).toEqual([]);
    });

    it("would be caught by that schema if a value had the wrong type", () => {
        const broken = structuredClone(values) as unknown as { server: { ingress: { enabled: unknown }; ha: { raft: { enabled: unknown } } } };
        broken.server.ingress.enabled = "yes";
        broken.server.ha.raft.enabled = 1;
        const validate = chartValidator();
        expect(validate(broken)).toBe(false);
        expect(validate.errors?.map((e) => e.instancePath).sort()).toEqual(["/server/ha/raft/enabled", "/server/ingress/enabled"]);
    });

    it("sets only values the chart's schema declares (the schema itself lets typos through)", () => {
        expect(undeclaredPaths(values, loadSchema())).toEqual([]);
        const typo = structuredClone(values) as unknown as { server: { ha: { raft: Record<string, unknown> } } };
        typo.server.ha.raft.setNodeID = true;
        expect(undeclaredPaths(typo, loadSchema())).toEqual(["server.ha.raft.setNodeID"]);
    });

    it("runs Vault HA on Raft with the configured servers, node IDs from pod names and the generated config", () => {
        expect(values.server.ha).toEqual({
            enabled: true,
            apiAddr: "https://$(VAULT_K8S_POD_NAME).vault-internal:8200",
            replicas: 5,
            disruptionBudget: { enabled: true },
            raft: { enabled: true, setNodeId: true, config: raftConfig({ ...defaults, host: "vault.region2.example.com", storageClass: "fast-ssd", replicas: 5 }) },
        });
    });

    it("keeps the chart's PodDisruptionBudget only when there is more than one server (with one it would block every drain)", () => {
        expect(vaultHelmValues({ ...defaults, replicas: 3 }).server.ha.disruptionBudget).toEqual({ enabled: true });
        expect(vaultHelmValues({ ...defaults, replicas: 1 }).server.ha.disruptionBudget).toEqual({ enabled: false });
    });

    it("keeps data and audit on persistent volumes of the configured class", () => {
        expect(values.server.dataStorage).toEqual({ enabled: true, size: "10Gi", storageClass: "fast-ssd" });
        expect(values.server.auditStorage).toEqual({ enabled: true, size: "10Gi", storageClass: "fast-ssd" });
        const withoutClass = vaultHelmValues(defaults);
        expect(withoutClass.server.dataStorage).toEqual({ enabled: true, size: "10Gi" });
        expect("storageClass" in withoutClass.server.auditStorage).toBe(false);
    });

    it("serves the region's host through the ingress class, to the active server", () => {
        expect(values.server.ingress).toEqual({
            enabled: true,
            ingressClassName: "cilium",
            pathType: "Prefix",
            activeService: true,
            // TLS passes through to the servers: no plaintext hop behind the ingress.
            annotations: { "ingress.cilium.io/tls-passthrough": "enabled" },
            hosts: [{ host: "vault.region2.example.com", paths: [] }],
        });
    });

    it("turns the agent injector off, pins the image, and leaves the chart's anti-affinity alone", () => {
        expect(values.injector).toEqual({ enabled: false });
        expect(values.server.image).toEqual({ repository: "hashicorp/vault", tag: VAULT_IMAGE.tag });
        expect("affinity" in values.server).toBe(false);
        expect(values.global).toEqual({ enabled: true, tlsDisable: false });
    });
});
