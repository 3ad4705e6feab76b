/**
 * Configuring a region's Vault for ESO: the least-privilege policies (read back with Vault's own parser), the
 * KV mount and audit device options, ESO's Kubernetes auth roles, and what peers log in with.
 */
import * as fc from "fast-check";
import { POLICY_PURPOSES, POLICY_TABLE, type PolicyScope, policyDocument, policyName } from "../components/vault-config/policies";
import {
    NAMESPACE_SERVICE_ACCOUNTS,
    PEER_JWT_ROLE,
    auditDevice,
    auditDevicesOption,
    kvMountOption,
    namespaceRole,
    peerJwtPath,
    peerJwtSettings,
    peerTokenSettings,
} from "../components/vault-config/setupValues";
import { type ParsedPathRule, parseVaultPolicy } from "./support/vaultHcl";

const ACCESSOR = "auth_kubernetes_0a1b2c3d";
const NS = `{{identity.entity.aliases.${ACCESSOR}.metadata.service_account_namespace}}`;
const namespaceScope = { kind: "namespace", authAccessor: ACCESSOR } as const;

/** Each path the policy covers, with its capabilities and parameter limits, as Vault's parser (HCL v1) reads the text. */
function parsedPolicy(purpose: "pull" | "push", mount = "secret", scope: PolicyScope = namespaceScope): Record<string, ParsedPathRule> {
    return parseVaultPolicy(policyDocument(purpose, mount, scope));
}

describe("the least-privilege policy table", () => {
    it("gives a namespace's pulls read on its own secrets' data only", () => {
        expect(parsedPolicy("pull")).toEqual({ [`secret/data/${NS}/*`]: { capabilities: ["read"] } });
    });

    it("gives a namespace's pushes create, read and update on its own prefix, and only custom_metadata on metadata", () => {
        expect(parsedPolicy("push")).toEqual({
            [`secret/data/${NS}/*`]: { capabilities: ["create", "read", "update"] },
            [`secret/metadata/${NS}/*`]: { capabilities: ["create", "read", "update"], allowed_parameters: { custom_metadata: [] } },
        });
    });

    it("gives a peer exactly the secrets it pushes, each once, in a stable order", () => {
        const scope = { kind: "paths", remoteKeys: ["b/two", "a/one", "b/two"] } as const;
        expect(parsedPolicy("push", "kv", scope)).toEqual({
            "kv/data/a/one": { capabilities: ["create", "read", "update"] },
            "kv/data/b/two": { capabilities: ["create", "read", "update"] },
            "kv/metadata/a/one": { capabilities: ["create", "read", "update"], allowed_parameters: { custom_metadata: [] } },
            "kv/metadata/b/two": { capabilities: ["create", "read", "update"], allowed_parameters: { custom_metadata: [] } },
        });
    });

    it("denies everything to a peer that pushes nothing, rather than sending Vault an empty document", () => {
        expect(parsedPolicy("push", "secret", { kind: "paths", remoteKeys: [] })).toEqual({ "secret/*": { capabilities: ["deny"] } });
    });

    it("grants no delete, list, sudo or patch anywhere, nothing under sys/, and nothing across the whole mount", () => {
        const scopes: PolicyScope[] = [namespaceScope, { kind: "paths", remoteKeys: ["team/app"] }];
        for (const scope of scopes) {
            for (const purpose of POLICY_PURPOSES) {
                for (const [path, rule] of Object.entries(parsedPolicy(purpose, "secret", scope))) {
                    expect(rule.capabilities.filter((c) => ["delete", "list", "sudo", "deny", "patch"].includes(c))).toEqual([]);
                    // The segment after data/ or metadata/ is the namespace (its template) or a literal: never * or +.
                    expect(path).toMatch(/^secret\/(data|metadata)\/(\{\{[^}]+\}\}|team)\//);
                }
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
                expect(Object.keys(parsedPolicy("push", mount))).toEqual([`${mount}/data/${NS}/*`, `${mount}/metadata/${NS}/*`]);
            }),
            { numRuns: 50 },
        );
    });

    it("names the policies after their purpose, and a peer's after the peer", () => {
        expect([policyName("pull"), policyName("push"), policyName("push", "region2")]).toEqual([
            "namespace-pull",
            "namespace-push",
            "peer-region2-push",
        ]);
    });
});

describe("namespaceRole", () => {
    it.each(POLICY_PURPOSES)(
        "for %s binds the namespace's own service account in any namespace, with an audience, a short TTL and the templated policy",
        (purpose) => {
            expect(namespaceRole(purpose)).toEqual({
                roleName: `namespace-${purpose}`,
                boundServiceAccountNames: [NAMESPACE_SERVICE_ACCOUNTS[purpose]],
                boundServiceAccountNamespaces: ["*"],
                audience: "vault",
                tokenTtl: 900,
                tokenMaxTtl: 3600,
                tokenPolicies: [`namespace-${purpose}`],
            });
        },
    );

    it("uses a reader and a writer account, so a namespace that may only read cannot push", () => {
        expect(NAMESPACE_SERVICE_ACCOUNTS).toEqual({ pull: "vault-secrets-reader", push: "vault-secrets-writer" });
    });
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
            tokenPolicies: ["peer-region2-push"],
            tokenTtl: 600,
            tokenMaxTtl: 900,
        });
    });
});

describe("peerTokenSettings", () => {
    it("is an orphan, periodic, renewable token with the push policy only, named after the peer, and a one-year end", () => {
        const settings = peerTokenSettings("region1", "region2");
        expect(settings).toEqual({
            displayName: "peer-region2",
            policies: ["peer-region2-push"],
            noParent: true,
            period: "720h",
            explicitMaxTtl: "8760h",
            renewable: true,
            metadata: { "issued-by": "region1", "used-by": "region2", purpose: "external-secrets-push", generation: "1" },
        });
        expect(settings).not.toHaveProperty("ttl");
        // Nothing left for a refresh to do: the region's token renewer renews it.
        expect(settings).not.toHaveProperty("renewMinLease");
    });

    it("puts its generation in its metadata, so a new generation is a new token", () => {
        expect(peerTokenSettings("region1", "region2", 3).metadata.generation).toBe("3");
        expect(peerTokenSettings("region1", "region2", 3)).toEqual({
            ...peerTokenSettings("region1", "region2"),
            metadata: { ...peerTokenSettings("region1", "region2").metadata, generation: "3" },
        });
    });
});
