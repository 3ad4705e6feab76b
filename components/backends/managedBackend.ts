/**
 * The Kubernetes side of a managed backend: the ESO stores and identity ServiceAccounts a region
 * needs to reach its own managed backend ({@link ManagedBackend}), or a peer's ({@link BackendPeerStore}).
 * The objects are the pure builders' of `backendStores.ts`; these components only register them.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ResolvedBackend } from "./backendOptions";
import { identityServiceAccount, managedLocalStore, managedPeerStore, needsIdentityServiceAccount } from "./backendStores";

/** The args of {@link ManagedBackend}. */
export interface ManagedBackendArgs {
    /** The region whose backend it is. */
    readonly region: string;
    /** Its backend: any type but `vault`. */
    readonly backend: ResolvedBackend;
    /** ESO's namespace, where the identity ServiceAccount lives. */
    readonly esoNamespace: string;
    /** The KV v2 mount, for HCP Vault. */
    readonly kvMount: string;
}

/**
 * A region's own managed backend, as its ESO reaches it: `vault-local` (read) and `vault-local-push`
 * (write), ClusterSecretStores of the backend's provider with the names, labels and namespace
 * conditions of the self-hosted Vault's stores, and the ServiceAccount that carries the cloud identity
 * (none for HCP Vault, whose stores log in as the namespace that asks, and none for AWS with Pod
 * Identity, which is the controller's own). List the ESO chart in `opts.dependsOn`: it is passed on to
 * the children, which Pulumi does not hold back for their component.
 *
 * Pass the region cluster's Kubernetes provider in `opts.providers` (or through a parent).
 */
export class ManagedBackend extends pulumi.ComponentResource {
    /** The backend's type. */
    public readonly type: string;
    /** The read store's name, for `secretStoreRef.name`. */
    public readonly storeName: pulumi.Output<string>;
    /** The push store's name. */
    public readonly pushStoreName: pulumi.Output<string>;

    constructor(name: string, args: ManagedBackendArgs, opts?: pulumi.ComponentResourceOptions) {
        const context = { region: args.region, esoNamespace: args.esoNamespace, kvMount: args.kvMount };
        // Built before anything is registered: a backend these builders cannot reach fails here, with nothing half-created.
        const read = managedLocalStore(args.backend, context, "read");
        const push = managedLocalStore(args.backend, context, "push");
        super("openova:vault:ManagedBackend", name, {}, opts);
        this.type = args.backend.type;
        const identity = needsIdentityServiceAccount(args.backend, true)
            ? new k8s.core.v1.ServiceAccount(`${name}-identity`, identityServiceAccount(args.backend, context), {
                  parent: this,
                  dependsOn: opts?.dependsOn,
              })
            : undefined;
        // After the identity when there is one (which itself waits for ESO), else after what the component waits for.
        const after = { parent: this, dependsOn: identity === undefined ? opts?.dependsOn : [identity] };
        this.storeName = new k8s.apiextensions.CustomResource(`${name}-store-local`, { ...read }, after).metadata.name;
        this.pushStoreName = new k8s.apiextensions.CustomResource(`${name}-store-local-push`, { ...push }, after).metadata.name;
        this.registerOutputs({ type: this.type, storeName: this.storeName, pushStoreName: this.pushStoreName });
    }
}

/** The args of {@link BackendPeerStore}. */
export interface BackendPeerStoreArgs {
    /** The peer whose backend the store writes to. */
    readonly peer: string;
    /** The peer's backend, as its stack publishes it: any type but `vault`. */
    readonly backend: ResolvedBackend;
    /** This region, which pushes. */
    readonly writer: string;
    /** ESO's namespace here. */
    readonly esoNamespace: string;
    /** The KV v2 mount, for HCP Vault. */
    readonly kvMount: string;
}

/**
 * `vault-<peer>` for a peer whose backend is managed: the store this region's PushSecrets write to
 * the peer's backend through, and, for a cloud store, the ServiceAccount here bound to the peer's
 * identity (which the peer's cloud policy lets this region's cluster assume). List the ESO chart and
 * the store admission policies in `opts.dependsOn`.
 *
 * Pass the region cluster's Kubernetes provider in `opts.providers` (or through a parent).
 */
export class BackendPeerStore extends pulumi.ComponentResource {
    /** The peer region. */
    public readonly peer: string;
    /** The store's name. */
    public readonly storeName: pulumi.Output<string>;

    constructor(name: string, args: BackendPeerStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        const context = { peer: args.peer, writer: args.writer, esoNamespace: args.esoNamespace, kvMount: args.kvMount };
        let store: ReturnType<typeof managedPeerStore>;
        try {
            store = managedPeerStore(args.backend, context);
        } catch (error) {
            // A peer this cluster cannot authenticate to (GCP without a pool): one line, no stack trace.
            throw new pulumi.RunError(`BackendPeerStore ${args.peer}: ${(error as Error).message}`);
        }
        super("openova:vault:BackendPeerStore", name, {}, opts);
        this.peer = args.peer;
        const identity = needsIdentityServiceAccount(args.backend, false)
            ? new k8s.core.v1.ServiceAccount(
                  `${name}-identity`,
                  identityServiceAccount(args.backend, { region: args.peer, esoNamespace: args.esoNamespace }),
                  { parent: this, dependsOn: opts?.dependsOn },
              )
            : undefined;
        this.storeName = new k8s.apiextensions.CustomResource(
            name,
            { ...store },
            { parent: this, dependsOn: identity === undefined ? opts?.dependsOn : [identity] },
        ).metadata.name;
        this.registerOutputs({ peer: this.peer, storeName: this.storeName });
    }
}
