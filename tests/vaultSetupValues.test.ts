import { parse as parseHcl } from "@cdktf/hcl2json";
import * as fc from "fast-check";
import { POLICY_TABLE, policyDocument, policyName } from "../components/vaultPolicies";
import { externalSecretsRole, peerTokenSettings } from "../components/vaultSetupValues";

type PolicyJson = { path: Record<string, { capabilities: string[] }[]> };

async function parsedPolicy(purpose: "pull" | "push", mount = "secret"): Promise<Record<string, string[]>> {
    const json = (await parseHcl(`${purpose}.hcl`, policyDocument(purpose, mount))) as PolicyJson;
    return Object.fromEntries(Object.entries(json.path).map(([path, [stanza]]) => [path, stanza.capabilities]));
}

describe("the least-privilege policy table", () => {
    it("gives ESO's pulls read on secret data only", async () => {
        expect(await parsedPolicy("pull")).toEqual({ "secret/data/*": ["read"] });
    });

    it("gives pushes create, read and update on data and metadata, as ESO's Vault provider needs", async () => {
        expect(await parsedPolicy("push")).toEqual({
            "secret/data/*": ["create", "read", "update"],
            "secret/metadata/*": ["create", "read", "update"],
        });
    });

    it("grants no delete, list, sudo or deny anywhere, and nothing under sys/ or a bare *", async () => {
        for (const purpose of ["pull", "push"] as const) {
            const policy = await parsedPolicy(purpose);
            for (const [path, capabilities] of Object.entries(policy)) {
                expect(capabilities.filter((c) => ["delete", "list", "sudo", "deny", "patch"].includes(c))).toEqual([]);
                expect(path.startsWith("sys/")).toBe(false);
                expect(path).not.toBe("*");
                expect(path.startsWith("secret/")).toBe(true);
            }
        }
        expect(Object.values(POLICY_TABLE).flat().flatMap((rule) => rule.capabilities)).not.toContain("delete");
    });

    it("follows the configured mount, for any valid mount path", async () => {
        await fc.assert(
            fc.asyncProperty(fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,20}$/), async (mount) => {
                expect(Object.keys(await parsedPolicy("push", mount))).toEqual([`${mount}/data/*`, `${mount}/metadata/*`]);
            }),
            { numRuns: 50 },
        );
    });

    it("names the policies after their purpose", () => {
        expect([policyName("pull"), policyName("push")]).toEqual(["external-secrets-pull", "external-secrets-push"]);
    });
});

describe("externalSecretsRole", () => {
    it("binds exactly ESO's service account, with an audience, a short TTL and the pull and push policies", () => {
        expect(externalSecretsRole({ name: "external-secrets", namespace: "eso" })).toEqual({
            roleName: "external-secrets",
            boundServiceAccountNames: ["external-secrets"],
            boundServiceAccountNamespaces: ["eso"],
            audience: "vault",
            tokenTtl: 900,
            tokenMaxTtl: 3600,
            tokenPolicies: ["external-secrets-pull", "external-secrets-push"],
        });
    });
});

describe("peerTokenSettings", () => {
    it("is an orphan, periodic, renewable token with the push policy only, named after the peer", () => {
        const settings = peerTokenSettings("region1", "region2");
        expect(settings).toMatchObject({
            displayName: "peer-region2",
            policies: ["external-secrets-push"],
            noParent: true,
            period: "720h",
            renewable: true,
            metadata: { "issued-by": "region1", "used-by": "region2" },
        });
        expect(settings).not.toHaveProperty("ttl");
        expect(settings).not.toHaveProperty("explicitMaxTtl");
    });

    it("renews in the second half of its period, for a full period", () => {
        const { renewMinLease, renewIncrement } = peerTokenSettings("a", "b");
        const period = 720 * 3600;
        expect(renewMinLease).toBe(period / 2);
        expect(renewIncrement).toBe(period);
    });
});
