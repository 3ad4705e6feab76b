/**
 * HCP Vault Dedicated as a region's backend: how the Pulumi Vault provider reaches and logs in to the
 * cluster ({@link hcpProviderArgs}), and what the region configures in it ({@link HcpVaultSetup}): the
 * KV v2 mount, the least-privilege policies of `policies.ts`, a JWT mount for the region's own cluster
 * (HCP cannot reach the cluster's API server for the TokenReview that Kubernetes auth makes) and one
 * for each peer, as a self-hosted Vault has with JWT peer auth (`PeerAccess`). No chart, no audit
 * device (HCP streams its audit log itself), no snapshot: HCP runs the servers.
 *
 * The provider's arguments are those of @pulumi/vault 7.8.0 (`provider.d.ts`: `address`, `namespace`,
 * `authLoginJwt` with `mount`, `role`, `namespace`; its JWT left out, the provider reads
 * `TERRAFORM_VAULT_AUTH_JWT`, pulumi/pulumi-vault `docs/_index.md`, "JWT"). With `token`, it reads
 * `VAULT_TOKEN`. Neither value passes through the program, so neither is in state.
 */
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { EXTERNAL_SECRETS_SERVICE_ACCOUNT } from "../eso/operatorValues";
import { PeerAccess } from "../vault-config/peerAccess";
import { POLICY_PURPOSES, type PolicyPurpose, policyName } from "../vault-config/policies";
import { namespacePolicy, replicatedSecretsMount } from "../vault-config/vaultSetup";
import { NAMESPACE_SERVICE_ACCOUNTS, type PeerIdentity, namespaceRole, peerJwtSettings } from "../vault-config/setupValues";
import { type ResolvedBackendOf, hcpAudience } from "./backendOptions";

/** The environment variable the Vault provider reads the JWT of `authLoginJwt` from. */
export const PROVIDER_JWT_VARIABLE = "TERRAFORM_VAULT_AUTH_JWT";

/** The environment variable each `providerAuth.method` needs, never read by the program: the provider reads it. */
export const PROVIDER_AUTH_VARIABLES = { jwt: PROVIDER_JWT_VARIABLE, token: "VAULT_TOKEN" } as const;

/** The Vault provider's arguments for an HCP Vault cluster: its address and namespace, and the JWT login when that is the method. */
export function hcpProviderArgs(backend: ResolvedBackendOf<"hcp-vault">): vault.ProviderArgs {
    const auth = backend.providerAuth;
    return {
        address: backend.address,
        namespace: backend.namespace,
        // The login mount is in the cluster's namespace too: left out, the provider logs in at the root namespace.
        ...(auth.method === "jwt" ? { authLoginJwt: { mount: auth.path, role: auth.role ?? "", namespace: backend.namespace } } : {}),
    };
}

/** The claim of a Kubernetes service-account token that names its namespace (a JSON pointer, as Vault's JWT roles take it). */
export const NAMESPACE_CLAIM = "/kubernetes.io/namespace";

/**
 * The JWT role a namespace's ESO objects log in with through the region's own mount (the HCP
 * `vault-local` and `vault-local-push`): the token of the service account of
 * {@link NAMESPACE_SERVICE_ACCOUNTS} in any namespace, minted for `audience`; the namespace claim
 * copied into the alias metadata that `policies.ts`'s template reads, so each namespace reaches its
 * own prefix only, as with Kubernetes auth. Vault's JWT roles: `bound_claims` with
 * `bound_claims_type: glob`, `claim_mappings` with JSON pointers (hashicorp/vault
 * `website/content/docs/auth/jwt/index.mdx`, "Claim specifications and JSON pointer").
 */
export function hcpNamespaceRole(purpose: PolicyPurpose, audience: string) {
    const { roleName, tokenTtl, tokenMaxTtl } = namespaceRole(purpose);
    return {
        roleName,
        roleType: "jwt",
        userClaim: "sub",
        boundAudiences: [audience],
        boundClaimsType: "glob",
        // A namespace name has no ':', so '*' stands for exactly one namespace.
        boundClaims: { sub: `system:serviceaccount:*:${NAMESPACE_SERVICE_ACCOUNTS[purpose]}` },
        claimMappings: { [NAMESPACE_CLAIM]: "service_account_namespace" },
        tokenTtl,
        tokenMaxTtl,
        tokenPolicies: [policyName(purpose)],
    };
}

/** A peer that may push into the HCP cluster: its cluster's identity, and the secrets it is the home of. */
export interface HcpPeer {
    readonly peer: string;
    readonly identity: PeerIdentity;
    readonly remoteKeys: readonly string[];
}

/** The args of {@link HcpVaultSetup}. */
export interface HcpVaultSetupArgs {
    /** The Vault provider of the HCP cluster ({@link hcpProviderArgs}). */
    readonly provider: vault.Provider;
    readonly backend: ResolvedBackendOf<"hcp-vault">;
    /** This region. */
    readonly region: string;
    /** The KV v2 mount. */
    readonly kvMount: string;
    /** ESO's namespace here. */
    readonly esoNamespace: string;
    /** This region's cluster as a token issuer: its JWT mount checks the namespaces' tokens with it. */
    readonly identity: Omit<PeerIdentity, "serviceAccount">;
    /** The peers whose cluster identity is known. */
    readonly peers: readonly HcpPeer[];
}

/**
 * What a region configures in its HCP Vault cluster for ESO: the KV v2 mount (protected, as in a
 * self-hosted Vault), `jwt-<region>` with the `namespace-pull` and `namespace-push` roles and their
 * templated policies, and, per peer, `jwt-<peer>` with a role that may push exactly the secrets that
 * peer is the home of (`PeerAccess` with JWT auth, the audience {@link hcpAudience}).
 */
export class HcpVaultSetup extends pulumi.ComponentResource {
    /** Path of the KV v2 engine. */
    public readonly kvMount: pulumi.Output<string>;
    /** Path of this region's own JWT mount. */
    public readonly authPath: pulumi.Output<string>;
    /** The access granted to each peer. */
    public readonly peerAccess: PeerAccess[];

    constructor(name: string, args: HcpVaultSetupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("openova:vault:HcpVaultSetup", name, {}, opts);
        const child = { parent: this, provider: args.provider, dependsOn: opts?.dependsOn };
        const audience = hcpAudience(args.backend);
        const kv = replicatedSecretsMount(`${name}-kv`, args.kvMount, child);
        this.kvMount = kv.path;

        const local = peerJwtSettings(
            args.region,
            { ...args.identity, serviceAccount: { name: EXTERNAL_SECRETS_SERVICE_ACCOUNT, namespace: args.esoNamespace } },
            audience,
        ).backend;
        const auth = new vault.jwt.AuthBackend(`${name}-jwt`, local, child);
        const path = auth.path.apply((value) => value ?? local.path);
        this.authPath = path;
        for (const purpose of POLICY_PURPOSES) {
            const policy = namespacePolicy(`${name}-${purpose}`, purpose, kv.path, auth.accessor, child);
            new vault.jwt.AuthBackendRole(
                `${name}-namespace-${purpose}`,
                { ...hcpNamespaceRole(purpose, audience), backend: path, tokenPolicies: [policy.name] },
                child,
            );
        }

        this.peerAccess = args.peers.map(
            (peer) =>
                new PeerAccess(
                    `${name}-peer-${peer.peer}`,
                    {
                        provider: args.provider,
                        region: args.region,
                        peer: peer.peer,
                        kvMount: kv.path,
                        remoteKeys: peer.remoteKeys,
                        auth: { kind: "jwt", identity: peer.identity, audience },
                    },
                    { parent: this, dependsOn: opts?.dependsOn },
                ),
        );
        this.registerOutputs({ kvMount: this.kvMount, authPath: this.authPath });
    }
}
