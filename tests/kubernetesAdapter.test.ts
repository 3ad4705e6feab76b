/**
 * The bootstrap's Kubernetes adapter against a local HTTP server that answers like the Kubernetes API,
 * through a kubeconfig pointing at it: the requests it makes (paths, label selectors) and what it makes
 * of the answers. It runs in a child process (see tests/support/kubernetesProbe.ts).
 */
import { serverPods } from "../bootstrap/kubernetes";
import type { RegionConfig } from "../stack/config";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..");

describe("KubernetesClusters", () => {
    const requests: string[] = [];
    let server: http.Server;
    let kubeconfig: string;

    beforeAll(async () => {
        const objects = new Map<string, { metadata: { resourceVersion?: string } }>();
        server = http.createServer((req, res) => {
            let raw = "";
            req.on("data", (chunk: Buffer) => (raw += chunk.toString()));
            req.on("end", () => respond(req, res, raw));
        });
        const respond = (req: http.IncomingMessage, res: http.ServerResponse, raw: string) => {
            requests.push(`${req.method} ${decodeURIComponent(req.url ?? "")}`);
            const url = new URL(req.url ?? "", "http://x");
            const send = (body: unknown, status = 200) => {
                res.writeHead(status, { "content-type": "application/json" });
                res.end(JSON.stringify(body));
            };
            const notFound = () => send({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 }, 404);
            const collection = "/apis/external-secrets.io/v1/namespaces/eso/externalsecrets";
            if (url.pathname === collection && req.method === "POST") {
                if (objects.has("canary")) {
                    return send({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "AlreadyExists", code: 409 }, 409);
                }
                objects.set("canary", { ...(JSON.parse(raw) as object), metadata: { resourceVersion: "1" } });
                return send(objects.get("canary"), 201);
            }
            if (url.pathname === `${collection}/canary`) {
                const existing = objects.get("canary");
                if (existing === undefined) {
                    return notFound();
                }
                if (req.method === "GET") {
                    return send(existing);
                }
                if (req.method === "PUT") {
                    const body = JSON.parse(raw) as { metadata: { resourceVersion?: string } };
                    return body.metadata.resourceVersion === "1" ? send(body) : send({ code: 409 }, 409);
                }
                if (req.method === "DELETE") {
                    objects.delete("canary");
                    return send({ kind: "Status", status: "Success" });
                }
            }
            if (url.pathname === "/api/v1/namespaces/eso/secrets/canary") {
                return send({
                    kind: "Secret",
                    apiVersion: "v1",
                    metadata: { name: "canary" },
                    data: { value: Buffer.from("canary-value").toString("base64") },
                });
            }
            if (url.pathname === "/api/v1/namespaces/eso/secrets/missing") {
                return notFound();
            }
            if (url.pathname === "/api/v1/namespaces/vault/pods") {
                return send({
                    kind: "PodList",
                    apiVersion: "v1",
                    items: [
                        {
                            metadata: { name: "vault-0" },
                            status: { phase: "Running", containerStatuses: [{ name: "vault", ready: false, state: { running: {} } }] },
                        },
                        {
                            metadata: { name: "vault-1" },
                            status: {
                                phase: "Pending",
                                containerStatuses: [{ name: "vault", ready: false, state: { waiting: { reason: "ContainerCreating" } } }],
                            },
                        },
                    ],
                });
            }
            if (url.pathname === "/apis/external-secrets.io/v1/clustersecretstores") {
                return send({
                    items: [
                        { metadata: { name: "vault-local" }, status: { conditions: [{ type: "Ready", status: "True" }] } },
                        {
                            metadata: { name: "vault-region2" },
                            status: { conditions: [{ type: "Ready", status: "False", message: "unable to validate store" }] },
                        },
                    ],
                });
            }
            res.writeHead(404);
            res.end();
        };
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const port = (server.address() as AddressInfo).port;
        kubeconfig = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kubeconfig-")), "config");
        fs.writeFileSync(
            kubeconfig,
            [
                "apiVersion: v1",
                "kind: Config",
                // The current context points nowhere: only the region's own context (test) reaches the server.
                "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:" +
                    port +
                    "', insecure-skip-tls-verify: true}}, {name: nowhere, cluster: {server: 'http://127.0.0.1:1', insecure-skip-tls-verify: true}}]",
                "users: [{name: u, user: {token: not-a-real-token}}]",
                "contexts: [{name: other, context: {cluster: nowhere, user: u}}, {name: test, context: {cluster: c, user: u}}]",
                "current-context: other",
                "",
            ].join("\n"),
        );
    });

    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it("lists the Vault server pods and the project's stores of the region's context, and creates, replaces, reads and deletes the canary's objects", async () => {
        const output = await new Promise<string>((resolve, reject) =>
            execFile(
                process.execPath,
                ["--import", "tsx", "tests/support/kubernetesProbe.ts"],
                { cwd: ROOT, env: { ...process.env, KUBECONFIG: kubeconfig } },
                (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
            ),
        );
        expect(JSON.parse(output)).toEqual({
            pods: [
                { name: "vault-0", running: true },
                { name: "vault-1", running: false },
            ],
            stores: [
                { name: "vault-local", ready: true },
                { name: "vault-region2", ready: false, message: "unable to validate store" },
            ],
            values: ["canary-value", null],
        });
        expect(requests).toEqual([
            "GET /api/v1/namespaces/vault/pods?labelSelector=app.kubernetes.io/name=vault,component=server",
            "GET /apis/external-secrets.io/v1/clustersecretstores?labelSelector=app.kubernetes.io/part-of=openova-vault,app.kubernetes.io/component=secret-store",
            "POST /apis/external-secrets.io/v1/namespaces/eso/externalsecrets",
            "POST /apis/external-secrets.io/v1/namespaces/eso/externalsecrets",
            "GET /apis/external-secrets.io/v1/namespaces/eso/externalsecrets/canary",
            "PUT /apis/external-secrets.io/v1/namespaces/eso/externalsecrets/canary",
            "GET /api/v1/namespaces/eso/secrets/canary",
            "GET /api/v1/namespaces/eso/secrets/missing",
            "DELETE /apis/external-secrets.io/v1/namespaces/eso/externalsecrets/canary",
            "DELETE /apis/external-secrets.io/v1/namespaces/eso/externalsecrets/canary",
        ]);
    }, 60_000);
});

describe("the server pods of a region", () => {
    it("are selected by the labels, and found running by the container, of the region's engine's chart", () => {
        const where = (engine?: string) => ({
            context: "c",
            vaultNamespace: "vault",
            ...(engine === undefined ? {} : { config: { resolved: { engine } } as unknown as RegionConfig }),
        });
        expect(serverPods(where())).toEqual({ selector: "app.kubernetes.io/name=vault,component=server", container: "vault" });
        expect(serverPods(where("openbao"))).toEqual({ selector: "app.kubernetes.io/name=openbao,component=server", container: "openbao" });
    });
});
