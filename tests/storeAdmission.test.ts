/**
 * The admission policies that keep each namespace to its own secrets through the shared stores
 * (components/stores/storeAdmission.ts): their CEL run by a real CEL evaluator against objects ESO's
 * schemas accept, the objects the project creates itself, the ways a namespace could reach another
 * namespace's secrets through a peer store, and the policy objects against Kubernetes' schemas.
 */
import { parse } from "@bufbuild/cel";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import type { IExternalSecret } from "@kubernetes-models/external-secrets/external-secrets.io/v1/ExternalSecret" with {
    "resolution-mode": "import",
};
import type { IPushSecret } from "@kubernetes-models/external-secrets/external-secrets.io/v1alpha1/PushSecret" with {
    "resolution-mode": "import",
};
import {
    type ReplicatedSecretSpec,
    externalSecret,
    initialValuePush,
    pushSecret,
    pushTargets,
    replicatedSecretOptions,
    replicationCanary,
} from "../components/replication/replicationSpecs";
import {
    type AdmissionPolicy,
    MINIMUM_KUBERNETES_VERSION,
    PEER_STORE_READ_POLICY,
    PUSH_PREFIX_POLICY,
    storeAdmissionPolicies,
} from "../components/stores/storeAdmission";
import { type AdmissionOutcome, admit } from "./support/admission";
import { validateEsoObjects } from "./support/esoSchema";

const REGIONS = ["region1", "region2", "region3"];
const pairs = storeAdmissionPolicies({ peers: ["region2", "region3"], kvMount: "secret" });
const policyNamed = (name: string): AdmissionPolicy => {
    const pair = pairs.find((p) => p.policy.metadata.name === name);
    if (pair === undefined) {
        throw new Error(`no policy ${name}`);
    }
    return pair.policy;
};
const reads = policyNamed(PEER_STORE_READ_POLICY);
const pushes = policyNamed(PUSH_PREFIX_POLICY);

const EXTERNAL_SECRETS = "external-secrets.io/v1/externalsecrets";
const PUSH_SECRETS = "external-secrets.io/v1alpha1/pushsecrets";

/** What every policy of the region decides about creating `object`: admitted, or the messages of the refusals. */
function decide(object: IExternalSecret | IPushSecret, oldObject?: object): AdmissionOutcome {
    const resource = object.kind === "ExternalSecret" ? EXTERNAL_SECRETS : PUSH_SECRETS;
    const request = {
        operation: oldObject === undefined ? ("CREATE" as const) : ("UPDATE" as const),
        resource,
        object: object as { metadata: { namespace?: string } },
        ...(oldObject === undefined ? {} : { oldObject }),
    };
    const messages = pairs.flatMap(({ policy }) => {
        const outcome = admit(policy, request);
        return outcome.outcome === "denied" ? outcome.messages : [];
    });
    return messages.length === 0 ? { outcome: "admitted" } : { outcome: "denied", messages };
}

/** A replicated secret as the region resolves it. */
function secret(input: z.input<typeof replicatedSecretOptions> & { home?: string }): ReplicatedSecretSpec {
    return { ...replicatedSecretOptions.parse(input), home: input.home ?? "region1" };
}

/** The end-to-end lane's replicated secrets (e2e/stack.yaml), each homed where the file says. */
function e2eSecrets(): ReplicatedSecretSpec[] {
    const file = parseYaml(fs.readFileSync(path.join(__dirname, "..", "e2e", "stack.yaml"), "utf8")) as {
        config: Record<string, unknown>;
    };
    const entries = file.config["openova-vault:replicatedSecrets"] as (z.input<typeof replicatedSecretOptions> & { home?: string })[];
    expect(entries.length).toBeGreaterThan(3);
    return entries.map((entry) => secret(entry));
}

/** An ExternalSecret in `namespace` reading `key`, with the given store references. */
function externalSecretReading(namespace: string, key: string, refs: Partial<IExternalSecret["spec"]> & object): IExternalSecret {
    return {
        apiVersion: "external-secrets.io/v1",
        kind: "ExternalSecret",
        metadata: { name: "stolen", namespace },
        spec: { target: { name: "stolen" }, data: [{ secretKey: "password", remoteRef: { key, property: "password" } }], ...refs },
    };
}

/** A PushSecret in `namespace` writing its Secret `source` to `remoteKeys`, through `refs` (schema-defaulted: `kind` set). */
function pushSecretWriting(
    namespace: string,
    remoteKeys: readonly string[],
    refs: NonNullable<IPushSecret["spec"]>["secretStoreRefs"],
    extra: Partial<NonNullable<IPushSecret["spec"]>> = {},
): IPushSecret {
    return {
        apiVersion: "external-secrets.io/v1alpha1",
        kind: "PushSecret",
        metadata: { name: "overwrite", namespace },
        spec: {
            refreshInterval: "1h0m0s",
            updatePolicy: "Replace",
            deletionPolicy: "None",
            secretStoreRefs: refs,
            selector: { secret: { name: "source" } },
            data: remoteKeys.map((remoteKey) => ({
                conversionStrategy: "None" as const,
                match: { secretKey: "password", remoteRef: { remoteKey } },
            })),
            ...extra,
        },
    };
}

const toPeerByLabel = [{ kind: "ClusterSecretStore" as const, labelSelector: { matchLabels: pushTargets("region2") } }];
const toPeerByName = [{ kind: "ClusterSecretStore" as const, name: "vault-region2" }];
const toLocalPush = [{ kind: "ClusterSecretStore" as const, name: "vault-local-push" }];

describe("the admission policies' CEL, run by a CEL evaluator", () => {
    /** Every ESO object the project creates for these secrets, in every region. */
    const projectObjects = (() => {
        const specs = [
            secret({ name: "db-credentials", namespace: "databases" }),
            secret({ name: "api", namespace: "apps", keys: ["token", "url"], home: "region2" }),
            secret({ name: "tls", namespace: "apps", remoteKey: "apps/certs/tls", mode: "cluster-written" }),
            // The bootstrap's canary, in ESO's namespace, under <eso-ns>/.
            replicationCanary("external-secrets", REGIONS),
            // The end-to-end lane's secrets (e2e/stack.yaml): every writer mode, homed in each region.
            ...e2eSecrets(),
        ];
        return specs.flatMap((spec) => [
            externalSecret(spec),
            ...REGIONS.map((target) => pushSecret(spec, target)),
            initialValuePush(spec, { generate: { key: "password", generatorName: "replicated-secret-password-32" } }),
            initialValuePush(spec, { fromSecret: { secretName: `${spec.name}-initial` } }),
        ]);
    })();

    it("admits every object the project creates: ExternalSecrets from vault-local, PushSecrets to every store, initial values, the canary", () => {
        expect(projectObjects.map((object) => [object.kind, object.metadata?.namespace, object.metadata?.name, decide(object)])).toEqual(
            projectObjects.map((object) => [object.kind, object.metadata?.namespace, object.metadata?.name, { outcome: "admitted" }]),
        );
        // The canary's pushes are checked (they reach project stores), and pass: their keys are under ESO's namespace.
        const canaryPush = projectObjects.find((o) => o.kind === "PushSecret" && o.metadata?.namespace === "external-secrets");
        expect(JSON.stringify(canaryPush)).toContain('"remoteKey":"external-secrets/openova-replication-canary"');
    });

    it("lets the replicator refresh any ExternalSecret (its force-sync annotation leaves spec as it was), even one from before the policy", () => {
        // replicator/kubernetes.ts forceSync: a merge patch of metadata.annotations["force-sync"], nothing else.
        const peerReader = externalSecretReading("apps", "databases/db-credentials", {
            secretStoreRef: { kind: "ClusterSecretStore", name: "vault-region2" },
        });
        for (const before of [externalSecret(secret({ name: "db-credentials", namespace: "databases" })), peerReader]) {
            const after = { ...before, metadata: { ...before.metadata, annotations: { "force-sync": "1767225600" } } };
            expect(decide(after, before)).toEqual({ outcome: "admitted" });
        }
        // Creating the peer reader is what the policy refuses.
        expect(decide(peerReader).outcome).toBe("denied");
    });

    it.each([
        ["spec.secretStoreRef", { secretStoreRef: { kind: "ClusterSecretStore", name: "vault-region2" } }],
        [
            "spec.data[].sourceRef.storeRef",
            {
                secretStoreRef: { kind: "ClusterSecretStore", name: "vault-local" },
                data: [
                    { secretKey: "mine", remoteRef: { key: "apps/mine" } },
                    {
                        secretKey: "theirs",
                        remoteRef: { key: "databases/db-credentials" },
                        sourceRef: { storeRef: { kind: "ClusterSecretStore", name: "vault-region3" } },
                    },
                ],
            },
        ],
        [
            "spec.dataFrom[].sourceRef.storeRef",
            {
                dataFrom: [
                    {
                        extract: { key: "databases/db-credentials" },
                        sourceRef: { storeRef: { kind: "ClusterSecretStore", name: "vault-region2" } },
                    },
                ],
            },
        ],
    ] as [string, Partial<IExternalSecret["spec"]> & object][])(
        "refuses an ExternalSecret that reads from a peer store through %s",
        (_where, refs) => {
            const object = externalSecretReading("apps", "databases/db-credentials", refs);
            expect(decide(object)).toEqual({
                outcome: "denied",
                messages: [expect.stringContaining("may not read from a peer region's store (vault-region2, vault-region3)")],
            });
        },
    );

    it("admits an ExternalSecret reading a namespaced SecretStore that happens to share a peer store's name, or vault-local", () => {
        for (const secretStoreRef of [
            { kind: "SecretStore", name: "vault-region2" },
            { name: "vault-region2" },
            { kind: "ClusterSecretStore", name: "vault-local" },
        ]) {
            expect(
                decide(externalSecretReading("apps", "apps/x", { secretStoreRef } as Partial<IExternalSecret["spec"]> & object)),
            ).toEqual({
                outcome: "admitted",
            });
        }
    });

    it.each([
        ["another namespace's secret, through the peer store chosen by label", ["databases/db-credentials"], toPeerByLabel],
        ["another namespace's secret, through the peer store by name", ["databases/db-credentials"], toPeerByName],
        ["another namespace's secret, through vault-local-push", ["databases/db-credentials"], toLocalPush],
        ["one of several keys outside the namespace", ["apps/mine", "databases/db-credentials"], toPeerByLabel],
        ["a '..' segment", ["apps/../databases/db-credentials"], toPeerByLabel],
        ["a '.' segment", ["apps/./x"], toPeerByLabel],
        ["an empty segment", ["apps//x"], toPeerByLabel],
        ["a trailing '/'", ["apps/x/"], toPeerByLabel],
        ["the namespace's own name as a bare key", ["apps"], toPeerByLabel],
        ["the namespace's prefix without its '/'", ["appsx/y"], toPeerByLabel],
    ] as [string, string[], NonNullable<IPushSecret["spec"]>["secretStoreRefs"]][])(
        "refuses a PushSecret in namespace apps writing %s",
        (_what, keys, refs) => {
            expect(decide(pushSecretWriting("apps", keys, refs))).toEqual({
                outcome: "denied",
                messages: [expect.stringContaining("must keep every spec.data[].match.remoteRef.remoteKey under its own namespace")],
            });
        },
    );

    it("refuses a key that starts with the KV mount, which ESO strips, even in a namespace named like the mount", () => {
        // ESO builds secret/data/databases/x from "secret/data/databases/x" (client_get.go buildPath).
        expect(decide(pushSecretWriting("secret", ["secret/data/databases/x"], toPeerByLabel)).outcome).toBe("denied");
        expect(decide(pushSecretWriting("apps", ["apps/secret/x"], toPeerByLabel)).outcome).toBe("admitted");
    });

    it("admits PushSecrets under their namespace, and leaves PushSecrets to other stores alone", () => {
        expect(decide(pushSecretWriting("apps", ["apps/a", "apps/b/c"], toPeerByLabel))).toEqual({ outcome: "admitted" });
        // A namespaced SecretStore (a team's own, to another provider), by name or by label, and another ClusterSecretStore by name.
        for (const refs of [
            [{ kind: "SecretStore" as const, name: "vault-region2" }],
            [{ kind: "SecretStore" as const, labelSelector: { matchLabels: pushTargets("region2") } }],
            [{ kind: "ClusterSecretStore" as const, name: "aws-secrets-manager" }],
        ]) {
            expect(decide(pushSecretWriting("apps", ["prod/db"], refs))).toEqual({ outcome: "admitted" });
        }
        // But one store of ours among them is enough: ESO pushes every data entry to every store.
        expect(
            decide(pushSecretWriting("apps", ["prod/db"], [{ kind: "ClusterSecretStore", name: "aws-secrets-manager" }, ...toPeerByName]))
                .outcome,
        ).toBe("denied");
    });

    it("refuses a dataTo entry aimed at the project's stores unless it names one remoteKey under the namespace", () => {
        const bulk = (dataTo: unknown[]) =>
            decide(pushSecretWriting("apps", [], toPeerByLabel, { dataTo } as Partial<NonNullable<IPushSecret["spec"]>>));
        const peerRef = { kind: "ClusterSecretStore", labelSelector: { matchLabels: pushTargets("region2") } };
        // Without a remoteKey, each key of the source Secret becomes a secret of its own, named after the key (or a rewrite).
        expect(bulk([{ storeRef: peerRef, conversionStrategy: "None" }])).toEqual({
            outcome: "denied",
            messages: [expect.stringContaining("a spec.dataTo[] entry aimed at this project's Vault stores needs a remoteKey")],
        });
        expect(bulk([{ storeRef: { kind: "ClusterSecretStore", name: "vault-region3" }, remoteKey: "databases/all" }]).outcome).toBe(
            "denied",
        );
        expect(bulk([{ storeRef: peerRef, remoteKey: "apps/all" }])).toEqual({ outcome: "admitted" });
        expect(bulk([{ storeRef: { kind: "SecretStore", name: "team-store" } }])).toEqual({ outcome: "admitted" });
    });

    it("checks an update that changes spec, and not one that leaves it (a finalizer on an object from before the policy)", () => {
        const before = pushSecretWriting("apps", ["databases/db-credentials"], toPeerByLabel);
        const finalized = { ...before, metadata: { ...before.metadata, finalizers: ["pushsecret.externalsecrets.io/finalizer"] } };
        expect(decide(finalized, before)).toEqual({ outcome: "admitted" });
        const good = pushSecretWriting("apps", ["apps/x"], toPeerByLabel);
        expect(decide(before, good).outcome).toBe("denied");
        const stolen = externalSecretReading("apps", "databases/x", {
            secretStoreRef: { kind: "ClusterSecretStore", name: "vault-region2" },
        });
        const local = externalSecretReading("apps", "databases/x", { secretStoreRef: { kind: "ClusterSecretStore", name: "vault-local" } });
        expect(decide(stolen, local).outcome).toBe("denied");
    });

    it("decides on objects ESO's own schemas accept", () => {
        const objects = [
            ...projectObjects,
            externalSecretReading("apps", "databases/db-credentials", {
                secretStoreRef: { kind: "ClusterSecretStore", name: "vault-region2" },
            }),
            externalSecretReading("apps", "databases/db-credentials", {
                dataFrom: [
                    {
                        extract: { key: "databases/db-credentials" },
                        sourceRef: { storeRef: { kind: "ClusterSecretStore", name: "vault-region2" } },
                    },
                ],
            }),
            pushSecretWriting("apps", ["databases/db-credentials"], toPeerByLabel),
            pushSecretWriting("apps", ["databases/db-credentials"], toPeerByName),
        ];
        expect(validateEsoObjects(objects)).toEqual(objects.map(() => ""));
    });
});

describe("the admission policy objects", () => {
    it("are objects Kubernetes' own schemas accept, bound to deny in every namespace, failing closed", () => {
        const objects = pairs.flatMap(({ policy, binding }) => [policy, binding]);
        expect(validateEsoObjects(objects)).toEqual(objects.map(() => ""));
        for (const { policy, binding } of pairs) {
            expect(policy.apiVersion).toBe("admissionregistration.k8s.io/v1");
            expect(policy.spec.failurePolicy).toBe("Fail");
            expect(binding.spec).toEqual({ policyName: policy.metadata.name, validationActions: ["Deny"] });
            // Every expression is CEL the parser accepts.
            for (const expression of [...policy.spec.matchConditions, ...policy.spec.variables, ...policy.spec.validations].map(
                (e) => e.expression,
            )) {
                expect(() => parse(expression)).not.toThrow();
            }
        }
        expect(reads.spec.matchConstraints.resourceRules).toEqual([
            { apiGroups: ["external-secrets.io"], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["externalsecrets"] },
        ]);
        expect(pushes.spec.matchConstraints.resourceRules).toEqual([
            { apiGroups: ["external-secrets.io"], apiVersions: ["v1alpha1"], operations: ["CREATE", "UPDATE"], resources: ["pushsecrets"] },
        ]);
        expect(MINIMUM_KUBERNETES_VERSION).toBe("1.30");
    });

    it("is only the PushSecret policy in a region without peers, and refuses names it could not quote", () => {
        expect(storeAdmissionPolicies({ peers: [], kvMount: "secret" }).map(({ policy }) => policy.metadata.name)).toEqual([
            PUSH_PREFIX_POLICY,
        ]);
        expect(() => storeAdmissionPolicies({ peers: ["it's"], kvMount: "secret" })).toThrow('"it\'s" is not a region name');
        expect(() => storeAdmissionPolicies({ peers: ["region2"], kvMount: "a'b" })).toThrow("KV mount path");
    });
});
