import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type * as vault from "@pulumi/vault";
import { parseOptions } from "../common/options";
import { peersOf, vaultHost } from "../common/topology";
import { ExternalSecretsOperator } from "../eso/externalSecretsOperator";
import { projectLabels } from "../common/labels";
import { EXTERNAL_SECRETS_SERVICE_ACCOUNT } from "../eso/operatorValues";
import { VaultMonitoring } from "../monitoring/vaultMonitoring";
import { ReplicatedSecret } from "../replication/replicatedSecret";
import {
    INITIAL_VALUE_DEFAULTS,
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
};

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
    /** Public address of this region's Vault, `https://vault.<region>.<domain>`. */
    public readonly vaultAddress: pulumi.Output<string>;
    /** The Vault servers. */
    public readonly vault: VaultServer;
    /** The operator, when this component installs it. */
    public readonly externalSecrets?: ExternalSecretsOperator;
    /** Namespace ESO runs in (installed here or already present). */
    public readonly externalSecretsNamespace: pulumi.Output<string>;
    /** This region's Vault configuration, once {@link VaultRegionArgs.vaultAdmin} is given. */
    public readonly setup?: VaultSetup;
    /** The scheduled Raft snapshots: their claim always, the job once the Vault is configured (unless turned off). */
    public readonly snapshots: RaftSnapshots;
    /** The alerts and the metrics token, as configured. */
    public readonly monitoring: VaultMonitoring;
    /** The renewer of this region's long-lived tokens (peer tokens, the metrics token), when it issues any. */
    public readonly tokenRenewer?: TokenRenewer;
    /** Per peer, what it needs to push here (a secret with token peer auth); empty until this Vault is configured. */
    public readonly issuedPeerAccess: pulumi.Output<IssuedPeerAccess>;
    /** The peers this region pushes to (those whose stacks have granted it access). */
    public readonly connectedPeers: string[];
    /** The replicator, when a secret has every region as a writer and this region's Vault is configured. */
    public readonly replicator?: Replicator;
    /** The admission policies that keep each namespace to its own secrets through the shared stores. */
    public readonly storeAdmission: StoreAdmission;

    constructor(name: string, args: VaultRegionArgs, opts?: pulumi.ComponentResourceOptions) {
        // Every option is checked before anything is registered: nothing half-created.
        const { vaultAdmin, vaultCaCert, peerEndpoints = [], peerIdentities = [], ...given } = args;
        const options = parseOptions("VaultRegion", regionOptions, given);
        checkPeers(options.region, peersOf(options.region, options.regions), { peerEndpoints, peerIdentities });
        super("openova:vault:VaultRegion", name, {}, opts);
        const { region, regions, vault: vaultOptions, externalSecrets: eso, monitoring, engine } = options;
        const { auditDevices, snapshots, ...server } = vaultOptions;
        this.region = region;
        this.peers = peersOf(region, regions);
        const host = pulumi.output(options.domain).apply((domain) => vaultHost(region, domain));
        this.vaultAddress = host.apply((h) => `https://${h}`);

        // The servers and the operator: on every run, from the first.
        this.vault = new VaultServer(
            `${name}-vault`,
            { ...server, host, monitoring, externalSecretsNamespace: eso.namespace, engine, auditDevices },
            { parent: this },
        );
        const { install, ...operator } = eso;
        this.externalSecrets = install
            ? new ExternalSecretsOperator(`${name}-external-secrets`, { ...operator, monitoring }, { parent: this })
            : undefined;
        this.externalSecretsNamespace = this.externalSecrets?.namespace ?? pulumi.output(eso.namespace);
        const afterOperator = this.externalSecrets ? [this.externalSecrets] : [];

        // Vault's own configuration, the access it grants its peers and the local stores: once it is initialized.
        this.setup =
            vaultAdmin &&
            new VaultSetup(
                `${name}-setup`,
                { provider: vaultAdmin, kvMount: options.kvMount, auditDevices, engine },
                { parent: this, dependsOn: [this.vault] },
            );
        const accesses = this.setup && vaultAdmin ? this.grantPeers(name, options, vaultAdmin, this.setup, peerIdentities) : [];
        this.issuedPeerAccess = this.publish(accesses, options.peerAuth, vaultCaCert ?? "");
        const localStore =
            this.setup &&
            new LocalStore(`${name}-store-local`, this.localStoreArgs(options), {
                parent: this,
                dependsOn: [...afterOperator, this.setup],
            });

        // Backups and monitoring.
        const afterVault = this.setup ? [this.vault, this.setup] : [this.vault];
        this.snapshots = new RaftSnapshots(`${name}-snapshots`, this.snapshotArgs(options, snapshots, vaultAdmin), {
            parent: this,
            dependsOn: afterVault,
        });
        this.monitoring = new VaultMonitoring(
            `${name}-monitoring`,
            {
                region,
                namespace: server.namespace,
                externalSecretsNamespace: eso.namespace,
                monitoring,
                engine,
                ...(vaultAdmin ? { provider: vaultAdmin } : {}),
                ...(this.snapshots.schedule === undefined
                    ? {}
                    : {
                          snapshots: {
                              schedule: this.snapshots.schedule,
                              ...(this.snapshots.offsite === undefined ? {} : { offsite: this.snapshots.offsite.location }),
                          },
                      }),
            },
            { parent: this, dependsOn: afterVault },
        );

        // Every long-lived token this Vault issued, renewed in the cluster: none waits for a person or a CI schedule.
        this.tokenRenewer = this.renewTokens(name, options, vaultAdmin, accesses, afterVault);

        // The peers' Vaults, and the secrets replicated through them. The admission policies come first, so
        // that no peer store is ever usable without them.
        this.storeAdmission = new StoreAdmission(
            `${name}-store-admission`,
            { peers: this.peers, kvMount: options.kvMount },
            { parent: this, dependsOn: afterOperator },
        );
        const peerStores = peerEndpoints.map((endpoint) =>
            this.peerStore(name, options, endpoint, [...afterOperator, this.storeAdmission]),
        );
        this.connectedPeers = peerEndpoints.map((endpoint) => endpoint.peer);
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
        );

        this.registerOutputs({
            region: this.region,
            peers: this.peers,
            vaultAddress: this.vaultAddress,
            vaultNamespace: this.vault.namespace,
            externalSecretsNamespace: this.externalSecretsNamespace,
            issuedPeerAccess: this.issuedPeerAccess,
            connectedPeers: this.connectedPeers,
        });
    }

    /** The token renewer, when this region's Vault issued a long-lived token (a peer token, the metrics token). */
    private renewTokens(
        name: string,
        options: ResolvedRegionOptions,
        provider: vault.Provider | undefined,
        accesses: readonly PeerAccess[],
        dependsOn: pulumi.Resource[],
    ): TokenRenewer | undefined {
        const tokens = [
            ...accesses.flatMap((access) =>
                access.tokenAccessor === undefined ? [] : [{ name: peerTokenName(access.peer), accessor: access.tokenAccessor }],
            ),
            ...(this.monitoring.metricsTokenAccessor === undefined
                ? []
                : [{ name: METRICS_TOKEN_NAME, accessor: this.monitoring.metricsTokenAccessor }]),
        ];
        if (provider === undefined || this.setup === undefined || tokens.length === 0) {
            return undefined;
        }
        const caSecret = this.caSecret(options);
        return new TokenRenewer(
            `${name}-token-renewer`,
            {
                provider,
                namespace: options.vault.namespace,
                authPath: this.setup.authPath,
                imageTag: this.vault.settings.imageTag,
                vaultAddress: inClusterVaultAddress(options.vault.namespace, vaultScheme(this.vault.settings.tls), options.engine),
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
        identities: readonly PeerClusterIdentity[],
    ): PeerAccess[] {
        // What each peer pushes here: the secrets it is the home of, and the bootstrap's canary if it is its home.
        const secrets = [...options.replicatedSecrets, replicationCanary(options.externalSecrets.namespace, options.regions)].map(
            (secret) => ({
                ...secret,
                home: secret.home ?? options.regions[0],
            }),
        );
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
                        ? { auth, replicatorKeys: anyWriterKeys(options) }
                        : { generation: Object.hasOwn(options.peerTokenGenerations, peer) ? options.peerTokenGenerations[peer] : 1 }),
                },
                // After the servers, as all of Vault's configuration (the mount's output alone orders only the policy).
                { parent: this, dependsOn: [this.vault] },
            );
        return options.peerAuth === "token"
            ? this.peers.map((peer) => grant(peer))
            : identities.map(({ peer, identity }) => grant(peer, { kind: "jwt", identity, audience: this.vaultAddress }));
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
                vaultAddress: inClusterVaultAddress(options.vault.namespace, vaultScheme(this.vault.settings.tls)),
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
    private publish(accesses: readonly PeerAccess[], peerAuth: string, caCert: pulumi.Input<string>): pulumi.Output<IssuedPeerAccess> {
        const granted = pulumi
            .all([this.vaultAddress, caCert, pulumi.all(accesses.map((access) => access.credentials))])
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

    private caSecret(options: ResolvedRegionOptions) {
        const tls = this.vault.settings.tls;
        return tls.enabled ? { name: tls.secretName, namespace: options.vault.namespace, key: "ca.crt" } : undefined;
    }

    private localStoreArgs(options: ResolvedRegionOptions) {
        const caSecret = this.caSecret(options);
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
        snapshots: ResolvedRegionOptions["vault"]["snapshots"],
        provider: vault.Provider | undefined,
    ) {
        const caSecret = this.caSecret(options);
        const storageClass = snapshotStorageClass(snapshots, options.vault.storageClass);
        return {
            ...(provider && this.setup ? { provider, authPath: this.setup.authPath } : {}),
            namespace: options.vault.namespace,
            region: options.region,
            imageTag: this.vault.settings.imageTag,
            vaultAddress: inClusterVaultAddress(options.vault.namespace, vaultScheme(this.vault.settings.tls), options.engine),
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
                const accounts = POLICY_PURPOSES.filter((purpose) => purpose === "pull" || writes).map(
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
    given: Readonly<Record<"peerEndpoints" | "peerIdentities", readonly { readonly peer: string }[]>>,
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
        throw new pulumi.InputPropertiesError({
            message: `VaultRegion: ${errors.map((e) => `${e.propertyPath} ${e.reason}`).join("; ")}`,
            errors,
        });
    }
}
