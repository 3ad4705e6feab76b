/**
 * Off-site copies of the Raft snapshots: the options (every store, the workload identity, the refusal
 * of anything that looks like a static key), the copy script run for real with `/bin/sh` against fake
 * `aws`, `gcloud` and `az` CLIs, the snapshot job with its copy container, the recovery-point bound of
 * a schedule, and the RaftSnapshots component under the synth's mock runtime (no credential anywhere).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseOptions } from "../components/common/options";
import { OFFSITE_CLI_IMAGES } from "../components/common/versions";
import { AKS_WORKLOAD_IDENTITY, AWS_IRSA, GKE_WORKLOAD_IDENTITY } from "../components/common/workloadIdentity";
import { RaftSnapshots } from "../components/snapshots/raftSnapshots";
import { OFFSITE_CONTAINER, type ResolvedOffsite, defaultOffsitePrefix, offsiteScript, offsiteUri } from "../components/snapshots/offsite";
import {
    SNAPSHOT_SERVICE_ACCOUNT,
    cronMaxGapSeconds,
    raftSnapshotOptions,
    resolvedSnapshots,
    snapshotCronJob,
    snapshotScript,
} from "../components/snapshots/snapshotSpecs";
import { type RecordedResource, runProgram } from "../tools/synth/mockRun";

const S3 = { target: "s3", bucket: "acme-vault-snapshots-eu", bucketRegion: "eu-west-1" } as const;
const ROLE = "arn:aws:iam::111122223333:role/vault-snapshots-region1";
const GSA = "vault-snapshots@acme-prod.iam.gserviceaccount.com";
const CLIENT_ID = "11111111-2222-3333-4444-555555555555";
const AZURE = {
    target: "azureBlob",
    bucket: "vault-snapshots",
    storageAccount: "acmevaultsnapshots",
    workloadIdentity: CLIENT_ID,
} as const;

/** What the component reports for the off-site options: each wrong option's path and reason, or []. */
function refusals(offsite: unknown): { propertyPath: string; reason: string }[] {
    try {
        parseOptions("RaftSnapshots", raftSnapshotOptions, { offsite }, ["options"]);
        return [];
    } catch (error) {
        if (!pulumi.InputPropertiesError.isInstance(error)) {
            throw error;
        }
        return error.errors;
    }
}

const resolved = (offsite: unknown, region = "region1") => resolvedSnapshots(raftSnapshotOptions.parse({ offsite }), region).offsite;

describe("off-site options", () => {
    it("copy nothing off the cluster by default (the stack then warns on every run)", () => {
        expect(resolved({})).toBeUndefined();
        expect(resolvedSnapshots(raftSnapshotOptions.parse({})).offsite).toBeUndefined();
    });

    it("resolve an S3 target under the region's default prefix, with IRSA and a KMS key", () => {
        expect(resolved({ ...S3, workloadIdentity: ROLE, kmsKeyId: "alias/vault-snapshots" })).toEqual({
            target: "s3",
            prefix: "vault-snapshots/region1/",
            destinations: [{ bucket: "acme-vault-snapshots-eu", encryption: "alias/vault-snapshots" }],
            bucketRegion: "eu-west-1",
            workloadIdentity: ROLE,
        });
        expect(defaultOffsitePrefix("north")).toBe("vault-snapshots/north/");
        expect(resolved(S3, "north")?.prefix).toBe("vault-snapshots/north/");
    });

    it("take peer buckets, which receive the same copies with their own default encryption", () => {
        expect(resolved({ ...S3, prefix: "backups/", peerBuckets: ["acme-vault-snapshots-us"] })?.destinations).toEqual([
            { bucket: "acme-vault-snapshots-eu" },
            { bucket: "acme-vault-snapshots-us" },
        ]);
        expect(resolved({ ...AZURE, peerBuckets: ["acmevaultus/vault-snapshots"], encryptionScope: "cmk" })?.destinations).toEqual([
            { account: "acmevaultsnapshots", bucket: "vault-snapshots", encryption: "cmk" },
            { account: "acmevaultus", bucket: "vault-snapshots" },
        ]);
    });

    it("accept each store with and without an annotation where the cloud allows it", () => {
        for (const offsite of [
            S3,
            { ...S3, workloadIdentity: ROLE },
            { target: "gcs", bucket: "acme.vault.snapshots" },
            {
                target: "gcs",
                bucket: "acme-vault-snapshots",
                workloadIdentity: GSA,
                kmsKeyName: "projects/a/locations/l/keyRings/r/cryptoKeys/k",
            },
            AZURE,
        ]) {
            expect(refusals(offsite)).toEqual([]);
        }
    });

    it.each([
        [{ bucket: "b-b-b" }, "options.offsite.bucket", "has no effect without target"],
        [{ target: "s3", bucketRegion: "eu-west-1" }, "options.offsite.bucket", "is not set, but target is s3"],
        [{ target: "s3", bucket: "acme" }, "options.offsite.bucketRegion", "is not set, but target is s3"],
        [{ ...S3, bucket: "under_score" }, "options.offsite.bucket", "an S3 bucket name is 3 to 63"],
        [{ ...S3, workloadIdentity: GSA }, "options.offsite.workloadIdentity", `target s3 takes ${AWS_IRSA.what}`],
        [{ target: "gcs", bucket: "acme", workloadIdentity: ROLE }, "options.offsite.workloadIdentity", GKE_WORKLOAD_IDENTITY.what],
        [
            { ...AZURE, workloadIdentity: undefined },
            "options.offsite.workloadIdentity",
            `is not set, but target is azureBlob: give ${AKS_WORKLOAD_IDENTITY.what}`,
        ],
        [{ ...AZURE, storageAccount: undefined }, "options.offsite.storageAccount", "is not set, but target is azureBlob"],
        [{ ...S3, kmsKeyName: "projects/a" }, "options.offsite.kmsKeyName", "is a setting of target gcs, but target is s3"],
        [{ ...S3, peerBuckets: ["acme-vault-snapshots-eu"] }, "options.offsite.peerBuckets[0]", "the bucket itself"],
        [
            { ...AZURE, peerBuckets: ["vault-snapshots"] },
            "options.offsite.peerBuckets[0]",
            "an azureBlob peer is <storage account>/<container>",
        ],
        [{ ...S3, prefix: "/root" }, "options.offsite.prefix", "each ending in '/'"],
        [{ ...S3, prefix: "a/../b/" }, "options.offsite.prefix", "each ending in '/'"],
        [{ ...S3, kmsKeyId: "-x" }, "options.offsite.kmsKeyId", "a KMS key ID"],
    ])("refuse %j at %s (%s)", (offsite, propertyPath, why) => {
        expect(refusals(offsite)).toEqual([{ propertyPath, reason: expect.stringContaining(why) as unknown }]);
    });

    it.each([
        [{ ...S3, accessKeyId: "AKIAIOSFODNN7EXAMPLE" }, "options.offsite.accessKeyId"],
        [{ ...S3, secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" }, "options.offsite.secretAccessKey"],
        [{ ...AZURE, connectionString: "x" }, "options.offsite.connectionString"],
        [{ ...AZURE, sasToken: "sv=2024&sig=abc" }, "options.offsite.sasToken"],
        [{ target: "gcs", bucket: "b-b", credentials: "{}" }, "options.offsite.credentials"],
        // A key hidden in a field that exists: the value gives it away.
        [{ ...S3, workloadIdentity: "AKIAIOSFODNN7EXAMPLE" }, "options.offsite.workloadIdentity"],
        [{ ...AZURE, bucket: "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc" }, "options.offsite.bucket"],
    ])("refuse a static credential, by its name or its look: %j", (offsite, propertyPath) => {
        const found = refusals(offsite);
        expect(found).toEqual([{ propertyPath, reason: expect.stringContaining("static credential") as unknown }]);
        expect(found[0].reason).toContain("workload identity only");
    });

    it("need the region (or a prefix) for the default prefix", () => {
        expect(() => resolvedSnapshots(raftSnapshotOptions.parse({ offsite: S3 }))).toThrow(/region is needed/);
        expect(resolvedSnapshots(raftSnapshotOptions.parse({ offsite: { ...S3, prefix: "" } }))?.offsite?.prefix).toBe("");
    });

    it("name each copy by a URI the restore takes", () => {
        expect(offsiteUri("s3", { bucket: "b" }, "p/vault-1.snap")).toBe("s3://b/p/vault-1.snap");
        expect(offsiteUri("gcs", { bucket: "b" }, "p/x")).toBe("gs://b/p/x");
        expect(offsiteUri("azureBlob", { account: "acct", bucket: "c" }, "p/x")).toBe("https://acct.blob.core.windows.net/c/p/x");
    });
});

describe("the recovery point of a schedule", () => {
    it.each([
        ["0 * * * *", 3600],
        ["*/15 * * * *", 900],
        ["0 2 * * 1-5", 3 * 86_400],
        ["0 3 * * 0", 7 * 86_400],
        ["0 0 31 * *", 61 * 86_400],
        ["0 0 29 2 *", 1461 * 86_400],
        // Both day fields restricted: a day matching either runs (as Kubernetes' cron reads it).
        ["0 0 1 * 1", 7 * 86_400],
    ])("%j runs at least every %d s", (schedule, seconds) => {
        expect(cronMaxGapSeconds(schedule)).toBe(seconds);
    });
});

describe("the snapshot job with an off-site copy", () => {
    const base = {
        namespace: "vault",
        schedule: "0 * * * *",
        retain: 48,
        claimName: "vault-snapshots",
        imageTag: "2.0.4",
        vaultAddress: "https://vault-active.vault.svc:8200",
        authPath: "kubernetes",
    };
    const spec = (offsite?: ResolvedOffsite) =>
        snapshotCronJob({ ...base, ...(offsite ? { offsite } : {}) }).spec.jobTemplate.spec.template;

    it("takes the snapshot first (an init container), then copies it with the store's pinned CLI", () => {
        const pod = spec(resolved({ ...S3, workloadIdentity: ROLE }));
        expect(pod.spec.initContainers?.map((c) => c.name)).toEqual(["snapshot"]);
        expect(pod.spec.containers.map((c) => c.name)).toEqual([OFFSITE_CONTAINER]);
        expect(pod.spec.containers[0].image).toBe(`${OFFSITE_CLI_IMAGES.s3.repository}:${OFFSITE_CLI_IMAGES.s3.tag}`);
        // The snapshot container hands this run's file name over, and the copy reads it.
        expect(pod.spec.initContainers?.[0].command[2]).toContain('printf \'%s\\n\' "vault-$stamp.snap" > "$handoff"');
    });

    it("runs the copy as the non-root user, read-only, with the snapshots mounted read-only and no Vault token", () => {
        const pod = spec(resolved({ ...S3, workloadIdentity: ROLE }));
        const copy = pod.spec.containers[0];
        expect(copy.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
        expect(copy.volumeMounts).toEqual(
            expect.arrayContaining([{ name: "snapshots", mountPath: "/snapshots", readOnly: true }]) as unknown,
        );
        expect(copy.volumeMounts.map((m) => m.name)).not.toContain("vault-token");
        expect(JSON.stringify(copy.env)).not.toMatch(/VAULT_TOKEN|AWS_ACCESS_KEY|AWS_SECRET|AZURE_CLIENT_SECRET/);
    });

    it("labels the pods for AKS Workload Identity, and only for it", () => {
        expect(spec(resolved(AZURE)).metadata.labels).toMatchObject(AKS_WORKLOAD_IDENTITY.podLabels ?? {});
        expect(spec(resolved(S3)).metadata.labels).not.toHaveProperty("azure.workload.identity/use");
    });

    it("without an off-site target, stays one container as before", () => {
        const pod = spec();
        expect(pod.spec.containers.map((c) => c.name)).toEqual(["snapshot"]);
        expect(pod.spec).not.toHaveProperty("initContainers");
        // No file to hand over to: the handoff stays empty, and the script writes none.
        expect(pod.spec.containers[0].command[2]).toContain("\nhandoff=\n");
    });
});

describe("the off-site copy script, run for real", () => {
    let root: string;
    const FEDERATED = "eyJ.fake-federated-token";

    // One fake for all three CLIs: it logs its name and arguments, and fails when told to for a bucket.
    const FAKE_CLI = `#!/bin/sh
printf '%s %s\\n' "$(basename "$0")" "$*" >> "$FAKE_CLI_LOG"
case " $* " in *" $FAKE_FAIL_ON"*) [ -n "\${FAKE_FAIL_ON:-}" ] && { echo "upload failed: AccessDenied" >&2; exit 1; } ;; esac
if [ -n "\${FAKE_LOGIN_FAIL:-}" ] && [ "$1" = "login" ]; then echo "login failed" >&2; exit 1; fi
exit 0
`;

    beforeAll(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "offsite-copy-test-"));
        fs.mkdirSync(path.join(root, "bin"));
        for (const cli of ["aws", "gcloud", "az"]) {
            fs.writeFileSync(path.join(root, "bin", cli), FAKE_CLI, { mode: 0o755 });
        }
        fs.writeFileSync(path.join(root, "federated-token"), FEDERATED);
    });

    afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

    let runs = 0;
    const NAME = "vault-20261130T120000Z.snap";

    function run(offsite: ResolvedOffsite, options: { handoff?: string; file?: string; env?: Record<string, string> } = {}) {
        runs++;
        const dir = path.join(root, `run-${runs}`);
        for (const sub of ["snapshots", "handoff", "scratch"]) {
            fs.mkdirSync(path.join(dir, sub), { recursive: true });
        }
        fs.writeFileSync(path.join(dir, "handoff", "name"), `${options.handoff ?? NAME}\n`);
        if (options.file !== "") {
            fs.writeFileSync(path.join(dir, "snapshots", options.file ?? NAME), "a complete snapshot");
        }
        const script = offsiteScript(offsite, {
            dir: path.join(dir, "snapshots"),
            handoffFile: path.join(dir, "handoff", "name"),
            scratchDir: path.join(dir, "scratch"),
        });
        const log = path.join(dir, "cli.log");
        fs.writeFileSync(log, "");
        const result = spawnSync("/bin/sh", ["-c", script], {
            encoding: "utf8",
            timeout: 30_000,
            env: {
                PATH: `${path.join(root, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
                FAKE_CLI_LOG: log,
                AZURE_CLIENT_ID: CLIENT_ID,
                AZURE_TENANT_ID: "tenant-1",
                AZURE_FEDERATED_TOKEN_FILE: path.join(root, "federated-token"),
                ...options.env,
            },
        });
        return {
            status: result.status,
            output: result.stdout + result.stderr,
            calls: fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean),
            checksum: fs.existsSync(path.join(dir, "scratch", `${NAME}.sha256`))
                ? fs.readFileSync(path.join(dir, "scratch", `${NAME}.sha256`), "utf8")
                : undefined,
            dir,
        };
    }

    const s3 = (more: object = {}) => resolved({ ...S3, workloadIdentity: ROLE, ...more }) as ResolvedOffsite;

    it("s3: copies the snapshot and its sha256 to the bucket under the prefix, with the bucket's region and the KMS key", () => {
        const r = run(s3({ kmsKeyId: "alias/vault" }));
        expect(r.status).toBe(0);
        const file = path.join(r.dir, "snapshots", NAME);
        expect(r.calls).toEqual([
            `aws s3 cp --only-show-errors --no-progress --region eu-west-1 --sse aws:kms --sse-kms-key-id alias/vault ${file} s3://acme-vault-snapshots-eu/vault-snapshots/region1/${NAME}`,
            `aws s3 cp --only-show-errors --no-progress --region eu-west-1 --sse aws:kms --sse-kms-key-id alias/vault ${path.join(r.dir, "scratch", `${NAME}.sha256`)} s3://acme-vault-snapshots-eu/vault-snapshots/region1/${NAME}.sha256`,
        ]);
        // The sha256 of the snapshot's bytes, as sha256sum writes it.
        expect(r.checksum).toBe(`${createHash("sha256").update("a complete snapshot").digest("hex")}  ${NAME}\n`);
        expect(r.checksum).toMatch(new RegExp(`^[0-9a-f]{64}  ${NAME.replace(/\./g, "\\.")}\\n$`));
        expect(r.output).toContain(`copied to s3://acme-vault-snapshots-eu/vault-snapshots/region1/${NAME}`);
    });

    it("s3: writes peer buckets without the region's KMS key (their own default encryption applies)", () => {
        const r = run(s3({ kmsKeyId: "alias/vault", peerBuckets: ["acme-vault-snapshots-us"] }));
        expect(r.status).toBe(0);
        expect(r.calls.filter((c) => c.includes("acme-vault-snapshots-us"))).toEqual([
            expect.stringMatching(
                /^aws s3 cp --only-show-errors --no-progress \/\S+ s3:\/\/acme-vault-snapshots-us\/vault-snapshots\/region1\/vault-.*\.snap$/,
            ),
            expect.stringMatching(/\.sha256 s3:\/\/acme-vault-snapshots-us\/vault-snapshots\/region1\/vault-.*\.snap\.sha256$/),
        ]);
    });

    it("tries every destination and fails the Job when one copy fails", () => {
        const r = run(s3({ peerBuckets: ["acme-vault-snapshots-us"] }), { env: { FAKE_FAIL_ON: "s3://acme-vault-snapshots-eu" } });
        expect(r.status).toBe(1);
        expect(r.output).toContain(`copy to s3://acme-vault-snapshots-eu/vault-snapshots/region1/${NAME} failed`);
        expect(r.output).toContain(`copied to s3://acme-vault-snapshots-us/vault-snapshots/region1/${NAME}`);
        expect(r.output).toContain("not every copy was written");
    });

    it("gcs: copies with gcloud storage, with the CMEK key when given", () => {
        const r = run(
            resolved({
                target: "gcs",
                bucket: "acme-vault",
                workloadIdentity: GSA,
                kmsKeyName: "projects/a/locations/l/keyRings/r/cryptoKeys/k",
            }) as ResolvedOffsite,
        );
        expect(r.status).toBe(0);
        expect(r.calls[0]).toBe(
            `gcloud --quiet storage cp --encryption-key=projects/a/locations/l/keyRings/r/cryptoKeys/k ${path.join(r.dir, "snapshots", NAME)} gs://acme-vault/vault-snapshots/region1/${NAME}`,
        );
        expect(r.calls).toHaveLength(2);
    });

    it("azureBlob: logs in once with the federated token, then uploads with the login (never a key)", () => {
        const r = run(resolved({ ...AZURE, encryptionScope: "cmk" }) as ResolvedOffsite);
        expect(r.status).toBe(0);
        expect(r.calls[0]).toBe(
            `az login --service-principal --username ${CLIENT_ID} --tenant tenant-1 --federated-token ${FEDERATED} --allow-no-subscriptions --output none --only-show-errors`,
        );
        expect(r.calls[1]).toBe(
            `az storage blob upload --auth-mode login --only-show-errors --no-progress --output none --account-name acmevaultsnapshots --container-name vault-snapshots --name vault-snapshots/region1/${NAME} --file ${path.join(r.dir, "snapshots", NAME)} --encryption-scope cmk`,
        );
        expect(r.output).not.toContain(FEDERATED);
    });

    it("azureBlob: stops when the login fails, before any upload", () => {
        const r = run(resolved(AZURE) as ResolvedOffsite, { env: { FAKE_LOGIN_FAIL: "1" } });
        expect(r.status).toBe(1);
        expect(r.calls).toHaveLength(1);
        expect(r.output).toContain("Azure login failed");
    });

    it.each([
        ["a name that is not a snapshot's", { handoff: "../../etc/passwd" }, "this run wrote no snapshot to copy"],
        ["no name at all", { handoff: "" }, "this run wrote no snapshot to copy"],
        ["a missing file", { file: "" }, "is missing or empty"],
    ])("copies nothing on %s", (_what, options, why) => {
        const r = run(s3(), options);
        expect(r.status).toBe(1);
        expect(r.calls).toEqual([]);
        expect(r.output).toContain(why);
    });

    it("never traces, and refuses a value that could change what it does", () => {
        const script = offsiteScript(s3(), { dir: "/snapshots", handoffFile: "/h/name", scratchDir: "/scratch" });
        expect(script).not.toMatch(/^\s*set\s+-[a-z]*x/m);
        expect(() => offsiteScript({ ...s3(), prefix: "a'; rm -rf /; '" }, { dir: "/s", handoffFile: "/h", scratchDir: "/t" })).toThrow(
            /prefix .* is not plain/,
        );
    });

    it("hands over exactly the file the snapshot script wrote", () => {
        expect(snapshotScript({ authPath: "kubernetes", retain: 1, handoffFile: "/run/vault-snapshot/name" })).toContain(
            "handoff='/run/vault-snapshot/name'",
        );
        expect(() => snapshotScript({ authPath: "kubernetes", retain: 1, handoffFile: "relative" })).toThrow(/handoffFile/);
    });
});

describe("RaftSnapshots with an off-site copy (Pulumi mock runtime)", () => {
    const PROGRAM = "openova-vault.tests.offsite.program";

    /** What RaftSnapshots declares with these options, configured, under the synth's mock runtime. */
    async function declared(options: object): Promise<RecordedResource[]> {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "offsite-program-"));
        const entry = path.join(dir, "program.js");
        fs.writeFileSync(entry, `module.exports = () => globalThis[Symbol.for(${JSON.stringify(PROGRAM)})]();\n`);
        const slot = globalThis as unknown as Record<symbol, unknown>;
        slot[Symbol.for(PROGRAM)] = () => {
            const cluster = new k8s.Provider("region1", { context: "region1" });
            const admin = new vault.Provider("admin", { address: "https://vault.region1.example.com" });
            new RaftSnapshots(
                "snapshots",
                {
                    provider: admin,
                    authPath: "kubernetes",
                    namespace: "vault",
                    region: "region1",
                    imageTag: "2.0.4",
                    vaultAddress: "https://vault-active.vault.svc:8200",
                    caSecret: { name: "vault-server-tls", key: "ca.crt" },
                    options,
                },
                { providers: { kubernetes: cluster } },
            );
        };
        try {
            const result = await runProgram({
                project: "openova-vault",
                stack: "region1",
                config: {},
                secretKeys: [],
                program: entry,
                resolveStack: () => undefined,
            });
            expect(result.error).toBeUndefined();
            return result.resources;
        } finally {
            delete slot[Symbol.for(PROGRAM)];
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }

    it("annotates the job's service account with the cloud identity and nothing secret", async () => {
        const resources = await declared({ offsite: { ...S3, workloadIdentity: ROLE } });
        const account = resources.find((r) => r.type === "kubernetes:core/v1:ServiceAccount");
        expect((account?.inputs as { metadata: { name: string; annotations: Record<string, string> } }).metadata).toMatchObject({
            name: SNAPSHOT_SERVICE_ACCOUNT,
            annotations: { [AWS_IRSA.annotation]: ROLE },
        });
        const everything = JSON.stringify(resources.map((r) => r.inputs));
        expect(everything).not.toMatch(/AKIA|aws_secret_access_key|AccountKey=|client_secret|"type":"service_account"/i);
        const cronJob = resources.find((r) => r.type === "kubernetes:batch/v1:CronJob");
        expect(JSON.stringify(cronJob?.inputs)).toContain(`s3://acme-vault-snapshots-eu/vault-snapshots/region1/`);
    });

    it("without an off-site target, annotates nothing", async () => {
        const resources = await declared({});
        const account = resources.find((r) => r.type === "kubernetes:core/v1:ServiceAccount");
        expect((account?.inputs as { metadata: { annotations?: Record<string, string> } }).metadata.annotations ?? {}).toEqual({});
    });
});
