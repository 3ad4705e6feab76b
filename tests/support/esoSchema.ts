/**
 * Validates ESO objects against ESO's own JSON schemas (`@kubernetes-models/external-secrets`),
 * Prometheus Operator objects (`monitoring.coreos.com`) against its CRDs' schemas
 * (`@kubernetes-models/prometheus-operator`), and admission policies
 * (`admissionregistration.k8s.io`) against Kubernetes' own OpenAPI schemas (`kubernetes-models`).
 *
 * That package is ESM-only and jest runs this project as CommonJS, so the validation runs in a child
 * `node` process as an ES module (`import()` of an ES module from jest's CommonJS runtime fails without
 * Node's experimental VM modules). One call validates many objects, to pay for the process once.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";

const SCRIPT = `
const objects = JSON.parse(await new Promise((resolve) => {
    let text = "";
    process.stdin.on("data", (chunk) => (text += chunk));
    process.stdin.on("end", () => resolve(text));
}));
const results = [];
for (const object of objects) {
    const [group, version] = String(object.apiVersion).split("/");
    try {
        const pkg =
            group === "monitoring.coreos.com"
                ? "@kubernetes-models/prometheus-operator/"
                : group === "admissionregistration.k8s.io"
                  ? "kubernetes-models/"
                  : "@kubernetes-models/external-secrets/";
        const models = await import(pkg + group + "/" + version);
        const Model = models[object.kind];
        if (typeof Model !== "function") {
            results.push(object.apiVersion + " has no kind " + object.kind);
            continue;
        }
        new Model(object).validate();
        results.push("");
    } catch (error) {
        results.push(String(error && error.message ? error.message : error));
    }
}
process.stdout.write(JSON.stringify(results));
`;

/** For each object, "" when ESO's schema accepts it, else the schema's error. */
export function validateEsoObjects(objects: readonly object[]): string[] {
    const result = spawnSync(process.execPath, ["--no-warnings", "--input-type=module", "-e", SCRIPT], {
        cwd: path.resolve(__dirname, "..", ".."),
        input: JSON.stringify(objects),
        encoding: "utf8",
    });
    if (result.status !== 0) {
        throw new Error(`ESO schema validation could not run: ${result.stderr}`);
    }
    return JSON.parse(result.stdout) as string[];
}
