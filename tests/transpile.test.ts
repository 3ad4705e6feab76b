/**
 * The synth workers' caching TypeScript loader (tools/synth/transpile.cjs): it runs TypeScript, and a
 * changed file is compiled again rather than served stale from the cache.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const LOADER = path.join(__dirname, "..", "tools", "synth", "transpile.cjs");
const CACHE = fs.mkdtempSync(path.join(os.tmpdir(), "transpile-cache-"));

const run = (file: string) =>
    execFileSync(process.execPath, ["-r", LOADER, file], { encoding: "utf8", env: { ...process.env, SYNTH_TRANSPILE_CACHE: CACHE } }).trim();

describe("the synth's TypeScript loader", () => {
    it("runs TypeScript, caches the result, and compiles a changed file again", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "transpile-"));
        const file = path.join(dir, "main.ts");
        const unique = String(process.pid);
        fs.writeFileSync(file, `const greeting: string = "first ${unique}";\nconsole.log(greeting);\n`);
        const before = 0;
        expect(run(file)).toBe(`first ${unique}`);
        expect(fs.readdirSync(CACHE).length).toBe(before + 1);
        expect(run(file)).toBe(`first ${unique}`);
        expect(fs.readdirSync(CACHE).length).toBe(before + 1);

        fs.writeFileSync(file, `const greeting: string = "second ${unique}";\nconsole.log(greeting);\n`);
        expect(run(file)).toBe(`second ${unique}`);
        expect(fs.readdirSync(CACHE).length).toBe(before + 2);
    });
});
