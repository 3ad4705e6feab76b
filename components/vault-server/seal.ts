/**
 * How a region's Vault is unsealed: Shamir key shares typed in by operators (the seed's way, and the
 * default), or auto-unseal through a key management service: the options, the `seal` stanza of the
 * server configuration, and the chart values that give the servers their KMS credentials.
 *
 * Credentials never appear in the configuration or the chart values: they come either from a
 * Kubernetes Secret the operator creates in Vault's namespace (injected as environment variables or
 * mounted as files), or from the platform's workload identity (the pods' service account is bound to
 * a cloud identity). A seal parameter that carries a credential is refused.
 */
import { z } from "zod";
import { oneOf, option, options, ruleIssue, text, rules } from "../common/options";
import { ENGINE_FACTS, type EngineFacts } from "../common/engine";
import { isDnsLabel } from "../common/predicates";
import { AKS_WORKLOAD_IDENTITY, AWS_IRSA, GKE_WORKLOAD_IDENTITY } from "../common/workloadIdentity";

/** Seal types: `shamir` (manual unseal keys) or one of Vault's auto-unseal seals. */
export const SEAL_TYPES = ["shamir", "awskms", "gcpckms", "azurekeyvault", "transit"] as const;
export type SealType = (typeof SEAL_TYPES)[number];

/** Where an auto-unseal seal's credentials come from. */
export const SEAL_CREDENTIAL_SOURCES = ["secret", "workload-identity"] as const;
export type SealCredentialSource = (typeof SEAL_CREDENTIAL_SOURCES)[number];

/** Where the Vault chart mounts a Secret listed in `server.extraVolumes` (OpenBao's: {@link EngineFacts.paths}). */
export const USERCONFIG_PATH = ENGINE_FACTS.vault.paths.userconfig;

/** The chart names the pod volume of a Secret listed in `server.extraVolumes` `userconfig-<name>`. */
export function userconfigVolumeName(secretName: string): string {
    return `userconfig-${secretName}`;
}

/**
 * The longest Secret name the chart can mount: it names the volume {@link userconfigVolumeName}, and a
 * volume name is a DNS label (at most 63 characters).
 */
export const MAX_MOUNTED_SECRET_NAME = 63 - userconfigVolumeName("").length;

/** Whether the chart can mount a Secret of this name through `server.extraVolumes`. */
export function isMountableSecretName(name: string): boolean {
    return isDnsLabel(name) && name.length <= MAX_MOUNTED_SECRET_NAME;
}

/** One seal type's rules. */
interface SealRules {
    /** Parameters that must be set. */
    readonly required: readonly string[];
    /** Every parameter that may be set (the required ones included). */
    readonly allowed: readonly string[];
    /** Parameters that hold credentials: refused, they belong in the credentials Secret. */
    readonly credentials: readonly string[];
    /** With `credentials: secret`: the Secret's keys, each passed as the environment variable of the same name, or as a file. */
    readonly secretKeys: readonly string[];
    /** How the Secret reaches the server: environment variables, or files (the Secret mounted, its files named in the seal stanza). */
    readonly secretAs: "env" | "file";
    /** Whether the type can use workload identity, and how it is bound. */
    readonly workloadIdentity?: {
        /** The servers' service-account annotation that names the identity. */
        readonly annotation: string;
        /** A seal parameter that names it too. */
        readonly parameter?: string;
        /** Labels the servers' pods need (Azure's webhook injects the federated token only into labelled pods). */
        readonly podLabels?: Readonly<Record<string, string>>;
        readonly what: string;
    };
}

/** Parameters and credentials per seal type, from Vault's seal documentation (configuration/seal/<type>). */
export const SEAL_RULES: Readonly<Record<Exclude<SealType, "shamir">, SealRules>> = {
    awskms: {
        required: ["region", "kms_key_id"],
        allowed: ["region", "kms_key_id", "endpoint"],
        credentials: ["access_key", "secret_key", "session_token"],
        secretKeys: ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
        secretAs: "env",
        workloadIdentity: { annotation: AWS_IRSA.annotation, what: AWS_IRSA.what },
    },
    gcpckms: {
        required: ["project", "region", "key_ring", "crypto_key"],
        allowed: ["project", "region", "key_ring", "crypto_key"],
        credentials: ["credentials"],
        secretKeys: ["credentials.json"],
        secretAs: "file",
        workloadIdentity: { annotation: GKE_WORKLOAD_IDENTITY.annotation, what: GKE_WORKLOAD_IDENTITY.what },
    },
    azurekeyvault: {
        required: ["tenant_id", "vault_name", "key_name"],
        allowed: ["tenant_id", "vault_name", "key_name", "environment", "resource"],
        credentials: ["client_id", "client_secret"],
        secretKeys: ["AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"],
        secretAs: "env",
        // AKS Workload Identity: the webhook injects a federated token into pods labelled `use: "true"`
        // whose service account names the identity; the seal's client_id selects it. Never the node's
        // managed identity, which every pod on the node could use.
        workloadIdentity: {
            annotation: AKS_WORKLOAD_IDENTITY.annotation,
            parameter: "client_id",
            podLabels: AKS_WORKLOAD_IDENTITY.podLabels,
            what: "the client ID of a user-assigned managed identity federated with the servers' service account (AKS Workload Identity)",
        },
    },
    // The token is a file, not the VAULT_TOKEN environment variable: in the server's environment every
    // `vault` command run in the pod (the chart's readiness probe included) would send it to the local
    // Vault. The seal's `token` takes an indirect value, `file://<path>` (Vault's seal documentation,
    // "Indirect value references", since Vault 1.19; go-kms-wrapping wrappers/transit/v2.0.13
    // options.go reads it with wrapping.ParsePaths), which reads the file as it is, without trimming.
    transit: {
        required: ["address", "key_name", "mount_path"],
        allowed: ["address", "key_name", "mount_path", "namespace", "disable_renewal", "tls_server_name"],
        credentials: ["token", "tls_client_key", "tls_skip_verify"],
        secretKeys: ["VAULT_TOKEN", "ca.crt"],
        secretAs: "file",
    },
};

/** How the servers are unsealed. */
export const sealOptions = options({
    type: option(oneOf(SEAL_TYPES).default("shamir"), {
        description:
            "How the servers are unsealed: `shamir` (operators type key shares after every restart) or an auto-unseal seal through a key management service: `awskms`, `gcpckms`, `azurekeyvault` or `transit`.",
        example: "awskms",
    }),
    parameters: option(z.record(z.string(), z.string()).optional(), {
        description:
            "The seal's parameters as Vault's seal documentation names them (e.g. awskms `region`, `kms_key_id`), written into the server configuration. Non-secret parameters only: credentials come from `credentials`.",
        allowed: `an object of the type's non-secret parameters: ${Object.entries(SEAL_RULES)
            .map(
                ([type, rules]) =>
                    `${type} ${rules.required.join(", ")} (optional: ${rules.allowed.filter((p) => !rules.required.includes(p)).join(", ") || "none"})`,
            )
            .join("; ")}`,
        example: "{region: eu-west-1, kms_key_id: alias/vault}",
        defaultText: "none",
    }),
    credentials: option(oneOf(SEAL_CREDENTIAL_SOURCES).optional(), {
        description:
            "Where the KMS credentials come from: a Secret in Vault's namespace, or the platform's workload identity. Required for every type but shamir.",
        example: "workload-identity",
        defaultText: "(required for auto-unseal)",
    }),
    credentialsSecret: option(text(isMountableSecretName).optional(), {
        description: `With credentials secret: a Secret in Vault's namespace, created by the operator, with the keys the type reads: ${Object.entries(
            SEAL_RULES,
        )
            .map(([type, rules]) => `${type} ${rules.secretKeys.join(", ")}`)
            .join("; ")}.`,
        allowed: `a Secret name the chart can mount (a DNS label of at most ${MAX_MOUNTED_SECRET_NAME} characters)`,
        example: "vault-kms",
        defaultText: "(required with credentials secret)",
    }),
    workloadIdentity: option(text((v) => v.trim() !== "" && !/[\s"{}$%]/.test(v)).optional(), {
        description:
            "With credentials workload-identity: the cloud identity the servers' service account is bound to. awskms: an IAM role ARN (IRSA); gcpckms: a Google service account e-mail (GKE Workload Identity); azurekeyvault: the client ID of a user-assigned managed identity (AKS Workload Identity).",
        allowed: "an identity without spaces, quotes, braces, '$' or '%'",
        example: "arn:aws:iam::111122223333:role/vault-unseal",
        defaultText: "(required with credentials workload-identity)",
    }),
}).check(
    rules((seal, ctx) => {
        for (const message of sealRuleProblems(seal)) {
            ruleIssue(ctx, [message.key], message.text);
        }
    }),
);

export type VaultSealOptions = z.input<typeof sealOptions>;

/** The rules across the seal options, each reported at the option it names. */
function sealRuleProblems(seal: z.output<typeof sealOptions>): { key: string; text: string }[] {
    const problems: { key: string; text: string }[] = [];
    const at = (key: string, text: string) => problems.push({ key, text });
    if (seal.type === "shamir") {
        for (const key of ["parameters", "credentials", "credentialsSecret", "workloadIdentity"] as const) {
            if (seal[key] !== undefined) {
                at(key, "is set, but type is shamir, which takes none: set type to an auto-unseal seal, or remove it");
            }
        }
        return problems;
    }
    const rules = SEAL_RULES[seal.type];
    const parameters = seal.parameters ?? {};
    for (const [name, value] of Object.entries(parameters)) {
        if (rules.credentials.includes(name)) {
            at(
                "parameters",
                `has ${name}, which would put a credential in the server configuration: remove it and use credentials (a Secret or workload identity)`,
            );
        } else if (!rules.allowed.includes(name)) {
            at(
                "parameters",
                `has ${name}, which is not a ${seal.type} parameter this project writes (allowed: ${rules.allowed.join(", ")})`,
            );
        } else if (value.trim() === "" || /\$\{|%\{|\{\{|\}\}/.test(value)) {
            // Vault expands ${...} and %{...}; the chart passes the configuration through Helm's tpl, which reads {{ }}.
            at(
                "parameters",
                `has ${name} ${JSON.stringify(value)}, but a parameter must be a non-empty value without "\${", "%{", "{{" or "}}"`,
            );
        }
    }
    const missing = rules.required.filter((name) => parameters[name] === undefined);
    if (missing.length > 0) {
        at("parameters", `lacks ${missing.join(", ")}, which type ${seal.type} needs`);
    }
    if (seal.credentials === undefined) {
        at(
            "credentials",
            `is not set, but type ${seal.type} needs credentials for the KMS: secret (with credentialsSecret)` +
                (rules.workloadIdentity ? ` or workload-identity (with workloadIdentity, ${rules.workloadIdentity.what})` : ""),
        );
    } else if (seal.credentials === "secret") {
        if (seal.credentialsSecret === undefined) {
            at(
                "credentialsSecret",
                `is not set, but credentials is secret: name a Secret in Vault's namespace with ${rules.secretKeys.join(", ")}`,
            );
        }
        if (seal.workloadIdentity !== undefined) {
            at("workloadIdentity", "is set, but credentials is secret: use one of the two");
        }
    } else {
        if (rules.workloadIdentity === undefined) {
            at(
                "credentials",
                `is workload-identity, but type ${seal.type} has none: set credentials to secret (a Secret with ${rules.secretKeys.join(", ")})`,
            );
        } else if (seal.workloadIdentity === undefined) {
            at("workloadIdentity", `is not set, but credentials is workload-identity: give ${rules.workloadIdentity.what}`);
        }
        if (seal.credentialsSecret !== undefined) {
            at("credentialsSecret", "is set, but credentials is workload-identity: use one of the two");
        }
    }
    return problems;
}

/** The seal options resolved: Shamir, or an auto-unseal seal with its parameters and credentials. */
export type ResolvedVaultSealOptions =
    | { readonly type: "shamir" }
    | {
          readonly type: Exclude<SealType, "shamir">;
          readonly parameters: Readonly<Record<string, string>>;
          readonly credentials: SealCredentialSource;
          readonly credentialsSecret?: string;
          readonly workloadIdentity?: string;
      };

/** What the validated options mean for the servers. */
export function resolvedSeal(seal: z.output<typeof sealOptions>): ResolvedVaultSealOptions {
    if (seal.type === "shamir") {
        return { type: "shamir" };
    }
    return {
        type: seal.type,
        parameters: { ...(seal.parameters ?? {}) },
        credentials: seal.credentials ?? "secret",
        ...(seal.credentialsSecret === undefined ? {} : { credentialsSecret: seal.credentialsSecret }),
        ...(seal.workloadIdentity === undefined ? {} : { workloadIdentity: seal.workloadIdentity }),
    };
}

/** Whether the seal unseals itself (an auto-unseal seal): init then returns recovery keys, not unseal keys. */
export function isAutoUnseal(seal: ResolvedVaultSealOptions): boolean {
    return seal.type !== "shamir";
}

/**
 * The `seal` stanza of the server configuration (`{<type>: {parameters}}`), or none for Shamir. File
 * credentials point into the mounted Secret; workload identity adds what the engine needs to use it
 * ({@link EngineFacts.workloadIdentitySealParameters}).
 */
export function sealStanza(
    seal: ResolvedVaultSealOptions,
    engine: EngineFacts = ENGINE_FACTS.vault,
): Record<string, Record<string, string>> | undefined {
    if (seal.type === "shamir") {
        return undefined;
    }
    const rules = SEAL_RULES[seal.type];
    const attributes: Record<string, string> = { ...seal.parameters };
    if (seal.credentials === "secret" && seal.credentialsSecret !== undefined) {
        const mounted = `${engine.paths.userconfig}/${seal.credentialsSecret}`;
        if (seal.type === "gcpckms") {
            attributes.credentials = `${mounted}/credentials.json`;
        }
        if (seal.type === "transit") {
            attributes.token = `file://${mounted}/VAULT_TOKEN`;
            attributes.tls_ca_cert = `${mounted}/ca.crt`;
        }
    }
    if (
        seal.credentials === "workload-identity" &&
        rules.workloadIdentity?.parameter !== undefined &&
        seal.workloadIdentity !== undefined
    ) {
        attributes[rules.workloadIdentity.parameter] = seal.workloadIdentity;
    }
    if (seal.credentials === "workload-identity" && Object.hasOwn(engine.workloadIdentitySealParameters, seal.type)) {
        Object.assign(attributes, engine.workloadIdentitySealParameters[seal.type]);
    }
    return { [seal.type]: attributes };
}

/** The chart values that hand the servers their KMS credentials (none for Shamir). */
export interface SealChartValues {
    /** `server.extraSecretEnvironmentVars`: environment variables read from the credentials Secret. */
    readonly secretEnvironment: { envName: string; secretName: string; secretKey: string }[];
    /** Secrets to mount under /vault/userconfig (`server.extraVolumes`). */
    readonly volumes: { type: "secret"; name: string }[];
    /** Annotations for the servers' service account (workload identity). */
    readonly serviceAccountAnnotations: Record<string, string>;
    /** Labels for the servers' pods (`server.extraLabels`; Azure Workload Identity). */
    readonly podLabels: Record<string, string>;
}

export function sealChartValues(seal: ResolvedVaultSealOptions): SealChartValues {
    const none: SealChartValues = { secretEnvironment: [], volumes: [], serviceAccountAnnotations: {}, podLabels: {} };
    if (seal.type === "shamir") {
        return none;
    }
    const rules = SEAL_RULES[seal.type];
    if (seal.credentials === "secret" && seal.credentialsSecret !== undefined) {
        const secretName = seal.credentialsSecret;
        return rules.secretAs === "env"
            ? { ...none, secretEnvironment: rules.secretKeys.map((key) => ({ envName: key, secretName, secretKey: key })) }
            : { ...none, volumes: [{ type: "secret", name: secretName }] };
    }
    const identity = rules.workloadIdentity;
    return identity !== undefined && seal.workloadIdentity !== undefined
        ? {
              ...none,
              serviceAccountAnnotations: { [identity.annotation]: seal.workloadIdentity },
              podLabels: { ...(identity.podLabels ?? {}) },
          }
        : none;
}
