/**
 * After the replicator changes a secret's path, the ExternalSecrets that read it refresh at once
 * instead of at their next interval: changing any annotation of an ExternalSecret makes ESO reconcile
 * it (ESO's docs, `kubectl annotate es <name> force-sync=$(date +%s) --overwrite`). A merge patch of
 * that annotation, through the Kubernetes API with the pod's own service-account token.
 */
import * as http from "node:http";
import type { ExternalSecretRef } from "./config.ts";
import * as https from "node:https";

export interface KubernetesApi {
    /** `https://<host>:<port>` of the API server. */
    readonly address: string;
    readonly ca: string;
    /** The pod's service-account token (re-read every time: the kubelet rotates it). */
    readonly token: () => string;
}

/** The in-cluster API, from the environment and files every pod has. */
export function inClusterApi(readFile: (path: string) => string): KubernetesApi {
    const host = process.env.KUBERNETES_SERVICE_HOST ?? "kubernetes.default.svc";
    const port = process.env.KUBERNETES_SERVICE_PORT ?? "443";
    const dir = "/var/run/secrets/kubernetes.io/serviceaccount";
    return {
        address: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
        ca: readFile(`${dir}/ca.crt`),
        token: () => readFile(`${dir}/token`).trim(),
    };
}

/** Asks ESO to refresh an ExternalSecret now. @throws with the API's status when it refuses */
export function forceSync(api: KubernetesApi, ref: ExternalSecretRef, nowMs: number): Promise<void> {
    const body = JSON.stringify({ metadata: { annotations: { "force-sync": String(Math.floor(nowMs / 1000)) } } });
    const url = new URL(`/apis/external-secrets.io/v1/namespaces/${ref.namespace}/externalsecrets/${ref.name}`, api.address);
    const send = url.protocol === "https:" ? https.request : http.request;
    return new Promise((resolve, reject) => {
        const request = send(
            url,
            {
                method: "PATCH",
                ...(url.protocol === "https:" ? { ca: api.ca } : {}),
                timeout: 10_000,
                headers: {
                    authorization: `Bearer ${api.token()}`,
                    "content-type": "application/merge-patch+json",
                    "content-length": Buffer.byteLength(body),
                },
            },
            (response) => {
                response.resume();
                response.on("end", () =>
                    (response.statusCode ?? 0) < 300 ? resolve() : reject(new Error(`PATCH ${url.pathname}: HTTP ${response.statusCode}`)),
                );
            },
        );
        request.on("timeout", () => request.destroy(new Error("no answer within 10 s")));
        request.on("error", reject);
        request.end(body);
    });
}
