import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { type Engine, engineOption } from "../common/engine";
import { parseOptions } from "../common/options";
import type { CaSecretRef } from "../snapshots/snapshotSpecs";
import {
    RENEWAL_MODES,
    RENEWER_NAME,
    RENEWER_POLICY,
    type RenewedToken,
    renewalAccessorList,
    renewalCronJobName,
    renewalScript,
    renewerConfigMap,
    renewerCronJob,
    renewerLabels,
    renewerMetadata,
    renewerPolicyDocument,
    renewerRole,
} from "./renewalSpecs";

/** What {@link TokenRenewer} needs. */
export interface TokenRenewerArgs {
    /** The region's Vault provider, authenticated as an admin (it writes a policy and a role). Never Pulumi's default one. */
    readonly provider: vault.Provider;
    /** Vault's namespace: the CronJob, its service account and its ConfigMap go there. */
    readonly namespace: string;
    /** Path of the Kubernetes auth mount the role goes under (e.g. `VaultSetup`'s output). */
    readonly authPath: pulumi.Input<string>;
    /** Tag of the engine's server image the job runs the CLI from: the servers' own tag. */
    readonly imageTag: string;
    /** The active server in the cluster: `https://vault-active.<namespace>.svc:8200` (`http://` when TLS is off). */
    readonly vaultAddress: string;
    /** The Secret key holding the CA that signs Vault's certificate, for an `https` address. */
    readonly caSecret?: CaSecretRef;
    /** The engine of the servers (`vault` by default, or `openbao`): its image, CLI and variables. */
    readonly engine?: Engine;
    /** The tokens to renew: a name each (for the log) and its accessor (a `vault.Token`'s ID). At least one. */
    readonly tokens: readonly { readonly name: string; readonly accessor: pulumi.Input<string> }[];
}

/**
 * A region's token renewer: a CronJob that renews every long-lived token of this region's Vault by
 * its accessor every few hours, so none depends on a person or a CI schedule (`pulumi refresh`) to
 * stay valid. It logs in with its own Kubernetes auth role, whose policy grants `update` on
 * `auth/token/renew-accessor` and nothing else; it never sees a token it renews. A run fails (and
 * the alerts `VaultTokenRenewalFailing` and `VaultTokenRenewerStalled` fire) when a renewal fails. A
 * second CronJob, the daily lifetime check, runs the same script with the same account and fails
 * (and `VaultTokenNearMaxLifetime` fires) when a token is within 30 days of its maximum lifetime.
 * See `renewalSpecs.ts`.
 *
 * Pass the region cluster's Kubernetes provider in `opts.providers` (or through a parent). List what
 * must exist first (the Vault setup that creates the auth mount) in `opts.dependsOn`.
 */
export class TokenRenewer extends pulumi.ComponentResource {
    /** The names of the tokens it renews. */
    public readonly tokenNames: string[];

    constructor(name: string, args: TokenRenewerArgs, opts?: pulumi.ComponentResourceOptions) {
        if (args.tokens.length === 0) {
            throw new pulumi.InputPropertyError({ propertyPath: "tokens", reason: "TokenRenewer: there is no token to renew" });
        }
        // The names are known now: check them (and the auth path, when plain) before registering anything.
        renewalAccessorList(args.tokens.map((token) => ({ name: token.name, accessor: "known-later" })));
        if (typeof args.authPath === "string") {
            renewalScript({ authPath: args.authPath });
        }
        const engine = parseOptions("TokenRenewer", engineOption, args.engine, ["engine"]);
        super("openova:vault:TokenRenewer", name, {}, opts);
        this.tokenNames = args.tokens.map((token) => token.name);
        // A component's dependsOn does not hold back its children, so each child carries it too.
        const child = { parent: this, dependsOn: opts?.dependsOn };
        const inVault = { ...child, provider: args.provider };

        const policy = new vault.Policy(`${name}-policy`, { name: RENEWER_POLICY, policy: renewerPolicyDocument() }, inVault);
        const role = new vault.kubernetes.AuthBackendRole(
            `${name}-role`,
            // The policy's name comes from the resource, so the role waits for the policy to exist.
            { backend: args.authPath, ...renewerRole(args.namespace), tokenPolicies: [policy.name] },
            inVault,
        );
        const serviceAccount = new k8s.core.v1.ServiceAccount(
            `${name}-service-account`,
            {
                metadata: { name: RENEWER_NAME, namespace: args.namespace, labels: renewerLabels() },
                // The job presents a projected token with its own audience; no pod needs the default one.
                automountServiceAccountToken: false,
            },
            child,
        );
        const list = pulumi
            .all(
                args.tokens.map((token) =>
                    pulumi.output(token.accessor).apply((accessor): RenewedToken => ({ name: token.name, accessor })),
                ),
            )
            .apply((tokens) => renewalAccessorList(tokens));
        const accessors = new k8s.core.v1.ConfigMap(
            `${name}-accessors`,
            { metadata: renewerMetadata(args.namespace), data: list.apply((text) => renewerConfigMap(args.namespace, text).data) },
            child,
        );
        // The auth path may be an output (VaultSetup's mount); the script embeds it, so the spec follows it.
        // Two CronJobs, one signal each: the renewer fails only on a failed renewal, the daily lifetime
        // check only on a token near its maximum lifetime (renewalSpecs.ts, RENEWAL_MODES).
        for (const mode of RENEWAL_MODES) {
            const cronJob = pulumi.output(args.authPath).apply((authPath) =>
                renewerCronJob({
                    namespace: args.namespace,
                    authPath,
                    imageTag: args.imageTag,
                    vaultAddress: args.vaultAddress,
                    ...(args.caSecret === undefined ? {} : { caSecret: args.caSecret }),
                    engine,
                    mode,
                }),
            );
            // The role, the service account and the list exist before the first run.
            new k8s.batch.v1.CronJob(
                mode === "renew" ? `${name}-cronjob` : `${name}-lifetime-cronjob`,
                {
                    metadata: { name: renewalCronJobName(mode), namespace: args.namespace, labels: renewerLabels(mode) },
                    spec: cronJob.spec,
                },
                { parent: this, dependsOn: [role, serviceAccount, accessors] },
            );
        }

        this.registerOutputs({ tokenNames: this.tokenNames });
    }
}
