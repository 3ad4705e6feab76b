/**
 * The stack's configuration: the only module that reads Pulumi config.
 *
 * Its schema is the region's options (each part's schema, beside the code that uses it) plus what
 * only a stack has: the kubeconfig context, the gate, files, the initial values. This module adds
 * only what is about config itself: decoding Pulumi's strings, reading files, the rules that need the
 * stack (its name, its secrets, the environment), and one line per problem naming the stack, the key,
 * the value, what is allowed and the command that fixes it.
 */
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import { z } from "zod";
import { coerce, kindOf, option, optionRows, options, ruleIssue, rules, schemaAt, text } from "../components/common/options";
import { isContextName, isDnsLabel, isOrganizationName, isVaultAddress } from "../components/common/predicates";
import { peersOf, vaultAddress } from "../components/common/topology";
import type { ResolvedBackend } from "../components/backends/backendOptions";
import { PROVIDER_AUTH_VARIABLES } from "../components/backends/hcpVault";
import { domainOption, regionFields, regionRules, type RegionOptions } from "../components/region/regionOptions";
import { replicatedSecretFields } from "../components/replication/replicationSpecs";
import { type IdentityFiles, type PublishedIdentity, readCaCert, serviceAccountIssuerOptions, publishedIdentity } from "./identity";
import { configWarnings } from "./configWarnings";
import { FORBIDDEN_KEYS, describeIssue, foreignKeys, qualified } from "./configMessages";

/** The project name, which is also the config namespace. */
export const PROJECT = "openova-vault";

const INITIAL_VALUES = ["generate", "config"] as const;

/** Every key a stack's config may set, as one schema. */
export const stackOptions = options({
    ...regionFields,
    region: regionFields.region.optional(),
    domain: domainOption,
    kubeContext: option(text(isContextName).optional(), {
        description:
            "kubeconfig context of the region's cluster. Never the current context, so a stack cannot deploy to the wrong cluster.",
        allowed: "a kubeconfig context name (not empty, no surrounding spaces)",
        example: "region1",
        defaultText: "the region name",
    }),
    vaultInitialized: option(z.boolean().default(false), {
        description:
            "Whether this region's Vault is initialized and unsealed. Until it is true the stack deploys only the servers and ESO; once true, it configures Vault through the Vault provider, with the admin token from `VAULT_TOKEN`.",
        example: "true",
    }),
    vaultAddress: option(text(isVaultAddress).optional(), {
        description:
            "Where the Pulumi Vault provider (the operator's machine or CI) reaches this region's Vault. Peers always use `https://vault.<region>.<domain>`.",
        allowed:
            "an https:// URL with no path, such as https://vault.region1.example.com or https://127.0.0.1:8200 (http:// only with vault.tls.source none)",
        example: "https://vault.region1.example.com",
        defaultText: "https://vault.<region>.<domain>",
    }),
    vaultCaCertFile: option(text((s) => s.trim() !== "").optional(), {
        description:
            "CA of the issuer that signs this region's Vault certificate. The Vault provider verifies the server with it, and it is exported for the peers' stores.",
        allowed: "the path of a readable PEM file with at least one CERTIFICATE, relative to the project directory or absolute",
        example: "certs/vault-ca.pem",
        defaultText: "(required while TLS is on)",
    }),
    peerOrganization: option(text(isOrganizationName).optional(), {
        description: "Organization of the peer region stacks, which this stack reads as `<org>/openova-vault/<peer>`.",
        allowed: "a Pulumi organization name (letters, digits, '-', '_' and '.')",
        example: "organization",
        defaultText: "this stack's organization",
    }),
    replicatedSecrets: option(
        z
            .array(
                options({
                    ...replicatedSecretFields,
                    initialValue: option(z.enum(INITIAL_VALUES).optional(), {
                        description:
                            "The first value, created once in the home region if the secret does not exist: `generate` (ESO's Password generator; never in state) or `config` (from initialValues.<name>).",
                        allowed: "{values}; generate with exactly one key; vault-written only",
                        example: "generate",
                        defaultText: "none",
                    }),
                }),
            )
            .default([]),
        {
            description: "Secrets kept the same in every region (see docs/consistency.md). Every region stack lists the same entries.",
            allowed: "a list of objects",
            example: "[]",
        },
    ),
    initialValues: option(z.record(z.string(), z.string()).optional(), {
        description:
            "Operator-supplied first values (`pulumi config set --secret --path initialValues.<name> <value>`), needed only in the home region's stack: a string for a one-key secret, else a JSON object of strings.",
        allowed: "an object of secret names to values, set with --secret",
        example: "{}",
        defaultText: "none",
    }),
    serviceAccountIssuer: option(serviceAccountIssuerOptions.optional(), {
        description: "This region's cluster as a token issuer, published for the peers' JWT mounts (peerAuth jwt).",
        allowed: "an object",
        example: "{}",
        defaultText: "none",
    }),
}).check(
    rules((stack, ctx) => {
        regionRules(stack, ctx, (i) => (stack.replicatedSecrets[i].initialValue === undefined ? undefined : {}));
        stack.replicatedSecrets.forEach((secret, i) => {
            if (secret.initialValue === "generate" && secret.keys?.length !== 1) {
                ruleIssue(
                    ctx,
                    ["replicatedSecrets", i, "initialValue"],
                    "is generate, but ESO's Password generator makes one value, so keys must list exactly one key",
                );
            }
        });
        if (stack.backend.type !== "vault") {
            managedBackendRules(stack, ctx);
            return;
        }
        const tlsOn = stack.vault.tls.source !== "none";
        if (tlsOn && stack.vaultCaCertFile === undefined) {
            ruleIssue(
                ctx,
                ["vaultCaCertFile"],
                `is not set, but TLS is on (vault.tls.source ${stack.vault.tls.source}): the Vault provider and the peers' stores verify this Vault's certificate with that CA`,
            );
        }
        if (tlsOn && stack.vaultAddress?.startsWith("http://")) {
            ruleIssue(ctx, ["vaultAddress"], `is ${stack.vaultAddress}, plain HTTP, but the servers listen with TLS only`);
        }
        peerIssuerRule(stack, ctx);
    }),
);

export type StackOptions = z.output<typeof stackOptions>;

/** The keys only a stack with a self-hosted Vault uses: how the Pulumi Vault provider reaches it, and whether it is initialized. */
const SELF_HOSTED_STACK_KEYS = ["vaultInitialized", "vaultAddress", "vaultCaCertFile"] as const;

/**
 * What a stack whose backend is managed cannot set: the keys of the self-hosted Vault's provider (an
 * HCP Vault cluster is reached at backend.address, and a cloud store through ESO only). Its peers'
 * rules (the issuer, for their Vaults) still apply.
 */
function managedBackendRules(
    stack: Parameters<typeof peerIssuerRule>[0] & {
        readonly backend: ResolvedBackend;
        readonly vaultInitialized: boolean;
        readonly vaultAddress?: string;
        readonly vaultCaCertFile?: string;
    },
    ctx: z.RefinementCtx,
): void {
    for (const key of SELF_HOSTED_STACK_KEYS) {
        const value = stack[key];
        if (value !== undefined && value !== false) {
            ruleIssue(
                ctx,
                [key],
                `is ${JSON.stringify(value)}, but backend.type is ${stack.backend.type}: this region runs no Vault of its own for the Vault provider to reach${stack.backend.type === "hcp-vault" ? " (it configures the HCP cluster at backend.address)" : ""}. Remove it`,
            );
        }
    }
    if (stack.backend.type === "hcp-vault" && stack.serviceAccountIssuer === undefined) {
        ruleIssue(
            ctx,
            ["serviceAccountIssuer"],
            "is not set, but backend.type is hcp-vault: the HCP cluster checks the tokens of this cluster's namespaces with its issuer and keys",
        );
        return;
    }
    peerIssuerRule(stack, ctx);
}

/** A region with peers and JWT peer auth publishes its cluster's issuer: the peers' Vaults check its ESO's tokens with it. */
function peerIssuerRule(
    stack: {
        readonly peerAuth: string;
        readonly regions: readonly string[];
        readonly region?: string;
        readonly serviceAccountIssuer?: unknown;
    },
    ctx: z.RefinementCtx,
): void {
    // A region without peers (a single-region platform) has nobody to publish its issuer to.
    const hasPeers = stack.regions.some((region) => region !== stack.region);
    if (stack.peerAuth === "jwt" && stack.serviceAccountIssuer === undefined && hasPeers) {
        ruleIssue(
            ctx,
            ["serviceAccountIssuer"],
            "is not set, but peerAuth is jwt (the default): the peers' Vaults need this cluster's token issuer and keys (or set peerAuth to token)",
        );
    }
}

/** The validated configuration of one region stack. */
export interface RegionConfig {
    readonly stack: string;
    readonly region: string;
    readonly peers: readonly string[];
    readonly kubeContext: string;
    /** Whether to configure this region's Vault (it is initialized and unsealed, and `VAULT_TOKEN` is set). */
    readonly vaultInitialized: boolean;
    /** The address the Vault provider uses. */
    readonly vaultAddress: string;
    /** The CA file the Vault provider verifies the server with, if any. */
    readonly vaultCaCertFile?: string;
    /** That file's PEM text, exported for the peers' stores; empty when the system's CAs are used. */
    readonly vaultCaCert: string;
    /** Organization of the peer stacks; undefined means this stack's own. */
    readonly peerOrganization?: string;
    /** With JWT peer auth: this cluster as a token issuer, published for the peers. */
    readonly serviceAccountIssuer?: PublishedIdentity;
    /** Where this region's secrets live (`openova-vault:backend`), with its defaults. */
    readonly backend: ResolvedBackend;
    /** The region's options, ready for {@link VaultRegion}: initial values only in the home stack. */
    readonly options: RegionOptions & { readonly region: string };
    /** The options with their defaults, as validated. */
    readonly resolved: StackOptions;
}

/** The outcome of {@link parseConfig}: the config, or one line per problem. */
export type ParseResult =
    | { readonly ok: true; readonly config: RegionConfig; readonly warnings: readonly string[] }
    | { readonly ok: false; readonly problems: readonly string[] };

/** What {@link parseConfig} needs from outside the config, injected so that it stays pure. */
export interface ParseOptions {
    /** Full keys (`openova-vault:x`) set with `--secret`: their values are never printed. */
    readonly secretKeys?: readonly string[];
    /** The process environment; only whether `VAULT_TOKEN` is set is looked at, never its value. */
    readonly environment?: Readonly<Record<string, string | undefined>>;
    /** Reads a file named in config. Default: nothing can be read. */
    readonly readFile?: (path: string) => string;
}

/**
 * Validates the raw config of one stack (`namespace:key` to string, as Pulumi hands it to programs;
 * objects and arrays arrive as JSON). Pure: the environment and file reads are injected.
 */
export function parseConfig(stack: string, rawConfig: Readonly<Record<string, string>>, parse: ParseOptions = {}): ParseResult {
    const secret = new Set(parse.secretKeys ?? []);
    const show = (path: readonly PropertyKey[], value: unknown) =>
        secret.has(`${PROJECT}:${String(path[0])}`) ? "[secret]" : JSON.stringify(value);
    const problem = (key: string, reason: string, fix: string) =>
        `Invalid config for stack "${stack}": ${key} ${reason}. Fix: ${fix.replace(/\{stack\}/g, stack)}`;

    const foreign = foreignKeys(rawConfig);
    const forbidden = Object.keys(FORBIDDEN_KEYS).filter((k) => k in rawConfig);
    if (forbidden.length > 0 || foreign.errors.length > 0) {
        return {
            ok: false,
            problems: [
                ...forbidden.map((k) =>
                    problem(
                        k,
                        `is set, but ${FORBIDDEN_KEYS[k]}`,
                        `pulumi config rm ${k} -s {stack}, and revoke that token: it is in the stack file's history`,
                    ),
                ),
                ...foreign.errors.map((e) => problem(e.key, e.reason, e.fix)),
            ],
        };
    }

    const given = coerce(stackOptions, projectValues(rawConfig)) as Record<string, unknown>;
    // The region defaults to the stack name; the rules that need it (the Vault host's length) see it.
    const input = given.region === undefined ? { ...given, region: stack } : given;
    const parsed = stackOptions.safeParse(input);
    const regionDefaulted = (issue: z.core.$ZodIssue) => given.region === undefined && issue.path[0] === "region";
    const defaultedRegion = (regions: unknown): [string, string, string] => {
        const list = Array.isArray(regions) ? regions.join(", ") : "";
        return [
            qualified(["region"]),
            `is not set, so it defaults to the stack name "${stack}", which is not one of the regions (${list})`,
            `pulumi config set region <one of ${list}> -s {stack}${isDnsLabel(stack) ? `, or add ${stack} to the regions default in Pulumi.yaml` : ""}`,
        ];
    };
    if (!parsed.success) {
        const issues = parsed.error.issues;
        return {
            ok: false,
            problems: [
                ...(issues.some(regionDefaulted) ? [defaultedRegion((input as { regions?: unknown }).regions)] : []),
                ...issues.filter((issue) => !regionDefaulted(issue)).flatMap((issue) => describeIssue(issue, input, show)),
            ].map(([key, reason, fix]) => problem(key, reason, fix)),
        };
    }
    const values = parsed.data;
    const problems: [string, string, string][] = [];
    const region = values.region ?? stack;
    if (values.vaultInitialized && !parse.environment?.VAULT_TOKEN) {
        problems.push([
            qualified(["vaultInitialized"]),
            "is true, but VAULT_TOKEN is not set: the Vault provider needs this region's admin token to read and change its configuration",
            "export VAULT_TOKEN=<admin token> (or open a Pulumi ESC environment that sets it) and run again; if this region's Vault is not initialized and unsealed yet, pulumi config set vaultInitialized false -s {stack}",
        ]);
    }
    const files: IdentityFiles = { readFile: parse.readFile };
    const caCert = values.vaultCaCertFile === undefined ? "" : readCaCert(values.vaultCaCertFile, files);
    if (typeof caCert !== "string") {
        problems.push([
            qualified(["vaultCaCertFile"]),
            `is ${JSON.stringify(values.vaultCaCertFile)}, ${caCert.problem}`,
            "pulumi config set vaultCaCertFile <path of the CA's PEM file> -s {stack}",
        ]);
    }
    const identity =
        (values.peerAuth === "jwt" || values.backend.type === "hcp-vault") && values.serviceAccountIssuer !== undefined
            ? publishedIdentity(values.serviceAccountIssuer, files)
            : undefined;
    if (values.backend.type === "hcp-vault") {
        const { method } = values.backend.providerAuth;
        const variable = PROVIDER_AUTH_VARIABLES[method];
        if (!parse.environment?.[variable]) {
            problems.push([
                qualified(["backend", "providerAuth", "method"]),
                `is ${method}, but ${variable} is not set: the Vault provider logs in to the HCP cluster with it on every run`,
                method === "jwt"
                    ? `export ${variable}=<a JWT the role ${values.backend.providerAuth.role ?? ""} on the mount ${values.backend.providerAuth.path} accepts> (a CI job's OIDC token, say) and run again`
                    : `export ${variable}=<a short-lived token of the HCP cluster's admin namespace> and run again`,
            ]);
        }
    }
    for (const [key, reason, fix] of identity?.problems ?? []) {
        problems.push([qualified(["serviceAccountIssuer", key]), reason, fix]);
    }
    const initial = initialValues(values, region, secret.has(`${PROJECT}:initialValues`));
    problems.push(...initial.problems);
    if (problems.length > 0) {
        return { ok: false, problems: problems.map(([key, reason, fix]) => problem(key, reason, fix)) };
    }

    const {
        vaultInitialized,
        vaultCaCertFile,
        peerOrganization,
        kubeContext,
        vaultAddress: address,
        serviceAccountIssuer: _issuer,
        initialValues: _values,
        ...regionValues
    } = values;
    return {
        ok: true,
        warnings: [...foreign.warnings, ...configWarnings(values, region, qualified)],
        config: {
            stack,
            region,
            peers: peersOf(region, values.regions),
            kubeContext: kubeContext ?? region,
            vaultInitialized,
            vaultAddress: address ?? vaultAddress(region, values.domain),
            ...(vaultCaCertFile === undefined ? {} : { vaultCaCertFile }),
            vaultCaCert: typeof caCert === "string" ? caCert : "",
            ...(peerOrganization === undefined ? {} : { peerOrganization }),
            ...(identity?.published === undefined ? {} : { serviceAccountIssuer: identity.published }),
            backend: values.backend,
            options: { ...regionValues, region, replicatedSecrets: initial.secrets },
            resolved: values,
        },
    };
}

/**
 * Each replicated secret as the region takes it: the config's `initialValue` (generate, or config)
 * becomes the value itself, in the home region's stack only; the others never see it.
 */
function initialValues(values: StackOptions, region: string, initialValuesSecret: boolean) {
    const problems: [string, string, string][] = [];
    const secrets = values.replicatedSecrets.map(({ initialValue, ...entry }, i) => {
        const home = entry.home ?? values.regions[0];
        const key = qualified(["replicatedSecrets", i, "initialValue"]);
        if (home !== region || initialValue === undefined) {
            return { ...entry, home };
        }
        if (initialValue === "generate") {
            return { ...entry, home, initialValue: { generate: { key: entry.keys?.[0] ?? "password" } } };
        }
        const given = values.initialValues?.[entry.name];
        const fix = `pulumi config set --secret --path 'initialValues.${entry.name}' <value> -s {stack}`;
        const parsed = given === undefined ? undefined : entry.keys?.length === 1 ? { [entry.keys[0]]: given } : stringMap(given);
        if (given === undefined) {
            problems.push([key, `is "config", but ${qualified(["initialValues", entry.name])} is not set`, fix]);
        } else if (!initialValuesSecret) {
            problems.push([
                qualified(["initialValues"]),
                `holds a value for ${entry.name}, but it is not set with --secret, so it is in the stack file in plaintext`,
                `pulumi config rm initialValues -s {stack}, then ${fix}, and rotate that value`,
            ]);
        } else if (parsed === undefined) {
            problems.push([
                qualified(["initialValues", entry.name]),
                `is [secret], but with ${entry.keys === undefined ? "the whole Secret" : "several keys"} it must be a JSON object of strings`,
                fix,
            ]);
        }
        return { ...entry, home, ...(parsed === undefined ? {} : { initialValue: { value: pulumi.secret(parsed) } }) };
    });
    return { secrets, problems };
}

function stringMap(text: string): Record<string, string> | undefined {
    const value = decodeJson(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === "string")
        ? (value as Record<string, string>)
        : undefined;
}

/** The project's keys, with JSON-typed values (lists, objects, numbers, booleans) decoded. */
function projectValues(rawConfig: Readonly<Record<string, string>>): Record<string, unknown> {
    const prefix = `${PROJECT}:`;
    const values: Record<string, unknown> = {};
    for (const [fullKey, raw] of Object.entries(rawConfig)) {
        if (fullKey.startsWith(prefix)) {
            const name = fullKey.slice(prefix.length);
            const field = schemaAt(stackOptions, [name]);
            values[name] = field !== undefined && kindOf(field) !== "string" ? decodeJson(raw) : raw;
        }
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

/** Every documented key, for the docs and the Pulumi.yaml block. */
export function configRows() {
    return optionRows(stackOptions);
}

/**
 * Reads and validates this stack's config from the Pulumi runtime.
 * @throws pulumi.RunError with one line per problem: Pulumi prints it without a stack trace.
 */
export function loadConfig(): RegionConfig {
    const raw = pulumi.runtime.allConfig();
    const result = parseConfig(pulumi.getStack(), raw, {
        secretKeys: Object.keys(raw).filter((k) => isConfigSecret(k)),
        environment: process.env,
        readFile: (file) => fs.readFileSync(file, "utf8"),
    });
    if (!result.ok) {
        throw new pulumi.RunError(result.problems.join("\n"));
    }
    for (const warning of result.warnings) {
        void pulumi.log.warn(warning);
    }
    return result.config;
}

/**
 * Whether a config key was set with `--secret`. The SDK exports `runtime.isConfigSecret` but marks it
 * internal (it has no public equivalent that does not also decrypt), so it is reached through a typed
 * lookup; if a future SDK drops it, every key counts as secret and errors show `[secret]`.
 */
function isConfigSecret(fullKey: string): boolean {
    const runtime = pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean };
    return runtime.isConfigSecret === undefined ? true : runtime.isConfigSecret(fullKey);
}
