/**
 * The checks behind the openova-vault policy pack, as plain functions: each takes a resource's
 * type, name and properties (or a stack's resources) as plain data and returns the violation
 * messages, empty when the resource complies. Nothing here touches the Pulumi runtime, so the tests
 * call these directly and `policies.ts` only wires them to `@pulumi/policy`.
 *
 * The pack is self-contained (it must run where only `policy/` is installed), so the few names it
 * shares with the components are repeated here; `tests/policy.test.ts` checks that they still match
 * `components/`.
 *
 * Messages name the resource and the fix, and never repeat a value that looks like a credential.
 */
import { parse as parseHcl } from "@cdktf/hcl2json";

/** A resource as a policy sees it: its type token, its logical name and its properties (inputs, or outputs for a stack policy). */
export interface ResourceData {
    readonly type: string;
    readonly name: string;
    readonly props: Readonly<Record<string, unknown>>;
}

// ---------------------------------------------------------------------------------------------
// Names shared with components/ (checked against them in tests/policy.test.ts)
// ---------------------------------------------------------------------------------------------

/**
 * The name of a peer's push policy (`policyName("push", peer)`, components/vault-config/policies.ts,
 * `peer-<peer>-push`): the only policy a peer token carries.
 */
export const PEER_PUSH_POLICY = /^peer-[a-z0-9](?:[-a-z0-9]*[a-z0-9])?-push$/;

/** How a message names the peer push policies. */
export const PEER_PUSH_POLICY_NAME = "peer-<peer>-push";

/** The metrics policy (`METRICS_POLICY`, components/monitoring/monitoringSpecs.ts): the only policy the Prometheus scrape token carries. */
export const METRICS_POLICY = "prometheus-metrics";

/**
 * The replicator's own policy (`REPLICATOR_POLICY`, components/replication/replicatorSpecs.ts): the only
 * policy that may soft-delete a secret's versions ({@link isReplicatorSoftDelete}).
 */
export const REPLICATOR_POLICY = "openova-replicator";

/** Where the replicators keep their own records under a KV mount (`REPLICATION_PREFIX`, components/replication/replicatorSpecs.ts). */
export const REPLICATION_PREFIX = "_replication";

/**
 * The policies a `vault:index/token:Token` may carry, each alone: tokens are issued for one purpose.
 * Peer tokens carry their peer's push policy (components/vault-config/peerAccess.ts); with
 * authenticated metrics scraping, the monitoring component issues one token with the metrics policy
 * (components/monitoring/vaultMonitoring.ts).
 */
export const TOKEN_POLICIES: readonly { readonly name: string; readonly matches: (policy: string) => boolean; readonly why: string }[] = [
    { name: PEER_PUSH_POLICY_NAME, matches: (policy) => PEER_PUSH_POLICY.test(policy), why: "a peer region's ESO pushes with it" },
    { name: METRICS_POLICY, matches: (policy) => policy === METRICS_POLICY, why: "Prometheus scrapes sys/metrics with it" },
];

/**
 * The only `sys/` paths a Vault policy may name, and the only capabilities it may grant there:
 * the snapshot job's `sys/storage/raft/snapshot` (components/snapshots/snapshotSpecs.ts) and the
 * metrics scrape's `sys/metrics` (components/monitoring/monitoringSpecs.ts), both `read` alone.
 */
export const ALLOWED_SYS_PATHS: Readonly<Record<string, readonly string[]>> = {
    "sys/storage/raft/snapshot": ["read"],
    "sys/metrics": ["read"],
};

/**
 * The longest explicit maximum lifetime a token may have, in hours: one year, what the components give
 * every long-lived token (`TOKEN_MAX_LIFETIME_HOURS`, components/token-renewal/tokenLifetime.ts).
 */
export const MAX_TOKEN_LIFETIME_HOURS = 8760;

/** The stack output the program exports with `pulumi.secret` (peer tokens, with token peer auth). */
export const PEER_ACCESS_OUTPUT = "peerAccess";

/** The root stack resource, whose properties are the stack's outputs. */
export const STACK_TYPE = "pulumi:pulumi:Stack";

/** Raft voters a production region needs at least (one may fail). */
export const DEFAULT_MINIMUM_RAFT_REPLICAS = 3;

/** The ESO kinds that must be served at `external-secrets.io/v1` (ESO 0.17+ serves nothing else for them). */
export const ESO_V1_KINDS = ["ClusterSecretStore", "SecretStore", "ExternalSecret", "ClusterExternalSecret"] as const;

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The value at `path` under `root`, or undefined when any step is missing or not an object. */
function at(root: unknown, ...path: string[]): unknown {
    let current = root;
    for (const key of path) {
        if (!isRecord(current)) {
            return undefined;
        }
        current = current[key];
    }
    return current;
}

function recordAt(root: unknown, ...path: string[]): Record<string, unknown> {
    const value = at(root, ...path);
    return isRecord(value) ? value : {};
}

/** How a message names a resource: its type and logical name. */
export function describeResource(resource: Pick<ResourceData, "type" | "name">): string {
    return `${resource.type} "${resource.name}"`;
}

function show(value: unknown): string {
    return value === undefined ? "not set" : JSON.stringify(value);
}

/** Whether `value` is a Helm/Vault boolean that reads as true (`true`, `"true"`, `1`, `"1"`, ...). */
function truthy(value: unknown): boolean {
    if (typeof value === "boolean") {
        return value;
    }
    if (typeof value === "number") {
        return value !== 0;
    }
    return typeof value === "string" && /^(1|t|true|yes|on)$/i.test(value.trim());
}

/** Whether an optional setting is really set: not undefined, null, "" or 0. */
function isSet(value: unknown): boolean {
    return value !== undefined && value !== null && value !== "" && value !== 0;
}

/** Where the policy documents and the server configuration this pack reads are written. */
const POLICY_SOURCE = "policyDocument in components/vault-config/policies.ts";
const SERVER_CONFIG_SOURCE = "serverConfig in components/vault-server/serverValues.ts";

/**
 * `JSON.parse`'s complaint without the excerpt of the text that V8 quotes in it (`Unexpected token
 * 'p', "password: ..." is not valid JSON`): the text may hold a credential, which messages never repeat.
 */
function jsonError(error: unknown): string {
    const message = error instanceof Error ? error.message : String(error);
    return message.replace(/, (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, ": not valid JSON");
}

/** A JSON document that must be an object. @throws Error when it is not JSON, or not an object. */
function parseJsonObject(text: string): Record<string, unknown> {
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch (error) {
        throw new Error(jsonError(error));
    }
    if (!isRecord(value)) {
        throw new Error(
            `it is JSON, but ${Array.isArray(value) ? "an array" : value === null ? "null" : `a ${typeof value}`}, not an object`,
        );
    }
    return value;
}

/**
 * A Vault policy document as an object. The components write Vault's JSON policy form
 * (`{"path": {"<path>": {"capabilities": [...]}}}`), read with `JSON.parse`; policies that other
 * stacks write by hand in HCL (Vault reads both) are read with `@cdktf/hcl2json`.
 * @throws Error saying which form was tried and why it failed.
 */
export async function parsePolicyDocument(text: string, filename: string): Promise<Record<string, unknown>> {
    const trimmed = text.trim();
    if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
        try {
            return parseJsonObject(trimmed);
        } catch (error) {
            throw new Error(`it is JSON-shaped but not a valid JSON policy document: ${(error as Error).message}`);
        }
    }
    try {
        return await parseHcl(filename, text);
    } catch (error) {
        throw new Error(`it is neither JSON nor HCL that parses: ${(error as Error).message.trim()}`);
    }
}

/**
 * A Vault server configuration (the chart's `server.ha.raft.config`, or what the chart renders from
 * it) as an object: JSON, as the VaultServer component writes it; an HCL configuration is reported
 * as not JSON rather than read.
 * @throws Error when it is not a JSON object.
 */
export function parseServerConfig(text: string): Record<string, unknown> {
    try {
        return parseJsonObject(text.trim());
    } catch (error) {
        throw new Error(
            `it is not a JSON object (${(error as Error).message}); this pack reads the server configuration as JSON, as ${SERVER_CONFIG_SOURCE} writes it`,
        );
    }
}

/** One labelled stanza (`"path": {"<label>": {...}}`, `"listener": {"tcp": {...}}`) of a parsed document. */
export interface LabelledBlock {
    readonly label: string;
    readonly body: Record<string, unknown>;
}

/**
 * Every `blockType "<label>"` stanza of a parsed document: Vault's JSON form gives
 * `{ type: { label: body } }` or `{ type: [{ label: body }] }`, an HCL policy read by hcl2json
 * `{ type: { label: [body, ...] } }`. A body that is not an object is reported through `malformed`.
 */
export function labelledBlocks(
    document: Record<string, unknown>,
    blockType: string,
    malformed: (label: string) => void = () => undefined,
): LabelledBlock[] {
    const blocks: LabelledBlock[] = [];
    const visit = (value: unknown): void => {
        if (Array.isArray(value)) {
            value.forEach(visit);
            return;
        }
        if (!isRecord(value)) {
            if (value !== undefined) {
                malformed("");
            }
            return;
        }
        for (const [label, bodies] of Object.entries(value)) {
            for (const body of Array.isArray(bodies) ? (bodies as unknown[]) : [bodies]) {
                if (isRecord(body)) {
                    blocks.push({ label, body });
                } else {
                    malformed(label);
                }
            }
        }
    };
    visit(document[blockType]);
    return blocks;
}

// ---------------------------------------------------------------------------------------------
// The Vault chart: its inputs, and the objects it renders
// ---------------------------------------------------------------------------------------------

/** Resource types that install a Helm chart from `chart` with `values`. */
const HELM_TYPES = new Set(["kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v3:Chart"]);

/** The chart's name in a chart reference: `vault`, `hashicorp/vault`, `oci://host/charts/vault`, `./vault-0.34.1.tgz`. */
export function chartName(reference: string): string {
    const last = reference.trim().replace(/\/+$/, "").split("/").pop() ?? "";
    return last
        .replace(/\.tgz$/, "")
        .replace(/-v?\d+\.\d+\.\d+.*$/, "")
        .replace(/[:@].*$/, "");
}

/**
 * The server charts the policies hold to: hashicorp/vault, and openbao/openbao, OpenBao's fork of it,
 * which keeps the values these policies read (`server.ha.*`, `server.dev.enabled`, `injector.enabled`,
 * `global.tlsDisable`, the `<release>-config` ConfigMap's `extraconfig-from-values.hcl`).
 */
export const SERVER_CHARTS: readonly string[] = ["vault", "openbao"];

/** Whether the resource installs the hashicorp/vault chart, or OpenBao's (by its `chart` input). */
export function isVaultChart(resource: ResourceData): boolean {
    const chart = resource.props.chart;
    return HELM_TYPES.has(resource.type) && typeof chart === "string" && SERVER_CHARTS.includes(chartName(chart));
}

/** The `helm.sh/chart` label the server chart puts on what it renders: `vault-<version>`, `openbao-<version>`. */
const VAULT_CHART_LABEL = new RegExp(`^(${SERVER_CHARTS.join("|")})-\\d`);

/** The Vault servers' StatefulSet as the chart renders it (pod label `component: server`). */
export function isRenderedVaultServer(resource: ResourceData): boolean {
    const labels = recordAt(resource.props, "spec", "template", "metadata", "labels");
    return (
        resource.type === "kubernetes:apps/v1:StatefulSet" &&
        typeof labels["helm.sh/chart"] === "string" &&
        VAULT_CHART_LABEL.test(labels["helm.sh/chart"]) &&
        labels.component === "server"
    );
}

/**
 * The key of the chart's server configuration in its `<release>-config` ConfigMap. The chart keeps the
 * `.hcl` name for a JSON configuration too (it re-renders JSON compactly, adding `disable_mlock`).
 */
export const RENDERED_CONFIG_KEY = "extraconfig-from-values.hcl";

/** The servers' configuration ConfigMap as the chart renders it. */
export function isRenderedVaultConfig(resource: ResourceData): boolean {
    const label = recordAt(resource.props, "metadata", "labels")["helm.sh/chart"];
    return (
        resource.type === "kubernetes:core/v1:ConfigMap" &&
        typeof label === "string" &&
        VAULT_CHART_LABEL.test(label) &&
        typeof recordAt(resource.props, "data")[RENDERED_CONFIG_KEY] === "string"
    );
}

/**
 * Which of the chart's server configurations applies with these values: as the chart's `vault.config`
 * helper picks it, `server.ha.raft.config` whenever Raft is enabled, else the mode's own
 * (`server.ha.config` with HA, `server.standalone.config` without).
 */
function serverConfig(values: Record<string, unknown>): { readonly key: string; readonly config: unknown } {
    const server = recordAt(values, "server");
    if (truthy(at(server, "ha", "raft", "enabled"))) {
        return { key: "server.ha.raft.config", config: at(server, "ha", "raft", "config") };
    }
    return truthy(at(server, "ha", "enabled"))
        ? { key: "server.ha.config", config: at(server, "ha", "config") }
        : { key: "server.standalone.config", config: at(server, "standalone", "config") };
}

/**
 * A server configuration from the values: JSON text. (An object is read as it is, although chart
 * 0.34 refuses one: "structured server config is not supported".)
 */
function configDocument(config: unknown): Record<string, unknown> {
    if (isRecord(config)) {
        return config;
    }
    if (typeof config !== "string") {
        throw new Error(`it is ${show(config)}, not JSON text`);
    }
    return parseServerConfig(config);
}

/** Problems with the `storage` of a server configuration: it must be Raft. */
function raftStorageProblems(document: Record<string, unknown>): string[] {
    const storage = labelledBlocks(document, "storage").map((block) => block.label);
    return storage.length === 1 && storage[0] === "raft"
        ? []
        : [`its storage is ${storage.length === 0 ? "missing" : storage.join(", ")}, not a single "storage": {"raft": {...}}`];
}

/** Problems with the TCP listeners of a server configuration: none may turn TLS off. */
function listenerTlsProblems(document: Record<string, unknown>): string[] {
    return labelledBlocks(document, "listener")
        .filter((block) => block.label === "tcp" && truthy(block.body.tls_disable))
        .map(
            (block) =>
                `its "tcp" listener at ${show(block.body.address ?? "[::]:8200")} sets "tls_disable": ${show(block.body.tls_disable)}`,
        );
}

/** The configuration of `minimumRaftReplicas` for {@link checkRaftReplicas}. */
export interface RaftReplicaConfig {
    /** Default 3; a single-server dev stack may set 1. */
    readonly minimumRaftReplicas?: number;
}

function replicaProblem(replicas: unknown, minimum: number): string | undefined {
    if (typeof replicas !== "number" || !Number.isInteger(replicas)) {
        return `is ${show(replicas)}, not a whole number`;
    }
    if (replicas % 2 === 0) {
        return `is ${replicas}, an even number: Raft needs a majority of voters, so an even count adds a server without tolerating one more failure`;
    }
    if (replicas < minimum) {
        return `is ${replicas}, fewer than the ${minimum} this stack requires (minimumRaftReplicas)`;
    }
    return undefined;
}

const REPLICA_FIX = (minimum: number) =>
    `Set vault.replicas (the chart's server.ha.replicas) to an odd number of at least ${minimum}: 3 or 5 in production; a single-server dev stack sets minimumRaftReplicas 1 in its policy config`;

/**
 * `vault-raft-replicas`: the Vault chart runs HA on integrated Raft storage with an odd number of
 * servers, at least `minimumRaftReplicas`, and never in dev mode. Checked on the chart's inputs
 * (`server.ha.enabled`, `server.ha.raft.enabled`, `server.ha.replicas`, `server.dev.enabled`) and
 * on what the chart renders (the servers' StatefulSet replicas, the configuration's `"storage": {"raft": ...}`).
 */
export function checkRaftReplicas(resource: ResourceData, config: RaftReplicaConfig = {}): string[] {
    const minimum = config.minimumRaftReplicas ?? DEFAULT_MINIMUM_RAFT_REPLICAS;
    const who = describeResource(resource);
    const problems: string[] = [];
    if (isVaultChart(resource)) {
        const values = recordAt(resource.props, "values");
        if (truthy(at(values, "server", "dev", "enabled"))) {
            problems.push(
                `${who}: server.dev.enabled is true, which runs an in-memory Vault with a known root token. Remove server.dev.enabled.`,
            );
        }
        if (at(values, "server", "ha", "enabled") !== true) {
            problems.push(
                `${who}: server.ha.enabled is ${show(at(values, "server", "ha", "enabled"))}, so the chart runs one standalone server. Set server.ha.enabled: true (the VaultServer component does).`,
            );
        }
        if (at(values, "server", "ha", "raft", "enabled") !== true) {
            problems.push(
                `${who}: server.ha.raft.enabled is ${show(at(values, "server", "ha", "raft", "enabled"))}, so the servers do not use integrated Raft storage. Set server.ha.raft.enabled: true with a "storage": {"raft": {...}} configuration (the VaultServer component does).`,
            );
        }
        const problem = replicaProblem(at(values, "server", "ha", "replicas"), minimum);
        if (problem !== undefined) {
            problems.push(`${who}: server.ha.replicas ${problem}. ${REPLICA_FIX(minimum)}.`);
        }
        return problems;
    }
    if (isRenderedVaultServer(resource)) {
        const problem = replicaProblem(at(resource.props, "spec", "replicas"), minimum);
        if (problem !== undefined) {
            problems.push(`${who}: the Vault servers' StatefulSet replicas ${problem}. ${REPLICA_FIX(minimum)}.`);
        }
        const args = ((at(resource.props, "spec", "template", "spec", "containers") as unknown[] | undefined) ?? [])
            .flatMap((container) => [
                ...((at(container, "command") as unknown[] | undefined) ?? []),
                ...((at(container, "args") as unknown[] | undefined) ?? []),
            ])
            .filter((arg): arg is string => typeof arg === "string")
            .join(" ");
        const dev = /\b(vault|bao) server\b.*\s-dev(\s|=|$)/.exec(args);
        if (dev !== null) {
            problems.push(
                `${who}: the Vault servers run "${dev[1]} server -dev" (in memory, known root token). Remove server.dev.enabled from the chart's values.`,
            );
        }
        return problems;
    }
    if (isRenderedVaultConfig(resource)) {
        problems.push(
            ...renderedConfigProblems(
                resource,
                who,
                raftStorageProblems,
                'Run the chart with server.ha.raft.enabled and a "storage": {"raft": {...}} configuration (the VaultServer component does).',
                "its storage cannot be checked",
            ),
        );
    }
    return problems;
}

/**
 * The problems `check` finds in the Vault server configuration a rendered ConfigMap holds, each with
 * `fix`; when it cannot be parsed, that, and what therefore `unchecked` stays.
 */
function renderedConfigProblems(
    resource: ResourceData,
    who: string,
    check: (document: Record<string, unknown>) => string[],
    fix: string,
    unchecked: string,
): string[] {
    try {
        const document = parseServerConfig(String(recordAt(resource.props, "data")[RENDERED_CONFIG_KEY]));
        return check(document).map((problem) => `${who}: the Vault server configuration: ${problem}. ${fix}`);
    } catch (error) {
        return [
            `${who}: the Vault server configuration (${RENDERED_CONFIG_KEY}) cannot be parsed: ${(error as Error).message}. So ${unchecked}. Write the chart's server.ha.raft.config as JSON.`,
        ];
    }
}

/**
 * `vault-injector-off`: the Vault Agent injector is off (`injector.enabled: false`); the External
 * Secrets Operator delivers secrets. Checked on the chart's inputs and on rendered injector objects
 * (its Deployment and MutatingWebhookConfiguration).
 */
export function checkInjectorOff(resource: ResourceData): string[] {
    const who = describeResource(resource);
    const fix =
        "Set injector.enabled: false in the Vault chart's values (the VaultServer component does): secrets reach pods through the External Secrets Operator, and the injector's webhook would mutate every pod in the cluster.";
    if (isVaultChart(resource)) {
        const enabled = at(recordAt(resource.props, "values"), "injector", "enabled");
        return enabled === false
            ? []
            : [
                  `${who}: injector.enabled is ${show(enabled)}${enabled === undefined ? ' (the chart\'s default "-" follows global.enabled, so the injector runs)' : ""}. ${fix}`,
              ];
    }
    const name = recordAt(resource.props, "metadata", "labels")["app.kubernetes.io/name"];
    const injectorLabel = typeof name === "string" && /-agent-injector$/.test(name);
    const webhooks = at(resource.props, "webhooks");
    const injectorWebhook =
        resource.type.startsWith("kubernetes:admissionregistration.k8s.io/") &&
        Array.isArray(webhooks) &&
        webhooks.some((webhook) => at(webhook, "name") === "vault.hashicorp.com");
    const kind = /:(Deployment|MutatingWebhookConfiguration)$/.exec(resource.type)?.[1];
    if ((kind !== undefined && injectorLabel) || injectorWebhook) {
        return [`${who}: this is the Vault Agent injector's ${kind ?? "webhook"}. ${fix}`];
    }
    return [];
}

/** The configuration of {@link checkTlsOn}. */
export interface TlsConfig {
    /** The explicit waiver: a stack that runs Vault without TLS on purpose (the component's `vault.tls.allowPlaintext`). Default false. */
    readonly allowPlaintext?: boolean;
}

const TLS_FIX =
    "Serve TLS: leave vault.tls.source at cert-manager (or secret), which sets global.tlsDisable: false and a TLS listener; a stack that really runs without TLS sets allowPlaintext: true in this policy's config (and vault.tls.allowPlaintext in its stack config)";

/**
 * `vault-tls-on`: the Vault servers serve TLS: the chart's `global.tlsDisable` is false and no TCP
 * listener in the server configuration that applies sets `tls_disable` (the chart's default
 * configurations all do). Checked on the chart's inputs and on what it renders (the servers'
 * `VAULT_ADDR` scheme, the configuration's listeners). `allowPlaintext` waives it.
 */
export function checkTlsOn(resource: ResourceData, config: TlsConfig = {}): string[] {
    if (config.allowPlaintext === true) {
        return [];
    }
    const who = describeResource(resource);
    const problems: string[] = [];
    if (isVaultChart(resource)) {
        const values = recordAt(resource.props, "values");
        const tlsDisable = at(values, "global", "tlsDisable");
        if (tlsDisable !== false) {
            problems.push(
                `${who}: global.tlsDisable is ${show(tlsDisable)}${tlsDisable === undefined ? " (the chart's default is true)" : ""}, so clients and probes use plain HTTP. ${TLS_FIX}.`,
            );
        }
        if (truthy(at(values, "server", "dev", "enabled"))) {
            return problems;
        }
        const { key, config: serverConfigValue } = serverConfig(values);
        if (serverConfigValue === undefined) {
            problems.push(`${who}: ${key} is not set, and the chart's default configuration sets tls_disable on its listener. ${TLS_FIX}.`);
            return problems;
        }
        try {
            for (const problem of listenerTlsProblems(configDocument(serverConfigValue))) {
                problems.push(`${who}: ${key}: ${problem}. ${TLS_FIX}.`);
            }
        } catch (error) {
            problems.push(
                `${who}: ${key} cannot be parsed: ${(error as Error).message}. So its listeners cannot be checked for TLS. Write it as JSON.`,
            );
        }
        return problems;
    }
    if (isRenderedVaultServer(resource)) {
        const containers = (at(resource.props, "spec", "template", "spec", "containers") as unknown[] | undefined) ?? [];
        const address = containers
            .flatMap((container) => (at(container, "env") as unknown[] | undefined) ?? [])
            // OpenBao's chart names it BAO_ADDR.
            .find((variable) => ["VAULT_ADDR", "BAO_ADDR"].includes(String(at(variable, "name"))));
        const value = at(address, "value");
        if (typeof value === "string" && value.startsWith("http://")) {
            problems.push(
                `${who}: the Vault servers' ${String(at(address, "name"))} is ${value}: the chart was rendered with global.tlsDisable true. ${TLS_FIX}.`,
            );
        }
        return problems;
    }
    if (isRenderedVaultConfig(resource)) {
        problems.push(
            ...renderedConfigProblems(resource, who, listenerTlsProblems, `${TLS_FIX}.`, "its listeners cannot be checked for TLS"),
        );
    }
    return problems;
}

// ---------------------------------------------------------------------------------------------
// External Secrets Operator
// ---------------------------------------------------------------------------------------------

const ESO_TYPE = /^kubernetes:external-secrets\.io\/([^:]+):([A-Za-z]+)$/;

/**
 * `eso-api-v1`: ClusterSecretStores, SecretStores, ExternalSecrets and ClusterExternalSecrets are
 * declared at `external-secrets.io/v1`, by their type token and by their `apiVersion` input.
 * PushSecret (and the generators) stay `v1alpha1`, which is fine.
 */
export function checkEsoApiV1(resource: ResourceData): string[] {
    const kinds: readonly string[] = ESO_V1_KINDS;
    const fromType = ESO_TYPE.exec(resource.type);
    const apiVersion = resource.props.apiVersion;
    const kind = fromType?.[2] ?? (typeof resource.props.kind === "string" ? resource.props.kind : undefined);
    if (kind === undefined || !kinds.includes(kind)) {
        return [];
    }
    const versions = new Set<string>();
    if (fromType !== null) {
        versions.add(fromType[1]);
    }
    if (typeof apiVersion === "string" && apiVersion.startsWith("external-secrets.io/")) {
        versions.add(apiVersion.slice("external-secrets.io/".length));
    }
    const wrong = [...versions].filter((version) => version !== "v1");
    return wrong.length === 0
        ? []
        : [
              `${describeResource(resource)}: ${kind} is declared at external-secrets.io/${wrong.join(", external-secrets.io/")}. ESO stopped serving v1beta1 in 0.17 (chart 2.x serves only v1): declare it with apiVersion external-secrets.io/v1 (the components' builders in components/stores/storeSpecs.ts and components/replication/replicationSpecs.ts do).`,
          ];
}

// ---------------------------------------------------------------------------------------------
// Vault tokens and policies
// ---------------------------------------------------------------------------------------------

/**
 * Seconds in a Vault duration as the provider sends it: whole seconds (`"3600"`) or a Go-style duration
 * with Vault's `d` for days (`"720h"`, `"1h30m"`, `"30d"`); undefined when it is neither.
 */
export function durationSeconds(value: unknown): number | undefined {
    if (typeof value === "number") {
        return Number.isFinite(value) && value >= 0 ? value : undefined;
    }
    if (typeof value !== "string") {
        return undefined;
    }
    const text = value.trim();
    if (/^\d+$/.test(text)) {
        return Number(text);
    }
    const units: Readonly<Record<string, number>> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600, d: 86400 };
    const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/g)];
    if (parts.length === 0 || parts.map((part) => part[0]).join("") !== text) {
        return undefined;
    }
    return parts.reduce((sum, [, amount, unit]) => sum + Number(amount) * units[unit], 0);
}

/**
 * `peer-tokens-push-only`: every `vault:index/token:Token` is an orphan (`noParent: true`), periodic
 * (`period` set, no `ttl`), with an explicit maximum lifetime longer than its period and at most
 * {@link MAX_TOKEN_LIFETIME_HOURS} (so a leaked token cannot be renewed forever), renewable, and
 * carries exactly one single-purpose policy from {@link TOKEN_POLICIES}: the push policy for a peer
 * token (the metrics policy for the monitoring component's scrape token), never `root` and nothing else.
 */
export function checkVaultToken(resource: ResourceData): string[] {
    if (resource.type !== "vault:index/token:Token") {
        return [];
    }
    const who = describeResource(resource);
    const props = resource.props;
    const problems: string[] = [];
    if (props.noParent !== true) {
        problems.push(
            `${who}: noParent is ${show(props.noParent)}, so the token is a child of the Vault provider's own 20-minute token and is revoked with it. Set noParent: true (peerTokenSettings in components/vault-config/setupValues.ts does).`,
        );
    }
    const period = durationSeconds(props.period);
    if (!isSet(props.period) || period === 0) {
        problems.push(
            `${who}: period is ${show(props.period)}, so the token expires for good at its TTL. Set period (the components use "720h"; their token renewer, components/token-renewal/renewalSpecs.ts, renews it).`,
        );
    }
    if (isSet(props.ttl)) {
        problems.push(
            `${who}: ttl is ${show(props.ttl)}: a periodic token lives as long as it is renewed within its period, up to its explicitMaxTtl; a ttl ends it anyway. Remove ttl.`,
        );
    }
    const cap = durationSeconds(props.explicitMaxTtl);
    const fix = `Set explicitMaxTtl to at most "${MAX_TOKEN_LIFETIME_HOURS}h" (LONG_LIVED_TOKEN in components/token-renewal/tokenLifetime.ts does) and rotate the token before it`;
    if (!isSet(props.explicitMaxTtl)) {
        problems.push(
            `${who}: explicitMaxTtl is not set, so a periodic token renewed in time never ends, and a leaked one can be renewed forever. ${fix}.`,
        );
    } else if (cap === undefined) {
        problems.push(`${who}: explicitMaxTtl is ${show(props.explicitMaxTtl)}, which is not a duration Vault reads. ${fix}.`);
    } else if (cap > MAX_TOKEN_LIFETIME_HOURS * 3600) {
        problems.push(`${who}: explicitMaxTtl is ${show(props.explicitMaxTtl)}, longer than a year. ${fix}.`);
    } else if (period !== undefined && period > 0 && cap <= period) {
        problems.push(
            `${who}: explicitMaxTtl is ${show(props.explicitMaxTtl)}, no longer than its period ${show(props.period)}, so the token ends before a renewal can extend it. ${fix}.`,
        );
    }
    if (props.renewable !== true) {
        problems.push(
            `${who}: renewable is ${show(props.renewable)}, so the token cannot be renewed and dies at the end of its period. Set renewable: true.`,
        );
    }
    const policies = props.policies;
    const list = Array.isArray(policies) ? (policies as unknown[]) : undefined;
    if (list?.includes("root")) {
        problems.push(
            `${who}: policies include "root": the token could do anything in Vault, forever. Give it only ${show(PEER_PUSH_POLICY_NAME)}.`,
        );
    } else if (
        list === undefined ||
        list.length !== 1 ||
        typeof list[0] !== "string" ||
        !TOKEN_POLICIES.some(({ matches }) => matches(list[0] as string))
    ) {
        problems.push(
            `${who}: policies are ${show(policies)}${list === undefined ? " (an orphan token then gets the creating token's policies)" : ""}; a token carries exactly one single-purpose policy: ${TOKEN_POLICIES.map(({ name, why }) => `${show(name)} (${why})`).join(" or ")}. Set policies: [${show(PEER_PUSH_POLICY_NAME)}] for a peer token.`,
        );
    }
    return problems;
}

/** Vault's legacy `policy = "..."` stanza, as capabilities. */
const LEGACY_POLICY: Readonly<Record<string, readonly string[]>> = {
    deny: ["deny"],
    read: ["read", "list"],
    write: ["create", "read", "update", "delete", "list"],
    sudo: ["create", "read", "update", "delete", "list", "sudo"],
};

/**
 * Whether a Vault path pattern puts a wildcard in its first segment (the mount): `+` there (one
 * segment, any name), or a single-segment pattern ending in `*` (`*`, `s*`, `secret*`), the prefix
 * glob that then spans mounts. (`*` is special only as the last character.)
 */
export function hasRootWildcard(pattern: string): boolean {
    const slash = pattern.indexOf("/");
    const first = slash === -1 ? pattern : pattern.slice(0, slash);
    return first === "+" || (slash === -1 && pattern.endsWith("*"));
}

/** Whether a Vault path pattern can match `sys` or anything under `sys/`. */
export function reachesSys(pattern: string): boolean {
    const slash = pattern.indexOf("/");
    if (slash === -1) {
        // One segment: `sys`, `+` (which matches the segment `sys`), or a glob whose prefix `sys/` starts with.
        return pattern === "sys" || pattern === "+" || (pattern.endsWith("*") && "sys/".startsWith(pattern.slice(0, -1)));
    }
    const first = pattern.slice(0, slash);
    return first === "sys" || first === "+";
}

/** The KV v2 sub-tree a path names (`<mount>/data/...` or `<mount>/metadata/...`), and what follows it. */
export function kvTree(pattern: string): { readonly mount: string; readonly tree: "data" | "metadata"; readonly rest: string } | undefined {
    const match = /^([^/]+)\/(data|metadata)\/(.*)$/.exec(pattern);
    return match === null ? undefined : { mount: match[1], tree: match[2] as "data" | "metadata", rest: match[3] };
}

/**
 * The KV v2 paths, after the mount, that change versions or the engine's settings rather than a
 * secret's data: `delete/<path>` (soft-deletes versions), `undelete/<path>`, `destroy/<path>`
 * (erases versions for good), each a write (`update`), and `config` (`max_versions`,
 * `delete_version_after`, `cas_required` for the whole mount). (vault-plugin-secrets-kv
 * `path_delete.go`, `path_destroy.go`, `path_config.go`; https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2.)
 */
export const KV_CONTROL_PATHS = ["delete/", "undelete/", "destroy/", "config"] as const;

/**
 * Whether a Vault path pattern may match one of {@link KV_CONTROL_PATHS} under the mount its first
 * segment names: it names one, has `+` as its second segment, or ends in a `*` whose prefix one
 * of them starts with (`secret/*`, `secret/d*`, `secret/config*`).
 */
export function reachesKvControl(pattern: string): boolean {
    const slash = pattern.indexOf("/");
    if (slash === -1) {
        return false;
    }
    const rest = pattern.slice(slash + 1);
    if (rest.split("/")[0] === "+" || rest === "config" || KV_CONTROL_PATHS.some((path) => path.endsWith("/") && rest.startsWith(path))) {
        return true;
    }
    return rest.endsWith("*") && KV_CONTROL_PATHS.some((path) => path.startsWith(rest.slice(0, -1)));
}

/**
 * The one write on a KV v2 control path the pack allows: in the replicator's own policy
 * ({@link REPLICATOR_POLICY}), `update` alone on `<mount>/delete/<key>`, where `<key>` is an exact
 * secret path (no `+` or `*`, no empty, `.` or `..` segment, not the replicators' own records under
 * {@link REPLICATION_PREFIX}) that the same policy also writes (`create` or `update` on
 * `<mount>/data/<key>`). That is the KV v2 soft delete of the key's versions, which `undelete` can
 * reverse (vault-plugin-secrets-kv `path_delete.go`; https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#delete-latest-version-of-secret):
 * how the replicator applies a deletion replicated from a peer, for the secrets every region writes
 * (`writers: any`), the only ones its policy names (components/replication/replicatorSpecs.ts
 * `replicatorPolicyDocument`). Never `destroy/`, `undelete/` or `config`, never another capability,
 * never another policy.
 * @param dataWrites the paths the same document grants `create` or `update` on
 */
export function isReplicatorSoftDelete(
    policyName: string,
    path: string,
    granted: ReadonlySet<string>,
    dataWrites: ReadonlySet<string>,
): boolean {
    const match = /^([^/+*]+)\/delete\/(.+)$/.exec(path);
    if (policyName !== REPLICATOR_POLICY || match === null || granted.size !== 1 || !granted.has("update")) {
        return false;
    }
    const [, mount, key] = match;
    const segments = key.split("/");
    return (
        !/[+*]/.test(key) &&
        !segments.some((segment) => segment === "" || segment === "." || segment === "..") &&
        segments[0] !== REPLICATION_PREFIX &&
        dataWrites.has(`${mount}/data/${key}`)
    );
}

/** Whether `allowed_parameters` (as JSON or HCL parses it) admits `custom_metadata` and nothing else. */
function onlyCustomMetadata(allowed: unknown): boolean {
    const object = Array.isArray(allowed) && allowed.length === 1 ? (allowed[0] as unknown) : allowed;
    return isRecord(object) && Object.keys(object).length === 1 && "custom_metadata" in object;
}

/**
 * A grant on a KV v2 tree reaches one namespace's prefix, or exact secrets, never the whole tree
 * (`secret/data/*`, `secret/data/+/...`, `secret/data/a*`); a write on metadata may carry
 * `custom_metadata` alone, so no writer can set `max_versions`, `delete_version_after` or
 * `cas_required`, which destroy versions.
 */
function kvScopeProblems(where: string, path: string, granted: ReadonlySet<string>, allowedParameters: unknown): string[] {
    const kv = kvTree(path);
    if (kv === undefined) {
        return [];
    }
    const problems: string[] = [];
    const first = kv.rest.split("/")[0];
    if (first === "+" || first.endsWith("*")) {
        problems.push(
            `${where} reaches every namespace's secrets under ${kv.mount}/${kv.tree}/. Scope it to one prefix (${kv.mount}/${kv.tree}/<namespace>/*, or the namespace template ${POLICY_SOURCE} writes) or to exact secrets.`,
        );
    }
    if (kv.tree === "metadata" && (granted.has("create") || granted.has("update")) && !onlyCustomMetadata(allowedParameters)) {
        problems.push(
            `${where} lets a writer set max_versions, delete_version_after or cas_required, which destroy versions. Add allowed_parameters {"custom_metadata": []} (ESO writes nothing else there).`,
        );
    }
    return problems;
}

/**
 * `vault-policies-least-privilege`: a `vault:index/policy:Policy` document (Vault's JSON form, as the
 * components write it, or HCL written by hand: {@link parsePolicyDocument}) grants no `sudo`,
 * `delete`, `list` or `patch`; no `create` or `update` that may reach a KV v2 mount's
 * {@link KV_CONTROL_PATHS} (nothing may destroy versions; only the replicator may soft-delete, on
 * exact keys it writes: {@link isReplicatorSoftDelete}); no wildcard (`+`, `*`) in a path's first
 * segment unless the stanza only denies; and nothing under `sys/` but {@link ALLOWED_SYS_PATHS}
 * (`read` on `sys/storage/raft/snapshot`, and on `sys/metrics` for the metrics scrape). A stanza with
 * `deny` grants nothing, so it is always allowed. A document that cannot be parsed is a violation.
 */
export async function checkVaultPolicy(resource: ResourceData): Promise<string[]> {
    if (resource.type !== "vault:index/policy:Policy") {
        return [];
    }
    const policyName = typeof resource.props.name === "string" ? resource.props.name : resource.name;
    const who = `${describeResource(resource)} (Vault policy ${show(policyName)})`;
    const text = resource.props.policy;
    if (typeof text !== "string") {
        return [
            `${who}: its policy document is ${show(text)}, not text (Vault's JSON policy form, or HCL), so it cannot be checked. Set policy to the document (${POLICY_SOURCE} writes them).`,
        ];
    }
    let document: Record<string, unknown>;
    try {
        document = await parsePolicyDocument(text, `${policyName}.hcl`);
    } catch (error) {
        return [
            `${who}: its policy document cannot be parsed, so it cannot be checked: ${(error as Error).message}. Vault would refuse it too: write it in Vault's JSON policy form, {"path": {"<path>": {"capabilities": [...]}}} (${POLICY_SOURCE} does), or fix the HCL.`,
        ];
    }
    const problems: string[] = [];
    for (const key of Object.keys(document)) {
        if (key !== "path" && key !== "name") {
            problems.push(`${who}: ${show(key)} is not a Vault policy stanza (only "path" is). Remove it.`);
        }
    }
    const blocks = labelledBlocks(document, "path", (label) =>
        problems.push(
            `${who}: the path stanza ${show(label)} is malformed (each path needs a body). Write "path": {"<path>": {"capabilities": [...]}}.`,
        ),
    );
    const sysAllowed = Object.entries(ALLOWED_SYS_PATHS)
        .map(([path, capabilities]) => `${capabilities.join(", ")} on ${path}`)
        .join(" and ");
    // The paths this document writes (by capabilities; a legacy `write` is refused below anyway), for the replicator's soft delete.
    const dataWrites = new Set(
        blocks
            .filter(({ body }) => {
                const capabilities: unknown = body.capabilities;
                return (
                    Array.isArray(capabilities) &&
                    !capabilities.includes("deny") &&
                    (capabilities.includes("create") || capabilities.includes("update"))
                );
            })
            .map(({ label }) => label.replace(/^\/+/, "")),
    );
    for (const { label, body } of blocks) {
        const path = label.replace(/^\/+/, "");
        const where = `${who}: path ${show(label)}`;
        const capabilities = body.capabilities ?? [];
        if (!Array.isArray(capabilities) || capabilities.some((capability) => typeof capability !== "string")) {
            problems.push(`${where}: capabilities is ${show(capabilities)}, not a list of strings. Fix the stanza.`);
            continue;
        }
        const granted = new Set<string>(capabilities as string[]);
        if (body.policy !== undefined) {
            const legacy = typeof body.policy === "string" ? LEGACY_POLICY[body.policy] : undefined;
            if (legacy === undefined) {
                problems.push(
                    `${where}: its legacy policy ${show(body.policy)} is not deny, read, write or sudo. Use capabilities instead.`,
                );
                continue;
            }
            legacy.forEach((capability) => granted.add(capability));
        }
        if (granted.has("deny") || granted.size === 0) {
            continue; // grants nothing
        }
        for (const capability of ["sudo", "delete", "list", "patch"]) {
            if (granted.has(capability)) {
                problems.push(
                    `${where} grants ${show(capability)}${body.policy !== undefined ? ` (through the legacy policy ${show(body.policy)})` : ""}, which no role here needs (see POLICY_TABLE in components/vault-config/policies.ts: create, read and update only). Remove ${show(capability)}.`,
                );
            }
        }
        const writes = ["create", "update", "patch"].filter((capability) => granted.has(capability));
        if (writes.length > 0 && reachesKvControl(path) && !isReplicatorSoftDelete(policyName, path, granted, dataWrites)) {
            problems.push(
                `${where} grants ${writes.join(", ")} where it may reach a KV v2 mount's delete/, undelete/, destroy/ or config, which delete or destroy versions, or change every secret's version retention. Nothing here may (but ${REPLICATOR_POLICY}, with update alone on <mount>/delete/<key> for an exact key it writes): scope it to <mount>/data/... and <mount>/metadata/... paths.`,
            );
        }
        problems.push(...kvScopeProblems(where, path, granted, body.allowed_parameters));
        if (hasRootWildcard(path)) {
            problems.push(
                `${where} has a wildcard in its first segment, so it spans every mount (and sys/). Name the mount: e.g. "secret/data/*".`,
            );
        }
        if (reachesSys(path)) {
            const allowed = ALLOWED_SYS_PATHS[path];
            const extra = [...granted].filter((capability) => allowed === undefined || !allowed.includes(capability));
            if (allowed === undefined || extra.length > 0) {
                problems.push(
                    `${where} reaches sys/${allowed === undefined ? "" : ` with ${extra.join(", ")}`}: the only sys/ grants allowed are ${sysAllowed}. Remove it.`,
                );
            }
        }
    }
    return problems;
}

// ---------------------------------------------------------------------------------------------
// Credentials in plain places
// ---------------------------------------------------------------------------------------------

/** What a credential-shaped value is, as a message says it (never the value itself). */
const SHAPES: readonly { readonly what: string; readonly pattern: RegExp }[] = [
    { what: "a Vault token (hvs./hvb./hvr.)", pattern: /(?<![A-Za-z0-9_])hv[sbr]\.[A-Za-z0-9_-]{20,}/ },
    { what: "a legacy Vault service token (s. and 24 characters)", pattern: /(?<![A-Za-z0-9_])s\.[A-Za-z0-9]{24}(?![A-Za-z0-9])/ },
    { what: "a PEM private key", pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/ },
    { what: "an AWS secret access key", pattern: /aws_?secret_?access_?key["']?\s*[:=]\s*["']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])/i },
];

/** A key named like AWS's secret access key (`aws_secret_access_key`, `AWS_SECRET_ACCESS_KEY`, `secretAccessKey`), letters only. */
const AWS_SECRET_KEY_NAME = /secretaccesskey$/i;

/** Words that make a key's name a credential's (`password`, `dbPassword`, `client_secret`, `accessToken`). */
const CREDENTIAL_WORDS = ["password", "passwd", "secret", "token"];

/**
 * Last words that make a credential-named key a reference or a setting rather than the credential:
 * `tokenSecretName`, `password-file`, `token_ttl`, `secretRef`, `token-expiration`.
 */
const REFERENCE_WORDS = new Set([
    "name",
    "names",
    "ref",
    "refs",
    "reference",
    "path",
    "paths",
    "file",
    "files",
    "dir",
    "url",
    "uri",
    "endpoint",
    "mount",
    "ttl",
    "ttls",
    "expiration",
    "expiry",
    "expires",
    "seconds",
    "duration",
    "period",
    "interval",
    "audience",
    "audiences",
    "type",
    "kind",
    "namespace",
    "length",
    "policy",
    "policies",
    "role",
    "roles",
    "enabled",
    "required",
    "version",
    "selector",
]);

/** The words of a key: the part after the last `/` (an annotation's prefix), split at non-alphanumerics and camelCase. */
function keyWords(key: string): string[] {
    const name = key.slice(key.lastIndexOf("/") + 1);
    return name
        .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
        .split(/[^A-Za-z0-9]+/)
        .filter((word) => word !== "")
        .map((word) => word.toLowerCase());
}

/** Whether a key is named like a credential: a word ends in password, passwd, secret or token, and the last word is not a reference's. */
export function isCredentialKey(key: string): boolean {
    const words = keyWords(key);
    return (
        words.length > 0 &&
        words.some((word) => CREDENTIAL_WORDS.some((credential) => word.endsWith(credential))) &&
        !REFERENCE_WORDS.has(words[words.length - 1])
    );
}

/**
 * Whether a value under a credential-named key could be the credential: not empty, a boolean, a
 * number, a duration, a placeholder, or a reference to where the credential is (Vault's indirect
 * values `file://<path>` and `env://<name>`, which its seal configuration reads: the transit seal's
 * `token`). A `string://` value is the credential itself, so it still counts.
 */
function couldBeCredential(value: string): boolean {
    const trimmed = value.trim();
    return (
        trimmed !== "" &&
        !/^(true|false|yes|no|on|off|null|none|~)$/i.test(trimmed) &&
        !/^-?\d+(\.\d+)?$/.test(trimmed) &&
        !/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d|w))+$/.test(trimmed) &&
        !/^(\$\{[^}]*\}|\$\([^)]*\)|\{\{.*\}\})$/.test(trimmed) &&
        !/^(file:\/\/\/[^\s"']+|env:\/\/[A-Za-z_][A-Za-z0-9_]*)$/.test(trimmed)
    );
}

/** What credential shapes a text contains. */
export function credentialShapes(text: string): string[] {
    return SHAPES.filter((shape) => shape.pattern.test(text)).map((shape) => shape.what);
}

/** `key = value`, `key: value`, `"key": "value"` assignments inside a text (config files in ConfigMaps). */
const ASSIGNMENT = /(?:^|[\s{,;])["']?([A-Za-z0-9_.-]+)["']?[ \t]*[:=][ \t]*(?:"([^"\n]*)"|'([^'\n]*)'|([^\s,;#}\n]+))/gm;

/** Keys inside a text whose values could be credentials. */
function credentialAssignments(text: string): string[] {
    const keys = new Set<string>();
    for (const match of text.matchAll(ASSIGNMENT)) {
        const value = match[2] ?? match[3] ?? match[4] ?? "";
        if (isCredentialKey(match[1]) && couldBeCredential(value)) {
            keys.add(match[1]);
        }
    }
    return [...keys];
}

/** The configuration of the credential checks. */
export interface PlainSecretConfig {
    /**
     * Keys (exact annotation, ConfigMap or output keys) known not to hold a credential although named
     * like one. They skip only the name check, never the token, private-key and AWS-key shapes.
     */
    readonly allowedKeys?: readonly string[];
    /** Stack outputs the program exports with `pulumi.secret`, exempt from the output check. Default `["peerAccess"]`. */
    readonly secretOutputs?: readonly string[];
}

/** What credential-like content a value under `key` holds; `embedded` also looks at assignments inside it (config files). */
function findings(key: string, value: string, config: PlainSecretConfig, embedded: boolean): string[] {
    const found = credentialShapes(value);
    if (found.length === 0 && AWS_SECRET_KEY_NAME.test(key.replace(/[^A-Za-z]/g, "")) && /^[A-Za-z0-9/+]{40}$/.test(value.trim())) {
        found.push("an AWS secret access key");
    }
    const allowed = config.allowedKeys?.includes(key) ?? false;
    if (!allowed && isCredentialKey(key) && couldBeCredential(value) && found.length === 0) {
        found.push(`a value under a credential-named key`);
    }
    if (embedded) {
        const assignments = credentialAssignments(value).filter((name) => !(config.allowedKeys?.includes(name) ?? false));
        if (assignments.length > 0 && found.length === 0) {
            found.push(`a value assigned to ${assignments.map((name) => show(name)).join(", ")} inside it`);
        }
    }
    return found;
}

const PLAIN_FIX =
    "Keep credentials in a Kubernetes Secret (or in Vault, delivered by an ExternalSecret) and reference them; if the key really holds no credential, list it in this policy's allowedKeys";

/**
 * `no-secret-in-plain-places`, for one resource: no credential-shaped value in a ConfigMap's `data`
 * (or `binaryData`, decoded) and no such value in any Kubernetes object's `metadata.annotations`.
 * Credential-shaped: a Vault token (`hvs.`, `hvb.`, `hvr.`, legacy `s.` + 24 characters), a PEM private
 * key, an AWS secret access key after an `aws_secret_access_key`-like key, or a non-empty value under a
 * key named like a password, token or secret (and, inside ConfigMap values, such assignments).
 */
export function checkPlainSecrets(resource: ResourceData, config: PlainSecretConfig = {}): string[] {
    if (!resource.type.startsWith("kubernetes:")) {
        return [];
    }
    const who = describeResource(resource);
    const problems: string[] = [];
    for (const [key, value] of Object.entries(recordAt(resource.props, "metadata", "annotations"))) {
        if (typeof value === "string") {
            for (const what of findings(key, value, config, false)) {
                problems.push(
                    `${who}: annotation ${show(key)} holds ${what}; annotations are plain text in the cluster and in Pulumi state. ${PLAIN_FIX}.`,
                );
            }
        }
    }
    if (resource.type === "kubernetes:core/v1:ConfigMap" || resource.type === "kubernetes:core/v1:ConfigMapPatch") {
        for (const [key, value] of Object.entries(recordAt(resource.props, "data"))) {
            if (typeof value === "string") {
                for (const what of findings(key, value, config, true)) {
                    problems.push(
                        `${who}: data ${show(key)} holds ${what}; ConfigMaps are readable by anyone who may read the namespace's configuration. ${PLAIN_FIX}.`,
                    );
                }
            }
        }
        for (const [key, value] of Object.entries(recordAt(resource.props, "binaryData"))) {
            if (typeof value === "string") {
                for (const what of credentialShapes(Buffer.from(value, "base64").toString("utf8"))) {
                    problems.push(`${who}: binaryData ${show(key)} holds ${what}. ${PLAIN_FIX}.`);
                }
            }
        }
    }
    return problems;
}

/**
 * `no-secret-in-plain-places`, for the stack: no credential-shaped value in any output of the root
 * `pulumi:pulumi:Stack` resource other than the `secretOutputs` (default `peerAccess`, which the
 * program wraps with `pulumi.secret`). The policy sees secrets unwrapped, so it cannot tell a secret
 * output from a plain one: it checks every output that is not declared secret here.
 */
export function checkStackOutputs(resources: readonly ResourceData[], config: PlainSecretConfig = {}): string[] {
    const exempt = config.secretOutputs ?? [PEER_ACCESS_OUTPUT];
    const problems: string[] = [];
    for (const stack of resources.filter((resource) => resource.type === STACK_TYPE)) {
        const visit = (value: unknown, path: string, key: string): void => {
            if (typeof value === "string") {
                for (const what of findings(key, value, config, false)) {
                    problems.push(
                        `${describeResource(stack)}: output ${show(path)} holds ${what}, in plain text in the state and in \`pulumi stack output\`. Do not export it; or, if it must cross to another stack, export it with pulumi.secret() and list it in this policy's secretOutputs.`,
                    );
                }
            } else if (Array.isArray(value)) {
                value.forEach((item, index) => visit(item, `${path}[${index}]`, key));
            } else if (isRecord(value)) {
                for (const [child, item] of Object.entries(value)) {
                    visit(item, `${path}.${child}`, child);
                }
            }
        };
        for (const [name, value] of Object.entries(stack.props)) {
            if (!exempt.includes(name)) {
                visit(value, name, name);
            }
        }
    }
    return problems;
}
