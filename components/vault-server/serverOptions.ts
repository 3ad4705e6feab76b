/**
 * The options of a region's Vault servers, as one schema: each option's type, default, rule and
 * documentation. The builders in `serverValues.ts` read the validated result.
 */
import { z } from "zod";
import { option, options, ruleIssue, text, rules } from "../common/options";
import { isChartVersion, isDnsLabel, isDnsSubdomain, isImageTag, isOwnNamespace, isRaftReplicaCount } from "../common/predicates";
import { isStorageQuantity } from "../common/quantities";
import { ENGINE_FACTS } from "../common/engine";
import { VAULT_CHART, VAULT_IMAGE } from "../common/versions";
import { CILIUM_INGRESS_CLASS, INGRESS_CONTROLLER_NAMESPACES, ingressControllerNamespace } from "./networkPolicy";
import { resourceOptions } from "./resources";
import { sealOptions } from "./seal";
import { TLS_PASSTHROUGH_ANNOTATIONS, passthroughAnnotations, tlsOptions } from "./tls";
import { SOURCE_RANGE_ENFORCEMENT, cidrProblem, proxyProtocolSupport, sourceRangeEnforcement, sourceRangeRefusal } from "./sourceRanges";

/** A list of distinct CIDRs, each checked with the reason it is not one. */
const cidrList = z
    .array(
        z.string().check(
            z.superRefine((value, ctx) => {
                const problem = cidrProblem(value);
                if (problem !== undefined) {
                    ruleIssue(ctx, [], `is ${JSON.stringify(value)}, which ${problem}`);
                }
            }),
        ),
    )
    .min(1)
    .refine((list) => new Set(list).size === list.length);

const storageSize = (description: string) =>
    option(text(isStorageQuantity).default("10Gi"), {
        description,
        allowed: "a Kubernetes quantity with a unit, at least 1Gi, such as 10Gi or 1Ti",
        example: "10Gi",
    });

/** The pinned chart or image version of each engine, in words: `0.34.1 (vault), 0.29.2 (openbao)`. */
function pinnedText(what: "chart" | "image"): string {
    return Object.values(ENGINE_FACTS)
        .map((facts) => `${what === "chart" ? facts.chart.version : facts.image.tag} (${facts.engine})`)
        .join(", ");
}

/** The options of the Vault servers of one region, field by field. */
export const vaultServerFields = {
    namespace: option(text(isOwnNamespace).default("vault"), {
        description: "Namespace of the Vault servers, created by the stack.",
        allowed: "a namespace name (a DNS label) other than default and kube-*",
        example: "vault",
    }),
    replicas: option(z.int().refine(isRaftReplicaCount).default(3), {
        description:
            "Vault servers (Raft voters). Raft needs a majority to elect a leader: 3 tolerate one failure, 5 two. Each server needs its own node (the chart's pod anti-affinity).",
        allowed: "an odd whole number from 1 to 7 (use 3 or 5 in production)",
        example: "3",
    }),
    storageSize: storageSize("Raft data volume per server."),
    auditStorageSize: storageSize(
        `Audit-log volume per server (mounted at ${ENGINE_FACTS.vault.paths.audit}, or ${ENGINE_FACTS.openbao.paths.audit} with OpenBao).`,
    ),
    storageClass: option(text(isDnsSubdomain).optional(), {
        description: "StorageClass of the data and audit volumes.",
        allowed: "a StorageClass name (a DNS name)",
        example: "standard",
        defaultText: "the cluster's default StorageClass",
    }),
    ingressClassName: option(text(isDnsSubdomain).default(CILIUM_INGRESS_CLASS), {
        description: "IngressClass that serves `vault.<region>.<domain>`, passing TLS through to the servers.",
        allowed: `an IngressClass name (a DNS name); ${Object.keys(TLS_PASSTHROUGH_ANNOTATIONS).join(", ")} are known, any other needs ingressAnnotations and ingressControllerNamespace`,
        example: "cilium",
    }),
    ingressAnnotations: option(z.record(z.string(), z.string()).default({}), {
        description:
            "Extra annotations for the ingress; they win over the TLS pass-through annotation this project sets for the classes it knows. Required with TLS for any other class: the annotations that make it pass TLS through.",
        allowed: "an object of annotation names to strings",
        example: "{}",
    }),
    ingressControllerNamespace: option(text(isDnsLabel).optional(), {
        description:
            "Namespace of the ingress controller, which the servers' NetworkPolicy admits. Cilium's ingress is admitted by identity instead.",
        allowed: "a namespace name (a DNS label) other than Vault's namespace",
        example: "ingress-nginx",
        defaultText: Object.entries(INGRESS_CONTROLLER_NAMESPACES)
            .map(([cls, ns]) => `${ns} for ${cls}`)
            .concat(`none for ${CILIUM_INGRESS_CLASS}`)
            .join(", "),
    }),
    allowedSourceRanges: option(cidrList.optional(), {
        description: `The client addresses that may reach this Vault through its ingress: the peer regions' egress addresses, the operators' and CI's (the Vault provider). Enforced by the ingress: ${Object.entries(
            SOURCE_RANGE_ENFORCEMENT,
        )
            .map(([cls, how]) =>
                how.by === "policy"
                    ? `${cls} by a CiliumClusterwideNetworkPolicy on its ingress identity`
                    : `${cls} by ${how.annotation}${how.withPassthrough ? "" : " (only with TLS off: its TLS pass-through ignores it)"}`,
            )
            .join(", ")}; any other class is refused. In-cluster clients (ESO, the jobs) do not go through the ingress.`,
        allowed: "a list of distinct CIDRs, each a network address with its prefix length, such as 203.0.113.0/24 or 2001:db8::/32",
        example: "[203.0.113.0/24, 198.51.100.7/32]",
        defaultText: "none: open to everyone who reaches the ingress (every run warns)",
    }),
    proxyProtocolRanges: option(cidrList.optional(), {
        description:
            "Where the ingress controller's connections to Vault come from (its pods' addresses, e.g. the cluster's pod CIDR). The ingress then sends PROXY protocol (v1) and the server's listener takes the client's address from it for these connections only (proxy_protocol_behavior allow_authorized), so the audit log records the client, not the proxy. haproxy only: cilium and nginx cannot send PROXY protocol on TLS pass-through (docs/security.md).",
        allowed: "a list of distinct CIDRs, each a network address with its prefix length",
        example: "[10.244.0.0/16]",
        defaultText: "none: the server records the ingress proxy's address",
    }),
    chartVersion: option(text(isChartVersion).optional(), {
        description:
            "Version of the engine's chart (hashicorp/vault, or openbao/openbao with engine openbao). Change it together with imageTag (the chart's appVersion).",
        allowed: "a semantic version such as 0.34.1",
        example: VAULT_CHART.version,
        defaultText: pinnedText("chart"),
    }),
    imageTag: option(text(isImageTag).optional(), {
        description:
            "Tag of the engine's server image (hashicorp/vault, or openbao/openbao with engine openbao), optionally with its digest.",
        allowed: "a pinned image tag (not latest), optionally @sha256:<digest>",
        example: VAULT_IMAGE.tag,
        defaultText: pinnedText("image"),
    }),
    logLevel: option(z.enum(["trace", "debug", "info", "warn", "error"]).default("info"), {
        description:
            "How much the servers log (the chart's `server.logLevel`). `debug` and `trace` log request details: for troubleshooting, not for every day.",
        example: "info",
    }),
    resources: option(resourceOptions.prefault({}), {
        description: "CPU and memory per server.",
        allowed: "an object",
        example: "{}",
    }),
    tls: option(tlsOptions.prefault({}), {
        description:
            "TLS on the listener, end to end: the servers serve it, Raft peers and every client verify it, the ingress passes it through.",
        allowed: "an object",
        example: "{}",
    }),
    seal: option(sealOptions.prefault({}), {
        description: "How the servers are unsealed.",
        allowed: "an object",
        example: "{}",
    }),
};

/** The rules across the server options, each reported at the option it names. */
export function vaultServerRules(server: z.output<z.ZodObject<typeof vaultServerFields>>, ctx: z.RefinementCtx): void {
    const controller = ingressControllerNamespace(server.ingressClassName, server.ingressControllerNamespace);
    if (controller === undefined && server.ingressClassName !== CILIUM_INGRESS_CLASS) {
        ruleIssue(
            ctx,
            ["ingressControllerNamespace"],
            `is not set, and the ingress class ${server.ingressClassName} has no known controller namespace for the Vault NetworkPolicy: set it to the namespace the controller's pods run in`,
        );
    }
    // The NetworkPolicy admits a whole namespace: Vault's own would admit every pod in it.
    if (controller === server.namespace) {
        ruleIssue(
            ctx,
            ["ingressControllerNamespace"],
            `is ${controller}, Vault's own namespace: the NetworkPolicy would admit every pod in it`,
        );
    }
    const tlsOn = server.tls.source !== "none";
    const ranges = server.allowedSourceRanges;
    if (ranges !== undefined) {
        const everyone = ranges.filter((range) => range === "0.0.0.0/0" || range === "::/0");
        const enforcement = sourceRangeEnforcement(server.ingressClassName, tlsOn);
        if (everyone.length > 0) {
            ruleIssue(
                ctx,
                ["allowedSourceRanges"],
                `lists ${everyone.join(" and ")}, which admits everyone: remove allowedSourceRanges to say the API is open (and get the warning), or list the ranges that need it`,
            );
        } else if (enforcement === undefined) {
            ruleIssue(ctx, ["allowedSourceRanges"], sourceRangeRefusal(server.ingressClassName, tlsOn));
        } else if (enforcement.by === "annotation" && Object.hasOwn(server.ingressAnnotations, enforcement.annotation)) {
            ruleIssue(
                ctx,
                ["ingressAnnotations"],
                `sets ${enforcement.annotation}, which allowedSourceRanges sets: keep the ranges in allowedSourceRanges alone, and remove the annotation`,
            );
        }
    }
    if (server.proxyProtocolRanges !== undefined) {
        const support = proxyProtocolSupport(server.ingressClassName);
        if ("whyNot" in support) {
            ruleIssue(
                ctx,
                ["proxyProtocolRanges"],
                `is set, but ${support.whyNot}: remove proxyProtocolRanges (Vault's audit log then records the proxy's address), or use the haproxy class`,
            );
        }
    }
    if (tlsOn && passthroughAnnotations(server.ingressClassName) === undefined && Object.keys(server.ingressAnnotations).length === 0) {
        ruleIssue(
            ctx,
            ["ingressClassName"],
            `is ${server.ingressClassName}, which this project does not know how to pass TLS through (it knows ${Object.keys(TLS_PASSTHROUGH_ANNOTATIONS).join(", ")}): set ingressAnnotations to that class's TLS pass-through annotation`,
        );
    }
}

/** The Vault servers of one region. */
export const vaultServerOptions = options(vaultServerFields).check(rules(vaultServerRules));

export type VaultServerOptions = z.input<typeof vaultServerOptions>;
export type ResolvedVaultServerOptions = z.output<typeof vaultServerOptions>;

/**
 * The namespaces the servers' NetworkPolicy admits whole (ESO's, Prometheus's) must not be Vault's
 * own: that would admit every pod in it. One rule, used wherever those namespaces meet: the
 * VaultServer component's args, and the region's options (where they are separate options).
 * @returns the offending entries, each with a message that follows its option's path
 */
export function admittedNamespaceProblems(
    vaultNamespace: string,
    admitted: readonly { readonly path: readonly PropertyKey[]; readonly namespace: string | undefined; readonly who: string }[],
): { path: readonly PropertyKey[]; message: string }[] {
    return admitted
        .filter((entry) => entry.namespace === vaultNamespace)
        .map((entry) => ({
            path: entry.path,
            message: `is ${vaultNamespace}, Vault's own namespace, but ${entry.who} needs its own: the NetworkPolicy would admit every pod in Vault's namespace`,
        }));
}
