/**
 * `npm test`: the static checks (types, lint and format, generated docs) one after another, and every
 * jest test beside them; each step's wall time and the total are printed, and the first failing step's
 * exit code (in the order printed) is the result. Arguments after `--` go to jest (`npm test -- tests/config.test.ts`).
 * The static checks keep caches in `.cache/` (docs/development.md says what each keeps).
 */
import { spawn } from "node:child_process";

interface Step {
    readonly name: string;
    readonly command: readonly string[];
}

const STATIC: readonly Step[] = [
    { name: "typecheck and lint", command: ["npx", "tsx", "tools/test/checks.ts"] },
    { name: "docs", command: ["npm", "run", "--silent", "docs", "--", "--check"] },
];

/** Runs one step with its output shown as it comes; @returns its exit code and wall time. */
function run(step: Step): Promise<{ step: Step; code: number; ms: number }> {
    const started = performance.now();
    return new Promise((resolve) => {
        const child = spawn(step.command[0], step.command.slice(1), { stdio: "inherit" });
        child.on("close", (code) => resolve({ step, code: code ?? 1, ms: performance.now() - started }));
    });
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main(jestArgs: readonly string[]): Promise<number> {
    const started = performance.now();
    // Jest spreads over the CPUs; the static checks run one at a time beside it, so at most one of them competes with
    // jest's workers (they finish long before jest does either way: docs/performance.md).
    const staticChecks = async () => {
        const done = [];
        for (const step of STATIC) {
            done.push(await run(step));
        }
        return done;
    };
    const [checked, jest] = await Promise.all([staticChecks(), run({ name: "jest", command: ["npx", "jest", ...jestArgs] })]);
    const results = [...checked, jest];
    for (const { step, code, ms } of results) {
        console.log(`test: ${step.name} ${code === 0 ? "passed" : `failed (exit ${code})`} in ${seconds(ms)}`);
    }
    console.log(`test: done in ${seconds(performance.now() - started)} (wall)`);
    return results.find((result) => result.code !== 0)?.code ?? 0;
}

void main(process.argv.slice(2)).then((code) => process.exit(code));
