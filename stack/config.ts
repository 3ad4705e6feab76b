/**
 * The stack's configuration: the only module that reads Pulumi config.
 *
 * Every key lives in the project namespace (`openova-vault:`). {@link CONFIG_KEYS} documents each one
 * (type, default, what is allowed); the schema below enforces it, and a bad value stops the program
 * before any resource is registered with one line naming the stack, the key, the value, what is
 * allowed and the command that fixes it. Components never read config: {@link loadConfig} hands them
 * typed options.
 */
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import { z } from "zod";
import { EXTERNAL_SECRETS_DEFAULTS, type ExternalSecretsOptions } from "../components/eso/operatorValues";
import { peersOf, vaultAddress, vaultHost } from "../components/common/topology";
import {
    isChartVersion,
    isContextName,
    isDnsLabel,
    isDnsSubdomain,
    isImageTag,
    isIntegerBetween,
    isKvMount,
    isOrganizationName,
    isOwnNamespace,
    isRaftReplicaCount,
    isStorageQuantity,
    isVaultAddress,
} from "../components/common/predicates";
import { VAULT_SERVER_DEFAULTS, type VaultServerOptions } from "../components/vault-server/serverValues";
import { MONITORING_DEFAULTS, type MonitoringOptions, monitoringProblems } from "../components/monitoring/monitoringSpecs";
import { MAX_RETAIN, RAFT_SNAPSHOT_DEFAULTS, type RaftSnapshotOptions, SNAPSHOT_CLAIM_NAME, cronScheduleProblem, raftSnapshotProblems } from "../components/snapshots/snapshotSpecs";
import { VAULT_RESOURCE_DEFAULTS, ingressControllerNamespace, isCpuQuantity, isMemoryQuantity, memoryQuantityBytes } from "../components/vault-server/podHardening";
import { MAX_MOUNTED_SECRET_NAME, SEAL_CREDENTIAL_SOURCES, SEAL_TYPES, isMountableSecretName, sealProblems } from "../components/vault-server/seal";
import * as crypto from "node:crypto";
import type { PublishedIdentity } from "./peering";
import { ISSUER_KINDS, TLS_DEFAULTS, TLS_PASSTHROUGH_ANNOTATIONS, TLS_SOURCES, passthroughAnnotations, plaintextWarning, tlsProblems } from "../components/vault-server/tls";
import { AUDIT_DEVICES, type AuditDevice, DEFAULT_AUDIT_DEVICES } from "../components/vault-config/setupValues";
import { DEFAULT_KV_MOUNT } from "../components/vault-config/setupValues";
import type { ReplicatedSecretSpec } from "../components/replication/replicationSpecs";

/** The project name, which is also the config namespace. */
export const PROJECT = "openova-vault";

/** One documented config key. */
export interface ConfigKey {
    /** Key inside the project namespace; nested keys are dotted (`vault.replicas`). */
    readonly key: string;
    readonly type: "string" | "integer" | "boolean" | "array" | "object";
    /** The default, as the README shows it. */
    readonly default: string;
    /** What is allowed, phrased to follow "must be". */
    readonly allowed: string;
    readonly description: string;
    /** A valid value, used in the fix command of an error. */
    readonly example: string;
}

const key = (k: ConfigKey): ConfigKey => k;

/** Object keys (and lists of objects) list their nested keys in what they allow. */
function withNestedKeys(keys: readonly ConfigKey[]): readonly ConfigKey[] {
    return keys.map((k) => {
        const nested = keys
            .filter((n) => n.key.startsWith(`${k.key}.`))
            .map((n) => n.key.slice(k.key.length + 1))
            .filter((rest) => !rest.includes("."));
        if (k.type === "object" && nested.length > 0) {
            return { ...k, allowed: `an object with the keys ${nested.join(", ")}` };
        }
        if (k.type === "array" && nested.length > 0) {
            return { ...k, allowed: `a list of objects with the keys ${nested.join(", ")}` };
        }
        return k;
    });
}

/** Every config key, in the order the README lists them. */
export const CONFIG_KEYS: readonly ConfigKey[] = withNestedKeys([
    key({
        key: "regions",
        type: "array",
        default: "[region1, region2]",
        allowed: "a list of distinct DNS labels (lowercase letters, digits and '-')",
        description: "Every region of the platform (project-wide, set in Pulumi.yaml). A region's peers are all the others.",
        example: "region1",
    }),
    key({
        key: "region",
        type: "string",
        default: "the stack name",
        allowed: "one of the regions in openova-vault:regions",
        description: "The region this stack deploys.",
        example: "region1",
    }),
    key({
        key: "domain",
        type: "string",
        default: "(required)",
        allowed: "a lowercase DNS name such as example.com, without scheme, port or path",
        description: "Base domain; the region's Vault is served at `vault.<region>.<domain>`.",
        example: "example.com",
    }),
    key({
        key: "kubeContext",
        type: "string",
        default: "the region name",
        allowed: "a kubeconfig context name (not empty, no surrounding spaces)",
        description: "kubeconfig context of the region's cluster. Never the current context, so a stack cannot deploy to the wrong cluster.",
        example: "region1",
    }),
    key({
        key: "kvMount",
        type: "string",
        default: DEFAULT_KV_MOUNT,
        allowed: "a mount path of lowercase letters, digits, '-' and '_'",
        description: "Path of the KV v2 secrets engine in every region's Vault (project-wide, set in Pulumi.yaml): the stores read and write there.",
        example: DEFAULT_KV_MOUNT,
    }),
    key({
        key: "vaultInitialized",
        type: "boolean",
        default: "false",
        allowed: "true or false",
        description:
            "Whether this region's Vault is initialized and unsealed. Until it is true the stack deploys only the servers and ESO; once true, it configures Vault through the Vault provider, with the admin token from `VAULT_TOKEN`.",
        example: "true",
    }),
    key({
        key: "vaultAddress",
        type: "string",
        default: "https://vault.<region>.<domain>",
        allowed: "an https:// URL with no path, such as https://vault.region1.example.com or https://127.0.0.1:8200 (http:// only with vault.tls.source none)",
        description: "Where the Pulumi Vault provider (the operator's machine or CI) reaches this region's Vault. Peers always use `https://vault.<region>.<domain>`.",
        example: "https://vault.region1.example.com",
    }),
    key({
        key: "vaultCaCertFile",
        type: "string",
        default: "(required while TLS is on)",
        allowed: "the path of a readable PEM file with at least one CERTIFICATE, relative to the project directory or absolute",
        description: "CA of the issuer that signs this region's Vault certificate. The Vault provider verifies the server with it, and it is exported for the peers' stores.",
        example: "certs/vault-ca.pem",
    }),
    key({
        key: "peerOrganization",
        type: "string",
        default: "this stack's organization",
        allowed: "a Pulumi organization name (letters, digits, '-', '_' and '.')",
        description: "Organization of the peer region stacks, which this stack reads as `<org>/openova-vault/<peer>`.",
        example: "organization",
    }),
    key({
        key: "vault",
        type: "object",
        default: "{}",
        allowed: "an object",
        description: "The region's Vault servers.",
        example: "{}",
    }),
    key({
        key: "vault.replicas",
        type: "integer",
        default: String(VAULT_SERVER_DEFAULTS.replicas),
        allowed: "an odd whole number from 1 to 7 (Raft needs a majority of voters; use 3 or 5 in production)",
        description: "Vault servers (Raft voters). Each needs its own node (the chart's pod anti-affinity).",
        example: "3",
    }),
    key({
        key: "vault.storageSize",
        type: "string",
        default: VAULT_SERVER_DEFAULTS.storageSize,
        allowed: "a Kubernetes quantity with a unit, at least 1Gi, such as 10Gi or 1Ti",
        description: "Raft data volume per server.",
        example: "10Gi",
    }),
    key({
        key: "vault.auditStorageSize",
        type: "string",
        default: VAULT_SERVER_DEFAULTS.auditStorageSize,
        allowed: "a Kubernetes quantity with a unit, at least 1Gi, such as 10Gi or 1Ti",
        description: "Audit-log volume per server (mounted at /vault/audit).",
        example: "10Gi",
    }),
    key({
        key: "vault.storageClass",
        type: "string",
        default: "the cluster's default StorageClass",
        allowed: "a StorageClass name (a DNS name)",
        description: "StorageClass of the data and audit volumes.",
        example: "standard",
    }),
    key({
        key: "vault.ingressClassName",
        type: "string",
        default: VAULT_SERVER_DEFAULTS.ingressClassName,
        allowed: "an IngressClass name (a DNS name)",
        description: "IngressClass that serves `vault.<region>.<domain>`.",
        example: "cilium",
    }),
    key({
        key: "vault.namespace",
        type: "string",
        default: VAULT_SERVER_DEFAULTS.namespace,
        allowed: "a DNS label other than default and kube-*, different from externalSecrets.namespace",
        description: "Namespace of the Vault release (created, and kept on destroy to protect the Raft data).",
        example: "vault",
    }),
    key({
        key: "vault.chartVersion",
        type: "string",
        default: VAULT_SERVER_DEFAULTS.chartVersion,
        allowed: "a semantic version such as 0.34.1",
        description: "hashicorp/vault chart version.",
        example: VAULT_SERVER_DEFAULTS.chartVersion,
    }),
    key({
        key: "vault.imageTag",
        type: "string",
        default: VAULT_SERVER_DEFAULTS.imageTag,
        allowed: "a pinned image tag such as 2.0.4, optionally with @sha256:<digest> (not latest)",
        description: "hashicorp/vault image tag (the appVersion of the pinned chart).",
        example: VAULT_SERVER_DEFAULTS.imageTag,
    }),
    key({
        key: "vault.ingressAnnotations",
        type: "object",
        default: "{}",
        allowed: "an object of annotation names to string values",
        description:
            "Extra ingress annotations; they win over the TLS pass-through annotation set for cilium, nginx and haproxy. With TLS and any other class, give that class's pass-through annotations here.",
        example: "{}",
    }),
    key({
        key: "vault.ingressControllerNamespace",
        type: "string",
        default: "ingress-nginx for nginx, haproxy-controller for haproxy, none for cilium",
        allowed: "a namespace name (a DNS label)",
        description: "Namespace of the ingress controller, which the Vault NetworkPolicy admits to the API port. Required for classes other than cilium, nginx and haproxy.",
        example: "ingress-nginx",
    }),
    key({
        key: "vault.resources",
        type: "object",
        default: "{}",
        allowed: "an object",
        description: "CPU and memory of each Vault server (no CPU limit, on purpose: throttling delays Raft heartbeats).",
        example: "{}",
    }),
    key({
        key: "vault.resources.cpuRequest",
        type: "string",
        default: VAULT_RESOURCE_DEFAULTS.cpuRequest,
        allowed: "a CPU quantity such as 500m or 1",
        description: "CPU request per server.",
        example: VAULT_RESOURCE_DEFAULTS.cpuRequest,
    }),
    key({
        key: "vault.resources.memoryRequest",
        type: "string",
        default: VAULT_RESOURCE_DEFAULTS.memoryRequest,
        allowed: "a memory quantity with a unit such as 256Mi, at most memoryLimit",
        description: "Memory request per server.",
        example: VAULT_RESOURCE_DEFAULTS.memoryRequest,
    }),
    key({
        key: "vault.resources.memoryLimit",
        type: "string",
        default: VAULT_RESOURCE_DEFAULTS.memoryLimit,
        allowed: "a memory quantity with a unit such as 1Gi",
        description: "Memory limit per server.",
        example: VAULT_RESOURCE_DEFAULTS.memoryLimit,
    }),
    key({
        key: "vault.tls",
        type: "object",
        default: "{}",
        allowed: "an object",
        description: "TLS end to end: the servers' listener, Raft joins, the ingress (passed through), every store and the Vault provider.",
        example: "{}",
    }),
    key({
        key: "vault.tls.source",
        type: "string",
        default: TLS_DEFAULTS.source,
        allowed: "cert-manager, secret or none (none needs vault.tls.allowPlaintext true)",
        description: "Where the servers' certificate comes from: a cert-manager Certificate, an existing kubernetes.io/tls Secret, or no TLS.",
        example: TLS_DEFAULTS.source,
    }),
    key({
        key: "vault.tls.issuerKind",
        type: "string",
        default: TLS_DEFAULTS.issuerKind,
        allowed: "ClusterIssuer or Issuer (source cert-manager only)",
        description: "Kind of the cert-manager issuer that signs the servers' certificate.",
        example: TLS_DEFAULTS.issuerKind,
    }),
    key({
        key: "vault.tls.issuerName",
        type: "string",
        default: TLS_DEFAULTS.issuerName,
        allowed: "an issuer name (a DNS name; source cert-manager only)",
        description: "The cert-manager issuer: a private CA that can sign in-cluster names (*.vault-internal, vault-active.<namespace>.svc), whose CA is vaultCaCertFile.",
        example: TLS_DEFAULTS.issuerName,
    }),
    key({
        key: "vault.tls.secretName",
        type: "string",
        default: "(required with source secret)",
        allowed: `a Secret name, a DNS label of at most ${MAX_MOUNTED_SECRET_NAME} characters (source secret only)`,
        description: "A kubernetes.io/tls Secret in Vault's namespace with tls.crt, tls.key and ca.crt, covering the same names.",
        example: "vault-server-tls",
    }),
    key({
        key: "vault.tls.allowPlaintext",
        type: "boolean",
        default: "false",
        allowed: "true, and only with source none",
        description: "The explicit acknowledgement that TLS is off; every run then warns.",
        example: "true",
    }),
    key({
        key: "vault.seal",
        type: "object",
        default: "{}",
        allowed: "an object",
        description: "How the servers are unsealed: Shamir key shares, or auto-unseal through a KMS (see Security).",
        example: "{}",
    }),
    key({
        key: "vault.seal.type",
        type: "string",
        default: "shamir",
        allowed: SEAL_TYPES.join(", ").replace(/, (\w+)$/, " or $1"),
        description: "The seal. Auto-unseal seals need seal.parameters and seal.credentials; init then returns recovery keys.",
        example: "awskms",
    }),
    key({
        key: "vault.seal.parameters",
        type: "object",
        default: "{}",
        allowed: "an object of the seal's non-secret parameters as Vault names them (e.g. awskms region, kms_key_id); no credentials",
        description: "Written into the seal stanza. Required per type: awskms region, kms_key_id; gcpckms project, region, key_ring, crypto_key; azurekeyvault tenant_id, vault_name, key_name; transit address, key_name, mount_path.",
        example: "{}",
    }),
    key({
        key: "vault.seal.credentials",
        type: "string",
        default: "(required for auto-unseal)",
        allowed: "secret or workload-identity (transit: secret only)",
        description: "Where the KMS credentials come from: a Secret in Vault's namespace, or the pods' workload identity. Never from config.",
        example: "workload-identity",
    }),
    key({
        key: "vault.seal.credentialsSecret",
        type: "string",
        default: "(required with credentials secret)",
        allowed: `a Secret name, a DNS label of at most ${MAX_MOUNTED_SECRET_NAME} characters`,
        description: "The Secret with the type's keys: awskms AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; gcpckms credentials.json; azurekeyvault AZURE_CLIENT_ID, AZURE_CLIENT_SECRET; transit VAULT_TOKEN, ca.crt.",
        example: "vault-kms-credentials",
    }),
    key({
        key: "vault.seal.workloadIdentity",
        type: "string",
        default: "(required with credentials workload-identity)",
        allowed: "awskms an IAM role ARN, gcpckms a Google service account e-mail, azurekeyvault a managed identity's client ID",
        description: "The cloud identity the servers' service account is bound to (IRSA, GKE Workload Identity, or AKS Workload Identity annotation on the service account).",
        example: "arn:aws:iam::111122223333:role/vault-unseal",
    }),
    key({
        key: "vault.auditDevices",
        type: "array",
        default: "[file, stdout]",
        allowed: "a list of one or both of file and stdout",
        description: "Audit devices enabled through the Vault provider: a file on the audit volume, and stdout. Keep two: if every device fails, Vault refuses requests.",
        example: "file",
    }),
    key({
        key: "vault.snapshots",
        type: "object",
        default: "{}",
        allowed: "an object",
        description: "Scheduled Raft snapshots (a CronJob with its own snapshot-only Vault role), once the Vault is configured.",
        example: "{}",
    }),
    key({
        key: "vault.snapshots.enabled",
        type: "boolean",
        default: "true",
        allowed: "true or false",
        description: "Take scheduled snapshots.",
        example: "true",
    }),
    key({
        key: "vault.snapshots.schedule",
        type: "string",
        default: RAFT_SNAPSHOT_DEFAULTS.schedule,
        allowed: "a 5-field cron schedule (UTC)",
        description: "When to take a snapshot.",
        example: RAFT_SNAPSHOT_DEFAULTS.schedule,
    }),
    key({
        key: "vault.snapshots.retain",
        type: "integer",
        default: String(RAFT_SNAPSHOT_DEFAULTS.retain),
        allowed: `a whole number from 1 to ${MAX_RETAIN}`,
        description: "Snapshots kept; older ones are deleted after each successful snapshot.",
        example: String(RAFT_SNAPSHOT_DEFAULTS.retain),
    }),
    key({
        key: "vault.snapshots.storageSize",
        type: "string",
        default: RAFT_SNAPSHOT_DEFAULTS.storageSize,
        allowed: "a Kubernetes quantity of at least 1Gi; not with claimName",
        description: `Size of the claim \`${SNAPSHOT_CLAIM_NAME}\` created for the snapshots (kept on destroy); it takes vault.storageClass.`,
        example: RAFT_SNAPSHOT_DEFAULTS.storageSize,
    }),
    key({
        key: "vault.snapshots.claimName",
        type: "string",
        default: `a new claim ${SNAPSHOT_CLAIM_NAME}`,
        allowed: "an existing PersistentVolumeClaim in Vault's namespace (a DNS name)",
        description: "Write the snapshots to this claim instead of creating one.",
        example: "vault-backups",
    }),
    key({
        key: "replicatedSecrets",
        type: "array",
        default: "[]",
        allowed: "a list",
        description: "Secrets kept the same in every region (see docs/consistency.md). Every region stack lists the same entries.",
        example: "[]",
    }),
    key({
        key: "replicatedSecrets.name",
        type: "string",
        default: "(required)",
        allowed: "a Secret name (a DNS name), unique within its namespace",
        description: "Name of the Kubernetes Secret in every region.",
        example: "db-credentials",
    }),
    key({
        key: "replicatedSecrets.namespace",
        type: "string",
        default: "(required)",
        allowed: "a namespace name (a DNS label)",
        description: "Namespace of the Secret in every region.",
        example: "databases",
    }),
    key({
        key: "replicatedSecrets.remoteKey",
        type: "string",
        default: "<namespace>/<name>",
        allowed: "a path of segments of letters, digits, '.', '_' and '-' joined by '/'",
        description: "Path of the secret under the KV mount in every Vault.",
        example: "databases/db-credentials",
    }),
    key({
        key: "replicatedSecrets.keys",
        type: "array",
        default: "the whole Secret",
        allowed: "a list of distinct Secret keys (letters, digits, '.', '_' and '-')",
        description: "Secret keys to carry, each a property of the Vault secret.",
        example: "password",
    }),
    key({
        key: "replicatedSecrets.mode",
        type: "string",
        default: "vault-written",
        allowed: "vault-written or cluster-written",
        description: "vault-written: write into the home region's Vault; cluster-written: the home region's Kubernetes Secret is the source.",
        example: "vault-written",
    }),
    key({
        key: "replicatedSecrets.home",
        type: "string",
        default: "the first of regions",
        allowed: "one of the regions in openova-vault:regions",
        description: "The region that pushes the secret to every other Vault, and where a first value is created.",
        example: "region1",
    }),
    key({
        key: "replicatedSecrets.initialValue",
        type: "string",
        default: "none",
        allowed: "generate (with exactly one key) or config (from openova-vault:initialValues.<name>, set with --secret); vault-written only",
        description: "Where a first value comes from if the secret does not exist yet; written once, in the home region only.",
        example: "generate",
    }),
    key({
        key: "initialValues",
        type: "object",
        default: "{}",
        allowed: "an object of secret values by replicated secret name, set with --secret",
        description: "Operator-supplied first values (`pulumi config set --secret --path initialValues.<name> <value>`); needed only in the home region's stack.",
        example: "{}",
    }),
    key({
        key: "externalSecrets",
        type: "object",
        default: "{}",
        allowed: "an object",
        description: "The External Secrets Operator.",
        example: "{}",
    }),
    key({
        key: "externalSecrets.install",
        type: "boolean",
        default: "true",
        allowed: "true or false",
        description: "Install ESO. With false, the cluster must already run ESO 2.x in `externalSecrets.namespace`, as Helm release `external-secrets` (Vault's role binds its service account `external-secrets`).",
        example: "true",
    }),
    key({
        key: "externalSecrets.namespace",
        type: "string",
        default: EXTERNAL_SECRETS_DEFAULTS.namespace,
        allowed: "a DNS label other than default and kube-*, different from vault.namespace",
        description: "Namespace of the ESO release.",
        example: "external-secrets",
    }),
    key({
        key: "externalSecrets.replicas",
        type: "integer",
        default: String(EXTERNAL_SECRETS_DEFAULTS.replicas),
        allowed: "a whole number from 1 to 5",
        description: "ESO controller replicas (leader election is on).",
        example: "2",
    }),
    key({
        key: "externalSecrets.chartVersion",
        type: "string",
        default: EXTERNAL_SECRETS_DEFAULTS.chartVersion,
        allowed: "a semantic version such as 2.9.0",
        description: "external-secrets chart version.",
        example: EXTERNAL_SECRETS_DEFAULTS.chartVersion,
    }),
    key({
        key: "externalSecrets.imageTag",
        type: "string",
        default: EXTERNAL_SECRETS_DEFAULTS.imageTag,
        allowed: "a pinned image tag such as v2.9.0, optionally with @sha256:<digest> (not latest)",
        description: "ESO image tag (the appVersion of the pinned chart).",
        example: EXTERNAL_SECRETS_DEFAULTS.imageTag,
    }),
    key({
        key: "monitoring",
        type: "object",
        default: "{}",
        allowed: "an object",
        description: "Vault's telemetry for Prometheus, ServiceMonitors for Vault and ESO, and alerts (see README, \"Monitoring\").",
        example: "{}",
    }),
    key({
        key: "monitoring.retention",
        type: "string",
        default: MONITORING_DEFAULTS.retention,
        allowed: "a Go duration of at least 60s, such as 60s or 5m",
        description: "Vault's prometheus_retention_time: how long it keeps metrics for a scrape (at least twice the 30s scrape interval).",
        example: "5m",
    }),
    key({
        key: "monitoring.unauthenticatedMetrics",
        type: "boolean",
        default: String(MONITORING_DEFAULTS.unauthenticatedMetrics),
        allowed: "true or false",
        description: "Serve /v1/sys/metrics without a token (the listener's unauthenticated_metrics_access). Off: Prometheus presents a token whose policy reads sys/metrics only.",
        example: "false",
    }),
    key({
        key: "monitoring.serviceMonitor",
        type: "boolean",
        default: String(MONITORING_DEFAULTS.serviceMonitor),
        allowed: "true or false (needs the Prometheus Operator's CRDs)",
        description: "ServiceMonitors for the active Vault server (verifying its certificate, with the metrics token) and for ESO; the Vault NetworkPolicy then admits monitoring.prometheusNamespace.",
        example: "true",
    }),
    key({
        key: "monitoring.prometheusRules",
        type: "boolean",
        default: String(MONITORING_DEFAULTS.prometheusRules),
        allowed: "true or false (needs the Prometheus Operator's CRDs)",
        description: "A PrometheusRule with the alerts: a Vault server sealed or down, no active server, failing audit devices, a store not Ready, a PushSecret failing, an ExternalSecret not synced, a failed snapshot.",
        example: "true",
    }),
    key({
        key: "monitoring.prometheusNamespace",
        type: "string",
        default: MONITORING_DEFAULTS.prometheusNamespace,
        allowed: "a namespace name (a DNS label) other than vault.namespace",
        description: "Where Prometheus runs: admitted to Vault's API port when monitoring.serviceMonitor is on.",
        example: "monitoring",
    }),
    key({
        key: "monitoring.labels",
        type: "object",
        default: "{release: prometheus}",
        allowed: "an object of Kubernetes labels",
        description: "Labels on the ServiceMonitors and the PrometheusRule, so the Prometheus Operator's selectors pick them up.",
        example: "{}",
    }),
    key({
        key: "peerAuth",
        type: "string",
        default: "token",
        allowed: "token or jwt",
        description:
            "How a region's ESO logs in to a peer's Vault (project-wide, set in Pulumi.yaml): a token the peer issues (orphan, periodic, push-only), or its own service-account token checked by a JWT mount per peer (nothing secret crosses between stacks; needs serviceAccountIssuer in every stack).",
        example: "jwt",
    }),
    key({
        key: "serviceAccountIssuer",
        type: "object",
        default: "{}",
        allowed: "an object",
        description: "This region's cluster as a token issuer, published for the peers' JWT mounts (peerAuth jwt).",
        example: "{}",
    }),
    key({
        key: "serviceAccountIssuer.url",
        type: "string",
        default: "(required with peerAuth jwt)",
        allowed: "an https:// URL: the iss claim of the cluster's service-account tokens",
        description: "`kubectl get --raw /.well-known/openid-configuration` shows it as issuer.",
        example: "https://oidc.region1.example.com",
    }),
    key({
        key: "serviceAccountIssuer.jwksFile",
        type: "string",
        default: "(one of jwksFile or discovery)",
        allowed: "the path of a readable JWKS JSON file with at least one public key",
        description: "The cluster's signing keys, saved with `kubectl get --raw /openid/v1/jwks`; peers' Vaults check tokens with them offline. Refresh it when the cluster rotates its key.",
        example: "identity/region1-jwks.json",
    }),
    key({
        key: "serviceAccountIssuer.discovery",
        type: "boolean",
        default: "false",
        allowed: "true or false; true needs no jwksFile",
        description: "Peers' Vaults fetch the keys from the issuer's OIDC discovery document (the issuer must be reachable from them).",
        example: "true",
    }),
    key({
        key: "serviceAccountIssuer.discoveryCaFile",
        type: "string",
        default: "the system's trusted CAs",
        allowed: "the path of a readable PEM file with at least one CERTIFICATE (discovery only)",
        description: "CA of the issuer's discovery endpoint.",
        example: "certs/oidc-ca.pem",
    }),
]);

const KEYS = new Map(CONFIG_KEYS.map((k) => [k.key, k]));

function doc(name: string): ConfigKey {
    const found = KEYS.get(name);
    if (found === undefined) {
        throw new Error(`config key ${name} is not documented in CONFIG_KEYS`);
    }
    return found;
}

/** The validated configuration of one region stack. */
export interface RegionConfig {
    readonly stack: string;
    readonly region: string;
    readonly regions: readonly string[];
    readonly peers: readonly string[];
    readonly domain: string;
    readonly kubeContext: string;
    /** KV v2 mount path, the same in every region. */
    readonly kvMount: string;
    /** Whether to configure this region's Vault (it is initialized and unsealed, and `VAULT_TOKEN` is set). */
    readonly vaultInitialized: boolean;
    /** The address the Vault provider uses. */
    readonly vaultAddress: string;
    /** The CA file the Vault provider verifies the server with, if any. */
    readonly vaultCaCertFile?: string;
    /** That file's PEM text, exported for the peers' stores; empty when the system's CAs are used. */
    readonly vaultCaCert: string;
    /** Organization of the peer stacks; undefined means this stack's own. */
    readonly peerOrganization?: string;
    /** Vault server options; unset fields take the component's defaults. */
    readonly vault: Omit<VaultServerOptions, "host">;
    /** Audit devices to enable in this region's Vault. */
    readonly auditDevices: readonly AuditDevice[];
    /** Scheduled Raft snapshots. */
    readonly snapshots: RaftSnapshotOptions;
    /** How peers' ESOs log in to each region's Vault (project-wide). */
    readonly peerAuth: "token" | "jwt";
    /** With JWT peer auth: this cluster as a token issuer, published for the peers. */
    readonly serviceAccountIssuer?: PublishedIdentity;
    /** Telemetry, ServiceMonitors and alerts; unset fields take the defaults. */
    readonly monitoring: MonitoringOptions;
    /** ESO options; unset fields take the component's defaults. */
    readonly externalSecrets: ExternalSecretsOptions & { readonly install: boolean };
    /** Secrets kept the same in every region, with their home resolved; initial values only in the home stack. */
    readonly replicatedSecrets: readonly ReplicatedSecretConfig[];
}

/** One replicated secret as configured. */
export interface ReplicatedSecretConfig extends ReplicatedSecretSpec {
    /** The first value, in the home region's stack only: generated, or an operator-supplied secret value. */
    readonly initialValue?: { readonly generate: { readonly key: string } } | { readonly value: Readonly<Record<string, string>> };
}

/** The outcome of {@link parseConfig}: the config, or one line per problem. */
export type ParseResult =
    | { readonly ok: true; readonly config: RegionConfig; readonly warnings: readonly string[] }
    | { readonly ok: false; readonly problems: readonly string[] };

// ---------------------------------------------------------------------------------------------
// Schema. Each leaf's error message is the documented "allowed" text of its key.

const allowed = (name: string) => ({ error: doc(name).allowed });

/** `pulumi config set --path a.b 3` may store "3"; accept digits for integers. */
const integer = (name: string, ok: (n: number) => boolean) =>
    z.preprocess(
        (v) => (typeof v === "string" && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v),
        z.number(allowed(name)).refine(ok, allowed(name)),
    );

/** Accept "true"/"false" as well as booleans, for the same reason. */
const boolean = (name: string) =>
    z.preprocess((v) => (v === "true" ? true : v === "false" ? false : v), z.boolean(allowed(name)));

const text = (name: string, ok: (s: string) => boolean) => z.string(allowed(name)).refine(ok, allowed(name));

const vaultSchema = z.strictObject(
    {
        replicas: integer("vault.replicas", isRaftReplicaCount).optional(),
        storageSize: text("vault.storageSize", isStorageQuantity).optional(),
        auditStorageSize: text("vault.auditStorageSize", isStorageQuantity).optional(),
        storageClass: text("vault.storageClass", isDnsSubdomain).optional(),
        ingressClassName: text("vault.ingressClassName", isDnsSubdomain).optional(),
        namespace: text("vault.namespace", isOwnNamespace).optional(),
        chartVersion: text("vault.chartVersion", isChartVersion).optional(),
        imageTag: text("vault.imageTag", isImageTag).optional(),
        ingressAnnotations: z.record(z.string(), z.string(allowed("vault.ingressAnnotations")), allowed("vault.ingressAnnotations")).optional(),
        ingressControllerNamespace: text("vault.ingressControllerNamespace", isDnsLabel).optional(),
        resources: z
            .strictObject(
                {
                    cpuRequest: text("vault.resources.cpuRequest", isCpuQuantity).optional(),
                    memoryRequest: text("vault.resources.memoryRequest", isMemoryQuantity).optional(),
                    memoryLimit: text("vault.resources.memoryLimit", isMemoryQuantity).optional(),
                },
                allowed("vault.resources"),
            )
            .optional(),
        tls: z
            .strictObject(
                {
                    source: z.enum(TLS_SOURCES, allowed("vault.tls.source")).optional(),
                    issuerKind: z.enum(ISSUER_KINDS, allowed("vault.tls.issuerKind")).optional(),
                    issuerName: text("vault.tls.issuerName", isDnsSubdomain).optional(),
                    secretName: text("vault.tls.secretName", isMountableSecretName).optional(),
                    allowPlaintext: boolean("vault.tls.allowPlaintext").optional(),
                },
                allowed("vault.tls"),
            )
            .optional(),
        seal: z
            .strictObject(
                {
                    type: z.enum(SEAL_TYPES, allowed("vault.seal.type")).optional(),
                    parameters: z.record(z.string(), z.string(allowed("vault.seal.parameters")), allowed("vault.seal.parameters")).optional(),
                    credentials: z.enum(SEAL_CREDENTIAL_SOURCES, allowed("vault.seal.credentials")).optional(),
                    credentialsSecret: text("vault.seal.credentialsSecret", isMountableSecretName).optional(),
                    workloadIdentity: text("vault.seal.workloadIdentity", (v) => v.trim().length > 0).optional(),
                },
                allowed("vault.seal"),
            )
            .optional(),
        auditDevices: z
            .array(z.enum(AUDIT_DEVICES, allowed("vault.auditDevices")), allowed("vault.auditDevices"))
            .min(1, allowed("vault.auditDevices"))
            .refine((list) => new Set(list).size === list.length, allowed("vault.auditDevices"))
            .optional(),
        snapshots: z
            .strictObject(
                {
                    enabled: boolean("vault.snapshots.enabled").optional(),
                    schedule: text("vault.snapshots.schedule", (v) => cronScheduleProblem(v) === undefined).optional(),
                    retain: integer("vault.snapshots.retain", (n) => isIntegerBetween(n, 1, MAX_RETAIN)).optional(),
                    storageSize: text("vault.snapshots.storageSize", isStorageQuantity).optional(),
                    claimName: text("vault.snapshots.claimName", isDnsSubdomain).optional(),
                },
                allowed("vault.snapshots"),
            )
            .optional(),
    },
    allowed("vault"),
);

const serviceAccountIssuerSchema = z.strictObject(
    {
        url: text("serviceAccountIssuer.url", (v) => /^https:\/\/[^\s"]+$/.test(v)).optional(),
        jwksFile: text("serviceAccountIssuer.jwksFile", (v) => v.trim().length > 0).optional(),
        discovery: boolean("serviceAccountIssuer.discovery").optional(),
        discoveryCaFile: text("serviceAccountIssuer.discoveryCaFile", (v) => v.trim().length > 0).optional(),
    },
    allowed("serviceAccountIssuer"),
);

const externalSecretsSchema = z.strictObject(
    {
        install: boolean("externalSecrets.install").optional(),
        namespace: text("externalSecrets.namespace", isOwnNamespace).optional(),
        replicas: integer("externalSecrets.replicas", (n) => isIntegerBetween(n, 1, 5)).optional(),
        chartVersion: text("externalSecrets.chartVersion", isChartVersion).optional(),
        imageTag: text("externalSecrets.imageTag", isImageTag).optional(),
    },
    allowed("externalSecrets"),
);

const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

const replicatedSecretSchema = z.strictObject(
    {
        name: text("replicatedSecrets.name", isDnsSubdomain),
        namespace: text("replicatedSecrets.namespace", isDnsLabel),
        remoteKey: text("replicatedSecrets.remoteKey", (s) => s.split("/").every((part) => SECRET_KEY.test(part) && part !== "." && part !== "..")).optional(),
        keys: z
            .array(text("replicatedSecrets.keys", (s) => SECRET_KEY.test(s)), allowed("replicatedSecrets.keys"))
            .min(1, allowed("replicatedSecrets.keys"))
            .refine((list) => new Set(list).size === list.length, allowed("replicatedSecrets.keys"))
            .optional(),
        mode: z.enum(["vault-written", "cluster-written"], allowed("replicatedSecrets.mode")).optional(),
        home: z.string(allowed("replicatedSecrets.home")).optional(),
        initialValue: z.enum(["generate", "config"], allowed("replicatedSecrets.initialValue")).optional(),
    },
    allowed("replicatedSecrets"),
);

const schema = z.strictObject({
    regions: z
        .array(text("regions", isDnsLabel), allowed("regions"))
        .min(1, allowed("regions"))
        .refine((list) => new Set(list).size === list.length, allowed("regions")),
    // Checked against `regions` below, where the message can list them.
    region: z.string(allowed("region")).optional(),
    domain: text("domain", isDnsSubdomain),
    kubeContext: text("kubeContext", isContextName).optional(),
    kvMount: text("kvMount", isKvMount).optional(),
    vaultInitialized: boolean("vaultInitialized").optional(),
    vaultAddress: text("vaultAddress", isVaultAddress).optional(),
    vaultCaCertFile: text("vaultCaCertFile", (s) => s.trim().length > 0).optional(),
    peerOrganization: text("peerOrganization", isOrganizationName).optional(),
    vault: vaultSchema.optional(),
    replicatedSecrets: z.array(replicatedSecretSchema, allowed("replicatedSecrets")).optional(),
    initialValues: z.record(z.string(), z.string(allowed("initialValues")), allowed("initialValues")).optional(),
    externalSecrets: externalSecretsSchema.optional(),
    peerAuth: z.enum(["token", "jwt"], allowed("peerAuth")).optional(),
    monitoring: z
        .strictObject(
            {
                retention: text("monitoring.retention", (v) => monitoringProblems({ retention: v }).length === 0).optional(),
                unauthenticatedMetrics: boolean("monitoring.unauthenticatedMetrics").optional(),
                serviceMonitor: boolean("monitoring.serviceMonitor").optional(),
                prometheusRules: boolean("monitoring.prometheusRules").optional(),
                prometheusNamespace: text("monitoring.prometheusNamespace", isDnsLabel).optional(),
                labels: z
                    .record(z.string(), z.string(allowed("monitoring.labels")), allowed("monitoring.labels"))
                    .refine((labels) => monitoringProblems({ labels }).length === 0, allowed("monitoring.labels"))
                    .optional(),
            },
            allowed("monitoring"),
        )
        .optional(),
    serviceAccountIssuer: serviceAccountIssuerSchema.optional(),
});

// ---------------------------------------------------------------------------------------------
// Parsing.

/** What {@link parseConfig} needs from outside the config, injected so that it stays pure. */
export interface ParseOptions {
    /**
     * Full keys (`openova-vault:x`) set with `--secret`: their values are never printed in a
     * problem, which says `[secret]` instead.
     */
    readonly secretKeys?: readonly string[];
    /** The process environment; only whether `VAULT_TOKEN` is set is looked at, never its value. */
    readonly environment?: Readonly<Record<string, string | undefined>>;
    /** Reads a file named in config (the CA file). Default: nothing can be read. */
    readonly readFile?: (path: string) => string;
}

/** Config keys of other namespaces that must never be set: they would put a credential in Git. */
const FORBIDDEN_KEYS: Readonly<Record<string, string>> = {
    "vault:token": "the Vault admin token must come from the VAULT_TOKEN environment variable, never from stack config (which is committed)",
};

/**
 * Validates the raw config of one stack (`project:key` to string, as Pulumi hands it to programs;
 * objects and arrays arrive as JSON). Pure: no Pulumi runtime needed; the environment and file reads
 * are injected through `options`.
 */
export function parseConfig(stack: string, rawConfig: Readonly<Record<string, string>>, options: ParseOptions = {}): ParseResult {
    const input = projectValues(rawConfig);
    const secret = new Set(options.secretKeys ?? []);
    const show = (path: readonly PropertyKey[], value: unknown): string =>
        secret.has(`${PROJECT}:${String(path[0])}`) ? "[secret]" : JSON.stringify(value);
    const problem = (reason: string, fix: string) =>
        `Invalid config for stack "${stack}": ${reason}. Fix: ${fix.replace(/\{stack\}/g, stack)}`;

    const forbidden = Object.keys(FORBIDDEN_KEYS).filter((k) => k in rawConfig);
    if (forbidden.length > 0) {
        return { ok: false, problems: forbidden.map((k) => problem(`${k} is set, but ${FORBIDDEN_KEYS[k]}`, `pulumi config rm ${k} -s {stack}, and revoke that token: it is in the stack file's history`)) };
    }

    const parsed = schema.safeParse(input);
    if (!parsed.success) {
        return { ok: false, problems: parsed.error.issues.flatMap((issue) => describeIssue(issue, input, problem, show)) };
    }
    const values = parsed.data;

    const region = values.region ?? stack;
    const problems: string[] = [];
    if (!values.regions.includes(region)) {
        const list = values.regions.join(", ");
        const reason =
            values.region === undefined
                ? `${qualified(["region"])} is not set, so it defaults to the stack name "${stack}", which is not one of the regions in ${qualified(["regions"])} (${list})`
                : `${qualified(["region"])} is ${show(["region"], region)}, but it must be one of the regions in ${qualified(["regions"])} (${list})`;
        const addRegion = isDnsLabel(region) && !secret.has(`${PROJECT}:region`) ? `, or add ${region} to the regions default in Pulumi.yaml` : "";
        problems.push(problem(reason, `pulumi config set region <one of ${list}> -s {stack}${addRegion}`));
    }
    const vaultNamespace = values.vault?.namespace ?? VAULT_SERVER_DEFAULTS.namespace;
    const operatorNamespace = values.externalSecrets?.namespace ?? EXTERNAL_SECRETS_DEFAULTS.namespace;
    if (vaultNamespace === operatorNamespace) {
        problems.push(
            problem(
                `${qualified(["externalSecrets", "namespace"])} and ${qualified(["vault", "namespace"])} are both "${vaultNamespace}", but Vault and ESO each need their own namespace`,
                `pulumi config set --path externalSecrets.namespace ${EXTERNAL_SECRETS_DEFAULTS.namespace} -s {stack}`,
            ),
        );
    }
    const host = vaultHost(region, values.domain);
    if (problems.length === 0 && !isDnsSubdomain(host)) {
        problems.push(
            problem(`${qualified(["domain"])} is ${show(["domain"], values.domain)}, which makes the Vault host name longer than 253 characters`, "pulumi config set domain <shorter domain> -s {stack}"),
        );
    }
    const vaultInitialized = values.vaultInitialized ?? false;
    if (vaultInitialized && !options.environment?.VAULT_TOKEN) {
        problems.push(
            problem(
                `${qualified(["vaultInitialized"])} is true, but VAULT_TOKEN is not set: the Vault provider needs this region's admin token to read and change its configuration`,
                "export VAULT_TOKEN=<admin token> (or open a Pulumi ESC environment that sets it) and run again; if this region's Vault is not initialized and unsealed yet, pulumi config set vaultInitialized false -s {stack}",
            ),
        );
    }
    problems.push(...securityProblems(values).map(([reason, fix]) => problem(reason, fix)));
    const identity = peerAuthOf(values, options.readFile);
    problems.push(...identity.problems.map(([reason, fix]) => problem(reason, fix)));
    const replicated = replicatedSecretsOf(values, region, secret.has(`${PROJECT}:initialValues`));
    problems.push(...replicated.problems.map(([reason, fix]) => problem(reason, fix)));
    const caCert = values.vaultCaCertFile === undefined ? "" : readCaCert(values.vaultCaCertFile, options.readFile);
    if (typeof caCert !== "string") {
        problems.push(problem(`${qualified(["vaultCaCertFile"])} is ${show(["vaultCaCertFile"], values.vaultCaCertFile)}, ${caCert.problem}`, `pulumi config set vaultCaCertFile <path of the CA's PEM file> -s {stack}`));
    }
    if (problems.length > 0) {
        return { ok: false, problems };
    }

    const { auditDevices, snapshots, ...vault } = values.vault ?? {};
    const { install = true, ...operator } = values.externalSecrets ?? {};
    const warnings: string[] = [];
    if (vault.replicas === 1) {
        warnings.push(`${qualified(["vault", "replicas"])} is 1: this region's Vault has no failover; use 3 or 5 servers in production.`);
    }
    warnings.push(...versionWarnings("vault", vault, VAULT_SERVER_DEFAULTS));
    if (vault.tls?.source === "none") {
        warnings.push(plaintextWarning(region));
    }
    const issuerHost = values.serviceAccountIssuer?.url === undefined ? "" : new URL(values.serviceAccountIssuer.url).hostname;
    if (values.peerAuth === "jwt" && values.serviceAccountIssuer?.discovery === true && /(\.svc|\.cluster\.local|^kubernetes\.default)$/.test(issuerHost)) {
        warnings.push(
            `${qualified(["serviceAccountIssuer", "url"])} is ${values.serviceAccountIssuer.url}, an in-cluster name, but with discovery the peers' Vaults fetch its keys from there: they cannot reach it, so their pulumi up fails when writing the JWT mount. Use serviceAccountIssuer.jwksFile, or a public issuer.`,
        );
    }
    if (values.monitoring?.prometheusRules === true && values.monitoring.serviceMonitor !== true) {
        warnings.push(
            `${qualified(["monitoring", "prometheusRules"])} is true but ${qualified(["monitoring", "serviceMonitor"])} is not: the alerts need Vault's and ESO's metrics scraped (and kube-state-metrics); scrape them yourself, or set serviceMonitor.`,
        );
    }
    if ((values.peerAuth ?? "token") === "token" && values.serviceAccountIssuer !== undefined) {
        warnings.push(`${qualified(["serviceAccountIssuer"])} is set, but ${qualified(["peerAuth"])} is token, so no peer uses it.`);
    }
    if (install) {
        warnings.push(...versionWarnings("externalSecrets", operator, EXTERNAL_SECRETS_DEFAULTS));
    } else {
        const ignored = (["replicas", "chartVersion", "imageTag"] as const).filter((name) => operator[name] !== undefined);
        if (ignored.length > 0) {
            warnings.push(
                `${qualified(["externalSecrets", "install"])} is false, so ${ignored.map((name) => qualified(["externalSecrets", name])).join(", ")} ${ignored.length === 1 ? "has" : "have"} no effect: this stack does not install ESO.`,
            );
        }
    }

    return {
        ok: true,
        warnings,
        config: {
            stack,
            region,
            regions: values.regions,
            peers: peersOf(region, values.regions),
            domain: values.domain,
            kubeContext: values.kubeContext ?? region,
            kvMount: values.kvMount ?? DEFAULT_KV_MOUNT,
            vaultInitialized,
            vaultAddress: values.vaultAddress ?? vaultAddress(region, values.domain),
            ...(values.vaultCaCertFile === undefined ? {} : { vaultCaCertFile: values.vaultCaCertFile }),
            vaultCaCert: typeof caCert === "string" ? caCert : "",
            ...(values.peerOrganization === undefined ? {} : { peerOrganization: values.peerOrganization }),
            vault,
            auditDevices: auditDevices ?? DEFAULT_AUDIT_DEVICES,
            snapshots: { ...snapshots, ...(snapshots?.claimName === undefined && vault.storageClass !== undefined ? { storageClass: vault.storageClass } : {}) },
            peerAuth: values.peerAuth ?? "token",
            monitoring: values.monitoring ?? {},
            ...(identity.published === undefined ? {} : { serviceAccountIssuer: identity.published }),
            externalSecrets: { ...operator, install },
            replicatedSecrets: replicated.entries,
        },
    };
}

/** `pulumi config` commands that edit keys of the `vault` object. */
const editVault = (part: string) => `pulumi config set --path vault.${part} <value> -s {stack} (or pulumi config rm --path vault.${part} -s {stack}); see README.md, "Security"`;

/**
 * The checks across keys of the hardening options (TLS, seal, resources, ingress, snapshots): each
 * option's own rules come from its component, so the config and the components refuse the same things.
 */
function securityProblems(values: z.infer<typeof schema>): [string, string][] {
    const problems: [string, string][] = [];
    const vault = values.vault ?? {};
    const fromComponent = (found: readonly string[], part: string) => {
        for (const message of found) {
            problems.push([`${PROJECT}:vault.${message}`, editVault(part)]);
        }
    };
    fromComponent(tlsProblems(vault.tls), "tls.<key>");
    fromComponent(sealProblems(vault.seal), "seal.<key>");
    fromComponent(raftSnapshotProblems(vault.snapshots), "snapshots.<key>");
    const resources = { ...VAULT_RESOURCE_DEFAULTS, ...vault.resources };
    const request = memoryQuantityBytes(resources.memoryRequest);
    const limit = memoryQuantityBytes(resources.memoryLimit);
    if (request !== undefined && limit !== undefined && request > limit) {
        problems.push([`${qualified(["vault", "resources", "memoryRequest"])} is ${resources.memoryRequest}, more than ${qualified(["vault", "resources", "memoryLimit"])} ${resources.memoryLimit}`, editVault("resources.memoryLimit")]);
    }
    const tlsOn = (vault.tls?.source ?? TLS_DEFAULTS.source) !== "none";
    const ingressClass = vault.ingressClassName ?? VAULT_SERVER_DEFAULTS.ingressClassName;
    if (tlsOn && passthroughAnnotations(ingressClass) === undefined && Object.keys(vault.ingressAnnotations ?? {}).length === 0) {
        problems.push([
            `${qualified(["vault", "ingressClassName"])} is ${ingressClass}, which this project does not know how to pass TLS through (it knows ${Object.keys(TLS_PASSTHROUGH_ANNOTATIONS).join(", ")})`,
            `pulumi config set --path 'vault.ingressAnnotations.<annotation>' <value> -s {stack} with that class's TLS pass-through annotation`,
        ]);
    }
    try {
        const controller = ingressControllerNamespace(ingressClass, vault.ingressControllerNamespace);
        if (controller !== undefined && controller === (vault.namespace ?? VAULT_SERVER_DEFAULTS.namespace)) {
            problems.push([`${qualified(["vault", "ingressControllerNamespace"])} is ${controller}, Vault's own namespace: the NetworkPolicy would admit every pod in it`, editVault("ingressControllerNamespace")]);
        }
    } catch {
        problems.push([`${qualified(["vault", "ingressControllerNamespace"])} is not set, and the ingress class ${ingressClass} has no known controller namespace for the Vault NetworkPolicy`, editVault("ingressControllerNamespace")]);
    }
    if (values.monitoring?.serviceMonitor === true && (values.monitoring.prometheusNamespace ?? MONITORING_DEFAULTS.prometheusNamespace) === (vault.namespace ?? VAULT_SERVER_DEFAULTS.namespace)) {
        problems.push([
            `${qualified(["monitoring", "prometheusNamespace"])} is Vault's own namespace: the NetworkPolicy would admit every pod in it`,
            "pulumi config set --path monitoring.prometheusNamespace <Prometheus's namespace> -s {stack}",
        ]);
    }
    if (tlsOn && values.vaultCaCertFile === undefined) {
        problems.push([
            `${qualified(["vaultCaCertFile"])} is not set, but TLS is on (vault.tls.source ${vault.tls?.source ?? TLS_DEFAULTS.source}): the Vault provider and the peers' stores verify this Vault's certificate with that CA, and the system's CAs cannot sign in-cluster names`,
            "pulumi config set vaultCaCertFile <path of the issuer's CA certificate, PEM> -s {stack}",
        ]);
    }
    if (tlsOn && values.vaultAddress?.startsWith("http://")) {
        problems.push([`${qualified(["vaultAddress"])} is ${values.vaultAddress}, plain HTTP, but the servers listen with TLS only`, "pulumi config set vaultAddress https://<host>:<port> -s {stack}"]);
    }
    return problems;
}

/**
 * With JWT peer auth, this cluster's identity as published for the peers (issuer, and public keys
 * from the JWKS file or none for OIDC discovery), or what is wrong with it.
 */
function peerAuthOf(values: z.infer<typeof schema>, readFile: ParseOptions["readFile"]): { published?: PublishedIdentity; problems: [string, string][] } {
    if ((values.peerAuth ?? "token") !== "jwt") {
        return { problems: [] };
    }
    const issuer = values.serviceAccountIssuer ?? {};
    const set = (part: string, value: string) => `pulumi config set --path serviceAccountIssuer.${part} ${value} -s {stack}`;
    const problems: [string, string][] = [];
    if (issuer.url === undefined) {
        problems.push([
            `${qualified(["peerAuth"])} is jwt, but ${qualified(["serviceAccountIssuer", "url"])} is not set: the peers' Vaults need this cluster's token issuer`,
            `${set("url", "$(kubectl get --raw /.well-known/openid-configuration | jq -r .issuer)")}`,
        ]);
    }
    const discovery = issuer.discovery ?? false;
    if (discovery === (issuer.jwksFile !== undefined)) {
        problems.push([
            discovery
                ? `${qualified(["serviceAccountIssuer", "jwksFile"])} and ${qualified(["serviceAccountIssuer", "discovery"])} are both set: use one`
                : `${qualified(["peerAuth"])} is jwt, but neither ${qualified(["serviceAccountIssuer", "jwksFile"])} nor ${qualified(["serviceAccountIssuer", "discovery"])} is set, so the peers' Vaults have no key to check this cluster's tokens with`,
            `kubectl get --raw /openid/v1/jwks > identity/<region>-jwks.json && ${set("jwksFile", "identity/<region>-jwks.json")} (or ${set("discovery", "true")})`,
        ]);
    }
    if (!discovery && issuer.discoveryCaFile !== undefined) {
        problems.push([`${qualified(["serviceAccountIssuer", "discoveryCaFile"])} is set, but discovery is off`, "pulumi config rm --path serviceAccountIssuer.discoveryCaFile -s {stack}"]);
    }
    let publicKeys: string[] = [];
    if (issuer.jwksFile !== undefined && !discovery) {
        const keys = readJwks(issuer.jwksFile, readFile);
        if (typeof keys === "string") {
            problems.push([`${qualified(["serviceAccountIssuer", "jwksFile"])} is ${JSON.stringify(issuer.jwksFile)}, ${keys}`, set("jwksFile", "<path of kubectl get --raw /openid/v1/jwks output>")]);
        } else {
            publicKeys = keys;
        }
    }
    let discoveryCaCert = "";
    if (discovery && issuer.discoveryCaFile !== undefined) {
        const ca = readCaCert(issuer.discoveryCaFile, readFile);
        if (typeof ca === "string") {
            discoveryCaCert = ca;
        } else {
            problems.push([`${qualified(["serviceAccountIssuer", "discoveryCaFile"])} is ${JSON.stringify(issuer.discoveryCaFile)}, ${ca.problem}`, set("discoveryCaFile", "<path of the CA's PEM file>")]);
        }
    }
    if (problems.length > 0 || issuer.url === undefined) {
        return { problems };
    }
    return { published: { issuer: issuer.url, publicKeys, discoveryCaCert }, problems };
}

/** A file named in config, or why it cannot be read (phrased to follow the key and its value). */
function readConfigFile(path: string, readFile: ParseOptions["readFile"]): string | { problem: string } {
    if (readFile === undefined) {
        return { problem: "but no file can be read here" };
    }
    try {
        return readFile(path);
    } catch (error) {
        return { problem: `but it cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
    }
}

/** The public keys of a JWKS file as PEM (what Vault's `jwt_validation_pubkeys` takes), or why it cannot be used. */
function readJwks(path: string, readFile: ParseOptions["readFile"]): string[] | string {
    const text = readConfigFile(path, readFile);
    if (typeof text !== "string") {
        return text.problem;
    }
    const parsed = decodeJson(text);
    const keys = typeof parsed === "object" && parsed !== null ? (parsed as { keys?: unknown }).keys : undefined;
    if (!Array.isArray(keys) || keys.length === 0) {
        return 'but it is not a JWKS document with keys ({"keys": [...]})';
    }
    const pems: string[] = [];
    for (const jwk of keys) {
        if (typeof jwk !== "object" || jwk === null || "d" in jwk) {
            return "but it holds something other than public keys";
        }
        try {
            pems.push(crypto.createPublicKey({ key: jwk as crypto.JsonWebKey, format: "jwk" }).export({ type: "spki", format: "pem" }).toString());
        } catch (error) {
            return `but a key in it is not a usable public key (${(error as Error).message})`;
        }
    }
    return pems;
}

/**
 * The replicated secrets with their defaults applied, or what is wrong with them (reason and fix).
 * Initial values are resolved only in the home region's stack; the others never see them.
 */
function replicatedSecretsOf(
    values: z.infer<typeof schema>,
    region: string,
    initialValuesSecret: boolean,
): { entries: ReplicatedSecretConfig[]; problems: [string, string][] } {
    const problems: [string, string][] = [];
    const entries: ReplicatedSecretConfig[] = [];
    const seen = new Set<string>();
    (values.replicatedSecrets ?? []).forEach((entry, i) => {
        const at = (field: string) => qualified(["replicatedSecrets", i, field]);
        const set = (field: string, value: string) => `pulumi config set --path 'replicatedSecrets[${i}].${field}' ${value} -s {stack}`;
        const home = entry.home ?? values.regions[0];
        const mode = entry.mode ?? "vault-written";
        const id = `${entry.namespace}/${entry.name}`;
        if (seen.has(id)) {
            problems.push([`${at("name")} is ${JSON.stringify(entry.name)}, but ${id} is listed twice`, `pulumi config rm --path 'replicatedSecrets[${i}]' -s {stack}`]);
        }
        seen.add(id);
        if (!values.regions.includes(home)) {
            problems.push([`${at("home")} is ${JSON.stringify(home)}, but it must be one of the regions in ${qualified(["regions"])} (${values.regions.join(", ")})`, set("home", values.regions[0])]);
        }
        if (entry.initialValue !== undefined && mode === "cluster-written") {
            problems.push([`${at("initialValue")} is "${entry.initialValue}", but a cluster-written secret's owner creates its value`, `pulumi config rm --path 'replicatedSecrets[${i}].initialValue' -s {stack}`]);
        }
        if (entry.initialValue === "generate" && entry.keys?.length !== 1) {
            problems.push([`${at("initialValue")} is "generate", but ESO's Password generator makes one value, so keys must list exactly one key`, set("keys[0]", "password")]);
        }
        let initialValue: ReplicatedSecretConfig["initialValue"];
        if (home === region && entry.initialValue === "generate" && entry.keys?.length === 1) {
            initialValue = { generate: { key: entry.keys[0] } };
        }
        if (home === region && entry.initialValue === "config") {
            const given = values.initialValues?.[entry.name];
            const fix = `pulumi config set --secret --path 'initialValues.${entry.name}' <value> -s {stack}`;
            if (given === undefined) {
                problems.push([`${at("initialValue")} is "config", but ${qualified(["initialValues", entry.name])} is not set`, fix]);
            } else if (!initialValuesSecret) {
                problems.push([`${qualified(["initialValues"])} holds a value for ${entry.name}, but it is not set with --secret, so it is in the stack file in plaintext`, `pulumi config rm initialValues -s {stack}, then ${fix}, and rotate that value`]);
            } else {
                const parsed = entry.keys?.length === 1 ? { [entry.keys[0]]: given } : decodeStringMap(given);
                if (parsed === undefined) {
                    problems.push([`${qualified(["initialValues", entry.name])} is [secret], but with ${entry.keys === undefined ? "the whole Secret" : "several keys"} it must be a JSON object of strings`, fix]);
                } else {
                    initialValue = { value: parsed };
                }
            }
        }
        entries.push({
            name: entry.name,
            namespace: entry.namespace,
            ...(entry.remoteKey === undefined ? {} : { remoteKey: entry.remoteKey }),
            ...(entry.keys === undefined ? {} : { keys: entry.keys }),
            mode,
            home,
            ...(initialValue === undefined ? {} : { initialValue }),
        });
    });
    return { entries, problems };
}

function decodeStringMap(text: string): Record<string, string> | undefined {
    const value = decodeJson(text);
    if (typeof value !== "object" || value === null || Array.isArray(value) || !Object.values(value).every((v) => typeof v === "string")) {
        return undefined;
    }
    return value as Record<string, string>;
}

/** The CA file's PEM text, or why it cannot be used. */
function readCaCert(path: string, readFile: ParseOptions["readFile"]): string | { problem: string } {
    const text = readConfigFile(path, readFile);
    if (typeof text !== "string") {
        return text;
    }
    if (!/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(text)) {
        return { problem: "but it holds no PEM certificate (-----BEGIN CERTIFICATE-----)" };
    }
    if (/PRIVATE KEY-----/.test(text)) {
        return { problem: "but it holds a private key: give the CA certificate only" };
    }
    return text;
}

/**
 * Warns when a chart or image version is overridden on its own: the pinned pair (chart and its
 * appVersion) is what the project was written and tested against.
 */
function versionWarnings(
    group: "vault" | "externalSecrets",
    set: { readonly chartVersion?: string; readonly imageTag?: string },
    pinned: { readonly chartVersion: string; readonly imageTag: string },
): string[] {
    const chartChanged = set.chartVersion !== undefined && set.chartVersion !== pinned.chartVersion;
    const imageChanged = set.imageTag !== undefined && set.imageTag !== pinned.imageTag;
    if (chartChanged && set.imageTag === undefined) {
        return [`${qualified([group, "chartVersion"])} is ${set.chartVersion} but the image stays at the pinned ${pinned.imageTag}; set ${qualified([group, "imageTag"])} to the chart's appVersion.`];
    }
    if (imageChanged && !chartChanged) {
        return [`${qualified([group, "imageTag"])} is ${set.imageTag} but the chart stays at the pinned ${pinned.chartVersion}, whose appVersion is ${pinned.imageTag}; check the chart supports that image, or set ${qualified([group, "chartVersion"])} too.`];
    }
    return [];
}

/**
 * Reads and validates this stack's config from the Pulumi runtime.
 * @throws pulumi.RunError with one line per problem: Pulumi prints it without a stack trace.
 */
export function loadConfig(): RegionConfig {
    const raw = pulumi.runtime.allConfig();
    const result = parseConfig(pulumi.getStack(), raw, {
        secretKeys: Object.keys(raw).filter((k) => isConfigSecret(k)),
        environment: process.env,
        readFile: (file) => fs.readFileSync(file, "utf8"),
    });
    if (!result.ok) {
        throw new pulumi.RunError(result.problems.join("\n"));
    }
    for (const warning of result.warnings) {
        void pulumi.log.warn(warning);
    }
    return result.config;
}

/**
 * Whether a config key was set with `--secret`. The SDK exports `runtime.isConfigSecret` but marks it
 * internal (it has no public equivalent that does not also decrypt), so it is reached through a typed
 * lookup; if a future SDK drops it, every key counts as secret and errors show `[secret]`.
 */
function isConfigSecret(fullKey: string): boolean {
    const runtime = pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean };
    return runtime.isConfigSecret === undefined ? true : runtime.isConfigSecret(fullKey);
}

/** The project's keys, with JSON-typed values (arrays and objects) decoded. */
function projectValues(rawConfig: Readonly<Record<string, string>>): Record<string, unknown> {
    const prefix = `${PROJECT}:`;
    const values: Record<string, unknown> = {};
    for (const [fullKey, raw] of Object.entries(rawConfig)) {
        if (!fullKey.startsWith(prefix)) {
            continue;
        }
        const name = fullKey.slice(prefix.length);
        const type = KEYS.get(name)?.type;
        values[name] = type === "array" || type === "object" || type === "integer" || type === "boolean" ? decodeJson(raw) : raw;
    }
    return values;
}

function decodeJson(raw: string): unknown {
    try {
        return JSON.parse(raw);
    } catch {
        return raw;
    }
}

function qualified(path: readonly PropertyKey[]): string {
    let out = `${PROJECT}:`;
    path.forEach((part, i) => {
        out += typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${String(part)}`;
    });
    return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
    let current: unknown = root;
    for (const part of path) {
        if (current === null || typeof current !== "object") {
            return undefined;
        }
        current = (current as Record<PropertyKey, unknown>)[part];
    }
    return current;
}

/** The documented key a path belongs to: `regions[1]` belongs to `regions`. */
function docKey(path: readonly PropertyKey[]): string {
    return path.filter((part) => typeof part === "string").join(".");
}

function setCommand(path: readonly PropertyKey[], value: string): string {
    const name = docKey(path);
    const quoted = /^[\w.\-/]+$/.test(value) ? value : `'${value}'`;
    if (name === "regions") {
        // Project-wide: every stack must see the same list.
        return `edit the ${name} default under config: in Pulumi.yaml (and remove any ${qualified([name])} from Pulumi.{stack}.yaml)`;
    }
    if (path.some((part) => typeof part === "number")) {
        // Inside a list: name the entry, e.g. replicatedSecrets[0].mode.
        const at = qualified(path).slice(PROJECT.length + 1);
        const target = doc(name).type === "array" && typeof path[path.length - 1] !== "number" ? `${at}[0]` : at;
        return `pulumi config set --path '${target}' ${quoted} -s {stack}`;
    }
    if (doc(name).type === "object") {
        const first = CONFIG_KEYS.find((k) => k.key.startsWith(`${name}.`));
        return `pulumi config rm ${name} -s {stack}, then set its keys with --path, e.g. ${first ? setCommand([...path, first.key.slice(name.length + 1)], first.example) : ""}`;
    }
    return `pulumi config set ${path.length > 1 ? "--path " : ""}${name} ${quoted} -s {stack}`;
}

function describeIssue(
    issue: z.core.$ZodIssue,
    input: Record<string, unknown>,
    problem: (reason: string, fix: string) => string,
    show: (path: readonly PropertyKey[], value: unknown) => string,
): string[] {
    if (issue.code === "unrecognized_keys") {
        const parent = docKey(issue.path);
        // The keys directly under the parent (vault's are replicas, ..., tls; tls's are source, ...).
        const known = CONFIG_KEYS.map((k) => k.key)
            .filter((k) => (parent === "" ? !k.includes(".") : k.startsWith(`${parent}.`)))
            .map((k) => k.slice(parent === "" ? 0 : parent.length + 1))
            .filter((k) => !k.includes("."));
        return issue.keys.map((unknownKey) => {
            const path = [...issue.path, unknownKey];
            // The key as `pulumi config --path` spells it, list indices included (replicatedSecrets[0].nam).
            const spelled = qualified(path).slice(PROJECT.length + 1);
            const dotted = path.some((part) => typeof part === "number") ? `'${spelled}'` : spelled;
            const nested = parent === "" && unknownKey.includes(".") && KEYS.has(unknownKey);
            const suggestion = nested ? undefined : closest(unknownKey, known);
            const reason = nested
                ? `${qualified(path)} is a flat key, but ${unknownKey.split(".")[0]} is an object: nested keys are set with --path`
                : `${qualified(path)} is not a known key${suggestion ? ` (did you mean ${qualified([...issue.path, suggestion])}?)` : ""}; known keys${parent === "" ? "" : ` of ${qualified(issue.path)}`}: ${known.join(", ")}`;
            const fix = nested
                ? `pulumi config rm ${unknownKey} -s {stack} && pulumi config set --path ${unknownKey} <value> -s {stack}`
                : `pulumi config rm ${path.length > 1 ? "--path " : ""}${dotted} -s {stack}`;
            return problem(reason, fix);
        });
    }
    const path = issue.path;
    const entry = KEYS.get(docKey(path));
    const value = valueAt(input, path);
    const shown = value === undefined ? "is not set" : `is ${show(path, value)}`;
    if (entry === undefined) {
        return [problem(`${qualified(path)} ${shown}: ${issue.message}`, "see the configuration table in README.md")];
    }
    return [problem(`${qualified(path)} ${shown}, but it must be ${entry.allowed}`, setCommand(path, entry.example))];
}

/** The known key closest to a misspelt one, if any is close (edit distance at most 2, or a case slip). */
function closest(name: string, known: readonly string[]): string | undefined {
    let best: { key: string; distance: number } | undefined;
    for (const candidate of known) {
        const distance = candidate.toLowerCase() === name.toLowerCase() ? 0 : editDistance(name, candidate);
        if (distance <= 2 && (best === undefined || distance < best.distance)) {
            best = { key: candidate, distance };
        }
    }
    return best?.key;
}

function editDistance(a: string, b: string): number {
    let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const current = [i];
        for (let j = 1; j <= b.length; j++) {
            current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
        previous = current;
    }
    return previous[b.length];
}
