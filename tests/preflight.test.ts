/**
 * The preflight: which prerequisites a region's options imply, the lines a missing one gives, and the
 * program's preflight itself against local HTTP servers that answer like the Kubernetes API of
 * clusters that lack one prerequisite each (one child process runs every case, see
 * tests/support/preflightProbe.ts). Each stops with its one line, and no request but a GET reaches a
 * cluster.
 */
import * as pulumi from "@pulumi/pulumi";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { backendOptions } from "../components/backends/backendOptions";
import { monitoringOptions } from "../components/monitoring/monitoringSpecs";
import {
    type ClusterRead,
    GKE_METADATA_SERVER_LABEL,
    INGRESS_CONTROLLER_INSTALL,
    identityPrerequisites,
    prerequisiteFindings,
    type Prerequisite,
    type PrerequisiteOptions,
    type ReadResult,
    prerequisiteProblems,
    regionPrerequisites,
} from "../components/region/prerequisites";
import { regionVaultOptions } from "../components/region/regionOptions";
import { TLS_PASSTHROUGH_ANNOTATIONS } from "../components/vault-server/tls";
import { underMockRuntime } from "../stack/preflight";
import { GCP_WITH_POOL, MANAGED_BACKENDS } from "./support/backendFixtures";

const ROOT = path.join(__dirname, "..");

function optionsOf(vault: Record<string, unknown> = {}, monitoring: Record<string, unknown> = {}): PrerequisiteOptions {
    return { vault: regionVaultOptions.parse(vault), monitoring: monitoringOptions.parse(monitoring) };
}

const ids = (options: PrerequisiteOptions) => regionPrerequisites(options).map((p) => p.id);

describe("regionPrerequisites", () => {
    it("by default: cert-manager with the vault-ca-issuer ClusterIssuer, the cilium IngressClass and Cilium's CRD, a default StorageClass", () => {
        expect(ids(optionsOf())).toEqual([
            "api:admissionregistration.k8s.io/v1/validatingadmissionpolicies",
            "crd:certificates.cert-manager.io",
            "crd:clusterissuers.cert-manager.io",
            "issuer:ClusterIssuer/vault-ca-issuer",
            "ingressclass:cilium",
            "crd:ciliumnetworkpolicies.cilium.io",
            "storageclass:(default)",
        ]);
    });

    it("needs Cilium's CRD only with the cilium class, and cert-manager only with TLS from cert-manager", () => {
        const nginx = optionsOf({ ingressClassName: "nginx", tls: { source: "secret", secretName: "mine" } });
        const api = "api:admissionregistration.k8s.io/v1/validatingadmissionpolicies";
        expect(ids(nginx)).toEqual([api, "secret:vault/mine", "ingressclass:nginx", "storageclass:(default)"]);
        expect(ids(optionsOf({ ingressClassName: "nginx", tls: { source: "none", allowPlaintext: true } }))).toEqual([
            api,
            "ingressclass:nginx",
            "storageclass:(default)",
        ]);
    });

    it("reads a namespaced Issuer in Vault's namespace", () => {
        const issuer = regionPrerequisites(optionsOf({ namespace: "secrets", tls: { issuerKind: "Issuer", issuerName: "ca" } })).find((p) =>
            p.id.startsWith("issuer:"),
        );
        expect(issuer?.read).toEqual({ group: "cert-manager.io", version: "v1", resource: "issuers", namespace: "secrets", name: "ca" });
        expect(issuer?.after).toEqual(["crd:issuers.cert-manager.io"]);
    });

    it("names each StorageClass once, with every option that uses it; an existing snapshot claim must exist", () => {
        expect(ids(optionsOf({ storageClass: "fast" }))).toContain("storageclass:fast");
        const both = regionPrerequisites(optionsOf({ storageClass: "fast", snapshots: { storageClass: "cheap" } }));
        expect(both.filter((p) => p.id.startsWith("storageclass:")).map((p) => p.id)).toEqual(["storageclass:fast", "storageclass:cheap"]);
        // The snapshot claim takes the servers' class unless it names its own: one check.
        expect(ids(optionsOf({ storageClass: "fast" })).filter((id) => id.startsWith("storageclass:"))).toEqual(["storageclass:fast"]);
        expect(ids(optionsOf({ snapshots: { claimName: "backups" } }))).toContain("claim:vault/backups");
        expect(ids(optionsOf({ snapshots: { enabled: false, claimName: "backups" } }))).not.toContain("claim:vault/backups");
    });

    it("needs the KMS credentials Secret with the keys its seal type reads", () => {
        const options = optionsOf({
            seal: {
                type: "awskms",
                parameters: { region: "eu-west-1", kms_key_id: "alias/vault" },
                credentials: "secret",
                credentialsSecret: "kms",
            },
        });
        const sealSecret = regionPrerequisites(options).find((p) => p.id === "secret:vault/kms");
        expect(sealSecret?.check({ data: { AWS_ACCESS_KEY_ID: "" } })?.what).toContain("lacks AWS_SECRET_ACCESS_KEY");
        expect(sealSecret?.check({ data: { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" } })).toBeUndefined();
    });

    it("needs the Prometheus Operator's CRDs only for what monitoring declares", () => {
        expect(ids(optionsOf({}, { serviceMonitor: true }))).toContain("crd:servicemonitors.monitoring.coreos.com");
        expect(ids(optionsOf({}, { serviceMonitor: true }))).not.toContain("crd:prometheusrules.monitoring.coreos.com");
        expect(ids(optionsOf({}, { prometheusRules: true }))).toContain("crd:prometheusrules.monitoring.coreos.com");
        expect(ids(optionsOf()).some((id) => id.includes("monitoring.coreos.com"))).toBe(false);
    });

    it("knows how to get every IngressClass it knows how to pass TLS through", () => {
        expect(Object.keys(INGRESS_CONTROLLER_INSTALL).sort()).toEqual(Object.keys(TLS_PASSTHROUGH_ANNOTATIONS).sort());
    });
});

describe("a region whose backend is managed", () => {
    const api = "api:admissionregistration.k8s.io/v1/validatingadmissionpolicies";
    const withBackend = (backend: Record<string, unknown>, monitoring: Record<string, unknown> = {}) => ({
        ...optionsOf({ tls: { source: "secret", secretName: "mine" }, snapshots: { claimName: "backups" } }, monitoring),
        backend: backendOptions.parse(backend),
    });

    it("needs none of the Vault servers' prerequisites, whatever the Vault options say: only the admission policies' API", () => {
        for (const backend of [{ ...AWS }, GCP_WITH_POOL, AZURE, HCP]) {
            expect(ids(withBackend(backend, { prometheusRules: true }))).toEqual([api]);
        }
        // The same options with the self-hosted Vault need their Secret, claim and the Prometheus Operator.
        expect(ids({ ...withBackend({ type: "vault" }, { prometheusRules: true }) })).toEqual(
            expect.arrayContaining(["secret:vault/mine", "claim:vault/backups", "crd:prometheusrules.monitoring.coreos.com"]),
        );
    });

    it("checks the identity's side in the cluster only where a missing piece would break it, as a warning", () => {
        const podIdentity = regionPrerequisites(withBackend({ ...AWS, identity: "pod-identity" }));
        expect(podIdentity.map((p) => [p.id, p.advisory === true])).toEqual([
            [api, false],
            ["daemonset:kube-system/eks-pod-identity-agent", true],
        ]);
        expect(podIdentity[1].read).toEqual({
            group: "apps",
            version: "v1",
            resource: "daemonsets",
            namespace: "kube-system",
            name: "eks-pod-identity-agent",
        });
        const gke = regionPrerequisites(withBackend(GCP));
        expect(gke.map((p) => [p.id, p.advisory === true])).toEqual([
            [api, false],
            [`nodes:${GKE_METADATA_SERVER_LABEL}`, true],
        ]);
        const node = (labels: Record<string, string>) => ({ items: [{ metadata: { labels } }] });
        expect(gke[1].check(node({ [GKE_METADATA_SERVER_LABEL]: "true" }))).toBeUndefined();
        expect(gke[1].check(node({ [GKE_METADATA_SERVER_LABEL]: "false" }))?.what).toMatch(/^no node is labelled/);
        // IRSA, a pool, Azure and HCP: ESO requests its tokens itself; nothing in the cluster's API to check.
        expect(identityPrerequisites(backendOptions.parse(AWS))).toEqual([]);
        expect(identityPrerequisites(backendOptions.parse(GCP_WITH_POOL))).toEqual([]);
        expect(identityPrerequisites(backendOptions.parse(AZURE))).toEqual([]);
        expect(identityPrerequisites(backendOptions.parse(HCP))).toEqual([]);
    });

    it("gives an advisory shortfall, or a refused advisory read, as a warning, never as a problem", () => {
        const prerequisites = regionPrerequisites(withBackend({ ...AWS, identity: "pod-identity" }));
        const [admission, agent] = prerequisites;
        const found = (results: ReadResult[]) =>
            prerequisiteFindings(
                'stack "s"',
                prerequisites,
                new Map([
                    [admission.id, results[0]],
                    [agent.id, results[1]],
                ]),
            );
        const missing = found([{ status: "found", object: { items: [] } }, { status: "missing" }]);
        expect(missing.problems).toEqual([]);
        expect(missing.warnings).toEqual([
            expect.stringMatching(/^Check the identity for stack "s": DaemonSet kube-system\/eks-pod-identity-agent does not exist/),
        ]);
        const refused = found([
            { status: "found", object: { items: [] } },
            { status: "failed", code: 403, message: "forbidden" },
        ]);
        expect(refused.problems).toEqual([]);
        expect(refused.warnings).toEqual([
            expect.stringMatching(/^Cannot check daemonsets\.apps kube-system\/eks-pod-identity-agent for stack "s"/),
        ]);
        expect(
            found([
                { status: "found", object: { items: [] } },
                { status: "found", object: {} },
            ]),
        ).toEqual({ problems: [], warnings: [] });
    });
});

describe("prerequisiteProblems", () => {
    const prerequisites = regionPrerequisites(optionsOf());
    const all = (result: ReadResult) => new Map(prerequisites.map((p: Prerequisite) => [p.id, result]));

    it("gives one line for credentials the API refuses, however many reads it refused", () => {
        expect(prerequisiteProblems("stack s", prerequisites, all({ status: "failed", code: 401, message: "Unauthorized" }))).toEqual([
            expect.stringMatching(
                /^Cannot check the prerequisites of stack s: the Kubernetes API refused the kubeconfig's credentials \(HTTP 401\)\. Fix: /,
            ),
        ]);
    });

    it("gives one line per read the API forbids, naming what to grant; nothing about what builds on it", () => {
        const results = all({ status: "found", object: { items: [] } });
        results.set("crd:certificates.cert-manager.io", { status: "failed", code: 403, message: "forbidden" });
        const lines = prerequisiteProblems("stack s", prerequisites, results);
        expect(lines[0]).toBe(
            "Cannot check customresourcedefinitions.apiextensions.k8s.io certificates.cert-manager.io for stack s: the Kubernetes API answered HTTP 403 (forbidden). " +
                "Fix: let the identity that runs Pulumi get customresourcedefinitions.apiextensions.k8s.io, then run again",
        );
        expect(lines.some((line) => line.includes("clusterissuers"))).toBe(false);
    });

    it("refuses to guess a prerequisite whose read has no result", () => {
        expect(() => prerequisiteProblems("stack s", prerequisites, new Map())).toThrow(
            /no result for the prerequisite api:admissionregistration/,
        );
    });
});

describe("underMockRuntime", () => {
    it("is false outside the mock runtime and true under it", async () => {
        expect(underMockRuntime()).toBe(false);
        await pulumi.runtime.setMocks({ newResource: (args) => ({ id: args.name, state: {} }), call: () => ({}) }, "p", "s");
        expect(underMockRuntime()).toBe(true);
    });
});

/** What a fake cluster holds. */
interface Cluster {
    /** CRD name to the versions it serves. */
    readonly crds?: Record<string, string[]>;
    /** Cluster issuers (name) and issuers (namespace/name) to their Ready condition. */
    readonly clusterIssuers?: Record<string, { status: string; reason?: string; message?: string } | undefined>;
    readonly issuers?: Record<string, { status: string } | undefined>;
    readonly ingressClasses?: string[];
    readonly storageClasses?: { name: string; isDefault?: boolean }[];
    /** namespace/name to its keys. */
    readonly secrets?: Record<string, string[]>;
    readonly claims?: string[];
    /** A release before Kubernetes 1.30: it does not serve admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy. */
    readonly beforeAdmissionPolicies?: boolean;
    /** DaemonSets (namespace/name) that exist. */
    readonly daemonSets?: string[];
    /** The nodes, each with its labels. */
    readonly nodes?: Record<string, string>[];
    /** Answer this HTTP status to every request instead. */
    readonly status?: number;
    /** Never answer. */
    readonly hang?: boolean;
}

const CERT_MANAGER = {
    "certificates.cert-manager.io": ["v1"],
    "clusterissuers.cert-manager.io": ["v1"],
    "issuers.cert-manager.io": ["v1"],
};
const CILIUM = { "ciliumnetworkpolicies.cilium.io": ["v2"] };
const PROMETHEUS = { "servicemonitors.monitoring.coreos.com": ["v1"], "prometheusrules.monitoring.coreos.com": ["v1"] };
/** Everything the committed region1 stack needs (no monitoring). */
const COMPLETE: Cluster = {
    crds: { ...CERT_MANAGER, ...CILIUM },
    clusterIssuers: { "vault-ca-issuer": { status: "True" } },
    ingressClasses: ["cilium"],
    storageClasses: [{ name: "standard", isDefault: true }, { name: "fast" }],
};

/** The raw config of a stack (as Pulumi hands it to the program), from the committed region1 file's essentials. */
function stackConfig(context: string, vault: Record<string, unknown> = {}, more: Record<string, unknown> = {}): Record<string, string> {
    const raw: Record<string, string> = {
        "openova-vault:region": "region1",
        "openova-vault:domain": "example.com",
        "openova-vault:kubeContext": context,
        "openova-vault:vaultCaCertFile": "certs/example-platform-ca.pem",
        "openova-vault:serviceAccountIssuer": JSON.stringify({ url: "https://oidc.region1.example.com", discovery: true }),
        "openova-vault:vault": JSON.stringify({ ingressClassName: "cilium", ...vault }),
    };
    for (const [key, value] of Object.entries(more)) {
        raw[`openova-vault:${key}`] = JSON.stringify(value);
    }
    return raw;
}

/** The raw config of a stack whose backend is managed: no self-hosted Vault key (its rules refuse them). */
function managedStackConfig(context: string, backend: Record<string, unknown>): Record<string, string> {
    return {
        "openova-vault:region": "region1",
        "openova-vault:domain": "example.com",
        "openova-vault:kubeContext": context,
        "openova-vault:serviceAccountIssuer": JSON.stringify({ url: "https://oidc.region1.example.com", discovery: true }),
        "openova-vault:backend": JSON.stringify(backend),
    };
}

const { "aws-secrets-manager": AWS, "gcp-secret-manager": GCP, "azure-key-vault": AZURE, "hcp-vault": HCP } = MANAGED_BACKENDS;

describe("the program's preflight against a cluster", () => {
    /**
     * Per case: the cluster, the stack's vault options and other keys (or a managed backend), the lines
     * expected (each a pattern) and the warnings.
     */
    const cases: {
        name: string;
        cluster?: Cluster;
        vault?: Record<string, unknown>;
        more?: Record<string, unknown>;
        backend?: Record<string, unknown>;
        timeoutMs?: number;
        lines: RegExp[];
        warnings?: RegExp[];
        reads?: ClusterRead[];
    }[] = [
        { name: "complete", cluster: COMPLETE, lines: [] },
        {
            name: "complete-monitoring",
            cluster: { ...COMPLETE, crds: { ...CERT_MANAGER, ...CILIUM, ...PROMETHEUS } },
            more: { monitoring: { serviceMonitor: true, prometheusRules: true } },
            lines: [],
        },
        {
            name: "kubernetes-1-29",
            cluster: { ...COMPLETE, beforeAdmissionPolicies: true },
            lines: [
                /^Missing prerequisite for stack "kubernetes-1-29" \(kubeconfig context "kubernetes-1-29", http:\/\/127\.0\.0\.1:\d+\): the cluster does not serve admissionregistration\.k8s\.io\/v1 ValidatingAdmissionPolicy \(Kubernetes 1\.30 or later\), which keeps each namespace to its own secrets through the stores this region shares\. Fix: upgrade the cluster to Kubernetes 1\.30 or later$/,
            ],
        },
        {
            name: "no-cert-manager",
            cluster: { ...COMPLETE, crds: CILIUM },
            lines: [
                /^Missing prerequisite for stack "no-cert-manager" \(kubeconfig context "no-cert-manager", http:\/\/127\.0\.0\.1:\d+\): cert-manager is not installed: CustomResourceDefinition certificates\.cert-manager\.io does not exist \(vault\.tls\.source is cert-manager\)\. Fix: install cert-manager with its CRDs \(https:\/\/cert-manager\.io\/docs\/installation\/\), or set vault\.tls\.source to secret/,
            ],
        },
        {
            name: "old-cert-manager",
            cluster: { ...COMPLETE, crds: { ...CERT_MANAGER, ...CILIUM, "certificates.cert-manager.io": ["v1alpha2"] } },
            lines: [
                /CustomResourceDefinition certificates\.cert-manager\.io does not serve v1 \(it serves v1alpha2\).*Fix: upgrade cert-manager/,
            ],
        },
        {
            name: "no-issuer",
            cluster: { ...COMPLETE, clusterIssuers: {} },
            lines: [
                /: ClusterIssuer vault-ca-issuer does not exist \(vault\.tls\.issuerKind and vault\.tls\.issuerName\), so the servers' certificate would never be issued\. Fix: create it: a CA issuer/,
            ],
        },
        {
            name: "issuer-not-ready",
            cluster: {
                ...COMPLETE,
                clusterIssuers: {
                    "vault-ca-issuer": {
                        status: "False",
                        reason: "ErrGetKeyPair",
                        message: 'Error getting keypair for CA issuer: secrets "ca"\nnot found',
                    },
                },
            },
            lines: [
                /: ClusterIssuer vault-ca-issuer is not Ready \(ErrGetKeyPair: Error getting keypair for CA issuer: secrets "ca" not found\), so .* Fix: see kubectl describe clusterissuer vault-ca-issuer; for a CA issuer, the Secret its spec\.ca\.secretName names must exist \(in cert-manager's namespace\)/,
            ],
        },
        {
            name: "issuer-unreconciled",
            cluster: { ...COMPLETE, clusterIssuers: { "vault-ca-issuer": undefined } },
            lines: [/: ClusterIssuer vault-ca-issuer is not Ready \(it has no Ready condition yet: cert-manager has not reconciled it\)/],
        },
        {
            name: "no-namespaced-issuer",
            cluster: COMPLETE,
            vault: { tls: { issuerKind: "Issuer", issuerName: "vault-issuer" } },
            lines: [/: Issuer vault\/vault-issuer does not exist .* Fix: create it in namespace vault: /],
        },
        {
            name: "no-ingress-class",
            cluster: { ...COMPLETE, ingressClasses: ["nginx"] },
            lines: [
                /: IngressClass cilium does not exist \(vault\.ingressClassName; the cluster has nginx\), so peers could not reach this Vault\. Fix: enable Cilium's ingress controller .*, or set vault\.ingressClassName to one of the cluster's classes$/,
            ],
        },
        {
            name: "no-cilium",
            cluster: { ...COMPLETE, crds: CERT_MANAGER },
            lines: [
                /: Cilium is not installed: CustomResourceDefinition ciliumnetworkpolicies\.cilium\.io does not exist \(vault\.ingressClassName is cilium, so the servers get a CiliumNetworkPolicy\)\. Fix: run Cilium as the cluster's network plugin .*, or set vault\.ingressClassName to another ingress class$/,
            ],
        },
        // Another class: no CiliumNetworkPolicy, so Cilium is not needed.
        {
            name: "nginx-without-cilium",
            cluster: { ...COMPLETE, crds: CERT_MANAGER, ingressClasses: ["nginx"] },
            vault: { ingressClassName: "nginx" },
            lines: [],
        },
        {
            name: "no-named-storage-class",
            cluster: COMPLETE,
            vault: { storageClass: "fast-ssd" },
            lines: [
                /: StorageClass fast-ssd does not exist \(vault\.storageClass; the cluster has standard \(default\), fast\)\. Fix: create it, or set vault\.storageClass to one of the cluster's StorageClasses before the first deploy/,
            ],
        },
        {
            name: "no-default-storage-class",
            cluster: { ...COMPLETE, storageClasses: [{ name: "fast" }] },
            lines: [
                /: the cluster has no default StorageClass, and vault\.storageClass is not set \(StorageClasses: fast\), .* Fix: mark one as the default \(kubectl annotate storageclass <name> storageclass\.kubernetes\.io\/is-default-class=true\)/,
            ],
        },
        {
            name: "named-storage-class",
            cluster: { ...COMPLETE, storageClasses: [{ name: "fast" }] },
            vault: { storageClass: "fast" },
            lines: [],
        },
        // Two classes (the servers' and the snapshot claim's), both checked from one list.
        {
            name: "two-storage-classes",
            cluster: COMPLETE,
            vault: { storageClass: "fast", snapshots: { storageClass: "standard" } },
            lines: [],
        },
        {
            name: "no-snapshot-claim",
            cluster: COMPLETE,
            vault: { snapshots: { claimName: "vault-backups" } },
            lines: [/: PersistentVolumeClaim vault\/vault-backups does not exist \(vault\.snapshots\.claimName\)/],
        },
        {
            name: "no-tls-secret",
            cluster: COMPLETE,
            vault: { tls: { source: "secret", secretName: "vault-tls" } },
            lines: [
                /: Secret vault\/vault-tls does not exist \(vault\.tls\.secretName\), so the Vault servers cannot start\. Fix: create it in namespace vault with tls\.crt, tls\.key, ca\.crt/,
            ],
        },
        {
            name: "tls-secret-without-ca",
            cluster: { ...COMPLETE, secrets: { "vault/vault-tls": ["tls.crt", "tls.key"] } },
            vault: { tls: { source: "secret", secretName: "vault-tls" } },
            lines: [
                /: Secret vault\/vault-tls \(vault\.tls\.secretName\) lacks ca\.crt, which the Vault servers read\. Fix: add ca\.crt to it/,
            ],
        },
        {
            name: "no-prometheus-operator",
            cluster: COMPLETE,
            more: { monitoring: { serviceMonitor: true, prometheusRules: true } },
            lines: [
                /: the Prometheus Operator is not installed: CustomResourceDefinition servicemonitors\.monitoring\.coreos\.com does not exist \(monitoring\.serviceMonitor is true\)\. Fix: install the Prometheus Operator's CRDs/,
            ],
        },
        {
            name: "no-prometheus-rules",
            cluster: { ...COMPLETE, crds: { ...CERT_MANAGER, ...CILIUM, "servicemonitors.monitoring.coreos.com": ["v1"] } },
            more: { monitoring: { prometheusRules: true } },
            lines: [
                /: the Prometheus Operator is not installed: CustomResourceDefinition prometheusrules\.monitoring\.coreos\.com does not exist \(monitoring\.prometheusRules is true\)/,
            ],
        },
        {
            name: "empty-cluster",
            cluster: {},
            lines: [
                /: cert-manager is not installed/,
                /: IngressClass cilium does not exist/,
                /: Cilium is not installed/,
                /: the cluster has no default StorageClass, .* Fix: install a storage provisioner/,
            ],
        },
        {
            name: "forbidden",
            cluster: { ...COMPLETE, status: 403 },
            lines: [
                /^Cannot check validatingadmissionpolicies\.admissionregistration\.k8s\.io for .* Fix: let the identity that runs Pulumi list validatingadmissionpolicies\.admissionregistration\.k8s\.io, then run again$/,
                /^Cannot check customresourcedefinitions\.apiextensions\.k8s\.io certificates\.cert-manager\.io for stack "forbidden" .*: the Kubernetes API answered HTTP 403 \(not allowed here\)\. Fix: let the identity that runs Pulumi get customresourcedefinitions/,
                /^Cannot check ingressclasses\.networking\.k8s\.io for .* Fix: let the identity that runs Pulumi list ingressclasses\.networking\.k8s\.io, then run again$/,
                /^Cannot check customresourcedefinitions\.apiextensions\.k8s\.io ciliumnetworkpolicies\.cilium\.io/,
                /^Cannot check storageclasses\.storage\.k8s\.io for /,
            ],
        },
        {
            name: "unreachable",
            lines: [
                /^Cannot check the prerequisites of stack "unreachable" \(kubeconfig context "unreachable", http:\/\/127\.0\.0\.1:1\): the Kubernetes API did not answer \(connect ECONNREFUSED 127\.0\.0\.1:1\)\. Fix: check that the kubeconfig context points at the region's cluster/,
            ],
        },
        {
            name: "silent",
            cluster: { hang: true },
            timeoutMs: 300,
            lines: [/^Cannot check the prerequisites of stack "silent" .*: the Kubernetes API did not answer \(no answer within 0\.3 s\)/],
        },
        {
            name: "secret-read",
            cluster: { secrets: { "vault/kms": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] } },
            reads: [
                { group: "", version: "v1", resource: "secrets", namespace: "vault", name: "kms" },
                { group: "", version: "v1", resource: "secrets", namespace: "vault", name: "kms" },
                { group: "", version: "v1", resource: "secrets", namespace: "vault", name: "other" },
            ],
            lines: [],
        },
        // A managed backend: no Vault servers, so an otherwise empty cluster lacks nothing; only ESO's admission policies' API counts.
        ...[AWS, GCP, AZURE, HCP].map((backend) => ({
            name: `managed-${backend.type}`,
            cluster: { nodes: [{ [GKE_METADATA_SERVER_LABEL]: "true" }] },
            backend,
            lines: [],
        })),
        {
            name: "managed-before-kubernetes-1-30",
            cluster: { beforeAdmissionPolicies: true },
            backend: AZURE,
            lines: [
                /: the cluster does not serve admissionregistration\.k8s\.io\/v1 ValidatingAdmissionPolicy \(Kubernetes 1\.30 or later\)/,
            ],
        },
        {
            name: "aws-pod-identity",
            cluster: { daemonSets: ["kube-system/eks-pod-identity-agent"] },
            backend: { ...AWS, identity: "pod-identity" },
            lines: [],
        },
        {
            name: "aws-pod-identity-without-agent",
            cluster: { daemonSets: ["kube-system/aws-node"] },
            backend: { ...AWS, identity: "pod-identity" },
            lines: [],
            warnings: [
                /^Check the identity for stack "aws-pod-identity-without-agent" .*: DaemonSet kube-system\/eks-pod-identity-agent does not exist: without the EKS Pod Identity Agent ESO's controller gets no credentials for arn:aws:iam::111122223333:role\/openova-eso \(backend\.identity pod-identity\), unless this is EKS Auto Mode, which has the agent built in\. Fix: install the EKS add-on \(aws eks create-addon --cluster-name <cluster> --addon-name eks-pod-identity-agent\) .*, or set backend\.identity to irsa$/,
            ],
        },
        {
            name: "gcp-without-workload-identity",
            cluster: { nodes: [{ "kubernetes.io/os": "linux" }, { [GKE_METADATA_SERVER_LABEL]: "false" }] },
            backend: GCP,
            lines: [],
            warnings: [
                /^Check the identity for stack "gcp-without-workload-identity" .*: no node is labelled iam\.gke\.io\/gke-metadata-server-enabled=true, so GKE Workload Identity is most likely off, .* Fix: enable Workload Identity on the cluster and its node pools .*, or set backend\.workloadIdentityPool$/,
            ],
        },
        {
            name: "gcp-with-pool",
            cluster: { nodes: [] },
            backend: GCP_WITH_POOL,
            lines: [],
        },
        // A read the API refuses: a stop for the admission policies' API, a warning for the identity's.
        {
            name: "managed-forbidden",
            cluster: { status: 403 },
            backend: { ...AWS, identity: "pod-identity" },
            lines: [/^Cannot check validatingadmissionpolicies\.admissionregistration\.k8s\.io for /],
            warnings: [
                /^Cannot check daemonsets\.apps kube-system\/eks-pod-identity-agent for .*: the Kubernetes API answered HTTP 403 .* Fix: let the identity that runs Pulumi get daemonsets\.apps in namespace kube-system, then run again$/,
            ],
        },
        {
            name: "no-context",
            lines: [
                /^Cannot check the prerequisites of stack "no-context" \(kubeconfig context "nowhere"\): the kubeconfig has no context "nowhere" \(it has .*\)\. Fix: add that context to your kubeconfig, or pulumi config set kubeContext <context> -s no-context$/,
            ],
        },
    ];

    /** Per case, the requests its cluster received. */
    const requests = new Map<string, string[]>();
    const servers: http.Server[] = [];
    let kubeconfig: string;

    function serve(name: string, cluster: Cluster): Promise<number> {
        const received: string[] = [];
        requests.set(name, received);
        const server = http.createServer((req, res) => {
            const url = new URL(req.url ?? "", "http://x");
            received.push(`${req.method} ${url.pathname}`);
            if (cluster.hang) {
                return;
            }
            const send = (status: number, body: unknown) => {
                res.writeHead(status, { "content-type": "application/json" });
                res.end(JSON.stringify(body));
            };
            const notFound = () => send(404, { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 });
            if (req.method !== "GET") {
                return send(405, { kind: "Status", code: 405 });
            }
            if (cluster.status !== undefined) {
                return send(cluster.status, { kind: "Status", status: "Failure", message: "not allowed here", code: cluster.status });
            }
            const parts = url.pathname.split("/").filter((p) => p !== "");
            const path = parts.join("/");
            const crds = cluster.crds ?? {};
            let match: RegExpExecArray | null;
            if ((match = /^apis\/apiextensions\.k8s\.io\/v1\/customresourcedefinitions\/(.+)$/.exec(path))) {
                const versions = crds[match[1]];
                return versions === undefined
                    ? notFound()
                    : send(200, {
                          kind: "CustomResourceDefinition",
                          metadata: { name: match[1] },
                          spec: { versions: versions.map((name) => ({ name, served: true })) },
                      });
            }
            if ((match = /^apis\/cert-manager\.io\/v1\/clusterissuers\/(.+)$/.exec(path))) {
                const issuers = cluster.clusterIssuers ?? {};
                if (!("clusterissuers.cert-manager.io" in crds) || !(match[1] in issuers)) {
                    return notFound();
                }
                const ready = issuers[match[1]];
                return send(200, {
                    kind: "ClusterIssuer",
                    metadata: { name: match[1] },
                    status: ready ? { conditions: [{ type: "Ready", ...ready }] } : {},
                });
            }
            if ((match = /^apis\/cert-manager\.io\/v1\/namespaces\/([^/]+)\/issuers\/(.+)$/.exec(path))) {
                const ready = (cluster.issuers ?? {})[`${match[1]}/${match[2]}`];
                return ready === undefined
                    ? notFound()
                    : send(200, { kind: "Issuer", status: { conditions: [{ type: "Ready", ...ready }] } });
            }
            if (path === "apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies") {
                return cluster.beforeAdmissionPolicies ? notFound() : send(200, { kind: "ValidatingAdmissionPolicyList", items: [] });
            }
            if (path === "apis/networking.k8s.io/v1/ingressclasses") {
                return send(200, {
                    kind: "IngressClassList",
                    items: (cluster.ingressClasses ?? []).map((name) => ({ metadata: { name } })),
                });
            }
            if (path === "apis/storage.k8s.io/v1/storageclasses") {
                return send(200, {
                    kind: "StorageClassList",
                    items: (cluster.storageClasses ?? []).map((c) => ({
                        metadata: {
                            name: c.name,
                            ...(c.isDefault ? { annotations: { "storageclass.kubernetes.io/is-default-class": "true" } } : {}),
                        },
                    })),
                });
            }
            if ((match = /^api\/v1\/namespaces\/([^/]+)\/secrets\/(.+)$/.exec(path))) {
                const keys = (cluster.secrets ?? {})[`${match[1]}/${match[2]}`];
                return keys === undefined
                    ? notFound()
                    : send(200, {
                          kind: "Secret",
                          apiVersion: "v1",
                          metadata: { name: match[2], namespace: match[1] },
                          data: Object.fromEntries(keys.map((k) => [k, Buffer.from("secret-value").toString("base64")])),
                      });
            }
            if ((match = /^apis\/apps\/v1\/namespaces\/([^/]+)\/daemonsets\/(.+)$/.exec(path))) {
                return (cluster.daemonSets ?? []).includes(`${match[1]}/${match[2]}`)
                    ? send(200, { kind: "DaemonSet", apiVersion: "apps/v1", metadata: { name: match[2], namespace: match[1] } })
                    : notFound();
            }
            if (path === "api/v1/nodes") {
                return send(200, {
                    kind: "NodeList",
                    apiVersion: "v1",
                    items: (cluster.nodes ?? []).map((labels, i) => ({ metadata: { name: `node-${i}`, labels } })),
                });
            }
            if ((match = /^api\/v1\/namespaces\/([^/]+)\/persistentvolumeclaims\/(.+)$/.exec(path))) {
                return (cluster.claims ?? []).includes(`${match[1]}/${match[2]}`)
                    ? send(200, { kind: "PersistentVolumeClaim", apiVersion: "v1", metadata: { name: match[2], namespace: match[1] } })
                    : notFound();
            }
            notFound();
        });
        servers.push(server);
        return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
    }

    beforeAll(async () => {
        const clusters: string[] = [];
        const contexts: string[] = [];
        for (const entry of cases) {
            const server =
                entry.cluster === undefined ? "http://127.0.0.1:1" : `http://127.0.0.1:${await serve(entry.name, entry.cluster)}`;
            if (entry.name !== "no-context") {
                clusters.push(`{name: ${entry.name}, cluster: {server: '${server}', insecure-skip-tls-verify: true}}`);
                contexts.push(`{name: ${entry.name}, context: {cluster: ${entry.name}, user: u}}`);
            }
        }
        kubeconfig = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kubeconfig-")), "config");
        fs.writeFileSync(
            kubeconfig,
            [
                "apiVersion: v1",
                "kind: Config",
                `clusters: [${clusters.join(", ")}]`,
                "users: [{name: u, user: {token: not-a-real-token}}]",
                `contexts: [${contexts.join(", ")}]`,
                "current-context: complete",
                "",
            ].join("\n"),
        );
    });

    afterAll(() => Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())))));

    let results: { name: string; lines: string[]; runError: boolean; warnings?: string[]; found?: ReadResult[] }[];
    beforeAll(async () => {
        const input = cases.map((entry) => ({
            name: entry.name,
            stack: entry.name,
            config:
                entry.backend === undefined
                    ? stackConfig(entry.name === "no-context" ? "nowhere" : entry.name, entry.vault, entry.more)
                    : managedStackConfig(entry.name, entry.backend),
            ...(entry.timeoutMs === undefined ? {} : { timeoutMs: entry.timeoutMs }),
            ...(entry.reads === undefined ? {} : { reads: entry.reads }),
        }));
        const output = await new Promise<string>((resolve, reject) =>
            execFile(
                process.execPath,
                ["--import", "tsx", "tests/support/preflightProbe.ts"],
                { cwd: ROOT, env: { ...process.env, KUBECONFIG: kubeconfig, PREFLIGHT_CASES: JSON.stringify(input) } },
                (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
            ),
        );
        results = JSON.parse(output) as typeof results;
    }, 60_000);

    it.each(cases.filter((entry) => entry.reads === undefined).map((entry) => [entry.name, entry] as const))("%s", (name, entry) => {
        const result = results.find((r) => r.name === name);
        // The warnings, each matched; the run goes on past them.
        const warnings = result?.warnings ?? [];
        expect(warnings).toHaveLength(entry.warnings?.length ?? 0);
        (entry.warnings ?? []).forEach((pattern, i) => expect(warnings[i]).toMatch(pattern));
        if (entry.lines.length === 0) {
            expect(result?.lines).toEqual([]);
            return;
        }
        // One line per missing prerequisite, then that nothing was changed; a RunError, which Pulumi prints without a stack trace.
        const lines = result?.lines ?? [];
        expect(lines).toHaveLength(entry.lines.length + 1);
        entry.lines.forEach((pattern, i) => expect(lines[i]).toMatch(pattern));
        expect(lines[entry.lines.length]).toBe("Nothing was changed: the program stopped before declaring any resource.");
        expect(result?.runError).toBe(true);
    });

    it("only reads: every request to every cluster is a GET, each distinct read made once", () => {
        const all = [...requests.values()].flat();
        expect(all.length).toBeGreaterThan(cases.length);
        expect(all.filter((r) => !r.startsWith("GET "))).toEqual([]);
        expect([...(requests.get("complete") ?? [])].sort()).toEqual([
            "GET /apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies",
            "GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions/certificates.cert-manager.io",
            "GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions/ciliumnetworkpolicies.cilium.io",
            "GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions/clusterissuers.cert-manager.io",
            "GET /apis/cert-manager.io/v1/clusterissuers/vault-ca-issuer",
            "GET /apis/networking.k8s.io/v1/ingressclasses",
            "GET /apis/storage.k8s.io/v1/storageclasses",
        ]);
        // A managed region reads only what it needs: the admission policies' API, and its identity's side.
        expect(requests.get("managed-azure-key-vault")).toEqual(["GET /apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies"]);
        expect([...(requests.get("aws-pod-identity") ?? [])].sort()).toEqual([
            "GET /apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies",
            "GET /apis/apps/v1/namespaces/kube-system/daemonsets/eks-pod-identity-agent",
        ]);
        expect([...(requests.get("gcp-without-workload-identity") ?? [])].sort()).toEqual([
            "GET /api/v1/nodes",
            "GET /apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies",
        ]);
        // The servers' class and a snapshot claim with its own: still one list of StorageClasses.
        expect((requests.get("two-storage-classes") ?? []).filter((r) => r.endsWith("/storageclasses"))).toHaveLength(1);
    });

    it("reads a Secret's keys, never its values", () => {
        expect(results.find((r) => r.name === "secret-read")?.found).toEqual([
            {
                status: "found",
                object: { metadata: { name: "kms", namespace: "vault" }, data: { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" } },
            },
            {
                status: "found",
                object: { metadata: { name: "kms", namespace: "vault" }, data: { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" } },
            },
            { status: "missing" },
        ]);
        expect(requests.get("secret-read")).toEqual([
            "GET /api/v1/namespaces/vault/secrets/kms",
            "GET /api/v1/namespaces/vault/secrets/other",
        ]);
    });
});
