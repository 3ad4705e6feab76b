// @ts-check
/**
 * The synth workers' TypeScript loader (`node -r tools/synth/transpile.cjs`). It compiles `.ts` files
 * the way ts-node's transpile-only mode does (TypeScript's `transpileModule` with this project's
 * tsconfig.json, no type check), but keeps each result in `node_modules/.cache/openova-synth` (or
 * `$SYNTH_TRANSPILE_CACHE`), keyed by a hash of this loader, the TypeScript version, the tsconfig.json
 * text, the file's path and its source. A synth starts a worker process per stack and pass; without
 * the cache each of them loads TypeScript and compiles the whole program again, about 1.5 s of CPU
 * apiece (docs/synth-performance.md). Like ts-node's transpile-only mode it checks no types (`npm run
 * typecheck` does). A changed file gets a new key, so the cache is never stale; deleting the
 * directory is always safe.
 *
 * Plain JavaScript because it must load before anything can compile TypeScript. With
 * `SYNTH_STACK_TRACES=1` the runner uses ts-node instead, whose stack traces point into the `.ts` files.
 */
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..", "..");
const TS_CONFIG = process.env.TS_NODE_PROJECT ?? path.join(ROOT, "tsconfig.json");
const CACHE_DIR = process.env.SYNTH_TRANSPILE_CACHE ?? path.join(ROOT, "node_modules", ".cache", "openova-synth");
const TYPESCRIPT_VERSION = require("typescript/package.json").version;
const CONFIG_TEXT = fs.readFileSync(TS_CONFIG, "utf8");
/** This file: a change to how it compiles must not be served old results. */
const LOADER_TEXT = fs.readFileSync(__filename, "utf8");

/** @type {import("typescript") | undefined} */
let ts;
/** @type {import("typescript").CompilerOptions | undefined} */
let compilerOptions;

/** Compiles one file; loads TypeScript only on the first cache miss. */
function transpile(/** @type {string} */ source, /** @type {string} */ fileName) {
    ts ??= /** @type {import("typescript")} */ (require("typescript"));
    if (compilerOptions === undefined) {
        const { config, error } = ts.readConfigFile(TS_CONFIG, ts.sys.readFile);
        if (error !== undefined) {
            throw new Error(`cannot read ${TS_CONFIG}: ${ts.flattenDiagnosticMessageText(error.messageText, "\n")}`);
        }
        // No source map files exist next to the compiled code, so emit no reference to one.
        compilerOptions = { ...ts.parseJsonConfigFileContent(config, ts.sys, path.dirname(TS_CONFIG)).options, sourceMap: false };
    }
    return ts.transpileModule(source, { compilerOptions, fileName }).outputText;
}

/** The compiled code of `fileName`, from the cache or compiled now (and then cached). */
function compiled(/** @type {string} */ fileName) {
    const source = fs.readFileSync(fileName, "utf8");
    const key = crypto.createHash("sha256").update([LOADER_TEXT, TYPESCRIPT_VERSION, CONFIG_TEXT, fileName, source].join("\0")).digest("hex");
    const cached = path.join(CACHE_DIR, `${key}.js`);
    try {
        return fs.readFileSync(cached, "utf8");
    } catch {
        const code = transpile(source, fileName);
        try {
            fs.mkdirSync(CACHE_DIR, { recursive: true });
            // Workers run in parallel: write aside, then rename, so no one reads a half-written file.
            const partial = `${cached}.${process.pid}.partial`;
            fs.writeFileSync(partial, code);
            fs.renameSync(partial, cached);
        } catch {
            // A cache that cannot be written costs time, not correctness.
        }
        return code;
    }
}

// `require.extensions` is deprecated for general use, but it is how CommonJS loaders (ts-node
// included) hook a file extension.
require.extensions[".ts"] = (module, fileName) => {
    /** @type {NodeJS.Module & { _compile(code: string, fileName: string): void }} */ (module)._compile(compiled(fileName), fileName);
};
