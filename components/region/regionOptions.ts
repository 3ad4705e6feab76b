/**
 * The options of one region, composed from the options of its parts (the Vault servers, ESO,
 * snapshots, audit, monitoring, replicated secrets), with the rules that span parts. The stack's
 * config is this schema plus what only config has (files, the gate, the kubeconfig context).
 */
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ENGINE_FACTS, type Engine, engineOption } from "../common/engine";
import { backendOption, backendRules, type ResolvedBackend } from "../backends/backendOptions";
import { input, option, options, optionsSet, ruleIssue, schemaAt, text, rules, valueAt } from "../common/options";
import { isDnsLabel, isDnsSubdomain } from "../common/predicates";
import { vaultHost } from "../common/topology";
import { externalSecretsOptions } from "../eso/operatorValues";
import { monitoringOptions } from "../monitoring/monitoringSpecs";
import { replicatedSecretFields, replicatedSecretProblems, writersOf } from "../replication/replicationSpecs";
import { replicatorOptions } from "../replication/replicatorSpecs";
import { raftSnapshotOptions } from "../snapshots/snapshotSpecs";
import { MAX_TOKEN_GENERATION, tokenGeneration } from "../token-renewal/tokenLifetime";
import { auditDevicesOption, kvMountOption } from "../vault-config/setupValues";
import { admittedNamespaceProblems, vaultServerFields, vaultServerRules } from "../vault-server/serverOptions";

/** How a region's ESO logs in to a peer's Vault. */
export const PEER_AUTH_MODES = ["token", "jwt"] as const;
export type PeerAuth = (typeof PEER_AUTH_MODES)[number];

/** The base domain; a region's Vault is served at `vault.<region>.<domain>`. */
export const domainOption = option(text(isDnsSubdomain), {
    description: "Base domain; the region's Vault is served at `vault.<region>.<domain>`.",
    allowed: "a lowercase DNS name such as example.com, without scheme, port or path",
    example: "example.com",
    defaultText: "(required)",
});

/** The region's Vault: its servers, audit devices and snapshots. */
export const regionVaultOptions = options({
    ...vaultServerFields,
    auditDevices: auditDevicesOption,
    snapshots: option(raftSnapshotOptions.prefault({}), {
        description: "Scheduled Raft snapshots (backups) of the region's Vault, to a volume in its cluster.",
        allowed: "an object",
        example: "{}",
    }),
}).check(rules(vaultServerRules));

/** The fields of a region's options, shared by the VaultRegion component and the stack config. */
export const regionFields = {
    regions: option(
        z
            .array(text(isDnsLabel))
            .min(1)
            .refine((list) => new Set(list).size === list.length)
            .default(["region1", "region2"]),
        {
            description: "Every region of the platform. Each region has its own stack; a region's peers are all the others.",
            allowed: "a list of distinct DNS labels (lowercase letters, digits and '-')",
            example: "[region1, region2]",
            projectWide: true,
        },
    ),
    region: option(text(isDnsLabel), {
        description: "The region this stack deploys.",
        allowed: "one of the regions",
        example: "region1",
        defaultText: "the stack name",
    }),
    domain: domainOption,
    backend: backendOption,
    kvMount: kvMountOption,
    peerAuth: option(z.enum(PEER_AUTH_MODES).default("jwt"), {
        description:
            "How a region's ESO logs in to a peer's Vault. jwt: with its own short-lived service-account token, checked by a JWT mount per peer (nothing secret crosses between stacks and nothing needs renewing; every stack sets serviceAccountIssuer). token: with a token the peer issues (push-only, periodic, renewed by the issuing region's token renewer, rotated within its one-year maximum lifetime).",
        example: "jwt",
        projectWide: true,
    }),
    engine: engineOption,
    peerTokenGenerations: option(z.record(text(isDnsLabel), tokenGeneration).default({}), {
        description:
            "With peerAuth token: per peer region, the generation of the token this region issues it. Raising one issues a new token beside the old one, which stays valid (no longer renewed) for up to its 30-day period; the peer's next pulumi up switches to the new one. The yearly rotation the token's maximum lifetime asks for (an alert says when).",
        allowed: `an object of peer region names to whole numbers from 1 to ${MAX_TOKEN_GENERATION}`,
        example: "{region2: 2}",
        defaultText: "1 for every peer",
    }),
    vault: option(regionVaultOptions.prefault({}), { description: "The region's Vault servers.", allowed: "an object", example: "{}" }),
    externalSecrets: option(
        externalSecretsOptions
            .extend({
                install: option(z.boolean().default(true), {
                    description:
                        "Install ESO with this stack. With false, the cluster must already run ESO 2.x (CRDs at external-secrets.io/v1) as Helm release external-secrets in `namespace`.",
                    example: "true",
                }),
            })
            .prefault({}),
        { description: "The External Secrets Operator.", allowed: "an object", example: "{}" },
    ),
    monitoring: option(monitoringOptions.prefault({}), {
        description: "Telemetry, ServiceMonitors and alerts.",
        allowed: "an object",
        example: "{}",
    }),
    replicator: option(replicatorOptions.prefault({}), {
        description:
            "The region's replicator, which carries the writes of the secrets every region writes (`writers: any`) between regions.",
        allowed: "an object",
        example: "{}",
    }),
};

/**
 * The options only a self-hosted Vault uses (its servers, audit devices and snapshots, its metrics, the
 * replicator that runs beside it): a region whose backend is managed refuses any of them set to other
 * than its default. `engine` is not among them: it is project-wide, and names what the self-hosted regions run.
 */
export const VAULT_SERVER_ONLY_OPTIONS: readonly (readonly string[])[] = [
    ["vault"],
    ["monitoring", "retention"],
    ["monitoring", "unauthenticatedMetrics"],
    ["monitoring", "metricsTokenGeneration"],
    ["replicator"],
];

const regionFieldsSchema = options(regionFields);

/** The rules that span a region's parts, each reported at the option it names. */
export function regionRules(
    region: {
        readonly backend: ResolvedBackend;
        readonly region?: string;
        readonly regions: readonly string[];
        readonly domain?: unknown;
        readonly peerAuth: PeerAuth;
        readonly peerTokenGenerations: Readonly<Record<string, number>>;
        readonly vault: { readonly namespace: string };
        readonly externalSecrets: { readonly namespace: string };
        readonly monitoring: { readonly serviceMonitor: boolean; readonly prometheusNamespace: string };
        readonly engine?: Engine;
        readonly replicator?: { readonly auditHints?: boolean };
        readonly replicatedSecrets: readonly {
            readonly name: string;
            readonly namespace: string;
            readonly remoteKey?: string;
            readonly mode: "vault-written" | "cluster-written";
            readonly writers?: "any" | "home";
            readonly home?: string;
            readonly keys?: readonly string[];
        }[];
    },
    ctx: z.RefinementCtx,
    initialValueOf: (index: number) => { readonly generateKey?: string } | undefined = () => undefined,
): void {
    backendRules(
        {
            ...region,
            vaultServerOptionsSet:
                region.backend.type === "vault"
                    ? []
                    : VAULT_SERVER_ONLY_OPTIONS.flatMap((path) =>
                          optionsSet(schemaAt(regionFieldsSchema, path) ?? regionFieldsSchema, valueAt(region, path), path),
                      ),
        },
        ctx,
    );
    if (region.replicator?.auditHints === true && ENGINE_FACTS[region.engine ?? "vault"].auditDevices !== "api") {
        ruleIssue(
            ctx,
            ["replicator", "auditHints"],
            `is true, but ${ENGINE_FACTS[region.engine ?? "vault"].product} takes audit devices only from its server configuration, where a socket device that cannot reach the replicator would hold up the server. Remove it (writes are then found by the replicator's scan; lower replicator.scanInterval for faster propagation)`,
        );
    }
    if (region.region !== undefined && !region.regions.includes(region.region)) {
        ruleIssue(ctx, ["region"], `is ${region.region}, which is not one of the regions (${region.regions.join(", ")})`);
    }
    for (const peer of Object.keys(region.peerTokenGenerations)) {
        if (peer === region.region || !region.regions.includes(peer)) {
            ruleIssue(
                ctx,
                ["peerTokenGenerations", peer],
                `names ${peer}, which is not a peer of ${region.region ?? "this region"} (peers: ${region.regions.filter((r) => r !== region.region).join(", ") || "none"})`,
            );
        }
    }
    if (region.peerAuth !== "token" && Object.keys(region.peerTokenGenerations).length > 0) {
        ruleIssue(
            ctx,
            ["peerTokenGenerations"],
            `is set, but peerAuth is ${region.peerAuth}: no token is issued. Remove it, or set peerAuth to token`,
        );
    }
    for (const problem of admittedNamespaceProblems(region.vault.namespace, [
        { path: ["externalSecrets", "namespace"], namespace: region.externalSecrets.namespace, who: "the External Secrets Operator" },
        ...(region.monitoring.serviceMonitor
            ? [{ path: ["monitoring", "prometheusNamespace"], namespace: region.monitoring.prometheusNamespace, who: "Prometheus" }]
            : []),
    ])) {
        ruleIssue(ctx, problem.path, problem.message);
    }
    if (region.region !== undefined && typeof region.domain === "string" && !isDnsSubdomain(vaultHost(region.region, region.domain))) {
        ruleIssue(
            ctx,
            ["domain"],
            `is ${region.domain}, which makes the Vault host name vault.${region.region}.<domain> longer than 253 characters`,
        );
    }
    const seen = new Set<string>();
    region.replicatedSecrets.forEach((secret, i) => {
        const id = `${secret.namespace}/${secret.name}`;
        if (seen.has(id)) {
            ruleIssue(ctx, ["replicatedSecrets", i, "name"], `is ${secret.name}, but ${id} is listed twice`);
        }
        seen.add(id);
        replicatedSecretProblems(secret, region.regions, initialValueOf(i), (field, message) =>
            ruleIssue(ctx, ["replicatedSecrets", i, field], message),
        );
        if (region.peerAuth === "token" && secret.mode === "vault-written" && writersOf(secret) === "any") {
            ruleIssue(
                ctx,
                ["replicatedSecrets", i, "writers"],
                `is any${secret.writers === undefined ? " (the default for a vault-written secret)" : ""}, which needs peerAuth: jwt: the replicators log in to their peers with their own service-account tokens. Set peerAuth: jwt, or writers: home`,
            );
        }
    });
}

/** A replicated secret as the region takes it: its home defaults to the first region. */
export const regionSecretOptions = options({
    ...replicatedSecretFields,
    initialValue: z
        .custom<
            | { readonly generate: { readonly key: string; readonly length?: number; readonly generatorName?: string } }
            | { readonly value: pulumi.Input<Record<string, pulumi.Input<string>>> }
        >((value) => typeof value === "object" && value !== null && ("generate" in value || "value" in value))
        .optional(),
});

/** The options of the VaultRegion component. */
export const regionOptions = options({
    ...regionFields,
    domain: input(domainOption),
    replicatedSecrets: z.array(regionSecretOptions).default([]),
}).check(
    rules((region, ctx) =>
        regionRules(region, ctx, (i) => {
            const initial = region.replicatedSecrets[i].initialValue;
            return initial === undefined ? undefined : { ...("generate" in initial ? { generateKey: initial.generate.key } : {}) };
        }),
    ),
);

export type RegionOptions = z.input<typeof regionOptions>;
export type ResolvedRegionOptions = z.output<typeof regionOptions>;
