/**
 * Scheduled Raft snapshots (backups) of a region's Vault: the options, the Vault policy and Kubernetes
 * auth role the snapshot job logs in with, the shell script
 * it runs, and its CronJob and PersistentVolumeClaim. No Pulumi resources here, so tests call them
 * directly (and run the script for real).
 *
 * Vault CE has no automated snapshots (`sys/storage/raft/snapshot-auto` is Enterprise), so a
 * CronJob runs `vault operator raft snapshot save` against the active server. That call needs only
 * `read` on `sys/storage/raft/snapshot`, which is all the job's policy grants.
 */
import type * as k8s from "@pulumi/kubernetes";
import { readOnlyPolicyDocument } from "../vault-config/policies";
import { projectLabels } from "../common/labels";
import { z } from "zod";
import { option, options, ruleIssue, text, rules } from "../common/options";
import { isDnsSubdomain, isIntegerBetween } from "../common/predicates";
import { isStorageQuantity } from "../common/quantities";
import type { KubernetesAuthRole } from "../vault-config/setupValues";
import { vaultSecurityContextValues } from "../vault-server/resources";
import { type Engine, ENGINE_FACTS, type EngineFacts, engineFacts, engineImage } from "../common/engine";
import {
    OFFSITE_HANDOFF_DIR,
    OFFSITE_HANDOFF_FILE,
    type ResolvedOffsite,
    offsiteContainer,
    offsiteIdentity,
    offsiteOptions,
    resolvedOffsite,
} from "./offsite";

/** The most snapshots a region keeps: more is a typo, and `ls` of the directory stays cheap. */
export const MAX_RETAIN = 1000;

/** Where the snapshots go: a claim the component creates, or one that already exists. */
export type SnapshotStorage =
    | { readonly create: true; readonly claimName: string; readonly storageSize: string; readonly storageClass?: string }
    | { readonly create: false; readonly claimName: string };

/** Name of the PersistentVolumeClaim the component creates when no `claimName` is given. */
export const SNAPSHOT_CLAIM_NAME = "vault-snapshots";

/** Name of the CronJob (and so the prefix of its Jobs and pods). */
export const SNAPSHOT_CRONJOB_NAME = "vault-snapshot";

/** Name of the Vault policy the snapshot job's tokens carry. */
export const SNAPSHOT_POLICY = "raft-snapshot";

/** Name of the Kubernetes auth role the snapshot job logs in as. */
export const SNAPSHOT_ROLE = "raft-snapshot";

/** The service account the snapshot job runs as; the role binds to it alone. */
export const SNAPSHOT_SERVICE_ACCOUNT = "vault-snapshot";

/**
 * Audience of the service-account token the job presents to Vault. Its own (not ESO's `vault`): a
 * token minted for the snapshot job is refused by every other role, and ESO's tokens by this one.
 */
export const SNAPSHOT_AUDIENCE = "vault-snapshot";

/** The Vault path `vault operator raft snapshot save` reads. */
export const SNAPSHOT_API_PATH = "sys/storage/raft/snapshot";

/** Where the job writes snapshots (the claim's mount point). */
export const SNAPSHOT_DIR = "/snapshots";

/** Where the projected service-account token is mounted. */
export const SNAPSHOT_TOKEN_DIR = "/var/run/secrets/vault-snapshot";
/** The projected service-account token the job logs in with. */
export const SNAPSHOT_TOKEN_FILE = `${SNAPSHOT_TOKEN_DIR}/token`;

/** Where the CA certificate that signs Vault's listener certificate is mounted. */
export const SNAPSHOT_CA_DIR = "/etc/vault-snapshot/ca";
/** The CA certificate file (`VAULT_CACERT`), whatever the key it came from in its Secret. */
export const SNAPSHOT_CA_FILE = `${SNAPSHOT_CA_DIR}/ca.crt`;

/** Lifetime of the projected service-account token (600 s is the shortest Kubernetes issues). */
export const SNAPSHOT_SA_TOKEN_SECONDS = 600;

/** How long one Job may run, all retries included, before Kubernetes stops it. */
export const SNAPSHOT_JOB_DEADLINE_SECONDS = 900;

/** Allowed range of each cron field, in order: minute, hour, day of month, month, day of week (0 and 7 are Sunday). */
const CRON_FIELDS: readonly { readonly name: string; readonly min: number; readonly max: number }[] = [
    { name: "minute", min: 0, max: 59 },
    { name: "hour", min: 0, max: 23 },
    { name: "day of month", min: 1, max: 31 },
    { name: "month", min: 1, max: 12 },
    { name: "day of week", min: 0, max: 7 },
];

/**
 * Why `field` is not a valid cron field within [min, max], or undefined when it is. Items:
 * `*`, `*\/n`, `a`, `a-b`, `a-b/n`, joined by commas. Names (`MON`, `JAN`), `?`, `L` and `@hourly`
 * are refused: Kubernetes accepts some, other cron implementations read them differently.
 */
function cronFieldProblem(field: string, min: number, max: number): string | undefined {
    for (const item of field.split(",")) {
        const match = /^(?:(\*)|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(item);
        if (match === null) {
            return `${JSON.stringify(item)} is not *, */n, a number, a range a-b or a-b/n`;
        }
        const [, star, from, to, step] = match;
        if (step !== undefined && (Number(step) < 1 || Number(step) > max)) {
            return `step ${step} is not between 1 and ${max}`;
        }
        if (star === undefined) {
            if (step !== undefined && to === undefined) {
                // `5/15` means different things to different crons; `5-59/15` says it plainly.
                return `${JSON.stringify(item)} has a step without a range (write ${from}-${max}/${step})`;
            }
            const low = Number(from);
            const high = to === undefined ? low : Number(to);
            if (low < min || high > max || low > high) {
                return `${JSON.stringify(item)} is outside ${min}-${max}`;
            }
        }
    }
    return undefined;
}

/** Why `schedule` is not a 5-field cron schedule this project accepts, or undefined when it is one. */
export function cronScheduleProblem(schedule: string): string | undefined {
    const fields = schedule.trim().split(/\s+/);
    if (schedule.trim() !== schedule || /\s{2,}|[\t\n\r]/.test(schedule)) {
        return "must be five fields separated by single spaces";
    }
    if (fields.length !== CRON_FIELDS.length) {
        return `has ${fields.length} fields, not 5 (minute hour day-of-month month day-of-week)`;
    }
    for (const [index, field] of fields.entries()) {
        const { name, min, max } = CRON_FIELDS[index];
        const problem = cronFieldProblem(field, min, max);
        if (problem !== undefined) {
            return `${name} field: ${problem}`;
        }
    }
    return undefined;
}

/** The values a valid cron field matches, within [min, max]. */
function cronFieldValues(field: string, min: number, max: number): Set<number> {
    const values = new Set<number>();
    for (const item of field.split(",")) {
        const [range, step] = item.split("/");
        const [from, to] = range === "*" ? [min, max] : range.split("-").map(Number);
        const last = to ?? (step === undefined ? from : max);
        for (let value = from; value <= last; value += step === undefined ? 1 : Number(step)) {
            values.add(value);
        }
    }
    return values;
}

/**
 * The longest time between two consecutive runs of a valid cron schedule, in seconds, as
 * Kubernetes' CronJob controller reads it (robfig/cron: when both day of month and day of week are
 * restricted, a day matching either runs; 7 is Sunday). Computed between the runs of eight years
 * from 2024-01-01 UTC, two leap-year cycles, so a yearly or leap-day schedule shows its gap too; a
 * schedule that runs less than twice in that time counts as the whole time. The bound of the
 * snapshots' recovery point.
 */
export function cronMaxGapSeconds(schedule: string): number {
    const fields = schedule.split(" ");
    const [minutes, hours, days, months, weekdays] = fields.map((field, i) =>
        cronFieldValues(field, CRON_FIELDS[i].min, CRON_FIELDS[i].max),
    );
    if (weekdays.has(7)) {
        weekdays.add(0);
    }
    const either = !fields[2].startsWith("*") && !fields[4].startsWith("*");
    const start = Date.UTC(2024, 0, 1);
    const span = 8 * 365 + 2;
    const dayTimes = [...hours].sort((a, b) => a - b).flatMap((h) => [...minutes].sort((a, b) => a - b).map((m) => (h * 60 + m) * 60));
    let previous: number | undefined;
    let gap = 0;
    for (let day = 0; day < span; day++) {
        const date = new Date(start + day * 86_400_000);
        const dom = days.has(date.getUTCDate());
        const dow = weekdays.has(date.getUTCDay());
        if (!months.has(date.getUTCMonth() + 1) || !(either ? dom || dow : dom && dow)) {
            continue;
        }
        for (const offset of dayTimes) {
            const at = day * 86_400 + offset;
            if (previous !== undefined) {
                gap = Math.max(gap, at - previous);
            }
            previous = at;
        }
    }
    return gap === 0 ? span * 86_400 : gap;
}

/** Scheduled Raft snapshots of a region's Vault. Options are checked even when snapshots are off, so a typo never waits for the day they are switched on. */
export const raftSnapshotOptions = options({
    enabled: option(z.boolean().default(true), {
        description: "Take scheduled Raft snapshots (an hourly CronJob with a snapshot-only Vault role).",
        example: "true",
    }),
    schedule: option(
        z
            .string()
            .check(
                z.superRefine((schedule, ctx) => {
                    const problem = cronScheduleProblem(schedule);
                    if (problem !== undefined) {
                        ruleIssue(
                            ctx,
                            [],
                            `is ${JSON.stringify(schedule)} (${problem}), but it must be a 5-field cron schedule such as "0 * * * *"`,
                        );
                    }
                }),
            )
            .default("0 * * * *"),
        {
            description: "When to take a snapshot, read in UTC.",
            allowed:
                "a 5-field cron schedule (minute hour day-of-month month day-of-week), each field *, */n, a number, a range a-b or a-b/n, or a list of those",
            example: "0 * * * *",
        },
    ),
    retain: option(z.int().min(1).max(MAX_RETAIN).default(48), {
        description: "How many snapshots to keep: after each successful snapshot, older ones beyond this are deleted.",
        allowed: `a whole number from 1 to ${MAX_RETAIN}`,
        example: "48",
    }),
    storageSize: option(text(isStorageQuantity).optional(), {
        description:
            "Size of the claim the stack creates for the snapshots; it must hold `retain` snapshots, each about the size of the Raft data.",
        allowed: "a Kubernetes quantity with a unit, at least 1Gi, and only without claimName",
        example: "10Gi",
        defaultText: "10Gi",
    }),
    claimName: option(text(isDnsSubdomain).optional(), {
        description:
            "An existing PersistentVolumeClaim in Vault's namespace to write the snapshots to (e.g. storage replicated off-site) instead of a new one; the stack then neither creates nor deletes a claim.",
        allowed: "a PersistentVolumeClaim name",
        example: "vault-backups",
        defaultText: `a new claim ${SNAPSHOT_CLAIM_NAME}`,
    }),
    storageClass: option(text(isDnsSubdomain).optional(), {
        description: "StorageClass of the created claim.",
        allowed: "a StorageClass name, and only without claimName",
        example: "standard",
        defaultText: "the StorageClass of vault.storageClass, else the cluster's default",
    }),
    offsite: option(offsiteOptions.prefault({}), {
        description:
            "Copy every snapshot off the cluster, to object storage (and to peer regions' buckets), as part of the snapshot job, authenticated by workload identity. The claim stays as the local copy.",
        allowed: "an object",
        example: "{target: s3, bucket: acme-vault-snapshots-eu, bucketRegion: eu-west-1}",
    }),
}).check(
    rules((snapshots, ctx) => {
        for (const name of ["storageSize", "storageClass"] as const) {
            if (snapshots.claimName !== undefined && snapshots[name] !== undefined) {
                ruleIssue(
                    ctx,
                    [name],
                    `has no effect with claimName (an existing claim keeps its own ${name === "storageSize" ? "size" : "class"}): remove one of them`,
                );
            }
        }
    }),
);

export type RaftSnapshotOptions = z.input<typeof raftSnapshotOptions>;

/** The snapshot options with every default applied. */
export interface ResolvedRaftSnapshotOptions {
    readonly enabled: boolean;
    readonly schedule: string;
    readonly retain: number;
    readonly storage: SnapshotStorage;
    /** Where each snapshot is copied off the cluster; undefined when it is not. */
    readonly offsite?: ResolvedOffsite;
}

/**
 * The StorageClass of the claim a region creates for its snapshots: the snapshots' own, else the
 * servers' (`vault.storageClass`); undefined means the cluster's default, or an existing claim.
 */
export function snapshotStorageClass(
    snapshots: { readonly claimName?: string; readonly storageClass?: string },
    serverStorageClass: string | undefined,
): string | undefined {
    return snapshots.storageClass ?? (snapshots.claimName === undefined ? serverStorageClass : undefined);
}

/**
 * Where the validated options put the snapshots. `region` gives the off-site copies their default
 * prefix (`vault-snapshots/<region>/`).
 */
export function resolvedSnapshots(snapshots: z.output<typeof raftSnapshotOptions>, region?: string): ResolvedRaftSnapshotOptions {
    const storage: SnapshotStorage =
        snapshots.claimName !== undefined
            ? { create: false, claimName: snapshots.claimName }
            : {
                  create: true,
                  claimName: SNAPSHOT_CLAIM_NAME,
                  storageSize: snapshots.storageSize ?? "10Gi",
                  ...(snapshots.storageClass !== undefined ? { storageClass: snapshots.storageClass } : {}),
              };
    const offsite = resolvedOffsite(snapshots.offsite, region);
    return {
        enabled: snapshots.enabled,
        schedule: snapshots.schedule,
        retain: snapshots.retain,
        storage,
        ...(offsite === undefined ? {} : { offsite }),
    };
}

/** The snapshot job's Vault policy (JSON): `read` on the snapshot endpoint, and nothing else. */
export function snapshotPolicyDocument(): string {
    return readOnlyPolicyDocument(SNAPSHOT_API_PATH);
}

/** Settings of the Kubernetes auth role the snapshot job logs in with; spread them into `vault.kubernetes.AuthBackendRole`. */
export type SnapshotRoleSettings = KubernetesAuthRole;

/**
 * The role for the snapshot job: bound to its one service account in Vault's namespace, with its own
 * audience, a 10-minute token (15 at most) and only the snapshot policy. Tokens also keep Vault's
 * built-in `default` policy, which holds `auth/token/revoke-self`, the job's last call.
 */
export function snapshotRole(namespace: string): SnapshotRoleSettings {
    return {
        roleName: SNAPSHOT_ROLE,
        boundServiceAccountNames: [SNAPSHOT_SERVICE_ACCOUNT],
        boundServiceAccountNamespaces: [namespace],
        audience: SNAPSHOT_AUDIENCE,
        tokenTtl: 10 * 60,
        tokenMaxTtl: 15 * 60,
        tokenPolicies: [SNAPSHOT_POLICY],
    };
}

/** What {@link snapshotScript} needs. */
export interface SnapshotScriptArgs {
    /** Path of the Kubernetes auth mount, e.g. `kubernetes`. */
    readonly authPath: string;
    /** The role to log in as. Default {@link SNAPSHOT_ROLE}. */
    readonly role?: string;
    /** Absolute path of the projected service-account token. Default {@link SNAPSHOT_TOKEN_FILE}. */
    readonly tokenFile?: string;
    /** Absolute path of the directory snapshots go to. Default {@link SNAPSHOT_DIR}. */
    readonly dir?: string;
    /** How many snapshots to keep. */
    readonly retain: number;
    /** The engine, whose CLI (`vault`, `bao`) and token variables the script uses. Default Vault. */
    readonly engine?: EngineFacts;
    /** Absolute path of a file to write this run's snapshot name to, for the off-site copy. Default none. */
    readonly handoffFile?: string;
}

const SIMPLE = /^[A-Za-z0-9/_.-]+$/;
const ABSOLUTE = /^\/[A-Za-z0-9/_.-]*$/;

/**
 * The POSIX `sh` script the job runs. In order: log in with the projected service-account token
 * (the Vault token lands in a variable, never on the terminal); save a snapshot under a hidden
 * `.partial-` name and rename it to `vault-<UTC stamp>.snap` only once the save succeeded, so a
 * failed or interrupted save never leaves a file that looks complete; keep the newest `retain`
 * snapshots; revoke the token whatever happened (a failed revoke is logged, not fatal: the token
 * expires within {@link SnapshotRoleSettings.tokenMaxTtl} anyway). The exit status is the first
 * failure's (login, save or prune), so the Job fails visibly when there is no new snapshot.
 *
 * Every value is checked to be a simple path-like string and written single-quoted, so none can
 * change what the script does.
 * @throws Error naming each value that is not a plain `[A-Za-z0-9/_.-]` string (or `retain` out of range).
 */
export function snapshotScript(args: SnapshotScriptArgs): string {
    const values = {
        authPath: args.authPath,
        role: args.role ?? SNAPSHOT_ROLE,
        tokenFile: args.tokenFile ?? SNAPSHOT_TOKEN_FILE,
        dir: args.dir ?? SNAPSHOT_DIR,
        handoffFile: args.handoffFile,
    };
    const problems: string[] = [];
    for (const [name, value] of Object.entries(values)) {
        if (name === "handoffFile" && value === undefined) {
            continue;
        }
        const pattern = name === "tokenFile" || name === "dir" || name === "handoffFile" ? ABSOLUTE : SIMPLE;
        // A leading '-' could read as a flag, '..' climbs out of the directory: neither is a plain name.
        if (typeof value !== "string" || !pattern.test(value) || value.startsWith("-") || value.split("/").includes("..")) {
            problems.push(
                `${name} ${JSON.stringify(value)} is not a plain ${pattern === ABSOLUTE ? "absolute path" : "path"} of letters, digits, '/', '_', '.' and '-'`,
            );
        }
    }
    if (/^\/|\/$|\/\//.test(values.authPath)) {
        problems.push(`authPath ${JSON.stringify(values.authPath)} must not start or end with '/' or contain '//'`);
    }
    if (!isIntegerBetween(args.retain, 1, MAX_RETAIN)) {
        problems.push(`retain ${JSON.stringify(args.retain)} is not a whole number from 1 to ${MAX_RETAIN}`);
    }
    if (problems.length > 0) {
        throw new Error(`snapshot script: ${problems.join("; ")}`);
    }
    // The checks above leave no quote, space or '$' in any value, so single quotes keep each literal.
    const quoted = (value: string) => `'${value}'`;
    const { product, cli, tokenVariables } = args.engine ?? ENGINE_FACTS.vault;
    const token = tokenVariables[0];
    return `#!/bin/sh
# Raft snapshot of this region's ${product} (generated by openova-vault).
# Never add 'set -x': it would print the ${product} token.
set -eu
umask 077
LC_ALL=C
export LC_ALL

auth_path=${quoted(values.authPath)}
role=${quoted(values.role)}
token_file=${quoted(values.tokenFile)}
dir=${quoted(values.dir)}
retain=${args.retain}
handoff=${values.handoffFile === undefined ? "" : quoted(values.handoffFile)}

log() {
    printf '%s raft-snapshot: %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"
}

# Left by a run that was killed mid-save (deadline, node loss): never a usable snapshot.
rm -f -- "$dir"/.partial-*.snap

log "logging in to ${product} at auth/$auth_path as role $role"
# A ${tokenVariables.join(" or ")} from the environment would be sent with the login; this job uses only its own.
unset ${tokenVariables.join(" ")}
if ! ${token}=$(${cli} write -field=token "auth/$auth_path/login" "role=$role" "jwt=@$token_file"); then
    log "login failed"
    exit 1
fi
if [ -z "$${token}" ]; then
    log "login returned no token"
    exit 1
fi
export ${token}

stamp=$(date -u +%Y%m%dT%H%M%SZ)
partial="$dir/.partial-$stamp.snap"
final="$dir/vault-$stamp.snap"

finish() {
    status=$?
    set +e
    trap - EXIT
    rm -f -- "$partial"
    if ${cli} token revoke -self >/dev/null; then
        log "revoked the job's ${product} token"
    else
        log "could not revoke the job's ${product} token; it expires on its own"
    fi
    if [ "$status" -eq 0 ]; then
        log "done"
    else
        log "failed (exit $status)"
    fi
    exit "$status"
}
trap finish EXIT
# Turn a stop into an ordinary exit, so finish still removes the partial file and revokes the token.
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

log "saving a snapshot"
${cli} operator raft snapshot save "$partial"
if [ ! -s "$partial" ]; then
    log "the saved snapshot is empty"
    exit 1
fi
mv -f -- "$partial" "$final"
log "saved vault-$stamp.snap"
if [ -n "$handoff" ]; then
    # The off-site copy, in the next container, copies exactly this file.
    printf '%s\\n' "vault-$stamp.snap" > "$handoff"
fi

# Names carry a UTC stamp, so name order is time order: everything after the newest $retain goes.
old=$(ls -1 -- "$dir" | grep -E '^vault-[0-9]{8}T[0-9]{6}Z\\.snap$' | sort -r | tail -n "+$((retain + 1))")
for name in $old; do
    rm -f -- "$dir/$name"
    log "pruned $name"
done
log "keeping at most $retain snapshots"
`;
}

/** A Secret key holding the CA certificate that signs Vault's listener certificate. */
export interface CaSecretRef {
    /** The Secret's name, in Vault's namespace. */
    readonly name: string;
    /** The key of the PEM CA certificate in it, e.g. `ca.crt`. */
    readonly key: string;
}

/** What {@link snapshotCronJob} needs besides the auth path. */
export interface SnapshotJobSettings {
    /** Vault's namespace: the job, its service account and its claim live there. */
    readonly namespace: string;
    readonly schedule: string;
    readonly retain: number;
    /** The claim snapshots are written to. */
    readonly claimName: string;
    /** Tag of the engine's server image (the servers' tag, so the CLI matches the server). */
    readonly imageTag: string;
    /**
     * The active server, in the cluster: `https://vault-active.<namespace>.svc:8200`, or `http://`
     * when TLS is off.
     */
    readonly vaultAddress: string;
    /** The CA that signs Vault's certificate, for an `https` address; only this key is mounted. */
    readonly caSecret?: CaSecretRef;
    /** The engine of the servers, whose image and CLI the job runs. Default `vault`. */
    readonly engine?: Engine;
    /** Where each snapshot is copied off the cluster, by a second container; undefined for none. */
    readonly offsite?: ResolvedOffsite;
}

/** What {@link snapshotCronJob} needs. */
export interface SnapshotCronJobArgs extends SnapshotJobSettings {
    /** Path of the Kubernetes auth mount. */
    readonly authPath: string;
}

/** Labels of the snapshot job's objects; the pods' `app.kubernetes.io/name` lets a NetworkPolicy select them. */
export function snapshotLabels(): Record<string, string> {
    return { "app.kubernetes.io/name": SNAPSHOT_CRONJOB_NAME, ...projectLabels("raft-snapshot") };
}

/** The CronJob's metadata: known before the auth path is, so the object's name never waits for an output. */
export function snapshotCronJobMetadata(namespace: string) {
    return { name: SNAPSHOT_CRONJOB_NAME, namespace, labels: snapshotLabels() } satisfies k8s.types.input.meta.v1.ObjectMeta;
}

/**
 * The `batch/v1` CronJob that takes the snapshots, in Vault's namespace. One Job at a time
 * (`Forbid`: two saves would race on the claim), schedule read in UTC, two retries; the pod runs
 * the Vault CLI from the servers' image as the image's non-root `vault` user with a read-only root
 * filesystem and no capabilities, mounts no default service-account token (Kubernetes API access is
 * not needed), and presents a projected token for {@link SNAPSHOT_AUDIENCE} to Vault.
 * @throws Error when the auth path could change what the script does ({@link snapshotScript}).
 */
export function snapshotCronJob(args: SnapshotCronJobArgs) {
    const engine = engineFacts(args.engine);
    const offsite = args.offsite;
    const script = snapshotScript({
        authPath: args.authPath,
        retain: args.retain,
        engine,
        ...(offsite === undefined ? {} : { handoffFile: OFFSITE_HANDOFF_FILE }),
    });
    const labels = snapshotLabels();
    const podLabels = { ...labels, ...offsiteIdentity(offsite).podLabels };
    const ca = args.caSecret;
    const volumes = [
        { name: "snapshots", persistentVolumeClaim: { claimName: args.claimName } },
        {
            name: "vault-token",
            projected: {
                sources: [
                    { serviceAccountToken: { audience: SNAPSHOT_AUDIENCE, expirationSeconds: SNAPSHOT_SA_TOKEN_SECONDS, path: "token" } },
                ],
            },
        },
        // HOME for the CLI (it may look for ~/.vault-token), on a read-only root filesystem.
        { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
        ...(ca === undefined ? [] : [{ name: "vault-ca", secret: { secretName: ca.name, items: [{ key: ca.key, path: "ca.crt" }] } }]),
        // With an off-site copy: the snapshot container writes its file's name here for the copy container,
        // which has a scratch directory of its own (the cloud CLIs keep their state there).
        ...(offsite === undefined
            ? []
            : [
                  { name: "handoff", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
                  { name: "offsite-scratch", emptyDir: { sizeLimit: "256Mi" } },
              ]),
    ];
    const volumeMounts = [
        { name: "snapshots", mountPath: SNAPSHOT_DIR },
        { name: "vault-token", mountPath: SNAPSHOT_TOKEN_DIR, readOnly: true },
        { name: "tmp", mountPath: "/tmp" },
        ...(ca === undefined ? [] : [{ name: "vault-ca", mountPath: SNAPSHOT_CA_DIR, readOnly: true }]),
        ...(offsite === undefined ? [] : [{ name: "handoff", mountPath: OFFSITE_HANDOFF_DIR }]),
    ];
    const env = [
        { name: `${engine.envPrefix}ADDR`, value: args.vaultAddress },
        ...(ca === undefined ? [] : [{ name: `${engine.envPrefix}CACERT`, value: SNAPSHOT_CA_FILE }]),
        { name: "HOME", value: "/tmp" },
    ];
    const snapshotContainer = {
        name: "snapshot",
        image: engineImage(engine, args.imageTag),
        imagePullPolicy: "IfNotPresent",
        // Replaces the image's entrypoint, which would start a server.
        command: ["/bin/sh", "-c", script],
        env,
        // The servers' container context, plus a read-only root: the job writes
        // only to the claim and to /tmp (an emptyDir).
        securityContext: { ...vaultSecurityContextValues().container, readOnlyRootFilesystem: true },
        resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
        volumeMounts,
    };
    // With an off-site copy the snapshot is taken first (an init container), then copied: the Job, and so
    // kube-state-metrics' last successful time of the CronJob, succeeds only once every copy is written.
    // The copy container never sees the Vault token or its service-account token mount.
    const containers =
        offsite === undefined
            ? { containers: [snapshotContainer] }
            : {
                  initContainers: [snapshotContainer],
                  containers: [
                      offsiteContainer(offsite, { dir: SNAPSHOT_DIR, handoffFile: OFFSITE_HANDOFF_FILE, scratchDir: OFFSITE_SCRATCH_DIR }, [
                          { name: "snapshots", mountPath: SNAPSHOT_DIR, readOnly: true },
                          { name: "handoff", mountPath: OFFSITE_HANDOFF_DIR, readOnly: true },
                          { name: "offsite-scratch", mountPath: OFFSITE_SCRATCH_DIR },
                      ]),
                  ],
              };
    const cronJob = {
        apiVersion: "batch/v1",
        kind: "CronJob",
        metadata: snapshotCronJobMetadata(args.namespace),
        spec: {
            schedule: args.schedule,
            // Without it, the schedule is read in the kube-controller-manager's time zone.
            timeZone: "Etc/UTC",
            concurrencyPolicy: "Forbid",
            // A run missed by more than 10 minutes (controller down) is skipped, not started late.
            startingDeadlineSeconds: 600,
            successfulJobsHistoryLimit: 3,
            failedJobsHistoryLimit: 3,
            jobTemplate: {
                metadata: { labels },
                spec: {
                    backoffLimit: 2,
                    activeDeadlineSeconds: SNAPSHOT_JOB_DEADLINE_SECONDS,
                    template: {
                        metadata: { labels: podLabels },
                        spec: {
                            serviceAccountName: SNAPSHOT_SERVICE_ACCOUNT,
                            automountServiceAccountToken: false,
                            enableServiceLinks: false,
                            // A failed attempt gets a fresh pod, so its log stays readable.
                            restartPolicy: "Never",
                            // The servers' own: the image's `vault` user, non-root, the default seccomp
                            // profile; fsGroup makes the claim's files writable by the job whatever
                            // its volume's owner.
                            securityContext: vaultSecurityContextValues().pod,
                            ...containers,
                            volumes,
                        },
                    },
                },
            },
        },
    } satisfies k8s.types.input.batch.v1.CronJob;
    return cronJob;
}

/** The copy container's scratch directory (HOME, the cloud CLIs' state, the checksum file). */
export const OFFSITE_SCRATCH_DIR = "/scratch";

/** The snapshot job's service-account annotations: the off-site copy's workload identity, if any. */
export function snapshotServiceAccountAnnotations(offsite: ResolvedOffsite | undefined): Record<string, string> {
    return offsiteIdentity(offsite).annotations;
}

/** What {@link snapshotClaim} needs. */
export interface SnapshotClaimArgs {
    readonly namespace: string;
    readonly claimName: string;
    readonly storageSize: string;
    readonly storageClass?: string;
}

/**
 * The PersistentVolumeClaim for the snapshots (ReadWriteOnce: one Job at a time). Annotated so
 * Pulumi does not wait for it to bind: with a `WaitForFirstConsumer` StorageClass it binds only
 * when the first Job's pod is scheduled.
 */
export function snapshotClaim(args: SnapshotClaimArgs) {
    return {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: {
            name: args.claimName,
            namespace: args.namespace,
            labels: snapshotLabels(),
            annotations: { "pulumi.com/skipAwait": "true" },
        },
        spec: {
            accessModes: ["ReadWriteOnce"],
            resources: { requests: { storage: args.storageSize } },
            ...(args.storageClass !== undefined ? { storageClassName: args.storageClass } : {}),
        },
    } satisfies k8s.types.input.core.v1.PersistentVolumeClaim;
}
