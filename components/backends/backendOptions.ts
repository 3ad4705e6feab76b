/**
 * The backend of one region (`openova-vault:backend`): where its secrets live. `vault` (the default)
 * is the self-hosted Vault cluster the rest of this project deploys; the other types are managed
 * services the region's ESO reaches through a ClusterSecretStore of the matching ESO provider:
 *
 * - `hcp-vault`: an HCP Vault Dedicated cluster (ESO `vault` provider, in the cluster's namespace);
 * - `aws-secrets-manager`: AWS Secrets Manager (ESO `aws` provider, `service: SecretsManager`);
 * - `gcp-secret-manager`: Google Secret Manager (ESO `gcpsm` provider);
 * - `azure-key-vault`: an Azure key vault (ESO `azurekv` provider).
 *
 * No type takes a static credential: ESO reaches the cloud stores with the cluster's workload identity
 * (IRSA or EKS Pod Identity, GKE Workload Identity or workload identity federation, Azure Workload
 * Identity) and HCP Vault with its own service-account tokens (JWT auth). A field that looks like a
 * credential is refused with the way to do without it. What the identities may do in the cloud is in
 * `cloudPolicies.ts`; the stores in `backendStores.ts`.
 */
import { z } from "zod";
import { either, option, options, ruleIssue, rules, text, distinct } from "../common/options";
import { CANARY_KEY, CANARY_NAME, type WriteMode, type Writers, remoteKeyOf, writersOf } from "../replication/replicationSpecs";
import { comparedName, REMOTE_NAME_RULES, remoteSecrets } from "./remoteNames";

/** Every backend type, the default first. */
export const BACKEND_TYPES = ["vault", "hcp-vault", "aws-secrets-manager", "gcp-secret-manager", "azure-key-vault"] as const;
export type BackendType = (typeof BACKEND_TYPES)[number];

/** The types that run no Vault in the region's cluster. */
export const MANAGED_BACKEND_TYPES = ["hcp-vault", "aws-secrets-manager", "gcp-secret-manager", "azure-key-vault"] as const;

/** The types that are not Vault at all: ESO talks their cloud's API, and nothing issues Vault tokens there. */
export const CLOUD_BACKEND_TYPES = ["aws-secrets-manager", "gcp-secret-manager", "azure-key-vault"] as const;
export type CloudBackendType = (typeof CLOUD_BACKEND_TYPES)[number];

/** Whether a backend type is one of the cloud secret stores. */
export function isCloudBackend(type: BackendType): type is CloudBackendType {
    return (CLOUD_BACKEND_TYPES as readonly string[]).includes(type);
}

// ---------------------------------------------------------------------------------------------------
// What each field accepts.

/** An `https://` address with a host, an optional port and no path, query or credentials. */
export function isHttpsAddress(value: string): boolean {
    return /^https:\/\/[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?\/?$/.test(value);
}

/** An HCP Vault namespace: `admin` (the customer's top namespace on HCP) or a child of it. */
export function isHcpNamespace(value: string): boolean {
    return /^admin(\/[A-Za-z0-9_-]+)*$/.test(value);
}

/** A Vault auth mount path of one segment. */
export function isMountPath(value: string): boolean {
    return /^[a-z0-9][a-z0-9_-]{0,62}$/.test(value);
}

/** A Vault role name. */
export function isRoleName(value: string): boolean {
    return /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(value);
}

/** An AWS region code such as `eu-west-1` or `us-gov-west-1`. */
export function isAwsRegion(value: string): boolean {
    return /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(value);
}

/** The partitions of AWS ARNs. */
const AWS_PARTITION = "aws(-cn|-us-gov|-iso|-iso-b)?";

/** An IAM role ARN, `arn:aws:iam::<12-digit account>:role/<path/name>`. */
export function isIamRoleArn(value: string): boolean {
    return new RegExp(`^arn:${AWS_PARTITION}:iam::\\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$`).test(value);
}

/** A KMS key ARN (`arn:aws:kms:<region>:<account>:key/<id>`) or an alias name (`alias/<name>`). */
export function isKmsKeyReference(value: string): boolean {
    return (
        new RegExp(`^arn:${AWS_PARTITION}:kms:[a-z]{2}(-[a-z]+)+-\\d{1,2}:\\d{12}:key/[A-Za-z0-9-]{1,64}$`).test(value) ||
        /^alias\/[A-Za-z0-9/_-]{1,250}$/.test(value)
    );
}

/** A Google Cloud project ID: 6 to 30 lowercase letters, digits and hyphens, starting with a letter. */
export function isGcpProjectId(value: string): boolean {
    return /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(value);
}

/** A Google Cloud region such as `europe-west1`. */
export function isGcpLocation(value: string): boolean {
    return /^[a-z]+-[a-z]+[0-9]{1,2}$/.test(value);
}

/** A Google service account e-mail (`<name>@<project>.iam.gserviceaccount.com`), as ESO's CRD pattern has it. */
export function isGcpServiceAccount(value: string): boolean {
    return /^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z0-9.:-]+\.iam\.gserviceaccount\.com$/.test(value);
}

/** A workload identity pool: `projects/<project number>/locations/global/workloadIdentityPools/<pool id>`. */
export function isWorkloadIdentityPool(value: string): boolean {
    return /^projects\/\d{1,20}\/locations\/global\/workloadIdentityPools\/[a-z0-9][a-z0-9-]{2,30}[a-z0-9]$/.test(value);
}

/**
 * An ID Google takes for a workload identity pool provider: 4 to 32 lowercase letters, digits and
 * `-`, not starting with `gcp-`, which Google keeps for itself
 * (https://cloud.google.com/iam/docs/reference/rest/v1/projects.locations.workloadIdentityPools.providers/create,
 * `workloadIdentityPoolProviderId`). Each region's provider in a backend's pool is named after the region.
 */
export function isPoolProviderId(value: string): boolean {
    return /^[a-z0-9-]{4,32}$/.test(value) && !value.startsWith("gcp-");
}

/** The public Azure cloud and the sovereign ones, by the domain of their key vaults, as ESO names them (`environmentType`). */
export const AZURE_VAULT_DOMAINS: Readonly<Record<string, "PublicCloud" | "ChinaCloud" | "USGovernmentCloud" | "GermanCloud">> = {
    "vault.azure.net": "PublicCloud",
    "vault.azure.cn": "ChinaCloud",
    "vault.usgovcloudapi.net": "USGovernmentCloud",
    "vault.microsoftazure.de": "GermanCloud",
};

/** A key vault's URL, `https://<vault name>.<vault domain>/`: 3 to 24 letters, digits and hyphens, starting with a letter. */
export function isAzureVaultUrl(value: string): boolean {
    const match = /^https:\/\/([A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9])\.([a-z.]+?)\/?$/.exec(value);
    return match !== null && !match[1].includes("--") && Object.hasOwn(AZURE_VAULT_DOMAINS, match[2]);
}

/** A GUID, as Entra ID tenant and client IDs are. */
export function isGuid(value: string): boolean {
    return /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(value);
}

/** A prefix for the names of the secrets this project writes into a cloud store. */
export function isSecretPrefix(value: string): boolean {
    return /^[A-Za-z0-9][A-Za-z0-9/_.-]{0,63}$/.test(value);
}

// ---------------------------------------------------------------------------------------------------
// The fields of each type.

const typeField = <T extends BackendType>(type: T) => z.literal(type);

/** The prefix of the names of the secrets this project writes into a cloud store, unless a region sets another. */
export const DEFAULT_SECRET_PREFIX = "openova-";

/** Shared by the cloud stores: one schema, so the docs and the errors say the same for each. */
const secretPrefixField = option(text(isSecretPrefix).default(DEFAULT_SECRET_PREFIX), {
    description:
        "aws-secrets-manager, gcp-secret-manager, azure-key-vault: prefix of the name of every secret this project writes into the store (docs/backends.md shows how each store spells the names). In AWS and Google Cloud the generated cloud policy grants no other names.",
    allowed: "1 to 64 letters, digits, '/', '_', '.' and '-', starting with a letter or digit",
    example: DEFAULT_SECRET_PREFIX,
});

/** The self-hosted Vault of this project: no other fields. */
export const vaultBackendOptions = options({
    type: option(typeField("vault"), {
        description: `Where the region's secrets live: ${either(BACKEND_TYPES.map((type) => `\`${type}\``))}. \`vault\` is the self-hosted Vault cluster this stack deploys; the others are managed services, reached by the region's ESO with the cluster's workload identity, with no Vault chart in the region.`,
        allowed: either(BACKEND_TYPES),
        example: "aws-secrets-manager",
        defaultText: "vault",
    }),
});

/** How the Pulumi Vault provider logs in to an HCP Vault cluster. */
export const HCP_PROVIDER_AUTH_METHODS = ["jwt", "token"] as const;

/** HCP Vault Dedicated, through ESO's `vault` provider. */
export const hcpVaultBackendOptions = options({
    type: typeField("hcp-vault"),
    address: option(text(isHttpsAddress), {
        description: "hcp-vault: the cluster's address as ESO and the Vault provider reach it (its public or private endpoint URL).",
        allowed: "an https:// URL with a host and an optional port, no path",
        example: "https://vault-cluster-public-vault-0a1b2c3d.4e5f6a7b.z1.hashicorp.cloud:8200",
    }),
    namespace: option(text(isHcpNamespace).default("admin"), {
        description: "hcp-vault: the Vault namespace the KV mount, the auth mounts and the policies live in (HCP keeps `root` for itself).",
        allowed: "admin, or a namespace under it such as admin/platform",
        example: "admin",
    }),
    audience: option(text((value) => value.trim() !== "" && !/\s/.test(value)).optional(), {
        description:
            "hcp-vault: the audience of the service-account tokens ESO presents to the cluster's JWT mounts; a token for this audience is good for no other Vault.",
        allowed: "a string without spaces",
        example: "https://vault-cluster-public-vault-0a1b2c3d.4e5f6a7b.z1.hashicorp.cloud:8200",
        defaultText: "the address",
    }),
    providerAuth: option(
        options({
            method: option(z.enum(HCP_PROVIDER_AUTH_METHODS).default("jwt"), {
                description:
                    "hcp-vault: how the Pulumi Vault provider logs in. jwt: `authLoginJwt` on the mount `path` as `role`, with the JWT from the TERRAFORM_VAULT_AUTH_JWT environment variable (a CI job's OIDC token, say). token: a short-lived token from the VAULT_TOKEN environment variable. Neither is ever in config or state.",
                example: "jwt",
            }),
            path: option(text(isMountPath).default("jwt"), {
                description: "hcp-vault, with providerAuth.method jwt: the JWT auth mount the provider logs in on.",
                allowed: "a mount path of one segment (lowercase letters, digits, '_' and '-')",
                example: "jwt",
            }),
            role: option(text(isRoleName).optional(), {
                description: "hcp-vault, with providerAuth.method jwt: the role the provider logs in as.",
                allowed: "a role name (letters, digits, '_', '.' and '-')",
                example: "pulumi",
                defaultText: "(required with method jwt)",
            }),
        })
            .check(
                rules((auth, ctx) => {
                    if (auth.method === "jwt" && auth.role === undefined) {
                        ruleIssue(ctx, ["role"], "is not set, but method is jwt: set the role the Vault provider logs in as");
                    }
                    if (auth.method === "token" && auth.role !== undefined) {
                        ruleIssue(
                            ctx,
                            ["role"],
                            "is set, but method is token, which logs in with VAULT_TOKEN: remove it, or set method to jwt",
                        );
                    }
                }),
            )
            .prefault({}),
        {
            description: "hcp-vault: how the Pulumi Vault provider authenticates.",
            allowed: "an object",
            example: "{method: jwt, role: pulumi}",
        },
    ),
});

/** How ESO assumes the IAM role for AWS Secrets Manager. */
export const AWS_IDENTITIES = ["irsa", "pod-identity"] as const;

/** AWS Secrets Manager, through ESO's `aws` provider. */
export const awsSecretsManagerBackendOptions = options({
    type: typeField("aws-secrets-manager"),
    region: option(text(isAwsRegion), {
        description: "aws-secrets-manager: the AWS region of the secrets (their primary region).",
        allowed: "an AWS region code such as eu-west-1",
        example: "eu-west-1",
    }),
    roleArn: option(text(isIamRoleArn), {
        description:
            "aws-secrets-manager: the IAM role ESO assumes to read and write the secrets (its policy is in docs/backends.md); peers assume it too, by web identity, to push here.",
        allowed: "an IAM role ARN, arn:aws:iam::<account>:role/<name>",
        example: "arn:aws:iam::111122223333:role/openova-eso",
    }),
    identity: option(z.enum(AWS_IDENTITIES).default("irsa"), {
        description:
            "aws-secrets-manager: how this region's ESO assumes roleArn. irsa: a service account annotated with the role, whose token ESO exchanges with AssumeRoleWithWebIdentity (the role trusts the cluster's OIDC issuer). pod-identity: the ESO controller's own identity through an EKS Pod Identity association the operator creates for it.",
        example: "irsa",
    }),
    kmsKeyId: option(text(isKmsKeyReference).optional(), {
        description:
            "aws-secrets-manager: the KMS key that encrypts the secrets ESO creates, instead of the account's `aws/secretsmanager` key. With replicaRegions, an alias that exists in every replica region (ESO uses one key for the primary and every replica).",
        allowed: "a KMS key ARN in the secrets' region, or an alias name such as alias/openova",
        example: "alias/openova-secrets",
        defaultText: "alias/aws/secretsmanager",
    }),
    replicaRegions: option(distinct(text(isAwsRegion)).default([]), {
        description:
            "aws-secrets-manager: AWS regions Secrets Manager keeps read-only replicas of each secret in (set when ESO creates it, and kept so). Replicas are AWS's, for readers outside this project; writes always go to the primary.",
        allowed: "a list of distinct AWS region codes other than region",
        example: "[eu-central-1]",
    }),
    secretPrefix: secretPrefixField,
}).check(
    rules((backend, ctx) => {
        if (backend.replicaRegions.includes(backend.region)) {
            ruleIssue(ctx, ["replicaRegions"], `lists ${backend.region}, the secrets' own region: remove it`);
        }
        const keyRegion = /^arn:[^:]+:kms:([^:]+):/.exec(backend.kmsKeyId ?? "")?.[1];
        if (keyRegion !== undefined && backend.replicaRegions.length > 0) {
            ruleIssue(
                ctx,
                ["kmsKeyId"],
                "is a key ARN, which names one region, but ESO applies the same key to every replica: use an alias that exists in region and every replica region",
            );
        } else if (keyRegion !== undefined && keyRegion !== backend.region) {
            ruleIssue(ctx, ["kmsKeyId"], `is a key in ${keyRegion}, but the secrets are in ${backend.region}: use a key of that region`);
        }
    }),
);

/** How Google Secret Manager replicates a secret's payload. */
export const GCP_REPLICATION_POLICIES = ["automatic", "user-managed"] as const;

/** Google Secret Manager, through ESO's `gcpsm` provider. */
export const gcpSecretManagerBackendOptions = options({
    type: typeField("gcp-secret-manager"),
    project: option(text(isGcpProjectId), {
        description: "gcp-secret-manager: the project that holds the secrets.",
        allowed: "a Google Cloud project ID (6 to 30 lowercase letters, digits and hyphens, starting with a letter)",
        example: "platform-secrets",
    }),
    replication: option(z.enum(GCP_REPLICATION_POLICIES).default("automatic"), {
        description:
            "gcp-secret-manager: how Google replicates each secret's payload, set when ESO creates it and fixed from then on. automatic: regions Google chooses, billed as one location. user-managed: exactly `locations`, each billed, and a write fails while any of them is down.",
        example: "automatic",
    }),
    locations: option(distinct(text(isGcpLocation)).min(1).optional(), {
        description: "gcp-secret-manager, with replication user-managed: the regions that hold each secret's payload.",
        allowed: "a non-empty list of distinct Google Cloud regions such as europe-west1, only with replication user-managed",
        example: "[europe-west1, europe-west4]",
        defaultText: "(required with user-managed)",
    }),
    serviceAccount: option(text(isGcpServiceAccount), {
        description:
            "gcp-secret-manager: the Google service account ESO acts as (it holds the Secret Manager roles in docs/backends.md); ESO's Kubernetes service account is annotated with it.",
        allowed: "a service account e-mail, <name>@<project>.iam.gserviceaccount.com",
        example: "openova-eso@platform-secrets.iam.gserviceaccount.com",
    }),
    workloadIdentityPool: option(text(isWorkloadIdentityPool).optional(), {
        description:
            "gcp-secret-manager: a workload identity pool with an OIDC provider for this region and for each region that pushes here, named after the region (so its name must be a provider ID Google takes: 4 to 32 lowercase letters, digits and '-', not starting with gcp-), trusting that region's cluster issuer, with no allowed audiences (docs/backends.md). With it, ESO here and in the peers authenticates through workload identity federation; without it, only this region's ESO can, through GKE Workload Identity, so it is required when another region is the home of a secret.",
        allowed: "projects/<project number>/locations/global/workloadIdentityPools/<pool id>",
        example: "projects/123456789012/locations/global/workloadIdentityPools/openova",
        defaultText: "none (GKE Workload Identity)",
    }),
    secretPrefix: secretPrefixField,
}).check(
    rules((backend, ctx) => {
        if (backend.replication === "user-managed" && backend.locations === undefined) {
            ruleIssue(ctx, ["locations"], "is not set, but replication is user-managed: list the regions that hold the secrets");
        }
        if (backend.replication === "automatic" && backend.locations !== undefined) {
            ruleIssue(
                ctx,
                ["locations"],
                "is set, but replication is automatic, where Google chooses the regions: remove it, or set replication to user-managed",
            );
        }
    }),
);

/** An Azure key vault, through ESO's `azurekv` provider. */
export const azureKeyVaultBackendOptions = options({
    type: typeField("azure-key-vault"),
    vaultUrl: option(text(isAzureVaultUrl), {
        description:
            "azure-key-vault: the key vault's URL. One vault per region, for this project alone: access is granted on the whole vault (Key Vault has no name-prefix conditions).",
        allowed: `https://<vault name>.<domain>/, the vault name 3 to 24 letters, digits and single hyphens, the domain one of ${Object.keys(AZURE_VAULT_DOMAINS).join(", ")}`,
        example: "https://openova-weu.vault.azure.net/",
    }),
    tenantId: option(text(isGuid), {
        description: "azure-key-vault: the Entra ID tenant of the vault and of the identity.",
        allowed: "a GUID",
        example: "00000000-0000-0000-0000-000000000000",
    }),
    clientId: option(text(isGuid), {
        description:
            "azure-key-vault: the client ID of the user-assigned managed identity (or app registration) that holds the vault role in docs/backends.md, with a federated credential for ESO's service account (Azure Workload Identity).",
        allowed: "a GUID",
        example: "11111111-1111-1111-1111-111111111111",
    }),
    secretPrefix: secretPrefixField,
});

/** Every type's options, on `type`. */
export const backendUnion = z.discriminatedUnion("type", [
    vaultBackendOptions,
    hcpVaultBackendOptions,
    awsSecretsManagerBackendOptions,
    gcpSecretManagerBackendOptions,
    azureKeyVaultBackendOptions,
]);

export type BackendOptions = z.input<typeof backendUnion>;
export type ResolvedBackend = z.output<typeof backendUnion>;
export type ResolvedBackendOf<T extends BackendType> = Extract<ResolvedBackend, { type: T }>;

/** The options of each type, by type. */
const BACKEND_SCHEMAS: Readonly<Record<BackendType, z.ZodType>> = {
    vault: vaultBackendOptions,
    "hcp-vault": hcpVaultBackendOptions,
    "aws-secrets-manager": awsSecretsManagerBackendOptions,
    "gcp-secret-manager": gcpSecretManagerBackendOptions,
    "azure-key-vault": azureKeyVaultBackendOptions,
};

/** The fields of one type, as a config's errors list them. */
export function backendFields(type: BackendType): string[] {
    const schema = BACKEND_SCHEMAS[type] as z.ZodObject;
    return Object.keys(schema.shape);
}

/**
 * Field names that hold a static credential, in any spelling a platform team might try (compared
 * without case, `-` and `_`): a cloud access key, a client secret, a key file, a Vault token.
 */
export const STATIC_CREDENTIAL_FIELDS = [
    "accessKey",
    "accessKeyId",
    "secretAccessKey",
    "secretKey",
    "sessionToken",
    "clientSecret",
    "clientCertificate",
    "certificatePassword",
    "credentials",
    "credentialsJson",
    "serviceAccountKey",
    "keyFile",
    "privateKey",
    "password",
    "token",
    "vaultToken",
    "roleId",
    "secretId",
] as const;

const normalized = (key: string) => key.toLowerCase().replace(/[-_]/g, "");
const CREDENTIAL_NAMES = new Set(STATIC_CREDENTIAL_FIELDS.map(normalized));

/** What a backend type uses instead of a static credential, for the error that refuses one. */
export const KEYLESS_FIX: Readonly<Record<BackendType, string>> = {
    vault: "the self-hosted Vault needs none here: ESO logs in with service-account tokens, the Vault provider with VAULT_TOKEN from the environment",
    "hcp-vault":
        "ESO logs in with its service-account tokens (JWT auth), the Vault provider with TERRAFORM_VAULT_AUTH_JWT or VAULT_TOKEN from the environment (providerAuth)",
    "aws-secrets-manager": "ESO assumes roleArn with the cluster's workload identity (identity irsa or pod-identity)",
    "gcp-secret-manager": "ESO acts as serviceAccount through GKE Workload Identity or workload identity federation (workloadIdentityPool)",
    "azure-key-vault": "ESO's service account is federated with the identity clientId (Azure Workload Identity)",
};

/**
 * Checks what the union cannot say well, before it runs: a field that holds a static credential
 * (refused with the keyless way for that type), and a field the type does not have (named with the
 * type's fields). Each is reported at the field, and taken out, so the union does not report it again.
 */
function screened(value: unknown, ctx: z.RefinementCtx): unknown {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return value;
    }
    const record = value as Record<string, unknown>;
    const type = BACKEND_TYPES.find((t) => t === record.type);
    const kept: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(record)) {
        if (CREDENTIAL_NAMES.has(normalized(key))) {
            ruleIssue(
                ctx,
                [key],
                `is set, but a static credential never goes in config or state: remove it; ${KEYLESS_FIX[type ?? "vault"]}`,
                "remove",
            );
        } else if (type !== undefined && !backendFields(type).includes(key)) {
            ruleIssue(ctx, [key], `is not an option of the ${type} backend (known: ${backendFields(type).join(", ")})`);
        } else {
            kept[key] = field;
        }
    }
    return kept;
}

/** The backend option: one type's fields, after the screening. */
export const backendOptions = z.preprocess(screened, backendUnion);

/** `openova-vault:backend`, for the region's options. */
export const backendOption = option(backendOptions.prefault({ type: "vault" }), {
    description:
        "Where this region's secrets live, and how its ESO reaches them: `type` and the fields of that type (see docs/backends.md). A region whose backend is not `vault` deploys no Vault chart; its replicated secrets reach and leave it through ESO stores of the backend's provider.",
    allowed: "an object with type and that type's fields",
    example: "{type: aws-secrets-manager, region: eu-west-1, roleArn: arn:aws:iam::111122223333:role/openova-eso}",
});

/** The audience of the tokens ESO presents to an HCP Vault cluster. */
export function hcpAudience(backend: ResolvedBackendOf<"hcp-vault">): string {
    return backend.audience ?? backend.address;
}

// ---------------------------------------------------------------------------------------------------
// Rules with the rest of the region's options.

/** What {@link backendRules} reads of a region's options (with their defaults applied). */
export interface BackendRegion {
    readonly backend: ResolvedBackend;
    readonly region?: string;
    readonly regions: readonly string[];
    readonly peerTokenGenerations: Readonly<Record<string, number>>;
    readonly peerAuth?: string;
    /** The options only a self-hosted Vault uses that the region sets to other than their default, with their paths. */
    readonly vaultServerOptionsSet: readonly { readonly path: readonly PropertyKey[]; readonly value: unknown }[];
    readonly monitoring: { readonly serviceMonitor: boolean };
    readonly externalSecrets: { readonly namespace: string };
    readonly replicatedSecrets: readonly {
        readonly name: string;
        readonly namespace: string;
        readonly remoteKey?: string;
        readonly keys?: readonly string[];
        readonly mode?: WriteMode;
        readonly writers?: Writers;
        /** Default: the first region. */
        readonly home?: string;
    }[];
}

/**
 * The other regions that push into `region`'s backend, each with the secrets it is the home of there
 * (the bootstrap's canary, homed in the first region, among them).
 */
function pushingPeers(region: BackendRegion & { readonly region: string }): Map<string, string[]> {
    const pushing = new Map<string, string[]>();
    const add = (home: string, what: string) => {
        if (home !== region.region) {
            pushing.set(home, [...(pushing.get(home) ?? []), what]);
        }
    };
    for (const secret of region.replicatedSecrets) {
        add(secret.home ?? region.regions[0], `${secret.namespace}/${secret.name}`);
    }
    add(region.regions[0], "the bootstrap's replication canary");
    return pushing;
}

/**
 * A GCP backend's identity rules: without a pool, no peer can push here (only this region's cluster
 * has GKE Workload Identity to the backend), so a peer that is the home of a secret needs one; with a
 * pool, every region that reaches the backend (this one, and each that pushes here) needs a provider in
 * it named after the region, which Google must accept as a provider ID ({@link isPoolProviderId}).
 */
function gcpIdentityRules(
    backend: ResolvedBackendOf<"gcp-secret-manager">,
    region: BackendRegion & { readonly region: string },
    ctx: z.RefinementCtx,
): void {
    const pushing = pushingPeers(region);
    if (backend.workloadIdentityPool === undefined) {
        if (pushing.size > 0) {
            const pushers = [...pushing].map(([peer, secrets]) => `${peer} (the home of ${secrets.join(", ")})`).join(", ");
            ruleIssue(
                ctx,
                ["backend", "workloadIdentityPool"],
                `is not set, but ${pushers} ${pushing.size > 1 ? "push" : "pushes"} into this region's backend, and another region's cluster reaches Google Secret Manager only through workload identity federation: set it to a pool with an OIDC provider for each of ${[region.region, ...pushing.keys()].join(", ")}`,
            );
        }
        return;
    }
    const unfit = [region.region, ...pushing.keys()].filter((name) => !isPoolProviderId(name));
    if (unfit.length > 0) {
        ruleIssue(
            ctx,
            ["regions"],
            `includes ${unfit.join(", ")}, which cannot name ${unfit.length > 1 ? "their OIDC providers" : "its OIDC provider"} in backend.workloadIdentityPool (a provider ID is 4 to 32 lowercase letters, digits and '-', not starting with gcp-): rename ${unfit.length > 1 ? "those regions" : "that region"} (and ${unfit.length > 1 ? "their stacks" : "its stack"})`,
            // A project-wide list: its fix is in Pulumi.yaml, whatever the value.
            { set: "[...]" },
        );
    }
}

/**
 * The rules between the backend and the region's other options, each reported at the option it
 * names: what a region without a Vault cannot have (any option of the Vault servers, their snapshots,
 * metrics and replicator set, a Vault ServiceMonitor, peer tokens it would issue, a secret every
 * region writes), how peers reach a GCP backend ({@link gcpIdentityRules}), and the replicated secrets'
 * names in a cloud store (within its length, and no two the same once spelt as the store allows).
 */
export function backendRules(region: BackendRegion, ctx: z.RefinementCtx): void {
    const { backend } = region;
    if (backend.type === "vault") {
        return;
    }
    for (const { path, value } of region.vaultServerOptionsSet) {
        ruleIssue(
            ctx,
            path,
            `is ${JSON.stringify(value)}, but backend.type is ${backend.type}: this region runs no Vault servers, so the option has no effect. Remove it`,
            "remove",
        );
    }
    if (region.monitoring.serviceMonitor) {
        ruleIssue(
            ctx,
            ["monitoring", "serviceMonitor"],
            `is true, but backend.type is ${backend.type}: there is no Vault in this cluster to scrape. Set it to false`,
            { set: "false" },
        );
    }
    if (backend.type === "hcp-vault" && region.peerAuth === "token") {
        ruleIssue(
            ctx,
            ["peerAuth"],
            "is token, but backend.type is hcp-vault, whose cluster checks every region's ESO by its service-account tokens (JWT mounts) and issues no peer token: set peerAuth to jwt",
            { set: "jwt" },
        );
    }
    region.replicatedSecrets.forEach((secret, i) => {
        if (secret.mode !== undefined && writersOf({ mode: secret.mode, writers: secret.writers }) === "any") {
            ruleIssue(
                ctx,
                ["replicatedSecrets", i, "writers"],
                `is any${secret.writers === undefined ? " (the default for a vault-written secret)" : ""}, but backend.type is ${backend.type}: a secret every region writes needs this project's replicator in every region, which runs beside a self-hosted Vault only. Set writers: home (in every region's stack)`,
                { set: "home" },
            );
        }
    });
    if (!isCloudBackend(backend.type)) {
        return;
    }
    if (backend.type === "gcp-secret-manager" && region.region !== undefined) {
        gcpIdentityRules(backend, { ...region, region: region.region }, ctx);
    }
    for (const peer of Object.keys(region.peerTokenGenerations)) {
        ruleIssue(
            ctx,
            ["peerTokenGenerations", peer],
            `is set, but backend.type is ${backend.type}, which issues no Vault tokens (peers push here with their workload identity): remove it`,
            "remove",
        );
    }
    const rulesOf = REMOTE_NAME_RULES[backend.type];
    const owners = new Map<string, string>();
    // The bootstrap's canary first, so a secret that meets its name is the one reported.
    const secrets = [
        { name: CANARY_NAME, namespace: region.externalSecrets.namespace, keys: [CANARY_KEY], at: undefined },
        ...region.replicatedSecrets.map((secret, i) => ({ ...secret, at: i })),
    ];
    for (const secret of secrets) {
        const id = `${secret.namespace}/${secret.name}`;
        for (const remote of remoteSecrets(backend, remoteKeyOf(secret), secret.keys)) {
            const what = remote.key === undefined ? "" : ` (key ${remote.key})`;
            if (remote.name.length > rulesOf.maxLength && secret.at !== undefined) {
                ruleIssue(
                    ctx,
                    ["replicatedSecrets", secret.at, "name"],
                    `is ${secret.name}, whose ${backend.type} name ${remote.name}${what} is ${remote.name.length} characters, over the ${rulesOf.maxLength} it allows: shorten the name, remoteKey or backend.secretPrefix`,
                );
            }
            const compared = comparedName(backend, remote.name);
            const owner = owners.get(compared);
            if (owner !== undefined && owner !== id && secret.at !== undefined) {
                ruleIssue(
                    ctx,
                    ["replicatedSecrets", secret.at, "name"],
                    `is ${secret.name}, whose ${backend.type} name ${remote.name}${what} is also ${owner}'s: give one of them another remoteKey`,
                );
            }
            owners.set(compared, owner ?? id);
        }
    }
}
