/**
 * What the cloud identity of a managed backend may do, generated from one least-privilege table, as
 * the Vault policies are (`vault-config/policies.ts`): the AWS IAM policy of the role ESO assumes, the
 * Google IAM bindings of the service account ESO acts as, the Azure role ESO's identity holds on the
 * key vault; and who may act as that identity (the AWS role's trust policy, the Google
 * `workloadIdentityUser` members, the Azure federated credentials).
 *
 * The stack takes these identities as inputs and never creates them (docs/backends.md says why); these
 * builders give the operator the exact documents, and the tests check that they grant nothing beyond
 * the project's secret names.
 *
 * Every permission is one ESO v2.9.0 calls for this project's stores, ExternalSecrets and PushSecrets
 * (PushSecrets with `deletionPolicy: None`, so nothing deletes a secret; no `dataFrom.find`, so
 * nothing lists):
 * - AWS (providers/v1/aws/secretsmanager/secretsmanager.go): a read is GetSecretValue; a push is
 *   DescribeSecret (exists? tagged `managed-by=external-secrets`?), CreateSecret with that tag (which
 *   needs TagResource), GetSecretValue and PutSecretValue when the value changed, DeleteResourcePolicy
 *   on every push (`manageResourcePolicy` removes any resource policy the metadata does not set), and
 *   ReplicateSecretToRegions / RemoveRegionsFromReplication only with replica regions.
 * - GCP (providers/v1/gcp/secretmanager/client.go, push_secret.go): a read is AccessSecretVersion; a
 *   push is GetSecret, CreateSecret, UpdateSecret (labels), AccessSecretVersion and AddSecretVersion.
 * - Azure (providers/v1/azure/keyvault/keyvault.go): a read is GetSecret; a push is GetSecret (value
 *   and `managed-by` tag) and SetSecret.
 */
import type { PolicyPurpose } from "../vault-config/policies";
import { POLICY_PURPOSES } from "../vault-config/policies";
import type { CloudBackendType, ResolvedBackendOf } from "./backendOptions";
import { backendServiceAccountName } from "./backendStores";
import { remoteSecrets, spelled } from "./remoteNames";
import { CANARY_KEY, CANARY_NAME, remoteKeyOf } from "../replication/replicationSpecs";

/** What a grant applies to. */
export type GrantScope =
    /** The project's secrets only: their names, or the names with the backend's prefix. */
    | "secrets"
    /** The KMS key that encrypts the secrets. */
    | "kms-key"
    /** The Google project (creating a secret: it has no IAM policy of its own yet). */
    | "project";

/** An option of the backend a grant is needed for. */
export type GrantCondition = "kmsKeyId" | "replicaRegions";

/** One row of the table: permissions, who needs them, where, when, and why. */
export interface CloudGrant {
    readonly backend: CloudBackendType;
    /** pull: the read store (`vault-local`); push: the push stores (`vault-local-push`, a peer's `vault-<region>`). */
    readonly purposes: readonly PolicyPurpose[];
    readonly permissions: readonly string[];
    readonly scope: GrantScope;
    /** Needed only when every one of these options is set. */
    readonly when?: readonly GrantCondition[];
    readonly why: string;
}

/** The table: every permission a backend's identity gets, and why. */
export const CLOUD_POLICY_TABLE: readonly CloudGrant[] = [
    {
        backend: "aws-secrets-manager",
        purposes: ["pull", "push"],
        permissions: ["secretsmanager:GetSecretValue"],
        scope: "secrets",
        why: "ExternalSecrets read the value; a push reads it to write only a changed value",
    },
    {
        backend: "aws-secrets-manager",
        purposes: ["push"],
        permissions: ["secretsmanager:DescribeSecret"],
        scope: "secrets",
        why: "a push checks that the secret exists and carries the tag managed-by=external-secrets",
    },
    {
        backend: "aws-secrets-manager",
        purposes: ["push"],
        permissions: ["secretsmanager:CreateSecret", "secretsmanager:TagResource"],
        scope: "secrets",
        why: "a push creates a missing secret, tagged managed-by=external-secrets",
    },
    {
        backend: "aws-secrets-manager",
        purposes: ["push"],
        permissions: ["secretsmanager:PutSecretValue"],
        scope: "secrets",
        why: "a push writes a changed value",
    },
    {
        backend: "aws-secrets-manager",
        purposes: ["push"],
        permissions: ["secretsmanager:DeleteResourcePolicy"],
        scope: "secrets",
        why: "ESO removes, on every push, a resource policy its metadata does not set (none here)",
    },
    {
        backend: "aws-secrets-manager",
        purposes: ["push"],
        permissions: ["secretsmanager:ReplicateSecretToRegions", "secretsmanager:RemoveRegionsFromReplication"],
        scope: "secrets",
        when: ["replicaRegions"],
        why: "ESO keeps each secret's replica regions as replicaRegions lists them",
    },
    {
        backend: "aws-secrets-manager",
        purposes: ["pull", "push"],
        permissions: ["kms:Decrypt"],
        scope: "kms-key",
        when: ["kmsKeyId"],
        why: "reading a value encrypted with the customer key",
    },
    {
        backend: "aws-secrets-manager",
        purposes: ["push"],
        permissions: ["kms:GenerateDataKey"],
        scope: "kms-key",
        when: ["kmsKeyId"],
        why: "writing a value encrypted with the customer key",
    },
    {
        backend: "aws-secrets-manager",
        purposes: ["push"],
        permissions: ["kms:Encrypt"],
        scope: "kms-key",
        when: ["kmsKeyId", "replicaRegions"],
        why: "replicating to regions whose copy the customer key encrypts",
    },
    {
        backend: "gcp-secret-manager",
        purposes: ["pull", "push"],
        permissions: ["secretmanager.versions.access"],
        scope: "secrets",
        why: "ExternalSecrets read the latest version; a push reads it to add a version only for a changed value",
    },
    {
        backend: "gcp-secret-manager",
        purposes: ["push"],
        permissions: ["secretmanager.secrets.get", "secretmanager.secrets.update", "secretmanager.versions.add"],
        scope: "secrets",
        why: "a push checks the label managed-by=external-secrets, keeps the labels, and adds a version",
    },
    {
        backend: "gcp-secret-manager",
        purposes: ["push"],
        permissions: ["secretmanager.secrets.create"],
        scope: "project",
        why: "a push creates a missing secret (with its replication); a secret not yet created has no IAM policy, so this is granted on the project",
    },
    {
        backend: "azure-key-vault",
        purposes: ["pull", "push"],
        permissions: ["Microsoft.KeyVault/vaults/secrets/getSecret/action"],
        scope: "secrets",
        why: "ExternalSecrets read the value; a push reads it (and its managed-by tag) to write only a changed value",
    },
    {
        backend: "azure-key-vault",
        purposes: ["push"],
        permissions: ["Microsoft.KeyVault/vaults/secrets/setSecret/action"],
        scope: "secrets",
        why: "a push creates or updates a secret",
    },
];

/** The grants of `backend` for `purposes`, for the options it has set. */
export function grantsFor(
    backend: { readonly type: CloudBackendType; readonly kmsKeyId?: string; readonly replicaRegions?: readonly string[] },
    purposes: readonly PolicyPurpose[] = POLICY_PURPOSES,
): CloudGrant[] {
    const set: Record<GrantCondition, boolean> = {
        kmsKeyId: backend.kmsKeyId !== undefined,
        replicaRegions: (backend.replicaRegions ?? []).length > 0,
    };
    return CLOUD_POLICY_TABLE.filter(
        (grant) =>
            grant.backend === backend.type &&
            grant.purposes.some((purpose) => purposes.includes(purpose)) &&
            (grant.when ?? []).every((condition) => set[condition]),
    );
}

/** Which of the backend's secrets a policy covers: every name with its prefix, or exactly these names. */
export type SecretScope = { readonly kind: "prefix" } | { readonly kind: "names"; readonly names: readonly string[] };

/**
 * The names of every remote secret a backend holds for the replicated secrets and the bootstrap's
 * canary (in ESO's namespace), for a policy scoped to exactly those ({@link SecretScope} `names`).
 */
export function replicatedSecretNames(
    backend: { readonly type: CloudBackendType; readonly secretPrefix: string },
    secrets: readonly {
        readonly name: string;
        readonly namespace: string;
        readonly remoteKey?: string;
        readonly keys?: readonly string[];
    }[],
    esoNamespace: string,
): string[] {
    const all = [{ name: CANARY_NAME, namespace: esoNamespace, keys: [CANARY_KEY] }, ...secrets];
    return [
        ...new Set(all.flatMap((secret) => remoteSecrets(backend, remoteKeyOf(secret), secret.keys).map((remote) => remote.name))),
    ].sort();
}

const permissionsOf = (grants: readonly CloudGrant[], scope: GrantScope) => [
    ...new Set(grants.filter((grant) => grant.scope === scope).flatMap((grant) => grant.permissions)),
];

// ---------------------------------------------------------------------------------------------------
// AWS

/** The account of an IAM role ARN. */
export function awsAccountOf(roleArn: string): string {
    const account = /^arn:[^:]+:iam::(\d{12}):role\//.exec(roleArn)?.[1];
    if (account === undefined) {
        throw new Error(`${roleArn} is not an IAM role ARN`);
    }
    return account;
}

/** The partition of an ARN (`aws`, `aws-cn`, `aws-us-gov`). */
function awsPartitionOf(arn: string): string {
    return arn.split(":")[1];
}

/** An IAM policy document. */
export interface IamPolicyDocument {
    readonly Version: "2012-10-17";
    readonly Statement: readonly {
        readonly Sid: string;
        readonly Effect: "Allow";
        readonly Action: readonly string[];
        readonly Resource: string | readonly string[];
        readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
    }[];
}

/**
 * The IAM policy of the role ESO assumes for an AWS Secrets Manager backend. Secrets are named by
 * ARN in the secrets' region and the role's account: `secret:<name>-??????` per name (Secrets Manager
 * appends a hyphen and six characters to every secret's ARN), or `secret:<prefix>*`. A KMS key ARN is
 * named as it is; an alias by the keys it names (`kms:ResourceAliases`), each only through Secrets
 * Manager in the secrets' regions (`kms:ViaService`).
 */
export function awsIamPolicy(
    backend: ResolvedBackendOf<"aws-secrets-manager">,
    scope: SecretScope = { kind: "prefix" },
    purposes: readonly PolicyPurpose[] = POLICY_PURPOSES,
): IamPolicyDocument {
    const grants = grantsFor(backend, purposes);
    const account = awsAccountOf(backend.roleArn);
    const partition = awsPartitionOf(backend.roleArn);
    const secretArn = (suffix: string) => `arn:${partition}:secretsmanager:${backend.region}:${account}:secret:${suffix}`;
    const resources =
        scope.kind === "prefix"
            ? [secretArn(`${backend.secretPrefix}*`)]
            : [...new Set(scope.names)].sort().map((name) => secretArn(`${name}-??????`));
    const statements: IamPolicyDocument["Statement"][number][] = [];
    if (resources.length > 0) {
        statements.push({ Sid: "ReplicatedSecrets", Effect: "Allow", Action: permissionsOf(grants, "secrets"), Resource: resources });
    }
    const kmsActions = permissionsOf(grants, "kms-key");
    if (backend.kmsKeyId !== undefined && kmsActions.length > 0) {
        const regions = [backend.region, ...backend.replicaRegions];
        const viaService = { "kms:ViaService": regions.map((region) => `secretsmanager.${region}.amazonaws.com`) };
        statements.push(
            backend.kmsKeyId.startsWith("arn:")
                ? {
                      Sid: "SecretsKey",
                      Effect: "Allow",
                      Action: kmsActions,
                      Resource: backend.kmsKeyId,
                      Condition: { StringEquals: viaService },
                  }
                : {
                      Sid: "SecretsKey",
                      Effect: "Allow",
                      Action: kmsActions,
                      Resource: regions.map((region) => `arn:${partition}:kms:${region}:${account}:key/*`),
                      Condition: { StringEquals: viaService, "ForAnyValue:StringEquals": { "kms:ResourceAliases": backend.kmsKeyId } },
                  },
        );
    }
    return { Version: "2012-10-17", Statement: statements };
}

/** A cluster whose ESO acts as a backend's identity: its region and its service-account token issuer. */
export interface TrustedCluster {
    readonly region: string;
    /** The issuer URL of the cluster's service-account tokens (`https://oidc.eks.<region>.amazonaws.com/id/<id>` on EKS). */
    readonly issuer: string;
}

/**
 * The trust policy of the role: for IRSA, each cluster (the region's own and every peer that pushes
 * here) through the IAM OIDC provider of its issuer, as the identity ServiceAccount for this region
 * (`eso-backend-<region>` in ESO's namespace), for the audience `sts.amazonaws.com`; with Pod Identity,
 * EKS's pod identity service too, for the region's own controller (`docs/provider/aws-access.md`).
 */
export function awsTrustPolicy(
    backend: ResolvedBackendOf<"aws-secrets-manager">,
    region: string,
    esoNamespace: string,
    clusters: readonly TrustedCluster[],
) {
    const account = awsAccountOf(backend.roleArn);
    const partition = awsPartitionOf(backend.roleArn);
    const subject = `system:serviceaccount:${esoNamespace}:${backendServiceAccountName(region)}`;
    const webIdentity = clusters
        .filter((cluster) => !(cluster.region === region && backend.identity === "pod-identity"))
        .map((cluster) => {
            const provider = cluster.issuer.replace(/^https:\/\//, "").replace(/\/$/, "");
            return {
                Sid: `Eso${cluster.region.replace(/[^A-Za-z0-9]/g, "")}`,
                Effect: "Allow" as const,
                Principal: { Federated: `arn:${partition}:iam::${account}:oidc-provider/${provider}` },
                Action: ["sts:AssumeRoleWithWebIdentity"],
                Condition: { StringEquals: { [`${provider}:sub`]: subject, [`${provider}:aud`]: "sts.amazonaws.com" } },
            };
        });
    const podIdentity =
        backend.identity === "pod-identity"
            ? [
                  {
                      Sid: "EksPodIdentity",
                      Effect: "Allow" as const,
                      Principal: { Service: "pods.eks.amazonaws.com" },
                      Action: ["sts:AssumeRole", "sts:TagSession"],
                  },
              ]
            : [];
    return { Version: "2012-10-17" as const, Statement: [...webIdentity, ...podIdentity] };
}

// ---------------------------------------------------------------------------------------------------
// Google Cloud

/** A custom role and where it is granted. */
export interface GcpBinding {
    /** The custom role's ID (`projects/<project>/roles/<id>` once created). */
    readonly roleId: string;
    readonly permissions: readonly string[];
    readonly member: string;
    /** An IAM condition, when the grant is narrower than the project. */
    readonly condition?: { readonly title: string; readonly expression: string };
}

/** The Secret Manager resource name prefix of the project's secrets, as IAM conditions see it. */
export function gcpSecretNamePrefix(projectNumber: string, prefix: string): string {
    return `projects/${projectNumber}/secrets/${prefix}`;
}

/**
 * The IAM condition that holds for one secret and its versions: the version calls ESO makes
 * (`AccessSecretVersion`, `AddSecretVersion`) are checked against the version's own resource name,
 * `<secret>/versions/<version>` (https://cloud.google.com/iam/docs/conditions-resource-attributes,
 * Secret Manager; `AccessSecretVersionRequest.name`, `projects/<project>/secrets/<secret>/versions/<version or latest>`).
 */
export function gcpSecretNameCondition(secret: string): string {
    return `resource.name == ${JSON.stringify(secret)} || resource.name.startsWith(${JSON.stringify(`${secret}/versions/`)})`;
}

/**
 * The bindings of the service account ESO acts as, on the project that holds the secrets: one custom
 * role for the project's secrets, bound with an IAM condition on their names (the prefix, or exactly
 * the names), and one for creating secrets, bound on the project (a secret not yet created has no IAM
 * policy). Secret Manager resource names in IAM conditions carry the project number.
 */
export function gcpIamBindings(
    backend: ResolvedBackendOf<"gcp-secret-manager">,
    projectNumber: string,
    scope: SecretScope = { kind: "prefix" },
    purposes: readonly PolicyPurpose[] = POLICY_PURPOSES,
): GcpBinding[] {
    const grants = grantsFor(backend, purposes);
    const member = `serviceAccount:${backend.serviceAccount}`;
    const names =
        scope.kind === "prefix"
            ? `resource.name.startsWith(${JSON.stringify(gcpSecretNamePrefix(projectNumber, spelled("gcp-secret-manager", backend.secretPrefix)))})`
            : [...new Set(scope.names)]
                  .sort()
                  .map((name) => gcpSecretNameCondition(gcpSecretNamePrefix(projectNumber, name)))
                  .join(" || ");
    const onSecrets = permissionsOf(grants, "secrets");
    const onProject = permissionsOf(grants, "project");
    return [
        ...(onSecrets.length > 0 && names !== ""
            ? [
                  {
                      roleId: purposes.includes("push") ? "openovaSecretWriter" : "openovaSecretReader",
                      permissions: onSecrets,
                      member,
                      condition: { title: "openova-vault secrets", expression: names },
                  },
              ]
            : []),
        ...(onProject.length > 0 ? [{ roleId: "openovaSecretCreator", permissions: onProject, member }] : []),
    ];
}

/**
 * Who may act as the service account (`roles/iam.workloadIdentityUser` on it): the identity
 * ServiceAccount for this region in each cluster, through the GKE Workload Identity pool of the
 * cluster's project (`<cluster project>.svc.id.goog`) or through the backend's workload identity pool.
 */
export function gcpWorkloadIdentityUsers(
    backend: ResolvedBackendOf<"gcp-secret-manager">,
    region: string,
    esoNamespace: string,
    gkeClusterProject?: string,
): string[] {
    const account = backendServiceAccountName(region);
    if (backend.workloadIdentityPool !== undefined) {
        return [`principal://iam.googleapis.com/${backend.workloadIdentityPool}/subject/system:serviceaccount:${esoNamespace}:${account}`];
    }
    return [`serviceAccount:${gkeClusterProject ?? backend.project}.svc.id.goog[${esoNamespace}/${account}]`];
}

// ---------------------------------------------------------------------------------------------------
// Azure

/** A key vault's resource ID, the scope of the role assignment. */
export function azureVaultScope(subscriptionId: string, resourceGroup: string, vaultUrl: string): string {
    const name = new URL(vaultUrl).hostname.split(".")[0];
    return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.KeyVault/vaults/${name}`;
}

/**
 * The custom role ESO's identity holds on the key vault (Azure RBAC; the vault must use the RBAC
 * permission model): only the data actions ESO calls. Key Vault has no conditions on secret names, so
 * the scope is the vault, which is why a region's vault is for this project alone. The built-in Key
 * Vault Secrets Officer would also grant deleting, purging, backing up and restoring every secret.
 */
export function azureRoleDefinition(assignableScope: string, purposes: readonly PolicyPurpose[] = POLICY_PURPOSES) {
    const grants = grantsFor({ type: "azure-key-vault" }, purposes);
    return {
        Name: purposes.includes("push") ? "openova-vault secret writer" : "openova-vault secret reader",
        IsCustom: true,
        Description: "Read and write the secrets openova-vault replicates, and nothing else (no delete, purge, list or keys).",
        Actions: [] as string[],
        NotActions: [] as string[],
        DataActions: permissionsOf(grants, "secrets"),
        NotDataActions: [] as string[],
        AssignableScopes: [assignableScope],
    };
}

/**
 * The federated credentials of the identity: one per cluster whose ESO acts as it (the region's own
 * and every peer that pushes here), for the identity ServiceAccount for this region, with the
 * audience Azure Workload Identity uses.
 */
export function azureFederatedCredentials(region: string, esoNamespace: string, clusters: readonly TrustedCluster[]) {
    return clusters.map((cluster) => ({
        name: `openova-${cluster.region}`,
        issuer: cluster.issuer,
        subject: `system:serviceaccount:${esoNamespace}:${backendServiceAccountName(region)}`,
        audiences: ["api://AzureADTokenExchange"],
    }));
}
