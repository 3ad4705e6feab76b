/**
 * The example projects of docs/backends.md, synthesized offline by the real program in this process:
 * per region, what runs (no Vault where the backend is managed), the stores and their providers, every
 * ESO object against ESO's schemas, and db-credentials reaching every region's backend (the home's
 * PushSecrets to each peer's store, spelt as that peer's backend spells names, and an ExternalSecret in
 * every region reading its own store), admitted by the region's own admission policies.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { AdmissionPolicy } from "../components/stores/storeAdmission";
import { main } from "../tools/synth/cli";
import { admit } from "./support/admission";
import { runCli } from "./support/cliRun";
import { validateEsoObjects } from "./support/esoSchema";

/** The objects ESO's schemas refuse, each with its kind, name and the schema's error. */
function schemaRejections(
    objects: readonly { kind: string; metadata: { name: string } }[],
): { kind: string; name: string; error: string }[] {
    const errors = validateEsoObjects(objects);
    return objects.map((o, i) => ({ kind: o.kind, name: o.metadata.name, error: errors[i] })).filter((r) => r.error !== "");
}

const projectDir = path.resolve(__dirname, "..");

interface Resource {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, unknown>;
}

/** A Kubernetes object among the inputs of a resource: its metadata and spec. */
interface KubeObject {
    readonly apiVersion: string;
    readonly kind: string;
    readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> };
    readonly spec: Record<string, unknown>;
}

interface Synthesized {
    readonly resources: Record<string, Resource[]>;
    readonly outputs: Record<string, Record<string, unknown>>;
}

/** Synthesizes an example project into a temporary directory; every stack must synthesize without warnings. */
async function synthExample(example: string, stacks: readonly string[]): Promise<Synthesized> {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), `openova-${example}-`));
    try {
        const run = await runCli(main, ["--project", path.join(projectDir, "examples", example), "--out", out]);
        expect({ code: run.code, errors: run.stderr.split("\n").filter((line) => line.startsWith("error")) }).toEqual({
            code: 0,
            errors: [],
        });
        for (const stack of stacks) {
            expect(run.stdout).toMatch(new RegExp(`stack ${stack}: \\d+ resources, 0 warning\\(s\\)`));
        }
        const read = (stack: string, file: string) => JSON.parse(fs.readFileSync(path.join(out, stack, file), "utf8")) as unknown;
        return {
            resources: Object.fromEntries(stacks.map((stack) => [stack, read(stack, "resources.json") as Resource[]])),
            outputs: Object.fromEntries(stacks.map((stack) => [stack, read(stack, "outputs.json") as Record<string, unknown>])),
        };
    } finally {
        fs.rmSync(out, { recursive: true, force: true });
    }
}

const ofKind = (resources: readonly Resource[], kind: string): KubeObject[] =>
    resources.filter((r) => r.type.endsWith(`:${kind}`) && r.type.startsWith("kubernetes:")).map((r) => r.inputs as unknown as KubeObject);

/** Each ClusterSecretStore's ESO provider, by store name. */
function storeProviders(resources: readonly Resource[]): Record<string, string> {
    return Object.fromEntries(
        ofKind(resources, "ClusterSecretStore").map((store) => [store.metadata.name, Object.keys(store.spec.provider as object)[0]]),
    );
}

/** The stores a PushSecret's label selector picks, of the region's stores. */
function selectedStores(push: KubeObject, stores: readonly KubeObject[]): string[] {
    const refs = push.spec.secretStoreRefs as { labelSelector?: { matchLabels: Record<string, string> }; name?: string }[];
    return stores
        .filter((store) =>
            refs.some((ref) =>
                ref.labelSelector === undefined
                    ? ref.name === store.metadata.name
                    : Object.entries(ref.labelSelector.matchLabels).every(([k, v]) => store.metadata.labels?.[k] === v),
            ),
        )
        .map((store) => store.metadata.name);
}

/** The remote references of a PushSecret's data: `name` or `name#property`. */
const pushedTo = (push: KubeObject) =>
    (push.spec.data as { match: { remoteRef: { remoteKey: string; property?: string } } }[]).map(({ match: { remoteRef } }) =>
        remoteRef.property === undefined ? remoteRef.remoteKey : `${remoteRef.remoteKey}#${remoteRef.property}`,
    );

/** The remote references an ExternalSecret reads, the same way. */
const pulledFrom = (external: KubeObject) =>
    (external.spec.data as { remoteRef: { key: string; property?: string } }[]).map(({ remoteRef }) =>
        remoteRef.property === undefined ? remoteRef.key : `${remoteRef.key}#${remoteRef.property}`,
    );

/** Every object whose API group is ESO's. */
const esoObjects = (resources: readonly Resource[]) =>
    resources
        .filter((r) => r.type.startsWith("kubernetes:") && r.type.includes("external-secrets.io"))
        .map((r) => r.inputs as unknown as KubeObject);

/** What the Vault servers and everything beside them register. */
const SELF_HOSTED_TYPES = [
    "openova:vault:VaultServer",
    "openova:vault:VaultSetup",
    "openova:vault:RaftSnapshots",
    "openova:vault:VaultMonitoring",
    "openova:vault:TokenRenewer",
    "openova:vault:Replicator",
    "openova:vault:PeerAccess",
    "kubernetes:apps/v1:StatefulSet",
];

/** The charts a region installs, by chart name. */
const charts = (resources: readonly Resource[]) =>
    resources.filter((r) => r.type === "kubernetes:helm.sh/v4:Chart").map((r) => String(r.inputs.chart));

/** Whether the region's own admission policies admit creating `push`. */
function admitted(resources: readonly Resource[], push: KubeObject): string {
    const outcomes = resources
        .filter((r) => r.type === "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy")
        .map((r) =>
            admit(r.inputs as unknown as AdmissionPolicy, {
                operation: "CREATE",
                resource: "external-secrets.io/v1alpha1/pushsecrets",
                object: push,
            }),
        );
    const denied = outcomes.flatMap((o) => (o.outcome === "denied" ? o.messages : []));
    return denied.length === 0 ? "admitted" : denied.join("; ");
}

describe("examples/mixed-backends: a self-hosted Vault (emea), AWS Secrets Manager (amer), Google Secret Manager (apac)", () => {
    const REGIONS = ["amer", "apac", "emea"];
    let synth: Synthesized;

    beforeAll(async () => {
        synth = await synthExample("mixed-backends", REGIONS);
    });

    it("runs a Vault only in emea: the managed regions install ESO and nothing of the self-hosted Vault", () => {
        const types = (region: string) => new Set(synth.resources[region].map((r) => r.type));
        expect(charts(synth.resources.emea).sort()).toEqual(["external-secrets", "vault"]);
        expect(SELF_HOSTED_TYPES.filter((type) => types("emea").has(type))).toEqual(
            expect.arrayContaining(["openova:vault:VaultServer", "openova:vault:VaultSetup", "openova:vault:RaftSnapshots"]),
        );
        for (const region of ["amer", "apac"]) {
            expect({ region, charts: charts(synth.resources[region]) }).toEqual({ region, charts: ["external-secrets"] });
            expect({ region, selfHosted: SELF_HOSTED_TYPES.filter((type) => types(region).has(type)) }).toEqual({ region, selfHosted: [] });
            expect({ region, vault: [...types(region)].filter((type) => type.startsWith("vault:")) }).toEqual({ region, vault: [] });
            expect(types(region).has("openova:vault:ManagedBackend")).toBe(true);
        }
    });

    it("gives every region a store of each backend's provider: its own as vault-local, each peer's it pushes to as vault-<peer>", () => {
        expect(storeProviders(synth.resources.emea)).toEqual({
            "vault-local": "vault",
            "vault-local-push": "vault",
            "vault-amer": "aws",
            "vault-apac": "gcpsm",
        });
        // amer and apac push nothing (emea is db-credentials' home), so they have no store for a peer.
        expect(storeProviders(synth.resources.amer)).toEqual({ "vault-local": "aws", "vault-local-push": "aws" });
        expect(storeProviders(synth.resources.apac)).toEqual({ "vault-local": "gcpsm", "vault-local-push": "gcpsm" });
    });

    it("reaches each cloud store as the identity its cloud policy trusts: a ServiceAccount per target region, annotated with its identity", () => {
        const accounts = (region: string) =>
            Object.fromEntries(
                ofKind(synth.resources[region], "ServiceAccount")
                    .filter((account) => account.metadata.name.startsWith("eso-backend-"))
                    .map((account) => [
                        account.metadata.name,
                        (account as unknown as { metadata: { annotations: object } }).metadata.annotations,
                    ]),
            );
        const aws = { "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/openova-eso-amer" };
        const gcp = { "iam.gke.io/gcp-service-account": "openova-eso@platform-secrets-apac.iam.gserviceaccount.com" };
        expect(accounts("emea")).toEqual({ "eso-backend-amer": aws, "eso-backend-apac": gcp });
        expect(accounts("amer")).toEqual({ "eso-backend-amer": aws });
        expect(accounts("apac")).toEqual({ "eso-backend-apac": gcp });
        // emea's ESO authenticates to apac's pool through the provider named after emea.
        const emeaToApac = ofKind(synth.resources.emea, "ClusterSecretStore").find((store) => store.metadata.name === "vault-apac");
        expect(emeaToApac?.spec.provider).toEqual({
            gcpsm: {
                projectID: "platform-secrets-apac",
                auth: {
                    workloadIdentityFederation: {
                        serviceAccountRef: {
                            name: "eso-backend-apac",
                            namespace: "external-secrets",
                            audiences: [
                                "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/openova/providers/emea",
                            ],
                        },
                        audience:
                            "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/openova/providers/emea",
                    },
                },
            },
        });
    });

    it("reaches apac's own backend through apac's provider in the pool, for the audience Google accepts by default", () => {
        const audience = "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/openova/providers/apac";
        for (const store of ofKind(synth.resources.apac, "ClusterSecretStore")) {
            expect({ store: store.metadata.name, auth: (store.spec.provider as { gcpsm: { auth: unknown } }).gcpsm.auth }).toEqual({
                store: store.metadata.name,
                auth: {
                    workloadIdentityFederation: {
                        serviceAccountRef: { name: "eso-backend-apac", namespace: "external-secrets", audiences: [audience] },
                        audience,
                    },
                },
            });
        }
    });

    it("declares only ESO objects that ESO's schemas accept", () => {
        const objects = REGIONS.flatMap((region) => esoObjects(synth.resources[region]));
        // emea: four stores, an ExternalSecret, three PushSecrets and a Password generator; amer and apac: two stores and an ExternalSecret each.
        expect(objects.length).toBe(15);
        expect(schemaRejections(objects)).toEqual([]);
    });

    it("carries db-credentials from emea's Vault into every backend, each PushSecret picking exactly its target's store, spelt as that backend spells names", () => {
        const pushes = ofKind(synth.resources.emea, "PushSecret").filter((p) => p.metadata.namespace === "databases");
        const stores = ofKind(synth.resources.emea, "ClusterSecretStore");
        expect(
            Object.fromEntries(
                pushes.map((push) => [push.metadata.name, { stores: selectedStores(push, stores), remote: pushedTo(push) }]),
            ),
        ).toEqual({
            "db-credentials-initial": { stores: ["vault-local-push"], remote: ["databases/db-credentials#password"] },
            "db-credentials-to-amer": { stores: ["vault-amer"], remote: ["openova-databases/db-credentials#password"] },
            "db-credentials-to-apac": { stores: ["vault-apac"], remote: ["openova-databases_db-credentials--password"] },
        });
        // AWS is written as a string (ESO's default is binary).
        const toAmer = pushes.find((push) => push.metadata.name === "db-credentials-to-amer");
        expect((toAmer?.spec.data as { metadata?: { spec: object } }[])[0].metadata?.spec).toEqual({ secretPushFormat: "string" });
        // Nothing else pushes it: the managed regions only read.
        for (const region of ["amer", "apac"]) {
            expect({ region, pushes: ofKind(synth.resources[region], "PushSecret").map((p) => p.metadata.name) }).toEqual({
                region,
                pushes: [],
            });
        }
    });

    it("materializes db-credentials in every region from its own store, read as its own backend lays it out", () => {
        const pulls = Object.fromEntries(
            REGIONS.map((region) => {
                const [external] = ofKind(synth.resources[region], "ExternalSecret").filter((e) => e.metadata.name === "db-credentials");
                return [region, { store: (external.spec.secretStoreRef as { name: string }).name, remote: pulledFrom(external) }];
            }),
        );
        expect(pulls).toEqual({
            emea: { store: "vault-local", remote: ["databases/db-credentials#password"] },
            amer: { store: "vault-local", remote: ["openova-databases/db-credentials#password"] },
            apac: { store: "vault-local", remote: ["openova-databases_db-credentials--password"] },
        });
    });

    it("admits the home's PushSecrets through its own admission policies, and still refuses another namespace's names", () => {
        const pushes = ofKind(synth.resources.emea, "PushSecret").filter((p) => p.metadata.namespace === "databases");
        expect(pushes.map((push) => [push.metadata.name, admitted(synth.resources.emea, push)])).toEqual(
            pushes.map((push) => [push.metadata.name, "admitted"]),
        );
        for (const push of pushes) {
            const elsewhere = { ...push, metadata: { ...push.metadata, namespace: "web" } };
            expect({ name: push.metadata.name, outcome: admitted(synth.resources.emea, elsewhere) }).toEqual({
                name: push.metadata.name,
                outcome: expect.stringContaining(
                    "must keep every spec.data[].match.remoteRef.remoteKey under its own namespace",
                ) as unknown,
            });
        }
    });

    it("publishes each region's backend, which its peers build their store from", () => {
        expect(synth.outputs.emea.backend).toEqual({ type: "vault" });
        expect(synth.outputs.amer.backend).toEqual({
            type: "aws-secrets-manager",
            region: "us-east-1",
            roleArn: "arn:aws:iam::111122223333:role/openova-eso-amer",
            identity: "irsa",
            replicaRegions: [],
            secretPrefix: "openova-",
        });
        expect(synth.outputs.amer).not.toHaveProperty("vaultAddress");
        expect(synth.outputs.apac.peerAccess).toEqual({});
    });
});

describe("examples/hcp-and-azure: HCP Vault Dedicated (west, the home) and Azure Key Vault (east)", () => {
    const REGIONS = ["east", "west"];
    const ADDRESS = "https://vault-cluster-public-vault-0a1b2c3d.4e5f6a7b.z1.hashicorp.cloud:8200";
    let synth: Synthesized;

    beforeAll(async () => {
        synth = await synthExample("hcp-and-azure", REGIONS);
    });

    const ofType = (region: string, type: string) => synth.resources[region].filter((r) => r.type === type);

    it("runs no Vault chart in either region, and configures the HCP cluster through a provider that stores no credential", () => {
        for (const region of REGIONS) {
            expect({ region, charts: charts(synth.resources[region]) }).toEqual({ region, charts: ["external-secrets"] });
            const types = new Set(synth.resources[region].map((r) => r.type));
            expect({
                region,
                selfHosted: SELF_HOSTED_TYPES.filter((type) => types.has(type) && type !== "openova:vault:PeerAccess"),
            }).toEqual({
                region,
                selfHosted: [],
            });
        }
        const [provider] = ofType("west", "pulumi:providers:vault");
        expect(provider.inputs).toMatchObject({ address: ADDRESS, namespace: "admin" });
        // The provider's nested inputs are JSON text; the JWT itself comes from TERRAFORM_VAULT_AUTH_JWT and is in no input.
        expect(JSON.parse(String(provider.inputs.authLoginJwt))).toEqual({ mount: "jwt", role: "pulumi", namespace: "admin" });
        expect(JSON.stringify(provider.inputs)).not.toMatch(/synth-placeholder|"token"/);
        // east has no Vault of any kind.
        expect(synth.resources.east.filter((r) => r.type.startsWith("vault:") || r.type === "pulumi:providers:vault")).toEqual([]);
    });

    it("configures west's HCP cluster: the KV mount, a JWT mount for its own cluster and the namespace roles, each namespace kept to its prefix", () => {
        expect(ofType("west", "vault:index/mount:Mount").map((r) => r.inputs)).toEqual([
            expect.objectContaining({ path: "secret", type: "kv", options: { version: "2" } }),
        ]);
        expect(ofType("west", "vault:jwt/authBackend:AuthBackend").map((r) => r.inputs)).toEqual([
            expect.objectContaining({
                path: "jwt-west",
                type: "jwt",
                boundIssuer: "https://oidc.west.example.com",
                oidcDiscoveryUrl: "https://oidc.west.example.com",
            }),
        ]);
        const roles: Record<string, Record<string, unknown>> = Object.fromEntries(
            ofType("west", "vault:jwt/authBackendRole:AuthBackendRole").map((r) => [String(r.inputs.roleName), r.inputs]),
        );
        expect(Object.keys(roles).sort()).toEqual(["namespace-pull", "namespace-push"]);
        expect(roles["namespace-pull"]).toMatchObject({
            backend: "jwt-west",
            roleType: "jwt",
            boundAudiences: [ADDRESS],
            boundClaimsType: "glob",
            boundClaims: { sub: "system:serviceaccount:*:vault-secrets-reader" },
            claimMappings: { "/kubernetes.io/namespace": "service_account_namespace" },
            tokenPolicies: ["namespace-pull"],
        });
        // The policy's template reads the namespace the role copies into the alias metadata, through the mount's accessor.
        const pull = ofType("west", "vault:index/policy:Policy").find((r) => r.inputs.name === "namespace-pull");
        const paths = Object.keys((JSON.parse(String(pull?.inputs.policy)) as { path: object }).path);
        expect(paths).toEqual([
            expect.stringMatching(
                /^secret\/data\/\{\{identity\.entity\.aliases\.auth_jwt_[0-9a-f]{8}\.metadata\.service_account_namespace\}\}\/\*$/,
            ),
        ]);
        // east pushes nothing to west: it gets no mount, role or policy there.
        expect(ofType("west", "openova:vault:PeerAccess")).toEqual([]);
    });

    it("logs each namespace in to HCP through west's stores with the roles the cluster has, and reaches east's key vault as its identity", () => {
        const stores = Object.fromEntries(
            ofKind(synth.resources.west, "ClusterSecretStore").map((s) => [s.metadata.name, s.spec.provider]),
        );
        expect(Object.keys(stores).sort()).toEqual(["vault-east", "vault-local", "vault-local-push"]);
        expect(stores["vault-local"]).toMatchObject({
            vault: {
                server: ADDRESS,
                namespace: "admin",
                path: "secret",
                version: "v2",
                auth: {
                    jwt: {
                        path: "jwt-west",
                        role: "namespace-pull",
                        kubernetesServiceAccountToken: { serviceAccountRef: { name: "vault-secrets-reader" } },
                    },
                },
            },
        });
        expect(stores["vault-local-push"]).toMatchObject({ vault: { auth: { jwt: { path: "jwt-west", role: "namespace-push" } } } });
        expect(stores["vault-east"]).toMatchObject({
            azurekv: {
                authType: "WorkloadIdentity",
                vaultUrl: "https://openova-east.vault.azure.net/",
                serviceAccountRef: { name: "eso-backend-east", namespace: "external-secrets" },
            },
        });
        expect(storeProviders(synth.resources.east)).toEqual({ "vault-local": "azurekv", "vault-local-push": "azurekv" });
    });

    it("declares only ESO objects that ESO's schemas accept", () => {
        const objects = REGIONS.flatMap((region) => esoObjects(synth.resources[region]));
        // west: three stores, an ExternalSecret, two PushSecrets and a Password generator; east: two stores and an ExternalSecret.
        expect(objects.length).toBe(10);
        expect(schemaRejections(objects)).toEqual([]);
    });

    it("carries db-credentials from west's HCP cluster into east's key vault, and materializes it in both from their own store", () => {
        const pushes = ofKind(synth.resources.west, "PushSecret").filter((p) => p.metadata.namespace === "databases");
        const stores = ofKind(synth.resources.west, "ClusterSecretStore");
        expect(
            Object.fromEntries(
                pushes.map((push) => [push.metadata.name, { stores: selectedStores(push, stores), remote: pushedTo(push) }]),
            ),
        ).toEqual({
            "db-credentials-initial": { stores: ["vault-local-push"], remote: ["databases/db-credentials#password"] },
            "db-credentials-to-east": { stores: ["vault-east"], remote: ["openova-databases-db-credentials--password"] },
        });
        expect(pushes.map((push) => admitted(synth.resources.west, push))).toEqual(pushes.map(() => "admitted"));
        const pulls = Object.fromEntries(
            REGIONS.map((region) => {
                const [external] = ofKind(synth.resources[region], "ExternalSecret").filter((e) => e.metadata.name === "db-credentials");
                return [region, { store: (external.spec.secretStoreRef as { name: string }).name, remote: pulledFrom(external) }];
            }),
        );
        expect(pulls).toEqual({
            west: { store: "vault-local", remote: ["databases/db-credentials#password"] },
            east: { store: "vault-local", remote: ["openova-databases-db-credentials--password"] },
        });
        expect(ofKind(synth.resources.east, "PushSecret")).toEqual([]);
    });

    it("publishes west's cluster address and namespace for its peers, and no token", () => {
        expect(synth.outputs.west.backend).toMatchObject({ type: "hcp-vault", address: ADDRESS, namespace: "admin" });
        expect(synth.outputs.west.vaultAddress).toBe(ADDRESS);
        expect(synth.outputs.west.peerAccess).toEqual({});
    });
});
