/**
 * The server chart's own values schema (hashicorp/vault's, or openbao/openbao's), for tests: downloaded
 * at the pinned chart version by `npm run fetch-schemas` (which `npm test` runs first when it is
 * missing) and never committed.
 */
import Ajv, { type ValidateFunction } from "ajv";
import draft07 from "ajv/dist/refs/json-schema-draft-07.json";
import * as fs from "node:fs";
import type { Engine } from "../../components/common/engine";
import { cachedSchema, chartSchemaFile } from "../../tools/schemas/fetchSchemas";

export type ChartSchema = { type?: string | string[]; properties?: Record<string, ChartSchema>; items?: ChartSchema };

export function loadChartSchema(engine: Engine = "vault"): ChartSchema {
    return JSON.parse(fs.readFileSync(cachedSchema(chartSchemaFile(engine)), "utf8")) as ChartSchema;
}

/** A validator of whole chart values against the schema. */
export function chartValidator(engine: Engine = "vault"): ValidateFunction {
    const ajv = new Ajv({ strict: false, allErrors: true });
    // The chart's schema names draft-07 by its https URL; Ajv ships the same meta-schema under http.
    ajv.addMetaSchema({ ...draft07, $id: "https://json-schema.org/draft-07/schema#" });
    return ajv.compile(loadChartSchema(engine));
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
