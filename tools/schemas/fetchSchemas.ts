/**
 * `npm run fetch-schemas [-- --if-missing]`
 *
 * The values schemas of the charts this project pins, which the tests validate the chart values
 * against. Nothing of them is committed: each is downloaded at the chart's pinned tag, checked
 * against its sha256 and cached in `.cache/schemas/` (git-ignored). Offline, a directory that
 * already holds the files (named as below) can be given in `OPENOVA_SCHEMA_DIR`; they are checked
 * against the same sha256 and copied into the cache.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseCommandLine, runCommand } from "../../bootstrap/command";
import { ENGINES, type Engine, ENGINE_FACTS } from "../../components/common/engine";

/** Where the tests read the schemas. */
export const SCHEMA_CACHE = path.resolve(__dirname, "..", "..", ".cache", "schemas");

/** The file name of an engine's chart schema: `vault-helm-0.34.1.values.schema.json`, `openbao-helm-0.29.2.values.schema.json`. */
export function chartSchemaFile(engine: Engine): string {
    const chart = ENGINE_FACTS[engine].chart;
    return `${chart.chart}-helm-${chart.version}.values.schema.json`;
}

/**
 * Every schema the tests need (each engine's chart): file name, where it comes from, its sha256, and,
 * for one the tests can do without, which tests it is for. The Vault chart's is required. OpenBao's
 * is optional: where neither the network nor OPENOVA_SCHEMA_DIR has it (a CI machine that reaches only
 * the npm registry), the OpenBao chart-values tests are skipped, by name, rather than the suite failing.
 */
export const SCHEMAS: readonly { readonly file: string; readonly url: string; readonly sha256: string; readonly optionalFor?: string }[] =
    ENGINES.map((engine) => ({
        file: chartSchemaFile(engine),
        ...ENGINE_FACTS[engine].chart.valuesSchema,
        ...(engine === "vault" ? {} : { optionalFor: `the ${ENGINE_FACTS[engine].product} chart-values schema tests` }),
    }));

/** Whether a schema is in the cache (the tests that need an optional one run only then). */
export function schemaCached(file: string): boolean {
    return fs.existsSync(path.join(SCHEMA_CACHE, file));
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/** The path of a cached schema, or the one-line reason it is not there and the command that fixes it. */
export function cachedSchema(file: string): string {
    const cached = path.join(SCHEMA_CACHE, file);
    if (!fs.existsSync(cached)) {
        throw new Error(
            `${file} is missing: run \`npm run fetch-schemas\` (it needs raw.githubusercontent.com), or set OPENOVA_SCHEMA_DIR to a directory holding ${file} and run it again`,
        );
    }
    return cached;
}

/** Fetches (or copies from OPENOVA_SCHEMA_DIR) one schema into the cache, checking its sha256. */
async function fetchSchema(schema: (typeof SCHEMAS)[number], offline: string | undefined): Promise<string> {
    let data: Buffer;
    let from: string;
    if (offline !== undefined && (fs.existsSync(path.resolve(offline, schema.file)) || schema.optionalFor === undefined)) {
        from = path.resolve(offline, schema.file);
        if (!fs.existsSync(from)) {
            throw new Error(`OPENOVA_SCHEMA_DIR is ${offline}, but ${schema.file} is not there`);
        }
        data = fs.readFileSync(from);
    } else {
        from = schema.url;
        let response: Response;
        try {
            response = await fetch(schema.url, { signal: AbortSignal.timeout(30_000) });
        } catch (error) {
            throw new Error(
                `cannot download ${schema.url} (${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}); offline, set OPENOVA_SCHEMA_DIR to a directory holding ${schema.file}`,
            );
        }
        if (!response.ok) {
            throw new Error(`cannot download ${schema.url}: HTTP ${response.status}`);
        }
        data = Buffer.from(await response.arrayBuffer());
    }
    const actual = sha256(data);
    if (actual !== schema.sha256) {
        throw new Error(`${from} has sha256 ${actual}, not the pinned ${schema.sha256}: it is not the schema of the pinned chart version`);
    }
    fs.mkdirSync(SCHEMA_CACHE, { recursive: true });
    const target = path.join(SCHEMA_CACHE, schema.file);
    fs.writeFileSync(`${target}.partial`, data);
    fs.renameSync(`${target}.partial`, target);
    return from;
}

const USAGE = "usage: npm run fetch-schemas [-- --if-missing]";

/** Fetches every schema into the cache (with `--if-missing`, only those not there yet). @returns the exit code */
export async function main(argv: readonly string[]): Promise<number> {
    const values = parseCommandLine(
        argv,
        { "if-missing": { type: "boolean", default: false } },
        USAGE,
        `${USAGE}\n\nDownloads the values schemas of the pinned charts into .cache/schemas/, checking each against its pinned\nsha256. --if-missing skips a schema already cached. Offline, OPENOVA_SCHEMA_DIR names a directory holding\nthe files, which are checked and copied instead.`,
    );
    if (typeof values === "number") {
        return values;
    }
    const ifMissing = values["if-missing"];
    for (const schema of SCHEMAS) {
        const cached = path.join(SCHEMA_CACHE, schema.file);
        if (ifMissing && fs.existsSync(cached) && sha256(fs.readFileSync(cached)) === schema.sha256) {
            continue;
        }
        try {
            const from = await fetchSchema(schema, process.env.OPENOVA_SCHEMA_DIR || undefined);
            console.log(`fetch-schemas: ${schema.file} from ${from} (sha256 verified)`);
        } catch (error) {
            if (schema.optionalFor !== undefined) {
                console.error(`warning: ${(error as Error).message}; without it ${schema.optionalFor} are skipped`);
                continue;
            }
            console.error(`error: ${(error as Error).message}`);
            return 1;
        }
    }
    return 0;
}

if (require.main === module) {
    runCommand(main);
}
