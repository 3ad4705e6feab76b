/**
 * How a region stack finds its peers: it reads each peer region's stack (`<org>/<project>/<peer>`)
 * for the access that peer issued to it. A stack reference is the one place a region reads another,
 * so it lives here, with the program, and components take the result as typed args.
 */
import * as pulumi from "@pulumi/pulumi";
import type { IssuedPeerAccess, PeerEndpoint } from "./components/vaultRegion";

/** The stack output under which a region publishes, per peer, its address, CA and the token it issued. */
export const PEER_ACCESS_OUTPUT = "peerAccess";

/** The fully qualified name of a peer region's stack. Peer stacks are named after their regions. */
export function peerStackName(organization: string, project: string, peer: string): string {
    return `${organization}/${project}/${peer}`;
}

/**
 * The endpoint `peer` issued for `region`, from the value of the peer stack's {@link PEER_ACCESS_OUTPUT}
 * output, or why there is none yet. Pure.
 */
export function endpointFrom(peer: string, region: string, output: unknown): PeerEndpoint | { readonly missing: string } {
    if (output === undefined || output === null) {
        return { missing: `its stack has no ${PEER_ACCESS_OUTPUT} output yet (it has not been deployed, or its Vault is not configured yet)` };
    }
    const entry = typeof output === "object" ? (output as Partial<IssuedPeerAccess>)[region] : undefined;
    if (entry === undefined) {
        return {
            missing: `it has issued no token for ${region} yet (its Vault is not configured, or its stack last ran before ${region} was one of its peers)`,
        };
    }
    const { address, caCert, token } = entry as Partial<IssuedPeerAccess[string]>;
    if (typeof address !== "string" || typeof caCert !== "string" || typeof token !== "string" || token === "") {
        return { missing: `its ${PEER_ACCESS_OUTPUT}.${region} output is not {address, caCert, token}` };
    }
    return { peer, address, caCert, token: pulumi.secret(token) };
}

export interface PeerLookup {
    /** Peers that have issued this region a token. */
    readonly endpoints: PeerEndpoint[];
    /** One warning per peer that has not, saying what to do. */
    readonly warnings: string[];
}

/**
 * Reads every peer's stack. A peer stack that does not exist fails the program (Pulumi cannot catch
 * that), so every region stack must be created before the first `pulumi up`; a peer that exists but
 * has not issued a token yet is skipped with a warning.
 */
export async function readPeers(args: {
    readonly stack: string;
    readonly region: string;
    readonly peers: readonly string[];
    readonly organization: string;
    readonly project: string;
}): Promise<PeerLookup> {
    const endpoints: PeerEndpoint[] = [];
    const warnings: string[] = [];
    for (const peer of args.peers) {
        const name = peerStackName(args.organization, args.project, peer);
        const reference = new pulumi.StackReference(`peer-${peer}`, { name });
        const details = await reference.getOutputDetails(PEER_ACCESS_OUTPUT);
        const found = endpointFrom(peer, args.region, details.secretValue ?? details.value);
        if ("missing" in found) {
            warnings.push(
                `Peer ${peer} (stack ${name}) cannot receive pushes from ${args.region} yet: ${found.missing}. Run \`pulumi up -s ${args.stack}\` again after ${peer}'s Vault is configured.`,
            );
        } else {
            endpoints.push(found);
        }
    }
    return { endpoints, warnings };
}
