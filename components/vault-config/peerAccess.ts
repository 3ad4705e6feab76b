import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { isDnsLabel, isRemoteKey } from "../common/predicates";
import { REPLICATOR_NAME, REPLICATOR_ROLE, peerReplicatePolicyDocument, peerReplicatePolicyName } from "../replication/replicatorSpecs";
import { policyDocument, policyName } from "./policies";
import { MAX_TOKEN_GENERATION, tokenGeneration } from "../token-renewal/tokenLifetime";
import { type PeerIdentity, peerJwtSettings, peerTokenSettings } from "./setupValues";

/** How a peer's ESO logs in to this region's Vault: a token this region issues, or the peer's own service-account tokens. */
export type PeerAuthArgs =
    { readonly kind: "token" } | { readonly kind: "jwt"; readonly identity: PeerIdentity; readonly audience: pulumi.Input<string> };

/** What the peer needs to log in, besides this Vault's address and CA. */
export type PeerCredentials =
    | { readonly kind: "token"; readonly token: string }
    | { readonly kind: "jwt"; readonly path: string; readonly role: string; readonly audience: string };

export interface PeerAccessArgs {
    /** This region's Vault provider, authenticated as an admin (it needs `sudo` to create orphan, periodic tokens). */
    readonly provider: vault.Provider;
    /** This region, which grants the access. */
    readonly region: string;
    /** The peer region whose ESO pushes into this region's Vault. */
    readonly peer: string;
    /** Path of the KV v2 engine (the {@link VaultSetup}'s output, so the policy waits for the mount). */
    readonly kvMount: pulumi.Input<string>;
    /**
     * The secrets the peer pushes here, as paths under the mount: its policy covers these and nothing
     * else (none: the peer can log in and reach nothing).
     */
    readonly remoteKeys: readonly string[];
    /** Default: a token. */
    readonly auth?: PeerAuthArgs;
    /**
     * With JWT auth: the secrets every region writes (`writers: any`) whose changes the peer's
     * replicator offers here. It gets a role of its own on the peer's JWT mount, bound to its service
     * account, that may write its inbox entries for exactly these secrets and its doorbell.
     */
    readonly replicatorKeys?: readonly string[];
    /**
     * With a token: its generation (default 1). Raising it issues a new token beside the old one,
     * which stays valid (no longer renewed) until its period runs out, so the peer can switch.
     */
    readonly generation?: number;
}

/**
 * Access for one peer region to this region's Vault: its own policy, `peer-<peer>-push`, which may
 * push exactly the secrets the peer pushes here (see `policies.ts`) and nothing else.
 *
 * - **token** (the seed's way): a token the peer's ESO pushes with. It is an orphan (it must outlive
 *   the Vault provider's own 20-minute child token, which would otherwise revoke it with itself),
 *   periodic with a one-year maximum lifetime (`tokenLifetime.ts`), with a display name naming the
 *   peer (`token-peer-<peer>` in Vault's audit log). The region's token renewer renews it by its
 *   accessor ({@link tokenAccessor}). It is kept when Pulumi replaces or deletes it
 *   (`retainOnDelete`): a new generation is issued beside it, and the old one, no longer renewed,
 *   lapses at the end of its period, after the peer has switched (docs/operations.md, "Long-lived tokens").
 * - **jwt** (the default of a region): a JWT auth mount `jwt-<peer>` that checks the peer cluster's service-account tokens
 *   with that cluster's public keys (or OIDC discovery), and a role bound to the peer's ESO service
 *   account and to an audience naming this Vault. Nothing secret is issued: {@link credentials} is
 *   only where to log in.
 */
export class PeerAccess extends pulumi.ComponentResource {
    /** The peer region. */
    public readonly peer: string;
    /** What the peer logs in with; a secret when it holds a token. */
    public readonly credentials: pulumi.Output<PeerCredentials>;
    /** With a token: its accessor (the `vault.Token`'s ID), which its renewer renews it by. Not a credential. */
    public readonly tokenAccessor?: pulumi.Output<string>;

    constructor(name: string, args: PeerAccessArgs, opts?: pulumi.ComponentResourceOptions) {
        if (!isDnsLabel(args.peer) || !isDnsLabel(args.region) || args.peer === args.region) {
            throw new Error(
                `PeerAccess: peer ${JSON.stringify(args.peer)} must be a region (DNS label) other than ${JSON.stringify(args.region)}`,
            );
        }
        const auth = args.auth ?? { kind: "token" };
        const malformed = args.remoteKeys.filter((key) => !isRemoteKey(key));
        if (malformed.length > 0) {
            throw new Error(
                `PeerAccess: remoteKeys ${malformed.map((key) => JSON.stringify(key)).join(", ")} are not paths of letters, digits, '-', '.' and '_' separated by '/' (a policy naming them would not cover exactly one secret)`,
            );
        }
        if (auth.kind !== "jwt" && (args.replicatorKeys?.length ?? 0) > 0) {
            throw new Error(
                `PeerAccess: ${args.peer}'s replicator logs in with its own service-account token: replicatorKeys need JWT auth`,
            );
        }
        const malformedKeys = (args.replicatorKeys ?? []).filter((key) => !isRemoteKey(key));
        if (malformedKeys.length > 0) {
            throw new Error(
                `PeerAccess: replicatorKeys ${malformedKeys.map((key) => JSON.stringify(key)).join(", ")} are not paths under the mount`,
            );
        }
        const generation = args.generation ?? 1;
        if (!tokenGeneration.safeParse(generation).success || (auth.kind === "jwt" && args.generation !== undefined)) {
            throw new Error(
                `PeerAccess: generation ${JSON.stringify(args.generation)} must be a whole number from 1 to ${MAX_TOKEN_GENERATION}, and only with a token`,
            );
        }
        if (auth.kind === "jwt" && auth.identity.issuer.trim() === "") {
            throw new Error(`PeerAccess: JWT auth for ${args.peer} needs the issuer of its cluster's service-account tokens`);
        }
        super("openova:vault:PeerAccess", name, {}, opts);
        this.peer = args.peer;
        // A component's dependsOn does not hold back its children, so each child carries it too.
        const child = { parent: this, provider: args.provider, dependsOn: opts?.dependsOn };
        const remoteKeys = [...args.remoteKeys];
        const policy = new vault.Policy(
            `${name}-push`,
            {
                name: policyName("push", args.peer),
                policy: pulumi.output(args.kvMount).apply((mount) => policyDocument("push", mount, { kind: "paths", remoteKeys })),
            },
            child,
        );

        if (auth.kind === "token") {
            const settings = peerTokenSettings(args.region, args.peer, generation);
            // Kept when replaced or deleted (a new generation, a changed setting): revoking it would cut the
            // peer off until its stack runs again. No longer renewed, it lapses at the end of its period.
            // (Pulumi decides from the old resource's recorded options: pulumi/pulumi#13428.)
            const token = new vault.Token(`${name}-token`, { ...settings, policies: [policy.name] }, { ...child, retainOnDelete: true });
            // The provider sets the token's ID to its accessor (terraform-provider-vault v5.8.0, resource_token.go).
            this.tokenAccessor = token.id;
            // The provider marks clientToken secret in the engine; wrapping it here keeps it secret under
            // the mock runtime too, and says so to the reader.
            this.credentials = pulumi.secret(token.clientToken.apply((value): PeerCredentials => ({ kind: "token", token: value })));
        } else {
            const settings = peerJwtSettings(args.peer, auth.identity, auth.audience);
            const backend = new vault.jwt.AuthBackend(`${name}-jwt`, settings.backend, child);
            // The mount's path output, so the role waits for the mount.
            const path = backend.path.apply((value) => value ?? settings.backend.path);
            const role = new vault.jwt.AuthBackendRole(
                `${name}-jwt-role`,
                { ...settings.role, backend: path, tokenPolicies: [policy.name] },
                child,
            );
            if (args.replicatorKeys !== undefined && args.replicatorKeys.length > 0) {
                const keys = [...args.replicatorKeys];
                const replicate = new vault.Policy(
                    `${name}-replicate`,
                    {
                        name: peerReplicatePolicyName(args.peer),
                        policy: pulumi.output(args.kvMount).apply((mount) => peerReplicatePolicyDocument(mount, keys, args.peer)),
                    },
                    child,
                );
                new vault.jwt.AuthBackendRole(
                    `${name}-jwt-replicator`,
                    {
                        ...settings.role,
                        backend: path,
                        roleName: REPLICATOR_ROLE,
                        boundSubject: `system:serviceaccount:${auth.identity.serviceAccount.namespace}:${REPLICATOR_NAME}`,
                        tokenPolicies: [replicate.name],
                    },
                    child,
                );
            }
            this.credentials = pulumi
                .all([path, role.roleName, auth.audience])
                .apply(([mount, roleName, audience]): PeerCredentials => ({ kind: "jwt", path: mount, role: roleName, audience }));
        }

        this.registerOutputs({ peer: this.peer, credentials: this.credentials, tokenAccessor: this.tokenAccessor });
    }
}
