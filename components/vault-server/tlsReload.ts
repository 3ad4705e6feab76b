/**
 * Certificates that reload themselves: a sidecar beside each Vault server that sends Vault `SIGHUP`
 * whenever the mounted certificate or key changes, so a certificate cert-manager renews is served
 * within minutes, without a restart (which would seal a Shamir server). Pure builders: the script, its
 * readiness probe and the chart values that run it.
 *
 * Why a sidecar:
 * - Vault 2.0 re-reads `tls_cert_file` and `tls_key_file` only at start and on `SIGHUP` (Vault's TCP
 *   listener documentation marks both "reloads-on-SIGHUP": website/content/docs/configuration/listener/tcp.mdx).
 *   Vault's main branch has a polling reloader of its own (internalshared/listenerutil/tls_reload.go,
 *   commit 9b74f9f), which the 2.0 documentation does not describe, so nothing here relies on it.
 * - The chart updates the StatefulSet `OnDelete` (vault-helm 0.34.1 values.yaml, `server.updateStrategyType`),
 *   so nothing restarts the servers after a renewal, and a restart would seal a Shamir server anyway.
 * - With `server.shareProcessNamespace` the containers of a pod see each other's processes (the chart's
 *   values.yaml says it is there to signal Vault, "e.g. to send a SIGHUP"), and a process may signal
 *   another of the same user without any capability (kill(2)), so the sidecar runs as Vault's user.
 *
 * How the script works (every {@link TLS_RELOAD_INTERVAL_SECONDS} seconds):
 * - It hashes the certificate and key files (content, not inotify: the kubelet updates a mounted
 *   Secret by swapping a `..data` symlink, which a watch on the file paths does not see).
 * - It finds the Vault server process by name (`pidof vault`, as the chart's own preStop hook does)
 *   and keeps only the one started as `vault server`: the readiness probe's `vault status`, run in the
 *   same pod every few seconds, would die of a `SIGHUP`.
 * - It sends `SIGHUP` when the hash differs from the one it last signalled that process for. A server
 *   it has not signalled yet (the sidecar or Vault just started) gets one too, so a renewal that
 *   happened while the sidecar was down is caught up; but only once the process has existed for a
 *   retry interval, because a Go program that receives `SIGHUP` before it installs its handler exits
 *   (Go's os/signal documentation, "Default behavior of signals in Go programs").
 * - After a pass that found Vault and signalled it when needed, it writes the time into a heartbeat
 *   file. Its readiness probe fails once the heartbeat is older than {@link TLS_RELOADER_STALE_SECONDS},
 *   so a sidecar that cannot find or signal Vault, or has hung, turns NotReady, and the alert
 *   `VaultTlsReloaderNotReady` fires weeks before the served certificate would expire.
 *
 * The sidecar runs the Vault image the servers run (its busybox has `sh`, `pidof`, `sha256sum`), opens
 * no port and logs one line per reload (the SHA-256 of `tls.crt`, never the key).
 *
 * OpenBao works the same way: its TCP listener marks `tls_cert_file` and `tls_key_file`
 * "reloads-on-SIGHUP" too (openbao v2.6.2 website/content/docs/configuration/listener/tcp.mdx), its
 * chart has the same `shareProcessNamespace` and `OnDelete` updates, and its Alpine image the same
 * busybox. Only the process is named `bao` (`pidof bao` in the chart's preStop hook), so the script
 * takes the engine's CLI name. A SIGHUP also makes OpenBao re-read its configuration's `audit` stanzas,
 * which are the same on every pass.
 */
import { ENGINE_FACTS, type EngineFacts } from "../common/engine";
import type { VaultSecurityContextValues } from "./resources";
import { VAULT_RUN_AS_GROUP, VAULT_RUN_AS_USER, vaultSecurityContextValues } from "./resources";
import { userconfigVolumeName } from "./seal";
import { tlsMountPath } from "./tls";

/** The sidecar's container name (the alert selects it by this name). */
export const TLS_RELOADER_CONTAINER = "tls-reloader";

/** Seconds between two passes while all is well. */
export const TLS_RELOAD_INTERVAL_SECONDS = 60;

/** Seconds before the next pass after a failed one, or after finding a Vault process it has not signalled yet. */
export const TLS_RELOAD_RETRY_SECONDS = 5;

/** Age of the heartbeat at which the sidecar stops being ready: three missed passes. */
export const TLS_RELOADER_STALE_SECONDS = 3 * TLS_RELOAD_INTERVAL_SECONDS;

/** How often the kubelet runs the readiness probe, and how many failures in a row make the sidecar NotReady. */
export const TLS_RELOADER_PROBE = { periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 5 } as const;

/** The emptyDir holding the heartbeat (the sidecar's root filesystem is read-only). */
export const TLS_RELOADER_STATE_VOLUME = "tls-reloader-state";
export const TLS_RELOADER_STATE_PATH = "/run/tls-reloader";

/** The environment the script and its probe read. */
export const TLS_RELOADER_ENV = {
    certFile: "TLS_CERT_FILE",
    keyFile: "TLS_KEY_FILE",
    heartbeatFile: "HEARTBEAT_FILE",
    interval: "RELOAD_INTERVAL",
    retry: "RETRY_INTERVAL",
    staleAfter: "STALE_AFTER",
} as const;

/**
 * The sidecar's POSIX sh script (run as `sh -c`). Its inputs are the environment
 * ({@link TLS_RELOADER_ENV}), the mounted files, `pidof`, `/proc/<pid>/cmdline`, `date` and `sleep`.
 */
export function tlsReloaderScript(engine: EngineFacts = ENGINE_FACTS.vault): string {
    const env = TLS_RELOADER_ENV;
    const { product, cli } = engine;
    return `# ${TLS_RELOADER_CONTAINER}: sends the ${product} server in this pod SIGHUP when its TLS certificate or key
# changes, so it serves a renewed certificate without a restart.
set -u
cert=\${${env.certFile}:?}
key=\${${env.keyFile}:?}
heartbeat=\${${env.heartbeatFile}:?}
interval=\${${env.interval}:-${TLS_RELOAD_INTERVAL_SECONDS}}
retry=\${${env.retry}:-${TLS_RELOAD_RETRY_SECONDS}}
known_pid=""     # the ${product} server process the last pass found
signalled=""     # the hashes of the certificate and key that process was last sent SIGHUP for
problem=""       # the problem last logged, so that a lasting one is logged once

log() { echo "${TLS_RELOADER_CONTAINER}: $*"; }

report() {
    if [ "$1" != "$problem" ]; then
        log "$1"
        problem=$1
    fi
}

# The ${product} server's pid: a process named ${cli} started with the argument "server". Not a ${cli} CLI
# command (the readiness probe's "${cli} status"), which a SIGHUP would kill.
server_pid() {
    for pid in $(pidof ${cli}); do
        if tr '\\000' '\\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qx server; then
            echo "$pid"
            return 0
        fi
    done
    return 1
}

# One pass. Returns 0 when all is done, 2 to come back after the retry interval, 1 on a problem.
pass() {
    if ! pid=$(server_pid); then
        report "no ${product} server process in this pod (pidof ${cli}); retrying every \${retry}s"
        return 1
    fi
    if ! hashes=$(sha256sum "$cert" "$key" 2>/dev/null); then
        report "cannot read $cert and $key; retrying every \${retry}s"
        return 1
    fi
    if [ "$pid" != "$known_pid" ]; then
        # A server this loop has not signalled: it may have loaded older files than these, so it gets a
        # SIGHUP, but only on the next pass: a Go program exits on a SIGHUP that comes before its handler.
        known_pid=$pid
        signalled=""
        return 2
    fi
    if [ "$hashes" != "$signalled" ]; then
        if ! kill -HUP "$pid" 2>/dev/null; then
            report "cannot send SIGHUP to the ${product} server (pid $pid): the sidecar must run as ${product}'s user, in the pod's shared process namespace"
            return 1
        fi
        signalled=$hashes
        log "sent SIGHUP to the ${product} server (pid $pid): tls.crt sha256 \${hashes%% *}"
    fi
    return 0
}

trap 'exit 0' TERM INT
log "watching $cert and $key every \${interval}s"
while :; do
    pass
    outcome=$?
    if [ "$outcome" -ne 1 ]; then
        if [ -n "$problem" ]; then
            log "working again"
            problem=""
        fi
        date +%s >"$heartbeat.tmp" && mv -f "$heartbeat.tmp" "$heartbeat"
    fi
    if [ "$outcome" -eq 0 ]; then pause=$interval; else pause=$retry; fi
    sleep "$pause" &
    wait $!
done
`;
}

/** The readiness probe's sh script: ready while the heartbeat is at most `STALE_AFTER` seconds old. */
export function tlsReloaderProbeScript(): string {
    const env = TLS_RELOADER_ENV;
    return `beat=$(cat "$${env.heartbeatFile}" 2>/dev/null) || exit 1
case $beat in ''|*[!0-9]*) exit 1 ;; esac
[ "$(( $(date +%s) - beat ))" -le "$${env.staleAfter}" ]
`;
}

/** One container of the pod spec, as the chart's `server.extraContainers` takes it. */
export interface TlsReloaderContainer {
    name: string;
    image: string;
    imagePullPolicy: "IfNotPresent";
    command: string[];
    env: { name: string; value: string }[];
    volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
    readinessProbe: { exec: { command: string[] }; periodSeconds: number; failureThreshold: number; timeoutSeconds: number };
    resources: { requests: { cpu: string; memory: string }; limits: { memory: string } };
    securityContext: VaultSecurityContextValues["container"] & {
        readOnlyRootFilesystem: true;
        runAsNonRoot: true;
        runAsUser: number;
        runAsGroup: number;
    };
}

/** The chart values that run the sidecar: the pod's shared process namespace, the container and its volume. */
export interface TlsReloaderValues {
    shareProcessNamespace: true;
    extraContainers: TlsReloaderContainer[];
    volumes: { name: string; emptyDir: { medium: "Memory"; sizeLimit: string } }[];
}

/**
 * The sidecar for a server whose certificate Secret `secretName` is mounted (by the chart, under
 * {@link tlsMountPath}) with `tls.crt` and `tls.key` at `certFile` and `keyFile`. `image` is the
 * servers' own image. The Secret is mounted into the sidecar too (the chart's `server.volumeMounts`
 * apply to the vault container only), read-only, as a whole directory so that updates reach it.
 */
export function tlsReloaderValues(args: {
    readonly image: string;
    readonly secretName: string;
    readonly certFile: string;
    readonly keyFile: string;
    /** The engine the servers run (default Vault): its process name and where its chart mounts the Secret. */
    readonly engine?: EngineFacts;
}): TlsReloaderValues {
    const engine = args.engine ?? ENGINE_FACTS.vault;
    const env = TLS_RELOADER_ENV;
    const sh = (script: string) => ["/bin/sh", "-c", script];
    return {
        shareProcessNamespace: true,
        extraContainers: [
            {
                name: TLS_RELOADER_CONTAINER,
                image: args.image,
                imagePullPolicy: "IfNotPresent",
                command: sh(tlsReloaderScript(engine)),
                env: [
                    { name: env.certFile, value: args.certFile },
                    { name: env.keyFile, value: args.keyFile },
                    { name: env.heartbeatFile, value: `${TLS_RELOADER_STATE_PATH}/heartbeat` },
                    { name: env.interval, value: String(TLS_RELOAD_INTERVAL_SECONDS) },
                    { name: env.retry, value: String(TLS_RELOAD_RETRY_SECONDS) },
                    { name: env.staleAfter, value: String(TLS_RELOADER_STALE_SECONDS) },
                ],
                volumeMounts: [
                    { name: userconfigVolumeName(args.secretName), mountPath: tlsMountPath(args.secretName, engine), readOnly: true },
                    { name: TLS_RELOADER_STATE_VOLUME, mountPath: TLS_RELOADER_STATE_PATH },
                ],
                readinessProbe: { exec: { command: sh(tlsReloaderProbeScript()) }, ...TLS_RELOADER_PROBE },
                resources: { requests: { cpu: "5m", memory: "8Mi" }, limits: { memory: "32Mi" } },
                // The server's own container context, with a read-only root, and explicitly Vault's
                // user: signalling Vault without a capability needs the same user.
                securityContext: {
                    ...vaultSecurityContextValues().container,
                    readOnlyRootFilesystem: true,
                    runAsNonRoot: true,
                    runAsUser: VAULT_RUN_AS_USER,
                    runAsGroup: VAULT_RUN_AS_GROUP,
                },
            },
        ],
        volumes: [{ name: TLS_RELOADER_STATE_VOLUME, emptyDir: { medium: "Memory", sizeLimit: "1Mi" } }],
    };
}
