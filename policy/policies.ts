/**
 * The openova-vault policies: each rule of `rules.ts` wired to `@pulumi/policy`, with its name,
 * description, enforcement level and config schema. `index.ts` serves them as the pack; tests call
 * their `validateResource` / `validateStack` directly (constructing a `PolicyPack` starts the
 * analyzer's gRPC server, so it happens only in `index.ts`).
 */
import {
    type PolicyPackArgs,
    type ReportViolation,
    type ResourceValidationArgs,
    type ResourceValidationPolicy,
    type StackValidationArgs,
    type StackValidationPolicy,
    UnknownValueError,
} from "@pulumi/policy";
import {
    ALLOWED_SYS_PATHS,
    DEFAULT_MINIMUM_RAFT_REPLICAS,
    MAX_TOKEN_LIFETIME_HOURS,
    PEER_ACCESS_OUTPUT,
    PEER_PUSH_POLICY_NAME,
    REPLICATOR_POLICY,
    type PlainSecretConfig,
    type RaftReplicaConfig,
    type ResourceData,
    STACK_TYPE,
    type TlsConfig,
    checkEsoApiV1,
    checkInjectorOff,
    checkPlainSecrets,
    checkRaftReplicas,
    checkStackOutputs,
    checkTlsOn,
    checkVaultPolicy,
    checkVaultToken,
} from "./rules";

/** The pack's name, as `pulumi preview` reports it. */
export const PACK_NAME = "openova-vault";

/**
 * A plain copy of `value` (the policy SDK hands properties through a proxy that throws on values
 * unknown during preview) without the unknown values. Only for checks that look for bad values,
 * where a value not known yet cannot be bad yet (`pulumi up` checks it again once it is known);
 * checks that require a value let the SDK report "can't run during preview" instead.
 */
export function knownValues(value: unknown): unknown {
    const known = (read: () => unknown): { readonly ok: boolean; readonly value?: unknown } => {
        try {
            return { ok: true, value: knownValues(read()) };
        } catch (error) {
            if (error instanceof UnknownValueError) {
                return { ok: false };
            }
            throw error;
        }
    };
    if (Array.isArray(value)) {
        // Index by index: Array methods would read every element through the proxy at once.
        const items = value as unknown[];
        const copy: unknown[] = [];
        for (let index = 0; index < items.length; index++) {
            const item = known(() => items[index]);
            if (item.ok) {
                copy.push(item.value);
            }
        }
        return copy;
    }
    if (typeof value === "object" && value !== null) {
        const record = value as Record<string, unknown>;
        const copy: Record<string, unknown> = {};
        for (const key of Object.keys(record)) {
            const item = known(() => record[key]);
            if (item.ok) {
                copy[key] = item.value;
            }
        }
        return copy;
    }
    return value;
}

function resourceOf(args: ResourceValidationArgs): ResourceData {
    return { type: args.type, name: args.name, props: args.props };
}

function reportAll(reportViolation: ReportViolation, messages: readonly string[]): void {
    for (const message of messages) {
        reportViolation(message);
    }
}

const COMPONENT_INPUTS_NOTE =
    "Checked on the chart's inputs (a kubernetes:helm.sh/v4:Chart or helm.sh/v3:Release whose chart is vault, or openbao for OpenBao) where the engine passes them to policies, and always on the objects the chart renders, which reach policies as ordinary resources.";

export const vaultRaftReplicas: ResourceValidationPolicy = {
    name: "vault-raft-replicas",
    description: `The Vault chart runs HA on integrated Raft storage (server.ha.enabled, server.ha.raft.enabled, a JSON server configuration with "storage": {"raft": ...}), never in dev mode, with an odd number of servers (server.ha.replicas, the StatefulSet's replicas) of at least minimumRaftReplicas (default ${DEFAULT_MINIMUM_RAFT_REPLICAS}). ${COMPONENT_INPUTS_NOTE}`,
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: {
        properties: {
            minimumRaftReplicas: {
                type: "integer",
                minimum: 1,
                default: DEFAULT_MINIMUM_RAFT_REPLICAS,
                description: "The fewest Vault servers (Raft voters) a stack may run. 3 in production; a single-server dev stack sets 1.",
            },
        },
    },
    validateResource: (args, reportViolation) => {
        const config = args.getConfig<RaftReplicaConfig>();
        reportAll(
            reportViolation,
            checkRaftReplicas(resourceOf(args), { minimumRaftReplicas: config.minimumRaftReplicas ?? DEFAULT_MINIMUM_RAFT_REPLICAS }),
        );
    },
};

export const vaultInjectorOff: ResourceValidationPolicy = {
    name: "vault-injector-off",
    description: `The Vault chart's Agent injector is off (injector.enabled: false, no injector Deployment or webhook): the External Secrets Operator delivers secrets. ${COMPONENT_INPUTS_NOTE}`,
    enforcementLevel: "mandatory",
    severity: "medium",
    validateResource: (args, reportViolation) => {
        reportAll(reportViolation, checkInjectorOff(resourceOf(args)));
    },
};

export const vaultTlsOn: ResourceValidationPolicy = {
    name: "vault-tls-on",
    description: `The Vault servers serve TLS: global.tlsDisable is false (the servers' VAULT_ADDR is https) and no TCP listener in the server configuration (JSON, as the VaultServer component writes it) sets tls_disable (the chart's default configurations do). allowPlaintext: true in this policy's config is the explicit waiver. ${COMPONENT_INPUTS_NOTE}`,
    enforcementLevel: "mandatory",
    severity: "critical",
    configSchema: {
        properties: {
            allowPlaintext: {
                type: "boolean",
                default: false,
                description:
                    "Waive the check for a stack that runs Vault without TLS on purpose (vault.tls.source none with vault.tls.allowPlaintext): a single-cluster lab, never a platform.",
            },
        },
    },
    validateResource: (args, reportViolation) => {
        const config = args.getConfig<TlsConfig>();
        reportAll(reportViolation, checkTlsOn(resourceOf(args), { allowPlaintext: config.allowPlaintext === true }));
    },
};

export const esoApiV1: ResourceValidationPolicy = {
    name: "eso-api-v1",
    description:
        "ClusterSecretStores, SecretStores, ExternalSecrets and ClusterExternalSecrets are declared at external-secrets.io/v1 (type token and apiVersion): ESO stopped serving v1beta1 in 0.17. PushSecret stays v1alpha1.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateResource: (args, reportViolation) => {
        reportAll(reportViolation, checkEsoApiV1(resourceOf(args)));
    },
};

export const peerTokensPushOnly: ResourceValidationPolicy = {
    name: "peer-tokens-push-only",
    description: `Every vault:index/token:Token is an orphan (noParent), periodic (period, no ttl), with an explicit maximum lifetime (explicitMaxTtl) longer than its period and at most ${MAX_TOKEN_LIFETIME_HOURS}h, renewable, and carries exactly one single-purpose policy: ${PEER_PUSH_POLICY_NAME} for a peer token (prometheus-metrics for the monitoring component's scrape token); never root.`,
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: (args, reportViolation) => {
        reportAll(reportViolation, checkVaultToken(resourceOf(args)));
    },
};

export const vaultPoliciesLeastPrivilege: ResourceValidationPolicy = {
    name: "vault-policies-least-privilege",
    description: `Every vault:index/policy:Policy document parses (Vault's JSON policy form, as the components write it, or HCL written by hand) and grants no sudo, delete, list or patch, no create or update that may reach a KV v2 mount's delete/, undelete/, destroy/ or config (nothing may destroy versions; only ${REPLICATOR_POLICY} may update <mount>/delete/<key>, a soft delete, for exact keys it also writes), no wildcard in a path's first segment, nothing across every namespace of a KV v2 tree, no metadata write beyond custom_metadata, and nothing under sys/ but ${Object.entries(
        ALLOWED_SYS_PATHS,
    )
        .map(([path, capabilities]) => `${capabilities.join(", ")} on ${path}`)
        .join(" and ")}. Stanzas that deny grant nothing and pass.`,
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: async (args, reportViolation) => {
        reportAll(reportViolation, await checkVaultPolicy(resourceOf(args)));
    },
};

const PLAIN_CONFIG_SCHEMA = {
    allowedKeys: {
        type: "array" as const,
        items: { type: "string" as const },
        default: [],
        description:
            "Exact keys (annotations, ConfigMap data, outputs) that are named like a credential but hold none. They skip the name check only, never the token, private-key and AWS-key checks.",
    },
};

export const noSecretInPlainPlaces: ResourceValidationPolicy = {
    name: "no-secret-in-plain-places",
    description:
        "No credential in a ConfigMap's data (or decoded binaryData) or in any Kubernetes object's metadata.annotations: no Vault token (hvs., hvb., hvr., legacy s. + 24 characters), PEM private key, AWS secret access key, or non-empty value under a key named like a password, token or secret (a Vault file:// or env:// reference names where a credential is, and passes).",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: { properties: PLAIN_CONFIG_SCHEMA },
    validateResource: (args, reportViolation) => {
        const config = args.getConfig<PlainSecretConfig>();
        const resource = resourceOf(args);
        // A value unknown during preview cannot be a credential yet; `pulumi up` checks it once known.
        reportAll(
            reportViolation,
            checkPlainSecrets({ ...resource, props: knownValues(resource.props) as Record<string, unknown> }, config),
        );
    },
};

export const noSecretInStackOutputs: StackValidationPolicy = {
    name: "no-secret-in-stack-outputs",
    description: `No credential-shaped value in any stack output (the ${STACK_TYPE} resource's outputs) but the secretOutputs (default ${PEER_ACCESS_OUTPUT}, which the program exports with pulumi.secret). Policies see secret values unwrapped, so this cannot tell a secret output from a plain one: every output not listed in secretOutputs is checked. Runs at the end of preview and update, on known values.`,
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: {
        properties: {
            ...PLAIN_CONFIG_SCHEMA,
            secretOutputs: {
                type: "array",
                items: { type: "string" },
                default: [PEER_ACCESS_OUTPUT],
                description:
                    "Outputs the program exports with pulumi.secret(), exempt from the check. Keep it to outputs a test proves are secret.",
            },
        },
    },
    validateStack: (args: StackValidationArgs, reportViolation) => {
        const config = args.getConfig<PlainSecretConfig>();
        const stacks = args.resources
            .filter((resource) => resource.type === STACK_TYPE)
            .map((resource) => ({
                type: resource.type,
                name: resource.name,
                props: knownValues(resource.props) as Record<string, unknown>,
            }));
        reportAll(reportViolation, checkStackOutputs(stacks, config));
    },
};

/** Every policy of the pack, in the order `pulumi preview` lists them. */
export const policies: (ResourceValidationPolicy | StackValidationPolicy)[] = [
    vaultRaftReplicas,
    vaultInjectorOff,
    vaultTlsOn,
    esoApiV1,
    peerTokensPushOnly,
    vaultPoliciesLeastPrivilege,
    noSecretInPlainPlaces,
    noSecretInStackOutputs,
];

/** The pack's arguments: every policy mandatory unless a stack's policy config says otherwise. */
export const policyPackArgs: PolicyPackArgs = {
    policies,
    enforcementLevel: "mandatory",
    displayName: "openova-vault invariants",
    description:
        "The design invariants of openova-vault (Vault HA on Raft with the External Secrets Operator) on any stack that uses its components.",
};
