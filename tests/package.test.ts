/**
 * The package as a platform imports it: `npm pack` builds it (compiled JavaScript and declarations),
 * a fresh project installs the tarball (with the Pulumi SDKs as its own peer dependencies, not this
 * repository's), and a plain Node program (no TypeScript loader) declares a region under Pulumi's
 * mocks; a TypeScript consumer typechecks against the declarations.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";

const ROOT = path.resolve(__dirname, "..");
const SDKS = ["pulumi", "kubernetes", "vault"] as const;
const run = promisify(execFile);

const PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const types = [];
pulumi.runtime
    .setMocks({ newResource: (a) => { types.push(a.type); return { id: a.name + "-id", state: a.inputs }; }, call: () => ({}) }, "platform", "dev")
    .then(async () => {
        const k8s = require("@pulumi/kubernetes");
        const { VaultRegion, vaultServerOptions, regionPrerequisites, regionVaultOptions, monitoringOptions, replicatorCode } = require("openova-vault");
        const provider = new k8s.Provider("cluster", { context: "east" });
        const region = new VaultRegion("east", { region: "east", regions: ["east", "west"], domain: pulumi.output("example.com") }, { providers: { kubernetes: provider } });
        const address = await new Promise((resolve) => region.vaultAddress.apply(resolve));
        await pulumi.runtime.disconnect();
        const prerequisites = regionPrerequisites({ vault: regionVaultOptions.parse({}), monitoring: monitoringOptions.parse({}) }).map((p) => p.id);
        const library = require("openova-vault");
        const cloudPolicyBuilders = ["replicatedSecretNames", "awsIamPolicy", "awsTrustPolicy", "gcpIamBindings", "gcpWorkloadIdentityUsers", "azureVaultScope", "azureRoleDefinition", "azureFederatedCredentials"].filter((name) => typeof library[name] === "function");
        console.log(JSON.stringify({ cloudPolicyBuilders, pulumiFrom: require.resolve("@pulumi/pulumi", { paths: [require.resolve("openova-vault")] }), address, replicas: vaultServerOptions.parse({}).replicas, prerequisites, types: [...new Set(types)].sort(), from: require.resolve("openova-vault"), replicatorFiles: Object.keys(replicatorCode()) }));
    });
`;

const CONSUMER = `
import { VaultRegion, type VaultRegionArgs } from "openova-vault";
const args: VaultRegionArgs = { region: "east", regions: ["east", "west"], domain: "example.com", vault: { replicas: 5 } };
export const region = new VaultRegion("east", args);
`;

describe("the package", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "openova-package-"));
    let tarball: string;

    beforeAll(async () => {
        const { stdout } = await run("npm", ["pack", "--silent", "--pack-destination", dir], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
        tarball = path.join(dir, stdout.trim().split("\n").pop() ?? "");
        fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "platform", private: true }));
        await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--legacy-peer-deps", "--loglevel=error", tarball], {
            cwd: dir,
            maxBuffer: 16 * 1024 * 1024,
        });
        // The platform's own Pulumi SDKs: this repository's copies, linked in (installing them again from the registry
        // would only repeat what npm does for any package). Linked after the install of the tarball
        // without its peers, which would remove them as not in package.json.
        fs.mkdirSync(path.join(dir, "node_modules", "@pulumi"), { recursive: true });
        for (const sdk of SDKS) {
            fs.symlinkSync(path.join(ROOT, "node_modules", "@pulumi", sdk), path.join(dir, "node_modules", "@pulumi", sdk), "dir");
        }
    }, 180_000);

    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("ships the compiled library and its declarations, not the sources, tests or stack program", async () => {
        const { stdout } = await run("tar", ["-tzf", tarball]);
        const files = stdout.trim().split("\n");
        expect(files).toContain("package/dist/components/index.js");
        expect(files).toContain("package/dist/components/index.d.ts");
        // TypeScript sources only where they are data: the replicator's code, which a ConfigMap carries to Node.js as it is.
        expect(files.filter((file) => /\.ts$/.test(file) && !file.endsWith(".d.ts") && !file.startsWith("package/replicator/"))).toEqual(
            [],
        );
        expect(files).toContain("package/replicator/main.ts");
        expect(files.filter((file) => /^package\/(tests|tools|bootstrap|stack|index\.js)/.test(file))).toEqual([]);
        // The cluster preflight's Kubernetes client stays with the stack program: the library never loads it.
        const { stdout: code } = await run("tar", ["-xzOf", tarball, "--wildcards", "package/dist/*.js"], { maxBuffer: 64 * 1024 * 1024 });
        expect(code).toContain("regionPrerequisites");
        expect(code).not.toContain("@kubernetes/client-node");
    });

    it("declares the Pulumi SDKs as peer dependencies, uses the platform's own, and runs from plain Node under Pulumi's mocks", async () => {
        const installed = JSON.parse(fs.readFileSync(path.join(dir, "node_modules", "openova-vault", "package.json"), "utf8")) as {
            dependencies?: Record<string, string>;
            peerDependencies?: Record<string, string>;
        };
        for (const sdk of SDKS) {
            expect(installed.peerDependencies).toHaveProperty([`@pulumi/${sdk}`]);
            expect(installed.dependencies ?? {}).not.toHaveProperty([`@pulumi/${sdk}`]);
        }
        expect(fs.existsSync(path.join(dir, "node_modules", "openova-vault", "node_modules", "@pulumi"))).toBe(false);
        fs.writeFileSync(path.join(dir, "main.js"), PROGRAM);
        const { stdout } = await run(process.execPath, ["main.js"], { cwd: dir });
        const result = JSON.parse(stdout) as {
            cloudPolicyBuilders: string[];
            pulumiFrom: string;
            address: string;
            replicas: number;
            prerequisites: string[];
            types: string[];
            from: string;
            replicatorFiles: string[];
        };
        // The package's own require of the SDK finds the platform's copy.
        expect(fs.realpathSync(result.pulumiFrom)).toBe(fs.realpathSync(require.resolve("@pulumi/pulumi")));
        // The replicator's code, found in the installed package, as its ConfigMap carries it.
        expect(result.replicatorFiles).toEqual(expect.arrayContaining(["package.json", "main.ts", "engine.ts", "config.ts"]));
        expect(result.address).toBe("https://vault.east.example.com");
        // Every cloud policy builder docs/backends.md names, for each backend, from the entry point.
        expect(result.cloudPolicyBuilders).toEqual([
            "replicatedSecretNames",
            "awsIamPolicy",
            "awsTrustPolicy",
            "gcpIamBindings",
            "gcpWorkloadIdentityUsers",
            "azureVaultScope",
            "azureRoleDefinition",
            "azureFederatedCredentials",
        ]);
        expect(result.replicas).toBe(3);
        // The cluster prerequisites, as data for the platform's own client (the package has no Kubernetes client).
        expect(result.prerequisites).toContain("issuer:ClusterIssuer/vault-ca-issuer");
        expect(result.types).toEqual(
            expect.arrayContaining(["openova:vault:VaultRegion", "openova:vault:VaultServer", "kubernetes:helm.sh/v4:Chart"]),
        );
        expect(fs.realpathSync(result.from)).toBe(
            fs.realpathSync(path.join(dir, "node_modules", "openova-vault", "dist", "components", "index.js")),
        );
    }, 60_000);

    it("typechecks a TypeScript consumer against its declarations, and rejects a wrong one", async () => {
        fs.writeFileSync(path.join(dir, "consumer.ts"), CONSUMER);
        fs.writeFileSync(path.join(dir, "wrong.ts"), CONSUMER.replace("replicas: 5", 'replicas: "five"'));
        const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
        const flags = ["--noEmit", "--strict", "--module", "node16", "--moduleResolution", "node16", "--skipLibCheck", "--types", "node"];
        // One compiler run over both files (each is a module of its own): the errors name only the wrong one.
        const failure = await run(
            process.execPath,
            [tsc, ...flags, "--typeRoots", path.join(ROOT, "node_modules", "@types"), "consumer.ts", "wrong.ts"],
            { cwd: dir },
        ).then(
            () => undefined,
            (error: { stdout: string }) => error,
        );
        const errors = (failure?.stdout ?? "").split("\n").filter((line) => line.includes("error TS"));
        expect(errors).toEqual([
            expect.stringMatching(/^wrong\.ts\(3,\d+\): error TS2322: Type 'string' is not assignable to type 'number/),
        ]);
    }, 60_000);
});
