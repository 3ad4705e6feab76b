/**
 * The projects the bench synthesizes, written to a scratch directory: this project with N replicated
 * secrets in both region stacks, and the baseline with a given number of plain resources per stack.
 * Both reuse this repository's programs (Pulumi.yaml `main` points back here), so nothing is copied.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";

const REPO = path.resolve(__dirname, "..", "..");
const REGIONS = ["region1", "region2"] as const;

/** One generated entry of `replicatedSecrets`, like the shipped `db-credentials` example. */
export function generatedSecret(i: number): Record<string, unknown> {
    return {
        name: `secret-${i}`,
        namespace: "bench",
        keys: ["password"],
        mode: "vault-written",
        home: "region1",
        initialValue: "generate",
    };
}

/**
 * Writes this project with `secrets` replicated secrets in each region stack (the shipped stack files,
 * with their `replicatedSecrets` replaced) into `dir`. @returns the project directory
 */
export function writeProject(dir: string, secrets: number): string {
    fs.mkdirSync(dir, { recursive: true });
    const project = parse(fs.readFileSync(path.join(REPO, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), stringify({ ...project, main: path.join(REPO, "index.ts") }));
    for (const region of REGIONS) {
        const stack = parse(fs.readFileSync(path.join(REPO, `Pulumi.${region}.yaml`), "utf8")) as { config: Record<string, unknown> };
        stack.config["openova-vault:replicatedSecrets"] = Array.from({ length: secrets }, (_, i) => generatedSecret(i));
        fs.writeFileSync(path.join(dir, `Pulumi.${region}.yaml`), stringify(stack));
    }
    return dir;
}

/** Writes the baseline project, registering `counts[stack]` plain resources in each stack, into `dir`. */
export function writeBaseline(dir: string, counts: Readonly<Record<string, number>>): string {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
        path.join(dir, "Pulumi.yaml"),
        stringify({
            name: "openova-bench",
            runtime: { name: "nodejs", options: { typescript: true } },
            main: path.join(__dirname, "baseline", "index.ts"),
        }),
    );
    for (const [stack, count] of Object.entries(counts)) {
        fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), stringify({ config: { "openova-bench:count": count } }));
    }
    return dir;
}
