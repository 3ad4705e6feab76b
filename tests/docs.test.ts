/**
 * The README and Pulumi.yaml describe the code: every config key with its default, the pinned versions.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { CONFIG_KEYS } from "../stack/config";
import { EXTERNAL_SECRETS_CHART, VAULT_CHART } from "../components/common/versions";
import {
    RAFT_SNAPSHOT_DEFAULTS,
    SNAPSHOT_API_PATH,
    SNAPSHOT_AUDIENCE,
    SNAPSHOT_CLAIM_NAME,
    SNAPSHOT_CRONJOB_NAME,
    SNAPSHOT_DIR,
    SNAPSHOT_ROLE,
    SNAPSHOT_SERVICE_ACCOUNT,
} from "../components/snapshots/snapshotSpecs";
import { READ_NAMESPACE_LABEL, REPLICATE_NAMESPACE_LABEL } from "../components/stores/storeSpecs";
import { SEAL_RULES } from "../components/vault-server/seal";
import { AUDIT_LOG_FILE } from "../components/vault-config/setupValues";
import { TLS_DEFAULTS } from "../components/vault-server/tls";

const root = path.resolve(__dirname, "..");
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
const projectText = fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8");
const project = parse(projectText) as { name: string; config: Record<string, { type: string; description?: string; default?: unknown }> };

describe("README", () => {
    it.each(CONFIG_KEYS.map((k) => [k.key, k] as const))("documents %s with its type, default and what is allowed", (_key, k) => {
        expect(readme).toContain(`| \`${k.key}\` | ${k.type} | ${k.default} | ${k.allowed} | ${k.description} |`);
    });

    it("documents no config key the code does not know", () => {
        const table = readme.slice(readme.indexOf("| Key | Type | Default |"));
        const rows = [...table.matchAll(/^\| `([^`]+)` \| (?:string|integer|boolean|array|object) \|/gm)].map((m) => m[1]);
        expect(rows).toEqual(CONFIG_KEYS.map((k) => k.key));
    });

    it("gives the two-command quick start", () => {
        expect(readme).toMatch(/npm ci\nnpm run synth[^\n]*\nnpm test/);
    });

    it("names the pinned chart versions", () => {
        expect(readme).toContain(`\`hashicorp/vault\` chart ${VAULT_CHART.version}`);
        expect(readme).toContain(`\`external-secrets\` chart ${EXTERNAL_SECRETS_CHART.version}`);
    });
});

describe("Pulumi.yaml", () => {
    it("declares the project-wide keys with type and description, and the documented defaults", () => {
        expect(project.name).toBe("openova-vault");
        expect(project.config.regions).toMatchObject({ type: "array", default: ["region1", "region2"] });
        expect(`[${(project.config.regions.default as string[]).join(", ")}]`).toBe(CONFIG_KEYS.find((k) => k.key === "regions")?.default);
        expect(project.config.domain.type).toBe("string");
        expect(project.config.domain.default).toBeUndefined();
        for (const declaration of Object.values(project.config)) {
            expect(declaration.description?.length).toBeGreaterThan(20);
        }
    });

    it("lists every per-stack key with the code's type and default in its comment", () => {
        // Lines like "#   openova-vault:vault   object" open a section; indented lines below it are its keys.
        const documented = new Map<string, { type: string; default?: string }>();
        let section = "";
        for (const m of projectText.matchAll(/^#(\s+)(openova-vault:)?(\S+)\s+(string|integer|boolean|object|array)(?:\s+default: (.+))?$/gm)) {
            const [, , qualified, name, type, value] = m;
            const key = qualified ? name : `${section}.${name}`;
            if (qualified) {
                section = name;
            }
            documented.set(key, { type, default: value?.replace(/ \(.*\)$/, "") });
        }
        const perStack = CONFIG_KEYS.filter((k) => !(k.key in project.config));
        expect([...documented.keys()]).toEqual(perStack.map((k) => k.key));
        for (const k of perStack) {
            expect({ key: k.key, ...documented.get(k.key) }).toEqual({ key: k.key, type: k.type, default: k.type === "object" ? undefined : k.default });
        }
    });
});

describe("docs/backup-restore.md", () => {
    const text = fs.readFileSync(path.join(root, "docs", "backup-restore.md"), "utf8");

    it("names the objects, role, policy path and defaults the code uses", () => {
        for (const name of [SNAPSHOT_CLAIM_NAME, SNAPSHOT_CRONJOB_NAME, SNAPSHOT_SERVICE_ACCOUNT, SNAPSHOT_ROLE, SNAPSHOT_API_PATH, SNAPSHOT_AUDIENCE]) {
            expect(text).toContain(`\`${name}\``);
        }
        expect(text).toContain(`\`${RAFT_SNAPSHOT_DEFAULTS.schedule}\``);
        expect(text).toContain(`the newest ${RAFT_SNAPSHOT_DEFAULTS.retain}`);
        expect(text).toContain(`default ${RAFT_SNAPSHOT_DEFAULTS.storageSize}`);
        expect(text).toContain(`${SNAPSHOT_DIR}/vault-<YYYYmmddTHHMMSSZ>.snap`);
    });
});

describe("README's Security section", () => {
    const section = readme.slice(readme.indexOf("## Security"), readme.indexOf("## Configuration"));

    it("names the labels the stores are scoped by, and the defaults it describes", () => {
        expect(section).toContain(READ_NAMESPACE_LABEL);
        expect(section).toContain(REPLICATE_NAMESPACE_LABEL);
        expect(section).toContain(`ClusterIssuer \`${TLS_DEFAULTS.issuerName}\``);
        expect(section).toContain(AUDIT_LOG_FILE);
        expect(readme).toContain(`kubectl label namespace <app-namespace> ${READ_NAMESPACE_LABEL}=true`);
    });

    it("lists, per auto-unseal type, the parameters and Secret keys the code requires", () => {
        for (const [type, rules] of Object.entries(SEAL_RULES)) {
            const row = section.split("\n").find((line) => line.startsWith(`| \`${type}\` |`)) ?? "";
            for (const name of [...rules.required, ...rules.secretKeys]) {
                expect({ type, name, documented: row.includes(`\`${name}\``) }).toEqual({ type, name, documented: true });
            }
        }
    });
});
