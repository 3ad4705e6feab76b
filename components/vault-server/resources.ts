/**
 * What each Vault server gets from its node: CPU and memory (the chart's `server.resources`) and its
 * security context (`server.statefulSet.securityContext`).
 */
import { type z } from "zod";
import { option, options, ruleIssue, text, rules } from "../common/options";
import { isCpuQuantity, isMemoryQuantity, quantityBytes } from "../common/quantities";

/**
 * CPU and memory for each Vault server container. There is deliberately no CPU limit: the kernel
 * enforces a CPU limit by throttling the container for the rest of each scheduling period (CFS
 * quota), which shows up as latency spikes on every request and, worse, as missed Raft heartbeats and
 * needless leader elections. The request alone reserves CPU for scheduling and gives the server its
 * fair share under contention; memory, which cannot be throttled, is limited.
 */
export const resourceOptions = options({
    cpuRequest: option(text(isCpuQuantity).default("500m"), {
        description: "CPU the scheduler reserves for each server. There is no CPU limit: throttling would delay Raft heartbeats.",
        allowed: "a CPU quantity such as 500m, 1 or 2.5",
        example: "500m",
    }),
    memoryRequest: option(text(isMemoryQuantity).default("256Mi"), {
        description: "Memory the scheduler reserves for each server.",
        allowed: "a memory quantity with a unit such as 256Mi, 1Gi or 512M, not more than memoryLimit",
        example: "256Mi",
    }),
    memoryLimit: option(text(isMemoryQuantity).default("1Gi"), {
        description:
            "Memory each server may use before the kernel kills it. An out-of-memory kill seals that server (with Shamir, until an operator unseals it), so leave room for Vault's caches and Raft's memory-mapped database.",
        allowed: "a memory quantity with a unit such as 1Gi, at least memoryRequest",
        example: "1Gi",
    }),
}).check(
    rules((resources, ctx) => {
        if ((quantityBytes(resources.memoryRequest) ?? 0) > (quantityBytes(resources.memoryLimit) ?? Infinity)) {
            ruleIssue(
                ctx,
                ["memoryRequest"],
                `is ${resources.memoryRequest}, more than memoryLimit ${resources.memoryLimit}: raise the limit or lower the request`,
            );
        }
    }),
);

export type VaultResourceOptions = z.input<typeof resourceOptions>;
export type ResolvedVaultResourceOptions = z.output<typeof resourceOptions>;

/** The chart's `server.resources`: a Kubernetes ResourceRequirements. */
export interface VaultResourceValues {
    requests: { cpu: string; memory: string };
    limits: { memory: string };
}

/** `server.resources` for the chart: CPU and memory requests, a memory limit and no CPU limit. */
export function vaultResourceValues(resolved: ResolvedVaultResourceOptions): VaultResourceValues {
    return {
        requests: { cpu: resolved.cpuRequest, memory: resolved.memoryRequest },
        limits: { memory: resolved.memoryLimit },
    };
}

// ---------------------------------------------------------------------------------------------------
// Security context

/** The user the `hashicorp/vault` image runs as (`vault`), and so the owner of existing Raft and audit files. */
export const VAULT_RUN_AS_USER = 100;
/** The group of the image's `vault` user, also the volumes' group (`fsGroup`). */
export const VAULT_RUN_AS_GROUP = 1000;

/** The chart's `server.statefulSet.securityContext`: the pod's and the `vault` container's security contexts. */
export interface VaultSecurityContextValues {
    pod: {
        runAsNonRoot: true;
        runAsUser: number;
        runAsGroup: number;
        fsGroup: number;
        seccompProfile: { type: "RuntimeDefault" };
    };
    container: {
        allowPrivilegeEscalation: false;
        capabilities: { drop: string[] };
    };
}

/**
 * `server.statefulSet.securityContext` for the chart. A non-empty `pod` or `container` here
 * REPLACES the chart's own default for it (the chart renders either these values or its defaults,
 * never both), so this repeats every default explicitly (pod: non-root, uid 100, gid and fsGroup
 * 1000; container: no privilege escalation) and adds:
 * - the runtime's default seccomp profile, which the Pod Security "restricted" level requires;
 * - no Linux capabilities at all. Vault needs none: the chart sets `SKIP_SETCAP` (the image's
 *   entrypoint then does not grant IPC_LOCK) and the configuration disables mlock, and the ports
 *   are above 1024.
 *
 * `readOnlyRootFilesystem` is deliberately not set. The chart's start command copies the server
 * configuration to `/tmp/storageconfig.hcl` and substitutes addresses into it with `sed -i` before
 * starting Vault, and the chart mounts nothing at `/tmp` (its only scratch volume is the `home`
 * emptyDir at `/home/vault`; `/vault/data` and `/vault/audit` are the volumes). With a read-only
 * root filesystem the container would fail before Vault starts. Turning it on needs an emptyDir at
 * `/tmp` through `server.volumes` and `server.volumeMounts` as well.
 */
export function vaultSecurityContextValues(): VaultSecurityContextValues {
    return {
        pod: {
            runAsNonRoot: true,
            runAsUser: VAULT_RUN_AS_USER,
            runAsGroup: VAULT_RUN_AS_GROUP,
            fsGroup: VAULT_RUN_AS_GROUP,
            seccompProfile: { type: "RuntimeDefault" },
        },
        container: {
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["ALL"] },
        },
    };
}
