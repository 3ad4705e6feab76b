/**
 * The synth of one commit, by that commit's own code: a temporary `git worktree` of the repository at
 * the commit, its dependencies (the current checkout's `node_modules` linked when `package-lock.json`
 * is the same, else `npm ci`), then that commit's `tools/synth/cli.ts --out DIR` run inside it (with
 * tsx when the commit's package.json has it, else with ts-node as older commits did). The CLI reads
 * the files it writes. The worktree is always removed.
 */
import { type SpawnOptions, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { readProject } from "../../stack/projectFiles";

/** A failure to report as one line (which ref, what went wrong); the CLI exits 1 with it. */
export class SynthDiffError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "SynthDiffError";
    }
}

/** Runs git in `dir`; returns its trimmed stdout. @throws Error with git's first stderr line */
export function git(dir: string, args: readonly string[]): string {
    try {
        return execFileSync("git", ["-C", dir, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
    } catch (error) {
        const { stderr } = error as { stderr?: string | Buffer };
        const text = (stderr === undefined ? "" : stderr.toString()).trim();
        throw new Error(text.split("\n")[0] || (error as Error).message);
    }
}

/** The top directory of the git repository `dir` is in. @throws SynthDiffError when it is in none */
export function repositoryRoot(dir: string): string {
    if (!fs.existsSync(dir)) {
        throw new SynthDiffError(`--repo ${dir} does not exist`);
    }
    try {
        return fs.realpathSync(git(dir, ["rev-parse", "--show-toplevel"]));
    } catch {
        throw new SynthDiffError(`--repo ${dir} is not in a git repository`);
    }
}

/** The commit `ref` names in `repo`. @throws SynthDiffError naming the option when there is none */
export function resolveCommit(repo: string, ref: string, option: string): string {
    try {
        // `--end-of-options` keeps a ref that starts with "-" from being read as an option.
        return git(repo, ["rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`]);
    } catch {
        let hint = "";
        try {
            hint =
                git(repo, ["rev-parse", "--is-shallow-repository"]) === "true"
                    ? " (this is a shallow clone: fetch the full history, e.g. actions/checkout with fetch-depth: 0)"
                    : "";
        } catch {
            // No hint, then.
        }
        throw new SynthDiffError(`${option} ${JSON.stringify(ref)} is not a commit in ${repo}${hint}`);
    }
}

/**
 * The files of the repository's working tree that differ from its checked-out commit: tracked files
 * modified, added, deleted or renamed, and untracked files that .gitignore does not exclude. The synth
 * diff compares commits, so none of these is part of it.
 * @throws SynthDiffError when git cannot tell
 */
export function uncommittedFiles(repo: string): string[] {
    let status: string;
    try {
        // -z: paths as they are (no quoting), NUL-separated; a rename's entry is followed by its old path.
        status = execFileSync("git", ["-C", repo, "status", "--porcelain=v1", "-z", "--untracked-files=all"], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
        });
    } catch (error) {
        throw new SynthDiffError(`cannot read the status of ${repo}: ${(error as Error).message.split("\n")[0]}`);
    }
    const entries = status.split("\0");
    const files: string[] = [];
    for (let i = 0; i < entries.length; i++) {
        const entry = entries[i];
        if (entry.length < 4) {
            continue;
        }
        files.push(entry.slice(3));
        if (/[RC]/.test(entry.slice(0, 2))) {
            i++; // the old path of a rename or copy
        }
    }
    return files;
}

/** How a worktree gets its dependencies. */
export type DependencyPlan =
    | { readonly action: "none"; readonly reason: string }
    | { readonly action: "link"; readonly from: string; readonly reason: string }
    | { readonly action: "install"; readonly reason: string };

function readIfExists(file: string): Buffer | undefined {
    return fs.existsSync(file) ? fs.readFileSync(file) : undefined;
}

/**
 * Whether the project in `worktree` can use the `node_modules` of the project in `checkout` (the same
 * `package-lock.json`, byte for byte, and a `node_modules` there), or must install its own.
 */
export function dependencyPlan(checkout: string, worktree: string): DependencyPlan {
    if (!fs.existsSync(path.join(worktree, "package.json"))) {
        return { action: "none", reason: "no package.json" };
    }
    const lock = readIfExists(path.join(worktree, "package-lock.json"));
    const current = readIfExists(path.join(checkout, "package-lock.json"));
    const modules = path.join(checkout, "node_modules");
    if (lock === undefined) {
        return { action: "install", reason: "it has no package-lock.json" };
    }
    if (current === undefined || !lock.equals(current)) {
        return { action: "install", reason: "its package-lock.json differs from the current checkout's" };
    }
    if (!fs.existsSync(modules)) {
        return { action: "install", reason: `the current checkout has no node_modules (run npm ci in ${checkout})` };
    }
    return { action: "link", from: fs.realpathSync(modules), reason: "the same package-lock.json as the current checkout" };
}

/**
 * Runs a command, passing each line it prints on stderr, and each line on stdout that `showStdout`
 * accepts, to `progress`, and keeping the last lines of both.
 * @returns the exit code (or 1 when killed by a signal) and the last lines
 */
export function run(
    command: string,
    args: readonly string[],
    options: SpawnOptions,
    progress: (line: string) => void,
    showStdout: (line: string) => boolean = () => true,
): Promise<{ code: number; lines: string[] }> {
    return new Promise((resolve) => {
        const lines: string[] = [];
        const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
        const collect = (stream: NodeJS.ReadableStream | null, show: (line: string) => boolean) => {
            let rest = "";
            const take = (line: string) => {
                lines.push(line);
                lines.splice(0, Math.max(0, lines.length - 200));
                if (show(line)) {
                    progress(line);
                }
            };
            stream?.setEncoding("utf8");
            stream?.on("data", (data: string) => {
                const parts = (rest + data).split("\n");
                rest = parts.pop() ?? "";
                parts.forEach(take);
            });
            stream?.on("end", () => {
                if (rest !== "") {
                    take(rest);
                }
            });
        };
        collect(child.stdout, showStdout);
        collect(child.stderr, () => true);
        child.on("error", (error) => {
            lines.push(`error: ${error.message}`);
            resolve({ code: 1, lines });
        });
        child.on("close", (code) => resolve({ code: code ?? 1, lines }));
    });
}

/** Why a synth failed, in one line: the first `error:` line it printed, else its last line. */
export function failureReason(lines: readonly string[]): string {
    const error = lines.find((line) => line.startsWith("error: "));
    const last = [...lines].reverse().find((line) => line.trim() !== "");
    return (error?.slice("error: ".length) ?? last ?? "no output").trim();
}

/** The stacks of `names` that have a stack file in the project in `dir` (honouring `stackConfigDir`). */
export function existingStacks(dir: string, names: readonly string[]): string[] {
    let known: readonly string[];
    try {
        known = readProject(dir).stacks;
    } catch {
        // The synth reports a missing or broken project itself.
        return [...names];
    }
    return names.filter((name) => known.includes(name));
}

/**
 * The stacks of the project at `commit`: the `Pulumi.<stack>.yaml` files committed in its stack
 * directory (`stackConfigDir` of the commit's `Pulumi.yaml`, else the project directory), sorted, read
 * from git without a worktree. Undefined when the commit has no readable `Pulumi.yaml` there (its
 * synth then says what is wrong).
 */
export function stacksAtCommit(repo: string, commit: string, projectPath: string): string[] | undefined {
    const at = (file: string) => path.posix.join(projectPath.split(path.sep).join("/"), file);
    let project: unknown;
    try {
        project = parse(git(repo, ["show", `${commit}:${at("Pulumi.yaml")}`])) as unknown;
    } catch {
        return undefined;
    }
    const configDir =
        typeof project === "object" && project !== null ? (project as { stackConfigDir?: unknown }).stackConfigDir : undefined;
    const stackDir = at(typeof configDir === "string" ? configDir : ".");
    let listing: string;
    try {
        listing = git(repo, ["ls-tree", "--name-only", "--full-tree", commit, "--", stackDir === "." ? "." : `${stackDir}/`]);
    } catch {
        return undefined;
    }
    const names = listing
        .split("\n")
        .map((file) => /^Pulumi\.(.+)\.ya?ml$/.exec(path.posix.basename(file))?.[1])
        .filter((name): name is string => name !== undefined);
    return [...new Set(names)].sort();
}

export interface SynthAtCommit {
    /** The repository's top directory. */
    readonly repo: string;
    /** The project's directory relative to `repo` ("" for the top), in the checkout and in the worktree. */
    readonly projectPath: string;
    readonly commit: string;
    /** Which side this is, and how to name it in messages: `base main (1a2b3c4)`. */
    readonly side: string;
    readonly label: string;
    /** Where to create the worktree; must not exist. */
    readonly worktree: string;
    /** Where the synth writes. */
    readonly out: string;
    /** Only these stacks (those of them that exist at the commit); undefined for every stack. */
    readonly stacks?: readonly string[];
    readonly env: NodeJS.ProcessEnv;
    readonly progress: (line: string) => void;
}

/** The synth's entry point, relative to the project directory. */
export const SYNTH_CLI = path.join("tools", "synth", "cli.ts");

/** How to run a commit's synth: the program, and the arguments before the synth's own. */
export interface SynthCommand {
    readonly command: string;
    readonly args: readonly string[];
    /** How it is run, for messages: `tsx` or `ts-node`. */
    readonly runner: "tsx" | "ts-node";
}

/**
 * How to run the synth of the project in `dir`, by what its package.json declares: `npx tsx` (never
 * downloading it) when it has tsx, as the project's scripts do since they moved to it; otherwise
 * `node -r ts-node/register/transpile-only`, as the synth was run before.
 */
export function synthCommand(dir: string): SynthCommand {
    let declared: Record<string, unknown> = {};
    try {
        const manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as Record<string, unknown>;
        declared = {
            ...(manifest.devDependencies as Record<string, unknown> | undefined),
            ...(manifest.dependencies as Record<string, unknown> | undefined),
        };
    } catch {
        // No (readable) package.json: the older way, whose failure then says what is missing.
    }
    if (Object.hasOwn(declared, "tsx")) {
        return { command: process.platform === "win32" ? "npx.cmd" : "npx", args: ["--no", "--", "tsx", SYNTH_CLI], runner: "tsx" };
    }
    return { command: process.execPath, args: ["-r", "ts-node/register/transpile-only", SYNTH_CLI], runner: "ts-node" };
}

/**
 * Removes a worktree made by {@link synthAtCommit}: the `node_modules` link first (never what it points
 * to), then the worktree and git's record of it. Never throws.
 */
export function removeWorktree(repo: string, worktree: string, projectPath: string): void {
    const link = path.join(worktree, projectPath, "node_modules");
    try {
        if (fs.lstatSync(link).isSymbolicLink()) {
            fs.unlinkSync(link);
        }
    } catch {
        // No link.
    }
    try {
        git(repo, ["worktree", "remove", "--force", worktree]);
    } catch {
        // Not (or no longer) a worktree: remove what is left, and git's record of it.
    }
    fs.rmSync(worktree, { recursive: true, force: true });
    try {
        git(repo, ["worktree", "prune"]);
    } catch {
        // Nothing to prune.
    }
}

/**
 * Synthesizes the project at `commit` with that commit's own synth, into `out`.
 * @returns false when none of the requested stacks exists at the commit (nothing was synthesized)
 * @throws SynthDiffError naming the side when the worktree, the dependencies or the synth fail
 */
export async function synthAtCommit(job: SynthAtCommit): Promise<boolean> {
    const { progress, side, label } = job;
    progress(`${label}: creating a worktree at ${job.worktree}`);
    try {
        git(job.repo, ["worktree", "add", "--detach", "--force", job.worktree, job.commit]);
    } catch (error) {
        throw new SynthDiffError(`cannot create a worktree for ${label}: ${(error as Error).message}`);
    }
    try {
        const project = path.join(job.worktree, job.projectPath);
        if (!fs.existsSync(path.join(project, SYNTH_CLI))) {
            throw new SynthDiffError(`synth failed at ${label}: it has no ${path.join(job.projectPath, SYNTH_CLI)}`);
        }
        const stacks = job.stacks === undefined ? undefined : existingStacks(project, job.stacks);
        if (stacks !== undefined && stacks.length === 0) {
            progress(`${label}: none of the stacks ${job.stacks?.join(", ")} exists here; nothing to synthesize`);
            return false;
        }
        const plan = dependencyPlan(path.join(job.repo, job.projectPath), project);
        if (plan.action === "link") {
            progress(`${label}: linking node_modules from ${plan.from} (${plan.reason})`);
            fs.symlinkSync(plan.from, path.join(project, "node_modules"), "junction");
        } else if (plan.action === "install") {
            progress(`${label}: npm ci (${plan.reason})`);
            const npm = process.platform === "win32" ? "npm.cmd" : "npm";
            const install = await run(npm, ["ci", "--no-audit", "--no-fund"], { cwd: project, env: job.env }, (line) =>
                progress(`  [${side} npm] ${line}`),
            );
            if (install.code !== 0) {
                throw new SynthDiffError(`installing dependencies failed at ${label}: ${failureReason(install.lines)}`);
            }
        }
        const synthRun = synthCommand(project);
        progress(`${label}: synthesizing${stacks === undefined ? "" : ` ${stacks.join(", ")}`} (${synthRun.runner} ${SYNTH_CLI})`);
        const args = [...synthRun.args, "--out", job.out, ...(stacks ?? []).flatMap((s) => ["--stack", s])];
        // The Node that runs this command runs the synth too (npx's `node` is the first on PATH).
        const env = {
            ...job.env,
            PATH: [path.dirname(process.execPath), job.env.PATH].filter((p) => p !== undefined && p !== "").join(path.delimiter),
        };
        const synth = await run(
            synthRun.command,
            args,
            { cwd: project, env },
            (line) => progress(`  [${side}] ${line}`),
            (line) =>
                // The synth's summary per stack, not its table of resource types.
                /^stack |^ {2}(warning|reads outputs of):/.test(line),
        );
        if (synth.code !== 0) {
            throw new SynthDiffError(`synth failed at ${label}: ${failureReason(synth.lines)}`);
        }
        return true;
    } finally {
        progress(`${label}: removing the worktree`);
        removeWorktree(job.repo, job.worktree, job.projectPath);
    }
}
