import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { projectLabels } from "../common/labels";
import {
    REPLICATION_DEFAULTS,
    type ReplicatedSecretSpec,
    externalSecret,
    initialName,
    initialValuePush,
    passwordGenerator,
    pushSecret,
    pushSecretName,
    pushTargetRegions,
    roleOf,
} from "./replicationSpecs";
import { isDnsLabel, isDnsSubdomain, isRefreshInterval } from "../common/predicates";

/** Where a new secret's first value comes from (vault-written secrets only). */
export type InitialValueArgs =
    /**
     * ESO's Password generator, in the home cluster: the value is never in Pulumi state or Git. The
     * component creates a generator of `length` characters (default 32) for itself, named
     * `<name>-initial`, unless `generatorName` names an existing Password generator in the secret's
     * namespace (then list it in `opts.dependsOn`); VaultRegion shares one per namespace and length.
     */
    | { readonly generate: { readonly key: string; readonly length?: number; readonly generatorName?: string } }
    /** An operator-supplied value (a Pulumi secret, e.g. from `pulumi config set --secret`); it is in state, encrypted. */
    | { readonly value: pulumi.Input<Record<string, pulumi.Input<string>>> };

export interface ReplicatedSecretArgs extends ReplicatedSecretSpec {
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
}

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
        checkArgs(args);
        super("openova:vault:ReplicatedSecret", name, {}, opts);
        this.role = roleOf(args, args.region);
        const reachable = args.reachableRegions ?? args.regions;
        this.pushesTo = pushTargetRegions(args, args.region, args.regions).filter((target) => reachable.includes(target));
        const child = { parent: this, dependsOn: opts?.dependsOn };
        const crd = (suffix: string, object: k8s.apiextensions.CustomResourceArgs) => new k8s.apiextensions.CustomResource(`${name}-${suffix}`, { ...object }, child);

        if (this.role.pulls) {
            crd("pull", externalSecret(args));
        }
        for (const target of this.pushesTo) {
            crd(`push-${target}`, pushSecret(args, target));
        }
        // The initial value goes into this region's own Vault, through `vault-local-push`.
        if (args.initialValue !== undefined && args.home === args.region && reachable.includes(args.region)) {
            if ("generate" in args.initialValue) {
                const { key, length = REPLICATION_DEFAULTS.generatedLength, generatorName } = args.initialValue.generate;
                // Its own generator is named after the secret, so it never clashes with a shared one,
                // or with another standalone secret's, in the same namespace.
                if (generatorName === undefined) {
                    crd("generator", passwordGenerator(args.namespace, length, initialName(args.name)));
                }
                crd("initial", initialValuePush(args, { generate: { key, generatorName: generatorName ?? initialName(args.name) } }));
            } else {
                const source = new k8s.core.v1.Secret(
                    `${name}-initial`,
                    {
                        metadata: { name: initialName(args.name), namespace: args.namespace, labels: projectLabels("replicated-secret-initial") },
                        type: "Opaque",
                        stringData: pulumi.secret(args.initialValue.value),
                    },
                    child,
                );
                new k8s.apiextensions.CustomResource(
                    `${name}-initial`,
                    { ...initialValuePush(args, { fromSecret: { secretName: initialName(args.name) } }) },
                    { parent: this, dependsOn: [source] },
                );
            }
        }
        this.registerOutputs({ role: this.role, pushesTo: this.pushesTo });
    }
}

function checkArgs(args: ReplicatedSecretArgs): void {
    const problems: string[] = [];
    if (!isDnsSubdomain(args.name)) {
        problems.push(`name ${JSON.stringify(args.name)} is not a Secret name (a DNS name)`);
    }
    for (const target of args.regions) {
        if (!isDnsSubdomain(pushSecretName(args.name, target))) {
            problems.push(`name ${JSON.stringify(args.name)} is too long: its PushSecret to ${target} would be named ${JSON.stringify(pushSecretName(args.name, target))}, over 253 characters`);
            break;
        }
    }
    if (!args.regions.includes(args.region) || !args.regions.includes(args.home)) {
        problems.push(`region ${JSON.stringify(args.region)} and home ${JSON.stringify(args.home)} must both be in regions ${JSON.stringify(args.regions)}`);
    }
    if (!isDnsLabel(args.namespace)) {
        problems.push(`namespace ${JSON.stringify(args.namespace)} is not a DNS label`);
    }
    for (const key of ["pullInterval", "pushInterval"] as const) {
        const interval = args[key];
        if (interval !== undefined && !isRefreshInterval(interval)) {
            problems.push(`${key} ${JSON.stringify(interval)} is not a positive duration such as 30s, 1m30s or 1h`);
        }
    }
    if (args.keys !== undefined && (args.keys.length === 0 || new Set(args.keys).size !== args.keys.length)) {
        problems.push(`keys ${JSON.stringify(args.keys)} must list distinct Secret keys, or be left out for the whole Secret`);
    }
    if (args.initialValue !== undefined && args.mode === "cluster-written") {
        problems.push("initialValue is for vault-written secrets: a cluster-written secret's owner creates its value");
    }
    if (args.initialValue !== undefined && "generate" in args.initialValue && args.keys !== undefined && !args.keys.includes(args.initialValue.generate.key)) {
        problems.push(`initialValue.generate.key ${JSON.stringify(args.initialValue.generate.key)} is not one of keys ${JSON.stringify(args.keys)}`);
    }
    if (problems.length > 0) {
        throw new Error(`ReplicatedSecret ${args.namespace}/${args.name}: ${problems.join("; ")}`);
    }
}
