/**
 * The components under Pulumi's mock runtime, in this process: what they register, with which
 * parents, providers, options and inputs.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { CRD_TYPE, retainCustomResourceDefinitions } from "../components/eso/externalSecretsOperator";
import { EXTERNAL_SECRETS_DEFAULTS, externalSecretsHelmValues, resolveExternalSecretsOptions } from "../components/eso/operatorValues";
import { ReplicatedSecret } from "../components/replication/replicatedSecret";
import { VaultRegion } from "../components/region/vaultRegion";
import { resolveVaultServerOptions, vaultHelmValues } from "../components/vault-server/serverValues";
import { EXTERNAL_SECRETS_CHART, VAULT_CHART } from "../components/common/versions";
import { startRecording, type RecordedResource, type Recording } from "../tools/synth/recorder";

let recording: Recording;
/** The first recording (regions east and west, no Vault admin), kept apart from later ones. */
let unconfigured: Recording;
let full: VaultRegion;
let withoutOperator: VaultRegion;

beforeAll(async () => {
    recording = await startRecording({ project: "openova-vault", stack: "test" });
    const cluster = new k8s.Provider("east", { context: "east-ctx" });
    full = new VaultRegion(
        "east",
        {
            region: "east",
            regions: ["east", "west"],
            domain: "example.net",
            vault: { replicas: 5, storageClass: "fast" },
            externalSecrets: { replicas: 3 },
        },
        { providers: { kubernetes: cluster } },
    );
    const other = new k8s.Provider("west", { context: "west-ctx" });
    withoutOperator = new VaultRegion(
        "west",
        { region: "west", regions: ["east", "west"], domain: "example.net", externalSecrets: { install: false, namespace: "eso" } },
        { providers: { kubernetes: other } },
    );
    // Every registration has reached the mock monitor once the runtime has drained.
    await pulumi.runtime.disconnect();
    unconfigured = recording;
});

function find(type: string, name: string): RecordedResource {
    const found = recording.resources.filter((r) => r.type === type && r.name === name);
    expect(found).toHaveLength(1);
    return found[0];
}

const urnOf = (type: string, name: string) => find(type, name).urn;

describe("VaultRegion", () => {
    it("registers the region's components and Kubernetes objects, each under its parent", () => {
        const east = recording.resources.filter((r) => r.urn.includes("::east") && !r.type.startsWith("pulumi:providers:"));
        expect(east.map((r) => `${r.type} ${r.name}`).sort()).toEqual([
            "kubernetes:cert-manager.io/v1:Certificate east-vault-certificate",
            "kubernetes:cilium.io/v2:CiliumNetworkPolicy east-vault-vault-server-from-ingress",
            "kubernetes:core/v1:Namespace east-external-secrets-namespace",
            "kubernetes:core/v1:Namespace east-vault-namespace",
            "kubernetes:core/v1:NamespacePatch east-namespace-external-secrets",
            "kubernetes:core/v1:PersistentVolumeClaim east-snapshots-claim",
            "kubernetes:helm.sh/v4:Chart east-external-secrets",
            "kubernetes:helm.sh/v4:Chart east-vault",
            "kubernetes:networking.k8s.io/v1:NetworkPolicy east-vault-vault-server",
            "openova:vault:ExternalSecretsOperator east-external-secrets",
            "openova:vault:RaftSnapshots east-snapshots",
            "openova:vault:VaultMonitoring east-monitoring",
            "openova:vault:VaultRegion east",
            "openova:vault:VaultServer east-vault",
        ]);
        const region = urnOf("openova:vault:VaultRegion", "east");
        const server = urnOf("openova:vault:VaultServer", "east-vault");
        const operator = urnOf("openova:vault:ExternalSecretsOperator", "east-external-secrets");
        expect(find("openova:vault:VaultServer", "east-vault").parent).toBe(region);
        expect(find("openova:vault:ExternalSecretsOperator", "east-external-secrets").parent).toBe(region);
        expect(find("kubernetes:helm.sh/v4:Chart", "east-vault").parent).toBe(server);
        expect(find("kubernetes:core/v1:Namespace", "east-vault-namespace").parent).toBe(server);
        expect(find("kubernetes:helm.sh/v4:Chart", "east-external-secrets").parent).toBe(operator);
    });

    it("sends every Kubernetes object to the region's own cluster provider", () => {
        const eastProvider = `${urnOf("pulumi:providers:kubernetes", "east")}::east-id`;
        const westProvider = `${urnOf("pulumi:providers:kubernetes", "west")}::west-id`;
        const kubernetes = recording.resources.filter((r) => r.type.startsWith("kubernetes:"));
        expect(kubernetes.length).toBeGreaterThan(0);
        for (const resource of kubernetes) {
            expect({ name: resource.name, provider: resource.provider }).toEqual({
                name: resource.name,
                provider: resource.name.startsWith("east") ? eastProvider : westProvider,
            });
        }
    });

    it("exposes the region's address, peers and namespaces", async () => {
        expect(full.vaultAddress).toBe("https://vault.east.example.net");
        expect(full.peers).toEqual(["west"]);
        expect(full.vault.host).toBe("vault.east.example.net");
        const namespace = await new Promise((resolve) => withoutOperator.externalSecretsNamespace.apply(resolve));
        expect(namespace).toBe("eso");
    });

    it("installs no operator when told the cluster already runs one", () => {
        expect(withoutOperator.externalSecrets).toBeUndefined();
        expect(recording.resources.filter((r) => r.name.startsWith("west") && r.type.includes("ExternalSecrets"))).toEqual([]);
    });

    it.each([
        [{ region: "north" }, 'region "north" is not one of regions'],
        [{ domain: "https://example.net" }, 'domain "https://example.net" is not a DNS name'],
        [{ vault: { namespace: "platform" }, externalSecrets: { namespace: "platform" } }, "need their own namespaces"],
        [{ vault: { replicas: 2 } }, "replicas 2 is not an odd number"],
    ])("rejects contradictory or impossible args %j before registering anything", async (override, message) => {
        const attempt = await startRecording({ project: "openova-vault", stack: "bad" });
        expect(() => new VaultRegion("bad", { region: "east", regions: ["east", "west"], domain: "example.net", ...override })).toThrow(message);
        await pulumi.runtime.disconnect();
        expect(attempt.resources).toEqual([]);
    });
});

describe("VaultServer", () => {
    it("creates its namespace and keeps it when deleted, so the Raft volumes survive", () => {
        const namespace = find("kubernetes:core/v1:Namespace", "east-vault-namespace");
        expect(namespace.inputs).toMatchObject({ apiVersion: "v1", kind: "Namespace", metadata: { name: "vault" } });
        expect(namespace.options).toEqual({ retainOnDelete: true });
    });

    it("installs the pinned hashicorp/vault chart in that namespace, with the values builder's output and no readiness wait", () => {
        const chart = find("kubernetes:helm.sh/v4:Chart", "east-vault");
        expect(chart.custom).toBe(false);
        expect(chart.dependsOn).toContain(urnOf("kubernetes:core/v1:Namespace", "east-vault-namespace"));
        expect(chart.inputs).toEqual({
            name: "vault",
            namespace: "vault",
            chart: "vault",
            version: VAULT_CHART.version,
            repositoryOpts: { repo: VAULT_CHART.repository },
            skipAwait: true,
            values: vaultHelmValues(resolveVaultServerOptions({ host: "vault.east.example.net", replicas: 5, storageClass: "fast" })),
        });
    });
});

describe("ExternalSecretsOperator", () => {
    it("installs the pinned external-secrets chart with its CRDs in its own namespace, waiting for readiness", () => {
        const chart = find("kubernetes:helm.sh/v4:Chart", "east-external-secrets");
        expect(chart.dependsOn).toContain(urnOf("kubernetes:core/v1:Namespace", "east-external-secrets-namespace"));
        expect(chart.inputs).toEqual({
            name: "external-secrets",
            namespace: EXTERNAL_SECRETS_DEFAULTS.namespace,
            chart: "external-secrets",
            version: EXTERNAL_SECRETS_CHART.version,
            repositoryOpts: { repo: EXTERNAL_SECRETS_CHART.repository },
            values: externalSecretsHelmValues(resolveExternalSecretsOptions({ replicas: 3 })),
        });
        expect(full.externalSecrets?.serviceAccountName).toBe("external-secrets");
        // The transform that keeps the CRDs on delete (tested below) rides on the chart.
        expect(chart.options).toEqual({ transforms: 1 });
    });

    it("keeps the chart's CustomResourceDefinitions on delete, and leaves every other object alone", () => {
        const crd: pulumi.ResourceTransformArgs = {
            custom: true,
            type: CRD_TYPE,
            name: "east-external-secrets:externalsecrets.external-secrets.io",
            props: { kind: "CustomResourceDefinition" },
            opts: { protect: false },
        };
        expect(retainCustomResourceDefinitions(crd)).toEqual({ props: crd.props, opts: { protect: false, retainOnDelete: true } });
        const deployment = { ...crd, type: "kubernetes:apps/v1:Deployment", props: { kind: "Deployment" } };
        expect(retainCustomResourceDefinitions(deployment)).toBeUndefined();
    });

    it("lets ESO objects depend on it: a dependent waits for the chart itself, and so for every object in it", async () => {
        // Pulumi expands a dependency on a component to its children; the chart is a remote
        // component, whose own children the engine waits for.
        recording = await startRecording({ project: "openova-vault", stack: "test2" });
        const cluster = new k8s.Provider("c", { context: "c" });
        const region = new VaultRegion("r", { region: "r", regions: ["r"], domain: "example.net" }, { providers: { kubernetes: cluster } });
        new k8s.core.v1.ConfigMap("dependent", { metadata: { name: "d", namespace: "external-secrets" } }, { provider: cluster, dependsOn: [region.externalSecrets as pulumi.Resource] });
        await pulumi.runtime.disconnect();
        expect(find("kubernetes:core/v1:ConfigMap", "dependent").dependsOn).toContain(urnOf("kubernetes:helm.sh/v4:Chart", "r-external-secrets"));
    });
});

describe("a configured region (vaultAdmin given)", () => {
    let configured: Recording;
    let region: VaultRegion;
    const peerToken = "hvs.issued-by-west";

    beforeAll(async () => {
        configured = await startRecording({
            project: "openova-vault",
            stack: "configured",
            computedOutputs: { "vault:index/token:Token": (args) => ({ clientToken: `token-for-${String((args.inputs as { displayName?: unknown }).displayName)}` }) },
        });
        const cluster = new k8s.Provider("north", { context: "north" });
        const admin = new vault.Provider("north", { address: "https://vault.north.example.net" });
        region = new VaultRegion(
            "north",
            {
                region: "north",
                regions: ["north", "south", "west"],
                domain: "example.net",
                kvMount: "kv",
                vaultAdmin: admin,
                vaultCaCert: "",
                peerEndpoints: [{ peer: "west", address: "https://vault.west.example.net", caCert: "", token: pulumi.secret(peerToken) }],
            },
            { providers: { kubernetes: cluster } },
        );
        await pulumi.runtime.disconnect();
    });

    const get = (type: string, name: string): RecordedResource => {
        const found = configured.resources.filter((r) => r.type === type && r.name === name);
        expect(found).toHaveLength(1);
        return found[0];
    };
    const isSecret = (value: unknown) =>
        typeof value === "object" && value !== null && (value as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig;

    it("configures Vault with the admin provider only: mount, Kubernetes auth, policies, role, one token per peer", () => {
        const adminRef = `${configured.resources.find((r) => r.type === "pulumi:providers:vault")?.urn}::north-id`;
        const vaultResources = configured.resources.filter((r) => r.type.startsWith("vault:"));
        expect(vaultResources.map((r) => `${r.type} ${r.name}`).sort()).toEqual([
            "vault:index/audit:Audit north-setup-audit-file",
            "vault:index/audit:Audit north-setup-audit-stdout",
            "vault:index/authBackend:AuthBackend north-setup-kubernetes",
            "vault:index/mount:Mount north-setup-kv",
            "vault:index/policy:Policy north-setup-pull",
            "vault:index/policy:Policy north-setup-push",
            "vault:index/policy:Policy north-snapshots-policy",
            "vault:index/token:Token north-peer-south-token",
            "vault:index/token:Token north-peer-west-token",
            "vault:kubernetes/authBackendConfig:AuthBackendConfig north-setup-kubernetes",
            "vault:kubernetes/authBackendRole:AuthBackendRole north-setup-external-secrets-pull",
            "vault:kubernetes/authBackendRole:AuthBackendRole north-setup-external-secrets-push",
            "vault:kubernetes/authBackendRole:AuthBackendRole north-snapshots-role",
        ]);
        for (const resource of vaultResources) {
            expect({ name: resource.name, provider: resource.provider }).toEqual({ name: resource.name, provider: adminRef });
        }
    });

    it("configures Vault only after the Vault servers: every Vault resource waits for the chart", () => {
        const chart = get("kubernetes:helm.sh/v4:Chart", "north-vault").urn;
        for (const resource of configured.resources.filter((r) => r.type.startsWith("vault:") && !r.type.includes("token"))) {
            expect({ name: resource.name, waits: resource.dependsOn.includes(chart) }).toEqual({ name: resource.name, waits: true });
        }
    });

    it("mounts KV v2 at the configured path and protects it, so no update can delete the secrets", () => {
        const mount = get("vault:index/mount:Mount", "north-setup-kv");
        expect(mount.inputs).toMatchObject({ path: "kv", type: "kv", options: { version: "2" } });
        expect(mount.options).toEqual({ protect: true });
        const push = get("vault:index/policy:Policy", "north-setup-push");
        expect(push.inputs.policy).toContain('path "kv/metadata/*"');
    });

    it("configures Kubernetes auth for a Vault inside the cluster, with no reviewer token or CA", () => {
        const config = get("vault:kubernetes/authBackendConfig:AuthBackendConfig", "north-setup-kubernetes");
        expect(config.inputs).toEqual({ backend: "kubernetes", kubernetesHost: "https://kubernetes.default.svc" });
    });

    it.each(["pull", "push"])("binds the %s role to ESO's service account with an audience, a short TTL and that one policy", (purpose) => {
        const role = get("vault:kubernetes/authBackendRole:AuthBackendRole", `north-setup-external-secrets-${purpose}`);
        expect(role.inputs).toMatchObject({
            backend: "kubernetes",
            roleName: `external-secrets-${purpose}`,
            boundServiceAccountNames: ["external-secrets"],
            boundServiceAccountNamespaces: ["external-secrets"],
            audience: "vault",
            tokenTtl: 900,
            tokenPolicies: [`external-secrets-${purpose}`],
        });
    });

    it("enables two audit devices through the Vault provider: a 0600 file on the audit volume, and stdout", () => {
        expect(get("vault:index/audit:Audit", "north-setup-audit-file").inputs).toEqual({
            path: "file",
            type: "file",
            description: expect.any(String) as unknown,
            options: { file_path: "/vault/audit/vault-audit.log", mode: "0600" },
        });
        expect(get("vault:index/audit:Audit", "north-setup-audit-stdout").inputs).toMatchObject({ type: "file", options: { file_path: "stdout" } });
    });

    it("schedules Raft snapshots with a role that can only read the snapshot endpoint, over TLS", () => {
        const role = get("vault:kubernetes/authBackendRole:AuthBackendRole", "north-snapshots-role");
        expect(role.inputs).toMatchObject({ roleName: "raft-snapshot", boundServiceAccountNames: ["vault-snapshot"], boundServiceAccountNamespaces: ["vault"], tokenPolicies: ["raft-snapshot"] });
        expect(get("vault:index/policy:Policy", "north-snapshots-policy").inputs.policy).toContain('path "sys/storage/raft/snapshot"');
        const job = JSON.stringify(get("kubernetes:batch/v1:CronJob", "north-snapshots-cronjob").inputs);
        expect(job).toContain("https://vault-active.vault.svc:8200");
        expect(job).toContain('"VAULT_CACERT"');
    });

    it("issues each peer an orphan, periodic, renewable token with the push policy only", () => {
        const token = get("vault:index/token:Token", "north-peer-south-token");
        expect(token.inputs).toMatchObject({ displayName: "peer-south", noParent: true, period: "720h", renewable: true, policies: ["external-secrets-push"] });
        expect(token.dependsOn).toContain(get("vault:index/policy:Policy", "north-setup-push").urn);
    });

    it("publishes per peer the address, CA and token, as one secret", async () => {
        const issued = await new Promise<unknown>((resolve) => region.issuedPeerAccess.apply(resolve));
        expect(issued).toEqual({
            south: { address: "https://vault.north.example.net", caCert: "", token: "token-for-peer-south" },
            west: { address: "https://vault.north.example.net", caCert: "", token: "token-for-peer-west" },
        });
        expect(await pulumi.isSecret(region.issuedPeerAccess)).toBe(true);
    });

    it.each([
        ["north-store-local", "vault-local", "pull"],
        ["north-store-local-push", "vault-local-push", "push"],
    ])("creates %s (%s) over TLS after the ESO chart and the Vault setup", (resource, storeName, purpose) => {
        const store = get("kubernetes:external-secrets.io/v1:ClusterSecretStore", resource);
        expect(store.inputs).toMatchObject({
            metadata: { name: storeName },
            spec: { provider: { vault: { server: "https://vault-active.vault.svc:8200", path: "kv", caProvider: { type: "Secret", name: "vault-server-tls", namespace: "vault", key: "ca.crt" } } } },
        });
        expect(store.dependsOn).toEqual(
            expect.arrayContaining([
                get("kubernetes:helm.sh/v4:Chart", "north-external-secrets").urn,
                get("vault:kubernetes/authBackendRole:AuthBackendRole", `north-setup-external-secrets-${purpose}`).urn,
            ]),
        );
    });

    it("creates a store and a token Secret only for peers that issued a token, the token as secret data", () => {
        const stores = configured.resources.filter((r) => r.type === "kubernetes:external-secrets.io/v1:ClusterSecretStore").map((r) => r.name);
        expect(stores.sort()).toEqual(["north-store-local", "north-store-local-push", "north-store-west"]);
        expect(region.connectedPeers).toEqual(["west"]);
        const secret = get("kubernetes:core/v1:Secret", "north-store-west-token");
        expect(secret.inputs).toMatchObject({ metadata: { name: "vault-west-token", namespace: "external-secrets" } });
        // Pulumi lifts a secret inside a map to the whole map: stringData as a whole is secret.
        expect(isSecret(secret.inputs.stringData)).toBe(true);
        expect(JSON.stringify(secret.inputs.metadata)).not.toContain(peerToken);
        const store = get("kubernetes:external-secrets.io/v1:ClusterSecretStore", "north-store-west");
        expect(secret.dependsOn).toContain(get("kubernetes:helm.sh/v4:Chart", "north-external-secrets").urn);
        expect(store.dependsOn).toContain(secret.urn);
    });

    it("registers no Vault resource, no local store and no snapshot job while the Vault is not configured, but keeps the snapshots' claim", () => {
        expect(unconfigured.resources.length).toBeGreaterThan(0);
        expect(unconfigured.resources.filter((r) => r.type.startsWith("vault:") || r.type.includes("external-secrets.io") || r.type.includes("CronJob"))).toEqual([]);
        expect(unconfigured.resources.filter((r) => r.type === "kubernetes:core/v1:PersistentVolumeClaim").map((r) => r.options)).toEqual([
            { retainOnDelete: true },
            { retainOnDelete: true },
        ]);
    });

    it.each([
        [{ peerEndpoints: [{ peer: "north", address: "https://x.example", caCert: "", token: "t" }] }, 'peerEndpoints names "north", which is not a peer'],
        [{ kvMount: "secret/sub" }, 'kvMount "secret/sub" is not a mount path'],
        [{ vaultAdmin: {} as vault.Provider }, "vaultAdmin must be a vault.Provider"],
    ])("rejects %j before registering anything", async (override, message) => {
        const attempt = await startRecording({ project: "openova-vault", stack: "bad2" });
        expect(() => new VaultRegion("bad", { region: "north", regions: ["north", "south"], domain: "example.net", ...override })).toThrow(message);
        await pulumi.runtime.disconnect();
        expect(attempt.resources).toEqual([]);
    });
});

describe("ReplicatedSecret", () => {
    let secrets: Recording;

    beforeAll(async () => {
        secrets = await startRecording({ project: "openova-vault", stack: "secrets" });
        const cluster = new k8s.Provider("c", { context: "c" });
        const spec = { name: "db", namespace: "apps", keys: ["password"], home: "home", regions: ["home", "away", "far"] } as const;
        new ReplicatedSecret("home-db", { ...spec, mode: "vault-written", region: "home", initialValue: { value: { password: "operator-value" } } }, { provider: cluster });
        new ReplicatedSecret("away-db", { ...spec, mode: "vault-written", region: "away", initialValue: { value: { password: "operator-value" } } }, { provider: cluster });
        const app = { name: "app", namespace: "apps", mode: "cluster-written", home: "home", regions: spec.regions } as const;
        new ReplicatedSecret("home-app", { ...app, region: "home" }, { provider: cluster });
        new ReplicatedSecret("away-app", { ...app, region: "away" }, { provider: cluster });
        await pulumi.runtime.disconnect();
    });

    const kindsUnder = (component: string) =>
        secrets.resources
            .filter((r) => r.urn.endsWith(`::${component}`) === false && r.name.startsWith(component) && r.custom)
            .map((r) => `${r.type.split(":").pop()}/${(r.inputs.metadata as { name: string }).name}`)
            .sort();
    const selectorOf = (name: string) =>
        secrets.resources.find((r) => r.type.endsWith(":PushSecret") && (r.inputs.metadata as { name: string }).name === name)?.inputs.spec as { secretStoreRefs: unknown };

    it("vault-written: every region pulls; only home pushes, one PushSecret per peer, and only home writes the first value", () => {
        expect(kindsUnder("home-db")).toEqual(["ExternalSecret/db", "PushSecret/db-initial", "PushSecret/db-to-away", "PushSecret/db-to-far", "Secret/db-initial"]);
        expect(kindsUnder("away-db")).toEqual(["ExternalSecret/db"]);
        expect(selectorOf("db-to-far").secretStoreRefs).toEqual([
            { kind: "ClusterSecretStore", labelSelector: { matchLabels: { "vault.openova.io/push-target": "true", "vault.openova.io/vault-region": "far" } } },
        ]);
    });

    it("cluster-written: home pushes its own Secret to every Vault (its own included) and does not pull; the others pull", () => {
        expect(kindsUnder("home-app")).toEqual(["PushSecret/app-to-away", "PushSecret/app-to-far", "PushSecret/app-to-home"]);
        expect(kindsUnder("away-app")).toEqual(["ExternalSecret/app"]);
    });

    it("keeps an operator-supplied first value secret", () => {
        const source = secrets.resources.find((r) => r.type === "kubernetes:core/v1:Secret" && r.name === "home-db-initial");
        const sig = (source?.inputs.stringData as Record<string, unknown>)[pulumi.runtime.specialSigKey];
        expect(sig).toBe(pulumi.runtime.specialSecretSig);
    });

    it.each([
        [{ keys: [] }, "keys [] must list distinct Secret keys"],
        [{ mode: "cluster-written", initialValue: { generate: { key: "password" } } }, "initialValue is for vault-written secrets"],
        [{ initialValue: { generate: { key: "user" } } }, 'initialValue.generate.key "user" is not one of keys'],
        [{ home: "elsewhere" }, 'home "elsewhere" must both be in regions ["home","away"]'],
        [{ pushInterval: "30" }, 'pushInterval "30" is not a positive duration'],
        [{ pullInterval: "0s" }, 'pullInterval "0s" is not a positive duration'],
        [{ name: `${"d".repeat(249)}` }, "is too long: its PushSecret to home would be named"],
    ] as const)("rejects %j before registering anything", async (override, message) => {
        const attempt = await startRecording({ project: "openova-vault", stack: "bad3" });
        expect(() => new ReplicatedSecret("bad", { name: "db", namespace: "apps", keys: ["password"], mode: "vault-written", home: "home", region: "home", regions: ["home", "away"], ...override })).toThrow(message);
        await pulumi.runtime.disconnect();
        expect(attempt.resources).toEqual([]);
    });
});

describe("generated first values", () => {
    let run: Recording;

    beforeAll(async () => {
        run = await startRecording({ project: "openova-vault", stack: "generators" });
        const cluster = new k8s.Provider("c", { context: "c" });
        const vaultAdmin = new vault.Provider("v", { address: "https://vault.north.example.net" });
        const generated = (name: string, namespace: string, length?: number) =>
            ({ name, namespace, keys: ["password"], mode: "vault-written", home: "north", initialValue: { generate: { key: "password", length } } }) as const;
        new VaultRegion(
            "north",
            {
                region: "north",
                regions: ["north", "south"],
                domain: "example.net",
                vaultAdmin,
                replicatedSecrets: [generated("a", "apps"), generated("b", "apps"), generated("c", "apps", 40), generated("d", "jobs")],
            },
            { providers: { kubernetes: cluster } },
        );
        // Two standalone secrets in one namespace: each brings its own generator, named after it.
        new ReplicatedSecret("alone", { ...generated("e", "tools"), region: "north", regions: ["north", "south"] }, { provider: cluster });
        new ReplicatedSecret("also-alone", { ...generated("h", "tools"), region: "north", regions: ["north", "south"] }, { provider: cluster });
        // The same region once south has issued it a token: its store to south exists.
        new VaultRegion(
            "wired",
            {
                region: "north",
                regions: ["north", "south"],
                domain: "example.net",
                vaultAdmin,
                peerEndpoints: [{ peer: "south", address: "https://vault.south.example.net", caCert: "", token: "t" }],
                replicatedSecrets: [generated("f", "apps"), { name: "g", namespace: "apps", mode: "cluster-written", home: "north" }],
            },
            { providers: { kubernetes: cluster } },
        );
        await pulumi.runtime.disconnect();
    });

    it("push only to Vaults the region has a store for (ESO does not retry a PushSecret that matches no store)", () => {
        const pushes = objects("external-secrets.io/v1alpha1:PushSecret").map((p) => p.metadata.name).filter((name) => name.includes("-to-"));
        // "north" has no store to south yet: no PushSecret to it; "wired" has one.
        expect(pushes.sort()).toEqual(["e-to-south", "f-to-south", "g-to-north", "g-to-south", "h-to-south"]);
    });

    const objects = (kind: string) =>
        run.resources
            .filter((r) => r.type === `kubernetes:${kind}`)
            .map((r) => r.inputs as { metadata: { name: string; namespace: string }; spec: { selector?: { generatorRef?: { name: string } } } });

    it("share one Password generator per namespace and length in a region; a standalone ReplicatedSecret brings its own", () => {
        // (apps/...-32 twice: once per VaultRegion instance, "north" and "wired".)
        expect(objects("generators.external-secrets.io/v1alpha1:Password").map((g) => `${g.metadata.namespace}/${g.metadata.name}`).sort()).toEqual([
            "apps/replicated-secret-password-32",
            "apps/replicated-secret-password-32",
            "apps/replicated-secret-password-40",
            "jobs/replicated-secret-password-32",
            "tools/e-initial",
            "tools/h-initial",
        ]);
        const initial = objects("external-secrets.io/v1alpha1:PushSecret").filter((p) => p.metadata.name.endsWith("-initial"));
        expect(Object.fromEntries(initial.map((p) => [p.metadata.name, p.spec.selector?.generatorRef?.name]))).toEqual({
            "a-initial": "replicated-secret-password-32",
            "b-initial": "replicated-secret-password-32",
            "c-initial": "replicated-secret-password-40",
            "d-initial": "replicated-secret-password-32",
            "e-initial": "e-initial",
            "f-initial": "replicated-secret-password-32",
            "h-initial": "h-initial",
        });
    });
});

describe("namespace grants", () => {
    let run: Recording;

    beforeAll(async () => {
        run = await startRecording({ project: "openova-vault", stack: "grants" });
        const cluster = new k8s.Provider("g", { context: "g" });
        new VaultRegion(
            "south",
            {
                region: "south",
                regions: ["north", "south"],
                domain: "example.net",
                replicatedSecrets: [
                    { name: "a", namespace: "apps", mode: "vault-written", home: "north" },
                    { name: "b", namespace: "apps", mode: "cluster-written", home: "south" },
                    { name: "c", namespace: "reports", mode: "vault-written", home: "north" },
                ],
            },
            { providers: { kubernetes: cluster } },
        );
        await pulumi.runtime.disconnect();
    });

    it("label each namespace of a replicated secret to read, and to write only where this region pushes (the secret's home)", () => {
        const patches = run.resources.filter((r) => r.type === "kubernetes:core/v1:NamespacePatch").map((r) => r.inputs as { metadata: { name: string; labels: Record<string, string> } });
        expect(Object.fromEntries(patches.map((p) => [p.metadata.name, p.metadata.labels]))).toEqual({
            apps: { "vault.openova.io/read": "true", "vault.openova.io/replicate": "true" },
            reports: { "vault.openova.io/read": "true" },
            // ESO's own namespace, where the bootstrap's canary runs, may do both.
            "external-secrets": { "vault.openova.io/read": "true", "vault.openova.io/replicate": "true" },
        });
        const eso = run.resources.find((r) => r.type === "kubernetes:core/v1:NamespacePatch" && r.name === "south-namespace-external-secrets");
        // (A dependency on a component is a dependency on its children: here, the namespace it creates.)
        expect(eso?.dependsOn).toContain(run.resources.find((r) => r.type === "kubernetes:core/v1:Namespace" && r.name === "south-external-secrets-namespace")?.urn);
    });

    it("make the replicated secrets' ESO objects wait for their namespace's grant", () => {
        const grant = run.resources.find((r) => r.type === "kubernetes:core/v1:NamespacePatch" && r.name === "south-namespace-apps")?.urn;
        const pulls = run.resources.filter((r) => r.type === "kubernetes:external-secrets.io/v1:ExternalSecret");
        expect(pulls.length).toBeGreaterThan(0);
        for (const pull of pulls) {
            expect(pull.dependsOn).toContain(grant);
        }
    });
});

describe("a configured region with JWT peer auth", () => {
    let run: Recording;
    let region: VaultRegion;
    const identity = {
        issuer: "https://oidc.west.example.net",
        publicKeys: ["-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"],
        discoveryCaCert: "",
        serviceAccount: { name: "external-secrets", namespace: "eso" },
    };

    beforeAll(async () => {
        run = await startRecording({ project: "openova-vault", stack: "jwt" });
        const cluster = new k8s.Provider("n", { context: "n" });
        const admin = new vault.Provider("n", { address: "https://vault.north.example.net" });
        region = new VaultRegion(
            "north",
            {
                region: "north",
                regions: ["north", "south", "west"],
                domain: "example.net",
                vaultAdmin: admin,
                peerAuth: "jwt",
                // west has published its cluster identity; south has not yet.
                peerIdentities: [{ peer: "west", identity }],
                peerEndpoints: [{ peer: "west", address: "https://vault.west.example.net", caCert: "", jwt: { path: "jwt-north", role: "external-secrets-push", audience: "https://vault.west.example.net" } }],
            },
            { providers: { kubernetes: cluster } },
        );
        await pulumi.runtime.disconnect();
    });

    const get = (type: string, name: string): RecordedResource => {
        const found = run.resources.filter((r) => r.type === type && r.name === name);
        expect(found).toHaveLength(1);
        return found[0];
    };

    it("issues no token: it mounts a JWT backend per known peer, checking that cluster's keys and issuer", () => {
        expect(run.resources.filter((r) => r.type === "vault:index/token:Token")).toEqual([]);
        expect(get("vault:jwt/authBackend:AuthBackend", "north-peer-west-jwt").inputs).toMatchObject({
            path: "jwt-west",
            type: "jwt",
            boundIssuer: "https://oidc.west.example.net",
            jwtValidationPubkeys: identity.publicKeys,
        });
        expect(run.resources.filter((r) => r.type === "vault:jwt/authBackend:AuthBackend").map((r) => r.name)).toEqual(["north-peer-west-jwt"]);
    });

    it("binds the role to the peer's ESO service account and this Vault's audience, with the push policy only", () => {
        expect(get("vault:jwt/authBackendRole:AuthBackendRole", "north-peer-west-jwt-role").inputs).toMatchObject({
            roleType: "jwt",
            userClaim: "sub",
            boundSubject: "system:serviceaccount:eso:external-secrets",
            boundAudiences: ["https://vault.north.example.net"],
            tokenPolicies: ["external-secrets-push"],
        });
    });

    it("publishes where each peer logs in, not as a secret (there is none)", async () => {
        const issued = await new Promise<unknown>((resolve) => region.issuedPeerAccess.apply(resolve));
        expect(issued).toEqual({
            west: { address: "https://vault.north.example.net", caCert: "", jwt: { path: "jwt-west", role: "external-secrets-push", audience: "https://vault.north.example.net" } },
        });
        expect(await pulumi.isSecret(region.issuedPeerAccess)).toBe(false);
    });

    it("logs in to the peer's Vault with ESO's own service-account token, and stores no token Secret", () => {
        expect(run.resources.filter((r) => r.type === "kubernetes:core/v1:Secret")).toEqual([]);
        const store = get("kubernetes:external-secrets.io/v1:ClusterSecretStore", "north-store-west").inputs as { spec: { provider: { vault: { auth: unknown } } } };
        expect(store.spec.provider.vault.auth).toEqual({
            jwt: {
                path: "jwt-north",
                role: "external-secrets-push",
                kubernetesServiceAccountToken: {
                    serviceAccountRef: { name: "external-secrets", namespace: "external-secrets", audiences: ["https://vault.west.example.net"] },
                    audiences: ["https://vault.west.example.net"],
                    expirationSeconds: 600,
                },
            },
        });
    });
});
