/**
 * How a region's Vault is unsealed: Shamir key shares typed in by operators (the seed's way, and the
 * default), or auto-unseal through a key management service. Pure: option checks, the `seal` stanza
 * of the server configuration, and the chart values that give the servers their KMS credentials.
 *
 * Credentials never appear in the configuration or the chart values: they come either from a
 * Kubernetes Secret the operator creates in Vault's namespace (injected as environment variables or
 * mounted as files), or from the platform's workload identity (the pods' service account is bound to
 * a cloud identity). A seal parameter that carries a credential is refused.
 */
import type { HclBlock } from "../common/hcl";
import { isDnsLabel } from "../common/predicates";

/** Seal types: `shamir` (manual unseal keys) or one of Vault's auto-unseal seals. */
export const SEAL_TYPES = ["shamir", "awskms", "gcpckms", "azurekeyvault", "transit"] as const;
export type SealType = (typeof SEAL_TYPES)[number];

/** Where an auto-unseal seal's credentials come from. */
export const SEAL_CREDENTIAL_SOURCES = ["secret", "workload-identity"] as const;
export type SealCredentialSource = (typeof SEAL_CREDENTIAL_SOURCES)[number];

/** Where the chart mounts a Secret listed in `server.extraVolumes`. */
export const USERCONFIG_PATH = "/vault/userconfig";

/**
 * The longest Secret name the chart can mount: it names the volume `userconfig-<name>`, and a volume
 * name is a DNS label (at most 63 characters).
 */
export const MAX_MOUNTED_SECRET_NAME = 63 - "userconfig-".length;

/** Whether the chart can mount a Secret of this name through `server.extraVolumes`. */
export function isMountableSecretName(name: string): boolean {
    return isDnsLabel(name) && name.length <= MAX_MOUNTED_SECRET_NAME;
}

export interface VaultSealOptions {
    /** The seal. Default `shamir`: operators unseal every server with key shares after each restart. */
    readonly type?: SealType;
    /**
     * Seal parameters, written into the `seal "<type>"` stanza as they are named in Vault's docs
     * (e.g. awskms `region`, `kms_key_id`). Non-secret parameters only: credentials come from
     * {@link credentials}.
     */
    readonly parameters?: Readonly<Record<string, string>>;
    /** Where the KMS credentials come from; required for every type but `shamir`. */
    readonly credentials?: SealCredentialSource;
    /**
     * With `credentials: secret`: a Secret in Vault's namespace, created by the operator, holding the
     * keys {@link SEAL_SECRET_KEYS} lists for the type.
     */
    readonly credentialsSecret?: string;
    /**
     * With `credentials: workload-identity`: the cloud identity the servers' service account is bound
     * to. awskms: an IAM role ARN (IRSA); gcpckms: a Google service account e-mail (GKE Workload
     * Identity); azurekeyvault: the client ID of a user-assigned managed identity (AKS Workload Identity). transit has none.
     */
    readonly workloadIdentity?: string;
}

/** One seal type's rules. */
interface SealRules {
    /** Parameters that must be set. */
    readonly required: readonly string[];
    /** Every parameter that may be set (the required ones included). */
    readonly allowed: readonly string[];
    /** Parameters that hold credentials: refused, they belong in the credentials Secret. */
    readonly credentials: readonly string[];
    /** With `credentials: secret`: the Secret's keys, each passed as the environment variable of the same name (or a file). */
    readonly secretKeys: readonly string[];
    /** How the Secret reaches the server: environment variables, or files (the Secret mounted). */
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
        workloadIdentity: { annotation: "eks.amazonaws.com/role-arn", what: "an IAM role ARN (IRSA)" },
    },
    gcpckms: {
        required: ["project", "region", "key_ring", "crypto_key"],
        allowed: ["project", "region", "key_ring", "crypto_key"],
        credentials: ["credentials"],
        secretKeys: ["credentials.json"],
        secretAs: "file",
        workloadIdentity: { annotation: "iam.gke.io/gcp-service-account", what: "a Google service account e-mail (GKE Workload Identity)" },
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
            annotation: "azure.workload.identity/client-id",
            parameter: "client_id",
            podLabels: { "azure.workload.identity/use": "true" },
            what: "the client ID of a user-assigned managed identity federated with the servers' service account (AKS Workload Identity)",
        },
    },
    transit: {
        required: ["address", "key_name", "mount_path"],
        allowed: ["address", "key_name", "mount_path", "namespace", "disable_renewal", "tls_server_name"],
        credentials: ["token", "tls_client_key", "tls_skip_verify"],
        secretKeys: ["VAULT_TOKEN", "ca.crt"],
        secretAs: "env",
    },
};

/** {@link VaultSealOptions} with the default applied. */
export type ResolvedVaultSealOptions =
    | { readonly type: "shamir" }
    | {
          readonly type: Exclude<SealType, "shamir">;
          readonly parameters: Readonly<Record<string, string>>;
          readonly credentials: SealCredentialSource;
          readonly credentialsSecret?: string;
          readonly workloadIdentity?: string;
      };

/** Whether the seal unseals itself (an auto-unseal seal): init then returns recovery keys, not unseal keys. */
export function isAutoUnseal(seal: ResolvedVaultSealOptions): boolean {
    return seal.type !== "shamir";
}

/**
 * Applies the default and returns the problems with the seal options, each naming the option (under
 * `seal.`) and the fix. Empty when the options are usable.
 */
export function sealProblems(options: VaultSealOptions | undefined): string[] {
    const type = options?.type ?? "shamir";
    const problems: string[] = [];
    if (!(SEAL_TYPES as readonly string[]).includes(type)) {
        return [`seal.type ${JSON.stringify(type)} is not one of ${SEAL_TYPES.join(", ")}`];
    }
    if (type === "shamir") {
        const extra = (["parameters", "credentials", "credentialsSecret", "workloadIdentity"] as const).filter((k) => options?.[k] !== undefined);
        if (extra.length > 0) {
            problems.push(`seal.type is shamir, which takes no ${extra.map((k) => `seal.${k}`).join(", ")}: set seal.type to an auto-unseal seal or remove them`);
        }
        return problems;
    }
    const rules = SEAL_RULES[type];
    const parameters = options?.parameters ?? {};
    for (const name of Object.keys(parameters)) {
        if (rules.credentials.includes(name)) {
            problems.push(`seal.parameters.${name} would put a credential in the server configuration: remove it and use seal.credentials (a Secret or workload identity)`);
        } else if (!rules.allowed.includes(name)) {
            problems.push(`seal.parameters.${name} is not a ${type} parameter this project writes (allowed: ${rules.allowed.join(", ")})`);
        } else if (parameters[name].trim() === "" || parameters[name].includes("${") || parameters[name].includes("%{")) {
            problems.push(`seal.parameters.${name} must be a non-empty value without "\${" or "%{"`);
        }
    }
    const missing = rules.required.filter((name) => parameters[name] === undefined);
    if (missing.length > 0) {
        problems.push(`seal.type ${type} needs seal.parameters ${missing.join(", ")}`);
    }
    const source = options?.credentials;
    if (source === undefined) {
        problems.push(
            `seal.type ${type} needs credentials for the KMS: set seal.credentials to secret (with seal.credentialsSecret)` +
                (rules.workloadIdentity ? ` or workload-identity (with seal.workloadIdentity, ${rules.workloadIdentity.what})` : ""),
        );
    } else if (!(SEAL_CREDENTIAL_SOURCES as readonly string[]).includes(source)) {
        problems.push(`seal.credentials ${JSON.stringify(source)} is not one of ${SEAL_CREDENTIAL_SOURCES.join(", ")}`);
    } else if (source === "secret") {
        if (options?.credentialsSecret === undefined) {
            problems.push(`seal.credentials is secret, but seal.credentialsSecret (a Secret in Vault's namespace with ${rules.secretKeys.join(", ")}) is not set`);
        } else if (!isMountableSecretName(options.credentialsSecret)) {
            problems.push(`seal.credentialsSecret ${JSON.stringify(options.credentialsSecret)} is not a Secret name the chart can mount (a DNS label of at most ${MAX_MOUNTED_SECRET_NAME} characters)`);
        }
        if (options?.workloadIdentity !== undefined) {
            problems.push("seal.workloadIdentity is set, but seal.credentials is secret: use one of the two");
        }
    } else {
        if (rules.workloadIdentity === undefined) {
            problems.push(`seal.type ${type} has no workload identity: set seal.credentials to secret (a Secret with ${rules.secretKeys.join(", ")})`);
        } else if (options?.workloadIdentity === undefined || options.workloadIdentity.trim() === "" || /[\s"]/.test(options.workloadIdentity)) {
            problems.push(`seal.credentials is workload-identity, but seal.workloadIdentity (${rules.workloadIdentity.what}) is not set`);
        }
        if (options?.credentialsSecret !== undefined) {
            problems.push("seal.credentialsSecret is set, but seal.credentials is workload-identity: use one of the two");
        }
    }
    return problems;
}

/**
 * The options with the default applied.
 * @throws Error listing {@link sealProblems} when there are any.
 */
export function resolveSealOptions(options: VaultSealOptions | undefined): ResolvedVaultSealOptions {
    const problems = sealProblems(options);
    if (problems.length > 0) {
        throw new Error(problems.join("; "));
    }
    const type = options?.type ?? "shamir";
    if (type === "shamir") {
        return { type };
    }
    return {
        type,
        parameters: { ...(options?.parameters ?? {}) },
        credentials: options?.credentials as SealCredentialSource,
        ...(options?.credentialsSecret === undefined ? {} : { credentialsSecret: options.credentialsSecret }),
        ...(options?.workloadIdentity === undefined ? {} : { workloadIdentity: options.workloadIdentity }),
    };
}

/** The `seal "<type>"` stanza, or none for Shamir. File credentials point into the mounted Secret. */
export function sealBlock(seal: ResolvedVaultSealOptions): HclBlock | undefined {
    if (seal.type === "shamir") {
        return undefined;
    }
    const rules = SEAL_RULES[seal.type];
    const attributes: Record<string, string> = { ...seal.parameters };
    if (seal.credentials === "secret" && seal.credentialsSecret !== undefined) {
        const mounted = `${USERCONFIG_PATH}/${seal.credentialsSecret}`;
        if (seal.type === "gcpckms") {
            attributes.credentials = `${mounted}/credentials.json`;
        }
        if (seal.type === "transit") {
            attributes.tls_ca_cert = `${mounted}/ca.crt`;
        }
    }
    if (seal.credentials === "workload-identity" && rules.workloadIdentity?.parameter !== undefined && seal.workloadIdentity !== undefined) {
        attributes[rules.workloadIdentity.parameter] = seal.workloadIdentity;
    }
    return { type: "seal", labels: [seal.type], attributes };
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
        const env = rules.secretKeys.filter((key) => /^[A-Z_]+$/.test(key));
        const mount = rules.secretAs === "file" || seal.type === "transit";
        return {
            ...none,
            secretEnvironment: rules.secretAs === "env" ? env.map((key) => ({ envName: key, secretName, secretKey: key })) : [],
            volumes: mount ? [{ type: "secret", name: secretName }] : [],
        };
    }
    const identity = rules.workloadIdentity;
    return identity !== undefined && seal.workloadIdentity !== undefined
        ? { ...none, serviceAccountAnnotations: { [identity.annotation]: seal.workloadIdentity }, podLabels: { ...(identity.podLabels ?? {}) } }
        : none;
}
