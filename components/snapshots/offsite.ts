/**
 * The off-site copy of each Raft snapshot: the options (`vault.snapshots.offsite`), the copy script
 * the snapshot job runs after `vault operator raft snapshot save`, and the container that runs it.
 * No Pulumi resources here, so tests call them directly (and run the script for real against fake
 * cloud CLIs).
 *
 * The copy authenticates by workload identity only: the snapshot job's service account is bound to
 * a cloud identity (IRSA or EKS Pod Identity, GKE Workload Identity, AKS Workload Identity), so the
 * pod gets short-lived credentials and no key is ever written to config, state or a manifest. A
 * field or value that looks like a static key is refused.
 *
 * The job only ever writes: its identity needs permission to create objects under its prefix, never
 * to list, read or delete them. How long off-site copies are kept is the bucket's lifecycle rule,
 * which the operator (or a cloud stack) sets on the bucket (docs/backup-restore.md): so a cluster
 * that is compromised cannot remove its own off-site backups.
 */
import { z } from "zod";
import { OFFSITE_CLI_IMAGES } from "../common/versions";
import { distinct, option, options, ruleIssue, rules, text } from "../common/options";
import {
    AKS_WORKLOAD_IDENTITY,
    AWS_IRSA,
    GKE_WORKLOAD_IDENTITY,
    type WorkloadIdentityBinding,
    isCredentialName,
    looksLikeCredential,
} from "../common/workloadIdentity";
import { vaultSecurityContextValues } from "../vault-server/resources";

/** The object stores a snapshot can be copied to. */
export const OFFSITE_TARGETS = ["s3", "gcs", "azureBlob"] as const;
export type OffsiteTarget = (typeof OFFSITE_TARGETS)[number];

/** How each object store names a copy, and how the pod proves who it is. */
export const OFFSITE_STORES: Readonly<
    Record<
        OffsiteTarget,
        {
            /** The URI of an object, as the restore takes it. */
            readonly uri: (location: { readonly account?: string; readonly bucket: string }, key: string) => string;
            readonly identity: WorkloadIdentityBinding;
            /** Whether the service account may go without an annotation (the binding is made in the cloud instead). */
            readonly identityOptional: string | undefined;
            /** What `bucket` (and a peer bucket) names. */
            readonly bucket: string;
        }
    >
> = {
    s3: {
        uri: ({ bucket }, key) => `s3://${bucket}/${key}`,
        identity: AWS_IRSA,
        identityOptional: "EKS Pod Identity: an association of the snapshot job's service account with an IAM role, made in AWS",
        bucket: "an S3 bucket name",
    },
    gcs: {
        uri: ({ bucket }, key) => `gs://${bucket}/${key}`,
        identity: GKE_WORKLOAD_IDENTITY,
        identityOptional: "Workload Identity Federation for GKE with the service account as the principal, granted on the bucket directly",
        bucket: "a Cloud Storage bucket name",
    },
    azureBlob: {
        uri: ({ account, bucket }, key) => `https://${account ?? "<account>"}.blob.core.windows.net/${bucket}/${key}`,
        identity: AKS_WORKLOAD_IDENTITY,
        identityOptional: undefined,
        bucket: "a blob container name",
    },
};

/** The key prefix a region's copies go under when none is given: `vault-snapshots/<region>/`. */
export function defaultOffsitePrefix(region: string): string {
    return `vault-snapshots/${region}/`;
}

/** S3 (3-63), Cloud Storage (3-63, or up to 222 with dots) and blob container names: lowercase letters, digits, '.', '-', '_'. */
function isBucketName(value: string): boolean {
    return /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(value) && !value.includes("..");
}

/** Why `bucket` is not a valid name for `target`, or undefined. */
function bucketProblem(target: OffsiteTarget, bucket: string): string | undefined {
    if (target === "s3" && (bucket.length > 63 || bucket.includes("_"))) {
        return "an S3 bucket name is 3 to 63 lowercase letters, digits, '.' and '-'";
    }
    if (target === "azureBlob" && (bucket.length > 63 || /[._]|--/.test(bucket))) {
        return "a blob container name is 3 to 63 lowercase letters, digits and single '-'";
    }
    if (target === "gcs" && bucket.split(".").some((part) => part.length > 63)) {
        return "each dot-separated part of a Cloud Storage bucket name is at most 63 characters";
    }
    return undefined;
}

/** A key prefix: empty, or path segments of `[A-Za-z0-9_.-]` each followed by '/'. */
function isPrefix(value: string): boolean {
    return value === "" || (/^([A-Za-z0-9_.-]+\/)+$/.test(value) && !value.split("/").some((part) => part === "." || part === ".."));
}

/** An Azure storage account name: 3-24 lowercase letters and digits. */
function isStorageAccount(value: string): boolean {
    return /^[a-z0-9]{3,24}$/.test(value);
}

/** A plain identifier without quotes, spaces, '$' or a leading '-' (a KMS key ARN, a key resource name, an encryption scope). */
function isPlainIdentifier(value: string): boolean {
    return /^[A-Za-z0-9][A-Za-z0-9:/_.@=+-]{0,511}$/.test(value);
}

/**
 * Where the fields are: the known ones, each with its target (undefined: every target). Fields of
 * another target are refused, so a copied block from another cloud does not half-apply.
 */
const TARGET_FIELDS: Readonly<Record<string, OffsiteTarget | undefined>> = {
    bucketRegion: "s3",
    kmsKeyId: "s3",
    kmsKeyName: "gcs",
    storageAccount: "azureBlob",
    encryptionScope: "azureBlob",
};

const offsiteFields = options({
    target: option(z.enum(OFFSITE_TARGETS).optional(), {
        description:
            "The object store every snapshot is copied to, right after it is taken, by the snapshot job: s3 (Amazon S3), gcs (Google Cloud Storage) or azureBlob (Azure Blob Storage). Authenticated by workload identity only. Without it the snapshots stay in the cluster, and every run warns.",
        example: "s3",
        defaultText: "none (every run warns that the backups stay in the cluster)",
    }),
    bucket: option(text(isBucketName).optional(), {
        description:
            "The bucket (S3, Cloud Storage) or blob container (Azure) the copies go to. Its lifecycle rule decides how long they are kept.",
        allowed: "a bucket or container name: lowercase letters, digits, '.', '-' and '_' as the store allows",
        example: "acme-vault-snapshots-eu",
        defaultText: "(required with target)",
    }),
    prefix: option(text(isPrefix).optional(), {
        description:
            "Key prefix of this region's copies in the bucket; each copy is `<prefix>vault-<UTC stamp>.snap`, with `<prefix>vault-<UTC stamp>.snap.sha256` beside it.",
        allowed: "empty, or path segments of letters, digits, '_', '.' and '-', each ending in '/'",
        example: "vault-snapshots/region1/",
        defaultText: "vault-snapshots/<region>/",
    }),
    workloadIdentity: option(text((v) => v.trim() !== "").optional(), {
        description: `The cloud identity the snapshot job's service account (vault-snapshot) is bound to, as its annotation: s3 ${AWS_IRSA.what} (leave it out for EKS Pod Identity); gcs ${GKE_WORKLOAD_IDENTITY.what} (leave it out when the service account itself is granted on the bucket); azureBlob ${AKS_WORKLOAD_IDENTITY.what}, required. Never a key.`,
        allowed: "an IAM role ARN, a Google service account e-mail or an Azure client ID, as the target takes it",
        example: "arn:aws:iam::111122223333:role/vault-snapshots-region1",
        defaultText: "none (s3: EKS Pod Identity; gcs: the service account as principal); required for azureBlob",
    }),
    bucketRegion: option(text((v) => /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/.test(v)).optional(), {
        description: "s3 only: the AWS region of the bucket.",
        allowed: "an AWS region such as eu-west-1",
        example: "eu-west-1",
        defaultText: "(required for s3)",
    }),
    kmsKeyId: option(text(isPlainIdentifier).optional(), {
        description:
            "s3 only: encrypt each copy with this KMS key (SSE-KMS; the job's role needs kms:GenerateDataKey and kms:Decrypt on it). Without it the bucket's default encryption applies (S3 encrypts every new object at rest, with SSE-S3 unless the bucket sets a KMS key).",
        allowed: "a KMS key ID, key ARN or alias ARN",
        example: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        defaultText: "the bucket's default encryption",
    }),
    kmsKeyName: option(text(isPlainIdentifier).optional(), {
        description:
            "gcs only: encrypt each copy with this Cloud KMS key (CMEK). Without it the bucket's default key applies (Google-managed encryption unless the bucket sets a key).",
        allowed: "a Cloud KMS key resource name, projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>",
        example: "projects/acme/locations/europe-west1/keyRings/vault/cryptoKeys/snapshots",
        defaultText: "the bucket's default encryption",
    }),
    storageAccount: option(text(isStorageAccount).optional(), {
        description: "azureBlob only: the storage account of the container.",
        allowed: "a storage account name: 3 to 24 lowercase letters and digits",
        example: "acmevaultsnapshots",
        defaultText: "(required for azureBlob)",
    }),
    encryptionScope: option(text(isPlainIdentifier).optional(), {
        description:
            "azureBlob only: the encryption scope each copy is written with (for a customer-managed key). Without it the account's default encryption applies (Azure Storage encrypts all data at rest).",
        allowed: "an encryption scope name",
        example: "vault-snapshots",
        defaultText: "the account's default encryption",
    }),
    peerBuckets: option(distinct(text((v) => /^([a-z0-9]{3,24}\/)?[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(v))).default([]), {
        description:
            "Buckets of the same store in other regions, typically each peer region's own off-site bucket, that also receive every copy, under this region's prefix, with the same workload identity (which those buckets must grant object creation to). Written with the bucket's default encryption. Gives a copy that survives the loss of this region's cloud region.",
        allowed: "a list of distinct bucket names (azureBlob: <storage account>/<container>)",
        example: "[acme-vault-snapshots-us]",
    }),
}).check(
    rules((offsite, ctx) => {
        const target = offsite.target;
        if (target === undefined) {
            for (const [key, value] of Object.entries(offsite)) {
                if (key !== "target" && value !== undefined && !(Array.isArray(value) && value.length === 0)) {
                    ruleIssue(ctx, [key], `has no effect without target: set target (${OFFSITE_TARGETS.join(", ")}), or remove it`);
                }
            }
            return;
        }
        for (const [key, owner] of Object.entries(TARGET_FIELDS)) {
            if (owner !== target && offsite[key as keyof typeof offsite] !== undefined) {
                ruleIssue(ctx, [key], `is a setting of target ${String(owner)}, but target is ${target}: remove it`);
            }
        }
        const store = OFFSITE_STORES[target];
        if (offsite.bucket === undefined) {
            ruleIssue(ctx, ["bucket"], `is not set, but target is ${target}: name ${store.bucket} the copies go to`);
        } else {
            const problem = bucketProblem(target, offsite.bucket);
            if (problem !== undefined) {
                ruleIssue(ctx, ["bucket"], `is ${offsite.bucket}, but ${problem}`);
            }
        }
        if (target === "s3" && offsite.bucketRegion === undefined) {
            ruleIssue(ctx, ["bucketRegion"], "is not set, but target is s3: give the bucket's AWS region, e.g. eu-west-1");
        }
        if (target === "azureBlob" && offsite.storageAccount === undefined) {
            ruleIssue(ctx, ["storageAccount"], "is not set, but target is azureBlob: give the container's storage account");
        }
        if (offsite.workloadIdentity === undefined) {
            if (store.identityOptional === undefined) {
                ruleIssue(ctx, ["workloadIdentity"], `is not set, but target is ${target}: give ${store.identity.what}`);
            }
        } else if (!store.identity.valid(offsite.workloadIdentity)) {
            ruleIssue(
                ctx,
                ["workloadIdentity"],
                `is ${JSON.stringify(offsite.workloadIdentity)}, but target ${target} takes ${store.identity.what}`,
            );
        }
        offsite.peerBuckets.forEach((peer, i) => {
            const [account, bucket] = peer.includes("/") ? peer.split("/") : [undefined, peer];
            const problem =
                target === "azureBlob" && account === undefined
                    ? "an azureBlob peer is <storage account>/<container>"
                    : target !== "azureBlob" && account !== undefined
                      ? `a ${target} peer is a bucket name, without '/'`
                      : bucketProblem(target, bucket);
            if (problem !== undefined) {
                ruleIssue(ctx, ["peerBuckets", i], `is ${peer}, but ${problem}`);
            } else if (peer === (target === "azureBlob" ? `${offsite.storageAccount ?? ""}/${offsite.bucket ?? ""}` : offsite.bucket)) {
                ruleIssue(ctx, ["peerBuckets", i], `is ${peer}, the bucket itself: a peer bucket is another region's`);
            }
        });
    }),
);

/**
 * The off-site copy options. A field that reads like a static credential (an access key, a secret,
 * a token, a connection string, a SAS, a key file), or any value that looks like one, is refused
 * by name before anything else is checked: off-site copies authenticate by workload identity only.
 */
export const offsiteOptions = z.preprocess((value, ctx) => {
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
        for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
            const text = typeof field === "string" ? field : (JSON.stringify(field) ?? "");
            if (isCredentialName(key) || looksLikeCredential(text)) {
                ruleIssue(
                    ctx,
                    [key],
                    `${isCredentialName(key) ? "is" : "holds"} a static credential, but off-site copies authenticate by workload identity only (workloadIdentity): remove it from the stack file and revoke that key, which is now in Git's history`,
                );
            }
        }
    }
    return value;
}, offsiteFields);

export type OffsiteOptions = z.input<typeof offsiteFields>;

/** One place a copy goes. */
export interface OffsiteDestination {
    /** The storage account (azureBlob only). */
    readonly account?: string;
    readonly bucket: string;
    /** Encryption key (s3 KMS key, gcs CMEK) or encryption scope (azureBlob), for the region's own bucket only. */
    readonly encryption?: string;
}

/** The off-site copy, resolved: where each copy goes and as whom. */
export interface ResolvedOffsite {
    readonly target: OffsiteTarget;
    readonly prefix: string;
    /** The region's own bucket first, then the peer buckets. */
    readonly destinations: readonly OffsiteDestination[];
    /** s3: the bucket's region. */
    readonly bucketRegion?: string;
    readonly workloadIdentity?: string;
}

/** The validated options resolved for `region` (whose default prefix they take), or undefined without a target. */
export function resolvedOffsite(offsite: z.output<typeof offsiteFields>, region: string | undefined): ResolvedOffsite | undefined {
    if (offsite.target === undefined || offsite.bucket === undefined) {
        return undefined;
    }
    const prefix = offsite.prefix ?? (region === undefined ? undefined : defaultOffsitePrefix(region));
    if (prefix === undefined) {
        throw new Error("offsite: without prefix, the region is needed for the default prefix vault-snapshots/<region>/");
    }
    const encryption = offsite.kmsKeyId ?? offsite.kmsKeyName ?? offsite.encryptionScope;
    const own: OffsiteDestination = {
        ...(offsite.storageAccount === undefined ? {} : { account: offsite.storageAccount }),
        bucket: offsite.bucket,
        ...(encryption === undefined ? {} : { encryption }),
    };
    const peers = offsite.peerBuckets.map((peer): OffsiteDestination => {
        const [account, bucket] = peer.split("/");
        return bucket === undefined ? { bucket: account } : { account, bucket };
    });
    return {
        target: offsite.target,
        prefix,
        destinations: [own, ...peers],
        ...(offsite.bucketRegion === undefined ? {} : { bucketRegion: offsite.bucketRegion }),
        ...(offsite.workloadIdentity === undefined ? {} : { workloadIdentity: offsite.workloadIdentity }),
    };
}

/** The URI of one copy, as `npm run restore -- --snapshot` takes it. */
export function offsiteUri(target: OffsiteTarget, destination: OffsiteDestination, key: string): string {
    return OFFSITE_STORES[target].uri(destination, key);
}

/** The service-account annotations and pod labels that bind the snapshot job to its cloud identity. */
export function offsiteIdentity(offsite: ResolvedOffsite | undefined): {
    readonly annotations: Record<string, string>;
    readonly podLabels: Record<string, string>;
} {
    if (offsite?.workloadIdentity === undefined) {
        return { annotations: {}, podLabels: {} };
    }
    const identity = OFFSITE_STORES[offsite.target].identity;
    return { annotations: { [identity.annotation]: offsite.workloadIdentity }, podLabels: { ...(identity.podLabels ?? {}) } };
}

/** Where the snapshot container tells the copy container which file this run wrote. */
export const OFFSITE_HANDOFF_DIR = "/run/vault-snapshot";
export const OFFSITE_HANDOFF_FILE = `${OFFSITE_HANDOFF_DIR}/name`;

/** Name of the job's container that copies the snapshot off the cluster. */
export const OFFSITE_CONTAINER = "offsite-copy";

/** What {@link offsiteScript} needs besides the resolved options. */
export interface OffsiteScriptPaths {
    /** Where the snapshots are. */
    readonly dir: string;
    /** The file holding the name of this run's snapshot. */
    readonly handoffFile: string;
    /** A writable scratch directory (the checksum file goes there). */
    readonly scratchDir: string;
}

const SAFE = /^[A-Za-z0-9:/_.@=+-]*$/;

/**
 * The POSIX `sh` script of the copy container. In order: read the name of this run's snapshot (the
 * snapshot container wrote it; a name that is not `vault-<UTC stamp>.snap` stops it); compute its
 * sha256; copy the snapshot and a `.sha256` file to each destination, the region's own bucket first;
 * exit non-zero if any copy failed (so the Job fails, and VaultSnapshotFailed fires), after trying
 * every destination. It never lists, reads or deletes in the bucket, and never traces (which would
 * print the Azure federated token).
 *
 * Every value is checked to be a plain string and single-quoted, so none can change what it does.
 * @throws Error naming a value that is not plain
 */
export function offsiteScript(offsite: ResolvedOffsite, paths: OffsiteScriptPaths): string {
    const values: Record<string, string | undefined> = {
        prefix: offsite.prefix,
        bucketRegion: offsite.bucketRegion,
        dir: paths.dir,
        handoffFile: paths.handoffFile,
        scratchDir: paths.scratchDir,
        ...Object.fromEntries(
            offsite.destinations.flatMap((d, i) => [
                [`bucket${i}`, d.bucket],
                [`account${i}`, d.account],
                [`encryption${i}`, d.encryption],
            ]),
        ),
    };
    const bad = Object.entries(values).filter(
        ([, v]) => v !== undefined && (!SAFE.test(v) || v.startsWith("-") || v.split("/").includes("..")),
    );
    if (bad.length > 0) {
        throw new Error(`offsite copy script: ${bad.map(([k, v]) => `${k} ${JSON.stringify(v)} is not plain`).join("; ")}`);
    }
    const q = (value: string) => `'${value}'`;
    const copyFunction = {
        s3: `copy() { # bucket key file [kms key]
    if [ -n "\${4:-}" ]; then
        aws s3 cp --only-show-errors --no-progress --region ${q(offsite.bucketRegion ?? "")} --sse aws:kms --sse-kms-key-id "$4" "$3" "s3://$1/$2"
    elif [ "$1" = "$own_bucket" ]; then
        aws s3 cp --only-show-errors --no-progress --region ${q(offsite.bucketRegion ?? "")} "$3" "s3://$1/$2"
    else
        aws s3 cp --only-show-errors --no-progress "$3" "s3://$1/$2"
    fi
}`,
        gcs: `copy() { # bucket key file [kms key name]
    if [ -n "\${4:-}" ]; then
        gcloud --quiet storage cp --encryption-key="$4" "$3" "gs://$1/$2"
    else
        gcloud --quiet storage cp "$3" "gs://$1/$2"
    fi
}`,
        azureBlob: `copy() { # account/container key file [encryption scope]
    account=\${1%%/*}
    container=\${1#*/}
    if [ -n "\${4:-}" ]; then
        az storage blob upload --auth-mode login --only-show-errors --no-progress --output none --account-name "$account" --container-name "$container" --name "$2" --file "$3" --encryption-scope "$4"
    else
        az storage blob upload --auth-mode login --only-show-errors --no-progress --output none --account-name "$account" --container-name "$container" --name "$2" --file "$3"
    fi
}`,
    }[offsite.target];
    // Azure: one login with the federated token the AKS webhook injects; the CLI keeps the session in AZURE_CONFIG_DIR.
    const login =
        offsite.target === "azureBlob"
            ? `
log "logging in to Azure with the workload identity's federated token"
if ! az login --service-principal --username "$AZURE_CLIENT_ID" --tenant "$AZURE_TENANT_ID" --federated-token "$(cat "$AZURE_FEDERATED_TOKEN_FILE")" --allow-no-subscriptions --output none --only-show-errors; then
    log "Azure login failed: is the service account's azure.workload.identity/client-id federated with it, and the pod labelled azure.workload.identity/use?"
    exit 1
fi
`
            : "";
    const where = (d: OffsiteDestination) => (offsite.target === "azureBlob" ? `${d.account ?? ""}/${d.bucket}` : d.bucket);
    const copies = offsite.destinations
        .map((d) => `copy_both ${q(where(d))} ${q(d.encryption ?? "")} ${q(offsiteUri(offsite.target, d, `${offsite.prefix}`))}`)
        .join("\n");
    return `#!/bin/sh
# Off-site copy of this run's Raft snapshot (generated by openova-vault).
# Never add 'set -x': it would print the Azure federated token.
set -eu
umask 077
LC_ALL=C
export LC_ALL

dir=${q(paths.dir)}
handoff=${q(paths.handoffFile)}
scratch=${q(paths.scratchDir)}
prefix=${q(offsite.prefix)}
own_bucket=${q(where(offsite.destinations[0]))}

log() {
    printf '%s offsite-copy: %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"
}

name=$(cat -- "$handoff" 2>/dev/null || true)
case "$name" in
vault-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z.snap) ;;
*)
    log "this run wrote no snapshot to copy"
    exit 1
    ;;
esac
file="$dir/$name"
if [ ! -s "$file" ]; then
    log "$name is missing or empty"
    exit 1
fi
sum=$(sha256sum "$file" | cut -d ' ' -f 1)
printf '%s  %s\\n' "$sum" "$name" > "$scratch/$name.sha256"
log "copying $name (sha256 $sum)"
${login}
${copyFunction}

failed=0
copy_both() { # where encryption uri-prefix
    if copy "$1" "$prefix$name" "$file" "$2" && copy "$1" "$prefix$name.sha256" "$scratch/$name.sha256" "$2"; then
        log "copied to $3$name"
    else
        log "copy to $3$name failed"
        failed=1
    fi
}
${copies}

if [ "$failed" -ne 0 ]; then
    log "failed: not every copy was written"
    exit 1
fi
log "done"
`;
}

/** The copy container of the snapshot job: the target's pinned cloud CLI, as the job's non-root user, read-only. */
export function offsiteContainer(
    offsite: ResolvedOffsite,
    paths: OffsiteScriptPaths,
    mounts: readonly { readonly name: string; readonly mountPath: string; readonly readOnly?: boolean }[],
) {
    const image = OFFSITE_CLI_IMAGES[offsite.target];
    return {
        name: OFFSITE_CONTAINER,
        image: `${image.repository}:${image.tag}`,
        imagePullPolicy: "IfNotPresent",
        // Replaces the image's entrypoint (the CLI itself).
        command: ["/bin/sh", "-c", offsiteScript(offsite, paths)],
        env: [
            { name: "HOME", value: paths.scratchDir },
            // Each CLI keeps its state under the scratch directory, on a read-only root filesystem.
            { name: "CLOUDSDK_CONFIG", value: `${paths.scratchDir}/gcloud` },
            { name: "CLOUDSDK_CORE_DISABLE_PROMPTS", value: "1" },
            { name: "AZURE_CONFIG_DIR", value: `${paths.scratchDir}/azure` },
            { name: "AWS_PAGER", value: "" },
        ],
        securityContext: { ...vaultSecurityContextValues().container, readOnlyRootFilesystem: true },
        resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "512Mi" } },
        volumeMounts: mounts.map((m) => ({ ...m })),
    };
}
