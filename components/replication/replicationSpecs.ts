/**
 * One replicated secret: its options, and the builders of its ESO objects: the ExternalSecret that materializes it in a
 * region, the PushSecret that copies it to other Vaults, and the one-time initial value. The
 * replication design (who pushes, to which stores, how often) is in docs/consistency.md; its model
 * and property tests are model/replication.ts and tests/replication.test.ts.
 *
 * Typed with ESO's own models (types only); the tests validate every object against ESO's schemas.
 */
import type { IExternalSecret } from "@kubernetes-models/external-secrets/external-secrets.io/v1/ExternalSecret" with {
    "resolution-mode": "import",
};
import type { IPushSecret } from "@kubernetes-models/external-secrets/external-secrets.io/v1alpha1/PushSecret" with {
    "resolution-mode": "import",
};
import type { IPassword } from "@kubernetes-models/external-secrets/generators.external-secrets.io/v1alpha1/Password" with {
    "resolution-mode": "import",
};
import { createHash } from "node:crypto";
import { z } from "zod";
import { projectLabels } from "../common/labels";
import { option, ruleIssue, text } from "../common/options";
import { isDnsLabel, isDnsSubdomain, isRefreshInterval, isRemoteKey, isSecretKey } from "../common/predicates";
import { LOCAL_PUSH_STORE_NAME, LOCAL_STORE_NAME, PUSH_TARGET_LABEL, VAULT_REGION_LABEL } from "../stores/storeSpecs";

/**
 * How a secret is written.
 * - `vault-written`: into the home region's Vault (by an operator or an app); every region
 *   materializes it, and the home region pushes it to every peer Vault.
 * - `cluster-written`: a Kubernetes Secret in the home region, owned by something in that cluster
 *   (a database operator, say), is pushed to every Vault, and the other regions materialize it.
 */
export const WRITE_MODES = ["vault-written", "cluster-written"] as const;
export type WriteMode = (typeof WRITE_MODES)[number];

/**
 * Which regions accept writes of a secret:
 * - `any`: every region's Vault; the replicator of each region carries a write to every other, and the
 *   write with the greatest stamp wins everywhere (replicator/decide.ts, docs/consistency.md);
 * - `home`: the home region's only; ESO's PushSecrets carry it, and a write elsewhere is undone.
 */
export const WRITERS = ["any", "home"] as const;
export type Writers = (typeof WRITERS)[number];

/** A secret's writers: as set, or `any` for a vault-written secret and `home` for a cluster-written one. */
export function writersOf(spec: { readonly mode: WriteMode; readonly writers?: Writers }): Writers {
    return spec.writers ?? (spec.mode === "vault-written" ? "any" : "home");
}

/** Length of a generated initial value, and how often the one-time initial value is re-checked. */
export const INITIAL_VALUE_DEFAULTS = { generatedLength: 32, interval: "1h" } as const;

/**
 * The default symbols of a generated value: the punctuation RFC 3986 leaves unreserved (section 2.3).
 * A value of letters, digits and these goes as it is into a URL's userinfo and into key=value
 * connection strings, and inside quotes of any kind in shells, SQL, JSON and YAML. ESO's own default,
 * when a Password generator names no symbols, includes `"`, `\` and a backtick (external-secrets
 * v2.9.0, generators/v1/password/password.go, `defaultSymbolChars`).
 */
export const SAFE_PASSWORD_SYMBOLS = "_-.~";

/** What a generated value's symbols may be, as the docs and errors say it. */
const PASSWORD_SYMBOLS_ALLOWED = 'distinct ASCII punctuation characters other than quotes, backslash and backtick, or "" for none';

/** Characters that end or escape a quoted value (shells, SQL, JSON, YAML, connection strings). */
const QUOTING_CHARACTERS = ['"', "'", "\\", "`"];

/**
 * Why `symbols` cannot be the symbol alphabet of a generated value, or undefined when it can. Each
 * character must be ASCII punctuation: ESO's generator (sethvargo/go-password v0.3.1, `Generate`)
 * picks symbols byte by byte, so a character beyond ASCII would be cut in two, and it counts letters
 * and digits apart from symbols. A repeated character would be drawn more often than the others.
 */
export function passwordSymbolsProblem(symbols: string): string | undefined {
    const seen = new Set<string>();
    for (const char of symbols) {
        const shown = JSON.stringify(char);
        if (/^[A-Za-z0-9]$/.test(char)) {
            return `${shown} is a letter or digit, which the generator adds anyway`;
        }
        if (!/^[!-~]$/.test(char)) {
            return `${shown} is not ASCII punctuation`;
        }
        if (QUOTING_CHARACTERS.includes(char)) {
            return `${shown} ends or escapes a quoted value in shells, SQL, JSON, YAML and connection strings`;
        }
        if (seen.has(char)) {
            return `${shown} is there twice, so it would be drawn twice as often`;
        }
        seen.add(char);
    }
    return undefined;
}

/** The default pull and push interval: the propagation bound in docs/consistency.md is computed from it. */
export const DEFAULT_INTERVAL = "30s";

const interval = (description: string) =>
    option(text(isRefreshInterval).default(DEFAULT_INTERVAL), {
        description: `${description} The propagation bound in docs/consistency.md is computed from the intervals.`,
        allowed: "a positive Go duration such as 30s, 1m30s or 1h",
        example: "30s",
    });

/** What a replicated secret is, the same in every region. */
export const replicatedSecretFields = {
    name: option(text(isDnsSubdomain), {
        description: "Name of the Kubernetes Secret in every region.",
        allowed: "a Secret name (a DNS name)",
        example: "db-credentials",
    }),
    namespace: option(text(isDnsLabel), {
        description: "Its namespace in every region.",
        allowed: "a namespace name (a DNS label)",
        example: "databases",
    }),
    remoteKey: option(text(isRemoteKey).optional(), {
        description: "Path under the KV mount.",
        allowed: "a path of segments of letters, digits, '-', '.' and '_', separated by '/'",
        example: "databases/db-credentials",
        defaultText: "<namespace>/<name>",
    }),
    keys: option(
        z
            .array(text(isSecretKey))
            .min(1)
            .refine((list) => new Set(list).size === list.length)
            .optional(),
        {
            description: "Secret keys to carry, each as a property of the Vault secret.",
            allowed: "a non-empty list of distinct Secret keys (letters, digits, '-', '.' and '_')",
            example: "[password]",
            defaultText: "the whole Secret",
        },
    ),
    mode: option(z.enum(WRITE_MODES).default("vault-written"), {
        description:
            "How it is written: `vault-written` (into the home region's Vault; every region materializes it) or `cluster-written` (a Secret owned by something in the home cluster, pushed to every Vault).",
        example: "vault-written",
    }),
    writers: option(z.enum(WRITERS).optional(), {
        description:
            "Which regions accept writes: `any` (every region's Vault; the regions' replicators carry each write to the others and the latest stamp wins, see docs/consistency.md) or `home` (only the home region's; a write elsewhere is undone).",
        allowed: "{values} (any: vault-written secrets only)",
        example: "any",
        defaultText: "any for vault-written, home for cluster-written",
    }),
    home: option(text(isDnsLabel).optional(), {
        description: "The region that pushes it to the other Vaults, and where its initial value is created.",
        allowed: "one of the regions",
        example: "region1",
        defaultText: "the first of regions",
    }),
    pullInterval: interval("How often an ExternalSecret reads its Vault (ESO's default is 1h)."),
    pushInterval: interval("How often a PushSecret pushes its source (ESO's default is 1h; it does not watch the source)."),
    updatePolicy: option(z.enum(["Replace", "IfNotExists"]).default("Replace"), {
        description:
            "The PushSecrets' updatePolicy: `Replace` makes every target Vault hold the home's value; `IfNotExists` writes a target only while it has no such secret (for values set once).",
        example: "Replace",
    }),
    pushDeletionPolicy: option(z.enum(["None", "Delete"]).default("None"), {
        description:
            "The PushSecrets' deletionPolicy: `None` leaves the secret in every Vault when a PushSecret or its source goes away. `Delete` needs `delete` capabilities the push policy does not grant.",
        example: "None",
    }),
    pullDeletionPolicy: option(z.enum(["Retain", "Delete", "Merge"]).default("Retain"), {
        description:
            "The ExternalSecrets' deletionPolicy: what happens to the materialized Secret when the secret disappears from the region's Vault.",
        example: "Retain",
    }),
    passwordSymbols: option(
        z
            .string()
            .check(
                z.superRefine((symbols, ctx) => {
                    const problem = passwordSymbolsProblem(symbols);
                    if (problem !== undefined) {
                        ruleIssue(ctx, [], `is ${JSON.stringify(symbols)} (${problem}), but it must be ${PASSWORD_SYMBOLS_ALLOWED}`);
                    }
                }),
            )
            .default(SAFE_PASSWORD_SYMBOLS),
        {
            description: `The symbols a generated initial value may contain: ESO's Password generator draws a quarter of the length from them (none with \`""\`), the rest from letters and digits. The default, \`${SAFE_PASSWORD_SYMBOLS}\`, is the punctuation RFC 3986 leaves unreserved, so the value goes as it is into a URL's userinfo (\`postgres://app:<password>@host\`) and key=value connection strings, and inside any quotes in shells, SQL, JSON and YAML. Quotes, backslash and backtick are refused: they end or escape a quoted value. Other punctuation is allowed for a system that demands it, but then needs percent-encoding in URLs (\`@ : / ? # %\`) and quoting where it is special (\`;\` in connection strings, \`$\` in shells). Used only with initialValue generate, by the generators this project creates.`,
            allowed: PASSWORD_SYMBOLS_ALLOWED,
            example: SAFE_PASSWORD_SYMBOLS,
        },
    ),
};

/** One replicated secret's options, defaults applied by `.parse`. */
export const replicatedSecretOptions = z.object(replicatedSecretFields);

/** A replicated secret as the components take it (the home resolved). */
export type ReplicatedSecretSpec = z.output<z.ZodObject<typeof replicatedSecretFields>> & { readonly home: string };

/** The fields a component's caller may leave out. */
export type ReplicatedSecretInput = z.input<z.ZodObject<typeof replicatedSecretFields>> & { readonly home: string };

/**
 * The rules of one replicated secret among `regions`, reported through `report` at the field they
 * name: used by the ReplicatedSecret component and by the region's options alike.
 */
export function replicatedSecretProblems(
    spec: {
        readonly name: string;
        readonly namespace: string;
        readonly remoteKey?: string;
        readonly mode: WriteMode;
        readonly writers?: Writers;
        readonly home?: string;
        readonly keys?: readonly string[];
    },
    regions: readonly string[],
    initial: { readonly generateKey?: string } | undefined,
    report: (field: string, message: string) => void,
): void {
    if (spec.home !== undefined && !regions.includes(spec.home)) {
        report("home", `is ${spec.home}, which is not one of the regions (${regions.join(", ")})`);
    }
    const longest = regions.map((target) => pushSecretName(spec.name, target)).find((name) => !isDnsSubdomain(name));
    if (longest !== undefined) {
        report("name", `is too long: its PushSecret would be named ${longest}, over 253 characters`);
    }
    if (spec.remoteKey !== undefined && !spec.remoteKey.startsWith(`${spec.namespace}/`)) {
        report(
            "remoteKey",
            `is ${spec.remoteKey}, outside ${spec.namespace}/: a namespace reaches only the secrets under its own prefix in Vault, so write it as ${spec.namespace}/${spec.remoteKey}`,
        );
    }
    if (spec.writers === "any" && spec.mode === "cluster-written") {
        report(
            "writers",
            "is any, but a cluster-written secret is owned by something in its home cluster: set writers: home, or mode: vault-written",
        );
    }
    if (initial !== undefined && spec.mode === "cluster-written") {
        report("initialValue", "is set, but a cluster-written secret's owner creates its value");
    }
    if (initial?.generateKey !== undefined && spec.keys !== undefined && !spec.keys.includes(initial.generateKey)) {
        report("initialValue", `generates key ${initial.generateKey}, which is not one of keys (${spec.keys.join(", ")})`);
    }
}

/** The Vault path of a replicated secret. */
export function remoteKeyOf(spec: Pick<ReplicatedSecretSpec, "name" | "namespace" | "remoteKey">): string {
    return spec.remoteKey ?? `${spec.namespace}/${spec.name}`;
}

/**
 * The paths `from` pushes into `into`'s Vault, of the given secrets: what `into` lets `from` write,
 * and nothing more.
 */
export function remoteKeysPushed(
    specs: readonly Pick<ReplicatedSecretSpec, "name" | "namespace" | "remoteKey" | "mode" | "home" | "writers">[],
    from: string,
    into: string,
    regions: readonly string[],
): string[] {
    return [...new Set(specs.filter((spec) => pushTargetRegions(spec, from, regions).includes(into)).map(remoteKeyOf))].sort();
}

/** The name of the bootstrap's replication canary: its Secret, ExternalSecrets and PushSecrets. */
export const CANARY_NAME = "openova-replication-canary";

/**
 * The bootstrap's replication canary (`--verify`): a vault-written secret in ESO's namespace, homed in
 * the first region, carried like any other replicated secret. Every region grants its home the push
 * of its path.
 */
export function replicationCanary(externalSecretsNamespace: string, regions: readonly string[]): ReplicatedSecretSpec {
    return {
        // Home-written: it checks the PushSecrets' path (a secret any region writes is the replicators' to carry).
        ...replicatedSecretOptions.parse({ name: CANARY_NAME, namespace: externalSecretsNamespace, keys: [CANARY_KEY], writers: "home" }),
        home: regions[0],
    };
}

/** The one key of the canary secret. */
export const CANARY_KEY = "value";

/** Which of the ESO objects a region runs for a secret; the heart of the design, see docs/consistency.md. */
export function roleOf(
    spec: Pick<ReplicatedSecretSpec, "mode" | "home" | "writers">,
    region: string,
): { readonly pulls: boolean; readonly pushes: "peers" | "all" | "none" } {
    const home = spec.home === region;
    if (writersOf(spec) === "any") {
        // Every region reads its own Vault; the replicators, not ESO, carry writes between Vaults.
        return { pulls: true, pushes: "none" };
    }
    if (spec.mode === "vault-written") {
        // Every region reads its own Vault; only the home region forwards, and only to the peers: a
        // region that pushed what it had read would push stale values over newer writes.
        return { pulls: true, pushes: home ? "peers" : "none" };
    }
    // The home region's Secret belongs to its owner, so no ExternalSecret there; it goes to every Vault.
    return { pulls: !home, pushes: home ? "all" : "none" };
}

const labels = (name: string) => ({ ...projectLabels("replicated-secret"), "vault.openova.io/replicated-secret": name });

/**
 * The ExternalSecret that materializes the secret from this region's Vault (`vault-local`). It owns
 * its target (an edit to the Secret is reverted at once) and keeps it if the Vault secret goes away.
 */
export function externalSecret(spec: ReplicatedSecretSpec, from?: ExternalSecretSource): IExternalSecret {
    const key = remoteKeyOf(spec);
    const source =
        from ??
        (spec.keys === undefined
            ? { dataFrom: [{ extract: { key } }] }
            : { data: spec.keys.map((secretKey) => ({ secretKey, remoteRef: { key, property: secretKey } })) });
    return {
        apiVersion: "external-secrets.io/v1",
        kind: "ExternalSecret",
        metadata: { name: spec.name, namespace: spec.namespace, labels: labels(spec.name) },
        spec: {
            refreshInterval: spec.pullInterval,
            secretStoreRef: { kind: "ClusterSecretStore", name: LOCAL_STORE_NAME },
            target: { name: spec.name, creationPolicy: "Owner", deletionPolicy: spec.pullDeletionPolicy },
            ...source,
        },
    };
}

/** Where an ExternalSecret reads: its `data` or its `dataFrom`, as the region's backend lays the secret out. */
export type ExternalSecretSource =
    Pick<NonNullable<IExternalSecret["spec"]>, "data"> | Pick<NonNullable<IExternalSecret["spec"]>, "dataFrom">;

/** What a PushSecret writes, as the target's backend lays the secret out. */
export type PushSecretData = NonNullable<NonNullable<IPushSecret["spec"]>["data"]>;

/** The regions whose Vaults `region` pushes a secret to: its peers, all regions, or none. */
export function pushTargetRegions(
    spec: Pick<ReplicatedSecretSpec, "mode" | "home" | "writers">,
    region: string,
    regions: readonly string[],
): string[] {
    const { pushes } = roleOf(spec, region);
    return pushes === "none" ? [] : regions.filter((target) => pushes === "all" || target !== region);
}

/** The labels that select the store reaching `target`'s Vault (and only it). */
export function pushTargets(target: string): Record<string, string> {
    return { ...PUSH_TARGET_LABEL, [VAULT_REGION_LABEL]: target };
}

/** The Kubernetes name of the PushSecret that copies `name` to `target`'s Vault. */
export function pushSecretName(name: string, target: string): string {
    return `${name}-to-${target}`;
}

/**
 * The PushSecret that copies the secret (the home region's Secret) to `target`'s Vault: `Replace`,
 * and `deletionPolicy: None`, so deleting it here never deletes the secret in another region.
 *
 * One PushSecret per target store, not one for all: ESO pushes a PushSecret's stores one after the
 * other and ends the run at the first error, then retries with a backoff that reaches 1000 s, so one
 * unreachable peer would hold back every other (docs/consistency.md, "What ESO's controller adds").
 */
export function pushSecret(spec: ReplicatedSecretSpec, target: string, shaped?: PushSecretData): IPushSecret {
    const remoteKey = remoteKeyOf(spec);
    const data =
        shaped ??
        (spec.keys === undefined
            ? [{ match: { remoteRef: { remoteKey } } }]
            : spec.keys.map((secretKey) => ({ match: { secretKey, remoteRef: { remoteKey, property: secretKey } } })));
    return {
        apiVersion: "external-secrets.io/v1alpha1",
        kind: "PushSecret",
        metadata: { name: pushSecretName(spec.name, target), namespace: spec.namespace, labels: labels(spec.name) },
        spec: {
            refreshInterval: spec.pushInterval,
            updatePolicy: spec.updatePolicy,
            deletionPolicy: spec.pushDeletionPolicy,
            secretStoreRefs: [{ kind: "ClusterSecretStore", labelSelector: { matchLabels: pushTargets(target) } }],
            selector: { secret: { name: spec.name } },
            data,
        },
    };
}

/** Where a new secret's first value comes from: a Password generator (by name), or a Secret. */
export type InitialValue =
    | { readonly generate: { readonly key: string; readonly generatorName: string } }
    | { readonly fromSecret: { readonly secretName: string } };

/** The name of the initial-value objects (PushSecret, and the Secret of an operator-supplied value). */
export function initialName(name: string): string {
    return `${name}-initial`;
}

/** What a Password generator makes: values of `length` characters, with symbols from `symbols`. */
export interface PasswordRecipe {
    readonly length: number;
    readonly symbols: string;
}

/**
 * What tells one recipe from another in a name: the length, then, for symbols other than
 * {@link SAFE_PASSWORD_SYMBOLS}, `s` and the first 10 hex digits of their SHA-256 (the symbols
 * themselves cannot be in a name), so the default recipe keeps the plain name and the name stays a
 * DNS label however many symbols there are.
 */
export function passwordRecipeId({ length, symbols }: PasswordRecipe): string {
    if (symbols === SAFE_PASSWORD_SYMBOLS) {
        return String(length);
    }
    return `${length}-s${createHash("sha256").update(symbols).digest("hex").slice(0, 10)}`;
}

/**
 * The name of the Password generator for a recipe. A generator is only a recipe (each use makes a
 * new value), so the secrets of one namespace share one per recipe.
 */
export function passwordGeneratorName(recipe: PasswordRecipe): string {
    return `replicated-secret-password-${passwordRecipeId(recipe)}`;
}

/**
 * ESO's Password generator for generated initial values, in `namespace`, named `name` (default
 * {@link passwordGeneratorName}, the name a region shares). It always names its symbols, so ESO's
 * default set (with quotes and a backslash) never applies; with none, it asks for no symbols (else
 * ESO draws a quarter of the length from them). Repeats are allowed: without them, ESO refuses to
 * draw more symbols than there are (8 from 4 for 32 characters) (password.go, and go-password
 * v0.3.1 `Generate`, `ErrSymbolsExceedsAvailable`).
 */
export function passwordGenerator(namespace: string, recipe: PasswordRecipe, name = passwordGeneratorName(recipe)): IPassword {
    const { length, symbols } = recipe;
    return {
        apiVersion: "generators.external-secrets.io/v1alpha1",
        kind: "Password",
        metadata: { name, namespace, labels: projectLabels("replicated-secret") },
        spec: { length, symbolCharacters: symbols, ...(symbols === "" ? { symbols: 0 } : {}), allowRepeat: true, noUpper: false },
    };
}

/**
 * The one-time initial value, in the home region only: a PushSecret with `IfNotExists` into the home
 * Vault (so ESO marks it as managed, and may overwrite it later), from the generator or from a Secret
 * holding an operator-supplied value. It never overwrites: once the secret exists, later values stand.
 */
export function initialValuePush(
    spec: ReplicatedSecretSpec,
    initial: InitialValue,
    shape?: (keys: readonly { readonly from: string; readonly to: string }[] | undefined) => PushSecretData,
): IPushSecret {
    const remoteKey = remoteKeyOf(spec);
    const generated = "generate" in initial;
    const selector = generated
        ? {
              generatorRef: {
                  apiVersion: "generators.external-secrets.io/v1alpha1",
                  kind: "Password" as const,
                  name: initial.generate.generatorName,
              },
          }
        : { secret: { name: initial.fromSecret.secretName } };
    // The Password generator yields the key `password`; it is stored under the secret's first key.
    const keys = generated ? [{ from: "password", to: initial.generate.key }] : (spec.keys ?? []).map((key) => ({ from: key, to: key }));
    const data =
        shape?.(keys.length === 0 ? undefined : keys) ??
        (keys.length === 0
            ? [{ match: { remoteRef: { remoteKey } } }]
            : keys.map(({ from, to }) => ({ match: { secretKey: from, remoteRef: { remoteKey, property: to } } })));
    return {
        apiVersion: "external-secrets.io/v1alpha1",
        kind: "PushSecret",
        metadata: { name: initialName(spec.name), namespace: spec.namespace, labels: labels(spec.name) },
        spec: {
            refreshInterval: INITIAL_VALUE_DEFAULTS.interval,
            updatePolicy: "IfNotExists",
            deletionPolicy: "None",
            secretStoreRefs: [{ kind: "ClusterSecretStore", name: LOCAL_PUSH_STORE_NAME }],
            selector,
            data,
        },
    };
}
