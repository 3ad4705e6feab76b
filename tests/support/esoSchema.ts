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
const answer = (message) => {
    port.postMessage(message);
    Atomics.store(signal, 0, 1);
    Atomics.notify(signal, 0);
};
// A failure outside a request's own try (at startup, say) still answers, so the caller reports it at once.
process.on("uncaughtException", (error) => answer({ error: String(error && error.stack ? error.stack : error) }));
const packageOf = (group) => modules[group] ?? modules["external-secrets.io"];
port.on("message", async (objects) => {
    let message;
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
        message = { results };
    } catch (error) {
        message = { error: String(error && error.stack ? error.stack : error) };
    }
    answer(message);
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
    const { worker, port, signal } = validator;
    port.postMessage(objects);
    // The flag is 0 until the worker answers ("not-equal" at once if it already has, from a failure at its start).
    const waited = Atomics.wait(signal, 0, 0, CALL_TIMEOUT_MS);
    const answer = receiveMessageOnPort(port)?.message as { results?: string[]; error?: string } | undefined;
    Atomics.store(signal, 0, 0);
    if (waited === "timed-out" || answer?.results === undefined) {
        // The next call starts a fresh worker: none reads an answer meant for this one.
        validator = undefined;
        port.close();
        void worker.terminate();
        throw new Error(
            waited === "timed-out"
                ? `ESO schema validation did not answer within ${CALL_TIMEOUT_MS / 1000} s`
                : `ESO schema validation could not run: ${answer?.error ?? "no answer"}`,
        );
    }
    return answer.results;
}
