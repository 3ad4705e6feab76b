/** Labels every Kubernetes object this project declares carries, so `kubectl get -l` finds them. */
export function projectLabels(component: string): Record<string, string> {
    return {
        "app.kubernetes.io/part-of": "openova-vault",
        "app.kubernetes.io/managed-by": "pulumi",
        "app.kubernetes.io/component": component,
    };
}
