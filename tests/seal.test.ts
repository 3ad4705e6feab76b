/**
 * TLS and seal options through to what the servers run: every mode's server config parses with
 * HashiCorp's HCL parser and says what it should, and every mode's chart values pass the chart's own
 * schema (and set only keys it declares).
 */
import { parse as parseHcl } from "@cdktf/hcl2json";
import * as fc from "fast-check";
import { type VaultSealOptions, SEAL_RULES, isAutoUnseal, resolveSealOptions, sealProblems } from "../components/vault-server/seal";
import { raftConfig, resolveVaultServerOptions, vaultHelmValues, type VaultServerOptions } from "../components/vault-server/serverValues";
import { TLS_PASSTHROUGH_ANNOTATIONS, certificateNames, serverCertificate, tlsProblems } from "../components/vault-server/tls";
import { chartValidator, loadChartSchema, undeclaredPaths } from "./support/vaultChartSchema";

const HOST = "vault.region1.example.com";

type Hcl = { seal?: Record<string, Record<string, string>[]>; listener: { tcp: Record<string, unknown>[] } };

async function serverConfig(options: Omit<VaultServerOptions, "host">): Promise<Hcl> {
    return (await parseHcl("vault.hcl", raftConfig(resolveVaultServerOptions({ host: HOST, ...options })))) as Hcl;
}

function expectValidChartValues(options: Omit<VaultServerOptions, "host">): void {
    const values = vaultHelmValues(resolveVaultServerOptions({ host: HOST, ...options }));
    const validate = chartValidator();
    expect(validate(values) ? [] : validate.errors).toEqual([]);
    expect(undeclaredPaths(values, loadChartSchema())).toEqual([]);
}

/** One working configuration per seal type and credential source. */
const SEALS: Record<string, VaultSealOptions> = {
    "awskms with a Secret": { type: "awskms", parameters: { region: "eu-west-1", kms_key_id: "alias/vault" }, credentials: "secret", credentialsSecret: "kms" },
    "awskms with IRSA": { type: "awskms", parameters: { region: "eu-west-1", kms_key_id: "alias/vault" }, credentials: "workload-identity", workloadIdentity: "arn:aws:iam::1:role/vault" },
    "gcpckms with a Secret": { type: "gcpckms", parameters: { project: "p", region: "global", key_ring: "r", crypto_key: "k" }, credentials: "secret", credentialsSecret: "gcp" },
    "gcpckms with Workload Identity": {
        type: "gcpckms",
        parameters: { project: "p", region: "global", key_ring: "r", crypto_key: "k" },
        credentials: "workload-identity",
        workloadIdentity: "vault@p.iam.gserviceaccount.com",
    },
    "azurekeyvault with a Secret": { type: "azurekeyvault", parameters: { tenant_id: "t", vault_name: "v", key_name: "k" }, credentials: "secret", credentialsSecret: "azure" },
    "azurekeyvault with a managed identity": { type: "azurekeyvault", parameters: { tenant_id: "t", vault_name: "v", key_name: "k" }, credentials: "workload-identity", workloadIdentity: "client-id" },
    "transit with a Secret": { type: "transit", parameters: { address: "https://transit.example.com:8200", key_name: "autounseal", mount_path: "transit/" }, credentials: "secret", credentialsSecret: "transit" },
};

describe("seals", () => {
    it("default to Shamir: no seal stanza, nothing extra in the chart values", async () => {
        expect(resolveSealOptions(undefined)).toEqual({ type: "shamir" });
        expect(isAutoUnseal(resolveSealOptions(undefined))).toBe(false);
        expect((await serverConfig({})).seal).toBeUndefined();
        const values = vaultHelmValues(resolveVaultServerOptions({ host: HOST }));
        expect(values.server.extraSecretEnvironmentVars).toEqual([]);
        expect(values.server.serviceAccount.annotations).toEqual({});
    });

    it.each(Object.entries(SEALS))("%s: the seal stanza parses with its parameters, and the chart values pass the chart's schema", async (_name, seal) => {
        expect(sealProblems(seal)).toEqual([]);
        const type = seal.type as keyof typeof SEAL_RULES;
        const stanza = (await serverConfig({ seal })).seal?.[type]?.[0];
        expect(stanza).toMatchObject(seal.parameters ?? {});
        expect(isAutoUnseal(resolveSealOptions(seal))).toBe(true);
        expectValidChartValues({ seal });
    });

    it("with a Secret: credentials reach the servers as environment variables from it (or as its mounted file), never as values", async () => {
        const aws = vaultHelmValues(resolveVaultServerOptions({ host: HOST, seal: SEALS["awskms with a Secret"] }));
        expect(aws.server.extraSecretEnvironmentVars).toEqual([
            { envName: "AWS_ACCESS_KEY_ID", secretName: "kms", secretKey: "AWS_ACCESS_KEY_ID" },
            { envName: "AWS_SECRET_ACCESS_KEY", secretName: "kms", secretKey: "AWS_SECRET_ACCESS_KEY" },
        ]);
        const gcp = vaultHelmValues(resolveVaultServerOptions({ host: HOST, seal: SEALS["gcpckms with a Secret"] }));
        expect(gcp.server.extraVolumes).toContainEqual({ type: "secret", name: "gcp" });
        expect((await serverConfig({ seal: SEALS["gcpckms with a Secret"] })).seal?.gcpckms[0].credentials).toBe("/vault/userconfig/gcp/credentials.json");
        const transit = await serverConfig({ seal: SEALS["transit with a Secret"] });
        expect(transit.seal?.transit[0].tls_ca_cert).toBe("/vault/userconfig/transit/ca.crt");
        expect(vaultHelmValues(resolveVaultServerOptions({ host: HOST, seal: SEALS["transit with a Secret"] })).server.extraSecretEnvironmentVars).toEqual([
            { envName: "VAULT_TOKEN", secretName: "transit", secretKey: "VAULT_TOKEN" },
        ]);
    });

    it("with workload identity: the servers' service account is annotated (IRSA, GKE), or the managed identity's client ID is the seal's", async () => {
        expect(vaultHelmValues(resolveVaultServerOptions({ host: HOST, seal: SEALS["awskms with IRSA"] })).server.serviceAccount.annotations).toEqual({
            "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/vault",
        });
        expect(vaultHelmValues(resolveVaultServerOptions({ host: HOST, seal: SEALS["gcpckms with Workload Identity"] })).server.serviceAccount.annotations).toEqual({
            "iam.gke.io/gcp-service-account": "vault@p.iam.gserviceaccount.com",
        });
        const azure = vaultHelmValues(resolveVaultServerOptions({ host: HOST, seal: SEALS["azurekeyvault with a managed identity"] }));
        // AKS Workload Identity: the webhook injects the federated token only into labelled pods whose
        // service account names the identity; never the node's managed identity.
        expect(azure.server.serviceAccount.annotations).toEqual({ "azure.workload.identity/client-id": "client-id" });
        expect(azure.server.extraLabels).toEqual({ "azure.workload.identity/use": "true" });
        expect((await serverConfig({ seal: SEALS["azurekeyvault with a managed identity"] })).seal?.azurekeyvault[0].client_id).toBe("client-id");
        expect(vaultHelmValues(resolveVaultServerOptions({ host: HOST, seal: SEALS["awskms with IRSA"] })).server.extraLabels).toEqual({});
    });

    it("refuses a credentials Secret the chart cannot mount (its volume is userconfig-<name>, a DNS label)", () => {
        const seal = { ...SEALS["awskms with a Secret"] };
        expect(sealProblems({ ...seal, credentialsSecret: "kms.credentials" })).toEqual([expect.stringContaining("is not a Secret name the chart can mount")]);
        expect(sealProblems({ ...seal, credentialsSecret: "k".repeat(53) })).toEqual([expect.stringContaining("at most 52 characters")]);
        expect(sealProblems({ ...seal, credentialsSecret: "k".repeat(52) })).toEqual([]);
    });

    it("refuses, for every auto-unseal type, any parameter that carries a credential", () => {
        fc.assert(
            fc.property(
                fc.constantFrom(...(Object.keys(SEAL_RULES) as (keyof typeof SEAL_RULES)[])),
                fc.string({ minLength: 1 }),
                (type, value) => {
                    const seal = Object.values(SEALS).find((s) => s.type === type) as VaultSealOptions;
                    for (const credential of SEAL_RULES[type].credentials) {
                        const problems = sealProblems({ ...seal, parameters: { ...seal.parameters, [credential]: value } });
                        expect(problems).toEqual([expect.stringContaining(`seal.parameters.${credential} would put a credential in the server configuration`)]);
                    }
                },
            ),
            { numRuns: 50 },
        );
    });

    it("writes no credential of any kind into the server configuration or the chart values", () => {
        for (const seal of Object.values(SEALS)) {
            const rendered = JSON.stringify(vaultHelmValues(resolveVaultServerOptions({ host: HOST, seal })));
            expect(rendered).not.toMatch(/secret_key|client_secret|"token"\s*[:=]|access_key/);
        }
    });
});

describe("TLS", () => {
    it("is on by default, from cert-manager's vault-ca-issuer ClusterIssuer", () => {
        expect(resolveVaultServerOptions({ host: HOST }).tls).toEqual({
            enabled: true,
            source: "cert-manager",
            secretName: "vault-server-tls",
            issuer: { kind: "ClusterIssuer", name: "vault-ca-issuer" },
        });
    });

    it.each([
        ["cert-manager (default)", {}],
        ["cert-manager with a namespaced Issuer", { tls: { issuerKind: "Issuer" as const, issuerName: "vault-issuer" } }],
        ["an existing Secret", { tls: { source: "secret" as const, secretName: "mine" } }],
        ["off, explicitly", { tls: { source: "none" as const, allowPlaintext: true } }],
    ])("%s: chart values pass the chart's schema", (_name, options) => {
        expectValidChartValues(options);
    });

    it("mounts the certificate Secret and points the CLI in the pods at its CA", () => {
        const values = vaultHelmValues(resolveVaultServerOptions({ host: HOST, tls: { source: "secret", secretName: "mine" } }));
        expect(values.global.tlsDisable).toBe(false);
        expect(values.server.extraVolumes).toEqual([{ type: "secret", name: "mine" }]);
        expect(values.server.extraEnvironmentVars).toEqual({ VAULT_CACERT: "/vault/userconfig/mine/ca.crt" });
    });

    it("has a certificate covering the public host, the services, every pod (short and long names) and 127.0.0.1", () => {
        const names = certificateNames({ host: HOST, namespace: "vault", releaseName: "vault" });
        expect(names.dnsNames).toEqual(
            expect.arrayContaining([HOST, "vault-active.vault.svc", "vault.vault.svc", "*.vault-internal", "*.vault-internal.vault.svc"]),
        );
        expect(names.ipAddresses).toEqual(["127.0.0.1"]);
        const certificate = serverCertificate({ namespace: "vault", host: HOST, releaseName: "vault", secretName: "vault-server-tls", issuer: { kind: "Issuer", name: "ca" }, labels: {} });
        expect(certificate.spec).toMatchObject({
            secretName: "vault-server-tls",
            issuerRef: { group: "cert-manager.io", kind: "Issuer", name: "ca" },
            privateKey: { algorithm: "ECDSA", rotationPolicy: "Always" },
            duration: "2160h",
            renewBefore: "720h",
        });
    });

    it("has no commonName (cert-manager refuses one over 64 bytes; the names are all in dnsNames)", () => {
        const longHost = `vault.region1.${"a".repeat(60)}.example.com`;
        const certificate = serverCertificate({ namespace: "vault", host: longHost, releaseName: "vault", secretName: "s", issuer: { kind: "ClusterIssuer", name: "ca" }, labels: {} });
        expect(certificate.spec).not.toHaveProperty("commonName");
        expect(certificate.spec.dnsNames).toContain(longHost);
    });

    it("sends clients a standby redirects to the pod's name behind the headless service, which the certificate covers", () => {
        expect(vaultHelmValues(resolveVaultServerOptions({ host: HOST })).server.ha.apiAddr).toBe("https://$(VAULT_K8S_POD_NAME).vault-internal:8200");
        expect(vaultHelmValues(resolveVaultServerOptions({ host: HOST, tls: { source: "none", allowPlaintext: true } })).server.ha.apiAddr).toBe("http://$(VAULT_K8S_POD_NAME).vault-internal:8200");
    });

    it("knows only its own ingress classes: a class named like an object's built-in member is unknown", () => {
        expect(() => resolveVaultServerOptions({ host: HOST, ingressClassName: "constructor" })).toThrow("set ingressAnnotations");
        expect(() => resolveVaultServerOptions({ host: HOST, ingressClassName: "constructor", ingressAnnotations: { "x/y": "z" } })).toThrow("ingressControllerNamespace");
    });

    it("refuses Vault's own namespace as the ingress controller's (the NetworkPolicy would admit every pod in it)", () => {
        expect(() => resolveVaultServerOptions({ host: HOST, ingressClassName: "nginx", ingressControllerNamespace: "vault" })).toThrow("ingressControllerNamespace is Vault's namespace");
    });

    it("passes TLS through the ingress for each known class; the operator's annotations win; none with TLS off", () => {
        for (const [ingressClassName, annotations] of Object.entries(TLS_PASSTHROUGH_ANNOTATIONS)) {
            expect(vaultHelmValues(resolveVaultServerOptions({ host: HOST, ingressClassName })).server.ingress.annotations).toEqual(annotations);
        }
        const custom = resolveVaultServerOptions({ host: HOST, ingressClassName: "traefik", ingressControllerNamespace: "traefik", ingressAnnotations: { "example.com/passthrough": "true" } });
        expect(vaultHelmValues(custom).server.ingress.annotations).toEqual({ "example.com/passthrough": "true" });
        const off = resolveVaultServerOptions({ host: HOST, ingressClassName: "nginx", tls: { source: "none", allowPlaintext: true } });
        expect(vaultHelmValues(off).server.ingress.annotations).toEqual({});
    });

    it.each([
        [{ source: "none" as const }, "set tls.allowPlaintext to true"],
        [{ source: "secret" as const }, "tls.secretName"],
        [{ source: "cert-manager" as const, secretName: "x" }, "set tls.source to secret or remove tls.secretName"],
        [{ source: "secret" as const, secretName: "x", issuerName: "ca" }, "have no effect"],
        [{ allowPlaintext: true }, "remove tls.allowPlaintext"],
        [{ issuerName: "Not A Name" }, "is not a Kubernetes object name"],
        [{ source: "secret" as const, secretName: "vault.tls" }, "is not a Secret name the chart can mount"],
    ])("refuses the contradictory %j", (tls, message) => {
        expect(tlsProblems(tls)).toEqual([expect.stringContaining(message)]);
        expect(() => resolveVaultServerOptions({ host: HOST, tls })).toThrow(message);
    });
});
