/**
 * The stack's configuration: the only module that reads Pulumi config.
 *
 * Every key lives in the project namespace (`openova-vault:`). {@link CONFIG_KEYS} documents each one
 * (type, default, what is allowed); the schema below enforces it, and a bad value stops the program
 * before any resource is registered with one line naming the stack, the key, the value, what is
 * allowed and the command that fixes it. Components never read config: {@link loadConfig} hands them
 * typed options.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { EXTERNAL_SECRETS_DEFAULTS, type ExternalSecretsOptions } from "./components/externalSecretsValues";
import { peersOf, vaultHost } from "./components/topology";
import {
    isChartVersion,
    isDnsLabel,
    isDnsSubdomain,
    isImageTag,
    isIntegerBetween,
    isRaftReplicaCount,
    isStorageQuantity,
} from "./components/validation";
import { VAULT_SERVER_DEFAULTS, type VaultServerOptions } from "./components/vaultServerValues";

/** The project name, which is also the config namespace. */
export const PROJECT = "openova-vault";

/** One documented config key. */
export interface ConfigKey {
    /** Key inside the project namespace; nested keys are dotted (`vault.replicas`). */
    readonly key: string;
    readonly type: "string" | "integer" | "boolean" | "array" | "object";
    /** The default, as the README shows it. */
    readonly default: string;
    /** What is allowed, phrased to follow "must be". */
    readonly allowed: string;
    readonly description: string;
    /** A valid value, used in the fix command of an error. */
    readonly example: string;
}

const key = (k: ConfigKey): ConfigKey => k;

/** Object keys list their nested keys in what they allow. */
function withNestedKeys(keys: readonly ConfigKey[]): readonly ConfigKey[] {
    return keys.map((k) => {
        if (k.type !== "object") {
            return k;
        }
        const nested = keys.filter((n) => n.key.startsWith(`${k.key}.`)).map((n) => n.key.slice(k.key.length + 1));
        return { ...k, allowed: `an object with the keys ${nested.join(", ")}` };
    });
}

/** Every config key, in the order the README lists them. */
export const CONFIG_KEYS: readonly ConfigKey[] = withNestedKeys([
    key({
        key: "regions",
        type: "array",
        default: "[region1, region2]",
        allowed: "a list of distinct DNS labels (lowercase letters, digits and '-')",
        description: "Every region of the platform (project-wide, set in Pulumi.yaml). A region's peers are all the others.",
        example: "region1",
    }),
    key({
        key: "region",
        type: "string",
        default: "the stack name",
        allowed: "one of `regions`",
        description: "The region this stack deploys.",
        example: "region1",
    }),
    key({
        key: "domain",
        type: "string",
        default: "(required)",
        allowed: "a lowercase DNS name such as example.com, without scheme, port or path",
        description: "Base domain; the region's Vault is served at `vault.<region>.<domain>`.",
        example: "example.com",
    }),
    key({
        key: "kubeContext",
        type: "string",
        default: "the region name",
        allowed: "a non-empty kubeconfig context name",
        description: "kubeconfig context of the region's cluster. Never the current context, so a stack cannot deploy to the wrong cluster.",
        example: "region1",
    }),
    key({
        key: "vault",
        type: "object",
        default: "{}",
        allowed: "an object",
        description: "The region's Vault servers.",
        example: "{}",
    }),
    key({
        key: "vault.replicas",
        type: "integer",
        default: String(VAULT_SERVER_DEFAULTS.replicas),
        allowed: "an odd whole number from 1 to 7 (Raft needs a majority of voters; use 3 or 5 in production)",
        description: "Vault servers (Raft voters). Each needs its own node (the chart's pod anti-affinity).",
        example: "3",
    }),
    key({
        key: "vault.storageSize",
        type: "string",
        default: VAULT_SERVER_DEFAULTS.storageSize,
        allowed: "a positive Kubernetes quantity such as 10Gi or 500Mi",
        description: "Raft data volume per server.",
        example: "10Gi",
    }),
    key({
        key: "vault.auditStorageSize",
        type: "string",
        default: VAULT_SERVER_DEFAULTS.auditStorageSize,
        allowed: "a positive Kubernetes quantity such as 10Gi or 500Mi",
        description: "Audit-log volume per server (mounted at /vault/audit).",
        example: "10Gi",
    }),
    key({
        key: "vault.storageClass",
        type: "string",
        default: "the cluster's default StorageClass",
        allowed: "a StorageClass name (a DNS name)",
        description: "StorageClass of the data and audit volumes.",
        example: "standard",
    }),
    key({
        key: "vault.ingressClassName",
        type: "string",
        default: VAULT_SERVER_DEFAULTS.ingressClassName,
        allowed: "an IngressClass name (a DNS name)",
        description: "IngressClass that serves `vault.<region>.<domain>`.",
        example: "cilium",
    }),
    key({
        key: "vault.namespace",
        type: "string",
        default: VAULT_SERVER_DEFAULTS.namespace,
        allowed: "a DNS label, different from externalSecrets.namespace",
        description: "Namespace of the Vault release (created, and kept on destroy to protect the Raft data).",
        example: "vault",
    }),
    key({
        key: "vault.chartVersion",
        type: "string",
        default: VAULT_SERVER_DEFAULTS.chartVersion,
        allowed: "a semantic version such as 0.34.1",
        description: "hashicorp/vault chart version.",
        example: VAULT_SERVER_DEFAULTS.chartVersion,
    }),
    key({
        key: "vault.imageTag",
        type: "string",
        default: VAULT_SERVER_DEFAULTS.imageTag,
        allowed: "an image tag such as 2.0.4",
        description: "hashicorp/vault image tag (the appVersion of the pinned chart).",
        example: VAULT_SERVER_DEFAULTS.imageTag,
    }),
    key({
        key: "externalSecrets",
        type: "object",
        default: "{}",
        allowed: "an object",
        description: "The External Secrets Operator.",
        example: "{}",
    }),
    key({
        key: "externalSecrets.install",
        type: "boolean",
        default: "true",
        allowed: "true or false",
        description: "Install ESO. With false, the cluster must already run ESO 2.x in `externalSecrets.namespace`.",
        example: "true",
    }),
    key({
        key: "externalSecrets.namespace",
        type: "string",
        default: EXTERNAL_SECRETS_DEFAULTS.namespace,
        allowed: "a DNS label, different from vault.namespace",
        description: "Namespace of the ESO release.",
        example: "external-secrets",
    }),
    key({
        key: "externalSecrets.replicas",
        type: "integer",
        default: String(EXTERNAL_SECRETS_DEFAULTS.replicas),
        allowed: "a whole number from 1 to 5",
        description: "ESO controller replicas (leader election is on).",
        example: "2",
    }),
    key({
        key: "externalSecrets.chartVersion",
        type: "string",
        default: EXTERNAL_SECRETS_DEFAULTS.chartVersion,
        allowed: "a semantic version such as 2.9.0",
        description: "external-secrets chart version.",
        example: EXTERNAL_SECRETS_DEFAULTS.chartVersion,
    }),
    key({
        key: "externalSecrets.imageTag",
        type: "string",
        default: EXTERNAL_SECRETS_DEFAULTS.imageTag,
        allowed: "an image tag such as v2.9.0",
        description: "ESO image tag (the appVersion of the pinned chart).",
        example: EXTERNAL_SECRETS_DEFAULTS.imageTag,
    }),
]);

const KEYS = new Map(CONFIG_KEYS.map((k) => [k.key, k]));

function doc(name: string): ConfigKey {
    const found = KEYS.get(name);
    if (found === undefined) {
        throw new Error(`config key ${name} is not documented in CONFIG_KEYS`);
    }
    return found;
}

/** The validated configuration of one region stack. */
export interface RegionConfig {
    readonly stack: string;
    readonly region: string;
    readonly regions: readonly string[];
    readonly peers: readonly string[];
    readonly domain: string;
    readonly kubeContext: string;
    /** Vault server options; unset fields take the component's defaults. */
    readonly vault: Omit<VaultServerOptions, "host">;
    /** ESO options; unset fields take the component's defaults. */
    readonly externalSecrets: ExternalSecretsOptions & { readonly install: boolean };
}

/** The outcome of {@link parseConfig}: the config, or one line per problem. */
export type ParseResult =
    | { readonly ok: true; readonly config: RegionConfig; readonly warnings: readonly string[] }
    | { readonly ok: false; readonly problems: readonly string[] };

// ---------------------------------------------------------------------------------------------
// Schema. Each leaf's error message is the documented "allowed" text of its key.

const allowed = (name: string) => ({ error: doc(name).allowed });

/** `pulumi config set --path a.b 3` may store "3"; accept digits for integers. */
const integer = (name: string, ok: (n: number) => boolean) =>
    z.preprocess(
        (v) => (typeof v === "string" && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v),
        z.number(allowed(name)).refine(ok, allowed(name)),
    );

/** Accept "true"/"false" as well as booleans, for the same reason. */
const boolean = (name: string) =>
    z.preprocess((v) => (v === "true" ? true : v === "false" ? false : v), z.boolean(allowed(name)));

const text = (name: string, ok: (s: string) => boolean) => z.string(allowed(name)).refine(ok, allowed(name));

const vaultSchema = z.strictObject(
    {
        replicas: integer("vault.replicas", isRaftReplicaCount).optional(),
        storageSize: text("vault.storageSize", isStorageQuantity).optional(),
        auditStorageSize: text("vault.auditStorageSize", isStorageQuantity).optional(),
        storageClass: text("vault.storageClass", isDnsSubdomain).optional(),
        ingressClassName: text("vault.ingressClassName", isDnsSubdomain).optional(),
        namespace: text("vault.namespace", isDnsLabel).optional(),
        chartVersion: text("vault.chartVersion", isChartVersion).optional(),
        imageTag: text("vault.imageTag", isImageTag).optional(),
    },
    allowed("vault"),
);

const externalSecretsSchema = z.strictObject(
    {
        install: boolean("externalSecrets.install").optional(),
        namespace: text("externalSecrets.namespace", isDnsLabel).optional(),
        replicas: integer("externalSecrets.replicas", (n) => isIntegerBetween(n, 1, 5)).optional(),
        chartVersion: text("externalSecrets.chartVersion", isChartVersion).optional(),
        imageTag: text("externalSecrets.imageTag", isImageTag).optional(),
    },
    allowed("externalSecrets"),
);

const schema = z.strictObject({
    regions: z
        .array(text("regions", isDnsLabel), allowed("regions"))
        .min(1, allowed("regions"))
        .refine((list) => new Set(list).size === list.length, allowed("regions")),
    region: text("region", isDnsLabel).optional(),
    domain: text("domain", isDnsSubdomain),
    kubeContext: text("kubeContext", (s) => s.trim().length > 0).optional(),
    vault: vaultSchema.optional(),
    externalSecrets: externalSecretsSchema.optional(),
});

// ---------------------------------------------------------------------------------------------
// Parsing.

/**
 * Validates the raw config of one stack (`project:key` to string, as Pulumi hands it to programs;
 * objects and arrays arrive as JSON). Pure: no Pulumi runtime needed.
 */
export function parseConfig(stack: string, rawConfig: Readonly<Record<string, string>>): ParseResult {
    const input = projectValues(rawConfig);
    const problem = (reason: string, fix: string) =>
        `Invalid config for stack "${stack}": ${reason}. Fix: ${fix.replace(/\{stack\}/g, stack)}`;

    const parsed = schema.safeParse(input);
    if (!parsed.success) {
        return { ok: false, problems: parsed.error.issues.flatMap((issue) => describeIssue(issue, input, problem)) };
    }
    const values = parsed.data;

    const region = values.region ?? stack;
    const problems: string[] = [];
    if (!values.regions.includes(region)) {
        const reason =
            values.region === undefined
                ? `${qualified(["region"])} is not set, so it defaults to the stack name "${stack}", which is not one of regions ${JSON.stringify(values.regions)}`
                : `${qualified(["region"])} is "${region}", but it must be one of regions ${JSON.stringify(values.regions)}`;
        problems.push(problem(reason, `pulumi config set region ${values.regions[0]} -s {stack}`));
    }
    const vaultNamespace = values.vault?.namespace ?? VAULT_SERVER_DEFAULTS.namespace;
    const operatorNamespace = values.externalSecrets?.namespace ?? EXTERNAL_SECRETS_DEFAULTS.namespace;
    if (vaultNamespace === operatorNamespace) {
        problems.push(
            problem(
                `${qualified(["externalSecrets", "namespace"])} and ${qualified(["vault", "namespace"])} are both "${vaultNamespace}", but Vault and ESO each need their own namespace`,
                `pulumi config set --path externalSecrets.namespace ${EXTERNAL_SECRETS_DEFAULTS.namespace} -s {stack}`,
            ),
        );
    }
    const host = vaultHost(region, values.domain);
    if (!isDnsSubdomain(host)) {
        problems.push(
            problem(`${qualified(["domain"])} is "${values.domain}", which makes the Vault host name ${host} longer than 253 characters`, "pulumi config set domain <shorter domain> -s {stack}"),
        );
    }
    if (problems.length > 0) {
        return { ok: false, problems };
    }

    const vault = values.vault ?? {};
    const { install = true, ...operator } = values.externalSecrets ?? {};
    const warnings: string[] = [];
    if (vault.replicas === 1) {
        warnings.push(`${qualified(["vault", "replicas"])} is 1: this region's Vault has no failover; use 3 or 5 servers in production.`);
    }
    if (vault.chartVersion !== undefined && vault.imageTag === undefined) {
        warnings.push(`${qualified(["vault", "chartVersion"])} is ${vault.chartVersion} but the image stays at the pinned ${VAULT_SERVER_DEFAULTS.imageTag}; set ${qualified(["vault", "imageTag"])} to the chart's appVersion.`);
    }
    if (operator.chartVersion !== undefined && operator.imageTag === undefined) {
        warnings.push(`${qualified(["externalSecrets", "chartVersion"])} is ${operator.chartVersion} but the image stays at the pinned ${EXTERNAL_SECRETS_DEFAULTS.imageTag}; set ${qualified(["externalSecrets", "imageTag"])} to the chart's appVersion.`);
    }

    return {
        ok: true,
        warnings,
        config: {
            stack,
            region,
            regions: values.regions,
            peers: peersOf(region, values.regions),
            domain: values.domain,
            kubeContext: values.kubeContext ?? region,
            vault,
            externalSecrets: { ...operator, install },
        },
    };
}

/**
 * Reads and validates this stack's config from the Pulumi runtime.
 * @throws pulumi.RunError with one line per problem: Pulumi prints it without a stack trace.
 */
export function loadConfig(): RegionConfig {
    const result = parseConfig(pulumi.getStack(), pulumi.runtime.allConfig());
    if (!result.ok) {
        throw new pulumi.RunError(result.problems.join("\n"));
    }
    for (const warning of result.warnings) {
        void pulumi.log.warn(warning);
    }
    return result.config;
}

/** The project's keys, with JSON-typed values (arrays and objects) decoded. */
function projectValues(rawConfig: Readonly<Record<string, string>>): Record<string, unknown> {
    const prefix = `${PROJECT}:`;
    const values: Record<string, unknown> = {};
    for (const [fullKey, raw] of Object.entries(rawConfig)) {
        if (!fullKey.startsWith(prefix)) {
            continue;
        }
        const name = fullKey.slice(prefix.length);
        const type = KEYS.get(name)?.type;
        values[name] = type === "array" || type === "object" || type === "integer" || type === "boolean" ? decodeJson(raw) : raw;
    }
    return values;
}

function decodeJson(raw: string): unknown {
    try {
        return JSON.parse(raw);
    } catch {
        return raw;
    }
}

function qualified(path: readonly PropertyKey[]): string {
    let out = `${PROJECT}:`;
    path.forEach((part, i) => {
        out += typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${String(part)}`;
    });
    return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
    let current: unknown = root;
    for (const part of path) {
        if (current === null || typeof current !== "object") {
            return undefined;
        }
        current = (current as Record<PropertyKey, unknown>)[part];
    }
    return current;
}

/** The documented key a path belongs to: `regions[1]` belongs to `regions`. */
function docKey(path: readonly PropertyKey[]): string {
    return path.filter((part) => typeof part === "string").join(".");
}

function setCommand(path: readonly PropertyKey[], value: string): string {
    const name = docKey(path);
    const quoted = /^[\w.\-/]+$/.test(value) ? value : `'${value}'`;
    if (doc(name).type === "array") {
        return `pulumi config set --path '${name}[0]' ${quoted} -s {stack} (one entry per index)`;
    }
    if (doc(name).type === "object") {
        const first = CONFIG_KEYS.find((k) => k.key.startsWith(`${name}.`));
        return `pulumi config rm ${name} -s {stack}, then set its keys with --path, e.g. ${first ? setCommand([...path, first.key.slice(name.length + 1)], first.example) : ""}`;
    }
    return `pulumi config set ${path.length > 1 ? "--path " : ""}${name} ${quoted} -s {stack}`;
}

function describeIssue(
    issue: z.core.$ZodIssue,
    input: Record<string, unknown>,
    problem: (reason: string, fix: string) => string,
): string[] {
    if (issue.code === "unrecognized_keys") {
        const parent = docKey(issue.path);
        const known = CONFIG_KEYS.map((k) => k.key)
            .filter((k) => (parent === "" ? !k.includes(".") : k.startsWith(`${parent}.`)))
            .map((k) => k.slice(parent === "" ? 0 : parent.length + 1));
        return issue.keys.map((unknownKey) => {
            const path = [...issue.path, unknownKey];
            const dotted = docKey(path);
            const nested = parent === "" && unknownKey.includes(".") && KEYS.has(unknownKey);
            const suggestion = nested ? undefined : closest(unknownKey, known);
            const reason = nested
                ? `${qualified(path)} is a flat key, but ${unknownKey.split(".")[0]} is an object: nested keys are set with --path`
                : `${qualified(path)} is not a known key${suggestion ? ` (did you mean ${qualified([...issue.path, suggestion])}?)` : ""}; known keys${parent === "" ? "" : ` of ${qualified(issue.path)}`}: ${known.join(", ")}`;
            const fix = nested
                ? `pulumi config rm ${unknownKey} -s {stack} && pulumi config set --path ${unknownKey} <value> -s {stack}`
                : `pulumi config rm ${path.length > 1 ? "--path " : ""}${dotted} -s {stack}`;
            return problem(reason, fix);
        });
    }
    const path = issue.path;
    const entry = KEYS.get(docKey(path));
    const value = valueAt(input, path);
    const shown = value === undefined ? "is not set" : `is ${JSON.stringify(value)}`;
    if (entry === undefined) {
        return [problem(`${qualified(path)} ${shown}: ${issue.message}`, "see the configuration table in README.md")];
    }
    return [problem(`${qualified(path)} ${shown}, but it must be ${entry.allowed}`, setCommand(path, entry.example))];
}

/** The known key closest to a misspelt one, if any is close (edit distance at most 2, or a case slip). */
function closest(name: string, known: readonly string[]): string | undefined {
    let best: { key: string; distance: number } | undefined;
    for (const candidate of known) {
        const distance = candidate.toLowerCase() === name.toLowerCase() ? 0 : editDistance(name, candidate);
        if (distance <= 2 && (best === undefined || distance < best.distance)) {
            best = { key: candidate, distance };
        }
    }
    return best?.key;
}

function editDistance(a: string, b: string): number {
    let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const current = [i];
        for (let j = 1; j <= b.length; j++) {
            current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
        previous = current;
    }
    return previous[b.length];
}
