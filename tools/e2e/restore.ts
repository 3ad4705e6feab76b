/**
 * The lane's disaster-recovery step, its pure parts: which region it restores, the phases it runs
 * (and where a rerun picks up), the newest snapshot in the snapshot claim, the restore's command line
 * and environment, and what the report says about it. The work itself is in tools/e2e/lane.ts.
 *
 * The step takes a Raft snapshot with the region's own CronJob, copies it out of the claim by hand
 * (the lane's stacks copy nothing off-site; docs/backup-restore.md, "Copy a snapshot out of the
 * cluster by hand"), deletes the region's cluster and makes a new one with the platform the lane gives
 * every cluster, runs `npm run restore` with the copy, and then the lane's checks and propagation again.
 */
import * as path from "node:path";
import { unsealKeysVariable } from "../../bootstrap/restoreCli";
import type { Sensitive } from "../../bootstrap/sensitive";
import { adminTokenVariable } from "../../bootstrap/terminal";
import { SNAPSHOT_CRONJOB_NAME, SNAPSHOT_DIR } from "../../components/snapshots/snapshotSpecs";
import { VAULT_RUN_AS_GROUP, VAULT_RUN_AS_USER } from "../../components/vault-server/resources";
import type { CaseResult } from "./propagation";

/** The phases, in order. */
export const RESTORE_PHASES = ["snapshot", "copy", "recreate", "restore", "checks", "propagation"] as const;
export type RestorePhase = (typeof RESTORE_PHASES)[number];

/** The region the step restores: the last one, so the first region (where the seed's secrets are first created) stays up as its peer. */
export function restoredRegion(regions: readonly string[]): string {
    if (regions.length < 2) {
        throw new Error(`the restore step needs a peer region to stay up; the regions are ${regions.join(", ") || "none"}`);
    }
    return regions[regions.length - 1];
}

/** The Job the step creates from the region's snapshot CronJob. */
export const SNAPSHOT_JOB = `${SNAPSHOT_CRONJOB_NAME}-e2e`;

/** The pod that reads the snapshot claim, as docs/backup-restore.md copies a snapshot by hand. */
export const READER_POD = "snapshot-reader";
export const READER_IMAGE = "busybox:1.37";

/**
 * The reader pod: the claim mounted read-only, and a security context the restricted Pod Security
 * level admits, as the Vault image's user and group, which the snapshot job runs and writes as.
 */
export function readerPod(namespace: string, claimName: string): Record<string, unknown> {
    return {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: READER_POD, namespace },
        spec: {
            restartPolicy: "Never",
            securityContext: {
                runAsNonRoot: true,
                runAsUser: VAULT_RUN_AS_USER,
                runAsGroup: VAULT_RUN_AS_GROUP,
                fsGroup: VAULT_RUN_AS_GROUP,
                seccompProfile: { type: "RuntimeDefault" },
            },
            containers: [
                {
                    name: "reader",
                    image: READER_IMAGE,
                    command: ["sleep", "600"],
                    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                    volumeMounts: [{ name: "snapshots", mountPath: SNAPSHOT_DIR, readOnly: true }],
                },
            ],
            volumes: [{ name: "snapshots", persistentVolumeClaim: { claimName, readOnly: true } }],
        },
    };
}

/** What an earlier run of the step left in its state directory. */
export interface RestoreState {
    /** The copied snapshot's file name, when the copy was made. */
    readonly snapshot?: string;
    /** Whether the region's cluster was deleted and made again (after the copy). */
    readonly recreated: boolean;
}

/**
 * The phases to run. A run that stopped after the copy keeps it (the old cluster may be gone), and
 * one that stopped after the new cluster was made does not make it again: the restore itself picks
 * up where it stopped.
 */
export function restorePlan(state: RestoreState): RestorePhase[] {
    if (state.snapshot === undefined) {
        return [...RESTORE_PHASES];
    }
    return RESTORE_PHASES.filter((phase) => phase !== "snapshot" && phase !== "copy" && !(state.recreated && phase === "recreate"));
}

/** The snapshot job's file names (`vault-<YYYYmmddTHHMMSSZ>.snap`, UTC); `.partial-` files are not snapshots yet. */
const SNAPSHOT_FILE = /^vault-\d{8}T\d{6}Z\.snap$/;

/**
 * The newest snapshot in `ls -1` of the claim: the names carry a UTC stamp, so name order is time
 * order. @returns its file name, or undefined when there is none
 */
export function newestSnapshot(listing: string): string | undefined {
    return listing
        .split("\n")
        .map((line) => line.trim())
        .filter((name) => SNAPSHOT_FILE.test(name))
        .sort()
        .pop();
}

/** `npm run restore`'s arguments for a copy on this machine (an absolute path). */
export function restoreArgs(region: string, snapshotFile: string): string[] {
    if (!path.isAbsolute(snapshotFile)) {
        throw new Error(`the snapshot copy must be an absolute path, not ${snapshotFile}`);
    }
    return ["run", "--silent", "restore", "--", "--stack", region, "--snapshot", `file://${snapshotFile}`, "--non-interactive"];
}

/**
 * The restore's environment: the restored region's original unseal keys, and an admin token for it
 * and for each peer (the lane's root tokens: the snapshot holds the restored region's token store,
 * so its original root token is valid again once the snapshot is in).
 */
export function restoreEnv(
    base: NodeJS.ProcessEnv,
    region: string,
    unsealKeys: readonly Sensitive[],
    tokens: ReadonlyMap<string, Sensitive>,
): NodeJS.ProcessEnv {
    if (unsealKeys.length === 0) {
        throw new Error(`region ${region}: no unseal keys for the restore`);
    }
    if (!tokens.has(region)) {
        throw new Error(`region ${region}: no admin token for the restore`);
    }
    return {
        ...base,
        [unsealKeysVariable(region)]: unsealKeys.map((key) => key.reveal()).join(","),
        ...Object.fromEntries([...tokens].map(([r, token]) => [adminTokenVariable(r), token.reveal()])),
    };
}

/** What the step recorded (its data in the report). */
export interface RestoreData {
    readonly region: string;
    /** Whether `npm run restore` finished (the checks and propagation after it may still have failed). */
    readonly restored: boolean;
    readonly snapshot?: string;
    readonly snapshotBytes?: number;
    /** Seconds per phase this run ran. */
    readonly phases: Readonly<Partial<Record<RestorePhase, number>>>;
    /** Seconds from the old cluster's deletion until `npm run restore` finished: the recovery time here. */
    readonly recoverySeconds?: number;
    /** Problems of the checks and the propagation run again after the restore. */
    readonly checks?: readonly string[];
    readonly propagation?: { readonly cases: number; readonly overBound: number; readonly lost: number; readonly maxMs?: number };
}

/** The propagation after the restore, in brief (its cases are in the step's data too). */
export function propagationBrief(cases: readonly CaseResult[]): NonNullable<RestoreData["propagation"]> {
    const maxima = cases.flatMap((c) => (c.maxMs === undefined ? [] : [c.maxMs]));
    return {
        cases: cases.length,
        overBound: cases.reduce((sum, c) => sum + c.overBound, 0),
        lost: cases.filter((c) => c.failure !== undefined).length,
        ...(maxima.length === 0 ? {} : { maxMs: Math.max(...maxima) }),
    };
}

const secs = (s: number) => `${s.toFixed(1)} s`;

/** The report's section on the restore. */
export function renderRestore(data: RestoreData): string[] {
    const phases = RESTORE_PHASES.filter((p) => data.phases[p] !== undefined).map((p) => `${p} ${secs(data.phases[p] as number)}`);
    const lines = [
        "### Disaster recovery",
        "",
        `Region ${data.region}: ${data.restored ? "restored" : "**not restored**"}` +
            (data.snapshot === undefined
                ? ""
                : ` from ${data.snapshot}${data.snapshotBytes === undefined ? "" : ` (${data.snapshotBytes} bytes)`}`) +
            ", into a new kind cluster, with npm run restore.",
        "",
        `Recovery time, measured by this run from the old cluster's deletion until the restore finished: ${data.recoverySeconds === undefined ? "not measured" : `**${secs(data.recoverySeconds)}**`}.`,
    ];
    if (phases.length > 0) {
        lines.push("", `Phases: ${phases.join(", ")}.`);
    }
    if (data.checks !== undefined) {
        lines.push("", `Checks after the restore: ${data.checks.length === 0 ? "passed" : `**${data.checks.length} problems**`}.`);
    }
    const p = data.propagation;
    if (p !== undefined) {
        lines.push(
            "",
            `Propagation after the restore: ${p.cases} cases, slowest write ${p.maxMs === undefined ? "–" : secs(p.maxMs / 1000)}, ` +
                `${p.overBound} writes over the bound, ${p.lost} cases lost.`,
        );
    }
    return lines;
}
