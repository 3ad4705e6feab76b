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
    remoteKeyOf,
    pushSecret,
    pushTargets,
    replicatedSecretOptions,
    replicationCanary,
} from "../components/replication/replicationSpecs";
import {
    AWS_CONTROLLER_ROLE_POLICY,
    type AdmissionPolicy,
    MINIMUM_KUBERNETES_VERSION,
    PEER_STORE_READ_POLICY,
    PUSH_PREFIX_POLICY,
    READ_PREFIX_POLICY,
    type StoreAdmissionSpec,
    storeAdmissionPolicies,
} from "../components/stores/storeAdmission";
import { type ResolvedBackend, backendOptions } from "../components/backends/backendOptions";
import { backendPullSource, backendPushData, managedLocalStore, managedPeerStore } from "../components/backends/backendStores";
import { type AdmissionOutcome, admit } from "./support/admission";
import { validateEsoObjects } from "./support/esoSchema";
import { GCP_WITH_POOL, MANAGED_BACKENDS } from "./support/backendFixtures";

const REGIONS = ["region1", "region2", "region3"];
const pairs = storeAdmissionPolicies({ region: "region1", peers: ["region2", "region3"], kvMount: "secret" });
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

/** The API server's resource of each kind the policies see. */
const RESOURCES: Record<string, string> = {
    ExternalSecret: EXTERNAL_SECRETS,
    PushSecret: PUSH_SECRETS,
    SecretStore: "external-secrets.io/v1/secretstores",
    ClusterSecretStore: "external-secrets.io/v1/clustersecretstores",
};

type Checked = { readonly kind?: string; readonly metadata?: { readonly namespace?: string; readonly name?: string } };

/** What every policy of the region decides about creating `object`: admitted, or the messages of the refusals. */
function decide(object: IExternalSecret | IPushSecret, oldObject?: object): AdmissionOutcome {
    return decideWith(pairs, object, oldObject);
}

/** What `policies` decide about creating (or, with `oldObject`, updating) `object`. */
function decideWith(policies: readonly { readonly policy: AdmissionPolicy }[], object: Checked, oldObject?: object): AdmissionOutcome {
    const resource = RESOURCES[object.kind ?? ""];
    const request = {
        operation: oldObject === undefined ? ("CREATE" as const) : ("UPDATE" as const),
        resource,
        object: object as { metadata: { namespace?: string } },
        ...(oldObject === undefined ? {} : { oldObject }),
    };
    const messages = policies.flatMap(({ policy }) => {
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
        expect(
            storeAdmissionPolicies({ region: "region1", peers: [], kvMount: "secret" }).map(({ policy }) => policy.metadata.name),
        ).toEqual([PUSH_PREFIX_POLICY]);
        expect(() => storeAdmissionPolicies({ region: "region1", peers: ["it's"], kvMount: "secret" })).toThrow(
            '"it\'s" is not a region name',
        );
        expect(() => storeAdmissionPolicies({ region: "region1", peers: ["region2"], kvMount: "a'b" })).toThrow("KV mount path");
    });
});

// ---------------------------------------------------------------------------------------------------
// Backends other than a Vault: each store's key checked as its own backend spells it.

const AWS = backendOptions.parse(MANAGED_BACKENDS["aws-secrets-manager"]);
const AWS_POD_IDENTITY = backendOptions.parse({ ...MANAGED_BACKENDS["aws-secrets-manager"], identity: "pod-identity" });
const GCP = backendOptions.parse(GCP_WITH_POOL);
const AZURE = backendOptions.parse(MANAGED_BACKENDS["azure-key-vault"]);
const VAULT: ResolvedBackend = { type: "vault" };

/** region1 with `own` as its backend, and peers region2 (AWS), region3 (Azure) and region4 (a self-hosted Vault). */
function regionWith(own: ResolvedBackend, kvMount = "secret"): StoreAdmissionSpec {
    return {
        region: "region1",
        peers: ["region2", "region3", "region4"],
        kvMount,
        backend: own,
        peerBackends: { region2: AWS, region3: AZURE },
    };
}
const BACKENDS: Record<string, ResolvedBackend> = { region2: AWS, region3: AZURE, region4: VAULT };

/** An ExternalSecret in `namespace` reading `key` through `store` (a ClusterSecretStore), by `spec.secretStoreRef`. */
function readingThrough(store: string, namespace: string, key: string): IExternalSecret {
    return externalSecretReading(namespace, key, { secretStoreRef: { kind: "ClusterSecretStore", name: store } });
}

describe("the admission policies of a region whose own backend is a cloud store, or whose peers' are", () => {
    it.each([
        ["vault", VAULT, [PEER_STORE_READ_POLICY, PUSH_PREFIX_POLICY]],
        [
            "hcp-vault",
            backendOptions.parse({
                type: "hcp-vault",
                address: "https://vault.example.z1.hashicorp.cloud:8200",
                providerAuth: { role: "pulumi" },
            }),
            [PEER_STORE_READ_POLICY, PUSH_PREFIX_POLICY],
        ],
        ["aws-secrets-manager (IRSA)", AWS, [PEER_STORE_READ_POLICY, PUSH_PREFIX_POLICY, READ_PREFIX_POLICY]],
        [
            "aws-secrets-manager (Pod Identity)",
            AWS_POD_IDENTITY,
            [PEER_STORE_READ_POLICY, PUSH_PREFIX_POLICY, READ_PREFIX_POLICY, AWS_CONTROLLER_ROLE_POLICY],
        ],
        ["gcp-secret-manager", GCP, [PEER_STORE_READ_POLICY, PUSH_PREFIX_POLICY, READ_PREFIX_POLICY]],
        ["azure-key-vault", AZURE, [PEER_STORE_READ_POLICY, PUSH_PREFIX_POLICY, READ_PREFIX_POLICY]],
    ] as [string, ResolvedBackend, string[]][])(
        "with a %s backend, are the policies that backend needs, objects Kubernetes' schemas accept",
        (_type, backend, names) => {
            const policies = storeAdmissionPolicies(regionWith(backend));
            expect(policies.map(({ policy }) => policy.metadata.name)).toEqual(names);
            const objects = policies.flatMap(({ policy, binding }) => [policy, binding]);
            expect(validateEsoObjects(objects)).toEqual(objects.map(() => ""));
            for (const expression of policies
                .flatMap(({ policy }) => [...policy.spec.variables, ...policy.spec.validations])
                .map((e) => e.expression)) {
                expect(() => parse(expression)).not.toThrow();
            }
        },
    );

    it.each([
        ["aws-secrets-manager", AWS],
        ["gcp-secret-manager", GCP],
        ["azure-key-vault", AZURE],
    ] as [string, ResolvedBackend][])(
        "admit every object the project creates in a %s region, each shaped as its store's backend lays it out",
        (_type, own) => {
            const policies = storeAdmissionPolicies(regionWith(own));
            const backends: Record<string, ResolvedBackend> = { ...BACKENDS, region1: own };
            const specs = [
                secret({ name: "db-credentials", namespace: "databases", mode: "cluster-written", writers: "home" }),
                secret({ name: "api", namespace: "apps", keys: ["token", "url"], mode: "cluster-written", writers: "home" }),
                secret({
                    name: "tls",
                    namespace: "apps",
                    remoteKey: "apps/certs/tls",
                    keys: ["crt"],
                    mode: "cluster-written",
                    writers: "home",
                }),
            ];
            const objects = specs.flatMap((spec) => {
                const key = remoteKeyOf(spec);
                return [
                    externalSecret(spec, backendPullSource(own, key, spec.keys)),
                    ...["region2", "region3", "region4"].map((target) =>
                        pushSecret(
                            spec,
                            target,
                            backendPushData(
                                backends[target],
                                key,
                                spec.keys?.map((k) => ({ from: k, to: k })),
                            ),
                        ),
                    ),
                    initialValuePush(spec, { fromSecret: { secretName: `${spec.name}-initial` } }, (keys) =>
                        backendPushData(own, key, keys),
                    ),
                ];
            });
            expect(objects.map((object) => [object.kind, object.metadata?.name, decideWith(policies, object)])).toEqual(
                objects.map((object) => [object.kind, object.metadata?.name, { outcome: "admitted" }]),
            );
            expect(validateEsoObjects(objects)).toEqual(objects.map(() => ""));
        },
    );

    it.each([
        ["AWS", AWS, "openova-databases/db-credentials", "openova-apps/db-credentials"],
        ["GCP", GCP, "openova-databases_db-credentials--password", "openova-apps_db-credentials--password"],
        ["Azure", AZURE, "openova-databases-db-credentials--password", "openova-apps-db-credentials--password"],
    ] as [string, ResolvedBackend, string, string][])(
        "keep an ExternalSecret reading through vault-local or vault-local-push in %s to its namespace's names, and refuse a search there",
        (_name, own, theirs, mine) => {
            const policies = storeAdmissionPolicies(regionWith(own));
            const refused = (object: IExternalSecret) => decideWith(policies, object);
            const denied = (what: string) => ({ outcome: "denied", messages: [expect.stringContaining(what)] });
            // Another namespace's secret, by every way an entry names its store.
            for (const store of ["vault-local", "vault-local-push"]) {
                expect(refused(readingThrough(store, "apps", theirs))).toEqual(
                    denied("must keep every spec.data[].remoteRef.key under its own namespace"),
                );
            }
            expect(
                refused(
                    externalSecretReading("apps", theirs, {
                        data: [
                            {
                                secretKey: "p",
                                remoteRef: { key: theirs },
                                sourceRef: { storeRef: { kind: "ClusterSecretStore", name: "vault-local" } },
                            },
                        ],
                    }),
                ),
            ).toEqual(denied("spec.data[].remoteRef.key"));
            const extract = (key: string, refs: object) =>
                ({ ...externalSecretReading("apps", key, refs), spec: { target: { name: "x" }, ...refs } }) as IExternalSecret;
            expect(
                refused(
                    extract(theirs, {
                        secretStoreRef: { kind: "ClusterSecretStore", name: "vault-local" },
                        dataFrom: [{ extract: { key: theirs } }],
                    }),
                ),
            ).toEqual(denied("spec.dataFrom[].extract.key"));
            expect(
                refused(
                    extract(theirs, {
                        dataFrom: [
                            { extract: { key: theirs }, sourceRef: { storeRef: { kind: "ClusterSecretStore", name: "vault-local" } } },
                        ],
                    }),
                ),
            ).toEqual(denied("spec.dataFrom[].extract.key"));
            // A search reads every name the identity may read.
            const find = extract(mine, {
                secretStoreRef: { kind: "ClusterSecretStore", name: "vault-local" },
                dataFrom: [{ find: { name: { regexp: "^openova-apps" } } }],
            });
            expect(refused(find)).toEqual(denied("may not search (spec.dataFrom[].find)"));
            expect(validateEsoObjects([find])).toEqual([""]);
            // Its own names are read; another store's entries are not this policy's.
            expect(refused(readingThrough("vault-local", "apps", mine))).toEqual({ outcome: "admitted" });
            expect(
                refused(
                    externalSecretReading("apps", theirs, {
                        secretStoreRef: { kind: "ClusterSecretStore", name: "vault-local" },
                        data: [
                            {
                                secretKey: "p",
                                remoteRef: { key: theirs },
                                sourceRef: { storeRef: { kind: "SecretStore", name: "team-store" } },
                            },
                        ],
                    }),
                ),
            ).toEqual({ outcome: "admitted" });
            expect(
                refused(externalSecretReading("apps", theirs, { secretStoreRef: { kind: "SecretStore", name: "vault-local" } })),
            ).toEqual({
                outcome: "admitted",
            });
        },
    );

    it("refuse, in a cloud region, a key spelt for the namespace but outside the backend's characters (an Azure type/name, a GCP path)", () => {
        const azure = storeAdmissionPolicies(regionWith(AZURE));
        // ESO's Azure provider reads "<type>/<name>": this one is object type "openova-apps-x", name "y".
        expect(decideWith(azure, readingThrough("vault-local", "apps", "openova-apps-x/y")).outcome).toBe("denied");
        const gcp = storeAdmissionPolicies(regionWith(GCP));
        expect(decideWith(gcp, readingThrough("vault-local", "apps", "openova-apps_x/versions/1")).outcome).toBe("denied");
        const aws = storeAdmissionPolicies(regionWith(AWS));
        expect(
            decideWith(aws, readingThrough("vault-local", "apps", "arn:aws:secretsmanager:eu-west-1:111122223333:secret:openova-apps/x"))
                .outcome,
        ).toBe("denied");
    });

    it("leave ExternalSecrets through vault-local to the Vault's own policy in a self-hosted region", () => {
        expect(decideWith(storeAdmissionPolicies(regionWith(VAULT)), readingThrough("vault-local", "apps", "databases/x"))).toEqual({
            outcome: "admitted",
        });
    });

    it.each([
        ["vault", VAULT, "apps/x"],
        ["aws-secrets-manager", AWS, "openova-apps/x"],
    ] as [string, ResolvedBackend, string][])(
        "refuse, in a %s region, a PushSecret naming vault-local, the read store",
        (_type, own, key) => {
            const policies = storeAdmissionPolicies(regionWith(own));
            expect(decideWith(policies, pushSecretWriting("apps", [key], [{ kind: "ClusterSecretStore", name: "vault-local" }]))).toEqual({
                outcome: "denied",
                messages: [expect.stringContaining("may not name ClusterSecretStore vault-local: it is the read store")],
            });
            expect(decideWith(policies, pushSecretWriting("apps", [key], toLocalPush))).toEqual({ outcome: "admitted" });
        },
    );

    it.each([
        ["the backend label, which vault-local carries too", { matchLabels: { "vault.openova.io/backend": "aws-secrets-manager" } }],
        ["nothing (every store)", {}],
        ["the push-target label alone", { matchLabels: { "vault.openova.io/push-target": "true" } }],
        [
            "a region only in matchExpressions",
            { matchExpressions: [{ key: "vault.openova.io/vault-region", operator: "In", values: ["region2"] }] },
        ],
        ["a region that is not one of the project's", { matchLabels: { "vault.openova.io/vault-region": "elsewhere" } }],
    ])("refuse a PushSecret selecting ClusterSecretStores by %s", (_what, labelSelector) => {
        const policies = storeAdmissionPolicies(regionWith(AWS));
        const object = pushSecretWriting("apps", ["openova-apps/x"], [{ kind: "ClusterSecretStore", labelSelector }]);
        expect(validateEsoObjects([object])).toEqual([""]);
        expect(decideWith(policies, object)).toEqual({
            outcome: "denied",
            messages: [expect.stringContaining("must pin one region")],
        });
        // A namespace's own SecretStores, by any label, are not this project's.
        expect(decideWith(policies, pushSecretWriting("apps", ["anything"], [{ kind: "SecretStore", labelSelector }]))).toEqual({
            outcome: "admitted",
        });
    });

    it.each([
        // [what, target store(s), key, admitted]
        ["AWS's spelling to the AWS peer, by name", [{ kind: "ClusterSecretStore", name: "vault-region2" }], "openova-apps/x", true],
        [
            "AWS's spelling to the AWS peer, by label",
            [{ kind: "ClusterSecretStore", labelSelector: { matchLabels: pushTargets("region2") } }],
            "openova-apps/x",
            true,
        ],
        ["Azure's spelling to the Azure peer", [{ kind: "ClusterSecretStore", name: "vault-region3" }], "openova-apps-x", true],
        ["Vault's spelling to the self-hosted peer", [{ kind: "ClusterSecretStore", name: "vault-region4" }], "apps/x", true],
        [
            "Vault's spelling to this region's own Vault",
            [{ kind: "ClusterSecretStore", labelSelector: { matchLabels: pushTargets("region1") } }],
            "apps/x",
            true,
        ],
        // Azure's '-' joins namespace words: openova-apps-b/x is namespace apps-b's secret x in AWS.
        [
            "Azure's spelling to the AWS peer (namespace apps-b's secret)",
            [{ kind: "ClusterSecretStore", name: "vault-region2" }],
            "openova-apps-b/x",
            false,
        ],
        ["Vault's spelling to the AWS peer", [{ kind: "ClusterSecretStore", name: "vault-region2" }], "apps/x", false],
        // openova-apps/x is namespace openova-apps's path in a Vault.
        [
            "AWS's spelling to the self-hosted peer (namespace openova-apps's path)",
            [{ kind: "ClusterSecretStore", name: "vault-region4" }],
            "openova-apps/x",
            false,
        ],
        ["AWS's spelling to this region's Vault", toLocalPush, "openova-apps/x", false],
        ["a '/' to the Azure peer", [{ kind: "ClusterSecretStore", name: "vault-region3" }], "openova-apps-x/y", false],
        [
            "one key to two stores of different backends",
            [
                { kind: "ClusterSecretStore", name: "vault-region2" },
                { kind: "ClusterSecretStore", name: "vault-region4" },
            ],
            "openova-apps/x",
            false,
        ],
    ] as [string, NonNullable<IPushSecret["spec"]>["secretStoreRefs"], string, boolean][])(
        "check a pushed key as its target store's backend spells it, in a self-hosted region with cloud peers: %s",
        (_what, refs, key, admitted) => {
            const policies = storeAdmissionPolicies(regionWith(VAULT));
            expect(decideWith(policies, pushSecretWriting("apps", [key], refs))).toEqual(
                admitted
                    ? { outcome: "admitted" }
                    : {
                          outcome: "denied",
                          messages: [
                              expect.stringContaining("must keep every spec.data[].match.remoteRef.remoteKey under its own namespace"),
                          ],
                      },
            );
        },
    );

    it("refuse, with a KV mount other than secret, a namespace named secret pushing another namespace's Azure name as a type/name key", () => {
        // ESO's Azure provider reads secret/<name> as the secret <name>; the Vault spelling took it as under namespace "secret".
        const policies = storeAdmissionPolicies(regionWith(VAULT, "kv"));
        const toAzure = [{ kind: "ClusterSecretStore" as const, name: "vault-region3" }];
        expect(decideWith(policies, pushSecretWriting("secret", ["secret/openova-databases-db-credentials"], toAzure)).outcome).toBe(
            "denied",
        );
        expect(decideWith(policies, pushSecretWriting("secret", ["openova-secret-x"], toAzure)).outcome).toBe("admitted");
    });

    it("check a dataTo entry's remoteKey as the backends of the stores the PushSecret reaches spell it", () => {
        const policies = storeAdmissionPolicies(regionWith(VAULT));
        const toAws = { kind: "ClusterSecretStore" as const, name: "vault-region2" };
        const bulk = (remoteKey: string) =>
            decideWith(
                policies,
                pushSecretWriting("apps", [], [toAws], { dataTo: [{ storeRef: toAws, remoteKey }] } as Partial<
                    NonNullable<IPushSecret["spec"]>
                >),
            );
        expect(bulk("openova-apps/all")).toEqual({ outcome: "admitted" });
        expect(bulk("apps/all").outcome).toBe("denied");
    });
});

describe("the policy against AWS stores without auth, in a region whose ESO controller holds the backend's role (EKS Pod Identity)", () => {
    const policies = storeAdmissionPolicies(regionWith(AWS_POD_IDENTITY));
    const context = { region: "region1", esoNamespace: "external-secrets", kvMount: "secret" };
    const awsStore = (kind: "SecretStore" | "ClusterSecretStore", name: string, aws: object, labels?: Record<string, string>) => ({
        apiVersion: "external-secrets.io/v1",
        kind,
        metadata: { name, ...(kind === "SecretStore" ? { namespace: "apps" } : {}), ...(labels ? { labels } : {}) },
        spec: { provider: { aws: { service: "SecretsManager", region: "eu-west-1", ...aws } } },
    });
    const ownRead = managedLocalStore(AWS_POD_IDENTITY, context, "read");

    it("admits this project's own stores, and stores that authenticate themselves or use another provider", () => {
        const admitted = [
            ownRead,
            managedLocalStore(AWS_POD_IDENTITY, context, "push"),
            managedPeerStore(AWS, { peer: "region2", writer: "region1", esoNamespace: "external-secrets", kvMount: "secret" }),
            awsStore("SecretStore", "team", { auth: { jwt: { serviceAccountRef: { name: "team-aws" } } } }),
            awsStore("SecretStore", "team", {
                auth: {
                    secretRef: { accessKeyIDSecretRef: { name: "k", key: "id" }, secretAccessKeySecretRef: { name: "k", key: "secret" } },
                },
            }),
            {
                apiVersion: "external-secrets.io/v1",
                kind: "SecretStore",
                metadata: { name: "fake", namespace: "apps" },
                spec: { provider: { fake: { data: [] } } },
            },
        ];
        expect(validateEsoObjects(admitted)).toEqual(admitted.map(() => ""));
        expect(admitted.map((store) => decideWith(policies, store))).toEqual(admitted.map(() => ({ outcome: "admitted" })));
        // The project's stores use the controller's identity: they have no auth.
        expect(JSON.stringify(ownRead.spec?.provider)).not.toContain("auth");
    });

    it.each([
        ["a namespaced SecretStore without auth", awsStore("SecretStore", "team", {})],
        ["a namespaced SecretStore with an empty auth", awsStore("SecretStore", "team", { auth: {} })],
        [
            "a namespaced SecretStore that assumes another role with the controller's credentials",
            awsStore("SecretStore", "team", { role: "arn:aws:iam::111122223333:role/other" }),
        ],
        [
            "a namespaced SecretStore named and labelled as the project's read store",
            awsStore("SecretStore", "vault-local", {}, ownRead.metadata?.labels),
        ],
        ["another ClusterSecretStore without auth", awsStore("ClusterSecretStore", "shared-aws", {})],
        ["a ClusterSecretStore named vault-local without the project's labels", awsStore("ClusterSecretStore", "vault-local", {})],
    ])("refuses %s", (_what, store) => {
        expect(validateEsoObjects([store])).toEqual([""]);
        expect(decideWith(policies, store)).toEqual({
            outcome: "denied",
            messages: [expect.stringContaining("without them ESO uses the controller's own credentials")],
        });
    });

    it("is not in a region whose ESO reaches AWS through IRSA, where the controller holds no role of the project's", () => {
        expect(decideWith(storeAdmissionPolicies(regionWith(AWS)), awsStore("SecretStore", "team", {}))).toEqual({ outcome: "admitted" });
    });
});

describe("docs/security.md", () => {
    it("names every admission policy a region may deploy", () => {
        const text = fs.readFileSync(path.join(__dirname, "..", "docs", "security.md"), "utf8");
        for (const name of [PEER_STORE_READ_POLICY, PUSH_PREFIX_POLICY, READ_PREFIX_POLICY, AWS_CONTROLLER_ROLE_POLICY]) {
            expect({ name, named: text.includes(`\`${name}\``) }).toEqual({ name, named: true });
        }
    });
});
