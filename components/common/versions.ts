/**
 * Every chart and image version this project deploys, in one place.
 *
 * Bump a version here (and nowhere else); stacks can override each one with config
 * (`vault.chartVersion`, `vault.imageTag`, `externalSecrets.chartVersion`,
 * `externalSecrets.imageTag`) when they need to roll forward or back on their own.
 */

/** The official HashiCorp Vault chart (hashicorp/vault-helm). */
export const VAULT_CHART = {
    repository: "https://helm.releases.hashicorp.com",
    chart: "vault",
    version: "0.34.1",
} as const;

/** The Vault server image; 2.0.4 is the appVersion of chart 0.34.1. */
export const VAULT_IMAGE = {
    repository: "hashicorp/vault",
    tag: "2.0.4",
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
