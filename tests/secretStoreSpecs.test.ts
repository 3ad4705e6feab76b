import {
    LOCAL_STORE_NAME,
    PUSH_TARGET_LABEL,
    inClusterVaultAddress,
    localStore,
    peerStore,
    peerStoreName,
    peerTokenSecretName,
} from "../components/secretStoreSpecs";
import { validateEsoObjects } from "./support/esoSchema";

const local = localStore({
    region: "region1",
    vaultNamespace: "vault",
    kvMount: "secret",
    authPath: "kubernetes",
    role: "external-secrets",
    serviceAccount: { name: "external-secrets", namespace: "external-secrets" },
    audience: "vault",
});
const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const peer = peerStore({ peer: "region2", address: "https://vault.region2.example.com", caCert: CA, kvMount: "secret", namespace: "external-secrets" });
const peerWithoutCa = peerStore({ peer: "region3", address: "https://vault.region3.example.com", caCert: "", kvMount: "kv", namespace: "eso" });

describe("ESO's schemas", () => {
    it("accept every store this project builds, at external-secrets.io/v1", () => {
        expect(validateEsoObjects([local, peer, peerWithoutCa])).toEqual(["", "", ""]);
        expect([local, peer].map((store) => store.apiVersion)).toEqual(["external-secrets.io/v1", "external-secrets.io/v1"]);
    });

    it("would reject a broken store (so the check above can fail)", () => {
        const broken = structuredClone(peer) as unknown as { spec: { provider: { vault: { version: string } } } };
        broken.spec.provider.vault.version = "v3";
        const [badVersion, unknownApi] = validateEsoObjects([broken, { ...local, apiVersion: "external-secrets.io/v9" }]);
        expect(badVersion).toMatch(/version/);
        expect(unknownApi).not.toBe("");
    });
});

describe("vault-local", () => {
    it("reaches the active Vault server inside the cluster, not through the ingress", () => {
        expect(inClusterVaultAddress("vault")).toBe("http://vault-active.vault.svc:8200");
        expect(local.metadata?.name).toBe(LOCAL_STORE_NAME);
        expect(local.spec?.provider?.vault).toMatchObject({ server: "http://vault-active.vault.svc:8200", path: "secret", version: "v2" });
    });

    it("logs in with Kubernetes auth as ESO's service account, naming its namespace and audience", () => {
        expect(local.spec?.provider?.vault?.auth).toEqual({
            kubernetes: {
                mountPath: "kubernetes",
                role: "external-secrets",
                serviceAccountRef: { name: "external-secrets", namespace: "external-secrets", audiences: ["vault"] },
            },
        });
    });
});

describe("peer stores", () => {
    it("are named after the peer (the seed's vault-remote is vault-<peer>)", () => {
        expect(peerStoreName("region2")).toBe("vault-region2");
        expect(peerTokenSecretName("region2")).toBe("vault-region2-token");
        expect(peer.metadata?.name).toBe("vault-region2");
    });

    it("push to the peer's public address with the token Secret in ESO's namespace, trusting the peer's CA", () => {
        expect(peer.spec?.provider?.vault).toEqual({
            server: "https://vault.region2.example.com",
            path: "secret",
            version: "v2",
            caBundle: Buffer.from(CA).toString("base64"),
            auth: { tokenSecretRef: { name: "vault-region2-token", namespace: "external-secrets", key: "token" } },
        });
        expect(peerWithoutCa.spec?.provider?.vault).not.toHaveProperty("caBundle");
    });

    it("and vault-local all carry the push-target label a PushSecret selects", () => {
        for (const store of [local, peer, peerWithoutCa]) {
            expect(store.metadata?.labels).toMatchObject(PUSH_TARGET_LABEL);
        }
    });
});
