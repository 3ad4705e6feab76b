import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { z } from "zod";
import { parseOptions, ruleIssue, rules, text } from "../common/options";
import { vaultProviderArg } from "../common/providers";
import { isDnsLabel, isDnsSubdomain, isImageTag, isSecretKey, isVaultAddress } from "../common/predicates";
import { offsiteUri } from "./offsite";
import {
    type CaSecretRef,
    type RaftSnapshotOptions,
    type ResolvedRaftSnapshotOptions,
    SNAPSHOT_POLICY,
    type SnapshotJobSettings,
    SNAPSHOT_SERVICE_ACCOUNT,
    raftSnapshotOptions,
    resolvedSnapshots,
    snapshotClaim,
    snapshotCronJob,
    snapshotCronJobMetadata,
    snapshotLabels,
    snapshotPolicyDocument,
    snapshotRole,
    snapshotScript,
    snapshotServiceAccountAnnotations,
} from "./snapshotSpecs";
import { type Engine, engineOption } from "../common/engine";

/** What {@link RaftSnapshots} needs: the region's Vault admin provider, where Vault runs, and the options. */
export interface RaftSnapshotsArgs {
    /**
     * The region's Vault provider, authenticated as an admin (it writes a policy and a role), once the
     * Vault is configured. Without it only the claim is declared, so the backups' volume does not
     * depend on the `vaultInitialized` gate; the policy, role and job come with the provider. Never
     * Pulumi's default Vault provider.
     */
    readonly provider?: vault.Provider;
    /** Vault's namespace: the CronJob, its service account and the claim go there. */
    readonly namespace: string;
    /** Path of the Kubernetes auth mount the role goes under (created elsewhere, e.g. by `VaultSetup`); with `provider` only. */
    readonly authPath?: pulumi.Input<string>;
    /** Tag of the engine's server image the job runs the CLI from: the servers' own tag. */
    readonly imageTag: string;
    /** The engine of the servers (`vault` by default, or `openbao`): its image, CLI and variables. */
    readonly engine?: Engine;
    /** The active server in the cluster: `https://vault-active.<namespace>.svc:8200` (`http://` when TLS is off). */
    readonly vaultAddress: string;
    /** The Secret key holding the CA that signs Vault's certificate, for an `https` address. */
    readonly caSecret?: CaSecretRef;
    /** Schedule, retention, storage and the off-site copy; see {@link RaftSnapshotOptions}. */
    readonly options?: RaftSnapshotOptions;
    /** The region, whose name the off-site copies' default prefix carries (`vault-snapshots/<region>/`); needed for an off-site copy without `prefix`. */
    readonly region?: string;
}

/**
 * Scheduled Raft snapshots of a region's Vault: a CronJob that logs in with its own Kubernetes auth
 * role (policy: `read` on `sys/storage/raft/snapshot`, nothing else), saves a snapshot to a
 * PersistentVolumeClaim and keeps the newest `retain` of them. With `options.offsite`, the same Job
 * then copies each snapshot to object storage (and peer regions' buckets) with the cloud identity
 * its service account is bound to: the account carries that identity's annotation, never a key.
 *
 * The claim the component creates is kept when the component is deleted (`retainOnDelete`): removing
 * the backups must be a deliberate `kubectl delete pvc`, never a side effect of a config change or a
 * destroy. With `options.enabled: false` it registers no children at all (and so deletes the job,
 * role and policy of an earlier run, but not the claim). Since the Kubernetes provider refuses to
 * create an object that already exists, a claim kept that way is reused by naming it in
 * `options.claimName` (`vault-snapshots`) when snapshots are switched on again.
 *
 * Pass the region cluster's Kubernetes provider in `opts.providers` (or through a parent). List what
 * must exist first (the Vault setup that creates the auth mount, the Vault servers) in
 * `opts.dependsOn`: the component passes it on to its children.
 */
export class RaftSnapshots extends pulumi.ComponentResource {
    /** Whether snapshots are taken. */
    public readonly enabled: boolean;
    /** The claim snapshots are written to; undefined when disabled. */
    public readonly claimName: string | undefined;
    /** The cron schedule (UTC); undefined when disabled. */
    public readonly schedule: string | undefined;
    /** Where each snapshot is copied off the cluster: the store and the region's own bucket URI prefix; undefined when it is not. */
    public readonly offsite: { readonly target: string; readonly location: string } | undefined;

    constructor(name: string, args: RaftSnapshotsArgs, opts?: pulumi.ComponentResourceOptions) {
        // Resolve and check everything before super(), so impossible args register nothing.
        const options = checkArgs(args);
        super("openova:vault:RaftSnapshots", name, {}, opts);
        this.enabled = options.enabled;
        this.claimName = options.enabled ? options.storage.claimName : undefined;
        this.schedule = options.enabled ? options.schedule : undefined;
        const offsite = options.enabled ? options.offsite : undefined;
        this.offsite =
            offsite === undefined
                ? undefined
                : { target: offsite.target, location: offsiteUri(offsite.target, offsite.destinations[0], offsite.prefix) };

        if (options.enabled) {
            this.createChildren(name, args, options, opts?.dependsOn);
        }
        this.registerOutputs({ enabled: this.enabled, claimName: this.claimName, schedule: this.schedule, offsite: this.offsite });
    }

    private createChildren(
        name: string,
        args: RaftSnapshotsArgs,
        options: ResolvedRaftSnapshotOptions,
        dependsOn: pulumi.ResourceOptions["dependsOn"],
    ): void {
        // A component's dependsOn does not hold back its children, so each child carries it too.
        const child = { parent: this, dependsOn };
        // The claim first, and whether or not the Vault is configured yet: it holds the backups, so it
        // must not come and go with the configuration (a kept claim cannot be created again).
        const claims: pulumi.Resource[] = [];
        if (options.storage.create) {
            const claim = snapshotClaim({ namespace: args.namespace, ...options.storage });
            claims.push(
                new k8s.core.v1.PersistentVolumeClaim(
                    `${name}-claim`,
                    { metadata: claim.metadata, spec: claim.spec },
                    // The backups outlive the component: deleting it (or switching snapshots off) keeps the claim.
                    { ...child, retainOnDelete: true },
                ),
            );
        }
        if (args.provider === undefined || args.authPath === undefined) {
            return;
        }
        const inVault = { ...child, provider: args.provider };

        const policy = new vault.Policy(`${name}-policy`, { name: SNAPSHOT_POLICY, policy: snapshotPolicyDocument() }, inVault);
        const role = new vault.kubernetes.AuthBackendRole(
            `${name}-role`,
            // The policy's name comes from the resource, so the role waits for the policy to exist.
            { backend: args.authPath, ...snapshotRole(args.namespace), tokenPolicies: [policy.name] },
            inVault,
        );

        const serviceAccount = new k8s.core.v1.ServiceAccount(
            `${name}-service-account`,
            {
                metadata: {
                    name: SNAPSHOT_SERVICE_ACCOUNT,
                    namespace: args.namespace,
                    labels: snapshotLabels(),
                    // The off-site copy's cloud identity (an IAM role ARN, a Google service account, an
                    // Azure client ID): a name, never a credential.
                    annotations: snapshotServiceAccountAnnotations(options.offsite),
                },
                // The job presents a projected token with its own audience; no pod needs the default one.
                automountServiceAccountToken: false,
            },
            child,
        );

        const waitFor: pulumi.Resource[] = [role, serviceAccount, ...claims];
        const settings = jobSettings(args, options);
        // The auth path may be an output (VaultSetup's mount); the script embeds it, so the spec follows it.
        const spec = pulumi.output(args.authPath).apply((authPath) => snapshotCronJob({ ...settings, authPath }).spec);
        const metadata = snapshotCronJobMetadata(args.namespace);
        // The role and service account (and so, transitively, `dependsOn`) exist before the first run.
        new k8s.batch.v1.CronJob(`${name}-cronjob`, { metadata, spec }, { parent: this, dependsOn: waitFor });
    }
}

/** The job's settings from the component's args and resolved options. */
function jobSettings(args: RaftSnapshotsArgs, options: ResolvedRaftSnapshotOptions): SnapshotJobSettings {
    return {
        namespace: args.namespace,
        schedule: options.schedule,
        retain: options.retain,
        claimName: options.storage.claimName,
        imageTag: args.imageTag,
        vaultAddress: args.vaultAddress,
        ...(args.caSecret !== undefined ? { caSecret: args.caSecret } : {}),
        ...(args.engine !== undefined ? { engine: args.engine } : {}),
        ...(options.offsite !== undefined ? { offsite: options.offsite } : {}),
    };
}

/**
 * The args besides `options`, `engine` and `region` (which have their own schemas): the region passes
 * them checked, and a platform that builds the component itself gets the same one-line errors.
 */
const snapshotJobArgs = z
    .object({
        provider: vaultProviderArg.optional(),
        namespace: text(isDnsLabel).meta({ allowed: "a DNS label (lowercase letters, digits and '-')" }),
        imageTag: text(isImageTag).meta({ allowed: "a pinned image tag (not latest), optionally with its @sha256: digest" }),
        vaultAddress: text(isVaultAddress).meta({ allowed: "http:// or https://, a host and an optional port, no path" }),
        caSecret: z
            .object({
                name: text(isDnsSubdomain).meta({ allowed: "a Secret's name (a DNS subdomain)" }),
                key: text(isSecretKey).meta({ allowed: "a Secret key (letters, digits, '-', '.' and '_')" }),
            })
            .optional(),
    })
    .check(
        rules((args, ctx) => {
            if (args.caSecret !== undefined && args.vaultAddress.startsWith("http://")) {
                ruleIssue(
                    ctx,
                    ["caSecret"],
                    "is set, but vaultAddress is http:// (TLS off): there is no certificate to verify. Remove caSecret, or use https://",
                );
            }
        }),
    );

function checkArgs(args: RaftSnapshotsArgs): ResolvedRaftSnapshotOptions {
    const { provider, namespace, imageTag, vaultAddress, caSecret } = args;
    parseOptions("RaftSnapshots", snapshotJobArgs, { provider, namespace, imageTag, vaultAddress, caSecret });
    const parsed = parseOptions("RaftSnapshots", raftSnapshotOptions, args.options ?? {}, ["options"]);
    if (parsed.offsite.target !== undefined && parsed.offsite.prefix === undefined && args.region === undefined) {
        throw new pulumi.InputPropertyError({
            propertyPath: "region",
            reason: "RaftSnapshots: an off-site copy without options.offsite.prefix takes its default prefix vault-snapshots/<region>/: give region, or the prefix",
        });
    }
    const options = resolvedSnapshots(parsed, args.region);
    parseOptions("RaftSnapshots", engineOption, args.engine, ["engine"]);
    if ((args.provider === undefined) !== (args.authPath === undefined)) {
        throw new pulumi.InputPropertyError({
            propertyPath: "authPath",
            reason: "RaftSnapshots: provider and authPath go together: give both once the Vault is configured, neither before",
        });
    }
    // The script embeds the auth path: a plain one is checked now, an output one when it resolves.
    if (typeof args.authPath === "string") {
        snapshotScript({ authPath: args.authPath, retain: options.retain });
    }
    return options;
}
