/**
 * The token renewer of a region, as pure builders: the Vault policy and Kubernetes auth role it logs
 * in with, the list of accessors it renews, the shell script it runs, and its CronJob. No Pulumi
 * resources here, so tests call them directly (and run the script for real).
 *
 * Every long-lived token a region's Vault issues (`tokenLifetime.ts`) is periodic: it lives as long as
 * something renews it within its period. ESO never renews a token it reads from a Secret (ESO v2.9.0
 * `providers/v1/vault/auth_token.go` only reads it), and the Vault provider renews one only when Pulumi
 * reads it (`pulumi refresh`; terraform-provider-vault v5.8.0 `vault/resource_token.go` `tokenRead`).
 * So a CronJob in the region renews each token by its accessor, with
 * `vault write auth/token/renew-accessor accessor=<accessor>`: the caller needs `update` on that path only, and Vault strips the
 * token from the answer ("The token making the call, not the token associated with the accessor,
 * must have appropriate permissions": https://developer.hashicorp.com/vault/docs/concepts/tokens,
 * "Token accessors"; Vault's `vault/token_store.go` `handleUpdateRenewAccessor`). The job never sees a
 * token it renews.
 */
import type * as k8s from "@pulumi/kubernetes";
import { projectLabels } from "../common/labels";
import { type Engine, ENGINE_FACTS, type EngineFacts, engineFacts, engineImage } from "../common/engine";
import type { CaSecretRef } from "../snapshots/snapshotSpecs";
import { type PolicyDocument, policyText } from "../vault-config/policies";
import type { KubernetesAuthRole } from "../vault-config/setupValues";
import { vaultSecurityContextValues } from "../vault-server/resources";
import { TOKEN_PERIOD_SECONDS, TOKEN_RENEWAL_WARNING_SECONDS } from "./tokenLifetime";

/** Name of the CronJob (and so the prefix of its Jobs and pods), its service account and its ConfigMap. */
export const RENEWER_NAME = "vault-token-renewer";

/**
 * What a run of the renewal script reports through its exit status, so that each alert reads one
 * signal (kube-state-metrics sees only whether a CronJob's Jobs succeed):
 * - `renew` (the CronJob {@link RENEWER_NAME}, every few hours): it fails only when a renewal fails.
 *   A token near its maximum lifetime is renewed like the others and the run succeeds, so the
 *   renewer's alerts never fire for it, and it never hides a real failure of another token.
 * - `lifetime` (the CronJob {@link LIFETIME_CHECK_NAME}, daily): it renews too (the TTL Vault grants
 *   is how it learns how far each token's maximum lifetime is) and fails only when a token is within
 *   the warning of its maximum lifetime: time to rotate it. A failed renewal is the renewer's to report.
 */
export const RENEWAL_MODES = ["renew", "lifetime"] as const;
export type RenewalMode = (typeof RENEWAL_MODES)[number];

/** Name of the CronJob of the daily lifetime check (the script in `lifetime` mode, with the renewer's account and list). */
export const LIFETIME_CHECK_NAME = "vault-token-lifetime";

/** The daily lifetime check's schedule (UTC), away from the renewer's runs and the hourly snapshot. */
export const LIFETIME_CHECK_SCHEDULE = "45 3 * * *";

/** The lifetime check counts as not running (an alert) when it has not been scheduled for this long. */
export const LIFETIME_CHECK_STALE_SECONDS = 2 * 24 * 60 * 60;

/** Name of the Vault policy and the Kubernetes auth role the renewer logs in with. */
export const RENEWER_POLICY = "token-renewer";
export const RENEWER_ROLE = "token-renewer";

/** Audience of the renewer's service-account token: its own, so no other role takes it, and it takes no other's. */
export const RENEWER_AUDIENCE = "vault-token-renewer";

/** The Vault path the renewer calls, and the only one its policy opens (`update`). */
export const RENEW_ACCESSOR_PATH = "auth/token/renew-accessor";

/**
 * How often the renewer runs, in hours. Against the 30-day period, a day without the renewer (a
 * cluster outage, a stuck controller) costs nothing: the next run renews every token for a whole
 * period again, and four missed runs in a row are what it takes to raise the "stalled" alert.
 */
export const RENEWAL_INTERVAL_HOURS = 6;

/** The renewer's schedule (UTC), at half past, away from the hourly snapshot. */
export const RENEWAL_SCHEDULE = `30 */${RENEWAL_INTERVAL_HOURS} * * *`;

/** The renewer counts as stalled (an alert) when it has not succeeded for this long. */
export const RENEWER_STALE_SECONDS = 24 * 60 * 60;

/** How long one run may take, retries included, before Kubernetes stops it. */
export const RENEWER_JOB_DEADLINE_SECONDS = 600;

/** Where the projected service-account token, the accessor list and the CA are mounted. */
export const RENEWER_TOKEN_DIR = "/var/run/secrets/vault-token-renewer";
export const RENEWER_TOKEN_FILE = `${RENEWER_TOKEN_DIR}/token`;
export const RENEWER_ACCESSORS_DIR = "/etc/vault-token-renewer/accessors";
/** The key of the ConfigMap that holds the accessor list, and so the file's name. */
export const RENEWER_ACCESSORS_KEY = "accessors";
export const RENEWER_ACCESSORS_FILE = `${RENEWER_ACCESSORS_DIR}/${RENEWER_ACCESSORS_KEY}`;
export const RENEWER_CA_DIR = "/etc/vault-token-renewer/ca";
export const RENEWER_CA_FILE = `${RENEWER_CA_DIR}/ca.crt`;

/** Lifetime of the projected service-account token (600 s is the shortest Kubernetes issues). */
export const RENEWER_SA_TOKEN_SECONDS = 600;

/** The renewer's Vault policy (JSON): `update` on `auth/token/renew-accessor`, and nothing else. */
export function renewerPolicyDocument(): string {
    const document: PolicyDocument = { path: { [RENEW_ACCESSOR_PATH]: { capabilities: ["update"] } } };
    return policyText(document);
}

/**
 * The renewer's Kubernetes auth role: bound to its one service account in Vault's namespace, its own
 * audience, a 10-minute token (15 at most) with the renewer's policy. Its tokens also keep Vault's
 * built-in `default` policy, which holds `auth/token/revoke-self`, the job's last call.
 */
export function renewerRole(namespace: string): KubernetesAuthRole {
    return {
        roleName: RENEWER_ROLE,
        boundServiceAccountNames: [RENEWER_NAME],
        boundServiceAccountNamespaces: [namespace],
        audience: RENEWER_AUDIENCE,
        tokenTtl: 10 * 60,
        tokenMaxTtl: 15 * 60,
        tokenPolicies: [RENEWER_POLICY],
    };
}

/** The name the renewer logs a peer's token under. */
export function peerTokenName(peer: string): string {
    return `peer-${peer}`;
}

/** The name the renewer logs the metrics token under. */
export const METRICS_TOKEN_NAME = "prometheus-metrics";

/** A token the renewer renews: a name for its log (what the token is for) and its accessor. */
export interface RenewedToken {
    /** Lowercase letters, digits and '-', e.g. `peer-region2` or `prometheus-metrics`. */
    readonly name: string;
    /** The token's accessor (a `vault.Token`'s ID). Not a credential: it cannot authenticate. */
    readonly accessor: string;
}

const TOKEN_NAME = /^[a-z0-9](?:[-a-z0-9]{0,126}[a-z0-9])?$/;
const ACCESSOR = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * The accessor list the renewer reads (its ConfigMap's `accessors` key): one `<name> <accessor>` line
 * per token, sorted by name.
 * @throws Error naming each name or accessor that is not plain (a space or a quote would change the lines)
 */
export function renewalAccessorList(tokens: readonly RenewedToken[]): string {
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const { name, accessor } of tokens) {
        if (!TOKEN_NAME.test(name)) {
            problems.push(`name ${JSON.stringify(name)} is not lowercase letters, digits and '-'`);
        } else if (seen.has(name)) {
            problems.push(`name ${name} is listed twice`);
        }
        seen.add(name);
        if (!ACCESSOR.test(accessor)) {
            problems.push(`the accessor of ${JSON.stringify(name)} is not letters, digits, '.', '_' and '-'`);
        }
    }
    if (problems.length > 0) {
        throw new Error(`token renewer: ${problems.join("; ")}`);
    }
    return [...tokens]
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map(({ name, accessor }) => `${name} ${accessor}\n`)
        .join("");
}

/** What {@link renewalScript} needs. */
export interface RenewalScriptArgs {
    /** Path of the Kubernetes auth mount, e.g. `kubernetes`. */
    readonly authPath: string;
    /** The role to log in as. Default {@link RENEWER_ROLE}. */
    readonly role?: string;
    /** Absolute path of the projected service-account token. Default {@link RENEWER_TOKEN_FILE}. */
    readonly tokenFile?: string;
    /** Absolute path of the accessor list. Default {@link RENEWER_ACCESSORS_FILE}. */
    readonly accessorsFile?: string;
    /** A renewal granting less than this many seconds marks its token near its maximum lifetime. Default {@link TOKEN_RENEWAL_WARNING_SECONDS}. */
    readonly warningSeconds?: number;
    /** The engine, whose CLI (`vault`, `bao`) and token variables the script uses. Default Vault. */
    readonly engine?: EngineFacts;
    /** What the run's exit status reports ({@link RENEWAL_MODES}). Default `renew`. */
    readonly mode?: RenewalMode;
}

const SIMPLE = /^[A-Za-z0-9/_.-]+$/;
const ABSOLUTE = /^\/[A-Za-z0-9/_.-]*$/;

/**
 * The POSIX `sh` script the renewer runs. In order: log in with the projected service-account token;
 * renew every token of the accessor list by its accessor, and log one line per token (its name and
 * how long it is now valid; never a token, never an accessor); revoke its own token whatever happened;
 * then exit by its mode ({@link RENEWAL_MODES}): in `renew` mode, 1 when any renewal failed; in
 * `lifetime` mode, 1 when any renewal granted less than `warningSeconds` (a token within that long of
 * its maximum lifetime: Vault grants only what is left), so that Job fails and its own alert fires
 * while there is time to rotate. Either mode exits 1 when it cannot log in or read its list.
 *
 * Its own Vault token goes where the Vault CLI's default token helper reads it when `VAULT_TOKEN` is
 * unset, `$HOME/.vault-token` (the CLI's `command/base.go` `Client`), on the pod's memory volume, and
 * is cleared at the end: it is in no variable, argument or environment. The script starts no process
 * but `vault` itself. OpenBao's `bao` reads the same file (openbao v2.6.2 `command/token/helper_internal.go`)
 * when neither `BAO_TOKEN` nor `VAULT_TOKEN` is set, so with OpenBao the script unsets both.
 *
 * Every value is checked to be a simple path-like string and written single-quoted, so none can
 * change what the script does.
 * @throws Error naming each value that is not a plain `[A-Za-z0-9/_.-]` string, or a warning out of range.
 */
export function renewalScript(args: RenewalScriptArgs): string {
    const values = {
        authPath: args.authPath,
        role: args.role ?? RENEWER_ROLE,
        tokenFile: args.tokenFile ?? RENEWER_TOKEN_FILE,
        accessorsFile: args.accessorsFile ?? RENEWER_ACCESSORS_FILE,
    };
    const warning = args.warningSeconds ?? TOKEN_RENEWAL_WARNING_SECONDS;
    const mode = args.mode ?? "renew";
    const problems: string[] = [];
    if (!RENEWAL_MODES.includes(mode)) {
        problems.push(`mode ${JSON.stringify(mode)} is not one of ${RENEWAL_MODES.join(", ")}`);
    }
    for (const [name, value] of Object.entries(values)) {
        const pattern = name === "tokenFile" || name === "accessorsFile" ? ABSOLUTE : SIMPLE;
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
    // Above the period, every renewal would fail the run; the warning is whole days, for the log.
    if (!Number.isInteger(warning) || warning < 86_400 || warning % 86_400 !== 0 || warning > TOKEN_PERIOD_SECONDS) {
        problems.push(`warningSeconds ${JSON.stringify(warning)} is not a whole number of days from 1 to the tokens' period`);
    }
    if (problems.length > 0) {
        throw new Error(`token renewal script: ${problems.join("; ")}`);
    }
    // The checks above leave no quote, space or '$' in any value, so single quotes keep each literal.
    const quoted = (value: string) => `'${value}'`;
    const { product, cli, tokenVariables } = args.engine ?? ENGINE_FACTS.vault;
    return `#!/bin/sh
# Renews this region's long-lived ${product} tokens by their accessors (generated by openova-vault).
# It never sees those tokens. Never add 'set -x'.
set -u
umask 077
LC_ALL=C
export LC_ALL

auth_path=${quoted(values.authPath)}
role=${quoted(values.role)}
token_file=${quoted(values.tokenFile)}
accessors_file=${quoted(values.accessorsFile)}
mode=${quoted(mode)}
warning_seconds=${warning}
warning_days=$((warning_seconds / 86400))

log() {
    printf 'token-renewer: %s\\n' "$*"
}

# The job's own ${product} token goes where the ${product} CLI's default token helper reads it when ${tokenVariables.join(" and ")}
# ${tokenVariables.length > 1 ? "are" : "is"} unset. HOME is the pod's memory volume; these files are cleared at the end.
token_store="$HOME/.vault-token"
answer="$HOME/.vault-answer"
said="$HOME/.vault-said"
unset ${tokenVariables.join(" ")}

if [ ! -r "$accessors_file" ]; then
    log "cannot read the accessor list $accessors_file: nothing renewed"
    exit 1
fi

log "logging in to ${product} at auth/$auth_path as role $role"
if ! ${cli} write -field=token "auth/$auth_path/login" "role=$role" "jwt=@$token_file" < /dev/null > "$token_store" || [ ! -s "$token_store" ]; then
    : > "$token_store"
    log "login failed: nothing renewed"
    exit 1
fi

finish() {
    status=$?
    set +e
    trap - EXIT
    if ${cli} token revoke -self < /dev/null > "$answer" 2> "$said"; then
        log "revoked the job's ${product} token"
    else
        log "could not revoke the job's ${product} token; it expires on its own"
    fi
    : > "$token_store"
    : > "$answer"
    : > "$said"
    exit "$status"
}
trap finish EXIT
# Turn a stop into an ordinary exit, so finish still revokes the token.
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

renewed=0
expiring=0
failed=0
while IFS=' ' read -r name accessor rest || [ -n "\${name:-}" ]; do
    case "$name" in
    '' | '#'*) continue ;;
    esac
    case "$name" in
    *[!a-z0-9-]*) name='(unnamed)' ;;
    esac
    case "$accessor" in
    '' | *[!A-Za-z0-9._-]*) accessor= ;;
    esac
    if [ -z "$accessor" ] || [ -n "$rest" ]; then
        log "$name: not a '<name> <accessor>' line in the accessor list: not renewed"
        failed=$((failed + 1))
        continue
    fi
    if ${cli} write -field=token_duration auth/token/renew-accessor "accessor=$accessor" < /dev/null > "$answer" 2> "$said"; then
        ttl=
        # The CLI prints a field without a newline when its output is not a terminal.
        read -r ttl < "$answer" || :
        case "$ttl" in
        '' | *[!0-9]*)
            log "$name: renewed, but ${product}'s answer names no TTL"
            failed=$((failed + 1))
            ;;
        *)
            valid="$((ttl / 86400))d $((ttl % 86400 / 3600))h"
            if [ "$ttl" -lt "$warning_seconds" ]; then
                log "$name: renewed, but valid for $valid only: it reaches its maximum lifetime within $warning_days days. Rotate it now (raise its generation and run pulumi up here, then in the region that uses it)"
                expiring=$((expiring + 1))
            else
                log "$name: renewed, valid for $valid"
                renewed=$((renewed + 1))
            fi
            ;;
        esac
    else
        log "$name: renewal failed; ${product} said:"
        failed=$((failed + 1))
    fi
    while IFS= read -r line || [ -n "$line" ]; do
        if [ -n "$line" ]; then
            log "  $line"
        fi
    done < "$said"
done < "$accessors_file"

log "$renewed renewed, $expiring near their maximum lifetime, $failed failed"
if [ "$mode" = lifetime ]; then
    # The lifetime check reports tokens near their maximum lifetime; failed renewals are the renewer's.
    if [ "$expiring" -gt 0 ]; then
        log "lifetime check: $expiring token(s) within $warning_days days of their maximum lifetime: rotate them"
        exit 1
    fi
    log "lifetime check: no token within $warning_days days of its maximum lifetime"
elif [ "$failed" -gt 0 ]; then
    # The renewer reports failed renewals; a token near its maximum lifetime is the lifetime check's.
    exit 1
fi
`;
}

/**
 * Labels of the renewer's objects; the pods' `app.kubernetes.io/name` lets Vault's NetworkPolicy
 * admit them (both CronJobs' pods), and `app.kubernetes.io/instance` tells the two CronJobs' apart.
 */
export function renewerLabels(mode?: RenewalMode): Record<string, string> {
    return {
        "app.kubernetes.io/name": RENEWER_NAME,
        ...(mode === undefined ? {} : { "app.kubernetes.io/instance": renewalCronJobName(mode) }),
        ...projectLabels("token-renewer"),
    };
}

/** The CronJob that runs the script in `mode`. */
export function renewalCronJobName(mode: RenewalMode): string {
    return mode === "lifetime" ? LIFETIME_CHECK_NAME : RENEWER_NAME;
}

/** What {@link renewerCronJob} needs. */
export interface RenewerCronJobArgs {
    /** Vault's namespace: the job, its service account and its ConfigMap live there. */
    readonly namespace: string;
    /** Path of the Kubernetes auth mount. */
    readonly authPath: string;
    /** Tag of the engine's server image (the servers' tag, so the CLI matches the server). */
    readonly imageTag: string;
    /** The active server in the cluster: `https://vault-active.<namespace>.svc:8200` (`http://` when TLS is off). */
    readonly vaultAddress: string;
    /** The CA that signs Vault's certificate, for an `https` address; only this key is mounted. */
    readonly caSecret?: CaSecretRef;
    /** The engine of the servers, whose image and CLI the job runs. Default `vault`. */
    readonly engine?: Engine;
    /** Which of the two CronJobs: the renewer (default) or the daily lifetime check. */
    readonly mode?: RenewalMode;
}

/** The metadata of the renewer's CronJob, ConfigMap and service account. */
export function renewerMetadata(namespace: string) {
    return { name: RENEWER_NAME, namespace, labels: renewerLabels() } satisfies k8s.types.input.meta.v1.ObjectMeta;
}

/**
 * The `batch/v1` CronJob that renews the tokens, in Vault's namespace, every
 * {@link RENEWAL_INTERVAL_HOURS} hours (UTC); or, with `mode: lifetime`, the daily lifetime check
 * ({@link LIFETIME_CHECK_NAME}, {@link LIFETIME_CHECK_SCHEDULE}), the same pod with the script in
 * that mode. One Job at a time, two retries; the pod runs the Vault
 * CLI from the servers' image as the image's non-root `vault` user with a read-only root filesystem
 * and no capabilities, mounts no default service-account token (it never calls the Kubernetes API),
 * presents a projected token for {@link RENEWER_AUDIENCE} to Vault, and reads the accessor list from
 * the ConfigMap {@link RENEWER_NAME}.
 * @throws Error when the auth path could change what the script does ({@link renewalScript}).
 */
export function renewerCronJob(args: RenewerCronJobArgs) {
    const engine = engineFacts(args.engine);
    const mode = args.mode ?? "renew";
    const script = renewalScript({ authPath: args.authPath, engine, mode });
    const labels = renewerLabels(mode);
    const ca = args.caSecret;
    const volumes = [
        {
            name: "vault-token",
            projected: {
                sources: [
                    { serviceAccountToken: { audience: RENEWER_AUDIENCE, expirationSeconds: RENEWER_SA_TOKEN_SECONDS, path: "token" } },
                ],
            },
        },
        { name: "accessors", configMap: { name: RENEWER_NAME, items: [{ key: RENEWER_ACCESSORS_KEY, path: RENEWER_ACCESSORS_KEY }] } },
        // HOME: the job's Vault token and the CLI's answers, in memory, on a read-only root filesystem.
        { name: "home", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
        ...(ca === undefined ? [] : [{ name: "vault-ca", secret: { secretName: ca.name, items: [{ key: ca.key, path: "ca.crt" }] } }]),
    ];
    const volumeMounts = [
        { name: "vault-token", mountPath: RENEWER_TOKEN_DIR, readOnly: true },
        { name: "accessors", mountPath: RENEWER_ACCESSORS_DIR, readOnly: true },
        { name: "home", mountPath: "/tmp" },
        ...(ca === undefined ? [] : [{ name: "vault-ca", mountPath: RENEWER_CA_DIR, readOnly: true }]),
    ];
    const env = [
        { name: `${engine.envPrefix}ADDR`, value: args.vaultAddress },
        ...(ca === undefined ? [] : [{ name: `${engine.envPrefix}CACERT`, value: RENEWER_CA_FILE }]),
        { name: "HOME", value: "/tmp" },
    ];
    return {
        apiVersion: "batch/v1",
        kind: "CronJob",
        metadata: { name: renewalCronJobName(mode), namespace: args.namespace, labels },
        spec: {
            schedule: mode === "lifetime" ? LIFETIME_CHECK_SCHEDULE : RENEWAL_SCHEDULE,
            // Without it, the schedule is read in the kube-controller-manager's time zone.
            timeZone: "Etc/UTC",
            concurrencyPolicy: "Forbid",
            // A run missed by more than 10 minutes (controller down) is skipped; the next one renews anyway.
            startingDeadlineSeconds: 600,
            successfulJobsHistoryLimit: 1,
            failedJobsHistoryLimit: 3,
            jobTemplate: {
                metadata: { labels },
                spec: {
                    backoffLimit: 2,
                    activeDeadlineSeconds: RENEWER_JOB_DEADLINE_SECONDS,
                    template: {
                        metadata: { labels },
                        spec: {
                            serviceAccountName: RENEWER_NAME,
                            automountServiceAccountToken: false,
                            enableServiceLinks: false,
                            // A failed attempt gets a fresh pod, so its log stays readable.
                            restartPolicy: "Never",
                            securityContext: vaultSecurityContextValues().pod,
                            containers: [
                                {
                                    name: "renew",
                                    image: engineImage(engine, args.imageTag),
                                    imagePullPolicy: "IfNotPresent",
                                    // Replaces the image's entrypoint, which would start a server.
                                    command: ["/bin/sh", "-c", script],
                                    env,
                                    securityContext: { ...vaultSecurityContextValues().container, readOnlyRootFilesystem: true },
                                    resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } },
                                    volumeMounts,
                                },
                            ],
                            volumes,
                        },
                    },
                },
            },
        },
    } satisfies k8s.types.input.batch.v1.CronJob;
}

/** The ConfigMap holding the accessor list (not secret: an accessor cannot authenticate). */
export function renewerConfigMap(namespace: string, accessorList: string) {
    return {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: renewerMetadata(namespace),
        data: { [RENEWER_ACCESSORS_KEY]: accessorList },
    } satisfies k8s.types.input.core.v1.ConfigMap;
}
