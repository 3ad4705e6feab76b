/**
 * What the bootstrap needs before it changes anything, each checked on its own so that the operator
 * gets one line per missing thing: the `pulumi` CLI and a logged-in backend (the Automation API drives
 * the CLI), and a kubeconfig context for every region (the one its stack deploys to).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";

/** Runs a command; @returns its exit code and output, or undefined when it cannot be started (not installed). */
export type Run = (command: string, args: readonly string[]) => { readonly status: number; readonly output: string } | undefined;

export const runCommand: Run = (command, args) => {
    const result = spawnSync(command, [...args], { encoding: "utf8", timeout: 30_000 });
    if (result.error !== undefined) {
        return undefined;
    }
    return { status: result.status ?? 1, output: `${result.stdout}${result.stderr}`.trim() };
};

/** The contexts of the kubeconfig files in `KUBECONFIG` (or `~/.kube/config`). */
export function kubeContexts(
    environment: NodeJS.ProcessEnv = process.env,
    readFile: (file: string) => string | undefined = readIfExists,
): string[] {
    const files = (environment.KUBECONFIG ?? path.join(os.homedir(), ".kube", "config"))
        .split(path.delimiter)
        .filter((file) => file !== "");
    return files.flatMap((file) => {
        const text = readFile(file);
        if (text === undefined) {
            return [];
        }
        const config = parse(text) as { contexts?: { name?: unknown }[] } | null;
        return (config?.contexts ?? []).map((context) => context.name).filter((name): name is string => typeof name === "string");
    });
}

function readIfExists(file: string): string | undefined {
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
}

export interface PrerequisiteInput {
    /** The kubeconfig context each region's stack deploys to. */
    readonly contexts: Readonly<Record<string, string>>;
    readonly run?: Run;
    readonly environment?: NodeJS.ProcessEnv;
    readonly readFile?: (file: string) => string | undefined;
}

/** @returns one line per missing prerequisite, each saying how to fix it; empty when all are there */
export function missingPrerequisites(input: PrerequisiteInput): string[] {
    const run = input.run ?? runCommand;
    const problems: string[] = [];
    const version = run("pulumi", ["version"]);
    if (version === undefined) {
        problems.push(
            "the pulumi CLI is not installed or not on PATH: install it (https://www.pulumi.com/docs/iac/download-install/), the Automation API drives it",
        );
    } else {
        const whoami = run("pulumi", ["whoami"]);
        if (whoami === undefined || whoami.status !== 0) {
            problems.push(
                "pulumi is not logged in to a backend: run `pulumi login` (Pulumi Cloud, or a self-managed backend such as `pulumi login s3://<bucket>`)",
            );
        }
    }
    const known = new Set(kubeContexts(input.environment, input.readFile));
    for (const [region, context] of Object.entries(input.contexts)) {
        if (!known.has(context)) {
            problems.push(
                `region ${region}: no kubeconfig context "${context}" (its stack's openova-vault:kubeContext): add it to your kubeconfig${known.size > 0 ? ` (contexts: ${[...known].sort().join(", ")})` : " (none found in KUBECONFIG or ~/.kube/config)"}`,
            );
        }
    }
    return problems;
}
