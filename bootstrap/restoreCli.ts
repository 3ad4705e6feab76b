/**
 * `npm run restore -- --stack <region> --snapshot <uri>`: restores one region's Vault from an off-site
 * Raft snapshot into a fresh cluster and brings the stack and its peers back in line
 * (bootstrap/restore.ts). This module reads the flags and the stack files, checks the machine's
 * prerequisites and, once they are met, hands over to the restore.
 */
import * as path from "node:path";
import type { Engine } from "../components/common/engine";
import { parseConfig } from "../stack/config";
import { ProjectError, readProject, readStackConfig } from "../stack/projectFiles";
import { failWith, parseCommandLine, runCommand } from "./command";
import { KubernetesClusters, type RegionCluster } from "./kubernetes";
import { BOOTSTRAP_DEFAULTS, BootstrapError } from "./orchestrator";
import type { Operator } from "./ports";
import { missingPrerequisites } from "./prerequisites";
import { projectFileReader } from "./projectFileReader";
import { type RestoreOptions, type RestoreReport, managedRestoreProblem, restoreProblems, restoreRegion } from "./restore";
import { Sensitive } from "./sensitive";
import { CliSnapshotSource } from "./snapshotSource";
import { LineProgress, NonInteractiveOperator, TerminalOperator, adminTokenVariable } from "./terminal";
import { type RegionTls, VaultHttpApi } from "./vaultHttp";
import { AutomationWorkspace } from "./workspace";

const USAGE = "usage: npm run restore -- --stack <region> --snapshot <uri> [--peers a,b,...] [--non-interactive] [--pod-timeout S]";

const HELP = `${USAGE}

Restores one region's Vault from an off-site Raft snapshot into a fresh cluster (the old one lost),
with the same unseal keys (Shamir) or the same KMS key (auto-unseal), and brings the stacks back in
line. In this order, each step shown as it runs: reads the snapshot and checks it against the .sha256
beside it; forgets the lost cluster's objects in the stack's state and deploys the Vault servers and
ESO; initializes vault-0 as a temporary Vault and restores the snapshot into it (snapshot restore
-force); unseals every server with the original keys (or waits for the KMS); checks that every server
joined Raft as a voter; runs pulumi up --refresh in the region; runs pulumi up in each peer; waits for
the stores here and at the peers to be Ready. Run it again after a failure: it picks up where it
stopped. docs/backup-restore.md has the whole procedure, the recovery point and time.

OpenBao: in a project whose openova-vault:engine is openbao, everything here applies to OpenBao, by its
own names (pods openbao-<i>, the bao CLI). A new admin token for it comes from another admin token
(bao token create): OpenBao makes no root token from the unseal keys alone.

Options:
      --stack REGION           the region (stack) to restore
      --snapshot URI           the snapshot: s3://<bucket>/<key>, gs://<bucket>/<key>,
                               https://<account>.blob.core.windows.net/<container>/<key>, or
                               file:///<path> (a copy on this machine); read with the aws, gcloud or az
                               CLI and your own credentials
      --peers a,b,...          the regions to run pulumi up in afterwards (default: every other region
                               of Pulumi.yaml; --peers '' for none)
      --non-interactive        no prompts: the original unseal keys come from VAULT_UNSEAL_KEYS_<REGION>
                               (comma-separated, as many as the threshold), the admin tokens from
                               VAULT_TOKEN_<REGION> (region in capitals, other characters as _)
      --pod-timeout S          seconds to wait for the pods, the unseal and Raft (default ${BOOTSTRAP_DEFAULTS.podTimeoutMs / 1000})
  -h, --help                   show this help

It asks for (or reads) the original region's unseal keys (not with auto-unseal) and an admin token of
the restored Vault (a token of the original Vault, such as a root token made with generate-root, is
valid after the restore: the snapshot holds its token store), then one admin token per peer. Key
material is held in memory only. The temporary Vault's keys are never shown: they are worthless once
the snapshot is in.

Exit codes: 0 restored; 1 a prerequisite is missing or a step failed (run it again once fixed);
2 bad arguments.`;

/** The environment variable a non-interactive restore reads a region's original unseal keys from. */
export function unsealKeysVariable(region: string): string {
    return adminTokenVariable(region).replace(/^VAULT_TOKEN_/, "VAULT_UNSEAL_KEYS_");
}

/** Without a terminal: keys and tokens from the environment (the e2e lane's secrets, say). */
export class EnvironmentOperator extends NonInteractiveOperator {
    constructor(
        private readonly env: NodeJS.ProcessEnv = process.env,
        engineOf?: (region: string) => Engine,
    ) {
        super(env, undefined, engineOf);
    }

    override unsealKeys(region: string, threshold: number): Promise<Sensitive[]> {
        const name = unsealKeysVariable(region);
        const keys = (this.env[name] ?? "").split(",").filter((key) => key.trim() !== "");
        if (keys.length < threshold) {
            return Promise.reject(
                new BootstrapError([
                    `region ${region}: set ${name} to ${threshold} of its original unseal keys, comma-separated, and run again`,
                ]),
            );
        }
        return Promise.resolve(keys.map((key) => new Sensitive(key.trim())));
    }
}

export async function main(argv: readonly string[], projectDir = path.resolve(__dirname, "..")): Promise<number> {
    const values = parseCommandLine(
        argv,
        {
            stack: { type: "string" },
            snapshot: { type: "string" },
            peers: { type: "string" },
            "non-interactive": { type: "boolean" },
            "pod-timeout": { type: "string" },
        },
        USAGE,
        HELP,
    );
    if (typeof values === "number") {
        return values;
    }
    if (values.stack === undefined || values.snapshot === undefined) {
        return failWith([`${values.stack === undefined ? "--stack" : "--snapshot"} is required`, USAGE], 2);
    }
    const clusters: Record<string, RegionCluster> = {};
    const tls: Record<string, RegionTls | undefined> = {};
    let options: RestoreOptions;
    try {
        const project = readProject(projectDir);
        const declared = (project.config.regions as { default?: unknown } | undefined)?.default;
        const regions = Array.isArray(declared) ? declared.map(String) : [];
        const podTimeout = values["pod-timeout"] === undefined ? BOOTSTRAP_DEFAULTS.podTimeoutMs / 1000 : Number(values["pod-timeout"]);
        options = {
            region: values.stack,
            snapshot: values.snapshot,
            peers:
                values.peers === undefined
                    ? regions.filter((r) => r !== values.stack)
                    : values.peers
                          .split(",")
                          .map((r) => r.trim())
                          .filter((r) => r !== ""),
            podTimeoutMs: podTimeout * 1000,
            pollMs: BOOTSTRAP_DEFAULTS.pollMs,
        };
        const problems = restoreProblems(options, regions);
        if (!(Number.isInteger(podTimeout) && podTimeout > 0)) {
            problems.push(`--pod-timeout ${values["pod-timeout"]} must be a whole number of seconds above 0`);
        }
        if (problems.length > 0) {
            return failWith([...problems, USAGE], 2);
        }
        for (const region of [options.region, ...options.peers]) {
            const parsed = parseConfig(region, readStackConfig(project, region).config, {
                environment: { VAULT_TOKEN: "checked later" },
                readFile: projectFileReader(projectDir),
            });
            if (!parsed.ok) {
                return failWith(parsed.problems, 1);
            }
            const managed = region === options.region ? managedRestoreProblem(parsed.config) : undefined;
            if (managed !== undefined) {
                return failWith([managed], 1);
            }
            const vaultNamespace = parsed.config.resolved.vault.namespace;
            clusters[region] = { context: parsed.config.kubeContext, vaultNamespace, config: parsed.config };
            tls[region] =
                parsed.config.resolved.vault.tls.source !== "none"
                    ? { ca: parsed.config.vaultCaCert, namespace: vaultNamespace }
                    : undefined;
        }
    } catch (error) {
        if (error instanceof ProjectError || (error instanceof Error && "code" in error)) {
            return failWith([error.message], 1);
        }
        throw error;
    }

    const missing = missingPrerequisites({ contexts: Object.fromEntries(Object.entries(clusters).map(([r, c]) => [r, c.context])) });
    if (missing.length > 0) {
        return failWith([...missing, "nothing was changed; run the restore again once these are in place"], 1);
    }
    const interactive = values["non-interactive"] !== true;
    if (interactive && !(process.stdin.isTTY && process.stdout.isTTY)) {
        return failWith(["no terminal: run it in one, or with --non-interactive (and the keys and tokens in the environment)"], 2);
    }
    const cluster = new KubernetesClusters(clusters);
    const engineOf = (region: string): Engine => clusters[region]?.config?.resolved.engine ?? "vault";
    const operator: Operator = interactive
        ? new TerminalOperator(undefined, undefined, engineOf)
        : new EnvironmentOperator(process.env, engineOf);
    try {
        const report = await restoreRegion(
            {
                workspace: new AutomationWorkspace(projectDir),
                cluster,
                vault: new VaultHttpApi(cluster.endpoint, { tls: (region) => tls[region], engine: engineOf }),
                operator,
                progress: new LineProgress(),
                clock: { sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)), now: () => performance.now() },
                snapshots: new CliSnapshotSource(),
            },
            options,
        );
        console.log(restoreSummary(report).join("\n"));
        return 0;
    } catch (error) {
        const lines = error instanceof BootstrapError ? [...error.lines] : [error instanceof Error ? error.message : String(error)];
        return failWith([...lines, "run the restore again once this is fixed: it picks up where it stopped"], 1);
    } finally {
        await cluster.close();
    }
}

/** What the restore did. */
export function restoreSummary(report: RestoreReport): string[] {
    return [
        "",
        `Region ${report.region}: ${report.restored ? "restored" : "already restored by an earlier run"} from a snapshot of ${report.snapshotBytes} bytes (sha256 ${report.sha256}${report.verified ? ", as written beside it" : ", not checked: no .sha256 beside it"}).`,
        `Raft: ${report.servers.map((s) => `${s.nodeId}${s.leader ? " (leader)" : ""}`).join(", ")}. Stack brought in line (pulumi up --refresh)${report.peersUpdated.length > 0 ? `; peers updated: ${report.peersUpdated.join(", ")}` : ""}; the stores are Ready.`,
        "Writes made in this region after the snapshot are lost here; replicated secrets come back with their home's next push (docs/consistency.md).",
    ];
}

if (require.main === module) {
    runCommand(main);
}
