/**
 * The bootstrap's Kubernetes adapter against a local HTTP server that answers like the Kubernetes API,
 * through a kubeconfig pointing at it: the requests it makes (paths, label selectors) and what it makes
 * of the answers. It runs in a child process (see tests/support/kubernetesProbe.ts).
 */
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
        server = http.createServer((req, res) => {
            requests.push(decodeURIComponent(req.url ?? ""));
            const url = new URL(req.url ?? "", "http://x");
            const send = (body: unknown) => {
                res.writeHead(200, { "content-type": "application/json" });
                res.end(JSON.stringify(body));
            };
            if (url.pathname === "/api/v1/namespaces/vault/pods") {
                return send({
                    kind: "PodList",
                    apiVersion: "v1",
                    items: [
                        { metadata: { name: "vault-0" }, status: { phase: "Running", containerStatuses: [{ name: "vault", ready: false, state: { running: {} } }] } },
                        { metadata: { name: "vault-1" }, status: { phase: "Pending", containerStatuses: [{ name: "vault", ready: false, state: { waiting: { reason: "ContainerCreating" } } }] } },
                    ],
                });
            }
            if (url.pathname === "/apis/external-secrets.io/v1/clustersecretstores") {
                return send({
                    items: [
                        { metadata: { name: "vault-local" }, status: { conditions: [{ type: "Ready", status: "True" }] } },
                        { metadata: { name: "vault-region2" }, status: { conditions: [{ type: "Ready", status: "False", message: "unable to validate store" }] } },
                    ],
                });
            }
            res.writeHead(404);
            res.end();
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const port = (server.address() as AddressInfo).port;
        kubeconfig = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kubeconfig-")), "config");
        fs.writeFileSync(
            kubeconfig,
            [
                "apiVersion: v1",
                "kind: Config",
                // The current context points nowhere: only the region's own context (test) reaches the server.
                "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:" + port + "', insecure-skip-tls-verify: true}}, {name: nowhere, cluster: {server: 'http://127.0.0.1:1', insecure-skip-tls-verify: true}}]",
                "users: [{name: u, user: {token: not-a-real-token}}]",
                "contexts: [{name: other, context: {cluster: nowhere, user: u}}, {name: test, context: {cluster: c, user: u}}]",
                "current-context: other",
                "",
            ].join("\n"),
        );
    });

    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it("lists the Vault server pods and the project's stores of the region's context, with their state", async () => {
        const output = await new Promise<string>((resolve, reject) =>
            execFile(
                process.execPath,
                ["-r", "ts-node/register/transpile-only", "tests/support/kubernetesProbe.ts"],
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
        });
        expect(requests).toEqual([
            "/api/v1/namespaces/vault/pods?labelSelector=app.kubernetes.io/name=vault,component=server",
            "/apis/external-secrets.io/v1/clustersecretstores?labelSelector=app.kubernetes.io/part-of=openova-vault,app.kubernetes.io/component=secret-store",
        ]);
    }, 60_000);
});
