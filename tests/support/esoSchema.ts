/**
 * Validates ESO objects against ESO's own JSON schemas (`@kubernetes-models/external-secrets`),
 * Prometheus Operator objects (`monitoring.coreos.com`) against its CRDs' schemas
 * (`@kubernetes-models/prometheus-operator`), and admission policies
 * (`admissionregistration.k8s.io`) against Kubernetes' own OpenAPI schemas (`kubernetes-models`).
 *
 * Those packages are ES modules only, and jest runs this project as CommonJS without Node's
 * experimental VM modules, so its runtime cannot load them. They load in a worker thread instead,
 * which Node runs outside jest's module system: one per test file, started on the first call and
 * stopped after the file's tests. Each call stays synchronous for the tests: it posts the objects and
 * waits on a shared flag until the worker has answered.
 */
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { MessageChannel, type MessagePort, Worker, receiveMessageOnPort } from "node:worker_threads";

const ROOT = path.resolve(__dirname, "..", "..");
/** How long one call may take, the first one loading the schemas included. */
const CALL_TIMEOUT_MS = 60_000;

/** The worker: for each object, "" when its schema accepts it, else the schema's error (or why there is none). */
const WORKER = `
const { workerData } = require("node:worker_threads");
const { signal, port, modules } = workerData;
const packageOf = (group) => modules[group] ?? modules["external-secrets.io"];
port.on("message", async (objects) => {
    let answer;
    try {
        const results = [];
        for (const object of objects) {
            const [group, version] = String(object.apiVersion).split("/");
            try {
                const models = await import(packageOf(group) + group + "/" + version + "/index.js");
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
        answer = { results };
    } catch (error) {
        answer = { error: String(error && error.stack ? error.stack : error) };
    }
    port.postMessage(answer);
    Atomics.store(signal, 0, 1);
    Atomics.notify(signal, 0);
});
`;

interface Validator {
    readonly worker: Worker;
    readonly port: MessagePort;
    readonly signal: Int32Array;
}

let validator: Validator | undefined;

// Registered while the test file is collected (it imports this module), so a worker never outlives its file.
afterAll(async () => {
    const running = validator;
    validator = undefined;
    running?.port.close();
    await running?.worker.terminate();
});

function start(): Validator {
    const url = (dir: string) => `${pathToFileURL(path.join(ROOT, "node_modules", dir)).href}/`;
    const { port1, port2 } = new MessageChannel();
    const signal = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(WORKER, {
        eval: true,
        workerData: {
            signal,
            port: port2,
            modules: {
                "external-secrets.io": url("@kubernetes-models/external-secrets"),
                "monitoring.coreos.com": url("@kubernetes-models/prometheus-operator"),
                "admissionregistration.k8s.io": url("kubernetes-models"),
            },
        },
        transferList: [port2],
    });
    return { worker, port: port1, signal };
}

/** For each object, "" when its schema accepts it, else the schema's error. */
export function validateEsoObjects(objects: readonly object[]): string[] {
    validator ??= start();
    const { port, signal } = validator;
    Atomics.store(signal, 0, 0);
    port.postMessage(objects);
    if (Atomics.wait(signal, 0, 0, CALL_TIMEOUT_MS) === "timed-out") {
        throw new Error(`ESO schema validation did not answer within ${CALL_TIMEOUT_MS / 1000} s`);
    }
    const answer = receiveMessageOnPort(port)?.message as { results?: string[]; error?: string } | undefined;
    if (answer?.results === undefined) {
        throw new Error(`ESO schema validation could not run: ${answer?.error ?? "no answer"}`);
    }
    return answer.results;
}
