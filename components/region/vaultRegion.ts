import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type * as vault from "@pulumi/vault";
import { type ResolvedBackend, isCloudBackend } from "../backends/backendOptions";
import { HcpVaultSetup } from "../backends/hcpVault";
import { BackendPeerStore, ManagedBackend } from "../backends/managedBackend";
import { unreachableBackend } from "../backends/backendStores";
import { z } from "zod";
import { parseOptions, refuseArgs } from "../common/options";
import { vaultProviderArg } from "../common/providers";
import { peersOf, vaultHost } from "../common/topology";
import { ExternalSecretsOperator } from "../eso/externalSecretsOperator";
import { projectLabels } from "../common/labels";
import { EXTERNAL_SECRETS_SERVICE_ACCOUNT } from "../eso/operatorValues";
import { VaultMonitoring } from "../monitoring/vaultMonitoring";
import { ReplicatedSecret } from "../replication/replicatedSecret";
import {
    INITIAL_VALUE_DEFAULTS,
    type ReplicatedSecretSpec,
    type PasswordRecipe,
    passwordGenerator,
    passwordGeneratorName,
    passwordRecipeId,
    remoteKeyOf,
    remoteKeysPushed,
    replicationCanary,
    writersOf,
} from "../replication/replicationSpecs";
import { Replicator } from "../replication/replicator";
import { RaftSnapshots } from "../snapshots/raftSnapshots";
import { snapshotStorageClass } from "../snapshots/snapshotSpecs";
import { METRICS_TOKEN_NAME, peerTokenName } from "../token-renewal/renewalSpecs";
import { TokenRenewer } from "../token-renewal/tokenRenewer";
import { LocalStore, PeerStore, StoreAdmission } from "../stores/secretStores";
import { inClusterVaultAddress, namespaceGrantLabels } from "../stores/storeSpecs";
import { PeerAccess } from "../vault-config/peerAccess";
import { POLICY_PURPOSES } from "../vault-config/policies";
import {
    EXTERNAL_SECRETS_AUDIENCE,
    KUBERNETES_AUTH_PATH,
    NAMESPACE_SERVICE_ACCOUNTS,
    type PeerIdentity,
    namespaceRole,
} from "../vault-config/setupValues";
import { VaultSetup } from "../vault-config/vaultSetup";
import { vaultScheme } from "../vault-server/serverValues";
import { VaultServer } from "../vault-server/vaultServer";
import { type RegionOptions, type ResolvedRegionOptions, regionOptions } from "./regionOptions";

/** What one region needs to push into another region's Vault; the other region's stack exports it. */
export interface PeerEndpoint {
    /** The region that granted the access. */
    readonly peer: string;
    /** Its Vault's public address. */
    readonly address: pulumi.Input<string>;
    /** PEM of the CA that signs its certificate; empty for the system's CAs. */
    readonly caCert: pulumi.Input<string>;
    /** With token peer auth: the token it issued for this region (a secret). */
    readonly token?: pulumi.Input<string>;
    /** With JWT peer auth: where this region's ESO logs in with its own service-account token. */
    readonly jwt?: { readonly path: string; readonly role: string; readonly audience: string };
}

/**
 * What this region grants each peer: its address, its CA, and the token it issued for that peer
 * (token peer auth) or the JWT mount and role the peer logs in to (JWT peer auth).
 */
export type IssuedPeerAccess = Record<
    string,
    | { address: string; caCert: string; token: string }
    | { address: string; caCert: string; jwt: { path: string; role: string; audience: string } }
>;

/** A peer's cluster identity, which this region's Vault trusts for that peer's ESO (JWT peer auth). */
export interface PeerClusterIdentity {
    readonly peer: string;
    readonly identity: PeerIdentity;
}

/** The args of {@link VaultRegion}: its options (see docs/configuration.md), and what comes from other resources and stacks. */
export type VaultRegionArgs = RegionOptions & {
    /**
     * The region's Vault provider, authenticated as an admin. Give it once the Vault is initialized
     * and unsealed: the component then configures Vault (mount, auth, policies, roles), issues access
     * for each peer and creates the local stores. Without it, only the servers and ESO are deployed.
     */
    readonly vaultAdmin?: vault.Provider;
    /** PEM of the CA that signs this Vault's certificate, passed on to the peers. Default: none (system CAs). */
    readonly vaultCaCert?: pulumi.Input<string>;
    /** The peers that have granted this region access: one store per peer pushes into its Vault. */
    readonly peerEndpoints?: readonly PeerEndpoint[];
    /** With `peerAuth: jwt`: the peers whose cluster identity is known; each gets a JWT mount. */
    readonly peerIdentities?: readonly PeerClusterIdentity[];
    /** The backends the peers' stacks publish; a peer not listed has the self-hosted Vault. */
    readonly peerBackends?: readonly PeerBackend[];
    /**
     * With an `hcp-vault` backend and {@link vaultAdmin}: this region's cluster as a token issuer, which
     * the cluster's JWT mount for this region checks the namespaces' tokens with.
     */
    readonly clusterIdentity?: Omit<PeerIdentity, "serviceAccount">;
};

/** A peer's backend, as its stack publishes it: any with a managed backend gets a store of its backend's provider. */
export interface PeerBackend {
    readonly peer: string;
    readonly backend: ResolvedBackend;
}

/**
 * Everything one region runs for the platform's secrets: its Vault HA cluster and the External
 * Secrets Operator that delivers secrets to workloads, wired to every peer region.
 *
 * Pass the region cluster's Kubernetes provider in `opts.providers`.
 */
export class VaultRegion extends pulumi.ComponentResource {
    /** This region's name. */
    public readonly region: string;
    /** The other regions. */
    public readonly peers: string[];
    /** Public address of this region's Vault: `https://vault.<region>.<domain>`, or an HCP cluster's address; none for a cloud store. */
    public readonly vaultAddress?: pulumi.Output<string>;
    /** Where this region's secrets live. */
    public readonly backend: ResolvedBackend;
    /** The Vault servers, with the self-hosted backend. */
    public readonly vault?: VaultServer;
    /** The stores of a managed backend (any but `vault`). */
    public readonly managedBackend?: ManagedBackend;
    /** What this region configures in its HCP Vault cluster, once {@link VaultRegionArgs.vaultAdmin} is given. */
    public readonly hcpSetup?: HcpVaultSetup;
    /** The operator, when this component installs it. */
    public readonly externalSecrets?: ExternalSecretsOperator;
    /** Namespace ESO runs in (installed here or already present). */
    public readonly externalSecretsNamespace: pulumi.Output<string>;
    /** This region's Vault configuration, once {@link VaultRegionArgs.vaultAdmin} is given. */
    public readonly setup?: VaultSetup;
    /** With the self-hosted backend, the scheduled Raft snapshots: their claim always, the job once the Vault is configured (unless turned off). */
    public readonly snapshots?: RaftSnapshots;
    /** With the self-hosted backend, the alerts and the metrics token, as configured. */
    public readonly monitoring?: VaultMonitoring;
    /** The renewer of this region's long-lived tokens (peer tokens, the metrics token), when it issues any. */
    public readonly tokenRenewer?: TokenRenewer;
    /** Per peer, what it needs to push here (a secret with token peer auth); empty until this Vault is configured. */
    public readonly issuedPeerAccess: pulumi.Output<IssuedPeerAccess>;
    /** The peers this region pushes to (those whose stacks have granted it access, and those with a managed backend). */
    public readonly connectedPeers: string[];
    /** The replicator, when a secret has every region as a writer and this region's Vault is configured. */
    public readonly replicator?: Replicator;
    /** The admission policies that keep each namespace to its own secrets through the shared stores. */
    public readonly storeAdmission: StoreAdmission;

    constructor(name: string, args: VaultRegionArgs, opts?: pulumi.ComponentResourceOptions) {
        // Every option is checked before anything is registered: nothing half-created.
        const { vaultAdmin, vaultCaCert, peerEndpoints = [], peerIdentities = [], peerBackends = [], clusterIdentity, ...given } = args;
        const options = parseOptions("VaultRegion", regionOptions, given);
        parseOptions("VaultRegion", z.object({ vaultAdmin: vaultProviderArg.optional() }), { vaultAdmin });
        checkPeers(options.region, peersOf(options.region, options.regions), { peerEndpoints, peerIdentities, peerBackends });
        const backends = regionBackends(options, peerBackends);
        checkWriters(options, backends);
        checkPeerAuth(options, backends);
        if (options.backend.type === "hcp-vault" && vaultAdmin !== undefined && clusterIdentity === undefined) {
            refuseArgs("VaultRegion", [
                {
                    propertyPath: "clusterIdentity",
                    reason: "is not set, but backend.type is hcp-vault: the HCP cluster checks this cluster's service-account tokens with its issuer and keys",
                },
            ]);
        }
        super("openova:vault:VaultRegion", name, {}, opts);
        const { region, regions, externalSecrets: eso } = options;
        this.region = region;
        this.peers = peersOf(region, regions);
        this.backend = options.backend;

        // The operator: on every run, from the first.
        const { install, ...operator } = eso;
        this.externalSecrets = install
            ? new ExternalSecretsOperator(`${name}-external-secrets`, { ...operator, monitoring: options.monitoring }, { parent: this })
            : undefined;
        this.externalSecretsNamespace = this.externalSecrets?.namespace ?? pulumi.output(eso.namespace);
        const afterOperator = this.externalSecrets ? [this.externalSecrets] : [];

        // Where the secrets live: the region's own Vault, with all it runs beside it, or a managed backend's stores.
        let localStore: pulumi.Resource | undefined;
        if (options.backend.type === "vault") {
            const selfHosted = this.selfHosted(name, options, { vaultAdmin, vaultCaCert, peerIdentities, backends }, afterOperator);
            localStore = selfHosted.localStore;
            this.vaultAddress = selfHosted.address;
            this.vault = selfHosted.server;
            this.setup = selfHosted.setup;
            this.snapshots = selfHosted.snapshots;
            this.monitoring = selfHosted.monitoring;
            this.tokenRenewer = selfHosted.tokenRenewer;
            this.issuedPeerAccess = selfHosted.issuedPeerAccess;
        } else {
            const backend = options.backend;
            this.hcpSetup =
                backend.type === "hcp-vault" && vaultAdmin !== undefined && clusterIdentity !== undefined
                    ? this.configureHcp(name, options, backend, vaultAdmin, clusterIdentity, peerIdentities)
                    : undefined;
            this.managedBackend = new ManagedBackend(
                `${name}-backend`,
                { region, backend, esoNamespace: eso.namespace, kvMount: options.kvMount },
                // The stores log in with the roles the HCP setup creates.
                { parent: this, dependsOn: [...afterOperator, ...(this.hcpSetup ? [this.hcpSetup] : [])] },
            );
            localStore = this.managedBackend;
            this.vaultAddress = options.backend.type === "hcp-vault" ? pulumi.output(options.backend.address) : undefined;
            this.issuedPeerAccess = pulumi.output<IssuedPeerAccess>({});
        }

        // The peers' backends, and the secrets replicated through them. The admission policies come first, so
        // that no peer store is ever usable without them.
        this.storeAdmission = new StoreAdmission(
            `${name}-store-admission`,
            {
                region,
                peers: this.peers,
                kvMount: options.kvMount,
                // Each store's backend: this region's for its own stores, each peer's for vault-<peer>.
                backend: options.backend,
                peerBackends: Object.fromEntries(this.peers.map((peer) => [peer, backends.get(peer) ?? { type: "vault" as const }])),
            },
            { parent: this, dependsOn: afterOperator },
        );
        const beforePeerStores = [...afterOperator, this.storeAdmission];
        const pushedTo = peersPushedTo(options);
        const peerStores = [
            ...peerEndpoints
                .filter((endpoint) => backends.get(endpoint.peer)?.type === "vault")
                .map((endpoint) => this.peerStore(name, options, endpoint, beforePeerStores)),
            // A managed peer's store only where this region pushes something: nothing there grants it otherwise.
            ...this.peers.flatMap((peer) => {
                const backend = backends.get(peer);
                if (backend === undefined || backend.type === "vault" || !pushedTo.includes(peer)) {
                    return [];
                }
                // A peer this cluster cannot reach (its own config refuses that too) costs its store and its
                // pushes, not this region's whole run.
                const unreachable = unreachableBackend(backend, peer, region);
                if (unreachable !== undefined) {
                    void pulumi.log.warn(
                        `Peer ${peer} gets no store from ${region}, so ${region}'s secrets homed here do not reach it yet: ${unreachable}, then run ${region}'s pulumi up again.`,
                        this,
                    );
                    return [];
                }
                return [
                    new BackendPeerStore(
                        `${name}-store-${peer}`,
                        { peer, backend, writer: region, esoNamespace: eso.namespace, kvMount: options.kvMount },
                        { parent: this, dependsOn: beforePeerStores },
                    ),
                ];
            }),
        ];
        this.connectedPeers = peerStores.map((store) => store.peer).sort((a, b) => this.peers.indexOf(a) - this.peers.indexOf(b));
        const grants = this.grantNamespaces(name, options, afterOperator);
        this.replicator =
            this.setup && vaultAdmin && anyWriterKeys(options).length > 0
                ? this.startReplicator(name, options, vaultAdmin, this.setup, peerEndpoints, vaultCaCert ?? "", [
                      ...afterOperator,
                      this.setup,
                      ...[...grants.values()].flat(),
                  ])
                : undefined;
        this.replicate(
            name,
            options,
            grants,
            [...afterOperator, ...peerStores, ...[...grants.values()].flat(), ...(localStore ? [localStore] : [])],
            localStore !== undefined,
            backends,
        );

        this.registerOutputs({
            region: this.region,
            peers: this.peers,
            backend: this.backend.type,
            vaultAddress: this.vaultAddress,
            vaultNamespace: this.vault?.namespace,
            externalSecretsNamespace: this.externalSecretsNamespace,
            issuedPeerAccess: this.issuedPeerAccess,
            connectedPeers: this.connectedPeers,
        });
    }

    /**
     * The region's configuration in its HCP Vault cluster: the mount, its own JWT mount and roles, and
     * access for each peer that is the home of a secret (the only ones that push here).
     */
    private configureHcp(
        name: string,
        options: ResolvedRegionOptions,
        backend: Extract<ResolvedBackend, { type: "hcp-vault" }>,
        provider: vault.Provider,
        identity: Omit<PeerIdentity, "serviceAccount">,
        peerIdentities: readonly PeerClusterIdentity[],
    ): HcpVaultSetup {
        const secrets = carriedSecrets(options);
        return new HcpVaultSetup(
            `${name}-hcp`,
            {
                provider,
                backend,
                region: options.region,
                kvMount: options.kvMount,
                esoNamespace: options.externalSecrets.namespace,
                identity,
                peers: peerIdentities
                    .map(({ peer, identity: peerIdentity }) => ({
                        peer,
                        identity: peerIdentity,
                        remoteKeys: remoteKeysPushed(secrets, peer, options.region, options.regions),
                    }))
                    .filter((peer) => peer.remoteKeys.length > 0),
            },
            { parent: this },
        );
    }

    /**
     * The self-hosted backend: the Vault servers; once the Vault is initialized, its configuration, the
     * access it grants its peers and the local stores; its snapshots, monitoring and token renewer.
     */
    private selfHosted(
        name: string,
        options: ResolvedRegionOptions,
        given: {
            readonly vaultAdmin?: vault.Provider;
            readonly vaultCaCert?: pulumi.Input<string>;
            readonly peerIdentities: readonly PeerClusterIdentity[];
            readonly backends: ReadonlyMap<string, ResolvedBackend>;
        },
        afterOperator: pulumi.Resource[],
    ) {
        const { vaultAdmin, vaultCaCert } = given;
        const { region, vault: vaultOptions, externalSecrets: eso, monitoring, engine } = options;
        const { auditDevices, snapshots, ...server } = vaultOptions;
        const host = pulumi.output(options.domain).apply((domain) => vaultHost(region, domain));
        const address = host.apply((h) => `https://${h}`);

        // The servers: on every run, from the first.
        const vaultServer = new VaultServer(
            `${name}-vault`,
            { ...server, host, monitoring, externalSecretsNamespace: eso.namespace, engine, auditDevices },
            { parent: this },
        );

        // Vault's own configuration, the access it grants its peers and the local stores: once it is initialized.
        const setup =
            vaultAdmin &&
            new VaultSetup(
                `${name}-setup`,
                { provider: vaultAdmin, kvMount: options.kvMount, auditDevices, engine },
                { parent: this, dependsOn: [vaultServer] },
            );
        const accesses =
            setup && vaultAdmin
                ? this.grantPeers(name, options, vaultAdmin, setup, vaultServer, address, given.peerIdentities, given.backends)
                : [];
        const issuedPeerAccess = this.publish(accesses, options.peerAuth, address, vaultCaCert ?? "");
        const localStore =
            setup &&
            new LocalStore(`${name}-store-local`, this.localStoreArgs(options, vaultServer), {
                parent: this,
                dependsOn: [...afterOperator, setup],
            });

        // Backups and monitoring.
        const afterVault = setup ? [vaultServer, setup] : [vaultServer];
        const raftSnapshots = new RaftSnapshots(
            `${name}-snapshots`,
            this.snapshotArgs(options, vaultServer, snapshots, vaultAdmin, setup),
            {
                parent: this,
                dependsOn: afterVault,
            },
        );
        const vaultMonitoring = new VaultMonitoring(
            `${name}-monitoring`,
            {
                region,
                namespace: server.namespace,
                externalSecretsNamespace: eso.namespace,
                monitoring,
                engine,
                ...(vaultAdmin ? { provider: vaultAdmin } : {}),
                ...(raftSnapshots.schedule === undefined
                    ? {}
                    : {
                          snapshots: {
                              schedule: raftSnapshots.schedule,
                              ...(raftSnapshots.offsite === undefined ? {} : { offsite: raftSnapshots.offsite.location }),
                          },
                      }),
            },
            { parent: this, dependsOn: afterVault },
        );

        // Every long-lived token this Vault issued, renewed in the cluster: none waits for a person or a CI schedule.
        const tokenRenewer = this.renewTokens(name, options, vaultServer, vaultMonitoring, setup, vaultAdmin, accesses, afterVault);
        return {
            address,
            server: vaultServer,
            setup,
            localStore,
            issuedPeerAccess,
            snapshots: raftSnapshots,
            monitoring: vaultMonitoring,
            tokenRenewer,
        };
    }

    /** The token renewer, when this region's Vault issued a long-lived token (a peer token, the metrics token). */
    private renewTokens(
        name: string,
        options: ResolvedRegionOptions,
        server: VaultServer,
        monitoring: VaultMonitoring,
        setup: VaultSetup | undefined,
        provider: vault.Provider | undefined,
        accesses: readonly PeerAccess[],
        dependsOn: pulumi.Resource[],
    ): TokenRenewer | undefined {
        const tokens = [
            ...accesses.flatMap((access) =>
                access.tokenAccessor === undefined ? [] : [{ name: peerTokenName(access.peer), accessor: access.tokenAccessor }],
            ),
            ...(monitoring.metricsTokenAccessor === undefined
                ? []
                : [{ name: METRICS_TOKEN_NAME, accessor: monitoring.metricsTokenAccessor }]),
        ];
        if (provider === undefined || setup === undefined || tokens.length === 0) {
            return undefined;
        }
        const caSecret = caSecretOf(options, server);
        return new TokenRenewer(
            `${name}-token-renewer`,
            {
                provider,
                namespace: options.vault.namespace,
                authPath: setup.authPath,
                imageTag: server.settings.imageTag,
                vaultAddress: inClusterVaultAddress(options.vault.namespace, vaultScheme(server.settings.tls), options.engine),
                ...(caSecret ? { caSecret: { name: caSecret.name, key: caSecret.key } } : {}),
                engine: options.engine,
                tokens,
            },
            { parent: this, dependsOn },
        );
    }

    /** A token per peer, or a JWT mount per peer whose cluster identity is known. */
    private grantPeers(
        name: string,
        options: ResolvedRegionOptions,
        provider: vault.Provider,
        setup: VaultSetup,
        server: VaultServer,
        address: pulumi.Output<string>,
        identities: readonly PeerClusterIdentity[],
        backends: ReadonlyMap<string, ResolvedBackend>,
    ): PeerAccess[] {
        const secrets = carriedSecrets(options);
        const grant = (peer: string, auth?: { kind: "jwt"; identity: PeerIdentity; audience: pulumi.Input<string> }) =>
            new PeerAccess(
                `${name}-peer-${peer}`,
                {
                    provider,
                    region: options.region,
                    peer,
                    kvMount: setup.kvMount,
                    remoteKeys: remoteKeysPushed(secrets, peer, options.region, options.regions),
                    // Own keys only: a peer named like an Object.prototype member ("constructor") has no generation set.
                    ...(auth
                        ? { auth, replicatorKeys: backends.get(peer)?.type === "vault" ? anyWriterKeys(options) : [] }
                        : { generation: Object.hasOwn(options.peerTokenGenerations, peer) ? options.peerTokenGenerations[peer] : 1 }),
                },
                // After the servers, as all of Vault's configuration (the mount's output alone orders only the policy).
                { parent: this, dependsOn: [server] },
            );
        // A peer with a managed backend gets access only to push the secrets it is the home of: it never runs a replicator.
        const granted = (peer: string) =>
            backends.get(peer)?.type === "vault" || remoteKeysPushed(secrets, peer, options.region, options.regions).length > 0;
        return options.peerAuth === "token"
            ? this.peers.filter(granted).map((peer) => grant(peer))
            : identities
                  .filter(({ peer }) => granted(peer))
                  .map(({ peer, identity }) => grant(peer, { kind: "jwt", identity, audience: address }));
    }

    /**
     * The replicator, for the secrets every region writes: it reaches every peer that has granted this
     * region JWT access (the others once they have), and refreshes the ExternalSecrets of each secret here.
     */
    private startReplicator(
        name: string,
        options: ResolvedRegionOptions,
        provider: vault.Provider,
        setup: VaultSetup,
        endpoints: readonly PeerEndpoint[],
        vaultCaCert: pulumi.Input<string>,
        dependsOn: pulumi.Resource[],
    ): Replicator {
        const server = this.vault as VaultServer;
        const monitoring = options.monitoring;
        return new Replicator(
            `${name}-replicator`,
            {
                provider,
                engine: options.engine,
                region: options.region,
                namespace: options.externalSecrets.namespace,
                vaultNamespace: options.vault.namespace,
                kvMount: setup.kvMount,
                authPath: setup.authPath,
                vaultAddress: inClusterVaultAddress(options.vault.namespace, vaultScheme(server.settings.tls)),
                vaultCaCert,
                peers: endpoints.flatMap((endpoint) =>
                    endpoint.jwt === undefined
                        ? []
                        : [
                              {
                                  region: endpoint.peer,
                                  address: endpoint.address,
                                  caCert: endpoint.caCert,
                                  jwtMount: endpoint.jwt.path,
                                  audience: endpoint.jwt.audience,
                              },
                          ],
                ),
                peerRegions: this.peers,
                secrets: options.replicatedSecrets
                    .filter((secret) => writersOf(secret) === "any")
                    .map((secret) => ({ key: remoteKeyOf(secret), externalSecrets: [{ namespace: secret.namespace, name: secret.name }] })),
                options: options.replicator,
                ...(monitoring.serviceMonitor
                    ? { metricsNamespace: monitoring.prometheusNamespace, serviceMonitorLabels: monitoring.labels }
                    : {}),
            },
            { parent: this, dependsOn },
        );
    }

    /** What the peers read from this stack: tokens are secrets; JWT access is only where to log in. */
    private publish(
        accesses: readonly PeerAccess[],
        peerAuth: string,
        vaultAddress: pulumi.Output<string>,
        caCert: pulumi.Input<string>,
    ): pulumi.Output<IssuedPeerAccess> {
        const granted = pulumi
            .all([vaultAddress, caCert, pulumi.all(accesses.map((access) => access.credentials))])
            .apply(([address, ca, all]): IssuedPeerAccess =>
                Object.fromEntries(
                    accesses.map((access, i) => {
                        const credentials = all[i];
                        const entry =
                            credentials.kind === "token"
                                ? { address, caCert: ca, token: credentials.token }
                                : {
                                      address,
                                      caCert: ca,
                                      jwt: { path: credentials.path, role: credentials.role, audience: credentials.audience },
                                  };
                        return [access.peer, entry];
                    }),
                ),
            );
        return peerAuth === "token" ? pulumi.secret(granted) : granted;
    }

    private localStoreArgs(options: ResolvedRegionOptions, server: VaultServer) {
        const caSecret = caSecretOf(options, server);
        return {
            region: options.region,
            vaultNamespace: options.vault.namespace,
            kvMount: options.kvMount,
            authPath: KUBERNETES_AUTH_PATH,
            roles: { read: namespaceRole("pull").roleName, push: namespaceRole("push").roleName },
            audience: EXTERNAL_SECRETS_AUDIENCE,
            ...(caSecret ? { caSecret } : {}),
            engine: options.engine,
        };
    }

    private snapshotArgs(
        options: ResolvedRegionOptions,
        server: VaultServer,
        snapshots: ResolvedRegionOptions["vault"]["snapshots"],
        provider: vault.Provider | undefined,
        setup: VaultSetup | undefined,
    ) {
        const caSecret = caSecretOf(options, server);
        const storageClass = snapshotStorageClass(snapshots, options.vault.storageClass);
        return {
            ...(provider && setup ? { provider, authPath: setup.authPath } : {}),
            namespace: options.vault.namespace,
            region: options.region,
            imageTag: server.settings.imageTag,
            vaultAddress: inClusterVaultAddress(options.vault.namespace, vaultScheme(server.settings.tls), options.engine),
            ...(caSecret ? { caSecret: { name: caSecret.name, key: caSecret.key } } : {}),
            engine: options.engine,
            options: { ...snapshots, ...(storageClass === undefined ? {} : { storageClass }) },
        };
    }

    private peerStore(name: string, options: ResolvedRegionOptions, endpoint: PeerEndpoint, dependsOn: pulumi.Resource[]): PeerStore {
        const serviceAccount = { name: EXTERNAL_SECRETS_SERVICE_ACCOUNT, namespace: options.externalSecrets.namespace };
        const auth = endpoint.jwt === undefined ? { kind: "token" as const } : { kind: "jwt" as const, ...endpoint.jwt, serviceAccount };
        return new PeerStore(
            `${name}-store-${endpoint.peer}`,
            {
                peer: endpoint.peer,
                address: endpoint.address,
                caCert: endpoint.caCert,
                kvMount: options.kvMount,
                namespace: options.externalSecrets.namespace,
                auth,
                ...(endpoint.token === undefined ? {} : { token: endpoint.token }),
            },
            { parent: this, dependsOn },
        );
    }

    /**
     * The namespaces of the replicated secrets may use the stores: every one may read from this
     * region's Vault, and those whose secrets this region pushes (their home) may write. ESO's own
     * namespace may do both (the bootstrap's canary runs there; whoever can create objects there can
     * already read the peer tokens in it). Each gets the labels the stores admit and the service
     * accounts the local stores log in as there (`vault-secrets-reader`, and `vault-secrets-writer`
     * where it writes); they hold no token of their own (ESO requests one per login).
     * @returns per namespace, what its ESO objects wait for
     */
    private grantNamespaces(
        name: string,
        options: ResolvedRegionOptions,
        afterOperator: pulumi.Resource[],
    ): Map<string, pulumi.Resource[]> {
        const operatorNamespace = options.externalSecrets.namespace;
        const namespaces = new Map<string, boolean>([[operatorNamespace, true]]);
        for (const secret of options.replicatedSecrets) {
            const home = secret.home ?? options.regions[0];
            namespaces.set(secret.namespace, (namespaces.get(secret.namespace) ?? false) || home === options.region);
        }
        return new Map(
            [...namespaces].map(([namespace, writes]) => {
                const grant = new k8s.core.v1.NamespacePatch(
                    `${name}-namespace-${namespace}`,
                    { metadata: { name: namespace, labels: namespaceGrantLabels(writes) } },
                    // ESO's namespace exists once the operator's component has created it.
                    { parent: this, dependsOn: namespace === operatorNamespace ? afterOperator : [] },
                );
                // The local stores of a cloud backend act as its one identity: they log in as no namespace's account.
                const purposes = isCloudBackend(options.backend.type) ? [] : POLICY_PURPOSES;
                const accounts = purposes
                    .filter((purpose) => purpose === "pull" || writes)
                    .map(
                        (purpose) =>
                            new k8s.core.v1.ServiceAccount(
                                `${name}-namespace-${namespace}-${NAMESPACE_SERVICE_ACCOUNTS[purpose]}`,
                                {
                                    metadata: {
                                        name: NAMESPACE_SERVICE_ACCOUNTS[purpose],
                                        namespace,
                                        labels: projectLabels("namespace-identity"),
                                    },
                                    automountServiceAccountToken: false,
                                },
                                // After the grant, which fails first, and clearly, when the namespace is missing.
                                { parent: this, dependsOn: [grant] },
                            ),
                    );
                return [namespace, [grant, ...accounts]];
            }),
        );
    }

    /**
     * One ReplicatedSecret per secret. Generated first values come from one Password generator per
     * namespace, length and symbols, shared by the secrets this region creates (a generator is a recipe; each
     * use makes a new value), and only once this region's Vault is configured: the first value is
     * written through `vault-local-push`.
     */
    private replicate(
        name: string,
        options: ResolvedRegionOptions,
        grants: ReadonlyMap<string, readonly pulumi.Resource[]>,
        storesReady: pulumi.Resource[],
        configured: boolean,
        backends: ReadonlyMap<string, ResolvedBackend>,
    ): void {
        const afterOperator = this.externalSecrets ? [this.externalSecrets] : [];
        const generators = new Map<string, pulumi.Resource>();
        const generatorFor = (namespace: string, recipe: PasswordRecipe): pulumi.Resource => {
            const key = `${namespace}/${passwordRecipeId(recipe)}`;
            const generator =
                generators.get(key) ??
                new k8s.apiextensions.CustomResource(
                    `${name}-generator-${namespace}-${passwordRecipeId(recipe)}`,
                    { ...passwordGenerator(namespace, recipe) },
                    // After ESO (its CRD) and after the grant of its namespace (which fails first, and clearly, when the namespace is missing).
                    { parent: this, dependsOn: [...afterOperator, ...(grants.get(namespace) ?? [])] },
                );
            generators.set(key, generator);
            return generator;
        };
        const reachableRegions = [...(configured ? [options.region] : []), ...this.connectedPeers];
        for (const { initialValue, ...secret } of options.replicatedSecrets) {
            const home = secret.home ?? options.regions[0];
            const generate =
                initialValue !== undefined && "generate" in initialValue && home === options.region && configured
                    ? initialValue.generate
                    : undefined;
            const recipe = { length: generate?.length ?? INITIAL_VALUE_DEFAULTS.generatedLength, symbols: secret.passwordSymbols };
            // A generator the caller names is used as it is; otherwise the region's shared one.
            const shared = generate !== undefined && generate.generatorName === undefined;
            new ReplicatedSecret(
                `${name}-secret-${secret.namespace}-${secret.name}`,
                {
                    ...secret,
                    home,
                    region: options.region,
                    regions: options.regions,
                    reachableRegions,
                    backends: Object.fromEntries(backends),
                    ...(shared
                        ? { initialValue: { generate: { ...generate, generatorName: passwordGeneratorName(recipe) } } }
                        : initialValue
                          ? { initialValue }
                          : {}),
                },
                { parent: this, dependsOn: shared ? [...storesReady, generatorFor(secret.namespace, recipe)] : storesReady },
            );
        }
    }
}

/** What {@link carriedSecrets} reads of a replicated secret. */
type CarriedSecret = Omit<Pick<ReplicatedSecretSpec, "name" | "namespace" | "remoteKey" | "mode" | "writers" | "home">, "home"> & {
    readonly home?: string;
};

/**
 * What the regions push to each other: the replicated secrets, each with its home, and the
 * bootstrap's canary. A peer pushes here the secrets it is the home of.
 */
function carriedSecrets<S extends CarriedSecret>(options: {
    readonly replicatedSecrets: readonly S[];
    readonly externalSecrets: { readonly namespace: string };
    readonly regions: readonly string[];
}) {
    return [...options.replicatedSecrets, replicationCanary(options.externalSecrets.namespace, options.regions)].map((secret) => ({
        ...secret,
        home: secret.home ?? options.regions[0],
    }));
}

/**
 * The peers a region's ESO needs access to: every peer for a self-hosted Vault (its replicator may
 * write to them too), only those it pushes a secret to for a managed backend.
 */
export function peersNeedingAccess(options: CarryingRegion & { readonly backend: { readonly type: string } }): string[] {
    return options.backend.type === "vault" ? peersOf(options.region, options.regions) : peersPushedTo(options);
}

/** What {@link peersPushedTo} reads of a region's options. */
interface CarryingRegion {
    readonly region: string;
    readonly regions: readonly string[];
    readonly externalSecrets: { readonly namespace: string };
    readonly replicatedSecrets: readonly CarriedSecret[];
}

/** The peers a region pushes a secret to (those it is the home of), by PushSecret. */
function peersPushedTo(options: CarryingRegion): string[] {
    const secrets = carriedSecrets(options);
    return peersOf(options.region, options.regions).filter(
        (peer) => remoteKeysPushed(secrets, options.region, peer, options.regions).length > 0,
    );
}

/** Every region's backend, by region: this region's own, and each peer's (the self-hosted Vault unless its stack says otherwise). */
function regionBackends(options: ResolvedRegionOptions, peerBackends: readonly PeerBackend[]): Map<string, ResolvedBackend> {
    return new Map(
        options.regions.map((region): [string, ResolvedBackend] => [
            region,
            region === options.region ? options.backend : (peerBackends.find((p) => p.peer === region)?.backend ?? { type: "vault" }),
        ]),
    );
}

/**
 * A secret every region writes needs the replicator, which writes into every region's Vault through
 * its KV v2 API: no region may have a managed backend. This region's own backend is a rule of its
 * options; a peer's is known only from the peer's stack.
 * @throws pulumi.InputPropertiesError naming each such secret and the peers in the way
 */
function checkWriters(options: ResolvedRegionOptions, backends: ReadonlyMap<string, ResolvedBackend>): void {
    const managed = [...backends].filter(([region, backend]) => region !== options.region && backend.type !== "vault");
    if (managed.length === 0) {
        return;
    }
    const errors = options.replicatedSecrets.flatMap((secret, i) =>
        writersOf(secret) === "any"
            ? [
                  {
                      propertyPath: `replicatedSecrets[${i}].writers`,
                      reason: `is any${secret.writers === undefined ? " (the default for a vault-written secret)" : ""} for ${secret.namespace}/${secret.name}, but ${managed.map(([region, backend]) => `${region}'s backend is ${backend.type}`).join(", ")}: the replicators write only into self-hosted Vaults. Set writers: home for it in every region's stack`,
                  },
              ]
            : [],
    );
    if (errors.length > 0) {
        refuseArgs("VaultRegion", errors);
    }
}

/**
 * An HCP peer lets a writer's ESO in only by its service-account token, on the JWT mount it creates
 * for that writer once the writer publishes its cluster identity, which a region with `peerAuth: token`
 * never does; nor does HCP issue peer tokens. So a region that pushes to an HCP peer needs JWT peer
 * auth. The HCP region's own options refuse token there; a writer's peers are known only from their stacks.
 * @throws pulumi.InputPropertiesError at `peerAuth`, naming the HCP peers this region pushes to
 */
function checkPeerAuth(options: ResolvedRegionOptions, backends: ReadonlyMap<string, ResolvedBackend>): void {
    const hcpPeers = peersPushedTo(options).filter((peer) => backends.get(peer)?.type === "hcp-vault");
    if (options.peerAuth !== "token" || hcpPeers.length === 0) {
        return;
    }
    const reason = `is token, but this region pushes to ${hcpPeers.join(", ")}, whose backend is hcp-vault: an HCP cluster lets a writer's ESO in only with its service-account token (JWT), for a cluster identity a token-auth region never publishes, and issues no peer token. Set peerAuth: jwt (with serviceAccountIssuer) in this region's stack`;
    refuseArgs("VaultRegion", [{ propertyPath: "peerAuth", reason }]);
}

/** The Secret with the CA of the Vault's certificate, when TLS is on. */
function caSecretOf(options: ResolvedRegionOptions, server: VaultServer) {
    const tls = server.settings.tls;
    return tls.enabled ? { name: tls.secretName, namespace: options.vault.namespace, key: "ca.crt" } : undefined;
}

/** The paths of the secrets every region writes (`writers: any`), which the replicators carry. */
function anyWriterKeys(options: ResolvedRegionOptions): string[] {
    return options.replicatedSecrets.filter((secret) => writersOf(secret) === "any").map(remoteKeyOf);
}

/**
 * What other stacks say about the peers must name peers, each once: a store for the region itself, or
 * for a region that is not a peer, would push where nothing reads.
 * @throws pulumi.InputPropertiesError naming each wrong entry
 */
function checkPeers(
    region: string,
    peers: readonly string[],
    given: Readonly<Record<"peerEndpoints" | "peerIdentities" | "peerBackends", readonly { readonly peer: string }[]>>,
): void {
    const errors: { propertyPath: string; reason: string }[] = [];
    for (const [property, entries] of Object.entries(given)) {
        entries.forEach((entry, i) => {
            if (!peers.includes(entry.peer)) {
                errors.push({
                    propertyPath: `${property}[${i}].peer`,
                    reason: `is ${entry.peer}, which is not a peer of ${region} (peers: ${peers.join(", ") || "none"})`,
                });
            } else if (entries.findIndex((other) => other.peer === entry.peer) !== i) {
                errors.push({ propertyPath: `${property}[${i}].peer`, reason: `is ${entry.peer}, which an earlier entry names already` });
            }
        });
    }
    if (errors.length > 0) {
        refuseArgs("VaultRegion", errors);
    }
}
