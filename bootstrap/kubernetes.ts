/**
 * The bootstrap's adapter to each region's Kubernetes API (`@kubernetes/client-node`, with the
 * region's kubeconfig context): the Vault server pods, the project's ClusterSecretStores, and a local
 * port-forward to each Vault server, which is how the bootstrap reaches a server that is not behind
 * the ingress yet (or is sealed, and so not Ready behind any Service). Thin on purpose: the decisions
 * are in orchestrator.ts, tested with fakes.
 *
 * The client and the kubeconfig context come from stack/kubernetes.ts, as for the program's preflight.
 */
import * as net from "node:net";
import { engineFacts } from "../components/common/engine";
import { projectLabels } from "../components/common/labels";
import { VAULT_API_PORT } from "../components/vault-server/serverValues";
import type { RegionConfig } from "../stack/config";
import { type K8s, type KubeConfig, kubeConfigFor } from "../stack/kubernetes";
import { missingPrerequisites } from "../stack/preflight";
import type { Cluster, KubeObject, PodStatus, StoreStatus } from "./ports";
import type { Endpoint } from "./vaultHttp";

/** Where one region's cluster and Vault are. */
export interface RegionCluster {
    readonly context: string;
    readonly vaultNamespace: string;
    /** The region's stack config, which decides what the region needs from its cluster. */
    readonly config?: RegionConfig;
}

/**
 * The chart's server pods (`vault-<i>`, labels from hashicorp/vault's StatefulSet; `openbao-<i>`
 * labelled `app.kubernetes.io/name=openbao` by openbao/openbao's), and their server container.
 */
export function serverPods(where: RegionCluster): { selector: string; container: string } {
    const engine = engineFacts(where.config?.resolved.engine);
    return { selector: `app.kubernetes.io/name=${engine.appName},component=server`, container: engine.serverContainer };
}
/** The stores this project declares, by the labels components/labels.ts gives them. */
const PROJECT_STORES = Object.entries(projectLabels("secret-store"))
    .filter(([key]) => key !== "app.kubernetes.io/managed-by")
    .map(([key, value]) => `${key}=${value}`)
    .join(",");

export class KubernetesClusters implements Cluster {
    private readonly forwards = new Map<string, { server: net.Server; url: string }>();

    constructor(private readonly regions: Readonly<Record<string, RegionCluster>>) {}

    private async config(region: string): Promise<{ k8s: K8s; kc: KubeConfig; where: RegionCluster }> {
        const where = this.regions[region];
        if (where === undefined) {
            throw new Error(`region ${region} has no cluster`);
        }
        return { ...(await kubeConfigFor(where.context)), where };
    }

    async vaultPods(region: string): Promise<PodStatus[]> {
        const { k8s, kc, where } = await this.config(region);
        const server = serverPods(where);
        const pods = await kc
            .makeApiClient(k8s.CoreV1Api)
            .listNamespacedPod({ namespace: where.vaultNamespace, labelSelector: server.selector });
        return pods.items.map((pod) => ({
            name: pod.metadata?.name ?? "",
            running:
                pod.status?.phase === "Running" &&
                (pod.status.containerStatuses ?? []).some((c) => c.name === server.container && c.state?.running !== undefined),
        }));
    }

    /** The program's preflight, for the region's stack config. */
    async missingPrerequisites(region: string): Promise<string[]> {
        const config = this.regions[region]?.config;
        if (config === undefined) {
            throw new Error(`region ${region} has no stack config to check its cluster with`);
        }
        return missingPrerequisites(config);
    }

    async stores(region: string): Promise<StoreStatus[]> {
        const { k8s, kc } = await this.config(region);
        const list = (await kc.makeApiClient(k8s.CustomObjectsApi).listClusterCustomObject({
            group: "external-secrets.io",
            version: "v1",
            plural: "clustersecretstores",
            labelSelector: PROJECT_STORES,
        })) as {
            items?: { metadata?: { name?: string }; status?: { conditions?: { type?: string; status?: string; message?: string }[] } }[];
        };
        return (list.items ?? []).map((store) => {
            const ready = store.status?.conditions?.find((c) => c.type === "Ready");
            return { name: store.metadata?.name ?? "", ready: ready?.status === "True", message: ready?.message };
        });
    }

    /** `group/version` and plural of a custom object's kind (the canary's ESO objects). */
    private static resource(object: KubeObject): { group: string; version: string; plural: string } {
        const [group, version] = object.apiVersion.split("/");
        return { group, version, plural: `${object.kind.toLowerCase()}s` };
    }

    async apply(region: string, object: KubeObject): Promise<void> {
        const { k8s, kc } = await this.config(region);
        const api = kc.makeApiClient(k8s.CustomObjectsApi);
        const where = { ...KubernetesClusters.resource(object), namespace: object.metadata.namespace };
        try {
            await api.createNamespacedCustomObject({ ...where, body: object });
        } catch (error) {
            if ((error as { code?: number }).code !== 409) {
                throw error;
            }
            const existing = (await api.getNamespacedCustomObject({ ...where, name: object.metadata.name })) as {
                metadata?: { resourceVersion?: string };
            };
            await api.replaceNamespacedCustomObject({
                ...where,
                name: object.metadata.name,
                body: { ...object, metadata: { ...object.metadata, resourceVersion: existing.metadata?.resourceVersion } },
            });
        }
    }

    async remove(region: string, object: KubeObject): Promise<void> {
        const { k8s, kc } = await this.config(region);
        try {
            await kc.makeApiClient(k8s.CustomObjectsApi).deleteNamespacedCustomObject({
                ...KubernetesClusters.resource(object),
                namespace: object.metadata.namespace,
                name: object.metadata.name,
            });
        } catch (error) {
            if ((error as { code?: number }).code !== 404) {
                throw error;
            }
        }
    }

    async secretValue(region: string, namespace: string, name: string, key: string): Promise<string | undefined> {
        const { k8s, kc } = await this.config(region);
        try {
            const secret = await kc.makeApiClient(k8s.CoreV1Api).readNamespacedSecret({ namespace, name });
            const value = secret.data?.[key];
            return value === undefined ? undefined : Buffer.from(value, "base64").toString("utf8");
        } catch (error) {
            if ((error as { code?: number }).code === 404) {
                return undefined;
            }
            throw error;
        }
    }

    /**
     * A local address forwarded to one Vault server's API port (`kubectl port-forward` does the same).
     * The forward carries bytes, so HTTPS works through it too: the Vault adapter switches the scheme
     * for a region with TLS on, and verifies the server by its pod name, not by this address.
     */
    readonly endpoint: Endpoint = async (region, pod) => {
        const key = `${region}/${pod}`;
        const existing = this.forwards.get(key);
        if (existing !== undefined) {
            return existing.url;
        }
        const { k8s, kc, where } = await this.config(region);
        const forward = new k8s.PortForward(kc);
        const server = net.createServer((socket) => {
            // A write after the pod side closed must not crash the process; and when the pod side
            // closes (or never opens), the local connection ends, so a request fails instead of hanging.
            socket.on("error", () => socket.destroy());
            forward
                .portForward(where.vaultNamespace, pod, [VAULT_API_PORT], socket, null, socket)
                .then((connection: unknown) => {
                    // A WebSocket, or (with retries) a function returning the current one.
                    type Closable = { on(event: "close", listener: () => void): unknown } | null | undefined;
                    const ws = (typeof connection === "function" ? (connection as () => unknown)() : connection) as Closable;
                    ws?.on("close", () => socket.destroy());
                })
                .catch(() => socket.destroy());
        });
        await new Promise<void>((resolve, reject) => {
            server.once("error", reject);
            server.listen(0, "127.0.0.1", resolve);
        });
        const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
        this.forwards.set(key, { server, url });
        return url;
    };

    /** Stops every port-forward. */
    async close(): Promise<void> {
        await Promise.all([...this.forwards.values()].map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve()))));
        this.forwards.clear();
    }
}
