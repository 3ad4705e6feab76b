/**
 * Certificates that reload themselves: the reloader sidecar in the Vault chart's values, its script and
 * readiness probe, and a simulated year of cert-manager renewals run through the real script
 * (tests/support/certificateYear.ts): no server serves an expired certificate, a reloader stopped for
 * a day catches up, and one stopped for good fires its alert weeks before the certificate expires.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseDurationMs } from "../components/common/predicates";
import { alertRules, monitoringOptions } from "../components/monitoring/monitoringSpecs";
import { type VaultServerOptions, vaultServerOptions } from "../components/vault-server/serverOptions";
import { serverSettings, vaultHelmValues } from "../components/vault-server/serverValues";
import { CERTIFICATE_LIFETIME } from "../components/vault-server/tls";
import {
    TLS_RELOADER_CONTAINER,
    TLS_RELOADER_STALE_SECONDS,
    TLS_RELOAD_INTERVAL_SECONDS,
    TLS_RELOAD_RETRY_SECONDS,
    type TlsReloaderContainer,
    tlsReloaderProbeScript,
    tlsReloaderScript,
} from "../components/vault-server/tlsReload";
import { DAY, type PodPlan, type YearReport, simulateYear } from "./support/certificateYear";

const HOST = "vault.region1.example.com";

const valuesFor = (options: VaultServerOptions = {}) =>
    vaultHelmValues(serverSettings(vaultServerOptions.parse(options), HOST, monitoringOptions.parse({})));

function reloaderOf(options: VaultServerOptions = {}): TlsReloaderContainer {
    const containers = valuesFor(options).server.extraContainers ?? [];
    expect(containers.map((c) => c.name)).toEqual([TLS_RELOADER_CONTAINER]);
    return containers[0];
}

const rule = alertRules({ vaultNamespace: "vault", externalSecretsNamespace: "external-secrets", releaseName: "vault" }).find(
    (r) => r.alert === "VaultTlsReloaderNotReady",
);
const alertForSeconds = parseDurationMs(rule?.for ?? "") / 1000;

describe("the certificate reloader in the chart values", () => {
    it("runs beside every server with TLS: the pod's processes shared, the servers' own image, the listener's files", () => {
        const values = valuesFor({ imageTag: "2.0.9" });
        expect(values.server.shareProcessNamespace).toBe(true);
        const container = reloaderOf({ imageTag: "2.0.9" });
        expect(container.image).toBe(`${values.server.image.repository}:2.0.9`);
        expect(container.command.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
        expect(container.command[2]).toBe(tlsReloaderScript());
        const listener = (JSON.parse(values.server.ha.raft.config) as { listener: { tcp: Record<string, string> } }).listener.tcp;
        const env = Object.fromEntries(container.env.map((e) => [e.name, e.value]));
        expect(env).toEqual({
            TLS_CERT_FILE: listener.tls_cert_file,
            TLS_KEY_FILE: listener.tls_key_file,
            HEARTBEAT_FILE: "/run/tls-reloader/heartbeat",
            RELOAD_INTERVAL: String(TLS_RELOAD_INTERVAL_SECONDS),
            RETRY_INTERVAL: String(TLS_RELOAD_RETRY_SECONDS),
            STALE_AFTER: String(TLS_RELOADER_STALE_SECONDS),
        });
        // The chart's server.volumeMounts reach only the vault container: the sidecar mounts the chart's
        // own volume of the Secret (userconfig-<name>) as a directory (a subPath mount never updates).
        expect(container.volumeMounts).toEqual([
            { name: "userconfig-vault-server-tls", mountPath: "/vault/userconfig/vault-server-tls", readOnly: true },
            { name: "tls-reloader-state", mountPath: "/run/tls-reloader" },
        ]);
        expect(values.server.extraVolumes).toContainEqual({ type: "secret", name: "vault-server-tls" });
        expect(values.server.volumes).toEqual([{ name: "tls-reloader-state", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } }]);
        expect(container.readinessProbe).toEqual({
            exec: { command: ["/bin/sh", "-c", tlsReloaderProbeScript()] },
            periodSeconds: 10,
            failureThreshold: 3,
            timeoutSeconds: 5,
        });
    });

    it("follows an operator's certificate Secret (source secret)", () => {
        const container = reloaderOf({ tls: { source: "secret", secretName: "my-tls" } });
        expect(container.env.find((e) => e.name === "TLS_CERT_FILE")?.value).toBe("/vault/userconfig/my-tls/tls.crt");
        expect(container.volumeMounts[0]).toEqual({ name: "userconfig-my-tls", mountPath: "/vault/userconfig/my-tls", readOnly: true });
    });

    it("is left out with TLS off, and the processes stay apart", () => {
        const values = valuesFor({ tls: { source: "none", allowPlaintext: true } });
        expect(values.server.shareProcessNamespace).toBe(false);
        expect(values.server).not.toHaveProperty("extraContainers");
        expect(values.server).not.toHaveProperty("volumes");
    });

    it("runs as Vault's own user (to signal it without a capability), non-root, read-only, with no capabilities and little memory", () => {
        const values = valuesFor();
        const container = reloaderOf();
        expect(container.securityContext).toEqual({
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["ALL"] },
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            runAsUser: values.server.statefulSet.securityContext.pod.runAsUser,
            runAsGroup: values.server.statefulSet.securityContext.pod.runAsGroup,
        });
        expect(container.resources).toEqual({ requests: { cpu: "5m", memory: "8Mi" }, limits: { memory: "32Mi" } });
        expect(container).not.toHaveProperty("ports");
    });

    it("is what the alert watches, and the alert waits long enough for a sidecar to recover", () => {
        expect(rule?.expr).toContain(`container="${TLS_RELOADER_CONTAINER}"`);
        // The probe must not fail between two healthy passes.
        expect(TLS_RELOADER_STALE_SECONDS).toBeGreaterThanOrEqual(2 * TLS_RELOAD_INTERVAL_SECONDS);
        expect(alertForSeconds).toBe(15 * 60);
    });
});

describe("the reloader's script", () => {
    it.each([
        ["the script", tlsReloaderScript()],
        ["the probe", tlsReloaderProbeScript()],
    ])("%s is valid sh", (_what, script) => {
        const check = spawnSync("sh", ["-n", "-c", script], { encoding: "utf8" });
        expect(check.stderr).toBe("");
        expect(check.status).toBe(0);
        // (The check can fail.)
        expect(spawnSync("sh", ["-n", "-c", `${script}\nif then`]).status).not.toBe(0);
    });

    it("stops at once, naming the variable, when the container does not set its files", () => {
        const run = spawnSync("sh", ["-c", tlsReloaderScript()], { encoding: "utf8", env: { PATH: process.env.PATH }, timeout: 5000 });
        expect(run.status).not.toBe(0);
        expect(run.stderr).toContain("TLS_CERT_FILE");
    });

    it("has its probe fail without a heartbeat, or with one that is not a time", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tls-reloader-probe-"));
        const probe = (heartbeat: string | undefined) => {
            const file = path.join(dir, "heartbeat");
            fs.rmSync(file, { force: true });
            if (heartbeat !== undefined) {
                fs.writeFileSync(file, heartbeat);
            }
            return spawnSync("sh", ["-c", tlsReloaderProbeScript()], {
                env: { PATH: process.env.PATH, HEARTBEAT_FILE: file, STALE_AFTER: "180" },
            }).status;
        };
        const now = Math.floor(Date.now() / 1000);
        expect(probe(`${now}\n`)).toBe(0);
        expect(probe(`${now - 170}\n`)).toBe(0);
        expect(probe(`${now - 400}\n`)).not.toBe(0);
        expect(probe(undefined)).not.toBe(0);
        expect(probe("")).not.toBe(0);
        expect(probe("yesterday\n")).not.toBe(0);
        fs.rmSync(dir, { recursive: true, force: true });
    });
});

/** The year every test below looks at: three servers, each with its own kubelet delay and its own trouble. */
const PODS: readonly PodPlan[] = [
    // All is well; the Vault process restarts once (a container restart), which loads the files itself.
    { name: "vault-0", propagationSeconds: 40, serverRestarts: [300 * DAY + 1234] },
    // The reloader is down for a day, across the renewal of day 120.
    { name: "vault-1", propagationSeconds: 75, sidecarDown: [{ from: 119.5 * DAY, until: 120.5 * DAY }] },
    // The reloader stops for good shortly before the renewal of day 240, the worst moment.
    { name: "vault-2", propagationSeconds: 110, sidecarDown: [{ from: 239.9 * DAY }] },
];

/** cert-manager's renewal, as the Certificate declares it: 90 days, renewed 30 days before the end. */
const LIFETIME_DAYS = parseDurationMs(CERTIFICATE_LIFETIME.duration) / 1000 / DAY;
const RENEW_EVERY_DAYS = LIFETIME_DAYS - parseDurationMs(CERTIFICATE_LIFETIME.renewBefore) / 1000 / DAY;

function year(container: TlsReloaderContainer, pods: readonly PodPlan[] = PODS, days = 365): Promise<YearReport> {
    return simulateYear({ container, alertForSeconds, pods, days, renewEveryDays: RENEW_EVERY_DAYS, lifetimeDays: LIFETIME_DAYS });
}

describe("a simulated year of renewals, through the real script", () => {
    let report: YearReport;
    const pod = (name: string) => report.pods.find((p) => p.name === name) as YearReport["pods"][number];

    beforeAll(async () => {
        expect([LIFETIME_DAYS, RENEW_EVERY_DAYS]).toEqual([90, 60]);
        report = await year(reloaderOf());
    });

    it("renews every 60 days, and every server serves each renewal within minutes while its reloader runs", () => {
        expect(report.issuedAt.map((at) => at / DAY)).toEqual([0, 60, 120, 180, 240, 300, 360]);
        const vault0 = pod("vault-0");
        // The kubelet's delay, then at most one interval to the next pass.
        expect(vault0.reloadLatency.every((s) => s !== undefined && s <= 40 + TLS_RELOAD_INTERVAL_SECONDS)).toBe(true);
        expect(vault0.served.map((s) => s.serial)).toEqual([0, 1, 2, 3, 4, 5, 6]);
        for (const name of ["vault-1", "vault-2"]) {
            expect(
                pod(name)
                    .reloadLatency.slice(0, 2)
                    .every((s) => s !== undefined && s <= 5 * 60),
            ).toBe(true);
        }
    });

    it("never has a server serve an expired certificate, the one whose reloader was down for a day included", () => {
        expect(pod("vault-0").expired).toEqual([]);
        expect(pod("vault-1").expired).toEqual([]);
        expect(pod("vault-1").served.map((s) => s.serial)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    });

    it("catches up as soon as a reloader that was down comes back: the renewal it missed is served within seconds", () => {
        const vault1 = pod("vault-1");
        const missed = vault1.served.find((s) => s.serial === 2);
        // Renewed (and in the pod's volume) while the reloader was down: still the old certificate then.
        expect(report.issuedAt[2] + 75).toBeLessThan(120.5 * DAY);
        expect(missed?.from).toBeGreaterThanOrEqual(120.5 * DAY);
        expect((missed?.from ?? Infinity) - 120.5 * DAY).toBeLessThanOrEqual(2 * TLS_RELOAD_RETRY_SECONDS);
        // A day down is long enough for the alert.
        expect(vault1.alerts).toHaveLength(1);
    });

    it("fires the alert within half an hour of a reloader stopping for good, weeks before the served certificate expires", () => {
        const vault2 = pod("vault-2");
        expect(vault2.alerts).toHaveLength(1);
        const [alert] = vault2.alerts;
        // Stale after 3 missed passes, NotReady after 3 failed probes, then the rule's 15 minutes.
        expect(alert.firesAt - alert.stoppedAt).toBeLessThanOrEqual(TLS_RELOADER_STALE_SECONDS + 3 * 10 + alertForSeconds + 10);
        expect(alert.servedNotAfter - alert.firesAt).toBeGreaterThan(28 * DAY);
        // Left alone, that server serves its certificate past its end: what the alert is for.
        expect(vault2.expired.map((s) => [s.serial, s.notAfter / DAY])).toEqual([[3, 270]]);
        expect(vault2.reloadLatency.slice(4)).toEqual([undefined, undefined, undefined]);
    });

    it("signals only the Vault server, never a vault command beside it, and never before the server has had time to start", () => {
        for (const p of report.pods) {
            expect(p.bystanderHups).toBe(0);
            expect(p.hups.length).toBeGreaterThan(0);
            expect(p.hups.every((h) => h.afterStart >= TLS_RELOAD_RETRY_SECONDS)).toBe(true);
        }
        // The server of vault-0 that restarted (it loaded the files itself) got one SIGHUP, from the
        // first pass that found it plus a retry interval.
        const restart = 300 * DAY + 1234;
        const afterRestart = pod("vault-0").hups.filter((h) => h.at > restart && h.at < 360 * DAY);
        expect(afterRestart).toHaveLength(1);
        expect(afterRestart[0].afterStart).toBeGreaterThanOrEqual(TLS_RELOAD_RETRY_SECONDS);
        expect(afterRestart[0].afterStart).toBeLessThanOrEqual(TLS_RELOAD_INTERVAL_SECONDS + TLS_RELOAD_RETRY_SECONDS);
    });

    it("logs one line per SIGHUP, with the certificate's hash and never the key", () => {
        for (const p of report.pods) {
            const lines = p.log.split("\n").filter((line) => line.includes("sent SIGHUP"));
            expect(lines).toHaveLength(p.hups.length);
            expect(
                lines.every((line) =>
                    /^tls-reloader: sent SIGHUP to the Vault server \(pid \d+\): tls\.crt sha256 [0-9a-f]{64}$/.test(line),
                ),
            ).toBe(true);
            expect(p.log).not.toMatch(/PRIVATE KEY/);
            for (const key of p.keys) {
                expect(p.log).not.toContain(key);
            }
        }
    });

    it("keeps the probe passing while the reloader runs, and runs far fewer passes than a year of minutes", () => {
        for (const p of report.pods) {
            expect(p.probeFailuresWhileRunning).toBe(0);
            expect(p.passes).toBeLessThan(200);
        }
    });
});

describe("the simulated year catches a broken reloader (so the checks above can fail)", () => {
    const oneServer: readonly PodPlan[] = [
        { name: "vault-1", propagationSeconds: 75, sidecarDown: [{ from: 119.5 * DAY, until: 120.5 * DAY }] },
    ];
    const broken = (from: string, to: string): TlsReloaderContainer => {
        const container = reloaderOf();
        expect(container.command[2]).toContain(from);
        return { ...container, command: ["/bin/sh", "-c", container.command[2].replace(from, to)] };
    };

    it("one that never signals: the first certificate expires", async () => {
        const report = await year(broken('kill -HUP "$pid"', "true"), oneServer, 100);
        expect(report.pods[0].expired.map((s) => s.serial)).toEqual([0]);
    });

    it("one that does not catch up after it was down: the certificate it missed the renewal of expires", async () => {
        const report = await year(broken('signalled=""\n        return 2', "signalled=$hashes\n        return 2"), oneServer, 151);
        // The certificate of day 60 ends on day 150, a month before the next renewal.
        expect(report.pods[0].expired.map((s) => [s.serial, s.notAfter / DAY])).toEqual([[1, 150]]);
    });

    it("one that signals every vault process: the readiness probe's vault status gets a SIGHUP", async () => {
        const report = await year(broken("grep -qx server", "true"), oneServer, 1);
        expect(report.pods[0].bystanderHups).toBeGreaterThan(0);
    });
});
