import {
    LOCAL_PUSH_STORE_NAME,
    LOCAL_STORE_NAME,
    PUSH_TARGET_LABEL,
    READ_NAMESPACE_LABEL,
    REPLICATE_NAMESPACE_LABEL,
    namespaceGrantLabels,
    inClusterVaultAddress,
    localStore,
    peerStore,
    peerStoreName,
    peerTokenSecretName,
} from "../components/stores/storeSpecs";
import { validateEsoObjects } from "./support/esoSchema";

const spec = {
    region: "region1",
    vaultNamespace: "vault",
    kvMount: "secret",
    authPath: "kubernetes",
    audience: "vault",
    caSecret: { name: "vault-server-tls", namespace: "vault", key: "ca.crt" },
};
const local = localStore({ ...spec, role: "namespace-pull" }, "read");
const localPush = localStore({ ...spec, role: "namespace-push" }, "push");
const esoServiceAccount = { name: "external-secrets", namespace: "external-secrets" };
const { caSecret: _ca, ...plainSpec } = spec;
const localPlain = localStore({ ...plainSpec, role: "namespace-pull" }, "read");
const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const peer = peerStore({
    peer: "region2",
    address: "https://vault.region2.example.com",
    caCert: CA,
    kvMount: "secret",
    namespace: "external-secrets",
});
const peerWithoutCa = peerStore({
    peer: "region3",
    address: "https://vault.region3.example.com",
    caCert: "",
    kvMount: "kv",
    namespace: "eso",
});
const peerJwt = peerStore({
    peer: "region2",
    address: "https://vault.region2.example.com",
    caCert: CA,
    kvMount: "secret",
    namespace: "external-secrets",
    auth: {
        kind: "jwt",
        path: "jwt-region1",
        role: "external-secrets-push",
        audience: "https://vault.region2.example.com",
        serviceAccount: esoServiceAccount,
    },
});

describe("ESO's schemas", () => {
    it("accept every store this project builds, at external-secrets.io/v1", () => {
        expect(validateEsoObjects([local, localPush, localPlain, peer, peerWithoutCa, peerJwt])).toEqual(["", "", "", "", "", ""]);
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

describe("vault-local and vault-local-push", () => {
    it("reach the active Vault server inside the cluster over TLS, verifying it with the CA from the certificate's Secret", () => {
        expect(inClusterVaultAddress("vault")).toBe("https://vault-active.vault.svc:8200");
        expect([local.metadata?.name, localPush.metadata?.name]).toEqual([LOCAL_STORE_NAME, LOCAL_PUSH_STORE_NAME]);
        for (const store of [local, localPush]) {
            expect(store.spec?.provider?.vault).toMatchObject({
                server: "https://vault-active.vault.svc:8200",
                path: "secret",
                version: "v2",
                caProvider: { type: "Secret", name: "vault-server-tls", namespace: "vault", key: "ca.crt" },
            });
        }
    });

    it("talk plain HTTP only when there is no CA (TLS off)", () => {
        expect(inClusterVaultAddress("vault", "http")).toBe("http://vault-active.vault.svc:8200");
        expect(localPlain.spec?.provider?.vault?.server).toBe("http://vault-active.vault.svc:8200");
        expect(localPlain.spec?.provider?.vault).not.toHaveProperty("caProvider");
    });

    it("log in as the namespace that asks: its reader account with the read role, its writer account with the push role", () => {
        expect(local.spec?.provider?.vault?.auth).toEqual({
            kubernetes: {
                mountPath: "kubernetes",
                role: "namespace-pull",
                // No namespace: ESO mints the token in the ExternalSecret's own namespace ("referent" auth).
                serviceAccountRef: { name: "vault-secrets-reader", audiences: ["vault"] },
            },
        });
        expect(localPush.spec?.provider?.vault?.auth?.kubernetes).toEqual({
            mountPath: "kubernetes",
            role: "namespace-push",
            serviceAccountRef: { name: "vault-secrets-writer", audiences: ["vault"] },
        });
    });

    it("serve only labelled namespaces: anyone may read where the platform granted read, only replicating namespaces may write", () => {
        expect(local.spec?.conditions).toEqual([{ namespaceSelector: { matchLabels: { [READ_NAMESPACE_LABEL]: "true" } } }]);
        expect(localPush.spec?.conditions).toEqual([{ namespaceSelector: { matchLabels: { [REPLICATE_NAMESPACE_LABEL]: "true" } } }]);
        expect(namespaceGrantLabels(false)).toEqual({ "vault.openova.io/read": "true" });
        expect(namespaceGrantLabels(true)).toEqual({ "vault.openova.io/read": "true", "vault.openova.io/replicate": "true" });
    });

    it("leave the read store out of PushSecrets' label selection: only the push store is a push target", () => {
        expect(local.metadata?.labels).not.toMatchObject(PUSH_TARGET_LABEL);
        expect(localPush.metadata?.labels).toMatchObject({ ...PUSH_TARGET_LABEL, "vault.openova.io/vault-region": "region1" });
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

    it("with JWT peer auth, log in with a 10-minute token of ESO's own service account, minted for the peer's audience only", () => {
        expect(peerJwt.spec?.provider?.vault?.auth).toEqual({
            jwt: {
                path: "jwt-region1",
                role: "external-secrets-push",
                kubernetesServiceAccountToken: {
                    serviceAccountRef: {
                        name: "external-secrets",
                        namespace: "external-secrets",
                        audiences: ["https://vault.region2.example.com"],
                    },
                    audiences: ["https://vault.region2.example.com"],
                    expirationSeconds: 600,
                },
            },
        });
        expect(JSON.stringify(peerJwt)).not.toContain('token"');
    });

    it("serve only namespaces allowed to replicate, and carry the push-target label a PushSecret selects", () => {
        for (const store of [peer, peerWithoutCa, peerJwt]) {
            expect(store.metadata?.labels).toMatchObject(PUSH_TARGET_LABEL);
            expect(store.spec?.conditions).toEqual([{ namespaceSelector: { matchLabels: { [REPLICATE_NAMESPACE_LABEL]: "true" } } }]);
        }
    });
});
