/**
 * The end-to-end lane's steps, in the order `npm run e2e` runs them, and its command line. Pure: the
 * steps' work is in tools/e2e/lane.ts. The GitHub workflow (.github/workflows/e2e.yml) runs the same
 * steps one by one (`npm run e2e -- <step>`), so a laptop runs what CI runs.
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { optionTypos } from "../../bootstrap/command";
import { closest } from "../../components/common/spelling";

export interface StepInfo {
    readonly name: string;
    /** What it does, for `--help` and the report. */
    readonly what: string;
    /** Runs in a full run even after an earlier step failed (the clean-up and the report). */
    readonly always?: true;
}

/** Every step, in order. */
export const STEPS: readonly StepInfo[] = [
    { name: "tools", what: "install the pinned kind, kubectl, Helm and Pulumi CLI into the work directory" },
    { name: "clusters", what: "create one kind cluster per region, all on one Docker network" },
    { name: "platform", what: "in every cluster: cert-manager with a CA ClusterIssuer, and ingress-nginx passing TLS through" },
    { name: "dns", what: "make every cluster resolve every region's Vault host to that region's ingress node" },
    {
        name: "project",
        what: "copy this checkout with generated stack files; create the replicated secrets' namespaces and the cluster-written sources",
    },
    { name: "backend", what: "a local Pulumi backend in the work directory, with a generated passphrase" },
    { name: "keys", what: "operators' PGP keys (gpg, batch mode) for the unseal keys and the root token" },
    {
        name: "bootstrap",
        what: "npm run bootstrap -- --non-interactive --verify, unsealing with the decrypted keys whenever it stops for them",
    },
    {
        name: "checks",
        what: "every Vault server unsealed; every store, ExternalSecret and PushSecret Ready; the seed's secret the same everywhere",
    },
    { name: "propagation", what: "time writes of every replicated secret in every region that may write it, against the model's bound" },
    { name: "idempotence", what: "pulumi preview --expect-no-changes for every region" },
    { name: "policy", what: "pulumi preview with the policy pack for every region" },
    {
        name: "restore",
        what: "snapshot the last region's Vault, delete its cluster, make a new one, npm run restore, then checks and propagation again",
    },
    {
        name: "teardown",
        what: "pulumi destroy and stack rm for every region, check the backend holds no stack, delete the clusters",
        always: true,
    },
    { name: "summary", what: "the job summary and the JSON report", always: true },
];

/** The shell scripts steps run, relative to the repository. */
export const SCRIPTS = {
    tools: "scripts/e2e/install-tools.sh",
    clusters: "scripts/e2e/clusters.sh",
    ca: "scripts/e2e/ca.sh",
    platform: "scripts/e2e/platform.sh",
} as const;

export const DEFAULT_WRITES = 5;

export const USAGE = "usage: npm run e2e -- [STEP...] [--work-dir DIR] [--writes N] [--keep]";

export function help(): string {
    const width = Math.max(...STEPS.map((s) => s.name.length));
    return `${USAGE}

The end-to-end lane (docs/e2e.md): two kind clusters as two regions, the real charts, the project's
bootstrap, checks and measured propagation, one region restored from its snapshot, then tear-down. With no STEP it runs every step in order;
after a failure it still runs ${STEPS.filter((s) => s.always)
        .map((s) => s.name)
        .join(" and ")}. With STEPs it runs only those, in the order given, against what
earlier runs left in the work directory.

Steps:
${STEPS.map((s) => `  ${s.name.padEnd(width)}  ${s.what}`).join("\n")}

Options:
      --work-dir DIR   where the lane keeps its state (default: $E2E_WORK_DIR, else .e2e/ in this checkout)
      --writes N       timed writes per secret and writing region (default: $E2E_WRITES, else ${DEFAULT_WRITES})
      --keep           a full run keeps the clusters and stacks (skips teardown), to look at them or rerun steps
  -h, --help           show this help

Needs Docker, Node.js (.nvmrc), curl, openssl and gpg; the tools step installs the rest at the
versions of scripts/e2e/versions.env.`;
}

export interface LaneArgs {
    readonly steps: readonly string[];
    /** Whether every step was asked for (no STEP given): then a failure skips to the always-steps. */
    readonly full: boolean;
    readonly workDir: string;
    readonly writes: number;
    readonly keep: boolean;
}

/**
 * Reads the command line. @returns the arguments, or the exit code once it has printed why not (2 for
 * a bad argument, with the usage; 0 after the help)
 */
export function parseLaneArgs(
    argv: readonly string[],
    defaults: { readonly repoDir: string; readonly env: Readonly<Record<string, string | undefined>> },
    print: { readonly out: (text: string) => void; readonly err: (text: string) => void },
): LaneArgs | number {
    const options = {
        "work-dir": { type: "string" },
        writes: { type: "string" },
        keep: { type: "boolean" },
        help: { type: "boolean", short: "h" },
    } as const;
    const fail = (lines: readonly string[]) => {
        print.err(`${lines.map((line) => `error: ${line}`).join("\n")}\n${USAGE}`);
        return 2;
    };
    const typos = optionTypos(argv, options);
    if (typos.length > 0) {
        return fail(typos);
    }
    let parsed;
    try {
        parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
    } catch (error) {
        return fail([(error as Error).message]);
    }
    const { values, positionals } = parsed;
    if (values.help === true) {
        print.out(help());
        return 0;
    }
    const names = STEPS.map((s) => s.name);
    const problems = positionals
        .filter((step) => !names.includes(step))
        .map((step) => {
            const suggestion = closest(step, names);
            return `unknown step ${step}${suggestion === undefined ? "" : ` (did you mean ${suggestion}?)`}; the steps are ${names.join(", ")}`;
        });
    // --writes, else E2E_WRITES (how the workflow passes its input), else the default.
    const given = values.writes ?? (defaults.env.E2E_WRITES === "" ? undefined : defaults.env.E2E_WRITES);
    const writes = given === undefined ? DEFAULT_WRITES : /^\d+$/.test(given) ? Number(given) : Number.NaN;
    if (!(writes >= 1)) {
        problems.push(`${values.writes === undefined ? "E2E_WRITES" : "--writes"} ${given} must be a whole number of at least 1`);
    }
    if (problems.length > 0) {
        return fail(problems);
    }
    const workDir = values["work-dir"] ?? defaults.env.E2E_WORK_DIR ?? path.join(defaults.repoDir, ".e2e");
    const full = positionals.length === 0;
    const keep = values.keep === true;
    return {
        steps: full ? names.filter((name) => !(keep && name === "teardown")) : positionals,
        full,
        workDir: path.resolve(workDir),
        writes,
        keep,
    };
}
