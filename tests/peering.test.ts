import * as pulumi from "@pulumi/pulumi";
import { PEER_ACCESS_OUTPUT, endpointFrom, peerStackName } from "../peering";

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
        ["no entry for this region", { region3: issued.region1 }, "it has issued no token for region1 yet"],
        ["an entry of the wrong shape", { region1: { address: "x" } }, "is not {address, caCert, token}"],
        ["an empty token", { region1: { ...issued.region1, token: "" } }, "is not {address, caCert, token}"],
    ])("reports %s as missing", (_name, output, reason) => {
        expect(endpointFrom("region2", "region1", output)).toEqual({ missing: expect.stringContaining(reason) as unknown });
    });
});
