import * as pulumi from "@pulumi/pulumi";
import { BACKEND_OUTPUT, PEER_ACCESS_OUTPUT, backendFrom, endpointFrom, identityFrom, peerStackName, readPeers } from "../stack/peering";

/** Mocks in which a stack reference resolves through `resolveStack` (outputs named in `secretOutputNames` secret); @returns the stack references' names */
async function mockStacks(
    resolveStack: (name: string) => { outputs: Record<string, unknown>; secretOutputNames: string[] },
): Promise<string[]> {
    const references: string[] = [];
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                if (args.type !== "pulumi:pulumi:StackReference") {
                    return { id: `${args.name}-id`, state: args.inputs as Record<string, unknown> };
                }
                references.push(args.name);
                const name = String((args.inputs as { name: string }).name);
                const { outputs, secretOutputNames } = resolveStack(name);
                const marked = Object.fromEntries(
                    Object.entries(outputs).map(([k, v]) => [
                        k,
                        secretOutputNames.includes(k) ? { [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value: v } : v,
                    ]),
                );
                return { id: name, state: { name, outputs: marked, secretOutputNames } };
            },
            call: () => ({}),
        },
        "openova-vault",
        "region1",
    );
    return references;
}

describe("peer stacks", () => {
    it("are <org>/<project>/<peer>", () => {
        expect(peerStackName("acme", "openova-vault", "region2")).toBe("acme/openova-vault/region2");
        expect(PEER_ACCESS_OUTPUT).toBe("peerAccess");
    });
});

describe("endpointFrom", () => {
    const issued = { region1: { address: "https://vault.region2.example.com", caCert: "", token: "hvs.peer" } };

    it("takes the entry the peer issued for this region, keeping the token secret", async () => {
        const found = endpointFrom("region2", "region1", issued);
        if ("missing" in found) {
            throw new Error(found.missing);
        }
        expect(found).toMatchObject({ peer: "region2", address: "https://vault.region2.example.com", caCert: "" });
        const token = pulumi.output(found.token);
        expect(await pulumi.isSecret(token)).toBe(true);
    });

    it.each([
        ["no output at all", undefined, "has no peerAccess output yet"],
        ["no entry for this region", { region3: issued.region1 }, "it has granted region1 no access yet"],
        ["an entry of the wrong shape", { region1: { address: "x" } }, "is not {address, caCert, token}"],
        ["an empty token", { region1: { ...issued.region1, token: "" } }, "is not {address, caCert, token}"],
        [
            "a JWT entry without a role",
            { region1: { address: "x", caCert: "", jwt: { path: "jwt-region1", audience: "a" } } },
            "or {address, caCert, jwt: {path, role, audience}}",
        ],
    ])("reports %s as missing", (_name, output, reason) => {
        expect(endpointFrom("region2", "region1", output)).toEqual({ missing: expect.stringContaining(reason) as unknown });
    });
});

describe("endpointFrom with JWT peer auth", () => {
    it("takes the mount and role the peer created for this region; nothing secret", () => {
        const jwt = { path: "jwt-region1", role: "external-secrets-push", audience: "https://vault.region2.example.com" };
        const found = endpointFrom("region2", "region1", { region1: { address: "https://vault.region2.example.com", caCert: "PEM", jwt } });
        expect(found).toEqual({ peer: "region2", address: "https://vault.region2.example.com", caCert: "PEM", jwt });
    });
});

describe("identityFrom", () => {
    const published = { issuer: "https://oidc.region2.example.com", publicKeys: ["PEM"], discoveryCaCert: "" };

    it("is the peer's issuer and keys, bound to its ESO service account in its ESO namespace", () => {
        expect(identityFrom("region2", published, "eso")).toEqual({
            peer: "region2",
            identity: { ...published, serviceAccount: { name: "external-secrets", namespace: "eso" } },
        });
    });

    it.each([
        ["no identity output", undefined, "eso", "has no serviceAccountIssuer output yet"],
        ["an identity without an issuer", { ...published, issuer: "" }, "eso", "has no serviceAccountIssuer output yet"],
        ["keys that are not strings", { ...published, publicKeys: [1] }, "eso", "has no serviceAccountIssuer output yet"],
        ["no ESO namespace", published, undefined, "has no externalSecretsNamespace output yet"],
    ])("reports %s as missing", (_name, identity, namespace, reason) => {
        expect(identityFrom("region2", identity, namespace)).toEqual({ missing: expect.stringContaining(reason) as unknown });
    });
});

describe("readPeers", () => {
    it("reads each peer's stack by <org>/<project>/<peer>, takes secret outputs, and warns for peers with nothing yet", async () => {
        const asked: string[] = [];
        const references = await mockStacks((name) => {
            asked.push(name);
            if (name.endsWith("/region2")) {
                return {
                    outputs: { peerAccess: { region1: { address: "https://vault.region2.example.com", caCert: "", token: "hvs.from-2" } } },
                    secretOutputNames: ["peerAccess"],
                };
            }
            return { outputs: {}, secretOutputNames: [] };
        });
        const lookup = await readPeers({
            stack: "region1",
            region: "region1",
            peers: ["region2", "region3"],
            organization: "acme",
            project: "openova-vault",
        });
        await pulumi.runtime.disconnect();

        expect(asked.sort()).toEqual(["acme/openova-vault/region2", "acme/openova-vault/region3"]);
        expect(lookup.endpoints.map((e) => e.peer)).toEqual(["region2"]);
        const token = pulumi.output(lookup.endpoints[0].token);
        expect(await pulumi.isSecret(token)).toBe(true);
        expect(lookup.warnings).toEqual([
            "Peer region3 (stack acme/openova-vault/region3) cannot receive pushes from region1 yet: its stack has no peerAccess output yet (it has not been deployed, or its Vault is not configured yet). Run `pulumi up -s region1` again after region3's Vault is configured.",
        ]);
        expect(references.sort()).toEqual(["peer-region2", "peer-region3"]);
    });
});

describe("readPeers with JWT peer auth", () => {
    it("also reads each peer's published identity and ESO namespace, and warns for a peer that has published none", async () => {
        await mockStacks((name) =>
            name.endsWith("/region2")
                ? {
                      outputs: {
                          peerAccess: {
                              region1: {
                                  address: "https://vault.region2.example.com",
                                  caCert: "",
                                  jwt: { path: "jwt-region1", role: "external-secrets-push", audience: "aud" },
                              },
                          },
                          serviceAccountIssuer: { issuer: "https://oidc.region2.example.com", publicKeys: ["PEM"], discoveryCaCert: "" },
                          externalSecretsNamespace: "external-secrets",
                      },
                      secretOutputNames: [],
                  }
                : { outputs: { externalSecretsNamespace: "external-secrets" }, secretOutputNames: [] },
        );
        const lookup = await readPeers({
            stack: "region1",
            region: "region1",
            peers: ["region2", "region3"],
            organization: "acme",
            project: "openova-vault",
            peerAuth: "jwt",
        });
        await pulumi.runtime.disconnect();

        expect(lookup.endpoints).toEqual([
            {
                peer: "region2",
                address: "https://vault.region2.example.com",
                caCert: "",
                jwt: { path: "jwt-region1", role: "external-secrets-push", audience: "aud" },
            },
        ]);
        expect(lookup.identities.map((i) => [i.peer, i.identity.issuer, i.identity.serviceAccount])).toEqual([
            ["region2", "https://oidc.region2.example.com", { name: "external-secrets", namespace: "external-secrets" }],
        ]);
        expect(lookup.warnings.filter((w) => w.includes("cannot let region3's ESO in yet"))).toHaveLength(1);
    });

    it("reads no identity, and warns about none, for a region whose cloud store checks none", async () => {
        await mockStacks(() => ({ outputs: { externalSecretsNamespace: "external-secrets" }, secretOutputNames: [] }));
        const lookup = await readPeers({
            stack: "region1",
            region: "region1",
            peers: ["region2"],
            organization: "acme",
            project: "openova-vault",
            peerAuth: "jwt",
            admitsPeerIdentities: false,
        });
        await pulumi.runtime.disconnect();
        expect(lookup.identities).toEqual([]);
        expect(lookup.warnings.filter((w) => w.includes("ESO in yet"))).toEqual([]);
    });
});

describe("backendFrom", () => {
    it("is the self-hosted Vault for a stack that publishes none, the parsed backend otherwise, and says why it cannot read one", () => {
        expect(backendFrom(undefined)).toEqual({ type: "vault" });
        expect(
            backendFrom({
                type: "gcp-secret-manager",
                project: "platform-secrets",
                serviceAccount: "openova-eso@platform-secrets.iam.gserviceaccount.com",
            }),
        ).toEqual({
            type: "gcp-secret-manager",
            project: "platform-secrets",
            serviceAccount: "openova-eso@platform-secrets.iam.gserviceaccount.com",
            replication: "automatic",
            secretPrefix: "openova-",
        });
        expect(backendFrom({ type: "nomad" })).toEqual({
            missing: expect.stringContaining("its backend output is not a backend this program knows") as unknown,
        });
    });
});

describe("readPeers with peers on managed backends", () => {
    it("takes a managed peer's published backend, asks it for no access, and warns only about peers this region pushes to", async () => {
        const aws = { type: "aws-secrets-manager", region: "us-east-1", roleArn: "arn:aws:iam::111122223333:role/eso" };
        await mockStacks((name) => ({
            outputs: name.endsWith("/region2") ? { [BACKEND_OUTPUT]: aws } : {},
            secretOutputNames: [],
        }));
        const lookup = await readPeers({
            stack: "region1",
            region: "region1",
            peers: ["region2", "region3"],
            organization: "acme",
            project: "openova-vault",
            pushesTo: [],
        });
        await pulumi.runtime.disconnect();
        expect(lookup.backends).toEqual([
            { peer: "region2", backend: { ...aws, identity: "irsa", replicaRegions: [], secretPrefix: "openova-" } },
        ]);
        expect(lookup.endpoints).toEqual([]);
        // region3 (self-hosted) has granted nothing, but this region pushes nothing there.
        expect(lookup.warnings).toEqual([]);
    });
});
