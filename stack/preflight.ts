/**
 * The program's preflight: before it declares any resource, it reads from the region's cluster what
 * the region needs but does not install (components/region/prerequisites.ts) and stops with one line
 * per missing prerequisite, so a run never changes a cluster in which the Vault servers could not
 * start. A region whose backend is managed runs no Vault servers: it needs only what ESO's stores
 * need, and the cluster's side of its backend's identity is checked where the cluster's API shows it,
 * as warnings (the other half is in the cloud, out of sight).
 *
 * It runs outside Pulumi's resource graph on purpose: the Kubernetes provider has no lookup that
 * tolerates a missing object (a `.get()` of one fails the whole run, and the program cannot catch
 * that), so the reads go through the Kubernetes API client, against the same kubeconfig context as
 * the program's provider.
 */
import * as pulumi from "@pulumi/pulumi";
import { type Prerequisite, prerequisiteFindings, regionPrerequisites } from "../components/region/prerequisites";
import type { RegionConfig } from "./config";
import { KubeconfigError, readObjects } from "./kubernetes";

/** The last line of a failed preflight. */
export const NOTHING_CHANGED = "Nothing was changed: the program stopped before declaring any resource.";

/**
 * Whether the program runs under Pulumi's mock runtime (`pulumi.runtime.setMocks`: the offline synth
 * and the tests), where there is no cluster to check. The SDK has no public test for it (3.276.0; its
 * old `isTestModeEnabled` is gone): `setMocks` installs a `MockMonitor` (`@pulumi/pulumi`
 * runtime/mocks.js) as the resource monitor, and that is the only monitor with `mocks`; a real run's
 * monitor is the engine's gRPC client. Duck-typed rather than `instanceof`, so a second copy of the
 * SDK in `node_modules` is recognised too.
 */
export function underMockRuntime(): boolean {
    const monitor: unknown = pulumi.runtime.getMonitor();
    return typeof monitor === "object" && monitor !== null && "mocks" in monitor && typeof monitor.mocks === "object";
}

/** How the lines name a stack's cluster. */
function where(config: RegionConfig, server?: string): string {
    return `stack "${config.stack}" (kubeconfig context "${config.kubeContext}"${server ? `, ${server}` : ""})`;
}

/**
 * Each missing prerequisite of the stack's region, one line each, read from its cluster; empty when
 * all are there. Every read runs at once.
 */
export async function missingPrerequisites(config: RegionConfig, timeoutMs?: number): Promise<string[]> {
    return (await prerequisiteFindingsOf(config, timeoutMs)).problems;
}

/**
 * What the region's cluster lacks: the missing prerequisites, and apart from them the warnings of the
 * advisory ones (the cluster's side of the backend's identity, components/region/prerequisites.ts).
 * With a managed backend there are no Vault servers, so only what ESO's stores and the identity need
 * is read.
 */
export async function prerequisiteFindingsOf(
    config: RegionConfig,
    timeoutMs?: number,
): Promise<{ readonly problems: string[]; readonly warnings: string[] }> {
    const prerequisites: Prerequisite[] = regionPrerequisites(config.resolved);
    try {
        const { server, results } = await readObjects(
            config.kubeContext,
            prerequisites.map((p) => p.read),
            timeoutMs,
        );
        return prerequisiteFindings(where(config, server), prerequisites, new Map(prerequisites.map((p, i) => [p.id, results[i]])));
    } catch (error) {
        if (error instanceof KubeconfigError) {
            return {
                problems: [
                    `Cannot check the prerequisites of ${where(config)}: ${error.message}. ` +
                        `Fix: add that context to your kubeconfig, or pulumi config set kubeContext <context> -s ${config.stack}`,
                ],
                warnings: [],
            };
        }
        throw error;
    }
}

/**
 * Checks the region's cluster before anything is declared; skipped under the mock runtime. Each
 * warning goes to `warn` (Pulumi's log by default), and the run goes on.
 * @throws pulumi.RunError with one line per missing prerequisite (Pulumi prints it without a stack trace)
 */
export async function preflight(config: RegionConfig, warn: (line: string) => void = (line) => void pulumi.log.warn(line)): Promise<void> {
    if (underMockRuntime()) {
        return;
    }
    const { problems, warnings } = await prerequisiteFindingsOf(config);
    for (const warning of warnings) {
        warn(warning);
    }
    if (problems.length > 0) {
        throw new pulumi.RunError([...problems, NOTHING_CHANGED].join("\n"));
    }
}
