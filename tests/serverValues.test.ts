/**
 * The Vault servers' options and what they become: the server configuration (JSON, which Vault reads
 * as well as HCL) and the hashicorp/vault chart's values, checked against the chart's own schema.
 */
import * as pulumi from "@pulumi/pulumi";
import * as fc from "fast-check";
import { ENGINE_FACTS } from "../components/common/engine";
import { parseOptions } from "../components/common/options";
import { VAULT_CHART, VAULT_IMAGE } from "../components/common/versions";
import { type MonitoringOptions, monitoringOptions } from "../components/monitoring/monitoringSpecs";
import { sealOptions } from "../components/vault-server/seal";
import { type VaultServerOptions, vaultServerOptions } from "../components/vault-server/serverOptions";
import { type VaultServerSettings, serverConfig, serverSettings, vaultHelmValues } from "../components/vault-server/serverValues";
import { VaultServer } from "../components/vault-server/vaultServer";
import { chartValidator, loadChartSchema as loadSchema, undeclaredPaths } from "./support/vaultChartSchema";

/** The server configuration, as Vault reads it. */
interface ServerConfigJson {
    ui: boolean;
    disable_mlock: boolean;
    listener: { tcp: Record<string, unknown> };
    storage: { raft: { path: string; performance_multiplier: number; retry_join: Record<string, string>[] } };
    seal?: Record<string, Record<string, string>>;
    service_registration: { kubernetes: object };
    telemetry: { prometheus_retention_time: string; disable_hostname: boolean };
}

const HOST = "vault.region1.example.com";

/** The builders' settings for `options`, validated and defaulted as the VaultServer component does it. */
function settingsFor(options: VaultServerOptions = {}, monitoring: MonitoringOptions = {}, host = HOST): VaultServerSettings {
    return serverSettings(vaultServerOptions.parse(options), host, monitoringOptions.parse(monitoring));
}

function parsedConfig(settings: VaultServerSettings): ServerConfigJson {
    return JSON.parse(serverConfig(settings)) as ServerConfigJson;
}

/** The properties the options refuse, as the InputPropertiesError of the component that parses them names them. */
function refusals(options: unknown): { propertyPath: string; reason: string }[] {
    try {
        parseOptions("VaultServer", vaultServerOptions, options);
    } catch (error) {
        if (pulumi.InputPropertiesError.isInstance(error)) {
            return error.errors;
        }
        throw error;
    }
    throw new Error("not refused");
}

const defaults = settingsFor();

describe("vaultServerOptions", () => {
    it("passes the log level to the chart, and refuses one Vault does not know", () => {
        const settings = (logLevel?: string) =>
            serverSettings(vaultServerOptions.parse(logLevel === undefined ? {} : { logLevel }), HOST, monitoringOptions.parse({}));
        expect(vaultHelmValues(settings()).server.logLevel).toBe("info");
        expect(vaultHelmValues(settings("debug")).server.logLevel).toBe("debug");
        expect(vaultServerOptions.safeParse({ logLevel: "verbose" }).error?.issues.map((issue) => issue.path)).toEqual([["logLevel"]]);
    });

    it("applies every default", () => {
        expect(vaultServerOptions.parse({})).toEqual({
            namespace: "vault",
            replicas: 3,
            storageSize: "10Gi",
            auditStorageSize: "10Gi",
            ingressClassName: "cilium",
            ingressAnnotations: {},
            logLevel: "info",
            resources: { cpuRequest: "500m", memoryRequest: "256Mi", memoryLimit: "1Gi" },
            tls: { source: "cert-manager" },
            seal: { type: "shamir" },
        });
        expect(defaults).toEqual({
            ...vaultServerOptions.parse({}),
            host: HOST,
            // The chart and image the engine pins (Vault's by default), and every audit device.
            engine: ENGINE_FACTS.vault,
            chartVersion: VAULT_CHART.version,
            imageTag: VAULT_IMAGE.tag,
            auditDevices: ["file", "stdout"],
            tls: {
                enabled: true,
                source: "cert-manager",
                secretName: "vault-server-tls",
                issuer: { kind: "ClusterIssuer", name: "vault-ca-issuer" },
            },
            seal: { type: "shamir" },
            monitoring: {
                retention: "60s",
                unauthenticatedMetrics: false,
                serviceMonitor: false,
                prometheusRules: false,
                prometheusNamespace: "monitoring",
                labels: { release: "prometheus" },
                metricsTokenGeneration: 1,
            },
        });
        expect("storageClass" in defaults).toBe(false);
    });

    it.each<[VaultServerOptions, string, string]>([
        [{ replicas: 4 }, "replicas", "is 4, but it must be an odd whole number from 1 to 7"],
        [{ replicas: 0 }, "replicas", "is 0, but it must be an odd whole number"],
        [{ storageSize: "ten" }, "storageSize", 'is "ten", but it must be a Kubernetes quantity with a unit'],
        [{ storageSize: "100" }, "storageSize", "at least 1Gi"],
        [{ auditStorageSize: "512Mi" }, "auditStorageSize", "at least 1Gi"],
        [{ namespace: "Vault" }, "namespace", 'is "Vault", but it must be a namespace name (a DNS label)'],
        [{ namespace: "default" }, "namespace", "other than default and kube-*"],
        [{ chartVersion: "latest" }, "chartVersion", 'is "latest", but it must be a semantic version'],
        [{ imageTag: "latest" }, "imageTag", "a pinned image tag (not latest)"],
        [{ tls: { source: "none" } }, "tls.source", "set allowPlaintext to true"],
        [
            { seal: { type: "awskms", parameters: { region: "eu-west-1", kms_key_id: "k" } } },
            "seal.credentials",
            "needs credentials for the KMS",
        ],
        [{ ingressClassName: "traefik", ingressControllerNamespace: "traefik" }, "ingressClassName", "set ingressAnnotations"],
        [{ resources: { memoryRequest: "2Gi", memoryLimit: "1Gi" } }, "resources.memoryRequest", "more than memoryLimit 1Gi"],
    ])("refuses %j, naming the property", (options, propertyPath, reason) => {
        expect(refusals(options)).toEqual([{ propertyPath, reason: expect.stringContaining(reason) as unknown }]);
    });

    it("refuses a host that is not a DNS name (the VaultServer's own arg), before registering anything", () => {
        let thrown: unknown;
        try {
            new VaultServer("vault", { host: "https://vault.example.com" });
        } catch (error) {
            thrown = error;
        }
        expect(pulumi.InputPropertiesError.isInstance(thrown) ? thrown.errors : thrown).toEqual([
            { propertyPath: "host", reason: 'is "https://vault.example.com", but it must be a DNS name' },
        ]);
    });
});

describe("serverConfig", () => {
    it("is JSON with a listener, Raft storage, Kubernetes service registration and telemetry", () => {
        const config = parsedConfig(defaults);
        expect(config.ui).toBe(true);
        expect(config.disable_mlock).toBe(true);
        expect(config.listener).toEqual({
            tcp: {
                address: "[::]:8200",
                cluster_address: "[::]:8201",
                tls_cert_file: "/vault/userconfig/vault-server-tls/tls.crt",
                tls_key_file: "/vault/userconfig/vault-server-tls/tls.key",
                tls_min_version: "tls12",
            },
        });
        expect(config.seal).toBeUndefined();
        expect(config.storage.raft.path).toBe("/vault/data");
        expect(config.storage.raft.performance_multiplier).toBe(1);
        expect(config.service_registration).toEqual({ kubernetes: {} });
        expect(config.telemetry).toEqual({ prometheus_retention_time: "60s", disable_hostname: true });
    });

    it.each([1, 3, 5, 7])(
        "has one retry_join per server for %i servers, at each pod's stable address, verifying it with the CA and its name",
        (replicas) => {
            const config = parsedConfig(settingsFor({ replicas }));
            expect(config.storage.raft.retry_join).toEqual(
                Array.from({ length: replicas }, (_, i) => ({
                    leader_api_addr: `https://vault-${i}.vault-internal:8200`,
                    leader_ca_cert_file: "/vault/userconfig/vault-server-tls/ca.crt",
                    leader_tls_servername: `vault-${i}.vault-internal`,
                })),
            );
        },
    );

    it("with TLS explicitly off, listens and joins in plain HTTP", () => {
        const config = parsedConfig(settingsFor({ tls: { source: "none", allowPlaintext: true } }));
        expect(config.listener.tcp).toEqual({ address: "[::]:8200", cluster_address: "[::]:8201", tls_disable: true });
        expect(config.storage.raft.retry_join).toEqual([
            { leader_api_addr: "http://vault-0.vault-internal:8200" },
            { leader_api_addr: "http://vault-1.vault-internal:8200" },
            { leader_api_addr: "http://vault-2.vault-internal:8200" },
        ]);
    });

    it("with a certificate Secret of the operator's, serves and verifies with that Secret's files", () => {
        const config = parsedConfig(settingsFor({ tls: { source: "secret", secretName: "my-vault-tls" } }));
        expect(config.listener.tcp.tls_cert_file).toBe("/vault/userconfig/my-vault-tls/tls.crt");
        expect(config.listener.tcp.tls_key_file).toBe("/vault/userconfig/my-vault-tls/tls.key");
        expect(config.storage.raft.retry_join[0].leader_ca_cert_file).toBe("/vault/userconfig/my-vault-tls/ca.crt");
    });

    it("serves the metrics without a token only when that is chosen, and keeps them as long as asked", () => {
        expect("telemetry" in parsedConfig(defaults).listener.tcp).toBe(false);
        const open = parsedConfig(settingsFor({}, { unauthenticatedMetrics: true, retention: "5m" }));
        expect(open.listener.tcp.telemetry).toEqual({ unauthenticated_metrics_access: true });
        expect(open.telemetry).toEqual({ prometheus_retention_time: "5m", disable_hostname: true });
    });

    it("writes the seal stanza of an auto-unseal seal, with its parameters", () => {
        const config = parsedConfig(
            settingsFor({
                seal: {
                    type: "awskms",
                    parameters: { region: "eu-west-1", kms_key_id: "alias/vault" },
                    credentials: "secret",
                    credentialsSecret: "kms",
                },
            }),
        );
        expect(config.seal).toEqual({ awskms: { region: "eu-west-1", kms_key_id: "alias/vault" } });
    });

    it("carries any seal parameter the options accept into the configuration unchanged (JSON quoting, no template sequences)", () => {
        fc.assert(
            fc.property(fc.string({ unit: "binary", minLength: 1 }), (endpoint) => {
                const seal = {
                    type: "awskms" as const,
                    parameters: { region: "eu-west-1", kms_key_id: "k", endpoint },
                    credentials: "secret" as const,
                    credentialsSecret: "kms",
                };
                fc.pre(sealOptions.safeParse(seal).success);
                expect(parsedConfig(settingsFor({ seal })).seal?.awskms.endpoint).toBe(endpoint);
            }),
            { numRuns: 300 },
        );
    });

    it.each(["${path}", "a%{if x}b", "x${", "{{ .Values }}", "a}}b"])(
        "refuses the seal parameter %j: a template sequence Vault or the chart's tpl would read",
        (endpoint) => {
            expect(
                refusals({
                    seal: {
                        type: "awskms",
                        parameters: { region: "eu-west-1", kms_key_id: "k", endpoint },
                        credentials: "secret",
                        credentialsSecret: "kms",
                    },
                }),
            ).toEqual([
                {
                    propertyPath: "seal.parameters",
                    reason: expect.stringContaining('a parameter must be a non-empty value without "${", "%{", "{{" or "}}"') as unknown,
                },
            ]);
        },
    );

    it("accepts a lone $ or % that opens no template", () => {
        const endpoint = "$5 and 10% {x}";
        const config = parsedConfig(
            settingsFor({
                seal: {
                    type: "awskms",
                    parameters: { region: "eu-west-1", kms_key_id: "k", endpoint },
                    credentials: "secret",
                    credentialsSecret: "kms",
                },
            }),
        );
        expect(config.seal?.awskms.endpoint).toBe(endpoint);
    });

    it("contains no Helm template syntax (the chart passes it through tpl)", () => {
        expect(serverConfig(defaults)).not.toMatch(/\{\{|\}\}/);
    });
});

describe("vaultHelmValues", () => {
    const settings = settingsFor({ storageClass: "fast-ssd", replicas: 5 }, {}, "vault.region2.example.com");
    const values = vaultHelmValues(settings);

    it("is valid against the chart's own values schema", () => {
        const validate = chartValidator();
        expect(validate(values) ? [] : validate.errors).toEqual([]);
    });

    it("would be caught by that schema if a value had the wrong type", () => {
        const broken = structuredClone(values) as unknown as {
            server: { ingress: { enabled: unknown }; ha: { raft: { enabled: unknown } } };
        };
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
            apiAddr: "https://$(VAULT_K8S_POD_NAME).vault-internal.vault.svc:8200",
            replicas: 5,
            disruptionBudget: { enabled: true },
            raft: { enabled: true, setNodeId: true, config: serverConfig(settings) },
        });
        expect(parsedConfig(settings).storage.raft.retry_join).toHaveLength(5);
    });

    it("keeps the chart's PodDisruptionBudget only when there is more than one server (with one it would block every drain)", () => {
        expect(vaultHelmValues({ ...defaults, replicas: 3 }).server.ha.disruptionBudget).toEqual({ enabled: true });
        expect(vaultHelmValues({ ...defaults, replicas: 1 }).server.ha.disruptionBudget).toEqual({ enabled: false });
    });

    it("keeps data and audit on persistent volumes of the configured class", () => {
        expect(values.server.dataStorage).toEqual({ enabled: true, size: "10Gi", storageClass: "fast-ssd" });
        expect(values.server.auditStorage).toEqual({ enabled: true, size: "10Gi", storageClass: "fast-ssd" });
        const withoutClass = vaultHelmValues(settingsFor({ auditStorageSize: "20Gi" }));
        expect(withoutClass.server.dataStorage).toEqual({ enabled: true, size: "10Gi" });
        expect(withoutClass.server.auditStorage).toEqual({ enabled: true, size: "20Gi" });
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
        expect(vaultHelmValues(settingsFor({ imageTag: "1.21.0" })).server.image.tag).toBe("1.21.0");
        expect("affinity" in values.server).toBe(false);
        expect(values.global).toEqual({ enabled: true, tlsDisable: false });
    });
});
