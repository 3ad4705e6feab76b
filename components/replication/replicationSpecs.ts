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
import { z } from "zod";
import { projectLabels } from "../common/labels";
import { option, text } from "../common/options";
import { isDnsLabel, isDnsSubdomain, isRefreshInterval } from "../common/predicates";
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

/** Length of a generated initial value, and how often the one-time initial value is re-checked. */
export const INITIAL_VALUE_DEFAULTS = { generatedLength: 32, interval: "1h" } as const;

const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const isSecretKey = (key: string) => SECRET_KEY.test(key);
const isRemoteKey = (key: string) => key.split("/").every((part) => isSecretKey(part) && part !== "." && part !== "..");
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
    spec: { readonly name: string; readonly mode: WriteMode; readonly home?: string; readonly keys?: readonly string[] },
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

/** Which of the ESO objects a region runs for a secret; the heart of the design, see docs/consistency.md. */
export function roleOf(
    spec: Pick<ReplicatedSecretSpec, "mode" | "home">,
    region: string,
): { readonly pulls: boolean; readonly pushes: "peers" | "all" | "none" } {
    const home = spec.home === region;
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
export function externalSecret(spec: ReplicatedSecretSpec): IExternalSecret {
    const key = remoteKeyOf(spec);
    const source =
        spec.keys === undefined
            ? { dataFrom: [{ extract: { key } }] }
            : { data: spec.keys.map((secretKey) => ({ secretKey, remoteRef: { key, property: secretKey } })) };
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

/** The regions whose Vaults `region` pushes a secret to: its peers, all regions, or none. */
export function pushTargetRegions(spec: Pick<ReplicatedSecretSpec, "mode" | "home">, region: string, regions: readonly string[]): string[] {
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
export function pushSecret(spec: ReplicatedSecretSpec, target: string): IPushSecret {
    const remoteKey = remoteKeyOf(spec);
    const data =
        spec.keys === undefined
            ? [{ match: { remoteRef: { remoteKey } } }]
            : spec.keys.map((secretKey) => ({ match: { secretKey, remoteRef: { remoteKey, property: secretKey } } }));
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

/**
 * The name of the Password generator for values of `length` characters. A generator is only a
 * recipe (each use makes a new value), so the secrets of one namespace share one per length.
 */
export function passwordGeneratorName(length: number): string {
    return `replicated-secret-password-${length}`;
}

/**
 * ESO's Password generator for generated initial values of `length` characters, in `namespace`,
 * named `name` (default {@link passwordGeneratorName}, the name a region shares).
 */
export function passwordGenerator(namespace: string, length: number, name = passwordGeneratorName(length)): IPassword {
    return {
        apiVersion: "generators.external-secrets.io/v1alpha1",
        kind: "Password",
        metadata: { name, namespace, labels: projectLabels("replicated-secret") },
        spec: { length, allowRepeat: true, noUpper: false },
    };
}

/**
 * The one-time initial value, in the home region only: a PushSecret with `IfNotExists` into the home
 * Vault (so ESO marks it as managed, and may overwrite it later), from the generator or from a Secret
 * holding an operator-supplied value. It never overwrites: once the secret exists, later values stand.
 */
export function initialValuePush(spec: ReplicatedSecretSpec, initial: InitialValue): IPushSecret {
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
        keys.length === 0
            ? [{ match: { remoteRef: { remoteKey } } }]
            : keys.map(({ from, to }) => ({ match: { secretKey: from, remoteRef: { remoteKey, property: to } } }));
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
