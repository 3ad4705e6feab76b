/**
 * The External Secrets Operator install: its options and chart values.
 */
import { z } from "zod";
import { option, options, text } from "../common/options";
import { isChartVersion, isImageTag, isOwnNamespace } from "../common/predicates";
import { EXTERNAL_SECRETS_CHART, EXTERNAL_SECRETS_IMAGE } from "../common/versions";

/**
 * The Helm release name. The chart names the controller's ServiceAccount after it, and Vault's
 * Kubernetes auth role for ESO binds to that ServiceAccount.
 */
export const EXTERNAL_SECRETS_RELEASE_NAME = "external-secrets";

/** The controller's ServiceAccount (the chart's fullname for release {@link EXTERNAL_SECRETS_RELEASE_NAME}). */
export const EXTERNAL_SECRETS_SERVICE_ACCOUNT = EXTERNAL_SECRETS_RELEASE_NAME;

/** The External Secrets Operator of one region. */
export const externalSecretsOptions = options({
    namespace: option(text(isOwnNamespace).default("external-secrets"), {
        description: "Namespace of the External Secrets Operator, created by the stack; the peer stores' token Secrets live there too.",
        allowed: "a namespace name (a DNS label) other than default, kube-* and Vault's namespace",
        example: "external-secrets",
    }),
    replicas: option(z.int().min(1).max(5).default(2), {
        description: "Controller replicas. Leader election is always on: one works at a time, the others take over when it goes away.",
        allowed: "a whole number from 1 to 5",
        example: "2",
    }),
    chartVersion: option(text(isChartVersion).default(EXTERNAL_SECRETS_CHART.version), {
        description: "Version of the external-secrets chart. Change it together with imageTag (the chart's appVersion).",
        allowed: "a semantic version such as 2.9.0",
        example: EXTERNAL_SECRETS_CHART.version,
    }),
    imageTag: option(text(isImageTag).default(EXTERNAL_SECRETS_IMAGE.tag), {
        description: "Tag of the ESO image (controller, webhook and cert controller), optionally with its digest.",
        allowed: "a pinned image tag (not latest), optionally @sha256:<digest>",
        example: EXTERNAL_SECRETS_IMAGE.tag,
    }),
});

export type ExternalSecretsOptions = z.input<typeof externalSecretsOptions>;
export type ResolvedExternalSecretsOptions = z.output<typeof externalSecretsOptions>;

/** The subset of the external-secrets chart's values this project sets. */
export interface ExternalSecretsHelmValues {
    installCRDs: boolean;
    replicaCount: number;
    leaderElect: boolean;
    image: { repository: string; tag: string };
    webhook: { image: { repository: string; tag: string } };
    certController: { image: { repository: string; tag: string } };
    vault: { enableTokenCache: boolean };
    podDisruptionBudget: { enabled: boolean; minAvailable: number };
}

/**
 * Values for the external-secrets chart: CRDs installed with the chart (so the stores and secrets
 * this project declares never meet a missing CRD), leader election, and the Vault token cache, which
 * reuses a Vault login across reconciles instead of logging in and revoking on every one.
 *
 * The token cache is the chart's own setting, `vault.enableTokenCache`: chart 2.9.0 renders it as the
 * controller's `--enable-vault-token-cache=true`, together with `--vault-token-cache-size` from
 * `vault.tokenCacheSize`, left at the chart's 262144, which is also the controller's built-in size
 * (external-secrets/external-secrets, helm-chart-2.9.0, deploy/charts/external-secrets/values.yaml and
 * templates/deployment.yaml; v2.9.0 providers/v1/vault/provider.go). No `extraArgs` repeat the flag.
 */
export function externalSecretsHelmValues(options: ResolvedExternalSecretsOptions): ExternalSecretsHelmValues {
    const image = { repository: EXTERNAL_SECRETS_IMAGE.repository, tag: options.imageTag };
    return {
        installCRDs: true,
        replicaCount: options.replicas,
        leaderElect: true,
        image,
        webhook: { image },
        certController: { image },
        vault: { enableTokenCache: true },
        podDisruptionBudget: { enabled: options.replicas > 1, minAvailable: 1 },
    };
}
