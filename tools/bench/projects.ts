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

/** One run of a linked baseline stack: the plain resources it declares, and the value it exports to each reader. */
export interface BaselineRun {
    readonly count: number;
    readonly view: Readonly<Record<string, number>>;
}

/** What one baseline stack declares: `count` plain resources, or, when it reads peers, what `runs` says for what it read. */
export interface BaselineStack {
    readonly count: number;
    /** Stacks whose `view` output it reads, as a region reads its peers'; none: it reads no other stack. */
    readonly peers?: readonly string[];
    /** By what it read of its peers (`<peer>=<value or none>`, joined by commas). */
    readonly runs?: Readonly<Record<string, BaselineRun>>;
}

/** Writes the baseline project, with the stacks `stacks` describes, into `dir`. */
export function writeBaseline(dir: string, stacks: Readonly<Record<string, BaselineStack>>): string {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
        path.join(dir, "Pulumi.yaml"),
        stringify({
            name: "openova-bench",
            runtime: { name: "nodejs", options: { typescript: true } },
            main: path.join(__dirname, "baseline", "index.ts"),
        }),
    );
    for (const [stack, { count, peers, runs }] of Object.entries(stacks)) {
        const config: Record<string, unknown> = { "openova-bench:count": count };
        if (peers !== undefined && peers.length > 0) {
            config["openova-bench:peers"] = peers;
            config["openova-bench:runs"] = runs ?? {};
        }
        fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), stringify({ config }));
    }
    return dir;
}

/**
 * The linked baseline of a project whose synth ran `sequence`: each run of a stack declares as many
 * resources as the project's did (less its provider and a stack reference per peer), and changes the
 * value it exports to a reader only when that reader ran again after it (before this stack's next run),
 * so the synth runs each baseline stack when it ran the project's.
 */
export function linkedBaseline(sequence: readonly { readonly stack: string; readonly resources: number }[]): Record<string, BaselineStack> {
    const stacks = [...new Set(sequence.map((run) => run.stack))].sort();
    const peersOf = (stack: string) => stacks.filter((other) => other !== stack);
    const views = new Map<string, Record<string, number>>();
    const runs = new Map<string, Record<string, BaselineRun>>(stacks.map((stack) => [stack, {}]));
    const finalCount = new Map<string, number>();
    sequence.forEach((run, i) => {
        const peers = peersOf(run.stack);
        const read = peers.map((peer) => `${peer}=${views.get(peer)?.[run.stack] ?? "none"}`).join(",");
        const view = { ...(views.get(run.stack) ?? {}) };
        for (const reader of peers) {
            const next = sequence.findIndex((later, j) => j > i && later.stack === reader);
            if (next !== -1 && !sequence.slice(i + 1, next).some((later) => later.stack === run.stack)) {
                view[reader] = i;
            }
        }
        views.set(run.stack, view);
        const count = run.resources - 1 - peers.length;
        (runs.get(run.stack) as Record<string, BaselineRun>)[read] = { count, view };
        finalCount.set(run.stack, count);
    });
    return Object.fromEntries(
        stacks.map((stack) => [stack, { count: finalCount.get(stack) as number, peers: peersOf(stack), runs: runs.get(stack) }]),
    );
}
