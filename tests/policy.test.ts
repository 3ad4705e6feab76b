/**
 * The policy pack (policy/): every policy accepts what the components build and rejects each
 * deviation, run through the real policy objects (their validateResource / validateStack, with
 * properties behind the SDK's unknown-checking proxy, as `pulumi preview` hands them) and through
 * the pure rules. The passing cases come from the project's own builders, not hand-written copies:
 * the Vault server configuration and the policies in Vault's JSON form, as the components write them.
 */
import * as grpc from "@grpc/grpc-js";
import Ajv from "ajv";
import type {
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";
import * as analyzerPb from "@pulumi/pulumi/proto/analyzer_pb";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { type ChildProcessByStdio, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Readable } from "node:stream";
import {
    METRICS_API_PATH,
    METRICS_POLICY as COMPONENT_METRICS_POLICY,
    metricsPolicyDocument,
    metricsTokenSettings,
} from "../components/monitoring/monitoringSpecs";
import { SNAPSHOT_API_PATH, SNAPSHOT_POLICY, snapshotPolicyDocument } from "../components/snapshots/snapshotSpecs";
import { type MonitoringOptions, monitoringOptions } from "../components/monitoring/monitoringSpecs";
import {
    type ReplicatedSecretSpec,
    externalSecret,
    SAFE_PASSWORD_SYMBOLS,
    passwordGenerator,
    pushSecret,
    replicatedSecretOptions,
} from "../components/replication/replicationSpecs";
import {
    REPLICATION_PREFIX as COMPONENT_REPLICATION_PREFIX,
    REPLICATOR_POLICY as COMPONENT_REPLICATOR_POLICY,
    peerReplicatePolicyDocument,
    peerReplicatePolicyName,
    replicatorPolicyDocument,
} from "../components/replication/replicatorSpecs";
import { localStore, peerStore } from "../components/stores/storeSpecs";
import { policyDocument, policyName } from "../components/vault-config/policies";
import { type VaultServerOptions, vaultServerOptions } from "../components/vault-server/serverOptions";
import { type VaultHelmValues, serverSettings, vaultHelmValues } from "../components/vault-server/serverValues";
import type { VaultSealOptions } from "../components/vault-server/seal";
import { peerTokenSettings } from "../components/vault-config/setupValues";
import { LONG_LIVED_TOKEN, TOKEN_MAX_LIFETIME_HOURS, TOKEN_PERIOD_HOURS } from "../components/token-renewal/tokenLifetime";
import {
    RENEWER_POLICY,
    renewalAccessorList,
    renewerConfigMap,
    renewerCronJob,
    renewerPolicyDocument,
} from "../components/token-renewal/renewalSpecs";
import { OPENBAO_CHART, VAULT_CHART } from "../components/common/versions";
import { PACK_NAME, knownValues, policies, policyPackArgs } from "../policy/policies";
import {
    ALLOWED_SYS_PATHS,
    MAX_TOKEN_LIFETIME_HOURS,
    METRICS_POLICY,
    PEER_ACCESS_OUTPUT,
    PEER_PUSH_POLICY,
    REPLICATION_PREFIX,
    REPLICATOR_POLICY,
    type ResourceData,
    STACK_TYPE,
    chartName,
    checkEsoApiV1,
    checkInjectorOff,
    checkPlainSecrets,
    checkRaftReplicas,
    checkStackOutputs,
    checkTlsOn,
    checkVaultPolicy,
    checkVaultToken,
    credentialShapes,
    durationSeconds,
    isVaultChart,
    hasRootWildcard,
    isCredentialKey,
    parsePolicyDocument,
    parseServerConfig,
    reachesSys,
} from "../policy/rules";

// ---------------------------------------------------------------------------------------------
// Running the real policy objects
// ---------------------------------------------------------------------------------------------

const POLICY_DIR = path.join(__dirname, "..", "policy");

/**
 * The policy SDK as the pack resolves it (policy/node_modules once the pack's own dependencies are
 * installed, else the project's), so that its UnknownValueError is the one the pack catches.
 */
const PACK_SDK = require.resolve("@pulumi/policy", { paths: [POLICY_DIR] });

/** The SDK's proxy: reading a value unknown during preview throws UnknownValueError. */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the pack's copy of the SDK, by path
const proxied = (require(PACK_SDK) as { unknownCheckingProxy: (value: unknown) => Record<string, unknown> }).unknownCheckingProxy;

/** The engine's sentinel for a string unknown during preview. */
const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const opts = {
    protect: false,
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [],
};
const urnOf = (resource: ResourceData) => `urn:pulumi:region1::openova-vault::${resource.type}::${resource.name}`;

type Config = Record<string, unknown>;

function policyNamed(name: string): ResourceValidationPolicy | StackValidationPolicy {
    const policy = policies.find((candidate) => candidate.name === name);
    if (policy === undefined) {
        throw new Error(`no policy ${name}`);
    }
    return policy;
}

/** Runs a resource policy's validations on one resource, as the analyzer does; returns the violations. */
async function runResource(name: string, resource: ResourceData, config: Config = {}): Promise<string[]> {
    const policy = policyNamed(name);
    if (!("validateResource" in policy) || policy.validateResource === undefined) {
        throw new Error(`${name} is not a resource policy`);
    }
    const violations: string[] = [];
    const args: ResourceValidationArgs = {
        type: resource.type,
        name: resource.name,
        urn: urnOf(resource),
        props: proxied(structuredClone(resource.props)),
        opts,
        stackTags: new Map(),
        isType: () => false,
        asType: () => undefined,
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string): never => {
            throw new Error(`not applicable: ${reason}`);
        },
    };
    for (const validate of Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource]) {
        await validate(args, (message) => violations.push(message));
    }
    return violations;
}

/** Runs a stack policy over some resources (their outputs); returns the violations. */
async function runStack(name: string, resources: ResourceData[], config: Config = {}): Promise<string[]> {
    const policy = policyNamed(name);
    if (!("validateStack" in policy)) {
        throw new Error(`${name} is not a stack policy`);
    }
    const violations: string[] = [];
    const policyResources: PolicyResource[] = resources.map((resource) => ({
        type: resource.type,
        name: resource.name,
        urn: urnOf(resource),
        props: proxied(structuredClone(resource.props)),
        opts,
        dependencies: [],
        propertyDependencies: {},
        isType: () => false,
        asType: () => undefined,
    }));
    const args: StackValidationArgs = {
        resources: policyResources,
        stackTags: new Map(),
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string): never => {
            throw new Error(`not applicable: ${reason}`);
        },
    };
    await policy.validateStack(args, (message) => violations.push(message));
    return violations;
}

// ---------------------------------------------------------------------------------------------
// Fixtures from the project's own builders
// ---------------------------------------------------------------------------------------------

const HOST = "vault.region1.example.com";

/** The Vault chart's values as the VaultServer component builds them from these (validated) options. */
function helmValues(server: VaultServerOptions = {}, monitoring: MonitoringOptions = {}): VaultHelmValues {
    return vaultHelmValues(serverSettings(vaultServerOptions.parse(server), HOST, monitoringOptions.parse(monitoring)));
}

const values = helmValues();
const plaintextValues = helmValues({ tls: { source: "none", allowPlaintext: true } });
const singleServerValues = helmValues({ replicas: 1 });
/** Every auto-unseal seal, as the components configure it (credentials from a Secret or workload identity, never the config). */
const autoUnseals: VaultSealOptions[] = [
    {
        type: "awskms",
        parameters: { region: "eu-west-1", kms_key_id: "alias/vault-region1" },
        credentials: "workload-identity",
        workloadIdentity: "arn:aws:iam::111122223333:role/vault-unseal",
    },
    {
        type: "gcpckms",
        parameters: { project: "platform", region: "global", key_ring: "vault", crypto_key: "unseal" },
        credentials: "secret",
        credentialsSecret: "vault-gcpckms",
    },
    {
        type: "azurekeyvault",
        parameters: { tenant_id: "tenant", vault_name: "platform", key_name: "unseal" },
        credentials: "secret",
        credentialsSecret: "vault-azure",
    },
    {
        type: "transit",
        parameters: { address: "https://transit.example.com:8200", key_name: "autounseal", mount_path: "transit/" },
        credentials: "secret",
        credentialsSecret: "vault-transit",
    },
];
const autoUnsealConfigs = autoUnseals.map((seal) => helmValues({ seal }).server.ha.raft.config);

/** A copy of `base` with the value at a dotted path set (or removed, with undefined). */
function withPath<T>(base: T, dotted: string, value: unknown): T {
    const copy = structuredClone(base) as Record<string, unknown>;
    const keys = dotted.split(".");
    let node = copy;
    for (const key of keys.slice(0, -1)) {
        node[key] = typeof node[key] === "object" && node[key] !== null ? node[key] : {};
        node = node[key] as Record<string, unknown>;
    }
    const last = keys[keys.length - 1];
    if (value === undefined) {
        delete node[last];
    } else {
        node[last] = value;
    }
    return copy as T;
}

/** The Vault chart as components/vault-server/vaultServer.ts declares it. */
function vaultChart(chartValues: unknown = values, type = "kubernetes:helm.sh/v4:Chart"): ResourceData {
    return {
        type,
        name: "region1-vault",
        props: {
            name: "vault",
            namespace: "vault",
            chart: VAULT_CHART.chart,
            version: VAULT_CHART.version,
            repositoryOpts: { repo: VAULT_CHART.repository },
            values: chartValues,
            skipAwait: true,
        },
    };
}

const chartLabel = `vault-${VAULT_CHART.version}`;

/** The servers' StatefulSet as the chart renders it from these values (templates/server-statefulset.yaml). */
function renderedServer(
    chartValues: VaultHelmValues,
    args = "cp /vault/config/extraconfig-from-values.hcl /tmp/storageconfig.hcl;\n/usr/local/bin/docker-entrypoint.sh vault server -config=/tmp/storageconfig.hcl",
): ResourceData {
    const scheme = chartValues.global.tlsDisable ? "http" : "https";
    return {
        type: "kubernetes:apps/v1:StatefulSet",
        name: "region1-vault:vault/vault",
        props: {
            apiVersion: "apps/v1",
            kind: "StatefulSet",
            metadata: {
                name: "vault",
                namespace: "vault",
                labels: {
                    "app.kubernetes.io/name": "vault",
                    "app.kubernetes.io/instance": "vault",
                    "app.kubernetes.io/managed-by": "Helm",
                },
            },
            spec: {
                serviceName: "vault-internal",
                replicas: chartValues.server.ha.replicas,
                template: {
                    metadata: {
                        labels: {
                            "helm.sh/chart": chartLabel,
                            "app.kubernetes.io/name": "vault",
                            "app.kubernetes.io/instance": "vault",
                            component: "server",
                        },
                    },
                    spec: {
                        containers: [
                            {
                                name: "vault",
                                image: `${chartValues.server.image.repository}:${chartValues.server.image.tag}`,
                                command: ["/bin/sh", "-ec"],
                                args: [args],
                                env: [
                                    { name: "VAULT_ADDR", value: `${scheme}://127.0.0.1:8200` },
                                    { name: "VAULT_API_ADDR", value: chartValues.server.ha.apiAddr },
                                    ...Object.entries(chartValues.server.extraEnvironmentVars).map(([name, value]) => ({ name, value })),
                                ],
                            },
                            // The chart renders server.extraContainers after the vault container, as they are.
                            ...(chartValues.server.extraContainers ?? []),
                        ],
                        ...(chartValues.server.shareProcessNamespace ? { shareProcessNamespace: true } : {}),
                    },
                },
            },
        },
    };
}

/**
 * The server configuration as the chart's `vault.config` helper renders a JSON `server.ha.raft.config`:
 * parsed, `disable_mlock` added when missing, written back compactly.
 */
function chartRendered(config: string): string {
    return JSON.stringify({ disable_mlock: true, ...(JSON.parse(config) as Record<string, unknown>) });
}

/** The servers' configuration ConfigMap as the chart renders it (templates/server-config-configmap.yaml), holding `config` as it is. */
function renderedConfig(config: string): ResourceData {
    return {
        type: "kubernetes:core/v1:ConfigMap",
        name: "region1-vault:vault/vault-config",
        props: {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: {
                name: "vault-config",
                namespace: "vault",
                labels: {
                    "helm.sh/chart": chartLabel,
                    "app.kubernetes.io/name": "vault",
                    "app.kubernetes.io/instance": "vault",
                    "app.kubernetes.io/managed-by": "Helm",
                },
                annotations: { "config/checksum": "3f1c0b9e8d7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c" },
            },
            data: { "extraconfig-from-values.hcl": config },
        },
    };
}

/** A Kubernetes object as Pulumi types it: `kubernetes:<group/version>:<Kind>`. */
function k8s(name: string, object: object): ResourceData {
    const props = { ...object } as Record<string, unknown>;
    const apiVersion = typeof props.apiVersion === "string" ? props.apiVersion : "v1";
    return { type: `kubernetes:${apiVersion.includes("/") ? apiVersion : `core/${apiVersion}`}:${String(props.kind)}`, name, props };
}

const storeSpec = {
    region: "region1",
    vaultNamespace: "vault",
    kvMount: "secret",
    authPath: "kubernetes",
    serviceAccount: { name: "external-secrets", namespace: "external-secrets" },
    audience: "vault",
    caSecret: { name: "vault-server-tls", namespace: "vault", key: "ca.crt" },
};
const exampleCa = fs.readFileSync(path.join(__dirname, "..", "certs", "example-platform-ca.pem"), "utf8");
const replicated: ReplicatedSecretSpec = {
    ...replicatedSecretOptions.parse({ name: "db-credentials", namespace: "databases", keys: ["password"] }),
    home: "region1",
};
const localRead = k8s("region1-store-local", localStore({ ...storeSpec, role: "external-secrets-pull" }, "read"));
const localPush = k8s("region1-store-local-push", localStore({ ...storeSpec, role: "external-secrets-push" }, "push"));
const peerStoreObject = k8s(
    "region1-store-region2",
    peerStore({
        peer: "region2",
        address: "https://vault.region2.example.com",
        caCert: exampleCa,
        kvMount: "secret",
        namespace: "external-secrets",
    }),
);
const pullSecret = k8s("region1-secret-databases-db-credentials-pull", externalSecret(replicated));
const pushToPeer = k8s("region1-secret-databases-db-credentials-push-region2", pushSecret(replicated, "region2"));
const generator = k8s("region1-generator-databases-32", passwordGenerator("databases", { length: 32, symbols: SAFE_PASSWORD_SYMBOLS }));

function vaultToken(props: Record<string, unknown>, name = "region1-peer-region2-token"): ResourceData {
    return { type: "vault:index/token:Token", name, props };
}
const peerToken = vaultToken({ ...peerTokenSettings("region1", "region2") });
const metricsToken = vaultToken(
    { ...metricsTokenSettings("region1"), policies: [COMPONENT_METRICS_POLICY] },
    "region1-monitoring-metrics-token",
);

function vaultPolicy(name: string, policy: unknown, resourceName = `region1-${name}`): ResourceData {
    return { type: "vault:index/policy:Policy", name: resourceName, props: { name, policy } };
}
/** The Kubernetes auth mount's accessor, which the namespace policies' template names. */
const ACCESSOR = "auth_kubernetes_0a1b2c3d";
const NAMESPACE_PREFIX = `{{identity.entity.aliases.${ACCESSOR}.metadata.service_account_namespace}}/*`;
const namespaceScope = { kind: "namespace", authAccessor: ACCESSOR } as const;
const pullPolicy = vaultPolicy(policyName("pull"), policyDocument("pull", "secret", namespaceScope), "region1-setup-pull");
const pushPolicy = vaultPolicy(policyName("push"), policyDocument("push", "secret", namespaceScope), "region1-setup-push");
const peerPushPolicy = vaultPolicy(
    policyName("push", "region2"),
    policyDocument("push", "secret", {
        kind: "paths",
        remoteKeys: ["databases/db-credentials", "external-secrets/openova-replication-canary"],
    }),
    "region1-peer-region2-push",
);
const snapshotPolicy = vaultPolicy(SNAPSHOT_POLICY, snapshotPolicyDocument(), "region1-snapshots-policy");
const metricsPolicy = vaultPolicy(COMPONENT_METRICS_POLICY, metricsPolicyDocument(), "region1-monitoring-metrics-policy");
const replicatorPolicy = vaultPolicy(
    COMPONENT_REPLICATOR_POLICY,
    replicatorPolicyDocument("secret", ["apps/db", "databases/db-credentials"], ["region2"]),
    "region1-replicator-policy",
);
const peerReplicatePolicy = vaultPolicy(
    peerReplicatePolicyName("region2"),
    peerReplicatePolicyDocument("secret", ["apps/db", "databases/db-credentials"], "region2"),
    "region1-peer-region2-replicate",
);
const renewerPolicy = vaultPolicy(RENEWER_POLICY, renewerPolicyDocument(), "region1-token-renewer-policy");

/** A component's JSON policy document with the capabilities of one path replaced. */
function withCapabilities(document: string, policyPath: string, capabilities: readonly string[]): string {
    const parsed = JSON.parse(document) as { path: Record<string, { capabilities: readonly string[] }> };
    if (!(policyPath in parsed.path)) {
        throw new Error(`the document has no path ${policyPath}`);
    }
    return JSON.stringify({ ...parsed, path: { ...parsed.path, [policyPath]: { ...parsed.path[policyPath], capabilities } } }, null, 2);
}

/** A policy in Vault's JSON form with these path stanzas, for the deviations no component writes. */
function jsonPolicy(paths: unknown): string {
    return JSON.stringify({ path: paths }, null, 2);
}

function configMap(data: Record<string, string>, extra: Record<string, unknown> = {}): ResourceData {
    return k8s("app-config", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "app-config", namespace: "apps" }, data, ...extra });
}
function annotated(annotations: Record<string, string>): ResourceData {
    return k8s("app-deployment", { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "app", namespace: "apps", annotations } });
}

// Credential-shaped strings, assembled so that this file itself holds none verbatim.
const VAULT_TOKEN = ["hv", "s.", "CAESIJ", "x".repeat(20), "GiAKHGh2cy5abcdefghijklmnop"].join("");
const LEGACY_TOKEN = ["s", ".", "AbCdEfGhIjKlMnOpQrStUvWx"].join("");
const PRIVATE_KEY = ["-----BEGIN ", "EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END ", "EC PRIVATE KEY-----\n"].join("");
const AWS_SECRET = ["wJalrXUtnFEMI", "/K7MDENG/bPxRfiCY", "EXAMPLEKEY"].join("");

/** The stack's outputs, as synth/region1/outputs.json shows them, with the peer token peerAccess holds. */
const stackOutputs = {
    regionName: "region1",
    peers: ["region2"],
    connectedPeers: ["region2"],
    vaultAddress: `https://${HOST}`,
    vaultCaCert: exampleCa,
    vaultNamespace: "vault",
    externalSecretsNamespace: "external-secrets",
    vaultConfigured: true,
    [PEER_ACCESS_OUTPUT]: { region2: { kind: "token", address: `https://${HOST}`, caCert: exampleCa, token: VAULT_TOKEN } },
};
const stack = (outputs: Record<string, unknown>): ResourceData => ({ type: STACK_TYPE, name: "openova-vault-region1", props: outputs });

// ---------------------------------------------------------------------------------------------
// The table: every policy, cases that must pass and cases that must fail
// ---------------------------------------------------------------------------------------------

interface Case {
    readonly title: string;
    readonly resources: readonly ResourceData[];
    readonly config?: Config;
    /** For failing cases: a fragment every violation... at least one violation must contain. */
    readonly expect?: RegExp;
}

const CASES: Record<string, { readonly pass: readonly Case[]; readonly fail: readonly Case[] }> = {
    "vault-raft-replicas": {
        pass: [
            { title: "the chart as VaultServer declares it (3 servers, HA on Raft)", resources: [vaultChart()] },
            { title: "the chart as a helm.sh/v3 Release", resources: [vaultChart(values, "kubernetes:helm.sh/v3:Release")] },
            {
                title: "the servers' StatefulSet and configuration the chart renders",
                resources: [renderedServer(values), renderedConfig(chartRendered(values.server.ha.raft.config))],
            },
            { title: "5 servers", resources: [vaultChart(withPath(values, "server.ha.replicas", 5))] },
            {
                title: "a single-server dev stack with minimumRaftReplicas 1",
                resources: [vaultChart(singleServerValues), renderedServer(singleServerValues)],
                config: { minimumRaftReplicas: 1 },
            },
            {
                title: "another chart (ESO) with odd-looking values",
                resources: [
                    {
                        type: "kubernetes:helm.sh/v4:Chart",
                        name: "region1-external-secrets",
                        props: { chart: "external-secrets", values: { replicaCount: 2 } },
                    },
                ],
            },
            {
                title: "a Chart whose inputs the engine does not pass (empty props)",
                resources: [{ type: "kubernetes:helm.sh/v4:Chart", name: "region1-vault", props: {} }],
            },
        ],
        fail: [
            {
                title: "an even number of servers",
                resources: [vaultChart(withPath(values, "server.ha.replicas", 4))],
                expect: /server\.ha\.replicas is 4, an even number/,
            },
            { title: "one server in production", resources: [vaultChart(singleServerValues)], expect: /fewer than the 3/ },
            {
                title: "a rendered StatefulSet with 2 replicas",
                resources: [renderedServer(withPath(values, "server.ha.replicas", 2))],
                expect: /StatefulSet replicas is 2/,
            },
            {
                title: "replicas not set (the chart's default is not trusted)",
                resources: [vaultChart(withPath(values, "server.ha.replicas", undefined))],
                expect: /not a whole number/,
            },
            {
                title: "HA off",
                resources: [vaultChart(withPath(values, "server.ha.enabled", false))],
                expect: /server\.ha\.enabled is false/,
            },
            {
                title: "Raft off",
                resources: [vaultChart(withPath(values, "server.ha.raft.enabled", false))],
                expect: /server\.ha\.raft\.enabled is false/,
            },
            {
                title: "dev mode",
                resources: [vaultChart(withPath(values, "server.dev.enabled", true))],
                expect: /server\.dev\.enabled is true/,
            },
            {
                title: "a rendered dev-mode server",
                resources: [renderedServer(values, "/usr/local/bin/docker-entrypoint.sh vault server -dev -dev-listen-address=[::]:8200")],
                expect: /vault server -dev/,
            },
            {
                title: "a rendered configuration on Consul storage",
                resources: [renderedConfig(JSON.stringify({ storage: { consul: { path: "vault" } } }))],
                expect: /its storage is consul, not a single "storage": \{"raft"/,
            },
            {
                title: "a rendered configuration without storage",
                resources: [renderedConfig(JSON.stringify({ listener: { tcp: { address: "[::]:8200" } } }))],
                expect: /its storage is missing/,
            },
            {
                title: "a rendered configuration in HCL (the pack reads the JSON the component writes)",
                resources: [renderedConfig('storage "raft" {\n  path = "/vault/data"\n}\n')],
                expect: /cannot be parsed: it is not a JSON object .*so its storage cannot be checked/i,
            },
            {
                title: "values from a values file only (ha not set in values)",
                resources: [vaultChart({})],
                expect: /server\.ha\.enabled is not set/,
            },
        ],
    },
    "vault-injector-off": {
        pass: [
            { title: "the chart as VaultServer declares it", resources: [vaultChart()] },
            {
                title: "the servers' objects the chart renders",
                resources: [renderedServer(values), renderedConfig(chartRendered(values.server.ha.raft.config))],
            },
            {
                title: "ESO's own webhook",
                resources: [
                    k8s("eso-webhook", {
                        apiVersion: "apps/v1",
                        kind: "Deployment",
                        metadata: { name: "external-secrets-webhook", labels: { "app.kubernetes.io/name": "external-secrets-webhook" } },
                    }),
                ],
            },
        ],
        fail: [
            {
                title: "injector.enabled true",
                resources: [vaultChart(withPath(values, "injector.enabled", true))],
                expect: /injector\.enabled is true/,
            },
            {
                title: "injector.enabled left to the chart's default",
                resources: [vaultChart(withPath(values, "injector.enabled", undefined))],
                expect: /injector\.enabled is not set/,
            },
            {
                title: "the injector's rendered Deployment",
                resources: [
                    k8s("region1-vault:vault/vault-agent-injector", {
                        apiVersion: "apps/v1",
                        kind: "Deployment",
                        metadata: {
                            name: "vault-agent-injector",
                            labels: { "app.kubernetes.io/name": "vault-agent-injector", component: "webhook" },
                        },
                    }),
                ],
                expect: /Agent injector's Deployment/,
            },
            {
                title: "the injector's rendered webhook",
                resources: [
                    k8s("region1-vault:vault-agent-injector-cfg", {
                        apiVersion: "admissionregistration.k8s.io/v1",
                        kind: "MutatingWebhookConfiguration",
                        metadata: { name: "vault-agent-injector-cfg" },
                        webhooks: [{ name: "vault.hashicorp.com" }],
                    }),
                ],
                expect: /Agent injector's MutatingWebhookConfiguration/,
            },
        ],
    },
    "vault-tls-on": {
        pass: [
            { title: "the chart as VaultServer declares it (cert-manager TLS)", resources: [vaultChart()] },
            {
                title: "the servers' objects the chart renders",
                resources: [renderedServer(values), renderedConfig(chartRendered(values.server.ha.raft.config))],
            },
            {
                title: "TLS off with the explicit waiver (allowPlaintext)",
                resources: [
                    vaultChart(plaintextValues),
                    renderedServer(plaintextValues),
                    renderedConfig(chartRendered(plaintextValues.server.ha.raft.config)),
                ],
                config: { allowPlaintext: true },
            },
            {
                title: "the configuration with authenticated or unauthenticated metrics and each auto-unseal seal",
                resources: [
                    vaultChart(helmValues({}, { unauthenticatedMetrics: true })),
                    ...autoUnsealConfigs.map((config) => vaultChart(withPath(values, "server.ha.raft.config", config))),
                ],
            },
            {
                title: "listeners as a list of stanzas (Vault's other JSON form)",
                resources: [
                    vaultChart(
                        withPath(
                            values,
                            "server.ha.raft.config",
                            JSON.stringify({
                                listener: [{ tcp: { address: "[::]:8200", tls_cert_file: "/tls/tls.crt", tls_key_file: "/tls/tls.key" } }],
                                storage: { raft: { path: "/vault/data" } },
                            }),
                        ),
                    ),
                ],
            },
        ],
        fail: [
            {
                title: "TLS off (vault.tls.source none) without the waiver",
                resources: [vaultChart(plaintextValues)],
                expect: /global\.tlsDisable is true/,
            },
            {
                title: "a listener with tls_disable even though tlsDisable is false",
                resources: [vaultChart(withPath(plaintextValues, "global.tlsDisable", false))],
                expect: /"tcp" listener at "\[::\]:8200" sets "tls_disable": true/,
            },
            {
                title: "a second listener, in the list form, with tls_disable as a string",
                resources: [
                    vaultChart(
                        withPath(
                            values,
                            "server.ha.raft.config",
                            JSON.stringify({
                                listener: [
                                    { tcp: { address: "[::]:8200", tls_cert_file: "/tls/tls.crt", tls_key_file: "/tls/tls.key" } },
                                    { tcp: { address: "[::]:8210", tls_disable: "1" } },
                                ],
                                storage: { raft: { path: "/vault/data" } },
                            }),
                        ),
                    ),
                ],
                expect: /listener at "\[::\]:8210" sets "tls_disable": "1"/,
            },
            { title: "the rendered servers on http", resources: [renderedServer(plaintextValues)], expect: /VAULT_ADDR is http:\/\// },
            {
                title: "the rendered configuration with tls_disable",
                resources: [renderedConfig(chartRendered(plaintextValues.server.ha.raft.config))],
                expect: /sets "tls_disable": true/,
            },
            {
                title: "no server configuration (the chart's default disables TLS)",
                resources: [vaultChart(withPath(values, "server.ha.raft.config", undefined))],
                expect: /server\.ha\.raft\.config is not set/,
            },
            {
                title: "tlsDisable left to the chart's default",
                resources: [vaultChart(withPath(values, "global.tlsDisable", undefined))],
                expect: /global\.tlsDisable is not set/,
            },
            {
                title: "an unparseable server configuration",
                resources: [vaultChart(withPath(values, "server.ha.raft.config", 'listener "tcp" {'))],
                expect: /server\.ha\.raft\.config cannot be parsed: it is not a JSON object/,
            },
            {
                title: "a server configuration in HCL (the pack reads the JSON the component writes)",
                resources: [
                    vaultChart(
                        withPath(
                            values,
                            "server.ha.raft.config",
                            'listener "tcp" {\n  address = "[::]:8200"\n}\nstorage "raft" {\n  path = "/vault/data"\n}\n',
                        ),
                    ),
                ],
                expect: /cannot be parsed: it is not a JSON object .*Write it as JSON/,
            },
            {
                title: "an unparseable configuration holding a password (not repeated in the message)",
                resources: [
                    vaultChart(withPath(values, "server.ha.raft.config", 'password = "hunter2"')),
                    renderedConfig(`seal_token = ${VAULT_TOKEN}`),
                ],
                expect: /Unexpected token 'p': not valid JSON/,
            },
            {
                title: "a JSON configuration that is not an object",
                resources: [vaultChart(withPath(values, "server.ha.raft.config", "[]"))],
                expect: /it is JSON, but an array, not an object/,
            },
            {
                title: "Raft on without HA: the chart still uses server.ha.raft.config",
                resources: [vaultChart(withPath(withPath(plaintextValues, "global.tlsDisable", false), "server.ha.enabled", false))],
                expect: /server\.ha\.raft\.config: its "tcp" listener/,
            },
        ],
    },
    "eso-api-v1": {
        pass: [
            { title: "vault-local, vault-local-push and a peer store", resources: [localRead, localPush, peerStoreObject] },
            { title: "an ExternalSecret", resources: [pullSecret] },
            { title: "a PushSecret at v1alpha1", resources: [pushToPeer] },
            { title: "a Password generator at v1alpha1", resources: [generator] },
        ],
        fail: [
            {
                title: "a ClusterSecretStore at v1beta1",
                resources: [k8s("old-store", { ...localRead.props, apiVersion: "external-secrets.io/v1beta1" })],
                expect: /ClusterSecretStore is declared at external-secrets\.io\/v1beta1/,
            },
            {
                title: "an ExternalSecret at v1beta1",
                resources: [k8s("old-secret", { ...pullSecret.props, apiVersion: "external-secrets.io/v1beta1" })],
                expect: /ExternalSecret is declared at external-secrets\.io\/v1beta1/,
            },
            {
                title: "a SecretStore at v1alpha1",
                resources: [k8s("old-ns-store", { apiVersion: "external-secrets.io/v1alpha1", kind: "SecretStore" })],
                expect: /SecretStore is declared/,
            },
            {
                title: "a ClusterExternalSecret at v1beta1",
                resources: [k8s("old-ces", { apiVersion: "external-secrets.io/v1beta1", kind: "ClusterExternalSecret" })],
                expect: /ClusterExternalSecret/,
            },
            {
                title: "a v1 type token with a v1beta1 apiVersion input",
                resources: [{ ...localRead, props: { ...localRead.props, apiVersion: "external-secrets.io/v1beta1" } }],
                expect: /v1beta1/,
            },
        ],
    },
    "peer-tokens-push-only": {
        pass: [
            { title: "the peer token PeerAccess issues", resources: [peerToken] },
            { title: "the metrics token the monitoring component issues", resources: [metricsToken] },
            {
                title: "a shorter maximum lifetime, in days or seconds",
                resources: [
                    vaultToken({ ...peerToken.props, explicitMaxTtl: "90d" }),
                    vaultToken({ ...peerToken.props, period: "24h", explicitMaxTtl: "604800" }),
                ],
            },
        ],
        fail: [
            { title: "a child token", resources: [vaultToken({ ...peerToken.props, noParent: false })], expect: /noParent is false/ },
            { title: "no period", resources: [vaultToken({ ...peerToken.props, period: undefined })], expect: /period is not set/ },
            { title: "a ttl", resources: [vaultToken({ ...peerToken.props, ttl: "768h" })], expect: /ttl is "768h"/ },
            {
                title: "no maximum lifetime (a leaked token could be renewed forever)",
                resources: [vaultToken({ ...peerToken.props, explicitMaxTtl: undefined })],
                expect: /explicitMaxTtl is not set, so a periodic token renewed in time never ends/,
            },
            {
                title: "a maximum lifetime over a year",
                resources: [vaultToken({ ...peerToken.props, explicitMaxTtl: "8761h" })],
                expect: /explicitMaxTtl is "8761h", longer than a year/,
            },
            {
                title: "a maximum lifetime no longer than the period",
                resources: [vaultToken({ ...peerToken.props, explicitMaxTtl: "720h" })],
                expect: /no longer than its period "720h"/,
            },
            {
                title: "a maximum lifetime Vault cannot read",
                resources: [vaultToken({ ...peerToken.props, explicitMaxTtl: "a year" })],
                expect: /explicitMaxTtl is "a year", which is not a duration/,
            },
            { title: "not renewable", resources: [vaultToken({ ...peerToken.props, renewable: false })], expect: /renewable is false/ },
            { title: "the root policy", resources: [vaultToken({ ...peerToken.props, policies: ["root"] })], expect: /include "root"/ },
            {
                title: "a second policy",
                resources: [vaultToken({ ...peerToken.props, policies: [policyName("push", "region2"), policyName("pull")] })],
                expect: /exactly one single-purpose policy/,
            },
            {
                title: "no policies (an orphan then gets its creator's)",
                resources: [vaultToken({ ...peerToken.props, policies: undefined })],
                expect: /creating token's policies/,
            },
            {
                title: "the pull policy",
                resources: [vaultToken({ ...peerToken.props, policies: [policyName("pull")] })],
                expect: /exactly one single-purpose policy/,
            },
        ],
    },
    "vault-policies-least-privilege": {
        pass: [
            { title: "namespace-pull and namespace-push (templated by namespace)", resources: [pullPolicy, pushPolicy] },
            { title: "a peer's push policy (exact secrets)", resources: [peerPushPolicy] },
            {
                title: "a metadata write limited to custom_metadata, written by hand in HCL",
                resources: [
                    vaultPolicy(
                        "app-push",
                        'path "secret/metadata/app/*" {\n  capabilities = ["create", "update"]\n  allowed_parameters = {\n    "custom_metadata" = []\n  }\n}\n',
                    ),
                ],
            },
            { title: "raft-snapshot (read on sys/storage/raft/snapshot)", resources: [snapshotPolicy] },
            { title: "prometheus-metrics (read on sys/metrics)", resources: [metricsPolicy] },
            {
                title: "the replicator's policy, soft-deleting exactly the secrets it writes, and a peer's replicate policy",
                resources: [replicatorPolicy, peerReplicatePolicy],
            },
            {
                title: "a compact JSON policy with a list of path stanzas",
                resources: [vaultPolicy("json", JSON.stringify({ path: [{ "secret/data/team/*": { capabilities: ["read"] } }] }))],
            },
            {
                title: "a policy written by hand in HCL by another stack",
                resources: [vaultPolicy("app-read", 'path "secret/data/app/*" {\n  capabilities = ["read"]\n}\n')],
            },
            {
                title: "read on a KV v2 mount's config, and update on paths that only look like its control paths",
                resources: [
                    vaultPolicy("config-read", jsonPolicy({ "secret/config": { capabilities: ["read"] } })),
                    vaultPolicy(
                        "lookalikes",
                        jsonPolicy({
                            "secret/data/delete/x": { capabilities: ["update"] },
                            "secret/data/config": { capabilities: ["update"] },
                        }),
                    ),
                    renewerPolicy,
                ],
            },
            {
                title: "a deny on everything, in HCL and in JSON (grants nothing)",
                resources: [
                    vaultPolicy("deny-all", 'path "*" {\n  capabilities = ["deny"]\n}\n'),
                    vaultPolicy("deny-all-json", jsonPolicy({ "*": { capabilities: ["deny"] } })),
                ],
            },
        ],
        fail: [
            {
                title: "sudo",
                resources: [vaultPolicy("admin", 'path "auth/token/create" {\n  capabilities = ["update", "sudo"]\n}\n')],
                expect: /grants "sudo"/,
            },
            {
                title: "delete",
                resources: [
                    vaultPolicy(
                        "push",
                        withCapabilities(policyDocument("push", "secret", namespaceScope), `secret/metadata/${NAMESPACE_PREFIX}`, [
                            "create",
                            "read",
                            "update",
                            "delete",
                        ]),
                    ),
                ],
                expect: /path "secret\/metadata\/\{\{identity[^"]*\}\}\/\*" grants "delete"/,
            },
            {
                title: "read on every namespace's secrets",
                resources: [vaultPolicy("pull", jsonPolicy({ "secret/data/*": { capabilities: ["read"] } }))],
                expect: /path "secret\/data\/\*" reaches every namespace's secrets under secret\/data\//,
            },
            {
                title: "+ in place of the namespace",
                resources: [vaultPolicy("pull", 'path "secret/data/+/db" {\n  capabilities = ["read"]\n}\n')],
                expect: /reaches every namespace's secrets/,
            },
            {
                title: "a metadata write that may set anything (max_versions, cas_required)",
                resources: [vaultPolicy("push", jsonPolicy({ "secret/metadata/app/db": { capabilities: ["create", "update"] } }))],
                expect: /lets a writer set max_versions, delete_version_after or cas_required/,
            },
            {
                title: "update on a KV v2 mount's destroy/ (erases versions for good)",
                resources: [vaultPolicy("destroy", jsonPolicy({ "secret/destroy/app/db": { capabilities: ["update"] } }))],
                expect: /grants update where it may reach a KV v2 mount's delete\/, undelete\/, destroy\/ or config/,
            },
            {
                title: "update on a KV v2 mount's delete/ (soft-deletes versions)",
                resources: [vaultPolicy("soft-delete", 'path "secret/delete/app/*" {\n  capabilities = ["update"]\n}\n')],
                expect: /may reach a KV v2 mount's delete\//,
            },
            {
                title: "update on a KV v2 mount's undelete/",
                resources: [vaultPolicy("undelete", jsonPolicy({ "secret/undelete/app/db": { capabilities: ["update"] } }))],
                expect: /may reach a KV v2 mount's delete\/, undelete\//,
            },
            {
                title: "create on a KV v2 mount's config (max_versions for every secret)",
                resources: [vaultPolicy("config", jsonPolicy({ "secret/config": { capabilities: ["create", "update"] } }))],
                expect: /grants create, update where it may reach/,
            },
            {
                title: "a write whose glob reaches the mount's control paths",
                resources: [vaultPolicy("whole-mount", jsonPolicy({ "secret/*": { capabilities: ["create", "update"] } }))],
                expect: /may reach a KV v2 mount's delete\//,
            },
            {
                title: "a write whose + segment reaches the mount's control paths",
                resources: [vaultPolicy("plus", 'path "secret/+/app/db" {\n  capabilities = ["update"]\n}\n')],
                expect: /may reach a KV v2 mount's delete\//,
            },
            {
                title: "the replicator's soft delete in any other policy",
                resources: [
                    vaultPolicy(
                        "app-writer",
                        jsonPolicy({
                            "secret/data/apps/db": { capabilities: ["create", "read", "update"] },
                            "secret/delete/apps/db": { capabilities: ["update"] },
                        }),
                    ),
                ],
                expect: /"secret\/delete\/apps\/db" grants update where it may reach a KV v2 mount's delete\//,
            },
            ...(
                [
                    ["on a glob", "secret/delete/apps/*", "secret/data/apps/*", ["update"]],
                    ["on a + segment", "secret/delete/+/db", "secret/data/apps/db", ["update"]],
                    ["on a key it does not write", "secret/delete/apps/other", "secret/data/apps/db", ["update"]],
                    [
                        "on its own records",
                        "secret/delete/_replication/state/apps/db",
                        "secret/data/_replication/state/apps/db",
                        ["update"],
                    ],
                    ["with create besides update", "secret/delete/apps/db", "secret/data/apps/db", ["create", "update"]],
                    ["with patch", "secret/delete/apps/db", "secret/data/apps/db", ["update", "patch"]],
                    ["on destroy/", "secret/destroy/apps/db", "secret/data/apps/db", ["update"]],
                    ["on undelete/", "secret/undelete/apps/db", "secret/data/apps/db", ["update"]],
                    ["on config", "secret/config", "secret/data/apps/db", ["update"]],
                ] as const
            ).map(([how, control, data, capabilities]) => ({
                title: `the replicator's policy writing a KV v2 control path ${how}`,
                resources: [
                    vaultPolicy(
                        COMPONENT_REPLICATOR_POLICY,
                        jsonPolicy({ [data]: { capabilities: ["create", "read", "update"] }, [control]: { capabilities } }),
                    ),
                ],
                expect: new RegExp(`"${control.replace(/[/*+]/g, (c) => `\\${c}`)}" grants [a-z, ]+ where it may reach a KV v2 mount's`),
            })),
            {
                title: "patch on a secret's data",
                resources: [vaultPolicy("patch", jsonPolicy({ "secret/data/app/db": { capabilities: ["read", "patch"] } }))],
                expect: /grants "patch", which no role here needs/,
            },
            {
                title: "a metadata write that allows max_versions besides custom_metadata",
                resources: [
                    vaultPolicy(
                        "push",
                        jsonPolicy({
                            "secret/metadata/app/db": {
                                capabilities: ["update"],
                                allowed_parameters: { custom_metadata: [], max_versions: [] },
                            },
                        }),
                    ),
                ],
                expect: /lets a writer set max_versions/,
            },
            {
                title: "sudo in the JSON form",
                resources: [vaultPolicy("admin-json", jsonPolicy({ "auth/token/create": { capabilities: ["update", "sudo"] } }))],
                expect: /path "auth\/token\/create" grants "sudo"/,
            },
            {
                title: "list",
                resources: [vaultPolicy("pull", 'path "secret/metadata/*" {\n  capabilities = ["list"]\n}\n')],
                expect: /grants "list"/,
            },
            {
                title: "a wildcard over every mount",
                resources: [vaultPolicy("everything", 'path "*" {\n  capabilities = ["read"]\n}\n')],
                expect: /wildcard in its first segment/,
            },
            {
                title: "+ as the mount",
                resources: [vaultPolicy("any-mount", 'path "+/data/*" {\n  capabilities = ["read"]\n}\n')],
                expect: /wildcard in its first segment/,
            },
            {
                title: "sys/ beyond the documented paths",
                resources: [vaultPolicy("sys", 'path "sys/policies/acl/*" {\n  capabilities = ["read"]\n}\n')],
                expect: /reaches sys\//,
            },
            {
                title: "more than read on the snapshot endpoint",
                resources: [
                    vaultPolicy(SNAPSHOT_POLICY, withCapabilities(snapshotPolicyDocument(), SNAPSHOT_API_PATH, ["read", "update"])),
                ],
                expect: /reaches sys\/ with update/,
            },
            {
                title: "more than read on the metrics endpoint",
                resources: [
                    vaultPolicy(COMPONENT_METRICS_POLICY, withCapabilities(metricsPolicyDocument(), METRICS_API_PATH, ["read", "create"])),
                ],
                expect: /reaches sys\/ with create/,
            },
            {
                title: "sys/ in the JSON form",
                resources: [vaultPolicy("sys-json", jsonPolicy({ "sys/policies/acl/*": { capabilities: ["read"] } }))],
                expect: /path "sys\/policies\/acl\/\*" reaches sys\//,
            },
            {
                title: "a glob that reaches sys/",
                resources: [vaultPolicy("s-star", 'path "s*" {\n  capabilities = ["read"]\n}\n')],
                expect: /reaches sys\//,
            },
            {
                title: 'a legacy policy = "write" (delete and list)',
                resources: [vaultPolicy("legacy", 'path "secret/*" {\n  policy = "write"\n}\n')],
                expect: /through the legacy policy "write"/,
            },
            {
                title: "an HCL document that does not parse",
                resources: [vaultPolicy("broken", 'path "secret/*" {\n  capabilities = ["read"]\n')],
                expect: /cannot be parsed, so it cannot be checked: it is neither JSON nor HCL that parses/,
            },
            {
                title: "a JSON document that does not parse",
                resources: [vaultPolicy("broken-json", policyDocument("pull", "secret", namespaceScope).replace(/\}\s*$/, ""))],
                expect: /cannot be parsed, so it cannot be checked: it is JSON-shaped but not a valid JSON policy document/,
            },
            {
                title: "a path stanza without a body",
                resources: [vaultPolicy("malformed", jsonPolicy({ "secret/data/*": "read" }))],
                expect: /the path stanza "secret\/data\/\*" is malformed/,
            },
            {
                title: "capabilities that are not a list of strings",
                resources: [vaultPolicy("bad-capabilities", jsonPolicy({ "secret/data/*": { capabilities: "read" } }))],
                expect: /capabilities is "read", not a list of strings/,
            },
            { title: "no document", resources: [vaultPolicy("empty", undefined)], expect: /not text \(Vault's JSON policy form, or HCL\)/ },
        ],
    },
    "no-secret-in-plain-places": {
        pass: [
            {
                title: "the Vault configuration ConfigMap the chart renders (with its checksum annotation)",
                resources: [renderedConfig(chartRendered(values.server.ha.raft.config))],
            },
            {
                title: "the rendered configuration with each auto-unseal seal",
                resources: autoUnsealConfigs.map((config) => renderedConfig(chartRendered(config))),
            },
            {
                title: "the stores, secrets and generators the components build",
                resources: [localRead, localPush, peerStoreObject, pullSecret, pushToPeer, generator],
            },
            {
                title: "the token renewer's accessor list and CronJob (an accessor is not a credential)",
                resources: [
                    k8s(
                        "region1-token-renewer-accessors",
                        renewerConfigMap(
                            "vault",
                            renewalAccessorList([
                                { name: "peer-region2", accessor: "Xk3pQ9rT2vW8yZ1aB4cD6eF0" },
                                { name: "prometheus-metrics", accessor: "8609694a-cdbc-db9b-d345-e782dbb562ed" },
                            ]),
                        ),
                    ),
                    k8s(
                        "region1-token-renewer-cronjob",
                        renewerCronJob({
                            namespace: "vault",
                            authPath: "kubernetes",
                            imageTag: "2.0.4",
                            vaultAddress: "https://vault-active.vault.svc:8200",
                        }),
                    ),
                ],
            },
            { title: "the ingress pass-through annotations", resources: [annotated(values.server.ingress.annotations)] },
            { title: "a CA certificate in a ConfigMap", resources: [configMap({ "ca.crt": exampleCa })] },
            {
                title: "settings named like credentials but not credentials",
                resources: [
                    configMap({
                        token_ttl: "15m",
                        "password-file": "/etc/app/password",
                        "vault-token-secret-name": "vault-region2-token",
                        "token-enabled": "true",
                        // Where a credential is, as Vault's seal configuration reads it.
                        "seal.hcl": 'seal "transit" {\n  token = "file:///vault/userconfig/transit/VAULT_TOKEN"\n}\n',
                        "seal-env.hcl": 'seal "transit" {\n  token = "env://TRANSIT_TOKEN"\n}\n',
                    }),
                    annotated({ "eks.amazonaws.com/token-expiration": "86400" }),
                ],
            },
            {
                title: "a key listed in allowedKeys",
                resources: [annotated({ "example.com/secret-store": "vault-local" })],
                config: { allowedKeys: ["example.com/secret-store"] },
            },
        ],
        fail: [
            {
                title: "a Vault token in a ConfigMap",
                resources: [configMap({ VAULT_ADDR: `https://${HOST}`, "vault.env": `VAULT_TOKEN=${VAULT_TOKEN}` })],
                expect: /data "vault\.env" holds a Vault token/,
            },
            {
                title: "a legacy Vault token in an annotation",
                resources: [annotated({ "example.com/bootstrap": LEGACY_TOKEN })],
                expect: /annotation "example\.com\/bootstrap" holds a legacy Vault service token/,
            },
            {
                title: "a PEM private key in a ConfigMap",
                resources: [configMap({ "tls.key": PRIVATE_KEY })],
                expect: /holds a PEM private key/,
            },
            {
                title: "an AWS credentials file in a ConfigMap",
                resources: [
                    configMap({
                        credentials: `[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = ${AWS_SECRET}\n`,
                    }),
                ],
                expect: /holds an AWS secret access key/,
            },
            {
                title: "an AWS secret access key under its usual key",
                resources: [configMap({ AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE", AWS_SECRET_ACCESS_KEY: AWS_SECRET })],
                expect: /data "AWS_SECRET_ACCESS_KEY" holds an AWS secret access key/,
            },
            {
                title: "a password in a ConfigMap",
                resources: [configMap({ DB_PASSWORD: "hunter2" })],
                expect: /data "DB_PASSWORD" holds a value under a credential-named key/,
            },
            {
                title: "a credential given to Vault's configuration as a string:// value (the value itself, not a reference)",
                resources: [configMap({ "seal.hcl": 'seal "transit" {\n  token = "string://s3cr3t-transit-token"\n}\n' })],
                expect: /data "seal\.hcl" holds a value assigned to "token" inside it/,
            },
            {
                title: "a secret assigned inside a config file",
                resources: [configMap({ "seal.hcl": 'seal "awskms" {\n  region     = "eu-west-1"\n  secret_key = "abc123"\n}\n' })],
                expect: /assigned to "secret_key"/,
            },
            {
                title: "a token in an annotation",
                resources: [annotated({ "example.com/api-token": "abc123" })],
                expect: /annotation "example\.com\/api-token"/,
            },
            {
                title: "a Vault token in binaryData",
                resources: [configMap({}, { binaryData: { blob: Buffer.from(VAULT_TOKEN).toString("base64") } })],
                expect: /binaryData "blob" holds a Vault token/,
            },
            {
                title: "allowedKeys never exempts a token's shape",
                resources: [annotated({ "example.com/secret-store": VAULT_TOKEN })],
                config: { allowedKeys: ["example.com/secret-store"] },
                expect: /holds a Vault token/,
            },
        ],
    },
    "no-secret-in-stack-outputs": {
        pass: [
            { title: "the stack's outputs, peerAccess holding a peer token", resources: [stack(stackOutputs)] },
            {
                title: "an output unknown during preview",
                resources: [stack({ ...stackOutputs, vaultAddress: UNKNOWN_STRING, [PEER_ACCESS_OUTPUT]: UNKNOWN_STRING })],
            },
            {
                title: "another output declared secret in secretOutputs",
                resources: [stack({ ...stackOutputs, metricsToken: VAULT_TOKEN })],
                config: { secretOutputs: [PEER_ACCESS_OUTPUT, "metricsToken"] },
            },
            { title: "no stack resource among the resources", resources: [peerToken] },
        ],
        fail: [
            {
                title: "a token in a plain output",
                resources: [stack({ ...stackOutputs, adminToken: VAULT_TOKEN })],
                expect: /output "adminToken" holds a Vault token/,
            },
            {
                title: "a token nested in a plain output",
                resources: [stack({ ...stackOutputs, debug: { peers: [{ token: VAULT_TOKEN }] } })],
                expect: /output "debug\.peers\[0\]\.token" holds a Vault token/,
            },
            {
                title: "a private key in a plain output",
                resources: [
                    stack({ ...stackOutputs, serviceAccountIssuer: { issuer: "https://oidc.example.com", signingKey: PRIVATE_KEY } }),
                ],
                expect: /holds a PEM private key/,
            },
            {
                title: "a password output",
                resources: [stack({ ...stackOutputs, adminPassword: "correct horse" })],
                expect: /credential-named key/,
            },
            {
                title: "peerAccess no longer exempt when secretOutputs says so",
                resources: [stack(stackOutputs)],
                config: { secretOutputs: [] },
                expect: /output "peerAccess\.region2\.token"/,
            },
        ],
    },
};

async function run(name: string, testCase: Case): Promise<string[]> {
    const policy = policyNamed(name);
    if ("validateStack" in policy) {
        return runStack(name, [...testCase.resources], testCase.config);
    }
    const all: string[] = [];
    for (const resource of testCase.resources) {
        all.push(...(await runResource(name, resource, testCase.config)));
    }
    return all;
}

describe("the policy pack", () => {
    it("has a passing and a failing case for every policy, and no case for a policy it lacks", () => {
        expect(policies.map((policy) => policy.name).sort()).toEqual(Object.keys(CASES).sort());
        for (const [name, cases] of Object.entries(CASES)) {
            expect([name, cases.pass.length > 0, cases.fail.length > 0]).toEqual([name, true, true]);
        }
    });

    it("makes every policy mandatory, with a description", () => {
        expect(policyPackArgs.enforcementLevel).toBe("mandatory");
        for (const policy of policies) {
            expect([policy.name, policy.enforcementLevel, policy.description.length > 40]).toEqual([policy.name, "mandatory", true]);
        }
    });

    it("offers config only where a stack legitimately differs, with safe defaults", () => {
        const schema = Object.fromEntries(policies.map((policy) => [policy.name, policy.configSchema?.properties ?? {}]));
        expect(schema["vault-raft-replicas"].minimumRaftReplicas).toMatchObject({ type: "integer", default: 3 });
        expect(schema["vault-tls-on"].allowPlaintext).toMatchObject({ type: "boolean", default: false });
        expect(schema["no-secret-in-stack-outputs"].secretOutputs).toMatchObject({ default: [PEER_ACCESS_OUTPUT] });
        expect(Object.keys(schema["peer-tokens-push-only"])).toEqual([]);
        expect(Object.keys(schema["vault-policies-least-privilege"])).toEqual([]);
    });

    it("ships a dev stack's config (policy/dev-stack.config.json) that fits the policies' schemas", () => {
        const file = JSON.parse(fs.readFileSync(path.join(POLICY_DIR, "dev-stack.config.json"), "utf8")) as Record<
            string,
            Record<string, unknown>
        >;
        const ajv = new Ajv({ strict: true });
        for (const [name, config] of Object.entries(file)) {
            const schema = policyNamed(name).configSchema;
            expect([name, schema === undefined]).toEqual([name, false]);
            const validate = ajv.compile({
                type: "object",
                properties: { ...schema?.properties, enforcementLevel: { type: "string" } },
                additionalProperties: false,
            });
            expect([name, validate(config), validate.errors ?? null]).toEqual([name, true, null]);
        }
        expect(file).toEqual({ "vault-raft-replicas": { minimumRaftReplicas: 1 }, "vault-tls-on": { allowPlaintext: true } });
    });

    it("is what index.ts serves, under the name openova-vault", () => {
        const served: unknown[][] = [];
        jest.isolateModules(() => {
            jest.doMock(PACK_SDK, () => ({
                ...jest.requireActual<object>(PACK_SDK),
                PolicyPack: jest.fn((...args: unknown[]) => served.push(args)),
            }));
            // eslint-disable-next-line @typescript-eslint/no-require-imports -- index.ts runs only once the mock is in place
            require("../policy/index");
        });
        expect(served).toHaveLength(1);
        const [name, args] = served[0] as [string, { policies: { name: string }[]; enforcementLevel: string }];
        expect(name).toBe(PACK_NAME);
        expect(name).toBe("openova-vault");
        expect(args.enforcementLevel).toBe("mandatory");
        expect(args.policies.map((policy) => policy.name)).toEqual(policies.map((policy) => policy.name));
    });

    it("has the files Pulumi needs to run it (PulumiPolicy.yaml, a package.json with a version, pinned like the project)", () => {
        const dir = POLICY_DIR;
        expect(fs.readFileSync(path.join(dir, "PulumiPolicy.yaml"), "utf8")).toMatch(/^runtime: nodejs$/m);
        const pack = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as {
            name: string;
            version: string;
            main: string;
            dependencies: Record<string, string>;
            devDependencies: Record<string, string>;
        };
        const root = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "package.json"), "utf8")) as {
            dependencies: Record<string, string>;
            devDependencies: Record<string, string>;
        };
        const rootVersions = { ...root.dependencies, ...root.devDependencies };
        expect(pack.name).toBe("openova-vault-policy");
        expect(pack.version).toMatch(/^\d+\.\d+\.\d+$/);
        expect(fs.existsSync(path.join(dir, pack.main))).toBe(true);
        // ts-node is the pack's alone: Pulumi's policy runner loads a TypeScript pack with it.
        for (const [dependency, version] of Object.entries({ ...pack.dependencies, ...pack.devDependencies }).filter(
            ([name]) => name !== "ts-node",
        )) {
            expect([dependency, version]).toEqual([dependency, rootVersions[dependency]]);
        }
        const lock = JSON.parse(fs.readFileSync(path.join(dir, "package-lock.json"), "utf8")) as {
            packages: Record<string, { version?: string }>;
        };
        for (const dependency of Object.keys(pack.dependencies)) {
            expect([dependency, lock.packages[`node_modules/${dependency}`]?.version]).toEqual([dependency, pack.dependencies[dependency]]);
        }
    });
});

describe.each(Object.entries(CASES))("policy %s", (name, cases) => {
    it.each(cases.pass.map((testCase) => [testCase.title, testCase] as const))("accepts %s", async (_title, testCase) => {
        expect(await run(name, testCase)).toEqual([]);
    });

    it.each(cases.fail.map((testCase) => [testCase.title, testCase] as const))("rejects %s", async (_title, testCase) => {
        const violations = await run(name, testCase);
        expect(violations.length).toBeGreaterThan(0);
        if (testCase.expect !== undefined) {
            expect(violations.join("\n")).toMatch(testCase.expect);
        }
        // Every message names the resource it is about and never repeats a credential.
        for (const violation of violations) {
            expect(testCase.resources.some((resource) => violation.includes(`"${resource.name}"`))).toBe(true);
            for (const credential of [VAULT_TOKEN, LEGACY_TOKEN, PRIVATE_KEY, AWS_SECRET, "hunter2", "abc123", "correct horse"]) {
                expect(violation).not.toContain(credential);
            }
        }
    });
});

// ---------------------------------------------------------------------------------------------
// The pure rules
// ---------------------------------------------------------------------------------------------

describe("the pure rules", () => {
    it("share their names with the components", () => {
        expect(PEER_PUSH_POLICY.test(policyName("push", "region2"))).toBe(true);
        expect(
            [policyName("push"), policyName("pull"), "peer-region2-pull", "peer--push"].some((name) => PEER_PUSH_POLICY.test(name)),
        ).toBe(false);
        expect(METRICS_POLICY).toBe(COMPONENT_METRICS_POLICY);
        expect(REPLICATOR_POLICY).toBe(COMPONENT_REPLICATOR_POLICY);
        expect(REPLICATION_PREFIX).toBe(COMPONENT_REPLICATION_PREFIX);
        expect(MAX_TOKEN_LIFETIME_HOURS).toBe(TOKEN_MAX_LIFETIME_HOURS);
        expect(durationSeconds(LONG_LIVED_TOKEN.explicitMaxTtl)).toBe(TOKEN_MAX_LIFETIME_HOURS * 3600);
        expect(durationSeconds(LONG_LIVED_TOKEN.period)).toBe(TOKEN_PERIOD_HOURS * 3600);
        expect(Object.keys(ALLOWED_SYS_PATHS).sort()).toEqual([METRICS_API_PATH, SNAPSHOT_API_PATH].sort());
        expect(peerTokenSettings("region1", "region2").policies).toEqual([policyName("push", "region2")]);
    });

    it("name the project's files where they are now", () => {
        const named = new Set<string>();
        for (const file of ["rules.ts", "policies.ts"]) {
            for (const [reference] of fs
                .readFileSync(path.join(POLICY_DIR, file), "utf8")
                .matchAll(/components\/[A-Za-z0-9_./-]+?\.ts\b/g)) {
                named.add(reference);
            }
        }
        expect(named.size).toBeGreaterThan(5);
        expect([...named].filter((reference) => !fs.existsSync(path.join(__dirname, "..", reference)))).toEqual([]);
        // The fixes in the messages point at the components that write the compliant form.
        const violations = [
            ...checkEsoApiV1({ type: "kubernetes:external-secrets.io/v1beta1:ExternalSecret", name: "old", props: {} }),
            ...checkVaultToken(vaultToken({})),
        ].join("\n");
        expect(violations).toContain("components/stores/storeSpecs.ts");
        expect(violations).toContain("components/replication/replicationSpecs.ts");
        expect(violations).toContain("components/vault-config/setupValues.ts");
    });

    it("check the chart's replicas, HA and Raft", () => {
        expect(checkRaftReplicas(vaultChart())).toEqual([]);
        expect(checkRaftReplicas(vaultChart(singleServerValues), { minimumRaftReplicas: 1 })).toEqual([]);
        expect(checkRaftReplicas(vaultChart(withPath(values, "server.ha.replicas", 4)))).toEqual([
            expect.stringContaining('kubernetes:helm.sh/v4:Chart "region1-vault": server.ha.replicas is 4'),
        ]);
        expect(checkRaftReplicas(vaultChart(singleServerValues))).toEqual([
            expect.stringMatching(/fewer than the 3 .*Set vault\.replicas/),
        ]);
        expect(checkRaftReplicas(renderedServer(values))).toEqual([]);
        expect(checkRaftReplicas(renderedConfig(values.server.ha.raft.config))).toEqual([]);
        expect(checkRaftReplicas(renderedConfig(chartRendered(values.server.ha.raft.config)))).toEqual([]);
        expect(checkRaftReplicas(renderedConfig("{{{"))).toEqual([expect.stringContaining("cannot be parsed")]);
    });

    it("read the server configuration the component writes as JSON, and say why anything else is refused", () => {
        for (const config of [values.server.ha.raft.config, chartRendered(values.server.ha.raft.config), ...autoUnsealConfigs]) {
            expect(parseServerConfig(config)).toMatchObject({
                listener: { tcp: { address: "[::]:8200" } },
                storage: { raft: { path: "/vault/data" } },
            });
        }
        expect(parseServerConfig(plaintextValues.server.ha.raft.config)).toMatchObject({ listener: { tcp: { tls_disable: true } } });
        expect(() => parseServerConfig('storage "raft" {}')).toThrow(
            /^it is not a JSON object \(.*\); this pack reads the server configuration as JSON, as serverConfig in components\/vault-server\/serverValues\.ts writes it$/,
        );
        expect(() => parseServerConfig('"raft"')).toThrow(/it is JSON, but a string, not an object/);
        expect(() => parseServerConfig("null")).toThrow(/it is JSON, but null, not an object/);
        // JSON.parse quotes the text around the error; the message leaves it out (it may hold a credential).
        expect(() => parseServerConfig("password = hunter2")).toThrow(/^it is not a JSON object \(Unexpected token 'p': not valid JSON\);/);
        expect(() => parseServerConfig(`{"token": ${VAULT_TOKEN}}`)).toThrow(
            /^it is not a JSON object \(Unexpected token 'h': not valid JSON\);/,
        );
    });

    it("check the injector", () => {
        expect(checkInjectorOff(vaultChart())).toEqual([]);
        expect(checkInjectorOff(vaultChart(withPath(values, "injector.enabled", "-")))).toEqual([
            expect.stringContaining('injector.enabled is "-"'),
        ]);
        expect(checkInjectorOff(vaultChart(withPath(values, "injector.enabled", undefined)))).toEqual([
            expect.stringContaining("follows global.enabled"),
        ]);
    });

    it("check TLS, and honour the waiver", () => {
        expect(checkTlsOn(vaultChart())).toEqual([]);
        expect(checkTlsOn(vaultChart(plaintextValues))).toEqual([
            expect.stringContaining("global.tlsDisable is true"),
            expect.stringContaining('server.ha.raft.config: its "tcp" listener at "[::]:8200" sets "tls_disable": true'),
        ]);
        expect(checkTlsOn(vaultChart(plaintextValues), { allowPlaintext: true })).toEqual([]);
        expect(checkTlsOn(renderedServer(plaintextValues), { allowPlaintext: true })).toEqual([]);
        // A configuration given as an object (which chart 0.34 refuses to render) is still read.
        expect(checkTlsOn(vaultChart(withPath(values, "server.ha.raft.config", { listener: { tcp: { tls_disable: true } } })))).toEqual([
            expect.stringContaining('sets "tls_disable": true'),
        ]);
        expect(checkTlsOn(vaultChart(withPath(values, "server.ha.raft.config", 42)))).toEqual([
            expect.stringContaining("cannot be parsed: it is 42, not JSON text"),
        ]);
    });

    it("hold OpenBao's chart (the openbao/openbao fork, same values) to the same rules, on its inputs and what it renders", () => {
        const openbaoValues = (server: VaultServerOptions = {}) =>
            vaultHelmValues(serverSettings(vaultServerOptions.parse(server), HOST, monitoringOptions.parse({}), { engine: "openbao" }));
        const chart = (chartValues: unknown): ResourceData => ({
            type: "kubernetes:helm.sh/v4:Chart",
            name: "region1-vault",
            props: { name: "openbao", namespace: "vault", chart: OPENBAO_CHART.chart, version: OPENBAO_CHART.version, values: chartValues },
        });
        expect(isVaultChart(chart(openbaoValues()))).toBe(true);
        for (const check of [checkRaftReplicas, checkInjectorOff, checkTlsOn]) {
            expect(check(chart(openbaoValues()))).toEqual([]);
        }
        expect(checkRaftReplicas(chart(withPath(openbaoValues(), "server.ha.replicas", 4)))).toEqual([
            expect.stringContaining("server.ha.replicas is 4"),
        ]);
        expect(checkInjectorOff(chart(withPath(openbaoValues(), "injector.enabled", "-")))).toEqual([
            expect.stringContaining('injector.enabled is "-"'),
        ]);
        expect(checkTlsOn(chart(openbaoValues({ tls: { source: "none", allowPlaintext: true } })))).toHaveLength(2);
        // What the chart renders: labelled openbao-<version>, BAO_ADDR, `bao server`.
        const rendered = (scheme: string, command: string): ResourceData => ({
            type: "kubernetes:apps/v1:StatefulSet",
            name: "region1-vault:vault/openbao",
            props: {
                spec: {
                    replicas: 3,
                    template: {
                        metadata: { labels: { "helm.sh/chart": `openbao-${OPENBAO_CHART.version}`, component: "server" } },
                        spec: {
                            containers: [
                                {
                                    name: "openbao",
                                    args: [`/usr/local/bin/docker-entrypoint.sh ${command}`],
                                    env: [{ name: "BAO_ADDR", value: `${scheme}://127.0.0.1:8200` }],
                                },
                            ],
                        },
                    },
                },
            },
        });
        expect(checkTlsOn(rendered("https", "bao server -config=/tmp/storageconfig.hcl"))).toEqual([]);
        expect(checkTlsOn(rendered("http", "bao server -config=/tmp/storageconfig.hcl"))).toEqual([
            expect.stringContaining("the Vault servers' BAO_ADDR is http://127.0.0.1:8200"),
        ]);
        expect(checkRaftReplicas(rendered("https", "bao server -dev"))).toEqual([expect.stringContaining('run "bao server -dev"')]);
    });

    it("check ESO API versions by type token and apiVersion", () => {
        expect([localRead, localPush, peerStoreObject, pullSecret, pushToPeer, generator].flatMap(checkEsoApiV1)).toEqual([]);
        expect(checkEsoApiV1({ type: "kubernetes:external-secrets.io/v1beta1:ExternalSecret", name: "old", props: {} })).toHaveLength(1);
        expect(
            checkEsoApiV1({
                type: "kubernetes:yaml/v2:ConfigGroup",
                name: "from-yaml",
                props: { apiVersion: "external-secrets.io/v1beta1", kind: "ClusterSecretStore" },
            }),
        ).toHaveLength(1);
    });

    it("check tokens", () => {
        expect(checkVaultToken(peerToken)).toEqual([]);
        expect(checkVaultToken(metricsToken)).toEqual([]);
        expect(checkVaultToken(vaultToken({}))).toHaveLength(5);
        expect(["720h", "1h30m", "30d", "3600", "0.5h", 60].map(durationSeconds)).toEqual([2592000, 5400, 2592000, 3600, 1800, 60]);
        expect(["", "h", "1y", "10 h", "-1h", "1h30"].map(durationSeconds)).toEqual([
            undefined,
            undefined,
            undefined,
            undefined,
            undefined,
            undefined,
        ]);
        expect(checkVaultToken({ type: "vault:index/policy:Policy", name: "not-a-token", props: {} })).toEqual([]);
    });

    it("check policies, and match Vault's path globs", async () => {
        for (const policy of [pullPolicy, pushPolicy, peerPushPolicy, snapshotPolicy, metricsPolicy, renewerPolicy]) {
            expect(await checkVaultPolicy(policy)).toEqual([]);
        }
        expect(await checkVaultPolicy(vaultPolicy("extra", 'name = "x"\nidentity "y" {}\n'))).toEqual([
            expect.stringContaining('"identity" is not a Vault policy stanza'),
        ]);
        expect(await checkVaultPolicy(vaultPolicy("extra-json", JSON.stringify({ path: {}, identity: { y: {} } })))).toEqual([
            expect.stringContaining('"identity" is not a Vault policy stanza'),
        ]);
        expect(await checkVaultPolicy(vaultPolicy("array", "[]"))).toEqual([
            expect.stringContaining("not a valid JSON policy document: it is JSON, but an array, not an object"),
        ]);
        expect(["*", "+", "+/data/*", "s*", "secret*"].map(hasRootWildcard)).toEqual([true, true, true, true, true]);
        expect(["secret/data/*", "secret/+/x", "sys/metrics", "secret"].map(hasRootWildcard)).toEqual([false, false, false, false]);
        expect(["sys", "sys/metrics", "sys/*", "+/policy", "*", "s*", "sys*", "/sys/x".replace(/^\/+/, "")].map(reachesSys)).toEqual([
            true,
            true,
            true,
            true,
            true,
            true,
            true,
            true,
        ]);
        expect(["secret/sys/x", "system/x", "sys2/*", "secret/*", "a*"].map(reachesSys)).toEqual([false, false, false, false, false]);
    });

    it("read the components' policies as JSON, and hand-written HCL ones through the HCL parser", async () => {
        expect(await parsePolicyDocument(policyDocument("push", "secret", namespaceScope), "push.hcl")).toEqual({
            path: {
                [`secret/data/${NAMESPACE_PREFIX}`]: { capabilities: ["create", "read", "update"] },
                [`secret/metadata/${NAMESPACE_PREFIX}`]: {
                    capabilities: ["create", "read", "update"],
                    allowed_parameters: { custom_metadata: [] },
                },
            },
        });
        expect(await parsePolicyDocument(snapshotPolicyDocument(), "snapshot.hcl")).toEqual({
            path: { [SNAPSHOT_API_PATH]: { capabilities: ["read"] } },
        });
        expect(await parsePolicyDocument('path "secret/data/*" {\n  capabilities = ["read"]\n}\n', "hand.hcl")).toEqual({
            path: { "secret/data/*": [{ capabilities: ["read"] }] },
        });
        await expect(parsePolicyDocument('{"path": {', "broken.hcl")).rejects.toThrow(
            /^it is JSON-shaped but not a valid JSON policy document: /,
        );
        await expect(parsePolicyDocument('{"path": {}} trailing', "broken.hcl")).rejects.toThrow(/not a valid JSON policy document/);
        await expect(parsePolicyDocument('path "x" {', "broken.hcl")).rejects.toThrow(
            /^it is neither JSON nor HCL that parses: .*broken\.hcl/,
        );
    });

    it("find credential shapes and names without false alarms on settings", () => {
        expect(credentialShapes(`token: ${VAULT_TOKEN}`)).toEqual([expect.stringContaining("Vault token")]);
        expect(credentialShapes(exampleCa)).toEqual([]);
        expect(credentialShapes("hosts.example.com/s.abc")).toEqual([]);
        expect(
            ["DB_PASSWORD", "dbPassword", "client_secret", "accessToken", "vault.example.com/api-token", "AWS_SECRET_ACCESS_KEY"].map(
                isCredentialKey,
            ),
        ).toEqual([true, true, true, true, true, true]);
        expect(
            [
                "tokenSecretName",
                "password-file",
                "token_ttl",
                "secretRef",
                "eks.amazonaws.com/token-expiration",
                "config/checksum",
                "username",
            ].map(isCredentialKey),
        ).toEqual([false, false, false, false, false, false, false]);
        expect(
            checkPlainSecrets({
                type: "vault:index/policy:Policy",
                name: "not-kubernetes",
                props: { metadata: { annotations: { token: VAULT_TOKEN } } },
            }),
        ).toEqual([]);
        expect(checkStackOutputs([stack(stackOutputs)])).toEqual([]);
        expect(checkStackOutputs([stack(stackOutputs)], { secretOutputs: [] })).toHaveLength(1);
    });

    it("skip values unknown during preview, keeping the known ones", () => {
        const props = proxied({ known: "a", unknown: UNKNOWN_STRING, nested: { list: ["b", UNKNOWN_STRING] } });
        expect(() => props.unknown).toThrow(/can't be known during preview/);
        expect(knownValues(props)).toEqual({ known: "a", nested: { list: ["b"] } });
    });

    it("name charts the way Helm references them", () => {
        expect(
            ["vault", "hashicorp/vault", "oci://registry.example.com/charts/vault", "./charts/vault-0.34.1.tgz", "vault/"].map(chartName),
        ).toEqual(["vault", "vault", "vault", "vault", "vault"]);
        expect(["vault-secrets-operator", "hashicorp/vault-secrets-operator", "external-secrets"].map(chartName)).toEqual([
            "vault-secrets-operator",
            "vault-secrets-operator",
            "external-secrets",
        ]);
    });
});

// ---------------------------------------------------------------------------------------------
// The pack as Pulumi runs it
// ---------------------------------------------------------------------------------------------

/**
 * `pulumi preview --policy-pack policy` starts Pulumi's policy-pack runner in policy/ (ts-node with
 * type checking, policy/tsconfig.json, package.json's main) and talks to the pack over gRPC. This
 * starts the same runner, without the CLI, and makes the engine's calls.
 */
describe("the pack under Pulumi's policy-pack runner", () => {
    const policyDir = POLICY_DIR;
    let pack: ChildProcessByStdio<null, Readable, Readable> | undefined;
    let client: AnalyzerClient | undefined;

    beforeAll(async () => {
        const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [policyDir] });
        // The runner's arguments: the engine's address (unused until the pack logs through it) and the program.
        const started = spawn(process.execPath, [runner, "127.0.0.1:1", "."], { cwd: policyDir, stdio: ["ignore", "pipe", "pipe"] });
        pack = started;
        const port = await new Promise<string>((resolve, reject) => {
            let out = "";
            let err = "";
            started.stdout.on("data", (chunk: Buffer) => {
                out += chunk.toString();
                if (out.includes("\n")) {
                    resolve(out.split("\n")[0].trim());
                }
            });
            started.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
            started.on("exit", (code) => reject(new Error(`the policy pack exited with ${code}: ${err}`)));
        });
        client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    }, 120_000);

    afterAll(() => {
        client?.close();
        pack?.kill();
    });

    const deadline = () => ({ deadline: Date.now() + 30_000 });

    function analyze(resource: ResourceData): Promise<[string, number, string][]> {
        const request = new analyzerPb.AnalyzeRequest();
        request.setType(resource.type);
        request.setName(resource.name);
        request.setUrn(urnOf(resource));
        request.setProperties(
            Struct.fromJavaScript(JSON.parse(JSON.stringify(resource.props)) as Parameters<typeof Struct.fromJavaScript>[0]),
        );
        request.setOptions(new analyzerPb.AnalyzerResourceOptions());
        return new Promise((resolve, reject) =>
            client?.analyze(request, new grpc.Metadata(), deadline(), (error, response) =>
                error || response === undefined
                    ? reject(error ?? new Error("no response"))
                    : resolve(response.getDiagnosticsList().map((d) => [d.getPolicyname(), d.getEnforcementlevel(), d.getMessage()])),
            ),
        );
    }

    function configure(config: Record<string, Record<string, unknown>>): Promise<void> {
        const request = new analyzerPb.ConfigureAnalyzerRequest();
        for (const [policy, properties] of Object.entries(config)) {
            const policyConfig = new analyzerPb.PolicyConfig();
            policyConfig.setEnforcementlevel(analyzerPb.EnforcementLevel.MANDATORY);
            policyConfig.setProperties(Struct.fromJavaScript(properties as Parameters<typeof Struct.fromJavaScript>[0]));
            request.getPolicyconfigMap().set(policy, policyConfig);
        }
        return new Promise((resolve, reject) =>
            client?.configure(request, new grpc.Metadata(), deadline(), (error) => (error ? reject(error) : resolve())),
        );
    }

    it("describes itself: openova-vault, its version, every policy mandatory", async () => {
        const info = await new Promise<analyzerPb.AnalyzerInfo>((resolve, reject) =>
            client?.getAnalyzerInfo(new Empty(), new grpc.Metadata(), deadline(), (error, response) =>
                error || response === undefined ? reject(error ?? new Error("no response")) : resolve(response),
            ),
        );
        expect(info.getName()).toBe("openova-vault");
        expect(info.getVersion()).toBe("0.1.0");
        expect(info.getPoliciesList().map((policy) => [policy.getName(), policy.getEnforcementlevel()])).toEqual(
            policies.map((policy) => [policy.name, analyzerPb.EnforcementLevel.MANDATORY]),
        );
    });

    it("accepts the components' resources and rejects deviations, as the engine calls it", async () => {
        for (const resource of [
            vaultChart(),
            peerToken,
            pushPolicy,
            snapshotPolicy,
            metricsPolicy,
            localRead,
            renderedConfig(chartRendered(values.server.ha.raft.config)),
        ]) {
            expect([resource.name, await analyze(resource)]).toEqual([resource.name, []]);
        }
        expect(await analyze(vaultChart(plaintextValues))).toEqual([
            ["vault-tls-on", analyzerPb.EnforcementLevel.MANDATORY, expect.stringContaining("global.tlsDisable is true")],
            ["vault-tls-on", analyzerPb.EnforcementLevel.MANDATORY, expect.stringContaining('sets "tls_disable": true')],
        ]);
        expect(await analyze(vaultToken({ ...peerToken.props, policies: ["root"] }))).toEqual([
            ["peer-tokens-push-only", analyzerPb.EnforcementLevel.MANDATORY, expect.stringContaining('include "root"')],
        ]);
    });

    it("reports a value unknown during preview as a check it cannot run yet (advisory), not as a violation", async () => {
        const unknownReplicas = vaultChart(withPath(values, "server.ha.replicas", "3eeb2bf0-c639-47a8-9e75-3b44932eb421"));
        expect(await analyze(unknownReplicas)).toEqual([
            [
                "vault-raft-replicas",
                analyzerPb.EnforcementLevel.ADVISORY,
                expect.stringContaining("can't run policy 'vault-raft-replicas'"),
            ],
        ]);
    });

    it("takes a dev stack's config (policy/dev-stack.config.json): one server, TLS waived", async () => {
        await configure(
            JSON.parse(fs.readFileSync(path.join(POLICY_DIR, "dev-stack.config.json"), "utf8")) as Record<string, Record<string, unknown>>,
        );
        const devValues = helmValues({ replicas: 1, tls: { source: "none", allowPlaintext: true } });
        expect(await analyze(vaultChart(devValues))).toEqual([]);
        await configure({});
        expect((await analyze(vaultChart(devValues))).map(([policy]) => policy)).toEqual([
            "vault-raft-replicas",
            "vault-tls-on",
            "vault-tls-on",
        ]);
    });

    it("checks the stack's outputs at the end of a run, peerAccess exempt", async () => {
        const request = new analyzerPb.AnalyzeStackRequest();
        const resource = new analyzerPb.AnalyzerResource();
        const outputs = { ...stackOutputs, adminToken: VAULT_TOKEN };
        resource.setType(STACK_TYPE);
        resource.setName("openova-vault-region1");
        resource.setUrn(urnOf(stack(outputs)));
        resource.setProperties(Struct.fromJavaScript(outputs));
        resource.setOptions(new analyzerPb.AnalyzerResourceOptions());
        request.setResourcesList([resource]);
        const diagnostics = await new Promise<[string, string][]>((resolve, reject) =>
            client?.analyzeStack(request, new grpc.Metadata(), deadline(), (error, response) =>
                error || response === undefined
                    ? reject(error ?? new Error("no response"))
                    : resolve(response.getDiagnosticsList().map((d) => [d.getPolicyname(), d.getMessage()])),
            ),
        );
        expect(diagnostics).toEqual([["no-secret-in-stack-outputs", expect.stringContaining('output "adminToken" holds a Vault token')]]);
    });
});
