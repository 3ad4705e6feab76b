/**
 * The long-lived tokens and their renewer: the lifetime every token shares, the renewer's pure
 * builders (policy, role, accessor list, CronJob), its script run for real by /bin/sh against a fake
 * `vault` CLI, the TokenRenewer component under the synth's mock runtime, and a simulated year: a
 * fake Vault token store (tests/support/fakeVaultTokens.ts) and a fake clock drive the real script
 * on its schedule, with the renewer down for a day, down for good, and tokens reaching their
 * maximum lifetime and being rotated, checking that no peer credential ever expires and that the
 * alerts' conditions hold when they should.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { RENEWAL_FAILING_FOR, tokenRenewalAlerts } from "../components/monitoring/monitoringSpecs";
import { cronScheduleProblem } from "../components/snapshots/snapshotSpecs";
import {
    LIFETIME_CHECK_NAME,
    LIFETIME_CHECK_SCHEDULE,
    LIFETIME_CHECK_STALE_SECONDS,
    RENEWAL_INTERVAL_HOURS,
    RENEWAL_SCHEDULE,
    RENEWER_NAME,
    type RenewalMode,
    RENEWER_JOB_DEADLINE_SECONDS,
    RENEWER_STALE_SECONDS,
    renewalAccessorList,
    renewalScript,
    renewerCronJob,
    renewerPolicyDocument,
    renewerRole,
} from "../components/token-renewal/renewalSpecs";
import { TokenRenewer } from "../components/token-renewal/tokenRenewer";
import {
    LONG_LIVED_TOKEN,
    TOKEN_MAX_LIFETIME_SECONDS,
    TOKEN_PERIOD_SECONDS,
    TOKEN_RENEWAL_WARNING_SECONDS,
} from "../components/token-renewal/tokenLifetime";
import { durationSeconds } from "../policy/rules";
import { type RunResult, runProgram } from "../tools/synth/mockRun";
import { FAKE_VAULT_FUNCTION, FakeTokenStore, answerTable, fakeVaultExecutable } from "./support/fakeVaultTokens";

const HOUR = 3600;
const DAY = 24 * HOUR;

/** A scratch directory on a memory file system where there is one (truncating files on disk is slow on some CI machines). */
function scratch(prefix: string): string {
    const base = fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir();
    return fs.mkdtempSync(path.join(base, prefix));
}

describe("the lifetime of long-lived tokens", () => {
    it("is periodic (30 days) with a one-year maximum, the warning at most the period", () => {
        expect(LONG_LIVED_TOKEN).toEqual({ noParent: true, period: "720h", explicitMaxTtl: "8760h", renewable: true });
        expect(durationSeconds(LONG_LIVED_TOKEN.period)).toBe(TOKEN_PERIOD_SECONDS);
        expect(durationSeconds(LONG_LIVED_TOKEN.explicitMaxTtl)).toBe(TOKEN_MAX_LIFETIME_SECONDS);
        // What the renewer's warning relies on: a renewal grants less than the warning only near the cap.
        expect(TOKEN_RENEWAL_WARNING_SECONDS).toBeLessThanOrEqual(TOKEN_PERIOD_SECONDS);
        // And Vault's default token mount max TTL (32 days) does not cap the period.
        expect(TOKEN_PERIOD_SECONDS).toBeLessThanOrEqual(32 * DAY);
    });

    it("is what Vault grants, in the fake store: a period per renewal until the last one, then only what is left", () => {
        const store = new FakeTokenStore();
        const accessor = store.create(0, { period: TOKEN_PERIOD_SECONDS, explicitMax: TOKEN_MAX_LIFETIME_SECONDS });
        expect(store.remaining(accessor, 0)).toBe(TOKEN_PERIOD_SECONDS);
        for (let day = 20; day <= 320; day += 20) {
            expect(store.renew(accessor, day * DAY)).toEqual({ ttl: TOKEN_PERIOD_SECONDS });
        }
        expect(store.renew(accessor, 340 * DAY)).toEqual({ ttl: 25 * DAY });
        expect(store.renew(accessor, 350 * DAY)).toEqual({ ttl: 15 * DAY });
        expect(store.isValid(accessor, 365 * DAY - 1)).toBe(true);
        expect(store.isValid(accessor, 365 * DAY)).toBe(false);
        expect(store.renew(accessor, 365 * DAY)).toEqual({ error: "invalid accessor" });
        // Not renewed within its period, a token expires.
        const lapsing = store.create(0, { period: TOKEN_PERIOD_SECONDS, explicitMax: TOKEN_MAX_LIFETIME_SECONDS });
        expect(store.isValid(lapsing, 30 * DAY)).toBe(false);
        // A mount max TTL below the period caps it.
        const capped = new FakeTokenStore(7 * DAY);
        expect(capped.remaining(capped.create(0, { period: TOKEN_PERIOD_SECONDS, explicitMax: TOKEN_MAX_LIFETIME_SECONDS }), 0)).toBe(
            7 * DAY,
        );
    });
});

describe("the renewer's pure builders", () => {
    it("give it update on auth/token/renew-accessor and nothing else, through its own role and audience", () => {
        expect(JSON.parse(renewerPolicyDocument())).toEqual({ path: { "auth/token/renew-accessor": { capabilities: ["update"] } } });
        expect(renewerRole("vault")).toEqual({
            roleName: "token-renewer",
            boundServiceAccountNames: ["vault-token-renewer"],
            boundServiceAccountNamespaces: ["vault"],
            audience: "vault-token-renewer",
            tokenTtl: 600,
            tokenMaxTtl: 900,
            tokenPolicies: ["token-renewer"],
        });
    });

    it("list the accessors one per line, sorted, and refuse a name or accessor that could break a line", () => {
        expect(
            renewalAccessorList([
                { name: "prometheus-metrics", accessor: "BbB2" },
                { name: "peer-region2", accessor: "aaa1.ns" },
            ]),
        ).toBe("peer-region2 aaa1.ns\nprometheus-metrics BbB2\n");
        expect(() => renewalAccessorList([{ name: "peer region2", accessor: "a" }])).toThrow('name "peer region2"');
        expect(() => renewalAccessorList([{ name: "p", accessor: "a b" }])).toThrow('the accessor of "p"');
        expect(() =>
            renewalAccessorList([
                { name: "p", accessor: "a" },
                { name: "p", accessor: "b" },
            ]),
        ).toThrow("name p is listed twice");
    });

    it("schedule it every few hours, a schedule the project's cron check accepts", () => {
        expect(RENEWAL_SCHEDULE).toBe(`30 */${RENEWAL_INTERVAL_HOURS} * * *`);
        expect(cronScheduleProblem(RENEWAL_SCHEDULE)).toBeUndefined();
        // A day without it leaves most of the period.
        expect(RENEWAL_INTERVAL_HOURS * HOUR + DAY).toBeLessThan(TOKEN_PERIOD_SECONDS / 10);
    });

    it("run it as a CronJob that mounts no API token, only the accessor list, its own projected token and the CA", () => {
        const cronJob = renewerCronJob({
            namespace: "vault",
            authPath: "kubernetes",
            imageTag: "2.0.4",
            vaultAddress: "https://vault-active.vault.svc:8200",
            caSecret: { name: "vault-server-tls", key: "ca.crt" },
        });
        expect(cronJob.metadata).toMatchObject({ name: "vault-token-renewer", namespace: "vault" });
        expect(cronJob.spec).toMatchObject({ schedule: RENEWAL_SCHEDULE, timeZone: "Etc/UTC", concurrencyPolicy: "Forbid" });
        expect(cronJob.spec.jobTemplate.spec.activeDeadlineSeconds).toBe(RENEWER_JOB_DEADLINE_SECONDS);
        const pod = cronJob.spec.jobTemplate.spec.template.spec;
        expect(pod).toMatchObject({
            serviceAccountName: "vault-token-renewer",
            automountServiceAccountToken: false,
            restartPolicy: "Never",
        });
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
        const container = pod.containers[0];
        expect(container.image).toBe("hashicorp/vault:2.0.4");
        expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
        expect(container.command).toEqual(["/bin/sh", "-c", renewalScript({ authPath: "kubernetes" })]);
        expect(container.env).toEqual([
            { name: "VAULT_ADDR", value: "https://vault-active.vault.svc:8200" },
            { name: "VAULT_CACERT", value: "/etc/vault-token-renewer/ca/ca.crt" },
            { name: "HOME", value: "/tmp" },
        ]);
        expect(pod.volumes).toEqual([
            {
                name: "vault-token",
                projected: {
                    sources: [{ serviceAccountToken: { audience: "vault-token-renewer", expirationSeconds: 600, path: "token" } }],
                },
            },
            { name: "accessors", configMap: { name: "vault-token-renewer", items: [{ key: "accessors", path: "accessors" }] } },
            { name: "home", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
            // The CA only, never the server's key.
            { name: "vault-ca", secret: { secretName: "vault-server-tls", items: [{ key: "ca.crt", path: "ca.crt" }] } },
        ]);
        // TLS off: no CA at all.
        const plain = renewerCronJob({
            namespace: "vault",
            authPath: "kubernetes",
            imageTag: "2.0.4",
            vaultAddress: "http://vault-active.vault.svc:8200",
        });
        expect(JSON.stringify(plain)).not.toContain("VAULT_CACERT");
    });

    it.each([
        [{ authPath: "kube rnetes" }, "authPath"],
        [{ authPath: "/kubernetes" }, "must not start or end with '/'"],
        [{ authPath: "k", role: "it's" }, "role"],
        [{ authPath: "k", accessorsFile: "accessors" }, "accessorsFile"],
        [{ authPath: "k", tokenFile: "/var/run/$TOKEN" }, "tokenFile"],
        [{ authPath: "k", warningSeconds: 31 * DAY }, "warningSeconds"],
        [{ authPath: "k", warningSeconds: 1.5 * DAY }, "warningSeconds"],
        [{ authPath: "k", mode: "both" as RenewalMode }, 'mode "both"'],
    ] as [Parameters<typeof renewalScript>[0], string][])("refuse a script for %j", (args, message) => {
        expect(() => renewalScript(args)).toThrow(message);
    });
});

/** The fake's files and environment, in a fresh scratch directory. */
function fakeEnvironment(prefix: string) {
    const root = scratch(prefix);
    fs.mkdirSync(path.join(root, "bin"));
    fs.mkdirSync(path.join(root, "home"));
    fs.writeFileSync(path.join(root, "bin", "vault"), fakeVaultExecutable(), { mode: 0o755 });
    fs.writeFileSync(path.join(root, "jwt"), JWT);
    const files = {
        root,
        accessors: path.join(root, "accessors"),
        table: path.join(root, "table"),
        log: path.join(root, "calls.log"),
        script: path.join(root, "renew.sh"),
        lifetimeScript: path.join(root, "lifetime.sh"),
        home: path.join(root, "home"),
    };
    for (const [file, mode] of [
        [files.script, "renew"],
        [files.lifetimeScript, "lifetime"],
    ] as const) {
        fs.writeFileSync(
            file,
            renewalScript({ authPath: "kubernetes", tokenFile: path.join(root, "jwt"), accessorsFile: files.accessors, mode }),
        );
    }
    const env = {
        PATH: `${path.join(root, "bin")}:/usr/bin:/bin`,
        HOME: files.home,
        FAKE_TABLE: files.table,
        FAKE_LOG: files.log,
        FAKE_TOKEN: JOB_TOKEN,
        FAKE_JWT: JWT,
        VAULT_ADDR: "https://vault-active.vault.svc:8200",
    };
    return { files, env };
}

const JOB_TOKEN = "hvs.FAKE-renewer-job-token-4d2e";
const JWT = "eyJ.fake-renewer-service-account-jwt";

/**
 * The script, run by /bin/sh against the fake `vault` first on PATH: what it calls, what it logs, how
 * it exits. The fake's table says what Vault answers per accessor.
 */
describe("the renewal script, run for real", () => {
    const { files, env } = fakeEnvironment("token-renewal-");
    const PEER = "hvsaccessorPeer0000000001";
    const METRICS = "hvsaccessorMetrics0000002";

    afterAll(() => fs.rmSync(files.root, { recursive: true, force: true }));

    function run(accessors: string, table: string, extra: Record<string, string> = {}, mode: RenewalMode = "renew") {
        fs.writeFileSync(files.accessors, accessors);
        fs.writeFileSync(files.table, table);
        fs.writeFileSync(files.log, "");
        const result = spawnSync("/bin/sh", [mode === "lifetime" ? files.lifetimeScript : files.script], {
            encoding: "utf8",
            timeout: 30_000,
            // A VAULT_TOKEN in the environment must not ride along: the script unsets it.
            env: { ...env, VAULT_TOKEN: "hvs.someone-elses-token", ...extra },
        });
        const calls = fs.readFileSync(files.log, "utf8").trim().split("\n").filter(Boolean);
        const output = result.stdout + result.stderr;
        // Never a token, its own or one it renews; never an accessor.
        for (const secret of [JOB_TOKEN, JWT, PEER, METRICS]) {
            expect(output).not.toContain(secret);
        }
        // The job's token is cleared at the end, whatever happened.
        const store = path.join(files.home, ".vault-token");
        expect(fs.existsSync(store) ? fs.readFileSync(store, "utf8") : "").toBe("");
        return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls };
    }

    const list = `peer-region2 ${PEER}\nprometheus-metrics ${METRICS}\n`;
    const healthy = `${PEER} ok ${TOKEN_PERIOD_SECONDS}\n${METRICS} ok ${TOKEN_PERIOD_SECONDS}\n`;

    it("logs in as its role, renews every token by accessor with its own token, logs one line each and revokes its token", () => {
        const r = run(list, healthy);
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
        expect(r.calls).toEqual([
            `none write -field=token auth/kubernetes/login role=token-renewer jwt=@${path.join(files.root, "jwt")}`,
            `job-token write -field=token_duration auth/token/renew-accessor accessor=${PEER}`,
            `job-token write -field=token_duration auth/token/renew-accessor accessor=${METRICS}`,
            "job-token token revoke -self",
        ]);
        expect(r.stdout.split("\n").filter((line) => line.includes(": renewed"))).toEqual([
            "token-renewer: peer-region2: renewed, valid for 30d 0h",
            "token-renewer: prometheus-metrics: renewed, valid for 30d 0h",
        ]);
        expect(r.stdout).toContain("token-renewer: 2 renewed, 0 near their maximum lifetime, 0 failed");
    });

    it("fails the run when a renewal fails, logging what Vault said, and still renews the others", () => {
        const table = `${PEER} err past the max TTL, cannot renew\n${METRICS} ok ${TOKEN_PERIOD_SECONDS}\n`;
        const r = run(list, table);
        expect(r.status).toBe(1);
        expect(r.stdout).toContain("token-renewer: peer-region2: renewal failed; Vault said:");
        expect(r.stdout).toContain("token-renewer:   * past the max TTL, cannot renew");
        expect(r.stdout).toContain("token-renewer: prometheus-metrics: renewed, valid for 30d 0h");
        expect(r.stdout).toContain("1 renewed, 0 near their maximum lifetime, 1 failed");
        expect(r.calls[r.calls.length - 1]).toBe("job-token token revoke -self");
        // A token Vault no longer knows (expired, revoked) fails the same way.
        expect(run(list, `${METRICS} ok ${TOKEN_PERIOD_SECONDS}\n`).stdout).toContain("* invalid accessor");
        // The lifetime check leaves a failed renewal to the renewer: it reports only tokens near their maximum lifetime.
        expect(run(list, table, {}, "lifetime").status).toBe(0);
    });

    it("30 days before a token's maximum lifetime: the renewer still succeeds, the lifetime check fails saying to rotate it", () => {
        const nearCap = `${PEER} ok ${TOKEN_RENEWAL_WARNING_SECONDS - 1}\n${METRICS} ok ${TOKEN_PERIOD_SECONDS}\n`;
        const justAbove = `${PEER} ok ${TOKEN_RENEWAL_WARNING_SECONDS}\n${METRICS} ok ${TOKEN_PERIOD_SECONDS}\n`;
        expect([run(list, justAbove).status, run(list, justAbove, {}, "lifetime").status]).toEqual([0, 0]);
        const rotate =
            "token-renewer: peer-region2: renewed, but valid for 29d 23h only: it reaches its maximum lifetime within 30 days. Rotate it now";
        const renewer = run(list, nearCap);
        expect(renewer.status).toBe(0);
        expect(renewer.stdout).toContain(rotate);
        expect(renewer.stdout).toContain("1 renewed, 1 near their maximum lifetime, 0 failed");
        const check = run(list, nearCap, {}, "lifetime");
        expect(check.status).toBe(1);
        expect(check.stdout).toContain(rotate);
        expect(check.stdout).toContain("token-renewer: lifetime check: 1 token(s) within 30 days of their maximum lifetime: rotate them");
        // Both renewed the tokens the same way.
        expect(check.calls).toEqual(renewer.calls);
    });

    it("does not let a token near its maximum lifetime hide another token's failed renewal", () => {
        const both = `${PEER} ok ${TOKEN_RENEWAL_WARNING_SECONDS - 1}\n${METRICS} err permission denied\n`;
        const renewer = run(list, both);
        expect(renewer.status).toBe(1);
        expect(renewer.stdout).toContain("prometheus-metrics: renewal failed; Vault said:");
        expect(run(list, both, {}, "lifetime").status).toBe(1);
    });

    it("renews nothing and fails when the login fails or the list cannot be read", () => {
        const r = run(list, healthy, { FAKE_LOGIN_FAIL: "1" });
        expect(r.status).toBe(1);
        expect(r.calls).toHaveLength(1);
        expect(r.stdout).toContain("login failed: nothing renewed");
        fs.rmSync(files.accessors);
        const missing = spawnSync("/bin/sh", [files.script], { encoding: "utf8", env });
        expect(missing.status).toBe(1);
        expect(missing.stdout).toContain(`cannot read the accessor list ${files.accessors}: nothing renewed`);
    });

    it("fails on a line that is not '<name> <accessor>', renewing the others, and skips blank lines and comments", () => {
        const r = run(`# tokens\n\npeer-region2 ${PEER} extra\nbroken\nprometheus-metrics ${METRICS}`, healthy);
        expect(r.status).toBe(1);
        expect(r.stdout).toContain("token-renewer: peer-region2: not a '<name> <accessor>' line in the accessor list: not renewed");
        expect(r.stdout).toContain("token-renewer: broken: not a '<name> <accessor>' line");
        // The last line has no newline, and is renewed all the same.
        expect(r.stdout).toContain("prometheus-metrics: renewed");
        expect(r.calls.filter((call) => call.includes("renew-accessor"))).toEqual([
            `job-token write -field=token_duration auth/token/renew-accessor accessor=${METRICS}`,
        ]);
    });

    it("keeps its exit status when revoking its own token fails (the token expires on its own)", () => {
        const r = run(list, healthy, { FAKE_REVOKE_FAIL: "1" });
        expect(r.status).toBe(0);
        expect(r.stdout).toContain("could not revoke the job's Vault token; it expires on its own");
    });

    it("starts no process but vault: the fake as a shell function gives the same calls", () => {
        // The simulated year below runs the script with the fake as a function; this is the evidence that
        // it behaves as the executable does.
        fs.writeFileSync(files.accessors, list);
        fs.writeFileSync(files.table, healthy);
        fs.writeFileSync(files.log, "");
        const r = spawnSync("/bin/sh", ["-c", `${FAKE_VAULT_FUNCTION}\n( . "${files.script}" )`], {
            encoding: "utf8",
            env: { ...env, PATH: "/nonexistent" },
        });
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
        expect(fs.readFileSync(files.log, "utf8").trim().split("\n")).toHaveLength(4);
    });
});

// ---------------------------------------------------------------------------------------------
// A simulated year
// ---------------------------------------------------------------------------------------------

/**
 * One long-lived `sh` that runs the real script in a subshell per scheduled run, with the fake CLI
 * as a function (no process per call) answering from a table it is handed with the run, and
 * reporting its calls on file descriptor 3: a run costs one fork and no file.
 */
class ScriptRunner {
    private readonly shell: ChildProcessWithoutNullStreams;
    private buffer = "";
    private waiting: ((output: string) => void) | undefined;
    private accessors: string | undefined;

    constructor(
        private readonly files: ReturnType<typeof fakeEnvironment>["files"],
        env: Record<string, string>,
    ) {
        const { FAKE_TABLE: _table, FAKE_LOG: _log, ...rest } = env;
        this.shell = spawn("/bin/sh", ["-s"], { env: { ...rest, PATH: "/nonexistent" } });
        this.shell.stdout.setEncoding("utf8");
        this.shell.stdout.on("data", (chunk: string) => {
            this.buffer += chunk;
            if (/@@done \d+\n$/.test(this.buffer) && this.waiting !== undefined) {
                const output = this.buffer;
                this.buffer = "";
                this.waiting(output);
            }
        });
        this.shell.stdin.write(`${FAKE_VAULT_FUNCTION}\n`);
    }

    /** Runs the script once with `accessors` as its list and `table` as Vault's answers. */
    async run(accessors: string, table: string, mode: RenewalMode = "renew"): Promise<{ status: number; log: string; calls: string[] }> {
        if (accessors !== this.accessors) {
            fs.writeFileSync(this.files.accessors, accessors);
            this.accessors = accessors;
        }
        // Accessors, numbers and Vault's messages: no single quote.
        if (table.includes("'")) {
            throw new Error(`a table with a quote: ${table}`);
        }
        const output = await new Promise<string>((resolve) => {
            this.waiting = resolve;
            this.shell.stdin.write(
                `fake_table='${table}'; ( . "${mode === "lifetime" ? this.files.lifetimeScript : this.files.script}" ) 3>&1 2>&1; fake_status=$?; echo; echo "@@done $fake_status"\n`,
            );
        });
        const lines = output.split("\n");
        return {
            status: Number(/@@done (\d+)\n$/.exec(output)?.[1]),
            log: lines.filter((line) => !line.startsWith("@@")).join("\n"),
            calls: lines.filter((line) => line.startsWith("@@call ")).map((line) => line.slice("@@call ".length)),
        };
    }

    close(): void {
        this.shell.stdin.end();
    }
}

/**
 * A CronJob's status, as Kubernetes keeps it and kube-state-metrics exports it, and the conditions of
 * the alerts over it: the renewer's two (`VaultTokenRenewalFailing`, `VaultTokenRenewerStalled`), and
 * the lifetime check's (`VaultTokenNearMaxLifetime`). Each `for` counts, like Prometheus's, from the
 * first evaluation that sees the condition.
 */
class CronJobStatus {
    lastSchedule: number | undefined;
    lastSuccess: number | undefined;
    private readonly pendingSince = new Map<string, number>();
    readonly failingFor = durationSeconds(RENEWAL_FAILING_FOR) ?? NaN;

    constructor(readonly created: number) {}

    /** A Job scheduled at `at` that succeeded or failed (it completes within seconds). */
    record(at: number, succeeded: boolean): void {
        this.lastSchedule = at;
        if (succeeded) {
            this.lastSuccess = at + 5;
        }
    }

    private firing(alert: string, condition: boolean, now: number, forSeconds: number): boolean {
        if (!condition) {
            this.pendingSince.delete(alert);
            return false;
        }
        const since = this.pendingSince.get(alert) ?? now;
        this.pendingSince.set(alert, since);
        return now - since >= forSeconds;
    }

    /** The latest run was scheduled after the last success (or none ever succeeded). */
    private latestFailed(now: number): boolean {
        return (
            this.lastSchedule !== undefined &&
            (this.lastSuccess === undefined || this.lastSchedule > this.lastSuccess) &&
            this.lastSchedule <= now
        );
    }

    /** `VaultTokenRenewalFailing`, over the renewer: its latest run failed, for its `for`. */
    failing(now: number): boolean {
        return this.firing("failing", this.latestFailed(now), now, this.failingFor);
    }

    /** `VaultTokenRenewerStalled`, over the renewer: no success for the stale time (or none since the CronJob was created that long ago). */
    stalled(now: number): boolean {
        return now - (this.lastSuccess ?? this.created) > RENEWER_STALE_SECONDS;
    }

    /** `VaultTokenNearMaxLifetime`, over the lifetime check: its latest run failed, or none was scheduled for its stale time, for its `for`. */
    nearCap(now: number): boolean {
        const unscheduled = now - (this.lastSchedule ?? this.created) > LIFETIME_CHECK_STALE_SECONDS;
        return this.firing("nearCap", this.latestFailed(now) || unscheduled, now, this.failingFor);
    }
}

/** The run times of a `M H * * *` schedule (H a number, or every N-th hour as `*\/N`) in [from, to), as seconds. */
function scheduledRuns(schedule: string, from: number, to: number): number[] {
    const match = /^(\d+) (\*\/(\d+)|\d+) \* \* \*$/.exec(schedule);
    expect(match).not.toBeNull();
    const minute = Number(match?.[1]);
    const hours =
        match?.[3] !== undefined
            ? Array.from({ length: Math.ceil(24 / Number(match[3])) }, (_, i) => i * Number(match[3]))
            : [Number(match?.[2])];
    const runs: number[] = [];
    for (let day = Math.floor(from / DAY); day * DAY < to; day++) {
        for (const hour of hours) {
            const at = day * DAY + hour * HOUR + minute * 60;
            if (at >= from && at < to) {
                runs.push(at);
            }
        }
    }
    return runs;
}

/** Who uses a token, and when it switched to it. */
interface Consumer {
    readonly name: string;
    /** How long after a rotation the consumer switches: a peer's next `pulumi up`, Prometheus re-reading its Secret. */
    readonly switchDelay: number;
    current: string;
    next?: { readonly accessor: string; readonly at: number };
}

describe("a simulated year of long-lived tokens and their renewer", () => {
    const settings = {
        period: durationSeconds(LONG_LIVED_TOKEN.period) ?? NaN,
        explicitMax: durationSeconds(LONG_LIVED_TOKEN.explicitMaxTtl) ?? NaN,
    };
    const { files, env } = fakeEnvironment("token-year-");
    const runner = new ScriptRunner(files, env);

    afterAll(() => {
        runner.close();
        fs.rmSync(files.root, { recursive: true, force: true });
    });

    /** The region's tokens and who uses them, all issued at time 0. */
    function platform(store: FakeTokenStore): Consumer[] {
        return [
            { name: "peer-region2", switchDelay: 3 * DAY, current: store.create(0, settings) },
            { name: "peer-region3", switchDelay: 5 * DAY, current: store.create(0, settings) },
            { name: "prometheus-metrics", switchDelay: HOUR, current: store.create(0, settings) },
        ];
    }

    /** The accessor list the stack writes: the current generation of each token (the one the consumers switch to, once issued). */
    const listOf = (consumers: readonly Consumer[]) =>
        renewalAccessorList(consumers.map((c) => ({ name: c.name, accessor: c.next?.accessor ?? c.current })));

    /** Applies to the store exactly the renewals a run made. */
    const applyRenewals = (store: FakeTokenStore, calls: readonly string[], at: number) => {
        for (const call of calls) {
            const renewed = /renew-accessor accessor=(\S+)$/.exec(call);
            if (renewed !== null) {
                store.renew(renewed[1], at);
            }
        }
    };

    it("keeps every credential valid for a year: the renewer catches up after a day down, and near the maximum lifetime only the lifetime alert speaks, in time to rotate", async () => {
        const store = new FakeTokenStore();
        const consumers = platform(store);
        const renewer = new CronJobStatus(0);
        const lifetime = new CronJobStatus(0);
        const end = 366 * DAY;
        // The cluster (both CronJobs) is down for a day, from day 100 at 08:00.
        const down = { from: 100 * DAY + 8 * HOUR, to: 101 * DAY + 8 * HOUR };
        const up = (at: number) => at < down.from || at >= down.to;
        const runs = [
            ...scheduledRuns(RENEWAL_SCHEDULE, 0, end).map((at) => ({ at, mode: "renew" as const })),
            ...scheduledRuns(LIFETIME_CHECK_SCHEDULE, 0, end).map((at) => ({ at, mode: "lifetime" as const })),
        ]
            .filter((run) => up(run.at))
            .sort((x, y) => x.at - y.at);
        const events: string[] = [];
        let firstNearCap: number | undefined;
        let nearCapFiredAt: number | undefined;
        let stalledDuringOutage = false;
        let nearCapDuringOutage = false;
        let minRemainingAfterOutage = Infinity;
        let checked = 0;
        const invalid: string[] = [];
        // After the outage, the renewer's alerts and failed runs: none, near the maximum lifetime included.
        const renewerAlerts: string[] = [];
        let renewerRunsNearCap = 0;

        /** Every consumer's credential is valid at `now`: the one check that matters. */
        const check = (now: number) => {
            for (const consumer of consumers) {
                if (consumer.next !== undefined && now >= consumer.next.at) {
                    consumer.current = consumer.next.accessor;
                    consumer.next = undefined;
                    events.push(`day ${Math.floor(now / DAY)}: ${consumer.name} switched to the new token`);
                }
                if (!store.isValid(consumer.current, now)) {
                    invalid.push(`${consumer.name} at day ${(now / DAY).toFixed(2)}`);
                }
            }
            checked++;
        };

        let runIndex = 0;
        for (let now = 0; now < end; now += HOUR) {
            check(now);
            const [failing, stalled, nearCap] = [renewer.failing(now), renewer.stalled(now), lifetime.nearCap(now)];
            if (!up(now)) {
                stalledDuringOutage ||= stalled;
                nearCapDuringOutage ||= nearCap;
            } else if (now > down.to + DAY && (failing || stalled)) {
                renewerAlerts.push(`day ${(now / DAY).toFixed(2)}: ${failing ? "VaultTokenRenewalFailing" : "VaultTokenRenewerStalled"}`);
            }
            // The operator answers the lifetime alert within two days: raises each expiring token's generation
            // (pulumi up in the issuing region), which issues a new token beside the old one and lists it for
            // the renewer; each consumer switches to it later (a peer's next pulumi up, Prometheus at once).
            if (nearCap && nearCapFiredAt === undefined) {
                nearCapFiredAt = now;
            }
            if (nearCapFiredAt !== undefined && now === nearCapFiredAt + 2 * DAY) {
                for (const consumer of consumers) {
                    const accessor = store.create(now, settings);
                    consumer.next = { accessor, at: now + consumer.switchDelay };
                    // Old and new are valid together until the consumer has switched.
                    expect([store.isValid(consumer.current, now), store.isValid(accessor, now)]).toEqual([true, true]);
                }
                events.push(`day ${Math.floor(now / DAY)}: rotated every token`);
            }
            // The runs of this hour, in order.
            while (runIndex < runs.length && runs[runIndex].at < now + HOUR) {
                const { at, mode } = runs[runIndex++];
                check(at);
                const result = await runner.run(listOf(consumers), answerTable(store, at), mode);
                applyRenewals(store, result.calls, at);
                (mode === "renew" ? renewer : lifetime).record(at, result.status === 0);
                if (mode === "lifetime" && result.status !== 0 && result.log.includes("Rotate it now") && firstNearCap === undefined) {
                    firstNearCap = at;
                }
                if (mode === "renew" && result.log.includes("Rotate it now")) {
                    // A token near its maximum lifetime: the renewer renews it, says so, and succeeds.
                    expect(result.status).toBe(0);
                    renewerRunsNearCap++;
                }
                if (mode === "renew" && at >= down.to && at < down.to + RENEWAL_INTERVAL_HOURS * HOUR) {
                    // The first run after the outage: it caught up.
                    expect(result.status).toBe(0);
                    minRemainingAfterOutage = Math.min(...consumers.map((c) => store.remaining(c.current, at + 60)));
                }
            }
        }

        // Checked every hour and at every run of the year: never a credential that does not work.
        expect(invalid).toEqual([]);
        expect(checked).toBeGreaterThan(365 * 24);
        expect(runs.filter((run) => run.mode === "renew").length).toBe(366 * (24 / RENEWAL_INTERVAL_HOURS) - 24 / RENEWAL_INTERVAL_HOURS);
        // The day down: the stalled alert spoke (a day without a success), the lifetime alert did not (a day is
        // less than its two), and the first run after it gave every token its whole period again.
        expect([stalledDuringOutage, nearCapDuringOutage]).toEqual([true, false]);
        expect(minRemainingAfterOutage).toBeGreaterThan(TOKEN_PERIOD_SECONDS - HOUR);
        // Near the cap: the first failing lifetime check came 30 days (at most a day more) before the tokens'
        // maximum lifetime, and its alert fired within its `for` of it; the renewer saw the same tokens near
        // their cap for days, and neither of its alerts fired, then or at any time after the outage.
        expect(firstNearCap).toBeDefined();
        const cap = settings.explicitMax;
        expect(cap - (firstNearCap ?? 0)).toBeLessThanOrEqual(TOKEN_RENEWAL_WARNING_SECONDS);
        expect(cap - (firstNearCap ?? 0)).toBeGreaterThan(TOKEN_RENEWAL_WARNING_SECONDS - DAY);
        expect((nearCapFiredAt ?? Infinity) - (firstNearCap ?? 0)).toBeLessThanOrEqual(lifetime.failingFor + HOUR);
        expect(renewerRunsNearCap).toBeGreaterThanOrEqual(2 * (24 / RENEWAL_INTERVAL_HOURS));
        expect(renewerAlerts).toEqual([]);
        expect(events).toEqual([
            "day 337: rotated every token",
            "day 337: prometheus-metrics switched to the new token",
            "day 340: peer-region2 switched to the new token",
            "day 342: peer-region3 switched to the new token",
        ]);
        // The old generation is no longer renewed, and ends at its cap; the new one runs on, and both CronJobs are healthy again.
        expect(store.isValid(consumers[0].current, end)).toBe(true);
        expect(store.accessors().filter((accessor) => store.isValid(accessor, end))).toHaveLength(consumers.length);
        expect([renewer.failing(end), renewer.stalled(end), lifetime.nearCap(end)]).toEqual([false, false, false]);
    }, 90_000);

    it("with a token near its maximum lifetime and another failing to renew, the renewer's alert still fires for the failure", async () => {
        const store = new FakeTokenStore();
        const consumers = platform(store);
        const renewer = new CronJobStatus(0);
        // Day 340: every token is near its cap; the metrics token is then revoked by hand (a leak).
        const from = 340 * DAY;
        // Kept alive until then (without running the script for a year), then the renewer's runs of a day.
        for (let at = 20 * DAY; at < from; at += 20 * DAY) {
            consumers.forEach((c) => store.renew(c.current, at));
        }
        const runs = scheduledRuns(RENEWAL_SCHEDULE, from, from + DAY);
        let firedAt: number | undefined;
        for (const at of runs) {
            if (at >= from && store.isValid(consumers[2].current, at)) {
                store.revoke(consumers[2].current);
            }
            const result = await runner.run(listOf(consumers), answerTable(store, at));
            applyRenewals(store, result.calls, at);
            renewer.record(at, result.status === 0);
            for (let now = at; now < at + RENEWAL_INTERVAL_HOURS * HOUR && firedAt === undefined; now += HOUR / 2) {
                if (renewer.failing(now)) {
                    firedAt = now;
                }
            }
        }
        expect(firedAt).toBeDefined();
        expect((firedAt ?? Infinity) - from).toBeLessThanOrEqual(RENEWAL_INTERVAL_HOURS * HOUR + renewer.failingFor + HOUR);
    }, 60_000);

    it("with the renewer stopped for good, the stalled alert fires within a day, while every token still has four weeks left", async () => {
        const store = new FakeTokenStore();
        const consumers = platform(store);
        const cron = new CronJobStatus(0);
        const lifetime = new CronJobStatus(0);
        const stop = 10 * DAY;
        for (const at of scheduledRuns(RENEWAL_SCHEDULE, 0, stop)) {
            const result = await runner.run(listOf(consumers), answerTable(store, at));
            applyRenewals(store, result.calls, at);
            cron.record(at, result.status === 0);
        }
        for (const at of scheduledRuns(LIFETIME_CHECK_SCHEDULE, 0, stop)) {
            lifetime.record(at, (await runner.run(listOf(consumers), answerTable(store, at), "lifetime")).status === 0);
        }
        const lastSuccess = cron.lastSuccess ?? 0;
        let firedAt: number | undefined;
        let unchecked: number | undefined;
        for (let now = stop; now < stop + 40 * DAY && (firedAt === undefined || unchecked === undefined); now += HOUR) {
            if (cron.stalled(now) && firedAt === undefined) {
                firedAt = now;
            }
            if (lifetime.nearCap(now) && unchecked === undefined) {
                unchecked = now;
            }
        }
        expect(firedAt).toBeDefined();
        expect((firedAt ?? Infinity) - lastSuccess).toBeLessThanOrEqual(RENEWER_STALE_SECONDS + HOUR);
        for (const consumer of consumers) {
            expect(store.remaining(consumer.current, firedAt ?? 0)).toBeGreaterThan(28 * DAY);
        }
        // The lifetime check, stopped too, says so within its stale time: nobody would learn of a token near its cap.
        expect((unchecked ?? Infinity) - (lifetime.lastSchedule ?? 0)).toBeLessThanOrEqual(
            LIFETIME_CHECK_STALE_SECONDS + lifetime.failingFor + HOUR,
        );
        // Left alone, the tokens lapse a period after the last renewal: the alert came four weeks before.
        expect(consumers.every((c) => store.isValid(c.current, lastSuccess + TOKEN_PERIOD_SECONDS - 60))).toBe(true);
        expect(consumers.some((c) => store.isValid(c.current, lastSuccess + TOKEN_PERIOD_SECONDS))).toBe(false);
    }, 30_000);

    it("models the alerts the PrometheusRule declares (the same metrics, thresholds and `for`)", () => {
        const [failing, stalled, nearCap] = tokenRenewalAlerts("vault");
        expect(failing.expr).toMatch(/kube_cronjob_status_last_schedule_time.*>.*kube_cronjob_status_last_successful_time/);
        expect(failing.for).toBe(RENEWAL_FAILING_FOR);
        // Long enough that a run in progress never fires it.
        expect(durationSeconds(failing.for)).toBeGreaterThan(RENEWER_JOB_DEADLINE_SECONDS);
        expect(stalled.expr).toContain(`time() - max by (namespace, cronjob) (kube_cronjob_status_last_successful_time`);
        expect(stalled.expr).toContain(`> ${RENEWER_STALE_SECONDS}`);
        expect(stalled.expr).toContain("kube_cronjob_created");
        // The renewer's two read the renewer's CronJob only; the lifetime alert reads the lifetime check's only.
        for (const alert of [failing, stalled]) {
            expect(alert.expr).toContain(`cronjob="${RENEWER_NAME}"`);
            expect(alert.expr).not.toContain(LIFETIME_CHECK_NAME);
        }
        expect(nearCap.alert).toBe("VaultTokenNearMaxLifetime");
        expect(nearCap.expr).toContain(`cronjob="${LIFETIME_CHECK_NAME}"`);
        expect(nearCap.expr).not.toContain(`cronjob="${RENEWER_NAME}"`);
        expect(nearCap.expr).toMatch(/kube_cronjob_status_last_schedule_time.*>.*kube_cronjob_status_last_successful_time/);
        expect(nearCap.expr).toContain(`> ${LIFETIME_CHECK_STALE_SECONDS}`);
        expect(nearCap.for).toBe(RENEWAL_FAILING_FOR);
        // The model above fires on those conditions, and a healthy CronJob fires neither.
        const cron = new CronJobStatus(0);
        cron.record(6 * HOUR, true);
        expect([cron.failing(7 * HOUR), cron.stalled(7 * HOUR)]).toEqual([false, false]);
        cron.record(12 * HOUR, false);
        // Like Prometheus's `for`, from the first evaluation that sees the condition.
        expect(cron.failing(12 * HOUR + 1)).toBe(false);
        expect(cron.failing(12 * HOUR + cron.failingFor)).toBe(false);
        expect(cron.failing(12 * HOUR + 1 + cron.failingFor)).toBe(true);
        expect(cron.stalled(6 * HOUR + 5 + RENEWER_STALE_SECONDS + 1)).toBe(true);
        const check = new CronJobStatus(0);
        check.record(3 * HOUR, true);
        expect(check.nearCap(4 * HOUR)).toBe(false);
        expect(check.nearCap(3 * HOUR + LIFETIME_CHECK_STALE_SECONDS + 1)).toBe(false);
        expect(check.nearCap(3 * HOUR + LIFETIME_CHECK_STALE_SECONDS + 1 + check.failingFor)).toBe(true);
    });
});

// ---------------------------------------------------------------------------------------------
// The component
// ---------------------------------------------------------------------------------------------

const PROGRAM = "openova-vault.tests.tokenRenewal.program";

/** Runs `program` once under the synth's mock runtime and returns what it declared. */
async function declare(stack: string, program: () => void): Promise<RunResult> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "token-renewer-program-"));
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

describe("TokenRenewer (Pulumi mock runtime)", () => {
    const base = { namespace: "vault", authPath: "kubernetes", imageTag: "2.0.4", vaultAddress: "https://vault-active.vault.svc:8200" };

    it("declares its policy and role in Vault, and its service account, accessor list and CronJob in the cluster", async () => {
        const run = await declare("renewer", () => {
            const cluster = new k8s.Provider("c", { context: "c" });
            const admin = new vault.Provider("v", { address: "https://vault.example.net" });
            new TokenRenewer(
                "r",
                {
                    ...base,
                    provider: admin,
                    tokens: [
                        { name: "peer-b", accessor: pulumi.output("acc-b") },
                        { name: "peer-a", accessor: "acc-a" },
                    ],
                },
                { providers: { kubernetes: cluster } },
            );
        });
        expect(run.error).toBeUndefined();
        expect(
            run.resources
                .filter((r) => r.parent?.includes("TokenRenewer"))
                .map((r) => `${r.type} ${r.name}`)
                .sort(),
        ).toEqual([
            "kubernetes:batch/v1:CronJob r-cronjob",
            "kubernetes:batch/v1:CronJob r-lifetime-cronjob",
            "kubernetes:core/v1:ConfigMap r-accessors",
            "kubernetes:core/v1:ServiceAccount r-service-account",
            "vault:index/policy:Policy r-policy",
            "vault:kubernetes/authBackendRole:AuthBackendRole r-role",
        ]);
        expect(run.resources.find((r) => r.name === "r-accessors")?.inputs).toMatchObject({
            data: { accessors: "peer-a acc-a\npeer-b acc-b\n" },
        });
        expect(run.resources.find((r) => r.name === "r-service-account")?.inputs).toMatchObject({ automountServiceAccountToken: false });
        // Two CronJobs, one signal each: the renewer on its schedule, the lifetime check daily, the same pod in another mode.
        const cronJob = (name: string) =>
            run.resources.find((r) => r.name === name)?.inputs as {
                metadata: { name: string };
                spec: { schedule: string; jobTemplate: { spec: { template: { spec: { containers: { command: string[] }[] } } } } };
            };
        for (const [resource, name, schedule, mode] of [
            ["r-cronjob", RENEWER_NAME, RENEWAL_SCHEDULE, "renew"],
            ["r-lifetime-cronjob", LIFETIME_CHECK_NAME, LIFETIME_CHECK_SCHEDULE, "lifetime"],
        ] as const) {
            const job = cronJob(resource);
            expect([job.metadata.name, job.spec.schedule]).toEqual([name, schedule]);
            expect(job.spec.jobTemplate.spec.template.spec.containers[0].command[2]).toBe(renewalScript({ authPath: "kubernetes", mode }));
        }
    });

    it.each([
        [{ tokens: [] }, "there is no token to renew"],
        [{ tokens: [{ name: "Peer B", accessor: "x" }] }, 'name "Peer B"'],
        [{ authPath: "/kubernetes" }, "must not start or end with '/'"],
    ])("refuses %j before registering anything", async (bad, message) => {
        const run = await declare("bad-renewer", () => {
            const admin = new vault.Provider("v", { address: "https://vault.example.net" });
            new TokenRenewer("r", { ...base, provider: admin, tokens: [{ name: "peer-a", accessor: "a" }], ...bad });
        });
        const error = run.error as Error & { reason?: string };
        expect(`${error.message} ${error.reason ?? ""}`).toContain(message);
        expect(run.resources.filter((r) => r.type.startsWith("openova:") || r.type.startsWith("kubernetes:"))).toEqual([]);
    });
});
