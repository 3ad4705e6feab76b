/**
 * Configuring a region's Vault for ESO: the least-privilege policies (Vault's JSON policy text), the
 * KV mount and audit device options, ESO's Kubernetes auth roles, and what peers log in with.
 */
import * as fc from "fast-check";
import { POLICY_TABLE, policyDocument, policyName } from "../components/vault-config/policies";
import {
    PEER_JWT_ROLE,
    auditDevice,
    auditDevicesOption,
    externalSecretsRole,
    kvMountOption,
    peerJwtPath,
    peerJwtSettings,
    peerTokenSettings,
} from "../components/vault-config/setupValues";

/** Vault's JSON policy form: one object per path. */
type PolicyJson = { path: Record<string, { capabilities: string[] }> };

/** Each path the policy for `purpose` on `mount` covers, with its capabilities, read back as Vault reads the text. */
function parsedPolicy(purpose: "pull" | "push", mount = "secret"): Record<string, string[]> {
    const json = JSON.parse(policyDocument(purpose, mount)) as PolicyJson;
    // Nothing but path rules: no other top-level stanza widens or narrows what they grant.
    expect(Object.keys(json)).toEqual(["path"]);
    return Object.fromEntries(Object.entries(json.path).map(([path, rule]) => [path, rule.capabilities]));
}

describe("the least-privilege policy table", () => {
    it("gives ESO's pulls read on secret data only", () => {
        expect(parsedPolicy("pull")).toEqual({ "secret/data/*": ["read"] });
    });

    it("gives pushes create, read and update on data and metadata, as ESO's Vault provider needs", () => {
        expect(parsedPolicy("push")).toEqual({
            "secret/data/*": ["create", "read", "update"],
            "secret/metadata/*": ["create", "read", "update"],
        });
    });

    it("grants no delete, list, sudo or deny anywhere, and nothing under sys/ or a bare *", () => {
        for (const purpose of ["pull", "push"] as const) {
            const policy = parsedPolicy(purpose);
            for (const [path, capabilities] of Object.entries(policy)) {
                expect(capabilities.filter((c) => ["delete", "list", "sudo", "deny", "patch"].includes(c))).toEqual([]);
                expect(path.startsWith("sys/")).toBe(false);
                expect(path).not.toBe("*");
                expect(path.startsWith("secret/")).toBe(true);
            }
        }
        expect(
            Object.values(POLICY_TABLE)
                .flat()
                .flatMap((rule) => rule.capabilities),
        ).not.toContain("delete");
    });

    it("follows the configured mount, for any mount path the kvMount option takes", () => {
        fc.assert(
            fc.property(fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,20}$/), (mount) => {
                expect(kvMountOption.safeParse(mount).success).toBe(true);
                expect(Object.keys(parsedPolicy("push", mount))).toEqual([`${mount}/data/*`, `${mount}/metadata/*`]);
            }),
            { numRuns: 50 },
        );
    });

    it("names the policies after their purpose", () => {
        expect([policyName("pull"), policyName("push")]).toEqual(["external-secrets-pull", "external-secrets-push"]);
    });
});

describe("externalSecretsRole", () => {
    it.each(["pull", "push"] as const)(
        "for %s binds exactly ESO's service account, with an audience, a short TTL and that one policy",
        (purpose) => {
            expect(externalSecretsRole({ name: "external-secrets", namespace: "eso" }, purpose)).toEqual({
                roleName: `external-secrets-${purpose}`,
                boundServiceAccountNames: ["external-secrets"],
                boundServiceAccountNamespaces: ["eso"],
                audience: "vault",
                tokenTtl: 900,
                tokenMaxTtl: 3600,
                tokenPolicies: [`external-secrets-${purpose}`],
            });
        },
    );
});

describe("the KV mount", () => {
    it("is secret by default", () => {
        expect(kvMountOption.parse(undefined)).toBe("secret");
    });

    it.each(["", "Secret", "kv/v2", "-kv", "a b"])("refuses %j", (mount) => {
        expect(kvMountOption.safeParse(mount).success).toBe(false);
    });
});

describe("audit devices", () => {
    it("are two by default, so one failing device does not stop Vault", () => {
        expect(auditDevicesOption.parse(undefined)).toEqual(["file", "stdout"]);
    });

    it.each([[[]], [["file", "file"]], [["syslog"]]])(
        "refuse %j: Vault would run unaudited, or a device twice, or one this project cannot set up",
        (devices) => {
            expect(auditDevicesOption.safeParse(devices).success).toBe(false);
        },
    );

    it("write a 0600 file on the audit volume (an executable mode is refused since CVE-2025-6000), or stdout", () => {
        expect(auditDevice("file")).toEqual({
            path: "file",
            type: "file",
            description: expect.any(String) as unknown,
            options: { file_path: "/vault/audit/vault-audit.log", mode: "0600" },
        });
        expect(auditDevice("stdout")).toMatchObject({ path: "stdout", type: "file", options: { file_path: "stdout" } });
        expect(auditDevice("file").options.file_path.startsWith("/vault/audit/")).toBe(true);
    });
});

describe("peerJwtSettings", () => {
    const identity = {
        issuer: "https://oidc.region2.example.com",
        publicKeys: ["-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"],
        discoveryCaCert: "",
        serviceAccount: { name: "external-secrets", namespace: "eso" },
    };

    it("checks the peer's tokens with its public keys and issuer, offline", () => {
        const { backend } = peerJwtSettings("region2", identity, "https://vault.region1.example.com");
        expect(backend).toEqual({
            path: "jwt-region2",
            type: "jwt",
            description: expect.any(String) as unknown,
            boundIssuer: "https://oidc.region2.example.com",
            jwtValidationPubkeys: identity.publicKeys,
        });
        expect(peerJwtPath("region2")).toBe("jwt-region2");
    });

    it("uses OIDC discovery (exactly one key source, as Vault requires) when no keys are published", () => {
        const { backend } = peerJwtSettings("region2", { ...identity, publicKeys: [], discoveryCaCert: "PEM" }, "aud");
        expect(backend).toMatchObject({ oidcDiscoveryUrl: "https://oidc.region2.example.com", oidcDiscoveryCaPem: "PEM" });
        expect(backend).not.toHaveProperty("jwtValidationPubkeys");
        expect(peerJwtSettings("region2", { ...identity, publicKeys: [] }, "aud").backend).not.toHaveProperty("oidcDiscoveryCaPem");
    });

    it("binds the role to the peer's ESO service account and this Vault's audience, with the push policy and a short token", () => {
        expect(peerJwtSettings("region2", identity, "https://vault.region1.example.com").role).toEqual({
            roleName: PEER_JWT_ROLE,
            roleType: "jwt",
            userClaim: "sub",
            boundSubject: "system:serviceaccount:eso:external-secrets",
            boundAudiences: ["https://vault.region1.example.com"],
            tokenPolicies: ["external-secrets-push"],
            tokenTtl: 600,
            tokenMaxTtl: 900,
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
