import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { projectLabels } from "../common/labels";
import { z } from "zod";
import { parseOptions, ruleIssue, text, rules } from "../common/options";
import {
    INITIAL_VALUE_DEFAULTS,
    type ReplicatedSecretInput,
    replicatedSecretFields,
    replicatedSecretProblems,
    externalSecret,
    initialName,
    initialValuePush,
    passwordGenerator,
    pushSecret,
    pushTargetRegions,
    remoteKeyOf,
    roleOf,
} from "./replicationSpecs";
import { isDnsLabel } from "../common/predicates";
import type { ResolvedBackend } from "../backends/backendOptions";
import { backendPullSource, backendPushData } from "../backends/backendStores";

/** Where a new secret's first value comes from (vault-written secrets only). */
export type InitialValueArgs =
    /**
     * ESO's Password generator, in the home cluster: the value is never in Pulumi state or Git. The
     * component creates a generator of `length` characters (default 32), with symbols from
     * `passwordSymbols`, for itself, named `<name>-initial`, unless `generatorName` names an existing
     * Password generator in the secret's namespace (then list it in `opts.dependsOn`; its own symbols
     * apply); VaultRegion shares one per namespace, length and symbols.
     */
    | { readonly generate: { readonly key: string; readonly length?: number; readonly generatorName?: string } }
    /** An operator-supplied value (a Pulumi secret, e.g. from `pulumi config set --secret`); it is in state, encrypted. */
    | { readonly value: pulumi.Input<Record<string, pulumi.Input<string>>> };

export type ReplicatedSecretArgs = ReplicatedSecretInput & {
    /** The region this instance is deployed in. */
    readonly region: string;
    /** Every region (this one included): the home pushes to each peer's Vault, or to every Vault. */
    readonly regions: readonly string[];
    /**
     * The regions whose Vault this region has a store for (`vault-local-push` for its own, `vault-<peer>`
     * for a peer's). Default: every region. A PushSecret is created only for a target in this list,
     * because ESO's PushSecret controller does not watch stores: a PushSecret whose selector matches
     * no store ends its reconcile without a requeue, and would stay idle after the store appears
     * until the PushSecret itself changes. Created after its store, it pushes at once.
     */
    readonly reachableRegions?: readonly string[];
    /** The one-time first value, written in the home region only if the secret does not exist yet. */
    readonly initialValue?: InitialValueArgs;
    /**
     * Each region's backend, by region: an ExternalSecret reads as this region's backend lays the
     * secret out, a PushSecret writes as its target's does. Default: the self-hosted Vault everywhere.
     */
    readonly backends?: Readonly<Record<string, ResolvedBackend>>;
};

/**
 * One secret kept the same in every region (see docs/consistency.md for the guarantees):
 * - `vault-written`: every region materializes it from its own Vault (ExternalSecret from
 *   `vault-local`); the home region pushes it to every peer Vault (one PushSecret per peer). Write it into the
 *   home region's Vault.
 * - `cluster-written`: the home region's Kubernetes Secret (owned by something else in that cluster)
 *   is pushed to every Vault; the other regions materialize it.
 *
 * Deploy one instance per region with the same spec; each creates what its region's role needs.
 * Nothing ever deletes the secret in another region. List the ESO chart and the stores in
 * `opts.dependsOn` (passed on to the ESO objects); pass the cluster's provider in `opts.providers`.
 */
export class ReplicatedSecret extends pulumi.ComponentResource {
    /** Whether this region materializes the secret, and where it pushes it. */
    public readonly role: ReturnType<typeof roleOf>;
    /** The regions whose Vaults this region pushes the secret to (one PushSecret each), of those it can reach. */
    public readonly pushesTo: readonly string[];

    constructor(name: string, args: ReplicatedSecretArgs, opts?: pulumi.ComponentResourceOptions) {
        const spec = parseOptions(`ReplicatedSecret ${args.namespace}/${args.name}`, replicatedSecretArgs, args);
        super("openova:vault:ReplicatedSecret", name, {}, opts);
        this.role = roleOf(spec, spec.region);
        const reachable = spec.reachableRegions ?? spec.regions;
        this.pushesTo = pushTargetRegions(spec, spec.region, spec.regions).filter((target) => reachable.includes(target));
        const child = { parent: this, dependsOn: opts?.dependsOn };
        const crd = (suffix: string, object: k8s.apiextensions.CustomResourceArgs) =>
            new k8s.apiextensions.CustomResource(`${name}-${suffix}`, { ...object }, child);

        const backendOf = (region: string): ResolvedBackend =>
            args.backends !== undefined && Object.hasOwn(args.backends, region) ? args.backends[region] : { type: "vault" };
        const remoteKey = remoteKeyOf(spec);
        const pushed = spec.keys?.map((key) => ({ from: key, to: key }));
        if (this.role.pulls) {
            crd("pull", externalSecret(spec, backendPullSource(backendOf(spec.region), remoteKey, spec.keys)));
        }
        for (const target of this.pushesTo) {
            crd(`push-${target}`, pushSecret(spec, target, backendPushData(backendOf(target), remoteKey, pushed)));
        }
        const shapeInitial = (keys: readonly { readonly from: string; readonly to: string }[] | undefined) =>
            backendPushData(backendOf(spec.region), remoteKey, keys);
        // The initial value goes into this region's own Vault, through `vault-local-push`.
        if (args.initialValue !== undefined && args.home === args.region && reachable.includes(args.region)) {
            if ("generate" in args.initialValue) {
                const { key, length = INITIAL_VALUE_DEFAULTS.generatedLength, generatorName } = args.initialValue.generate;
                // Its own generator is named after the secret, so it never clashes with a shared one,
                // or with another standalone secret's, in the same namespace.
                if (generatorName === undefined) {
                    crd("generator", passwordGenerator(args.namespace, { length, symbols: spec.passwordSymbols }, initialName(args.name)));
                }
                crd(
                    "initial",
                    initialValuePush(spec, { generate: { key, generatorName: generatorName ?? initialName(args.name) } }, shapeInitial),
                );
            } else {
                const source = new k8s.core.v1.Secret(
                    `${name}-initial`,
                    {
                        metadata: {
                            name: initialName(args.name),
                            namespace: args.namespace,
                            labels: projectLabels("replicated-secret-initial"),
                        },
                        type: "Opaque",
                        stringData: pulumi.secret(args.initialValue.value),
                    },
                    child,
                );
                new k8s.apiextensions.CustomResource(
                    `${name}-initial`,
                    { ...initialValuePush(spec, { fromSecret: { secretName: initialName(args.name) } }, shapeInitial) },
                    { parent: this, dependsOn: [source] },
                );
            }
        }
        this.registerOutputs({ role: this.role, pushesTo: this.pushesTo });
    }
}

const replicatedSecretArgs = z
    .object({
        ...replicatedSecretFields,
        home: text(isDnsLabel),
        region: text(isDnsLabel),
        regions: z.array(text(isDnsLabel)).min(1),
        reachableRegions: z.array(text(isDnsLabel)).optional(),
        initialValue: z.custom<InitialValueArgs>().optional(),
        backends: z.custom<Readonly<Record<string, ResolvedBackend>>>((value) => typeof value === "object" && value !== null).optional(),
    })
    .check(
        rules((args, ctx) => {
            if (!args.regions.includes(args.region)) {
                ruleIssue(ctx, ["region"], `is ${args.region}, which is not one of regions (${args.regions.join(", ")})`);
            }
            const generateKey =
                args.initialValue !== undefined && "generate" in args.initialValue ? args.initialValue.generate.key : undefined;
            replicatedSecretProblems(args, args.regions, args.initialValue === undefined ? undefined : { generateKey }, (field, message) =>
                ruleIssue(ctx, [field], message),
            );
        }),
    );
