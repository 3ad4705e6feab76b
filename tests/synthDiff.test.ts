/**
 * The synth diff (`npm run synth-diff`): the pure comparison and Markdown rendering on small
 * hand-made synth outputs, the line diff underneath, the choice between linking and installing a
 * worktree's dependencies, the CLI on two synth directories, and end to end on two fixture commits
 * of a git repository that runs the real program, through the same npm script the pull-request
 * workflow runs.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import {
    GITHUB_COMMENT_LIMIT,
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
    shortUrn,
    valueChanges,
} from "../tools/synthDiff/diff";
import { main, readSynthDir } from "../tools/synthDiff/cli";
import { sequenceDiff, unifiedDiff, unifiedHunks } from "../tools/synthDiff/textDiff";
import { dependencyPlan, existingStacks, failureReason } from "../tools/synthDiff/worktree";
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

function resource(stack: string, type: string, name: string, inputs: unknown, extra: Partial<SynthResourceRecord> = {}): SynthResourceRecord {
    return { type, name, urn: urn(stack, type, name), custom: true, parent: REGION(stack), provider: PROVIDER(stack), inputs, ...extra };
}

function chart(stack: string, replicas: number): SynthResourceRecord {
    return resource(stack, "kubernetes:helm.sh/v4:Chart", `${stack}-vault`, {
        chart: "vault",
        version: "0.34.1",
        values: {
            injector: { enabled: false },
            server: { ha: { enabled: true, replicas, raft: { config: raftConfig(replicas) } }, ingress: { hosts: [{ host: `vault.${stack}.example.com` }] } },
        },
    });
}

function raftConfig(replicas: number): string {
    const joins = Array.from({ length: replicas }, (_, i) => `  retry_join {\n    leader_api_addr = "https://vault-${i}.vault-internal:8200"\n  }\n`);
    return `storage "raft" {\n  path = "/vault/data"\n${joins.join("")}}\n`;
}

const namespace = (stack: string, name: string, extra: Partial<SynthResourceRecord> = {}) =>
    resource(stack, "kubernetes:core/v1:Namespace", `${stack}-${name}-namespace`, { apiVersion: "v1", kind: "Namespace", metadata: { name } }, extra);

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

const baseOutputs = (stack: string) => ({ regionName: stack, peers: ["region2"], peerAccess: REDACTED, vaultAddress: `https://vault.${stack}.example.com` });

function baseTree(): Map<string, StackFiles> {
    return new Map([
        ["region1", stackFiles("region1", [chart("region1", 3), namespace("region1", "vault"), externalSecret("region1", "db-credentials"), secret("region1", "peer-token")], baseOutputs("region1"))],
        ["region2", stackFiles("region2", [chart("region2", 3), namespace("region2", "vault")], baseOutputs("region2"))],
    ]);
}

const render = (base: SynthTree, head: SynthTree, maxLength?: number) =>
    renderMarkdown(diffSynth(base, head), { baseLabel: "main (1111111)", headLabel: "feature (2222222)", maxLength, fullCommand: "npm run synth-diff -- --base main --head feature" });

// ---------------------------------------------------------------------------------------------------

describe("valueChanges", () => {
    it("gives the path of each changed leaf, with odd keys quoted and array items indexed", () => {
        const before = { values: { server: { ha: { replicas: 3 } } }, metadata: { labels: { "vault.openova.io/read": "true" } }, hosts: ["a", "b"] };
        const after = { values: { server: { ha: { replicas: 5 } } }, metadata: { labels: { "vault.openova.io/read": "false" } }, hosts: ["a", "c"] };
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
        expect(valueChanges({ joins: [{ addr: "x", tls: true }] }, { joins: [{ addr: "y", tls: true }] })).toEqual([{ path: "joins[0].addr", before: "x", after: "y" }]);
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
    it("keeps a longest common subsequence, removals before additions", () => {
        const ops = sequenceDiff(["a", "b", "c", "d"], ["a", "x", "c", "d", "e"]).map((e) => (e.op === "keep" ? ` ${e.a}` : e.op === "remove" ? `-${e.a}` : `+${e.b}`));
        expect(ops).toEqual([" a", "-b", "+x", " c", " d", "+e"]);
    });

    it("writes unified hunks with three lines of context, joining nearby changes", () => {
        const before = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join("\n") + "\n";
        const after = before.replace("line 2\n", "line two\n").replace("line 18\n", "");
        expect(unifiedHunks(before, after)).toEqual([
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
        ]);
        expect(unifiedHunks(before, before)).toEqual([]);
    });

    it("diffs against nothing for added and removed texts", () => {
        expect(unifiedDiff(undefined, "a\nb\n", { before: "x", after: "head y" })).toBe("--- /dev/null\n+++ head y\n@@ -0,0 +1,2 @@\n+a\n+b\n");
        expect(unifiedDiff("a\n", undefined, { before: "base y", after: "x" })).toBe("--- base y\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-a\n");
    });

    it("reports a huge rewrite as removed then added instead of aligning it", () => {
        const a = Array.from({ length: 3000 }, (_, i) => `a${i}`);
        const b = Array.from({ length: 3000 }, (_, i) => `b${i}`);
        const edits = sequenceDiff(a, b);
        expect(edits.filter((e) => e.op === "remove")).toHaveLength(3000);
        expect(edits.slice(0, 3000).every((e) => e.op === "remove")).toBe(true);
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
        expect(documents.map((d) => d.key)).toEqual(["v1 Namespace external-secrets (patch)", "v1 Namespace external-secrets", "v1 ConfigMap apps/c", "v1 ConfigMap apps/c #2"]);
        expect(documents[2].text).toBe("# kubernetes:core/v1:ConfigMap c\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: apps\n");
    });
});

describe("diffSynth and renderMarkdown", () => {
    it("says so in one line when nothing changed", () => {
        const markdown = render(baseTree(), baseTree());
        expect(markdown).toBe(`${SYNTH_DIFF_MARKER}\n### Synth diff: \`main (1111111)\` → \`feature (2222222)\`\n\nNo changes: every stack (\`region1\`, \`region2\`) synthesizes the same at both.\n`);
    });

    describe("a change to one stack", () => {
        const head = baseTree();
        const region1 = head.get("region1") as StackFiles;
        const resources = region1.resources
            .filter((r) => r.name !== "region1-peer-token")
            .map((r) => (r.name === "region1-vault" ? chart("region1", 5) : r))
            .map((r) => (r.name === "region1-db-credentials" ? externalSecret("region1", "db-credentials", "1m") : r))
            .map((r) => (r.name === "region1-vault-namespace" ? { ...r, options: { retainOnDelete: true }, dependsOn: [REGION("region1")] } : r));
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
            expect(markdown).toContain("**Added resources (1)**\n\n- `region1-app-token` · `kubernetes:external-secrets.io/v1:ExternalSecret`\n");
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
            expect(markdown).toMatch(/```diff\n {2}--- base values\.server\.ha\.raft\.config\n {2}\+\+\+ head values\.server\.ha\.raft\.config\n/);
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
                [...head].reverse().map(([stack, files]) => [stack, { ...files, resources: [...files.resources].reverse(), outputs: Object.fromEntries(Object.entries(files.outputs).reverse()) }]),
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
        expect(diff.stacks[0]).toMatchObject({ changed: [{ name: "region1-peer-token", changes: [{ path: 'stringData.other', before: undefined, after: REDACTED }] }] });
        expect(markdown).toContain('stringData.other: (absent) → "[secret]"');
        expect(markdown).toContain('vaultAddress: "https://vault.region1.example.com" → "[secret]"');
        expect(markdown).toContain("+  other: \"[secret]\"");
        // peerAccess was "[secret]" on both sides: nothing about it is reported.
        expect(markdown).not.toContain("peerAccess");
    });

    it("keeps fences intact when values hold backticks", () => {
        const head = baseTree();
        const region2 = head.get("region2") as StackFiles;
        head.set("region2", { ...region2, outputs: { ...region2.outputs, note: "```\nbreak out\n```" } });
        const markdown = render(baseTree(), head);
        expect(markdown).toContain("```\nnote: text, (absent) → 3 lines (diff below)\n```\n````diff\n--- /dev/null\n+++ head note\n@@ -0,0 +1,3 @@\n+```\n+break out\n+```\n````\n");
    });

    describe("a diff larger than a comment", () => {
        /** region1 with `count` replicated secrets more, each with a long spec, and every existing one changed. */
        function bigHead(count: number): Map<string, StackFiles> {
            const head = baseTree();
            const region1 = head.get("region1") as StackFiles;
            const added = Array.from({ length: count }, (_, i) => {
                const r = externalSecret("region1", `secret-${String(i).padStart(4, "0")}`);
                (r.inputs as { spec: Record<string, unknown> }).spec.data = Array.from({ length: 10 }, (_, k) => ({ secretKey: `key-${k}`, remoteRef: { key: `apps/secret-${i}`, property: `key-${k}` } }));
                return r;
            });
            head.set("region1", stackFiles("region1", [...region1.resources.map((r) => (r.name === "region1-vault" ? chart("region1", 7) : r)), ...added]));
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
            expect(markdown).toMatch(/> \[!NOTE\]\n> Truncated to fit GitHub's comment limit \(65,536 characters\): shortened \d+ manifest diffs\. Run `npm run synth-diff -- --base main --head feature` for the whole diff\./);
            expect(markdown).toContain("# added: external-secrets.io/v1 ExternalSecret databases/secret-0299 (left out to fit the comment)");
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
        expect(dependencyPlan(project("lock-1", true), project("lock-2"))).toMatchObject({ action: "install", reason: expect.stringContaining("differs") as unknown });
        expect(dependencyPlan(project("lock-1", true), project(undefined))).toMatchObject({ action: "install", reason: "it has no package-lock.json" });
        expect(dependencyPlan(project("lock-1"), project("lock-1"))).toMatchObject({ action: "install", reason: expect.stringContaining("no node_modules") as unknown });
    });

    it("needs nothing for a project without package.json", () => {
        expect(dependencyPlan(project("x", true), tempDir("synth-diff-empty-"))).toMatchObject({ action: "none" });
    });
});

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
        expect((await cli("--bogus")).code).toBe(2);
    });

    it("fails in one line when a directory is not synth output", async () => {
        const run = await cli("--base-dir", path.join(baseDir, "nope"), "--head-dir", headDir);
        expect(run.code).toBe(1);
        expect(run.stderr).toBe(`error: ${path.join(baseDir, "nope")} is not a directory of synth output`);
    });
});

// ---------------------------------------------------------------------------------------------------
// End to end: two fixture commits of a repository that runs the real program

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
 * this repository's synth, package.json and package-lock.json; its node_modules (untracked) links to
 * this repository's, so each worktree's package-lock.json matches the checkout's and the synth diff
 * links it as it does in the workflow. The second commit changes region1's config: five Vault
 * servers instead of three, and one more replicated secret, whose first value comes from (secret) config.
 */
function fixtureRepository(): string {
    const repo = tempDir("synth-diff-repo-");
    git(repo, "init", "--quiet", "--initial-branch=main");
    const project = parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
    project.main = path.join(ROOT, "index.ts");
    fs.writeFileSync(path.join(repo, "Pulumi.yaml"), stringify(project));
    for (const file of ["package.json", "package-lock.json", "tsconfig.json", path.join("tools", "command.ts")]) {
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
        home: "region1",
        initialValue: "config",
    });
    // As `pulumi config set --secret` writes it; the synth cannot decrypt it and shows "[secret]".
    region1.config["openova-vault:initialValues"] = { "app-token": { secure: "v1:ZmFrZS1jaXBoZXJ0ZXh0" } };
    fs.writeFileSync(path.join(repo, "Pulumi.region1.yaml"), stringify(region1));
    git(repo, "commit", "--quiet", "--all", "--message", "fixture: five servers and app-token in region1");
    return repo;
}

/** Where the command makes its temporary directories (its TMPDIR): none of its own left after a run. */
const commandTmp = tempDir("synth-diff-tmpdir-");

/** `npm run synth-diff -- ...` as the workflow runs it, from this repository. */
function npmSynthDiff(...args: string[]) {
    const result = spawnSync("npm", ["run", "--silent", "synth-diff", "--", ...args], { cwd: ROOT, encoding: "utf8", env: { ...GIT_ENV, TMPDIR: commandTmp } });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** What is left of temporary worktrees: git's records of them, and the command's temporary directories. */
function leftovers(repo: string): { worktrees: string[]; tmp: string[] } {
    return {
        worktrees: git(repo, "worktree", "list", "--porcelain")
            .split("\n")
            .filter((line) => line.startsWith("worktree "))
            .slice(1),
        // (Other tools leave their caches there, e.g. v8-compile-cache.)
        tmp: fs.readdirSync(commandTmp).filter((name) => name.startsWith("synth-diff-")),
    };
}

describe("npm run synth-diff on two fixture commits", () => {
    let repo: string;
    let run: ReturnType<typeof npmSynthDiff>;
    let markdown: string;

    beforeAll(() => {
        repo = fixtureRepository();
        const out = path.join(tempDir("synth-diff-out-"), "synth-diff.md");
        run = npmSynthDiff("--base", "HEAD~1", "--head", "HEAD", "--repo", repo, "--out", out);
        markdown = fs.existsSync(out) ? fs.readFileSync(out, "utf8") : "";
    }, 180_000);

    afterAll(() => {
        // fs.rmSync removes the node_modules link, never what it points to.
        fs.rmSync(repo, { recursive: true, force: true });
        fs.rmSync(commandTmp, { recursive: true, force: true });
    });

    it("synthesizes each commit in a worktree with the checkout's node_modules linked", () => {
        expect({ code: run.code, stderr: run.code === 0 ? "" : run.stderr }).toEqual({ code: 0, stderr: "" });
        const [base, head] = [git(repo, "rev-parse", "--short=7", "HEAD~1"), git(repo, "rev-parse", "--short=7", "HEAD")];
        expect(run.stderr).toContain(`synth-diff: base HEAD~1 (${base}): creating a worktree at ${commandTmp}${path.sep}synth-diff-run-`);
        expect(run.stderr).toContain(`synth-diff: base HEAD~1 (${base}): linking node_modules from ${fs.realpathSync(path.join(ROOT, "node_modules"))}`);
        expect(run.stderr).toContain(`synth-diff: head HEAD (${head}): synthesizing`);
        expect(run.stderr).toContain("synth-diff:   [head] stack region1: ");
        expect(markdown).toContain(`### Synth diff: \`HEAD~1 (${base})\` → \`HEAD (${head})\``);
    });

    it("names the changed replicas, the added resources, and the other stack as unchanged", () => {
        expect(markdown).toMatch(/#### Stack `region1`: \d+ added, 0 removed, \d+ changed resources; outputs unchanged/);
        expect(markdown).toContain("- `region1-vault` · `kubernetes:helm.sh/v4:Chart`");
        expect(markdown).toContain("  values.server.ha.replicas: 3 → 5\n");
        expect(markdown).toContain("+    leader_tls_servername = \"vault-4.vault-internal\"");
        expect(markdown).toMatch(/^- `[^`]*app-token[^`]*` · `kubernetes:external-secrets\.io\/v1alpha1:PushSecret`$/m);
        expect(markdown).toMatch(/^- `[^`]*app-token[^`]*` · `openova:vault:ReplicatedSecret`$/m);
        expect(markdown).toMatch(/\+\+\+ head external-secrets\.io\/v1alpha1 PushSecret apps\/app-token-to-region2\n/);
        expect(markdown).toContain("#### Stack `region2`: no changes");
    });

    it("shows the new secret's initial value only as the synth does: [secret]", () => {
        expect(markdown).toContain('[secret]');
        expect(markdown).not.toContain("offline-synth-placeholder");
        expect(markdown).not.toContain("ZmFrZS1jaXBoZXJ0ZXh0");
    });

    it("removes its worktrees and temporary directories", () => {
        expect(leftovers(repo)).toEqual({ worktrees: [], tmp: [] });
    });

    it("fails in one line, naming the ref, when a ref is not a commit", () => {
        const bad = npmSynthDiff("--base", "no-such-branch", "--head", "HEAD", "--repo", repo);
        expect(bad.code).toBe(1);
        expect(bad.stderr.trim()).toBe(`error: --base "no-such-branch" is not a commit in ${fs.realpathSync(repo)}`);
        expect(bad.stdout).toBe("");
    });

    it("fails in one line, naming the side, when a synth fails, and still removes the worktree", () => {
        const region2 = parse(fs.readFileSync(path.join(repo, "Pulumi.region2.yaml"), "utf8")) as StackConfig;
        (region2.config["openova-vault:vault"] as Record<string, unknown>).replicas = 4;
        fs.writeFileSync(path.join(repo, "Pulumi.region2.yaml"), stringify(region2));
        git(repo, "commit", "--quiet", "--all", "--message", "fixture: an even number of servers");
        // The broken commit as the base: it fails first, and the head is never synthesized.
        const broken = npmSynthDiff("--base", "HEAD", "--head", "HEAD~1", "--repo", repo);
        expect(broken.code).toBe(1);
        const errors = broken.stderr.split("\n").filter((line) => line.startsWith("error: "));
        expect(errors).toEqual([expect.stringMatching(new RegExp(`^error: synth failed at base HEAD \\(${git(repo, "rev-parse", "--short=7", "HEAD")}\\): .*replicas`))]);
        expect(broken.stderr).not.toContain("synth-diff: head");
        expect(leftovers(repo)).toEqual({ worktrees: [], tmp: [] });
    }, 120_000);

    it("runs npm ci in a worktree whose package-lock.json differs from the checkout's, and names the side when it fails", async () => {
        // The checkout (HEAD) gets another package-lock.json, so the base's no longer matches it. A fake
        // npm first on PATH records how it was called and fails as it would without a registry.
        fs.appendFileSync(path.join(repo, "package-lock.json"), "\n");
        git(repo, "commit", "--quiet", "--all", "--message", "fixture: another package-lock.json");
        const bin = tempDir("synth-diff-bin-");
        const log = path.join(bin, "calls.log");
        fs.writeFileSync(path.join(bin, "npm"), `#!/bin/sh\necho "$PWD $*" >> "${log}"\necho "npm ERR! code E403 (fake npm: no registry here)" >&2\nexit 1\n`, { mode: 0o755 });
        const saved = { PATH: process.env.PATH };
        process.env.PATH = `${bin}${path.delimiter}${process.env.PATH ?? ""}`;
        let failed: Run;
        try {
            failed = await cli("--base", "HEAD~1", "--head", "HEAD", "--repo", repo);
        } finally {
            Object.assign(process.env, saved);
        }
        const base = git(repo, "rev-parse", "--short=7", "HEAD~1");
        expect(failed.code).toBe(1);
        expect(failed.stderr).toContain(`synth-diff: base HEAD~1 (${base}): npm ci (its package-lock.json differs from the current checkout's)`);
        expect(failed.stderr.split("\n").filter((line) => line.startsWith("error: "))).toEqual([
            `error: installing dependencies failed at base HEAD~1 (${base}): npm ERR! code E403 (fake npm: no registry here)`,
        ]);
        // npm ci ran once, in the base's worktree, which is gone with its temporary directory.
        const call = /^(\S+)\/worktree ci --no-audit --no-fund\n$/.exec(fs.readFileSync(log, "utf8"));
        expect(call?.[1]).toMatch(/synth-diff-run-\w+$/);
        expect(fs.existsSync(call?.[1] as string)).toBe(false);
        expect(leftovers(repo).worktrees).toEqual([]);
    });
});
