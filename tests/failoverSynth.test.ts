/**
 * The fence of a failover in the real program: the committed region stacks, with db-credentials
 * written at its home only (`writers: home`), synthesized with region1 as its home and again with
 * region2. Each region's Vault lets a peer push exactly the secrets that peer is the home of
 * (`peer-<peer>-push`, read here with Vault's own policy parser), so moving the home and applying a
 * region takes the old home's right to push the secret there and gives it to the new home; the
 * PushSecrets move with it. docs/operations.md ("Moving a secret's home (failover)") relies on this.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { main } from "../tools/synth/cli";
import { runCli } from "./support/cliRun";
import { parseVaultPolicy } from "./support/vaultHcl";

const projectDir = path.resolve(__dirname, "..");
const KEY = "databases/db-credentials";
const PUSH = ["create", "read", "update"];

interface Resource {
    readonly type: string;
    readonly inputs: Record<string, unknown>;
}

/**
 * Synthesizes the committed stacks with db-credentials homed in `home` and written there only; returns
 * each region's resources. The stack files are the committed ones with that entry changed (their
 * relative paths resolve against the project, where Pulumi.yaml's `main` points).
 */
async function synthWithHome(home: string): Promise<Record<string, Resource[]>> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "openova-failover-"));
    const project = parseDocument(fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8"));
    project.set("main", path.join(projectDir, "index.ts"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), project.toString());
    const regions = ["region1", "region2"];
    for (const region of regions) {
        const stack = parseDocument(fs.readFileSync(path.join(projectDir, `Pulumi.${region}.yaml`), "utf8"));
        const secrets = stack.getIn(["config", "openova-vault:replicatedSecrets"]) as { items: unknown[] };
        expect(secrets.items).toHaveLength(1);
        stack.setIn(["config", "openova-vault:replicatedSecrets", 0, "writers"], "home");
        stack.setIn(["config", "openova-vault:replicatedSecrets", 0, "home"], home);
        fs.writeFileSync(path.join(dir, `Pulumi.${region}.yaml`), stack.toString());
    }
    const out = path.join(dir, "out");
    const run = await runCli(main, ["--project", dir, "--out", out]);
    expect({ code: run.code, errors: run.stderr.split("\n").filter((line) => line.startsWith("error: ")) }).toEqual({
        code: 0,
        errors: [],
    });
    expect(run.stdout).toMatch(/stack region1: \d+ resources, 0 warning\(s\)/);
    expect(run.stdout).toMatch(/stack region2: \d+ resources, 0 warning\(s\)/);
    const resources = Object.fromEntries(
        regions.map((region) => [region, JSON.parse(fs.readFileSync(path.join(out, region, "resources.json"), "utf8")) as Resource[]]),
    );
    fs.rmSync(dir, { recursive: true, force: true });
    return resources;
}

/** The paths a region's Vault lets `peer` push, with their capabilities, as Vault parses the policy. */
function peerPush(resources: readonly Resource[], peer: string): Record<string, readonly string[]> {
    const policy = resources.filter((r) => r.type === "vault:index/policy:Policy" && r.inputs.name === `peer-${peer}-push`);
    expect(policy).toHaveLength(1);
    return Object.fromEntries(Object.entries(parseVaultPolicy(String(policy[0].inputs.policy))).map(([p, rule]) => [p, rule.capabilities]));
}

/** The names of a region's PushSecrets that carry db-credentials. */
const pushSecrets = (resources: readonly Resource[]) =>
    resources
        .filter((r) => r.type === "kubernetes:external-secrets.io/v1alpha1:PushSecret")
        .map((r) => (r.inputs.metadata as { name: string }).name)
        .filter((name) => name.startsWith("db-credentials-to-"))
        .sort();

describe("moving db-credentials' home in the committed stacks (writers: home)", () => {
    let before: Record<string, Resource[]>;
    let after: Record<string, Resource[]>;

    beforeAll(async () => {
        before = await synthWithHome("region1");
        after = await synthWithHome("region2");
    }, 120_000);

    it("lets region1 push it into region2's Vault while region1 is its home, and nothing into region1's from region2", () => {
        expect(peerPush(before.region2, "region1")).toMatchObject({ [`secret/data/${KEY}`]: PUSH, [`secret/metadata/${KEY}`]: PUSH });
        // region1 is the home of nothing else region2 could push: nothing at all.
        expect(peerPush(before.region1, "region2")).toEqual({ "secret/*": ["deny"] });
        expect(pushSecrets(before.region1)).toEqual(["db-credentials-to-region2"]);
        expect(pushSecrets(before.region2)).toEqual([]);
    });

    it("fences region1 once region2 is its home: region2's Vault no longer lets region1 push it, and region1's lets region2", () => {
        const fenced = peerPush(after.region2, "region1");
        expect(Object.keys(fenced).filter((p) => p.endsWith(KEY))).toEqual([]);
        // What region1 still pushes there (the bootstrap's canary, homed in the first region) is untouched.
        expect(fenced).toEqual(Object.fromEntries(Object.entries(peerPush(before.region2, "region1")).filter(([p]) => !p.endsWith(KEY))));
        expect(peerPush(after.region1, "region2")).toMatchObject({ [`secret/data/${KEY}`]: PUSH, [`secret/metadata/${KEY}`]: PUSH });
        expect(pushSecrets(after.region1)).toEqual([]);
        expect(pushSecrets(after.region2)).toEqual(["db-credentials-to-region1"]);
    });

    it("changes nothing else in the policies a peer logs in with: the same policy names, so a token or role already issued gets the new rules", () => {
        for (const region of ["region1", "region2"]) {
            const names = (resources: readonly Resource[]) =>
                resources
                    .filter((r) => r.type === "vault:index/policy:Policy")
                    .map((r) => String(r.inputs.name))
                    .sort();
            expect(names(after[region])).toEqual(names(before[region]));
            const roles = (resources: readonly Resource[]) =>
                resources.filter((r) => r.type === "vault:jwt/authBackendRole:AuthBackendRole").map((r) => r.inputs.tokenPolicies);
            expect(roles(after[region])).toContainEqual([`peer-${region === "region1" ? "region2" : "region1"}-push`]);
            expect(roles(after[region])).toEqual(roles(before[region]));
        }
    });
});
