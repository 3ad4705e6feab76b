/**
 * How a pod's Kubernetes service account is bound to a cloud identity, per cloud, so the pod gets
 * short-lived cloud credentials and no key is ever stored: the annotation on the service account
 * that names the identity, and the pod labels a cloud's webhook needs. Used by the servers' KMS
 * seal (vault.seal) and by the snapshot job's off-site copy (vault.snapshots.offsite).
 *
 * Sources: AWS IRSA, annotation `eks.amazonaws.com/role-arn` (aws/amazon-eks-pod-identity-webhook
 * README); GKE Workload Identity, annotation `iam.gke.io/gcp-service-account` (Google Cloud "Use
 * Workload Identity Federation for GKE"); AKS Workload Identity, annotation
 * `azure.workload.identity/client-id` and pod label `azure.workload.identity/use: "true"`
 * (Azure/azure-workload-identity docs, "Service Account Labels and Annotations").
 */

/** One cloud's binding of a service account to a cloud identity. */
export interface WorkloadIdentityBinding {
    /** The service-account annotation whose value names the cloud identity. */
    readonly annotation: string;
    /** Labels the pods need (Azure's webhook injects the federated token only into labelled pods). */
    readonly podLabels?: Readonly<Record<string, string>>;
    /** The identity the annotation names, in words. */
    readonly what: string;
    /** Whether a value looks like such an identity (it never holds a secret). */
    readonly valid: (value: string) => boolean;
}

/** AWS IAM Roles for Service Accounts. */
export const AWS_IRSA: WorkloadIdentityBinding = {
    annotation: "eks.amazonaws.com/role-arn",
    what: "an IAM role ARN (IRSA)",
    valid: (value) => /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/.test(value),
};

/** GKE Workload Identity, with a Google service account to impersonate. */
export const GKE_WORKLOAD_IDENTITY: WorkloadIdentityBinding = {
    annotation: "iam.gke.io/gcp-service-account",
    what: "a Google service account e-mail (GKE Workload Identity)",
    valid: (value) => /^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z0-9.-]+\.gserviceaccount\.com$/.test(value),
};

/** AKS Workload Identity, with a user-assigned managed identity (or app registration) by client ID. */
export const AKS_WORKLOAD_IDENTITY: WorkloadIdentityBinding = {
    annotation: "azure.workload.identity/client-id",
    podLabels: { "azure.workload.identity/use": "true" },
    what: "the client ID of a managed identity federated with the service account (AKS Workload Identity)",
    valid: (value) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value),
};

/**
 * Field names and values that look like a static cloud credential: an access key, a secret, a token,
 * a password, a connection string, an account key, a SAS, a private key, a service-account key file.
 * Workload identity needs none of them, so where one appears it is refused.
 */
const CREDENTIAL_NAME =
    /(access.?key|secret|token|password|passwd|credential|connection.?string|account.?key|\bsas\b|sas.?token|private.?key|key.?file|client.?cert)/i;
const CREDENTIAL_VALUE = [
    /\b(AKIA|ASIA)[A-Z0-9]{16}\b/, // an AWS access key ID
    /AccountKey=|SharedAccessSignature=|[?&]sig=/i, // an Azure connection string or SAS
    /-----BEGIN [A-Z ]*PRIVATE KEY-----/, // a PEM private key
    /"type"\s*:\s*"service_account"/, // a Google service-account key file
];

/** Whether a field name reads like a static credential. */
export function isCredentialName(name: string): boolean {
    return CREDENTIAL_NAME.test(name);
}

/** Whether a value looks like a static credential. */
export function looksLikeCredential(value: string): boolean {
    return CREDENTIAL_VALUE.some((pattern) => pattern.test(value));
}
