/**
 * Run by tests/kubernetesAdapter.test.ts in a child process (`@kubernetes/client-node` is an ES
 * module, which jest's CommonJS runtime cannot load): asks the bootstrap's Kubernetes adapter for the
 * pods and stores of region `r` (context `test` of $KUBECONFIG) and prints what it got as JSON.
 */
import { KubernetesClusters } from "../../bootstrap/kubernetes";

async function main(): Promise<void> {
    const clusters = new KubernetesClusters({ r: { context: "test", vaultNamespace: "vault" } });
    const [pods, stores] = [await clusters.vaultPods("r"), await clusters.stores("r")];
    process.stdout.write(JSON.stringify({ pods, stores }));
    await clusters.close();
}

main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
});
