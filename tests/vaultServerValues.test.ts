import { parse as parseHcl } from "@cdktf/hcl2json";
import Ajv from "ajv";
import draft07 from "ajv/dist/refs/json-schema-draft-07.json";
import * as fc from "fast-check";
import * as fs from "node:fs";
import * as path from "node:path";
import { hclString } from "../components/hcl";
import { VAULT_CHART, VAULT_IMAGE } from "../components/versions";
import {
    VAULT_SERVER_DEFAULTS,
    raftConfig,
    resolveVaultServerOptions,
    vaultHelmValues,
    type ResolvedVaultServerOptions,
} from "../components/vaultServerValues";

/**
 * The chart's own values schema. It lives in ../shared/reference (read there, never committed);
 * VAULT_HELM_SCHEMA points elsewhere if needed.
 */
const schemaPath =
    process.env.VAULT_HELM_SCHEMA ??
    path.resolve(__dirname, "..", "..", "shared", "reference", `vault-helm-${VAULT_CHART.version}.values.schema.json`);

type Schema = { type?: string | string[]; properties?: Record<string, Schema>; items?: Schema };

function loadSchema(): Schema {
    if (!fs.existsSync(schemaPath)) {
        throw new Error(`the hashicorp/vault ${VAULT_CHART.version} values schema is not at ${schemaPath}; set VAULT_HELM_SCHEMA`);
    }
    return JSON.parse(fs.readFileSync(schemaPath, "utf8")) as Schema;
}

/** Paths in `values` the schema does not declare (it allows unknown keys, so typos would pass). */
function undeclaredPaths(values: unknown, schema: Schema, at = ""): string[] {
    if (Array.isArray(values)) {
        return schema.items ? values.flatMap((item, i) => undeclaredPaths(item, schema.items as Schema, `${at}[${i}]`)) : [];
    }
    if (typeof values !== "object" || values === null || schema.properties === undefined) {
        return [];
    }
    return Object.entries(values).flatMap(([key, value]) => {
        const child = schema.properties?.[key];
        const here = at === "" ? key : `${at}.${key}`;
        return child === undefined ? [here] : undeclaredPaths(value, child, here);
    });
}

interface RaftJson {
    ui: boolean;
    disable_mlock: boolean;
    listener: { tcp: { address: string; cluster_address: string; tls_disable: boolean }[] };
    storage: { raft: { path: string; performance_multiplier: number; retry_join: { leader_api_addr: string }[] }[] };
    service_registration: { kubernetes: object[] };
    telemetry: { prometheus_retention_time: string; disable_hostname: boolean }[];
}

async function parsedRaftConfig(options: ResolvedVaultServerOptions): Promise<RaftJson> {
    return (await parseHcl("vault.hcl", raftConfig(options))) as RaftJson;
}

const defaults = resolveVaultServerOptions({ host: "vault.region1.example.com" });

describe("resolveVaultServerOptions", () => {
    it("applies every default", () => {
        expect(defaults).toEqual({ host: "vault.region1.example.com", ...VAULT_SERVER_DEFAULTS, storageClass: undefined });
        expect(defaults.chartVersion).toBe(VAULT_CHART.version);
        expect(defaults.imageTag).toBe(VAULT_IMAGE.tag);
    });

    it.each([
        [{ replicas: 4 }, "replicas 4 is not an odd number from 1 to 7"],
        [{ replicas: 0 }, "replicas 0 is not an odd number"],
        [{ storageSize: "ten" }, 'storageSize "ten" is not a storage quantity'],
        [{ namespace: "Vault" }, 'namespace "Vault" is not a DNS label'],
        [{ namespace: "default" }, 'namespace "default" is not a DNS label other than default and kube-*'],
        [{ storageSize: "100" }, 'storageSize "100" is not a storage quantity of at least 1Gi'],
        [{ host: "https://vault.example.com" }, "is not a DNS name"],
        [{ chartVersion: "latest" }, 'chartVersion "latest" is not a semantic version'],
    ])("rejects %j early", (override, message) => {
        expect(() => resolveVaultServerOptions({ host: "vault.region1.example.com", ...override })).toThrow(message);
    });
});

describe("raftConfig", () => {
    it("is HCL that HashiCorp's parser accepts, with a listener, Raft storage, Kubernetes service registration and telemetry", async () => {
        const config = await parsedRaftConfig(defaults);
        expect(config.ui).toBe(true);
        expect(config.disable_mlock).toBe(true);
        expect(config.listener.tcp).toEqual([{ address: "[::]:8200", cluster_address: "[::]:8201", tls_disable: true }]);
        expect(config.storage.raft).toHaveLength(1);
        expect(config.storage.raft[0].path).toBe("/vault/data");
        expect(config.storage.raft[0].performance_multiplier).toBe(1);
        expect(config.service_registration).toEqual({ kubernetes: [{}] });
        expect(config.telemetry).toEqual([{ prometheus_retention_time: "30s", disable_hostname: true }]);
    });

    it.each([1, 3, 5, 7])("has one retry_join per server for %i servers, at each pod's stable address", async (replicas) => {
        const config = await parsedRaftConfig({ ...defaults, replicas });
        expect(config.storage.raft[0].retry_join).toEqual(
            Array.from({ length: replicas }, (_, i) => ({ leader_api_addr: `http://vault-${i}.vault-internal:8200` })),
        );
    });

    it("contains no Helm template syntax (the chart passes it through tpl)", () => {
        expect(raftConfig(defaults)).not.toMatch(/\{\{|\}\}/);
    });
});

describe("hclString", () => {
    const hasTemplate = (value: string) => value.includes("${") || value.includes("%{");

    it("quotes any string without a template sequence so HashiCorp's parser reads it back unchanged", async () => {
        await fc.assert(
            fc.asyncProperty(
                fc.string({ unit: "binary" }).filter((value) => !hasTemplate(value)),
                async (value) => {
                    const parsed = (await parseHcl("s.hcl", `s = ${hclString(value)}\n`)) as { s: string };
                    // HCL normalizes string literals to Unicode NFC.
                    expect(parsed.s).toBe(value.normalize("NFC"));
                },
            ),
            { numRuns: 300 },
        );
    });

    it.each(["${path}", "a%{if x}b", "x${"])("refuses %j: HCL 1 (Vault) and HCL 2 read template escapes differently", (value) => {
        expect(() => hclString(value)).toThrow(/template sequence/);
    });

    it("accepts a lone $ or % that opens no template", () => {
        expect(hclString("$5 and 10% {x}")).toBe('"$5 and 10% {x}"');
    });
});

describe("vaultHelmValues", () => {
    const values = vaultHelmValues(resolveVaultServerOptions({ host: "vault.region2.example.com", storageClass: "fast-ssd", replicas: 5 }));

    function chartValidator() {
        const ajv = new Ajv({ strict: false, allErrors: true });
        // The chart's schema names draft-07 by its https URL; Ajv ships the same meta-schema under http.
        ajv.addMetaSchema({ ...draft07, $id: "https://json-schema.org/draft-07/schema#" });
        return ajv.compile(loadSchema());
    }

    it("is valid against the chart's own values schema", () => {
        const validate = chartValidator();
        expect(validate(values) ? [] : validate.errors).toEqual([]);
    });

    it("would be caught by that schema if a value had the wrong type", () => {
        const broken = structuredClone(values) as unknown as { server: { ingress: { enabled: unknown }; ha: { raft: { enabled: unknown } } } };
        broken.server.ingress.enabled = "yes";
        broken.server.ha.raft.enabled = 1;
        const validate = chartValidator();
        expect(validate(broken)).toBe(false);
        expect(validate.errors?.map((e) => e.instancePath).sort()).toEqual(["/server/ha/raft/enabled", "/server/ingress/enabled"]);
    });

    it("sets only values the chart's schema declares (the schema itself lets typos through)", () => {
        expect(undeclaredPaths(values, loadSchema())).toEqual([]);
        const typo = structuredClone(values) as unknown as { server: { ha: { raft: Record<string, unknown> } } };
        typo.server.ha.raft.setNodeID = true;
        expect(undeclaredPaths(typo, loadSchema())).toEqual(["server.ha.raft.setNodeID"]);
    });

    it("runs Vault HA on Raft with the configured servers, node IDs from pod names and the generated config", () => {
        expect(values.server.ha).toEqual({
            enabled: true,
            replicas: 5,
            disruptionBudget: { enabled: true },
            raft: { enabled: true, setNodeId: true, config: raftConfig({ ...defaults, host: "vault.region2.example.com", storageClass: "fast-ssd", replicas: 5 }) },
        });
    });

    it("keeps the chart's PodDisruptionBudget only when there is more than one server (with one it would block every drain)", () => {
        expect(vaultHelmValues({ ...defaults, replicas: 3 }).server.ha.disruptionBudget).toEqual({ enabled: true });
        expect(vaultHelmValues({ ...defaults, replicas: 1 }).server.ha.disruptionBudget).toEqual({ enabled: false });
    });

    it("keeps data and audit on persistent volumes of the configured class", () => {
        expect(values.server.dataStorage).toEqual({ enabled: true, size: "10Gi", storageClass: "fast-ssd" });
        expect(values.server.auditStorage).toEqual({ enabled: true, size: "10Gi", storageClass: "fast-ssd" });
        const withoutClass = vaultHelmValues(defaults);
        expect(withoutClass.server.dataStorage).toEqual({ enabled: true, size: "10Gi" });
        expect("storageClass" in withoutClass.server.auditStorage).toBe(false);
    });

    it("serves the region's host through the ingress class, to the active server", () => {
        expect(values.server.ingress).toEqual({
            enabled: true,
            ingressClassName: "cilium",
            pathType: "Prefix",
            activeService: true,
            hosts: [{ host: "vault.region2.example.com", paths: [] }],
        });
    });

    it("turns the agent injector off, pins the image, and leaves the chart's anti-affinity alone", () => {
        expect(values.injector).toEqual({ enabled: false });
        expect(values.server.image).toEqual({ repository: "hashicorp/vault", tag: VAULT_IMAGE.tag });
        expect("affinity" in values.server).toBe(false);
        expect(values.global).toEqual({ enabled: true, tlsDisable: true });
    });
});
