/**
 * Every chart and image version this project deploys, in one place.
 *
 * Bump a version here (and nowhere else); stacks can override each one with config
 * (`vault.chartVersion`, `vault.imageTag`, `externalSecrets.chartVersion`,
 * `externalSecrets.imageTag`) when they need to roll forward or back on their own. Which of the two
 * server charts a project deploys is its engine (`components/common/engine.ts`).
 */

/**
 * The official HashiCorp Vault chart (hashicorp/vault-helm). `valuesSchema` is the chart's own values
 * schema at the same tag, which the tests check the chart values against (`npm run fetch-schemas`
 * downloads it and checks its sha256): bump it with the version.
 */
export const VAULT_CHART = {
    repository: "https://helm.releases.hashicorp.com",
    chart: "vault",
    version: "0.34.1",
    valuesSchema: {
        url: "https://raw.githubusercontent.com/hashicorp/vault-helm/v0.34.1/values.schema.json",
        sha256: "9ec72cfb43c70130389a99b125f4633444155d9aaf226a7278e8f2ef173878ca",
    },
} as const;

/** The Vault server image; 2.0.4 is the appVersion of chart 0.34.1. */
export const VAULT_IMAGE = {
    repository: "hashicorp/vault",
    tag: "2.0.4",
} as const;

/**
 * The official OpenBao chart (openbao/openbao-helm, released as the tag `openbao-<version>`; its
 * repository is the project's GitHub Pages). `valuesSchema` is the chart's own values schema at that
 * tag, fetched and checked like the Vault chart's.
 */
export const OPENBAO_CHART = {
    repository: "https://openbao.github.io/openbao-helm",
    chart: "openbao",
    version: "0.29.2",
    valuesSchema: {
        url: "https://raw.githubusercontent.com/openbao/openbao-helm/openbao-0.29.2/charts/openbao/values.schema.json",
        sha256: "2a77b5003139dcfd34666a7e53e841b458f6866e8642fdeb7fb448b103e27dc1",
    },
} as const;

/**
 * The OpenBao server image; 2.6.2 is the appVersion of chart 0.29.2 (`v2.6.2`, which the chart's
 * template uses without its `v`). The chart pulls it from quay.io, its `server.image.registry` default.
 */
export const OPENBAO_IMAGE = {
    registry: "quay.io",
    repository: "openbao/openbao",
    tag: "2.6.2",
} as const;

/** The External Secrets Operator chart (external-secrets/external-secrets). */
export const EXTERNAL_SECRETS_CHART = {
    repository: "https://charts.external-secrets.io",
    chart: "external-secrets",
    version: "2.9.0",
} as const;

/** The ESO image for the controller, webhook and cert controller; v2.9.0 is the appVersion of chart 2.9.0. */
export const EXTERNAL_SECRETS_IMAGE = {
    repository: "ghcr.io/external-secrets/external-secrets",
    tag: "v2.9.0",
} as const;

/**
 * The cloud CLIs the snapshot job copies each snapshot off the cluster with (vault.snapshots.offsite),
 * one per object store. Each authenticates through the pod's workload identity: the AWS CLI v2 reads
 * IRSA's web-identity token (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE) or EKS Pod Identity's
 * container credentials from its environment; gcloud reads GKE's metadata server; the Azure CLI logs
 * in with the federated token AKS Workload Identity injects (`az login --federated-token`). These
 * tags are pinned here and were seen pinned in public projects; they have not been pulled or run
 * by this project's tests, which run the copy script against fake CLIs.
 */
export const OFFSITE_CLI_IMAGES = {
    s3: { repository: "amazon/aws-cli", tag: "2.34.48" },
    gcs: { repository: "gcr.io/google.com/cloudsdktool/google-cloud-cli", tag: "578.0.0-slim" },
    azureBlob: { repository: "mcr.microsoft.com/azure-cli", tag: "2.89.1" },
} as const;

/**
 * The image the replicator runs in: the official Node.js image, whose Node.js runs the replicator's
 * TypeScript files as they are (type stripping, on by default since Node.js 23.6 and 22.18). The same
 * Node.js version as the project's own (`.nvmrc`, `.ci/run`); a test keeps them together.
 */
export const REPLICATOR_IMAGE = {
    repository: "node",
    tag: "24.22.3-alpine",
} as const;
