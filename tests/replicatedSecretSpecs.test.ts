import {
    type ReplicatedSecretSpec,
    externalSecret,
    initialValuePush,
    passwordGenerator,
    pushSecret,
    pushTargets,
    remoteKeyOf,
    roleOf,
} from "../components/replicatedSecretSpecs";
import { localStore, peerStore } from "../components/secretStoreSpecs";
import { validateEsoObjects } from "./support/esoSchema";

const db: ReplicatedSecretSpec = { name: "db-credentials", namespace: "databases", keys: ["password"], mode: "vault-written", home: "region1" };
const whole: ReplicatedSecretSpec = { name: "api", namespace: "apps", mode: "cluster-written", home: "region2", remoteKey: "shared/api" };

/** Does a label selector's matchLabels select these labels? */
const selects = (matchLabels: Record<string, string>, labels: Record<string, string> | undefined) =>
    Object.entries(matchLabels).every(([k, v]) => labels?.[k] === v);

describe("ESO's schemas", () => {
    it("accept every object a replicated secret declares", () => {
        const objects = [
            externalSecret(db),
            externalSecret(whole),
            pushSecret(db, "peers"),
            pushSecret(whole, "all"),
            passwordGenerator(db, 32),
            initialValuePush(db, { generate: { key: "password", length: 32 } }),
            initialValuePush(whole, { fromSecret: { secretName: "api-initial" } }),
        ];
        expect(validateEsoObjects(objects)).toEqual(objects.map(() => ""));
    });
});

describe("roles: one pusher per secret, so no two regions push different values", () => {
    it.each([
        ["vault-written", "region1", { pulls: true, pushes: "peers" }],
        ["vault-written", "region2", { pulls: true, pushes: "none" }],
        ["cluster-written", "region1", { pulls: false, pushes: "all" }],
        ["cluster-written", "region2", { pulls: true, pushes: "none" }],
    ] as const)("%s in %s", (mode, region, role) => {
        expect(roleOf({ mode, home: "region1" }, region)).toEqual(role);
    });
});

describe("externalSecret", () => {
    it("reads the listed properties from vault-local every 30s, owns its target and keeps it if the Vault secret goes away", () => {
        expect(externalSecret(db).spec).toEqual({
            refreshInterval: "30s",
            secretStoreRef: { kind: "ClusterSecretStore", name: "vault-local" },
            target: { name: "db-credentials", creationPolicy: "Owner", deletionPolicy: "Retain" },
            data: [{ secretKey: "password", remoteRef: { key: "databases/db-credentials", property: "password" } }],
        });
    });

    it("extracts the whole secret when no keys are listed", () => {
        expect(externalSecret(whole).spec?.dataFrom).toEqual([{ extract: { key: "shared/api" } }]);
        expect(remoteKeyOf(db)).toBe("databases/db-credentials");
    });
});

describe("pushSecret", () => {
    const stores = [localStore({ vaultNamespace: "vault", kvMount: "secret", authPath: "kubernetes", role: "r", serviceAccount: { name: "s", namespace: "n" }, audience: "vault" }),
        peerStore({ peer: "region2", address: "https://vault.region2.example.com", caCert: "", kvMount: "secret", namespace: "n" })];

    it("pushes every 30s with Replace and never deletes elsewhere", () => {
        expect(pushSecret(db, "peers").spec).toMatchObject({ refreshInterval: "30s", updatePolicy: "Replace", deletionPolicy: "None", selector: { secret: { name: "db-credentials" } } });
        expect(pushSecret(db, "peers").spec?.data).toEqual([{ match: { secretKey: "password", remoteRef: { remoteKey: "databases/db-credentials", property: "password" } } }]);
        expect(pushSecret(whole, "all").spec?.data).toEqual([{ match: { remoteRef: { remoteKey: "shared/api" } } }]);
    });

    it("selects exactly the peer stores, or every store, by label", () => {
        const [local, peer] = stores;
        expect([selects(pushTargets("peers"), local.metadata?.labels), selects(pushTargets("peers"), peer.metadata?.labels)]).toEqual([false, true]);
        expect([selects(pushTargets("all"), local.metadata?.labels), selects(pushTargets("all"), peer.metadata?.labels)]).toEqual([true, true]);
        expect(pushSecret(db, "peers").spec?.secretStoreRefs).toEqual([{ kind: "ClusterSecretStore", labelSelector: { matchLabels: pushTargets("peers") } }]);
    });
});

describe("initial values", () => {
    it("are written once into the home Vault, from ESO's Password generator, and never overwritten", () => {
        const push = initialValuePush(db, { generate: { key: "password", length: 32 } });
        expect(push.metadata?.name).toBe("db-credentials-initial");
        expect(push.spec).toMatchObject({
            updatePolicy: "IfNotExists",
            deletionPolicy: "None",
            secretStoreRefs: [{ kind: "ClusterSecretStore", name: "vault-local" }],
            selector: { generatorRef: { apiVersion: "generators.external-secrets.io/v1alpha1", kind: "Password", name: "db-credentials-initial" } },
            data: [{ match: { secretKey: "password", remoteRef: { remoteKey: "databases/db-credentials", property: "password" } } }],
        });
        expect(passwordGenerator(db, 40).spec).toMatchObject({ length: 40 });
    });

    it("can come from a Secret with an operator-supplied value instead", () => {
        expect(initialValuePush(db, { fromSecret: { secretName: "db-credentials-initial" } }).spec?.selector).toEqual({ secret: { name: "db-credentials-initial" } });
    });
});
