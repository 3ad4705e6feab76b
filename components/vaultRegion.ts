import * as pulumi from "@pulumi/pulumi";
import { ExternalSecretsOperator } from "./externalSecretsOperator";
import { type ExternalSecretsOptions, resolveExternalSecretsOptions } from "./externalSecretsValues";
import { peersOf, vaultAddress, vaultHost } from "./topology";
import { isDnsLabel, isDnsSubdomain } from "./validation";
import { VaultServer } from "./vaultServer";
import { type VaultServerOptions, resolveVaultServerOptions } from "./vaultServerValues";

export interface VaultRegionArgs {
    /** This region's name, a DNS label; its Vault is served at `vault.<region>.<domain>`. */
    readonly region: string;
    /** Every region of the platform, this one included. The others are this region's peers. */
    readonly regions: readonly string[];
    /** The platform's base domain, e.g. `example.com`. */
    readonly domain: string;
    /** The Vault servers; the host is derived from `region` and `domain`. */
    readonly vault?: Omit<VaultServerOptions, "host">;
    /**
     * The External Secrets Operator. With `install: false` the cluster must already run ESO (chart
     * 2.x, CRDs at `external-secrets.io/v1`) in `namespace`. Default: installed.
     */
    readonly externalSecrets?: ExternalSecretsOptions & { readonly install?: boolean };
}

/**
 * Everything one region runs for the platform's secrets: its Vault HA cluster and the External
 * Secrets Operator that delivers secrets to workloads.
 *
 * Pass the region cluster's Kubernetes provider in `opts.providers`.
 */
export class VaultRegion extends pulumi.ComponentResource {
    /** This region's name. */
    public readonly region: string;
    /** The other regions. */
    public readonly peers: string[];
    /** Public address of this region's Vault, `https://vault.<region>.<domain>`. */
    public readonly vaultAddress: string;
    /** The Vault servers. */
    public readonly vault: VaultServer;
    /** The operator, when this component installs it. */
    public readonly externalSecrets?: ExternalSecretsOperator;
    /** Namespace ESO runs in (installed here or already present). */
    public readonly externalSecretsNamespace: pulumi.Output<string>;

    constructor(name: string, args: VaultRegionArgs, opts?: pulumi.ComponentResourceOptions) {
        // Resolve and check everything before the component is registered: nothing half-created.
        checkRegionArgs(args);
        const { install = true, ...operatorArgs } = args.externalSecrets ?? {};
        const vaultOptions = resolveVaultServerOptions({ ...args.vault, host: vaultHost(args.region, args.domain) });
        const operatorOptions = resolveExternalSecretsOptions(operatorArgs);
        if (vaultOptions.namespace === operatorOptions.namespace) {
            throw new Error(`VaultRegion: Vault and the External Secrets Operator need their own namespaces, both are ${JSON.stringify(vaultOptions.namespace)}`);
        }
        super("openova:vault:VaultRegion", name, {}, opts);

        this.region = args.region;
        this.peers = peersOf(args.region, args.regions);
        this.vaultAddress = vaultAddress(args.region, args.domain);
        this.vault = new VaultServer(`${name}-vault`, vaultOptions, { parent: this });
        if (install) {
            this.externalSecrets = new ExternalSecretsOperator(`${name}-external-secrets`, operatorOptions, { parent: this });
            this.externalSecretsNamespace = this.externalSecrets.namespace;
        } else {
            this.externalSecretsNamespace = pulumi.output(operatorOptions.namespace);
        }

        this.registerOutputs({
            region: this.region,
            peers: this.peers,
            vaultAddress: this.vaultAddress,
            vaultNamespace: this.vault.namespace,
            externalSecretsNamespace: this.externalSecretsNamespace,
        });
    }
}

function checkRegionArgs(args: VaultRegionArgs): void {
    const problems: string[] = [];
    if (!isDnsLabel(args.region)) {
        problems.push(`region ${JSON.stringify(args.region)} is not a DNS label`);
    }
    if (!args.regions.includes(args.region)) {
        problems.push(`region ${JSON.stringify(args.region)} is not one of regions ${JSON.stringify(args.regions)}`);
    }
    if (!isDnsSubdomain(args.domain)) {
        problems.push(`domain ${JSON.stringify(args.domain)} is not a DNS name`);
    }
    if (problems.length > 0) {
        throw new Error(`VaultRegion: ${problems.join("; ")}`);
    }
}
