/**
 * openova-vault: one region of the platform's secrets backend.
 *
 * Each region stack runs this program against its own cluster: a Vault HA cluster on Raft and the
 * External Secrets Operator; once the region's Vault is initialized, its configuration, access for
 * each peer region (a JWT mount, or a token its renewer keeps alive) and the stores that connect this
 * region's ESO to every Vault. The outputs are what peer regions and operators need.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { hcpProviderArgs } from "./components/backends/hcpVault";
import { isCloudBackend } from "./components/backends/backendOptions";
import { engineFacts } from "./components/common/engine";
import { loadConfig } from "./stack/config";
import { preflight } from "./stack/preflight";
import { VaultRegion, peersNeedingAccess } from "./components/region/vaultRegion";
import { BACKEND_OUTPUT, CLUSTER_IDENTITY_OUTPUT, EXTERNAL_SECRETS_NAMESPACE_OUTPUT, PEER_ACCESS_OUTPUT, readPeers } from "./stack/peering";

export = async () => {
    // Read and validate every setting first: a bad value stops here, before anything is registered.
    const config = loadConfig();
    // Then what the region needs from its cluster but does not install (cert-manager and the issuer,
    // the IngressClass, the StorageClass, ...): a missing one stops here too, one line each, so a run
    // never changes a cluster in which Vault could not start. Skipped under the mock runtime.
    await preflight(config);

    // The region's cluster, always named explicitly: never whatever kubeconfig context happens to be current.
    const cluster = new k8s.Provider(config.region, { context: config.kubeContext });

    // The admin side of the region's Vault, only once it is initialized and unsealed. The token comes
    // from VAULT_TOKEN in the environment (loadConfig has checked it is set); it is not passed here,
    // so it is never written to the stack's state.
    // An HCP Vault cluster is always up: its provider logs in with what providerAuth names, from the environment.
    const vaultAdmin =
        config.backend.type === "hcp-vault"
            ? new vault.Provider(config.region, hcpProviderArgs(config.backend))
            : config.vaultInitialized
              ? new vault.Provider(config.region, { address: config.vaultAddress, caCertFile: config.vaultCaCertFile })
              : undefined;
    // What the peers have issued this region; a peer that has not yet is skipped with a warning.
    const peerLookup = await readPeers({
        stack: config.stack,
        region: config.region,
        peers: config.peers,
        organization: config.peerOrganization ?? pulumi.getOrganization(),
        project: pulumi.getProject(),
        peerAuth: config.resolved.peerAuth,
        pushesTo: peersNeedingAccess({ ...config.resolved, region: config.region }),
        // A cloud store checks no cluster identity: its cloud's workload identity does.
        admitsPeerIdentities: !isCloudBackend(config.resolved.backend.type),
    });
    for (const warning of peerLookup.warnings) {
        void pulumi.log.warn(warning);
    }

    const region = new VaultRegion(
        config.region,
        {
            ...config.options,
            vaultAdmin,
            vaultCaCert: config.vaultCaCert,
            peerEndpoints: peerLookup.endpoints,
            peerIdentities: peerLookup.identities,
            peerBackends: peerLookup.backends,
            ...(config.serviceAccountIssuer === undefined ? {} : { clusterIdentity: config.serviceAccountIssuer }),
        },
        { providers: { kubernetes: cluster } },
    );
    const engine = engineFacts(config.resolved.engine);
    if (vaultAdmin === undefined && config.backend.type === "vault") {
        void pulumi.log.warn(
            `The ${engine.product} of ${config.region} is not configured by this run (openova-vault:vaultInitialized is false). Next: initialize and unseal it ` +
                `(kubectl -n ${config.resolved.vault.namespace} exec ${engine.releaseName}-0 -- ${engine.cli} operator init), then \`pulumi config set vaultInitialized true -s ${config.stack}\` ` +
                `and \`VAULT_TOKEN=<admin token> pulumi up -s ${config.stack}\`. If this region's ${engine.product} was configured before, this run deletes that configuration (the KV mount and its secrets are kept).`,
        );
    }

    return {
        /** This stack's region. */
        regionName: region.region,
        /** The other regions. */
        peers: region.peers,
        /** Public address of this region's Vault (self-hosted or HCP), which peers' stores use. */
        vaultAddress: region.vaultAddress,
        /** PEM of the CA that signs it (empty: the system's CAs). */
        vaultCaCert: config.vaultCaCert,
        /** Namespace of the Vault servers (self-hosted backend). */
        vaultNamespace: region.vault?.namespace,
        /** Where this region's secrets live: the backend's type and fields, none secret; peers build their store for this region from it. */
        [BACKEND_OUTPUT]: config.backend,
        /** Namespace of the External Secrets Operator. */
        [EXTERNAL_SECRETS_NAMESPACE_OUTPUT]: region.externalSecretsNamespace,
        /** Whether this run configured the region's Vault (openova-vault:vaultInitialized); the bootstrap reads it. */
        vaultConfigured: vaultAdmin !== undefined && config.backend.type === "vault",
        /** Where each snapshot is copied off the cluster (the store and the URI prefix of the copies), if anywhere. */
        snapshotOffsite: region.snapshots?.offsite,
        /** Peers this region's ESO pushes to (their stores exist). */
        connectedPeers: region.connectedPeers,
        /** Per peer: this Vault's address and CA, and the JWT mount it logs in to, or the token issued for that peer (a secret). */
        [PEER_ACCESS_OUTPUT]: region.issuedPeerAccess,
        /** With JWT peer auth: this cluster's token issuer and keys, which peers' Vaults check this region's ESO with. */
        ...(config.serviceAccountIssuer === undefined ? {} : { [CLUSTER_IDENTITY_OUTPUT]: config.serviceAccountIssuer }),
    };
};
