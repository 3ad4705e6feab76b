/**
 * The hashicorp/vault chart's own values schema, for tests. It lives in ../shared/reference (read
 * there, never committed); VAULT_HELM_SCHEMA points elsewhere if needed.
 */
import Ajv, { type ValidateFunction } from "ajv";
import draft07 from "ajv/dist/refs/json-schema-draft-07.json";
import * as fs from "node:fs";
import * as path from "node:path";
import { VAULT_CHART } from "../../components/common/versions";

const schemaPath =
    process.env.VAULT_HELM_SCHEMA ??
    path.resolve(__dirname, "..", "..", "..", "shared", "reference", `vault-helm-${VAULT_CHART.version}.values.schema.json`);

export type ChartSchema = { type?: string | string[]; properties?: Record<string, ChartSchema>; items?: ChartSchema };

export function loadChartSchema(): ChartSchema {
    if (!fs.existsSync(schemaPath)) {
        throw new Error(`the hashicorp/vault ${VAULT_CHART.version} values schema is not at ${schemaPath}; set VAULT_HELM_SCHEMA`);
    }
    return JSON.parse(fs.readFileSync(schemaPath, "utf8")) as ChartSchema;
}

/** A validator of whole chart values against the schema. */
export function chartValidator(): ValidateFunction {
    const ajv = new Ajv({ strict: false, allErrors: true });
    // The chart's schema names draft-07 by its https URL; Ajv ships the same meta-schema under http.
    ajv.addMetaSchema({ ...draft07, $id: "https://json-schema.org/draft-07/schema#" });
    return ajv.compile(loadChartSchema());
}

/** Paths in `values` the schema does not declare (it allows unknown keys, so typos would pass). */
export function undeclaredPaths(values: unknown, schema: ChartSchema, at = ""): string[] {
    if (Array.isArray(values)) {
        return schema.items ? values.flatMap((item, i) => undeclaredPaths(item, schema.items as ChartSchema, `${at}[${i}]`)) : [];
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
