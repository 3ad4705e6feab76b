/**
 * The end-to-end lane's steps (tools/e2e/steps.ts lists them): each drives the real tools (the
 * scripts in scripts/e2e, kind, kubectl, Helm, gpg, the Pulumi CLI and the project's own bootstrap)
 * and returns the problems it found and what it measured. What can be decided without a cluster is in
 * the pure modules beside this one, and tested; this module is what only a machine with Docker runs.
 *
 * Secrets the lane makes (the backend's passphrase, the test values it writes) or decrypts (the
 * unseal keys and root tokens) go through stdin, the environment or memory only, and are masked in a
 * GitHub Actions log before anything could print them.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { KubernetesClusters } from "../../bootstrap/kubernetes";
import { vaultPodNames } from "../../bootstrap/orchestrator";
import { projectFileReader } from "../../bootstrap/projectFileReader";
import { Sensitive } from "../../bootstrap/sensitive";
import { adminTokenVariable } from "../../bootstrap/terminal";
import { VaultHttpApi } from "../../bootstrap/vaultHttp";
import { vaultHost } from "../../components/common/topology";
import { EXTERNAL_SECRETS_CHART, VAULT_CHART, VAULT_IMAGE } from "../../components/common/versions";
import {
    resolvedSnapshots,
    SNAPSHOT_CRONJOB_NAME,
    SNAPSHOT_DIR,
    SNAPSHOT_JOB_DEADLINE_SECONDS,
} from "../../components/snapshots/snapshotSpecs";
import { ingressControllerNamespace } from "../../components/vault-server/networkPolicy";
import { resolvedTls } from "../../components/vault-server/tls";
import { parseConfig, PROJECT, type RegionConfig } from "../../stack/config";
import { readProject, readStackConfig } from "../../stack/projectFiles";
import { CommandError, kubectlJson, mask, run } from "./exec";
import { VaultForwards } from "./forward";
import { decryptBase64, ensureKey, publicKeyBase64 } from "./gpg";
import { CA_CERT_FILE, clusterName, DOCKER_NETWORK, INGRESS_NODE_LABEL, jwksFile, kubeContext, type WorkDir } from "./names";
import {
    bootstrapNeeds,
    canaryResult,
    corefileWithHosts,
    type EncryptedKeys,
    encryptedKeyMaterial,
    issuerOf,
    nodeAddress,
    notReady,
    objectName,
    parseEnvFile,
    readiness,
    secretDigests,
    stackNames,
    VALIDATION_UNKNOWN,
} from "./outputs";
import {
    type CaseResult,
    measureAll,
    propagationProblems,
    type PropagationPorts,
    type SecretEntry,
    type WriteCase,
    writePlan,
    writerRegions,
} from "./propagation";
import {
    newestSnapshot,
    propagationBrief,
    READER_POD,
    readerPod,
    type RestoreData,
    restoreArgs,
    restoreEnv,
    restoredRegion,
    type RestorePhase,
    restorePlan,
    SNAPSHOT_JOB,
} from "./restore";
import { laneOptions, laneStackConfig, type LaneSettings, readLaneSettings, stackFileText } from "./stackFiles";
import { type LaneArgs, SCRIPTS } from "./steps";

/** Unseal key shares and threshold of the lane's Vaults: one PGP key per share. */
export const KEY_SHARES = 3;
export const KEY_THRESHOLD = 2;

/** How often the lane looks again while it waits, and how long it waits for a Vault server. */
const POLL_MS = 1_000;
const SERVER_TIMEOUT_MS = 10 * 60_000;

export interface Lane {
    readonly repo: string;
    readonly work: WorkDir;
    readonly args: LaneArgs;
    readonly settings: LaneSettings;
    /** The environment of every tool the lane runs. */
    readonly env: NodeJS.ProcessEnv;
}

/** What a step found: one line per problem (none: it passed), and what it measured. */
export interface StepOutcome {
    readonly problems: readonly string[];
    readonly data?: Readonly<Record<string, unknown>>;
}

/**
 * The tools' environment: the pinned tools first on PATH, a kubeconfig of the lane's own (kind writes
 * its contexts there, not into yours), and the local Pulumi backend with its passphrase file, set
 * through the environment so that your own `pulumi login` is left as it is.
 */
export function laneEnv(work: WorkDir, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    return {
        ...base,
        PATH: `${work.bin}${path.delimiter}${base.PATH ?? ""}`,
        KUBECONFIG: path.join(work.root, "kubeconfig"),
        PULUMI_BACKEND_URL: `file://${work.backend}`,
        PULUMI_CONFIG_PASSPHRASE_FILE: work.passphraseFile,
        PULUMI_SKIP_UPDATE_CHECK: "true",
    };
}

export function openLane(repo: string, work: WorkDir, args: LaneArgs, base: NodeJS.ProcessEnv): Lane {
    return { repo, work, args, settings: readLaneSettings(repo), env: laneEnv(work, base) };
}

/** The Pulumi CLI version: the SDK's in package.json (they are released together). */
export function pulumiVersion(repo: string): string {
    const pkg = JSON.parse(fs.readFileSync(path.join(repo, "package.json"), "utf8")) as { devDependencies?: Record<string, string> };
    const version = pkg.devDependencies?.["@pulumi/pulumi"];
    if (version === undefined || !/^\d+\.\d+\.\d+$/.test(version)) {
        throw new Error(`package.json pins no exact @pulumi/pulumi version (found ${String(version)})`);
    }
    return version;
}

/** Every version the lane runs with: the pinned tools, and the charts and images the program deploys. */
export function laneVersions(repo: string): Record<string, string> {
    return {
        ...parseEnvFile(fs.readFileSync(path.join(repo, "scripts/e2e/versions.env"), "utf8")),
        PULUMI_CLI: pulumiVersion(repo),
        VAULT_CHART: VAULT_CHART.version,
        EXTERNAL_SECRETS_CHART: EXTERNAL_SECRETS_CHART.version,
    };
}

const bash = (lane: Lane, script: string, args: readonly string[]) =>
    run("bash", [path.join(lane.repo, script), ...args], { env: lane.env, echo: true });

const regionsOf = (lane: Lane) => lane.settings.regions;

/** Each region's validated config, from the lane's project copy. @throws with the config's problems */
function regionConfigs(lane: Lane): RegionConfig[] {
    const project = readProject(lane.work.project);
    return regionsOf(lane).map((region) => {
        const raw = readStackConfig(project, region);
        const parsed = parseConfig(region, raw.config, {
            secretKeys: raw.secretKeys,
            // Whether VAULT_TOKEN is set matters to `pulumi up`, which the lane gives one; not here.
            environment: { VAULT_TOKEN: "given by the lane" },
            readFile: projectFileReader(lane.work.project),
        });
        if (!parsed.ok) {
            throw new Error(parsed.problems.join("\n"));
        }
        return parsed.config;
    });
}

/** The bootstrap's own adapters to the regions' clusters and Vaults (port-forwards, TLS verified with each region's CA). */
function vaultAccess(configs: readonly RegionConfig[]): { cluster: KubernetesClusters; vault: VaultHttpApi } {
    const cluster = new KubernetesClusters(
        Object.fromEntries(
            configs.map((c) => [c.region, { context: c.kubeContext, vaultNamespace: c.resolved.vault.namespace, config: c }]),
        ),
    );
    const tls = new Map(
        configs.map((c) => [
            c.region,
            c.resolved.vault.tls.source === "none" ? undefined : { ca: c.vaultCaCert, namespace: c.resolved.vault.namespace },
        ]),
    );
    return { cluster, vault: new VaultHttpApi(cluster.endpoint, { tls: (region) => tls.get(region) }) };
}

/** Runs `body` while each region's Vault is forwarded to the port of its stack's `vaultAddress`. */
async function withForwards<T>(configs: readonly RegionConfig[], body: () => Promise<T>): Promise<T> {
    const forwards = new VaultForwards();
    try {
        await forwards.start(
            configs.map((c) => ({
                region: c.region,
                context: c.kubeContext,
                namespace: c.resolved.vault.namespace,
                port: Number(new URL(c.vaultAddress).port),
            })),
        );
        return await body();
    } finally {
        await forwards.close();
    }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const keysFile = (lane: Lane, region: string) => path.join(lane.work.keys, `${region}.json`);

function storedKeys(lane: Lane, region: string): EncryptedKeys | undefined {
    const file = keysFile(lane, region);
    return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as EncryptedKeys) : undefined;
}

/** Decrypts one PGP-encrypted value (base64, as Vault returns it) with the lane's keys; masked in an Actions log. */
async function decrypt(lane: Lane, encrypted: string): Promise<Sensitive> {
    const value = await decryptBase64(lane.work.gnupg, encrypted, lane.env);
    mask(value);
    return new Sensitive(value);
}

/** A region's root token, decrypted. @throws when the lane holds no key material for the region */
async function rootToken(lane: Lane, region: string): Promise<Sensitive> {
    const keys = storedKeys(lane, region);
    if (keys === undefined) {
        throw new Error(`no key material for ${region} in ${lane.work.keys}: run the bootstrap step first`);
    }
    return decrypt(lane, keys.rootToken);
}

/** The tools' environment with VAULT_TOKEN set to a region's root token. */
async function withVaultToken(lane: Lane, region: string): Promise<NodeJS.ProcessEnv> {
    return { ...lane.env, VAULT_TOKEN: (await rootToken(lane, region)).reveal() };
}

// ---------------------------------------------------------------------------------------------
// The steps
// ---------------------------------------------------------------------------------------------

async function tools(lane: Lane): Promise<StepOutcome> {
    await bash(lane, SCRIPTS.tools, ["--bin", lane.work.bin, "--pulumi", pulumiVersion(lane.repo)]);
    return { problems: [], data: { versions: laneVersions(lane.repo) } };
}

async function clusters(lane: Lane, regions: readonly string[] = regionsOf(lane)): Promise<StepOutcome> {
    const options = laneOptions(lane.settings, regionsOf(lane)[0]);
    await bash(lane, SCRIPTS.clusters, [
        "create",
        "--network",
        DOCKER_NETWORK,
        // One worker per Vault server: the chart keeps two servers off one node.
        "--workers",
        String(options.vault.replicas),
        "--ingress-label",
        INGRESS_NODE_LABEL,
        // Pulled once, into every node, rather than by every node from Docker Hub.
        "--load",
        `${VAULT_IMAGE.repository}:${options.vault.imageTag}`,
        ...regions.map(clusterName),
    ]);
    return { problems: [], data: { clusters: regions.map(clusterName), workersPerCluster: options.vault.replicas } };
}

async function platform(lane: Lane, regions: readonly string[] = regionsOf(lane)): Promise<StepOutcome> {
    const options = laneOptions(lane.settings, regionsOf(lane)[0]);
    const tls = resolvedTls(options.vault.tls);
    const issuer = tls.enabled && "issuer" in tls ? tls.issuer : undefined;
    if (issuer === undefined || issuer.kind !== "ClusterIssuer") {
        return { problems: ["the lane's stacks must take TLS from cert-manager with a ClusterIssuer (vault.tls), which the lane creates"] };
    }
    const controllerNamespace = ingressControllerNamespace(options.vault.ingressClassName, options.vault.ingressControllerNamespace);
    if (controllerNamespace === undefined) {
        return { problems: [`the lane installs ingress-nginx, but vault.ingressClassName is ${options.vault.ingressClassName}`] };
    }
    await bash(lane, SCRIPTS.ca, [lane.work.ca]);
    await bash(lane, SCRIPTS.platform, [
        "--ca-dir",
        lane.work.ca,
        "--issuer",
        issuer.name,
        "--ingress-class",
        options.vault.ingressClassName,
        "--ingress-namespace",
        controllerNamespace,
        "--ingress-label",
        INGRESS_NODE_LABEL,
        ...regions.map(kubeContext),
    ]);
    return { problems: [] };
}

async function dns(lane: Lane): Promise<StepOutcome> {
    const domain = laneOptions(lane.settings, regionsOf(lane)[0]).domain;
    const entries: { address: string; host: string }[] = [];
    for (const region of regionsOf(lane)) {
        const nodes = await kubectlJson(kubeContext(region), ["get", "nodes", "-l", `${INGRESS_NODE_LABEL}=true`, "-o", "json"], {
            env: lane.env,
        });
        const address = nodeAddress(nodes);
        if (address === undefined) {
            return { problems: [`region ${region}: no node labelled ${INGRESS_NODE_LABEL}=true with an InternalIP`] };
        }
        entries.push({ address, host: vaultHost(region, domain) });
    }
    for (const region of regionsOf(lane)) {
        const context = kubeContext(region);
        const configMap = (await kubectlJson(context, ["-n", "kube-system", "get", "configmap", "coredns", "-o", "json"], {
            env: lane.env,
        })) as {
            data?: Record<string, string>;
        };
        const corefile = corefileWithHosts(configMap.data?.Corefile ?? "", entries);
        await run("kubectl", ["--context", context, "replace", "-f", "-"], {
            env: lane.env,
            input: JSON.stringify({ ...configMap, data: { ...configMap.data, Corefile: corefile } }),
        });
        await run("kubectl", ["--context", context, "-n", "kube-system", "rollout", "restart", "deployment/coredns"], {
            env: lane.env,
            echo: true,
        });
        await run("kubectl", ["--context", context, "-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=180s"], {
            env: lane.env,
            echo: true,
        });
    }
    return { problems: [], data: { hosts: entries } };
}

/** This checkout's files (tracked, and untracked ones Git does not ignore), as the lane deploys them. */
async function checkoutFiles(repo: string): Promise<string[]> {
    const { stdout } = await run("git", ["-C", repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard"]);
    return stdout.split("\0").filter((file) => file !== "" && fs.existsSync(path.join(repo, file)));
}

async function project(lane: Lane): Promise<StepOutcome> {
    const { work, repo } = lane;
    const regions = regionsOf(lane);
    // A copy of the code; the stack files are the lane's. The bootstrap writes into them
    // (vaultInitialized, the passphrase's salt), so an existing one keeps what it wrote.
    const kept = new Map<string, Record<string, unknown>>();
    for (const region of regions) {
        const file = path.join(work.project, `Pulumi.${region}.yaml`);
        if (fs.existsSync(file)) {
            kept.set(region, (parse(fs.readFileSync(file, "utf8")) as Record<string, unknown> | null) ?? {});
        }
    }
    fs.rmSync(work.project, { recursive: true, force: true });
    for (const file of await checkoutFiles(repo)) {
        if (/^Pulumi\.[^/]+\.ya?ml$/.test(file) && file !== "Pulumi.yaml") {
            continue;
        }
        fs.mkdirSync(path.dirname(path.join(work.project, file)), { recursive: true });
        fs.copyFileSync(path.join(repo, file), path.join(work.project, file));
    }
    fs.symlinkSync(path.join(repo, "node_modules"), path.join(work.project, "node_modules"), "dir");
    fs.copyFileSync(path.join(work.ca, "ca.pem"), path.join(work.project, CA_CERT_FILE));

    const issuers: Record<string, string> = {};
    for (const region of regions) {
        const context = kubeContext(region);
        issuers[region] = issuerOf(await kubectlJson(context, ["get", "--raw", "/.well-known/openid-configuration"], { env: lane.env }));
        const jwks = await kubectlJson(context, ["get", "--raw", "/openid/v1/jwks"], { env: lane.env });
        fs.writeFileSync(path.join(work.project, jwksFile(region)), `${JSON.stringify(jwks, null, 2)}\n`);
        const config = laneStackConfig(lane.settings, region, { issuer: issuers[region] });
        const before = kept.get(region);
        const beforeConfig = (before?.config ?? {}) as Record<string, unknown>;
        const initialized = `${PROJECT}:vaultInitialized`;
        if (initialized in beforeConfig) {
            config[initialized] = beforeConfig[initialized];
        }
        const text = stackFileText(region, config);
        const salt = typeof before?.encryptionsalt === "string" ? `encryptionsalt: ${before.encryptionsalt}\n` : "";
        fs.writeFileSync(path.join(work.project, `Pulumi.${region}.yaml`), `${salt}${text}`);
    }
    const configs = regionConfigs(lane);

    // What the platform owns before the program runs: the replicated secrets' namespaces (the program
    // labels them, it does not create them) and each cluster-written secret's source in the regions
    // that write it, so that no PushSecret starts out failing (and backing off) for lack of it.
    const entries = configs[0].resolved.replicatedSecrets as readonly SecretEntry[];
    for (const config of configs) {
        for (const namespace of [...new Set(entries.map((e) => e.namespace))]) {
            await applyObject(lane, config.kubeContext, { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
        }
    }
    const sources: string[] = [];
    for (const c of writePlan(entries, regions).filter((w) => w.mode === "cluster-written")) {
        const context = kubeContext(c.writer);
        const exists = await run("kubectl", ["--context", context, "-n", c.namespace, "get", "secret", c.secret], {
            env: lane.env,
            allowFailure: true,
        });
        if (exists.code !== 0) {
            await writeSecret(lane, c, randomBytes(16).toString("hex"));
        }
        sources.push(`${c.writer}: ${c.namespace}/${c.secret}`);
    }
    return { problems: [], data: { issuers, clusterWrittenSources: sources, stacks: configs.map((c) => c.stack) } };
}

/** Creates or updates an object with server-side apply (no last-applied annotation, which would copy a Secret's data). */
async function applyObject(lane: Lane, context: string, object: Readonly<Record<string, unknown>>): Promise<void> {
    await run("kubectl", ["--context", context, "apply", "--server-side", "--force-conflicts", "--field-manager=openova-e2e", "-f", "-"], {
        env: lane.env,
        input: JSON.stringify(object),
    });
}

/** Writes a cluster-written secret's source Secret in its writer region: every key of the case set to `value`. */
function writeSecret(lane: Lane, c: WriteCase, value: string): Promise<void> {
    return applyObject(lane, kubeContext(c.writer), {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: c.secret, namespace: c.namespace },
        type: "Opaque",
        stringData: Object.fromEntries(c.keys.map((key) => [key, value])),
    });
}

async function backend(lane: Lane): Promise<StepOutcome> {
    const { work } = lane;
    fs.mkdirSync(work.backend, { recursive: true });
    if (!fs.existsSync(work.passphraseFile)) {
        fs.writeFileSync(work.passphraseFile, randomBytes(32).toString("base64url"), { mode: 0o600 });
    }
    mask(fs.readFileSync(work.passphraseFile, "utf8"));
    const version = (await run("pulumi", ["version"], { env: lane.env })).stdout.trim();
    const stacks = stackNames(
        JSON.parse((await run("pulumi", ["stack", "ls", "--all", "--json"], { env: lane.env, cwd: work.project })).stdout),
    );
    return { problems: [], data: { pulumi: version, backend: `file://${work.backend}`, stacks } };
}

/** The operators' key names: one per unseal key share, then the root token's. */
export function operatorKeys(): { readonly name: string; readonly email: string; readonly file: string }[] {
    return [
        ...Array.from({ length: KEY_SHARES }, (_, i) => ({
            name: `openova e2e operator ${i + 1}`,
            email: `operator${i + 1}@e2e.invalid`,
            file: `operator${i + 1}.b64`,
        })),
        { name: "openova e2e root token", email: "root-token@e2e.invalid", file: "root-token.b64" },
    ];
}

async function keys(lane: Lane): Promise<StepOutcome> {
    const { work } = lane;
    fs.mkdirSync(work.gnupg, { recursive: true, mode: 0o700 });
    fs.chmodSync(work.gnupg, 0o700);
    fs.mkdirSync(work.pgp, { recursive: true });
    for (const key of operatorKeys()) {
        await ensureKey(work.gnupg, key.name, key.email, lane.env);
        fs.writeFileSync(path.join(work.pgp, key.file), await publicKeyBase64(work.gnupg, key.email, lane.env));
    }
    return { problems: [], data: { keys: operatorKeys().map((k) => k.email), shares: KEY_SHARES, threshold: KEY_THRESHOLD } };
}

/** Unseals every server of a region with its decrypted keys, vault-0 first; a follower once it has joined Raft. */
async function unsealRegion(lane: Lane, config: RegionConfig, vault: VaultHttpApi): Promise<void> {
    const stored = storedKeys(lane, config.region);
    if (stored === undefined || stored.kind !== "unseal") {
        throw new Error(`region ${config.region}: the lane holds no unseal keys for it (${keysFile(lane, config.region)})`);
    }
    const keys = await Promise.all(stored.keys.slice(0, KEY_THRESHOLD).map((key) => decrypt(lane, key)));
    for (const pod of vaultPodNames(config.resolved.vault.replicas)) {
        const started = Date.now();
        let keysSentAt: number | undefined;
        for (;;) {
            const status = await vault.sealStatus(config.region, pod).catch(() => undefined);
            if (status !== undefined && !status.sealed) {
                break;
            }
            // Sealed: once it reports initialized (a follower only after joining Raft), key by key until it
            // is unsealed or its progress starts over (a follower finishes in the background, so it gets
            // a minute before the keys are sent again).
            const due = keysSentAt === undefined || Date.now() - keysSentAt > 60_000;
            if (status !== undefined && status.initialized && status.t > 0 && due) {
                keysSentAt = Date.now();
                for (const key of keys) {
                    const after = await vault.unseal(config.region, pod, key);
                    if (!after.sealed || after.progress === 0) {
                        break;
                    }
                }
            }
            if (Date.now() - started > SERVER_TIMEOUT_MS) {
                throw new Error(`region ${config.region}: ${pod} is still sealed after ${SERVER_TIMEOUT_MS / 1000} s`);
            }
            await sleep(3 * POLL_MS);
        }
        console.log(`[e2e] ${config.region}: ${pod} unsealed`);
    }
}

/** The fixed arguments of the lane's bootstrap runs. */
export function bootstrapArgs(lane: Pick<Lane, "work">): string[] {
    const files = operatorKeys().map((k) => path.join(lane.work.pgp, k.file));
    return [
        "--non-interactive",
        "--verify",
        // The lane's checks and its `pulumi preview`s and destroy need an admin token afterwards; the
        // clusters are deleted at the end.
        "--keep-root-token",
        "--key-shares",
        String(KEY_SHARES),
        "--key-threshold",
        String(KEY_THRESHOLD),
        "--pgp-keys",
        files.slice(0, KEY_SHARES).join(","),
        "--root-token-pgp-key",
        files[KEY_SHARES],
    ];
}

async function bootstrap(lane: Lane): Promise<StepOutcome> {
    const regions = regionsOf(lane);
    fs.mkdirSync(lane.work.keys, { recursive: true });
    const configs = regionConfigs(lane);
    const { cluster, vault } = vaultAccess(configs);
    const attempts: { seconds: number; code: number; unsealed: string[] }[] = [];
    try {
        return await withForwards(configs, async () => {
            // Each region stops a non-interactive run once: after its init, for keys it cannot decrypt.
            for (let attempt = 1; attempt <= 2 * regions.length + 1; attempt++) {
                const env: NodeJS.ProcessEnv = { ...lane.env };
                for (const region of regions.filter((r) => storedKeys(lane, r) !== undefined)) {
                    env[adminTokenVariable(region)] = (await rootToken(lane, region)).reveal();
                }
                const started = Date.now();
                console.log(`[e2e] bootstrap, run ${attempt}`);
                const result = await run("npm", ["run", "--silent", "bootstrap", "--", ...bootstrapArgs(lane)], {
                    cwd: lane.work.project,
                    env,
                    echo: true,
                    allowFailure: true,
                });
                for (const [region, material] of encryptedKeyMaterial(result.stdout)) {
                    fs.writeFileSync(keysFile(lane, region), JSON.stringify(material), { mode: 0o600 });
                }
                const record = { seconds: Math.round((Date.now() - started) / 1000), code: result.code, unsealed: [] as string[] };
                attempts.push(record);
                if (result.code === 0) {
                    return { problems: [], data: { attempts, canary: canaryResult(result.stdout) } };
                }
                const needs = bootstrapNeeds(`${result.stdout}\n${result.stderr}`);
                const missing = needs.tokens.filter((t) => storedKeys(lane, t.region) === undefined);
                if (needs.unseal.length === 0 || missing.length > 0) {
                    const lines = result.stderr.split("\n").filter((line) => line.startsWith("error: "));
                    return { problems: lines.length > 0 ? lines : [`the bootstrap exited with ${result.code}`], data: { attempts } };
                }
                for (const region of needs.unseal) {
                    await unsealRegion(lane, configs.find((c) => c.region === region) as RegionConfig, vault);
                    record.unsealed.push(region);
                }
            }
            return { problems: [`the bootstrap did not finish in ${2 * regions.length + 1} runs`], data: { attempts } };
        });
    } finally {
        await cluster.close();
    }
}

/** Looks again until `check` finds nothing wrong, or the time is up. @returns the last problems */
async function settle(timeoutMs: number, check: () => Promise<string[]>): Promise<string[]> {
    const started = Date.now();
    for (;;) {
        const problems = await check();
        if (problems.length === 0 || Date.now() - started >= timeoutMs) {
            return problems;
        }
        await sleep(5 * POLL_MS);
    }
}

async function checks(lane: Lane): Promise<StepOutcome> {
    const configs = regionConfigs(lane);
    const { cluster, vault } = vaultAccess(configs);
    try {
        const sealed: string[] = [];
        for (const config of configs) {
            for (const pod of vaultPodNames(config.resolved.vault.replicas)) {
                const status = await vault.sealStatus(config.region, pod);
                if (!status.initialized || status.sealed) {
                    sealed.push(`region ${config.region}: ${pod} is ${status.initialized ? "sealed" : "not initialized"}`);
                }
            }
        }
        // Stores, and what proves them: a local store reports Ready without logging in (ESO cannot
        // check a store whose identity is each namespace's own), so every ExternalSecret and
        // PushSecret must be Ready too.
        const kinds = ["clustersecretstores", "secretstores", "externalsecrets", "pushsecrets"].map((k) => `${k}.external-secrets.io`);
        const unproven: string[] = [];
        const objects = await settle(5 * 60_000, async () => {
            unproven.length = 0;
            const lines: string[] = [];
            for (const config of configs) {
                const found = readiness(
                    await kubectlJson(config.kubeContext, ["get", kinds.join(","), "--all-namespaces", "-o", "json"], { env: lane.env }),
                );
                lines.push(...notReady(config.region, found));
                unproven.push(...found.filter((o) => o.reason === VALIDATION_UNKNOWN).map((o) => `${config.region}: ${objectName(o)}`));
            }
            return lines;
        });
        // The seed's secrets (the committed stacks' own), the same in every region.
        const seeds = (configs[0].resolved.replicatedSecrets as readonly SecretEntry[]).filter((entry) =>
            lane.settings.committedSecrets.some(
                (s) => typeof s === "object" && s !== null && (s as { name?: unknown }).name === entry.name,
            ),
        );
        const seedProblems = await settle(3 * 60_000, async () => {
            const lines: string[] = [];
            for (const seed of seeds) {
                const digests: string[] = [];
                for (const config of configs) {
                    const answer = await run(
                        "kubectl",
                        ["--context", config.kubeContext, "-n", seed.namespace, "get", "secret", seed.name, "-o", "json"],
                        {
                            env: lane.env,
                            allowFailure: true,
                        },
                    );
                    if (answer.code !== 0) {
                        lines.push(`region ${config.region}: Secret ${seed.namespace}/${seed.name} does not exist`);
                        continue;
                    }
                    const found = secretDigests(JSON.parse(answer.stdout));
                    const missing = (seed.keys ?? []).filter((key) => found[key] === undefined);
                    if (missing.length > 0 || Object.keys(found).length === 0) {
                        lines.push(
                            `region ${config.region}: Secret ${seed.namespace}/${seed.name} lacks ${missing.join(", ") || "any key"}`,
                        );
                    }
                    digests.push(JSON.stringify(found));
                }
                if (new Set(digests).size > 1) {
                    lines.push(`Secret ${seed.namespace}/${seed.name} differs between regions`);
                }
            }
            return lines;
        });
        return {
            problems: [...sealed, ...objects, ...seedProblems],
            data: { seeds: seeds.map((s) => `${s.namespace}/${s.name}`), storesWithoutLoginCheck: unproven },
        };
    } finally {
        await cluster.close();
    }
}

async function propagation(lane: Lane): Promise<StepOutcome> {
    const configs = regionConfigs(lane);
    const regions = regionsOf(lane);
    const byRegion = new Map(configs.map((c) => [c.region, c]));
    const entries = configs[0].resolved.replicatedSecrets as readonly SecretEntry[];
    const plan = writePlan(entries, regions);
    const { cluster, vault } = vaultAccess(configs);
    const tokens = new Map<string, Sensitive>();
    for (const region of new Set(plan.filter((c) => c.mode !== "cluster-written").map((c) => c.writer))) {
        tokens.set(region, await rootToken(lane, region));
    }
    const ports: PropagationPorts = {
        write: async (c, value) => {
            if (c.mode === "cluster-written") {
                await writeSecret(lane, c, value);
                return;
            }
            const config = byRegion.get(c.writer) as RegionConfig;
            const data = Object.fromEntries(c.keys.map((key) => [key, value]));
            await vault.kvPut(c.writer, tokens.get(c.writer) as Sensitive, config.resolved.kvMount, c.remoteKey, data);
        },
        holds: async (region, c, value) => {
            for (const key of c.keys) {
                if ((await cluster.secretValue(region, c.namespace, c.secret, key)) !== value) {
                    return false;
                }
            }
            return true;
        },
        newValue: () => randomBytes(16).toString("hex"),
        now: () => Date.now(),
        sleep,
    };
    try {
        const results = await measureAll(ports, plan, {
            writes: lane.args.writes,
            pollMs: POLL_MS,
            timeoutMs: (c) => (c.bound === undefined ? 10 * 60_000 : Math.max(3 * c.bound.ms, 5 * 60_000)),
        });
        return {
            problems: propagationProblems(results),
            data: {
                writes: lane.args.writes,
                pollMs: POLL_MS,
                writers: Object.fromEntries(entries.map((e) => [e.name, writerRegions(e, regions)])),
                cases: results,
            },
        };
    } finally {
        await cluster.close();
    }
}

/** `pulumi preview` of every region (with a Vault token and the forwards), collecting failures. */
async function previewEach(lane: Lane, extra: readonly string[]): Promise<StepOutcome> {
    const configs = regionConfigs(lane);
    const problems: string[] = [];
    await withForwards(configs, async () => {
        for (const config of configs) {
            const result = await run("pulumi", ["preview", "--stack", config.stack, "--non-interactive", "--diff", ...extra], {
                cwd: lane.work.project,
                env: await withVaultToken(lane, config.region),
                echo: true,
                allowFailure: true,
            });
            if (result.code !== 0) {
                problems.push(`region ${config.region}: pulumi preview ${extra.join(" ")} exited with ${result.code}`);
            }
        }
    });
    return { problems };
}

const idempotence = (lane: Lane) => previewEach(lane, ["--expect-no-changes"]);
const policy = (lane: Lane) => previewEach(lane, ["--policy-pack", path.join(lane.repo, "policy")]);

/** Where the restore step keeps the snapshot copy of a region, and a mark once the region's cluster is new. */
const restoreDir = (lane: Lane, region: string) => path.join(lane.work.root, "restore", region);
const RECREATED_MARK = "recreated";

const errorLines = (stderr: string, fallback: string) => {
    const lines = stderr.split("\n").filter((line) => line.startsWith("error: "));
    return lines.length > 0 ? lines : [fallback];
};

async function restore(lane: Lane): Promise<StepOutcome> {
    const region = restoredRegion(regionsOf(lane));
    const config = regionConfigs(lane).find((c) => c.region === region) as RegionConfig;
    const namespace = config.resolved.vault.namespace;
    const context = kubeContext(region);
    const kubectl = (args: readonly string[], allowFailure = false) =>
        run("kubectl", ["--context", context, "-n", namespace, ...args], { env: lane.env, echo: true, allowFailure });
    const dir = restoreDir(lane, region);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    let snapshot = newestSnapshot(fs.readdirSync(dir).join("\n"));
    let snapshotBytes = snapshot === undefined ? undefined : fs.statSync(path.join(dir, snapshot)).size;
    const plan = restorePlan({ snapshot, recreated: fs.existsSync(path.join(dir, RECREATED_MARK)) });
    const phases: Partial<Record<RestorePhase, number>> = {};
    const problems: string[] = [];
    let deletedAt: number | undefined;
    let recoverySeconds: number | undefined;
    let restored = false;
    let checked: readonly string[] | undefined;
    let propagated: RestoreData["propagation"];
    let cases: unknown;
    const outcome = (): StepOutcome => {
        const data: RestoreData = {
            region,
            restored,
            ...(snapshot === undefined ? {} : { snapshot }),
            ...(snapshotBytes === undefined ? {} : { snapshotBytes }),
            phases,
            ...(recoverySeconds === undefined ? {} : { recoverySeconds }),
            ...(checked === undefined ? {} : { checks: checked }),
            ...(propagated === undefined ? {} : { propagation: propagated }),
        };
        return { problems, data: { ...data, plan, ...(cases === undefined ? {} : { propagationCases: cases }) } };
    };
    const snapshots = resolvedSnapshots(config.resolved.vault.snapshots, region);
    for (const phase of plan) {
        const started = Date.now();
        console.log(`[e2e] restore of ${region}: ${phase}`);
        switch (phase) {
            case "snapshot": {
                if (!snapshots.enabled) {
                    problems.push(`region ${region}: vault.snapshots.enabled is false, so there is no snapshot to restore from`);
                    return outcome();
                }
                await kubectl(["delete", "job", SNAPSHOT_JOB, "--ignore-not-found"]);
                await kubectl(["create", "job", `--from=cronjob/${SNAPSHOT_CRONJOB_NAME}`, SNAPSHOT_JOB]);
                const done = await kubectl(
                    ["wait", "--for=condition=complete", `job/${SNAPSHOT_JOB}`, `--timeout=${SNAPSHOT_JOB_DEADLINE_SECONDS}s`],
                    true,
                );
                if (done.code !== 0) {
                    await kubectl(["logs", `job/${SNAPSHOT_JOB}`, "--all-containers"], true);
                    problems.push(`region ${region}: the snapshot Job ${SNAPSHOT_JOB} did not complete`);
                    return outcome();
                }
                break;
            }
            case "copy": {
                // The claim is ReadWriteOnce: no scheduled run writes to it while the reader has it.
                await kubectl(["patch", "cronjob", SNAPSHOT_CRONJOB_NAME, "-p", JSON.stringify({ spec: { suspend: true } })]);
                await kubectl(["delete", "pod", READER_POD, "--ignore-not-found", "--wait=true"]);
                await applyObject(lane, context, readerPod(namespace, snapshots.storage.claimName));
                await kubectl(["wait", "--for=condition=Ready", `pod/${READER_POD}`, "--timeout=300s"]);
                const listing = await kubectl(["exec", READER_POD, "--", "ls", "-1", SNAPSHOT_DIR]);
                const newest = newestSnapshot(listing.stdout);
                if (newest === undefined) {
                    problems.push(`region ${region}: no snapshot in ${SNAPSHOT_DIR} of the claim ${snapshots.storage.claimName}`);
                    return outcome();
                }
                // Its sha256 beside the copy: the restore checks the copy against the claim's file.
                const sum = await kubectl(["exec", READER_POD, "--", "sha256sum", `${SNAPSHOT_DIR}/${newest}`]);
                const partial = path.join(dir, `.partial-${newest}`);
                await kubectl(["cp", `${READER_POD}:${SNAPSHOT_DIR}/${newest}`, partial]);
                fs.chmodSync(partial, 0o600);
                fs.writeFileSync(path.join(dir, `${newest}.sha256`), sum.stdout, { mode: 0o600 });
                fs.renameSync(partial, path.join(dir, newest));
                snapshot = newest;
                snapshotBytes = fs.statSync(path.join(dir, newest)).size;
                await kubectl(["delete", "pod", READER_POD, "--wait=false"]);
                break;
            }
            case "recreate": {
                deletedAt = Date.now();
                await bash(lane, SCRIPTS.clusters, ["delete", "--network", DOCKER_NETWORK, clusterName(region)]);
                // The new cluster gets what the lane gives every cluster, and the project step's objects.
                for (const prepare of [
                    () => clusters(lane, [region]),
                    () => platform(lane, [region]),
                    () => dns(lane),
                    () => project(lane),
                ]) {
                    const prepared = await prepare();
                    if (prepared.problems.length > 0) {
                        problems.push(...prepared.problems);
                        return outcome();
                    }
                }
                fs.writeFileSync(path.join(dir, RECREATED_MARK), new Date().toISOString());
                break;
            }
            case "restore": {
                const stored = storedKeys(lane, region);
                if (stored === undefined || stored.kind !== "unseal" || snapshot === undefined) {
                    problems.push(
                        `region ${region}: the lane holds no unseal keys or no snapshot copy for it: run the bootstrap step, then this one`,
                    );
                    return outcome();
                }
                const unsealKeys = await Promise.all(stored.keys.slice(0, KEY_THRESHOLD).map((key) => decrypt(lane, key)));
                const tokens = new Map<string, Sensitive>();
                for (const r of regionsOf(lane)) {
                    tokens.set(r, await rootToken(lane, r));
                }
                const configs = regionConfigs(lane);
                const result = await withForwards(configs, () =>
                    run("npm", restoreArgs(region, path.join(dir, snapshot as string)), {
                        cwd: lane.work.project,
                        env: restoreEnv(lane.env, region, unsealKeys, tokens),
                        echo: true,
                        allowFailure: true,
                    }),
                );
                if (result.code !== 0) {
                    problems.push(...errorLines(result.stderr, `npm run restore exited with ${result.code}`));
                    return outcome();
                }
                restored = true;
                if (deletedAt !== undefined) {
                    recoverySeconds = Math.round((Date.now() - deletedAt) / 100) / 10;
                }
                // Restored: the copy goes, and a later run starts over from a new snapshot.
                fs.rmSync(dir, { recursive: true, force: true });
                break;
            }
            case "checks": {
                checked = (await checks(lane)).problems;
                problems.push(...checked.map((p) => `after the restore: ${p}`));
                break;
            }
            case "propagation": {
                const measured = await propagation(lane);
                cases = measured.data?.cases;
                propagated = Array.isArray(cases) ? propagationBrief(cases as CaseResult[]) : undefined;
                problems.push(...measured.problems.map((p) => `after the restore: ${p}`));
                break;
            }
        }
        phases[phase] = Math.round((Date.now() - started) / 100) / 10;
    }
    return outcome();
}

/** Stack files the local backend still holds (`<backend>/.pulumi/stacks/...`), relative to it. */
export function backendStackFiles(backendDir: string): string[] {
    const stacks = path.join(backendDir, ".pulumi", "stacks");
    if (!fs.existsSync(stacks)) {
        return [];
    }
    return (fs.readdirSync(stacks, { recursive: true }) as string[])
        .filter((file) => /\.json(\.gz)?$/.test(file) && fs.statSync(path.join(stacks, file)).isFile())
        .map((file) => path.join(".pulumi", "stacks", file))
        .sort();
}

async function teardown(lane: Lane): Promise<StepOutcome> {
    const problems: string[] = [];
    const regions = regionsOf(lane);
    if (fs.existsSync(lane.work.backend) && fs.existsSync(lane.work.project)) {
        const listed = await run("pulumi", ["stack", "ls", "--all", "--json"], {
            env: lane.env,
            cwd: lane.work.project,
            allowFailure: true,
        });
        const existing = listed.code === 0 ? stackNames(JSON.parse(listed.stdout)) : [];
        const present = [...regions].reverse().filter((region) => existing.some((name) => name === region || name.endsWith(`/${region}`)));
        let configs: RegionConfig[] = [];
        try {
            configs = regionConfigs(lane);
        } catch (error) {
            problems.push((error as Error).message);
        }
        const destroy = async () => {
            for (const region of present) {
                const env = storedKeys(lane, region) === undefined ? lane.env : await withVaultToken(lane, region);
                const destroyed = await run("pulumi", ["destroy", "--stack", region, "--yes", "--non-interactive"], {
                    cwd: lane.work.project,
                    env,
                    echo: true,
                    allowFailure: true,
                });
                if (destroyed.code !== 0) {
                    problems.push(`region ${region}: pulumi destroy exited with ${destroyed.code}`);
                    continue;
                }
                // Without --force: it refuses while the stack still has resources.
                const removed = await run("pulumi", ["stack", "rm", region, "--yes", "--non-interactive"], {
                    cwd: lane.work.project,
                    env: lane.env,
                    echo: true,
                    allowFailure: true,
                });
                if (removed.code !== 0) {
                    problems.push(`region ${region}: pulumi stack rm exited with ${removed.code}`);
                }
            }
        };
        if (configs.length === regions.length && present.length > 0) {
            await withForwards(configs, destroy);
        } else if (present.length > 0) {
            await destroy();
        }
        const after = await run("pulumi", ["stack", "ls", "--all", "--json"], {
            env: lane.env,
            cwd: lane.work.project,
            allowFailure: true,
        });
        const left = [
            ...(after.code === 0 ? stackNames(JSON.parse(after.stdout)) : ["(pulumi stack ls failed)"]),
            ...backendStackFiles(lane.work.backend),
        ];
        if (left.length > 0) {
            problems.push(`the local backend still holds: ${left.join(", ")}`);
        }
    }
    try {
        await bash(lane, SCRIPTS.clusters, ["delete", "--network", DOCKER_NETWORK, ...regions.map(clusterName)]);
    } catch (error) {
        problems.push(error instanceof CommandError ? error.message : String(error));
    }
    if (fs.existsSync(lane.work.gnupg)) {
        await run("gpgconf", ["--homedir", lane.work.gnupg, "--kill", "gpg-agent"], { env: lane.env, allowFailure: true });
    }
    return { problems };
}

export type StepRunner = (lane: Lane) => Promise<StepOutcome>;

/** Every step but the summary (the command line writes it from the records). */
export const RUNNERS: Readonly<Record<string, StepRunner>> = {
    tools,
    clusters,
    platform,
    dns,
    project,
    backend,
    keys,
    bootstrap,
    checks,
    propagation,
    idempotence,
    policy,
    restore,
    teardown,
};
