/**
 * The end-to-end lane's way for the Pulumi Vault provider to reach each region's Vault: a fixed local
 * port per region (the stack's `vaultAddress`, https://127.0.0.1:<port>), forwarded through the
 * Kubernetes API to a Vault server, as `kubectl port-forward` does. Each connection goes to the server
 * that is active then (the chart labels it `vault-active=true`), else to any running server, so a
 * restarted pod does not break the forward. The servers' certificate covers 127.0.0.1
 * (components/vault-server/tls.ts), so the provider verifies it with the region's CA as usual.
 *
 * Peers never take this path: they reach each other through the ingress, as in production.
 */
import * as net from "node:net";
import { VAULT_API_PORT, VAULT_RELEASE_NAME } from "../../components/vault-server/serverValues";
import { kubeConfigFor } from "../../stack/kubernetes";

export interface ForwardTarget {
    readonly region: string;
    readonly context: string;
    readonly namespace: string;
    readonly port: number;
}

/** The chart's server pods, and the one that is active (hashicorp/vault-helm's service registration labels). */
const SERVERS = `app.kubernetes.io/name=${VAULT_RELEASE_NAME},component=server`;

export class VaultForwards {
    private readonly servers: net.Server[] = [];
    private readonly sockets = new Set<net.Socket>();

    /** Starts one local listener per target. @throws when a port is taken */
    async start(targets: readonly ForwardTarget[]): Promise<void> {
        for (const target of targets) {
            const { k8s, kc } = await kubeConfigFor(target.context);
            const core = kc.makeApiClient(k8s.CoreV1Api);
            const forward = new k8s.PortForward(kc);
            const podFor = async (): Promise<string> => {
                const pods = (await core.listNamespacedPod({ namespace: target.namespace, labelSelector: SERVERS })).items;
                const running = pods.filter((pod) => pod.status?.phase === "Running");
                const active = running.find((pod) => pod.metadata?.labels?.["vault-active"] === "true");
                const pick = active ?? running.find((pod) => pod.metadata?.labels?.["vault-sealed"] === "false") ?? running[0];
                if (pick?.metadata?.name === undefined) {
                    throw new Error(`no running Vault server in ${target.region}`);
                }
                return pick.metadata.name;
            };
            const server = net.createServer((socket) => {
                this.sockets.add(socket);
                socket.on("close", () => this.sockets.delete(socket));
                socket.on("error", () => socket.destroy());
                podFor()
                    .then((pod) => forward.portForward(target.namespace, pod, [VAULT_API_PORT], socket, null, socket))
                    .then((connection: unknown) => {
                        type Closable = { on(event: "close", listener: () => void): unknown } | null | undefined;
                        const ws = (typeof connection === "function" ? (connection as () => unknown)() : connection) as Closable;
                        ws?.on("close", () => socket.destroy());
                    })
                    .catch(() => socket.destroy());
            });
            await new Promise<void>((resolve, reject) => {
                server.once("error", (error) =>
                    reject(new Error(`cannot listen on 127.0.0.1:${target.port} for ${target.region}'s Vault: ${error.message}`)),
                );
                server.listen(target.port, "127.0.0.1", resolve);
            });
            this.servers.push(server);
        }
    }

    /** Stops every listener and ends the connections still open. */
    async close(): Promise<void> {
        for (const socket of this.sockets) {
            socket.destroy();
        }
        await Promise.all(this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
        this.servers.length = 0;
    }
}
