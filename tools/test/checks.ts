/**
 * The static checks: the TypeScript compiler over tsconfig.json (strict, no emit), ESLint with its
 * type-aware rules, and Prettier. The compiler and ESLint share one TypeScript program: built twice,
 * once by `tsc` and once by typescript-eslint, it cost 13 to 30 s more CPU on a first run here
 * (docs/performance.md). Each keeps a cache in `.cache/` so a second run checks again only what
 * changed: the compiler's build information, ESLint's and Prettier's results per file content. (So
 * `npm run lint` alone builds the whole program even when every file's result is cached.)
 *
 * `tsx tools/test/checks.ts [types] [lint]` runs the named checks (both without arguments);
 * `npm run typecheck` and `npm run lint` run one each, `npm test` both.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ESLint } from "eslint";
import ts from "typescript";

const ROOT = path.resolve(__dirname, "..", "..");
const CACHE = path.join(ROOT, ".cache");

/** The program of tsconfig.json, incremental from the build information of the last run. */
function program(): ts.EmitAndSemanticDiagnosticsBuilderProgram {
    const parsed = ts.getParsedCommandLineOfConfigFile(
        path.join(ROOT, "tsconfig.json"),
        { incremental: true, tsBuildInfoFile: path.join(CACHE, "tsc", "tsconfig.tsbuildinfo") },
        {
            ...ts.sys,
            onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
                throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"));
            },
        },
    );
    if (parsed === undefined) {
        throw new Error("tsconfig.json could not be read");
    }
    return ts.createIncrementalProgram({
        rootNames: parsed.fileNames,
        options: parsed.options,
        configFileParsingDiagnostics: ts.getConfigFileParsingDiagnostics(parsed),
        projectReferences: parsed.projectReferences,
    });
}

/** The compiler's errors, printed as `tsc --pretty` prints them; @returns whether there were none. */
function typecheck(builder: ts.EmitAndSemanticDiagnosticsBuilderProgram): boolean {
    const diagnostics = [
        ...builder.getConfigFileParsingDiagnostics(),
        ...builder.getOptionsDiagnostics(),
        ...builder.getGlobalDiagnostics(),
        ...builder.getSyntacticDiagnostics(),
        ...builder.getSemanticDiagnostics(),
    ];
    // With noEmit, this writes only the build information the next run starts from (an error writing it fails the check).
    diagnostics.push(...builder.emit().diagnostics);
    if (diagnostics.length > 0) {
        const host: ts.FormatDiagnosticsHost = {
            getCanonicalFileName: (name) => name,
            getCurrentDirectory: () => ROOT,
            getNewLine: () => "\n",
        };
        // In colour with the source line on a terminal, one line each elsewhere (a CI log), as tsc prints them.
        const format = ts.sys.writeOutputIsTTY?.() ? ts.formatDiagnosticsWithColorAndContext : ts.formatDiagnostics;
        console.error(format(diagnostics, host));
        console.error(`Found ${diagnostics.length} error(s).`);
    }
    return diagnostics.length === 0;
}

/** ESLint over the repository with the shared program, then Prettier's check; @returns whether both passed. */
async function lint(shared: ts.Program): Promise<boolean> {
    const tsconfigHash = createHash("sha256")
        .update(fs.readFileSync(path.join(ROOT, "tsconfig.json")))
        .digest("hex")
        .slice(0, 16);
    const eslint = new ESLint({
        cwd: ROOT,
        cache: true,
        cacheLocation: path.join(CACHE, "eslint") + path.sep,
        cacheStrategy: "content",
        // typescript-eslint takes type information from this program instead of building its own from tsconfig.json.
        // ESLint's cache keys its results by the config as JSON: the program stands there as the content of the file it
        // comes from, so a change to the compiler options lints every file again.
        overrideConfig: [
            {
                files: ["**/*.ts"],
                languageOptions: {
                    parserOptions: { programs: Object.assign([shared], { toJSON: () => `tsconfig.json ${tsconfigHash}` }) },
                },
            },
        ],
    });
    const results = await eslint.lintFiles(["."]);
    // typescript-eslint lints a file as the program read it, and ESLint caches the result under the file's content
    // now: a file edited since the program was built would be cached as checked without having been.
    const changed = results
        .map((result) => result.filePath)
        .filter((file) => {
            const read = shared.getSourceFile(file)?.text;
            return read !== undefined && read !== (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined);
        });
    if (changed.length > 0) {
        fs.rmSync(path.join(CACHE, "eslint"), { recursive: true, force: true });
        console.error(`error: ${changed.map((file) => path.relative(ROOT, file)).join(", ")} changed during the check; run it again`);
        return false;
    }
    const report = await (await eslint.loadFormatter("stylish")).format(results);
    if (report !== "") {
        console.error(report);
    }
    const linted = results.every((result) => result.errorCount === 0 && result.fatalErrorCount === 0);
    const prettier = ["--check", "--cache", "--cache-location", path.join(CACHE, "prettier", "cache.json"), ".", "--log-level", "warn"];
    const formatted = await new Promise<boolean>((resolve) => {
        const child = spawn(process.execPath, [require.resolve("prettier/bin/prettier.cjs"), ...prettier], { cwd: ROOT, stdio: "inherit" });
        child.on("close", (code) => resolve(code === 0));
    });
    return linted && formatted;
}

const CHECKS = ["types", "lint"] as const;

/** Runs the named checks (every one without names); @returns the exit code, 1 if any failed. */
export async function checks(names: readonly string[]): Promise<number> {
    const unknown = names.filter((name) => !(CHECKS as readonly string[]).includes(name));
    if (unknown.length > 0) {
        console.error(`error: unknown check ${unknown.join(", ")}; the checks are ${CHECKS.join(" and ")}`);
        return 2;
    }
    const wanted = names.length === 0 ? CHECKS : names;
    const builder = program();
    const typed = wanted.includes("types") ? typecheck(builder) : true;
    const linted = wanted.includes("lint") ? await lint(builder.getProgram()) : true;
    return typed && linted ? 0 : 1;
}

if (require.main === module) {
    void checks(process.argv.slice(2)).then((code) => process.exit(code));
}
