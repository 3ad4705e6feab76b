/**
 * The GitHub Actions workflows: each parses as YAML and passes a real workflow validator
 * (`@action-validator/core`, GitHub's workflow schema), which rejects a misspelt key; the pull-request
 * workflow runs the tests and the very synth-diff script the tests exercise, with the PR's base and
 * head SHAs; the preview workflow runs `pulumi preview` for exactly the stacks this repository has.
 */
import { validateWorkflow } from "@action-validator/core";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { workDir } from "../tools/e2e/names";
import { parseLaneArgs, SCRIPTS, STEPS } from "../tools/e2e/steps";
import { main as synthDiff } from "../tools/synthDiff/cli";
import { SYNTH_DIFF_MARKER } from "../tools/synthDiff/diff";

const ROOT = path.resolve(__dirname, "..");
const WORKFLOWS = path.join(ROOT, ".github", "workflows");

interface Step {
    name?: string;
    id?: string;
    if?: string;
    uses?: string;
    run?: string;
    with?: Record<string, unknown>;
    env?: Record<string, string>;
}

interface Job {
    name?: string;
    if?: string;
    "runs-on": string;
    permissions?: Record<string, string>;
    strategy?: { "fail-fast"?: boolean; matrix?: Record<string, unknown> };
    steps: Step[];
}

interface Workflow {
    name: string;
    on: Record<string, unknown>;
    permissions?: Record<string, string>;
    concurrency?: { group: string; "cancel-in-progress"?: boolean };
    jobs: Record<string, Job>;
}

const workflowFiles = () =>
    fs
        .readdirSync(WORKFLOWS)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort();

function read(file: string): string {
    return fs.readFileSync(path.join(WORKFLOWS, file), "utf8");
}

/** A workflow file as data. @throws on a YAML error */
function load(file: string): Workflow {
    const doc = parseDocument(read(file));
    if (doc.errors.length > 0) {
        throw new Error(`${file}: ${doc.errors[0].message}`);
    }
    return doc.toJS() as Workflow;
}

/** The steps of `job` that run `command` (a word match on the `run:` text). */
const stepsRunning = (job: Job, command: RegExp) => job.steps.filter((s) => s.run !== undefined && command.test(s.run));

/** The stacks of this project: one per Pulumi.<stack>.yaml beside Pulumi.yaml. */
const projectStacks = () =>
    fs
        .readdirSync(ROOT)
        .map((f) => /^Pulumi\.(.+)\.ya?ml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();

describe("every workflow file", () => {
    it("exists: the end-to-end, pull-request and preview workflows", () => {
        expect(workflowFiles()).toEqual(["e2e.yml", "preview.yml", "pull-request.yml"]);
    });

    it.each(workflowFiles())("%s parses as YAML and passes the workflow validator", (file) => {
        expect(() => load(file)).not.toThrow();
        const result = validateWorkflow(read(file));
        expect(result).toEqual({ actionType: "workflow", errors: [] });
    });

    it.each(workflowFiles().filter((f) => f !== "e2e.yml"))("%s pins every action to a major version tag", (file) => {
        const uses = Object.values(load(file).jobs).flatMap((job) => job.steps.flatMap((s) => s.uses ?? []));
        expect(uses.length).toBeGreaterThan(0);
        for (const action of uses) {
            expect(action).toMatch(/^[\w.-]+\/[\w.-]+@v\d+$/);
        }
    });
});

describe("the validator", () => {
    const text = read("preview.yml");

    it("rejects a misspelt key, so the check above can fail", () => {
        const misspelt = text.replace(/^ {4}steps:$/m, "    stpes:");
        expect(misspelt).not.toBe(text);
        const result = validateWorkflow(misspelt);
        expect(result.errors.length).toBeGreaterThan(0);
        expect(JSON.stringify(result.errors)).toContain("Additional property 'stpes' is not allowed");
    });

    it("rejects a step without uses or run", () => {
        const broken = read("pull-request.yml").replace("      - uses: actions/checkout@v4\n", "      - usess: actions/checkout@v4\n");
        expect(validateWorkflow(broken).errors.length).toBeGreaterThan(0);
    });

    it("leaves YAML syntax to the YAML parser, which rejects it", () => {
        const doc = parseDocument(`${text}\n  bad: [unclosed\n`);
        expect(doc.errors.length).toBeGreaterThan(0);
    });
});

describe("pull-request.yml", () => {
    const workflow = load("pull-request.yml");

    it("runs on pull requests, one run per pull request", () => {
        expect(Object.keys(workflow.on)).toEqual(["pull_request"]);
        expect(workflow.concurrency?.group).toContain("github.event.pull_request.number");
        expect(workflow.permissions).toEqual({ contents: "read" });
    });

    describe("job test", () => {
        const job = workflow.jobs.test;

        it("sets up the Node version of .nvmrc with npm's cache, then npm ci and npm test", () => {
            expect(job.steps[0].uses).toBe("actions/checkout@v4");
            expect(job.steps.find((s) => s.uses === "actions/setup-node@v4")?.with).toEqual({
                "node-version-file": ".nvmrc",
                cache: "npm",
            });
            const runs = job.steps.flatMap((s) => s.run ?? []);
            expect(runs.filter((r) => /^npm ci\b/.test(r))).toHaveLength(1);
            expect(runs.indexOf("npm test")).toBeGreaterThan(runs.findIndex((r) => /^npm ci\b/.test(r)));
        });

        it("leaves the charts' schemas to npm test, which fetches them at their pinned versions", () => {
            expect(stepsRunning(job, /curl |shared\/reference/)).toEqual([]);
            const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
            expect(pkg.scripts.pretest).toContain("fetchSchemas.ts --if-missing");
        });
    });

    describe("job synth-diff", () => {
        const job = workflow.jobs["synth-diff"];
        const diffStep = stepsRunning(job, /npm run synth-diff/)[0];

        it("checks out the whole history and installs with npm ci", () => {
            expect(job.steps[0]).toEqual({ uses: "actions/checkout@v4", with: { "fetch-depth": 0 } });
            expect(stepsRunning(job, /^npm ci\b/)).toHaveLength(1);
            expect(job.permissions).toEqual({ contents: "read", "pull-requests": "write" });
        });

        it("runs the synth-diff script from the merge base of the pull request's base and head to its head", () => {
            const mergeBase = job.steps.find((s) => s.name === "Merge base");
            expect(mergeBase?.run).toBe('echo "MERGE_BASE=$(git merge-base "$BASE_SHA" "$HEAD_SHA")" >> "$GITHUB_ENV"');
            expect(mergeBase?.env).toEqual({
                BASE_SHA: "${{ github.event.pull_request.base.sha }}",
                HEAD_SHA: "${{ github.event.pull_request.head.sha }}",
            });
            expect(job.steps.indexOf(mergeBase as Step)).toBeLessThan(job.steps.indexOf(diffStep));
            expect(diffStep.run).toBe('npm run synth-diff -- --base "$MERGE_BASE" --head "$HEAD_SHA" --out synth-diff.md');
            expect(diffStep.env).toEqual({ HEAD_SHA: "${{ github.event.pull_request.head.sha }}" });
        });

        it("posts or updates one comment, found by the marker the synth diff writes", () => {
            const post = job.steps.find((s) => s.uses === "actions/github-script@v7");
            const script = String(post?.with?.script);
            expect(script).toContain(`const marker = "${SYNTH_DIFF_MARKER}";`);
            expect(script).toContain('fs.readFileSync("synth-diff.md", "utf8")');
            expect(script).toContain("github.rest.issues.updateComment");
            expect(script).toContain("github.rest.issues.createComment");
            expect(post?.if).toBe(
                "github.event.pull_request.head.repo.full_name == github.repository && github.actor != 'dependabot[bot]'",
            );
        });
    });
});

describe("the synth-diff step is the script the tests run", () => {
    const script = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts[
        "synth-diff"
    ];

    it("npm run synth-diff runs tools/synthDiff/cli.ts, which tests/synthDiff.test.ts exercises (through npm run synth-diff too)", () => {
        expect(script).toBe("tsx tools/synthDiff/cli.ts");
        const entry = path.join(ROOT, script.split(" ").pop() as string);
        expect(require.resolve("../tools/synthDiff/cli")).toBe(entry);
        expect(fs.readFileSync(path.join(__dirname, "synthDiff.test.ts"), "utf8")).toContain('"run", "--silent", "synth-diff", "--"');
    });

    it("accepts the workflow's arguments: with unknown SHAs it stops at the commits, not at the arguments", async () => {
        const run = stepsRunning(load("pull-request.yml").jobs["synth-diff"], /npm run synth-diff/)[0].run as string;
        const sha = "0123456789abcdef0123456789abcdef01234567";
        const args = run
            .split(" -- ")[1]
            .split(" ")
            .map((word) => word.replace(/^"\$(MERGE_BASE|HEAD_SHA)"$/, sha));
        const repo = fs.mkdtempSync(path.join(os.tmpdir(), "workflow-synth-diff-"));
        execFileSync("git", ["init", "--quiet", repo]);
        const errors: string[] = [];
        const error = jest.spyOn(console, "error").mockImplementation((...a: unknown[]) => void errors.push(a.join(" ")));
        try {
            expect(await synthDiff([...args, "--repo", repo])).toBe(1);
        } finally {
            error.mockRestore();
        }
        expect(errors).toEqual([`error: --base "${sha}" is not a commit in ${fs.realpathSync(repo)}`]);
    });
});

describe("preview.yml", () => {
    const workflow = load("preview.yml");
    const job = workflow.jobs.preview;
    const preview = job.steps.find((s) => s.uses?.startsWith("pulumi/actions@"));

    it("runs on pull requests from this repository only, not Dependabot's (neither gets Actions secrets)", () => {
        expect(Object.keys(workflow.on)).toEqual(["pull_request"]);
        expect(job.if).toBe("github.event.pull_request.head.repo.full_name == github.repository && github.actor != 'dependabot[bot]'");
        expect(workflow.concurrency?.group).toContain("github.event.pull_request.number");
    });

    it("has a matrix over exactly the stacks with a Pulumi.<stack>.yaml, none cancelling the others", () => {
        expect(projectStacks()).toEqual(["region1", "region2"]);
        expect(job.strategy?.matrix).toEqual({ stack: projectStacks() });
        expect(job.strategy?.["fail-fast"]).toBe(false);
    });

    it("previews each stack with pulumi/actions@v7, diff, a PR comment and the policy pack", () => {
        const project = (parseDocument(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")).toJS() as { name: string }).name;
        expect(preview?.uses).toBe("pulumi/actions@v7");
        expect(preview?.with).toEqual({
            command: "preview",
            "stack-name": `\${{ vars.PULUMI_ORG }}/${project}/\${{ matrix.stack }}`,
            diff: true,
            "comment-on-pr": true,
            "github-token": "${{ secrets.GITHUB_TOKEN }}",
            policyPacks: "policy",
        });
        expect(fs.existsSync(path.join(ROOT, "policy", "PulumiPolicy.yaml"))).toBe(true);
        expect(preview?.env).toEqual({ PULUMI_ACCESS_TOKEN: "${{ secrets.PULUMI_ACCESS_TOKEN }}" });
        expect(job.steps.indexOf(preview as Step)).toBe(job.steps.length - 1);
        expect(stepsRunning(job, /^npm ci\b/)).toHaveLength(1);
    });

    it("may get an OIDC token and comment, and nothing more", () => {
        expect(job.permissions).toEqual({ contents: "read", "id-token": "write", "pull-requests": "write" });
        const login = job.steps.find((s) => s.uses === "aws-actions/configure-aws-credentials@v4");
        expect(login?.with?.["role-to-assume"]).toBe("${{ vars.AWS_ROLE_ARN }}");
        expect(login?.if).toBe("vars.AWS_ROLE_ARN != ''");
        // Without OIDC, the kubeconfig comes from a secret.
        expect(job.steps.find((s) => s.name === "Kubeconfig from a secret")?.if).toBe("vars.AWS_ROLE_ARN == ''");
    });

    it("sets VAULT_TOKEN only for a stack whose Vault is initialized, from a secret per stack", () => {
        const token = job.steps.find((s) => s.env?.STACK_VAULT_TOKEN !== undefined);
        expect(token?.if).toBe("steps.stack.outputs.vault-initialized == 'true'");
        expect(token?.env?.STACK_VAULT_TOKEN).toBe("${{ secrets[format('VAULT_TOKEN_{0}', matrix.stack)] }}");
        expect(token?.run).toContain('echo "VAULT_TOKEN=$STACK_VAULT_TOKEN" >> "$GITHUB_ENV"');
    });

    it.each(projectStacks())("reads %s's kube context and whether its Vault is initialized from its stack file", (stack) => {
        const step = job.steps.find((s) => s.id === "stack");
        const output = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "workflow-output-")), "output");
        execFileSync("bash", ["-e", "-c", step?.run as string], {
            cwd: ROOT,
            env: { ...process.env, STACK: stack, GITHUB_OUTPUT: output },
        });
        const config = (
            parseDocument(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")).toJS() as { config: Record<string, unknown> }
        ).config;
        expect(fs.readFileSync(output, "utf8")).toBe(
            `kube-context=${String(config["openova-vault:kubeContext"])}\nvault-initialized=${String(config["openova-vault:vaultInitialized"] === true)}\n`,
        );
        expect(step?.env).toEqual({ STACK: "${{ matrix.stack }}" });
    });
});

describe("e2e.yml", () => {
    const text = read("e2e.yml");
    const workflow = load("e2e.yml");
    const job = workflow.jobs.e2e;
    const laneSteps = job.steps
        .flatMap((s) => (s.run === undefined ? [] : [/^npm run e2e -- (\S+)$/.exec(s.run)?.[1]]))
        .filter((s) => s !== undefined);

    it("runs on demand, nightly, and on pull requests labelled e2e, with a read-only token", () => {
        expect(Object.keys(workflow.on).sort()).toEqual(["pull_request", "schedule", "workflow_dispatch"]);
        expect(workflow.on.schedule).toEqual([{ cron: expect.stringMatching(/^\d+ \d+ \* \* \*$/) as unknown }]);
        expect(job.if).toContain("contains(github.event.pull_request.labels.*.name, 'e2e')");
        expect(job.if).toContain("github.event_name != 'pull_request'");
        expect(workflow.permissions).toEqual({ contents: "read" });
        expect(job.permissions).toBeUndefined();
    });

    it("pins every action to a full commit SHA, with its version in a comment", () => {
        const uses = [...text.matchAll(/uses: (\S+)(.*)$/gm)];
        expect(uses.length).toBeGreaterThanOrEqual(3);
        for (const [, action, comment] of uses) {
            expect(action).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
            expect(comment).toMatch(/^ # v\d+\.\d+\.\d+$/);
        }
    });

    it("runs every step of the lane, in the lane's order, each as `npm run e2e -- <step>`", () => {
        expect(laneSteps).toEqual(STEPS.map((s) => s.name));
        const runs = job.steps.flatMap((s) => s.run ?? []);
        expect(runs.filter((r) => !/^npm run e2e -- \S+$/.test(r))).toEqual(["npm ci --no-audit --no-fund"]);
        const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
        expect(pkg.scripts.e2e).toBe("tsx tools/e2e/cli.ts");
        for (const script of Object.values(SCRIPTS)) {
            expect(fs.existsSync(path.join(ROOT, script))).toBe(true);
        }
    });

    it("tears down, summarizes and uploads the report even after a failure", () => {
        for (const step of STEPS.filter((s) => s.always)) {
            expect(job.steps.find((s) => s.run === `npm run e2e -- ${step.name}`)?.if).toBe("always()");
        }
        const upload = job.steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"));
        expect(upload?.if).toBe("always()");
        // The report directory of the lane's default work directory, in the checkout.
        const args = parseLaneArgs([], { repoDir: ROOT, env: {} }, { out: () => undefined, err: () => undefined });
        const report = typeof args === "number" ? "" : workDir(args.workDir).report;
        expect(upload?.with).toMatchObject({ path: `${path.relative(ROOT, report)}/`, "include-hidden-files": true });
        expect(job.steps.indexOf(upload as Step)).toBe(job.steps.length - 1);
    });

    it("passes the writes input through the environment, never into the script, and sets up the Node of .nvmrc", () => {
        // The restore step measures propagation again, with the same writes.
        for (const step of ["propagation", "restore"]) {
            expect(job.steps.find((s) => s.run === `npm run e2e -- ${step}`)?.env).toEqual({ E2E_WRITES: "${{ inputs.writes }}" });
        }
        expect(text).not.toMatch(/run: .*\$\{\{/);
        expect(job.steps.find((s) => s.uses?.startsWith("actions/setup-node@"))?.with).toEqual({
            "node-version-file": ".nvmrc",
            cache: "npm",
        });
    });
});
