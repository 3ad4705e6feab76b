/**
 * How a region stack finds its peers: it reads each peer region's stack (`<org>/<project>/<peer>`)
 * for the access that peer issued to it. A stack reference is the one place a region reads another,
 * so it lives here, with the program, and components take the result as typed args.
 */
import * as pulumi from "@pulumi/pulumi";
import { EXTERNAL_SECRETS_SERVICE_ACCOUNT } from "../components/eso/operatorValues";
import { type ResolvedBackend, backendOptions } from "../components/backends/backendOptions";
import type { PeerBackend, PeerClusterIdentity, PeerEndpoint } from "../components/region/vaultRegion";

/** The stack output under which a region publishes, per peer, its address, CA and the access it granted (a token, or a JWT mount). */
export const PEER_ACCESS_OUTPUT = "peerAccess";

/** The stack output under which a region publishes its backend (type and fields, none secret). */
export const BACKEND_OUTPUT = "backend";

/**
 * A peer's backend from the value of its stack's {@link BACKEND_OUTPUT} output: none (a stack from
 * before backends, or not deployed yet) is the self-hosted Vault. Pure.
 */
export function backendFrom(output: unknown): ResolvedBackend | { readonly missing: string } {
    if (output === undefined || output === null) {
        return { type: "vault" };
    }
    const parsed = backendOptions.safeParse(output);
    return parsed.success
        ? parsed.data
        : {
              missing: `its ${BACKEND_OUTPUT} output is not a backend this program knows (${parsed.error.issues
                  .map((issue) => `${issue.path.join(".") || "the backend"}: ${issue.message}`)
                  .join("; ")})`,
          };
}

/** The fully qualified name of a peer region's stack. Peer stacks are named after their regions. */
export function peerStackName(organization: string, project: string, peer: string): string {
    return `${organization}/${project}/${peer}`;
}

/**
 * The endpoint `peer` granted `region`, from the value of the peer stack's {@link PEER_ACCESS_OUTPUT}
 * output, or why there is none yet. Pure.
 */
export function endpointFrom(peer: string, region: string, output: unknown): PeerEndpoint | { readonly missing: string } {
    if (output === undefined || output === null) {
        return {
            missing: `its stack has no ${PEER_ACCESS_OUTPUT} output yet (it has not been deployed, or its Vault is not configured yet)`,
        };
    }
    const entry = typeof output === "object" ? (output as Record<string, unknown>)[region] : undefined;
    if (entry === undefined) {
        return {
            missing: `it has granted ${region} no access yet (its Vault is not configured, its stack last ran before ${region} was one of its peers, or, with JWT peer auth, before ${region}'s cluster identity was published)`,
        };
    }
    const { address, caCert, token, jwt } = (typeof entry === "object" && entry !== null ? entry : {}) as Record<string, unknown>;
    const shape = `its ${PEER_ACCESS_OUTPUT}.${region} output is not {address, caCert, token} or {address, caCert, jwt: {path, role, audience}}`;
    if (typeof address !== "string" || typeof caCert !== "string") {
        return { missing: shape };
    }
    if (typeof token === "string" && token !== "") {
        return { peer, address, caCert, token: pulumi.secret(token) };
    }
    const login = (typeof jwt === "object" && jwt !== null ? jwt : {}) as Record<string, unknown>;
    if (typeof login.path === "string" && typeof login.role === "string" && typeof login.audience === "string") {
        return { peer, address, caCert, jwt: { path: login.path, role: login.role, audience: login.audience } };
    }
    return { missing: shape };
}

/** The stack outputs a region publishes about its own cluster, for peers that trust its service-account tokens (JWT peer auth). */
export const CLUSTER_IDENTITY_OUTPUT = "serviceAccountIssuer";
export const EXTERNAL_SECRETS_NAMESPACE_OUTPUT = "externalSecretsNamespace";

/** What a region publishes about its cluster's service-account tokens. */
export interface PublishedIdentity {
    readonly issuer: string;
    readonly publicKeys: readonly string[];
    readonly discoveryCaCert: string;
}

/** The identity of `peer`'s ESO, from its stack's outputs, or why there is none. Pure. */
export function identityFrom(
    peer: string,
    identity: unknown,
    externalSecretsNamespace: unknown,
): PeerClusterIdentity | { readonly missing: string } {
    const value = (typeof identity === "object" && identity !== null ? identity : {}) as Record<string, unknown>;
    const keys = value.publicKeys;
    if (
        typeof value.issuer !== "string" ||
        value.issuer === "" ||
        !Array.isArray(keys) ||
        !keys.every((k) => typeof k === "string") ||
        typeof value.discoveryCaCert !== "string"
    ) {
        return {
            missing: `its stack has no ${CLUSTER_IDENTITY_OUTPUT} output yet (set serviceAccountIssuer in its stack and run pulumi up there)`,
        };
    }
    if (typeof externalSecretsNamespace !== "string" || externalSecretsNamespace === "") {
        return { missing: `its stack has no ${EXTERNAL_SECRETS_NAMESPACE_OUTPUT} output yet` };
    }
    return {
        peer,
        identity: {
            issuer: value.issuer,
            publicKeys: keys,
            discoveryCaCert: value.discoveryCaCert,
            serviceAccount: { name: EXTERNAL_SECRETS_SERVICE_ACCOUNT, namespace: externalSecretsNamespace },
        },
    };
}

export interface PeerLookup {
    /** Peers that have granted this region access. */
    readonly endpoints: PeerEndpoint[];
    /** With JWT peer auth: peers whose cluster identity is published, so this region can grant them access. */
    readonly identities: PeerClusterIdentity[];
    /** The peers whose backend is managed, with their backend. */
    readonly backends: PeerBackend[];
    /** One warning per peer that has not, saying what to do. */
    readonly warnings: string[];
}

/**
 * Reads every peer's stack. A peer stack that does not exist fails the program (Pulumi cannot catch
 * that), so every region stack must be created before the first `pulumi up`; a peer that exists but
 * has not granted access yet (or, with JWT peer auth, not published its identity) is skipped with a
 * warning.
 */
export async function readPeers(args: {
    readonly stack: string;
    readonly region: string;
    readonly peers: readonly string[];
    readonly organization: string;
    readonly project: string;
    /** Default `token`. */
    readonly peerAuth?: "token" | "jwt";
    /** The peers this region pushes to, which it warns about while they have granted it nothing. Default: every peer. */
    readonly pushesTo?: readonly string[];
    /** Whether this region has a Vault (its own or HCP's) that lets peers' ESO in by their cluster identity. Default true. */
    readonly admitsPeerIdentities?: boolean;
}): Promise<PeerLookup> {
    const endpoints: PeerEndpoint[] = [];
    const identities: PeerClusterIdentity[] = [];
    const backends: PeerBackend[] = [];
    const warnings: string[] = [];
    for (const peer of args.peers) {
        const name = peerStackName(args.organization, args.project, peer);
        const reference = new pulumi.StackReference(`peer-${peer}`, { name });
        const backend = backendFrom((await reference.getOutputDetails(BACKEND_OUTPUT)).value);
        if ("missing" in backend) {
            warnings.push(`Peer ${peer} (stack ${name}) gets no store from ${args.region}: ${backend.missing}.`);
            continue;
        }
        if (backend.type !== "vault") {
            // A managed backend is reached with what its stack publishes: it grants nothing.
            backends.push({ peer, backend });
        }
        const details = backend.type === "vault" ? await reference.getOutputDetails(PEER_ACCESS_OUTPUT) : undefined;
        const found = details === undefined ? undefined : endpointFrom(peer, args.region, details.secretValue ?? details.value);
        if (found !== undefined && "missing" in found) {
            // A peer this region pushes nothing to has nothing to grant it.
            if (args.pushesTo === undefined || args.pushesTo.includes(peer)) {
                warnings.push(
                    `Peer ${peer} (stack ${name}) cannot receive pushes from ${args.region} yet: ${found.missing}. Run \`pulumi up -s ${args.stack}\` again after ${peer}'s Vault is configured.`,
                );
            }
        } else if (found !== undefined) {
            endpoints.push(found);
        }
        if (args.peerAuth === "jwt" && args.admitsPeerIdentities !== false) {
            const identity = await reference.getOutputDetails(CLUSTER_IDENTITY_OUTPUT);
            const namespace = await reference.getOutputDetails(EXTERNAL_SECRETS_NAMESPACE_OUTPUT);
            const known = identityFrom(peer, identity.value, namespace.value);
            if ("missing" in known) {
                warnings.push(
                    `This region's Vault cannot let ${peer}'s ESO in yet: ${known.missing}. Run \`pulumi up -s ${args.stack}\` again afterwards.`,
                );
            } else {
                identities.push(known);
            }
        }
    }
    return { endpoints, identities, backends, warnings };
}
