/**
 * Observability: Vault's telemetry in the server config, the ServiceMonitors in both charts' values,
 * the alerts (each expression parsed with Prometheus's own PromQL grammar, the PrometheusRule checked
 * against the Prometheus Operator's CRD schema), and the VaultMonitoring component under the mock runtime.
 */
import { parse as parseHcl } from "@cdktf/hcl2json";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import type * as PromQL from "@prometheus-io/lezer-promql" with { "resolution-mode": "import" };
import {
    MONITORING_DEFAULTS,
    alertRules,
    externalSecretsMonitoringValues,
    metricsPolicyDocument,
    monitoringProblems,
    prometheusRule,
    resolveMonitoringOptions,
} from "../components/monitoring/monitoringSpecs";
import { VaultMonitoring } from "../components/monitoring/vaultMonitoring";
import { vaultNetworkPolicies } from "../components/vault-server/podHardening";
import { raftConfig, resolveVaultServerOptions, vaultHelmValues } from "../components/vault-server/serverValues";
import { startRecording, type Recording } from "../tools/synth/recorder";
import { validateEsoObjects as validateModelObjects } from "./support/esoSchema";
import { chartValidator, loadChartSchema, undeclaredPaths } from "./support/vaultChartSchema";

const HOST = "vault.region1.example.com";

// Prometheus's PromQL grammar. Its types are declared as an ES module, but it ships a CommonJS build
// too, which jest (CommonJS here) loads directly.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parser: promql } = require("@prometheus-io/lezer-promql") as typeof PromQL;

/** The syntax errors PromQL's grammar (the one Prometheus's UI uses) finds in an expression. */
function promqlErrors(expr: string): number {
    let errors = 0;
    promql.parse(expr).iterate({
        enter: (node) => {
            if (node.type.isError) {
                errors++;
            }
        },
    });
    return errors;
}

describe("monitoring options", () => {
    it("default to telemetry scraped with a token, no ServiceMonitor, no rules", () => {
        expect(resolveMonitoringOptions(undefined)).toEqual({
            retention: "60s",
            unauthenticatedMetrics: false,
            serviceMonitor: false,
            prometheusRules: false,
            prometheusNamespace: "monitoring",
            labels: { release: "prometheus" },
        });
        expect(MONITORING_DEFAULTS.retention).toBe("60s");
    });

    it.each([
        [{ retention: "30s" }, "monitoring.retention \"30s\" is not a Go duration of at least 60s"],
        [{ retention: "an hour" }, "is not a Go duration"],
        [{ prometheusNamespace: "Monitoring" }, "is not a namespace name"],
        [{ labels: { "bad key!": "x" } }, "is not a Kubernetes label"],
    ])("refuses %j", (options, message) => {
        expect(monitoringProblems(options)).toEqual([expect.stringContaining(message)]);
    });
});

describe("Vault's telemetry", () => {
    type Parsed = { telemetry: Record<string, unknown>[]; listener: { tcp: { telemetry?: Record<string, unknown>[] }[] } };
    const parsed = async (monitoring: object) => (await parseHcl("v.hcl", raftConfig(resolveVaultServerOptions({ host: HOST, monitoring })))) as Parsed;

    it("is on, with the configured retention, and metrics need a token by default", async () => {
        const config = await parsed({ retention: "5m" });
        expect(config.telemetry).toEqual([{ prometheus_retention_time: "5m", disable_hostname: true }]);
        expect(config.listener.tcp[0].telemetry).toBeUndefined();
    });

    it("serves metrics without a token only when chosen, on the listener", async () => {
        expect((await parsed({ unauthenticatedMetrics: true })).listener.tcp[0].telemetry).toEqual([{ unauthenticated_metrics_access: true }]);
    });

    it("gives Prometheus's token a policy that reads the metrics and nothing else", async () => {
        const policy = (await parseHcl("p.hcl", metricsPolicyDocument())) as { path: Record<string, { capabilities: string[] }[]> };
        expect(policy.path).toEqual({ "sys/metrics": [{ capabilities: ["read"] }] });
    });
});

describe("ServiceMonitors", () => {
    const values = (monitoring: object, extra: object = {}) => vaultHelmValues(resolveVaultServerOptions({ host: HOST, monitoring, ...extra }));

    it("are off by default: the charts keep their defaults", () => {
        expect(values({}).serverTelemetry).toBeUndefined();
        expect(externalSecretsMonitoringValues(resolveMonitoringOptions(undefined))).toEqual({});
    });

    it("scrape the active Vault server verifying its certificate by the service name it covers, with the metrics token", () => {
        expect(values({ serviceMonitor: true, labels: { release: "kps" } }).serverTelemetry).toEqual({
            serviceMonitor: {
                enabled: true,
                selectors: { release: "kps" },
                interval: "30s",
                scrapeTimeout: "10s",
                // Without a tlsConfig the chart's ServiceMonitor would skip verification.
                tlsConfig: { ca: { secret: { name: "vault-server-tls", key: "ca.crt" } }, serverName: "vault-active.vault.svc" },
                authorization: { type: "Bearer", credentials: { name: "vault-metrics-token", key: "token" } },
            },
        });
        expect(values({ serviceMonitor: true, unauthenticatedMetrics: true }).serverTelemetry?.serviceMonitor).not.toHaveProperty("authorization");
        expect(values({ serviceMonitor: true }, { tls: { source: "none", allowPlaintext: true } }).serverTelemetry?.serviceMonitor).not.toHaveProperty("tlsConfig");
    });

    it.each([
        ["authenticated, TLS", {}, {}],
        ["unauthenticated", { unauthenticatedMetrics: true }, {}],
        ["TLS off", {}, { tls: { source: "none", allowPlaintext: true } }],
    ])("pass the Vault chart's schema (%s)", (_name, monitoring, extra) => {
        const chartValues = values({ serviceMonitor: true, ...monitoring }, extra);
        const validate = chartValidator();
        expect(validate(chartValues) ? [] : validate.errors).toEqual([]);
        expect(undeclaredPaths(chartValues, loadChartSchema())).toEqual([]);
    });

    it("also scrape ESO's controller, with the same labels", () => {
        expect(externalSecretsMonitoringValues(resolveMonitoringOptions({ serviceMonitor: true }))).toEqual({
            metrics: { service: { enabled: true } },
            serviceMonitor: { enabled: true, additionalLabels: { release: "prometheus" }, interval: "30s", honorLabels: true },
        });
    });

    it("open the Vault API to Prometheus's namespace, and only with a ServiceMonitor", () => {
        const base = { namespace: "vault", releaseName: "vault", apiPort: 8200, clusterPort: 8201, externalSecretsNamespace: "external-secrets", ingressClassName: "nginx", labels: {} };
        const sources = (metricsNamespace?: string) =>
            JSON.stringify(vaultNetworkPolicies({ ...base, ...(metricsNamespace ? { metricsNamespace } : {}) })[0].spec.ingress);
        expect(sources("monitoring")).toContain('"kubernetes.io/metadata.name":"monitoring"');
        expect(sources()).not.toContain("monitoring");
        expect(() => resolveVaultServerOptions({ host: HOST, monitoring: { serviceMonitor: true, prometheusNamespace: "vault" } })).toThrow("monitoring.prometheusNamespace is Vault's namespace");
    });
});

describe("alerts", () => {
    const rules = alertRules({ vaultNamespace: "vault", externalSecretsNamespace: "external-secrets", releaseName: "vault" });

    it("cover a sealed or down server, leader loss, audit failures, stores not Ready, PushSecret errors, stale ExternalSecrets and failed snapshots", () => {
        expect(rules.map((r) => r.alert)).toEqual([
            "VaultServerSealedOrDown",
            "VaultNoActiveServer",
            "VaultAuditDeviceFailing",
            "ExternalSecretsStoreNotReady",
            "ExternalSecretsPushFailing",
            "ExternalSecretNotSynced",
            "VaultSnapshotFailed",
        ]);
        for (const rule of rules) {
            expect(rule.annotations.summary.length).toBeGreaterThan(10);
            expect(["critical", "warning"]).toContain(rule.labels.severity);
            expect(rule.for).toMatch(/^\d+m$/);
        }
    });

    it.each(rules.map((r) => [r.alert, r.expr]))("%s is valid PromQL", (_alert, expr) => {
        expect(promqlErrors(expr)).toBe(0);
    });

    it("would catch an expression that is not PromQL (so the check above can fail)", () => {
        expect(promqlErrors('vault_core_active{namespace="vault"} ==')).toBeGreaterThan(0);
        expect(promqlErrors("sum(rate(x[5m])")).toBeGreaterThan(0);
    });

    it("keep to the metric names Vault's, ESO's and kube-state-metrics' documentation give, scoped to the region's namespace (a rename here must be deliberate)", () => {
        const exprs = rules.map((r) => r.expr).join("\n");
        for (const metric of ["vault_core_active", "vault_audit_log_request_failure", "clustersecretstore_status_condition", "pushsecret_status_condition", "externalsecret_status_condition", "kube_pod_status_ready", "kube_job_failed"]) {
            expect(exprs).toContain(metric);
        }
        expect(rules.find((r) => r.alert === "VaultServerSealedOrDown")?.expr).toContain('namespace="vault", pod=~"vault-[0-9]+"');
        // A snapshot Job that failed, not one whose first pod failed and whose retry succeeded.
        expect(exprs).not.toContain("kube_job_status_failed");
    });

    it("form a PrometheusRule that the Prometheus Operator's schema accepts", () => {
        const rule = prometheusRule({ vaultNamespace: "vault", externalSecretsNamespace: "external-secrets", releaseName: "vault", labels: { release: "prometheus" } });
        const broken = structuredClone(rule) as unknown as { spec: { groups: { rules: Record<string, unknown>[] }[] } };
        delete broken.spec.groups[0].rules[0].expr;
        const [ok, bad] = validateModelObjects([rule, broken]);
        expect(ok).toBe("");
        expect(bad).toMatch(/expr/);
    });
});

describe("VaultMonitoring (Pulumi mock runtime)", () => {
    let recording: Recording;

    beforeAll(async () => {
        recording = await startRecording({ project: "openova-vault", stack: "monitoring" });
        const cluster = new k8s.Provider("m", { context: "m" });
        const admin = new vault.Provider("m", { address: "https://vault.m.example.net" });
        const common = { region: "r1", namespace: "vault", externalSecretsNamespace: "external-secrets" };
        new VaultMonitoring("off", { ...common, monitoring: {} }, { providers: { kubernetes: cluster } });
        new VaultMonitoring("on", { ...common, monitoring: { serviceMonitor: true, prometheusRules: true }, provider: admin }, { providers: { kubernetes: cluster } });
        new VaultMonitoring("open", { ...common, monitoring: { serviceMonitor: true, unauthenticatedMetrics: true }, provider: admin }, { providers: { kubernetes: cluster } });
        new VaultMonitoring("early", { ...common, monitoring: { serviceMonitor: true } }, { providers: { kubernetes: cluster } });
        await pulumi.runtime.disconnect();
    });

    const under = (name: string) => {
        const parent = recording.resources.find((r) => r.type === "openova:vault:VaultMonitoring" && r.name === name)?.urn;
        return recording.resources.filter((r) => r.parent === parent).map((r) => `${r.type} ${r.name}`).sort();
    };

    it("declares nothing by default", () => {
        expect(under("off")).toEqual([]);
    });

    it("with rules and an authenticated ServiceMonitor: the PrometheusRule, the metrics policy, its token and the token's Secret", () => {
        expect(under("on")).toEqual([
            "kubernetes:core/v1:Secret on-metrics-token",
            "kubernetes:monitoring.coreos.com/v1:PrometheusRule on-rules",
            "vault:index/policy:Policy on-metrics-policy",
            "vault:index/token:Token on-metrics-token",
        ]);
        const token = recording.resources.find((r) => r.name === "on-metrics-token" && r.type === "vault:index/token:Token");
        expect(token?.inputs).toMatchObject({ noParent: true, period: "720h", renewable: true, policies: ["prometheus-metrics"] });
        const secret = recording.resources.find((r) => r.name === "on-metrics-token" && r.type === "kubernetes:core/v1:Secret");
        expect(secret?.inputs).toMatchObject({ metadata: { name: "vault-metrics-token", namespace: "vault" } });
        const data = secret?.inputs.stringData as Record<string, unknown>;
        expect(data[pulumi.runtime.specialSigKey]).toBe(pulumi.runtime.specialSecretSig);
    });

    it("issues no token when metrics are served without one, or before the Vault is configured", () => {
        expect(under("open")).toEqual([]);
        expect(under("early")).toEqual([]);
    });
});
