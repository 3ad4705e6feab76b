import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { projectLabels } from "./labels";
import {
    type LocalStoreSpec,
    PEER_TOKEN_KEY,
    type PeerStoreSpec,
    localStore,
    peerStore,
    peerTokenSecretName,
} from "./secretStoreSpecs";

export type LocalStoreArgs = LocalStoreSpec;

/**
 * `vault-local`: the ClusterSecretStore ExternalSecrets pull from (and PushSecrets push to) in this
 * region's own Vault. List the ESO chart and the Vault setup in `opts.dependsOn`, so the store is
 * created once its CRD exists and its role is in Vault (the component passes `dependsOn` on to the
 * store: Pulumi does not hold a component's children back for it).
 *
 * Pass the region cluster's Kubernetes provider in `opts.providers` (or through a parent).
 */
export class LocalStore extends pulumi.ComponentResource {
    /** The store's name, for `secretStoreRef.name`. */
    public readonly storeName: pulumi.Output<string>;

    constructor(name: string, args: LocalStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        const object = localStore(args);
        super("openova:vault:LocalStore", name, {}, opts);
        // A component's dependsOn does not hold back its children, so pass it on to the store itself.
        const store = new k8s.apiextensions.CustomResource(name, { ...object }, { parent: this, dependsOn: opts?.dependsOn });
        this.storeName = store.metadata.name;
        this.registerOutputs({ storeName: this.storeName });
    }
}

export interface PeerStoreArgs extends PeerStoreSpec {
    /** The token the peer issued for this region; kept secret in state and written only to the Secret's data. */
    readonly token: pulumi.Input<string>;
}

/**
 * `vault-<peer>`: a ClusterSecretStore that pushes to a peer region's Vault through its public
 * address, with the token that peer issued for this region, kept in a Secret in ESO's namespace.
 * `opts.dependsOn` (the ESO chart, say) holds back the Secret and so the store.
 *
 * Pass the region cluster's Kubernetes provider in `opts.providers` (or through a parent).
 */
export class PeerStore extends pulumi.ComponentResource {
    /** The peer region. */
    public readonly peer: string;
    /** The store's name. */
    public readonly storeName: pulumi.Output<string>;

    constructor(name: string, args: PeerStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        const object = peerStore(args);
        super("openova:vault:PeerStore", name, {}, opts);
        this.peer = args.peer;

        const tokenSecret = new k8s.core.v1.Secret(
            `${name}-token`,
            {
                metadata: { name: peerTokenSecretName(args.peer), namespace: args.namespace, labels: projectLabels("peer-token") },
                type: "Opaque",
                stringData: { [PEER_TOKEN_KEY]: pulumi.secret(args.token) },
            },
            { parent: this, dependsOn: opts?.dependsOn },
        );
        const store = new k8s.apiextensions.CustomResource(name, { ...object }, { parent: this, dependsOn: [tokenSecret] });
        this.storeName = store.metadata.name;

        this.registerOutputs({ peer: this.peer, storeName: this.storeName });
    }
}
