/**
 * The replicator's process: `node main.ts` in the official Node.js image, with the files of this
 * directory mounted from a ConfigMap and its configuration in `REPLICATOR_CONFIG` (a JSON file the
 * stack writes; see {@link ReplicatorConfig}). It logs in to its region's Vault with Kubernetes auth
 * and to each peer's with a service-account token for that peer's audience, runs the engine, listens
 * for Vault's audit socket, refreshes the ExternalSecrets of what it changed, and serves its metrics.
 * (Its configuration's shape is in config.ts.)
 * SIGTERM stops it after the work under way.
 */
import { readFileSync } from "node:fs";
import * as http from "node:http";
import { hintFor, listenForAudit } from "./audit.ts";
import type { ReplicatorConfig, VaultEndpoint } from "./config.ts";
import { Engine, type EngineCounters } from "./engine.ts";
import { type KubernetesApi, forceSync, inClusterApi } from "./kubernetes.ts";
import { VaultClient } from "./vault.ts";

const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
const readFile = (path: string) => readFileSync(path, "utf8");

/** The metrics, in Prometheus's text format. */
function metrics(engine: Engine | undefined, region: string, up: boolean): string {
    const c: EngineCounters = engine?.counters ?? {
        rounds: 0,
        roundsFailed: 0,
        retriedRounds: 0,
        localWrites: 0,
        received: 0,
        pathWrites: 0,
        pathDeletes: 0,
        offers: 0,
        offersFailed: 0,
        heldBack: 0,
        lastLagMs: 0,
        lastScanMs: 0,
    };
    const lines: [string, string, string, number][] = [
        ["openova_replicator_up", "gauge", "1 while the replicator is logged in to its Vault", up ? 1 : 0],
        ["openova_replicator_rounds_total", "counter", "Rounds completed, one secret each", c.rounds],
        ["openova_replicator_rounds_failed_total", "counter", "Rounds that failed (Vault unreachable or refused)", c.roundsFailed],
        ["openova_replicator_retried_rounds_total", "counter", "Rounds started over because a write came in meanwhile", c.retriedRounds],
        ["openova_replicator_local_writes_total", "counter", "Writes and deletions made in this region's Vault and stamped", c.localWrites],
        ["openova_replicator_received_total", "counter", "Entries taken from a peer", c.received],
        ["openova_replicator_offers_total", "counter", "Offers to peers", c.offers],
        ["openova_replicator_offers_failed_total", "counter", "Offers that failed (peer unreachable or refused)", c.offersFailed],
        ["openova_replicator_held_back_total", "counter", "Received entries held back, stamped too far ahead of this clock", c.heldBack],
        ["openova_replicator_last_lag_seconds", "gauge", "From a received entry's stamp to its write here, last time", c.lastLagMs / 1000],
        ["openova_replicator_last_scan_timestamp_seconds", "gauge", "When the last scan of every secret started", c.lastScanMs / 1000],
    ];
    return lines
        .map(([name, type, help, value]) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name}{region="${region}"} ${value}\n`)
        .join("");
}

function client(endpoint: VaultEndpoint): VaultClient {
    return new VaultClient({
        address: endpoint.address,
        ...(endpoint.caFile === undefined ? {} : { ca: readFile(endpoint.caFile) }),
        login: endpoint.login,
        readFile,
    });
}

async function main(): Promise<void> {
    const path = process.env.REPLICATOR_CONFIG ?? "/etc/openova-replicator/config.json";
    const config = JSON.parse(readFile(path)) as ReplicatorConfig;
    const local = client(config.vault);
    // The engine, once the replicator has logged in and made it.
    const made: { engine?: Engine } = {};
    // Served from the start, so a replicator that cannot log in says so (openova_replicator_up 0).
    const started = Date.now();
    const server = http.createServer((request, response) => {
        if (request.url === "/metrics") {
            const { engine } = made;
            const up = engine !== undefined && !local.loginFailing;
            response.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(metrics(engine, config.region, up));
        } else if (request.url === "/healthz") {
            // Alive while scans keep coming (a stuck process is restarted); while it logs in, the retries are its life.
            const late =
                made.engine !== undefined &&
                Date.now() - Math.max(made.engine.counters.lastScanMs, started) > 3 * config.timing.scanIntervalMs;
            response.writeHead(late ? 503 : 200).end(late ? "scans stopped\n" : "ok\n");
        } else {
            response.writeHead(404).end();
        }
    });
    server.listen(config.metricsPort);
    let actor: string | undefined;
    // The display name Vault records for this replicator's writes; retried until its Vault answers.
    for (let attempt = 0; actor === undefined; attempt++) {
        try {
            actor = await local.displayName();
        } catch (error) {
            log(`logging in to ${config.vault.address} failed: ${(error as Error).message}; retrying`);
            await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 1_000 * 2 ** attempt)));
        }
    }
    const api: KubernetesApi | undefined = config.secrets.some((s) => s.externalSecrets.length > 0)
        ? config.kubernetes === undefined
            ? inClusterApi(readFile)
            : { ...inClusterApi(readFile), address: config.kubernetes.address }
        : undefined;
    const readers = new Map(config.secrets.map((s) => [s.key, s.externalSecrets]));
    const engine = new Engine({
        region: config.region,
        mount: config.mount,
        keys: config.secrets.map((s) => s.key),
        local,
        peers: config.peers.map((peer) => ({ region: peer.region, client: client(peer) })),
        timing: config.timing,
        actor,
        now: Date.now,
        log,
        changed: async (key) => {
            for (const ref of readers.get(key) ?? []) {
                if (api === undefined) break;
                await forceSync(api, ref, Date.now()).catch((error: unknown) =>
                    log(`refreshing ExternalSecret ${ref.namespace}/${ref.name}: ${(error as Error).message}`),
                );
            }
        },
    });
    made.engine = engine;
    engine.start();
    const audit = listenForAudit(config.auditPort, config.mount, (key) => engine.hint(hintFor(key)), log);
    log(
        `replicating ${config.secrets.length} secret(s) of ${config.region} with ${config.peers.map((p) => p.region).join(", ") || "no peer"}, as ${actor}`,
    );
    const stop = () => {
        log("stopping");
        audit.close();
        server.close();
        void engine.stop().then(() => process.exit(0));
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
}

main().catch((error: unknown) => {
    log(`fatal: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
});
