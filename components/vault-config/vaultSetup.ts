import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { z } from "zod";
import { parseOptions, text } from "../common/options";
import { isDnsLabel, isDnsSubdomain } from "../common/predicates";
import { policyDocument, policyName, type PolicyPurpose } from "./policies";
import {
    type AuditDevice,
    auditDevicesOption,
    kvMountOption,
    KUBERNETES_API_IN_CLUSTER,
    KUBERNETES_AUTH_PATH,
    auditDevice,
    externalSecretsRole,
} from "./setupValues";

export interface VaultSetupArgs {
    /**
     * The region's Vault provider, authenticated as an admin. Required, so nothing here can fall back
     * to Pulumi's default Vault provider (which would read whatever `VAULT_ADDR` is set).
     */
    readonly provider: vault.Provider;
    /** Path of the KV v2 secrets engine. */
    readonly kvMount?: string;
    /** The local ESO's service account, which the Kubernetes auth role binds to. */
    readonly externalSecrets: { readonly serviceAccount: string; readonly namespace: string };
    /** Audit devices to enable; at least one. Default both. */
    readonly auditDevices?: readonly AuditDevice[];
}

/**
 * What a region's Vault needs for the External Secrets Operator:
 * - the KV v2 engine, protected: deleting a mount erases every secret in it, so no update may;
 * - Kubernetes auth, configured for a Vault running in the same cluster;
 * - the pull and push policies, generated from the least-privilege table in `vaultPolicies.ts`;
 * - the `external-secrets-pull` and `external-secrets-push` roles, bound to ESO's service account;
 * - audit devices (a file on the audit volume and stdout, by default).
 */
export class VaultSetup extends pulumi.ComponentResource {
    /** Path of the KV v2 engine. */
    public readonly kvMount: pulumi.Output<string>;
    /** Path of the Kubernetes auth method. */
    public readonly authPath: pulumi.Output<string>;
    /** The roles the local ESO logs in as: read-only (`vault-local`) and push (`vault-local-push`). */
    public readonly roleNames: { readonly read: pulumi.Output<string>; readonly push: pulumi.Output<string> };
    /** Name of the push policy, which peer tokens carry. */
    public readonly pushPolicy: pulumi.Output<string>;

    constructor(name: string, args: VaultSetupArgs, opts?: pulumi.ComponentResourceOptions) {
        const { kvMount, auditDevices, externalSecrets } = parseOptions("VaultSetup", vaultSetupOptions, {
            kvMount: args.kvMount,
            auditDevices: args.auditDevices,
            externalSecrets: args.externalSecrets,
        });
        super("openova:vault:VaultSetup", name, {}, opts);
        // A component's dependsOn does not hold back its children, so each child carries it too.
        const child = { parent: this, provider: args.provider, dependsOn: opts?.dependsOn };

        const kv = new vault.Mount(
            `${name}-kv`,
            {
                path: kvMount,
                type: "kv",
                options: { version: "2" },
                description: "Secrets replicated between regions by the External Secrets Operator",
            },
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
        new vault.kubernetes.AuthBackendConfig(
            `${name}-kubernetes`,
            { backend: auth.path, kubernetesHost: KUBERNETES_API_IN_CLUSTER },
            child,
        );
        this.authPath = auth.path;

        const policies = (["pull", "push"] as const).map(
            (purpose: PolicyPurpose) =>
                new vault.Policy(`${name}-${purpose}`, { name: policyName(purpose), policy: policyDocument(purpose, kvMount) }, child),
        );
        this.pushPolicy = policies[1].name;

        const serviceAccount = { name: externalSecrets.serviceAccount, namespace: externalSecrets.namespace };
        const roles = policies.map((policy, i) => {
            const purpose = (["pull", "push"] as const)[i];
            return new vault.kubernetes.AuthBackendRole(
                `${name}-external-secrets-${purpose}`,
                { backend: auth.path, ...externalSecretsRole(serviceAccount, purpose), tokenPolicies: [policy.name] },
                child,
            );
        });
        this.roleNames = { read: roles[0].roleName, push: roles[1].roleName };

        // Audit devices: every request and response, secrets HMAC'd. Enabling one needs `sudo`, which
        // the admin token has.
        for (const device of auditDevices) {
            new vault.Audit(`${name}-audit-${device}`, auditDevice(device), child);
        }

        this.registerOutputs({ kvMount: this.kvMount, authPath: this.authPath, roleNames: this.roleNames, pushPolicy: this.pushPolicy });
    }
}

const vaultSetupOptions = z.object({
    kvMount: kvMountOption,
    auditDevices: auditDevicesOption,
    externalSecrets: z.object({ serviceAccount: text(isDnsSubdomain), namespace: text(isDnsLabel) }),
});
