/**
 * openova-vault: one region of the platform's secrets backend.
 *
 * Each region stack runs this program against its own cluster: a Vault HA cluster on Raft and the
 * External Secrets Operator. The outputs are what peer regions and operators need to reach it.
 */
import * as k8s from "@pulumi/kubernetes";
import { loadConfig } from "./config";
import { VaultRegion } from "./components/vaultRegion";

// Read and validate every setting first: a bad value stops here, before anything is registered.
const config = loadConfig();

// The region's cluster, always named explicitly: never whatever kubeconfig context happens to be current.
const cluster = new k8s.Provider(config.region, { context: config.kubeContext });

const region = new VaultRegion(
    config.region,
    {
        region: config.region,
        regions: config.regions,
        domain: config.domain,
        vault: config.vault,
        externalSecrets: config.externalSecrets,
    },
    { providers: { kubernetes: cluster } },
);

/** This stack's region. */
export const regionName = region.region;
/** The other regions, whose stacks this one will exchange access with. */
export const peers = region.peers;
/** Public address of this region's Vault; peers' stores and the Vault provider use it. */
export const vaultAddress = region.vaultAddress;
/** Namespace of the Vault servers. */
export const vaultNamespace = region.vault.namespace;
/** Namespace of the External Secrets Operator. */
export const externalSecretsNamespace = region.externalSecretsNamespace;
