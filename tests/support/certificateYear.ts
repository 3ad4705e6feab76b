/**
 * A year of certificate renewals around the real certificate reloader (components/vault-server/tlsReload.ts).
 *
 * What is real: the sidecar's script, run by `sh` exactly as the container runs it, with the
 * container's environment; its readiness probe script; `sha256sum`, `tr`, `grep`, `mv` and the
 * kernel's signals and `/proc/<pid>/cmdline`.
 *
 * What is faked, per pod:
 * - cert-manager and the kubelet: every `renewEveryDays` a new certificate and a new key (cert-manager's
 *   default `rotationPolicy: Always`), valid `lifetimeDays`, written into the pod's copy of the Secret
 *   volume `propagationSeconds` later, the way the kubelet updates a mounted Secret: a new timestamped
 *   directory, then the `..data` symlink swapped atomically (`tls.crt` and `tls.key` are links through it);
 * - the Vault server: a process started with the argument `server` that loads `tls.crt` and `tls.key`
 *   at start and on SIGHUP, keeping what it serves when the pair does not match, as Vault does;
 * - a `vault status` (the chart's readiness probe) running beside it, which must never get a SIGHUP;
 * - `pidof vault`, which lists both; `date` and `sleep`, which read and wait on a simulated clock.
 *
 * The pods share nothing, so each runs on its own simulated clock, all at once. The clock only moves
 * between passes of the loop: the fake `sleep` tells the driver how long the script asked to wait and
 * blocks until the driver lets it go; meanwhile the driver plays every event due before then. A pass
 * that asked for the full interval, after which nothing it reads had changed, and that neither logged
 * nor signalled anything, is idle: the loop's state (the pid it knows, the hashes it signalled) came
 * out as it went in, so every pass until something changes would be idle too. After an idle pass the
 * driver lets the script sleep a whole number of its own intervals at once: to the first pass at or
 * after the next change of the pod's files or processes, but never past the last pass before its
 * sidecar stops (so the heartbeat is as fresh then as the real loop would leave it). Every pass that
 * runs is at a time the real loop's would be.
 *
 * While a sidecar is stopped, its real probe script is run on the kubelet's schedule (every
 * `periodSeconds`, NotReady after `failureThreshold` failures in a row), and the alert fires when the
 * container has been NotReady for the rule's `for`.
 */
import { type ChildProcess, fork, spawn } from "node:child_process";
import { once } from "node:events";
import type { Duplex } from "node:stream";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { TLS_RELOADER_ENV, type TlsReloaderContainer } from "../../components/vault-server/tlsReload";

export const DAY = 86_400;

/** Seconds since the epoch at the simulation's start (any value; the heartbeat holds clock readings). */
const EPOCH = 1_900_000_000;

export interface PodPlan {
    readonly name: string;
    /** Seconds from cert-manager writing the Secret to the kubelet updating this pod's volume. */
    readonly propagationSeconds: number;
    /** When the sidecar is stopped (killed), and when it starts again (never, without `until`); seconds from the start. */
    readonly sidecarDown?: readonly { readonly from: number; readonly until?: number }[];
    /** When the Vault server process restarts (a container restart: a new process, which loads the files at start). */
    readonly serverRestarts?: readonly number[];
}

export interface YearPlan {
    /** The sidecar as the chart values declare it: its script (`command`), environment and probe are run. */
    readonly container: TlsReloaderContainer;
    /** The alert's `for`, in seconds. */
    readonly alertForSeconds: number;
    readonly pods: readonly PodPlan[];
    readonly days: number;
    readonly renewEveryDays: number;
    readonly lifetimeDays: number;
}

export interface ServedPeriod {
    readonly serial: number;
    readonly from: number;
    readonly to: number;
    readonly notAfter: number;
}

export interface PodReport {
    readonly name: string;
    /** What the server served, and when. */
    readonly served: readonly ServedPeriod[];
    /** Periods in which it served a certificate past its end. */
    readonly expired: readonly ServedPeriod[];
    /** For each certificate issued: seconds from its issue until this server served it (or a later one); undefined if never. */
    readonly reloadLatency: readonly (number | undefined)[];
    /** Every SIGHUP the server got: when, and how long after the server process started. */
    readonly hups: readonly { readonly at: number; readonly afterStart: number }[];
    /** SIGHUPs that reached the `vault status` beside the server. */
    readonly bystanderHups: number;
    /** When the reloader alert would fire, and the end of the certificate served then. */
    readonly alerts: readonly { readonly stoppedAt: number; readonly firesAt: number; readonly servedNotAfter: number }[];
    /** Probe runs that failed while the sidecar was running (each at the latest time its next pass can come). */
    readonly probeFailuresWhileRunning: number;
    /** The passes the script actually ran. */
    readonly passes: number;
    /** Everything the sidecar wrote to stdout and stderr. */
    readonly log: string;
    /** The keys written into the pod's volume, to look for in the log. */
    readonly keys: readonly string[];
}

export interface YearReport {
    readonly pods: readonly PodReport[];
    readonly issuedAt: readonly number[];
}

/** Fakes on the sidecar's PATH. `date` and `sleep` use the simulated clock; `pidof` lists the pod's fake processes. */
const FAKES: Record<string, string> = {
    date: '#!/bin/sh\n[ "$1" = +%s ] || { echo "fake date: only +%s" >&2; exit 2; }\nread -r now <"$SIM_CLOCK" && echo "$now"\n',
    // Tells the driver how long, on fd 3, and waits for its go-ahead there.
    sleep: '#!/bin/sh\necho "$1" >&3\nIFS= read -r _ <&3\n',
    pidof: '#!/bin/sh\n[ "$1" = vault ] && read -r pids <"$SIM_POD/pids" && [ -n "$pids" ] && echo "$pids"\n',
};

/** A fake Vault process: `server` loads the pair at start and on SIGHUP; `status` only reports a SIGHUP. */
const FAKE_VAULT = `"use strict";
const fs = require("node:fs");
const [role, mount] = process.argv.slice(2);
const serial = (file) => (/serial=(\\d+)/.exec(fs.readFileSync(mount + "/" + file, "utf8")) || [])[1];
function load() {
    const cert = serial("tls.crt");
    const key = serial("tls.key");
    // Vault keeps the pair it serves when the new one does not load.
    process.send(cert !== undefined && cert === key ? { event: "loaded", serial: Number(cert) } : { event: "reload-failed" });
}
process.on("SIGHUP", () => (role === "server" ? load() : process.send({ event: "hup" })));
process.on("message", (m) => m === "ping" && setImmediate(() => setImmediate(() => process.send({ event: "pong" }))));
process.on("disconnect", () => process.exit(0));
if (role === "server") load(); else process.send({ event: "started" });
setInterval(() => {}, 1 << 30);
`;

const TIMEOUT_MS = 10_000;

/** Messages of a forked fake Vault process, awaited in order. */
class FakeVault {
    readonly child: ChildProcess;
    private readonly queue: { event: string; serial?: number }[] = [];
    private waiter?: () => void;

    constructor(script: string, role: "server" | "status", mount: string) {
        this.child = fork(script, [role, mount], { execArgv: [], stdio: ["ignore", "ignore", "inherit", "ipc"] });
        this.child.on("message", (message: { event: string; serial?: number }) => {
            this.queue.push(message);
            this.waiter?.();
        });
    }

    get pid(): number {
        return this.child.pid as number;
    }

    /** The next message. */
    async next(): Promise<{ event: string; serial?: number }> {
        const deadline = Date.now() + TIMEOUT_MS;
        while (this.queue.length === 0) {
            if (Date.now() > deadline) {
                throw new Error("a fake Vault process did not answer");
            }
            await new Promise<void>((resolve) => {
                this.waiter = resolve;
                setTimeout(resolve, 50);
            });
        }
        return this.queue.shift() as { event: string; serial?: number };
    }

    /** Every message sent before a ping (signals it got before then included), up to its answer. */
    async drain(): Promise<{ event: string; serial?: number }[]> {
        this.child.send("ping");
        const messages: { event: string; serial?: number }[] = [];
        for (let message = await this.next(); message.event !== "pong"; message = await this.next()) {
            messages.push(message);
        }
        return messages;
    }

    stop(): void {
        this.child.kill("SIGKILL");
    }
}

/** The sidecar's script running under `sh`, its `sleep` talking to the driver through fd 3. */
class Sidecar {
    private readonly child: ChildProcess;
    private readonly requests: number[] = [];
    private buffer = "";
    private exited = false;
    private waiter?: () => void;

    constructor(script: string, env: NodeJS.ProcessEnv, logFd: number) {
        this.child = spawn("sh", ["-c", script], { env, stdio: ["ignore", logFd, logFd, "pipe"], detached: true });
        // A pipe beyond stdio[2] is a duplex socket: the fake sleep writes its request and reads the go-ahead on it.
        const channel = this.child.stdio[3] as unknown as Duplex;
        channel.setEncoding("utf8");
        channel.on("data", (chunk: string) => {
            this.buffer += chunk;
            for (let nl = this.buffer.indexOf("\n"); nl >= 0; nl = this.buffer.indexOf("\n")) {
                this.requests.push(Number(this.buffer.slice(0, nl)));
                this.buffer = this.buffer.slice(nl + 1);
            }
            this.waiter?.();
        });
        this.child.on("exit", () => {
            this.exited = true;
            this.waiter?.();
        });
    }

    /** Waits until the script asks to sleep: the end of a pass. */
    async nextSleep(): Promise<number> {
        const deadline = Date.now() + TIMEOUT_MS;
        while (this.requests.length === 0) {
            if (this.exited || Date.now() > deadline) {
                throw new Error(this.exited ? "the sidecar's script exited" : "the sidecar's script did not reach its sleep");
            }
            await new Promise<void>((resolve) => {
                this.waiter = resolve;
                setTimeout(resolve, 100);
            });
        }
        const seconds = this.requests.shift() as number;
        if (!Number.isInteger(seconds) || seconds <= 0) {
            throw new Error(`the sidecar asked to sleep ${seconds}`);
        }
        return seconds;
    }

    /** Ends its sleep. */
    wake(): void {
        (this.child.stdio[3] as unknown as Duplex).write("\n");
    }

    /** Kills the script and its sleep. */
    stop(): void {
        if (!this.exited && this.child.pid !== undefined) {
            process.kill(-this.child.pid, "SIGKILL");
        }
    }
}

type PodEvent =
    | { readonly at: number; readonly kind: "propagate"; readonly serial: number }
    | { readonly at: number; readonly kind: "sidecar-stop" | "sidecar-start" | "server-restart" };

/** Runs the plan and reports what every server served. The pods share nothing, so each runs on its own clock, all at once. */
export async function simulateYear(plan: YearPlan): Promise<YearReport> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "certificate-year-"));
    try {
        const bin = path.join(root, "bin");
        fs.mkdirSync(bin);
        for (const [name, text] of Object.entries(FAKES)) {
            fs.writeFileSync(path.join(bin, name), text, { mode: 0o755 });
        }
        const fakeVault = path.join(root, "fake-vault.js");
        fs.writeFileSync(fakeVault, FAKE_VAULT);
        const issuedAt: number[] = [];
        for (let at = 0; at <= plan.days * DAY; at += plan.renewEveryDays * DAY) {
            issuedAt.push(at);
        }
        const pods = await Promise.all(plan.pods.map((pod) => simulatePod(plan, pod, { root, bin, fakeVault, issuedAt })));
        return { issuedAt, pods };
    } finally {
        fs.rmSync(root, { recursive: true, force: true });
    }
}

/** One pod's year: its Secret volume, its Vault processes, its sidecar, on its own clock. */
async function simulatePod(
    plan: YearPlan,
    podPlan: PodPlan,
    shared: { readonly root: string; readonly bin: string; readonly fakeVault: string; readonly issuedAt: readonly number[] },
): Promise<PodReport> {
    const { issuedAt } = shared;
    const end = plan.days * DAY;
    const notAfter = (serial: number) => issuedAt[serial] + plan.lifetimeDays * DAY;
    const container = plan.container;
    const script = container.command[2];
    const probe = container.readinessProbe.exec.command[2];
    const interval = Number(container.env.find((e) => e.name === TLS_RELOADER_ENV.interval)?.value);
    const { periodSeconds, failureThreshold } = container.readinessProbe;

    const dir = path.join(shared.root, podPlan.name);
    const mount = path.join(dir, "vault-server-tls");
    fs.mkdirSync(mount, { recursive: true });
    const clockFile = path.join(dir, "clock");
    const setClock = (at: number) => fs.writeFileSync(clockFile, `${EPOCH + at}\n`);
    const paths: Record<string, string> = {
        [TLS_RELOADER_ENV.certFile]: path.join(mount, "tls.crt"),
        [TLS_RELOADER_ENV.keyFile]: path.join(mount, "tls.key"),
        [TLS_RELOADER_ENV.heartbeatFile]: path.join(dir, "heartbeat"),
    };
    const env: NodeJS.ProcessEnv = {
        ...Object.fromEntries(container.env.map((e) => [e.name, paths[e.name] ?? e.value])),
        PATH: `${shared.bin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
        SIM_CLOCK: clockFile,
        SIM_POD: dir,
    };
    const keys: string[] = [];

    /** The kubelet's atomic update of a Secret volume: a new directory, then `..data` swapped. */
    const writeSecret = (serial: number, at: number) => {
        const version = `..${EPOCH + at}.${serial}`;
        const key = randomBytes(16).toString("hex");
        keys.push(key);
        fs.mkdirSync(path.join(mount, version));
        const files = {
            "tls.crt": `-----BEGIN CERTIFICATE-----\nserial=${serial} notAfter=${EPOCH + notAfter(serial)}\n-----END CERTIFICATE-----\n`,
            "tls.key": `-----BEGIN EC PRIVATE KEY-----\nserial=${serial} ${key}\n-----END EC PRIVATE KEY-----\n`,
            "ca.crt": "-----BEGIN CERTIFICATE-----\nexample CA\n-----END CERTIFICATE-----\n",
        };
        for (const [name, text] of Object.entries(files)) {
            fs.writeFileSync(path.join(mount, version, name), text);
        }
        const data = path.join(mount, "..data");
        const old = fs.existsSync(data) ? fs.readlinkSync(data) : undefined;
        fs.symlinkSync(version, path.join(mount, "..data_tmp"));
        fs.renameSync(path.join(mount, "..data_tmp"), data);
        for (const name of Object.keys(files)) {
            if (!fs.existsSync(path.join(mount, name))) {
                fs.symlinkSync(`..data/${name}`, path.join(mount, name));
            }
        }
        if (old !== undefined) {
            fs.rmSync(path.join(mount, old), { recursive: true });
        }
    };

    /** Whether the real probe passes at `at` (run without blocking, so the other pods go on meanwhile). */
    const probePasses = async (at: number): Promise<boolean> => {
        setClock(at);
        const run = spawn("sh", ["-c", probe], { env, stdio: "ignore" });
        const [code] = (await once(run, "exit")) as [number | null];
        return code === 0;
    };

    const events: PodEvent[] = [];
    for (const [serial, at] of issuedAt.entries()) {
        if (serial > 0 && at + podPlan.propagationSeconds <= end) {
            events.push({ at: at + podPlan.propagationSeconds, kind: "propagate", serial });
        }
    }
    for (const down of podPlan.sidecarDown ?? []) {
        events.push({ at: down.from, kind: "sidecar-stop" });
        if (down.until !== undefined) {
            events.push({ at: down.until, kind: "sidecar-start" });
        }
    }
    for (const at of podPlan.serverRestarts ?? []) {
        events.push({ at, kind: "server-restart" });
    }
    events.sort((a, b) => a.at - b.at);
    /** When the next event of these kinds comes (the end of the year, if none does). */
    const next = (...kinds: PodEvent["kind"][]) => Math.min(end, ...events.filter((e) => kinds.includes(e.kind)).map((e) => e.at));

    const logFd = fs.openSync(path.join(dir, "sidecar.log"), "a");
    setClock(0);
    writeSecret(0, 0);
    let server = new FakeVault(shared.fakeVault, "server", mount);
    const bystander = new FakeVault(shared.fakeVault, "status", mount);
    let sidecar: Sidecar | undefined;
    try {
        const served = [{ serial: (await server.next()).serial as number, from: 0 }];
        await bystander.next();
        let serverStartedAt = 0;
        const writePids = () => fs.writeFileSync(path.join(dir, "pids"), `${bystander.pid} ${server.pid}\n`);
        writePids();
        const servedAt = (at: number) => [...served].reverse().find((s) => s.from <= at) as { serial: number };
        const hups: { at: number; afterStart: number }[] = [];
        let bystanderHups = 0;
        const stops: { stoppedAt: number; firesAt: number }[] = [];
        let probeFailuresWhileRunning = 0;
        let passes = 0;
        let wakeAt = 0;
        let changed = false;

        /** Takes in what the fake processes got during the pass that just ended (or at a start). */
        const collect = async (at: number) => {
            const [toServer, toBystander] = await Promise.all([server.drain(), bystander.drain()]);
            for (const message of toServer) {
                hups.push({ at, afterStart: at - serverStartedAt });
                if (message.event === "loaded" && message.serial !== servedAt(at).serial) {
                    served.push({ serial: message.serial as number, from: at });
                }
            }
            bystanderHups += toBystander.filter((m) => m.event === "hup").length;
        };

        /** A pass ended at `at` with the script asking for `seconds`: records it and sets the next wake-up. */
        const afterPass = async (at: number, seconds: number, logBefore: number) => {
            passes++;
            const hupsBefore = hups.length;
            await collect(at);
            const idle = !changed && seconds === interval && hups.length === hupsBefore && fs.fstatSync(logFd).size === logBefore;
            wakeAt = at + seconds;
            if (idle) {
                // The probe at the latest time the real loop's next heartbeat can come, then the jump.
                if (!(await probePasses(at + seconds))) {
                    probeFailuresWhileRunning++;
                }
                const toChange = Math.ceil((next("propagate", "server-restart") - at) / seconds);
                const beforeStop = Math.floor((next("sidecar-stop") - 1 - at) / seconds);
                wakeAt = at + seconds * Math.max(1, Math.min(toChange, beforeStop));
            }
            changed = false;
        };

        const startSidecar = async (at: number) => {
            setClock(at);
            const logBefore = fs.fstatSync(logFd).size;
            sidecar = new Sidecar(script, env, logFd);
            await afterPass(at, await sidecar.nextSleep(), logBefore);
        };

        /** The kubelet's view of a stopped sidecar: the probe on its schedule, until the sidecar is back or the year ends. */
        const watchStopped = async (stoppedAt: number, until: number) => {
            let failures = 0;
            for (let at = stoppedAt + periodSeconds; at < until; at += periodSeconds) {
                failures = (await probePasses(at)) ? 0 : failures + 1;
                if (failures === failureThreshold) {
                    if (at + plan.alertForSeconds < until) {
                        stops.push({ stoppedAt, firesAt: at + plan.alertForSeconds });
                    }
                    return;
                }
            }
        };

        await startSidecar(0);
        for (;;) {
            const event = events[0] as PodEvent | undefined;
            const running = sidecar !== undefined;
            if (event !== undefined && (!running || event.at <= wakeAt)) {
                events.shift();
                setClock(event.at);
                changed = true;
                if (event.kind === "propagate") {
                    writeSecret(event.serial, event.at);
                } else if (event.kind === "sidecar-stop") {
                    sidecar?.stop();
                    sidecar = undefined;
                    await watchStopped(event.at, events.find((e) => e.kind === "sidecar-start")?.at ?? end);
                } else if (event.kind === "sidecar-start") {
                    await startSidecar(event.at);
                } else {
                    server.stop();
                    server = new FakeVault(shared.fakeVault, "server", mount);
                    const loaded = await server.next();
                    serverStartedAt = event.at;
                    if (loaded.serial !== servedAt(event.at).serial) {
                        served.push({ serial: loaded.serial as number, from: event.at });
                    }
                    writePids();
                }
                continue;
            }
            if (!running || wakeAt > end) {
                break;
            }
            const at = wakeAt;
            setClock(at);
            const logBefore = fs.fstatSync(logFd).size;
            (sidecar as Sidecar).wake();
            await afterPass(at, await (sidecar as Sidecar).nextSleep(), logBefore);
        }

        const periods = served.map((s, i) => ({
            serial: s.serial,
            from: s.from,
            to: served[i + 1]?.from ?? end,
            notAfter: notAfter(s.serial),
        }));
        return {
            name: podPlan.name,
            served: periods,
            expired: periods.filter((s) => s.to > s.notAfter),
            reloadLatency: issuedAt.map((at, serial) => {
                const first = periods.find((s) => s.serial >= serial && s.to > at);
                return first === undefined ? undefined : Math.max(first.from, at) - at;
            }),
            hups,
            bystanderHups,
            alerts: stops.map((alert) => ({ ...alert, servedNotAfter: notAfter(servedAt(alert.firesAt).serial) })),
            probeFailuresWhileRunning,
            passes,
            log: fs.readFileSync(path.join(dir, "sidecar.log"), "utf8"),
            keys,
        };
    } finally {
        sidecar?.stop();
        server.stop();
        bystander.stop();
        fs.closeSync(logFd);
    }
}
