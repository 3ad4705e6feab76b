import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { isDnsLabel, isKvMount } from "./validation";
import { policyDocument, policyName, type PolicyPurpose } from "./vaultPolicies";
import { KUBERNETES_API_IN_CLUSTER, KUBERNETES_AUTH_PATH, externalSecretsRole } from "./vaultSetupValues";

export interface VaultSetupArgs {
    /**
     * The region's Vault provider, authenticated as an admin. Required, so nothing here can fall back
     * to Pulumi's default Vault provider (which would read whatever `VAULT_ADDR` is set).
     */
    readonly provider: vault.Provider;
    /** Path of the KV v2 secrets engine. */
    readonly kvMount: string;
    /** The local ESO's service account, which the Kubernetes auth role binds to. */
    readonly externalSecrets: { readonly serviceAccount: string; readonly namespace: string };
}

/**
 * What a region's Vault needs for the External Secrets Operator:
 * - the KV v2 engine, protected: deleting a mount erases every secret in it, so no update may;
 * - Kubernetes auth, configured for a Vault running in the same cluster;
 * - the pull and push policies, generated from the least-privilege table in `vaultPolicies.ts`;
 * - the `external-secrets` role, bound to ESO's service account.
 */
export class VaultSetup extends pulumi.ComponentResource {
    /** Path of the KV v2 engine. */
    public readonly kvMount: pulumi.Output<string>;
    /** Path of the Kubernetes auth method. */
    public readonly authPath: pulumi.Output<string>;
    /** Name of the role the local ESO logs in as. */
    public readonly roleName: pulumi.Output<string>;
    /** Name of the push policy, which peer tokens carry. */
    public readonly pushPolicy: pulumi.Output<string>;

    constructor(name: string, args: VaultSetupArgs, opts?: pulumi.ComponentResourceOptions) {
        checkArgs(args);
        super("openova:vault:VaultSetup", name, {}, opts);
        // A component's dependsOn does not hold back its children, so each child carries it too.
        const child = { parent: this, provider: args.provider, dependsOn: opts?.dependsOn };

        const kv = new vault.Mount(
            `${name}-kv`,
            { path: args.kvMount, type: "kv", options: { version: "2" }, description: "Secrets replicated between regions by the External Secrets Operator" },
            // Protected: deleting the mount erases every secret in it. A run that would delete it (the
            // gate set back to false, a destroy) fails before deleting anything, instead.
            { ...child, protect: true },
        );
        this.kvMount = kv.path;

        const auth = new vault.AuthBackend(
            `${name}-kubernetes`,
            { type: "kubernetes", path: KUBERNETES_AUTH_PATH, description: "Service accounts of this region's cluster" },
            child,
        );
        new vault.kubernetes.AuthBackendConfig(`${name}-kubernetes`, { backend: auth.path, kubernetesHost: KUBERNETES_API_IN_CLUSTER }, child);
        this.authPath = auth.path;

        const policies = (["pull", "push"] as const).map(
            (purpose: PolicyPurpose) =>
                new vault.Policy(`${name}-${purpose}`, { name: policyName(purpose), policy: policyDocument(purpose, args.kvMount) }, child),
        );
        this.pushPolicy = policies[1].name;

        const role = externalSecretsRole({ name: args.externalSecrets.serviceAccount, namespace: args.externalSecrets.namespace });
        const esoRole = new vault.kubernetes.AuthBackendRole(
            `${name}-external-secrets`,
            { backend: auth.path, ...role, tokenPolicies: policies.map((policy) => policy.name) },
            child,
        );
        this.roleName = esoRole.roleName;

        this.registerOutputs({ kvMount: this.kvMount, authPath: this.authPath, roleName: this.roleName, pushPolicy: this.pushPolicy });
    }
}

function checkArgs(args: VaultSetupArgs): void {
    const problems: string[] = [];
    if (!(args.provider instanceof vault.Provider)) {
        problems.push("provider must be a vault.Provider");
    }
    if (!isKvMount(args.kvMount)) {
        problems.push(`kvMount ${JSON.stringify(args.kvMount)} is not a mount path of lowercase letters, digits, '-' and '_'`);
    }
    if (!isDnsLabel(args.externalSecrets.namespace) || !isDnsLabel(args.externalSecrets.serviceAccount)) {
        problems.push(`externalSecrets ${JSON.stringify(args.externalSecrets)} must name a namespace and a service account (DNS labels)`);
    }
    if (problems.length > 0) {
        throw new Error(`VaultSetup: ${problems.join("; ")}`);
    }
}
