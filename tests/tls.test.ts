/**
 * TLS options through to what the servers run: every mode's chart values pass the chart's own schema
 * (and set only keys it declares), the certificate covers every name clients use, and the ingress
 * passes TLS through.
 */
import * as pulumi from "@pulumi/pulumi";
import { parseOptions } from "../components/common/options";
import { monitoringOptions } from "../components/monitoring/monitoringSpecs";
import { type VaultServerOptions, vaultServerOptions } from "../components/vault-server/serverOptions";
import { type VaultHelmValues, serverSettings, vaultHelmValues } from "../components/vault-server/serverValues";
import {
    type VaultTlsOptions,
    TLS_PASSTHROUGH_ANNOTATIONS,
    certificateNames,
    passthroughAnnotations,
    resolvedTls,
    serverCertificate,
    tlsOptions,
} from "../components/vault-server/tls";
import { chartValidator, loadChartSchema, undeclaredPaths } from "./support/vaultChartSchema";

const HOST = "vault.region1.example.com";

function valuesFor(options: VaultServerOptions): VaultHelmValues {
    return vaultHelmValues(serverSettings(vaultServerOptions.parse(options), HOST, monitoringOptions.parse({})));
}

/** The server options a VaultServer refuses, as its InputPropertiesError names them. */
function refusals(options: VaultServerOptions): { propertyPath: string; reason: string }[] {
    try {
        parseOptions("VaultServer", vaultServerOptions, options);
    } catch (error) {
        if (pulumi.InputPropertiesError.isInstance(error)) {
            return error.errors;
        }
        throw error;
    }
    return [];
}

describe("TLS", () => {
    it("is on by default, from cert-manager's vault-ca-issuer ClusterIssuer", () => {
        expect(tlsOptions.parse({})).toEqual({ source: "cert-manager" });
        expect(resolvedTls(vaultServerOptions.parse({}).tls)).toEqual({
            enabled: true,
            source: "cert-manager",
            secretName: "vault-server-tls",
            issuer: { kind: "ClusterIssuer", name: "vault-ca-issuer" },
        });
    });

    it("resolves each source to the Secret the servers mount", () => {
        expect(resolvedTls(tlsOptions.parse({ issuerKind: "Issuer", issuerName: "vault-issuer" }))).toEqual({
            enabled: true,
            source: "cert-manager",
            secretName: "vault-server-tls",
            issuer: { kind: "Issuer", name: "vault-issuer" },
        });
        expect(resolvedTls(tlsOptions.parse({ source: "secret", secretName: "mine" }))).toEqual({
            enabled: true,
            source: "secret",
            secretName: "mine",
        });
        expect(resolvedTls(tlsOptions.parse({ source: "none", allowPlaintext: true }))).toEqual({ enabled: false });
    });

    it.each<[string, VaultServerOptions]>([
        ["cert-manager (default)", {}],
        ["cert-manager with a namespaced Issuer", { tls: { issuerKind: "Issuer", issuerName: "vault-issuer" } }],
        ["an existing Secret", { tls: { source: "secret", secretName: "mine" } }],
        ["off, explicitly", { tls: { source: "none", allowPlaintext: true } }],
    ])("%s: chart values pass the chart's schema", (_name, options) => {
        const values = valuesFor(options);
        const validate = chartValidator();
        expect(validate(values) ? [] : validate.errors).toEqual([]);
        expect(undeclaredPaths(values, loadChartSchema())).toEqual([]);
    });

    it("mounts the certificate Secret and points the CLI in the pods at its CA", () => {
        const values = valuesFor({ tls: { source: "secret", secretName: "mine" } });
        expect(values.global.tlsDisable).toBe(false);
        expect(values.server.extraVolumes).toEqual([{ type: "secret", name: "mine" }]);
        expect(values.server.extraEnvironmentVars).toEqual({ VAULT_CACERT: "/vault/userconfig/mine/ca.crt" });
        const off = valuesFor({ tls: { source: "none", allowPlaintext: true } });
        expect([off.global.tlsDisable, off.server.extraVolumes, off.server.extraEnvironmentVars]).toEqual([true, [], {}]);
    });

    it("has a certificate covering the public host, the services, every pod (short and long names) and 127.0.0.1", () => {
        const names = certificateNames({ host: HOST, namespace: "vault", releaseName: "vault" });
        expect(names.dnsNames).toEqual(
            expect.arrayContaining([HOST, "vault-active.vault.svc", "vault.vault.svc", "*.vault-internal", "*.vault-internal.vault.svc"]),
        );
        expect(names.ipAddresses).toEqual(["127.0.0.1"]);
        const certificate = serverCertificate({
            namespace: "vault",
            host: HOST,
            releaseName: "vault",
            secretName: "vault-server-tls",
            issuer: { kind: "Issuer", name: "ca" },
            labels: {},
        });
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
        const certificate = serverCertificate({
            namespace: "vault",
            host: longHost,
            releaseName: "vault",
            secretName: "s",
            issuer: { kind: "ClusterIssuer", name: "ca" },
            labels: {},
        });
        expect(certificate.spec).not.toHaveProperty("commonName");
        expect(certificate.spec.dnsNames).toContain(longHost);
    });

    it("makes the Kubernetes provider wait until cert-manager reports the certificate Ready, so a run fails while it cannot be issued", () => {
        const certificate = serverCertificate({
            namespace: "vault",
            host: HOST,
            releaseName: "vault",
            secretName: "vault-server-tls",
            issuer: { kind: "ClusterIssuer", name: "vault-ca-issuer" },
            labels: {},
        });
        expect(certificate.metadata.annotations).toEqual({ "pulumi.com/waitFor": "condition=Ready" });
        expect(certificate.apiVersion).toBe("cert-manager.io/v1");
        expect(certificate.spec.issuerRef).toEqual({ group: "cert-manager.io", kind: "ClusterIssuer", name: "vault-ca-issuer" });
    });

    it("sends clients a standby redirects to the pod's full name behind the headless service, which resolves from every namespace and the certificate covers", () => {
        expect(valuesFor({}).server.ha.apiAddr).toBe("https://$(VAULT_K8S_POD_NAME).vault-internal.vault.svc:8200");
        expect(valuesFor({ tls: { source: "none", allowPlaintext: true } }).server.ha.apiAddr).toBe(
            "http://$(VAULT_K8S_POD_NAME).vault-internal.vault.svc:8200",
        );
        // The redirect's host, with a pod's name in place of the variable, matches one of the certificate's wildcard names.
        const host = new URL(valuesFor({}).server.ha.apiAddr.replace("$(VAULT_K8S_POD_NAME)", "vault-1")).hostname;
        const names = certificateNames({ host: HOST, namespace: "vault", releaseName: "vault" }).dnsNames;
        expect(names.some((name) => name === host || (name.startsWith("*.") && host.split(".").slice(1).join(".") === name.slice(2)))).toBe(
            true,
        );
    });

    it("knows only its own ingress classes: a class named like an object's built-in member is unknown", () => {
        expect(passthroughAnnotations("constructor")).toBeUndefined();
        expect(
            refusals({ ingressClassName: "constructor" })
                .map((e) => e.propertyPath)
                .sort(),
        ).toEqual(["ingressClassName", "ingressControllerNamespace"]);
        expect(refusals({ ingressClassName: "constructor" }).find((e) => e.propertyPath === "ingressClassName")?.reason).toContain(
            "set ingressAnnotations",
        );
        expect(refusals({ ingressClassName: "constructor", ingressAnnotations: { "x/y": "z" } }).map((e) => e.propertyPath)).toEqual([
            "ingressControllerNamespace",
        ]);
    });

    it("passes TLS through the ingress for each known class; the operator's annotations win; none with TLS off", () => {
        for (const [ingressClassName, annotations] of Object.entries(TLS_PASSTHROUGH_ANNOTATIONS)) {
            expect(valuesFor({ ingressClassName }).server.ingress.annotations).toEqual(annotations);
        }
        const custom = valuesFor({
            ingressClassName: "traefik",
            ingressControllerNamespace: "traefik",
            ingressAnnotations: { "example.com/passthrough": "true" },
        });
        expect(custom.server.ingress.annotations).toEqual({ "example.com/passthrough": "true" });
        const overridden = valuesFor({
            ingressClassName: "nginx",
            ingressAnnotations: { "nginx.ingress.kubernetes.io/ssl-passthrough": "false", "x/y": "z" },
        });
        expect(overridden.server.ingress.annotations).toEqual({ "nginx.ingress.kubernetes.io/ssl-passthrough": "false", "x/y": "z" });
        expect(valuesFor({ ingressClassName: "nginx", tls: { source: "none", allowPlaintext: true } }).server.ingress.annotations).toEqual(
            {},
        );
        // With TLS off, an unknown class needs no pass-through annotation.
        expect(
            refusals({ ingressClassName: "traefik", ingressControllerNamespace: "traefik", tls: { source: "none", allowPlaintext: true } }),
        ).toEqual([]);
    });

    it.each<[VaultTlsOptions, string, string]>([
        [{ source: "none" }, "tls.source", "set allowPlaintext to true"],
        [{ source: "secret" }, "tls.secretName", "is not set, but source is secret"],
        [{ source: "cert-manager", secretName: "x" }, "tls.secretName", "set source to secret, or remove secretName"],
        [{ source: "secret", secretName: "x", issuerName: "ca" }, "tls.issuerName", "has no effect with source secret"],
        [{ source: "none", allowPlaintext: true, issuerKind: "Issuer" }, "tls.issuerKind", "has no effect with source none"],
        [{ allowPlaintext: true }, "tls.allowPlaintext", "remove allowPlaintext"],
        [{ issuerName: "Not A Name" }, "tls.issuerName", "but it must be a Kubernetes object name"],
        [{ source: "secret", secretName: "vault.tls" }, "tls.secretName", "but it must be a Secret name the chart can mount"],
    ])("refuses the contradictory %j", (tls, propertyPath, reason) => {
        expect(refusals({ tls })).toEqual([{ propertyPath, reason: expect.stringContaining(reason) as unknown }]);
    });
});
