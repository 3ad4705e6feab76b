/**
 * The project's one way into a cluster's Kubernetes API (`@kubernetes/client-node`): a kubeconfig
 * context loaded as the Kubernetes provider loads it, and plain reads of objects. The stack's
 * preflight reads through it before the program declares anything; the bootstrap's adapter
 * (bootstrap/kubernetes.ts) gets its client here too.
 *
 * `@kubernetes/client-node` is an ES module, so it is loaded with a dynamic import, and only when a
 * cluster is actually read: a program under Pulumi's mock runtime, and the package, never load it.
 */
import type * as K8sModule from "@kubernetes/client-node" with { "resolution-mode": "import" };
import type { ClusterRead, ReadResult } from "../components/region/prerequisites";

export type K8s = typeof K8sModule;
export type KubeConfig = InstanceType<K8s["KubeConfig"]>;

let loaded: Promise<K8s> | undefined;

/** The client module, loaded once. */
export function kubernetesModule(): Promise<K8s> {
    loaded ??= import("@kubernetes/client-node");
    return loaded;
}

/** The kubeconfig cannot be read, or has no such context: nothing in the cluster can be read. */
export class KubeconfigError extends Error {}

/**
 * The kubeconfig as the Pulumi Kubernetes provider reads it for an explicit `context` (every file
 * of `KUBECONFIG`, else `~/.kube/config`), set to that context.
 * @throws KubeconfigError when it cannot be read or has no such context
 */
export async function kubeConfigFor(context: string): Promise<{ k8s: K8s; kc: KubeConfig }> {
    const k8s = await kubernetesModule();
    const kc = new k8s.KubeConfig();
    try {
        kc.loadFromDefault();
    } catch (error) {
        throw new KubeconfigError(`the kubeconfig cannot be read (${error instanceof Error ? error.message : String(error)})`);
    }
    if (kc.getContextObject(context) === null) {
        const known = kc.getContexts().map((c) => c.name);
        throw new KubeconfigError(
            `the kubeconfig has no context "${context}" (${known.length === 0 ? "it has none" : `it has ${known.join(", ")}`}; read from ${process.env.KUBECONFIG ? "KUBECONFIG" : "~/.kube/config"})`,
        );
    }
    kc.setCurrentContext(context);
    return { k8s, kc };
}

/** How long one read may take before the cluster counts as not answering. */
export const READ_TIMEOUT_MS = 30_000;

/**
 * Reads objects of the cluster of a kubeconfig context, all at once and each distinct read once;
 * never writes. A Secret comes back with its keys only (every value empty), so no secret value
 * leaves this function.
 * @returns the API server's address, and each read's result, in the order of `reads`
 * @throws KubeconfigError when the context cannot be used at all
 */
export async function readObjects(
    context: string,
    reads: readonly ClusterRead[],
    timeoutMs = READ_TIMEOUT_MS,
): Promise<{ server: string; results: ReadResult[] }> {
    const { k8s, kc } = await kubeConfigFor(context);
    const server = kc.getCurrentCluster()?.server ?? "";
    const distinct = new Map<string, Promise<ReadResult>>();
    const results = await Promise.all(
        reads.map((read) => {
            const key = JSON.stringify([read.group, read.version, read.resource, read.namespace, read.name]);
            let result = distinct.get(key);
            if (result === undefined) {
                result = timedRead(k8s, kc, read, timeoutMs);
                distinct.set(key, result);
            }
            return result;
        }),
    );
    return { server, results };
}

/** The agent (connection pool) of each request is kept, so that a read that times out can be cut off. */
type Agents = { destroy(): void }[];

/**
 * Per-call client options that keep each request's agent. A request that never gets an answer would
 * otherwise keep its socket, and with it the process, alive after the run has failed.
 */
function keepingAgents(k8s: K8s, agents: Agents) {
    return {
        middlewareMergeStrategy: "append" as const,
        middleware: [
            {
                pre: (context: InstanceType<K8s["RequestContext"]>) => {
                    const agent = context.getAgent();
                    if (agent !== undefined) {
                        agents.push(agent);
                    }
                    return new k8s.Observable(Promise.resolve(context));
                },
                post: (response: InstanceType<K8s["ResponseContext"]>) => new k8s.Observable(Promise.resolve(response)),
            },
        ],
    };
}

function readObject(k8s: K8s, kc: KubeConfig, read: ClusterRead, agents: Agents): Promise<unknown> {
    const { group, version, resource: plural, namespace, name } = read;
    const options = keepingAgents(k8s, agents);
    if (group === "") {
        const core = kc.makeApiClient(k8s.CoreV1Api);
        if (version === "v1" && namespace !== undefined && name !== undefined) {
            if (plural === "secrets") {
                return core.readNamespacedSecret({ namespace, name }, options).then((secret) => ({
                    metadata: { name: secret.metadata?.name, namespace: secret.metadata?.namespace },
                    type: secret.type,
                    data: Object.fromEntries(Object.keys(secret.data ?? {}).map((key) => [key, ""])),
                }));
            }
            if (plural === "persistentvolumeclaims") {
                return core.readNamespacedPersistentVolumeClaim({ namespace, name }, options);
            }
        }
        if (version === "v1" && plural === "nodes" && namespace === undefined && name === undefined) {
            return core.listNode({}, options);
        }
        return Promise.reject(new Error(`reading core ${plural} this way is not supported`));
    }
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    if (name === undefined) {
        return namespace === undefined
            ? custom.listClusterCustomObject({ group, version, plural }, options)
            : custom.listNamespacedCustomObject({ group, version, namespace, plural }, options);
    }
    return namespace === undefined
        ? custom.getClusterCustomObject({ group, version, plural, name }, options)
        : custom.getNamespacedCustomObject({ group, version, namespace, plural, name }, options);
}

/** A read's outcome: the object, missing (404), or why it failed (with the HTTP status when the API answered). */
async function timedRead(k8s: K8s, kc: KubeConfig, read: ClusterRead, timeoutMs: number): Promise<ReadResult> {
    const agents: Agents = [];
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<ReadResult>((resolve) => {
        timer = setTimeout(() => {
            for (const agent of agents) {
                agent.destroy();
            }
            resolve({ status: "failed", message: `no answer within ${timeoutMs / 1000} s` });
        }, timeoutMs);
    });
    const outcome = readObject(k8s, kc, read, agents).then(
        (object): ReadResult => ({ status: "found", object }),
        (error: unknown): ReadResult => {
            const code = (error as { code?: unknown }).code;
            if (typeof code === "number") {
                return code === 404 ? { status: "missing" } : { status: "failed", code, message: statusMessage(error, code) };
            }
            return { status: "failed", message: transportMessage(error) };
        },
    );
    try {
        return await Promise.race([outcome, timeout]);
    } finally {
        clearTimeout(timer);
    }
}

/** The Kubernetes Status message of an API error, else its HTTP status. */
function statusMessage(error: unknown, code: number): string {
    const body = (error as { body?: unknown }).body;
    let parsed: unknown = body;
    if (typeof body === "string") {
        try {
            parsed = JSON.parse(body);
        } catch {
            parsed = undefined;
        }
    }
    const message = (parsed as { message?: unknown } | undefined)?.message;
    return typeof message === "string" && message !== "" ? message : `HTTP ${code}`;
}

/** Why a request got no answer, without the request's URL (e.g. `connect ECONNREFUSED 10.0.0.1:6443`). */
function transportMessage(error: unknown): string {
    const message = error instanceof Error ? error.message : String(error);
    return message.replace(/^request to \S+ failed, reason: /, "");
}
