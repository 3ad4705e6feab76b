/**
 * Seal options through to what the servers run: every seal's server configuration (JSON) says what it
 * should, and every seal's chart values pass the chart's own schema (and set only keys it declares).
 */
import * as pulumi from "@pulumi/pulumi";
import * as fc from "fast-check";
import { parseOptions } from "../components/common/options";
import { monitoringOptions } from "../components/monitoring/monitoringSpecs";
import { type VaultSealOptions, SEAL_RULES, isAutoUnseal, resolvedSeal, sealOptions, sealStanza } from "../components/vault-server/seal";
import { type VaultServerOptions, vaultServerOptions } from "../components/vault-server/serverOptions";
import { type VaultHelmValues, serverConfig, serverSettings, vaultHelmValues } from "../components/vault-server/serverValues";
import { chartValidator, loadChartSchema, undeclaredPaths } from "./support/vaultChartSchema";

const HOST = "vault.region1.example.com";

type Config = { seal?: Record<string, Record<string, string>>; listener: { tcp: Record<string, unknown> } };

const settingsFor = (options: VaultServerOptions) => serverSettings(vaultServerOptions.parse(options), HOST, monitoringOptions.parse({}));

function configFor(options: VaultServerOptions): Config {
    return JSON.parse(serverConfig(settingsFor(options))) as Config;
}

function valuesFor(options: VaultServerOptions): VaultHelmValues {
    return vaultHelmValues(settingsFor(options));
}

function expectValidChartValues(options: VaultServerOptions): void {
    const values = valuesFor(options);
    const validate = chartValidator();
    expect(validate(values) ? [] : validate.errors).toEqual([]);
    expect(undeclaredPaths(values, loadChartSchema())).toEqual([]);
}

/** The seal options a VaultServer refuses, as its InputPropertiesError names them. */
function refusals(seal: VaultSealOptions): { propertyPath: string; reason: string }[] {
    try {
        parseOptions("VaultServer", vaultServerOptions, { seal });
    } catch (error) {
        if (pulumi.InputPropertiesError.isInstance(error)) {
            return error.errors;
        }
        throw error;
    }
    return [];
}

/** One working configuration per seal type and credential source. */
const SEALS: Record<string, VaultSealOptions> = {
    "awskms with a Secret": {
        type: "awskms",
        parameters: { region: "eu-west-1", kms_key_id: "alias/vault" },
        credentials: "secret",
        credentialsSecret: "kms",
    },
    "awskms with IRSA": {
        type: "awskms",
        parameters: { region: "eu-west-1", kms_key_id: "alias/vault" },
        credentials: "workload-identity",
        workloadIdentity: "arn:aws:iam::1:role/vault",
    },
    "gcpckms with a Secret": {
        type: "gcpckms",
        parameters: { project: "p", region: "global", key_ring: "r", crypto_key: "k" },
        credentials: "secret",
        credentialsSecret: "gcp",
    },
    "gcpckms with Workload Identity": {
        type: "gcpckms",
        parameters: { project: "p", region: "global", key_ring: "r", crypto_key: "k" },
        credentials: "workload-identity",
        workloadIdentity: "vault@p.iam.gserviceaccount.com",
    },
    "azurekeyvault with a Secret": {
        type: "azurekeyvault",
        parameters: { tenant_id: "t", vault_name: "v", key_name: "k" },
        credentials: "secret",
        credentialsSecret: "azure",
    },
    "azurekeyvault with a managed identity": {
        type: "azurekeyvault",
        parameters: { tenant_id: "t", vault_name: "v", key_name: "k" },
        credentials: "workload-identity",
        workloadIdentity: "client-id",
    },
    "transit with a Secret": {
        type: "transit",
        parameters: { address: "https://transit.example.com:8200", key_name: "autounseal", mount_path: "transit/" },
        credentials: "secret",
        credentialsSecret: "transit",
    },
};

describe("seals", () => {
    it("default to Shamir: no seal stanza, nothing extra in the chart values", () => {
        expect(sealOptions.parse({})).toEqual({ type: "shamir" });
        expect(resolvedSeal(sealOptions.parse({}))).toEqual({ type: "shamir" });
        expect(isAutoUnseal(resolvedSeal(sealOptions.parse({})))).toBe(false);
        expect(sealStanza({ type: "shamir" })).toBeUndefined();
        expect(configFor({}).seal).toBeUndefined();
        const values = valuesFor({});
        expect(values.server.extraSecretEnvironmentVars).toEqual([]);
        expect(values.server.serviceAccount.annotations).toEqual({});
        expectValidChartValues({});
    });

    it.each(Object.entries(SEALS))(
        "%s: the seal stanza has its parameters, and the chart values pass the chart's schema",
        (_name, seal) => {
            expect(refusals(seal)).toEqual([]);
            const type = seal.type as keyof typeof SEAL_RULES;
            expect(configFor({ seal }).seal?.[type]).toMatchObject(seal.parameters ?? {});
            expect(Object.keys(configFor({ seal }).seal ?? {})).toEqual([type]);
            expect(isAutoUnseal(resolvedSeal(sealOptions.parse(seal)))).toBe(true);
            expectValidChartValues({ seal });
        },
    );

    it("with a Secret: credentials reach the servers as environment variables from it (or as its mounted file), never as values", () => {
        expect(valuesFor({ seal: SEALS["awskms with a Secret"] }).server.extraSecretEnvironmentVars).toEqual([
            { envName: "AWS_ACCESS_KEY_ID", secretName: "kms", secretKey: "AWS_ACCESS_KEY_ID" },
            { envName: "AWS_SECRET_ACCESS_KEY", secretName: "kms", secretKey: "AWS_SECRET_ACCESS_KEY" },
        ]);
        expect(valuesFor({ seal: SEALS["gcpckms with a Secret"] }).server.extraVolumes).toContainEqual({ type: "secret", name: "gcp" });
        expect(configFor({ seal: SEALS["gcpckms with a Secret"] }).seal?.gcpckms.credentials).toBe(
            "/vault/userconfig/gcp/credentials.json",
        );
        expect(configFor({ seal: SEALS["transit with a Secret"] }).seal?.transit.tls_ca_cert).toBe("/vault/userconfig/transit/ca.crt");
    });

    it("transit: the token is a file of the mounted Secret that the seal reads (file://), never in the servers' environment", () => {
        const seal = SEALS["transit with a Secret"];
        expect(configFor({ seal }).seal?.transit).toMatchObject({
            token: "file:///vault/userconfig/transit/VAULT_TOKEN",
            tls_ca_cert: "/vault/userconfig/transit/ca.crt",
        });
        const values = valuesFor({ seal });
        expect(values.server.extraVolumes).toContainEqual({ type: "secret", name: "transit" });
        // In the environment, every `vault` command in the pod (the chart's readiness probe included)
        // would send the transit token to the local Vault: Vault's API client reads VAULT_TOKEN by itself.
        expect(values.server.extraSecretEnvironmentVars).toEqual([]);
        expect(Object.keys(values.server.extraEnvironmentVars)).not.toContain("VAULT_TOKEN");
        expect(JSON.stringify(values.server)).not.toMatch(/"(envName|name)":"VAULT_TOKEN"/);
    });

    it("with workload identity: the servers' service account is annotated (IRSA, GKE), or the managed identity's client ID is the seal's", () => {
        expect(valuesFor({ seal: SEALS["awskms with IRSA"] }).server.serviceAccount.annotations).toEqual({
            "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/vault",
        });
        expect(valuesFor({ seal: SEALS["gcpckms with Workload Identity"] }).server.serviceAccount.annotations).toEqual({
            "iam.gke.io/gcp-service-account": "vault@p.iam.gserviceaccount.com",
        });
        const azure = valuesFor({ seal: SEALS["azurekeyvault with a managed identity"] });
        // AKS Workload Identity: the webhook injects the federated token only into labelled pods whose
        // service account names the identity; never the node's managed identity.
        expect(azure.server.serviceAccount.annotations).toEqual({ "azure.workload.identity/client-id": "client-id" });
        expect(azure.server.extraLabels).toEqual({ "azure.workload.identity/use": "true" });
        expect(configFor({ seal: SEALS["azurekeyvault with a managed identity"] }).seal?.azurekeyvault.client_id).toBe("client-id");
        expect(valuesFor({ seal: SEALS["awskms with IRSA"] }).server.extraLabels).toEqual({});
    });

    it("refuses a credentials Secret the chart cannot mount (its volume is userconfig-<name>, a DNS label)", () => {
        const seal = SEALS["awskms with a Secret"];
        expect(refusals({ ...seal, credentialsSecret: "kms.credentials" })).toEqual([
            {
                propertyPath: "seal.credentialsSecret",
                reason: expect.stringContaining("but it must be a Secret name the chart can mount") as unknown,
            },
        ]);
        expect(refusals({ ...seal, credentialsSecret: "k".repeat(53) })).toEqual([
            { propertyPath: "seal.credentialsSecret", reason: expect.stringContaining("at most 52 characters") as unknown },
        ]);
        expect(refusals({ ...seal, credentialsSecret: "k".repeat(52) })).toEqual([]);
    });

    it("refuses, for every auto-unseal type, any parameter that carries a credential", () => {
        fc.assert(
            fc.property(
                fc.constantFrom(...(Object.keys(SEAL_RULES) as (keyof typeof SEAL_RULES)[])),
                fc.string({ minLength: 1 }),
                (type, value) => {
                    const seal = Object.values(SEALS).find((s) => s.type === type) as VaultSealOptions;
                    for (const credential of SEAL_RULES[type].credentials) {
                        expect(refusals({ ...seal, parameters: { ...seal.parameters, [credential]: value } })).toEqual([
                            {
                                propertyPath: "seal.parameters",
                                reason: expect.stringContaining(
                                    `has ${credential}, which would put a credential in the server configuration`,
                                ) as unknown,
                            },
                        ]);
                    }
                },
            ),
            { numRuns: 50 },
        );
    });

    it.each<[string, VaultSealOptions, string, string]>([
        [
            "Shamir with parameters",
            { type: "shamir", parameters: { region: "eu-west-1" } },
            "seal.parameters",
            "is set, but type is shamir",
        ],
        [
            "a parameter the type does not have",
            { ...SEALS["awskms with a Secret"], parameters: { region: "eu-west-1", kms_key_id: "k", vault_name: "v" } },
            "seal.parameters",
            "has vault_name, which is not a awskms parameter",
        ],
        [
            "a required parameter left out",
            { ...SEALS["awskms with a Secret"], parameters: { region: "eu-west-1" } },
            "seal.parameters",
            "lacks kms_key_id",
        ],
        [
            "an empty parameter",
            { ...SEALS["awskms with a Secret"], parameters: { region: " ", kms_key_id: "k" } },
            "seal.parameters",
            "must be a non-empty value",
        ],
        [
            "a Secret without its name",
            { type: "awskms", parameters: { region: "eu-west-1", kms_key_id: "k" }, credentials: "secret" },
            "seal.credentialsSecret",
            "is not set, but credentials is secret",
        ],
        [
            "workload identity without the identity",
            { type: "awskms", parameters: { region: "eu-west-1", kms_key_id: "k" }, credentials: "workload-identity" },
            "seal.workloadIdentity",
            "is not set, but credentials is workload-identity",
        ],
        [
            "workload identity for transit, which has none",
            { ...SEALS["transit with a Secret"], credentials: "workload-identity", credentialsSecret: undefined, workloadIdentity: "x" },
            "seal.credentials",
            "is workload-identity, but type transit has none",
        ],
        [
            "both a Secret and an identity",
            { ...SEALS["awskms with a Secret"], workloadIdentity: "arn" },
            "seal.workloadIdentity",
            "use one of the two",
        ],
    ])("refuses %s", (_what, seal, propertyPath, reason) => {
        expect(refusals(seal)).toEqual([{ propertyPath, reason: expect.stringContaining(reason) as unknown }]);
    });

    it("writes no credential of any kind into the server configuration or the chart values: a credential only names a file of the mounted Secret", () => {
        for (const seal of Object.values(SEALS)) {
            const rendered = JSON.stringify(valuesFor({ seal }));
            expect(rendered).not.toMatch(/secret_key|client_secret|access_key/);
            expect(serverConfig(settingsFor({ seal }))).not.toMatch(/secret_key|client_secret|access_key/);
            const type = seal.type as keyof typeof SEAL_RULES;
            const stanza = configFor({ seal }).seal?.[type] ?? {};
            // A credential parameter is there only as the path of a file of the mounted Secret (gcpckms's
            // credentials) or a reference to one (transit's file:// token), or as the workload identity's
            // name (Azure's client_id, which is no secret).
            const keys = SEAL_RULES[type].secretKeys.map((key) => key.replace(".", "\\.")).join("|");
            const file = new RegExp(`^\\w+ = (file://)?/vault/userconfig/${seal.credentialsSecret}/(${keys})$`);
            for (const name of SEAL_RULES[type].credentials.filter((credential) => stanza[credential] !== undefined)) {
                if (name === SEAL_RULES[type].workloadIdentity?.parameter) {
                    expect(stanza[name]).toBe(seal.workloadIdentity);
                } else {
                    expect(`${name} = ${stanza[name]}`).toMatch(file);
                }
            }
        }
    });
});
