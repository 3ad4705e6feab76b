/**
 * openova-vault as a library: the components of a region of the platform's secrets backend, their
 * args and option schemas, and the builders a platform may reuse. `VaultRegion` is the whole region;
 * the others are its parts, for platforms that compose their own.
 *
 * Every option is described in docs/configuration.md (generated from the schemas exported here).
 */
export {
    VaultRegion,
    type VaultRegionArgs,
    type PeerEndpoint,
    type PeerClusterIdentity,
    type PeerBackend,
    type IssuedPeerAccess,
} from "./region/vaultRegion";
export {
    regionOptions,
    regionVaultOptions,
    PEER_AUTH_MODES,
    type PeerAuth,
    type RegionOptions,
    type ResolvedRegionOptions,
} from "./region/regionOptions";
export {
    regionPrerequisites,
    prerequisiteProblems,
    describeRead,
    type Prerequisite,
    type PrerequisiteOptions,
    type ClusterRead,
    type ReadResult,
    type Shortfall,
} from "./region/prerequisites";

export { VaultServer, type VaultServerArgs } from "./vault-server/vaultServer";
export { vaultServerOptions, type VaultServerOptions, type ResolvedVaultServerOptions } from "./vault-server/serverOptions";
export {
    serverConfig,
    serverSettings,
    vaultHelmValues,
    type VaultServerSettings,
    type VaultHelmValues,
    VAULT_RELEASE_NAME,
    VAULT_API_PORT,
} from "./vault-server/serverValues";
export { tlsOptions, type VaultTlsOptions, TLS_PASSTHROUGH_ANNOTATIONS } from "./vault-server/tls";
export { sealOptions, type VaultSealOptions, SEAL_TYPES, SEAL_RULES } from "./vault-server/seal";
export { resourceOptions, type VaultResourceOptions } from "./vault-server/resources";
export { vaultNetworkPolicies } from "./vault-server/networkPolicy";

export { ExternalSecretsOperator, type ExternalSecretsOperatorArgs } from "./eso/externalSecretsOperator";
export { externalSecretsOptions, type ExternalSecretsOptions, EXTERNAL_SECRETS_SERVICE_ACCOUNT } from "./eso/operatorValues";

export { VaultSetup, type VaultSetupArgs } from "./vault-config/vaultSetup";
export { PeerAccess, type PeerAccessArgs, type PeerCredentials } from "./vault-config/peerAccess";
export { policyDocument, policyName, POLICY_TABLE, type PolicyScope } from "./vault-config/policies";
export { kvMountOption, auditDevicesOption, type PeerIdentity, NAMESPACE_SERVICE_ACCOUNTS } from "./vault-config/setupValues";

export {
    LocalStore,
    PeerStore,
    StoreAdmission,
    type LocalStoreArgs,
    type PeerStoreArgs,
    type StoreAdmissionArgs,
} from "./stores/secretStores";
export { storeAdmissionPolicies, MINIMUM_KUBERNETES_VERSION } from "./stores/storeAdmission";
export { LOCAL_STORE_NAME, LOCAL_PUSH_STORE_NAME, READ_NAMESPACE_LABEL, REPLICATE_NAMESPACE_LABEL } from "./stores/storeSpecs";

export { ReplicatedSecret, type ReplicatedSecretArgs, type InitialValueArgs } from "./replication/replicatedSecret";
export {
    replicatedSecretOptions,
    externalSecret,
    pushSecret,
    remoteKeysPushed,
    WRITE_MODES,
    WRITERS,
    writersOf,
    type WriteMode,
    type ReplicatedSecretSpec,
} from "./replication/replicationSpecs";
export { Replicator, type ReplicatorArgs } from "./replication/replicator";
export { replicatorOptions, replicatorCode, type ReplicatorOptions } from "./replication/replicatorSpecs";

export { RaftSnapshots, type RaftSnapshotsArgs } from "./snapshots/raftSnapshots";
export { raftSnapshotOptions, type RaftSnapshotOptions } from "./snapshots/snapshotSpecs";

export { TokenRenewer, type TokenRenewerArgs } from "./token-renewal/tokenRenewer";
export { renewalScript, renewalAccessorList, RENEWAL_SCHEDULE, RENEWER_NAME } from "./token-renewal/renewalSpecs";
export {
    LONG_LIVED_TOKEN,
    TOKEN_PERIOD_HOURS,
    TOKEN_MAX_LIFETIME_HOURS,
    TOKEN_RENEWAL_WARNING_SECONDS,
} from "./token-renewal/tokenLifetime";

export { VaultMonitoring, type VaultMonitoringArgs } from "./monitoring/vaultMonitoring";
export { monitoringOptions, type MonitoringOptions, alertRules } from "./monitoring/monitoringSpecs";

export { ManagedBackend, type ManagedBackendArgs, BackendPeerStore, type BackendPeerStoreArgs } from "./backends/managedBackend";
export { HcpVaultSetup, type HcpVaultSetupArgs, type HcpPeer, hcpProviderArgs, hcpNamespaceRole } from "./backends/hcpVault";
export {
    backendOption,
    backendOptions,
    BACKEND_TYPES,
    type BackendType,
    type BackendOptions,
    type ResolvedBackend,
    hcpAudience,
} from "./backends/backendOptions";
export {
    managedLocalStore,
    managedPeerStore,
    identityServiceAccount,
    backendPushData,
    backendPullSource,
    BACKEND_LABEL,
} from "./backends/backendStores";
export {
    CLOUD_POLICY_TABLE,
    type SecretScope,
    type TrustedCluster,
    replicatedSecretNames,
    awsIamPolicy,
    awsTrustPolicy,
    gcpIamBindings,
    gcpWorkloadIdentityUsers,
    azureVaultScope,
    azureRoleDefinition,
    azureFederatedCredentials,
} from "./backends/cloudPolicies";

export { VAULT_CHART, VAULT_IMAGE, OPENBAO_CHART, OPENBAO_IMAGE, EXTERNAL_SECRETS_CHART, EXTERNAL_SECRETS_IMAGE } from "./common/versions";
export { ENGINES, type Engine, type EngineFacts, ENGINE_FACTS, engineFacts, engineOption } from "./common/engine";
export { type OptionDoc, type OptionRow, optionRows, parseOptions } from "./common/options";
