/**
 * The synth diff (`npm run synth-diff`): the pure comparison and Markdown rendering on small
 * hand-made synth outputs, the line diff underneath (jsdiff), the choice between linking and
 * installing a worktree's dependencies and of the runner of a commit's synth, the CLI in this process
 * (on two synth directories, and on small repositories whose stub synth fails), and once end to end
 * on two fixture commits of a git repository that runs the real program, through the same npm script
 * the pull-request workflow runs.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import {
    GITHUB_COMMENT_LIMIT,
    MAX_EDIT_LENGTH,
    SYNTH_DIFF_MARKER,
    type StackFiles,
    type SynthResourceRecord,
    type SynthTree,
    childPath,
    code,
    diffSynth,
    formatValue,
    parseManifests,
    renderMarkdown,
    sequenceEdits,
    shortUrn,
    unifiedDiff,
    valueChanges,
} from "../tools/synthDiff/diff";
import { closestNames as closestOptions } from "../components/common/spelling";
import { main, readSynthDir } from "../tools/synthDiff/cli";
import {
    SYNTH_CLI,
    dependencyPlan,
    existingStacks,
    failureReason,
    stacksAtCommit,
    synthCommand,
    uncommittedFiles,
} from "../tools/synthDiff/worktree";
import { type CliRun, runCli } from "./support/cliRun";

const ROOT = path.resolve(__dirname, "..");
const REDACTED = "[secret]";

function tempDir(prefix: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// ---------------------------------------------------------------------------------------------------
// Hand-made synth outputs

const urn = (stack: string, type: string, name: string, parentType = "openova:vault:VaultRegion") =>
    `urn:pulumi:${stack}::openova-vault::${parentType}$${type}::${name}`;
const PROVIDER = (stack: string) => `urn:pulumi:${stack}::openova-vault::pulumi:providers:kubernetes::${stack}::${stack}-id`;
const REGION = (stack: string) => `urn:pulumi:${stack}::openova-vault::openova:vault:VaultRegion::${stack}`;

function resource(
    stack: string,
    type: string,
    name: string,
    inputs: unknown,
    extra: Partial<SynthResourceRecord> = {},
): SynthResourceRecord {
    return { type, name, urn: urn(stack, type, name), custom: true, parent: REGION(stack), provider: PROVIDER(stack), inputs, ...extra };
}

function chart(stack: string, replicas: number): SynthResourceRecord {
    return resource(stack, "kubernetes:helm.sh/v4:Chart", `${stack}-vault`, {
        chart: "vault",
        version: "0.34.1",
        values: {
            injector: { enabled: false },
            server: {
                ha: { enabled: true, replicas, raft: { config: raftConfig(replicas) } },
                ingress: { hosts: [{ host: `vault.${stack}.example.com` }] },
            },
        },
    });
}

function raftConfig(replicas: number): string {
    const joins = Array.from(
        { length: replicas },
        (_, i) => `  retry_join {\n    leader_api_addr = "https://vault-${i}.vault-internal:8200"\n  }\n`,
    );
    return `storage "raft" {\n  path = "/vault/data"\n${joins.join("")}}\n`;
}

const namespace = (stack: string, name: string, extra: Partial<SynthResourceRecord> = {}) =>
    resource(
        stack,
        "kubernetes:core/v1:Namespace",
        `${stack}-${name}-namespace`,
        { apiVersion: "v1", kind: "Namespace", metadata: { name } },
        extra,
    );

function externalSecret(stack: string, name: string, refreshInterval = "30s"): SynthResourceRecord {
    return resource(stack, "kubernetes:external-secrets.io/v1:ExternalSecret", `${stack}-${name}`, {
        apiVersion: "external-secrets.io/v1",
        kind: "ExternalSecret",
        metadata: { name, namespace: "databases" },
        spec: { refreshInterval, secretStoreRef: { kind: "ClusterSecretStore", name: "vault-local" }, target: { name } },
    });
}

function secret(stack: string, name: string): SynthResourceRecord {
    return resource(stack, "kubernetes:core/v1:Secret", `${stack}-${name}`, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name, namespace: "external-secrets" },
        stringData: { token: REDACTED },
    });
}

/** The objects of the Kubernetes resources, as the synth writes manifests.yaml (URN order, a comment each). */
function manifestsOf(stack: string, resources: readonly SynthResourceRecord[]): string {
    const docs = [...resources]
        .sort((a, b) => (a.urn < b.urn ? -1 : 1))
        .filter((r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:helm.sh/"))
        .map((r) => {
            const { apiVersion, kind, metadata, ...rest } = r.inputs as Record<string, unknown>;
            return `---\n# ${r.type} ${r.name}\n${stringify({ apiVersion, kind, metadata, ...rest }, { lineWidth: 0 })}`;
        });
    return `# Kubernetes objects declared by stack ${stack}, in URN order. Secret values are ${REDACTED}.\n${docs.join("")}`;
}

function stackFiles(stack: string, resources: SynthResourceRecord[], outputs: Record<string, unknown> = {}): StackFiles {
    return { resources: [...resources].sort((a, b) => (a.urn < b.urn ? -1 : 1)), outputs, manifests: manifestsOf(stack, resources) };
}

const baseOutputs = (stack: string) => ({
    regionName: stack,
    peers: ["region2"],
    peerAccess: REDACTED,
    vaultAddress: `https://vault.${stack}.example.com`,
});

function baseTree(): Map<string, StackFiles> {
    return new Map([
        [
            "region1",
            stackFiles(
                "region1",
                [
                    chart("region1", 3),
                    namespace("region1", "vault"),
                    externalSecret("region1", "db-credentials"),
                    secret("region1", "peer-token"),
                ],
                baseOutputs("region1"),
            ),
        ],
        ["region2", stackFiles("region2", [chart("region2", 3), namespace("region2", "vault")], baseOutputs("region2"))],
    ]);
}

const render = (base: SynthTree, head: SynthTree, maxLength?: number) =>
    renderMarkdown(diffSynth(base, head), {
        baseLabel: "main (1111111)",
        headLabel: "feature (2222222)",
        maxLength,
        fullCommand: "npm run synth-diff -- --base main --head feature",
    });

// ---------------------------------------------------------------------------------------------------

describe("valueChanges", () => {
    it("gives the path of each changed leaf, with odd keys quoted and array items indexed", () => {
        const before = {
            values: { server: { ha: { replicas: 3 } } },
            metadata: { labels: { "vault.openova.io/read": "true" } },
            hosts: ["a", "b"],
        };
        const after = {
            values: { server: { ha: { replicas: 5 } } },
            metadata: { labels: { "vault.openova.io/read": "false" } },
            hosts: ["a", "c"],
        };
        expect(valueChanges(before, after)).toEqual([
            { path: "hosts[1]", before: "b", after: "c" },
            { path: 'metadata.labels["vault.openova.io/read"]', before: "true", after: "false" },
            { path: "values.server.ha.replicas", before: 3, after: 5 },
        ]);
    });

    it("reports an item inserted into a list once, not as a shift of every later item", () => {
        const before = { items: [{ name: "a" }, { name: "b" }, { name: "c" }] };
        const after = { items: [{ name: "new" }, { name: "a" }, { name: "b" }, { name: "c" }] };
        expect(valueChanges(before, after)).toEqual([{ path: "items[0]", before: undefined, after: { name: "new" } }]);
        expect(valueChanges(after, before)).toEqual([{ path: "items[0]", before: { name: "new" }, after: undefined }]);
    });

    it("compares a changed item of a list field by field", () => {
        expect(valueChanges({ joins: [{ addr: "x", tls: true }] }, { joins: [{ addr: "y", tls: true }] })).toEqual([
            { path: "joins[0].addr", before: "x", after: "y" },
        ]);
    });

    it("treats keys present on one side as added or removed, ignores key order, and reports a changed type whole", () => {
        expect(valueChanges({ a: 1, b: { c: 2 } }, { b: { c: 2 }, d: [1] })).toEqual([
            { path: "a", before: 1, after: undefined },
            { path: "d", before: undefined, after: [1] },
        ]);
        expect(valueChanges({ a: { x: 1 } }, { a: "text" })).toEqual([{ path: "a", before: { x: 1 }, after: "text" }]);
        expect(valueChanges({ a: 1, b: 2 }, { b: 2, a: 1 })).toEqual([]);
    });

    it("writes paths the way a reader types them", () => {
        expect(childPath("", "values")).toBe("values");
        expect(childPath("values", "server")).toBe("values.server");
        expect(childPath("labels", "app.kubernetes.io/name")).toBe('labels["app.kubernetes.io/name"]');
        expect(childPath("hosts", 2)).toBe("hosts[2]");
    });
});

describe("formatting", () => {
    it("cuts long values with an ellipsis and says how long they were", () => {
        expect(formatValue("short")).toBe('"short"');
        expect(formatValue(undefined)).toBe("(absent)");
        const long = formatValue("x".repeat(500), 20);
        expect(long).toBe(`"${"x".repeat(19)}… (502 chars)`);
        expect(formatValue({ a: [1, 2] })).toBe('{"a":[1,2]}');
    });

    it("shortens URNs and provider references to type and name", () => {
        expect(shortUrn(urn("region1", "kubernetes:core/v1:Namespace", "ns"))).toBe("kubernetes:core/v1:Namespace ns");
        expect(shortUrn(PROVIDER("region1"))).toBe("pulumi:providers:kubernetes region1::region1-id");
        expect(shortUrn("not-a-urn")).toBe("not-a-urn");
    });

    it("keeps inline code intact when the text holds backticks", () => {
        expect(code("plain")).toBe("`plain`");
        expect(code("a`b")).toBe("`` a`b ``");
    });
});

describe("the line diff", () => {
    /** An edit script as lines: " a" kept, "-b" removed, "+x" added. */
    const script = (a: string[], b: string[]) =>
        sequenceEdits(a, b).flatMap((e) => e.value.map((item) => `${e.added ? "+" : e.removed ? "-" : " "}${item}`));

    it("keeps a longest common subsequence, removals before additions", () => {
        expect(script(["a", "b", "c", "d"], ["a", "x", "c", "d", "e"])).toEqual([" a", "-b", "+x", " c", " d", "+e"]);
    });

    it("writes unified hunks with three lines of context, joining nearby changes", () => {
        const before = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join("\n") + "\n";
        const after = before.replace("line 2\n", "line two\n").replace("line 18\n", "");
        expect(unifiedDiff(before, after, { before: "base f", after: "head f" }).split("\n")).toEqual([
            "--- base f",
            "+++ head f",
            "@@ -1,5 +1,5 @@",
            " line 1",
            "-line 2",
            "+line two",
            " line 3",
            " line 4",
            " line 5",
            "@@ -15,6 +15,5 @@",
            " line 15",
            " line 16",
            " line 17",
            "-line 18",
            " line 19",
            " line 20",
            "",
        ]);
        expect(unifiedDiff(before, before, { before: "base f", after: "head f" })).toBe("");
    });

    it("diffs against nothing for added and removed texts, and keeps labels as they are", () => {
        expect(unifiedDiff(undefined, "a\nb\n", { before: "x", after: "head y" })).toBe(
            "--- /dev/null\n+++ head y\n@@ -0,0 +1,2 @@\n+a\n+b\n",
        );
        expect(unifiedDiff("a\n", undefined, { before: "base y", after: "x" })).toBe("--- base y\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-a\n");
        // jsdiff would quote a file name holding quotes; a label is not a file name.
        expect(unifiedDiff("a\n", "b\n", { before: 'base labels["x/y"]', after: 'head labels["x/y"]' })).toMatch(
            /^--- base labels\["x\/y"\]\n\+\+\+ head labels\["x\/y"\]\n/,
        );
    });

    it("reports a rewrite beyond MAX_EDIT_LENGTH as removed then added between the common ends, quickly", () => {
        const n = MAX_EDIT_LENGTH + 500;
        const a = Array.from({ length: n }, (_, i) => `a${i}`);
        const b = Array.from({ length: n }, (_, i) => `b${i}`);
        const started = Date.now();
        expect(
            sequenceEdits(["same", ...a, "end"], ["same", ...b, "end"]).map((e) => [e.added ? "+" : e.removed ? "-" : " ", e.count]),
        ).toEqual([
            [" ", 1],
            ["-", n],
            ["+", n],
            [" ", 1],
        ]);
        const text = (lines: string[]) => ["one", "two", "three", "four", ...lines, "end"].join("\n") + "\n";
        const lines = unifiedDiff(text(a), text(b), { before: "base f", after: "head f" }).split("\n");
        expect(lines.slice(0, 6)).toEqual(["--- base f", "+++ head f", `@@ -2,${n + 4} +2,${n + 4} @@`, " two", " three", " four"]);
        expect(lines.filter((line) => line.startsWith("-") && !line.startsWith("---"))).toHaveLength(n);
        expect(lines.findIndex((line) => line.startsWith("+b"))).toBeGreaterThan(lines.findIndex((line) => line === `-a${n - 1}`));
        expect(lines.slice(-3)).toEqual([`+b${n - 1}`, " end", ""]);
        expect(Date.now() - started).toBeLessThan(5_000);
    });

    it("marks a missing final newline as unified diffs do", () => {
        expect(unifiedDiff("x\ny", "x\ny\n", { before: "b", after: "h" })).toBe(
            "--- b\n+++ h\n@@ -1,2 +1,2 @@\n x\n-y\n\\ No newline at end of file\n+y\n",
        );
    });
});

describe("parseManifests", () => {
    it("keys documents by apiVersion, kind, namespace and name, a patch apart from the object it patches", () => {
        const text = [
            "# header",
            "---",
            "# patch (kubernetes:core/v1:NamespacePatch p): server-side applied",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: external-secrets",
            "---",
            "# kubernetes:core/v1:Namespace n",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: external-secrets",
            "---",
            "# kubernetes:core/v1:ConfigMap c",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: apps",
            "---",
            "# kubernetes:core/v1:ConfigMap c2",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: apps",
            "",
        ].join("\n");
        const { header, documents } = parseManifests(text);
        expect(header).toBe("# header");
        expect(documents.map((d) => d.key)).toEqual([
            "v1 Namespace external-secrets (patch)",
            "v1 Namespace external-secrets",
            "v1 ConfigMap apps/c",
            "v1 ConfigMap apps/c #2",
        ]);
        expect(documents[2].text).toBe(
            "# kubernetes:core/v1:ConfigMap c\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: apps\n",
        );
    });
});

describe("diffSynth and renderMarkdown", () => {
    it("says so in one line when nothing changed", () => {
        const markdown = render(baseTree(), baseTree());
        expect(markdown).toBe(
            `${SYNTH_DIFF_MARKER}\n### Synth diff: \`main (1111111)\` → \`feature (2222222)\`\n\nNo changes: every stack (\`region1\`, \`region2\`) synthesizes the same at both.\n`,
        );
    });

    describe("a change to one stack", () => {
        const head = baseTree();
        const region1 = head.get("region1") as StackFiles;
        const resources = region1.resources
            .filter((r) => r.name !== "region1-peer-token")
            .map((r) => (r.name === "region1-vault" ? chart("region1", 5) : r))
            .map((r) => (r.name === "region1-db-credentials" ? externalSecret("region1", "db-credentials", "1m") : r))
            .map((r) =>
                r.name === "region1-vault-namespace" ? { ...r, options: { retainOnDelete: true }, dependsOn: [REGION("region1")] } : r,
            );
        resources.push(externalSecret("region1", "app-token"));
        head.set("region1", stackFiles("region1", resources, { ...baseOutputs("region1"), peers: ["region2", "region3"] }));
        const diff = diffSynth(baseTree(), head);
        const markdown = render(baseTree(), head);

        it("finds the added, removed and changed resources by URN, and the changed outputs", () => {
            const [one, two] = diff.stacks;
            expect(two).toMatchObject({ stack: "region2", status: "unchanged" });
            if (one.status !== "changed") {
                throw new Error(`region1 is ${one.status}`);
            }
            expect(one.added.map((r) => r.name)).toEqual(["region1-app-token"]);
            expect(one.removed.map((r) => r.name)).toEqual(["region1-peer-token"]);
            // In URN order: the parent's type, then the resource's type, then its name.
            expect(one.changed.map((r) => r.name)).toEqual(["region1-vault-namespace", "region1-db-credentials", "region1-vault"]);
            expect(one.outputs).toEqual([{ path: "peers[1]", before: undefined, after: "region3" }]);
            expect(one.manifests.added.map((m) => m.key)).toEqual(["external-secrets.io/v1 ExternalSecret databases/app-token"]);
            expect(one.manifests.removed.map((m) => m.key)).toEqual(["v1 Secret external-secrets/peer-token"]);
            expect(one.manifests.changed.map((m) => m.key)).toEqual(["external-secrets.io/v1 ExternalSecret databases/db-credentials"]);
        });

        it("renders a summary line per stack and the other stack as unchanged", () => {
            expect(markdown.startsWith(`${SYNTH_DIFF_MARKER}\n`)).toBe(true);
            expect(markdown).toContain("1 stack of 2 changed.");
            expect(markdown).toContain("#### Stack `region1`: 1 added, 1 removed, 3 changed resources; outputs changed (1 change)");
            expect(markdown).toContain("#### Stack `region2`: no changes");
        });

        it("lists added and removed resources by name and type", () => {
            expect(markdown).toContain(
                "**Added resources (1)**\n\n- `region1-app-token` · `kubernetes:external-secrets.io/v1:ExternalSecret`\n",
            );
            expect(markdown).toContain("**Removed resources (1)**\n\n- `region1-peer-token` · `kubernetes:core/v1:Secret`\n");
        });

        it("shows each changed input path with both values, and changed options and dependencies", () => {
            expect(markdown).toContain("  values.server.ha.replicas: 3 → 5\n");
            expect(markdown).toContain('  spec.refreshInterval: "30s" → "1m"\n');
            expect(markdown).toContain("  [dependsOn] + openova:vault:VaultRegion region1\n");
            expect(markdown).toContain("  [options.retainOnDelete]: (absent) → true\n");
        });

        it("shows a changed multi-line text as a diff of its lines", () => {
            expect(markdown).toContain("values.server.ha.raft.config: text, 12 lines → 18 lines (diff below)");
            expect(markdown).toMatch(
                /```diff\n {2}--- base values\.server\.ha\.raft\.config\n {2}\+\+\+ head values\.server\.ha\.raft\.config\n/,
            );
            expect(markdown).toContain('  +    leader_api_addr = "https://vault-4.vault-internal:8200"\n');
        });

        it("shows the changed outputs", () => {
            expect(markdown).toContain('**Changed outputs**\n\n```\npeers[1]: (absent) → "region3"\n```\n');
        });

        it("shows the changed manifests as a unified diff in a collapsed block", () => {
            expect(markdown).toContain("<details><summary>Kubernetes manifests: 1 added, 1 removed, 1 changed</summary>\n\n```diff\n");
            expect(markdown).toContain(
                "--- base external-secrets.io/v1 ExternalSecret databases/db-credentials\n+++ head external-secrets.io/v1 ExternalSecret databases/db-credentials\n",
            );
            expect(markdown).toContain("-  refreshInterval: 30s\n+  refreshInterval: 1m\n");
            expect(markdown).toContain("--- /dev/null\n+++ head external-secrets.io/v1 ExternalSecret databases/app-token\n");
            expect(markdown).toContain("--- base v1 Secret external-secrets/peer-token\n+++ /dev/null\n");
            expect(markdown).toContain("```\n\n</details>");
        });

        it("is the same whatever order the files list things in", () => {
            const shuffled = new Map(
                [...head].reverse().map(([stack, files]) => [
                    stack,
                    {
                        ...files,
                        resources: [...files.resources].reverse(),
                        outputs: Object.fromEntries(Object.entries(files.outputs).reverse()),
                    },
                ]),
            );
            const baseShuffled = new Map([...baseTree()].reverse());
            expect(render(baseShuffled, shuffled)).toBe(markdown);
        });
    });

    it("reports a stack on one side only as added or removed, with its counts", () => {
        const head = baseTree();
        head.delete("region2");
        head.set("region3", stackFiles("region3", [chart("region3", 3), namespace("region3", "vault")], baseOutputs("region3")));
        const markdown = render(baseTree(), head);
        expect(markdown).toContain("#### Stack `region2`: stack removed (2 resources, 4 outputs, 1 Kubernetes object at base)");
        expect(markdown).toContain("#### Stack `region3`: new stack (2 resources, 4 outputs, 1 Kubernetes object at head)");
        expect(markdown).toContain("#### Stack `region1`: no changes");
        expect(markdown.indexOf("`region1`")).toBeLessThan(markdown.indexOf("`region2`"));
    });

    it("never shows more of a secret than the synth did", () => {
        // The synth writes every secret as "[secret]": a secret whose value changed is no change here,
        // a value that became secret shows as "[secret]", and a Secret's data stays "[secret]".
        const head = baseTree();
        const region1 = head.get("region1") as StackFiles;
        const changedSecret = secret("region1", "peer-token");
        (changedSecret.inputs as { stringData: Record<string, string> }).stringData.other = REDACTED;
        const resources = region1.resources.map((r) => (r.name === "region1-peer-token" ? changedSecret : r));
        head.set("region1", stackFiles("region1", resources, { ...baseOutputs("region1"), vaultAddress: REDACTED }));
        const diff = diffSynth(baseTree(), head);
        const markdown = render(baseTree(), head);
        expect(diff.stacks[0]).toMatchObject({
            changed: [{ name: "region1-peer-token", changes: [{ path: "stringData.other", before: undefined, after: REDACTED }] }],
        });
        expect(markdown).toContain('stringData.other: (absent) → "[secret]"');
        expect(markdown).toContain('vaultAddress: "https://vault.region1.example.com" → "[secret]"');
        expect(markdown).toContain('+  other: "[secret]"');
        // peerAccess was "[secret]" on both sides: nothing about it is reported.
        expect(markdown).not.toContain("peerAccess");
    });

    it("keeps fences intact when values hold backticks", () => {
        const head = baseTree();
        const region2 = head.get("region2") as StackFiles;
        head.set("region2", { ...region2, outputs: { ...region2.outputs, note: "```\nbreak out\n```" } });
        const markdown = render(baseTree(), head);
        expect(markdown).toContain(
            "```\nnote: text, (absent) → 3 lines (diff below)\n```\n````diff\n--- /dev/null\n+++ head note\n@@ -0,0 +1,3 @@\n+```\n+break out\n+```\n````\n",
        );
    });

    it("marks a text value's missing final newline only when that is all that changed", () => {
        const withOutputs = (outputs: Record<string, string>) => {
            const tree = baseTree();
            const region2 = tree.get("region2") as StackFiles;
            tree.set("region2", { ...region2, outputs: { ...region2.outputs, ...outputs } });
            return tree;
        };
        const markdown = render(
            withOutputs({ banner: "a\nb", script: "set -e\nrun" }),
            withOutputs({ banner: "a\nb\n", script: "set -e\nrun twice" }),
        );
        expect(markdown).toContain("--- base banner\n+++ head banner\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");
        expect(markdown).toContain("--- base script\n+++ head script\n@@ -1,2 +1,2 @@\n set -e\n-run\n+run twice\n```\n");
    });

    describe("a diff larger than a comment", () => {
        /** region1 with `count` replicated secrets more, each with a long spec, and every existing one changed. */
        function bigHead(count: number): Map<string, StackFiles> {
            const head = baseTree();
            const region1 = head.get("region1") as StackFiles;
            const added = Array.from({ length: count }, (_, i) => {
                const r = externalSecret("region1", `secret-${String(i).padStart(4, "0")}`);
                (r.inputs as { spec: Record<string, unknown> }).spec.data = Array.from({ length: 10 }, (_, k) => ({
                    secretKey: `key-${k}`,
                    remoteRef: { key: `apps/secret-${i}`, property: `key-${k}` },
                }));
                return r;
            });
            head.set(
                "region1",
                stackFiles("region1", [...region1.resources.map((r) => (r.name === "region1-vault" ? chart("region1", 7) : r)), ...added]),
            );
            return head;
        }

        it("stays under GitHub's limit, keeps every stack's summary and every resource's name, and says what it left out", () => {
            const markdown = render(baseTree(), bigHead(300));
            expect(markdown.length).toBeLessThanOrEqual(65_000);
            expect(markdown.length).toBeGreaterThan(50_000);
            expect(markdown).toContain("#### Stack `region1`: 300 added, 0 removed, 1 changed resources; outputs changed (4 changes)");
            expect(markdown).toContain("#### Stack `region2`: no changes");
            expect(markdown).toContain("- `region1-secret-0299` · `kubernetes:external-secrets.io/v1:ExternalSecret`");
            // The manifests' diffs are what gives way: shortened to one line each, from the end.
            expect(markdown).toMatch(
                /> \[!NOTE\]\n> Truncated to fit GitHub's comment limit \(65,536 characters\): shortened \d+ manifest diffs\. Run `npm run synth-diff -- --base main --head feature` for the whole diff\./,
            );
            expect(markdown).toContain(
                "# added: external-secrets.io/v1 ExternalSecret databases/secret-0299 (left out to fit the comment)",
            );
            expect(markdown).toContain("values.server.ha.replicas: 3 → 7");
            expect(markdown).toContain("```\n\n</details>");
        });

        it("shows changes before additions and manifests when even the short forms do not fit, and counts what it left out", () => {
            const markdown = render(baseTree(), bigHead(300), 8_000);
            expect(markdown.length).toBeLessThanOrEqual(8_000);
            expect(markdown).toContain("#### Stack `region1`: 300 added, 0 removed, 1 changed resources");
            expect(markdown).toContain("#### Stack `region2`: no changes");
            // Shown first: the change to an existing resource (the replicas), in full, and the outputs;
            // then added resources while there is room; the manifests' diffs not at all.
            expect(markdown).toMatch(/: left out \d+ added resources, 300 manifest diffs\. Run/);
            expect(markdown).toContain("- `region1-secret-0000` · `kubernetes:external-secrets.io/v1:ExternalSecret`");
            expect(markdown).not.toContain("- `region1-secret-0299`");
            expect(markdown).toContain("values.server.ha.replicas: 3 → 7");
            expect(markdown).toContain("</details>");
        });

        it("never exceeds GitHub's limit, whatever the caller asks", () => {
            expect(render(baseTree(), bigHead(1000), 1_000_000).length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
        });
    });
});

// ---------------------------------------------------------------------------------------------------
// The command's parts that touch files

describe("dependencyPlan", () => {
    function project(lock: string | undefined, modules = false): string {
        const dir = tempDir("synth-diff-deps-");
        fs.writeFileSync(path.join(dir, "package.json"), "{}");
        if (lock !== undefined) {
            fs.writeFileSync(path.join(dir, "package-lock.json"), lock);
        }
        if (modules) {
            fs.mkdirSync(path.join(dir, "node_modules"));
        }
        return dir;
    }

    it("links the checkout's node_modules when package-lock.json is the same", () => {
        const checkout = project("lock-1", true);
        expect(dependencyPlan(checkout, project("lock-1"))).toEqual({
            action: "link",
            from: fs.realpathSync(path.join(checkout, "node_modules")),
            reason: "the same package-lock.json as the current checkout",
        });
    });

    it("installs when package-lock.json differs, is missing, or the checkout has no node_modules", () => {
        expect(dependencyPlan(project("lock-1", true), project("lock-2"))).toMatchObject({
            action: "install",
            reason: expect.stringContaining("differs") as unknown,
        });
        expect(dependencyPlan(project("lock-1", true), project(undefined))).toMatchObject({
            action: "install",
            reason: "it has no package-lock.json",
        });
        expect(dependencyPlan(project("lock-1"), project("lock-1"))).toMatchObject({
            action: "install",
            reason: expect.stringContaining("no node_modules") as unknown,
        });
    });

    it("needs nothing for a project without package.json", () => {
        expect(dependencyPlan(project("x", true), tempDir("synth-diff-empty-"))).toMatchObject({ action: "none" });
    });
});

// ---------------------------------------------------------------------------------------------------
// Git repositories for the command

const GIT_ENV = {
    ...process.env,
    GIT_AUTHOR_NAME: "synth-diff test",
    GIT_AUTHOR_EMAIL: "synth-diff@example.com",
    GIT_COMMITTER_NAME: "synth-diff test",
    GIT_COMMITTER_EMAIL: "synth-diff@example.com",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
};

function git(repo: string, ...args: string[]): string {
    return execFileSync("git", ["-C", repo, ...args], { encoding: "utf8", env: GIT_ENV }).trim();
}

/** A new repository with `files` committed (and node_modules ignored). */
function repository(files: Record<string, string>): string {
    const repo = tempDir("synth-diff-repo-");
    git(repo, "init", "--quiet", "--initial-branch=main");
    fs.writeFileSync(path.join(repo, ".gitignore"), "node_modules\n*.log\n");
    for (const [file, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
        fs.writeFileSync(path.join(repo, file), text);
    }
    git(repo, "add", "--all");
    git(repo, "commit", "--quiet", "--message", "fixture");
    return repo;
}

/**
 * A project whose package.json has tsx and whose synth is a stub that fails with `error: <reason>`;
 * its node_modules (untracked) links to this repository's, so a worktree with the same
 * package-lock.json links it too.
 */
function stubRepository(reason: string): string {
    const repo = repository({
        "package.json": JSON.stringify({ name: "stub", private: true, devDependencies: { tsx: "4.23.15" } }),
        "package-lock.json": "lock 1\n",
        "Pulumi.yaml": "name: stub\nruntime: nodejs\n",
        [SYNTH_CLI]: `console.log("stack s1: 0 resources");\nconsole.error(${JSON.stringify(`error: ${reason}`)});\nprocess.exit(1);\n`,
    });
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(repo, "node_modules"), "junction");
    return repo;
}

/** The worktrees git still records besides the repository's own checkout. */
function worktrees(repo: string): string[] {
    return git(repo, "worktree", "list", "--porcelain")
        .split("\n")
        .filter((line) => line.startsWith("worktree "))
        .slice(1);
}

// ---------------------------------------------------------------------------------------------------
// The command's parts that touch files

describe("helpers of the worktree synth", () => {
    it("names a failure by the synth's first error line, else its last line", () => {
        expect(failureReason(["synth: pass 1", "error: Pulumi.region1.yaml: bad", "error: second"])).toBe("Pulumi.region1.yaml: bad");
        expect(failureReason(["Error: Cannot find module 'ts-node/register/transpile-only'", "  at x", ""])).toBe("at x");
        expect(failureReason([])).toBe("no output");
    });

    it("finds which requested stacks exist, in stackConfigDir when the project sets one", () => {
        const dir = tempDir("synth-diff-stacks-");
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: p\nruntime: nodejs\nstackConfigDir: stacks\n");
        fs.mkdirSync(path.join(dir, "stacks"));
        fs.writeFileSync(path.join(dir, "stacks", "Pulumi.a.yaml"), "config: {}\n");
        fs.writeFileSync(path.join(dir, "stacks", "Pulumi.b.yml"), "config: {}\n");
        expect(existingStacks(dir, ["a", "b", "c"])).toEqual(["a", "b"]);
    });

    it("runs a commit's synth with tsx when its package.json has tsx, else with ts-node as older commits did", () => {
        const project = (manifest: unknown) => {
            const dir = tempDir("synth-diff-runner-");
            fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(manifest));
            return dir;
        };
        expect(synthCommand(project({ devDependencies: { tsx: "4.23.15" } }))).toMatchObject({
            runner: "tsx",
            args: ["--no", "--", "tsx", SYNTH_CLI],
        });
        expect(synthCommand(project({ dependencies: { tsx: "4" } }))).toMatchObject({ runner: "tsx" });
        expect(synthCommand(project({ devDependencies: { "ts-node": "10.9.2" } }))).toEqual({
            command: process.execPath,
            args: ["-r", "ts-node/register/transpile-only", SYNTH_CLI],
            runner: "ts-node",
        });
        expect(synthCommand(tempDir("synth-diff-runner-"))).toMatchObject({ runner: "ts-node" });
    });

    it("lists the working tree's uncommitted files: modified, staged, renamed and untracked ones, not ignored ones", () => {
        const repo = repository({ "a.txt": "a\n", "b.txt": "b\n", "c.txt": "c\n" });
        expect(uncommittedFiles(repo)).toEqual([]);
        fs.appendFileSync(path.join(repo, "a.txt"), "more\n");
        git(repo, "mv", "b.txt", "moved b.txt");
        fs.mkdirSync(path.join(repo, "new"));
        fs.writeFileSync(path.join(repo, "new", "one.txt"), "1\n");
        fs.writeFileSync(path.join(repo, "new", "two.txt"), "2\n");
        fs.writeFileSync(path.join(repo, "debug.log"), "ignored\n");
        fs.mkdirSync(path.join(repo, "node_modules"));
        fs.writeFileSync(path.join(repo, "node_modules", "x.js"), "ignored\n");
        expect(uncommittedFiles(repo).sort()).toEqual(["a.txt", "moved b.txt", "new/one.txt", "new/two.txt"]);
    });
});

type Run = CliRun;

/** The CLI in this process, capturing what it prints. */
const cli = (...args: string[]): Promise<Run> => runCli(main, args, { raw: true });

/** Writes a synth tree as `npm run synth` would. */
function writeTree(tree: SynthTree): string {
    const dir = tempDir("synth-diff-tree-");
    for (const [stack, files] of tree) {
        fs.mkdirSync(path.join(dir, stack));
        fs.writeFileSync(path.join(dir, stack, "resources.json"), JSON.stringify(files.resources, null, 2));
        fs.writeFileSync(path.join(dir, stack, "outputs.json"), JSON.stringify(files.outputs, null, 2));
        fs.writeFileSync(path.join(dir, stack, "manifests.yaml"), files.manifests);
    }
    return dir;
}

describe("npm run synth-diff with --base-dir and --head-dir", () => {
    const baseDir = writeTree(baseTree());
    const head = baseTree();
    head.set("region2", stackFiles("region2", [chart("region2", 5), namespace("region2", "vault")], baseOutputs("region2")));
    const headDir = writeTree(head);

    it("reads a synth directory back as the synth wrote it", () => {
        expect(readSynthDir(baseDir)).toEqual(baseTree());
        expect([...readSynthDir(baseDir, ["region2"]).keys()]).toEqual(["region2"]);
    });

    it("prints the Markdown to stdout, progress to stderr", async () => {
        const run = await cli("--base-dir", baseDir, "--head-dir", headDir);
        expect(run.code).toBe(0);
        expect(run.stdout).toContain("#### Stack `region2`: 0 added, 0 removed, 1 changed resources; outputs unchanged");
        expect(run.stdout).toContain("#### Stack `region1`: no changes");
        expect(run.stderr).toMatch(/^synth-diff: done in/m);
    });

    it("writes --out, and compares only the --stack given", async () => {
        const out = path.join(tempDir("synth-diff-out-"), "deep", "comment.md");
        const run = await cli("--base-dir", baseDir, "--head-dir", headDir, "--out", out, "--stack", "region1");
        expect(run.code).toBe(0);
        expect(run.stdout).toBe("");
        expect(fs.readFileSync(out, "utf8")).toContain("No changes: every stack (`region1`) synthesizes the same at both.");
    });

    it("rejects bad arguments with the usage and exit code 2", async () => {
        const both = await cli("--base", "main", "--base-dir", baseDir, "--head-dir", headDir);
        expect(both.code).toBe(2);
        expect(both.stderr).toContain("error: give exactly one of --base REF and --base-dir DIR");
        expect(both.stderr).toContain("usage: npm run synth-diff");
        expect((await cli("--head", "x")).stderr).toContain("error: give exactly one of --base REF and --base-dir DIR");
        const bogus = await cli("--bogus");
        expect(bogus.code).toBe(2);
        expect(bogus.stderr).toContain("--bogus");
        expect(bogus.stderr).not.toContain("did you mean");
    });

    it("suggests the option a misspelt one was meant to be", async () => {
        const typo = await cli("--baes", "main", "--head", "HEAD");
        expect(typo).toEqual({
            code: 2,
            stdout: "",
            stderr: expect.stringMatching(
                /^error: unknown option '--baes' \(did you mean --base\?\)\nusage: npm run synth-diff/,
            ) as unknown,
        });
        expect(
            (await cli("--base", "main", "--head-dri=x", "--stak", "s")).stderr.split("\n").filter((line) => line.startsWith("error: ")),
        ).toEqual([
            "error: unknown option '--head-dri' (did you mean --head-dir?)",
            "error: unknown option '--stak' (did you mean --stack?)",
        ]);
        // After `--`, nothing is an option.
        expect((await cli("--base-dir", baseDir, "--head-dir", headDir, "--", "--baes")).stderr).not.toContain("did you mean");
        expect(closestOptions("hed", ["base", "head", "repo"])).toEqual(["head"]);
        expect(closestOptions("heads-dir", ["head", "head-dir"])).toEqual(["head-dir"]);
        expect(closestOptions("output-file", ["out", "repo"])).toEqual([]);
    });

    it("names the stacks there are when --stack names one neither side has", async () => {
        const run = await cli("--base-dir", baseDir, "--head-dir", headDir, "--stack", "regoin1");
        expect(run.code).toBe(1);
        expect(run.stderr).toBe(
            "error: --stack regoin1: neither side has a stack of that name (did you mean region1?); stacks: region1, region2",
        );
    });

    it("fails in one line when a directory is not synth output", async () => {
        const run = await cli("--base-dir", path.join(baseDir, "nope"), "--head-dir", headDir);
        expect(run.code).toBe(1);
        expect(run.stderr).toBe(`error: ${path.join(baseDir, "nope")} is not a directory of synth output`);
    });
});

describe("npm run synth-diff on commits, in this process", () => {
    /** The CLI with TMPDIR set to a fresh directory (and PATH prefixed when given), which it returns too. */
    async function cliIn(env: { PATH?: string }, ...args: string[]): Promise<Run & { tmp: string }> {
        const tmp = tempDir("synth-diff-tmpdir-");
        const saved = { TMPDIR: process.env.TMPDIR, PATH: process.env.PATH };
        process.env.TMPDIR = tmp;
        if (env.PATH !== undefined) {
            process.env.PATH = `${env.PATH}${path.delimiter}${saved.PATH ?? ""}`;
        }
        try {
            return { ...(await cli(...args)), tmp };
        } finally {
            for (const [name, value] of Object.entries(saved)) {
                if (value === undefined) {
                    delete process.env[name];
                } else {
                    process.env[name] = value;
                }
            }
        }
    }

    it("names an unknown revision, and warns that uncommitted changes are not compared", async () => {
        const repo = stubRepository("never run");
        fs.writeFileSync(path.join(repo, "Pulumi.yaml"), "name: changed\nruntime: nodejs\n");
        fs.writeFileSync(path.join(repo, "Pulumi.s1.yaml"), "config: {}\n");
        fs.writeFileSync(path.join(repo, "debug.log"), "ignored\n");
        const run = await cli("--base", "HEAD", "--head", "no-such-branch", "--repo", repo);
        expect(run.code).toBe(1);
        expect(run.stdout).toBe("");
        expect(run.stderr.split("\n")).toEqual([
            `warning: 2 files have uncommitted changes in ${fs.realpathSync(repo)} (git status); they are not part of the comparison, which is of committed revisions only`,
            `error: --head "no-such-branch" is not a commit in ${fs.realpathSync(repo)}`,
        ]);
        // A clean working tree: no warning.
        git(repo, "add", "--all");
        git(repo, "commit", "--quiet", "--message", "more");
        expect((await cli("--base", "nope", "--head", "HEAD", "--repo", repo)).stderr).toBe(
            `error: --base "nope" is not a commit in ${fs.realpathSync(repo)}`,
        );
    });

    it("fails in one line, naming the side, when a commit's synth fails, and still removes the worktree", async () => {
        const repo = stubRepository("Pulumi.s1.yaml: openova-vault:vault.replicas must be odd");
        const commit = git(repo, "rev-parse", "--short=7", "HEAD");
        const run = await cliIn({}, "--base", "HEAD", "--head", "HEAD", "--repo", repo);
        expect(run.code).toBe(1);
        expect(run.stderr).toContain(
            `synth-diff: base HEAD (${commit}): linking node_modules from ${fs.realpathSync(path.join(ROOT, "node_modules"))}`,
        );
        expect(run.stderr).toContain(`synth-diff: base HEAD (${commit}): synthesizing (tsx ${SYNTH_CLI})`);
        expect(run.stderr).toContain("synth-diff:   [base] stack s1: 0 resources");
        expect(run.stderr.split("\n").filter((line) => line.startsWith("error: "))).toEqual([
            `error: synth failed at base HEAD (${commit}): Pulumi.s1.yaml: openova-vault:vault.replicas must be odd`,
        ]);
        // The base failed first: the head was never synthesized.
        expect(run.stderr).not.toContain("synth-diff: head");
        expect({ worktrees: worktrees(repo), tmp: fs.readdirSync(run.tmp).filter((name) => name.startsWith("synth-diff-")) }).toEqual({
            worktrees: [],
            tmp: [],
        });
    });

    it("refuses a --stack neither commit has before synthesizing anything, with the stacks each has and a suggestion", async () => {
        // The synth of either commit would fail: it must not run at all.
        const repo = stubRepository("never run");
        fs.writeFileSync(path.join(repo, "Pulumi.region1.yaml"), "config: {}\n");
        git(repo, "add", "--all");
        git(repo, "commit", "--quiet", "--message", "region1");
        // The head moves its stack files to stackConfigDir and adds region2 there.
        fs.writeFileSync(path.join(repo, "Pulumi.yaml"), "name: stub\nruntime: nodejs\nstackConfigDir: stacks\n");
        fs.mkdirSync(path.join(repo, "stacks"));
        git(repo, "mv", "Pulumi.region1.yaml", "stacks/Pulumi.region1.yaml");
        fs.writeFileSync(path.join(repo, "stacks", "Pulumi.region2.yml"), "config: {}\n");
        git(repo, "add", "--all");
        git(repo, "commit", "--quiet", "--message", "stacks in stacks/");
        expect(stacksAtCommit(repo, git(repo, "rev-parse", "HEAD~1"), "")).toEqual(["region1"]);
        expect(stacksAtCommit(repo, git(repo, "rev-parse", "HEAD"), "")).toEqual(["region1", "region2"]);

        const run = await cliIn({}, "--base", "HEAD~1", "--head", "HEAD", "--repo", repo, "--stack", "region3", "--stack", "region2");
        expect(run).toMatchObject({
            code: 1,
            stdout: "",
            stderr: "error: --stack region3: neither side has a stack of that name (did you mean region1 or region2?); stacks: region1, region2",
        });
        expect(fs.readdirSync(run.tmp)).toEqual([]);
        // A stack only one side has is compared (the stub's synth runs, and fails as it always does).
        const one = await cliIn({}, "--base", "HEAD~1", "--head", "HEAD", "--repo", repo, "--stack", "region2");
        expect(one.stderr).toContain("error: synth failed at ");
    });

    it("runs npm ci in a worktree whose package-lock.json differs from the checkout's, and names the side when it fails", async () => {
        const repo = stubRepository("never run");
        // The checkout (HEAD) gets another package-lock.json, so the base's no longer matches it. A fake
        // npm first on PATH records how it was called and fails as it would without a registry.
        fs.writeFileSync(path.join(repo, "package-lock.json"), "lock 2\n");
        git(repo, "commit", "--quiet", "--all", "--message", "another package-lock.json");
        const bin = tempDir("synth-diff-bin-");
        const log = path.join(bin, "calls.log");
        fs.writeFileSync(
            path.join(bin, "npm"),
            `#!/bin/sh\necho "$PWD $*" >> "${log}"\necho "npm ERR! code E403 (fake npm: no registry here)" >&2\nexit 1\n`,
            { mode: 0o755 },
        );
        const run = await cliIn({ PATH: bin }, "--base", "HEAD~1", "--head", "HEAD", "--repo", repo);
        const base = git(repo, "rev-parse", "--short=7", "HEAD~1");
        expect(run.code).toBe(1);
        expect(run.stderr).toContain(
            `synth-diff: base HEAD~1 (${base}): npm ci (its package-lock.json differs from the current checkout's)`,
        );
        expect(run.stderr.split("\n").filter((line) => line.startsWith("error: "))).toEqual([
            `error: installing dependencies failed at base HEAD~1 (${base}): npm ERR! code E403 (fake npm: no registry here)`,
        ]);
        // npm ci ran once, in the base's worktree, which is gone with its temporary directory.
        const call = /^(\S+)\/worktree ci --no-audit --no-fund\n$/.exec(fs.readFileSync(log, "utf8"));
        expect(call?.[1]).toMatch(/synth-diff-run-\w+$/);
        expect(fs.existsSync(call?.[1] as string)).toBe(false);
        expect(worktrees(repo)).toEqual([]);
    });
});

// ---------------------------------------------------------------------------------------------------
// End to end: two fixture commits of a repository that runs the real program

type StackConfig = { config: Record<string, unknown> };

/** A committed stack file of this project, its CA file named by absolute path. */
function stackConfig(stack: string, caFile: string): StackConfig {
    const file = parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as StackConfig;
    file.config["openova-vault:vaultCaCertFile"] = caFile;
    return file;
}

/**
 * A git repository whose first commit is a Pulumi project running this repository's real program
 * (its Pulumi.yaml's `main:` is the absolute path of index.ts) with the committed region stacks, and
 * this repository's synth (with the modules it imports), package.json and package-lock.json; its
 * node_modules (untracked) links to this repository's, so each worktree's package-lock.json matches
 * the checkout's and the synth diff links it as it does in the workflow. The second commit changes
 * region1's config: five Vault servers instead of three, and one more replicated secret, whose first
 * value comes from (secret) config.
 */
function fixtureRepository(): string {
    const repo = tempDir("synth-diff-repo-");
    git(repo, "init", "--quiet", "--initial-branch=main");
    const project = parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
    project.main = path.join(ROOT, "index.ts");
    fs.writeFileSync(path.join(repo, "Pulumi.yaml"), stringify(project));
    for (const file of [
        "package.json",
        "package-lock.json",
        "tsconfig.json",
        path.join("bootstrap", "command.ts"),
        path.join("components", "common", "spelling.ts"),
        path.join("stack", "projectFiles.ts"),
    ]) {
        fs.mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
        fs.copyFileSync(path.join(ROOT, file), path.join(repo, file));
    }
    fs.cpSync(path.join(ROOT, "tools", "synth"), path.join(repo, "tools", "synth"), { recursive: true });
    const caFile = path.join(repo, "platform-ca.pem");
    fs.copyFileSync(path.join(ROOT, "certs", "example-platform-ca.pem"), caFile);
    fs.writeFileSync(path.join(repo, ".gitignore"), "node_modules\n");
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(repo, "node_modules"), "junction");
    for (const stack of ["region1", "region2"]) {
        fs.writeFileSync(path.join(repo, `Pulumi.${stack}.yaml`), stringify(stackConfig(stack, caFile)));
    }
    git(repo, "add", "--all");
    git(repo, "commit", "--quiet", "--message", "fixture: the region stacks");

    const region1 = stackConfig("region1", caFile);
    (region1.config["openova-vault:vault"] as Record<string, unknown>).replicas = 5;
    (region1.config["openova-vault:replicatedSecrets"] as unknown[]).push({
        name: "app-token",
        namespace: "apps",
        keys: ["token"],
        mode: "vault-written",
        writers: "home",
        home: "region1",
        initialValue: "config",
    });
    // As `pulumi config set --secret` writes it; the synth cannot decrypt it and shows "[secret]".
    region1.config["openova-vault:initialValues"] = { "app-token": { secure: "v1:ZmFrZS1jaXBoZXJ0ZXh0" } };
    fs.writeFileSync(path.join(repo, "Pulumi.region1.yaml"), stringify(region1));
    git(repo, "commit", "--quiet", "--all", "--message", "fixture: five servers and app-token in region1");
    return repo;
}

describe("npm run synth-diff on two fixture commits", () => {
    /** Where the command makes its temporary directories (its TMPDIR): none of its own left after the run. */
    let commandTmp: string;
    let repo: string;

    beforeAll(() => {
        commandTmp = tempDir("synth-diff-tmpdir-");
        repo = fixtureRepository();
    });

    afterAll(() => {
        // fs.rmSync removes the node_modules link, never what it points to.
        fs.rmSync(repo, { recursive: true, force: true });
        fs.rmSync(commandTmp, { recursive: true, force: true });
    });

    it("synthesizes each commit by its own synth in a worktree and writes what changed, uncommitted changes aside", () => {
        // Uncommitted: region2 with an even number of servers (which its synth would refuse) and a new file.
        const region2 = parse(fs.readFileSync(path.join(repo, "Pulumi.region2.yaml"), "utf8")) as StackConfig;
        (region2.config["openova-vault:vault"] as Record<string, unknown>).replicas = 4;
        fs.writeFileSync(path.join(repo, "Pulumi.region2.yaml"), stringify(region2));
        fs.writeFileSync(path.join(repo, "notes.txt"), "not committed\n");

        // `npm run synth-diff -- ...` as the workflow runs it, from this repository.
        const out = path.join(tempDir("synth-diff-out-"), "synth-diff.md");
        const run = spawnSync(
            "npm",
            ["run", "--silent", "synth-diff", "--", "--base", "HEAD~1", "--head", "HEAD", "--repo", repo, "--out", out],
            {
                cwd: ROOT,
                encoding: "utf8",
                env: { ...GIT_ENV, TMPDIR: commandTmp },
            },
        );
        expect({ code: run.status, stderr: run.status === 0 ? "" : run.stderr }).toEqual({ code: 0, stderr: "" });
        const markdown = fs.readFileSync(out, "utf8");
        const [base, head] = [git(repo, "rev-parse", "--short=7", "HEAD~1"), git(repo, "rev-parse", "--short=7", "HEAD")];

        // The warning, and each commit in a worktree with the checkout's node_modules linked, run by tsx.
        expect(run.stderr).toContain(
            `warning: 2 files have uncommitted changes in ${fs.realpathSync(repo)} (git status); they are not part of the comparison`,
        );
        expect(run.stderr).toContain(`synth-diff: base HEAD~1 (${base}): creating a worktree at ${commandTmp}${path.sep}synth-diff-run-`);
        expect(run.stderr).toContain(
            `synth-diff: base HEAD~1 (${base}): linking node_modules from ${fs.realpathSync(path.join(ROOT, "node_modules"))}`,
        );
        expect(run.stderr).toContain(`synth-diff: head HEAD (${head}): synthesizing (tsx ${SYNTH_CLI})`);
        expect(run.stderr).toContain("synth-diff:   [head] stack region1: ");
        expect(markdown).toContain(`### Synth diff: \`HEAD~1 (${base})\` → \`HEAD (${head})\``);

        // The changed replicas (in the chart's values and the server config), the added resources, the
        // other stack unchanged (its uncommitted change is not compared).
        expect(markdown).toMatch(/#### Stack `region1`: \d+ added, 0 removed, \d+ changed resources; outputs unchanged/);
        expect(markdown).toMatch(/^- `region1-vault` · `kubernetes:helm\.sh\/v4:Chart`: \d+ changes?$/m);
        expect(markdown).toContain("  values.server.ha.replicas: 3 → 5\n");
        expect(markdown).toContain('"vault-4.vault-internal"');
        expect(markdown).toMatch(/^- `[^`]*app-token[^`]*` · `kubernetes:external-secrets\.io\/v1alpha1:PushSecret`$/m);
        expect(markdown).toMatch(/^- `[^`]*app-token[^`]*` · `openova:vault:ReplicatedSecret`$/m);
        expect(markdown).toMatch(/\+\+\+ head external-secrets\.io\/v1alpha1 PushSecret apps\/app-token-to-region2\n/);
        expect(markdown).toContain("#### Stack `region2`: no changes");

        // The new secret's initial value only as the synth shows it.
        expect(markdown).toContain("[secret]");
        expect(markdown).not.toContain("offline-synth-placeholder");
        expect(markdown).not.toContain("ZmFrZS1jaXBoZXJ0ZXh0");

        // No worktree or temporary directory of its own left (other tools keep caches in TMPDIR).
        expect({ worktrees: worktrees(repo), tmp: fs.readdirSync(commandTmp).filter((name) => name.startsWith("synth-diff-")) }).toEqual({
            worktrees: [],
            tmp: [],
        });
    }, 120_000);
});
