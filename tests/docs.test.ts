/**
 * The docs describe the code: what is generated from it is current, the README's quick start is the
 * two commands after a clone, every link inside the repository leads somewhere, and nothing sends a
 * reader outside the repository or to an issue tracker's numbers.
 */
import { MINIMUM_KUBERNETES_VERSION, PEER_STORE_READ_POLICY, PUSH_PREFIX_POLICY } from "../components/stores/storeAdmission";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { READ_NAMESPACE_LABEL, REPLICATE_NAMESPACE_LABEL } from "../components/stores/storeSpecs";
import { POLICY_PURPOSES } from "../components/vault-config/policies";
import { AUDIT_LOG_FILE, namespaceRole } from "../components/vault-config/setupValues";
import {
    SNAPSHOT_API_PATH,
    SNAPSHOT_AUDIENCE,
    SNAPSHOT_CLAIM_NAME,
    SNAPSHOT_CRONJOB_NAME,
    SNAPSHOT_DIR,
    SNAPSHOT_ROLE,
    SNAPSHOT_SERVICE_ACCOUNT,
} from "../components/snapshots/snapshotSpecs";
import { configRows } from "../stack/config";
import { generatedFiles, withSections } from "../tools/docs/generate";

const root = path.resolve(__dirname, "..");
const read = (file: string) => fs.readFileSync(path.join(root, file), "utf8");
const readme = read("README.md");
const docs = ["README.md", "CHANGELOG.md", ...fs.readdirSync(path.join(root, "docs")).map((file) => path.join("docs", file))].filter(
    (file) => file.endsWith(".md"),
);

describe("generated docs", () => {
    it.each(generatedFiles().map(([file, text]) => [path.relative(root, file), text] as const))(
        "%s is current (npm run docs)",
        (file, text) => {
            expect(read(file) === text).toBe(true);
        },
    );

    it("refuses a generated section it does not know", () => {
        expect(() => withSections("<!-- generated: nope -->\nx\n<!-- end generated -->")).toThrow("unknown generated section nope");
    });
});

describe("config defaults", () => {
    it("are stated only in configuration.md (generated), never restated beside a key in other docs", () => {
        const keys = configRows().map((row) => row.key.replace(/[.[\]]/g, (c) => `\\${c}`));
        const restated = new RegExp(
            `\`(${keys.join("|")})\`(?:,|:)?\\s*\\(?default\\b|\\b\\d[\\w.]*\\s+\\(\`(${keys.join("|")})\`\\)|\`(${keys.join("|")})\`,?\\s+\\(?\\s*default `,
            "g",
        );
        const found = docs
            .filter((file) => file !== path.join("docs", "configuration.md") && file !== "CHANGELOG.md")
            .flatMap((file) => [...read(file).matchAll(restated)].map((m) => `${file}: ${m[0]}`));
        expect(found).toEqual([]);
        // The pattern finds the forms it is for.
        expect("the newest 48 (`vault.snapshots.retain`)".match(restated)).not.toBeNull();
        expect("`vault.snapshots.storageSize`, default 10Gi".match(restated)).not.toBeNull();
        expect("`monitoring.retention`\n(default 60s".match(restated)).not.toBeNull();
    });
});

describe("README", () => {
    it("gives the quick start: after npm ci, the synth and the tests", () => {
        expect(readme).toMatch(/npm ci\nnpm run synth[^\n]*\nnpm test/);
    });

    it("fits on a few screens", () => {
        expect(readme.split("\n").length).toBeLessThanOrEqual(200);
    });
});

describe.each(docs)("%s", (file) => {
    const text = read(file);

    it("links only to files that exist", () => {
        const links = [...text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map((m) => m[1]).filter((target) => !/^[a-z]+:/.test(target));
        const missing = links.filter((target) => !fs.existsSync(path.resolve(root, path.dirname(file), target)));
        expect(missing).toEqual([]);
    });

    it("sends no reader outside the repository, to issue numbers, or to the developers' machine", () => {
        expect(text).not.toMatch(/\.\.\/shared/);
        expect(text).not.toMatch(/\b(issue|issues) #?\d+|(^|\s)#\d+\b/im);
        expect(text).not.toMatch(/this machine|there is none here/i);
    });
});

describe("the repository", () => {
    it("sends no reader outside it: only CI's script looks beside the clone (for an offline schema copy)", () => {
        const files = execFileSync("git", ["ls-files"], { cwd: root, encoding: "utf8" }).split("\n").filter(Boolean);
        const outside = files.filter(
            (file) => file !== ".ci/run" && fs.readFileSync(path.join(root, file), "utf8").includes(["..", "shared"].join("/")),
        );
        expect(outside).toEqual([]);
    });
});

describe("the operators' docs", () => {
    it("name the objects, role, policy path and files of the snapshots the code creates", () => {
        const text = read("docs/backup-restore.md");
        for (const name of [
            SNAPSHOT_CLAIM_NAME,
            SNAPSHOT_CRONJOB_NAME,
            SNAPSHOT_SERVICE_ACCOUNT,
            SNAPSHOT_ROLE,
            SNAPSHOT_API_PATH,
            SNAPSHOT_AUDIENCE,
        ]) {
            expect({ name, named: text.includes(`\`${name}\``) }).toEqual({ name, named: true });
        }
        expect(text).toContain(`${SNAPSHOT_DIR}/vault-<YYYYmmddTHHMMSSZ>.snap`);
    });

    it("name the admission policies the region deploys, and the Kubernetes release they need", () => {
        const text = read("docs/security.md");
        for (const name of [PEER_STORE_READ_POLICY, PUSH_PREFIX_POLICY, `Kubernetes ${MINIMUM_KUBERNETES_VERSION} or later`]) {
            expect({ name, named: text.includes(name) }).toEqual({ name, named: true });
        }
        expect(read("docs/operations.md")).toContain(`Kubernetes ${MINIMUM_KUBERNETES_VERSION} or later`);
    });

    it("say that the namespace roles take any namespace's account, so the labels gate the stores and not Vault", () => {
        // Should the roles ever be bound to the labelled namespaces, this sentence must change with them.
        for (const purpose of POLICY_PURPOSES) {
            expect(namespaceRole(purpose).boundServiceAccountNamespaces).toEqual(["*"]);
        }
        expect(read("docs/security.md").replace(/\s+/g, " ")).toContain(
            "The labels gate the stores, not Vault's roles. The roles `namespace-pull` and `namespace-push` accept the service account `vault-secrets-reader` or `vault-secrets-writer` of any namespace",
        );
    });

    it("name the labels the stores are scoped by, and the audit log's file", () => {
        const text = `${read("docs/security.md")}\n${read("docs/operations.md")}`;
        for (const name of [READ_NAMESPACE_LABEL, REPLICATE_NAMESPACE_LABEL, AUDIT_LOG_FILE]) {
            expect({ name, named: text.includes(name) }).toEqual({ name, named: true });
        }
    });
});
