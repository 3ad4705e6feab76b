/**
 * The components under Pulumi's mock runtime, in this process: what they register, with which
 * parents, providers, options and inputs.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { EXTERNAL_SECRETS_DEFAULTS, externalSecretsHelmValues, resolveExternalSecretsOptions } from "../components/externalSecretsValues";
import { VaultRegion } from "../components/vaultRegion";
import { resolveVaultServerOptions, vaultHelmValues } from "../components/vaultServerValues";
import { EXTERNAL_SECRETS_CHART, VAULT_CHART } from "../components/versions";
import { startRecording, type RecordedResource, type Recording } from "../tools/synth/recorder";

let recording: Recording;
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
            "kubernetes:core/v1:Namespace east-external-secrets-namespace",
            "kubernetes:core/v1:Namespace east-vault-namespace",
            "kubernetes:helm.sh/v4:Chart east-external-secrets",
            "kubernetes:helm.sh/v4:Chart east-vault",
            "openova:vault:ExternalSecretsOperator east-external-secrets",
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
