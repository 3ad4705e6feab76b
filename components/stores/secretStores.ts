import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { projectLabels } from "../common/labels";
import { type StoreAdmissionSpec, storeAdmissionPolicies } from "./storeAdmission";
import { type LocalStoreSpec, PEER_TOKEN_KEY, type PeerStoreSpec, localStore, peerStore, peerTokenSecretName } from "./storeSpecs";

export interface LocalStoreArgs extends Omit<LocalStoreSpec, "role"> {
    /** The Kubernetes auth roles: read-only for `vault-local`, push for `vault-local-push`. */
    readonly roles: { readonly read: string; readonly push: string };
}

/**
 * The stores for this region's own Vault: `vault-local`, which ExternalSecrets pull from (read-only
 * role, namespaces labelled `vault.openova.io/read`), and `vault-local-push`, which PushSecrets write
 * through (push role, namespaces labelled `vault.openova.io/replicate`). List the ESO chart and the
 * Vault setup in `opts.dependsOn`, so the stores are created once their CRD exists and their roles
 * are in Vault (the component passes `dependsOn` on to the stores: Pulumi does not hold a
 * component's children back for it).
 *
 * Pass the region cluster's Kubernetes provider in `opts.providers` (or through a parent).
 */
export class LocalStore extends pulumi.ComponentResource {
    /** The read store's name, for `secretStoreRef.name`. */
    public readonly storeName: pulumi.Output<string>;
    /** The push store's name. */
    public readonly pushStoreName: pulumi.Output<string>;

    constructor(name: string, args: LocalStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        const { roles, ...spec } = args;
        const read = localStore({ ...spec, role: roles.read }, "read");
        const push = localStore({ ...spec, role: roles.push }, "push");
        super("openova:vault:LocalStore", name, {}, opts);
        // A component's dependsOn does not hold back its children, so pass it on to the stores themselves.
        const readStore = new k8s.apiextensions.CustomResource(name, { ...read }, { parent: this, dependsOn: opts?.dependsOn });
        const pushStore = new k8s.apiextensions.CustomResource(`${name}-push`, { ...push }, { parent: this, dependsOn: opts?.dependsOn });
        this.storeName = readStore.metadata.name;
        this.pushStoreName = pushStore.metadata.name;
        this.registerOutputs({ storeName: this.storeName, pushStoreName: this.pushStoreName });
    }
}

export interface PeerStoreArgs extends Omit<PeerStoreSpec, "address" | "caCert"> {
    /** The peer Vault's public address, `https://vault.<peer>.<domain>`; may be another resource's output. */
    readonly address: pulumi.Input<string>;
    /** PEM of the CA that signs the peer's certificate; empty to trust the system's CAs. May be another resource's output. */
    readonly caCert: pulumi.Input<string>;
    /**
     * The token the peer issued for this region, with token auth (the default); kept secret in state
     * and written only to the Secret's data. Not used with JWT auth.
     */
    readonly token?: pulumi.Input<string>;
}

/**
 * `vault-<peer>`: a ClusterSecretStore that pushes to a peer region's Vault through its public
 * address. With token auth it logs in with the token that peer issued for this region, kept in a
 * Secret in ESO's namespace; with JWT auth nothing secret is stored: ESO presents a short-lived
 * token of its own service account. `opts.dependsOn` (the ESO chart, say) holds back the store.
 *
 * Pass the region cluster's Kubernetes provider in `opts.providers` (or through a parent).
 */
export class PeerStore extends pulumi.ComponentResource {
    /** The peer region. */
    public readonly peer: string;
    /** The store's name. */
    public readonly storeName: pulumi.Output<string>;

    constructor(name: string, args: PeerStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        const { token, address, caCert, ...spec } = args;
        // Only the provider's server and CA depend on the address and CA, which may be outputs.
        const object = peerStore({ ...spec, address: "", caCert: "" });
        const objectSpec = pulumi.all([address, caCert]).apply(([a, c]) => peerStore({ ...spec, address: a, caCert: c }).spec);
        const auth = spec.auth?.kind ?? "token";
        if ((auth === "token") !== (token !== undefined)) {
            throw new Error(
                `PeerStore ${args.peer}: ${auth === "token" ? "token auth needs the token the peer issued" : "JWT auth takes no token"}`,
            );
        }
        super("openova:vault:PeerStore", name, {}, opts);
        this.peer = args.peer;

        let before: pulumi.ResourceOptions["dependsOn"] = opts?.dependsOn;
        if (token !== undefined) {
            before = [
                new k8s.core.v1.Secret(
                    `${name}-token`,
                    {
                        metadata: { name: peerTokenSecretName(args.peer), namespace: args.namespace, labels: projectLabels("peer-token") },
                        type: "Opaque",
                        stringData: { [PEER_TOKEN_KEY]: pulumi.secret(token) },
                    },
                    { parent: this, dependsOn: opts?.dependsOn },
                ),
            ];
        }
        const store = new k8s.apiextensions.CustomResource(
            name,
            { apiVersion: object.apiVersion, kind: object.kind, metadata: object.metadata, spec: objectSpec },
            { parent: this, dependsOn: before },
        );
        this.storeName = store.metadata.name;

        this.registerOutputs({ peer: this.peer, storeName: this.storeName });
    }
}

export type StoreAdmissionArgs = StoreAdmissionSpec;

/**
 * The admission policies that keep each namespace to its own secrets through the shared stores
 * (`storeAdmission.ts`): no ExternalSecret reads from a peer store; a PushSecret that may reach this
 * project's stores writes only under its namespace, as each target store's backend spells it; in a
 * region on a cloud store, reads through the local stores stay under the namespace's names too; and
 * with EKS Pod Identity, no AWS store without auth borrows the controller's role. Cluster-scoped
 * `admissionregistration.k8s.io/v1` objects, so the cluster must run Kubernetes 1.30 or later.
 * Create it before the peer stores (list it in their `opts.dependsOn`), so that no peer store is ever
 * usable without it.
 *
 * Pass the region cluster's Kubernetes provider in `opts.providers` (or through a parent).
 */
export class StoreAdmission extends pulumi.ComponentResource {
    /** The names of the policies (each binding has its policy's name). */
    public readonly policyNames: string[];

    constructor(name: string, args: StoreAdmissionArgs, opts?: pulumi.ComponentResourceOptions) {
        const pairs = storeAdmissionPolicies(args);
        super("openova:vault:StoreAdmission", name, {}, opts);
        this.policyNames = pairs.map(({ policy }) => policy.metadata.name);
        // A component's dependsOn does not hold back its children, so each child carries it too.
        for (const { policy, binding } of pairs) {
            const created = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(`${name}-${policy.metadata.name}`, policy, {
                parent: this,
                dependsOn: opts?.dependsOn,
            });
            new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(`${name}-${binding.metadata.name}`, binding, {
                parent: this,
                dependsOn: [created],
            });
        }
        this.registerOutputs({ policyNames: this.policyNames });
    }
}
