/**
 * The bench's baseline: a program that registers `openova-bench:count` plain resources (ConfigMaps
 * with one small data entry, under one Kubernetes provider) and nothing else. Synthesized under the
 * same runner and mock runtime as the real program, it measures the SDK's own cost per resource, so
 * the bench can report the real program's overhead as a ratio.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

const count = new pulumi.Config("openova-bench").requireNumber("count");
const provider = new k8s.Provider("cluster", { context: pulumi.getStack() });
for (let i = 0; i < count; i++) {
    new k8s.core.v1.ConfigMap(
        `plain-${i}`,
        { metadata: { name: `plain-${i}`, namespace: "bench" }, data: { key: `value-${i}` } },
        { provider },
    );
}
