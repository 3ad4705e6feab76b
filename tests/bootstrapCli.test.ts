/**
 * `npm run bootstrap`: its help documents every flag, bad arguments exit 2, and on a machine without
 * the pulumi CLI or the regions' kubeconfig contexts (this one) it stops at the prerequisite check
 * with one line per missing thing and exit 1, having changed nothing. The stack files are read from
 * the project directory, and so is the CA file they name, wherever the command is started from.
 */
import type { RegionConfig } from "../stack/config";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { keyPrompts, main, planLines, selfHostedRegions, summary } from "../bootstrap/cli";
import { kubeContexts, missingPrerequisites, type Run } from "../bootstrap/prerequisites";
import { projectFileReader } from "../bootstrap/projectFileReader";
import { runCli } from "./support/cliRun";

const ROOT = path.join(__dirname, "..");
const CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBtestCAforTheBootstrapCommand\n-----END CERTIFICATE-----\n";

/**
 * A copy of this project's Pulumi.yaml and stack files in a temporary directory, each stack naming a
 * CA file relative to the project (TLS is on by default, and then the CA is required).
 * @param caFile where the stack files say the CA is, relative to the project; `write` whether it exists
 */
function projectCopy(caFile = "certs/vault-ca.pem", write = true): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-project-"));
    fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    for (const stack of ["region1", "region2"]) {
        const file = parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
        file.config["openova-vault:vaultCaCertFile"] = caFile;
        fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), stringify(file));
    }
    if (write) {
        fs.mkdirSync(path.dirname(path.join(dir, caFile)), { recursive: true });
        fs.writeFileSync(path.join(dir, caFile), CA_PEM);
    }
    return dir;
}

/**
 * The command in this process, over the project in `projectDir`, started from another directory, with
 * no pulumi CLI and no kubeconfig whatever this machine has (an empty PATH and a missing file).
 */
async function bootstrapIn(projectDir: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const saved = { PATH: process.env.PATH, KUBECONFIG: process.env.KUBECONFIG, cwd: process.cwd() };
    process.env.PATH = fs.mkdtempSync(path.join(os.tmpdir(), "empty-path-"));
    process.env.KUBECONFIG = path.join(os.tmpdir(), "no-such-kubeconfig");
    process.chdir(os.tmpdir());
    try {
        return await runCli((argv) => main(argv, projectDir), args);
    } finally {
        process.chdir(saved.cwd);
        process.env.PATH = saved.PATH;
        // Assigning undefined would set the text "undefined".
        if (saved.KUBECONFIG === undefined) {
            delete process.env.KUBECONFIG;
        } else {
            process.env.KUBECONFIG = saved.KUBECONFIG;
        }
    }
}

/** The command in this process, over this repository's project. */
const bootstrapCli = (...args: string[]) => bootstrapIn(ROOT, ...args);

describe("npm run bootstrap", () => {
    it("documents every flag in --help, run as its own process as `npm run bootstrap` runs it", () => {
        const { status: code, stdout } = spawnSync(process.execPath, ["--import", "tsx", "bootstrap/cli.ts", "--help"], {
            cwd: ROOT,
            encoding: "utf8",
        });
        expect(code).toBe(0);
        for (const flag of [
            "--regions",
            "--non-interactive",
            "--key-shares",
            "--key-threshold",
            "--pgp-keys",
            "--root-token-pgp-key",
            "--keep-root-token",
            "--verify",
            "--pod-timeout",
            "--help",
        ]) {
            expect({ flag, documented: new RegExp(`^\\s+(-h, )?${flag}\\b`, "m").test(stdout) }).toEqual({ flag, documented: true });
        }
        // The key flags set the recovery keys of an auto-unseal Vault, and TLS is verified with the region's CA.
        const help = stdout.replace(/\s+/g, " ");
        expect(help).toContain(
            "--key-shares N unseal key shares for a Vault being initialized, or recovery key shares for one that auto-unseals",
        );
        expect(help).toContain("--key-shares, --key-threshold and --pgp-keys then set the recovery keys");
        expect(help).toContain("Recovery keys cannot unseal; they authorize `vault operator generate-root` and seal migration.");
        expect(help).toContain(
            "verifies its certificate with the region's CA (openova-vault:vaultCaCertFile, relative to the project directory) for the name <pod>.vault-internal.<namespace>.svc",
        );
    });

    it("exits 2 on bad arguments, naming them", async () => {
        expect(await bootstrapCli("--bogus")).toMatchObject({
            code: 2,
            stderr: expect.stringContaining("Unknown option '--bogus'") as unknown,
        });
        expect((await bootstrapCli("--key-shares", "3", "--key-threshold", "5")).stderr).toContain(
            "--key-threshold 5 must be a whole number from 1 to --key-shares (3)",
        );
        // Without a terminal it runs only non-interactively, and then only with PGP keys.
        expect((await bootstrapCli("--non-interactive")).stderr).toContain("--non-interactive needs --pgp-keys");
    });

    it("suggests the flag a typo meant, and names the regions there are when given one that is not", async () => {
        expect(await bootstrapCli("--verfy")).toMatchObject({
            code: 2,
            stderr: expect.stringContaining("error: unknown option '--verfy' (did you mean --verify?)") as unknown,
        });
        expect(await bootstrapCli("--regions", "region1,regoin2")).toMatchObject({
            code: 2,
            stderr: expect.stringContaining(
                "error: --regions names regoin2, which is not one of the regions in Pulumi.yaml (region1, region2): did you mean region2?",
            ) as unknown,
        });
    });

    it("stops at the prerequisite check on this machine, as `npm run bootstrap` with no flags does", async () => {
        const { code, stderr } = await bootstrapIn(projectCopy());
        expect(code).toBe(1);
        expect(stderr).toContain("error: the pulumi CLI is not installed or not on PATH");
        expect(stderr).toContain("error: nothing was changed; run the bootstrap again once these are in place");
    });

    it("stops at the prerequisite check on this machine, one line per missing thing, exit 1", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgp-"));
        const keys = [1, 2, 3].map((i) => {
            const file = path.join(dir, `key${i}.b64`);
            fs.writeFileSync(file, Buffer.from(`public key ${i}`).toString("base64"));
            return file;
        });
        // The CA file is read relative to the project directory, not to where the command runs.
        const { code, stderr } = await bootstrapIn(
            projectCopy(),
            "--non-interactive",
            "--key-shares",
            "3",
            "--key-threshold",
            "2",
            "--pgp-keys",
            keys.join(","),
            "--root-token-pgp-key",
            keys[0],
        );
        expect(code).toBe(1);
        expect(stderr.trim().split("\n")).toEqual([
            "error: the pulumi CLI is not installed or not on PATH: install it (https://www.pulumi.com/docs/iac/download-install/), the Automation API drives it",
            'error: region region1: no kubeconfig context "region1" (its stack\'s openova-vault:kubeContext): add it to your kubeconfig (none found in KUBECONFIG or ~/.kube/config)',
            'error: region region2: no kubeconfig context "region2" (its stack\'s openova-vault:kubeContext): add it to your kubeconfig (none found in KUBECONFIG or ~/.kube/config)',
            "error: nothing was changed; run the bootstrap again once these are in place",
        ]);
    });

    it("stops before anything else when the CA file a stack names cannot be read from the project directory", async () => {
        const { code, stderr } = await bootstrapIn(projectCopy("certs/missing-ca.pem", false));
        expect(code).toBe(1);
        expect(stderr.split("\n")[0]).toMatch(
            /^error: Invalid config for stack "region1": openova-vault:vaultCaCertFile is "certs\/missing-ca\.pem", but it cannot be read \(ENOENT\)/,
        );
        expect(stderr).not.toContain("pulumi CLI");
    });

    it("stops before anything else when an HCP region's provider login is not in the environment, and goes on when it is", async () => {
        const saved = process.env.TERRAFORM_VAULT_AUTH_JWT;
        delete process.env.TERRAFORM_VAULT_AUTH_JWT;
        try {
            const { code, stderr } = await bootstrapIn(path.join(ROOT, "examples", "hcp-and-azure"));
            expect(code).toBe(1);
            expect(stderr.split("\n")[0]).toMatch(
                /^error: Invalid config for stack "west": openova-vault:backend\.providerAuth\.method is jwt, but TERRAFORM_VAULT_AUTH_JWT is not set/,
            );
            expect(stderr).not.toContain("pulumi CLI");
            // With it, the config is good and the bootstrap goes on to its prerequisites.
            process.env.TERRAFORM_VAULT_AUTH_JWT = "a JWT";
            const next = await bootstrapIn(path.join(ROOT, "examples", "hcp-and-azure"));
            expect(next.stderr).not.toContain("Invalid config");
            expect(next.stderr).toContain("error: the pulumi CLI is not installed or not on PATH");
        } finally {
            delete process.env.TERRAFORM_VAULT_AUTH_JWT;
            if (saved !== undefined) {
                process.env.TERRAFORM_VAULT_AUTH_JWT = saved;
            }
        }
    });

    it("stops before anything else when an HCP region logs in with a token and VAULT_TOKEN is not set", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-hcp-token-"));
        fs.cpSync(path.join(ROOT, "examples", "hcp-and-azure"), dir, { recursive: true });
        const west = path.join(dir, "Pulumi.west.yaml");
        fs.writeFileSync(west, fs.readFileSync(west, "utf8").replace(/method: jwt\n\s*role: pulumi/, "method: token"));
        const saved = process.env.VAULT_TOKEN;
        delete process.env.VAULT_TOKEN;
        try {
            const { code, stderr } = await bootstrapIn(dir);
            expect(code).toBe(1);
            expect(stderr.split("\n")[0]).toMatch(
                /^error: Invalid config for stack "west": openova-vault:backend\.providerAuth\.method is token, but VAULT_TOKEN is not set/,
            );
        } finally {
            if (saved !== undefined) {
                process.env.VAULT_TOKEN = saved;
            }
        }
    });

    it("refuses a PGP key file that is not base64, naming it", async () => {
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pgp-")), "key.asc");
        fs.writeFileSync(file, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n");
        const { code, stderr } = await bootstrapCli(
            "--non-interactive",
            "--key-shares",
            "1",
            "--key-threshold",
            "1",
            "--pgp-keys",
            file,
            "--root-token-pgp-key",
            file,
        );
        expect(code).toBe(1);
        expect(stderr).toContain(`error: ${file}: not a base64-encoded PGP public key`);
    });
});

describe("prerequisites", () => {
    const kubeconfig = "contexts:\n  - name: region1\n  - name: region2\n";
    const read = (file: string) => (file === "/k/config" ? kubeconfig : undefined);
    const pulumi =
        (loggedIn: boolean): Run =>
        (_command, args) =>
            args[0] === "whoami" ? { status: loggedIn ? 0 : 255, output: "" } : { status: 0, output: "v3.200.0" };

    it("are met with the CLI logged in and a context per region", () => {
        expect(
            missingPrerequisites({
                contexts: { region1: "region1", region2: "region2" },
                run: pulumi(true),
                environment: { KUBECONFIG: "/k/config" },
                readFile: read,
            }),
        ).toEqual([]);
    });

    it("say what is missing and how to fix it", () => {
        expect(
            missingPrerequisites({
                contexts: { region1: "region1", region3: "eu-3" },
                run: pulumi(false),
                environment: { KUBECONFIG: "/k/config" },
                readFile: read,
            }),
        ).toEqual([
            "pulumi is not logged in to a backend: run `pulumi login` (Pulumi Cloud, or a self-managed backend such as `pulumi login s3://<bucket>`)",
            'region region3: no kubeconfig context "eu-3" (its stack\'s openova-vault:kubeContext): add it to your kubeconfig (contexts: region1, region2)',
        ]);
    });

    it("read every file of KUBECONFIG", () => {
        const files: Record<string, string> = { "/a": "contexts: [{name: one}]\n", "/b": "contexts: [{name: two}]\n" };
        expect(kubeContexts({ KUBECONFIG: `/a${path.delimiter}/b${path.delimiter}/missing` }, (file) => files[file])).toEqual([
            "one",
            "two",
        ]);
    });
});

describe("files named in config", () => {
    it("are read relative to the project directory, and absolute paths as they are", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "project-"));
        fs.mkdirSync(path.join(dir, "certs"));
        fs.writeFileSync(path.join(dir, "certs", "ca.pem"), CA_PEM);
        const read = projectFileReader(dir);
        expect(read("certs/ca.pem")).toBe(CA_PEM);
        expect(read(path.join(dir, "certs", "ca.pem"))).toBe(CA_PEM);
        expect(() => read("certs/other.pem")).toThrow(/^ENOENT: no such file or directory/);
    });
});

describe("the summary", () => {
    it("says what was done and how later runs authenticate", () => {
        const lines = summary({
            created: ["a", "b"],
            initialized: ["a", "b"],
            unsealed: ["a", "b"],
            autoUnsealed: [],
            configured: ["a", "b"],
            wired: ["a"],
            revokedRootTokens: ["a", "b"],
        });
        expect(lines.join("\n")).toContain("Stacks created: a, b. Vaults initialized: a, b; unsealed: a, b.");
        expect(lines.join("\n")).toContain("Root tokens revoked: a, b. For later `pulumi up` runs, export VAULT_TOKEN");
        expect(
            summary({
                created: [],
                initialized: [],
                unsealed: [],
                autoUnsealed: [],
                configured: [],
                wired: [],
                revokedRootTokens: [],
            }).join("\n"),
        ).toContain("Stacks created: none.");
        const verified = summary({
            created: [],
            initialized: [],
            unsealed: [],
            autoUnsealed: [],
            configured: [],
            wired: [],
            revokedRootTokens: [],
            canary: { tookMs: 41_200, boundMs: 100_000 },
        });
        expect(verified).toContain("A canary write reached every region in 41 s (bound 100 s).");
        const auto = summary({
            created: [],
            initialized: ["a", "b"],
            unsealed: ["b"],
            autoUnsealed: ["a"],
            configured: [],
            wired: [],
            revokedRootTokens: ["a"],
        }).join("\n");
        expect(auto).toContain("Vaults initialized: a, b; unsealed: b; unsealed themselves (auto-unseal): a.");
        expect(auto).toContain(
            "make one with `vault operator generate-root` and the unseal keys (the recovery keys of an auto-unseal Vault) when needed",
        );
    });
});

describe("the summary of OpenBao regions", () => {
    it("names OpenBao, and says which root tokens it kept and how to replace them", () => {
        const lines = summary({
            created: ["a"],
            initialized: ["a"],
            unsealed: ["a"],
            autoUnsealed: [],
            configured: ["a"],
            wired: [],
            revokedRootTokens: [],
            keptRootTokens: ["a"],
            engines: { a: "openbao" },
        }).join("\n");
        expect(lines).toContain("Stacks created: a. OpenBao clusters initialized: a; unsealed: a.");
        expect(lines).toContain(
            "Root tokens kept: a. Revoke each once you have another admin credential: a token made from it with `bao token create`, or an admin auth method (OpenBao makes no root token from the unseal keys alone); until then it is the only way in.",
        );
        expect(lines).not.toMatch(/\bvault\b|Vaults? /);
    });
});

describe("the plan shown before anything changes", () => {
    it("names each region's engine, and says an OpenBao region's root token is kept", () => {
        const openbao = { backend: { type: "vault" }, resolved: { engine: "openbao" } } as unknown as RegionConfig;
        const vault = { backend: { type: "vault" }, resolved: { engine: "vault" } } as unknown as RegionConfig;
        const plan = {
            regions: ["region1", "region2"],
            keyShares: 5,
            keyThreshold: 3,
            keepRootToken: false,
            interactive: true,
            podTimeoutMs: 1,
            pollMs: 1,
        };
        const clusters = {
            region1: { context: "eu-1", vaultNamespace: "vault", config: openbao },
            region2: { context: "us-1", vaultNamespace: "vault", config: vault },
        };
        expect(planLines(plan, clusters, { region2: "awskms" })).toEqual([
            "The bootstrap will bring up, in this order:",
            "  region1: kubeconfig context eu-1, OpenBao in namespace vault",
            "  region2: kubeconfig context us-1, Vault in namespace vault, auto-unseal through awskms",
            "A Shamir OpenBao (region1) initialized now gets 5 unseal key shares, 3 needed to unseal.",
            "An auto-unseal Vault (region2) initialized now gets 5 recovery key shares, 3 needed to authorize generate-root or a seal migration; recovery keys cannot unseal, it unseals itself through its KMS.",
            "The root token of region1 is kept at the end: OpenBao makes no root token from the unseal keys alone. Revoke it once you have another admin credential.",
        ]);
        expect(planLines({ ...plan, regions: ["region1"] }, clusters).slice(2, 3)).toEqual([
            "An OpenBao initialized now gets 5 unseal key shares, 3 needed to unseal.",
        ]);
        expect(keyPrompts(["a"], { a: "shamir" }, { a: "openbao" }).shares).toBe("Unseal key shares for an OpenBao initialized now");
    });

    it("names each region's cluster and Vault namespace, from the stack files, and the key settings", () => {
        const lines = planLines(
            {
                regions: ["region1", "region2"],
                keyShares: 5,
                keyThreshold: 3,
                keepRootToken: false,
                interactive: true,
                podTimeoutMs: 1,
                pollMs: 1,
            },
            { region1: { context: "eu-1", vaultNamespace: "vault" }, region2: { context: "us-1", vaultNamespace: "secrets" } },
        );
        expect(lines).toEqual([
            "The bootstrap will bring up, in this order:",
            "  region1: kubeconfig context eu-1, Vault in namespace vault",
            "  region2: kubeconfig context us-1, Vault in namespace secrets",
            "A Vault initialized now gets 5 unseal key shares, 3 needed to unseal.",
        ]);
    });

    it("says which regions auto-unseal, and that their keys are recovery keys", () => {
        const clusters = { region1: { context: "eu-1", vaultNamespace: "vault" }, region2: { context: "us-1", vaultNamespace: "vault" } };
        const plan = {
            regions: ["region1", "region2"],
            keyShares: 5,
            keyThreshold: 3,
            keepRootToken: false,
            interactive: true,
            podTimeoutMs: 1,
            pollMs: 1,
        };
        expect(planLines(plan, clusters, { region1: "awskms", region2: "shamir" })).toEqual([
            "The bootstrap will bring up, in this order:",
            "  region1: kubeconfig context eu-1, Vault in namespace vault, auto-unseal through awskms",
            "  region2: kubeconfig context us-1, Vault in namespace vault",
            "A Shamir Vault (region2) initialized now gets 5 unseal key shares, 3 needed to unseal.",
            "An auto-unseal Vault (region1) initialized now gets 5 recovery key shares, 3 needed to authorize generate-root or a seal migration; recovery keys cannot unseal, it unseals itself through its KMS.",
        ]);
        expect(
            planLines({ ...plan, pgpKeys: ["a", "b", "c", "d", "e"] }, clusters, { region1: "gcpckms", region2: "transit" }).slice(3),
        ).toEqual([
            "An auto-unseal Vault (region1, region2) initialized now gets 5 recovery key shares, 3 needed to authorize generate-root or a seal migration, each encrypted to one PGP key; recovery keys cannot unseal, it unseals itself through its KMS.",
        ]);
    });

    it("asks for the key settings in the words of the regions' seals", () => {
        expect(keyPrompts(["a", "b"], { a: "shamir" })).toEqual({
            shares: "Unseal key shares for a Vault initialized now",
            threshold: "Keys needed to unseal",
        });
        expect(keyPrompts(["a"], { a: "awskms" })).toEqual({
            shares: "Recovery key shares for a Vault initialized now (it auto-unseals; recovery keys cannot unseal)",
            threshold: "Recovery keys needed to authorize generate-root or a seal migration",
        });
        expect(keyPrompts(["a", "b"], { a: "awskms" })).toEqual({
            shares: "Key shares for a Vault initialized now (unseal keys; recovery keys for a, which auto-unseals)",
            threshold: "Keys needed to unseal (recovery keys: to authorize generate-root or a seal migration)",
        });
    });
});

describe("regions whose backend is managed, in the plan and the summary", () => {
    const vault = { backend: { type: "vault" }, resolved: { engine: "vault" } } as unknown as RegionConfig;
    const aws = { backend: { type: "aws-secrets-manager" }, resolved: { engine: "vault" } } as unknown as RegionConfig;
    const hcp = { backend: { type: "hcp-vault" }, resolved: { engine: "vault" } } as unknown as RegionConfig;
    const plan = { keyShares: 5, keyThreshold: 3, keepRootToken: false, interactive: true, podTimeoutMs: 1, pollMs: 1 };
    const clusters = {
        eu: { context: "eu-1", vaultNamespace: "vault", config: vault },
        us: { context: "us-1", vaultNamespace: "vault", config: aws },
        ap: { context: "ap-1", vaultNamespace: "vault", config: hcp },
    };

    it("the plan names each managed region's backend, says there is nothing to initialize there, and gives key settings only for the others", () => {
        expect(planLines({ ...plan, regions: ["eu", "us", "ap"] }, clusters)).toEqual([
            "The bootstrap will bring up, in this order:",
            "  eu: kubeconfig context eu-1, Vault in namespace vault",
            "  us: kubeconfig context us-1, backend aws-secrets-manager, run by its provider (ESO and its stores only): nothing to initialize or unseal there",
            "  ap: kubeconfig context ap-1, backend hcp-vault, run by its provider (ESO and its stores only): nothing to initialize or unseal there",
            "A Vault initialized now gets 5 unseal key shares, 3 needed to unseal.",
        ]);
        // No key settings at all when no region has a Vault to initialize.
        expect(planLines({ ...plan, regions: ["us", "ap"] }, clusters)).toHaveLength(3);
        expect(selfHostedRegions(["eu", "us", "ap"], clusters)).toEqual(["eu"]);
    });

    it("the summary names the managed regions, and needs no admin token where every region is managed", () => {
        const report = {
            created: ["eu", "us"],
            initialized: ["eu"],
            unsealed: ["eu"],
            autoUnsealed: [],
            configured: ["eu"],
            wired: [],
            revokedRootTokens: ["eu"],
            engines: { eu: "vault", us: "vault" } as const,
            managed: { us: "aws-secrets-manager" } as const,
        };
        const lines = summary(report).join("\n");
        expect(lines).toContain(
            "Managed backends, with nothing to initialize or unseal: us (aws-secrets-manager); their stacks deploy ESO and the backend's stores only.",
        );
        expect(lines).toContain("Root tokens revoked: eu.");
        const onlyManaged = summary({
            ...report,
            created: ["us"],
            initialized: [],
            unsealed: [],
            configured: [],
            revokedRootTokens: [],
            engines: { us: "vault" },
        }).join("\n");
        expect(onlyManaged).toContain("No region runs a Vault of this project's, so there was no root token.");
        expect(onlyManaged).not.toContain("VAULT_TOKEN");
    });
});
