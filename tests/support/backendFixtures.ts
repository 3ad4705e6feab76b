/**
 * One managed backend of each type as a stack's config sets `openova-vault:backend`, with the fewest
 * fields that type takes, for the tests that need a region on each.
 */
export const MANAGED_BACKENDS = {
    "hcp-vault": { type: "hcp-vault", address: "https://vault.example.z1.hashicorp.cloud:8200", providerAuth: { role: "pulumi" } },
    "aws-secrets-manager": { type: "aws-secrets-manager", region: "eu-west-1", roleArn: "arn:aws:iam::111122223333:role/openova-eso" },
    "gcp-secret-manager": {
        type: "gcp-secret-manager",
        project: "platform-secrets",
        serviceAccount: "openova-eso@platform-secrets.iam.gserviceaccount.com",
    },
    "azure-key-vault": {
        type: "azure-key-vault",
        vaultUrl: "https://openova-weu.vault.azure.net/",
        tenantId: "00000000-0000-0000-0000-000000000000",
        clientId: "11111111-1111-1111-1111-111111111111",
    },
} as const;

/** The GCP backend with the workload identity pool that peers pushing into it need. */
export const GCP_WITH_POOL = {
    ...MANAGED_BACKENDS["gcp-secret-manager"],
    workloadIdentityPool: "projects/123456789012/locations/global/workloadIdentityPools/openova",
} as const;
