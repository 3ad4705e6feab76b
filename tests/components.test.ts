/**
 * The components under Pulumi's mock runtime (`pulumi.runtime.setMocks`, through the synth's
 * tools/synth/mockRun.ts), in this process: what they register, with which parents, providers,
 * options and inputs, and what they refuse before registering anything.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vm from "node:vm";
import { EXTERNAL_SECRETS_CHART, VAULT_CHART } from "../components/common/versions";
import { CRD_TYPE, retainCustomResourceDefinitions } from "../components/eso/externalSecretsOperator";
import { externalSecretsHelmValues, externalSecretsOptions } from "../components/eso/operatorValues";
import { externalSecretsMonitoringValues, monitoringOptions } from "../components/monitoring/monitoringSpecs";
import { type VaultRegionArgs, VaultRegion } from "../components/region/vaultRegion";
import { type ReplicatedSecretArgs, ReplicatedSecret } from "../components/replication/replicatedSecret";
import { SAFE_PASSWORD_SYMBOLS, passwordGeneratorName } from "../components/replication/replicationSpecs";
import { vaultServerOptions } from "../components/vault-server/serverOptions";
import { VaultServer, hostOption } from "../components/vault-server/vaultServer";
import { type VaultHelmValues, serverSettings, vaultHelmValues } from "../components/vault-server/serverValues";
import { parseVaultPolicy } from "./support/vaultHcl";
import { type RecordedResource, type RunRequest, type RunResult, runProgram } from "../tools/synth/mockRun";
import { validateEsoObjects } from "./support/esoSchema";

const PROGRAM = "openova-vault.tests.components.program";

/**
 * Runs `program` once under the synth's mock runtime and returns what it declared; what `program`
 * returns becomes the run's outputs (resolved, with whether each is secret). runProgram loads a program
 * from a module file, so a one-line module in a temporary directory calls `program`.
 */
async function declare(
    stack: string,
    program: () => Record<string, unknown> | void,
    computedOutputs?: RunRequest["computedOutputs"],
): Promise<RunResult> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "components-program-"));
    const entry = path.join(dir, "program.js");
    fs.writeFileSync(entry, `module.exports = () => globalThis[Symbol.for(${JSON.stringify(PROGRAM)})]();\n`);
    const slot = globalThis as unknown as Record<symbol, unknown>;
    slot[Symbol.for(PROGRAM)] = program;
    try {
        return await runProgram({
            project: "openova-vault",
            stack,
            config: {},
            secretKeys: [],
            program: entry,
            resolveStack: () => undefined,
            ...(computedOutputs ? { computedOutputs } : {}),
        });
    } finally {
        delete slot[Symbol.for(PROGRAM)];
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** `declare`, for a program that must run through. */
async function declareOk(
    stack: string,
    program: () => Record<string, unknown> | void,
    computedOutputs?: RunRequest["computedOutputs"],
): Promise<RunResult> {
    const run = await declare(stack, program, computedOutputs);
    if (run.error !== undefined) {
        throw run.error instanceof Error ? run.error : new Error(JSON.stringify(run.error));
    }
    return run;
}

/** The one resource of `type` named `name` in `run`. */
function find(run: RunResult, type: string, name: string): RecordedResource {
    const found = run.resources.filter((r) => r.type === type && r.name === name);
    expect(found).toHaveLength(1);
    return found[0];
}

/** What a run's program was refused with: the InputPropertiesError's properties. */
function refusedProperties(run: RunResult): { propertyPath: string; reason: string }[] {
    if (!pulumi.InputPropertiesError.isInstance(run.error)) {
        throw new Error(`not refused with an InputPropertiesError: ${String(run.error)}`);
    }
    return run.error.errors;
}

/**
 * Runs `program` under Pulumi's mocks and returns the unhandled rejections it caused. A failed Output
 * (an input that fails its check once known) fails a Pulumi program that way: the CLI's handler of
 * unhandled rejections reports it. Jest's `process` is a copy, so the handler goes on Node's own
 * process for the run, with Jest's own set aside (it would fail the test on the first one).
 */
async function withUnhandledRejections(stack: string, program: () => void): Promise<{ run: RunResult; rejections: unknown[] }> {
    const node = vm.runInThisContext("process") as NodeJS.Process;
    const jests = node.listeners("unhandledRejection");
    const rejections: unknown[] = [];
    const collect = (reason: unknown) => rejections.push(reason);
    node.removeAllListeners("unhandledRejection");
    node.on("unhandledRejection", collect);
    try {
        const run = await declare(stack, program);
        // Let every rejection of the run reach the handler.
        await new Promise((resolve) => setTimeout(resolve, 50));
        return { run, rejections };
    } finally {
        node.off("unhandledRejection", collect);
        for (const listener of jests) {
            node.on("unhandledRejection", listener as (...args: unknown[]) => void);
        }
    }
}

const isSecret = (value: unknown) =>
    typeof value === "object" &&
    value !== null &&
    (value as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig;

/** The first run (regions east and west, no Vault admin). */
let unconfigured: RunResult;
let full: VaultRegion;
let withoutOperator: VaultRegion;

beforeAll(async () => {
    unconfigured = await declareOk("test", () => {
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
        return {
            eastAddress: full.vaultAddress,
            eastHost: full.vault?.host,
            westOperatorNamespace: withoutOperator.externalSecretsNamespace,
        };
    });
});

const urnOf = (type: string, name: string) => find(unconfigured, type, name).urn;

/** Attempts a VaultRegion with `override` over working args; it must register nothing. */
async function refusedRegion(stack: string, override: Partial<VaultRegionArgs>): Promise<{ propertyPath: string; reason: string }[]> {
    const attempt = await declare(stack, () => {
        new VaultRegion("bad", { region: "east", regions: ["east", "west"], domain: "example.net", ...override });
    });
    expect(attempt.resources).toEqual([]);
    return refusedProperties(attempt);
}

describe("VaultRegion", () => {
    it("registers the region's components and Kubernetes objects, each under its parent", () => {
        const east = unconfigured.resources.filter((r) => r.urn.includes("::east") && !r.type.startsWith("pulumi:providers:"));
        expect(east.map((r) => `${r.type} ${r.name}`).sort()).toEqual([
            "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy east-store-admission-openova-vault-no-reads-from-peer-stores",
            "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy east-store-admission-openova-vault-push-own-prefix",
            "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding east-store-admission-openova-vault-no-reads-from-peer-stores",
            "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding east-store-admission-openova-vault-push-own-prefix",
            "kubernetes:cert-manager.io/v1:Certificate east-vault-certificate",
            "kubernetes:cilium.io/v2:CiliumNetworkPolicy east-vault-vault-server-from-ingress",
            "kubernetes:core/v1:Namespace east-external-secrets-namespace",
            "kubernetes:core/v1:Namespace east-vault-namespace",
            "kubernetes:core/v1:NamespacePatch east-namespace-external-secrets",
            "kubernetes:core/v1:PersistentVolumeClaim east-snapshots-claim",
            "kubernetes:core/v1:ServiceAccount east-namespace-external-secrets-vault-secrets-reader",
            "kubernetes:core/v1:ServiceAccount east-namespace-external-secrets-vault-secrets-writer",
            "kubernetes:helm.sh/v4:Chart east-external-secrets",
            "kubernetes:helm.sh/v4:Chart east-vault",
            "kubernetes:networking.k8s.io/v1:NetworkPolicy east-vault-vault-server",
            "openova:vault:ExternalSecretsOperator east-external-secrets",
            "openova:vault:RaftSnapshots east-snapshots",
            "openova:vault:StoreAdmission east-store-admission",
            "openova:vault:VaultMonitoring east-monitoring",
            "openova:vault:VaultRegion east",
            "openova:vault:VaultServer east-vault",
        ]);
        const region = urnOf("openova:vault:VaultRegion", "east");
        const server = urnOf("openova:vault:VaultServer", "east-vault");
        const operator = urnOf("openova:vault:ExternalSecretsOperator", "east-external-secrets");
        expect(find(unconfigured, "openova:vault:VaultServer", "east-vault").parent).toBe(region);
        expect(find(unconfigured, "openova:vault:ExternalSecretsOperator", "east-external-secrets").parent).toBe(region);
        expect(find(unconfigured, "kubernetes:helm.sh/v4:Chart", "east-vault").parent).toBe(server);
        expect(find(unconfigured, "kubernetes:core/v1:Namespace", "east-vault-namespace").parent).toBe(server);
        expect(find(unconfigured, "kubernetes:helm.sh/v4:Chart", "east-external-secrets").parent).toBe(operator);
    });

    it("sends every Kubernetes object to the region's own cluster provider", () => {
        const eastProvider = `${urnOf("pulumi:providers:kubernetes", "east")}::east-id`;
        const westProvider = `${urnOf("pulumi:providers:kubernetes", "west")}::west-id`;
        const kubernetes = unconfigured.resources.filter((r) => r.type.startsWith("kubernetes:"));
        expect(kubernetes.length).toBeGreaterThan(0);
        for (const resource of kubernetes) {
            expect({ name: resource.name, provider: resource.provider }).toEqual({
                name: resource.name,
                provider: resource.name.startsWith("east") ? eastProvider : westProvider,
            });
        }
    });

    it("exposes the region's address, host, peers and namespaces", () => {
        expect(unconfigured.outputs.eastAddress).toEqual({ value: "https://vault.east.example.net", secret: false });
        expect(unconfigured.outputs.eastHost).toEqual({ value: "vault.east.example.net", secret: false });
        expect(full.region).toBe("east");
        expect(full.peers).toEqual(["west"]);
        expect(unconfigured.outputs.westOperatorNamespace).toEqual({ value: "eso", secret: false });
    });

    it("installs no operator when told the cluster already runs one", () => {
        expect(withoutOperator.externalSecrets).toBeUndefined();
        expect(unconfigured.resources.filter((r) => r.name.startsWith("west") && r.type.includes("ExternalSecrets"))).toEqual([]);
    });

    it.each<[string, Partial<VaultRegionArgs>, string, string]>([
        ["a region not in regions", { region: "north" }, "region", "is north, which is not one of the regions (east, west)"],
        [
            "a domain that is not a DNS name",
            { domain: "https://example.net" },
            "domain",
            'is "https://example.net", but it must be a lowercase DNS name',
        ],
        [
            "ESO in Vault's namespace",
            { vault: { namespace: "platform" }, externalSecrets: { namespace: "platform" } },
            "externalSecrets.namespace",
            "Vault's own namespace, but the External Secrets Operator needs its own",
        ],
        ["an even number of servers", { vault: { replicas: 2 } }, "vault.replicas", "is 2, but it must be an odd whole number"],
        ["no audit device", { vault: { auditDevices: [] } }, "vault.auditDevices", "is [], but it must be a list of file or stdout"],
        [
            "a snapshot count of 0",
            { vault: { snapshots: { retain: 0 } } },
            "vault.snapshots.retain",
            "is 0, but it must be a whole number from 1",
        ],
        ["a KV mount path with a slash", { kvMount: "secret/sub" }, "kvMount", 'is "secret/sub", but it must be a mount path'],
        ["a mount Vault keeps for itself", { kvMount: "sys" }, "kvMount", "other than sys, auth, identity and cubbyhole"],
        [
            "a peer store for the region itself",
            { peerEndpoints: [{ peer: "east", address: "https://vault.east.example.net", caCert: "", token: "t" }] },
            "peerEndpoints[0].peer",
            "is east, which is not a peer of east (peers: west)",
        ],
        [
            "a peer named twice",
            { peerEndpoints: [0, 1].map(() => ({ peer: "west", address: "https://vault.west.example.net", caCert: "", token: "t" })) },
            "peerEndpoints[1].peer",
            "is west, which an earlier entry names already",
        ],
        [
            "a vaultAdmin that is not a Vault provider",
            { vaultAdmin: new k8s.Provider("not-vault", { context: "c" }) as unknown as vault.Provider },
            "vaultAdmin",
            "is a pulumi:providers:kubernetes resource (not-vault), but it must be a vault.Provider",
        ],
    ])("refuses %s before registering anything, naming the property", async (_what, override, propertyPath, reason) => {
        expect(await refusedRegion("bad", override)).toEqual([{ propertyPath, reason: expect.stringContaining(reason) as unknown }]);
    });

    it("refuses the audit devices and snapshots at the top level, where they were before they moved under vault", async () => {
        const moved = { auditDevices: ["stdout"], snapshots: { enabled: false } } as unknown as Partial<VaultRegionArgs>;
        expect(
            (await refusedRegion("moved", moved)).map((e) => [e.propertyPath, e.reason.startsWith("is not an option of VaultRegion")]),
        ).toEqual([
            ["auditDevices", true],
            ["snapshots", true],
        ]);
    });

    describe("with the domain as another resource's output", () => {
        let run: RunResult;

        beforeAll(async () => {
            run = await declareOk("domain-output", () => {
                const cluster = new k8s.Provider("c", { context: "c" });
                const region = new VaultRegion(
                    "out",
                    { region: "east", regions: ["east", "west"], domain: pulumi.output("example.com") },
                    { providers: { kubernetes: cluster } },
                );
                return { address: region.vaultAddress, host: region.vault?.host };
            });
        });

        it("serves Vault at vault.<region>.<that domain>: the address, the ingress host and the certificate follow it", () => {
            expect(run.outputs.address.value).toBe("https://vault.east.example.com");
            expect(run.outputs.host.value).toBe("vault.east.example.com");
            const values = find(run, "kubernetes:helm.sh/v4:Chart", "out-vault").inputs.values as VaultHelmValues;
            expect(values.server.ingress.hosts).toEqual([{ host: "vault.east.example.com", paths: [] }]);
            expect(values).toEqual(
                vaultHelmValues(serverSettings(vaultServerOptions.parse({}), "vault.east.example.com", monitoringOptions.parse({}))),
            );
            const certificate = find(run, "kubernetes:cert-manager.io/v1:Certificate", "out-vault-certificate").inputs as {
                metadata: { annotations?: Record<string, string> };
                spec: { dnsNames: string[] };
            };
            expect(certificate.spec.dnsNames[0]).toBe("vault.east.example.com");
            // The Kubernetes provider waits for the certificate to be issued before the run can succeed.
            expect(certificate.metadata.annotations).toEqual({ "pulumi.com/waitFor": "condition=Ready" });
        });

        it("fails the run with an InputPropertyError naming host once the domain turns out not to be a DNS name, and installs no Vault", async () => {
            const { run: failed, rejections } = await withUnhandledRejections("domain-output-bad", () => {
                const cluster = new k8s.Provider("c", { context: "c" });
                new VaultRegion(
                    "bad",
                    { region: "east", regions: ["east", "west"], domain: pulumi.output("Example_COM") },
                    { providers: { kubernetes: cluster } },
                );
            });
            const errors = [...new Set(rejections)];
            expect(errors).toHaveLength(1);
            const [error] = errors;
            expect(pulumi.InputPropertyError.isInstance(error)).toBe(true);
            expect(error).toMatchObject({
                propertyPath: "host",
                reason: expect.stringContaining('is "vault.east.Example_COM", but it must be a DNS name') as unknown,
            });
            expect(
                failed.resources
                    .filter((r) => r.type === "kubernetes:helm.sh/v4:Chart" || r.type.endsWith(":Certificate"))
                    .map((r) => r.name),
            ).toEqual(["bad-external-secrets"]);
        });
    });
});

describe("VaultServer", () => {
    it("creates its namespace and keeps it when deleted, so the Raft volumes survive", () => {
        const namespace = find(unconfigured, "kubernetes:core/v1:Namespace", "east-vault-namespace");
        expect(namespace.inputs).toMatchObject({ apiVersion: "v1", kind: "Namespace", metadata: { name: "vault" } });
        expect(namespace.options).toEqual({ retainOnDelete: true });
    });

    it("installs the pinned hashicorp/vault chart in that namespace, with the values builder's output and no readiness wait", () => {
        const chart = find(unconfigured, "kubernetes:helm.sh/v4:Chart", "east-vault");
        expect(chart.custom).toBe(false);
        expect(chart.dependsOn).toContain(urnOf("kubernetes:core/v1:Namespace", "east-vault-namespace"));
        expect(chart.inputs).toEqual({
            name: "vault",
            namespace: "vault",
            chart: "vault",
            version: VAULT_CHART.version,
            repositoryOpts: { repo: VAULT_CHART.repository },
            skipAwait: true,
            values: vaultHelmValues(
                serverSettings(
                    vaultServerOptions.parse({ replicas: 5, storageClass: "fast" }),
                    "vault.east.example.net",
                    monitoringOptions.parse({}),
                ),
            ),
        });
    });

    it("checks a plain host once, with its other args, not again as an Output", async () => {
        const parse = jest.spyOn(hostOption, "safeParse");
        try {
            const run = await declareOk("plain-host", () => ({ host: new VaultServer("v", { host: "vault.east.example.net" }).host }));
            expect(run.outputs.host.value).toBe("vault.east.example.net");
            expect(parse).not.toHaveBeenCalled();
            // A bad plain host is refused with the args, before anything is registered.
            const refused = await declare("plain-host-bad", () => void new VaultServer("v", { host: "Vault_East" }));
            expect(refusedProperties(refused)).toEqual([{ propertyPath: "host", reason: 'is "Vault_East", but it must be a DNS name' }]);
            expect(refused.resources).toEqual([]);
        } finally {
            parse.mockRestore();
        }
    });

    it("declares its certificate before the chart, whose pods mount it", () => {
        const certificate = find(unconfigured, "kubernetes:cert-manager.io/v1:Certificate", "east-vault-certificate");
        expect(find(unconfigured, "kubernetes:helm.sh/v4:Chart", "east-vault").dependsOn).toContain(certificate.urn);
        expect(certificate.inputs).toMatchObject({
            metadata: { name: "vault-server-tls", namespace: "vault" },
            spec: { secretName: "vault-server-tls" },
        });
    });
});

describe("ExternalSecretsOperator", () => {
    it("installs the pinned external-secrets chart with its CRDs in its own namespace, waiting for readiness", () => {
        const chart = find(unconfigured, "kubernetes:helm.sh/v4:Chart", "east-external-secrets");
        expect(chart.dependsOn).toContain(urnOf("kubernetes:core/v1:Namespace", "east-external-secrets-namespace"));
        expect(chart.inputs).toEqual({
            name: "external-secrets",
            namespace: externalSecretsOptions.parse({}).namespace,
            chart: "external-secrets",
            version: EXTERNAL_SECRETS_CHART.version,
            repositoryOpts: { repo: EXTERNAL_SECRETS_CHART.repository },
            values: {
                ...externalSecretsHelmValues(externalSecretsOptions.parse({ replicas: 3 })),
                ...externalSecretsMonitoringValues(monitoringOptions.parse({})),
            },
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
        const run = await declareOk("test2", () => {
            const cluster = new k8s.Provider("c", { context: "c" });
            const region = new VaultRegion(
                "r",
                { region: "r", regions: ["r"], domain: "example.net" },
                { providers: { kubernetes: cluster } },
            );
            new k8s.core.v1.ConfigMap(
                "dependent",
                { metadata: { name: "d", namespace: "external-secrets" } },
                { provider: cluster, dependsOn: [region.externalSecrets as pulumi.Resource] },
            );
        });
        expect(find(run, "kubernetes:core/v1:ConfigMap", "dependent").dependsOn).toContain(
            find(run, "kubernetes:helm.sh/v4:Chart", "r-external-secrets").urn,
        );
    });
});

describe("a configured region (vaultAdmin given)", () => {
    let configured: RunResult;
    let region: VaultRegion;
    const peerToken = "hvs.issued-by-west";

    beforeAll(async () => {
        configured = await declareOk(
            "configured",
            () => {
                const cluster = new k8s.Provider("north", { context: "north" });
                const admin = new vault.Provider("north", { address: "https://vault.north.example.net" });
                region = new VaultRegion(
                    "north",
                    {
                        region: "north",
                        regions: ["north", "south", "west"],
                        domain: "example.net",
                        kvMount: "kv",
                        peerAuth: "token",
                        peerTokenGenerations: { west: 2 },
                        vaultAdmin: admin,
                        vaultCaCert: "",
                        replicatedSecrets: [
                            { name: "db", namespace: "apps", writers: "home", home: "south" },
                            { name: "api", namespace: "apps", remoteKey: "apps/shared/api", writers: "home", home: "south" },
                            {
                                name: "cache",
                                namespace: "web",
                                writers: "home",
                                home: "north",
                                keys: ["password"],
                                initialValue: { generate: { key: "password" } },
                            },
                        ],
                        peerEndpoints: [
                            { peer: "west", address: "https://vault.west.example.net", caCert: "", token: pulumi.secret(peerToken) },
                        ],
                    },
                    { providers: { kubernetes: cluster } },
                );
                return { issuedPeerAccess: region.issuedPeerAccess };
            },
            {
                "vault:index/token:Token": (args) => ({
                    clientToken: `token-for-${String((args.inputs as { displayName?: unknown }).displayName)}`,
                }),
            },
        );
    });

    const get = (type: string, name: string): RecordedResource => find(configured, type, name);

    it("configures Vault with the admin provider only: mount, Kubernetes auth, policies, role, one token per peer", () => {
        const adminRef = `${configured.resources.find((r) => r.type === "pulumi:providers:vault")?.urn}::north-id`;
        const vaultResources = configured.resources.filter((r) => r.type.startsWith("vault:"));
        expect(vaultResources.map((r) => `${r.type} ${r.name}`).sort()).toEqual([
            "vault:index/audit:Audit north-setup-audit-file",
            "vault:index/audit:Audit north-setup-audit-stdout",
            "vault:index/authBackend:AuthBackend north-setup-kubernetes",
            "vault:index/mount:Mount north-setup-kv",
            "vault:index/policy:Policy north-peer-south-push",
            "vault:index/policy:Policy north-peer-west-push",
            "vault:index/policy:Policy north-setup-pull",
            "vault:index/policy:Policy north-setup-push",
            "vault:index/policy:Policy north-snapshots-policy",
            "vault:index/policy:Policy north-token-renewer-policy",
            "vault:index/token:Token north-peer-south-token",
            "vault:index/token:Token north-peer-west-token",
            "vault:kubernetes/authBackendConfig:AuthBackendConfig north-setup-kubernetes",
            "vault:kubernetes/authBackendRole:AuthBackendRole north-setup-namespace-pull",
            "vault:kubernetes/authBackendRole:AuthBackendRole north-setup-namespace-push",
            "vault:kubernetes/authBackendRole:AuthBackendRole north-snapshots-role",
            "vault:kubernetes/authBackendRole:AuthBackendRole north-token-renewer-role",
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
    });

    /** The paths of a policy the region wrote, as Vault's parser reads it. */
    const policyPaths = (name: string) => Object.keys(parseVaultPolicy(String(get("vault:index/policy:Policy", name).inputs.policy)));

    it("scopes the namespaces' policies to their own prefix, through the Kubernetes auth mount's accessor", () => {
        // The mock runtime names the accessor as Vault does (auth_kubernetes_<8 hex digits>); the policies carry what the mount reports.
        const accessor = /aliases\.(auth_kubernetes_[0-9a-f]{8})\.metadata/.exec(policyPaths("north-setup-pull")[0])?.[1];
        expect(accessor).toBeDefined();
        const prefix = `{{identity.entity.aliases.${accessor}.metadata.service_account_namespace}}/*`;
        expect(policyPaths("north-setup-pull")).toEqual([`kv/data/${prefix}`]);
        expect(policyPaths("north-setup-push")).toEqual([`kv/data/${prefix}`, `kv/metadata/${prefix}`]);
    });

    it("lets each peer push exactly the secrets it is the home of, and a peer that is the home of none nothing", () => {
        expect(policyPaths("north-peer-south-push")).toEqual([
            "kv/data/apps/db",
            "kv/data/apps/shared/api",
            "kv/metadata/apps/db",
            "kv/metadata/apps/shared/api",
        ]);
        expect(parseVaultPolicy(String(get("vault:index/policy:Policy", "north-peer-west-push").inputs.policy))).toEqual({
            "kv/*": { capabilities: ["deny"] },
        });
        expect(get("vault:index/policy:Policy", "north-peer-south-push").inputs.name).toBe("peer-south-push");
    });

    it("configures Kubernetes auth for a Vault inside the cluster, with no reviewer token or CA, and says not to check the issuer", () => {
        const config = get("vault:kubernetes/authBackendConfig:AuthBackendConfig", "north-setup-kubernetes");
        expect(config.inputs).toEqual({
            backend: "kubernetes",
            kubernetesHost: "https://kubernetes.default.svc",
            disableIssValidation: true,
        });
    });

    it.each([
        ["pull", "vault-secrets-reader"],
        ["push", "vault-secrets-writer"],
    ])(
        "binds the %s role to the namespace's %s account in any namespace, with an audience, a short TTL and that one policy",
        (purpose, account) => {
            const role = get("vault:kubernetes/authBackendRole:AuthBackendRole", `north-setup-namespace-${purpose}`);
            expect(role.inputs).toMatchObject({
                backend: "kubernetes",
                roleName: `namespace-${purpose}`,
                boundServiceAccountNames: [account],
                boundServiceAccountNamespaces: ["*"],
                audience: "vault",
                tokenTtl: 900,
                tokenPolicies: [`namespace-${purpose}`],
            });
        },
    );

    it("creates a namespace's Password generator after the grant of that namespace, so a missing namespace fails there, first", () => {
        const generator = get("kubernetes:generators.external-secrets.io/v1alpha1:Password", "north-generator-web-32");
        expect(generator.inputs).toMatchObject({ metadata: { namespace: "web" } });
        expect(generator.dependsOn).toEqual(
            expect.arrayContaining([
                get("kubernetes:core/v1:NamespacePatch", "north-namespace-web").urn,
                get("kubernetes:helm.sh/v4:Chart", "north-external-secrets").urn,
            ]),
        );
    });

    it("creates the reader account in every granted namespace, and the writer account where this region writes", () => {
        const accounts = configured.resources
            .filter((r) => r.type === "kubernetes:core/v1:ServiceAccount" && r.name.startsWith("north-namespace-"))
            .map((r) => {
                const metadata = r.inputs.metadata as { name: string; namespace: string };
                expect(r.inputs.automountServiceAccountToken).toBe(false);
                return `${metadata.namespace}/${metadata.name}`;
            });
        expect(accounts.sort()).toEqual([
            "apps/vault-secrets-reader",
            "external-secrets/vault-secrets-reader",
            "external-secrets/vault-secrets-writer",
            "web/vault-secrets-reader",
            "web/vault-secrets-writer",
        ]);
    });

    it("enables two audit devices through the Vault provider: a 0600 file on the audit volume, and stdout", () => {
        expect(get("vault:index/audit:Audit", "north-setup-audit-file").inputs).toEqual({
            path: "file",
            type: "file",
            description: expect.any(String) as unknown,
            options: { file_path: "/vault/audit/vault-audit.log", mode: "0600" },
        });
        expect(get("vault:index/audit:Audit", "north-setup-audit-stdout").inputs).toMatchObject({
            type: "file",
            options: { file_path: "stdout" },
        });
    });

    it("schedules Raft snapshots with a role that can only read the snapshot endpoint, over TLS", () => {
        const role = get("vault:kubernetes/authBackendRole:AuthBackendRole", "north-snapshots-role");
        expect(role.inputs).toMatchObject({
            roleName: "raft-snapshot",
            boundServiceAccountNames: ["vault-snapshot"],
            boundServiceAccountNamespaces: ["vault"],
            tokenPolicies: ["raft-snapshot"],
        });
        const policy = JSON.parse(String(get("vault:index/policy:Policy", "north-snapshots-policy").inputs.policy)) as {
            path: Record<string, { capabilities: string[] }>;
        };
        expect(policy.path).toEqual({ "sys/storage/raft/snapshot": { capabilities: ["read"] } });
        const job = JSON.stringify(get("kubernetes:batch/v1:CronJob", "north-snapshots-cronjob").inputs);
        expect(job).toContain("https://vault-active.vault.svc:8200");
        expect(job).toContain('"VAULT_CACERT"');
    });

    it("issues each peer an orphan, periodic, renewable token with a one-year end and the push policy only, kept when replaced", () => {
        const token = get("vault:index/token:Token", "north-peer-south-token");
        expect(token.inputs).toMatchObject({
            displayName: "peer-south",
            noParent: true,
            period: "720h",
            explicitMaxTtl: "8760h",
            renewable: true,
            policies: ["peer-south-push"],
            metadata: { "issued-by": "north", "used-by": "south", generation: "1" },
        });
        // Replaced (a new generation) or deleted, it is not revoked: the peer keeps pushing until it switches.
        expect(token.options).toMatchObject({ retainOnDelete: true });
        expect(token.options).not.toHaveProperty("deleteBeforeReplace");
        expect(token.dependsOn).toContain(get("vault:index/policy:Policy", "north-peer-south-push").urn);
        // The generation a peer is given (west: 2) is the token's, so raising it is a new token.
        expect(get("vault:index/token:Token", "north-peer-west-token").inputs).toMatchObject({ metadata: { generation: "2" } });
    });

    it("renews every peer token in the cluster, by accessor, with a role that may do nothing else", () => {
        const accessors = get("kubernetes:core/v1:ConfigMap", "north-token-renewer-accessors");
        // Under the mock runtime a token's ID (its accessor in the real provider) is "<name>-id".
        expect(accessors.inputs).toMatchObject({
            metadata: { name: "vault-token-renewer", namespace: "vault" },
            data: { accessors: "peer-south north-peer-south-token-id\npeer-west north-peer-west-token-id\n" },
        });
        expect(accessors.dependsOn).toEqual(
            expect.arrayContaining([
                get("vault:index/token:Token", "north-peer-south-token").urn,
                get("vault:index/token:Token", "north-peer-west-token").urn,
            ]),
        );
        expect(get("vault:kubernetes/authBackendRole:AuthBackendRole", "north-token-renewer-role").inputs).toMatchObject({
            backend: "kubernetes",
            roleName: "token-renewer",
            boundServiceAccountNames: ["vault-token-renewer"],
            boundServiceAccountNamespaces: ["vault"],
            audience: "vault-token-renewer",
            tokenPolicies: ["token-renewer"],
        });
        expect(JSON.parse(String(get("vault:index/policy:Policy", "north-token-renewer-policy").inputs.policy))).toEqual({
            path: { "auth/token/renew-accessor": { capabilities: ["update"] } },
        });
        const cronJob = get("kubernetes:batch/v1:CronJob", "north-token-renewer-cronjob");
        expect(cronJob.inputs).toMatchObject({
            metadata: { name: "vault-token-renewer", namespace: "vault" },
            spec: { schedule: "30 */6 * * *" },
        });
        const job = JSON.stringify(cronJob.inputs);
        expect(job).toContain("https://vault-active.vault.svc:8200");
        expect(job).toContain('"VAULT_CACERT"');
        expect(cronJob.dependsOn).toEqual(
            expect.arrayContaining([
                accessors.urn,
                get("vault:kubernetes/authBackendRole:AuthBackendRole", "north-token-renewer-role").urn,
                get("kubernetes:core/v1:ServiceAccount", "north-token-renewer-service-account").urn,
            ]),
        );
        expect(region.tokenRenewer?.tokenNames).toEqual(["peer-south", "peer-west"]);
    });

    it("publishes per peer the address, CA and token, as one secret", () => {
        expect(configured.outputs.issuedPeerAccess).toEqual({
            value: {
                south: { address: "https://vault.north.example.net", caCert: "", token: "token-for-peer-south" },
                west: { address: "https://vault.north.example.net", caCert: "", token: "token-for-peer-west" },
            },
            secret: true,
        });
    });

    it.each([
        ["north-store-local", "vault-local", "pull"],
        ["north-store-local-push", "vault-local-push", "push"],
    ])("creates %s (%s) over TLS after the ESO chart and the Vault setup", (resource, storeName, purpose) => {
        const store = get("kubernetes:external-secrets.io/v1:ClusterSecretStore", resource);
        expect(store.inputs).toMatchObject({
            metadata: { name: storeName },
            spec: {
                provider: {
                    vault: {
                        server: "https://vault-active.vault.svc:8200",
                        path: "kv",
                        caProvider: { type: "Secret", name: "vault-server-tls", namespace: "vault", key: "ca.crt" },
                    },
                },
            },
        });
        expect(store.dependsOn).toEqual(
            expect.arrayContaining([
                get("kubernetes:helm.sh/v4:Chart", "north-external-secrets").urn,
                get("vault:kubernetes/authBackendRole:AuthBackendRole", `north-setup-namespace-${purpose}`).urn,
            ]),
        );
    });

    it("creates a store and a token Secret only for peers that issued a token, the token as secret data", () => {
        const stores = configured.resources
            .filter((r) => r.type === "kubernetes:external-secrets.io/v1:ClusterSecretStore")
            .map((r) => r.name);
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
        expect(
            unconfigured.resources.filter(
                (r) => r.type.startsWith("vault:") || r.type.includes("external-secrets.io") || r.type.includes("CronJob"),
            ),
        ).toEqual([]);
        expect(unconfigured.resources.filter((r) => r.type === "kubernetes:core/v1:PersistentVolumeClaim").map((r) => r.options)).toEqual([
            { retainOnDelete: true },
            { retainOnDelete: true },
        ]);
    });

    it("refuses a vault.auditDevices list the Vault must not run with, and enables only the devices listed", async () => {
        expect(await refusedRegion("bad-audit", { vault: { auditDevices: ["stdout", "stdout"] } })).toEqual([
            { propertyPath: "vault.auditDevices", reason: expect.stringContaining("each once") as unknown },
        ]);
        const run = await declareOk("stdout-only", () => {
            const cluster = new k8s.Provider("n", { context: "n" });
            const admin = new vault.Provider("n", { address: "https://vault.north.example.net" });
            new VaultRegion(
                "n",
                {
                    region: "north",
                    regions: ["north"],
                    domain: "example.net",
                    vaultAdmin: admin,
                    vault: { auditDevices: ["stdout"], snapshots: { enabled: false } },
                },
                { providers: { kubernetes: cluster } },
            );
        });
        expect(run.resources.filter((r) => r.type === "vault:index/audit:Audit").map((r) => r.name)).toEqual(["n-setup-audit-stdout"]);
        // Snapshots off: no claim, no job, no role.
        expect(run.resources.filter((r) => r.name.startsWith("n-snapshots-"))).toEqual([]);
    });
});

describe("ReplicatedSecret", () => {
    let secrets: RunResult;

    beforeAll(async () => {
        secrets = await declareOk("secrets", () => {
            const cluster = new k8s.Provider("c", { context: "c" });
            const spec = {
                name: "db",
                namespace: "apps",
                keys: ["password"],
                writers: "home" as const,
                home: "home",
                regions: ["home", "away", "far"],
            };
            new ReplicatedSecret(
                "home-db",
                { ...spec, mode: "vault-written", region: "home", initialValue: { value: { password: "operator-value" } } },
                { provider: cluster },
            );
            new ReplicatedSecret(
                "away-db",
                { ...spec, mode: "vault-written", region: "away", initialValue: { value: { password: "operator-value" } } },
                { provider: cluster },
            );
            const any = { ...spec, name: "token", writers: "any" as const, initialValue: { generate: { key: "password" } } };
            new ReplicatedSecret("home-token", { ...any, mode: "vault-written", region: "home" }, { provider: cluster });
            new ReplicatedSecret("away-token", { ...any, mode: "vault-written", region: "away" }, { provider: cluster });
            const app = { name: "app", namespace: "apps", mode: "cluster-written" as const, home: "home", regions: spec.regions };
            new ReplicatedSecret("home-app", { ...app, region: "home" }, { provider: cluster });
            new ReplicatedSecret("away-app", { ...app, region: "away" }, { provider: cluster });
        });
    });

    const kindsUnder = (component: string) =>
        secrets.resources
            .filter((r) => r.urn.endsWith(`::${component}`) === false && r.name.startsWith(component) && r.custom)
            .map((r) => `${r.type.split(":").pop()}/${(r.inputs.metadata as { name: string }).name}`)
            .sort();
    const selectorOf = (name: string) =>
        secrets.resources.find((r) => r.type.endsWith(":PushSecret") && (r.inputs.metadata as { name: string }).name === name)?.inputs
            .spec as { secretStoreRefs: unknown };

    it("vault-written: every region pulls; only home pushes, one PushSecret per peer, and only home writes the first value", () => {
        expect(kindsUnder("home-db")).toEqual([
            "ExternalSecret/db",
            "PushSecret/db-initial",
            "PushSecret/db-to-away",
            "PushSecret/db-to-far",
            "Secret/db-initial",
        ]);
        expect(kindsUnder("away-db")).toEqual(["ExternalSecret/db"]);
        expect(selectorOf("db-to-far").secretStoreRefs).toEqual([
            {
                kind: "ClusterSecretStore",
                labelSelector: { matchLabels: { "vault.openova.io/push-target": "true", "vault.openova.io/vault-region": "far" } },
            },
        ]);
    });

    it("written by any region: every region pulls and none pushes (the replicators carry the writes); only home writes the first value", () => {
        expect(kindsUnder("home-token")).toEqual(["ExternalSecret/token", "Password/token-initial", "PushSecret/token-initial"]);
        expect(kindsUnder("away-token")).toEqual(["ExternalSecret/token"]);
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

    it.each<[Partial<ReplicatedSecretArgs>, string, string]>([
        [{ keys: [] }, "keys", "is [], but it must be a non-empty list of distinct Secret keys"],
        [{ keys: ["password", "password"] }, "keys", "distinct Secret keys"],
        [
            { mode: "cluster-written", initialValue: { generate: { key: "password" } } },
            "initialValue",
            "is set, but a cluster-written secret's owner creates its value",
        ],
        [{ initialValue: { generate: { key: "user" } } }, "initialValue", "generates key user, which is not one of keys (password)"],
        [{ home: "elsewhere" }, "home", "is elsewhere, which is not one of the regions (home, away)"],
        [{ region: "elsewhere" }, "region", "is elsewhere, which is not one of regions (home, away)"],
        [{ pushInterval: "30" }, "pushInterval", 'is "30", but it must be a positive Go duration'],
        [{ pullInterval: "0s" }, "pullInterval", 'is "0s", but it must be a positive Go duration'],
        [{ name: "d".repeat(64) }, "name", "but it must be a Secret name (a DNS name)"],
        // A valid name of 247 characters whose PushSecret, `<name>-to-<region>`, would not be one.
        [{ name: Array.from({ length: 4 }, () => "d".repeat(61)).join(".") }, "name", "is too long: its PushSecret would be named"],
    ])("refuses %j before registering anything, naming the property", async (override, propertyPath, reason) => {
        const attempt = await declare("bad3", () => {
            new ReplicatedSecret("bad", {
                name: "db",
                namespace: "apps",
                keys: ["password"],
                mode: "vault-written",
                home: "home",
                region: "home",
                regions: ["home", "away"],
                ...override,
            });
        });
        expect(attempt.resources).toEqual([]);
        expect(refusedProperties(attempt)).toEqual([{ propertyPath, reason: expect.stringContaining(reason) as unknown }]);
    });
});

describe("generated first values", () => {
    let run: RunResult;

    beforeAll(async () => {
        run = await declareOk("generators", () => {
            const cluster = new k8s.Provider("c", { context: "c" });
            const vaultAdmin = new vault.Provider("v", { address: "https://vault.north.example.net" });
            const generated = (name: string, namespace: string, length?: number, passwordSymbols?: string) => ({
                name,
                namespace,
                keys: ["password"],
                mode: "vault-written" as const,
                writers: "home" as const,
                home: "north",
                ...(passwordSymbols === undefined ? {} : { passwordSymbols }),
                initialValue: { generate: { key: "password", ...(length === undefined ? {} : { length }) } },
            });
            new VaultRegion(
                "north",
                {
                    region: "north",
                    regions: ["north", "south"],
                    domain: "example.net",
                    vaultAdmin,
                    replicatedSecrets: [
                        generated("a", "apps"),
                        generated("b", "apps"),
                        generated("c", "apps", 40),
                        generated("d", "jobs"),
                        // Other symbols make another recipe: shared by k and l, not with a or m.
                        generated("k", "apps", undefined, "!*"),
                        generated("l", "apps", undefined, "!*"),
                        generated("m", "apps", undefined, ""),
                    ],
                },
                { providers: { kubernetes: cluster } },
            );
            // Two standalone secrets in one namespace: each brings its own generator, named after it.
            new ReplicatedSecret(
                "alone",
                { ...generated("e", "tools"), region: "north", regions: ["north", "south"] },
                { provider: cluster },
            );
            new ReplicatedSecret(
                "also-alone",
                { ...generated("h", "tools", undefined, "+"), region: "north", regions: ["north", "south"] },
                { provider: cluster },
            );
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
        });
    });

    it("push only to Vaults the region has a store for (ESO does not retry a PushSecret that matches no store)", () => {
        const pushes = objects("external-secrets.io/v1alpha1:PushSecret")
            .map((p) => p.metadata.name)
            .filter((name) => name.includes("-to-"));
        // "north" has no store to south yet: no PushSecret to it; "wired" has one.
        expect(pushes.sort()).toEqual(["e-to-south", "f-to-south", "g-to-north", "g-to-south", "h-to-south"]);
    });

    const objects = (kind: string) =>
        run.resources
            .filter((r) => r.type === `kubernetes:${kind}`)
            .map(
                (r) =>
                    r.inputs as {
                        metadata: { name: string; namespace: string };
                        spec: { selector?: { generatorRef?: { name: string } }; symbolCharacters?: string };
                    },
            );
    const custom = passwordGeneratorName({ length: 32, symbols: "!*" });
    const none = passwordGeneratorName({ length: 32, symbols: "" });

    it("share one Password generator per namespace, length and symbols in a region; a standalone ReplicatedSecret brings its own", () => {
        // (apps/...-32 twice: once per VaultRegion instance, "north" and "wired".)
        expect(
            objects("generators.external-secrets.io/v1alpha1:Password")
                .map((g) => `${g.metadata.namespace}/${g.metadata.name}`)
                .sort(),
        ).toEqual(
            [
                "apps/replicated-secret-password-32",
                "apps/replicated-secret-password-32",
                "apps/replicated-secret-password-40",
                `apps/${custom}`,
                `apps/${none}`,
                "jobs/replicated-secret-password-32",
                "tools/e-initial",
                "tools/h-initial",
            ].sort(),
        );
        const initial = objects("external-secrets.io/v1alpha1:PushSecret").filter((p) => p.metadata.name.endsWith("-initial"));
        expect(Object.fromEntries(initial.map((p) => [p.metadata.name, p.spec.selector?.generatorRef?.name]))).toEqual({
            "a-initial": "replicated-secret-password-32",
            "b-initial": "replicated-secret-password-32",
            "c-initial": "replicated-secret-password-40",
            "d-initial": "replicated-secret-password-32",
            "e-initial": "e-initial",
            "f-initial": "replicated-secret-password-32",
            "h-initial": "h-initial",
            "k-initial": custom,
            "l-initial": custom,
            "m-initial": none,
        });
    });

    it("name their symbols in every generator, the safe set unless a secret says otherwise, and ESO's schema accepts each", () => {
        const generators = objects("generators.external-secrets.io/v1alpha1:Password");
        expect(Object.fromEntries(generators.map((g) => [`${g.metadata.namespace}/${g.metadata.name}`, g.spec.symbolCharacters]))).toEqual({
            "apps/replicated-secret-password-32": SAFE_PASSWORD_SYMBOLS,
            "apps/replicated-secret-password-40": SAFE_PASSWORD_SYMBOLS,
            [`apps/${custom}`]: "!*",
            [`apps/${none}`]: "",
            "jobs/replicated-secret-password-32": SAFE_PASSWORD_SYMBOLS,
            "tools/e-initial": SAFE_PASSWORD_SYMBOLS,
            "tools/h-initial": "+",
        });
        expect(validateEsoObjects(generators)).toEqual(generators.map(() => ""));
    });
});

describe("namespace grants", () => {
    let run: RunResult;

    beforeAll(async () => {
        run = await declareOk("grants", () => {
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
        });
    });

    it("label each namespace of a replicated secret to read, and to write only where this region pushes (the secret's home)", () => {
        const patches = run.resources
            .filter((r) => r.type === "kubernetes:core/v1:NamespacePatch")
            .map((r) => r.inputs as { metadata: { name: string; labels: Record<string, string> } });
        expect(Object.fromEntries(patches.map((p) => [p.metadata.name, p.metadata.labels]))).toEqual({
            apps: { "vault.openova.io/read": "true", "vault.openova.io/replicate": "true" },
            reports: { "vault.openova.io/read": "true" },
            // ESO's own namespace, where the bootstrap's canary runs, may do both.
            "external-secrets": { "vault.openova.io/read": "true", "vault.openova.io/replicate": "true" },
        });
        const eso = run.resources.find(
            (r) => r.type === "kubernetes:core/v1:NamespacePatch" && r.name === "south-namespace-external-secrets",
        );
        // (A dependency on a component is a dependency on its children: here, the namespace it creates.)
        expect(eso?.dependsOn).toContain(
            run.resources.find((r) => r.type === "kubernetes:core/v1:Namespace" && r.name === "south-external-secrets-namespace")?.urn,
        );
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
    let run: RunResult;
    const identity = {
        issuer: "https://oidc.west.example.net",
        publicKeys: ["-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"],
        discoveryCaCert: "",
        serviceAccount: { name: "external-secrets", namespace: "eso" },
    };

    beforeAll(async () => {
        run = await declareOk("jwt", () => {
            const cluster = new k8s.Provider("n", { context: "n" });
            const admin = new vault.Provider("n", { address: "https://vault.north.example.net" });
            const region = new VaultRegion(
                "north",
                {
                    region: "north",
                    regions: ["north", "south", "west"],
                    domain: "example.net",
                    vaultAdmin: admin,
                    peerAuth: "jwt",
                    // west has published its cluster identity; south has not yet.
                    peerIdentities: [{ peer: "west", identity }],
                    peerEndpoints: [
                        {
                            peer: "west",
                            address: "https://vault.west.example.net",
                            caCert: "",
                            jwt: { path: "jwt-north", role: "external-secrets-push", audience: "https://vault.west.example.net" },
                        },
                    ],
                },
                { providers: { kubernetes: cluster } },
            );
            return { issuedPeerAccess: region.issuedPeerAccess };
        });
    });

    const get = (type: string, name: string): RecordedResource => find(run, type, name);

    it("issues no token: it mounts a JWT backend per known peer, checking that cluster's keys and issuer", () => {
        expect(run.resources.filter((r) => r.type === "vault:index/token:Token")).toEqual([]);
        // Nothing to renew, so no renewer (nor its policy, role or CronJob).
        expect(run.resources.filter((r) => r.name.includes("token-renewer"))).toEqual([]);
        expect(get("vault:jwt/authBackend:AuthBackend", "north-peer-west-jwt").inputs).toMatchObject({
            path: "jwt-west",
            type: "jwt",
            boundIssuer: "https://oidc.west.example.net",
            jwtValidationPubkeys: identity.publicKeys,
        });
        expect(run.resources.filter((r) => r.type === "vault:jwt/authBackend:AuthBackend").map((r) => r.name)).toEqual([
            "north-peer-west-jwt",
        ]);
    });

    it("binds the role to the peer's ESO service account and this Vault's audience, with the push policy only", () => {
        expect(get("vault:jwt/authBackendRole:AuthBackendRole", "north-peer-west-jwt-role").inputs).toMatchObject({
            roleType: "jwt",
            userClaim: "sub",
            boundSubject: "system:serviceaccount:eso:external-secrets",
            boundAudiences: ["https://vault.north.example.net"],
            tokenPolicies: ["peer-west-push"],
        });
    });

    it("publishes where each peer logs in, not as a secret (there is none)", () => {
        expect(run.outputs.issuedPeerAccess).toEqual({
            value: {
                west: {
                    address: "https://vault.north.example.net",
                    caCert: "",
                    jwt: { path: "jwt-west", role: "external-secrets-push", audience: "https://vault.north.example.net" },
                },
            },
            secret: false,
        });
    });

    it("logs in to the peer's Vault with ESO's own service-account token, and stores no token Secret", () => {
        expect(run.resources.filter((r) => r.type === "kubernetes:core/v1:Secret")).toEqual([]);
        const store = get("kubernetes:external-secrets.io/v1:ClusterSecretStore", "north-store-west").inputs as {
            spec: { provider: { vault: { auth: unknown } } };
        };
        expect(store.spec.provider.vault.auth).toEqual({
            jwt: {
                path: "jwt-north",
                role: "external-secrets-push",
                kubernetesServiceAccountToken: {
                    serviceAccountRef: {
                        name: "external-secrets",
                        namespace: "external-secrets",
                        audiences: ["https://vault.west.example.net"],
                    },
                    audiences: ["https://vault.west.example.net"],
                    expirationSeconds: 600,
                },
            },
        });
    });
});

describe("a self-hosted region whose peers have managed backends", () => {
    const identity = {
        issuer: "https://oidc.west.example.net",
        publicKeys: ["-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"],
        discoveryCaCert: "",
        serviceAccount: { name: "external-secrets", namespace: "eso" },
    };
    const aws = {
        type: "aws-secrets-manager" as const,
        region: "us-east-1",
        roleArn: "arn:aws:iam::111122223333:role/openova-eso-west",
        identity: "irsa" as const,
        replicaRegions: [],
        secretPrefix: "openova-",
    };
    const secret = { name: "db-credentials", namespace: "databases", keys: ["password"] };

    /** north (self-hosted, configured) with west on `backend` (AWS Secrets Manager by default), and the given secret. */
    const north =
        (replicatedSecret: Record<string, unknown>, backend: NonNullable<VaultRegionArgs["peerBackends"]>[number]["backend"] = aws) =>
        () => {
            const cluster = new k8s.Provider("n", { context: "n" });
            const admin = new vault.Provider("n", { address: "https://vault.north.example.net" });
            const region = new VaultRegion(
                "north",
                {
                    region: "north",
                    regions: ["north", "west"],
                    domain: "example.net",
                    vaultAdmin: admin,
                    peerIdentities: [{ peer: "west", identity }],
                    peerBackends: [{ peer: "west", backend }],
                    replicatedSecrets: [{ ...secret, ...replicatedSecret }],
                },
                { providers: { kubernetes: cluster } },
            );
            return { connectedPeers: region.connectedPeers };
        };

    it("refuses a secret every region writes, naming it, the peer's backend and the fix, before registering anything", async () => {
        const run = await declare("writers", north({}));
        expect(refusedProperties(run)).toEqual([
            {
                propertyPath: "replicatedSecrets[0].writers",
                reason: "is any (the default for a vault-written secret) for databases/db-credentials, but west's backend is aws-secrets-manager: the replicators write only into self-hosted Vaults. Set writers: home for it in every region's stack",
            },
        ]);
        expect(run.resources.filter((r) => r.type.startsWith("openova:"))).toEqual([]);
    });

    it("grants a managed peer nothing in its Vault unless the peer is the home of a secret, and pushes to its store", async () => {
        const homeHere = await declareOk("home-here", north({ writers: "home", home: "north" }));
        expect(homeHere.resources.filter((r) => r.type === "openova:vault:PeerAccess")).toEqual([]);
        expect(homeHere.resources.filter((r) => r.type.startsWith("vault:jwt/"))).toEqual([]);
        const store = find(homeHere, "kubernetes:external-secrets.io/v1:ClusterSecretStore", "north-store-west");
        expect(store.inputs.spec).toMatchObject({ provider: { aws: { service: "SecretsManager", region: "us-east-1" } } });
        const push = find(
            homeHere,
            "kubernetes:external-secrets.io/v1alpha1:PushSecret",
            "north-secret-databases-db-credentials-push-west",
        );
        expect((push.inputs.spec as { data: unknown[] }).data).toMatchObject([
            { match: { secretKey: "password", remoteRef: { remoteKey: "openova-databases/db-credentials", property: "password" } } },
        ]);

        // The peer is the home: it pushes here, so it gets its JWT mount and a policy for that secret alone.
        const homeThere = await declareOk("home-there", north({ writers: "home", home: "west" }));
        expect(homeThere.resources.filter((r) => r.type === "openova:vault:PeerAccess").map((r) => r.name)).toEqual(["north-peer-west"]);
    });

    it("refuses token peer auth when it pushes to an HCP peer, which lets writers in only by JWT, before registering anything", async () => {
        const hcp = {
            type: "hcp-vault" as const,
            address: "https://vault.hcp.example.net:8200",
            namespace: "admin",
            providerAuth: { method: "jwt" as const, path: "jwt", role: "pulumi" },
        };
        const declareNorth = (stack: string, regions: string[], home: string) =>
            declare(stack, () => {
                const cluster = new k8s.Provider("n", { context: "n" });
                const admin = new vault.Provider("n", { address: "https://vault.north.example.net" });
                new VaultRegion(
                    "north",
                    {
                        region: "north",
                        regions,
                        domain: "example.net",
                        peerAuth: "token",
                        vaultAdmin: admin,
                        peerBackends: [{ peer: "west", backend: hcp }],
                        replicatedSecrets: [{ ...secret, writers: "home", home }],
                    },
                    { providers: { kubernetes: cluster } },
                );
            });
        const run = await declareNorth("token-to-hcp", ["north", "west"], "north");
        expect(refusedProperties(run)).toEqual([
            {
                propertyPath: "peerAuth",
                reason: "is token, but this region pushes to west, whose backend is hcp-vault: an HCP cluster lets a writer's ESO in only with its service-account token (JWT), for a cluster identity a token-auth region never publishes, and issues no peer token. Set peerAuth: jwt (with serviceAccountIssuer) in this region's stack",
            },
        ]);
        expect(run.resources.filter((r) => r.type.startsWith("openova:"))).toEqual([]);
        // A region that pushes nothing to the HCP peer (west is the home of the secret and, as the first region, of the canary) may keep token peer auth.
        const reader = await declareNorth("token-from-hcp", ["west", "north"], "west");
        expect(reader.error).toBeUndefined();
    });

    it("skips, with one warning, a peer's store it cannot build (GCP without a pool), and still deploys everything else", async () => {
        const gcp = {
            type: "gcp-secret-manager" as const,
            project: "platform-secrets",
            serviceAccount: "openova-eso@platform-secrets.iam.gserviceaccount.com",
            replication: "automatic" as const,
            secretPrefix: "openova-",
        };
        const run = await declareOk("unreachable-peer", north({ writers: "home", home: "north" }, gcp));
        expect(run.warnings).toEqual([
            "Peer west gets no store from north, so north's secrets homed here do not reach it yet: west's gcp-secret-manager backend has no workloadIdentityPool, so north's cluster cannot authenticate to it: set backend.workloadIdentityPool in west's stack, then run north's pulumi up again.",
        ]);
        expect(run.resources.filter((r) => r.type === "openova:vault:BackendPeerStore")).toEqual([]);
        // Nothing pushes to west (the secret has no first value here, so nothing pushes at all).
        expect(run.resources.filter((r) => r.type.endsWith(":PushSecret")).map((r) => r.name)).toEqual([]);
        expect(run.resources.filter((r) => r.type.endsWith(":ExternalSecret")).map((r) => r.name)).toEqual([
            "north-secret-databases-db-credentials-pull",
        ]);
        expect(run.outputs.connectedPeers).toEqual({ value: [], secret: false });
        expect(run.resources.some((r) => r.type === "openova:vault:VaultServer")).toBe(true);
    });
});

describe("a region on HCP Vault", () => {
    const hcp = {
        type: "hcp-vault" as const,
        address: "https://vault.hcp.example.net:8200",
        namespace: "admin",
        providerAuth: { method: "jwt" as const, path: "jwt", role: "pulumi" },
    };

    it("refuses a provider for the HCP cluster without this cluster's identity, before registering anything", async () => {
        const run = await declare("hcp", () => {
            const cluster = new k8s.Provider("h", { context: "h" });
            const admin = new vault.Provider("h", { address: hcp.address, namespace: hcp.namespace });
            new VaultRegion(
                "west",
                { region: "west", regions: ["west"], domain: "example.net", backend: hcp, vaultAdmin: admin },
                { providers: { kubernetes: cluster } },
            );
        });
        expect(refusedProperties(run)).toEqual([
            {
                propertyPath: "clusterIdentity",
                reason: "is not set, but backend.type is hcp-vault: the HCP cluster checks this cluster's service-account tokens with its issuer and keys",
            },
        ]);
        expect(run.resources.filter((r) => r.type.startsWith("openova:"))).toEqual([]);
    });

    it("deploys only the stores without a provider, and configures the cluster with one", async () => {
        const identity = { issuer: "https://oidc.west.example.net", publicKeys: [], discoveryCaCert: "" };
        const declareWest = (withAdmin: boolean) =>
            declareOk(withAdmin ? "hcp-admin" : "hcp-stores", () => {
                const cluster = new k8s.Provider("h", { context: "h" });
                const admin = withAdmin ? new vault.Provider("h", { address: hcp.address, namespace: hcp.namespace }) : undefined;
                new VaultRegion(
                    "west",
                    {
                        region: "west",
                        regions: ["west"],
                        domain: "example.net",
                        backend: hcp,
                        ...(admin ? { vaultAdmin: admin, clusterIdentity: identity } : {}),
                    },
                    { providers: { kubernetes: cluster } },
                );
            });
        const storesOnly = await declareWest(false);
        expect(storesOnly.resources.filter((r) => r.type.startsWith("vault:"))).toEqual([]);
        expect(storesOnly.resources.filter((r) => r.type === "openova:vault:ManagedBackend")).toHaveLength(1);
        const configured = await declareWest(true);
        expect(configured.resources.filter((r) => r.type === "openova:vault:HcpVaultSetup")).toHaveLength(1);
        // The stores wait for the roles they log in with.
        for (const [store, role] of [
            ["west-backend-store-local", "west-hcp-namespace-pull"],
            ["west-backend-store-local-push", "west-hcp-namespace-push"],
        ]) {
            expect(find(configured, "kubernetes:external-secrets.io/v1:ClusterSecretStore", store).dependsOn).toContain(
                find(configured, "vault:jwt/authBackendRole:AuthBackendRole", role).urn,
            );
        }
    });
});
