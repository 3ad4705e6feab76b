import * as pulumi from "@pulumi/pulumi";
import * as fc from "fast-check";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import {
    PROJECT,
    type ParseOptions,
    configRows,
    parseConfig as parseRaw,
    type ParseResult,
    type RegionConfig,
    stackOptions,
} from "../stack/config";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { readProject, readStackConfig } from "../stack/projectFiles";
import { SAFE_PASSWORD_SYMBOLS } from "../components/replication/replicationSpecs";
import { applyConfigCommand } from "./support/pulumiConfigSet";
import { keyPath } from "../stack/configMessages";
import { VALUES, docOf, either, fieldsOf, listedValues, option, schemaAt, valueAt } from "../components/common/options";
import { backendUnion } from "../components/backends/backendOptions";
import { z } from "zod";
import { MANAGED_BACKENDS } from "./support/backendFixtures";

const projectDir = path.resolve(__dirname, "..");

/** The project-wide defaults exactly as the CLI would pass them (from Pulumi.yaml). */
const projectDefaults = readStackConfig({ ...readProject(projectDir), stacks: [] }, "no-such-stack").config;

/** The cluster's token issuer a stack publishes for JWT peer auth (the default), found by OIDC discovery. */
const ISSUER = { url: "https://oidc.example.com", discovery: true };

/**
 * Raw config for a stack: Pulumi.yaml defaults, a domain, the CA file TLS needs, the token issuer JWT
 * peer auth needs, and the given keys (objects as JSON; undefined removes a key).
 */
/**
 * The warnings of every stack that leaves the Vault API open to all and its snapshots in the cluster
 * (the test configs set neither allowed source ranges nor an off-site target), in the order they come.
 */
const DEFAULT_WARNINGS = [
    expect.stringContaining(
        "openova-vault:vault.allowedSourceRanges is not set: the Vault API and UI of region1 are open to everyone",
    ) as unknown,
    expect.stringContaining("openova-vault:vault.snapshots.offsite.target is not set") as unknown,
];

function raw(values: Record<string, unknown> = {}): Record<string, string> {
    const config: Record<string, string> = {
        ...projectDefaults,
        [`${PROJECT}:domain`]: "example.com",
        [`${PROJECT}:vaultCaCertFile`]: "certs/vault-ca.pem",
        [`${PROJECT}:serviceAccountIssuer`]: JSON.stringify(ISSUER),
    };
    for (const [key, value] of Object.entries(values)) {
        const qualified = key.includes(":") ? key : `${PROJECT}:${key}`;
        if (value === undefined) {
            delete config[qualified];
        } else {
            config[qualified] = typeof value === "string" ? value : JSON.stringify(value);
        }
    }
    return config;
}

/** A complete backend of each managed type, as a stack sets it. */

/** A CA certificate's shape (not a real certificate: only the PEM armour is checked). */
const PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ==\n-----END CERTIFICATE-----\n";

/** A cluster's signing key as `kubectl get --raw /openid/v1/jwks` prints it. */
const signingKey = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
const JWKS = JSON.stringify({ keys: [{ ...signingKey.publicKey.export({ format: "jwk" }), use: "sig", alg: "ES256", kid: "k1" }] });

/** Files a stack can name: the test CA and JWKS, or a file of the project (the committed stacks' example CA). */
function readFile(file: string): string {
    if (file === "certs/vault-ca.pem" || file === "certs/oidc-ca.pem") {
        return PEM;
    }
    if (file === "identity/region1-jwks.json") {
        return JWKS;
    }
    if (file === "identity/private-jwks.json") {
        return JSON.stringify({ keys: [signingKey.privateKey.export({ format: "jwk" })] });
    }
    const inProject = path.join(projectDir, file);
    return fs.existsSync(inProject) ? fs.readFileSync(inProject, "utf8") : fail(file);
}

/** An operator's environment with the admin token set, and a CA file that can be read. */
const operator = { environment: { VAULT_TOKEN: "hvs.test", TERRAFORM_VAULT_AUTH_JWT: "eyJ.test" }, readFile };

/** parseConfig with files readable (as `pulumi up` in the project directory has them), unless options say otherwise. */
function parseConfig(stack: string, config: Record<string, string>, options: ParseOptions = {}): ParseResult {
    return parseRaw(stack, config, { readFile, ...options });
}

/** Deep merge of plain objects (the second wins); for building config values. */
function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) {
        const prior = out[k];
        out[k] =
            typeof v === "object" && v !== null && !Array.isArray(v) && typeof prior === "object" && prior !== null && !Array.isArray(prior)
                ? merge(prior as Record<string, unknown>, v as Record<string, unknown>)
                : v;
    }
    return out;
}

/** The value of an Output (known and not failing, as config outputs are). */
function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((value) => resolve(value)));
}

function fail(file: string): never {
    throw Object.assign(new Error(`ENOENT: no such file or directory, open '${file}'`), { code: "ENOENT" });
}

function ok(result: ParseResult): RegionConfig {
    if (!result.ok) {
        throw new Error(`expected valid config, got:\n${result.problems.join("\n")}`);
    }
    return result.config;
}

function problems(result: ParseResult): readonly string[] {
    if (result.ok) {
        throw new Error("expected the config to be rejected");
    }
    return result.problems;
}

describe("config defaults", () => {
    it("takes regions from Pulumi.yaml, the region from the stack name and everything else from the components", () => {
        const config = ok(parseConfig("region1", raw()));
        expect({ ...config, options: undefined, resolved: undefined }).toEqual({
            backend: { type: "vault" },
            stack: "region1",
            region: "region1",
            peers: ["region2"],
            kubeContext: "region1",
            vaultInitialized: false,
            vaultAddress: "https://vault.region1.example.com",
            vaultCaCertFile: "certs/vault-ca.pem",
            vaultCaCert: PEM,
            serviceAccountIssuer: { issuer: ISSUER.url, publicKeys: [], discoveryCaCert: "" },
            options: undefined,
            resolved: undefined,
        });
        expect(config.options).toMatchObject({
            region: "region1",
            regions: ["region1", "region2"],
            domain: "example.com",
            kvMount: "secret",
            peerAuth: "jwt",
            peerTokenGenerations: {},
            replicatedSecrets: [],
        });
        expect(config.resolved.vault).toMatchObject({
            namespace: "vault",
            replicas: 3,
            auditDevices: ["file", "stdout"],
            tls: { source: "cert-manager" },
            seal: { type: "shamir" },
            snapshots: { enabled: true, retain: 48 },
        });
        expect(config.resolved.externalSecrets).toEqual({
            install: true,
            namespace: "external-secrets",
            replicas: 2,
            chartVersion: "2.9.0",
            imageTag: "v2.9.0",
        });
        expect(config.resolved.monitoring).toMatchObject({ serviceMonitor: false, prometheusRules: false, retention: "60s" });
    });

    it("lets `region` name the region when the stack is named otherwise, and derives the peers", () => {
        const config = ok(parseConfig("prod-eu", raw({ region: "region2", regions: ["region1", "region2", "region3"] })));
        expect(config.region).toBe("region2");
        expect(config.peers).toEqual(["region1", "region3"]);
        expect(config.kubeContext).toBe("region2");
    });

    it.each(["region1", "region2"])("accepts the committed stack file Pulumi.%s.yaml", (stack) => {
        const project = readProject(projectDir);
        const config = ok(parseConfig(stack, readStackConfig(project, stack).config, operator));
        expect(config.vaultInitialized).toBe(true);
        expect(config.region).toBe(stack);
        expect(config.options.domain).toBe("example.com");
        expect(config.resolved.vault.replicas).toBe(3);
    });

    it("passes explicit settings through, accepting the strings `pulumi config set --path` may store", () => {
        const config = ok(
            parseConfig(
                "region1",
                raw({
                    kubeContext: "arn:aws:eks:eu-west-1:123:cluster/r1",
                    vault: {
                        replicas: "5",
                        storageSize: "20Gi",
                        storageClass: "fast-ssd",
                        ingressClassName: "nginx",
                        namespace: "secrets",
                    },
                    externalSecrets: { install: "true", namespace: "eso", replicas: 3, chartVersion: "2.9.1", imageTag: "v2.9.1" },
                }),
            ),
        );
        expect(config.kubeContext).toBe("arn:aws:eks:eu-west-1:123:cluster/r1");
        expect(config.resolved.vault).toMatchObject({
            replicas: 5,
            storageSize: "20Gi",
            storageClass: "fast-ssd",
            ingressClassName: "nginx",
            namespace: "secrets",
        });
        expect(config.resolved.externalSecrets).toEqual({
            install: true,
            namespace: "eso",
            replicas: 3,
            chartVersion: "2.9.1",
            imageTag: "v2.9.1",
        });
        expect(ok(parseConfig("region1", raw({ externalSecrets: { install: "false" } }))).resolved.externalSecrets.install).toBe(false);
    });

    it("warns about keys of other namespaces, which this program's explicit providers do not read", () => {
        const result = parseConfig("region1", raw({ "kubernetes:context": "x", "aws:region": "eu-west-1", "pulumi:tags": "{}" }));
        expect(result.ok && result.warnings).toEqual([
            expect.stringContaining("kubernetes:context is set, but this program reads only openova-vault:*"),
            expect.stringContaining("aws:region is set, but this program reads only openova-vault:*"),
            ...DEFAULT_WARNINGS,
        ]);
    });

    it("refuses keys under a misspelt project name, naming the key they were meant to be", () => {
        expect(problems(parseConfig("region1", raw({ "openova-valt:domain": "example.org" })))).toEqual([
            'Invalid config for stack "region1": openova-valt:domain is under the namespace openova-valt, which this program does not read (did you mean openova-vault:domain?). Fix: pulumi config rm openova-valt:domain -s region1 && pulumi config set domain <value> -s region1',
        ]);
    });

    it("fixes a nested key under a misspelt project name with --path, and the fix gives config the program accepts", () => {
        const given = raw({ "openova-vaul:vault.replicas": "5" });
        const [line] = problems(parseConfig("region1", given));
        expect(line).toBe(
            'Invalid config for stack "region1": openova-vaul:vault.replicas is under the namespace openova-vaul, which this program does not read (did you mean openova-vault:vault.replicas?). Fix: pulumi config rm openova-vaul:vault.replicas -s region1 && pulumi config set --path vault.replicas <value> -s region1',
        );
        const fixed = line
            .split("Fix: ")[1]
            .split(" && ")
            .reduce((config, command) => applyConfigCommand(config, PROJECT, command.replace("<value>", "5")), given);
        expect(ok(parseConfig("region1", fixed)).resolved.vault.replicas).toBe(5);
        // Without --path, the same command makes the flat key the program refuses.
        expect(problems(parseConfig("region1", applyConfigCommand(given, PROJECT, "pulumi config set vault.replicas 5")))[0]).toContain(
            "openova-vaul:vault.replicas is under the namespace openova-vaul",
        );
        expect(
            problems(parseConfig("region1", applyConfigCommand(raw(), PROJECT, "pulumi config set vault.replicas 5 -s region1")))[0],
        ).toContain("openova-vault:vault.replicas is a flat key, but vault is an object");
    });

    it("accepts every pulumi config set command the docs give (nested keys with --path), setting the key it names", () => {
        const docs = ["README.md", ...fs.readdirSync(path.join(projectDir, "docs")).map((file) => path.join("docs", file))];
        // Each set command, after the rm commands before it in the same code block (a block is run in order).
        const commands = docs.flatMap((file) =>
            fs
                .readFileSync(path.join(projectDir, file), "utf8")
                .split(/^```/m)
                .flatMap((block) => {
                    const removals: string[] = [];
                    return [...block.matchAll(/pulumi config (set|rm) [^`\n#]*/g)].flatMap((m) => {
                        const command = m[0].trim();
                        if (m[1] === "rm") {
                            removals.push(command);
                            return [];
                        }
                        // Placeholders and elisions are for the reader to fill.
                        return /<|\.\.\./.test(command) ? [] : [[file, command, [...removals]] as const];
                    });
                }),
        );
        expect(commands.map(([file]) => file)).toContain(path.join("docs", "configuration.md"));
        for (const [file, command, removals] of commands) {
            const [key, value] = command.split(" ").filter((word, i, all) => i > 2 && !word.startsWith("-") && all[i - 1] !== "-s");
            const name = key.replace(`${PROJECT}:`, "");
            const before = removals.reduce((config, removal) => applyConfigCommand(config, PROJECT, removal), raw());
            const result = parseConfig("region1", applyConfigCommand(before, PROJECT, command), operator);
            // A sibling the example leaves to another command (an object's required key) is not this command's problem.
            const about = result.ok
                ? []
                : result.problems.filter((line) => line.includes(`${PROJECT}:${name} `) || / namespace /.test(line));
            expect({ file, command, problems: about }).toEqual({ file, command, problems: [] });
            if (result.ok) {
                expect({ command, set: String(valueAt(result.config.resolved, keyPath(name))) }).toEqual({ command, set: value });
            }
        }
    });

    it("accepts an image tag pinned by digest", () => {
        const tag = `2.0.4@sha256:${"a".repeat(64)}`;
        expect(ok(parseConfig("region1", raw({ vault: { imageTag: tag } }))).resolved.vault.imageTag).toBe(tag);
    });

    it("warns about an image override that leaves the chart pinned, but not about restating the pinned chart", () => {
        const result = parseConfig("region1", raw({ vault: { imageTag: "2.0.5", chartVersion: "0.34.1" } }));
        expect(result.ok && result.warnings).toEqual([
            expect.stringContaining("openova-vault:vault.imageTag is 2.0.5 but the chart stays at the pinned 0.34.1"),
            ...DEFAULT_WARNINGS,
        ]);
        expect(
            ok(parseConfig("region1", raw({ vault: { chartVersion: "0.34.1" } }))) &&
                parseConfig("region1", raw({ vault: { chartVersion: "0.34.1" } })),
        ).toMatchObject({ warnings: DEFAULT_WARNINGS });
    });

    it("warns that ESO settings do nothing when ESO is not installed", () => {
        const result = parseConfig("region1", raw({ externalSecrets: { install: false, replicas: 3, chartVersion: "2.10.0" } }));
        expect(result.ok && result.warnings).toEqual([
            ...DEFAULT_WARNINGS,
            "openova-vault:externalSecrets.install is false, so openova-vault:externalSecrets.replicas, openova-vault:externalSecrets.chartVersion have no effect: this stack does not install ESO.",
        ]);
    });

    it("never prints the value of a key set with --secret", () => {
        const [line] = problems(parseConfig("region1", raw({ domain: "s3cr3t-value!" }), { secretKeys: [`${PROJECT}:domain`] }));
        expect(line).toContain("openova-vault:domain is [secret], but it must be");
        expect(line).not.toContain("s3cr3t");
    });

    it("warns about a single server and about a chart override that leaves the image pinned", () => {
        const result = parseConfig(
            "region1",
            raw({ vault: { replicas: 1, chartVersion: "0.35.0" }, externalSecrets: { chartVersion: "2.10.0" } }),
        );
        expect(result.ok && result.warnings).toEqual([
            expect.stringContaining("openova-vault:vault.replicas is 1"),
            expect.stringContaining("openova-vault:vault.chartVersion is 0.35.0 but the image stays at the pinned 2.0.4"),
            ...DEFAULT_WARNINGS,
            expect.stringContaining("openova-vault:externalSecrets.chartVersion is 2.10.0 but the image stays at the pinned v2.9.0"),
        ]);
    });
});

describe("config errors", () => {
    // Each bad input gives exactly one line, naming the stack, the key, the value, what is allowed and the fix.
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
        [
            "even replicas",
            { vault: { replicas: 4 } },
            "openova-vault:vault.replicas is 4, but it must be an odd whole number from 1 to 7",
            /Fix: pulumi config set --path vault\.replicas 3 -s region1$/,
        ],
        [
            "zero replicas",
            { vault: { replicas: 0 } },
            "openova-vault:vault.replicas is 0, but it must be an odd whole number from 1 to 7",
            /--path vault\.replicas 3/,
        ],
        [
            "too many replicas",
            { vault: { replicas: 9 } },
            "openova-vault:vault.replicas is 9, but it must be an odd",
            /--path vault\.replicas 3/,
        ],
        [
            "fractional replicas",
            { vault: { replicas: 2.5 } },
            "openova-vault:vault.replicas is 2.5, but it must be an odd",
            /--path vault\.replicas 3/,
        ],
        [
            "replicas as words",
            { vault: { replicas: "three" } },
            'openova-vault:vault.replicas is "three", but it must be an odd',
            /--path vault\.replicas 3/,
        ],
        [
            "a domain with a scheme",
            { domain: "https://example.com" },
            'openova-vault:domain is "https://example.com", but it must be a lowercase DNS name',
            /Fix: pulumi config set domain example\.com -s region1$/,
        ],
        [
            "a domain with a path",
            { domain: "example.com/vault" },
            'openova-vault:domain is "example.com/vault", but it must be a lowercase DNS name',
            /set domain example\.com/,
        ],
        [
            "a domain with a port",
            { domain: "example.com:443" },
            'openova-vault:domain is "example.com:443", but it must be',
            /set domain example\.com/,
        ],
        [
            "an uppercase domain",
            { domain: "Example.com" },
            'openova-vault:domain is "Example.com", but it must be a lowercase DNS name',
            /set domain/,
        ],
        [
            "no domain",
            { domain: undefined },
            "openova-vault:domain is not set, but it must be a lowercase DNS name",
            /set domain example\.com/,
        ],
        [
            "a region not in regions",
            { region: "region3" },
            "openova-vault:region is region3, which is not one of the regions (region1, region2)",
            /Fix: pulumi config rm region -s region1, or pulumi config set region region1 -s region1; see docs\/configuration\.md$/,
        ],
        [
            "a region that is not a DNS label",
            { region: "Region 3" },
            'openova-vault:region is "Region 3", but it must be one of the regions',
            /Fix: pulumi config set region region1 -s region1$/,
        ],
        [
            "a storage size in words",
            { vault: { storageSize: "ten" } },
            'openova-vault:vault.storageSize is "ten", but it must be a Kubernetes quantity with a unit, at least 1Gi',
            /--path vault\.storageSize 10Gi/,
        ],
        [
            "a zero storage size",
            { vault: { storageSize: "0Gi" } },
            'openova-vault:vault.storageSize is "0Gi", but it must be a Kubernetes quantity',
            /--path vault\.storageSize 10Gi/,
        ],
        [
            "a storage size without a unit (bytes)",
            { vault: { storageSize: "100" } },
            'openova-vault:vault.storageSize is "100", but it must be a Kubernetes quantity with a unit',
            /--path vault\.storageSize 10Gi/,
        ],
        [
            "a storage size below 1Gi",
            { vault: { storageSize: "500Mi" } },
            'openova-vault:vault.storageSize is "500Mi", but it must be a Kubernetes quantity with a unit, at least 1Gi',
            /10Gi/,
        ],
        [
            "an unpinned image tag",
            { vault: { imageTag: "latest" } },
            'openova-vault:vault.imageTag is "latest", but it must be a pinned image tag',
            /--path vault\.imageTag 2\.0\.4/,
        ],
        [
            "a reserved namespace for Vault",
            { vault: { namespace: "kube-system" } },
            'openova-vault:vault.namespace is "kube-system", but it must be a namespace name (a DNS label) other than default and kube-*',
            /--path vault\.namespace vault/,
        ],
        [
            "the default namespace for ESO",
            { externalSecrets: { namespace: "default" } },
            'openova-vault:externalSecrets.namespace is "default", but it must be a namespace name (a DNS label) other than default',
            /--path externalSecrets\.namespace external-secrets/,
        ],
        [
            "a kube context with surrounding spaces",
            { kubeContext: " region1" },
            'openova-vault:kubeContext is " region1", but it must be a kubeconfig context name (not empty, no surrounding spaces)',
            /set kubeContext region1/,
        ],
        [
            "a bad audit storage size",
            { vault: { auditStorageSize: "10 GB" } },
            'openova-vault:vault.auditStorageSize is "10 GB"',
            /--path vault\.auditStorageSize 10Gi/,
        ],
        [
            "a misspelt vault key",
            { vault: { replica: 3 } },
            "openova-vault:vault.replica is not a known key (did you mean openova-vault:vault.replicas?)",
            /Fix: pulumi config rm --path vault\.replica -s region1$/,
        ],
        [
            "a misspelt top-level key",
            { domian: "example.com" },
            "openova-vault:domian is not a known key (did you mean openova-vault:domain?)",
            /Fix: pulumi config rm domian -s region1$/,
        ],
        [
            "a misspelt ESO key",
            { externalSecrets: { instal: false } },
            "openova-vault:externalSecrets.instal is not a known key (did you mean openova-vault:externalSecrets.install?)",
            /rm --path externalSecrets\.instal/,
        ],
        [
            "a nested key set without --path",
            { "vault.replicas": "5" },
            "openova-vault:vault.replicas is a flat key, but vault is an object: nested keys are set with --path",
            /pulumi config rm vault\.replicas -s region1 && pulumi config set --path vault\.replicas <value> -s region1$/,
        ],
        [
            "an unknown key with no close match",
            { tlsEverywhere: true },
            "openova-vault:tlsEverywhere is not a known key; known keys: regions, region, domain",
            /rm tlsEverywhere/,
        ],
        [
            "vault settings that are not an object",
            { vault: 3 },
            "openova-vault:vault is 3, but it must be an object",
            /Fix: set its keys with --path, e.g. pulumi config set --path vault\.namespace vault -s region1$/,
        ],
        [
            "a region name that is not a DNS label",
            { regions: ["region1", "Region_2"] },
            'openova-vault:regions[1] is "Region_2", but it must be a list of distinct DNS labels',
            /Fix: edit the regions default under config: in Pulumi\.yaml \(and remove any openova-vault:regions from Pulumi\.region1\.yaml\)$/,
        ],
        [
            "regions listed twice",
            { regions: ["region1", "region1"] },
            'openova-vault:regions is ["region1","region1"], but it must be a list of distinct DNS labels',
            /regions/,
        ],
        [
            "regions as a comma-separated string",
            { regions: "region1,region2" },
            'openova-vault:regions is "region1,region2", but it must be a list',
            /regions/,
        ],
        [
            "an install flag that is not a boolean",
            { externalSecrets: { install: "yes" } },
            'openova-vault:externalSecrets.install is "yes", but it must be true or false',
            /--path externalSecrets\.install true/,
        ],
        [
            "a chart version with a v",
            { vault: { chartVersion: "v0.34.1" } },
            'openova-vault:vault.chartVersion is "v0.34.1", but it must be a semantic version',
            /--path vault\.chartVersion 0\.34\.1/,
        ],
        [
            "an ingress class that is not a DNS name",
            { vault: { ingressClassName: "Cilium" } },
            'openova-vault:vault.ingressClassName is "Cilium"',
            /--path vault\.ingressClassName cilium/,
        ],
        [
            "too many ESO replicas",
            { externalSecrets: { replicas: 6 } },
            "openova-vault:externalSecrets.replicas is 6, but it must be a whole number from 1 to 5",
            /--path externalSecrets\.replicas 2/,
        ],
        [
            "an empty kube context",
            { kubeContext: "  " },
            'openova-vault:kubeContext is "  ", but it must be a kubeconfig context name',
            /set kubeContext region1/,
        ],
        [
            "Vault and ESO in one namespace",
            { vault: { namespace: "platform" }, externalSecrets: { namespace: "platform" } },
            "openova-vault:externalSecrets.namespace is platform, Vault's own namespace, but the External Secrets Operator needs its own",
            /--path externalSecrets\.namespace external-secrets/,
        ],
    ];

    it.each(cases)("rejects %s with one line naming the stack, key, value, what is allowed and the fix", (_name, values, reason, fix) => {
        const lines = problems(parseConfig("region1", raw(values)));
        expect(lines).toHaveLength(1);
        const [line] = lines;
        expect(line).not.toContain("\n");
        expect(line.startsWith('Invalid config for stack "region1": ')).toBe(true);
        expect(line).toContain(reason);
        expect(line).toMatch(fix);
    });

    it("explains a stack whose name is not a region and that sets no region", () => {
        expect(problems(parseConfig("dev", raw()))).toEqual([
            'Invalid config for stack "dev": openova-vault:region is not set, so it defaults to the stack name "dev", which is not one of the regions (region1, region2). Fix: pulumi config set region <one of region1, region2> -s dev, or add dev to the regions default in Pulumi.yaml',
        ]);
    });

    it("reports every problem, one line each", () => {
        const lines = problems(parseConfig("region1", raw({ domain: "https://x", vault: { replicas: 2, storageSize: "ten" } })));
        expect(lines).toHaveLength(3);
    });

    it("rejects a domain that makes the Vault host name too long", () => {
        const domain = Array.from({ length: 4 }, () => "a".repeat(60)).join(".");
        expect(problems(parseConfig("region1", raw({ domain })))[0]).toContain("longer than 253 characters");
    });

    it("accepts exactly the odd replica counts from 1 to 7", () => {
        fc.assert(
            fc.property(fc.integer({ min: -20, max: 20 }), (replicas) => {
                const accepted = parseConfig("region1", raw({ vault: { replicas } })).ok;
                expect(accepted).toBe([1, 3, 5, 7].includes(replicas));
            }),
        );
    });

    it("accepts every documented key with its documented example", () => {
        // Keys that only make sense with others: what each example needs beside it.
        const awskms = { type: "awskms", parameters: { region: "eu-west-1", kms_key_id: "alias/vault" } };
        const jwt = { peerAuth: "jwt", serviceAccountIssuer: { url: "https://oidc.region1.example.com", discovery: true } };
        const context: Record<string, Record<string, unknown>> = {
            "vault.tls.secretName": { vault: { tls: { source: "secret" } } },
            "vault.tls.allowPlaintext": { vault: { tls: { source: "none" } } },
            "vault.seal.type": {
                vault: { seal: { ...awskms, credentials: "workload-identity", workloadIdentity: "arn:aws:iam::1:role/v" } },
            },
            "vault.seal.parameters": {
                vault: { seal: { type: "awskms", credentials: "workload-identity", workloadIdentity: "arn:aws:iam::1:role/v" } },
            },
            "vault.seal.credentials": { vault: { seal: { ...awskms, workloadIdentity: "arn:aws:iam::1:role/v" } } },
            "vault.seal.credentialsSecret": { vault: { seal: { ...awskms, credentials: "secret" } } },
            "vault.seal.workloadIdentity": { vault: { seal: { ...awskms, credentials: "workload-identity" } } },
            "vault.snapshots.storageClass": {},
            // The off-site example is an S3 bucket: the options S3 needs beside each one.
            ...Object.fromEntries(
                ["target", "bucket", "prefix", "workloadIdentity", "bucketRegion", "kmsKeyId", "peerBuckets"].map((field) => [
                    `vault.snapshots.offsite.${field}`,
                    { vault: { snapshots: { offsite: { target: "s3", bucket: "acme-vault-snapshots-eu", bucketRegion: "eu-west-1" } } } },
                ]),
            ),
            "vault.snapshots.offsite.kmsKeyName": {
                vault: { snapshots: { offsite: { target: "gcs", bucket: "acme-vault-snapshots-eu" } } },
            },
            ...Object.fromEntries(
                ["storageAccount", "encryptionScope"].map((field) => [
                    `vault.snapshots.offsite.${field}`,
                    {
                        vault: {
                            snapshots: {
                                offsite: {
                                    target: "azureBlob",
                                    bucket: "vault-snapshots",
                                    storageAccount: "acmevaultsnapshots",
                                    workloadIdentity: "11111111-2222-3333-4444-555555555555",
                                },
                            },
                        },
                    },
                ]),
            ),
            peerAuth: { serviceAccountIssuer: jwt.serviceAccountIssuer },
            "serviceAccountIssuer.url": { ...jwt },
            "serviceAccountIssuer.jwksFile": { peerAuth: "jwt", serviceAccountIssuer: { url: "https://oidc.region1.example.com" } },
            "serviceAccountIssuer.discovery": { ...jwt },
            "serviceAccountIssuer.discoveryCaFile": { ...jwt },
            "vault.ingressControllerNamespace": { vault: { ingressClassName: "nginx" } },
            // Only the haproxy class sends PROXY protocol on TLS pass-through.
            "vault.proxyProtocolRanges": { vault: { ingressClassName: "haproxy" } },
            // Each backend field with the other fields its type needs, in a stack without the self-hosted Vault's keys.
            ...Object.fromEntries(
                Object.entries(MANAGED_BACKENDS).flatMap(([type, backend]) =>
                    Object.keys(fieldsOf(backendUnion.options.find((o) => o.shape.type.value === type) ?? z.object({}))).map((field) => [
                        `backend.${field}`,
                        {
                            vaultCaCertFile: undefined,
                            backend: field === "locations" ? { ...backend, replication: "user-managed" } : backend,
                        },
                    ]),
                ),
            ),
            "backend.type": { vaultCaCertFile: undefined, backend: MANAGED_BACKENDS["aws-secrets-manager"] },
            ...Object.fromEntries(
                ["method", "path", "role"].map((field) => [
                    `backend.providerAuth.${field}`,
                    { vaultCaCertFile: undefined, backend: MANAGED_BACKENDS["hcp-vault"] },
                ]),
            ),
        };
        const rows = configRows().filter((row) => row.kind !== "object" && !row.key.includes("[]") && row.key !== "replicatedSecrets");
        expect(rows.length).toBeGreaterThan(40);
        for (const { key, example } of rows) {
            const [parent, ...rest] = key.split(".");
            const typed = parseYaml(example) as unknown;
            const nested = rest.reduceRight<unknown>((value, part) => ({ [part]: value }), typed);
            const values = rest.length === 0 ? { [parent]: typed } : { [parent]: nested };
            const result = parseConfig("region1", raw(merge(context[key] ?? {}, values)), operator);
            expect({ key, problems: result.ok ? [] : result.problems }).toEqual({ key, problems: [] });
        }
        const entry = { name: "db-credentials", namespace: "databases", keys: ["password"] };
        for (const row of configRows().filter((r) => r.key.startsWith("replicatedSecrets[]."))) {
            const field = row.key.slice("replicatedSecrets[].".length);
            const result = parseConfig(
                "region1",
                raw({ replicatedSecrets: [{ ...entry, [field]: parseYaml(row.example) as unknown }] }),
                operator,
            );
            expect({ key: row.key, problems: result.ok ? [] : result.problems }).toEqual({ key: row.key, problems: [] });
        }
    });

    it("says what is allowed for an option that lists its values from the schema alone, and refuses them written by hand", () => {
        const level = option(z.enum(["debug", "info", "warn"]).default("info"), { description: "A level.", example: "info" });
        expect(docOf(level).allowed).toBe("debug, info or warn");
        expect(docOf(option(z.boolean().optional(), { description: "A switch.", example: "true" })).allowed).toBe("true or false");
        const devices = option(z.array(z.enum(["file", "stdout"])).default([]), {
            description: "Devices.",
            allowed: `a list of ${VALUES}, each once`,
            example: "[file]",
        });
        expect(docOf(devices).allowed).toBe("a list of file or stdout, each once");
        expect(() => option(z.enum(["token", "jwt"]), { description: "Auth.", allowed: "token or jwt", example: "jwt" })).toThrow(
            "its schema lists its values (token, jwt): leave allowed out, or write {values} where they go",
        );
        expect(() => option(z.string(), { description: "A name.", example: "x" })).toThrow(
            "its schema lists no values, so say what is allowed",
        );
        // What an error says of a wrong value is that same text.
        expect(problems(parseConfig("region1", raw({ vault: { logLevel: "verbose" } })))[0]).toContain(
            'openova-vault:vault.logLevel is "verbose", but it must be trace, debug, info, warn or error.',
        );
    });

    it("documents every option that lists its values with exactly those values, taken from its schema", () => {
        const listed = configRows().flatMap((row) => {
            const schema = schemaAt(stackOptions, keyPath(row.key.replace(/\[\]/g, "[0]")));
            const values = schema === undefined ? undefined : listedValues(schema);
            return values === undefined ? [] : [{ key: row.key, values, allowed: row.allowed }];
        });
        expect(listed.map((row) => row.key)).toEqual(
            expect.arrayContaining(["vault.logLevel", "peerAuth", "vault.seal.type", "replicatedSecrets[].mode", "vault.auditDevices"]),
        );
        for (const row of listed) {
            expect({ key: row.key, allowed: row.allowed }).toEqual({
                key: row.key,
                allowed: expect.stringContaining(either(row.values)) as unknown,
            });
        }
    });

    it("lists exactly the documented keys as the known ones", () => {
        const [line] = problems(parseConfig("region1", raw({ vault: { nope: 1 } })));
        const nested = configRows()
            .filter((row) => row.key.startsWith("vault."))
            .map((row) => row.key.slice("vault.".length))
            .filter((k) => !k.includes("."));
        expect(nested).toContain("tls");
        expect(line).toContain(`known keys of openova-vault:vault: ${nested.join(", ")}.`);
        const [deeper] = problems(parseConfig("region1", raw({ vault: { tls: { sorce: "secret" } } })));
        expect(deeper).toContain(
            "openova-vault:vault.tls.sorce is not a known key (did you mean openova-vault:vault.tls.source?); known keys of openova-vault:vault.tls: source, issuerKind, issuerName, secretName, allowPlaintext.",
        );
    });
});

describe("the Vault gate and the admin credential", () => {
    it("fails loudly when vaultInitialized is true and VAULT_TOKEN is not set, instead of planning without a token", () => {
        const lines = problems(parseConfig("region1", raw({ vaultInitialized: true }), { environment: {} }));
        expect(lines).toEqual([
            expect.stringMatching(
                /^Invalid config for stack "region1": openova-vault:vaultInitialized is true, but VAULT_TOKEN is not set: .*Fix: export VAULT_TOKEN=<admin token> .*pulumi config set vaultInitialized false -s region1$/,
            ),
        ]);
        expect(problems(parseConfig("region1", raw({ vaultInitialized: "true" }), { environment: { VAULT_TOKEN: "" } }))).toHaveLength(1);
    });

    it("needs no token while the Vault is not initialized, and never reads the token's value", () => {
        expect(ok(parseConfig("region1", raw({ vaultInitialized: false }), { environment: {} })).vaultInitialized).toBe(false);
        const environment = new Proxy<Record<string, string>>(
            {},
            {
                get: (_target, name) => (name === "VAULT_TOKEN" ? "hvs.secret-value" : undefined),
            },
        );
        const config = ok(parseConfig("region1", raw({ vaultInitialized: true }), { environment }));
        expect(JSON.stringify(config)).not.toContain("hvs.secret-value");
    });

    it("refuses a Vault token in stack config, which would be committed to Git", () => {
        const lines = problems(parseConfig("region1", raw({ "vault:token": "hvs.oops" }), operator));
        expect(lines).toEqual([
            expect.stringContaining("vault:token is set, but the Vault admin token must come from the VAULT_TOKEN environment variable"),
        ]);
        expect(lines[0]).not.toContain("hvs.oops");
        expect(lines[0]).toMatch(/Fix: pulumi config rm vault:token -s region1, and revoke that token/);
    });

    it("reads the CA file and keeps its PEM for the peers", () => {
        const config = ok(parseConfig("region1", raw({ vaultCaCertFile: "certs/vault-ca.pem" }), operator));
        expect(config.vaultCaCertFile).toBe("certs/vault-ca.pem");
        expect(config.vaultCaCert).toBe(PEM);
    });

    it.each([
        ["a file that does not exist", "missing.pem", () => fail("missing.pem"), "cannot be read (ENOENT)"],
        ["a file that is not PEM", "ca.der", () => "\u0030\u0082binary", "holds no PEM certificate"],
        [
            "a file with a private key",
            "bundle.pem",
            () => `${PEM}-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n`,
            "holds a private key",
        ],
    ])("rejects %s as the CA file", (_name, file, readFile, reason) => {
        const lines = problems(parseConfig("region1", raw({ vaultCaCertFile: file }), { ...operator, readFile }));
        expect(lines).toEqual([expect.stringContaining(`openova-vault:vaultCaCertFile is "${file}", but it ${reason}`)]);
    });

    it.each([
        ["https://vault.region1.example.com", true],
        ["https://127.0.0.1:8200", true],
        // The servers listen with TLS only (the default): a plain-HTTP address cannot reach them.
        ["http://127.0.0.1:8200", false],
        ["https://vault.region1.example.com/", false],
        ["https://vault.region1.example.com/v1", false],
        ["https://root:hvs.x@vault.example.com", false],
        ["vault.region1.example.com", false],
        ["ftp://vault.example.com", false],
    ])("accepts %s as the provider's address: %s", (address, accepted) => {
        expect(parseConfig("region1", raw({ vaultAddress: address }), operator).ok).toBe(accepted);
    });

    it("lets the provider reach Vault elsewhere while peers keep the public address", () => {
        const config = ok(parseConfig("region1", raw({ vaultAddress: "https://127.0.0.1:8200" }), operator));
        expect(config.vaultAddress).toBe("https://127.0.0.1:8200");
    });

    it("accepts a plain-HTTP address only with TLS explicitly off, and says why otherwise", () => {
        const plaintext = { vault: { tls: { source: "none", allowPlaintext: true } } };
        expect(ok(parseConfig("region1", raw({ vaultAddress: "http://127.0.0.1:8200", ...plaintext }), operator)).vaultAddress).toBe(
            "http://127.0.0.1:8200",
        );
        expect(problems(parseConfig("region1", raw({ vaultAddress: "http://127.0.0.1:8200" }), operator))).toEqual([
            expect.stringContaining(
                "openova-vault:vaultAddress is http://127.0.0.1:8200, plain HTTP, but the servers listen with TLS only. Fix: pulumi config rm vaultAddress -s region1, or pulumi config set vaultAddress 'https://",
            ),
        ]);
    });

    it.each([
        [{ kvMount: "secret/data" }, 'openova-vault:kvMount is "secret/data", but it must be a mount path'],
        [{ peerOrganization: "my org" }, 'openova-vault:peerOrganization is "my org", but it must be a Pulumi organization name'],
        [{ vaultInitialized: "yes" }, 'openova-vault:vaultInitialized is "yes", but it must be true or false'],
    ])("rejects %j", (values, reason) => {
        expect(problems(parseConfig("region1", raw(values), operator))).toEqual([expect.stringContaining(reason)]);
    });
});

describe("replicatedSecrets", () => {
    const db = { name: "db-credentials", namespace: "databases", keys: ["password"] };

    it("defaults the mode to vault-written and the home to the first region, and resolves the first value only in the home stack", () => {
        const home = ok(parseConfig("region1", raw({ replicatedSecrets: [{ ...db, initialValue: "generate" }] })));
        expect(home.options.replicatedSecrets).toEqual([
            expect.objectContaining({ ...db, mode: "vault-written", home: "region1", initialValue: { generate: { key: "password" } } }),
        ]);
        const other = ok(parseConfig("region2", raw({ replicatedSecrets: [{ ...db, initialValue: "generate" }] })));
        expect(other.options.replicatedSecrets).toEqual([expect.objectContaining({ ...db, mode: "vault-written", home: "region1" })]);
        expect(other.options.replicatedSecrets?.[0]).not.toHaveProperty("initialValue");
    });

    it("passes a generated value's symbols on to the region as set, the safe set when not", () => {
        const symbolsOf = (entry: Record<string, unknown>) =>
            ok(parseConfig("region1", raw({ replicatedSecrets: [{ ...db, initialValue: "generate", ...entry }] }))).options
                .replicatedSecrets?.[0].passwordSymbols;
        expect(symbolsOf({ passwordSymbols: "!*" })).toBe("!*");
        expect(symbolsOf({ passwordSymbols: "" })).toBe("");
        expect(symbolsOf({})).toBe(SAFE_PASSWORD_SYMBOLS);
    });

    it("takes an operator-supplied first value from initialValues, as a Pulumi secret, only when set with --secret", async () => {
        const values = { replicatedSecrets: [{ ...db, initialValue: "config" }], initialValues: { "db-credentials": "s3cr3t" } };
        const config = ok(parseConfig("region1", raw(values), { secretKeys: ["openova-vault:initialValues"] }));
        const initial = config.options.replicatedSecrets?.[0].initialValue;
        expect(initial !== undefined && "value" in initial && pulumi.Output.isInstance(initial.value)).toBe(true);
        expect(await promiseOf(pulumi.output((initial as { value: pulumi.Input<Record<string, string>> }).value))).toEqual({
            password: "s3cr3t",
        });
        expect(await pulumi.isSecret(pulumi.output((initial as { value: pulumi.Input<Record<string, string>> }).value))).toBe(true);
        const [line] = problems(parseConfig("region1", raw(values)));
        expect(line).toContain("openova-vault:initialValues holds a value for db-credentials, but it is not set with --secret");
        expect(line).not.toContain("s3cr3t");
        expect(problems(parseConfig("region1", raw({ replicatedSecrets: [{ ...db, initialValue: "config" }] })))[0]).toContain(
            "Fix: pulumi config set --secret --path 'initialValues.db-credentials' <value> -s region1",
        );
    });

    it.each([
        [
            { ...db, mode: "both-ways" },
            'openova-vault:replicatedSecrets[0].mode is "both-ways", but it must be vault-written or cluster-written',
            "pulumi config set --path 'replicatedSecrets[0].mode' vault-written -s region1",
        ],
        [
            { ...db, home: "region9" },
            "openova-vault:replicatedSecrets[0].home is region9, which is not one of the regions (region1, region2)",
            "pulumi config set --path 'replicatedSecrets[0].home' region1 -s region1",
        ],
        [
            { ...db, namespace: "Databases" },
            'openova-vault:replicatedSecrets[0].namespace is "Databases"',
            "pulumi config set --path 'replicatedSecrets[0].namespace' databases -s region1",
        ],
        [
            { ...db, keys: ["a", "a"] },
            'openova-vault:replicatedSecrets[0].keys is ["a","a"], but it must be a non-empty list of distinct Secret keys',
            "pulumi config set --path 'replicatedSecrets[0].keys' '[password]' -s region1",
        ],
        [
            { ...db, initialValue: "generate", keys: ["user", "password"] },
            "but ESO's Password generator makes one value",
            "pulumi config rm --path 'replicatedSecrets[0].initialValue' -s region1",
        ],
        [
            { ...db, mode: "cluster-written", initialValue: "generate" },
            "but a cluster-written secret's owner creates its value",
            "pulumi config rm --path 'replicatedSecrets[0].initialValue' -s region1",
        ],
        [{ ...db, remoteKey: "../x" }, 'openova-vault:replicatedSecrets[0].remoteKey is "../x"', "replicatedSecrets[0].remoteKey"],
        [
            { ...db, initialValue: "generate", passwordSymbols: "-`" },
            'openova-vault:replicatedSecrets[0].passwordSymbols is "-`" ("`" ends or escapes a quoted value in shells, SQL, JSON, YAML and connection strings), but it must be distinct ASCII punctuation characters other than quotes, backslash and backtick, or "" for none',
            "pulumi config rm --path 'replicatedSecrets[0].passwordSymbols' -s region1, or pulumi config set --path 'replicatedSecrets[0].passwordSymbols' '_-.~' -s region1",
        ],
        [
            { ...db, nam: "x" },
            "openova-vault:replicatedSecrets[0].nam is not a known key (did you mean openova-vault:replicatedSecrets[0].name?)",
            "Fix: pulumi config rm --path 'replicatedSecrets[0].nam' -s region1",
        ],
    ])("rejects %j with one line", (entry, reason, fix) => {
        const lines = problems(parseConfig("region1", raw({ replicatedSecrets: [entry] })));
        expect(lines).toHaveLength(1);
        expect(lines[0]).toContain(reason);
        expect(lines[0]).toContain(fix);
    });

    it("rejects the same secret listed twice", () => {
        expect(problems(parseConfig("region1", raw({ replicatedSecrets: [db, db] })))).toEqual([
            expect.stringContaining("databases/db-credentials is listed twice"),
        ]);
    });
});

describe("security options", () => {
    const awskms = { type: "awskms", parameters: { region: "eu-west-1", kms_key_id: "alias/vault" } };

    it("are on by default: TLS from cert-manager, both audit devices, snapshots, JWT peer auth", () => {
        const { resolved } = ok(parseConfig("region1", raw()));
        expect(resolved.vault.tls).toEqual({ source: "cert-manager" });
        expect(resolved.vault.auditDevices).toEqual(["file", "stdout"]);
        expect(resolved.vault.snapshots).toMatchObject({ enabled: true, schedule: "0 * * * *", retain: 48 });
        expect(resolved.peerAuth).toBe("jwt");
        // So a stack with no issuer and no peerAuth set is refused, naming the key.
        expect(problems(parseConfig("region1", raw({ serviceAccountIssuer: undefined })))).toEqual([
            expect.stringContaining("openova-vault:serviceAccountIssuer is not set, but peerAuth is jwt"),
        ]);
    });

    it("need no token issuer in a region without peers: nobody would read it", () => {
        expect(ok(parseConfig("region1", raw({ regions: ["region1"], serviceAccountIssuer: undefined }))).resolved.peerAuth).toBe("jwt");
    });

    it("take token peer auth with a generation per peer, which reaches the region's options", () => {
        const config = ok(
            parseConfig("region1", raw({ peerAuth: "token", serviceAccountIssuer: undefined, peerTokenGenerations: { region2: 2 } })),
        );
        expect(config.options).toMatchObject({ peerAuth: "token", peerTokenGenerations: { region2: 2 } });
    });

    it.each([
        [
            "TLS off without the explicit setting",
            { vault: { tls: { source: "none" } } },
            "openova-vault:vault.tls.source is none, which sends every secret over the network in plaintext: set allowPlaintext to true",
        ],
        [
            "auto-unseal without credentials",
            { vault: { seal: awskms } },
            "openova-vault:vault.seal.credentials is not set, but type awskms needs credentials for the KMS: secret (with credentialsSecret) or workload-identity",
        ],
        [
            "a Secret as credentials, without its name",
            { vault: { seal: { ...awskms, credentials: "secret" } } },
            "openova-vault:vault.seal.credentialsSecret is not set, but credentials is secret: name a Secret in Vault's namespace with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY",
        ],
        [
            "a credential in the seal's parameters",
            {
                vault: {
                    seal: {
                        ...awskms,
                        credentials: "secret",
                        credentialsSecret: "kms",
                        parameters: { ...awskms.parameters, secret_key: "x" },
                    },
                },
            },
            "openova-vault:vault.seal.parameters has secret_key, which would put a credential in the server configuration",
        ],
        [
            "a seal without its required parameters",
            { vault: { seal: { type: "gcpckms", credentials: "workload-identity", workloadIdentity: "vault@p.iam.gserviceaccount.com" } } },
            "openova-vault:vault.seal.parameters lacks project, region, key_ring, crypto_key, which type gcpckms needs",
        ],
        [
            "transit with workload identity",
            {
                vault: {
                    seal: {
                        type: "transit",
                        parameters: { address: "https://t", key_name: "k", mount_path: "transit/" },
                        credentials: "workload-identity",
                        workloadIdentity: "x",
                    },
                },
            },
            "openova-vault:vault.seal.credentials is workload-identity, but type transit has none",
        ],
        [
            "Shamir with seal settings",
            { vault: { seal: { credentials: "secret" } } },
            "openova-vault:vault.seal.credentials is set, but type is shamir, which takes none",
        ],
        [
            "an existing-Secret source without its name",
            { vault: { tls: { source: "secret" } } },
            "openova-vault:vault.tls.secretName is not set, but source is secret",
        ],
        [
            "an issuer with an existing Secret",
            { vault: { tls: { source: "secret", secretName: "s", issuerName: "ca" } } },
            "openova-vault:vault.tls.issuerName has no effect with source secret",
        ],
        [
            "allowPlaintext with TLS on",
            { vault: { tls: { allowPlaintext: true } } },
            "openova-vault:vault.tls.allowPlaintext is set, but source is cert-manager",
        ],
        ["TLS on with no CA file", { vaultCaCertFile: undefined }, "openova-vault:vaultCaCertFile is not set, but TLS is on"],
        [
            "an ingress class with no known pass-through",
            { vault: { ingressClassName: "traefik", ingressControllerNamespace: "traefik" } },
            "openova-vault:vault.ingressClassName is traefik, which this project does not know how to pass TLS through",
        ],
        [
            "an ingress class with no known controller namespace",
            { vault: { ingressClassName: "traefik", ingressAnnotations: { "x/passthrough": "true" } } },
            "openova-vault:vault.ingressControllerNamespace is not set",
        ],
        [
            "a memory request above the limit",
            { vault: { resources: { memoryRequest: "2Gi" } } },
            "openova-vault:vault.resources.memoryRequest is 2Gi, more than memoryLimit 1Gi",
        ],
        [
            "a snapshot claim with a size",
            { vault: { snapshots: { claimName: "backups", storageSize: "20Gi" } } },
            "openova-vault:vault.snapshots.storageSize has no effect with claimName",
        ],
        [
            "an empty audit device list",
            { vault: { auditDevices: [] } },
            "openova-vault:vault.auditDevices is [], but it must be a list of file or stdout, each once",
        ],
        [
            "a snapshot schedule that is not cron",
            { vault: { snapshots: { schedule: "hourly" } } },
            'openova-vault:vault.snapshots.schedule is "hourly" (has 1 fields, not 5 (minute hour day-of-month month day-of-week)), but it must be a 5-field cron schedule',
        ],
        [
            "JWT peer auth (the default) without this cluster's issuer",
            { serviceAccountIssuer: undefined },
            "openova-vault:serviceAccountIssuer is not set, but peerAuth is jwt",
        ],
        [
            "a token generation for a region that is not a peer",
            { peerAuth: "token", peerTokenGenerations: { region1: 2, region3: 2 } },
            "openova-vault:peerTokenGenerations.region1 names region1, which is not a peer of region1 (peers: region2)",
        ],
        [
            "a token generation of 0",
            { peerAuth: "token", peerTokenGenerations: { region2: 0 } },
            "openova-vault:peerTokenGenerations.region2 is 0",
        ],
        [
            "token generations with JWT peer auth, where no token is issued",
            { peerTokenGenerations: { region2: 2 } },
            "openova-vault:peerTokenGenerations is set, but peerAuth is jwt: no token is issued",
        ],
        [
            "JWT peer auth without keys (no JWKS file, no discovery)",
            { peerAuth: "jwt", serviceAccountIssuer: { url: "https://oidc.example.com" } },
            "so the peers' Vaults have no key to check this cluster's tokens with",
        ],
        [
            "JWT peer auth with both key sources",
            {
                peerAuth: "jwt",
                serviceAccountIssuer: { url: "https://oidc.example.com", discovery: true, jwksFile: "identity/region1-jwks.json" },
            },
            "openova-vault:serviceAccountIssuer.jwksFile is set, and so is discovery: use one",
        ],
        [
            "a file that is not a JWKS",
            { peerAuth: "jwt", serviceAccountIssuer: { url: "https://oidc.example.com", jwksFile: "certs/vault-ca.pem" } },
            "is not a JWKS document with keys",
        ],
        [
            "a JWKS with a private key in it",
            { peerAuth: "jwt", serviceAccountIssuer: { url: "https://oidc.example.com", jwksFile: "identity/private-jwks.json" } },
            "holds something other than public keys",
        ],
        [
            "an ingress class named like an object's built-in member",
            { vault: { ingressClassName: "constructor" } },
            "openova-vault:vault.ingressClassName is constructor, which this project does not know how to pass TLS through",
        ],
        [
            "the ingress controller in Vault's namespace",
            { vault: { ingressClassName: "nginx", ingressControllerNamespace: "vault" } },
            "openova-vault:vault.ingressControllerNamespace is vault, Vault's own namespace",
        ],
        [
            "a certificate Secret the chart cannot mount",
            { vault: { tls: { source: "secret", secretName: "vault.tls" } } },
            'openova-vault:vault.tls.secretName is "vault.tls", but it must be a Secret name the chart can mount (a DNS label of at most 52 characters)',
        ],
        [
            "an issuer that is not https",
            { peerAuth: "jwt", serviceAccountIssuer: { url: "http://oidc.example.com", discovery: true } },
            'openova-vault:serviceAccountIssuer.url is "http://oidc.example.com", but it must be an https:// URL',
        ],
    ])("rejects %s, naming the key and the fix", (_name, values, reason) => {
        const lines = problems(parseConfig("region1", raw(values), operator));
        expect(lines).toEqual(expect.arrayContaining([expect.stringContaining(reason)]));
        for (const line of lines) {
            expect(line).toMatch(/^Invalid config for stack "region1": .+\. Fix: .+/);
        }
    });

    it("warns on every run while TLS is off", () => {
        const result = parseConfig("region1", raw({ vault: { tls: { source: "none", allowPlaintext: true } } }));
        expect(result.ok && result.warnings).toEqual([expect.stringContaining("TLS is off for the Vault of region1"), ...DEFAULT_WARNINGS]);
    });

    it("accepts every seal type with each credential source it supports", () => {
        const seals = [
            { ...awskms, credentials: "secret", credentialsSecret: "kms" },
            { ...awskms, credentials: "workload-identity", workloadIdentity: "arn:aws:iam::1:role/vault" },
            {
                type: "gcpckms",
                parameters: { project: "p", region: "global", key_ring: "r", crypto_key: "k" },
                credentials: "workload-identity",
                workloadIdentity: "vault@p.iam.gserviceaccount.com",
            },
            {
                type: "azurekeyvault",
                parameters: { tenant_id: "t", vault_name: "v", key_name: "k" },
                credentials: "secret",
                credentialsSecret: "azure",
            },
            {
                type: "transit",
                parameters: { address: "https://transit.example.com", key_name: "autounseal", mount_path: "transit/" },
                credentials: "secret",
                credentialsSecret: "transit",
            },
        ];
        for (const seal of seals) {
            expect(ok(parseConfig("region1", raw({ vault: { seal } }))).resolved.vault.seal).toEqual(seal);
        }
    });

    it("with JWT peer auth, publishes this cluster's issuer and its JWKS keys as PEM (what Vault's jwt_validation_pubkeys takes)", () => {
        const config = ok(
            parseConfig(
                "region1",
                raw({
                    peerAuth: "jwt",
                    serviceAccountIssuer: { url: "https://oidc.region1.example.com", jwksFile: "identity/region1-jwks.json" },
                }),
            ),
        );
        expect(config.resolved.peerAuth).toBe("jwt");
        expect(config.serviceAccountIssuer?.issuer).toBe("https://oidc.region1.example.com");
        expect(config.serviceAccountIssuer?.publicKeys).toHaveLength(1);
        const key = crypto.createPublicKey(config.serviceAccountIssuer?.publicKeys[0] ?? "");
        expect(key.export({ format: "jwk" })).toEqual(signingKey.publicKey.export({ format: "jwk" }));
        const discovered = ok(
            parseConfig(
                "region1",
                raw({
                    peerAuth: "jwt",
                    serviceAccountIssuer: {
                        url: "https://oidc.region1.example.com",
                        discovery: true,
                        discoveryCaFile: "certs/oidc-ca.pem",
                    },
                }),
            ),
        );
        expect(discovered.serviceAccountIssuer).toEqual({
            issuer: "https://oidc.region1.example.com",
            publicKeys: [],
            discoveryCaCert: PEM,
        });
    });

    it("warns when OIDC discovery would send the peers' Vaults to an in-cluster issuer they cannot reach", () => {
        const result = parseConfig(
            "region1",
            raw({ peerAuth: "jwt", serviceAccountIssuer: { url: "https://kubernetes.default.svc.cluster.local", discovery: true } }),
        );
        expect(result.ok && result.warnings).toEqual([
            ...DEFAULT_WARNINGS,
            expect.stringContaining("an in-cluster name, but with discovery the peers' Vaults fetch its keys from there"),
        ]);
    });

    it("warns that a published issuer does nothing with token peer auth", () => {
        const result = parseConfig("region1", raw({ peerAuth: "token" }));
        expect(result.ok && result.warnings).toEqual([
            ...DEFAULT_WARNINGS,
            expect.stringContaining("openova-vault:serviceAccountIssuer is set, but openova-vault:peerAuth is token"),
        ]);
    });
});

describe("monitoring", () => {
    it.each([
        [{ monitoring: { retention: "30s" } }, 'openova-vault:monitoring.retention is "30s", but it must be a Go duration of at least 60s'],
        [
            { monitoring: { serviceMonitor: true, prometheusNamespace: "vault" } },
            "openova-vault:monitoring.prometheusNamespace is vault, Vault's own namespace, but Prometheus needs its own",
        ],
        [
            { monitoring: { labels: { "not a label": "x" } } },
            'openova-vault:monitoring.labels is {"not a label":"x"}, but it must be an object of Kubernetes labels',
        ],
        [
            { monitoring: { serviceMonitr: true } },
            "openova-vault:monitoring.serviceMonitr is not a known key (did you mean openova-vault:monitoring.serviceMonitor?)",
        ],
    ])("rejects %j, naming the key", (values, reason) => {
        expect(problems(parseConfig("region1", raw(values)))).toEqual([expect.stringContaining(reason)]);
    });

    it("passes the settings through, and warns when alerts are asked for but nothing is scraped", () => {
        const result = parseConfig("region1", raw({ monitoring: { prometheusRules: true } }));
        expect(result.ok && result.config.resolved.monitoring).toMatchObject({ prometheusRules: true, serviceMonitor: false });
        expect(result.ok && result.warnings).toEqual([
            ...DEFAULT_WARNINGS,
            expect.stringContaining("openova-vault:monitoring.prometheusRules is true but openova-vault:monitoring.serviceMonitor is not"),
        ]);
        expect(
            ok(parseConfig("region1", raw({ monitoring: { serviceMonitor: "true", prometheusRules: true } }))).resolved.monitoring,
        ).toMatchObject({ serviceMonitor: true, prometheusRules: true });
    });
});

describe("backend", () => {
    /** A stack whose backend is managed: no self-hosted Vault keys, the given backend and keys. */
    const managed = (backend: Record<string, unknown>, values: Record<string, unknown> = {}) =>
        raw({ vaultCaCertFile: undefined, backend, ...values });
    const aws = MANAGED_BACKENDS["aws-secrets-manager"];
    const seed = { name: "db-credentials", namespace: "databases", keys: ["password"], initialValue: "generate" };
    /** parseConfig with the environment an operator of each backend has (the HCP provider's JWT). */
    const parseManaged = (config: Record<string, string>) => parseConfig("region1", config, operator);

    it("resolves the backend with its defaults into the region's config, and the self-hosted Vault by default", () => {
        expect(ok(parseConfig("region1", raw())).backend).toEqual({ type: "vault" });
        const config = ok(parseManaged(managed(aws)));
        expect(config.backend).toEqual({ ...aws, identity: "irsa", replicaRegions: [], secretPrefix: "openova-" });
        expect(config.options.backend).toEqual(config.backend);
    });

    it("leaves the Vault server options at their defaults, and warns about none of them, in a managed region", () => {
        for (const backend of Object.values(MANAGED_BACKENDS)) {
            const result = parseManaged(managed(backend));
            expect({ type: backend.type, problems: result.ok ? [] : result.problems }).toEqual({ type: backend.type, problems: [] });
            expect(result.ok && result.warnings).toEqual([]);
        }
    });

    it("refuses every Vault server option set in a managed region, at the deepest key set, naming the backend", () => {
        const set = {
            vault: { replicas: 5, auditDevices: ["file"], tls: { issuerKind: "ClusterIssuer" } },
            monitoring: { retention: "120s" },
            replicator: { scanInterval: "10m" },
        };
        expect(problems(parseManaged(managed(aws, set)))).toEqual([
            expect.stringContaining(
                "openova-vault:vault.replicas is 5, but backend.type is aws-secrets-manager: this region runs no Vault servers, so the option has no effect. Remove it. Fix: pulumi config rm --path vault.replicas -s region1",
            ),
            expect.stringContaining('openova-vault:vault.tls.issuerKind is "ClusterIssuer", but backend.type is aws-secrets-manager'),
            expect.stringContaining('openova-vault:vault.auditDevices is ["file"], but backend.type is aws-secrets-manager'),
            expect.stringContaining('openova-vault:monitoring.retention is "120s", but backend.type is aws-secrets-manager'),
            expect.stringContaining('openova-vault:replicator.scanInterval is "10m", but backend.type is aws-secrets-manager'),
        ]);
        // Snapshots are the Vault's too, down to their off-site copies.
        expect(problems(parseManaged(managed(aws, { vault: { snapshots: { enabled: false } } })))).toEqual([
            expect.stringContaining("openova-vault:vault.snapshots.enabled is false, but backend.type is aws-secrets-manager"),
        ]);
        // The same options are fine with the self-hosted Vault.
        expect(parseConfig("region1", raw(set)).ok).toBe(true);
    });

    it("refuses the keys of the self-hosted Vault's provider in a managed region, and no longer asks for its CA", () => {
        expect(
            problems(
                parseConfig(
                    "region1",
                    raw({ backend: MANAGED_BACKENDS["hcp-vault"], vaultInitialized: true, vaultAddress: "https://vault.example.com" }),
                    operator,
                ),
            ),
        ).toEqual([
            expect.stringContaining(
                "openova-vault:vaultInitialized is true, but backend.type is hcp-vault: this region runs no Vault of its own for the Vault provider to reach (it configures the HCP cluster at backend.address). Remove it",
            ),
            expect.stringContaining('openova-vault:vaultAddress is "https://vault.example.com", but backend.type is hcp-vault'),
            expect.stringContaining('openova-vault:vaultCaCertFile is "certs/vault-ca.pem", but backend.type is hcp-vault'),
        ]);
    });

    it("still needs the cluster's issuer in a managed region with peers: its ESO logs in to the peers' Vaults", () => {
        expect(problems(parseManaged(managed(aws, { serviceAccountIssuer: undefined })))).toEqual([
            expect.stringContaining("openova-vault:serviceAccountIssuer is not set, but peerAuth is jwt"),
        ]);
    });

    it("refuses a secret every region writes in a managed region, also by default, with writers: home as the fix", () => {
        for (const backend of Object.values(MANAGED_BACKENDS)) {
            expect(problems(parseManaged(managed(backend, { replicatedSecrets: [seed] })))).toEqual([
                expect.stringContaining(
                    `openova-vault:replicatedSecrets[0].writers is any (the default for a vault-written secret), but backend.type is ${backend.type}: a secret every region writes needs this project's replicator in every region, which runs beside a self-hosted Vault only. Set writers: home`,
                ),
            ]);
            expect(problems(parseManaged(managed(backend, { replicatedSecrets: [{ ...seed, writers: "any" }] })))).toEqual([
                expect.stringContaining("openova-vault:replicatedSecrets[0].writers is any, but backend.type is"),
            ]);
            expect(parseManaged(managed(backend, { replicatedSecrets: [{ ...seed, writers: "home" }] })).ok).toBe(true);
        }
        // A static credential's only fix is to remove it.
        expect(problems(parseManaged(managed({ ...aws, secretAccessKey: "abc" }, {})))).toEqual([
            expect.stringMatching(
                /backend\.secretAccessKey is set, but a static credential .* Fix: pulumi config rm --path backend\.secretAccessKey -s \S+$/,
            ),
        ]);
        // The fix is the one that works: removing writers would bring the default, any, back.
        expect(problems(parseManaged(managed(aws, { replicatedSecrets: [seed] })))[0]).toMatch(
            /Fix: pulumi config set --path 'replicatedSecrets\[0\]\.writers' home -s \S+$/,
        );
        // A cluster-written secret has one writer by default.
        expect(parseManaged(managed(aws, { replicatedSecrets: [{ ...seed, mode: "cluster-written", initialValue: undefined }] })).ok).toBe(
            true,
        );
    });
});

describe("a gcp-secret-manager backend", () => {
    const gcp = MANAGED_BACKENDS["gcp-secret-manager"];
    const pool = "projects/123456789012/locations/global/workloadIdentityPools/openova";
    const stack = (backend: Record<string, unknown>, values: Record<string, unknown> = {}) =>
        raw({ vaultCaCertFile: undefined, backend, ...values });

    it("is refused in its own stack without a pool when another region pushes to it, at backend.workloadIdentityPool", () => {
        // region1 is the home of the bootstrap's canary, so it pushes into region2's backend.
        expect(problems(parseConfig("region2", stack(gcp), operator))).toEqual([
            expect.stringContaining(
                "openova-vault:backend.workloadIdentityPool is not set, but region1 (the home of the bootstrap's replication canary) pushes into this region's backend",
            ),
        ]);
        expect(parseConfig("region2", stack({ ...gcp, workloadIdentityPool: pool }), operator).ok).toBe(true);
        expect(parseConfig("region1", stack(gcp), operator).ok).toBe(true);
    });

    it("is refused with a pool when a region that reaches it has a name Google does not take as a provider ID, at regions", () => {
        expect(problems(parseConfig("ap", stack({ ...gcp, workloadIdentityPool: pool }, { regions: ["eu", "ap"] }), operator))).toEqual([
            expect.stringContaining(
                "openova-vault:regions includes ap, eu, which cannot name their OIDC providers in backend.workloadIdentityPool",
            ),
        ]);
        // Its fix is in Pulumi.yaml, where the project's regions are listed.
        expect(problems(parseConfig("ap", stack({ ...gcp, workloadIdentityPool: pool }, { regions: ["eu", "ap"] }), operator))[0]).toMatch(
            /Fix: edit the regions default under config: in Pulumi\.yaml/,
        );
    });
});

describe("an hcp-vault backend", () => {
    const hcp = MANAGED_BACKENDS["hcp-vault"];
    const stack = (values: Record<string, unknown> = {}) => raw({ vaultCaCertFile: undefined, backend: hcp, ...values });

    it("needs the variable its provider logs in with, named by providerAuth, and never reads its value", () => {
        expect(problems(parseConfig("region1", stack(), { environment: { VAULT_TOKEN: "hvs.x" }, readFile }))).toEqual([
            'Invalid config for stack "region1": openova-vault:backend.providerAuth.method is jwt, but TERRAFORM_VAULT_AUTH_JWT is not set: the Vault provider logs in to the HCP cluster with it on every run. Fix: export TERRAFORM_VAULT_AUTH_JWT=<a JWT the role pulumi on the mount jwt accepts> (a CI job\'s OIDC token, say) and run again',
        ]);
        const token = stack({ backend: { ...hcp, providerAuth: { method: "token" } } });
        expect(problems(parseConfig("region1", token, { environment: { TERRAFORM_VAULT_AUTH_JWT: "x" }, readFile }))).toEqual([
            expect.stringContaining("openova-vault:backend.providerAuth.method is token, but VAULT_TOKEN is not set") as unknown,
        ]);
        expect(parseConfig("region1", token, { environment: { VAULT_TOKEN: "hvs.x" }, readFile }).ok).toBe(true);
        const config = ok(parseConfig("region1", stack(), operator));
        expect(JSON.stringify(config)).not.toContain("eyJ.test");
    });

    it("needs this cluster's issuer even without peers, publishes it, and refuses token peer auth", () => {
        const alone = { regions: ["region1"], serviceAccountIssuer: undefined };
        expect(problems(parseConfig("region1", stack(alone), operator))).toEqual([
            expect.stringContaining(
                "openova-vault:serviceAccountIssuer is not set, but backend.type is hcp-vault: the HCP cluster checks the tokens of this cluster's namespaces with its issuer and keys",
            ) as unknown,
        ]);
        expect(ok(parseConfig("region1", stack(), operator)).serviceAccountIssuer).toMatchObject({ issuer: ISSUER.url });
        expect(problems(parseConfig("region1", stack({ peerAuth: "token" }), operator))).toEqual([
            expect.stringContaining("openova-vault:peerAuth is token, but backend.type is hcp-vault") as unknown,
        ]);
    });
});
