/**
 * Observability: the monitoring options, Vault's telemetry in the server config, the ServiceMonitors
 * in both charts' values, the alerts (each expression parsed with Prometheus's own PromQL grammar, the
 * PrometheusRule checked against the Prometheus Operator's CRD schema), and the VaultMonitoring
 * component under the synth's mock runtime.
 */
import { LOCAL_PUSH_STORE_NAME, LOCAL_STORE_NAME } from "../components/stores/storeSpecs";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import type * as PromQL from "@prometheus-io/lezer-promql" with { "resolution-mode": "import" };
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseOptions } from "../components/common/options";
import {
    type MonitoringOptions,
    alertRules,
    replicatorServiceMonitor,
    externalSecretsMonitoringValues,
    metricsPolicyDocument,
    monitoringOptions,
    prometheusRule,
    SNAPSHOT_AGE_METRIC,
    snapshotStaleSeconds,
} from "../components/monitoring/monitoringSpecs";
import { VaultMonitoring } from "../components/monitoring/vaultMonitoring";
import { regionFields, regionOptions } from "../components/region/regionOptions";
import { replicatorService } from "../components/replication/replicatorSpecs";
import { vaultNetworkPolicies } from "../components/vault-server/networkPolicy";
import { type VaultServerOptions, vaultServerOptions } from "../components/vault-server/serverOptions";
import { serverConfig, serverSettings, vaultHelmValues } from "../components/vault-server/serverValues";
import { VaultServer } from "../components/vault-server/vaultServer";
import { type RunResult, runProgram } from "../tools/synth/mockRun";
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

/** The Vault servers' settings for these monitoring options (and server options), as the VaultServer component builds them. */
function settings(monitoring: MonitoringOptions, server: VaultServerOptions = {}) {
    return serverSettings(vaultServerOptions.parse(server), HOST, monitoringOptions.parse(monitoring));
}

describe("monitoring options", () => {
    const defaults = {
        retention: "60s",
        unauthenticatedMetrics: false,
        serviceMonitor: false,
        prometheusRules: false,
        prometheusNamespace: "monitoring",
        labels: { release: "prometheus" },
        metricsTokenGeneration: 1,
    };

    it("default to telemetry scraped with a token, no ServiceMonitor, no rules", () => {
        expect(monitoringOptions.parse({})).toEqual(defaults);
        // A region that leaves monitoring out gets the same.
        expect(regionFields.monitoring.parse(undefined)).toEqual(defaults);
    });

    it.each([
        [{ retention: "30s" }, "monitoring.retention", 'is "30s"', "at least 60s"],
        [{ retention: "an hour" }, "monitoring.retention", 'is "an hour"', "Go duration"],
        [{ prometheusNamespace: "Monitoring" }, "monitoring.prometheusNamespace", 'is "Monitoring"', "namespace name"],
        [{ labels: { "bad key!": "x" } }, "monitoring.labels", '"bad key!"', "Kubernetes labels"],
        [{ serviceMonitors: true }, "monitoring.serviceMonitors", "is not an option", "serviceMonitor"],
        [{ metricsTokenGeneration: 0 }, "monitoring.metricsTokenGeneration", "is 0", "whole number from 1"],
    ])("refuse %j, naming the option and what it must be", (options, propertyPath, shown, allowed) => {
        expect(monitoringOptions.safeParse(options).success).toBe(false);
        let errors: { propertyPath: string; reason: string }[] = [];
        try {
            parseOptions("VaultMonitoring", monitoringOptions, options, ["monitoring"]);
        } catch (error) {
            errors = pulumi.InputPropertiesError.isInstance(error) ? error.errors : [];
        }
        expect(errors).toEqual([
            { propertyPath, reason: expect.stringMatching(new RegExp(`${escape(shown)}.*${escape(allowed)}`)) as unknown },
        ]);
    });

    it.each([["60s"], ["5m"], ["1h30m"]])("take the retention %j", (retention) => {
        expect(monitoringOptions.parse({ retention }).retention).toBe(retention);
    });
});

/** `text` as a literal in a regular expression. */
function escape(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("Vault's telemetry", () => {
    type Config = { telemetry: Record<string, unknown>; listener: { tcp: { telemetry?: Record<string, unknown> } } };
    const config = (monitoring: MonitoringOptions) => JSON.parse(serverConfig(settings(monitoring))) as Config;

    it("is on, with the configured retention, and metrics need a token by default", () => {
        const parsed = config({ retention: "5m" });
        expect(parsed.telemetry).toEqual({ prometheus_retention_time: "5m", disable_hostname: true });
        expect(parsed.listener.tcp.telemetry).toBeUndefined();
        expect(config({}).telemetry).toEqual({ prometheus_retention_time: "60s", disable_hostname: true });
    });

    it("serves metrics without a token only when chosen, on the listener", () => {
        expect(config({ unauthenticatedMetrics: true }).listener.tcp.telemetry).toEqual({ unauthenticated_metrics_access: true });
    });

    it("gives Prometheus's token a policy that reads the metrics and nothing else", () => {
        expect(JSON.parse(metricsPolicyDocument())).toEqual({ path: { "sys/metrics": { capabilities: ["read"] } } });
    });
});

describe("ServiceMonitors", () => {
    const values = (monitoring: MonitoringOptions, server: VaultServerOptions = {}) => vaultHelmValues(settings(monitoring, server));
    const plaintext: VaultServerOptions = { tls: { source: "none", allowPlaintext: true } };

    it("are off by default: the charts keep their defaults", () => {
        expect(values({}).serverTelemetry).toBeUndefined();
        expect(externalSecretsMonitoringValues(monitoringOptions.parse({}))).toEqual({});
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
        expect(values({ serviceMonitor: true, unauthenticatedMetrics: true }).serverTelemetry?.serviceMonitor).not.toHaveProperty(
            "authorization",
        );
        expect(values({ serviceMonitor: true }, plaintext).serverTelemetry?.serviceMonitor).not.toHaveProperty("tlsConfig");
    });

    it.each([
        ["authenticated, TLS", {}, {}],
        ["unauthenticated", { unauthenticatedMetrics: true }, {}],
        ["TLS off", {}, plaintext],
    ])("pass the Vault chart's schema (%s)", (_name, monitoring, server) => {
        const chartValues = values({ serviceMonitor: true, ...monitoring }, server);
        const validate = chartValidator();
        expect(validate(chartValues) ? [] : validate.errors).toEqual([]);
        expect(undeclaredPaths(chartValues, loadChartSchema())).toEqual([]);
    });

    it("also scrape ESO's controller, with the same labels", () => {
        expect(externalSecretsMonitoringValues(monitoringOptions.parse({ serviceMonitor: true }))).toEqual({
            metrics: { service: { enabled: true } },
            serviceMonitor: { enabled: true, additionalLabels: { release: "prometheus" }, interval: "30s", honorLabels: true },
        });
    });

    it("open the Vault API to Prometheus's namespace, and only with a ServiceMonitor", () => {
        const base = {
            namespace: "vault",
            releaseName: "vault",
            apiPort: 8200,
            clusterPort: 8201,
            externalSecretsNamespace: "external-secrets",
            ingressClassName: "nginx",
            labels: {},
        };
        const sources = (metricsNamespace?: string) =>
            JSON.stringify(vaultNetworkPolicies({ ...base, ...(metricsNamespace ? { metricsNamespace } : {}) })[0].spec.ingress);
        expect(sources("monitoring")).toContain('"kubernetes.io/metadata.name":"monitoring"');
        expect(sources()).not.toContain("monitoring");
    });

    it("refuse Vault's own namespace as Prometheus's (the policy would admit every pod in it), in the component and the region alike", () => {
        const monitoring = { serviceMonitor: true, prometheusNamespace: "vault" };
        let thrown: unknown;
        try {
            // Refused before the component registers anything, so no Pulumi runtime is needed.
            new VaultServer("v", { host: HOST, monitoring });
        } catch (error) {
            thrown = error;
        }
        expect(pulumi.InputPropertiesError.isInstance(thrown) ? thrown.errors : thrown).toEqual([
            { propertyPath: "monitoring.prometheusNamespace", reason: expect.stringContaining("Vault's own namespace") as unknown },
        ]);
        const region = (options: MonitoringOptions) =>
            regionOptions.safeParse({ region: "region1", domain: "example.com", monitoring: options });
        expect(region(monitoring).error?.issues.map((issue) => issue.path)).toEqual([["monitoring", "prometheusNamespace"]]);
        // Without a ServiceMonitor the namespace is not admitted, so it does not matter.
        expect(region({ ...monitoring, serviceMonitor: false }).success).toBe(true);
    });
});

describe("alerts", () => {
    const rules = alertRules({ vaultNamespace: "vault", externalSecretsNamespace: "external-secrets", releaseName: "vault" });

    it("cover a sealed or down server, leader loss, audit failures, a certificate reloader not ready, stores not Ready, PushSecret errors, stale ExternalSecrets, failed snapshots, token renewal and a token near its maximum lifetime", () => {
        expect(rules.map((r) => r.alert)).toEqual([
            "VaultServerSealedOrDown",
            "VaultNoActiveServer",
            "VaultAuditDeviceFailing",
            "VaultTlsReloaderNotReady",
            "ExternalSecretsStoreNotReady",
            "ExternalSecretsPushFailing",
            "ExternalSecretNotSynced",
            "VaultSnapshotFailed",
            "VaultTokenRenewalFailing",
            "VaultTokenRenewerStalled",
            "VaultTokenNearMaxLifetime",
            "VaultReplicatorUnavailable",
            "VaultReplicatorLoggedOut",
            "VaultReplicatorOffersFailing",
            "VaultReplicatorRoundsFailing",
            "VaultReplicatorClockAhead",
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

    it("say that a store not Ready can only be a peer store: ESO reports the local stores, which log in per namespace, Ready whatever happens", () => {
        const store = rules.find((r) => r.alert === "ExternalSecretsStoreNotReady");
        expect(store?.annotations.description).toContain("Only a peer store (vault-<peer>) can report this");
        for (const local of [LOCAL_STORE_NAME, LOCAL_PUSH_STORE_NAME, "ExternalSecretNotSynced", "ExternalSecretsPushFailing"]) {
            expect(store?.annotations.description).toContain(local);
        }
    });

    it("would catch an expression that is not PromQL (so the check above can fail)", () => {
        expect(promqlErrors('vault_core_active{namespace="vault"} ==')).toBeGreaterThan(0);
        expect(promqlErrors("sum(rate(x[5m])")).toBeGreaterThan(0);
    });

    it("keep to the metric names Vault's, ESO's and kube-state-metrics' documentation give, scoped to the region's namespace (a rename here must be deliberate)", () => {
        const exprs = rules.map((r) => r.expr).join("\n");
        for (const metric of [
            "vault_core_active",
            "vault_audit_log_request_failure",
            "clustersecretstore_status_condition",
            "pushsecret_status_condition",
            "externalsecret_status_condition",
            "kube_pod_container_status_ready",
            "kube_job_failed",
            "kube_cronjob_status_last_schedule_time",
            "kube_cronjob_status_last_successful_time",
            "kube_cronjob_created",
        ]) {
            expect(exprs).toContain(metric);
        }
        // Each container's own readiness: the pod is NotReady when either container is, and a reloader
        // that is not ready must not read as a sealed server.
        expect(rules.find((r) => r.alert === "VaultServerSealedOrDown")?.expr).toContain(
            'namespace="vault", pod=~"vault-[0-9]+", container="vault"',
        );
        expect(rules.find((r) => r.alert === "VaultTlsReloaderNotReady")?.expr).toBe(
            'kube_pod_container_status_ready{namespace="vault", pod=~"vault-[0-9]+", container="tls-reloader"} == 0',
        );
        expect(exprs).not.toContain("kube_pod_status_ready");
        // The renewer's alerts measure its CronJob in Vault's namespace, by the name the component gives it.
        for (const alert of ["VaultTokenRenewalFailing", "VaultTokenRenewerStalled"]) {
            const expr = rules.find((r) => r.alert === alert)?.expr ?? "";
            expect(expr.match(/\{[^}]*\}/g)?.every((selector) => selector === '{namespace="vault", cronjob="vault-token-renewer"}')).toBe(
                true,
            );
        }
        // A snapshot Job that failed, not one whose first pod failed and whose retry succeeded.
        expect(exprs).not.toContain("kube_job_status_failed");
    });

    it("watch the replicator in ESO's namespace, by its Deployment's name and the metrics its process serves", () => {
        const replicator = rules.filter((r) => r.alert.startsWith("VaultReplicator"));
        expect(replicator[0].expr).toBe(
            'kube_deployment_status_replicas_available{namespace="external-secrets", deployment="openova-replicator"} < 1',
        );
        const served = fs.readFileSync(path.join(__dirname, "..", "replicator", "main.ts"), "utf8");
        for (const rule of replicator.slice(1)) {
            const [metric] = rule.expr.match(/openova_replicator_\w+/) ?? [""];
            expect(served).toContain(`"${metric}"`);
            expect(rule.expr).toContain('{namespace="external-secrets"}');
        }
    });

    it("scrape the replicator through a ServiceMonitor that selects its Service, which the Prometheus Operator's schema accepts", () => {
        const monitor = replicatorServiceMonitor("external-secrets", { release: "prometheus" });
        const service = replicatorService({ namespace: "external-secrets" });
        expect(
            Object.entries(monitor.spec.selector.matchLabels).every(
                ([k, v]) => (service.metadata.labels as Record<string, string>)[k] === v,
            ),
        ).toBe(true);
        expect(service.spec.ports.map((p) => p.name)).toContain(monitor.spec.endpoints[0].port);
        expect(validateModelObjects([monitor])).toEqual([""]);
    });

    it("form a PrometheusRule that the Prometheus Operator's schema accepts", () => {
        const rule = prometheusRule({
            vaultNamespace: "vault",
            externalSecretsNamespace: "external-secrets",
            releaseName: "vault",
            labels: { release: "prometheus" },
        });
        const broken = structuredClone(rule) as unknown as { spec: { groups: { rules: Record<string, unknown>[] }[] } };
        delete broken.spec.groups[0].rules[0].expr;
        const [ok, bad] = validateModelObjects([rule, broken]);
        expect(ok).toBe("");
        expect(bad).toMatch(/expr/);
    });
});

describe("snapshot alerts and the off-site copy's age", () => {
    const base = { vaultNamespace: "vault", externalSecretsNamespace: "external-secrets", releaseName: "vault" };
    const offsite = "s3://acme-vault-snapshots-eu/vault-snapshots/region1/";
    const stale = (snapshots?: { schedule: string; offsite?: string }) =>
        alertRules({ ...base, ...(snapshots ? { snapshots } : {}) }).find((r) => r.alert === "VaultSnapshotStale");

    it("fires when no snapshot run has succeeded for two intervals of the schedule and a run's deadline", () => {
        expect(snapshotStaleSeconds("0 * * * *")).toBe(2 * 3600 + 900);
        expect(snapshotStaleSeconds("0 3 * * 0")).toBe(2 * 7 * 86_400 + 900);
        const rule = stale({ schedule: "0 * * * *", offsite });
        expect(rule?.expr).toBe(
            '(time() - max by (namespace, cronjob) (kube_cronjob_status_last_successful_time{namespace="vault", cronjob="vault-snapshot"}) > 8100) or ((time() - max by (namespace, cronjob) (kube_cronjob_created{namespace="vault", cronjob="vault-snapshot"}) > 8100) unless max by (namespace, cronjob) (kube_cronjob_status_last_successful_time{namespace="vault", cronjob="vault-snapshot"}))',
        );
        expect(promqlErrors(rule?.expr ?? "")).toBe(0);
        expect(rule?.labels.severity).toBe("critical");
        expect(rule?.annotations.summary).toBe("No recent off-site Vault snapshot");
        expect(rule?.annotations.description).toContain(offsite);
        expect(stale({ schedule: "0 * * * *" })?.annotations.summary).toBe("No recent Vault snapshot");
        // A region that takes no snapshots has no such alert.
        expect(stale()).toBeUndefined();
    });

    it("record the age of the newest successful run (the newest off-site copy) as a metric, in a PrometheusRule the operator's schema accepts", () => {
        const rule = prometheusRule({ ...base, labels: { release: "prometheus" }, snapshots: { schedule: "0 * * * *", offsite } });
        const recording = rule.spec.groups.find((g) => g.name === "openova-vault-snapshots")?.rules;
        expect(recording).toEqual([
            {
                record: SNAPSHOT_AGE_METRIC,
                expr: 'time() - max by (namespace, cronjob) (kube_cronjob_status_last_successful_time{namespace="vault", cronjob="vault-snapshot"})',
            },
        ]);
        expect(promqlErrors(recording?.[0].expr ?? "")).toBe(0);
        const [ok] = validateModelObjects([rule]);
        expect(ok).toBe("");
        expect(prometheusRule({ ...base, labels: {} }).spec.groups.map((g) => g.name)).toEqual(["openova-vault"]);
    });
});

/** Where the program {@link declare} runs is handed over: a one-line module calls what is stored here. */
const PROGRAM = "openova-vault.tests.monitoring.program";

/**
 * Runs `program` once under the synth's mock runtime (tools/synth/mockRun.ts) and returns what it
 * declared. runProgram loads a program from a module file, so a one-line module in a temporary
 * directory calls `program`.
 */
async function declare(stack: string, program: () => void): Promise<RunResult> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "monitoring-program-"));
    const entry = path.join(dir, "program.js");
    fs.writeFileSync(entry, `module.exports = () => globalThis[Symbol.for(${JSON.stringify(PROGRAM)})]();\n`);
    const slot = globalThis as unknown as Record<symbol, unknown>;
    slot[Symbol.for(PROGRAM)] = program;
    try {
        return await runProgram({
            project: "openova-vault",
            stack,
            config: {},
            secretKeys: [],
            program: entry,
            resolveStack: () => undefined,
        });
    } finally {
        delete slot[Symbol.for(PROGRAM)];
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("VaultMonitoring (Pulumi mock runtime)", () => {
    let run: RunResult;
    const common = { region: "r1", namespace: "vault", externalSecretsNamespace: "external-secrets" };

    beforeAll(async () => {
        run = await declare("monitoring", () => {
            const cluster = new k8s.Provider("m", { context: "m" });
            const admin = new vault.Provider("m", { address: "https://vault.m.example.net" });
            new VaultMonitoring("off", common, { providers: { kubernetes: cluster } });
            new VaultMonitoring(
                "on",
                { ...common, monitoring: { serviceMonitor: true, prometheusRules: true }, provider: admin },
                { providers: { kubernetes: cluster } },
            );
            new VaultMonitoring(
                "open",
                { ...common, monitoring: { serviceMonitor: true, unauthenticatedMetrics: true }, provider: admin },
                { providers: { kubernetes: cluster } },
            );
            new VaultMonitoring("early", { ...common, monitoring: { serviceMonitor: true } }, { providers: { kubernetes: cluster } });
        });
        // The program ran to its end: every test below reads what it declared.
        expect(run.error).toBeUndefined();
    });

    const under = (name: string) => {
        const parent = run.resources.find((r) => r.type === "openova:vault:VaultMonitoring" && r.name === name)?.urn;
        expect(parent).toBeDefined();
        return run.resources
            .filter((r) => r.parent === parent)
            .map((r) => `${r.type} ${r.name}`)
            .sort();
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
        const policy = run.resources.find((r) => r.name === "on-metrics-policy");
        expect(policy?.inputs).toEqual({ name: "prometheus-metrics", policy: metricsPolicyDocument() });
        const token = run.resources.find((r) => r.name === "on-metrics-token" && r.type === "vault:index/token:Token");
        expect(token?.inputs).toMatchObject({
            noParent: true,
            period: "720h",
            explicitMaxTtl: "8760h",
            renewable: true,
            policies: ["prometheus-metrics"],
            metadata: { generation: "1" },
        });
        // A new generation is issued beside it: the old one is not revoked until its period runs out.
        expect(token?.options).toMatchObject({ retainOnDelete: true });
        const secret = run.resources.find((r) => r.name === "on-metrics-token" && r.type === "kubernetes:core/v1:Secret");
        expect(secret?.inputs).toMatchObject({ metadata: { name: "vault-metrics-token", namespace: "vault" } });
        const data = secret?.inputs.stringData as Record<string, unknown>;
        expect(data[pulumi.runtime.specialSigKey]).toBe(pulumi.runtime.specialSecretSig);
    });

    it("issues no token when metrics are served without one, or before the Vault is configured", () => {
        expect(under("open")).toEqual([]);
        expect(under("early")).toEqual([]);
    });

    it("refuses wrong options with an InputPropertiesError naming them, before registering anything", async () => {
        const bad = await declare("bad-monitoring", () => {
            new VaultMonitoring("bad", { ...common, monitoring: { retention: "30s", prometheusRules: "yes" as unknown as boolean } });
        });
        expect(pulumi.InputPropertiesError.isInstance(bad.error) ? bad.error.errors.map((e) => e.propertyPath) : bad.error).toEqual([
            "monitoring.retention",
            "monitoring.prometheusRules",
        ]);
        expect(bad.resources).toEqual([]);
    });
});
