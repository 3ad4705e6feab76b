import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { ExternalSecretsOperator } from "../eso/externalSecretsOperator";
import { EXTERNAL_SECRETS_SERVICE_ACCOUNT, type ExternalSecretsOptions, resolveExternalSecretsOptions } from "../eso/operatorValues";
import type { MonitoringOptions } from "../monitoring/monitoringSpecs";
import { PeerAccess } from "../vault-config/peerAccess";
import { type InitialValueArgs, ReplicatedSecret } from "../replication/replicatedSecret";
import { REPLICATION_DEFAULTS, type ReplicatedSecretSpec, passwordGenerator, passwordGeneratorName } from "../replication/replicationSpecs";
import { RaftSnapshots } from "../snapshots/raftSnapshots";
import type { RaftSnapshotOptions } from "../snapshots/snapshotSpecs";
import { inClusterVaultAddress, namespaceGrantLabels } from "../stores/storeSpecs";
import { LocalStore, PeerStore } from "../stores/secretStores";
import { peersOf, vaultAddress, vaultHost } from "../common/topology";
import { isDnsLabel, isDnsSubdomain, isKvMount } from "../common/predicates";
import { VaultServer } from "../vault-server/vaultServer";
import { type VaultServerOptions, resolveVaultServerOptions, vaultScheme } from "../vault-server/serverValues";
import { VaultMonitoring } from "../monitoring/vaultMonitoring";
import { VaultSetup } from "../vault-config/vaultSetup";
import {
    type AuditDevice,
    DEFAULT_KV_MOUNT,
    EXTERNAL_SECRETS_AUDIENCE,
    KUBERNETES_AUTH_PATH,
    type PeerIdentity,
    externalSecretsRole,
} from "../vault-config/setupValues";

/** What one region needs to push into another region's Vault; the other region's stack exports it. */
export interface PeerEndpoint {
    /** The region that granted the access. */
    readonly peer: string;
    /** Its Vault's public address. */
    readonly address: string;
    /** PEM of the CA that signs its certificate; empty for the system's CAs. */
    readonly caCert: string;
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
    { address: string; caCert: string; token: string } | { address: string; caCert: string; jwt: { path: string; role: string; audience: string } }
>;

/** A peer's cluster identity, which this region's Vault trusts for that peer's ESO (JWT peer auth). */
export interface PeerClusterIdentity {
    readonly peer: string;
    readonly identity: PeerIdentity;
}

export interface VaultRegionArgs {
    /** This region's name, a DNS label; its Vault is served at `vault.<region>.<domain>`. */
    readonly region: string;
    /** Every region of the platform, this one included. The others are this region's peers. */
    readonly regions: readonly string[];
    /** The platform's base domain, e.g. `example.com`. */
    readonly domain: string;
    /** The Vault servers; the host is derived from `region` and `domain`. */
    readonly vault?: Omit<VaultServerOptions, "host">;
    /**
     * The External Secrets Operator. With `install: false` the cluster must already run ESO (chart
     * 2.x, CRDs at `external-secrets.io/v1`) in `namespace`. Default: installed.
     */
    readonly externalSecrets?: ExternalSecretsOptions & { readonly install?: boolean };
    /** Path of the KV v2 engine, the same in every region. Default `secret`. */
    readonly kvMount?: string;
    /**
     * The region's Vault provider, authenticated as an admin. Give it once the Vault is initialized
     * and unsealed: the component then configures Vault (mount, auth, policies, role), issues a token
     * for each peer and creates the `vault-local` store. Without it, only the servers and ESO are
     * deployed.
     */
    readonly vaultAdmin?: vault.Provider;
    /** PEM of the CA that signs this Vault's certificate, passed on to the peers. Default: none (system CAs). */
    readonly vaultCaCert?: string;
    /** The peers that have issued this region a token: one store per peer pushes into its Vault. */
    readonly peerEndpoints?: readonly PeerEndpoint[];
    /** Secrets kept the same in every region; each region stack passes the same list. */
    readonly replicatedSecrets?: readonly (ReplicatedSecretSpec & { readonly initialValue?: InitialValueArgs })[];
    /** Audit devices enabled in this region's Vault. Default both: a file on the audit volume and stdout. */
    readonly auditDevices?: readonly AuditDevice[];
    /** Scheduled Raft snapshots. Default: hourly, 48 kept, on a new 10Gi volume. */
    readonly snapshots?: RaftSnapshotOptions;
    /**
     * How peers' ESOs log in to this Vault: `token` (an orphan periodic token per peer, the seed's
     * way; the default) or `jwt` (a JWT auth mount per peer that checks the peer cluster's
     * service-account tokens: nothing secret crosses between stacks). Every region uses the same.
     */
    readonly peerAuth?: "token" | "jwt";
    /** With `peerAuth: jwt`: the peers whose cluster identity is known; each gets a JWT mount. */
    readonly peerIdentities?: readonly PeerClusterIdentity[];
    /** Telemetry, ServiceMonitors and alerts. Default: Vault telemetry on, scraped with a token; no ServiceMonitor or rules. */
    readonly monitoring?: MonitoringOptions;
}

/**
 * Everything one region runs for the platform's secrets: its Vault HA cluster and the External
 * Secrets Operator that delivers secrets to workloads.
 *
 * Pass the region cluster's Kubernetes provider in `opts.providers`.
 */
export class VaultRegion extends pulumi.ComponentResource {
    /** This region's name. */
    public readonly region: string;
    /** The other regions. */
    public readonly peers: string[];
    /** Public address of this region's Vault, `https://vault.<region>.<domain>`. */
    public readonly vaultAddress: string;
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
    /** Per peer, what it needs to push here (a secret); empty until this Vault is configured. */
    public readonly issuedPeerAccess: pulumi.Output<IssuedPeerAccess>;
    /** The peers this region pushes to (those whose stacks have issued it a token). */
    public readonly connectedPeers: string[];

    constructor(name: string, args: VaultRegionArgs, opts?: pulumi.ComponentResourceOptions) {
        // Resolve and check everything before the component is registered: nothing half-created.
        checkRegionArgs(args);
        const { install = true, ...operatorArgs } = args.externalSecrets ?? {};
        const vaultArgs = { ...args.vault, host: vaultHost(args.region, args.domain), ...(args.monitoring === undefined ? {} : { monitoring: args.monitoring }) };
        const vaultOptions = resolveVaultServerOptions(vaultArgs);
        const operatorOptions = resolveExternalSecretsOptions(operatorArgs);
        if (vaultOptions.namespace === operatorOptions.namespace) {
            throw new Error(`VaultRegion: Vault and the External Secrets Operator need their own namespaces, both are ${JSON.stringify(vaultOptions.namespace)}`);
        }
        const kvMount = args.kvMount ?? DEFAULT_KV_MOUNT;
        super("openova:vault:VaultRegion", name, {}, opts);

        this.region = args.region;
        this.peers = peersOf(args.region, args.regions);
        this.vaultAddress = vaultAddress(args.region, args.domain);
        this.vault = new VaultServer(`${name}-vault`, { ...vaultArgs, externalSecretsNamespace: operatorOptions.namespace }, { parent: this });
        if (install) {
            this.externalSecrets = new ExternalSecretsOperator(`${name}-external-secrets`, { ...operatorOptions, monitoring: vaultOptions.monitoring }, { parent: this });
            this.externalSecretsNamespace = this.externalSecrets.namespace;
        } else {
            this.externalSecretsNamespace = pulumi.output(operatorOptions.namespace);
        }
        // ESO objects wait for the chart (its CRDs and webhook) when this component installs it.
        const afterOperator = this.externalSecrets ? [this.externalSecrets] : [];
        const serviceAccount = { name: EXTERNAL_SECRETS_SERVICE_ACCOUNT, namespace: operatorOptions.namespace };

        const tls = vaultOptions.tls;
        const caSecret = tls.enabled ? { name: tls.secretName, namespace: vaultOptions.namespace, key: "ca.crt" } : undefined;
        const peerAuth = args.peerAuth ?? "token";
        const accesses: PeerAccess[] = [];
        let localStore: LocalStore | undefined;
        if (args.vaultAdmin !== undefined) {
            const setup = new VaultSetup(
                `${name}-setup`,
                {
                    provider: args.vaultAdmin,
                    kvMount,
                    externalSecrets: { serviceAccount: serviceAccount.name, namespace: serviceAccount.namespace },
                    auditDevices: args.auditDevices,
                },
                { parent: this, dependsOn: [this.vault] },
            );
            this.setup = setup;
            if (peerAuth === "token") {
                for (const peer of this.peers) {
                    accesses.push(new PeerAccess(`${name}-peer-${peer}`, { provider: args.vaultAdmin, region: args.region, peer, pushPolicy: setup.pushPolicy }, { parent: this }));
                }
            } else {
                for (const { peer, identity } of args.peerIdentities ?? []) {
                    accesses.push(
                        new PeerAccess(
                            `${name}-peer-${peer}`,
                            { provider: args.vaultAdmin, region: args.region, peer, pushPolicy: setup.pushPolicy, auth: { kind: "jwt", identity, audience: this.vaultAddress } },
                            { parent: this },
                        ),
                    );
                }
            }
            localStore = new LocalStore(
                `${name}-store-local`,
                {
                    region: args.region,
                    vaultNamespace: vaultOptions.namespace,
                    kvMount,
                    authPath: KUBERNETES_AUTH_PATH,
                    roles: { read: externalSecretsRole(serviceAccount, "pull").roleName, push: externalSecretsRole(serviceAccount, "push").roleName },
                    serviceAccount,
                    audience: EXTERNAL_SECRETS_AUDIENCE,
                    ...(caSecret ? { caSecret } : {}),
                },
                { parent: this, dependsOn: [...afterOperator, setup] },
            );
        }
        // The snapshots' claim from the first run on; the job and its Vault role once the Vault is configured.
        this.snapshots = new RaftSnapshots(
            `${name}-snapshots`,
            {
                ...(args.vaultAdmin !== undefined && this.setup !== undefined ? { provider: args.vaultAdmin, authPath: this.setup.authPath } : {}),
                namespace: vaultOptions.namespace,
                imageTag: vaultOptions.imageTag,
                vaultAddress: inClusterVaultAddress(vaultOptions.namespace, vaultScheme(tls)),
                ...(caSecret ? { caSecret: { name: caSecret.name, key: caSecret.key } } : {}),
                options: args.snapshots ?? {},
            },
            { parent: this, dependsOn: this.setup ? [this.vault, this.setup] : [this.vault] },
        );
        this.monitoring = new VaultMonitoring(
            `${name}-monitoring`,
            {
                region: args.region,
                namespace: vaultOptions.namespace,
                externalSecretsNamespace: operatorOptions.namespace,
                monitoring: vaultOptions.monitoring,
                ...(args.vaultAdmin !== undefined ? { provider: args.vaultAdmin } : {}),
            },
            { parent: this, dependsOn: this.setup ? [this.vault, this.setup] : [this.vault] },
        );
        const address = this.vaultAddress;
        const caCert = args.vaultCaCert ?? "";
        const granted = pulumi.all(accesses.map((access) => access.credentials)).apply((all): IssuedPeerAccess => {
            const entries = accesses.map((access, i) => {
                const credentials = all[i];
                const entry =
                    credentials.kind === "token"
                        ? { address, caCert, token: credentials.token }
                        : { address, caCert, jwt: { path: credentials.path, role: credentials.role, audience: credentials.audience } };
                return [access.peer, entry] as const;
            });
            return Object.fromEntries(entries);
        });
        // Tokens are secrets; JWT access is only where to log in, and stays readable in the stack's outputs.
        this.issuedPeerAccess = peerAuth === "token" ? pulumi.secret(granted) : granted;

        const stores: pulumi.Resource[] = [];
        this.connectedPeers = [];
        for (const endpoint of args.peerEndpoints ?? []) {
            const auth = endpoint.jwt === undefined ? { kind: "token" as const } : { kind: "jwt" as const, ...endpoint.jwt, serviceAccount };
            const store = new PeerStore(
                `${name}-store-${endpoint.peer}`,
                {
                    peer: endpoint.peer,
                    address: endpoint.address,
                    caCert: endpoint.caCert,
                    kvMount,
                    namespace: operatorOptions.namespace,
                    auth,
                    ...(endpoint.token === undefined ? {} : { token: endpoint.token }),
                },
                { parent: this, dependsOn: afterOperator },
            );
            stores.push(store);
            this.connectedPeers.push(endpoint.peer);
        }

        // The namespaces of the replicated secrets may use the stores: every one may read from this
        // region's Vault, and those whose secrets this region pushes (their home) may write. ESO's own
        // namespace may do both (the bootstrap's canary runs there; whoever can create objects there
        // can already read the peer tokens in it).
        const namespaces = new Map<string, boolean>([[operatorOptions.namespace, true]]);
        for (const secret of args.replicatedSecrets ?? []) {
            namespaces.set(secret.namespace, (namespaces.get(secret.namespace) ?? false) || secret.home === args.region);
        }
        const grants: pulumi.Resource[] = [...namespaces].map(
            ([namespace, writes]) =>
                new k8s.core.v1.NamespacePatch(
                    `${name}-namespace-${namespace}`,
                    { metadata: { name: namespace, labels: namespaceGrantLabels(writes) } },
                    // ESO's namespace exists once the operator's component has created it.
                    { parent: this, dependsOn: namespace === operatorOptions.namespace ? afterOperator : [] },
                ),
        );

        // Generated first values: one Password generator per namespace and length, shared by the
        // secrets this region creates (a generator is a recipe; each use makes a new value).
        const generators = new Map<string, pulumi.Resource>();
        const generatorFor = (namespace: string, length: number): pulumi.Resource => {
            const key = `${namespace}/${length}`;
            const existing = generators.get(key);
            if (existing !== undefined) {
                return existing;
            }
            const generator = new k8s.apiextensions.CustomResource(`${name}-generator-${namespace}-${length}`, { ...passwordGenerator(namespace, length) }, {
                    parent: this,
                    dependsOn: afterOperator,
                });
            generators.set(key, generator);
            return generator;
        };
        const storesReady = [...afterOperator, ...stores, ...grants, ...(localStore ? [localStore] : [])];
        for (const secret of args.replicatedSecrets ?? []) {
            const initial = secret.initialValue;
            // Only once this region's Vault is configured: the first value is written through `vault-local`.
            const generate = initial !== undefined && "generate" in initial && secret.home === args.region && localStore !== undefined ? initial.generate : undefined;
            const length = generate?.length ?? REPLICATION_DEFAULTS.generatedLength;
            new ReplicatedSecret(
                `${name}-secret-${secret.namespace}-${secret.name}`,
                {
                    ...secret,
                    region: args.region,
                    regions: args.regions,
                    reachableRegions: [...(localStore ? [args.region] : []), ...this.connectedPeers],
                    // A generator the caller names is used as it is; otherwise the region's shared one.
                    ...(generate && generate.generatorName === undefined ? { initialValue: { generate: { ...generate, generatorName: passwordGeneratorName(length) } } } : {}),
                },
                { parent: this, dependsOn: generate && generate.generatorName === undefined ? [...storesReady, generatorFor(secret.namespace, length)] : storesReady },
            );
        }

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
}

function checkRegionArgs(args: VaultRegionArgs): void {
    const problems: string[] = [];
    if (!isDnsLabel(args.region)) {
        problems.push(`region ${JSON.stringify(args.region)} is not a DNS label`);
    }
    if (!args.regions.includes(args.region)) {
        problems.push(`region ${JSON.stringify(args.region)} is not one of regions ${JSON.stringify(args.regions)}`);
    }
    if (!isDnsSubdomain(args.domain)) {
        problems.push(`domain ${JSON.stringify(args.domain)} is not a DNS name`);
    }
    if (args.kvMount !== undefined && !isKvMount(args.kvMount)) {
        problems.push(`kvMount ${JSON.stringify(args.kvMount)} is not a mount path of lowercase letters, digits, '-' and '_'`);
    }
    if (args.vaultAdmin !== undefined && !(args.vaultAdmin instanceof vault.Provider)) {
        problems.push("vaultAdmin must be a vault.Provider");
    }
    const peers = peersOf(args.region, args.regions);
    const endpoints = (args.peerEndpoints ?? []).map((endpoint) => endpoint.peer);
    for (const peer of endpoints) {
        if (!peers.includes(peer)) {
            problems.push(`peerEndpoints names ${JSON.stringify(peer)}, which is not a peer of ${JSON.stringify(args.region)} (peers: ${peers.join(", ") || "none"})`);
        }
    }
    for (const secret of args.replicatedSecrets ?? []) {
        if (!args.regions.includes(secret.home)) {
            problems.push(`replicated secret ${secret.namespace}/${secret.name} has home ${JSON.stringify(secret.home)}, which is not one of regions ${JSON.stringify(args.regions)}`);
        }
    }
    if (new Set(endpoints).size !== endpoints.length) {
        problems.push(`peerEndpoints names a peer more than once: ${endpoints.join(", ")}`);
    }
    if (problems.length > 0) {
        throw new Error(`VaultRegion: ${problems.join("; ")}`);
    }
}
