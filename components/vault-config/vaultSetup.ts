import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { z } from "zod";
import { type Engine, engineFacts, engineOption } from "../common/engine";
import { parseOptions } from "../common/options";
import { POLICY_PURPOSES, type PolicyPurpose, policyDocument, policyName } from "./policies";
import {
    type AuditDevice,
    auditDevicesOption,
    kvMountOption,
    KUBERNETES_API_IN_CLUSTER,
    KUBERNETES_AUTH_PATH,
    auditDevice,
    namespaceRole,
} from "./setupValues";

export interface VaultSetupArgs {
    /**
     * The region's Vault provider, authenticated as an admin. Required, so nothing here can fall back
     * to Pulumi's default Vault provider (which would read whatever `VAULT_ADDR` is set).
     */
    readonly provider: vault.Provider;
    /** Path of the KV v2 secrets engine. */
    readonly kvMount?: string;
    /** Audit devices to enable; at least one. Default both. */
    readonly auditDevices?: readonly AuditDevice[];
    /**
     * The engine of the region's servers. Default `vault`. With `openbao` the audit devices are not
     * enabled here: OpenBao refuses to create them through its API, and the servers' configuration
     * declares them instead (VaultServer's `auditDevices`).
     */
    readonly engine?: Engine;
}

/**
 * What a region's Vault needs for the External Secrets Operator:
 * - the KV v2 engine, protected: deleting a mount erases every secret in it, so no update may;
 * - Kubernetes auth, configured for a Vault running in the same cluster;
 * - the `namespace-pull` and `namespace-push` policies, generated from the least-privilege table in
 *   `policies.ts` and templated by the namespace that logs in: each namespace reaches only the
 *   secrets under its own prefix, `<kvMount>/data/<namespace>/`;
 * - the `namespace-pull` and `namespace-push` roles, which the local stores log in with as the
 *   service account `vault-secrets-reader` or `vault-secrets-writer` of the namespace that asks;
 * - audit devices (a file on the audit volume and stdout, by default), through the API where the
 *   engine takes them there (Vault; OpenBao's servers declare them in their configuration).
 */
export class VaultSetup extends pulumi.ComponentResource {
    /** Path of the KV v2 engine. */
    public readonly kvMount: pulumi.Output<string>;
    /** Path of the Kubernetes auth method. */
    public readonly authPath: pulumi.Output<string>;
    /** The roles the local stores log in as: read-only (`vault-local`) and push (`vault-local-push`). */
    public readonly roleNames: { readonly read: pulumi.Output<string>; readonly push: pulumi.Output<string> };

    constructor(name: string, args: VaultSetupArgs, opts?: pulumi.ComponentResourceOptions) {
        const { kvMount, auditDevices, engine } = parseOptions("VaultSetup", vaultSetupOptions, {
            kvMount: args.kvMount,
            auditDevices: args.auditDevices,
            engine: args.engine,
        });
        super("openova:vault:VaultSetup", name, {}, opts);
        // A component's dependsOn does not hold back its children, so each child carries it too.
        const child = { parent: this, provider: args.provider, dependsOn: opts?.dependsOn };

        const kv = replicatedSecretsMount(`${name}-kv`, kvMount, child);
        this.kvMount = kv.path;

        const auth = new vault.AuthBackend(
            `${name}-kubernetes`,
            { type: "kubernetes", path: KUBERNETES_AUTH_PATH, description: "Service accounts of this region's cluster" },
            child,
        );
        new vault.kubernetes.AuthBackendConfig(
            `${name}-kubernetes`,
            // disableIssValidation explicitly: the provider sends false when it is left out, and the plugin
            // then checks the token's issuer against an expected issuer that is not configured.
            { backend: auth.path, kubernetesHost: KUBERNETES_API_IN_CLUSTER, disableIssValidation: true },
            child,
        );
        this.authPath = auth.path;

        // The policies name the auth mount's accessor, which Vault assigns when the mount is created.
        const roles = POLICY_PURPOSES.map((purpose) => {
            const policy = namespacePolicy(`${name}-${purpose}`, purpose, kv.path, auth.accessor, child);
            return new vault.kubernetes.AuthBackendRole(
                `${name}-namespace-${purpose}`,
                { backend: auth.path, ...namespaceRole(purpose), tokenPolicies: [policy.name] },
                child,
            );
        });
        this.roleNames = { read: roles[0].roleName, push: roles[1].roleName };

        // Audit devices: every request and response, secrets HMAC'd. Enabling one needs `sudo`, which
        // the admin token has. OpenBao's come from its servers' configuration instead.
        if (engineFacts(engine).auditDevices === "api") {
            for (const device of auditDevices) {
                new vault.Audit(`${name}-audit-${device}`, auditDevice(device), child);
            }
        }

        this.registerOutputs({ kvMount: this.kvMount, authPath: this.authPath, roleNames: this.roleNames });
    }
}

/**
 * The KV v2 engine the replicated secrets live in, protected: deleting the mount erases every secret in
 * it, so a run that would delete it (the gate set back to false, a destroy) fails before deleting
 * anything, instead. The self-hosted Vault's setup and an HCP cluster's both make it.
 */
export function replicatedSecretsMount(name: string, path: string, opts: pulumi.CustomResourceOptions): vault.Mount {
    return new vault.Mount(
        name,
        { path, type: "kv", options: { version: "2" }, description: "Secrets replicated between regions by the External Secrets Operator" },
        { ...opts, protect: true },
    );
}

/**
 * The `namespace-pull` or `namespace-push` policy, templated by the auth mount the namespaces log in
 * on: it names the mount's accessor, which Vault assigns when the mount is created.
 */
export function namespacePolicy(
    name: string,
    purpose: PolicyPurpose,
    kvPath: pulumi.Input<string>,
    authAccessor: pulumi.Input<string>,
    opts: pulumi.CustomResourceOptions,
): vault.Policy {
    return new vault.Policy(
        name,
        {
            name: policyName(purpose),
            policy: pulumi
                .all([kvPath, authAccessor])
                .apply(([mount, accessor]) => policyDocument(purpose, mount, { kind: "namespace", authAccessor: accessor })),
        },
        opts,
    );
}

const vaultSetupOptions = z.object({ kvMount: kvMountOption, auditDevices: auditDevicesOption, engine: engineOption });
