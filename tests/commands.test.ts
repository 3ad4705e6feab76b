/**
 * The repository's commands share one strict argument parser (bootstrap/command.ts): a misspelt
 * option is answered with the option it was meant to be and the usage, exit code 2, before the
 * command does anything.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { main as bench } from "../tools/bench/cli";
import { main as docs } from "../tools/docs/generate";
import { main as fetchSchemas } from "../tools/schemas/fetchSchemas";
import { runCli } from "./support/cliRun";

describe("a misspelt option", () => {
    it.each([
        [
            "npm run docs",
            (args: string[]) => Promise.resolve(docs(args)),
            "--chek",
            "error: unknown option '--chek' (did you mean --check?)\nusage: npm run docs [-- --check]",
        ],
        [
            "npm run fetch-schemas",
            fetchSchemas,
            "--if-mising",
            "error: unknown option '--if-mising' (did you mean --if-missing?)\nusage: npm run fetch-schemas [-- --if-missing]",
        ],
        [
            "npm run bench",
            bench,
            "--run=3",
            "error: unknown option '--run' (did you mean --runs?)\nusage: npm run bench -- [--secrets 1,100,1000] [--runs N]",
        ],
    ])("%s: is answered with the option it was meant to be, and nothing is done", async (_command, main, typo, stderr) => {
        expect(await runCli(main, [typo])).toEqual({ code: 2, stdout: "", stderr });
    });

    it("is told apart from an argument that resembles no option, which is named as it is", async () => {
        const run = await runCli((args: string[]) => Promise.resolve(docs(args)), ["--write"]);
        expect(run.code).toBe(2);
        expect(run.stderr).toContain("'--write'");
        expect(run.stderr).not.toContain("did you mean");
        expect(run.stderr).toContain("usage: npm run docs [-- --check]");
    });
});

describe("npm test's jest", () => {
    it("transpiles each test file alone (tsconfig's isolatedModules) without ts-jest's deprecated option of that name, so it runs quietly", () => {
        const root = path.resolve(__dirname, "..");
        const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
            jest: { transform: Record<string, [string, Record<string, unknown>]> };
        };
        const [transformer, options] = pkg.jest.transform["^.+\\.ts$"];
        expect(transformer).toBe("ts-jest");
        // ts-jest 29.4 warns on every run that this option moves to tsconfig.json, and drops it in 30.
        expect(options).not.toHaveProperty("isolatedModules");
        const tsconfig = JSON.parse(fs.readFileSync(path.join(root, "tsconfig.json"), "utf8")) as {
            compilerOptions: Record<string, unknown>;
        };
        expect(tsconfig.compilerOptions.isolatedModules).toBe(true);
    });
});
