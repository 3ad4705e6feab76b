import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { isDnsLabel } from "./validation";
import { peerTokenSettings } from "./vaultSetupValues";

export interface PeerAccessArgs {
    /** This region's Vault provider, authenticated as an admin (it needs `sudo` to create orphan, periodic tokens). */
    readonly provider: vault.Provider;
    /** This region, which issues the token. */
    readonly region: string;
    /** The peer region whose ESO pushes into this region's Vault with the token. */
    readonly peer: string;
    /** The push policy, created by {@link VaultSetup}; the token depends on it. */
    readonly pushPolicy: pulumi.Input<string>;
}

/**
 * Access for one peer region to this region's Vault: a token its ESO pushes with.
 *
 * The token is an orphan (it must outlive the Vault provider's own 20-minute child token, which
 * would otherwise revoke it with itself), periodic and renewable, with the push policy only and a
 * display name naming the peer (`token-peer-<peer>` in Vault's audit log). See the README's
 * "Peer tokens" for its lifetime, renewal and rotation.
 */
export class PeerAccess extends pulumi.ComponentResource {
    /** The peer region. */
    public readonly peer: string;
    /** The token, as a Pulumi secret. */
    public readonly token: pulumi.Output<string>;

    constructor(name: string, args: PeerAccessArgs, opts?: pulumi.ComponentResourceOptions) {
        if (!(args.provider instanceof vault.Provider)) {
            throw new Error("PeerAccess: provider must be a vault.Provider");
        }
        if (!isDnsLabel(args.peer) || !isDnsLabel(args.region) || args.peer === args.region) {
            throw new Error(`PeerAccess: peer ${JSON.stringify(args.peer)} must be a region (DNS label) other than ${JSON.stringify(args.region)}`);
        }
        super("openova:vault:PeerAccess", name, {}, opts);
        this.peer = args.peer;

        const settings = peerTokenSettings(args.region, args.peer);
        const token = new vault.Token(
            `${name}-token`,
            { ...settings, policies: [args.pushPolicy] },
            { parent: this, provider: args.provider },
        );
        // The provider marks clientToken secret in the engine; wrapping it here keeps it secret under
        // the mock runtime too, and says so to the reader.
        this.token = pulumi.secret(token.clientToken);

        this.registerOutputs({ peer: this.peer, token: this.token });
    }
}
