/**
 * One replicated secret: its options (the defaults the model in docs/consistency.md is computed
 * from, and the rules across regions), and the ESO objects it declares, each checked against ESO's
 * own schemas.
 */
import * as pulumi from "@pulumi/pulumi";
import fc from "fast-check";
import {
    DEFAULT_INTERVAL,
    SAFE_PASSWORD_SYMBOLS,
    type ReplicatedSecretInput,
    type ReplicatedSecretSpec,
    externalSecret,
    initialValuePush,
    passwordGenerator,
    passwordGeneratorName,
    passwordRecipeId,
    pushSecret,
    pushTargetRegions,
    pushTargets,
    remoteKeyOf,
    replicatedSecretOptions,
    replicatedSecretProblems,
    roleOf,
} from "../components/replication/replicationSpecs";
import { localStore, peerStore } from "../components/stores/storeSpecs";
import { isDnsSubdomain, isRefreshInterval } from "../components/common/predicates";
import { parseOptions } from "../components/common/options";
import { namespaceRole } from "../components/vault-config/setupValues";
import { DEFAULT_INITIAL_INTERVAL_MS, DEFAULT_INTERVALS, DEFAULT_TOKEN_TTL_MS, parseDurationMs } from "../model/replication";
import { validateEsoObjects } from "./support/esoSchema";

/** A secret as the components take it: its options with the defaults applied, and its home. */
const secret = (input: ReplicatedSecretInput): ReplicatedSecretSpec => ({ ...replicatedSecretOptions.parse(input), home: input.home });

const db = secret({
    name: "db-credentials",
    namespace: "databases",
    keys: ["password"],
    mode: "vault-written",
    writers: "home",
    home: "region1",
});
const whole = secret({ name: "api", namespace: "apps", mode: "cluster-written", home: "region2", remoteKey: "shared/api" });

describe("replicatedSecretOptions", () => {
    it("default to vault-written, pulled and pushed every 30s, pushes replacing and never deleting, pulls keeping the Secret", () => {
        expect(replicatedSecretOptions.parse({ name: "db", namespace: "apps" })).toEqual({
            name: "db",
            namespace: "apps",
            mode: "vault-written",
            pullInterval: "30s",
            pushInterval: "30s",
            updatePolicy: "Replace",
            pushDeletionPolicy: "None",
            pullDeletionPolicy: "Retain",
            passwordSymbols: SAFE_PASSWORD_SYMBOLS,
        });
        expect(DEFAULT_INTERVAL).toBe("30s");
    });

    it.each([
        [{ name: "Db_Credentials" }, "name"],
        [{ namespace: "my.apps" }, "namespace"],
        [{ remoteKey: "a/../b" }, "remoteKey"],
        [{ keys: [] }, "keys"],
        [{ keys: ["password", "password"] }, "keys"],
        [{ keys: ["pass word"] }, "keys"],
        [{ mode: "both" }, "mode"],
        [{ pullInterval: "1d" }, "pullInterval"],
        [{ pushInterval: "0s" }, "pushInterval"],
        [{ updatePolicy: "Merge" }, "updatePolicy"],
        [{ pushDeletionPolicy: "Retain" }, "pushDeletionPolicy"],
        [{ pullDeletionPolicy: "None" }, "pullDeletionPolicy"],
        [{ passwordSymbols: '"' }, "passwordSymbols"],
    ])("refuse %j at that option", (override, field) => {
        expect(
            replicatedSecretOptions.safeParse({ name: "db", namespace: "apps", ...override }).error?.issues.map((issue) => issue.path[0]),
        ).toEqual([field]);
    });

    it("are checked against the regions: a home among them, a name short enough for every PushSecret, an initial value only where the region creates it", () => {
        const problems = (spec: Parameters<typeof replicatedSecretProblems>[0], initial?: { generateKey?: string }) => {
            const found: string[] = [];
            replicatedSecretProblems(spec, ["region1", "region2"], initial, (field, message) => found.push(`${field} ${message}`));
            return found;
        };
        expect(
            problems(
                { name: "db", namespace: "apps", mode: "vault-written", home: "region1", keys: ["password"] },
                { generateKey: "password" },
            ),
        ).toEqual([]);
        expect(problems({ name: "db", namespace: "apps", mode: "vault-written", home: "region3" })).toEqual([
            expect.stringMatching(/^home is region3, which is not one of the regions/),
        ]);
        expect(problems({ name: "a".repeat(250), namespace: "apps", mode: "vault-written" })).toEqual([
            expect.stringMatching(/^name is too long/),
        ]);
        expect(problems({ name: "db", namespace: "apps", mode: "cluster-written" }, {})).toEqual([
            expect.stringMatching(/^initialValue is set, but a cluster-written secret/),
        ]);
        expect(problems({ name: "db", namespace: "apps", mode: "vault-written", keys: ["user"] }, { generateKey: "password" })).toEqual([
            expect.stringMatching(/^initialValue generates key password, which is not one of keys/),
        ]);
        expect(problems({ name: "db", namespace: "apps", remoteKey: "apps/db", mode: "vault-written" })).toEqual([]);
        expect(problems({ name: "db", namespace: "apps", remoteKey: "shared/db", mode: "vault-written" })).toEqual([
            "remoteKey is shared/db, outside apps/: a namespace reaches only the secrets under its own prefix in Vault, so write it as apps/shared/db",
        ]);
        // A prefix that merely starts with the namespace's name is another namespace's.
        expect(problems({ name: "db", namespace: "apps", remoteKey: "apps-2/db", mode: "vault-written" })).toHaveLength(1);
    });
});

/** Does a label selector's matchLabels select these labels? */
const selects = (matchLabels: Record<string, string>, labels: Record<string, string> | undefined) =>
    Object.entries(matchLabels).every(([k, v]) => labels?.[k] === v);

describe("ESO's schemas", () => {
    it("accept every object a replicated secret declares", () => {
        const objects = [
            externalSecret(db),
            externalSecret(whole),
            pushSecret(db, "region2"),
            pushSecret(whole, "region1"),
            passwordGenerator("databases", { length: 32, symbols: db.passwordSymbols }),
            passwordGenerator("databases", { length: 24, symbols: "!*" }),
            passwordGenerator("databases", { length: 16, symbols: "" }),
            initialValuePush(db, { generate: { key: "password", generatorName: "replicated-secret-password-32" } }),
            initialValuePush(whole, { fromSecret: { secretName: "api-initial" } }),
        ];
        expect(validateEsoObjects(objects)).toEqual(objects.map(() => ""));
    });
});

describe("roles: one pusher per secret, so no two regions push different values", () => {
    it.each([
        ["vault-written", "home", "region1", { pulls: true, pushes: "peers" }],
        ["vault-written", "home", "region2", { pulls: true, pushes: "none" }],
        ["vault-written", "any", "region1", { pulls: true, pushes: "none" }],
        ["vault-written", "any", "region2", { pulls: true, pushes: "none" }],
        ["cluster-written", "home", "region1", { pulls: false, pushes: "all" }],
        ["cluster-written", "home", "region2", { pulls: true, pushes: "none" }],
    ] as const)("%s written by %s in %s", (mode, writers, region, role) => {
        expect(roleOf({ mode, writers, home: "region1" }, region)).toEqual(role);
    });
});

describe("docs/consistency.md holds for what the component deploys", () => {
    it("the model's bounds and rates are computed from the component's intervals and token lifetime", () => {
        expect({
            pullIntervalMs: parseDurationMs(externalSecret(db).spec?.refreshInterval ?? ""),
            pushIntervalMs: parseDurationMs(pushSecret(db, "region2").spec?.refreshInterval ?? ""),
        }).toEqual(DEFAULT_INTERVALS);
        expect(
            parseDurationMs(initialValuePush(db, { generate: { key: "password", generatorName: "g" } }).spec?.refreshInterval ?? ""),
        ).toBe(DEFAULT_INITIAL_INTERVAL_MS);
        expect(namespaceRole("pull").tokenTtl * 1000).toBe(DEFAULT_TOKEN_TTL_MS);
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
    const stores = [
        localStore(
            {
                region: "region1",
                vaultNamespace: "vault",
                kvMount: "secret",
                authPath: "kubernetes",
                role: "r",
                audience: "vault",
            },
            "read",
        ),
        localStore(
            {
                region: "region1",
                vaultNamespace: "vault",
                kvMount: "secret",
                authPath: "kubernetes",
                role: "r",
                audience: "vault",
            },
            "push",
        ),
        peerStore({ peer: "region2", address: "https://vault.region2.example.com", caCert: "", kvMount: "secret", namespace: "n" }),
        peerStore({ peer: "region3", address: "https://vault.region3.example.com", caCert: "", kvMount: "secret", namespace: "n" }),
    ];

    it("pushes every 30s with Replace and never deletes elsewhere", () => {
        expect(pushSecret(db, "region2").spec).toMatchObject({
            refreshInterval: "30s",
            updatePolicy: "Replace",
            deletionPolicy: "None",
            selector: { secret: { name: "db-credentials" } },
        });
        expect(pushSecret(db, "region2").spec?.data).toEqual([
            { match: { secretKey: "password", remoteRef: { remoteKey: "databases/db-credentials", property: "password" } } },
        ]);
        expect(pushSecret(whole, "region2").spec?.data).toEqual([{ match: { remoteRef: { remoteKey: "shared/api" } } }]);
    });

    it.each([
        ["30s", true],
        ["1m30s", true],
        ["1h", true],
        ["500ms", true],
        ["1.5h", true],
        ["0s", false],
        ["30", false],
        ["", false],
        ["-1s", false],
        ["30 s", false],
        ["1d", false],
    ])("refresh interval %j valid: %s", (value, valid) => {
        expect(isRefreshInterval(value)).toBe(valid);
    });

    it("takes its intervals and policies as args, and validates with them", () => {
        const tuned = secret({
            ...db,
            pullInterval: "1m",
            pushInterval: "45s",
            updatePolicy: "IfNotExists",
            pushDeletionPolicy: "Delete",
            pullDeletionPolicy: "Merge",
        });
        expect(pushSecret(tuned, "region2").spec).toMatchObject({
            refreshInterval: "45s",
            updatePolicy: "IfNotExists",
            deletionPolicy: "Delete",
        });
        expect(externalSecret(tuned).spec).toMatchObject({ refreshInterval: "1m", target: { deletionPolicy: "Merge" } });
        expect(validateEsoObjects([pushSecret(tuned, "region2"), externalSecret(tuned)])).toEqual(["", ""]);
    });

    it("goes from the home region to each peer (vault-written) or to every region (cluster-written), one PushSecret each", () => {
        const regions = ["region1", "region2", "region3"];
        expect(regions.map((region) => pushTargetRegions(db, region, regions))).toEqual([["region2", "region3"], [], []]);
        expect(regions.map((region) => pushTargetRegions(whole, region, regions))).toEqual([[], regions, []]);
        expect(pushTargetRegions(db, "region1", regions).map((target) => pushSecret(db, target).metadata?.name)).toEqual([
            "db-credentials-to-region2",
            "db-credentials-to-region3",
        ]);
    });

    it("selects exactly the store that reaches its target's Vault, by label", () => {
        for (const target of ["region1", "region2", "region3"]) {
            expect(
                stores.filter((store) => selects(pushTargets(target), store.metadata?.labels)).map((store) => store.metadata?.name),
            ).toEqual([target === "region1" ? "vault-local-push" : `vault-${target}`]);
        }
        expect(pushSecret(db, "region3").spec?.secretStoreRefs).toEqual([
            { kind: "ClusterSecretStore", labelSelector: { matchLabels: pushTargets("region3") } },
        ]);
    });
});

describe("initial values", () => {
    it("are written once into the home Vault, from ESO's Password generator, and never overwritten", () => {
        const push = initialValuePush(db, {
            generate: { key: "password", generatorName: passwordGeneratorName({ length: 32, symbols: db.passwordSymbols }) },
        });
        expect(push.metadata?.name).toBe("db-credentials-initial");
        expect(push.spec).toMatchObject({
            updatePolicy: "IfNotExists",
            deletionPolicy: "None",
            secretStoreRefs: [{ kind: "ClusterSecretStore", name: "vault-local-push" }],
            selector: {
                generatorRef: {
                    apiVersion: "generators.external-secrets.io/v1alpha1",
                    kind: "Password",
                    name: "replicated-secret-password-32",
                },
            },
            data: [{ match: { secretKey: "password", remoteRef: { remoteKey: "databases/db-credentials", property: "password" } } }],
        });
        expect(passwordGenerator("databases", { length: 40, symbols: db.passwordSymbols })).toMatchObject({
            metadata: { name: "replicated-secret-password-40", namespace: "databases" },
            spec: { length: 40 },
        });
    });

    it("can come from a Secret with an operator-supplied value instead", () => {
        expect(initialValuePush(db, { fromSecret: { secretName: "db-credentials-initial" } }).spec?.selector).toEqual({
            secret: { name: "db-credentials-initial" },
        });
    });
});

/** What ESO's generator draws besides symbols (sethvargo/go-password v0.3.1, password/generate.go: LowerLetters, UpperLetters, Digits). */
const LETTERS_AND_DIGITS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** ESO's symbols when a Password generator names none (external-secrets v2.9.0, generators/v1/password/password.go). */
const ESO_DEFAULT_SYMBOLS = '~!@#$%^&*()_+`-={}|[]\\:"<>?,./';

/** A value ESO's generator could make with `symbols`. */
const drawnWith = (symbols: string) => fc.string({ unit: fc.constantFrom(...LETTERS_AND_DIGITS, ...symbols), minLength: 1, maxLength: 64 });

/**
 * Whether `value` goes unescaped into a URL's userinfo, a key=value connection string, a JSON string and a
 * double-quoted shell word.
 */
function embedsUnescaped(value: string): boolean {
    const url = new URL(`postgres://app:${value}@db.example.com:5432/app`);
    return (
        encodeURIComponent(value) === value &&
        url.password === value &&
        url.host === "db.example.com:5432" &&
        JSON.stringify(value) === `"${value}"` &&
        // libpq's key=value form quotes whitespace and escapes ' and \ (PostgreSQL docs, libpq "Connection Strings"); ';'
        // ends a value in ADO.NET- and JDBC-style strings; $ ` \ " ! are special inside a shell's double quotes.
        !/[\s'"\\;$`!]/.test(value)
    );
}

/** The reasons `symbols` is refused, as the ReplicatedSecret component words them. */
function symbolRefusals(symbols: string): { propertyPath: string; reason: string }[] {
    try {
        parseOptions("ReplicatedSecret", replicatedSecretOptions, { name: "db", namespace: "apps", passwordSymbols: symbols });
    } catch (error) {
        if (pulumi.InputPropertiesError.isInstance(error)) {
            return error.errors;
        }
        throw error;
    }
    return [];
}

describe("the symbols of generated values", () => {
    it("default to the punctuation RFC 3986 leaves unreserved, which every generator names (ESO's own set never applies)", () => {
        expect([...SAFE_PASSWORD_SYMBOLS].sort()).toEqual(["-", ".", "_", "~"]);
        expect(replicatedSecretOptions.parse({ name: "db", namespace: "apps" }).passwordSymbols).toBe(SAFE_PASSWORD_SYMBOLS);
        expect(passwordGenerator("databases", { length: 32, symbols: db.passwordSymbols }).spec).toEqual({
            length: 32,
            symbolCharacters: SAFE_PASSWORD_SYMBOLS,
            allowRepeat: true,
            noUpper: false,
        });
    });

    it("make a value that goes unescaped into a URL's userinfo, a connection string and JSON, which ESO's own set does not", () => {
        fc.assert(fc.property(drawnWith(SAFE_PASSWORD_SYMBOLS), embedsUnescaped));
        expect(fc.check(fc.property(drawnWith(ESO_DEFAULT_SYMBOLS), embedsUnescaped)).failed).toBe(true);
        expect(symbolRefusals(ESO_DEFAULT_SYMBOLS)).toHaveLength(1);
    });

    it("are configurable, and reach the generator as given; none asks for no symbols", () => {
        const custom = secret({ name: "db", namespace: "apps", keys: ["password"], home: "region1", passwordSymbols: "!*" });
        expect(passwordGenerator("apps", { length: 32, symbols: custom.passwordSymbols }).spec).toMatchObject({ symbolCharacters: "!*" });
        expect(passwordGenerator("apps", { length: 32, symbols: custom.passwordSymbols }).spec?.symbols).toBeUndefined();
        expect(passwordGenerator("apps", { length: 32, symbols: "" }).spec).toMatchObject({ symbolCharacters: "", symbols: 0 });
        for (const symbols of ["", "!*", "!#$%&()*+,-./:;<=>?@[]^_{|}~"]) {
            expect(symbolRefusals(symbols)).toEqual([]);
        }
    });

    const QUOTED = "ends or escapes a quoted value in shells, SQL, JSON, YAML and connection strings";
    it.each([
        ['_"', `"\\"" ${QUOTED}`],
        ["'", `"'" ${QUOTED}`],
        ["\\", `"\\\\" ${QUOTED}`],
        ["-`", `"\`" ${QUOTED}`],
        ["_a", '"a" is a letter or digit, which the generator adds anyway'],
        ["7", '"7" is a letter or digit, which the generator adds anyway'],
        ["_ ", '" " is not ASCII punctuation'],
        ["\t", '"\\t" is not ASCII punctuation'],
        ["-é", '"é" is not ASCII punctuation'],
        ["-_-", '"-" is there twice, so it would be drawn twice as often'],
    ])("refuse %j at passwordSymbols, saying which character and why", (symbols, why) => {
        expect(symbolRefusals(symbols)).toEqual([
            {
                propertyPath: "passwordSymbols",
                reason: `is ${JSON.stringify(symbols)} (${why}), but it must be distinct ASCII punctuation characters other than quotes, backslash and backtick, or "" for none`,
            },
        ]);
    });

    it("name each recipe's shared generator apart: the default keeps the plain name, others carry their symbols", () => {
        expect(passwordGeneratorName({ length: 32, symbols: SAFE_PASSWORD_SYMBOLS })).toBe("replicated-secret-password-32");
        expect(passwordRecipeId({ length: 32, symbols: "!%" })).toMatch(/^32-s[0-9a-f]{10}$/);
        const allowed = [..."!#$%&()*+,-./:;<=>?@[]^_{|}~"];
        const recipe = fc.record({
            length: fc.integer({ min: 4, max: 128 }),
            symbols: fc.shuffledSubarray(allowed).map((chars) => chars.join("")),
        });
        fc.assert(
            fc.property(recipe, recipe, (a, b) => {
                expect(isDnsSubdomain(passwordGeneratorName(a))).toBe(true);
                expect(passwordGeneratorName(a) === passwordGeneratorName(b)).toBe(a.length === b.length && a.symbols === b.symbols);
            }),
        );
    });
});
