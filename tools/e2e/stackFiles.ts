/**
 * The end-to-end lane's stack files: one `Pulumi.<region>.yaml` per region, from the lane's settings
 * (e2e/stack.yaml), the committed stacks' replicated secrets, and what the lane learns from its
 * clusters. Pure: the files are read and written by the caller (tools/e2e/lane.ts).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { PROJECT, type StackOptions, stackOptions } from "../../stack/config";
import { readProject, readStackConfig } from "../../stack/projectFiles";
import { CA_CERT_FILE, jwksFile, kubeContext, providerVaultAddress } from "./names";

/** The lane's settings file, relative to the repository. */
export const LANE_SETTINGS_FILE = "e2e/stack.yaml";

/** Keys the lane sets from its clusters: the settings file must leave them out. */
export const LANE_KEYS = ["kubeContext", "vaultInitialized", "vaultAddress", "vaultCaCertFile", "serviceAccountIssuer"] as const;

const qualified = (key: string) => `${PROJECT}:${key}`;

/** What the stack files are made of, before the lane knows its clusters. */
export interface LaneSettings {
    /** The regions, as the program reads them (Pulumi.yaml's `regions`). */
    readonly regions: readonly string[];
    /** e2e/stack.yaml's `config`, keyed as written (`openova-vault:<key>`). */
    readonly config: Readonly<Record<string, unknown>>;
    /** The committed stacks' replicated secrets (the first region's stack file, as every stack lists the same). */
    readonly committedSecrets: readonly unknown[];
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** What is wrong with the settings file's `config`, one line each. */
export function settingsProblems(config: unknown): string[] {
    if (!isRecord(config)) {
        return [`${LANE_SETTINGS_FILE}: expected a "config:" mapping`];
    }
    const problems: string[] = [];
    for (const key of Object.keys(config)) {
        if (!key.startsWith(`${PROJECT}:`)) {
            problems.push(`${LANE_SETTINGS_FILE}: ${key} is not a key of ${PROJECT} (write it as ${qualified(key)})`);
        } else if ((LANE_KEYS as readonly string[]).includes(key.slice(PROJECT.length + 1))) {
            problems.push(`${LANE_SETTINGS_FILE}: ${key} is set by the lane from its clusters; remove it`);
        } else if (key === qualified("regions")) {
            problems.push(`${LANE_SETTINGS_FILE}: ${key} is set, but the lane makes one cluster per region of Pulumi.yaml; remove it`);
        }
    }
    const secrets = config[qualified("replicatedSecrets")];
    if (secrets !== undefined && !Array.isArray(secrets)) {
        problems.push(`${LANE_SETTINGS_FILE}: ${qualified("replicatedSecrets")} must be a list`);
    }
    return problems;
}

/**
 * Reads the lane's settings: the regions and the committed replicated secrets as the program sees
 * them, and e2e/stack.yaml. @throws Error naming the file and each problem
 */
export function readLaneSettings(repoDir: string): LaneSettings {
    const project = readProject(repoDir);
    const defaults = readStackConfig(project, "\0no-stack").config;
    const regions = JSON.parse(defaults[qualified("regions")] ?? "[]") as string[];
    if (regions.length === 0) {
        throw new Error(`${path.join(repoDir, "Pulumi.yaml")}: no regions`);
    }
    const committed = readStackConfig(project, regions[0]).config[qualified("replicatedSecrets")];
    const file = path.join(repoDir, LANE_SETTINGS_FILE);
    const parsed = (parse(fs.readFileSync(file, "utf8")) as { config?: unknown } | null)?.config;
    const problems = settingsProblems(parsed);
    if (problems.length > 0) {
        throw new Error(problems.join("\n"));
    }
    return {
        regions,
        config: parsed as Record<string, unknown>,
        committedSecrets: committed === undefined ? [] : (JSON.parse(committed) as unknown[]),
    };
}

/** What the lane learned from a region's cluster. */
export interface ClusterFacts {
    /** The `iss` of its service-account tokens (`/.well-known/openid-configuration`). */
    readonly issuer: string;
}

/**
 * One region's stack config (keys as in a stack file): the settings, then what the lane sets, with
 * the committed replicated secrets first and the settings' own after them.
 */
export function laneStackConfig(settings: LaneSettings, region: string, facts: ClusterFacts): Record<string, unknown> {
    const own = settings.config[qualified("replicatedSecrets")];
    return {
        ...settings.config,
        [qualified("kubeContext")]: kubeContext(region),
        [qualified("vaultInitialized")]: false,
        [qualified("vaultAddress")]: providerVaultAddress(settings.regions, region),
        [qualified("vaultCaCertFile")]: CA_CERT_FILE,
        [qualified("serviceAccountIssuer")]: { url: facts.issuer, jwksFile: jwksFile(region) },
        [qualified("replicatedSecrets")]: [...settings.committedSecrets, ...(Array.isArray(own) ? (own as unknown[]) : [])],
    };
}

/** The stack file's text. */
export function stackFileText(region: string, config: Readonly<Record<string, unknown>>): string {
    return [
        `# Region ${region} of the end-to-end lane, written by \`npm run e2e -- project\` from ${LANE_SETTINGS_FILE}`,
        "# and the lane's clusters (docs/e2e.md). The bootstrap sets vaultInitialized once the region's Vault is up.",
        stringify({ config }, { lineWidth: 0 }),
    ].join("\n");
}

/**
 * A region's options as the program will resolve them (defaults applied), before the lane knows its
 * clusters: what the clusters and the platform must fit (the servers' count, the Vault image, the
 * issuer, the ingress class). The files the stack names are not read here. @throws on invalid settings
 */
export function laneOptions(settings: LaneSettings, region: string): StackOptions {
    const raw = laneStackConfig(settings, region, { issuer: "https://issuer.invalid" });
    const values = Object.fromEntries(Object.entries(raw).map(([key, value]) => [key.slice(PROJECT.length + 1), value]));
    return stackOptions.parse({ ...values, region, regions: settings.regions });
}
