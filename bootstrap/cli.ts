/**
 * `npm run bootstrap -- [options]`: brings every region from empty clusters to initialized, unsealed,
 * configured and wired Vaults (bootstrap/orchestrator.ts). This module reads the flags and the stack
 * files, checks the prerequisites and, once they are met, hands over to the orchestration.
 */
import { PROVIDER_JWT_VARIABLE } from "../components/backends/hcpVault";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseConfig } from "../stack/config";
import { closest } from "../components/common/spelling";
import { failWith, parseCommandLine, runCommand } from "./command";
import { ProjectError, readProject, readStackConfig } from "../stack/projectFiles";
import { type Engine, ENGINE_FACTS, engineFacts } from "../components/common/engine";
import type { SealType } from "../components/vault-server/seal";
import { aProduct, keptRootTokenAdvice, newAdminTokenHint, productOf } from "./engineWords";
import { KubernetesClusters, type RegionCluster } from "./kubernetes";
import {
    BOOTSTRAP_DEFAULTS,
    type BootstrapOptions,
    BootstrapError,
    type BootstrapReport,
    bootstrap,
    keyProblems,
    managedWords,
    optionProblems,
} from "./orchestrator";
import type { Ports } from "./ports";
import { missingPrerequisites } from "./prerequisites";
import { projectFileReader } from "./projectFileReader";
import { LineProgress, NonInteractiveOperator, SpinnerProgress, TerminalOperator } from "./terminal";
import { type RegionTls, VaultHttpApi } from "./vaultHttp";
import { AutomationWorkspace } from "./workspace";

const USAGE =
    "usage: npm run bootstrap -- [--regions a,b,...] [--non-interactive] [--key-shares N] [--key-threshold N] [--pgp-keys F,...] [--root-token-pgp-key F] [--keep-root-token] [--verify] [--pod-timeout S]";

const HELP = `${USAGE}

Brings every region from empty clusters to wired Vaults, in this order: creates every missing region
stack; deploys the server side of every region; per region waits for the Vault pods, initializes
Vault (showing the unseal keys and root token once, and waiting until you confirm they are stored
offline), unseals every server, sets openova-vault:vaultInitialized and deploys the Vault
configuration; then runs each region again so that it connects to its peers, and checks that every
ClusterSecretStore is Ready. Run it again at any time: it does only what is missing (a restarted,
sealed Vault is only unsealed). At a terminal it first asks for the key settings the flags leave out,
shows the plan (each region's kubeconfig context, Vault namespace and seal, from its stack file) and
asks before changing anything.

Auto-unseal: a region whose openova-vault:vault.seal.type is a KMS (awskms, gcpckms, azurekeyvault,
transit) is initialized with recovery keys instead of unseal keys: --key-shares, --key-threshold and
--pgp-keys then set the recovery keys, which are shown once like unseal keys. Recovery keys cannot
unseal; they authorize \`vault operator generate-root\` and seal migration. Such a Vault unseals itself
through its KMS (vault-0 right after init, the others once they have joined Raft, and every server
after a restart): the bootstrap only waits for that, never asks for keys, and fails naming the region
and the likely cause (the KMS unreachable, or the credentials Secret or workload identity wrong) when
a server stays sealed.

OpenBao: in a project whose openova-vault:engine is openbao, everything here applies to OpenBao, by its
own names: pods openbao-<i>, the bao CLI, the name <pod>.openbao-internal.<namespace>.svc. OpenBao makes
no root token from the unseal (or recovery) keys alone, so the bootstrap keeps an OpenBao region's root
token, and the summary says how to replace it with another admin credential before revoking it.

Managed backends: a region whose openova-vault:backend is not vault (hcp-vault, aws-secrets-manager,
gcp-secret-manager, azure-key-vault) runs no Vault of this project's: its stack is created and deployed
like the others (ESO and the backend's stores), and run again to connect its peers, but there are no
pods to wait for and nothing to initialize, unseal or configure, and it needs no admin token. The key
settings are asked for (and needed without a terminal) only when a region has the self-hosted Vault.

Key material is held in memory only: the bootstrap writes it to no file, log, Git, Pulumi config or
state. The admin token reaches Pulumi programs only through the Automation API's process environment
(check the state after the first configured run, as the README's "The admin credential" says).

Options:
      --regions a,b,...        the regions (stacks) to bring up, in order (default: openova-vault:regions
                               from Pulumi.yaml)
      --non-interactive        no prompts; needs --pgp-keys and --root-token-pgp-key, since nothing
                               unencrypted may be shown without a terminal
      --key-shares N           unseal key shares for a Vault being initialized, or recovery key shares for
                               one that auto-unseals (default ${BOOTSTRAP_DEFAULTS.keyShares}, at most 255)
      --key-threshold N        keys needed to unseal, or recovery keys needed to authorize generate-root
                               and seal migration (default ${BOOTSTRAP_DEFAULTS.keyThreshold}; at least 2 when there are several shares)
      --pgp-keys F,...         files with one operator PGP public key each (base64 of the binary key, as
                               \`gpg --export <id> | base64\` writes it), one per share: Vault returns each
                               unseal (or recovery) key encrypted to one of them
      --root-token-pgp-key F   file with a PGP public key the root token is encrypted to
      --keep-root-token        keep the initial root tokens alive at the end (default: revoke them)
      --verify                 at the end, write a canary secret into the first region's Vault and wait
                               until every region's Kubernetes Secret holds it, within the bound
                               docs/consistency.md states (100 s); the canary's ESO objects are removed
                               afterwards, its Vault path (openova/replication-canary) stays; across
                               managed backends it reaches each region's own backend as a replicated
                               secret does, and stays there too; the first region must have the
                               self-hosted Vault
      --pod-timeout S          seconds to wait for a region's Vault pods (default ${BOOTSTRAP_DEFAULTS.podTimeoutMs / 1000})
  -h, --help                   show this help

Before it changes anything it checks, and reports one line for each that is missing: the pulumi CLI
and a logged-in backend, a kubeconfig context for every region (its openova-vault:kubeContext), that
every region's Kubernetes API answers, and that every Vault already running answers.

It reaches each Vault server through a port-forward to its pod, and each stack through the Pulumi
Automation API. With TLS on (openova-vault:vault.tls, the default) it speaks HTTPS to each server and
verifies its certificate with the region's CA (openova-vault:vaultCaCertFile, relative to the project
directory) for the name <pod>.vault-internal.<namespace>.svc; it never skips that check. When it needs
an admin token it does not hold (a Vault initialized by an earlier run), it asks for one; without a
terminal it reads VAULT_TOKEN_<REGION> (region in capitals, other characters as _, e.g.
VAULT_TOKEN_REGION1). A sealed Shamir Vault it holds no keys for needs a terminal to enter them, so a
non-interactive first bring-up stops after the first init (see the README); an auto-unseal Vault needs
no keys, but without a terminal the admin token still comes from VAULT_TOKEN_<REGION>.

Exit codes: 0 bootstrapped; 1 a prerequisite is missing or a step failed (run it again once fixed);
2 bad arguments.`;

const wholeNumber = (value: string | undefined, fallback: number) =>
    value === undefined ? fallback : /^\d+$/.test(value) ? Number(value) : Number.NaN;

/** Reads a PGP public key file as the base64 Vault's API takes. @throws Error naming the file */
function readPgpKey(file: string): string {
    const text = fs.readFileSync(file, "utf8").replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
        throw new Error(`${file}: not a base64-encoded PGP public key (write it with \`gpg --export <key id> | base64\`)`);
    }
    return text;
}

export async function main(argv: readonly string[], projectDir = path.resolve(__dirname, "..")): Promise<number> {
    const values = parseCommandLine(
        argv,
        {
            regions: { type: "string" },
            "non-interactive": { type: "boolean" },
            "key-shares": { type: "string" },
            "key-threshold": { type: "string" },
            "pgp-keys": { type: "string" },
            "root-token-pgp-key": { type: "string" },
            "keep-root-token": { type: "boolean" },
            verify: { type: "boolean" },
            "pod-timeout": { type: "string" },
        },
        USAGE,
        HELP,
    );
    if (typeof values === "number") {
        return values;
    }

    let options: BootstrapOptions;
    const contexts: Record<string, string> = {};
    const clusters: Record<string, RegionCluster> = {};
    const seals: Record<string, SealType> = {};
    /** Per region: TLS to its servers (the CA to verify them with), or undefined for plain HTTP. */
    const tls: Record<string, RegionTls | undefined> = {};
    try {
        const project = readProject(projectDir);
        const regions =
            values.regions
                ?.split(",")
                .map((r) => r.trim())
                .filter((r) => r !== "") ?? defaultRegions(project.config);
        const podTimeout = wholeNumber(values["pod-timeout"], BOOTSTRAP_DEFAULTS.podTimeoutMs / 1000);
        options = {
            regions,
            keyShares: wholeNumber(values["key-shares"], BOOTSTRAP_DEFAULTS.keyShares),
            keyThreshold: wholeNumber(values["key-threshold"], BOOTSTRAP_DEFAULTS.keyThreshold),
            pgpKeys: values["pgp-keys"]?.split(",").map(readPgpKey),
            rootTokenPgpKey: values["root-token-pgp-key"] === undefined ? undefined : readPgpKey(values["root-token-pgp-key"]),
            keepRootToken: values["keep-root-token"] === true,
            verify: values.verify === true,
            interactive: values["non-interactive"] !== true,
            podTimeoutMs: podTimeout * 1000,
            pollMs: BOOTSTRAP_DEFAULTS.pollMs,
        };
        // The key settings are checked once the stack files say whether a region has a Vault to initialize.
        const problems = optionProblems(options, []);
        const known = defaultRegions(project.config);
        for (const region of regions.filter((r) => !known.includes(r))) {
            const suggestion = closest(region, known);
            problems.push(
                `--regions names ${region}, which is not one of the regions in Pulumi.yaml (${known.join(", ")})${suggestion ? `: did you mean ${suggestion}?` : ""}`,
            );
        }
        if (!(podTimeout > 0)) {
            problems.push(`--pod-timeout ${values["pod-timeout"]} must be a whole number of seconds above 0`);
        }
        if (problems.length > 0) {
            console.error(problems.map((p) => `error: ${p}`).join("\n"));
            console.error(USAGE);
            return 2;
        }
        // Each region's kubeconfig context, seal and TLS, from its stack file (a missing file means the
        // committed defaults); a file the config names (the CA) is read relative to the project directory.
        for (const region of regions) {
            const raw = readStackConfig(project, region).config;
            // The self-hosted Vaults' token is the bootstrap's own; an HCP region's provider logs in with this
            // process's environment (its JWT, or VAULT_TOKEN with providerAuth.method token), so a missing one
            // stops here, before anything changes.
            const environment = { VAULT_TOKEN: "checked later", [PROVIDER_JWT_VARIABLE]: process.env[PROVIDER_JWT_VARIABLE] };
            let parsed = parseConfig(region, raw, { environment, readFile: projectFileReader(projectDir) });
            if (parsed.ok && parsed.config.backend.type === "hcp-vault") {
                parsed = parseConfig(region, raw, {
                    environment: { ...environment, VAULT_TOKEN: process.env.VAULT_TOKEN },
                    readFile: projectFileReader(projectDir),
                });
            }
            if (!parsed.ok) {
                return failWith(parsed.problems, 1);
            }
            const vaultNamespace = parsed.config.resolved.vault.namespace;
            contexts[region] = parsed.config.kubeContext;
            clusters[region] = { context: parsed.config.kubeContext, vaultNamespace, config: parsed.config };
            seals[region] = parsed.config.resolved.vault.seal.type;
            const tlsEnabled = parsed.config.resolved.vault.tls.source !== "none";
            // parseConfig requires the CA file with TLS on; the adapter refuses to call without one anyway.
            tls[region] = tlsEnabled ? { ca: parsed.config.vaultCaCert, namespace: vaultNamespace } : undefined;
        }
        const keys = selfHostedRegions(regions, clusters).length > 0 ? keyProblems(options) : [];
        if (keys.length > 0) {
            console.error(keys.map((p) => `error: ${p}`).join("\n"));
            console.error(USAGE);
            return 2;
        }
    } catch (error) {
        // A broken project or stack file, or an unreadable PGP key file: one line, no stack trace.
        if (
            error instanceof ProjectError ||
            (error instanceof Error && "code" in error) ||
            (error instanceof Error && error.message.includes("PGP"))
        ) {
            return failWith([error.message], 1);
        }
        throw error;
    }

    const missing = missingPrerequisites({ contexts });
    if (missing.length > 0) {
        return failWith([...missing, "nothing was changed; run the bootstrap again once these are in place"], 1);
    }
    // Checked after the machine's prerequisites, which matter whichever way it runs.
    if (options.interactive && !(process.stdin.isTTY && process.stdout.isTTY)) {
        return failWith(["no terminal: run it in one, or with --non-interactive (and PGP keys)"], 2);
    }
    if (options.interactive) {
        // What it is about to do, from the stack files, and the key settings (the flags, or asked here).
        const planned = await confirmPlan(options, clusters, seals, {
            keyShares: values["key-shares"] === undefined,
            keyThreshold: values["key-threshold"] === undefined,
        });
        if (planned === undefined) {
            return failWith(["stopped before anything was changed"], 1);
        }
        options = planned;
    }
    const cluster = new KubernetesClusters(clusters);
    const engineOf = (region: string): Engine => engineOfRegion(clusters, region);
    // At a terminal, a live view (ora is an ES module, hence the dynamic import); in a log, one line per change.
    const live = options.interactive ? new SpinnerProgress((await import("ora")).default({ discardStdin: false })) : undefined;
    const ports: Ports = {
        workspace: new AutomationWorkspace(projectDir),
        cluster,
        vault: new VaultHttpApi(cluster.endpoint, { tls: (region) => tls[region], engine: engineOf }),
        operator: options.interactive
            ? new TerminalOperator(undefined, () => live?.pause(), engineOf)
            : new NonInteractiveOperator(undefined, undefined, engineOf),
        progress: live ?? new LineProgress(),
        clock: { sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)), now: () => performance.now() },
    };
    try {
        const report = await bootstrap(ports, options);
        live?.pause();
        console.log(summary(report).join("\n"));
        return 0;
    } catch (error) {
        live?.abort();
        if (error instanceof BootstrapError) {
            return failWith([...error.lines, "run the bootstrap again once this is fixed: it picks up where it stopped"], 1);
        }
        // Anything else (a failed `pulumi up`, an unreachable API): its message, never a stack trace,
        // which could show the arguments of the call that failed.
        return failWith(
            [
                error instanceof Error ? error.message : String(error),
                "run the bootstrap again once this is fixed: it picks up where it stopped",
            ],
            1,
        );
    } finally {
        live?.pause();
        await cluster.close();
    }
}

const capitalized = (text: string) => `${text.charAt(0).toUpperCase()}${text.slice(1)}`;

/** The regions with the self-hosted Vault (`openova-vault:backend` vault, or a region without a stack config): those a run may initialize. */
export function selfHostedRegions(regions: readonly string[], clusters: Readonly<Record<string, RegionCluster>>): string[] {
    return regions.filter((region) => (clusters[region]?.config?.backend.type ?? "vault") === "vault");
}

/** A region's engine, from its stack file's config (Vault when it has none). */
function engineOfRegion(clusters: Readonly<Record<string, RegionCluster>>, region: string): Engine {
    return clusters[region]?.config?.resolved.engine ?? "vault";
}

/** The plan in words: the regions, their clusters, namespaces, engines and seals, from the stack files (a region not in `seals` is Shamir). */
export function planLines(
    options: BootstrapOptions,
    clusters: Readonly<Record<string, RegionCluster>>,
    seals: Readonly<Record<string, SealType>> = {},
): string[] {
    const selfHosted = selfHostedRegions(options.regions, clusters);
    const auto = autoUnsealRegions(selfHosted, seals);
    const shamir = selfHosted.filter((region) => !auto.includes(region));
    const pgp = options.pgpKeys ? ", each encrypted to one PGP key" : "";
    const product = (regions: readonly string[]) => productOf(regions.map((region) => engineOfRegion(clusters, region)));
    const kept = selfHosted.filter((region) => engineFacts(engineOfRegion(clusters, region)).rootGeneration === "token");
    return [
        "The bootstrap will bring up, in this order:",
        ...options.regions.map((region) => {
            const backend = clusters[region]?.config?.backend.type ?? "vault";
            return backend === "vault"
                ? `  ${region}: kubeconfig context ${clusters[region]?.context}, ${product([region])} in namespace ${clusters[region]?.vaultNamespace}${auto.includes(region) ? `, auto-unseal through ${seals[region]}` : ""}`
                : `  ${region}: kubeconfig context ${clusters[region]?.context}, ${managedWords(backend)} (ESO and its stores only): nothing to initialize or unseal there`;
        }),
        ...(shamir.length === 0
            ? []
            : [
                  `${auto.length === 0 ? capitalized(aProduct(product(shamir))) : `A Shamir ${product(shamir)} (${shamir.join(", ")})`} initialized now gets ${options.keyShares} unseal key shares, ${options.keyThreshold} needed to unseal${pgp}.`,
              ]),
        ...(auto.length === 0
            ? []
            : [
                  `An auto-unseal ${product(auto)} (${auto.join(", ")}) initialized now gets ${options.keyShares} recovery key shares, ${options.keyThreshold} needed to authorize generate-root or a seal migration${pgp}; recovery keys cannot unseal, it unseals itself through its KMS.`,
              ]),
        ...(kept.length === 0 || options.keepRootToken
            ? []
            : [
                  `The root token of ${kept.join(", ")} is kept at the end: ${product(kept)} makes no root token from the unseal keys alone. Revoke it once you have another admin credential.`,
              ]),
    ];
}

/** The regions whose seal is an auto-unseal one. */
function autoUnsealRegions(regions: readonly string[], seals: Readonly<Record<string, SealType>>): string[] {
    return regions.filter((region) => (seals[region] ?? "shamir") !== "shamir");
}

/** The questions for the key settings, in the words of the regions' seals: unseal keys, recovery keys, or both. */
export function keyPrompts(
    regions: readonly string[],
    seals: Readonly<Record<string, SealType>>,
    engines: Readonly<Record<string, Engine>> = {},
): { shares: string; threshold: string } {
    const auto = autoUnsealRegions(regions, seals);
    const product = productOf(regions.map((region) => engines[region] ?? "vault"));
    if (auto.length === 0) {
        return { shares: `Unseal key shares for ${aProduct(product)} initialized now`, threshold: "Keys needed to unseal" };
    }
    if (auto.length === regions.length) {
        return {
            shares: `Recovery key shares for ${aProduct(product)} initialized now (it auto-unseals; recovery keys cannot unseal)`,
            threshold: "Recovery keys needed to authorize generate-root or a seal migration",
        };
    }
    return {
        shares: `Key shares for ${aProduct(product)} initialized now (unseal keys; recovery keys for ${auto.join(", ")}, which auto-unseal${auto.length === 1 ? "s" : ""})`,
        threshold: "Keys needed to unseal (recovery keys: to authorize generate-root or a seal migration)",
    };
}

/**
 * At a terminal: asks for the key settings the flags left out (defaults as in --help), shows the plan
 * and asks to go on. @returns the options to run with, or undefined when the operator said no
 */
async function confirmPlan(
    options: BootstrapOptions,
    clusters: Readonly<Record<string, RegionCluster>>,
    seals: Readonly<Record<string, SealType>>,
    ask: { keyShares: boolean; keyThreshold: boolean },
): Promise<BootstrapOptions | undefined> {
    const { confirm, number } = await import("@inquirer/prompts");
    const selfHosted = selfHostedRegions(options.regions, clusters);
    const prompts = keyPrompts(
        selfHosted,
        seals,
        Object.fromEntries(selfHosted.map((region) => [region, engineOfRegion(clusters, region)])),
    );
    let planned = options;
    // No key settings to ask for where no region has a Vault to initialize.
    const asking = selfHosted.length === 0 ? { keyShares: false, keyThreshold: false } : ask;
    if (asking.keyShares && options.pgpKeys === undefined) {
        const keyShares = await number({ message: prompts.shares, default: options.keyShares, min: 1, max: 255, required: true });
        planned = { ...planned, keyShares: keyShares ?? options.keyShares };
    }
    if (asking.keyThreshold) {
        const keyThreshold = await number({
            message: prompts.threshold,
            default: Math.min(planned.keyThreshold, planned.keyShares),
            min: 1,
            max: planned.keyShares,
            required: true,
        });
        planned = { ...planned, keyThreshold: keyThreshold ?? planned.keyThreshold };
    }
    const problems = optionProblems(planned, selfHosted);
    if (problems.length > 0) {
        throw new Error(problems.join("; "));
    }
    console.log(planLines(planned, clusters, seals).join("\n"));
    return (await confirm({ message: "Go on?", default: false })) ? planned : undefined;
}

/** What the run did, and how later runs authenticate. */
export function summary(report: BootstrapReport): string[] {
    const list = (regions: readonly string[]) => (regions.length > 0 ? regions.join(", ") : "none");
    const engineOf = (region: string): Engine => report.engines?.[region] ?? "vault";
    const all = Object.keys(report.engines ?? {});
    const product = productOf((all.length > 0 ? all : [""]).map(engineOf));
    const revoked = report.revokedRootTokens.map(engineOf);
    const kept = report.keptRootTokens ?? [];
    const vaults = product === ENGINE_FACTS.vault.product ? "Vaults" : `${product} clusters`;
    const managed = Object.entries(report.managed ?? {});
    const onlyManaged = managed.length > 0 && all.every((region) => report.managed?.[region] !== undefined);
    return [
        "",
        `Stacks created: ${list(report.created)}. ${vaults} initialized: ${list(report.initialized)}; unsealed: ${list(report.unsealed)}${report.autoUnsealed.length > 0 ? `; unsealed themselves (auto-unseal): ${list(report.autoUnsealed)}` : ""}.`,
        ...(managed.length > 0
            ? [
                  `Managed backends, with nothing to initialize or unseal: ${managed.map(([region, type]) => `${region} (${type})`).join(", ")}; their stacks deploy ESO and the backend's stores only.`,
              ]
            : []),
        `Configured: ${list(report.configured)}; connected to their peers: ${list(report.wired)}. Every ClusterSecretStore is Ready.`,
        ...(report.canary
            ? [
                  `A canary write reached every region in ${Math.round(report.canary.tookMs / 1000)} s (bound ${Math.round(report.canary.boundMs / 1000)} s).`,
              ]
            : []),
        report.revokedRootTokens.length > 0
            ? `Root tokens revoked: ${list(report.revokedRootTokens)}. For later \`pulumi up\` runs, export VAULT_TOKEN with an admin token: make one ${[...new Set(revoked)].map((engine) => newAdminTokenHint(engine, false)).join(" or ")} (the recovery keys of an auto-unseal ${productOf(revoked)}) when needed, or log in through an admin auth method (README, "The admin credential").`
            : onlyManaged
              ? "No region runs a Vault of this project's, so there was no root token. Later `pulumi up` runs need no admin token (an hcp-vault region's Vault provider logs in as its backend.providerAuth says)."
              : 'No root token was revoked. Later `pulumi up` runs take the admin token from VAULT_TOKEN (README, "The admin credential").',
        ...(kept.length > 0
            ? [
                  `Root tokens kept: ${list(kept)}. Revoke each once ${keptRootTokenAdvice(kept.map(engineOf))}; until then it is the only way in.`,
              ]
            : []),
    ];
}

/** The `regions` default of Pulumi.yaml's config schema. */
function defaultRegions(config: Readonly<Record<string, unknown>>): string[] {
    const declaration = config.regions as { default?: unknown } | undefined;
    return Array.isArray(declaration?.default) ? declaration.default.map(String) : [];
}

if (require.main === module) {
    runCommand(main);
}
