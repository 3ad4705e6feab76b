import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { ExternalSecretsOperator } from "./externalSecretsOperator";
import { EXTERNAL_SECRETS_SERVICE_ACCOUNT, type ExternalSecretsOptions, resolveExternalSecretsOptions } from "./externalSecretsValues";
import { PeerAccess } from "./peerAccess";
import { type InitialValueArgs, ReplicatedSecret } from "./replicatedSecret";
import { REPLICATION_DEFAULTS, type ReplicatedSecretSpec, passwordGenerator, passwordGeneratorName } from "./replicatedSecretSpecs";
import { LocalStore, PeerStore } from "./secretStores";
import { peersOf, vaultAddress, vaultHost } from "./topology";
import { isDnsLabel, isDnsSubdomain, isKvMount } from "./validation";
import { VaultServer } from "./vaultServer";
import { type VaultServerOptions, resolveVaultServerOptions } from "./vaultServerValues";
import { VaultSetup } from "./vaultSetup";
import { DEFAULT_KV_MOUNT, EXTERNAL_SECRETS_AUDIENCE, KUBERNETES_AUTH_PATH, externalSecretsRole } from "./vaultSetupValues";

/** What one region needs to push into another region's Vault; the other region's stack exports it. */
export interface PeerEndpoint {
    /** The region that issued the token. */
    readonly peer: string;
    /** Its Vault's public address. */
    readonly address: string;
    /** PEM of the CA that signs its certificate; empty for the system's CAs. */
    readonly caCert: string;
    /** The token it issued for this region (a secret). */
    readonly token: pulumi.Input<string>;
}

/** What this region gives each peer: its address, its CA and the token it issued for that peer. */
export type IssuedPeerAccess = Record<string, { address: string; caCert: string; token: string }>;

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
    /** Per peer, what it needs to push here (a secret); empty until this Vault is configured. */
    public readonly issuedPeerAccess: pulumi.Output<IssuedPeerAccess>;
    /** The peers this region pushes to (those whose stacks have issued it a token). */
    public readonly connectedPeers: string[];

    constructor(name: string, args: VaultRegionArgs, opts?: pulumi.ComponentResourceOptions) {
        // Resolve and check everything before the component is registered: nothing half-created.
        checkRegionArgs(args);
        const { install = true, ...operatorArgs } = args.externalSecrets ?? {};
        const vaultOptions = resolveVaultServerOptions({ ...args.vault, host: vaultHost(args.region, args.domain) });
        const operatorOptions = resolveExternalSecretsOptions(operatorArgs);
        if (vaultOptions.namespace === operatorOptions.namespace) {
            throw new Error(`VaultRegion: Vault and the External Secrets Operator need their own namespaces, both are ${JSON.stringify(vaultOptions.namespace)}`);
        }
        const kvMount = args.kvMount ?? DEFAULT_KV_MOUNT;
        super("openova:vault:VaultRegion", name, {}, opts);

        this.region = args.region;
        this.peers = peersOf(args.region, args.regions);
        this.vaultAddress = vaultAddress(args.region, args.domain);
        this.vault = new VaultServer(`${name}-vault`, vaultOptions, { parent: this });
        if (install) {
            this.externalSecrets = new ExternalSecretsOperator(`${name}-external-secrets`, operatorOptions, { parent: this });
            this.externalSecretsNamespace = this.externalSecrets.namespace;
        } else {
            this.externalSecretsNamespace = pulumi.output(operatorOptions.namespace);
        }
        // ESO objects wait for the chart (its CRDs and webhook) when this component installs it.
        const afterOperator = this.externalSecrets ? [this.externalSecrets] : [];
        const serviceAccount = { name: EXTERNAL_SECRETS_SERVICE_ACCOUNT, namespace: operatorOptions.namespace };

        const tokens: PeerAccess[] = [];
        let localStore: LocalStore | undefined;
        if (args.vaultAdmin !== undefined) {
            const setup = new VaultSetup(
                `${name}-setup`,
                { provider: args.vaultAdmin, kvMount, externalSecrets: { serviceAccount: serviceAccount.name, namespace: serviceAccount.namespace } },
                { parent: this, dependsOn: [this.vault] },
            );
            this.setup = setup;
            for (const peer of this.peers) {
                tokens.push(new PeerAccess(`${name}-peer-${peer}`, { provider: args.vaultAdmin, region: args.region, peer, pushPolicy: setup.pushPolicy }, { parent: this }));
            }
            localStore = new LocalStore(
                `${name}-store-local`,
                {
                    region: args.region,
                    vaultNamespace: vaultOptions.namespace,
                    kvMount,
                    authPath: KUBERNETES_AUTH_PATH,
                    role: externalSecretsRole(serviceAccount).roleName,
                    serviceAccount,
                    audience: EXTERNAL_SECRETS_AUDIENCE,
                },
                { parent: this, dependsOn: [...afterOperator, setup] },
            );
        }
        const address = this.vaultAddress;
        const caCert = args.vaultCaCert ?? "";
        this.issuedPeerAccess = pulumi.secret(
            pulumi
                .all(tokens.map((access) => access.token))
                .apply((values) => Object.fromEntries(tokens.map((access, i) => [access.peer, { address, caCert, token: values[i] }]))),
        );

        const stores: pulumi.Resource[] = [];
        this.connectedPeers = [];
        for (const endpoint of args.peerEndpoints ?? []) {
            const store = new PeerStore(
                `${name}-store-${endpoint.peer}`,
                { peer: endpoint.peer, address: endpoint.address, caCert: endpoint.caCert, kvMount, namespace: operatorOptions.namespace, token: endpoint.token },
                { parent: this, dependsOn: afterOperator },
            );
            stores.push(store);
            this.connectedPeers.push(endpoint.peer);
        }

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
        const storesReady = [...afterOperator, ...stores, ...(localStore ? [localStore] : [])];
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
