/**
 * The bench's baseline: a program that registers `openova-bench:count` plain resources (ConfigMaps
 * with one small data entry, under one Kubernetes provider) and nothing else. Synthesized under the
 * same runner and mock runtime as the real program, it measures the SDK's own cost per resource, so
 * the bench can report the real program's overhead as a ratio.
 *
 * With `openova-bench:peers`, it also reads each peer stack's `view` output through a stack reference,
 * as a region reads its peers', and `openova-bench:runs` says, for what it read (`<peer>=<value or
 * none>`, joined by commas), how many plain resources to declare and what `view` to export for each
 * reader. The bench writes that table from the project's own synth, so the baseline's stacks run
 * exactly as often as the regions they copy, each run declaring as many resources.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export = async () => {
    const config = new pulumi.Config("openova-bench");
    const read: string[] = [];
    for (const peer of config.getObject<string[]>("peers") ?? []) {
        const reference = new pulumi.StackReference(`peer-${peer}`, { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${peer}` });
        const view = (await reference.getOutputDetails("view")).value as Record<string, number> | undefined;
        read.push(`${peer}=${view?.[pulumi.getStack()] ?? "none"}`);
    }
    const run = config.getObject<Record<string, { count: number; view: Record<string, number> }>>("runs")?.[read.join(",")];
    const count = run?.count ?? config.requireNumber("count");
    const provider = new k8s.Provider("cluster", { context: pulumi.getStack() });
    for (let i = 0; i < count; i++) {
        new k8s.core.v1.ConfigMap(
            `plain-${i}`,
            { metadata: { name: `plain-${i}`, namespace: "bench" }, data: { key: `value-${i}` } },
            { provider },
        );
    }
    return { view: run?.view ?? {} };
};
