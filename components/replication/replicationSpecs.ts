/**
 * Pure builders for one replicated secret's ESO objects: the ExternalSecret that materializes it in a
 * region, the PushSecret that copies it to other Vaults, and the one-time initial value. The
 * replication design (who pushes, to which stores, how often) is in docs/consistency.md; its model
 * and property tests are model/replication.ts and tests/replication.test.ts.
 *
 * Typed with ESO's own models (types only); the tests validate every object against ESO's schemas.
 */
import type { IExternalSecret } from "@kubernetes-models/external-secrets/external-secrets.io/v1/ExternalSecret" with { "resolution-mode": "import" };
import type { IPushSecret } from "@kubernetes-models/external-secrets/external-secrets.io/v1alpha1/PushSecret" with { "resolution-mode": "import" };
import type { IPassword } from "@kubernetes-models/external-secrets/generators.external-secrets.io/v1alpha1/Password" with { "resolution-mode": "import" };
import { projectLabels } from "../common/labels";
import { LOCAL_PUSH_STORE_NAME, LOCAL_STORE_NAME, PUSH_TARGET_LABEL, VAULT_REGION_LABEL } from "../stores/storeSpecs";

/**
 * How a secret is written.
 * - `vault-written`: into the home region's Vault (by an operator or an app); every region
 *   materializes it, and the home region pushes it to every peer Vault.
 * - `cluster-written`: a Kubernetes Secret in the home region, owned by something in that cluster
 *   (a database operator, say), is pushed to every Vault, and the other regions materialize it.
 */
export type WriteMode = "vault-written" | "cluster-written";

/** Default refresh intervals: the propagation bound in docs/consistency.md is computed from these. */
export const REPLICATION_DEFAULTS = {
    /** How often an ExternalSecret reads its Vault (ESO's default is 1h). */
    pullInterval: "30s",
    /** How often a PushSecret pushes its source (ESO's default is 1h; it does not watch the source). */
    pushInterval: "30s",
    /** How often the one-time initial value is re-checked (it is written only if missing). */
    initialInterval: "1h",
    /** Length of a generated initial value. */
    generatedLength: 32,
    /** A push overwrites what the target Vault holds (the home's value wins, docs/consistency.md). */
    updatePolicy: "Replace",
    /** Removing a PushSecret (or its source) never deletes the secret in another region's Vault. */
    pushDeletionPolicy: "None",
    /** A materialized Secret stays when the secret disappears from Vault. */
    pullDeletionPolicy: "Retain",
} as const;

/** What a replicated secret is, the same in every region. */
export interface ReplicatedSecretSpec {
    /** Name of the Kubernetes Secret in every region. */
    readonly name: string;
    readonly namespace: string;
    /** Path under the KV mount. Default `<namespace>/<name>`. */
    readonly remoteKey?: string;
    /** Secret keys to carry, each as a property of the Vault secret. Default: the whole Secret. */
    readonly keys?: readonly string[];
    readonly mode: WriteMode;
    /** The region that pushes it to the other Vaults, and where the initial value is created. */
    readonly home: string;
    /**
     * Refresh intervals, as Go durations. Defaults in {@link REPLICATION_DEFAULTS}; the propagation
     * bound is 2·pullInterval + pushInterval + 2·maxDelay (docs/consistency.md).
     */
    readonly pullInterval?: string;
    readonly pushInterval?: string;
    /**
     * The PushSecrets' `updatePolicy`. Default `Replace`: every push makes the target Vault hold the
     * home's value. `IfNotExists` writes a target only while it has no such secret, so later changes
     * never reach it: for secrets that are set once.
     */
    readonly updatePolicy?: "Replace" | "IfNotExists";
    /**
     * The PushSecrets' `deletionPolicy`. Default `None`: removing a PushSecret, or its source Secret,
     * leaves the secret in every Vault. `Delete` removes it from the target Vaults then; it needs
     * `delete` on `<kvMount>/data/*` and `<kvMount>/metadata/*`, which the push policy of this
     * project does not grant (least privilege), so a stack that wants it must extend that policy.
     */
    readonly pushDeletionPolicy?: "None" | "Delete";
    /**
     * The ExternalSecrets' target `deletionPolicy`: what happens to the materialized Secret when the
     * secret disappears from the region's Vault. Default `Retain` (apps keep the last value); `Delete`
     * removes the Secret; `Merge` keeps it but drops the keys that went away.
     */
    readonly pullDeletionPolicy?: "Retain" | "Delete" | "Merge";
}

/** The Vault path of a replicated secret. */
export function remoteKeyOf(spec: Pick<ReplicatedSecretSpec, "name" | "namespace" | "remoteKey">): string {
    return spec.remoteKey ?? `${spec.namespace}/${spec.name}`;
}

/** Which of the ESO objects a region runs for a secret; the heart of the design, see docs/consistency.md. */
export function roleOf(spec: Pick<ReplicatedSecretSpec, "mode" | "home">, region: string): { readonly pulls: boolean; readonly pushes: "peers" | "all" | "none" } {
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
            refreshInterval: spec.pullInterval ?? REPLICATION_DEFAULTS.pullInterval,
            secretStoreRef: { kind: "ClusterSecretStore", name: LOCAL_STORE_NAME },
            target: { name: spec.name, creationPolicy: "Owner", deletionPolicy: spec.pullDeletionPolicy ?? REPLICATION_DEFAULTS.pullDeletionPolicy },
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
            refreshInterval: spec.pushInterval ?? REPLICATION_DEFAULTS.pushInterval,
            updatePolicy: spec.updatePolicy ?? REPLICATION_DEFAULTS.updatePolicy,
            deletionPolicy: spec.pushDeletionPolicy ?? REPLICATION_DEFAULTS.pushDeletionPolicy,
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
        ? { generatorRef: { apiVersion: "generators.external-secrets.io/v1alpha1", kind: "Password" as const, name: initial.generate.generatorName } }
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
            refreshInterval: REPLICATION_DEFAULTS.initialInterval,
            updatePolicy: "IfNotExists",
            deletionPolicy: "None",
            secretStoreRefs: [{ kind: "ClusterSecretStore", name: LOCAL_PUSH_STORE_NAME }],
            selector,
            data,
        },
    };
}
