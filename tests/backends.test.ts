/**
 * The per-region backends: the option and its rules, the names a replicated secret gets in each
 * backend, the ESO stores and remote references (validated against ESO's schemas), and the cloud
 * policies generated from one table.
 */
import { run as celRun } from "@bufbuild/cel";
import { z } from "zod";
import {
    BACKEND_TYPES,
    CLOUD_BACKEND_TYPES,
    DEFAULT_SECRET_PREFIX,
    STATIC_CREDENTIAL_FIELDS,
    backendFields,
    backendOption,
    backendRules,
    backendUnion,
    type BackendRegion,
    type ResolvedBackend,
    type ResolvedBackendOf,
} from "../components/backends/backendOptions";
import {
    BACKEND_LABEL,
    azureEnvironment,
    backendPullSource,
    backendPushData,
    backendServiceAccountName,
    identityServiceAccount,
    managedLocalStore,
    managedPeerStore,
    needsIdentityServiceAccount,
} from "../components/backends/backendStores";
import {
    CLOUD_POLICY_TABLE,
    awsIamPolicy,
    awsTrustPolicy,
    azureFederatedCredentials,
    azureRoleDefinition,
    azureVaultScope,
    gcpIamBindings,
    gcpWorkloadIdentityUsers,
    grantsFor,
    replicatedSecretNames,
} from "../components/backends/cloudPolicies";
import { REMOTE_NAME_RULES, awsPushProperty, remoteSecrets } from "../components/backends/remoteNames";
import { fieldsOf, kindOf, optionRows, options, parseOptions, schemaAt } from "../components/common/options";
import { CANARY_NAME, externalSecret, pushSecret, replicatedSecretOptions } from "../components/replication/replicationSpecs";
import {
    LOCAL_PUSH_STORE_NAME,
    LOCAL_STORE_NAME,
    PUSH_TARGET_LABEL,
    READ_NAMESPACE_LABEL,
    REPLICATE_NAMESPACE_LABEL,
    STORE_SCOPE_LABEL,
    VAULT_REGION_LABEL,
    localStore,
} from "../components/stores/storeSpecs";
import { validateEsoObjects } from "./support/esoSchema";

const root = options({ backend: backendOption });

/** The backend as the region's options resolve it, or the one line the component would throw. */
function parse(backend: unknown): ResolvedBackend {
    return parseOptions("VaultRegion", root, { backend }).backend;
}

function problems(backend: unknown): string {
    try {
        parse(backend);
    } catch (error) {
        return (error as Error).message;
    }
    throw new Error(`${JSON.stringify(backend)} was accepted`);
}

const ROLE = "arn:aws:iam::111122223333:role/openova-eso";
const aws = parse({ type: "aws-secrets-manager", region: "eu-west-1", roleArn: ROLE }) as ResolvedBackendOf<"aws-secrets-manager">;
const awsPod = parse({
    type: "aws-secrets-manager",
    region: "eu-west-1",
    roleArn: ROLE,
    identity: "pod-identity",
}) as ResolvedBackendOf<"aws-secrets-manager">;
const awsKms = parse({
    type: "aws-secrets-manager",
    region: "eu-west-1",
    roleArn: ROLE,
    kmsKeyId: "alias/openova",
    replicaRegions: ["eu-central-1"],
}) as ResolvedBackendOf<"aws-secrets-manager">;
const GSA = "openova-eso@platform-secrets.iam.gserviceaccount.com";
const POOL = "projects/123456789012/locations/global/workloadIdentityPools/openova";
const gcp = parse({
    type: "gcp-secret-manager",
    project: "platform-secrets",
    serviceAccount: GSA,
}) as ResolvedBackendOf<"gcp-secret-manager">;
const gcpPool = parse({
    type: "gcp-secret-manager",
    project: "platform-secrets",
    serviceAccount: GSA,
    workloadIdentityPool: POOL,
    replication: "user-managed",
    locations: ["europe-west1", "europe-west4"],
}) as ResolvedBackendOf<"gcp-secret-manager">;
const TENANT = "00000000-0000-0000-0000-000000000000";
const CLIENT = "11111111-1111-1111-1111-111111111111";
const azure = parse({
    type: "azure-key-vault",
    vaultUrl: "https://openova-weu.vault.azure.net/",
    tenantId: TENANT,
    clientId: CLIENT,
}) as ResolvedBackendOf<"azure-key-vault">;
const HCP = "https://vault-cluster-public-vault-0a1b2c3d.4e5f6a7b.z1.hashicorp.cloud:8200";
const hcp = parse({ type: "hcp-vault", address: HCP, providerAuth: { role: "pulumi" } }) as ResolvedBackendOf<"hcp-vault">;
const managed: readonly ResolvedBackend[] = [hcp, aws, awsPod, awsKms, gcp, gcpPool, azure];

describe("the backend option", () => {
    it("is the self-hosted Vault when left out, and takes each type with its fields and defaults", () => {
        expect(parseOptions("VaultRegion", root, {}).backend).toEqual({ type: "vault" });
        expect(aws).toEqual({
            type: "aws-secrets-manager",
            region: "eu-west-1",
            roleArn: ROLE,
            identity: "irsa",
            replicaRegions: [],
            secretPrefix: DEFAULT_SECRET_PREFIX,
        });
        expect(gcp).toMatchObject({ replication: "automatic", secretPrefix: DEFAULT_SECRET_PREFIX });
        expect(hcp).toEqual({
            type: "hcp-vault",
            address: HCP,
            namespace: "admin",
            providerAuth: { method: "jwt", path: "jwt", role: "pulumi" },
        });
        expect(azure.type).toBe("azure-key-vault");
    });

    it("refuses an unknown type with the list of types", () => {
        expect(problems({ type: "vault-enterprise" })).toBe(
            `VaultRegion: backend.type is "vault-enterprise", but it must be ${BACKEND_TYPES.slice(0, -1).join(", ")} or ${BACKEND_TYPES.at(-1)}`,
        );
    });

    it("refuses a bad value in the project's one-line form, naming the field and what is allowed", () => {
        expect(problems({ type: "aws-secrets-manager", region: "Ireland", roleArn: "openova-eso" })).toBe(
            'VaultRegion: backend.region is "Ireland", but it must be an AWS region code such as eu-west-1; backend.roleArn is "openova-eso", but it must be an IAM role ARN, arn:aws:iam::<account>:role/<name>',
        );
        expect(
            problems({ type: "azure-key-vault", vaultUrl: "https://openova.vault.example.com", tenantId: TENANT, clientId: "me" }),
        ).toMatch(
            /backend\.vaultUrl is "https:\/\/openova\.vault\.example\.com", but it must be https:\/\/<vault name>\.<domain>\/.*; backend\.clientId is "me", but it must be a GUID$/,
        );
        expect(problems({ type: "hcp-vault", address: "http://vault.example.com" })).toMatch(
            /^VaultRegion: backend\.address is "http:\/\/vault\.example\.com", but it must be an https:\/\/ URL/,
        );
    });

    it.each(STATIC_CREDENTIAL_FIELDS.map((field) => [field] as const))(
        "refuses %s, a static credential, with the keyless way for the type",
        (field) => {
            expect(problems({ type: "aws-secrets-manager", region: "eu-west-1", roleArn: ROLE, [field]: "AKIA..." })).toBe(
                `VaultRegion: backend.${field} is set, but a static credential never goes in config or state: remove it; ESO assumes roleArn with the cluster's workload identity (identity irsa or pod-identity)`,
            );
        },
    );

    it("refuses credentials in any spelling, for every type, naming that type's keyless way", () => {
        expect(
            problems({ type: "azure-key-vault", vaultUrl: azure.vaultUrl, tenantId: TENANT, clientId: CLIENT, client_secret: "x" }),
        ).toMatch(
            /backend\.client_secret is set, but a static credential .*federated with the identity clientId \(Azure Workload Identity\)$/,
        );
        expect(
            problems({ type: "gcp-secret-manager", project: "platform-secrets", serviceAccount: GSA, "credentials-json": "{}" }),
        ).toMatch(/backend\.credentials-json is set, .*GKE Workload Identity or workload identity federation/);
        expect(problems({ type: "hcp-vault", address: HCP, token: "hvs.x" })).toMatch(
            /backend\.token is set, .*TERRAFORM_VAULT_AUTH_JWT or VAULT_TOKEN/,
        );
        // The value is never repeated.
        expect(problems({ type: "hcp-vault", address: HCP, token: "hvs.x" })).not.toContain("hvs.x");
    });

    it("names a field the type does not have, with the type's own fields", () => {
        expect(problems({ type: "aws-secrets-manager", region: "eu-west-1", roleArn: ROLE, project: "p" })).toBe(
            `VaultRegion: backend.project is not an option of the aws-secrets-manager backend (known: ${backendFields("aws-secrets-manager").join(", ")})`,
        );
        expect(problems({ type: "vault", address: HCP })).toBe(
            "VaultRegion: backend.address is not an option of the vault backend (known: type)",
        );
    });

    it("checks the rules within a type", () => {
        const base = { type: "aws-secrets-manager", region: "eu-west-1", roleArn: ROLE };
        expect(problems({ ...base, replicaRegions: ["eu-west-1"] })).toMatch(
            /backend\.replicaRegions lists eu-west-1, the secrets' own region/,
        );
        expect(problems({ ...base, kmsKeyId: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab" })).toMatch(
            /backend\.kmsKeyId is a key in us-east-1, but the secrets are in eu-west-1/,
        );
        expect(
            problems({
                ...base,
                replicaRegions: ["eu-central-1"],
                kmsKeyId: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            }),
        ).toMatch(/backend\.kmsKeyId is a key ARN, which names one region.*use an alias/);
        expect(parse({ ...base, kmsKeyId: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab" })).toBeDefined();
        const gcpBase = { type: "gcp-secret-manager", project: "platform-secrets", serviceAccount: GSA };
        expect(problems({ ...gcpBase, replication: "user-managed" })).toMatch(
            /backend\.locations is not set, but replication is user-managed/,
        );
        expect(problems({ ...gcpBase, locations: ["europe-west1"] })).toMatch(/backend\.locations is set, but replication is automatic/);
        expect(problems({ type: "hcp-vault", address: HCP })).toBe(
            "VaultRegion: backend.providerAuth.role is not set, but method is jwt: set the role the Vault provider logs in as",
        );
        expect(parse({ type: "hcp-vault", address: HCP, providerAuth: { method: "token" } })).toMatchObject({
            providerAuth: { method: "token" },
        });
        expect(problems({ type: "hcp-vault", address: HCP, providerAuth: { method: "token", role: "x" } })).toMatch(
            /providerAuth\.role is set, but method is token/,
        );
        expect(problems({ type: "hcp-vault", address: HCP, namespace: "root" })).toMatch(
            /backend\.namespace is "root", but it must be admin/,
        );
    });

    it("documents every field of every type, once, in the docs' rows (each shared field is one schema)", () => {
        const rows = optionRows(root).map((row) => row.key);
        for (const type of BACKEND_TYPES) {
            for (const field of backendFields(type)) {
                expect(rows).toContain(`backend.${field}`);
            }
        }
        expect(new Set(rows).size).toBe(rows.length);
        // A name two types share is the same schema, so the docs and errors cannot differ between them.
        for (const field of ["type", "secretPrefix"]) {
            const schemas = new Set(
                backendUnion.options
                    .filter((option) => field in option.shape)
                    .map((option) => (option.shape as Record<string, z.ZodType>)[field]),
            );
            expect({ field, distinct: field === "type" ? 5 : 1 }).toEqual({ field, distinct: schemas.size });
        }
        expect(kindOf(backendOption)).toBe("object");
        expect(Object.keys(fieldsOf(backendOption))).toEqual(expect.arrayContaining(["type", "address", "region", "project", "vaultUrl"]));
        expect(schemaAt(root, ["backend", "roleArn"])).toBe(backendUnion.options[2].shape.roleArn);
    });
});

/** The rules as the region's check runs them. */
function ruleProblems(region: Partial<BackendRegion> & { readonly backend: ResolvedBackend }): string[] {
    const full: BackendRegion = {
        region: "region1",
        regions: ["region1", "region2"],
        peerTokenGenerations: {},
        vaultServerOptionsSet: [],
        monitoring: { serviceMonitor: false },
        externalSecrets: { namespace: "external-secrets" },
        replicatedSecrets: [{ name: "db-credentials", namespace: "databases", keys: ["password"] }],
        ...region,
    };
    const result = z
        .custom<BackendRegion>()
        .check(z.superRefine((value, ctx) => backendRules(value, ctx)))
        .safeParse(full);
    return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join(".")} ${issue.message}`);
}

describe("backendRules", () => {
    it("leave a self-hosted region alone", () => {
        expect(
            ruleProblems({
                backend: { type: "vault" },
                vaultServerOptionsSet: [{ path: ["vault", "seal", "type"], value: "awskms" }],
                monitoring: { serviceMonitor: true },
                replicatedSecrets: [{ name: "db-credentials", namespace: "databases", mode: "vault-written" }],
            }),
        ).toEqual([]);
    });

    it("accept the seed's secret in every managed backend", () => {
        for (const backend of managed) {
            expect({ type: backend.type, problems: ruleProblems({ backend }) }).toEqual({ type: backend.type, problems: [] });
        }
    });

    it("refuse a Vault server option set and a Vault ServiceMonitor where no Vault runs", () => {
        expect(
            ruleProblems({
                backend: hcp,
                vaultServerOptionsSet: [{ path: ["vault", "seal", "type"], value: "awskms" }],
                monitoring: { serviceMonitor: true },
            }),
        ).toEqual([
            'vault.seal.type is "awskms", but backend.type is hcp-vault: this region runs no Vault servers, so the option has no effect. Remove it',
            "monitoring.serviceMonitor is true, but backend.type is hcp-vault: there is no Vault in this cluster to scrape. Set it to false",
        ]);
    });

    it("refuse peer tokens in a region with no Vault to issue them (HCP Vault can)", () => {
        expect(ruleProblems({ backend: aws, peerTokenGenerations: { region2: 2 } })).toEqual([
            "peerTokenGenerations.region2 is set, but backend.type is aws-secrets-manager, which issues no Vault tokens (peers push here with their workload identity): remove it",
        ]);
        expect(ruleProblems({ backend: hcp, peerTokenGenerations: { region2: 2 } })).toEqual([]);
    });

    it("refuse a GCP backend without a pool that a peer pushes to, naming the peer and what it is the home of", () => {
        const homeThere = [{ name: "db-credentials", namespace: "databases", home: "region2" }];
        expect(ruleProblems({ backend: gcp, replicatedSecrets: homeThere })).toEqual([
            "backend.workloadIdentityPool is not set, but region2 (the home of databases/db-credentials) pushes into this region's backend, and another region's cluster reaches Google Secret Manager only through workload identity federation: set it to a pool with an OIDC provider for each of region1, region2",
        ]);
        // The first region is the home of the bootstrap's canary, and of every secret without a home: it pushes to the others.
        expect(ruleProblems({ backend: gcp, region: "region2" })).toEqual([
            "backend.workloadIdentityPool is not set, but region1 (the home of databases/db-credentials, the bootstrap's replication canary) pushes into this region's backend, and another region's cluster reaches Google Secret Manager only through workload identity federation: set it to a pool with an OIDC provider for each of region2, region1",
        ]);
        // Nobody pushes into the first region's backend when it is the home of everything, nor into a single region's.
        expect(ruleProblems({ backend: gcp })).toEqual([]);
        expect(ruleProblems({ backend: gcp, regions: ["region1"] })).toEqual([]);
        expect(ruleProblems({ backend: gcpPool, replicatedSecrets: homeThere })).toEqual([]);
    });

    it("refuse, with a pool, a region whose name Google does not take as a provider ID, among those that reach the backend", () => {
        const secrets = [{ name: "db-credentials", namespace: "databases", home: "eu" }];
        // ap (this region) and eu (which pushes here) need providers; us pushes nothing here.
        expect(ruleProblems({ backend: gcpPool, region: "ap", regions: ["ap", "eu", "us"], replicatedSecrets: secrets })).toEqual([
            "regions includes ap, eu, which cannot name their OIDC providers in backend.workloadIdentityPool (a provider ID is 4 to 32 lowercase letters, digits and '-', not starting with gcp-): rename those regions (and their stacks)",
        ]);
        expect(ruleProblems({ backend: gcpPool, region: "gcp-east", regions: ["gcp-east", "emea"], replicatedSecrets: [] })).toEqual([
            "regions includes gcp-east, which cannot name its OIDC provider in backend.workloadIdentityPool (a provider ID is 4 to 32 lowercase letters, digits and '-', not starting with gcp-): rename that region (and its stack)",
        ]);
        // The first region is the home of the bootstrap's canary, so it pushes here too.
        const long = "r".repeat(33);
        expect(ruleProblems({ backend: gcpPool, region: "apac", regions: [long, "apac"], replicatedSecrets: [] })).toEqual([
            `regions includes ${long}, which cannot name its OIDC provider in backend.workloadIdentityPool (a provider ID is 4 to 32 lowercase letters, digits and '-', not starting with gcp-): rename that region (and its stack)`,
        ]);
        expect(
            ruleProblems({
                backend: gcpPool,
                region: "apac",
                regions: ["emea", "apac", "us"],
                replicatedSecrets: secrets.map((x) => ({ ...x, home: "emea" })),
            }),
        ).toEqual([]);
        // Without a pool, GKE Workload Identity names no provider.
        expect(ruleProblems({ backend: gcp, region: "ap", regions: ["ap", "eu"], replicatedSecrets: [] })).toEqual([]);
    });

    it("refuse two secrets whose names meet in the backend, reporting the later one", () => {
        const secrets = [
            { name: "app.config", namespace: "web" },
            { name: "app-config", namespace: "web" },
            { name: "x", namespace: "web", remoteKey: "web/app_config" },
        ];
        // GCP spells '.' as '_': app.config and web/app_config meet; '-' stays.
        expect(ruleProblems({ backend: gcp, replicatedSecrets: secrets })).toEqual([
            "replicatedSecrets.2.name is x, whose gcp-secret-manager name openova-web_app_config is also web/app.config's: give one of them another remoteKey",
        ]);
        // Azure spells '.', '_' and '/' as '-': all three meet.
        expect(ruleProblems({ backend: azure, replicatedSecrets: secrets })).toHaveLength(2);
        // AWS keeps every character: none meet.
        expect(ruleProblems({ backend: aws, replicatedSecrets: secrets })).toEqual([]);
    });

    it("compare Azure names without case, and check each key's own name", () => {
        const secrets = [
            { name: "db", namespace: "web", remoteKey: "web/DB", keys: ["a--b"] },
            { name: "db2", namespace: "web", remoteKey: "web/db--a", keys: ["b"] },
        ];
        expect(ruleProblems({ backend: azure, replicatedSecrets: secrets })).toEqual([
            "replicatedSecrets.1.name is db2, whose azure-key-vault name openova-web-db--a--b (key b) is also web/db's: give one of them another remoteKey",
        ]);
    });

    it("refuse a name over the backend's length", () => {
        const name = "n".repeat(110);
        expect(ruleProblems({ backend: azure, replicatedSecrets: [{ name, namespace: "web", keys: ["password"] }] })).toEqual([
            `replicatedSecrets.0.name is ${name}, whose azure-key-vault name openova-web-${name}--password (key password) is 132 characters, over the 127 it allows: shorten the name, remoteKey or backend.secretPrefix`,
        ]);
        expect(ruleProblems({ backend: aws, replicatedSecrets: [{ name, namespace: "web", keys: ["password"] }] })).toEqual([]);
    });

    it("keep the bootstrap's canary's name free", () => {
        expect(
            ruleProblems({
                backend: gcp,
                replicatedSecrets: [
                    { name: CANARY_NAME, namespace: "external-secrets", remoteKey: "external-secrets/x" },
                    { name: "c", namespace: "external-secrets", remoteKey: `external-secrets/${CANARY_NAME}--value` },
                ],
            }),
        ).toEqual([
            `replicatedSecrets.1.name is c, whose gcp-secret-manager name openova-external-secrets_${CANARY_NAME}--value is also external-secrets/${CANARY_NAME}'s: give one of them another remoteKey`,
        ]);
    });
});

describe("names in each backend", () => {
    it("keep the KV path in a Vault, prefix it in AWS, and spell it with the allowed characters in GCP and Azure", () => {
        const names = (backend: { type: (typeof BACKEND_TYPES)[number]; secretPrefix?: string }, keys?: string[]) =>
            remoteSecrets(backend, "databases/db.credentials_v2", keys).map((remote) => remote.name);
        expect(names({ type: "vault" })).toEqual(["databases/db.credentials_v2"]);
        expect(names({ type: "hcp-vault" }, ["a", "b"])).toEqual(["databases/db.credentials_v2"]);
        expect(names({ type: "aws-secrets-manager", secretPrefix: "openova/" }, ["a", "b"])).toEqual([
            "openova/databases/db.credentials_v2",
        ]);
        expect(names({ type: "gcp-secret-manager", secretPrefix: "openova/" })).toEqual(["openova_databases_db_credentials_v2"]);
        expect(names({ type: "gcp-secret-manager", secretPrefix: "p-" }, ["tls.crt", "a"])).toEqual([
            "p-databases_db_credentials_v2--tls_crt",
            "p-databases_db_credentials_v2--a",
        ]);
        expect(names({ type: "azure-key-vault", secretPrefix: "p-" }, ["tls.crt"])).toEqual(["p-databases-db-credentials-v2--tls-crt"]);
    });

    it("gives every cloud store a name it accepts, whatever the remote key", () => {
        const accepted: Record<string, RegExp> = {
            "aws-secrets-manager": /^[A-Za-z0-9/_+=.@-]+$/,
            "gcp-secret-manager": /^[A-Za-z0-9_-]+$/,
            "azure-key-vault": /^[A-Za-z0-9-]+$/,
        };
        for (const type of CLOUD_BACKEND_TYPES) {
            for (const remote of remoteSecrets({ type, secretPrefix: "a/b_c.d-" }, "ns/x.y_z/w", ["k.e_y-1"])) {
                expect({ type, name: remote.name, ok: accepted[type].test(remote.name) }).toEqual({ type, name: remote.name, ok: true });
            }
            expect(REMOTE_NAME_RULES[type].maxLength).toBeLessThan(Infinity);
        }
    });

    it("escapes the dots of an AWS push's property, which sjson would read as nesting", () => {
        expect(awsPushProperty("tls.crt")).toBe("tls\\.crt");
        expect(awsPushProperty("password")).toBe("password");
    });
});

const context = { region: "region1", esoNamespace: "external-secrets", kvMount: "secret" };
const spec = {
    ...replicatedSecretOptions.parse({ name: "db-credentials", namespace: "databases", keys: ["password", "tls.crt"] }),
    home: "region1",
};
const wholeSpec = { ...replicatedSecretOptions.parse({ name: "app", namespace: "web" }), home: "region1" };

/** The seed's PushSecret and ExternalSecret, with the remote references for `backend`. */
function objectsFor(backend: ResolvedBackend) {
    const keys = spec.keys?.map((key) => ({ from: key, to: key }));
    const push = pushSecret(spec, "region2");
    const pull = externalSecret(spec);
    const { data: _data, dataFrom: _dataFrom, ...pullSpec } = pull.spec ?? {};
    return [
        { ...push, spec: { ...push.spec, data: backendPushData(backend, "databases/db-credentials", keys) } },
        { ...pull, spec: { ...pullSpec, ...backendPullSource(backend, "databases/db-credentials", spec.keys) } },
        { ...push, spec: { ...push.spec, data: backendPushData(backend, "web/app") } },
        { ...pull, spec: { ...pullSpec, ...backendPullSource(backend, "web/app") } },
    ];
}

describe("the stores", () => {
    const locals = managed.flatMap((backend) => [managedLocalStore(backend, context, "read"), managedLocalStore(backend, context, "push")]);
    const peers = managed
        .filter((backend) => backend !== gcp)
        .map((backend) =>
            managedPeerStore(backend, { peer: "region2", writer: "region1", esoNamespace: "external-secrets", kvMount: "secret" }),
        );
    const accounts = managed
        .filter((backend) => needsIdentityServiceAccount(backend, true))
        .map((backend) => identityServiceAccount(backend, context));

    it("are valid for ESO's schemas, and so are the ExternalSecrets and PushSecrets with each backend's remote references", () => {
        const objects = [...locals, ...peers, ...[{ type: "vault" } as const, ...managed].flatMap(objectsFor)];
        expect(validateEsoObjects(objects)).toEqual(objects.map(() => ""));
    });

    it("would be refused by ESO's schemas when broken (so the check above can fail)", () => {
        const broken = structuredClone(managedLocalStore(aws, context, "read")) as unknown as {
            spec: { provider: { aws: { service: string } } };
        };
        broken.spec.provider.aws.service = "KeyVault";
        const [result] = validateEsoObjects([broken]);
        expect(result).toMatch(/service/);
    });

    it("keep the Vault stores' names, labels and namespace conditions, so PushSecrets select them the same way", () => {
        const vaultLocal = localStore(
            { region: "region1", vaultNamespace: "vault", kvMount: "secret", authPath: "kubernetes", role: "r", audience: "vault" },
            "read",
        );
        const vaultPush = localStore(
            { region: "region1", vaultNamespace: "vault", kvMount: "secret", authPath: "kubernetes", role: "r", audience: "vault" },
            "push",
        );
        for (const backend of managed) {
            const read = managedLocalStore(backend, context, "read");
            const push = managedLocalStore(backend, context, "push");
            expect(read.metadata?.name).toBe(LOCAL_STORE_NAME);
            expect(push.metadata?.name).toBe(LOCAL_PUSH_STORE_NAME);
            expect(read.metadata?.labels).toEqual({ ...vaultLocal.metadata?.labels, [BACKEND_LABEL]: backend.type });
            expect(push.metadata?.labels).toEqual({ ...vaultPush.metadata?.labels, [BACKEND_LABEL]: backend.type });
            expect(read.spec?.conditions).toEqual([{ namespaceSelector: { matchLabels: { [READ_NAMESPACE_LABEL]: "true" } } }]);
            expect(push.spec?.conditions).toEqual([{ namespaceSelector: { matchLabels: { [REPLICATE_NAMESPACE_LABEL]: "true" } } }]);
        }
        for (const peer of peers) {
            expect(peer.metadata?.name).toBe("vault-region2");
            expect(peer.metadata?.labels).toMatchObject({
                ...PUSH_TARGET_LABEL,
                [STORE_SCOPE_LABEL]: "peer",
                [VAULT_REGION_LABEL]: "region2",
            });
            expect(peer.spec?.conditions).toEqual([{ namespaceSelector: { matchLabels: { [REPLICATE_NAMESPACE_LABEL]: "true" } } }]);
        }
    });

    it("reach AWS as the role through an annotated ServiceAccount (IRSA), or as the controller with Pod Identity", () => {
        expect(managedLocalStore(aws, context, "read").spec?.provider?.aws).toEqual({
            service: "SecretsManager",
            region: "eu-west-1",
            auth: { jwt: { serviceAccountRef: { name: "eso-backend-region1", namespace: "external-secrets" } } },
        });
        expect(identityServiceAccount(aws, context)).toMatchObject({
            metadata: { name: "eso-backend-region1", namespace: "external-secrets", annotations: { "eks.amazonaws.com/role-arn": ROLE } },
            automountServiceAccountToken: false,
        });
        expect(managedLocalStore(awsPod, context, "read").spec?.provider?.aws).toEqual({ service: "SecretsManager", region: "eu-west-1" });
        expect(needsIdentityServiceAccount(awsPod, true)).toBe(false);
        // A peer cannot use this cluster's Pod Identity: it assumes the role by web identity.
        const fromPeer = managedPeerStore(awsPod, {
            peer: "region2",
            writer: "region1",
            esoNamespace: "external-secrets",
            kvMount: "secret",
        });
        expect(fromPeer.spec?.provider?.aws?.auth).toEqual({
            jwt: { serviceAccountRef: { name: "eso-backend-region2", namespace: "external-secrets" } },
        });
        expect(needsIdentityServiceAccount(awsPod, false)).toBe(true);
    });

    it("reach GCP through GKE Workload Identity, or through the pool's provider named after the writing region", () => {
        expect(managedLocalStore(gcp, context, "read").spec?.provider?.gcpsm).toEqual({
            projectID: "platform-secrets",
            auth: { workloadIdentity: { serviceAccountRef: { name: "eso-backend-region1", namespace: "external-secrets" } } },
        });
        expect(
            managedPeerStore(gcpPool, { peer: "region2", writer: "region1", esoNamespace: "eso", kvMount: "secret" }).spec?.provider?.gcpsm,
        ).toEqual({
            projectID: "platform-secrets",
            auth: {
                workloadIdentityFederation: {
                    // The token's aud (what Google checks) and the STS audience are both the provider's resource name.
                    serviceAccountRef: {
                        name: "eso-backend-region2",
                        namespace: "eso",
                        audiences: [`//iam.googleapis.com/${POOL}/providers/region1`],
                    },
                    audience: `//iam.googleapis.com/${POOL}/providers/region1`,
                },
            },
        });
        // The region's own stores go through its own provider.
        expect(managedLocalStore(gcpPool, context, "read").spec?.provider?.gcpsm?.auth).toEqual({
            workloadIdentityFederation: {
                serviceAccountRef: {
                    name: "eso-backend-region1",
                    namespace: "external-secrets",
                    audiences: [`//iam.googleapis.com/${POOL}/providers/region1`],
                },
                audience: `//iam.googleapis.com/${POOL}/providers/region1`,
            },
        });
        expect(identityServiceAccount(gcp, context).metadata.annotations).toEqual({ "iam.gke.io/gcp-service-account": GSA });
        expect(() => managedPeerStore(gcp, { peer: "region2", writer: "region1", esoNamespace: "eso", kvMount: "secret" })).toThrow(
            "region2's gcp-secret-manager backend has no workloadIdentityPool, so region1's cluster cannot authenticate to it: set backend.workloadIdentityPool in region2's stack",
        );
    });

    it("reach Azure with Workload Identity through an annotated ServiceAccount, in the vault's cloud", () => {
        expect(managedLocalStore(azure, context, "push").spec?.provider?.azurekv).toEqual({
            authType: "WorkloadIdentity",
            vaultUrl: "https://openova-weu.vault.azure.net/",
            tenantId: TENANT,
            environmentType: "PublicCloud",
            serviceAccountRef: { name: "eso-backend-region1", namespace: "external-secrets" },
        });
        // The tenant has exactly one source, the store's tenantId: ESO v2.9.0 refuses a store whose account is
        // annotated with a tenant too ("multiple tenantID found", providers/v1/azure/keyvault/keyvault.go).
        expect(identityServiceAccount(azure, context).metadata.annotations).toEqual({ "azure.workload.identity/client-id": CLIENT });
        const peerStore = managedPeerStore(azure, { peer: "region2", writer: "region1", esoNamespace: "eso", kvMount: "secret" });
        const peerAccount = identityServiceAccount(azure, { region: "region2", esoNamespace: "eso" });
        for (const [store, account] of [
            [managedLocalStore(azure, context, "read"), identityServiceAccount(azure, context)],
            [peerStore, peerAccount],
        ] as const) {
            const sources = [store.spec?.provider?.azurekv?.tenantId, account.metadata.annotations["azure.workload.identity/tenant-id"]];
            expect(sources.filter((source) => source !== undefined)).toEqual([TENANT]);
        }
        expect(azureEnvironment("https://kv.vault.azure.cn")).toBe("ChinaCloud");
        expect(azureEnvironment("https://kv.vault.usgovcloudapi.net/")).toBe("USGovernmentCloud");
    });

    it("reach HCP Vault in its namespace by JWT: the namespace's own accounts here, ESO's account from a peer", () => {
        const read = managedLocalStore(hcp, context, "read").spec?.provider?.vault;
        expect(read).toMatchObject({ server: HCP, namespace: "admin", path: "secret", version: "v2" });
        expect(read?.auth?.jwt).toEqual({
            path: "jwt-region1",
            role: "namespace-pull",
            kubernetesServiceAccountToken: {
                serviceAccountRef: { name: "vault-secrets-reader", audiences: [HCP] },
                audiences: [HCP],
                expirationSeconds: 600,
            },
        });
        expect(managedLocalStore(hcp, context, "push").spec?.provider?.vault?.auth?.jwt?.role).toBe("namespace-push");
        const peer = managedPeerStore(hcp, { peer: "region2", writer: "region1", esoNamespace: "external-secrets", kvMount: "secret" });
        expect(peer.spec?.provider?.vault).toMatchObject({ server: HCP, namespace: "admin" });
        expect(peer.spec?.provider?.vault?.auth?.jwt).toMatchObject({
            path: "jwt-region1",
            role: "external-secrets-push",
            kubernetesServiceAccountToken: {
                serviceAccountRef: { name: "external-secrets", namespace: "external-secrets", audiences: [HCP] },
            },
        });
        expect(peer.metadata?.labels?.[BACKEND_LABEL]).toBe("hcp-vault");
    });

    it("are not built for the self-hosted Vault, whose stores are storeSpecs'", () => {
        expect(() => managedLocalStore({ type: "vault" }, context, "read")).toThrow("storeSpecs.localStore");
        expect(() => managedPeerStore({ type: "vault" }, { peer: "p", writer: "w", esoNamespace: "e", kvMount: "s" })).toThrow(
            "storeSpecs.peerStore",
        );
        expect(() => identityServiceAccount(hcp, context)).toThrow("no identity ServiceAccount");
        expect(accounts.map((account) => account.metadata.name)).toEqual(accounts.map(() => backendServiceAccountName("region1")));
    });
});

describe("remote references", () => {
    it("are the replicated secret's own for a Vault backend", () => {
        const push = pushSecret(spec, "region2");
        expect(
            backendPushData(
                { type: "vault" },
                "databases/db-credentials",
                spec.keys?.map((key) => ({ from: key, to: key })),
            ),
        ).toEqual(push.spec?.data);
        expect(backendPushData(hcp, "web/app")).toEqual(pushSecret(wholeSpec, "region2").spec?.data);
        const pull = externalSecret(spec).spec;
        expect(backendPullSource({ type: "vault" }, "databases/db-credentials", spec.keys)).toEqual({ data: pull?.data });
        expect(backendPullSource(hcp, "web/app")).toEqual({ dataFrom: externalSecret(wholeSpec).spec?.dataFrom });
    });

    it("push AWS values as strings, one JSON document with each key a property, with the key and replica regions", () => {
        const metadata = {
            apiVersion: "kubernetes.external-secrets.io/v1alpha1",
            kind: "PushSecretMetadata",
            spec: { secretPushFormat: "string", kmsKeyId: "alias/openova", replicationLocations: ["eu-central-1"] },
        };
        expect(backendPushData(awsKms, "databases/db-credentials", [{ from: "tls.crt", to: "tls.crt" }])).toEqual([
            {
                match: { secretKey: "tls.crt", remoteRef: { remoteKey: "openova-databases/db-credentials", property: "tls\\.crt" } },
                metadata,
            },
        ]);
        expect(backendPushData(aws, "web/app")).toEqual([
            {
                match: { remoteRef: { remoteKey: "openova-web/app" } },
                metadata: {
                    apiVersion: "kubernetes.external-secrets.io/v1alpha1",
                    kind: "PushSecretMetadata",
                    spec: { secretPushFormat: "string" },
                },
            },
        ]);
        expect(backendPullSource(aws, "databases/db-credentials", ["tls.crt"])).toEqual({
            data: [{ secretKey: "tls.crt", remoteRef: { key: "openova-databases/db-credentials", property: "tls.crt" } }],
        });
    });

    it("push each key to its own GCP or Azure secret, with GCP's locations only for user-managed replication", () => {
        expect(backendPushData(gcpPool, "databases/db-credentials", [{ from: "password", to: "password" }])).toEqual([
            {
                match: { secretKey: "password", remoteRef: { remoteKey: "openova-databases_db-credentials--password" } },
                metadata: {
                    apiVersion: "kubernetes.external-secrets.io/v1alpha1",
                    kind: "PushSecretMetadata",
                    spec: { replicationLocations: ["europe-west1", "europe-west4"] },
                },
            },
        ]);
        // No property anywhere: GCP refuses metadata with a property, Azure ignores the property.
        for (const backend of [gcp, gcpPool, azure]) {
            for (const entry of backendPushData(backend, "databases/db-credentials", [{ from: "password", to: "pw" }])) {
                expect(entry.match.remoteRef).not.toHaveProperty("property");
            }
        }
        expect(backendPushData(gcp, "web/app")).toEqual([{ match: { remoteRef: { remoteKey: "openova-web_app" } } }]);
        // A generated initial value: the generator's key goes to the secret's key.
        expect(backendPushData(azure, "databases/db-credentials", [{ from: "password", to: "pw" }])).toEqual([
            { match: { secretKey: "password", remoteRef: { remoteKey: "openova-databases-db-credentials--pw" } } },
        ]);
        expect(backendPullSource(azure, "databases/db-credentials", ["password", "tls.crt"])).toEqual({
            data: [
                { secretKey: "password", remoteRef: { key: "openova-databases-db-credentials--password" } },
                { secretKey: "tls.crt", remoteRef: { key: "openova-databases-db-credentials--tls-crt" } },
            ],
        });
        expect(backendPullSource(gcp, "web/app")).toEqual({ dataFrom: [{ extract: { key: "openova-web_app" } }] });
    });
});

const WILDCARD = /[*?]/;

describe("the cloud policy table", () => {
    it("grants no wildcard, delete, list, purge or policy-writing permission to any backend", () => {
        for (const grant of CLOUD_POLICY_TABLE) {
            for (const permission of grant.permissions) {
                expect({ permission, wildcard: WILDCARD.test(permission) }).toEqual({ permission, wildcard: false });
                expect(permission).not.toMatch(/delete(?!resourcepolicy)|list|purge|setiampolicy|putresourcepolicy|backup|restore/i);
            }
        }
    });

    it("gives the read store only reads", () => {
        const reads = CLOUD_POLICY_TABLE.filter((grant) => grant.purposes.includes("pull")).flatMap((grant) => grant.permissions);
        expect(reads.sort()).toEqual(
            [
                "secretsmanager:GetSecretValue",
                "kms:Decrypt",
                "secretmanager.versions.access",
                "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            ].sort(),
        );
        expect(grantsFor(aws, ["pull"]).flatMap((grant) => grant.permissions)).toEqual(["secretsmanager:GetSecretValue"]);
    });

    it("adds the KMS and replication permissions only with the options that need them", () => {
        const permissions = (backend: ResolvedBackendOf<"aws-secrets-manager">) => grantsFor(backend).flatMap((grant) => grant.permissions);
        expect(permissions(aws)).not.toEqual(expect.arrayContaining(["kms:Decrypt"]));
        expect(permissions(aws)).not.toContain("secretsmanager:ReplicateSecretToRegions");
        expect(permissions(awsKms)).toEqual(
            expect.arrayContaining(["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt", "secretsmanager:ReplicateSecretToRegions"]),
        );
        const keyOnly = parse({
            type: "aws-secrets-manager",
            region: "eu-west-1",
            roleArn: ROLE,
            kmsKeyId: "alias/k",
        }) as ResolvedBackendOf<"aws-secrets-manager">;
        expect(permissions(keyOnly)).toEqual(expect.arrayContaining(["kms:Decrypt", "kms:GenerateDataKey"]));
        expect(permissions(keyOnly)).not.toContain("kms:Encrypt");
    });
});

describe("the AWS policy", () => {
    const statements = (document: object) =>
        (JSON.parse(JSON.stringify(document)) as { Statement: { Action: string[]; Resource: string | string[]; Condition?: object }[] })
            .Statement;

    it("reaches only the secrets with the prefix, in the secrets' region and the role's account", () => {
        const [secrets, ...rest] = statements(awsIamPolicy(aws));
        expect(rest).toEqual([]);
        expect(secrets.Resource).toEqual(["arn:aws:secretsmanager:eu-west-1:111122223333:secret:openova-*"]);
        expect(secrets.Action).toEqual(grantsFor(aws).flatMap((grant) => grant.permissions));
        for (const action of secrets.Action) {
            expect(action).not.toMatch(WILDCARD);
        }
    });

    it("names exactly the secrets when scoped by name, with the six characters AWS appends", () => {
        const names = replicatedSecretNames(
            aws,
            [{ name: "db-credentials", namespace: "databases", keys: ["password"] }],
            "external-secrets",
        );
        expect(names).toEqual(["openova-databases/db-credentials", `openova-external-secrets/${CANARY_NAME}`]);
        const [secrets] = statements(awsIamPolicy(aws, { kind: "names", names }));
        expect(secrets.Resource).toEqual([
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:openova-databases/db-credentials-??????",
            `arn:aws:secretsmanager:eu-west-1:111122223333:secret:openova-external-secrets/${CANARY_NAME}-??????`,
        ]);
        // The only wildcard in a resource is the prefix's, or the six characters: nothing else.
        for (const resource of [...[secrets.Resource].flat(), ...[statements(awsIamPolicy(aws))[0].Resource].flat()]) {
            expect(
                resource.replace(/-\?{6}$/, "").replace(/^(arn:aws:secretsmanager:eu-west-1:111122223333:secret:openova-)\*$/, "$1"),
            ).not.toMatch(WILDCARD);
        }
        expect(statements(awsIamPolicy(aws, { kind: "names", names: [] }))).toEqual([]);
    });

    it("reaches a customer key by alias only through Secrets Manager in the secrets' regions, or by its ARN", () => {
        const [, key] = statements(awsIamPolicy(awsKms));
        expect(key).toEqual({
            Sid: "SecretsKey",
            Effect: "Allow",
            Action: ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"],
            Resource: ["arn:aws:kms:eu-west-1:111122223333:key/*", "arn:aws:kms:eu-central-1:111122223333:key/*"],
            Condition: {
                StringEquals: { "kms:ViaService": ["secretsmanager.eu-west-1.amazonaws.com", "secretsmanager.eu-central-1.amazonaws.com"] },
                "ForAnyValue:StringEquals": { "kms:ResourceAliases": "alias/openova" },
            },
        });
        const arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        const byArn = parse({
            type: "aws-secrets-manager",
            region: "eu-west-1",
            roleArn: ROLE,
            kmsKeyId: arn,
        }) as ResolvedBackendOf<"aws-secrets-manager">;
        expect(statements(awsIamPolicy(byArn))[1]).toMatchObject({ Resource: arn, Action: ["kms:Decrypt", "kms:GenerateDataKey"] });
        expect(statements(awsIamPolicy(byArn, { kind: "prefix" }, ["pull"]))[1]).toMatchObject({ Action: ["kms:Decrypt"] });
    });

    it("is trusted by each cluster's OIDC provider for the identity ServiceAccount, and by EKS Pod Identity when chosen", () => {
        const clusters = [
            { region: "region1", issuer: "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC" },
            { region: "region2", issuer: "https://container.googleapis.com/v1/projects/p/locations/l/clusters/c" },
        ];
        const trust = awsTrustPolicy(aws, "region1", "external-secrets", clusters);
        expect(trust.Statement[0]).toEqual({
            Sid: "Esoregion1",
            Effect: "Allow",
            Principal: { Federated: "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC" },
            Action: ["sts:AssumeRoleWithWebIdentity"],
            Condition: {
                StringEquals: {
                    "oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:external-secrets:eso-backend-region1",
                    "oidc.eks.eu-west-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
                },
            },
        });
        expect(trust.Statement).toHaveLength(2);
        const pod = awsTrustPolicy(awsPod, "region1", "external-secrets", clusters);
        expect(pod.Statement.map((statement) => statement.Sid)).toEqual(["Esoregion2", "EksPodIdentity"]);
        expect(pod.Statement[1]).toMatchObject({
            Principal: { Service: "pods.eks.amazonaws.com" },
            Action: ["sts:AssumeRole", "sts:TagSession"],
        });
    });
});

describe("the Google Cloud bindings", () => {
    it("bind the secret permissions under a name condition and creation on the project, to the service account", () => {
        const [secrets, create] = gcpIamBindings(gcp, "123456789012");
        expect(secrets).toEqual({
            roleId: "openovaSecretWriter",
            permissions: [
                "secretmanager.versions.access",
                "secretmanager.secrets.get",
                "secretmanager.secrets.update",
                "secretmanager.versions.add",
            ],
            member: `serviceAccount:${GSA}`,
            condition: { title: "openova-vault secrets", expression: 'resource.name.startsWith("projects/123456789012/secrets/openova-")' },
        });
        expect(create).toEqual({
            roleId: "openovaSecretCreator",
            permissions: ["secretmanager.secrets.create"],
            member: `serviceAccount:${GSA}`,
        });
        expect(gcpIamBindings(gcp, "1", { kind: "prefix" }, ["pull"])).toEqual([
            expect.objectContaining({ roleId: "openovaSecretReader", permissions: ["secretmanager.versions.access"] }),
        ]);
    });

    it("spell the prefix as a secret ID, and name each secret when scoped by name", () => {
        const slashed = parse({
            type: "gcp-secret-manager",
            project: "platform-secrets",
            serviceAccount: GSA,
            secretPrefix: "team/a.",
        }) as ResolvedBackendOf<"gcp-secret-manager">;
        expect(gcpIamBindings(slashed, "1")[0].condition?.expression).toBe('resource.name.startsWith("projects/1/secrets/team_a_")');
        const names = replicatedSecretNames(
            gcp,
            [{ name: "db-credentials", namespace: "databases", keys: ["password"] }],
            "external-secrets",
        );
        const expression = gcpIamBindings(gcp, "1", { kind: "names", names })[0].condition?.expression ?? "";
        expect(expression).toBe(
            `resource.name == "projects/1/secrets/openova-databases_db-credentials--password" || resource.name.startsWith("projects/1/secrets/openova-databases_db-credentials--password/versions/") || ` +
                `resource.name == "projects/1/secrets/openova-external-secrets_${CANARY_NAME}--value" || resource.name.startsWith("projects/1/secrets/openova-external-secrets_${CANARY_NAME}--value/versions/")`,
        );
        // Evaluated as IAM evaluates it: the secret and its versions (what AccessSecretVersion and AddSecretVersion
        // are checked against), and no other secret, however its name begins.
        const grants = (name: string) => celRun(expression, { resource: { name } });
        const secret = "projects/1/secrets/openova-databases_db-credentials--password";
        expect(
            Object.fromEntries(
                [
                    secret,
                    `${secret}/versions/latest`,
                    `${secret}/versions/3`,
                    `${secret}2`,
                    `${secret}2/versions/1`,
                    "projects/1/secrets/openova-databases_other--password/versions/1",
                    "projects/2/secrets/openova-databases_db-credentials--password/versions/1",
                ].map((name) => [name, grants(name)]),
            ),
        ).toEqual({
            [secret]: true,
            [`${secret}/versions/latest`]: true,
            [`${secret}/versions/3`]: true,
            [`${secret}2`]: false,
            [`${secret}2/versions/1`]: false,
            "projects/1/secrets/openova-databases_other--password/versions/1": false,
            "projects/2/secrets/openova-databases_db-credentials--password/versions/1": false,
        });
    });

    it("let the identity ServiceAccount act as the service account, through GKE or the pool", () => {
        expect(gcpWorkloadIdentityUsers(gcp, "region1", "external-secrets")).toEqual([
            "serviceAccount:platform-secrets.svc.id.goog[external-secrets/eso-backend-region1]",
        ]);
        expect(gcpWorkloadIdentityUsers(gcp, "region1", "external-secrets", "gke-project")).toEqual([
            "serviceAccount:gke-project.svc.id.goog[external-secrets/eso-backend-region1]",
        ]);
        expect(gcpWorkloadIdentityUsers(gcpPool, "region1", "eso")).toEqual([
            `principal://iam.googleapis.com/${POOL}/subject/system:serviceaccount:eso:eso-backend-region1`,
        ]);
    });
});

describe("the Azure role", () => {
    it("holds only the two data actions ESO calls, on the vault, and no control-plane action", () => {
        const scope = azureVaultScope("sub", "rg", azure.vaultUrl);
        expect(scope).toBe("/subscriptions/sub/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/openova-weu");
        const { Description: description, ...role } = azureRoleDefinition(scope);
        expect(description).toMatch(/no delete, purge, list or keys/);
        expect(role).toEqual({
            Name: "openova-vault secret writer",
            IsCustom: true,
            Actions: [],
            NotActions: [],
            DataActions: ["Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/setSecret/action"],
            NotDataActions: [],
            AssignableScopes: [scope],
        });
        expect(azureRoleDefinition(scope, ["pull"]).DataActions).toEqual(["Microsoft.KeyVault/vaults/secrets/getSecret/action"]);
    });

    it("is federated with the identity ServiceAccount of each cluster", () => {
        expect(
            azureFederatedCredentials("region1", "external-secrets", [{ region: "region2", issuer: "https://issuer.example.com" }]),
        ).toEqual([
            {
                name: "openova-region2",
                issuer: "https://issuer.example.com",
                subject: "system:serviceaccount:external-secrets:eso-backend-region1",
                audiences: ["api://AzureADTokenExchange"],
            },
        ]);
    });
});
