/**
 * `npm run synth-diff -- --base REF --head REF [--repo DIR] [--out FILE] [--stack NAME]...`
 * `npm run synth-diff -- --base-dir DIR --head-dir DIR [--out FILE] [--stack NAME]...`
 *
 * What a change does to what the stacks declare: the offline synth (`npm run synth`) of the base and
 * the head, each by its own commit's code in a temporary git worktree, compared and rendered as
 * Markdown for a pull-request comment (tools/synthDiff/diff.ts). The pull-request workflow posts it.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseCommandLine, runCommand } from "../../bootstrap/command";
import { type StackFiles, type SynthResourceRecord, type SynthTree, compareStrings, diffSynth, renderMarkdown } from "./diff";
import { closestNames } from "../../components/common/spelling";
import { SynthDiffError, removeWorktree, repositoryRoot, resolveCommit, stacksAtCommit, synthAtCommit, uncommittedFiles } from "./worktree";

const USAGE =
    "usage: npm run synth-diff -- (--base REF | --base-dir DIR) (--head REF | --head-dir DIR) [--repo DIR] [--out FILE] [--stack NAME]...";

const HELP = `${USAGE}

Synthesizes the project's stacks offline at two commits, each with that commit's own code and
tools/synth, and writes what changed (resources added, removed and changed, with the changed input
paths; outputs; Kubernetes manifests as a unified diff) as Markdown for a pull-request comment.

Options:
      --base REF       the commit to compare from (a branch, tag or SHA of --repo)
      --head REF       the commit to compare to
      --base-dir DIR   instead of --base: an existing synth output (npm run synth -- --out DIR)
      --head-dir DIR   instead of --head: an existing synth output
      --repo DIR       the git repository (default: the current directory); its checkout's
                       node_modules is linked into each worktree whose package-lock.json is the
                       same, other worktrees get their own \`npm ci --no-audit --no-fund\`
      --out FILE       write the Markdown here (default: standard output)
  -s, --stack NAME     compare only this stack (repeatable; default: every stack)
  -h, --help           show this help

Relative paths are relative to the current directory; under \`npm run\`, that is the package root.
Progress goes to standard error. The worktrees are temporary and always removed.
Exit codes: 0 written (changes or not); 1 a ref is not a commit, or a synth failed (the message says
which side); 2 bad arguments.`;

function readJson(file: string): unknown {
    try {
        return JSON.parse(fs.readFileSync(file, "utf8")) as unknown;
    } catch (error) {
        throw new SynthDiffError(`${file}: cannot read it as JSON: ${(error as Error).message.split("\n")[0]}`);
    }
}

/**
 * A synth output directory: each subdirectory with a `resources.json` is a stack (`outputs.json` and
 * `manifests.yaml` default to empty when an older synth did not write them).
 * @param stacks only these stacks; undefined for all
 */
export function readSynthDir(dir: string, stacks?: readonly string[]): SynthTree {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
        throw new SynthDiffError(`${dir} is not a directory of synth output`);
    }
    const tree = new Map<string, StackFiles>();
    const names = fs
        .readdirSync(dir)
        .filter((name) => fs.existsSync(path.join(dir, name, "resources.json")))
        .filter((name) => stacks === undefined || stacks.includes(name))
        .sort(compareStrings);
    for (const name of names) {
        const resources = readJson(path.join(dir, name, "resources.json"));
        if (!Array.isArray(resources)) {
            throw new SynthDiffError(`${path.join(dir, name, "resources.json")}: expected a list of resources`);
        }
        const outputsFile = path.join(dir, name, "outputs.json");
        const outputs = fs.existsSync(outputsFile) ? readJson(outputsFile) : {};
        const manifestsFile = path.join(dir, name, "manifests.yaml");
        tree.set(name, {
            resources: resources as SynthResourceRecord[],
            outputs: typeof outputs === "object" && outputs !== null && !Array.isArray(outputs) ? (outputs as Record<string, unknown>) : {},
            manifests: fs.existsSync(manifestsFile) ? fs.readFileSync(manifestsFile, "utf8") : "",
        });
    }
    return tree;
}

/** One side of the comparison: a commit to synthesize, or a synth output that exists. */
type Side =
    | { readonly kind: "ref"; readonly name: "base" | "head"; readonly ref: string }
    | { readonly kind: "dir"; readonly name: "base" | "head"; readonly dir: string };

/** How a commit is named in the comment and in messages: the ref and its short SHA. */
function commitLabel(ref: string, commit: string): string {
    const short = commit.slice(0, 7);
    return /^[0-9a-f]{7,40}$/i.test(ref) && commit.startsWith(ref.toLowerCase()) ? short : `${ref} (${short})`;
}

function sideFrom(name: "base" | "head", ref: string | undefined, dir: string | undefined): Side | string {
    if ((ref === undefined) === (dir === undefined)) {
        return `give exactly one of --${name} REF and --${name}-dir DIR`;
    }
    return ref !== undefined ? { kind: "ref", name, ref } : { kind: "dir", name, dir: path.resolve(dir as string) };
}

const OPTIONS = {
    base: { type: "string" },
    head: { type: "string" },
    "base-dir": { type: "string" },
    "head-dir": { type: "string" },
    repo: { type: "string", default: "." },
    out: { type: "string" },
    stack: { type: "string", multiple: true, short: "s" },
} as const;

/**
 * Runs the CLI with `argv` (the arguments after the script): Markdown to `--out` or stdout, progress
 * and errors to stderr.
 * @returns the process exit code
 */
export async function main(argv: readonly string[]): Promise<number> {
    const values = parseCommandLine(argv, OPTIONS, USAGE, HELP);
    if (typeof values === "number") {
        return values;
    }
    const sides = [sideFrom("base", values.base, values["base-dir"]), sideFrom("head", values.head, values["head-dir"])];
    const problems = sides.filter((s): s is string => typeof s === "string");
    if (problems.length > 0) {
        for (const problem of problems) {
            console.error(`error: ${problem}`);
        }
        console.error(USAGE);
        return 2;
    }
    const stacks = values.stack;
    const progress = (line: string) => console.error(`synth-diff: ${line}`);
    const started = Date.now();
    const cleanups: (() => void)[] = [];
    const onSignal = (signal: NodeJS.Signals) => {
        progress(`${signal}: cleaning up`);
        cleanups.forEach((cleanup) => cleanup());
        process.exit(signal === "SIGINT" ? 130 : 143);
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
        const gitSides = (sides as Side[]).filter((s) => s.kind === "ref");
        const repo = gitSides.length > 0 ? repositoryRoot(path.resolve(values.repo)) : "";
        // The project may sit below the repository's top; it sits at the same place in each worktree.
        const projectPath = repo === "" ? "" : path.relative(repo, fs.realpathSync(path.resolve(values.repo)));
        if (repo !== "") {
            const uncommitted = uncommittedFiles(repo).length;
            if (uncommitted > 0) {
                const files = uncommitted === 1 ? "1 file has" : `${uncommitted} files have`;
                console.error(
                    `warning: ${files} uncommitted changes in ${repo} (git status); they are not part of the comparison, which is of committed revisions only`,
                );
            }
        }
        // Both refs first: a typo fails before anything is synthesized.
        const commits = new Map(gitSides.map((s) => [s.name, resolveCommit(repo, s.ref, `--${s.name}`)]));

        // Each side's stacks, before anything is synthesized: a stack asked for that neither side has
        // is a typo, refused at once rather than after two synths.
        const dirTrees = new Map((sides as Side[]).flatMap((s) => (s.kind === "dir" ? [[s.name, readSynthDir(s.dir)] as const] : [])));
        const listed = (sides as Side[]).map((s) =>
            s.kind === "dir" ? [...(dirTrees.get(s.name)?.keys() ?? [])] : stacksAtCommit(repo, commits.get(s.name) as string, projectPath),
        );
        // A commit whose stacks cannot be listed (no Pulumi.yaml) fails its synth with the reason.
        const known = [...new Set(listed.flatMap((names) => names ?? []))].sort(compareStrings);
        const unknown = listed.some((names) => names !== undefined) ? (stacks ?? []).filter((stack) => !known.includes(stack)) : [];
        if (unknown.length > 0) {
            throw new SynthDiffError(
                unknown
                    .map((stack) => {
                        const near = closestNames(stack, known);
                        return `--stack ${stack}: neither side has a stack of that name${near.length > 0 ? ` (did you mean ${near.join(" or ")}?)` : ""}; stacks: ${known.join(", ") || "none"}`;
                    })
                    .join("\nerror: "),
            );
        }

        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "synth-diff-run-"));
        // One worktree path for both commits, one after the other.
        const worktree = path.join(tmp, "worktree");
        cleanups.push(() => {
            if (repo !== "") {
                removeWorktree(repo, worktree, projectPath);
            }
            fs.rmSync(tmp, { recursive: true, force: true });
        });
        const trees = new Map<string, SynthTree>();
        const labels = new Map<string, string>();
        for (const side of sides as Side[]) {
            if (side.kind === "dir") {
                labels.set(side.name, path.relative(process.cwd(), side.dir) || ".");
                trees.set(side.name, dirTrees.get(side.name) as SynthTree);
                continue;
            }
            const commit = commits.get(side.name) as string;
            const label = commitLabel(side.ref, commit);
            labels.set(side.name, label);
            const out = path.join(tmp, `${side.name}-synth`);
            const synthesized = await synthAtCommit({
                repo,
                projectPath,
                commit,
                side: side.name,
                label: `${side.name} ${label}`,
                worktree,
                out,
                stacks,
                env: process.env,
                progress,
            });
            trees.set(side.name, synthesized ? readSynthDir(out) : new Map());
        }
        for (const [name, tree] of trees) {
            trees.set(name, new Map([...tree].filter(([stack]) => stacks === undefined || stacks.includes(stack))));
        }
        const refArgs = (sides as Side[]).map((s) => (s.kind === "ref" ? `--${s.name} ${s.ref}` : `--${s.name}-dir ${labels.get(s.name)}`));
        const markdown = renderMarkdown(diffSynth(trees.get("base") as SynthTree, trees.get("head") as SynthTree), {
            baseLabel: labels.get("base") as string,
            headLabel: labels.get("head") as string,
            fullCommand: ["npm run synth-diff --", ...refArgs, ...(stacks ?? []).map((s) => `--stack ${s}`)].join(" "),
        });
        if (values.out === undefined) {
            process.stdout.write(markdown);
        } else {
            const file = path.resolve(values.out);
            fs.mkdirSync(path.dirname(file), { recursive: true });
            fs.writeFileSync(file, markdown);
            progress(`wrote ${path.relative(process.cwd(), file) || file} (${markdown.length.toLocaleString("en-US")} characters)`);
        }
        progress(`done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
        return 0;
    } catch (error) {
        if (error instanceof SynthDiffError) {
            console.error(`error: ${error.message}`);
            return 1;
        }
        throw error;
    } finally {
        cleanups.forEach((cleanup) => cleanup());
        process.removeListener("SIGINT", onSignal);
        process.removeListener("SIGTERM", onSignal);
    }
}

if (require.main === module) {
    runCommand(main);
}
