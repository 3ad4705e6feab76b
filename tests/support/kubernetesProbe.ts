/**
 * Run by tests/kubernetesAdapter.test.ts in a child process (`@kubernetes/client-node` is an ES
 * module, which jest's CommonJS runtime cannot load): asks the bootstrap's Kubernetes adapter for the
 * pods and stores of region `r` (context `test` of $KUBECONFIG) and prints what it got as JSON.
 */
import { KubernetesClusters } from "../../bootstrap/kubernetes";

async function main(): Promise<void> {
    const clusters = new KubernetesClusters({ r: { context: "test", vaultNamespace: "vault" } });
    const [pods, stores] = [await clusters.vaultPods("r"), await clusters.stores("r")];
    const canary = {
        apiVersion: "external-secrets.io/v1",
        kind: "ExternalSecret",
        metadata: { name: "canary", namespace: "eso" },
        spec: {},
    };
    await clusters.apply("r", canary); // created
    await clusters.apply("r", canary); // exists: replaced
    const values = [await clusters.secretValue("r", "eso", "canary", "value"), await clusters.secretValue("r", "eso", "missing", "value")];
    await clusters.remove("r", canary); // deleted
    await clusters.remove("r", canary); // already gone: fine
    process.stdout.write(JSON.stringify({ pods, stores, values }));
    await clusters.close();
}

main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
});
