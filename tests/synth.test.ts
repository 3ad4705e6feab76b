/**
 * The offline synth end to end: the real program for both region stacks (with the hardening defaults
 * on, and with every hardening option switched), determinism, bad config and bad project files, stack
 * references between synthesized stacks (secret outputs, `requireOutput`), secret redaction, odd stack
 * exports, engine URNs, and workers that hang or cannot report.
 */
import { parseVaultPolicy } from "./support/vaultHcl";
import * as pulumi from "@pulumi/pulumi";
import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { parseAllDocuments, parseDocument, stringify } from "yaml";
import { admit } from "./support/admission";
import { validateEsoObjects } from "./support/esoSchema";
import type { AdmissionPolicy } from "../components/stores/storeAdmission";
import { chartValidator, loadChartSchema, undeclaredPaths } from "./support/vaultChartSchema";
import { main } from "../tools/synth/cli";
import { SDK_HOOKS, engineUrn, runProgram } from "../tools/synth/mockRun";
import { REDACTED, redactKubernetesSecrets } from "../tools/synth/render";
import { type TlsReloaderContainer, tlsReloaderProbeScript, tlsReloaderScript } from "../components/vault-server/tlsReload";
import { type CliRun, runCli } from "./support/cliRun";

const projectDir = path.resolve(__dirname, "..");
const fixture = path.join(__dirname, "fixtures", "peering");
const edgeCases = path.join(__dirname, "fixtures", "edge-cases");
/** The CA the committed stacks name as vaultCaCertFile (relative to the project directory). */
const EXAMPLE_CA_FILE = "certs/example-platform-ca.pem";
const exampleCa = fs.readFileSync(path.join(projectDir, EXAMPLE_CA_FILE), "utf8");
/** A line of a JavaScript stack trace. */
const STACK_TRACE = /^\s+at .*:\d+/m;

type Run = CliRun;

/** Runs the synth CLI in this process, capturing what it prints. */
const synth = (...args: string[]): Promise<Run> => runCli(main, args);

function tempDir(): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), "openova-synth-"));
}

function readJson<T>(file: string): T {
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}

interface Resource {
    type: string;
    name: string;
    urn: string;
    parent?: string;
    dependsOn?: string[];
    provider?: string;
    options?: { retainOnDelete?: boolean; protect?: boolean };
    inputs: Record<string, unknown>;
}

/** A Kubernetes object as written to manifests.yaml. */
interface K8sObject {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
    spec: Record<string, unknown>;
}

/** The resources a synth run recorded for a stack. */
const resourcesOf = (out: string, stack: string) => readJson<Resource[]>(path.join(out, stack, "resources.json"));

/** The objects of a stack's manifests.yaml. */
function manifestsOf(out: string, stack: string): K8sObject[] {
    return parseAllDocuments(fs.readFileSync(path.join(out, stack, "manifests.yaml"), "utf8")).map((d) => d.toJS() as K8sObject);
}

/** The objects of ESO's API groups (stores, ExternalSecrets, PushSecrets, generators). */
const esoObjects = (objects: readonly K8sObject[]) => objects.filter((o) => /(^|\.)external-secrets\.io\//.test(o.apiVersion));

/** `kind/name` of each object, sorted. */
const kindsAndNames = (objects: readonly K8sObject[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();

/** The values given to the hashicorp/vault chart. */
interface VaultValues {
    global: { tlsDisable: boolean };
    server: {
        extraEnvironmentVars: Record<string, string>;
        extraSecretEnvironmentVars: { envName: string; secretName: string; secretKey: string }[];
        extraVolumes: { type: string; name: string }[];
        shareProcessNamespace: boolean;
        extraContainers?: TlsReloaderContainer[];
        volumes?: { name: string; emptyDir?: object }[];
        image: { repository: string; tag: string };
        serviceAccount: { annotations: Record<string, string> };
        ingress: { annotations: Record<string, string>; ingressClassName: string };
        ha: { raft: { config: string } };
    };
}

function vaultChartValues(resources: readonly Resource[]): VaultValues {
    const chart = resources.find((r) => r.type === "kubernetes:helm.sh/v4:Chart" && r.inputs.chart === "vault");
    if (chart === undefined) {
        throw new Error("no hashicorp/vault chart");
    }
    return chart.inputs.values as VaultValues;
}

/** The server configuration (`server.ha.raft.config`): JSON, which Vault's configuration parser reads like HCL. */
interface RaftJson {
    listener: { tcp: Record<string, string | boolean | Record<string, boolean>> };
    storage: { raft: { retry_join: Record<string, string>[] } };
    seal?: Record<string, Record<string, string>>;
}

function raftConfigOf(values: VaultValues): Promise<RaftJson> {
    return Promise.resolve(JSON.parse(values.server.ha.raft.config) as RaftJson);
}

let validateChartValues: ReturnType<typeof chartValidator> | undefined;

/** What the chart's own values schema says about `values`: its errors, and the paths it does not declare. */
function chartSchemaProblems(values: VaultValues): { errors: unknown; undeclared: string[] } {
    const validate = (validateChartValues ??= chartValidator());
    validate(values);
    return { errors: validate.errors ?? null, undeclared: undeclaredPaths(values, loadChartSchema()) };
}

function filesUnder(dir: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
        if (entry.isFile()) {
            const file = path.join(entry.parentPath, entry.name);
            out[path.relative(dir, file)] = fs.readFileSync(file, "utf8");
        }
    }
    return out;
}

/** Where {@link projectWithStacks} puts its copy of the example platform CA. */
const caFile = (dir: string) => path.join(dir, "platform-ca.pem");

/**
 * A temporary project: a copy of the project's Pulumi.yaml pointing at the real program, with the
 * stack files `stacks` returns for the project's directory, and a copy of the example platform CA
 * at {@link caFile}. `projectDefaults` sets the default of project-wide keys
 * in that Pulumi.yaml, where they belong (e.g. peerAuth).
 *
 * Stack files must name files in the project by absolute path: Pulumi runs the program in the
 * directory of `main`, so here a relative path would resolve against the real project instead.
 */
function projectWithStacks(stacks: (dir: string) => Record<string, string>, projectDefaults: Record<string, unknown> = {}): string {
    const dir = tempDir();
    const project = parseDocument(fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8"));
    project.set("main", path.join(projectDir, "index.ts"));
    for (const [key, value] of Object.entries(projectDefaults)) {
        project.setIn(["config", key, "default"], value);
    }
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), project.toString());
    fs.copyFileSync(path.join(projectDir, EXAMPLE_CA_FILE), caFile(dir));
    for (const [stack, content] of Object.entries(stacks(dir))) {
        fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), content);
    }
    return dir;
}

/** A stack file setting the given keys of this project. */
function stackFile(config: Record<string, unknown>): string {
    return stringify({ config: Object.fromEntries(Object.entries(config).map(([key, value]) => [`openova-vault:${key}`, value])) });
}

/** A temporary copy of the peering fixture's Pulumi.yaml, running its program, with the given stack files. */
function peeringWithStacks(stacks: Record<string, string>, dir = tempDir()): string {
    const projectFile = fs
        .readFileSync(path.join(fixture, "Pulumi.yaml"), "utf8")
        .replace(/^main: .*$/m, `main: ${path.join(fixture, "index.ts")}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), projectFile);
    for (const [stack, content] of Object.entries(stacks)) {
        fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), content);
    }
    return dir;
}

/** The lines of a run's stderr that report errors. */
const errorLines = (run: Run) => run.stderr.split("\n").filter((line) => line.startsWith("error: "));

describe("synth of the region stacks", () => {
    const out = tempDir();
    let run: Run;

    beforeAll(async () => {
        run = await synth("--project", projectDir, "--out", out);
    });

    it("succeeds and summarizes each stack", () => {
        expect(run.code).toBe(0);
        // region1, the home of db-credentials, also has its generator and the PushSecret of its first value.
        // JWT peer auth (the default): each region mounts a JWT backend for its peer instead of issuing it a
        // token, and publishes its cluster's token issuer (the tenth output), and the snapshots' off-site target (the eleventh). db-credentials is written by
        // any region, so each region runs a replicator. Each region also has its store admission policies
        // (the component, two policies and their bindings).
        expect(run.stdout).toContain("stack region1: 69 resources, 0 warning(s), 12 outputs");
        expect(run.stdout).toContain("stack region2: 66 resources, 0 warning(s), 12 outputs");
        expect(run.stdout).toMatch(/1 {2}openova:vault:Replicator/);
        expect(run.stdout).toMatch(/2 {2}kubernetes:helm\.sh\/v4:Chart/);
        expect(Object.keys(filesUnder(out)).sort()).toEqual(
            ["manifests.yaml", "outputs.json", "resources.json"].flatMap((f) => [`region1/${f}`, `region2/${f}`]).sort(),
        );
    });

    it("records the namespace, the Vault chart with its values and the ESO chart in resources.json", () => {
        const resources = readJson<Resource[]>(path.join(out, "region1", "resources.json"));
        for (const r of resources) {
            expect(Object.keys(r).slice(0, 3)).toEqual(["type", "name", "urn"]);
        }
        const namespace = resources.find((r) => r.type === "kubernetes:core/v1:Namespace" && r.name === "region1-vault-namespace");
        expect(namespace?.inputs.metadata).toMatchObject({ name: "vault" });
        const vault = resources.find((r) => r.type === "kubernetes:helm.sh/v4:Chart" && r.name === "region1-vault");
        expect(vault?.inputs).toMatchObject({
            chart: "vault",
            version: "0.34.1",
            namespace: "vault",
            values: {
                injector: { enabled: false },
                server: {
                    ha: { enabled: true, replicas: 3, raft: { enabled: true, setNodeId: true } },
                    ingress: { enabled: true, ingressClassName: "cilium", hosts: [{ host: "vault.region1.example.com", paths: [] }] },
                    dataStorage: { enabled: true, size: "10Gi" },
                    auditStorage: { enabled: true },
                },
            },
        });
        expect(vault?.parent).toContain("openova:vault:VaultServer");
        // The pods mount the certificate's Secret, so the chart waits for the Certificate (and the namespace).
        const certificate = resources.find((r) => r.type === "kubernetes:cert-manager.io/v1:Certificate");
        expect(certificate?.dependsOn).toEqual([namespace?.urn]);
        expect(vault?.dependsOn).toEqual([certificate?.urn, namespace?.urn]);
        const eso = resources.find((r) => r.type === "kubernetes:helm.sh/v4:Chart" && r.name === "region1-external-secrets");
        expect(eso?.inputs).toMatchObject({
            chart: "external-secrets",
            version: "2.9.0",
            values: { installCRDs: true, leaderElect: true },
        });
    });

    it("writes outputs.json with what peers need: where to log in (nothing secret, with JWT peer auth) and this cluster's token issuer", () => {
        expect(readJson(path.join(out, "region2", "outputs.json"))).toEqual({
            backend: { type: "vault" },
            connectedPeers: ["region1"],
            externalSecretsNamespace: "external-secrets",
            peerAccess: {
                region1: {
                    address: "https://vault.region2.example.com",
                    caCert: exampleCa,
                    jwt: { path: "jwt-region1", role: "external-secrets-push", audience: "https://vault.region2.example.com" },
                },
            },
            peers: ["region1"],
            regionName: "region2",
            serviceAccountIssuer: { issuer: "https://oidc.region2.example.com", publicKeys: [], discoveryCaCert: "" },
            // Where its snapshots are copied off the cluster: an S3 bucket, with the job's IRSA role.
            snapshotOffsite: { target: "s3", location: "s3://example-vault-snapshots-region2/vault-snapshots/region2/" },
            vaultAddress: "https://vault.region2.example.com",
            vaultCaCert: exampleCa,
            vaultConfigured: true,
            vaultNamespace: "vault",
        });
    });

    it.each(["region1", "region2"])("configures %s's Vault through its own provider and wires it to its peer", (region) => {
        const peer = region === "region1" ? "region2" : "region1";
        const resources = readJson<Resource[]>(path.join(out, region, "resources.json"));
        const provider = resources.find((r) => r.type === "pulumi:providers:vault");
        // The provider verifies Vault with the stack's CA file, as the stack file names it.
        expect(provider?.inputs).toMatchObject({ address: `https://vault.${region}.example.com`, caCertFile: EXAMPLE_CA_FILE });
        expect(provider?.inputs).not.toHaveProperty("token");
        const vaultTypes = resources.filter((r) => r.type.startsWith("vault:")).map((r) => r.type);
        // With the replicator: its audit device, its own policy and role, and the peer replicator's policy and JWT role.
        expect(vaultTypes.sort()).toEqual([
            "vault:index/audit:Audit",
            "vault:index/audit:Audit",
            "vault:index/audit:Audit",
            "vault:index/authBackend:AuthBackend",
            "vault:index/mount:Mount",
            "vault:index/policy:Policy",
            "vault:index/policy:Policy",
            "vault:index/policy:Policy",
            "vault:index/policy:Policy",
            "vault:index/policy:Policy",
            "vault:index/policy:Policy",
            "vault:jwt/authBackend:AuthBackend",
            "vault:jwt/authBackendRole:AuthBackendRole",
            "vault:jwt/authBackendRole:AuthBackendRole",
            "vault:kubernetes/authBackendConfig:AuthBackendConfig",
            "vault:kubernetes/authBackendRole:AuthBackendRole",
            "vault:kubernetes/authBackendRole:AuthBackendRole",
            "vault:kubernetes/authBackendRole:AuthBackendRole",
            "vault:kubernetes/authBackendRole:AuthBackendRole",
        ]);
        // One policy per role: namespaces read and push under separate roles; the snapshot job only snapshots.
        const roles = resources
            .filter((r) => r.type === "vault:kubernetes/authBackendRole:AuthBackendRole")
            .map((r) => ({
                role: r.inputs.roleName,
                policies: r.inputs.tokenPolicies,
                serviceAccounts: r.inputs.boundServiceAccountNames,
                audience: r.inputs.audience,
            }));
        expect(roles).toEqual(
            expect.arrayContaining([
                { role: "namespace-pull", policies: ["namespace-pull"], serviceAccounts: ["vault-secrets-reader"], audience: "vault" },
                { role: "namespace-push", policies: ["namespace-push"], serviceAccounts: ["vault-secrets-writer"], audience: "vault" },
                { role: "raft-snapshot", policies: ["raft-snapshot"], serviceAccounts: ["vault-snapshot"], audience: "vault-snapshot" },
                { role: "replicator", policies: ["openova-replicator"], serviceAccounts: ["openova-replicator"], audience: "vault" },
            ]),
        );
        expect(roles).toHaveLength(4);
        for (const r of resources.filter((x) => x.type.startsWith("vault:"))) {
            expect(r.provider?.startsWith(`${provider?.urn}::`)).toBe(true);
        }
        // JWT peer auth, the default: the peer's ESO logs in with its own service-account tokens, checked with
        // the keys its cluster's issuer publishes (OIDC discovery, as the stack files say). No token to renew.
        expect(resources.find((r) => r.type === "vault:jwt/authBackend:AuthBackend")?.inputs).toEqual({
            path: `jwt-${peer}`,
            type: "jwt",
            description: `Service-account tokens of ${peer}'s cluster`,
            boundIssuer: `https://oidc.${peer}.example.com`,
            oidcDiscoveryUrl: `https://oidc.${peer}.example.com`,
        });
        expect(
            resources.find((r) => r.type === "vault:jwt/authBackendRole:AuthBackendRole" && r.inputs.roleName === "external-secrets-push")
                ?.inputs,
        ).toMatchObject({
            backend: `jwt-${peer}`,
            roleName: "external-secrets-push",
            boundSubject: "system:serviceaccount:external-secrets:external-secrets",
            boundAudiences: [`https://vault.${region}.example.com`],
            tokenPolicies: [`peer-${peer}-push`],
            tokenTtl: 600,
        });
        expect(resources.filter((r) => r.type === "vault:index/token:Token" || r.name.includes("token-renewer"))).toEqual([]);
        const stores = resources
            .filter((r) => r.type === "kubernetes:external-secrets.io/v1:ClusterSecretStore")
            .map((r) => (r.inputs.metadata as { name: string }).name);
        expect(stores.sort()).toEqual(["vault-local", "vault-local-push", `vault-${peer}`]);
        expect(resources.filter((r) => r.type === "kubernetes:core/v1:Secret")).toEqual([]);
        const reference = resources.find((r) => r.type === "pulumi:pulumi:StackReference");
        expect(reference?.inputs).toEqual({ name: `organization/openova-vault/${peer}` });
    });

    it.each(["region1", "region2"])(
        "narrows %s's policies, read with Vault's own parser: each namespace to its prefix, the peer to what it pushes, metadata writes to custom_metadata",
        (region) => {
            const peer = region === "region1" ? "region2" : "region1";
            const resources = readJson<Resource[]>(path.join(out, region, "resources.json"));
            const policies = Object.fromEntries(
                resources
                    .filter((r) => r.type === "vault:index/policy:Policy")
                    .map((r) => [String(r.inputs.name), parseVaultPolicy(String(r.inputs.policy))]),
            );
            const prefix = /^\{\{identity\.entity\.aliases\.auth_kubernetes_[0-9a-f]{8}\.metadata\.service_account_namespace\}\}\/\*$/;
            const [pullPath] = Object.keys(policies["namespace-pull"]);
            expect(Object.keys(policies["namespace-pull"])).toHaveLength(1);
            expect(pullPath.replace(/^secret\/data\//, "")).toMatch(prefix);
            const onlyCustomMetadata = { capabilities: ["create", "read", "update"], allowed_parameters: { custom_metadata: [] } };
            expect(policies["namespace-push"]).toEqual({
                [pullPath]: { capabilities: ["create", "read", "update"] },
                [pullPath.replace("secret/data/", "secret/metadata/")]: onlyCustomMetadata,
            });
            // region1 is the home of the bootstrap's canary: region2 pushes nothing. db-credentials is written by
            // any region: no PushSecret carries it, so no peer may push it; the replicators carry it.
            expect(policies[`peer-${peer}-push`]).toEqual(
                peer === "region1"
                    ? {
                          "secret/data/external-secrets/openova-replication-canary": { capabilities: ["create", "read", "update"] },
                          "secret/metadata/external-secrets/openova-replication-canary": onlyCustomMetadata,
                      }
                    : { "secret/*": { capabilities: ["deny"] } },
            );
            const authConfig = resources.find((r) => r.type === "vault:kubernetes/authBackendConfig:AuthBackendConfig");
            expect(authConfig?.inputs.disableIssValidation).toBe(true);
        },
    );

    it("declares stores, ExternalSecrets, PushSecrets and generators that ESO's own schemas accept, exactly as synthesized", () => {
        const [one, two] = [esoObjects(manifestsOf(out, "region1")), esoObjects(manifestsOf(out, "region2"))];
        expect(kindsAndNames(one)).toEqual([
            "ClusterSecretStore/vault-local",
            "ClusterSecretStore/vault-local-push",
            "ClusterSecretStore/vault-region2",
            "ExternalSecret/db-credentials",
            "Password/replicated-secret-password-32",
            "PushSecret/db-credentials-initial",
        ]);
        expect(kindsAndNames(two)).toEqual([
            "ClusterSecretStore/vault-local",
            "ClusterSecretStore/vault-local-push",
            "ClusterSecretStore/vault-region1",
            "ExternalSecret/db-credentials",
        ]);
        expect(validateEsoObjects([...one, ...two])).toEqual([...one, ...two].map(() => ""));
    });

    it.each(["region1", "region2"])(
        "has %s's admission policies admit every ExternalSecret and PushSecret it declares, and its peer store wait for them",
        (region) => {
            const objects = manifestsOf(out, region);
            const policies = objects.filter((o) => o.kind === "ValidatingAdmissionPolicy") as unknown as AdmissionPolicy[];
            expect(policies.map((p) => p.metadata.name).sort()).toEqual([
                "openova-vault-no-reads-from-peer-stores",
                "openova-vault-push-own-prefix",
            ]);
            const checked = objects.filter((o) => o.kind === "ExternalSecret" || o.kind === "PushSecret");
            expect(checked.length).toBeGreaterThan(0);
            for (const object of checked) {
                const resource =
                    object.kind === "ExternalSecret"
                        ? "external-secrets.io/v1/externalsecrets"
                        : "external-secrets.io/v1alpha1/pushsecrets";
                const outcomes = policies.map((policy) => admit(policy, { operation: "CREATE", resource, object }).outcome);
                expect({ object: `${object.kind}/${object.metadata.name}`, outcomes: outcomes.sort() }).toEqual({
                    object: `${object.kind}/${object.metadata.name}`,
                    outcomes: ["admitted", "not matched"],
                });
            }
            const resources = resourcesOf(out, region);
            const admission = resources.find((r) => r.type === "openova:vault:StoreAdmission");
            const bindings = resources.filter((r) => r.parent === admission?.urn && r.type.endsWith("ValidatingAdmissionPolicyBinding"));
            expect(bindings).toHaveLength(2);
            const peerStore = resources.find((r) => r.type === "openova:vault:PeerStore");
            const store = resources.find(
                (r) => r.type === "kubernetes:external-secrets.io/v1:ClusterSecretStore" && r.parent === peerStore?.urn,
            );
            expect(store?.dependsOn).toEqual(expect.arrayContaining(bindings.map((b) => b.urn)));
        },
    );

    it("replicates db-credentials: materialized in every region, carried by the replicators, first value generated once, in region1", () => {
        const objects = (region: string) =>
            parseAllDocuments(fs.readFileSync(path.join(out, region, "manifests.yaml"), "utf8"))
                .map(
                    (d) =>
                        d.toJS() as {
                            kind: string;
                            apiVersion: string;
                            metadata: { name: string; namespace?: string; labels?: Record<string, string> };
                            spec: Record<string, unknown>;
                        },
                )
                .filter((d) => d.metadata.namespace === "databases" && d.apiVersion.includes("external-secrets.io"));
        const [one, two] = [objects("region1"), objects("region2")];
        expect(validateEsoObjects([...one, ...two])).toEqual([...one, ...two].map(() => ""));
        expect(one.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
            "ExternalSecret/db-credentials",
            "Password/replicated-secret-password-32",
            "PushSecret/db-credentials-initial",
        ]);
        expect(two.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(["ExternalSecret/db-credentials"]);
        // Each region's replicator carries db-credentials, and may ask ESO to refresh its ExternalSecret at once.
        for (const region of ["region1", "region2"]) {
            const config = manifestsOf(out, region).find((o) => o.kind === "ConfigMap" && o.metadata.name === "openova-replicator");
            const replicated = JSON.parse((config as unknown as { data: Record<string, string> }).data["config.json"]) as {
                secrets: { key: string; externalSecrets: { namespace: string; name: string }[] }[];
            };
            expect(replicated.secrets).toEqual([
                { key: "databases/db-credentials", externalSecrets: [{ namespace: "databases", name: "db-credentials" }] },
            ]);
        }
        const initial = one.find((o) => o.metadata.name === "db-credentials-initial" && o.kind === "PushSecret");
        // The first value is written through the local push store, never the read-only vault-local.
        expect(initial?.spec).toMatchObject({
            updatePolicy: "IfNotExists",
            secretStoreRefs: [{ kind: "ClusterSecretStore", name: "vault-local-push" }],
        });
    });

    describe("with the hardening defaults", () => {
        it.each(["region1", "region2"])(
            "has cert-manager issue %s's server certificate, in Vault's namespace, for the public host and every in-cluster name",
            (region) => {
                const certificates = manifestsOf(out, region).filter((o) => o.kind === "Certificate");
                expect(certificates).toHaveLength(1);
                expect(certificates[0]).toMatchObject({
                    apiVersion: "cert-manager.io/v1",
                    metadata: { name: "vault-server-tls", namespace: "vault" },
                    spec: {
                        secretName: "vault-server-tls",
                        issuerRef: { group: "cert-manager.io", kind: "ClusterIssuer", name: "vault-ca-issuer" },
                        ipAddresses: ["127.0.0.1"],
                    },
                });
                // The peers and the ingress, the local stores and the snapshot job, and Raft's joins.
                expect(certificates[0].spec.dnsNames).toEqual(
                    expect.arrayContaining([`vault.${region}.example.com`, "vault-active.vault.svc", "*.vault-internal"]),
                );
                expect(certificates[0].spec).not.toHaveProperty("commonName");
            },
        );

        it.each(["region1", "region2"])(
            "serves only TLS in %s: the listener serves the mounted certificate, Raft joins verify the leader, the CLI trusts the CA",
            async (region) => {
                const values = vaultChartValues(resourcesOf(out, region));
                expect(values.global.tlsDisable).toBe(false);
                expect(values.server.extraVolumes).toEqual([{ type: "secret", name: "vault-server-tls" }]);
                expect(values.server.extraEnvironmentVars).toEqual({ VAULT_CACERT: "/vault/userconfig/vault-server-tls/ca.crt" });
                const config = await raftConfigOf(values);
                expect(config.listener.tcp).toMatchObject({
                    tls_cert_file: "/vault/userconfig/vault-server-tls/tls.crt",
                    tls_key_file: "/vault/userconfig/vault-server-tls/tls.key",
                    tls_min_version: "tls12",
                });
                expect(config.listener.tcp).not.toHaveProperty("tls_disable");
                // Telemetry for Prometheus is on; its metrics need a token (no unauthenticated access), and
                // no ServiceMonitor or rules are declared unless configured.
                expect((config as unknown as { telemetry: unknown }).telemetry).toEqual({
                    prometheus_retention_time: "60s",
                    disable_hostname: true,
                });
                expect(config.listener.tcp).not.toHaveProperty("telemetry");
                expect(values).not.toHaveProperty("serverTelemetry");
                expect(manifestsOf(out, region).filter((o) => o.kind === "PrometheusRule")).toEqual([]);
                expect(config.storage.raft.retry_join).toEqual(
                    [0, 1, 2].map((i) => ({
                        leader_api_addr: `https://vault-${i}.vault-internal:8200`,
                        leader_ca_cert_file: "/vault/userconfig/vault-server-tls/ca.crt",
                        leader_tls_servername: `vault-${i}.vault-internal`,
                    })),
                );
                // Shamir by default: no seal stanza.
                expect(config.seal).toBeUndefined();
            },
        );

        it.each(["region1", "region2"])(
            "reloads %s's certificate by itself: a tls-reloader beside every server, in the pod's shared process namespace, watching the listener's files",
            async (region) => {
                const values = vaultChartValues(resourcesOf(out, region));
                expect(values.server.shareProcessNamespace).toBe(true);
                expect((values.server.extraContainers ?? []).map((c) => c.name)).toEqual(["tls-reloader"]);
                const [reloader] = values.server.extraContainers ?? [];
                expect(reloader.image).toBe(`${values.server.image.repository}:${values.server.image.tag}`);
                expect(reloader.command).toEqual(["/bin/sh", "-c", tlsReloaderScript()]);
                expect(reloader.readinessProbe.exec.command).toEqual(["/bin/sh", "-c", tlsReloaderProbeScript()]);
                const listener = (await raftConfigOf(values)).listener.tcp;
                expect(reloader.env).toEqual(
                    expect.arrayContaining([
                        { name: "TLS_CERT_FILE", value: listener.tls_cert_file },
                        { name: "TLS_KEY_FILE", value: listener.tls_key_file },
                    ]),
                );
                expect(reloader.volumeMounts).toContainEqual({
                    name: "userconfig-vault-server-tls",
                    mountPath: "/vault/userconfig/vault-server-tls",
                    readOnly: true,
                });
                expect(reloader.securityContext).toMatchObject({
                    runAsUser: 100,
                    readOnlyRootFilesystem: true,
                    capabilities: { drop: ["ALL"] },
                });
                expect(values.server.volumes?.map((v) => v.name)).toEqual(["tls-reloader-state"]);
            },
        );

        it.each(["region1", "region2"])("has the cilium ingress of %s pass TLS through to the servers", (region) => {
            expect(vaultChartValues(resourcesOf(out, region)).server.ingress).toMatchObject({
                ingressClassName: "cilium",
                annotations: { "ingress.cilium.io/tls-passthrough": "enabled" },
            });
        });

        it("gives the hashicorp/vault chart values its own schema accepts, with no key it does not declare", () => {
            for (const region of ["region1", "region2"]) {
                expect({ region, ...chartSchemaProblems(vaultChartValues(resourcesOf(out, region))) }).toEqual({
                    region,
                    errors: null,
                    undeclared: [],
                });
            }
        });

        it.each(["region1", "region2"])("enables two audit devices in %s's Vault: a file on the audit volume, and stdout", (region) => {
            const audits = resourcesOf(out, region).filter((r) => r.type === "vault:index/audit:Audit" && r.inputs.path !== "replicator");
            expect(audits.map((r) => r.inputs)).toEqual([
                expect.objectContaining({
                    path: "file",
                    type: "file",
                    options: { file_path: "/vault/audit/vault-audit.log", mode: "0600" },
                }),
                expect.objectContaining({ path: "stdout", type: "file", options: { file_path: "stdout" } }),
            ]);
        });

        it.each(["region1", "region2"])(
            "scopes %s's stores to labelled namespaces, and the local ones reach Vault over TLS, trusting its CA",
            (region) => {
                const peer = region === "region1" ? "region2" : "region1";
                const stores = manifestsOf(out, region).filter((o) => o.kind === "ClusterSecretStore");
                const scope = (label: string) => [{ namespaceSelector: { matchLabels: { [label]: "true" } } }];
                expect(Object.fromEntries(stores.map((s) => [s.metadata.name, s.spec.conditions]))).toEqual({
                    "vault-local": scope("vault.openova.io/read"),
                    "vault-local-push": scope("vault.openova.io/replicate"),
                    [`vault-${peer}`]: scope("vault.openova.io/replicate"),
                });
                const vaultOf = (name: string) =>
                    (stores.find((s) => s.metadata.name === name)?.spec.provider as { vault: Record<string, unknown> }).vault;
                for (const [name, role] of [
                    ["vault-local", "namespace-pull"],
                    ["vault-local-push", "namespace-push"],
                ]) {
                    expect(vaultOf(name)).toMatchObject({
                        server: "https://vault-active.vault.svc:8200",
                        caProvider: { type: "Secret", name: "vault-server-tls", namespace: "vault", key: "ca.crt" },
                        auth: { kubernetes: { role } },
                    });
                }
                expect(vaultOf(`vault-${peer}`)).toMatchObject({
                    server: `https://vault.${peer}.example.com`,
                    caBundle: Buffer.from(exampleCa).toString("base64"),
                });
            },
        );

        it("labels the replicated secret's namespace for what each region does there (region1 is its home), and ESO's namespace for both", () => {
            const patches = (region: string) =>
                Object.fromEntries(
                    resourcesOf(out, region)
                        .filter((r) => r.type === "kubernetes:core/v1:NamespacePatch")
                        .map((r) => {
                            const metadata = r.inputs.metadata as { name: string; labels: Record<string, string> };
                            return [metadata.name, metadata.labels];
                        }),
                );
            const both = { "vault.openova.io/read": "true", "vault.openova.io/replicate": "true" };
            expect(patches("region1")).toEqual({ databases: both, "external-secrets": both });
            expect(patches("region2")).toEqual({ databases: { "vault.openova.io/read": "true" }, "external-secrets": both });
        });

        it("lets every ESO object in databases use the stores it names: their conditions admit the namespace's labels", () => {
            for (const region of ["region1", "region2"]) {
                const objects = manifestsOf(out, region);
                const labels = objects.find((o) => o.kind === "Namespace" && o.metadata.name === "databases")?.metadata.labels ?? {};
                const stores = objects.filter((o) => o.kind === "ClusterSecretStore");
                const admits = (store: K8sObject) =>
                    (store.spec.conditions as { namespaceSelector: { matchLabels: Record<string, string> } }[]).some((c) =>
                        Object.entries(c.namespaceSelector.matchLabels).every(([k, v]) => labels[k] === v),
                    );
                const used = objects
                    .filter((o) => o.metadata.namespace === "databases" && (o.kind === "ExternalSecret" || o.kind === "PushSecret"))
                    .flatMap((o) => {
                        const refs = o.kind === "ExternalSecret" ? [o.spec.secretStoreRef] : (o.spec.secretStoreRefs as unknown[]);
                        return (refs as { name?: string; labelSelector?: { matchLabels: Record<string, string> } }[]).flatMap((ref) =>
                            stores.filter((s) =>
                                ref.name !== undefined
                                    ? s.metadata.name === ref.name
                                    : Object.entries(ref.labelSelector?.matchLabels ?? {}).every(([k, v]) => s.metadata.labels?.[k] === v),
                            ),
                        );
                    });
                expect({
                    region,
                    used: used.map((s) => s.metadata.name).sort(),
                    refused: used.filter((s) => !admits(s)).map((s) => s.metadata.name),
                }).toEqual({
                    region,
                    // region1 writes the first value through vault-local-push; the replicators, not ESO, reach the peer.
                    used: region === "region1" ? ["vault-local", "vault-local-push"] : ["vault-local"],
                    refused: [],
                });
            }
        });

        it.each(["region1", "region2"])(
            "admits only ESO, the servers, the snapshot job, the token renewer and Cilium's ingress to %s's servers",
            (region) => {
                const objects = manifestsOf(out, region);
                const servers = { "app.kubernetes.io/instance": "vault", "app.kubernetes.io/name": "vault", component: "server" };
                const api = { port: 8200, protocol: "TCP" };
                const policy = objects.filter((o) => o.kind === "NetworkPolicy" && o.metadata.namespace === "vault");
                expect(policy).toHaveLength(1);
                expect(policy[0]).toMatchObject({ metadata: { name: "vault-server", namespace: "vault" } });
                expect(policy[0].spec).toEqual({
                    podSelector: { matchLabels: servers },
                    policyTypes: ["Ingress"],
                    ingress: [
                        {
                            from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "external-secrets" } } }],
                            ports: [api],
                        },
                        { from: [{ podSelector: { matchLabels: servers } }], ports: [api, { port: 8201, protocol: "TCP" }] },
                        { from: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "vault-snapshot" } } }], ports: [api] },
                        // Admitted whether or not the region runs a renewer (it does only with long-lived tokens).
                        { from: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "vault-token-renewer" } } }], ports: [api] },
                    ],
                });
                const cilium = objects.filter((o) => o.kind === "CiliumNetworkPolicy");
                expect(cilium).toHaveLength(1);
                expect(cilium[0]).toMatchObject({
                    apiVersion: "cilium.io/v2",
                    metadata: { name: "vault-server-from-ingress", namespace: "vault" },
                });
                expect(cilium[0].spec).toEqual({
                    endpointSelector: { matchLabels: servers },
                    ingress: [{ fromEntities: ["ingress"], toPorts: [{ ports: [{ port: "8200", protocol: "TCP" }] }] }],
                });
            },
        );

        it.each(["region1", "region2"])(
            "snapshots %s's Raft data hourly, over TLS, to a claim kept when the stack lets go of it",
            (region) => {
                const resources = resourcesOf(out, region);
                const claim = resources.find((r) => r.type === "kubernetes:core/v1:PersistentVolumeClaim");
                expect(claim?.options).toEqual({ retainOnDelete: true });
                expect(claim?.inputs).toMatchObject({
                    metadata: { name: "vault-snapshots", namespace: "vault" },
                    spec: { resources: { requests: { storage: "10Gi" } } },
                });
                const cronJobs = manifestsOf(out, region).filter((o) => o.kind === "CronJob");
                expect(cronJobs).toHaveLength(1);
                expect(cronJobs[0]).toMatchObject({
                    metadata: { name: "vault-snapshot", namespace: "vault" },
                    spec: { schedule: "0 * * * *", timeZone: "Etc/UTC", concurrencyPolicy: "Forbid" },
                });
                const pod = (cronJobs[0].spec as { jobTemplate: { spec: { template: { spec: Record<string, unknown> } } } }).jobTemplate
                    .spec.template.spec;
                expect(pod.serviceAccountName).toBe("vault-snapshot");
                expect(pod.volumes).toEqual(
                    expect.arrayContaining([
                        { name: "snapshots", persistentVolumeClaim: { claimName: "vault-snapshots" } },
                        // Only the CA of the servers' certificate, not its key.
                        { name: "vault-ca", secret: { secretName: "vault-server-tls", items: [{ key: "ca.crt", path: "ca.crt" }] } },
                    ]),
                );
                // The snapshot first (an init container), then its copy to the region's S3 bucket and the peer's.
                const snapshot = (pod.initContainers as { name: string; env: { name: string; value: string }[] }[])[0];
                expect(snapshot.name).toBe("snapshot");
                expect(snapshot.env).toEqual(
                    expect.arrayContaining([{ name: "VAULT_ADDR", value: "https://vault-active.vault.svc:8200" }]),
                );
                const copy = (pod.containers as { name: string; image: string; command: string[] }[])[0];
                expect(copy.name).toBe("offsite-copy");
                expect(copy.image).toMatch(/^amazon\/aws-cli:/);
                expect(copy.command[2]).toContain(`own_bucket='example-vault-snapshots-${region}'`);
                // Its own Vault role, with a policy that only reads snapshots.
                const policy = resources.find((r) => r.type === "vault:index/policy:Policy" && r.inputs.name === "raft-snapshot")?.inputs
                    .policy;
                expect(JSON.parse(String(policy))).toEqual({ path: { "sys/storage/raft/snapshot": { capabilities: ["read"] } } });
            },
        );
    });

    it("writes no token value anywhere: neither the peer tokens nor the admin token", () => {
        for (const [file, text] of Object.entries(filesUnder(out))) {
            expect({ file, leaks: /synth-token-|synth-placeholder|hvs\./.test(text) }).toEqual({ file, leaks: false });
        }
    });

    it("writes manifests.yaml as valid multi-document YAML of the declared Kubernetes objects", () => {
        const text = fs.readFileSync(path.join(out, "region1", "manifests.yaml"), "utf8");
        const documents = parseAllDocuments(text);
        expect(documents.flatMap((d) => d.errors)).toEqual([]);
        expect(
            documents
                .map((d) => d.toJS() as { kind: string; metadata: { name: string } })
                .map((d) => `${d.kind}/${d.metadata.name}`)
                .sort(),
        ).toEqual([
            "Certificate/vault-server-tls",
            "CiliumClusterwideNetworkPolicy/openova-vault-vault-source-ranges",
            "CiliumNetworkPolicy/vault-server-from-ingress",
            "ClusterSecretStore/vault-local",
            "ClusterSecretStore/vault-local-push",
            "ClusterSecretStore/vault-region2",
            // The replicator: its settings and code, its process, the port for Vault's audit stream, what may reach it,
            // and the right to ask ESO to refresh the replicated secret's ExternalSecret.
            "ConfigMap/openova-replicator",
            "ConfigMap/openova-replicator-code",
            "CronJob/vault-snapshot",
            "Deployment/openova-replicator",
            "ExternalSecret/db-credentials",
            // Patched (labels only): the namespaces that may use the stores.
            "Namespace/databases",
            "Namespace/external-secrets",
            // Declared.
            "Namespace/external-secrets",
            "Namespace/vault",
            "NetworkPolicy/openova-replicator",
            "NetworkPolicy/vault-server",
            "Password/replicated-secret-password-32",
            "PersistentVolumeClaim/vault-snapshots",
            "PushSecret/db-credentials-initial",
            "Role/openova-replicator-refresh",
            "RoleBinding/openova-replicator-refresh",
            "Service/openova-replicator",
            "ServiceAccount/openova-replicator",
            // What the local stores log in as, in each namespace they serve (region1 writes in both).
            "ServiceAccount/vault-secrets-reader",
            "ServiceAccount/vault-secrets-reader",
            "ServiceAccount/vault-secrets-writer",
            "ServiceAccount/vault-secrets-writer",
            "ServiceAccount/vault-snapshot",
            // No ExternalSecret reads from a peer store; PushSecrets write under their namespace.
            "ValidatingAdmissionPolicy/openova-vault-no-reads-from-peer-stores",
            "ValidatingAdmissionPolicy/openova-vault-push-own-prefix",
            "ValidatingAdmissionPolicyBinding/openova-vault-no-reads-from-peer-stores",
            "ValidatingAdmissionPolicyBinding/openova-vault-push-own-prefix",
        ]);
        expect(text).toContain(
            "# patch (kubernetes:core/v1:NamespacePatch region1-namespace-databases): server-side applied to an existing Namespace",
        );
        expect(text).toContain("#   vault 0.34.1 from https://helm.releases.hashicorp.com as release vault in namespace vault");
    });

    it("is deterministic: a second run writes byte-identical files", async () => {
        const again = tempDir();
        expect((await synth("--project", projectDir, "--out", again)).code).toBe(0);
        expect(filesUnder(again)).toEqual(filesUnder(out));
    });

    it("synthesizes only the stacks named with --stack", async () => {
        const only = tempDir();
        expect((await synth("--project", projectDir, "--out", only, "--stack", "region2")).code).toBe(0);
        expect(fs.readdirSync(only)).toEqual(["region2"]);
    });
});

describe("synth of regions with token peer auth", () => {
    // Both regions issue their peer a token (region1 in its second generation for region2), and region1
    // scrapes its metrics with a token too: each region renews its own long-lived tokens in its cluster.
    const out = tempDir();
    let run: Run;

    beforeAll(async () => {
        const dir = projectWithStacks(
            (project) => ({
                region1: stackFile({
                    domain: "example.com",
                    vaultInitialized: true,
                    vaultCaCertFile: caFile(project),
                    peerTokenGenerations: { region2: 2 },
                    monitoring: { serviceMonitor: true, prometheusRules: true },
                }),
                region2: stackFile({ domain: "example.com", vaultInitialized: true, vaultCaCertFile: caFile(project) }),
            }),
            { peerAuth: "token" },
        );
        run = await synth("--project", dir, "--out", out);
    });

    it("synthesizes both, warning only that each API is open to all and each region's backups stay in its cluster", () => {
        expect(run.code).toBe(0);
        // No replicated secret here; each region has its peer's token, that peer's token in a Secret, and
        // the renewer (its component, policy, role, service account, accessor list and two CronJobs); region1
        // also its PrometheusRule, the metrics policy, token and Secret.
        expect(run.stdout).toContain("stack region1: 58 resources, 2 warning(s), 10 outputs");
        expect(run.stdout).toContain("stack region2: 54 resources, 2 warning(s), 10 outputs");
        expect(run.stdout.match(/warning: openova-vault:vault\.allowedSourceRanges is not set/g)).toHaveLength(2);
        expect(run.stdout.match(/warning: openova-vault:vault\.snapshots\.offsite\.target is not set/g)).toHaveLength(2);
    });

    it.each([
        ["region1", "region2", "2", ["peer-region2", "prometheus-metrics"]],
        ["region2", "region1", "1", ["peer-region1"]],
    ])(
        "renews %s's tokens in its own cluster, by accessor: its peer's (generation %s) and any metrics token",
        (region, peer, generation, names) => {
            const resources = resourcesOf(out, region);
            const token = resources.find((r) => r.type === "vault:index/token:Token" && r.name === `${region}-peer-${peer}-token`);
            expect(token?.inputs).toMatchObject({ period: "720h", explicitMaxTtl: "8760h", metadata: { generation } });
            expect(token?.options).toMatchObject({ retainOnDelete: true });
            const objects = manifestsOf(out, region);
            const list = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "vault-token-renewer") as {
                data?: Record<string, string>;
            };
            expect(
                list.data?.accessors
                    .split("\n")
                    .filter(Boolean)
                    .map((line) => line.split(" ")[0]),
            ).toEqual(names);
            const cronJobs = objects.filter((o) => o.kind === "CronJob").map((o) => o.metadata.name);
            expect(cronJobs).toEqual(["vault-snapshot", "vault-token-renewer", "vault-token-lifetime"]);
            const policy = resources.find((r) => r.type === "vault:index/policy:Policy" && r.inputs.name === "token-renewer");
            expect(JSON.parse(String(policy?.inputs.policy))).toEqual({
                path: { "auth/token/renew-accessor": { capabilities: ["update"] } },
            });
            // Published to the peer as a secret, and nothing but "[secret]" in the files.
            expect(readJson<Record<string, unknown>>(path.join(out, region, "outputs.json")).peerAccess).toBe("[secret]");
        },
    );

    it("alerts when the renewal fails or stalls", () => {
        const rules = manifestsOf(out, "region1").find((o) => o.kind === "PrometheusRule") as unknown as {
            spec: { groups: { rules: { alert: string }[] }[] };
        };
        expect(rules.spec.groups[0].rules.map((r) => r.alert)).toEqual(
            expect.arrayContaining(["VaultTokenRenewalFailing", "VaultTokenRenewerStalled"]),
        );
    });
});

describe("synth of a platform on its way up", () => {
    // region1's Vault is configured; region2's is not initialized yet, so it has granted no access.
    const out = tempDir();
    let run: Run;

    beforeAll(async () => {
        const issuer = (region: string) => ({ url: `https://oidc.${region}.example.com`, discovery: true });
        const dir = projectWithStacks((project) => ({
            region1: stackFile({
                domain: "example.com",
                vaultInitialized: true,
                vaultCaCertFile: caFile(project),
                serviceAccountIssuer: issuer("region1"),
            }),
            region2: stackFile({ domain: "example.com", vaultCaCertFile: caFile(project), serviceAccountIssuer: issuer("region2") }),
        }));
        run = await synth("--project", dir, "--out", out);
    });

    it("deploys only the servers and ESO where the Vault is not initialized, and says what to do next", () => {
        expect(run.code).toBe(0);
        const resources = readJson<Resource[]>(path.join(out, "region2", "resources.json"));
        expect(resources.filter((r) => r.type.startsWith("vault:") || r.type === "pulumi:providers:vault")).toEqual([]);
        expect(resources.filter((r) => r.name.includes("store-local"))).toEqual([]);
        // The snapshots' claim comes from the first run on; the job (and its Vault role) once the Vault is configured.
        expect(
            resources
                .filter((r) => r.name.startsWith("region2-snapshots-"))
                .map((r) => `${r.type} ${(r.inputs.metadata as { name: string }).name}`),
        ).toEqual(["kubernetes:core/v1:PersistentVolumeClaim vault-snapshots"]);
        // TLS does not wait for the Vault's configuration either.
        expect(resources.filter((r) => r.type === "kubernetes:cert-manager.io/v1:Certificate")).toHaveLength(1);
        expect(run.stdout).toContain(
            "The Vault of region2 is not configured by this run (openova-vault:vaultInitialized is false). Next: initialize and unseal it",
        );
    });

    it("still lets the uninitialized region push to its configured peer", () => {
        const stores = readJson<Resource[]>(path.join(out, "region2", "resources.json")).filter((r) =>
            r.type.endsWith(":ClusterSecretStore"),
        );
        expect(stores.map((r) => r.name)).toEqual(["region2-store-region1"]);
    });

    it("synthesizes a region whose peer has granted it no access with a warning, not a failure", () => {
        const resources = readJson<Resource[]>(path.join(out, "region1", "resources.json"));
        // Its own stores only, none for the peer.
        expect(resources.filter((r) => r.type.endsWith(":ClusterSecretStore")).map((r) => r.name)).toEqual([
            "region1-store-local",
            "region1-store-local-push",
        ]);
        expect(readJson<{ connectedPeers: string[] }>(path.join(out, "region1", "outputs.json")).connectedPeers).toEqual([]);
        expect(run.stdout).toContain(
            "Peer region2 (stack organization/openova-vault/region2) cannot receive pushes from region1 yet: it has granted region1 no access yet (its Vault is not configured",
        );
        expect(run.stdout).toContain("Run `pulumi up -s region1` again after region2's Vault is configured.");
    });
});

describe("synth of a region with the provider settings overridden", () => {
    it("passes the address and CA file to the Vault provider, exports the CA, and reads peers in the given organization", async () => {
        const dir = tempDir();
        const ca = path.join(dir, "vault-ca.pem");
        const pem = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n";
        fs.writeFileSync(ca, pem);
        const project = projectWithStacks(
            (home) => ({
                region1: [
                    "config:",
                    "  openova-vault:domain: example.com",
                    "  openova-vault:vaultInitialized: true",
                    // TLS is on, so the provider's address is https too (here, through a port-forward).
                    "  openova-vault:vaultAddress: https://127.0.0.1:8200",
                    `  openova-vault:vaultCaCertFile: ${ca}`,
                    "  openova-vault:peerOrganization: acme",
                    "",
                ].join("\n"),
                region2: stackFile({ domain: "example.com", vaultInitialized: true, vaultCaCertFile: caFile(home) }),
                // Token peer auth: region2 pushes with the token region1 issued, to region1's CA.
            }),
            { peerAuth: "token" },
        );
        const out = path.join(project, "out");
        expect((await synth("--project", project, "--out", out)).code).toBe(0);
        const resources = readJson<Resource[]>(path.join(out, "region1", "resources.json"));
        expect(resources.find((r) => r.type === "pulumi:providers:vault")?.inputs).toMatchObject({
            address: "https://127.0.0.1:8200",
            caCertFile: ca,
        });
        expect(resources.find((r) => r.type === "pulumi:pulumi:StackReference")?.inputs).toEqual({ name: "acme/openova-vault/region2" });
        expect(readJson<{ vaultCaCert: string; vaultAddress: string }>(path.join(out, "region1", "outputs.json"))).toMatchObject({
            vaultCaCert: pem,
            vaultAddress: "https://vault.region1.example.com",
        });
        // region2 trusts region1's CA in the store that pushes there.
        const peerStore = readJson<Resource[]>(path.join(out, "region2", "resources.json")).find((r) => r.name === "region2-store-region1");
        expect(peerStore?.inputs).toMatchObject({
            spec: { provider: { vault: { server: "https://vault.region1.example.com", caBundle: Buffer.from(pem).toString("base64") } } },
        });
    });
});

describe("synth of regions with the hardening options switched", () => {
    // region1: TLS from an existing Secret, AWS KMS auto-unseal through workload identity, the stdout
    // audit device only, no snapshots, its cluster's keys in a JWKS file. region2: TLS off (and so an
    // http provider address), transit auto-unseal with a credentials Secret, an nginx ingress, its
    // cluster's keys by OIDC discovery. Both let the other's ESO in with JWT auth (project-wide).
    const out = tempDir();
    const roleArn = "arn:aws:iam::111122223333:role/vault-unseal";
    let run: Run;
    /** The public key in region1's JWKS, as PEM. */
    let region1Key: string;

    beforeAll(async () => {
        const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
        region1Key = publicKey.export({ type: "spki", format: "pem" }).toString();
        const replicatedSecrets = [
            { name: "db-credentials", namespace: "databases", keys: ["password"], home: "region1", initialValue: "generate" },
        ];
        const project = projectWithStacks(
            (dir) => {
                const jwks = path.join(dir, "region1-jwks.json");
                fs.writeFileSync(
                    jwks,
                    JSON.stringify({ keys: [{ ...publicKey.export({ format: "jwk" }), use: "sig", alg: "ES256", kid: "region1" }] }),
                );
                return {
                    region1: stackFile({
                        domain: "example.com",
                        vaultInitialized: true,
                        vaultCaCertFile: caFile(dir),
                        serviceAccountIssuer: { url: "https://oidc.region1.example.com", jwksFile: jwks },
                        replicatedSecrets,
                        monitoring: { serviceMonitor: true, prometheusRules: true, retention: "5m" },
                        vault: {
                            tls: { source: "secret", secretName: "vault-own-tls" },
                            seal: {
                                type: "awskms",
                                parameters: { region: "eu-west-1", kms_key_id: "alias/vault-unseal" },
                                credentials: "workload-identity",
                                workloadIdentity: roleArn,
                            },
                            auditDevices: ["stdout"],
                            snapshots: { enabled: false },
                        },
                    }),
                    region2: stackFile({
                        domain: "example.com",
                        vaultInitialized: true,
                        vaultAddress: "http://vault.region2.example.com",
                        serviceAccountIssuer: { url: "https://oidc.region2.example.com", discovery: true },
                        replicatedSecrets,
                        monitoring: { serviceMonitor: true, prometheusRules: true, unauthenticatedMetrics: true },
                        vault: {
                            ingressClassName: "nginx",
                            tls: { source: "none", allowPlaintext: true },
                            seal: {
                                type: "transit",
                                parameters: {
                                    address: "https://transit.example.com:8200",
                                    key_name: "vault-unseal",
                                    mount_path: "transit/",
                                },
                                credentials: "secret",
                                credentialsSecret: "vault-transit-credentials",
                            },
                        },
                    }),
                };
            },
            { peerAuth: "jwt" },
        );
        run = await synth("--project", project, "--out", out);
    });

    it("synthesizes both, warning about region2's plaintext, region1's missing backups and both open APIs", () => {
        expect(run.code).toBe(0);
        // Against the defaults: region1 loses the Certificate, the file audit device and the five
        // snapshot resources; region2 the Certificate and the CiliumNetworkPolicy. With monitoring,
        // both add a PrometheusRule; region1 (authenticated scrape) also the metrics policy, its token
        // and the token's Secret, and the token renewer that keeps that token alive (its component,
        // policy, role, service account, accessor list and two CronJobs). Both run a replicator and grant the peer's
        // replicator a role (fourteen resources, and the replicator's ServiceMonitor), and region1 pushes
        // db-credentials to no peer (one fewer). Each has its store admission policies (five resources).
        expect(run.stdout).toContain("stack region1: 73 resources, 2 warning(s), 11 outputs");
        expect(run.stdout).toContain("stack region2: 65 resources, 3 warning(s), 11 outputs");
        expect(run.stdout).toContain("warning: openova-vault:vault.snapshots.enabled is false: the Vault of region1 has no backups at all");
        expect(run.stdout).toContain(
            "  warning: TLS is off for the Vault of region2 (vault.tls.source is none): tokens and secrets cross the network in plaintext. Use TLS in any environment that holds real secrets.",
        );
        expect(run.stdout.match(/warning: TLS is off/g)).toHaveLength(1);
    });

    it("gives the hashicorp/vault chart values its own schema accepts, and ESO objects ESO's schemas accept", () => {
        for (const region of ["region1", "region2"]) {
            expect({ region, ...chartSchemaProblems(vaultChartValues(resourcesOf(out, region))) }).toEqual({
                region,
                errors: null,
                undeclared: [],
            });
        }
        const objects = ["region1", "region2"].flatMap((region) => esoObjects(manifestsOf(out, region)));
        expect(objects.filter((o) => o.kind === "ClusterSecretStore")).toHaveLength(6);
        expect(validateEsoObjects(objects)).toEqual(objects.map(() => ""));
    });

    describe("monitoring, when enabled", () => {
        it("scrapes the active Vault server: verifying its certificate with a token in region1, without a token over plain HTTP in region2", async () => {
            const [one, two] = ["region1", "region2"].map(
                (region) =>
                    vaultChartValues(resourcesOf(out, region)) as VaultValues & {
                        serverTelemetry?: { serviceMonitor: Record<string, unknown> };
                    },
            );
            expect(one.serverTelemetry?.serviceMonitor).toMatchObject({
                enabled: true,
                tlsConfig: { ca: { secret: { name: "vault-own-tls", key: "ca.crt" } }, serverName: "vault-active.vault.svc" },
                authorization: { type: "Bearer", credentials: { name: "vault-metrics-token", key: "token" } },
            });
            expect(two.serverTelemetry?.serviceMonitor).toMatchObject({ enabled: true });
            expect(two.serverTelemetry?.serviceMonitor).not.toHaveProperty("authorization");
            type Telemetry = { telemetry: Record<string, unknown>; listener: { tcp: { telemetry?: unknown } } };
            const [configOne, configTwo] = (await Promise.all([raftConfigOf(one), raftConfigOf(two)])) as unknown as Telemetry[];
            expect(configOne.telemetry).toEqual({ prometheus_retention_time: "5m", disable_hostname: true });
            expect(configOne.listener.tcp.telemetry).toBeUndefined();
            expect(configTwo.listener.tcp.telemetry).toEqual({ unauthenticated_metrics_access: true });
        });

        it("scrapes ESO and the replicator too, and lets Prometheus's namespace reach the Vault API", () => {
            for (const region of ["region1", "region2"]) {
                const eso = resourcesOf(out, region).find(
                    (r) => r.type === "kubernetes:helm.sh/v4:Chart" && r.inputs.chart === "external-secrets",
                );
                expect((eso?.inputs.values as Record<string, unknown>).serviceMonitor).toMatchObject({
                    enabled: true,
                    additionalLabels: { release: "prometheus" },
                });
                const policy = manifestsOf(out, region).find((o) => o.kind === "NetworkPolicy" && o.metadata.name === "vault-server");
                expect(JSON.stringify(policy?.spec)).toContain('"kubernetes.io/metadata.name":"monitoring"');
                // And the replicator, whose metrics port admits Prometheus's namespace.
                const monitors = manifestsOf(out, region).filter((o) => o.kind === "ServiceMonitor");
                expect(monitors.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual(["external-secrets/openova-replicator"]);
                const replicatorPolicy = manifestsOf(out, region).find(
                    (o) => o.kind === "NetworkPolicy" && o.metadata.name === "openova-replicator",
                );
                expect(JSON.stringify(replicatorPolicy?.spec)).toContain('"kubernetes.io/metadata.name":"monitoring"');
            }
        });

        it("issues region1's metrics token (a secret, policy reading sys/metrics only); region2 serves metrics without one", () => {
            const one = resourcesOf(out, "region1");
            expect(
                one.find((r) => r.type === "vault:index/policy:Policy" && r.inputs.name === "prometheus-metrics")?.inputs.policy,
            ).toContain('"sys/metrics": {');
            expect(
                one.find((r) => r.type === "vault:index/token:Token" && (r.inputs.policies as string[]).includes("prometheus-metrics")),
            ).toBeDefined();
            // Every document but the replicator's source code, whose text names a token function.
            const declared = fs
                .readFileSync(path.join(out, "region1", "manifests.yaml"), "utf8")
                .split("\n---\n")
                .filter((document) => !document.includes("name: openova-replicator-code\n"));
            expect(declared.length).toBeGreaterThan(10);
            expect(declared.join("\n---\n")).not.toMatch(/token: (?!\[secret\])\S+/);
            // Renewed by region1's token renewer, by its accessor (its ID, which the mock runtime makes "<name>-id").
            expect(
                manifestsOf(out, "region1").find((o) => o.kind === "ConfigMap" && o.metadata.name === "vault-token-renewer"),
            ).toMatchObject({
                data: { accessors: "prometheus-metrics region1-monitoring-metrics-token-id\n" },
            });
            expect(
                resourcesOf(out, "region2").filter((r) => r.type === "vault:index/token:Token" || r.name.includes("token-renewer")),
            ).toEqual([]);
        });

        it("declares the alerts as a PrometheusRule the Prometheus Operator's schema accepts", () => {
            for (const region of ["region1", "region2"]) {
                const rules = manifestsOf(out, region).filter((o) => o.kind === "PrometheusRule");
                expect(rules.map((r) => `${r.metadata.namespace}/${r.metadata.name}`)).toEqual(["vault/openova-vault"]);
                expect(validateEsoObjects(rules)).toEqual([""]);
            }
        });
    });

    describe("region1 (TLS from a Secret, AWS KMS, stdout audit, no snapshots)", () => {
        it("declares no Certificate, and mounts the given Secret for the listener, the Raft joins and the stores", async () => {
            const resources = resourcesOf(out, "region1");
            expect(resources.filter((r) => r.type === "kubernetes:cert-manager.io/v1:Certificate")).toEqual([]);
            const values = vaultChartValues(resources);
            expect(values.global.tlsDisable).toBe(false);
            expect(values.server.extraVolumes).toEqual([{ type: "secret", name: "vault-own-tls" }]);
            expect(values.server.extraEnvironmentVars).toEqual({ VAULT_CACERT: "/vault/userconfig/vault-own-tls/ca.crt" });
            // TLS is on, so the cilium ingress still passes it through.
            expect(values.server.ingress.annotations).toEqual({ "ingress.cilium.io/tls-passthrough": "enabled" });
            const config = await raftConfigOf(values);
            expect(config.listener.tcp).toMatchObject({
                tls_cert_file: "/vault/userconfig/vault-own-tls/tls.crt",
                tls_key_file: "/vault/userconfig/vault-own-tls/tls.key",
            });
            expect(config.listener.tcp).not.toHaveProperty("tls_disable");
            expect(config.storage.raft.retry_join.map((join: Record<string, string>) => join.leader_ca_cert_file)).toEqual(
                Array(3).fill("/vault/userconfig/vault-own-tls/ca.crt"),
            );
            for (const store of manifestsOf(out, "region1").filter(
                (o) => o.kind === "ClusterSecretStore" && o.metadata.name.startsWith("vault-local"),
            )) {
                expect((store.spec.provider as { vault: object }).vault).toMatchObject({
                    server: "https://vault-active.vault.svc:8200",
                    caProvider: { type: "Secret", name: "vault-own-tls", namespace: "vault", key: "ca.crt" },
                });
            }
        });

        it("auto-unseals through AWS KMS: the seal stanza without credentials, and the IRSA role on the servers' service account", async () => {
            const values = vaultChartValues(resourcesOf(out, "region1"));
            expect((await raftConfigOf(values)).seal).toEqual({ awskms: { region: "eu-west-1", kms_key_id: "alias/vault-unseal" } });
            expect(values.server.serviceAccount.annotations).toEqual({ "eks.amazonaws.com/role-arn": roleArn });
            expect(values.server.extraSecretEnvironmentVars).toEqual([]);
        });

        it("enables only the stdout audit device", () => {
            const audits = resourcesOf(out, "region1").filter(
                (r) => r.type === "vault:index/audit:Audit" && r.inputs.path !== "replicator",
            );
            expect(audits.map((r) => r.inputs)).toEqual([
                expect.objectContaining({ path: "stdout", type: "file", options: { file_path: "stdout" } }),
            ]);
        });

        it("takes no snapshots: no CronJob, claim, service account, policy or role", () => {
            const resources = resourcesOf(out, "region1");
            expect(resources.filter((r) => r.parent?.includes("openova:vault:RaftSnapshots"))).toEqual([]);
            expect(
                resources
                    .filter(
                        (r) =>
                            [
                                "kubernetes:batch/v1:CronJob",
                                "kubernetes:core/v1:PersistentVolumeClaim",
                                "kubernetes:core/v1:ServiceAccount",
                            ].includes(r.type) && (r.inputs.metadata as { namespace?: string }).namespace === "vault",
                    )
                    .map((r) => `${r.type} ${(r.inputs.metadata as { name: string }).name}`),
                // Only the token renewer's (it keeps the metrics token alive).
            ).toEqual([
                "kubernetes:batch/v1:CronJob vault-token-renewer",
                "kubernetes:batch/v1:CronJob vault-token-lifetime",
                "kubernetes:core/v1:ServiceAccount vault-token-renewer",
            ]);
            expect(resources.filter((r) => r.inputs.name === "raft-snapshot" || r.inputs.roleName === "raft-snapshot")).toEqual([]);
        });
    });

    describe("region2 (TLS off, transit, nginx)", () => {
        it("listens in plaintext, acknowledged: no Certificate, tls_disable on the listener, http Raft joins, stores and snapshot job", async () => {
            const resources = resourcesOf(out, "region2");
            expect(resources.filter((r) => r.type === "kubernetes:cert-manager.io/v1:Certificate")).toEqual([]);
            const values = vaultChartValues(resources);
            expect(values.global.tlsDisable).toBe(true);
            expect(values.server.extraEnvironmentVars).toEqual({});
            // No certificate, so no reloader, and the pod's processes stay apart.
            expect(values.server.shareProcessNamespace).toBe(false);
            expect(values.server).not.toHaveProperty("extraContainers");
            const config = await raftConfigOf(values);
            // (Metrics without a token: chosen for this region, on the listener.)
            expect(config.listener.tcp).toEqual({
                address: "[::]:8200",
                cluster_address: "[::]:8201",
                tls_disable: true,
                telemetry: { unauthenticated_metrics_access: true },
            });
            expect(config.storage.raft.retry_join).toEqual(
                [0, 1, 2].map((i) => ({ leader_api_addr: `http://vault-${i}.vault-internal:8200` })),
            );
            const objects = manifestsOf(out, "region2");
            const local = objects.filter((o) => o.kind === "ClusterSecretStore" && o.metadata.name.startsWith("vault-local"));
            expect(local).toHaveLength(2);
            for (const store of local) {
                const vault = (store.spec.provider as { vault: Record<string, unknown> }).vault;
                expect(vault.server).toBe("http://vault-active.vault.svc:8200");
                expect(vault).not.toHaveProperty("caProvider");
            }
            const job = objects.find((o) => o.kind === "CronJob");
            const container = (
                job?.spec as { jobTemplate: { spec: { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } } } }
            ).jobTemplate.spec.template.spec.containers[0];
            expect(container.env.filter((e) => e.name.startsWith("VAULT_"))).toEqual([
                { name: "VAULT_ADDR", value: "http://vault-active.vault.svc:8200" },
            ]);
            // Allowed with TLS off: the Vault provider's address is http, and there is no CA to verify with.
            const provider = resources.find((r) => r.type === "pulumi:providers:vault");
            expect(provider?.inputs).toMatchObject({ address: "http://vault.region2.example.com" });
            expect(provider?.inputs).not.toHaveProperty("caCertFile");
        });

        it("sets no nginx pass-through with TLS off, admits the ingress-nginx namespace, and declares no CiliumNetworkPolicy", () => {
            const values = vaultChartValues(resourcesOf(out, "region2"));
            expect(values.server.ingress).toMatchObject({ ingressClassName: "nginx", annotations: {} });
            const objects = manifestsOf(out, "region2");
            expect(objects.filter((o) => o.kind === "CiliumNetworkPolicy")).toEqual([]);
            const policies = objects.filter((o) => o.kind === "NetworkPolicy" && o.metadata.namespace === "vault");
            expect(policies).toHaveLength(1);
            expect(policies[0].spec.ingress).toContainEqual({
                from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } }],
                ports: [{ port: 8200, protocol: "TCP" }],
            });
            // region1 (cilium) admits no controller namespace: its proxy comes through the CiliumNetworkPolicy.
            const region1 = manifestsOf(out, "region1").find((o) => o.kind === "NetworkPolicy");
            expect(JSON.stringify(region1?.spec)).not.toContain("ingress-nginx");
        });

        it("auto-unseals through transit: the seal stanza with the Secret's CA and its token file, no token in the servers' environment", async () => {
            const values = vaultChartValues(resourcesOf(out, "region2"));
            expect((await raftConfigOf(values)).seal).toEqual({
                transit: {
                    address: "https://transit.example.com:8200",
                    key_name: "vault-unseal",
                    mount_path: "transit/",
                    token: "file:///vault/userconfig/vault-transit-credentials/VAULT_TOKEN",
                    tls_ca_cert: "/vault/userconfig/vault-transit-credentials/ca.crt",
                },
            });
            expect(values.server.extraSecretEnvironmentVars).toEqual([]);
            expect(values.server.extraVolumes).toEqual([{ type: "secret", name: "vault-transit-credentials" }]);
            expect(values.server.serviceAccount.annotations).toEqual({});
        });
    });

    describe("with JWT peer auth", () => {
        it.each([
            ["region1", "region2"],
            ["region2", "region1"],
        ])(
            "mounts in %s's Vault a JWT auth method for %s's cluster, with a push-only role for its ESO, and issues no token",
            (region, peer) => {
                const resources = resourcesOf(out, region);
                // No peer token and no token Secret (region1's only token is Prometheus's metrics token).
                const tokens = resources.filter((r) => r.type === "vault:index/token:Token" || r.type === "kubernetes:core/v1:Secret");
                expect(tokens.map((r) => r.name)).toEqual(
                    region === "region1" ? ["region1-monitoring-metrics-token", "region1-monitoring-metrics-token"] : [],
                );
                const backends = resources.filter((r) => r.type === "vault:jwt/authBackend:AuthBackend");
                expect(backends.map((r) => r.name)).toEqual([`${region}-peer-${peer}-jwt`]);
                // region1 publishes its keys (the JWKS file); region2 is checked through OIDC discovery.
                expect(backends[0].inputs).toEqual(
                    peer === "region1"
                        ? expect.objectContaining({
                              path: "jwt-region1",
                              type: "jwt",
                              boundIssuer: "https://oidc.region1.example.com",
                              jwtValidationPubkeys: [region1Key],
                          })
                        : expect.objectContaining({
                              path: "jwt-region2",
                              type: "jwt",
                              boundIssuer: "https://oidc.region2.example.com",
                              oidcDiscoveryUrl: "https://oidc.region2.example.com",
                          }),
                );
                expect(backends[0].inputs).not.toHaveProperty(peer === "region1" ? "oidcDiscoveryUrl" : "jwtValidationPubkeys");
                const roles = resources.filter((r) => r.type === "vault:jwt/authBackendRole:AuthBackendRole");
                // The peer's ESO pushes; the peer's replicator offers the writes of secrets every region writes.
                expect(roles.map((r) => r.inputs)).toEqual([
                    expect.objectContaining({
                        backend: `jwt-${peer}`,
                        roleName: "replicator",
                        roleType: "jwt",
                        boundSubject: "system:serviceaccount:external-secrets:openova-replicator",
                        boundAudiences: [`https://vault.${region}.example.com`],
                        tokenPolicies: [`peer-${peer}-replicate`],
                    }),
                    expect.objectContaining({
                        backend: `jwt-${peer}`,
                        roleName: "external-secrets-push",
                        roleType: "jwt",
                        boundSubject: "system:serviceaccount:external-secrets:external-secrets",
                        boundAudiences: [`https://vault.${region}.example.com`],
                        tokenPolicies: [`peer-${peer}-push`],
                    }),
                ]);
            },
        );

        it.each([
            ["region1", "region2"],
            ["region2", "region1"],
        ])("has %s's ESO log in to %s's Vault with its own service-account token, minted for that Vault alone", (region, peer) => {
            const store = manifestsOf(out, region).find((o) => o.kind === "ClusterSecretStore" && o.metadata.name === `vault-${peer}`);
            const vault = (store?.spec.provider as { vault: Record<string, unknown> }).vault;
            const audience = `https://vault.${peer}.example.com`;
            expect(vault.auth).toEqual({
                jwt: {
                    path: `jwt-${region}`,
                    role: "external-secrets-push",
                    kubernetesServiceAccountToken: {
                        serviceAccountRef: { name: "external-secrets", namespace: "external-secrets", audiences: [audience] },
                        audiences: [audience],
                        expirationSeconds: 600,
                    },
                },
            });
            expect(vault.server).toBe(audience);
            // Only region1 has a CA to publish (region2's TLS is off).
            expect(vault.caBundle).toBe(peer === "region1" ? Buffer.from(exampleCa).toString("base64") : undefined);
        });

        it.each([
            ["region1", "region2"],
            ["region2", "region1"],
        ])(
            "publishes %s's grant to %s and its token issuer as plain outputs: nothing secret crosses between the stacks",
            (region, peer) => {
                const text = fs.readFileSync(path.join(out, region, "outputs.json"), "utf8");
                expect(text).not.toContain(REDACTED);
                const outputs = JSON.parse(text) as Record<string, unknown>;
                expect(outputs.peerAccess).toEqual({
                    [peer]: {
                        address: `https://vault.${region}.example.com`,
                        caCert: region === "region1" ? exampleCa : "",
                        jwt: { path: `jwt-${peer}`, role: "external-secrets-push", audience: `https://vault.${region}.example.com` },
                    },
                });
                expect(outputs.serviceAccountIssuer).toEqual({
                    issuer: `https://oidc.${region}.example.com`,
                    publicKeys: region === "region1" ? [region1Key] : [],
                    discoveryCaCert: "",
                });
                expect(outputs.connectedPeers).toEqual([peer]);
            },
        );
    });
});

describe("synth with bad input", () => {
    it("exits non-zero with one line per problem, naming stack, key and value, and writes nothing", async () => {
        // Each stack is valid but for one key.
        const dir = projectWithStacks((project) => ({
            region1: stackFile({ domain: "https://example.com", vaultCaCertFile: caFile(project) }),
            region2: stackFile({ domain: "example.com", vaultCaCertFile: caFile(project), vault: { replicas: 2 } }),
        }));
        const out = path.join(dir, "out");
        const run = await synth("--project", dir, "--out", out);
        expect(run.code).toBe(1);
        const errors = run.stderr.split("\n").filter((line) => line.startsWith("error: "));
        expect(errors).toEqual([
            'error: Invalid config for stack "region1": openova-vault:domain is "https://example.com", but it must be a lowercase DNS name such as example.com, without scheme, port or path. Fix: pulumi config set domain example.com -s region1',
            'error: Invalid config for stack "region2": openova-vault:vault.replicas is 2, but it must be an odd whole number from 1 to 7 (use 3 or 5 in production). Fix: pulumi config set --path vault.replicas 3 -s region2',
        ]);
        expect(run.stderr).not.toMatch(/\bat .*\.ts:\d+/);
        expect(fs.existsSync(out)).toBe(false);
    });

    it("refuses plaintext without the acknowledgement, and JWT peer auth without the cluster's token issuer, naming the keys", async () => {
        // JWT peer auth is project-wide; region1 names its issuer, region2 does not.
        const dir = projectWithStacks(
            (project) => ({
                region1: stackFile({
                    domain: "example.com",
                    serviceAccountIssuer: { url: "https://oidc.region1.example.com", discovery: true },
                    vault: { tls: { source: "none" } },
                }),
                region2: stackFile({ domain: "example.com", vaultCaCertFile: caFile(project) }),
            }),
            { peerAuth: "jwt" },
        );
        const out = path.join(dir, "out");
        const run = await synth("--project", dir, "--out", out);
        expect(run.code).toBe(1);
        const errors = errorLines(run);
        expect(errors.filter((line) => line.startsWith('error: Invalid config for stack "region1": '))).toEqual([
            expect.stringContaining(
                "openova-vault:vault.tls.source is none, which sends every secret over the network in plaintext: set allowPlaintext to true",
            ),
        ]);
        const region2 = errors.filter((line) => line.startsWith('error: Invalid config for stack "region2": '));
        expect(region2).toContainEqual(expect.stringContaining("openova-vault:serviceAccountIssuer is not set, but peerAuth is jwt"));
        expect(region2).toHaveLength(1);
        expect(errors).toHaveLength(2);
        expect(run.stderr).not.toMatch(STACK_TRACE);
        expect(fs.existsSync(out)).toBe(false);
    });

    it("leaves an earlier run's files alone when the config turns bad", async () => {
        const good = (dir: string) => ({ domain: "example.com", regions: ["region1"], vaultCaCertFile: caFile(dir) });
        const dir = projectWithStacks((project) => ({ region1: stackFile(good(project)) }));
        const out = path.join(dir, "out");
        expect((await synth("--project", dir, "--out", out)).code).toBe(0);
        const before = filesUnder(out);
        fs.writeFileSync(path.join(dir, "Pulumi.region1.yaml"), stackFile({ ...good(dir), vault: { storageSize: "ten" } }));
        expect((await synth("--project", dir, "--out", out)).code).toBe(1);
        expect(filesUnder(out)).toEqual(before);
    });

    it("names the stacks that exist when asked for one that does not", async () => {
        const run = await synth("--project", projectDir, "--out", tempDir(), "--stack", "region9");
        expect(run.code).toBe(1);
        expect(run.stderr).toContain("error: --stack region9: there is no Pulumi.region9.yaml in");
        expect(run.stderr).toContain("(stacks: region1, region2)");
    });

    it("suggests the flag a typo meant", async () => {
        const run = await synth("--stak", "region1");
        expect(run.code).toBe(2);
        expect(run.stderr).toContain("error: unknown option '--stak' (did you mean --stack?)");
    });

    it("rejects unknown flags with usage", async () => {
        const run = await synth("--stacks", "region1");
        expect(run.code).toBe(2);
        expect(run.stderr).toContain("usage: npm run synth");
    });
});

describe("synth across stacks", () => {
    const out = tempDir();
    let run: Run;

    beforeAll(async () => {
        run = await synth("--project", fixture, "--out", out, "--stack", "a");
    });

    it("resolves stack references to the other stacks' synthesized outputs, synthesizing referenced stacks too", () => {
        expect(run.code).toBe(0);
        expect(readJson(path.join(out, "a", "outputs.json"))).toMatchObject({ greeting: "hello from a", heard: { b: "hello from b" } });
        // b was synthesized because a reads it, but only a was asked for.
        expect(fs.readdirSync(out)).toEqual(["a"]);
    });

    it("runs a referenced stack it was not asked for, then the reader again with its outputs", () => {
        expect(run.stderr.split("\n").filter((line) => line.startsWith("synth: ran"))).toEqual([
            expect.stringMatching(/^synth: ran a: /),
            expect.stringMatching(/^synth: ran b: /),
            expect.stringMatching(/^synth: ran a again \(run 2\): /),
            // b reads a's outputs as a whole (`outputs`), and a's changed once it heard b.
            expect.stringMatching(/^synth: ran b again \(run 2\): /),
        ]);
        expect(run.stdout).toContain("reads outputs of: b (program ran 2 time(s))");
    });

    describe("for stacks that read each other", () => {
        const bothOut = tempDir();
        let both: Run;

        beforeAll(async () => {
            both = await synth("--project", fixture, "--out", bothOut, "--stack", "a", "--stack", "b");
        });

        it("runs them until the outputs they read stop changing", () => {
            expect(both.code).toBe(0);
            // a hears nothing, b hears a, a hears b; b then runs again, since a's `heard` (which b reads
            // through `outputs`) changed.
            expect(
                both.stderr
                    .split("\n")
                    .filter((line) => line.startsWith("synth: ran"))
                    .map((line) => line.replace(/: \d+ resources.*$/, "")),
            ).toEqual(["synth: ran a", "synth: ran b", "synth: ran a again (run 2)", "synth: ran b again (run 2)"]);
            expect(both.stdout).toContain("reads outputs of: a (program ran 2 time(s))");
        });

        it("runs them in name order whatever an earlier synth left in --out, so a fresh directory runs what a used one does", async () => {
            const used = tempDir();
            // An earlier synth's files, b's much the smaller: nothing in them changes the order.
            fs.mkdirSync(path.join(used, "a"));
            fs.writeFileSync(path.join(used, "a", "resources.json"), "x".repeat(1000));
            fs.mkdirSync(path.join(used, "b"));
            fs.writeFileSync(path.join(used, "b", "resources.json"), "x");
            const run = await synth("--project", fixture, "--out", used, "--stack", "b", "--stack", "a");
            expect(run.code).toBe(0);
            const ran = (r: Run) =>
                r.stderr
                    .split("\n")
                    .filter((line) => line.startsWith("synth: ran"))
                    .map((line) => line.replace(/: \d+ resources.*$/, ""));
            expect(ran(run)).toEqual(ran(both));
            expect(filesUnder(used)).toEqual(filesUnder(bothOut));
        });

        it("runs a stack again only when an output it read has changed, not for the others", async () => {
            // Each reads only `greeting` and `token` of the other, which never change; its own `heard`
            // and `peerTokens` change once it hears the other, but nobody reads them.
            const named = (peer: string) => `config:\n  peering:peers: [${peer}]\n  peering:namedOutputsOnly: true\n`;
            const run = await synth("--project", peeringWithStacks({ x: named("y"), y: named("x") }), "--out", tempDir());
            expect(run.code).toBe(0);
            expect(run.stdout).toContain("reads outputs of: y (program ran 2 time(s))");
            expect(run.stdout).toContain("reads outputs of: x (program ran 1 time(s))");
        });

        it("presents a peer's secret outputs as secrets, read through getOutput or through outputs", () => {
            const outputs = readJson<Record<string, unknown>>(path.join(bothOut, "b", "outputs.json"));
            expect(outputs.peerTokens).toBe(REDACTED);
            expect(outputs.peerTokensFromOutputs).toBe(REDACTED);
            // Outputs the peer did not mark secret stay readable.
            expect(outputs.heard).toEqual({ a: "hello from a" });
            const copies = readJson<Resource[]>(path.join(bothOut, "b", "resources.json")).find((r) => r.name === "peer-token-copies");
            expect(copies?.inputs.data).toBe(REDACTED);
            expect(Object.values(filesUnder(bothOut)).join("\n")).not.toContain("token-of-");
        });
    });

    it("replaces every secret with [secret]: outputs, config secrets, resource inputs and Secret data", () => {
        const outputs = readJson<Record<string, unknown>>(path.join(out, "a", "outputs.json"));
        expect(outputs.token).toBe(REDACTED);
        expect(outputs.password).toBe(REDACTED);
        const resources = readJson<Resource[]>(path.join(out, "a", "resources.json"));
        const secret = resources.find((r) => r.name === "peer-tokens");
        // A value built from a secret is secret as a whole.
        expect(secret?.inputs.stringData).toBe(REDACTED);
        const configMap = resources.find((r) => r.name === "greetings");
        // Pulumi marks the whole top-level input secret when any part of it is; plain inputs stay readable.
        expect(configMap?.inputs.metadata).toBe(REDACTED);
        expect(configMap?.inputs.data).toEqual({ mine: "hello from a" });
        const everything = Object.values(filesUnder(out)).join("\n");
        expect(everything).not.toContain("token-of-");
        expect(everything).not.toContain("c2VjcmV0");
    });

    it("fails like Pulumi when a stack references a stack that does not exist", async () => {
        const failed = await synth("--project", fixture, "--out", tempDir(), "--stack", "lonely");
        expect(failed.code).toBe(1);
        expect(failed.stderr).toContain('unknown stack "organization/peering/nobody"');
    });
});

/**
 * The synth CLI in a child process, as `npm run synth` runs it: for programs whose failed Outputs
 * surface as unhandled rejections, which the synth handles as the owner of its process (under jest,
 * jest's own handler would see them first).
 */
const synthProcess = (...args: string[]): Promise<Run> => synthProcessWith({}, ...args);

/** The synth CLI as its own process, with `env` added to this process's environment. */
async function synthProcessWith(env: Record<string, string>, ...args: string[]): Promise<Run> {
    try {
        const { stdout, stderr } = await promisify(execFile)(
            process.execPath,
            ["--import", "tsx", path.join(projectDir, "tools", "synth", "cli.ts"), ...args],
            { cwd: projectDir, env: { ...process.env, ...env } },
        );
        return { code: 0, stdout, stderr };
    } catch (error) {
        const failed = error as { code?: number; stdout?: string; stderr?: string };
        return { code: failed.code ?? 1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
    }
}

describe("synth with requireOutput of another stack", () => {
    it("retries a stack that failed because a stack it requires had no outputs yet, once that stack has them", async () => {
        const out = tempDir();
        const run = await synthProcess("--project", fixture, "--out", out, "--stack", "needy");
        expect(run.code).toBe(0);
        expect(run.stderr.split("\n").filter((line) => line.startsWith("synth: ran"))).toEqual([
            "synth: ran needy: failed (it runs again if what it read changes): Error: Required output 'greeting' does not exist on stack 'organization/peering/base'.",
            expect.stringMatching(/^synth: ran base: /),
            expect.stringMatching(/^synth: ran needy again \(run 2\): /),
        ]);
        expect(readJson(path.join(out, "needy", "outputs.json"))).toMatchObject({ required: { base: "hello from base" } });
        expect(fs.readdirSync(out)).toEqual(["needy"]);
    });

    it("reports the failure when the stack still fails after the stacks it reads have settled, and writes nothing", async () => {
        const out = tempDir();
        const run = await synthProcess("--project", fixture, "--out", out, "--stack", "greedy");
        expect(run.code).toBe(1);
        expect(errorLines(run)).toEqual([
            expect.stringMatching(
                /^error: stack greedy: Error: Required output 'nonexistent' does not exist on stack 'organization\/peering\/base'\.$/,
            ),
        ]);
        expect(fs.readdirSync(out)).toEqual([]);
    });

    it("shows where the program failed only when asked (SYNTH_STACK_TRACES=1; without it, the one line above)", async () => {
        const traced = await synthProcessWith({ SYNTH_STACK_TRACES: "1" }, "--project", fixture, "--out", tempDir(), "--stack", "greedy");
        expect(traced.code).toBe(1);
        expect(traced.stderr).toMatch(/^error: stack greedy: Error: Required output 'nonexistent' does not exist/m);
        expect(traced.stderr).toMatch(/^error: stack greedy: \s+at \S/m);
    });
});

describe("synth of programs at the edges", () => {
    const out = tempDir();
    let run: Run;
    const edge = (file: string) => path.join(out, "edge", file);

    beforeAll(async () => {
        run = await synth("--project", edgeCases, "--out", out, "--stack", "edge");
    });

    it("records the engine's URNs: the parent's whole type chain, then the resource's type", () => {
        expect(run.code).toBe(0);
        const resources = readJson<Resource[]>(edge("resources.json"));
        const middle = resources.find((r) => r.name === "middle");
        const leaf = resources.find((r) => r.name === "leaf");
        expect(middle?.urn).toBe("urn:pulumi:edge::edge-cases::edge:index:Outer$edge:index:Middle::middle");
        expect(leaf?.urn).toBe("urn:pulumi:edge::edge-cases::edge:index:Outer$edge:index:Middle$kubernetes:core/v1:ConfigMap::leaf");
        expect(leaf?.parent).toBe(middle?.urn);
    });

    it("builds URNs as the engine does, without the root stack's type", () => {
        expect(engineUrn("dev", "proj", undefined, "a:b:C", "c")).toBe("urn:pulumi:dev::proj::a:b:C::c");
        expect(engineUrn("dev", "proj", "urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev", "a:b:C", "c")).toBe(
            "urn:pulumi:dev::proj::a:b:C::c",
        );
        expect(engineUrn("dev", "proj", "urn:pulumi:dev::proj::x:y:P$x:y:Q::q", "a:b:C", "c")).toBe(
            "urn:pulumi:dev::proj::x:y:P$x:y:Q$a:b:C::c",
        );
    });

    it("writes the exports as Pulumi does: undefined left out, an export with a secret in it secret as a whole", () => {
        expect(readJson(edge("outputs.json"))).toEqual({
            leafName: "leaf",
            // As Pulumi's own stack outputs do, a Date becomes an empty object: export strings instead.
            epoch: {},
            nested: { list: [1, "two"], when: {} },
            partlySecret: REDACTED,
        });
    });

    it("redacts a Kubernetes Secret's values even where Pulumi does not mark them secret, patches included", () => {
        const everything = Object.values(filesUnder(out)).join("\n");
        expect(everything).not.toContain("hunter2");
        const resources = readJson<Resource[]>(edge("resources.json"));
        // The Kubernetes provider marks a Secret's data secret as a whole.
        expect(resources.find((r) => r.name === "plain")?.inputs.stringData).toBe(REDACTED);
        expect(resources.find((r) => r.name === "patched")?.inputs.stringData).toBe(REDACTED);
    });

    it("redacts Secret data wherever a Secret sits: a ConfigGroup's objs and yaml, a List's items, a SecretList", () => {
        const everything = Object.values(filesUnder(out)).join("\n");
        expect(everything).not.toContain("aHVudGVyMi1pbi1saXN0");
        const resources = readJson<Resource[]>(edge("resources.json"));
        const inline = resources.find((r) => r.name === "inline")?.inputs as { objs: unknown; yaml: string };
        expect(inline.objs).toEqual([
            { apiVersion: "v1", kind: "Secret", metadata: { name: "in-objs" }, stringData: { password: REDACTED } },
            {
                apiVersion: "v1",
                kind: "List",
                items: [
                    { apiVersion: "v1", kind: "Secret", metadata: { name: "in-list" }, data: { key: REDACTED } },
                    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "listed-config" }, data: { colour: "blue" } },
                ],
            },
        ]);
        // The YAML's other documents stay as they were.
        expect(parseAllDocuments(inline.yaml).map((d) => d.toJS() as unknown)).toEqual([
            { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "in-yaml-config" }, data: { colour: "red" } },
            { apiVersion: "v1", kind: "Secret", metadata: { name: "in-yaml" }, stringData: { token: REDACTED } },
        ]);
        expect(JSON.stringify(resources.find((r) => r.name === "secret-list")?.inputs)).not.toContain("hunter2");
        // YAML that cannot be read back goes whole.
        expect(redactKubernetesSecrets({ yaml: "kind: Secret\nstringData: [unclosed" })).toEqual({ yaml: REDACTED });
        // Code that merely mentions the kind is left alone.
        expect(redactKubernetesSecrets({ code: 'const s = { kind: "Secret", data };' })).toEqual({
            code: 'const s = { kind: "Secret", data };',
        });
    });

    it("writes every declared object to manifests.yaml, patches marked, and names what the provider expands at deploy time", () => {
        const text = fs.readFileSync(edge("manifests.yaml"), "utf8");
        const documents = parseAllDocuments(text);
        expect(documents.flatMap((d) => d.errors)).toEqual([]);
        expect(
            documents
                .map((d) => d.toJS() as { kind: string; metadata?: { name: string }; items?: { metadata: { name: string } }[] })
                .map((d) => `${d.kind}/${d.metadata?.name ?? (d.items ?? []).map((item) => item.metadata.name).join(",")}`),
        ).toEqual(["ConfigMap/leaf", "Secret/plain", "SecretList/in-secret-list", "Secret/existing"]);
        expect(text).toContain("---\n# patch (kubernetes:core/v1:SecretPatch patched): server-side applied to an existing Secret");
        expect(text).toContain("#   kubernetes:yaml/v2:ConfigGroup bundle: the provider expands it at deploy time");
        expect(text).toContain("#   kubernetes:yaml/v2:ConfigGroup inline: the provider expands it at deploy time");
        expect(run.stdout).toContain("warning: manifests.yaml leaves out kubernetes:yaml/v2:ConfigGroup bundle");
    });

    it("stops, with one line, a program that does not finish in time", async () => {
        const hung = await synth("--project", edgeCases, "--out", tempDir(), "--stack", "hang", "--timeout", "2");
        expect(hung.code).toBe(1);
        expect(errorLines(hung)).toEqual([
            "error: stack hang: its program did not finish within 2 s (does a resource input or stack output never resolve?)",
        ]);
    });
});

describe("synth of a program that exports an entrypoint function", () => {
    it("calls it, as Pulumi does, and writes what it returns as the stack outputs", async () => {
        const out = tempDir();
        const run = await synth("--project", path.join(__dirname, "fixtures", "entrypoint"), "--out", out);
        expect(run.code).toBe(0);
        // Stack references name stacks as <organization>/<project>/<stack>; offline, the organization is
        // that of Pulumi's self-managed backends.
        expect(readJson(path.join(out, "dev", "outputs.json"))).toEqual({
            namespace: "apps",
            organization: "organization",
            token: REDACTED,
        });
        expect(readJson<Resource[]>(path.join(out, "dev", "resources.json")).map((r) => r.type)).toEqual(["kubernetes:core/v1:Namespace"]);
    });
});

describe("the synth's reach into the SDK", () => {
    it.each(SDK_HOOKS.map((hook) => [hook.name, hook] as const))("finds %s in the installed SDK", (_name, hook) => {
        expect(hook.present()).toBe(true);
    });

    it("takes effect: a registration goes through the patched Resource.callsites and debuggablePromise, which capture no stack trace", async () => {
        const request = {
            project: "entrypoint",
            stack: "dev",
            config: {},
            secretKeys: [],
            program: path.join(__dirname, "fixtures", "entrypoint", "index.ts"),
            resolveStack: () => undefined,
        };
        await runProgram(request); // installs the hooks
        const resource = pulumi.Resource as unknown as { callsites: () => unknown[] };
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- the module object whose export the synth replaces
        const debuggable = require("@pulumi/pulumi/runtime/debuggable") as {
            debuggablePromise: <T>(p: Promise<T>, ctx: unknown) => Promise<T>;
        };
        const patched = { callsites: resource.callsites, debuggablePromise: debuggable.debuggablePromise };
        // The patches capture nothing: no callsites, the promise itself (no stack trace attached).
        expect(patched.callsites()).toEqual([]);
        const promise = Promise.resolve(1);
        expect(patched.debuggablePromise(promise, "context")).toBe(promise);
        expect(Object.getOwnPropertyNames(promise)).toEqual([]);
        // And the SDK calls them where they are patched, so an SDK that captured its stack traces some
        // other way (or bound its own reference to the function) fails here instead of slowing the synth.
        const calls = { callsites: 0, debuggablePromise: 0 };
        resource.callsites = () => {
            calls.callsites++;
            return patched.callsites();
        };
        debuggable.debuggablePromise = (p, ctx) => {
            calls.debuggablePromise++;
            return patched.debuggablePromise(p, ctx);
        };
        try {
            const result = await runProgram(request);
            expect(result.error).toBeUndefined();
            expect(result.resources.map((r) => r.type)).toEqual(["kubernetes:core/v1:Namespace"]);
        } finally {
            resource.callsites = patched.callsites;
            debuggable.debuggablePromise = patched.debuggablePromise;
        }
        expect(calls.callsites).toBeGreaterThan(0);
        expect(calls.debuggablePromise).toBeGreaterThan(0);
    });
});

describe("synth with a bad project, stack name or --out", () => {
    it("rejects a stack file whose name is no stack name, and removes nothing", async () => {
        const root = tempDir();
        const dir = peeringWithStacks({ base: "config: {}\n", "..": "config: {}\n" }, path.join(root, "project"));
        fs.writeFileSync(path.join(dir, "keep.txt"), "still here");
        const run = await synth("--project", dir, "--out", path.join(dir, "out"));
        expect(run.code).toBe(1);
        expect(errorLines(run)).toEqual([
            `error: ${path.join(dir, "Pulumi....yaml")}: ".." is not a valid stack name (letters, digits, "-", "_" and ".", at most 100 characters, and not "." or ".."); rename or remove the file`,
        ]);
        expect(fs.readFileSync(path.join(dir, "keep.txt"), "utf8")).toBe("still here");
        expect(fs.existsSync(path.join(dir, "out"))).toBe(false);
    });

    it.each(["..", ".", "../base", "a/b", ""])("rejects --stack %j as no stack name", async (stack) => {
        const run = await synth("--project", fixture, "--out", tempDir(), "--stack", stack);
        expect(run.code).toBe(2);
        expect(run.stderr).toContain(`error: --stack ${JSON.stringify(stack)} is not a valid stack name`);
    });

    it("resolves --out against the current directory, not --project, as --help says", async () => {
        const cwd = process.cwd();
        const here = tempDir();
        let run: Run;
        try {
            process.chdir(here);
            run = await synth("--project", fixture, "--out", "relative", "--stack", "base");
        } finally {
            process.chdir(cwd);
        }
        expect(run.code).toBe(0);
        expect(fs.readdirSync(path.join(here, "relative", "base")).sort()).toEqual(["manifests.yaml", "outputs.json", "resources.json"]);
        expect(fs.existsSync(path.join(fixture, "relative"))).toBe(false);
        expect((await synth("--help")).stdout).toContain("--out DIR      where to write, relative to the current directory");
    });

    it("says in one line that there is no Pulumi.yaml, and writes nothing", async () => {
        const dir = tempDir();
        const run = await synth("--project", dir, "--out", path.join(dir, "out"));
        expect(run.code).toBe(1);
        expect(errorLines(run)).toEqual([
            `error: ${path.join(dir, "Pulumi.yaml")}: not found; --project must name a Pulumi project directory`,
        ]);
        expect(run.stderr).not.toMatch(STACK_TRACE);
        expect(fs.readdirSync(dir)).toEqual([]);
    });

    it("names the file and the problem, in one line, for a YAML syntax error in Pulumi.yaml", async () => {
        const dir = tempDir();
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: peering\nconfig: [unclosed\n");
        const run = await synth("--project", dir, "--out", path.join(dir, "out"));
        expect(run.code).toBe(1);
        expect(errorLines(run)).toHaveLength(1);
        expect(errorLines(run)[0]).toMatch(
            new RegExp(`^error: ${path.join(dir, "Pulumi.yaml").replace(/[.]/g, "\\.")}: invalid YAML: .*line 3`),
        );
        expect(run.stderr).not.toMatch(STACK_TRACE);
        expect(fs.existsSync(path.join(dir, "out"))).toBe(false);
    });

    it("names the file and the problem, in one line, for a YAML syntax error in a stack file", async () => {
        const dir = peeringWithStacks({ base: "config: {}\n", broken: "config:\n  peering:peers: [a\n" });
        const run = await synth("--project", dir, "--out", path.join(dir, "out"));
        expect(run.code).toBe(1);
        expect(errorLines(run)).toHaveLength(1);
        expect(errorLines(run)[0]).toContain(`error: ${path.join(dir, "Pulumi.broken.yaml")}: invalid YAML: `);
        expect(run.stderr).not.toMatch(STACK_TRACE);
        expect(fs.existsSync(path.join(dir, "out"))).toBe(false);
    });

    it("does not replace a stack directory under --out that holds files the synth did not write", async () => {
        const out = tempDir();
        fs.mkdirSync(path.join(out, "base"));
        fs.writeFileSync(path.join(out, "base", "notes.txt"), "mine");
        const run = await synth("--project", fixture, "--out", out, "--stack", "base");
        expect(run.code).toBe(1);
        expect(errorLines(run)).toEqual([
            `error: refusing to replace ${path.join(out, "base")}: it holds files the synth did not write (notes.txt); move them or choose another --out`,
        ]);
        expect(fs.readdirSync(path.join(out, "base"))).toEqual(["notes.txt"]);
    });
});

describe("npm run synth", () => {
    it("runs the real CLI as the README's quick start does", async () => {
        const out = tempDir();
        const { stdout } = await promisify(execFile)("npm", ["run", "--silent", "synth", "--", "--out", out, "--stack", "region1"], {
            cwd: projectDir,
        });
        expect(stdout).toContain("stack region1: 69 resources");
        expect(fs.readdirSync(path.join(out, "region1")).sort()).toEqual(["manifests.yaml", "outputs.json", "resources.json"]);
    });
});
