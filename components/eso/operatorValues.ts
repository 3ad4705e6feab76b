/**
 * Pure builders for the External Secrets Operator install: option defaults and chart values.
 */
import { isChartVersion, isImageTag, isIntegerBetween, isOwnNamespace } from "../common/predicates";
import { EXTERNAL_SECRETS_CHART, EXTERNAL_SECRETS_IMAGE } from "../common/versions";

/** Defaults for every optional {@link ExternalSecretsOptions} field; the README's config table shows the same values. */
export const EXTERNAL_SECRETS_DEFAULTS = {
    namespace: "external-secrets",
    replicas: 2,
    chartVersion: EXTERNAL_SECRETS_CHART.version,
    imageTag: EXTERNAL_SECRETS_IMAGE.tag,
} as const;

/**
 * The Helm release name. The chart names the controller's ServiceAccount after it, and Vault's
 * Kubernetes auth role for ESO binds to that ServiceAccount.
 */
export const EXTERNAL_SECRETS_RELEASE_NAME = "external-secrets";

/** The controller's ServiceAccount (the chart's fullname for release {@link EXTERNAL_SECRETS_RELEASE_NAME}). */
export const EXTERNAL_SECRETS_SERVICE_ACCOUNT = EXTERNAL_SECRETS_RELEASE_NAME;

export interface ExternalSecretsOptions {
    /** Namespace for the operator; created by the component. Default `external-secrets`. */
    readonly namespace?: string;
    /**
     * Controller replicas. Leader election is always on, so one replica works at a time and the
     * others take over when it goes away. Default 2.
     */
    readonly replicas?: number;
    /** external-secrets chart version. Default {@link EXTERNAL_SECRETS_CHART}.version. */
    readonly chartVersion?: string;
    /** Tag of the ESO image (controller, webhook, cert controller). Default {@link EXTERNAL_SECRETS_IMAGE}.tag. */
    readonly imageTag?: string;
}

export type ResolvedExternalSecretsOptions = Required<ExternalSecretsOptions>;

/**
 * Applies the defaults and rejects impossible options early, before any resource exists.
 * @throws Error naming the option and what is allowed.
 */
export function resolveExternalSecretsOptions(options: ExternalSecretsOptions): ResolvedExternalSecretsOptions {
    const resolved: ResolvedExternalSecretsOptions = {
        namespace: options.namespace ?? EXTERNAL_SECRETS_DEFAULTS.namespace,
        replicas: options.replicas ?? EXTERNAL_SECRETS_DEFAULTS.replicas,
        chartVersion: options.chartVersion ?? EXTERNAL_SECRETS_DEFAULTS.chartVersion,
        imageTag: options.imageTag ?? EXTERNAL_SECRETS_DEFAULTS.imageTag,
    };
    const problems: string[] = [];
    const check = (ok: boolean, problem: string) => ok || problems.push(problem);
    check(isOwnNamespace(resolved.namespace), `namespace ${JSON.stringify(resolved.namespace)} is not a DNS label other than default and kube-*`);
    check(isIntegerBetween(resolved.replicas, 1, 5), `replicas ${resolved.replicas} is not a whole number from 1 to 5`);
    check(isChartVersion(resolved.chartVersion), `chartVersion ${JSON.stringify(resolved.chartVersion)} is not a semantic version`);
    check(isImageTag(resolved.imageTag), `imageTag ${JSON.stringify(resolved.imageTag)} is not a pinned image tag (not latest)`);
    if (problems.length > 0) {
        throw new Error(`ExternalSecretsOperator: ${problems.join("; ")}`);
    }
    return resolved;
}

/** The subset of the external-secrets chart's values this project sets. */
export interface ExternalSecretsHelmValues {
    installCRDs: boolean;
    replicaCount: number;
    leaderElect: boolean;
    image: { repository: string; tag: string };
    webhook: { image: { repository: string; tag: string } };
    certController: { image: { repository: string; tag: string } };
    extraArgs: Record<string, string | boolean>;
    podDisruptionBudget: { enabled: boolean; minAvailable: number };
}

/**
 * Values for the external-secrets chart: CRDs installed with the chart (so the stores and secrets
 * this project declares never meet a missing CRD), leader election, and the Vault token cache, which
 * reuses a Vault login across reconciles instead of logging in and revoking on every one.
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
        extraArgs: { "enable-vault-token-cache": true },
        podDisruptionBudget: { enabled: options.replicas > 1, minAvailable: 1 },
    };
}
