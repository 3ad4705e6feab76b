/**
 * Scheduled Raft snapshots: the options (their schema, as the component and the region take them),
 * the policy and role, the CronJob and claim objects, the job's shell script run for real with
 * `/bin/sh` against a fake `vault` CLI, and the component under the synth's mock runtime.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseOptions } from "../components/common/options";
import { VAULT_IMAGE } from "../components/common/versions";
import { regionVaultOptions } from "../components/region/regionOptions";
import { RaftSnapshots, type RaftSnapshotsArgs } from "../components/snapshots/raftSnapshots";
import {
    MAX_RETAIN,
    SNAPSHOT_AUDIENCE,
    SNAPSHOT_CA_FILE,
    SNAPSHOT_POLICY,
    SNAPSHOT_ROLE,
    SNAPSHOT_SERVICE_ACCOUNT,
    type SnapshotCronJobArgs,
    cronScheduleProblem,
    raftSnapshotOptions,
    resolvedSnapshots,
    snapshotClaim,
    snapshotCronJob,
    snapshotPolicyDocument,
    snapshotRole,
    snapshotScript,
} from "../components/snapshots/snapshotSpecs";
import { type RecordedResource, type RunResult, runProgram } from "../tools/synth/mockRun";

/** What the component reports for `options`: each wrong option's path and reason, or [] when it takes them. */
function refusals(options: unknown): { propertyPath: string; reason: string }[] {
    try {
        parseOptions("RaftSnapshots", raftSnapshotOptions, options, ["options"]);
        return [];
    } catch (error) {
        if (!pulumi.InputPropertiesError.isInstance(error)) {
            throw error;
        }
        expect(error.message).toMatch(/^RaftSnapshots: options\./);
        return error.errors;
    }
}

describe("raftSnapshotOptions", () => {
    const defaults = {
        enabled: true,
        schedule: "0 * * * *",
        retain: 48,
        storage: { create: true, claimName: "vault-snapshots", storageSize: "10Gi" },
    };

    it("default to hourly snapshots, 48 kept, on a 10Gi claim the component creates", () => {
        expect(resolvedSnapshots(raftSnapshotOptions.parse({}))).toEqual(defaults);
    });

    it("default the same when a region's Vault leaves snapshots out", () => {
        expect(resolvedSnapshots(regionVaultOptions.parse({}).snapshots)).toEqual(defaults);
    });

    it("take every option, and an existing claim instead of creating one", () => {
        expect(
            resolvedSnapshots(
                raftSnapshotOptions.parse({
                    enabled: false,
                    schedule: "*/15 * * * *",
                    retain: 1,
                    storageSize: "50Gi",
                    storageClass: "fast",
                }),
            ),
        ).toEqual({
            enabled: false,
            schedule: "*/15 * * * *",
            retain: 1,
            storage: { create: true, claimName: "vault-snapshots", storageSize: "50Gi", storageClass: "fast" },
        });
        expect(resolvedSnapshots(raftSnapshotOptions.parse({ claimName: "offsite-backups", retain: MAX_RETAIN })).storage).toEqual({
            create: false,
            claimName: "offsite-backups",
        });
    });

    it.each([
        ["0 * * *", "has 4 fields, not 5"],
        ["0 * * * * *", "has 6 fields, not 5"],
        ["60 * * * *", 'minute field: "60" is outside 0-59'],
        ["0 24 * * *", 'hour field: "24" is outside 0-23'],
        ["0 0 0 * *", 'day of month field: "0" is outside 1-31'],
        ["0 0 1 13 *", 'month field: "13" is outside 1-12'],
        ["0 0 * * 8", 'day of week field: "8" is outside 0-7'],
        ["0 5-2 * * *", '"5-2" is outside 0-23'],
        ["*/0 * * * *", "step 0 is not between 1 and 59"],
        ["5/15 * * * *", "has a step without a range"],
        ["@hourly", "has 1 fields, not 5"],
        ["0 0 * * MON", '"MON" is not *, */n, a number'],
        ["0  * * * *", "five fields separated by single spaces"],
        ["", "has 1 fields, not 5"],
    ])("refuse the schedule %j, and say why (%s)", (schedule, why) => {
        expect(cronScheduleProblem(schedule)).toContain(why);
        expect(refusals({ schedule })).toEqual([
            {
                propertyPath: "options.schedule",
                reason: expect.stringMatching(
                    new RegExp(
                        `^is ${JSON.stringify(schedule).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(.*${why.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}.*\\), but it must be a 5-field cron schedule`,
                    ),
                ) as unknown,
            },
        ]);
    });

    it.each(["0 * * * *", "*/15 * * * *", "0 2 * * 1-5", "0,30 8-18/2 1,15 1-12 0-7", "59 23 31 12 7", "0-59/5 * * * *"])(
        "accept the schedule %j",
        (schedule) => {
            expect(cronScheduleProblem(schedule)).toBeUndefined();
            expect(refusals({ schedule })).toEqual([]);
        },
    );

    it.each([
        [{ retain: 0 }, "options.retain", "is 0"],
        [{ retain: 1001 }, "options.retain", "is 1001"],
        [{ retain: 2.5 }, "options.retain", "is 2.5"],
        [{ storageSize: "10" }, "options.storageSize", 'is "10"'],
        [{ storageSize: "100Mi" }, "options.storageSize", 'is "100Mi"'],
        [{ claimName: "Backups_1" }, "options.claimName", 'is "Backups_1"'],
        [{ storageClass: "fast storage" }, "options.storageClass", 'is "fast storage"'],
        [{ claimName: "backups", storageSize: "10Gi" }, "options.storageSize", "has no effect with claimName"],
        [{ claimName: "backups", storageClass: "fast" }, "options.storageClass", "has no effect with claimName"],
        [{ enabled: "yes" }, "options.enabled", 'is "yes"'],
        [{ retian: 3 }, "options.retian", "is not an option of RaftSnapshots"],
    ])("refuse %j, naming the option", (options, propertyPath, reason) => {
        expect(raftSnapshotOptions.safeParse(options).success).toBe(false);
        expect(refusals(options)).toEqual([{ propertyPath, reason: expect.stringContaining(reason) as unknown }]);
    });

    it("list every problem at once, even with snapshots off", () => {
        expect(refusals({ enabled: false, retain: 0, schedule: "x" }).map((e) => e.propertyPath)).toEqual([
            "options.schedule",
            "options.retain",
        ]);
    });
});

describe("the snapshot policy and role", () => {
    it("grants read on the snapshot endpoint and nothing else", () => {
        expect(JSON.parse(snapshotPolicyDocument())).toEqual({ path: { "sys/storage/raft/snapshot": { capabilities: ["read"] } } });
    });

    it("binds the snapshot service account alone, with its own audience, a short TTL and the snapshot policy only", () => {
        expect(snapshotRole("vault")).toEqual({
            roleName: "raft-snapshot",
            boundServiceAccountNames: ["vault-snapshot"],
            boundServiceAccountNamespaces: ["vault"],
            audience: "vault-snapshot",
            tokenTtl: 600,
            tokenMaxTtl: 900,
            tokenPolicies: ["raft-snapshot"],
        });
        // ESO's audience is `vault`: a token minted for one is useless to the other.
        expect(SNAPSHOT_AUDIENCE).not.toBe("vault");
        expect([SNAPSHOT_POLICY, SNAPSHOT_ROLE, SNAPSHOT_SERVICE_ACCOUNT]).toEqual(["raft-snapshot", "raft-snapshot", "vault-snapshot"]);
    });
});

const jobArgs: SnapshotCronJobArgs = {
    namespace: "vault",
    schedule: "0 * * * *",
    retain: 48,
    claimName: "vault-snapshots",
    imageTag: "2.0.4",
    vaultAddress: "https://vault-active.vault.svc:8200",
    authPath: "kubernetes",
};

describe("snapshotCronJob", () => {
    const job = snapshotCronJob({ ...jobArgs, caSecret: { name: "vault-server-tls", key: "ca.crt" } });
    const pod = job.spec.jobTemplate.spec.template.spec;
    const container = pod.containers[0];

    it("runs one Job at a time on the schedule (UTC), with bounded retries, deadline and history", () => {
        expect(job).toMatchObject({ apiVersion: "batch/v1", kind: "CronJob", metadata: { name: "vault-snapshot", namespace: "vault" } });
        expect(job.spec).toMatchObject({
            schedule: "0 * * * *",
            timeZone: "Etc/UTC",
            concurrencyPolicy: "Forbid",
            successfulJobsHistoryLimit: 3,
            failedJobsHistoryLimit: 3,
            jobTemplate: { spec: { backoffLimit: 2, activeDeadlineSeconds: 900 } },
        });
        expect(job.spec.startingDeadlineSeconds).toBeGreaterThan(0);
    });

    it("runs the Vault CLI as the image's non-root user, read-only, with no capabilities and the default seccomp profile", () => {
        expect(pod.securityContext).toEqual({
            runAsNonRoot: true,
            runAsUser: 100,
            runAsGroup: 1000,
            fsGroup: 1000,
            seccompProfile: { type: "RuntimeDefault" },
        });
        expect(container.securityContext).toEqual({
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ["ALL"] },
        });
        expect(container.image).toBe(`${VAULT_IMAGE.repository}:2.0.4`);
        expect(container.resources).toEqual({ requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } });
        expect(container.command.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
        expect(container.command[2]).toBe(snapshotScript({ authPath: "kubernetes", retain: 48 }));
    });

    it("mounts no default service-account token, only a projected one for the snapshot audience", () => {
        expect(pod.serviceAccountName).toBe("vault-snapshot");
        expect(pod.automountServiceAccountToken).toBe(false);
        expect(pod.volumes).toContainEqual({
            name: "vault-token",
            projected: { sources: [{ serviceAccountToken: { audience: "vault-snapshot", expirationSeconds: 600, path: "token" } }] },
        });
        expect(container.volumeMounts).toContainEqual({
            name: "vault-token",
            mountPath: "/var/run/secrets/vault-snapshot",
            readOnly: true,
        });
    });

    it("writes to the claim at /snapshots, with HOME on an emptyDir", () => {
        expect(pod.volumes).toContainEqual({ name: "snapshots", persistentVolumeClaim: { claimName: "vault-snapshots" } });
        expect(container.volumeMounts).toContainEqual({ name: "snapshots", mountPath: "/snapshots" });
        expect(container.volumeMounts).toContainEqual({ name: "tmp", mountPath: "/tmp" });
        expect(container.env).toContainEqual({ name: "HOME", value: "/tmp" });
        expect(pod.volumes.find((v) => v.name === "tmp")).toMatchObject({ emptyDir: {} });
    });

    it("verifies Vault with the CA from the given Secret, mounting that key alone", () => {
        expect(container.env).toContainEqual({ name: "VAULT_ADDR", value: "https://vault-active.vault.svc:8200" });
        expect(container.env).toContainEqual({ name: "VAULT_CACERT", value: SNAPSHOT_CA_FILE });
        expect(pod.volumes).toContainEqual({
            name: "vault-ca",
            secret: { secretName: "vault-server-tls", items: [{ key: "ca.crt", path: "ca.crt" }] },
        });
        expect(container.volumeMounts).toContainEqual({ name: "vault-ca", mountPath: path.dirname(SNAPSHOT_CA_FILE), readOnly: true });
    });

    it("sets no VAULT_CACERT and mounts no CA without a caSecret (plain http, say)", () => {
        const plain = snapshotCronJob({ ...jobArgs, vaultAddress: "http://vault-active.vault.svc:8200" });
        const plainPod = plain.spec.jobTemplate.spec.template.spec;
        expect(plainPod.containers[0].env.map((e) => e.name)).toEqual(["VAULT_ADDR", "HOME"]);
        expect(plainPod.volumes.map((v) => v.name)).not.toContain("vault-ca");
    });

    it("labels the CronJob, its Jobs and pods", () => {
        const labels = {
            "app.kubernetes.io/name": "vault-snapshot",
            "app.kubernetes.io/part-of": "openova-vault",
            "app.kubernetes.io/component": "raft-snapshot",
        };
        expect(job.metadata.labels).toMatchObject(labels);
        expect(job.spec.jobTemplate.metadata.labels).toMatchObject(labels);
        expect(job.spec.jobTemplate.spec.template.metadata.labels).toMatchObject(labels);
    });

    it("refuses an auth path that would change what its script does", () => {
        expect(() => snapshotCronJob({ ...jobArgs, authPath: "kubernetes'; rm -rf /; '" })).toThrow("authPath");
    });
});

describe("snapshotClaim", () => {
    it("asks for a ReadWriteOnce volume of the given size and class, without waiting for it to bind", () => {
        expect(
            snapshotClaim({ namespace: "vault", claimName: "vault-snapshots", storageSize: "20Gi", storageClass: "fast" }),
        ).toMatchObject({
            apiVersion: "v1",
            kind: "PersistentVolumeClaim",
            metadata: { name: "vault-snapshots", namespace: "vault", annotations: { "pulumi.com/skipAwait": "true" } },
            spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "20Gi" } }, storageClassName: "fast" },
        });
        expect(snapshotClaim({ namespace: "vault", claimName: "c", storageSize: "10Gi" }).spec).not.toHaveProperty("storageClassName");
    });
});

describe("snapshotScript", () => {
    it("stops at the first error and never traces (which would print the token)", () => {
        const script = snapshotScript({ authPath: "kubernetes", retain: 3 });
        const code = script.split("\n").filter((line) => !line.trim().startsWith("#"));
        expect(code).toContain("set -eu");
        expect(code.filter((line) => /set\s+-[a-z]*x|set\s+-o\s+xtrace/.test(line))).toEqual([]);
        expect(code.filter((line) => /(echo|printf).*VAULT_TOKEN/.test(line))).toEqual([]);
    });

    it.each([
        [{ authPath: "kube rnetes" }, "authPath"],
        [{ authPath: "$(id)" }, "authPath"],
        [{ authPath: "/kubernetes" }, "must not start or end with '/'"],
        [{ authPath: "a/../b" }, "authPath"],
        [{ authPath: "-kubernetes" }, "authPath"],
        [{ authPath: "k", role: "raft'snapshot" }, "role"],
        [{ authPath: "k", dir: "snapshots" }, 'dir "snapshots" is not a plain absolute path'],
        [{ authPath: "k", tokenFile: "/var/run/$TOKEN" }, "tokenFile"],
        [{ authPath: "k", retain: 0 }, "retain 0"],
    ] as [{ authPath: string; role?: string; dir?: string; tokenFile?: string; retain?: number }, string][])(
        "refuses %j",
        (args, message) => {
            expect(() => snapshotScript({ retain: 3, ...args })).toThrow(message);
        },
    );
});

/**
 * The script, run by /bin/sh against a fake `vault` first on PATH. The fake records each call (with
 * whether it carried no token, the job's token or some other one) and acts like the CLI: prints a
 * token for the login, writes the file for `snapshot save`, and fails where told to.
 */
describe("the snapshot script, run for real", () => {
    const TOKEN = "hvs.FAKE-job-token-7f3a9c";
    const JWT = "eyJ.fake-service-account-jwt";
    let root: string;

    const FAKE_VAULT = `#!/bin/sh
if [ -z "\${VAULT_TOKEN:-}" ]; then auth=none
elif [ "$VAULT_TOKEN" = "$FAKE_TOKEN" ]; then auth=job-token
else auth=other-token
fi
printf '%s %s\\n' "$auth" "$*" >> "$FAKE_VAULT_LOG"
case "$1" in
write)
    if [ -n "\${FAKE_LOGIN_FAIL:-}" ]; then echo "Error writing data to auth: permission denied" >&2; exit 2; fi
    jwt_file=
    for arg in "$@"; do case "$arg" in jwt=@*) jwt_file=\${arg#jwt=@} ;; esac; done
    if [ "$(cat "$jwt_file")" != "$FAKE_JWT" ]; then echo "wrong jwt" >&2; exit 2; fi
    printf '%s\\n' "$FAKE_TOKEN"
    ;;
operator)
    printf 'half a snapshot' > "$5"
    if [ -n "\${FAKE_SAVE_FAIL:-}" ]; then echo "Error taking the snapshot: incomplete snapshot" >&2; exit 3; fi
    if [ -n "\${FAKE_SAVE_EMPTY:-}" ]; then : > "$5"; exit 0; fi
    # Holds the save open until the test creates the file FAKE_SAVE_HOLD names (10 s at most).
    if [ -n "\${FAKE_SAVE_HOLD:-}" ]; then
        waited=0
        while [ ! -e "$FAKE_SAVE_HOLD" ] && [ "$waited" -lt 200 ]; do sleep 0.05; waited=$((waited + 1)); done
    fi
    printf 'a complete snapshot' > "$5"
    ;;
token)
    if [ -n "\${FAKE_REVOKE_FAIL:-}" ]; then echo "Error revoking token: connection refused" >&2; exit 2; fi
    echo "Success! Revoked token (if it existed)"
    ;;
*) echo "unexpected: $*" >&2; exit 99 ;;
esac
`;

    beforeAll(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "raft-snapshot-test-"));
        fs.mkdirSync(path.join(root, "bin"));
        fs.writeFileSync(path.join(root, "bin", "vault"), FAKE_VAULT, { mode: 0o755 });
        fs.writeFileSync(path.join(root, "jwt"), JWT);
    });

    afterAll(() => {
        fs.rmSync(root, { recursive: true, force: true });
    });

    interface Run {
        status: number | null;
        stdout: string;
        stderr: string;
        calls: string[];
        dir: string;
        files: string[];
    }

    let runs = 0;

    /** A fresh snapshot dir holding `existing`, the script for `retain` writing to it, and the environment to run it with. */
    function prepare(retain: number, existing: string[], env: Record<string, string>) {
        runs++;
        const dir = path.join(root, `snapshots-${runs}`);
        fs.mkdirSync(dir);
        for (const name of existing) {
            fs.writeFileSync(path.join(dir, name), `old ${name}`);
        }
        const scriptFile = path.join(root, `script-${runs}.sh`);
        fs.writeFileSync(scriptFile, snapshotScript({ authPath: "kubernetes", tokenFile: path.join(root, "jwt"), dir, retain }));
        const log = path.join(root, `calls-${runs}.log`);
        fs.writeFileSync(log, "");
        const processEnv = {
            PATH: `${path.join(root, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
            FAKE_VAULT_LOG: log,
            FAKE_TOKEN: TOKEN,
            FAKE_JWT: JWT,
            // Must not ride along on the login: the script unsets it.
            VAULT_TOKEN: "hvs.someone-elses-token",
            ...env,
        };
        const finish = (status: number | null, stdout: string, stderr: string): Run => ({
            status,
            stdout,
            stderr,
            calls: fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean),
            dir,
            files: fs.readdirSync(dir).sort(),
        });
        return { dir, scriptFile, processEnv, finish };
    }

    /** Runs the script for `retain`, in a fresh snapshot dir holding `existing`, with the fake's switches in `env`. */
    function run(retain: number, existing: string[], env: Record<string, string> = {}): Run {
        const { scriptFile, processEnv, finish } = prepare(retain, existing, env);
        const result = spawnSync("/bin/sh", [scriptFile], { encoding: "utf8", timeout: 30_000, env: processEnv });
        return finish(result.status, result.stdout, result.stderr);
    }

    const old = (day: number) => `vault-202001${String(day).padStart(2, "0")}T000000Z.snap`;
    const snapshots = (r: Run) => r.files.filter((f) => /^vault-.*\.snap$/.test(f));
    const neverLeaksSecrets = (r: Run) => {
        expect(r.stdout + r.stderr).not.toContain(TOKEN);
        expect(r.stdout + r.stderr).not.toContain(JWT);
    };

    it("logs in with the role and the token file, saves under the final name, prunes to retain and revokes its token", () => {
        const existing = [old(1), old(2), old(3), old(4), old(5)];
        const r = run(3, [...existing, "notes.txt", ".partial-20200101T000000Z.snap"]);
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });

        expect(r.calls[0]).toBe(`none write -field=token auth/kubernetes/login role=raft-snapshot jwt=@${path.join(root, "jwt")}`);
        expect(r.calls[1]).toMatch(new RegExp(`^job-token operator raft snapshot save ${r.dir}/\\.partial-\\d{8}T\\d{6}Z\\.snap$`));
        expect(r.calls.slice(2)).toEqual(["job-token token revoke -self"]);

        const fresh = snapshots(r).filter((f) => !existing.includes(f));
        expect(fresh).toHaveLength(1);
        expect(fresh[0]).toMatch(/^vault-\d{8}T\d{6}Z\.snap$/);
        const stamp = fresh[0].slice(6, 21);
        const taken = Date.parse(
            `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`,
        );
        expect(Math.abs(Date.now() - taken)).toBeLessThan(5 * 60_000);
        expect(fs.readFileSync(path.join(r.dir, fresh[0]), "utf8")).toBe("a complete snapshot");
        // Snapshots hold every secret (sealed): readable by the job's user alone.
        expect(fs.statSync(path.join(r.dir, fresh[0])).mode & 0o077).toBe(0);

        // The newest three remain: the new one and the two newest old ones; other files are left alone.
        expect(snapshots(r)).toEqual([old(4), old(5), fresh[0]]);
        expect(r.files).toContain("notes.txt");
        expect(r.files.filter((f) => f.startsWith(".partial-"))).toEqual([]);
        expect(r.stdout).toContain("pruned vault-20200101T000000Z.snap");
        neverLeaksSecrets(r);
    });

    it("names the snapshot it saved in the handoff file, for the off-site copy, and nothing on a failed save", () => {
        for (const fail of [false, true]) {
            const { dir, scriptFile, processEnv, finish } = prepare(3, [old(1)], fail ? { FAKE_SAVE_FAIL: "1" } : {});
            const handoff = path.join(dir, "..", `handoff-${path.basename(dir)}`);
            fs.writeFileSync(
                scriptFile,
                snapshotScript({ authPath: "kubernetes", tokenFile: path.join(root, "jwt"), dir, retain: 3, handoffFile: handoff }),
            );
            const result = spawnSync("/bin/sh", [scriptFile], { encoding: "utf8", timeout: 30_000, env: processEnv });
            const r = finish(result.status, result.stdout, result.stderr);
            if (fail) {
                expect(r.status).not.toBe(0);
                expect(fs.existsSync(handoff)).toBe(false);
            } else {
                const fresh = snapshots(r).filter((f) => f !== old(1));
                expect(fs.readFileSync(handoff, "utf8")).toBe(`${fresh[0]}\n`);
            }
        }
    });

    it("keeps everything when there are no more than retain snapshots", () => {
        const r = run(48, [old(1), old(2)]);
        expect(r.status).toBe(0);
        expect(snapshots(r)).toHaveLength(3);
    });

    it("on a failed save: exits with the save's status, leaves no new or partial file, prunes nothing, still revokes", () => {
        const existing = [old(1), old(2), old(3)];
        const r = run(2, existing, { FAKE_SAVE_FAIL: "1" });
        expect(r.status).toBe(3);
        expect(r.files).toEqual(existing);
        expect(r.calls[r.calls.length - 1]).toBe("job-token token revoke -self");
        expect(r.stdout).toContain("failed (exit 3)");
        neverLeaksSecrets(r);
    });

    it("fails on an empty snapshot, removing it", () => {
        const r = run(2, [old(1)], { FAKE_SAVE_EMPTY: "1" });
        expect(r.status).not.toBe(0);
        expect(r.files).toEqual([old(1)]);
        expect(r.calls[r.calls.length - 1]).toBe("job-token token revoke -self");
    });

    it("still succeeds when revoking fails (the token expires on its own)", () => {
        const r = run(2, [], { FAKE_REVOKE_FAIL: "1" });
        expect(r.status).toBe(0);
        expect(snapshots(r)).toHaveLength(1);
        expect(r.stdout).toContain("could not revoke");
        neverLeaksSecrets(r);
    });

    it("when stopped mid-save (SIGTERM, as at the Job's deadline): removes the partial file and still revokes", async () => {
        const release = path.join(root, "release-stopped-save");
        const { dir, scriptFile, processEnv, finish } = prepare(2, [old(1)], { FAKE_SAVE_HOLD: release });
        const child = spawn("/bin/sh", [scriptFile], { env: processEnv });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
        // Wait until the save has written part of its file, then stop the job.
        const deadline = Date.now() + 10_000;
        while (!fs.readdirSync(dir).some((f) => f.startsWith(".partial-")) && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 20));
        }
        expect(fs.readdirSync(dir).some((f) => f.startsWith(".partial-"))).toBe(true);
        child.kill("SIGTERM");
        // The shell runs its trap once the save it is waiting for returns.
        fs.writeFileSync(release, "");
        const r = finish(await exited, stdout, stderr);
        expect(r.status).toBe(143);
        expect(r.files).toEqual([old(1)]);
        expect(r.calls[r.calls.length - 1]).toBe("job-token token revoke -self");
        neverLeaksSecrets(r);
    });

    it("stops when the login fails, before saving anything", () => {
        const r = run(2, [old(1)], { FAKE_LOGIN_FAIL: "1" });
        expect(r.status).not.toBe(0);
        expect(r.calls).toHaveLength(1);
        expect(r.calls[0]).toMatch(/^none write /);
        expect(r.files).toEqual([old(1)]);
        expect(r.stdout).toContain("login failed");
    });
});

/** Where the program {@link declare} runs is handed over: a one-line module calls what is stored here. */
const PROGRAM = "openova-vault.tests.raftSnapshots.program";

/**
 * Runs `program` once under the synth's mock runtime (tools/synth/mockRun.ts) and returns what it
 * declared. runProgram loads a program from a module file, so a one-line module in a temporary
 * directory calls `program`.
 */
async function declare(stack: string, program: () => void): Promise<RunResult> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "raft-snapshots-program-"));
    const entry = path.join(dir, "program.js");
    fs.writeFileSync(entry, `module.exports = () => globalThis[Symbol.for(${JSON.stringify(PROGRAM)})]();\n`);
    const slot = globalThis as unknown as Record<symbol, unknown>;
    slot[Symbol.for(PROGRAM)] = program;
    try {
        return await runProgram({
            project: "openova-vault",
            stack,
            config: {},
            secretKeys: [],
            program: entry,
            resolveStack: () => undefined,
        });
    } finally {
        delete slot[Symbol.for(PROGRAM)];
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("RaftSnapshots (Pulumi mock runtime)", () => {
    let run: RunResult;
    let created: RaftSnapshots;
    let existing: RaftSnapshots;
    let disabled: RaftSnapshots;
    let early: RaftSnapshots;

    beforeAll(async () => {
        run = await declare("snapshots", () => {
            const cluster = new k8s.Provider("c", { context: "c" });
            const admin = new vault.Provider("admin", { address: "https://vault.north.example.net" });
            // Stands for what must exist first (the Vault setup, say).
            const gate = new k8s.core.v1.ConfigMap("gate", { metadata: { name: "gate", namespace: "vault" } }, { provider: cluster });
            const common = { provider: admin, namespace: "vault", imageTag: "2.0.4", vaultAddress: "https://vault-active.vault.svc:8200" };
            created = new RaftSnapshots(
                "snap",
                {
                    ...common,
                    authPath: pulumi.output("kubernetes"),
                    caSecret: { name: "vault-server-tls", key: "ca.crt" },
                    options: { retain: 24, storageClass: "fast" },
                },
                { providers: { kubernetes: cluster }, dependsOn: [gate] },
            );
            existing = new RaftSnapshots(
                "kept",
                { ...common, authPath: "kubernetes", options: { claimName: "offsite", schedule: "30 2 * * *" } },
                { providers: { kubernetes: cluster } },
            );
            disabled = new RaftSnapshots(
                "off",
                { ...common, authPath: "kubernetes", options: { enabled: false } },
                { providers: { kubernetes: cluster } },
            );
            // Before the Vault is configured: no provider, no auth path; and no options (the defaults).
            const { provider: _admin, ...unconfigured } = common;
            early = new RaftSnapshots("early", unconfigured, { providers: { kubernetes: cluster } });
        });
        // The program ran to its end: every test below reads what it declared.
        expect(run.error).toBeUndefined();
    });

    const get = (type: string, name: string): RecordedResource => {
        const found = run.resources.filter((r) => r.type === type && r.name === name);
        expect(found).toHaveLength(1);
        return found[0];
    };
    const under = (name: string) => run.resources.filter((r) => r.parent === get("openova:vault:RaftSnapshots", name).urn);
    type PodSpec = { volumes: { name: string; persistentVolumeClaim?: { claimName: string } }[] };
    const podOf = (cronJob: RecordedResource) =>
        (cronJob.inputs.spec as { jobTemplate: { spec: { template: { spec: PodSpec } } } }).jobTemplate.spec.template.spec;

    it("registers the policy, role, service account, claim and CronJob under the component", () => {
        expect(
            under("snap")
                .map((r) => `${r.type} ${r.name}`)
                .sort(),
        ).toEqual([
            "kubernetes:batch/v1:CronJob snap-cronjob",
            "kubernetes:core/v1:PersistentVolumeClaim snap-claim",
            "kubernetes:core/v1:ServiceAccount snap-service-account",
            "vault:index/policy:Policy snap-policy",
            "vault:kubernetes/authBackendRole:AuthBackendRole snap-role",
        ]);
        expect(created.claimName).toBe("vault-snapshots");
        expect(created.schedule).toBe("0 * * * *");
    });

    it("writes the policy and role with the admin provider, the Kubernetes objects with the inherited cluster provider", () => {
        const adminRef = `${get("pulumi:providers:vault", "admin").urn}::admin-id`;
        const clusterRef = `${get("pulumi:providers:kubernetes", "c").urn}::c-id`;
        for (const resource of under("snap")) {
            expect({ name: resource.name, provider: resource.provider }).toEqual({
                name: resource.name,
                provider: resource.type.startsWith("vault:") ? adminRef : clusterRef,
            });
        }
    });

    it("binds the role to the snapshot service account alone, with the snapshot policy alone", () => {
        const role = get("vault:kubernetes/authBackendRole:AuthBackendRole", "snap-role");
        // Exactly the pure builder's settings (pinned above), under the given auth mount.
        expect(role.inputs).toEqual({ backend: "kubernetes", ...snapshotRole("vault") });
        expect(role.dependsOn).toContain(get("vault:index/policy:Policy", "snap-policy").urn);
        expect(get("vault:index/policy:Policy", "snap-policy").inputs).toEqual({ name: "raft-snapshot", policy: snapshotPolicyDocument() });
        expect(get("kubernetes:core/v1:ServiceAccount", "snap-service-account").inputs).toMatchObject({
            metadata: { name: "vault-snapshot", namespace: "vault" },
            automountServiceAccountToken: false,
        });
    });

    it("keeps the claim when the component is deleted", () => {
        const claim = get("kubernetes:core/v1:PersistentVolumeClaim", "snap-claim");
        expect(claim.options).toEqual({ retainOnDelete: true });
        expect(claim.inputs).toMatchObject({
            metadata: { name: "vault-snapshots", namespace: "vault" },
            spec: { storageClassName: "fast", resources: { requests: { storage: "10Gi" } } },
        });
    });

    it("points the CronJob at the claim, with the configured retention, after the role, service account and claim exist", () => {
        const cronJob = get("kubernetes:batch/v1:CronJob", "snap-cronjob");
        expect(cronJob.inputs).toMatchObject({ metadata: { name: "vault-snapshot", namespace: "vault" } });
        expect(podOf(cronJob).volumes).toContainEqual({ name: "snapshots", persistentVolumeClaim: { claimName: "vault-snapshots" } });
        expect(JSON.stringify(cronJob.inputs.spec)).toContain("retain=24");
        expect(cronJob.dependsOn).toEqual(
            expect.arrayContaining([
                get("vault:kubernetes/authBackendRole:AuthBackendRole", "snap-role").urn,
                get("kubernetes:core/v1:ServiceAccount", "snap-service-account").urn,
                get("kubernetes:core/v1:PersistentVolumeClaim", "snap-claim").urn,
            ]),
        );
    });

    it("holds every child back for the component's dependsOn", () => {
        const gate = get("kubernetes:core/v1:ConfigMap", "gate").urn;
        for (const resource of under("snap").filter((r) => !r.type.includes("CronJob"))) {
            expect({ name: resource.name, waits: resource.dependsOn.includes(gate) }).toEqual({ name: resource.name, waits: true });
        }
    });

    it("with claimName, creates no claim and writes to the existing one", () => {
        expect(under("kept").map((r) => r.type)).not.toContain("kubernetes:core/v1:PersistentVolumeClaim");
        expect(
            run.resources
                .filter((r) => r.type === "kubernetes:core/v1:PersistentVolumeClaim")
                .map((r) => r.name)
                .sort(),
        ).toEqual(["early-claim", "snap-claim"]);
        const cronJob = get("kubernetes:batch/v1:CronJob", "kept-cronjob");
        expect(podOf(cronJob).volumes).toContainEqual({ name: "snapshots", persistentVolumeClaim: { claimName: "offsite" } });
        expect(cronJob.inputs.spec).toMatchObject({ schedule: "30 2 * * *" });
        expect(existing.claimName).toBe("offsite");
    });

    it("declares only the claim before the Vault is configured, so the backups' volume does not come and go with the gate", () => {
        expect(under("early").map((r) => `${r.type} ${r.name}`)).toEqual(["kubernetes:core/v1:PersistentVolumeClaim early-claim"]);
        expect(get("kubernetes:core/v1:PersistentVolumeClaim", "early-claim").options).toEqual({ retainOnDelete: true });
        // Without options, the defaults: hourly, onto the 10Gi claim it creates.
        expect(get("kubernetes:core/v1:PersistentVolumeClaim", "early-claim").inputs).toMatchObject({
            spec: { resources: { requests: { storage: "10Gi" } } },
        });
        expect([early.enabled, early.schedule, early.claimName]).toEqual([true, "0 * * * *", "vault-snapshots"]);
    });

    it("registers nothing but itself when disabled", () => {
        expect(under("off")).toEqual([]);
        expect(disabled.enabled).toBe(false);
        expect(disabled.claimName).toBeUndefined();
    });

    /** Declares one RaftSnapshots with `override` on valid args; returns the run's error and what it registered besides providers. */
    async function attempt(override: Partial<RaftSnapshotsArgs>): Promise<{ error: unknown; registered: string[] }> {
        const result = await declare("bad-snapshots", () => {
            const admin = new vault.Provider("a", { address: "https://vault.example.net" });
            new RaftSnapshots("bad", {
                provider: admin,
                namespace: "vault",
                authPath: "kubernetes",
                imageTag: "2.0.4",
                vaultAddress: "https://vault-active.vault.svc:8200",
                ...override,
            });
        });
        return {
            error: result.error,
            registered: result.resources.filter((r) => !r.type.startsWith("pulumi:providers:")).map((r) => `${r.type} ${r.name}`),
        };
    }

    it.each([
        [{ options: { retain: 0 } }, "options.retain"],
        [{ options: { claimName: "x", storageSize: "10Gi" } }, "options.storageSize"],
    ])("refuses %j with an InputPropertiesError naming the option, before registering anything", async (override, propertyPath) => {
        const { error, registered } = await attempt(override);
        expect(pulumi.InputPropertiesError.isInstance(error) ? error.errors.map((e) => e.propertyPath) : error).toEqual([propertyPath]);
        expect(registered).toEqual([]);
    });

    it("refuses a provider without the auth path, before registering anything", async () => {
        const result = await declare("half-snapshots", () => {
            new RaftSnapshots("half", {
                namespace: "vault",
                imageTag: "2.0.4",
                vaultAddress: "https://vault-active.vault.svc:8200",
                authPath: "kubernetes",
            });
        });
        expect(
            pulumi.InputPropertyError.isInstance(result.error) ? [result.error.propertyPath, result.error.reason] : result.error,
        ).toEqual(["authPath", expect.stringContaining("provider and authPath go together") as unknown]);
        expect(result.resources).toEqual([]);
    });

    it("refuses an auth path that would change its job's script, before registering anything", async () => {
        const { error, registered } = await attempt({ authPath: "kube netes" });
        expect(error).toEqual(expect.objectContaining({ message: expect.stringContaining('authPath "kube netes"') as unknown }));
        expect(registered).toEqual([]);
    });
});
