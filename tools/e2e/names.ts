/**
 * The end-to-end lane's names and places, in one module: which clusters, contexts, files and ports
 * belong to which region, and where the lane keeps its state. The shell scripts take these as
 * arguments, so this is the only place they are decided.
 */
import * as path from "node:path";

/** Every kind cluster of the lane is `<prefix>-<region>`. */
export const CLUSTER_PREFIX = "openova-e2e";

/** The Docker network every cluster joins, so that each region reaches the others' ingress. */
export const DOCKER_NETWORK = "openova-e2e";

/** The kind cluster of a region. */
export function clusterName(region: string): string {
    return `${CLUSTER_PREFIX}-${region}`;
}

/** The kubeconfig context kind writes for a cluster: `kind-<cluster>` (kind's `kind create cluster`). */
export function kubeContext(region: string): string {
    return `kind-${clusterName(region)}`;
}

/**
 * The local port where the lane forwards a region's Vault API for the Pulumi Vault provider (the
 * stack's `vaultAddress`): 18201 for the first region, 18202 for the second, ...
 */
export function vaultPort(regions: readonly string[], region: string): number {
    const index = regions.indexOf(region);
    if (index < 0) {
        throw new Error(`${region} is not one of the regions (${regions.join(", ")})`);
    }
    return 18201 + index;
}

/** Where the Pulumi Vault provider reaches a region's Vault: the forwarded port, verified by the certificate's 127.0.0.1 address. */
export function providerVaultAddress(regions: readonly string[], region: string): string {
    return `https://127.0.0.1:${vaultPort(regions, region)}`;
}

/** Files the generated stack files name, relative to the lane's project copy. */
export const CA_CERT_FILE = "certs/e2e-ca.pem";
export function jwksFile(region: string): string {
    return `certs/e2e-${region}-jwks.json`;
}

/** The node label that marks where a cluster's ingress controller runs (its host ports 80 and 443). */
export const INGRESS_NODE_LABEL = "openova.io/e2e-ingress";

/** The lane's state, all under one work directory (default `.e2e/` in this checkout). */
export interface WorkDir {
    readonly root: string;
    /** Pinned tools (scripts/e2e/install-tools.sh). */
    readonly bin: string;
    /** The local Pulumi backend (`file://`), and the passphrase of its stacks' secrets. */
    readonly backend: string;
    readonly passphraseFile: string;
    /** The CA (certificate and key) of every cluster's ClusterIssuer. */
    readonly ca: string;
    /** The project copy the lane deploys from, with the generated stack files. */
    readonly project: string;
    /** GnuPG home of the operators' keys, their public halves, and the PGP-encrypted key material. */
    readonly gnupg: string;
    readonly pgp: string;
    readonly keys: string;
    /** The report (JSON per step, the summary), uploaded as the job's artifact. */
    readonly report: string;
}

export function workDir(root: string): WorkDir {
    const at = (name: string) => path.join(root, name);
    return {
        root,
        bin: at("bin"),
        backend: at("backend"),
        passphraseFile: at("passphrase"),
        ca: at("ca"),
        project: at("project"),
        gnupg: at("gnupg"),
        pgp: at("pgp"),
        keys: at("keys"),
        report: at("report"),
    };
}
