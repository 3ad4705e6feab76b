/**
 * The OpenBao engine (`engine: openbao`): the openbao/openbao chart's values against that chart's own
 * values schema, the server configuration as OpenBao's HCL v1 parser reads it, the jobs' scripts run
 * under `sh` against a fake `bao` CLI, the config's checks, and both committed stacks synthesized with
 * OpenBao: the same Vault provider resources as with Vault (but the audit devices, which OpenBao's
 * configuration declares), and a mixed estate whose regions run different engines.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseHcl } from "js-hcl-parser";
import { parseDocument, stringify } from "yaml";
import { ENGINE_FACTS, type Engine, engineImage } from "../components/common/engine";
import { OPENBAO_CHART, OPENBAO_IMAGE } from "../components/common/versions";
import { alertRules } from "../components/monitoring/monitoringSpecs";
import { monitoringOptions } from "../components/monitoring/monitoringSpecs";
import { snapshotCronJob, snapshotScript } from "../components/snapshots/snapshotSpecs";
import { inClusterVaultAddress } from "../components/stores/storeSpecs";
import { renewalScript, renewerCronJob } from "../components/token-renewal/renewalSpecs";
import { auditDevice } from "../components/vault-config/setupValues";
import { vaultNetworkPolicies } from "../components/vault-server/networkPolicy";
import { vaultServerOptions } from "../components/vault-server/serverOptions";
import { type ServerContext, serverConfig, serverSettings, vaultHelmValues } from "../components/vault-server/serverValues";
import { tlsReloaderScript } from "../components/vault-server/tlsReload";
import { parseConfig } from "../stack/config";
import { main as synthMain } from "../tools/synth/cli";
import { runCli } from "./support/cliRun";
import { chartValidator, loadChartSchema, undeclaredPaths } from "./support/vaultChartSchema";
import { chartSchemaFile, schemaCached } from "../tools/schemas/fetchSchemas";

const HOST = "vault.region1.example.com";
const projectDir = path.resolve(__dirname, "..");

function settingsFor(options: object = {}, context: ServerContext = { engine: "openbao" }, monitoring: object = {}) {
    return serverSettings(vaultServerOptions.parse(options), HOST, monitoringOptions.parse(monitoring), context);
}

/** The server configuration as OpenBao reads it: HCL v1 (which reads a document starting with `{` as JSON), every block a list. */
function hclOf(config: string): Record<string, unknown> {
    const output = parseHcl(config);
    if (output.startsWith("unable to")) {
        throw new Error(output);
    }
    return JSON.parse(output) as Record<string, unknown>;
}

describe("the engine's facts", () => {
    it("pin OpenBao's chart and image in versions.ts, and name the image as the chart renders it (registry first)", () => {
        expect(ENGINE_FACTS.openbao.chart).toBe(OPENBAO_CHART);
        expect(ENGINE_FACTS.openbao.image).toBe(OPENBAO_IMAGE);
        expect(engineImage(ENGINE_FACTS.openbao, "2.6.2")).toBe("quay.io/openbao/openbao:2.6.2");
        expect(engineImage(ENGINE_FACTS.vault, "2.0.4")).toBe("hashicorp/vault:2.0.4");
    });
});

describe("the openbao/openbao chart's values", () => {
    // Every option that reaches the values: TLS (the reloader), a ServiceMonitor, a seal with workload identity.
    const variants: [string, object, object][] = [
        ["the defaults", {}, {}],
        ["TLS off", { tls: { source: "none", allowPlaintext: true } }, {}],
        [
            "workload identity and a ServiceMonitor",
            {
                seal: {
                    type: "azurekeyvault",
                    parameters: { tenant_id: "t", vault_name: "v", key_name: "k" },
                    credentials: "workload-identity",
                    workloadIdentity: "client-id",
                },
            },
            { serviceMonitor: true },
        ],
        [
            "a transit seal from a Secret",
            {
                seal: {
                    type: "transit",
                    parameters: { address: "https://t:8200", key_name: "k", mount_path: "transit" },
                    credentials: "secret",
                    credentialsSecret: "transit",
                },
            },
            {},
        ],
    ];

    // The schema is optional (tools/schemas/fetchSchemas.ts): without network or a copy these two are skipped, by name.
    const withSchema = schemaCached(chartSchemaFile("openbao")) ? it : it.skip;

    withSchema.each(variants)("with %s, are valid against the chart's own values schema", (_, options, monitoring) => {
        const validate = chartValidator("openbao");
        const values = vaultHelmValues(settingsFor(options, { engine: "openbao" }, monitoring));
        expect(validate(values) ? [] : validate.errors).toEqual([]);
    });

    withSchema("set only what the chart's schema declares, but for two values its schema leaves out and its templates read", () => {
        // openbao-helm 0.29.2: templates/server-statefulset.yaml reads server.image.registry (values.yaml
        // default quay.io), templates/prometheus-servicemonitor.yaml reads serverTelemetry.serviceMonitor.*;
        // values.schema.json declares neither. Any other undeclared path is a typo.
        const values = vaultHelmValues(settingsFor({}, { engine: "openbao" }, { serviceMonitor: true }));
        expect(undeclaredPaths(values, loadChartSchema("openbao"))).toEqual(["serverTelemetry.serviceMonitor", "server.image.registry"]);
        const typo = structuredClone(values) as unknown as { server: { ha: Record<string, unknown> } };
        typo.server.ha.replica = 3;
        expect(undeclaredPaths(typo, loadChartSchema("openbao"))).toContain("server.ha.replica");
    });

    it("use OpenBao's image, paths, variables and names", () => {
        const values = vaultHelmValues(settingsFor());
        expect(values.server.image).toEqual({ registry: "quay.io", repository: "openbao/openbao", tag: "2.6.2" });
        expect(values.server.extraEnvironmentVars).toEqual({ BAO_CACERT: "/openbao/userconfig/vault-server-tls/ca.crt" });
        // BAO_K8S_POD_NAME comes before BAO_API_ADDR in openbao-helm's StatefulSet env, so it expands.
        expect(values.server.ha.apiAddr).toBe("https://$(BAO_K8S_POD_NAME).openbao-internal.vault.svc:8200");
        const reloader = values.server.extraContainers?.[0];
        expect(reloader?.image).toBe("quay.io/openbao/openbao:2.6.2");
        expect(reloader?.volumeMounts[0].mountPath).toBe("/openbao/userconfig/vault-server-tls");
        expect(reloader?.command[2]).toBe(tlsReloaderScript(ENGINE_FACTS.openbao));
    });

    it("keep a pinned chart and image of the engine, or the ones the options name", () => {
        expect(settingsFor()).toMatchObject({ chartVersion: "0.29.2", imageTag: "2.6.2" });
        expect(settingsFor({}, {})).toMatchObject({ chartVersion: "0.34.1", imageTag: "2.0.4" });
        expect(settingsFor({ chartVersion: "0.30.0", imageTag: "2.7.0" })).toMatchObject({ chartVersion: "0.30.0", imageTag: "2.7.0" });
    });
});

describe("OpenBao's server configuration", () => {
    it("takes the client's address from PROXY protocol behind HAProxy, as Vault's does (openbao v2.6.2 helper/configutil/listener.go)", () => {
        const config = hclOf(serverConfig(settingsFor({ ingressClassName: "haproxy", proxyProtocolRanges: ["10.244.0.0/16"] })));
        const tcp = (config.listener as { tcp: Record<string, unknown>[] }[])[0].tcp[0];
        expect(tcp).toMatchObject({ proxy_protocol_behavior: "allow_authorized", proxy_protocol_authorized_addrs: ["10.244.0.0/16"] });
    });

    it("is read by HCL v1 as OpenBao reads it: Raft under /openbao/data, joins to openbao-<i>, the audit devices, no mlock", () => {
        const config = hclOf(serverConfig(settingsFor()));
        expect(config.disable_mlock).toBeUndefined();
        const raft = (config.storage as { raft: { path: string; retry_join: Record<string, string>[] }[] }[])[0].raft[0];
        expect(raft.path).toBe("/openbao/data");
        expect(raft.retry_join.map((join) => [join.leader_api_addr, join.leader_tls_servername])).toEqual([
            ["https://openbao-0.openbao-internal:8200", "openbao-0.openbao-internal"],
            ["https://openbao-1.openbao-internal:8200", "openbao-1.openbao-internal"],
            ["https://openbao-2.openbao-internal:8200", "openbao-2.openbao-internal"],
        ]);
        expect(raft.retry_join[0].leader_ca_cert_file).toBe("/openbao/userconfig/vault-server-tls/ca.crt");
        // One `audit "<type>" "<path>"` block per device, as Vault's API gets them (OpenBao refuses that API).
        const audit = config.audit as Record<string, Record<string, { description: string; options: Record<string, string>[] }[]>[]>[];
        const devices = audit.map((block) => {
            const [type, [paths]] = Object.entries(block)[0];
            const [devicePath, [body]] = Object.entries(paths)[0];
            return { path: devicePath, type, description: body.description, options: body.options[0] };
        });
        expect(devices).toEqual([auditDevice("file", ENGINE_FACTS.openbao), auditDevice("stdout", ENGINE_FACTS.openbao)]);
        expect(devices[0].options).toEqual({ file_path: "/openbao/audit/openbao-audit.log", mode: "0600" });
    });

    it("declares only the audit devices chosen; Vault's configuration declares none (its API does)", () => {
        expect(
            (JSON.parse(serverConfig(settingsFor({}, { engine: "openbao", auditDevices: ["stdout"] }))) as { audit: unknown }).audit,
        ).toEqual([{ file: { stdout: { description: "Audit log to the container's stdout", options: { file_path: "stdout" } } } }]);
        const vault = JSON.parse(serverConfig(settingsFor({}, {}))) as Record<string, unknown>;
        expect(vault.audit).toBeUndefined();
        expect(vault.disable_mlock).toBe(true);
    });

    it("tells the Azure Key Vault seal to use workload identity, which OpenBao's wrapper would otherwise read as a managed identity", () => {
        const seal = {
            type: "azurekeyvault",
            parameters: { tenant_id: "t", vault_name: "v", key_name: "k" },
            credentials: "workload-identity",
            workloadIdentity: "client-id",
        };
        const stanza = (engine: Engine) => (JSON.parse(serverConfig(settingsFor({ seal }, { engine }))) as { seal: object }).seal;
        expect(stanza("openbao")).toEqual({
            azurekeyvault: { tenant_id: "t", vault_name: "v", key_name: "k", client_id: "client-id", auth_method: "workload_identity" },
        });
        expect(stanza("vault")).toEqual({ azurekeyvault: { tenant_id: "t", vault_name: "v", key_name: "k", client_id: "client-id" } });
    });
});

describe("the certificate reloader with OpenBao", () => {
    it("is Vault's script with only the names changed: the process bao, the product OpenBao", () => {
        const vault = tlsReloaderScript(ENGINE_FACTS.vault);
        const openbao = tlsReloaderScript(ENGINE_FACTS.openbao);
        expect(openbao).toContain("for pid in $(pidof bao); do");
        expect(openbao).not.toMatch(/vault/i);
        expect(openbao).toBe(vault.replace(/\bvault\b/g, "bao").replace(/\bVault\b/g, "OpenBao"));
    });
});

describe("the network policy, stores and alerts with OpenBao", () => {
    it("select OpenBao's pods and container, and reach openbao-active", () => {
        const [policy] = vaultNetworkPolicies({
            namespace: "vault",
            releaseName: "openbao",
            appName: "openbao",
            apiPort: 8200,
            clusterPort: 8201,
            externalSecretsNamespace: "external-secrets",
            ingressClassName: "nginx",
            labels: {},
        });
        const selector = { "app.kubernetes.io/name": "openbao", "app.kubernetes.io/instance": "openbao", component: "server" };
        expect(policy.kind === "NetworkPolicy" && policy.spec.podSelector.matchLabels).toEqual(selector);
        expect(inClusterVaultAddress("vault", "https", "openbao")).toBe("https://openbao-active.vault.svc:8200");
        const alerts = alertRules({
            vaultNamespace: "vault",
            externalSecretsNamespace: "eso",
            releaseName: "openbao",
            engine: ENGINE_FACTS.openbao,
            snapshots: { schedule: "0 * * * *", offsite: "s3://acme-openbao-snapshots/vault-snapshots/region1/" },
        });
        expect(alerts.find((rule) => rule.alert === "VaultSnapshotStale")?.annotations.summary).toBe("No recent off-site OpenBao snapshot");
        const sealed = alerts.find((rule) => rule.alert === "VaultServerSealedOrDown");
        expect(sealed?.expr).toBe('kube_pod_container_status_ready{namespace="vault", pod=~"openbao-[0-9]+", container="openbao"} == 0');
        expect(alerts.find((rule) => rule.alert === "VaultNoActiveServer")?.annotations.description).toContain(
            "`bao operator raft list-peers`",
        );
        // OpenBao registers its telemetry under the service name vault: the metric names stay.
        expect(alerts.find((rule) => rule.alert === "VaultNoActiveServer")?.expr).toContain("vault_core_active");
        expect(JSON.stringify(alerts.map((rule) => rule.annotations))).not.toMatch(/\bVault\b/);
    });
});

/**
 * A fake `bao` CLI first on PATH, taking its token as OpenBao's CLI does: BAO_TOKEN when set, else
 * VAULT_TOKEN (openbao v2.6.2 api/env.go), else ~/.vault-token (command/token/helper_internal.go).
 * It records which token each call carried, and acts like the CLI for the calls the scripts make.
 */
describe("the jobs' scripts with OpenBao, run for real against a fake bao", () => {
    const TOKEN = "s.FAKE-job-token";
    const JWT = "eyJ.fake-jwt";
    let root: string;
    const FAKE_BAO = `#!/bin/sh
if [ -n "\${BAO_TOKEN+set}" ]; then token=$BAO_TOKEN
elif [ -n "\${VAULT_TOKEN+set}" ]; then token=$VAULT_TOKEN
elif [ -r "$HOME/.vault-token" ]; then token=$(cat "$HOME/.vault-token")
else token=
fi
case "$token" in "") auth=none ;; "$FAKE_TOKEN") auth=job-token ;; *) auth=other-token ;; esac
printf '%s %s\\n' "$auth" "$*" >> "$FAKE_LOG"
case "$1 $2" in
"write auth/kubernetes/login") printf '%s' "$FAKE_TOKEN" ;;
"write -field=token") printf '%s' "$FAKE_TOKEN" ;;
"write -field=token_duration") printf '%s' "\${FAKE_TTL:-2592000}" ;;
"operator raft") printf 'a complete snapshot' > "$5" ;;
"token revoke") echo "Success! Revoked token (if it existed)" ;;
*) echo "unexpected: $*" >&2; exit 99 ;;
esac
`;

    beforeAll(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "openbao-scripts-"));
        fs.mkdirSync(path.join(root, "bin"));
        fs.writeFileSync(path.join(root, "bin", "bao"), FAKE_BAO, { mode: 0o755 });
        fs.writeFileSync(path.join(root, "jwt"), JWT);
    });
    afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

    function run(
        script: string,
        name: string,
        env: Record<string, string> = {},
    ): { status: number | null; stdout: string; stderr: string; calls: string[] } {
        const file = path.join(root, `${name}.sh`);
        const log = path.join(root, `${name}.log`);
        const home = path.join(root, `${name}-home`);
        fs.mkdirSync(home);
        fs.writeFileSync(file, script);
        fs.writeFileSync(log, "");
        const result = spawnSync("/bin/sh", [file], {
            encoding: "utf8",
            timeout: 30_000,
            env: {
                // Only the fake bao: a stray `vault` call fails.
                PATH: `${path.join(root, "bin")}:/usr/bin:/bin`,
                HOME: home,
                FAKE_LOG: log,
                FAKE_TOKEN: TOKEN,
                // Someone else's tokens in the environment: neither may ride along on the login.
                BAO_TOKEN: "s.someone-elses-bao-token",
                VAULT_TOKEN: "s.someone-elses-vault-token",
                ...env,
            },
        });
        return { ...result, calls: fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean) };
    }

    it("snapshot: logs in with no token, saves and revokes with the job's own", () => {
        const dir = path.join(root, "snapshots");
        fs.mkdirSync(dir);
        const r = run(
            snapshotScript({ authPath: "kubernetes", tokenFile: path.join(root, "jwt"), dir, retain: 2, engine: ENGINE_FACTS.openbao }),
            "snapshot",
        );
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
        expect(r.calls[0]).toBe(`none write -field=token auth/kubernetes/login role=raft-snapshot jwt=@${path.join(root, "jwt")}`);
        expect(r.calls[1]).toMatch(/^job-token operator raft snapshot save .*\.partial-\d{8}T\d{6}Z\.snap$/);
        expect(r.calls[2]).toBe("job-token token revoke -self");
        expect(r.stdout).toContain("logging in to OpenBao at auth/kubernetes as role raft-snapshot");
        expect(fs.readdirSync(dir).filter((f) => f.endsWith(".snap"))).toHaveLength(1);
        expect(r.stdout + r.stderr).not.toContain(TOKEN);
    });

    it("token renewal: logs in with no token, renews and revokes with the job's own from ~/.vault-token", () => {
        const accessors = path.join(root, "accessors");
        fs.writeFileSync(accessors, "peer-region2 acc1\n");
        const r = run(
            renewalScript({
                authPath: "kubernetes",
                tokenFile: path.join(root, "jwt"),
                accessorsFile: accessors,
                engine: ENGINE_FACTS.openbao,
            }),
            "renewal",
        );
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
        expect(r.calls).toEqual([
            `none write -field=token auth/kubernetes/login role=token-renewer jwt=@${path.join(root, "jwt")}`,
            "job-token write -field=token_duration auth/token/renew-accessor accessor=acc1",
            "job-token token revoke -self",
        ]);
        expect(r.stdout).toContain("token-renewer: peer-region2: renewed, valid for 30d 0h");
        expect(r.stdout + r.stderr).not.toContain(TOKEN);
    });

    it("snapshot with an off-site copy: hands this run's file to the copy", () => {
        const dir = path.join(root, "snapshots-offsite");
        fs.mkdirSync(dir);
        const handoffFile = path.join(root, "handoff-name");
        const script = snapshotScript({
            authPath: "kubernetes",
            tokenFile: path.join(root, "jwt"),
            dir,
            retain: 2,
            engine: ENGINE_FACTS.openbao,
            handoffFile,
        });
        const r = run(script, "snapshot-offsite");
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
        const [saved] = fs.readdirSync(dir).filter((f) => f.endsWith(".snap"));
        expect(fs.readFileSync(handoffFile, "utf8")).toBe(`${saved}\n`);
    });

    it("the snapshot job with an off-site copy: OpenBao's CLI in the init container, the copy after it without its token", () => {
        const job = snapshotCronJob({
            namespace: "vault",
            imageTag: "2.6.2",
            vaultAddress: "https://openbao-active.vault.svc:8200",
            caSecret: { name: "tls", key: "ca.crt" },
            schedule: "0 * * * *",
            retain: 2,
            claimName: "c",
            authPath: "kubernetes",
            engine: "openbao",
            offsite: {
                target: "s3",
                prefix: "vault-snapshots/region1/",
                destinations: [{ bucket: "acme-openbao-snapshots" }],
                bucketRegion: "eu-west-1",
            },
        });
        const pod = job.spec.jobTemplate.spec.template.spec;
        const [snapshot] = pod.initContainers ?? [];
        expect(snapshot.image).toBe("quay.io/openbao/openbao:2.6.2");
        expect(snapshot.env.map((variable) => variable.name)).toEqual(["BAO_ADDR", "BAO_CACERT", "HOME"]);
        expect(snapshot.command[2]).toContain("bao operator raft snapshot save");
        expect(snapshot.command[2]).not.toMatch(/\bvault (write|operator|token)\b/);
        const [copy] = pod.containers;
        expect(copy.name).toBe("offsite-copy");
        expect(copy.volumeMounts.map((mount) => mount.name)).not.toContain("vault-token");
    });

    it("the token lifetime check: the same calls through bao, failing only on a token near its maximum lifetime", () => {
        const accessors = path.join(root, "accessors-lifetime");
        fs.writeFileSync(accessors, "peer-region2 acc1\n");
        const script = renewalScript({
            authPath: "kubernetes",
            tokenFile: path.join(root, "jwt"),
            accessorsFile: accessors,
            engine: ENGINE_FACTS.openbao,
            mode: "lifetime",
        });
        // A renewal that grants the whole 30-day period, then one that grants 12 days (the cap is near).
        const fine = run(script, "lifetime-fine");
        expect({ status: fine.status, stderr: fine.stderr }).toEqual({ status: 0, stderr: "" });
        expect(fine.calls[1]).toBe("job-token write -field=token_duration auth/token/renew-accessor accessor=acc1");
        expect(fine.stdout).toContain("lifetime check: no token within 30 days of its maximum lifetime");
        const near = run(script, "lifetime-near", { FAKE_TTL: String(12 * 86_400) });
        expect(near.status).toBe(1);
        expect(near.stdout).toContain("lifetime check: 1 token(s) within 30 days of their maximum lifetime: rotate them");
        expect(near.stdout + near.stderr).not.toContain(TOKEN);
    });

    it("run in OpenBao's image, with BAO_* variables", () => {
        const common = {
            namespace: "vault",
            imageTag: "2.6.2",
            vaultAddress: "https://openbao-active.vault.svc:8200",
            caSecret: { name: "tls", key: "ca.crt" },
        };
        const snapshot = snapshotCronJob({
            ...common,
            schedule: "0 * * * *",
            retain: 2,
            claimName: "c",
            authPath: "kubernetes",
            engine: "openbao",
        });
        const renewer = renewerCronJob({ ...common, authPath: "kubernetes", engine: "openbao" });
        const lifetime = renewerCronJob({ ...common, authPath: "kubernetes", engine: "openbao", mode: "lifetime" });
        expect(lifetime.spec.jobTemplate.spec.template.spec.containers[0].command[2]).toContain("bao write -field=token_duration");
        for (const job of [snapshot, renewer, lifetime]) {
            const [container] = job.spec.jobTemplate.spec.template.spec.containers;
            expect(container.image).toBe("quay.io/openbao/openbao:2.6.2");
            expect(container.env.map((variable) => variable.name)).toEqual(["BAO_ADDR", "BAO_CACERT", "HOME"]);
        }
    });
});

describe("the engine in a stack's config", () => {
    // As the committed stacks: their example CA, the cluster's token issuer by discovery.
    const base = {
        "openova-vault:domain": "example.com",
        "openova-vault:vaultCaCertFile": "certs/example-platform-ca.pem",
        "openova-vault:serviceAccountIssuer": JSON.stringify({ url: "https://oidc.region1.example.com", discovery: true }),
    };
    const files = { readFile: (file: string) => fs.readFileSync(path.join(projectDir, file), "utf8") };

    it("is vault or openbao, anything else refused in one line naming both", () => {
        const refused = parseConfig("region1", { ...base, "openova-vault:engine": "consul" }, files);
        expect(refused.ok ? [] : refused.problems).toEqual([
            expect.stringContaining('openova-vault:engine is "consul", but it must be vault or openbao'),
        ]);
        const accepted = parseConfig("region1", { ...base, "openova-vault:engine": "openbao" }, files);
        expect(accepted.ok && accepted.config.resolved.engine).toBe("openbao");
    });

    it("warns that OpenBao 2.6 is phasing out its built-in cloud KMS seals, but not about transit or with Vault", () => {
        const seal = (type: string, parameters: object, engine: Engine) =>
            parseConfig(
                "region1",
                {
                    ...base,
                    "openova-vault:engine": engine,
                    "openova-vault:vault": JSON.stringify({
                        seal: { type, parameters, credentials: "secret", credentialsSecret: "kms" },
                    }),
                },
                files,
            );
        const warnings = (result: ReturnType<typeof seal>) => (result.ok ? result.warnings.filter((w) => w.includes("seal")) : ["not ok"]);
        expect(warnings(seal("awskms", { region: "eu-west-1", kms_key_id: "k" }, "openbao"))).toEqual([
            "openova-vault:vault.seal.type is awskms: OpenBao 2.6 deprecated its built-in awskms seal: 2.7 removes it from the server, which then needs the awskms KMS plugin (openbao/openbao-plugins) to unseal. Keep imageTag at 2.6.x until the image carries the plugin.",
        ]);
        expect(warnings(seal("awskms", { region: "eu-west-1", kms_key_id: "k" }, "vault"))).toEqual([]);
        expect(warnings(seal("transit", { address: "https://t:8200", key_name: "k", mount_path: "transit" }, "openbao"))).toEqual([]);
    });
});

// ---------------------------------------------------------------------------------------------------
// The committed stacks, synthesized with each engine

interface Resource {
    type: string;
    name: string;
    urn: string;
    inputs: Record<string, unknown>;
}

/**
 * A temporary project: the project's Pulumi.yaml running the real program with `engine` as its
 * project-wide default, and the committed stack files (their CA file named by absolute path), each
 * with `perStack` merged into its config.
 */
function projectWith(engine: Engine, perStack: Record<string, Record<string, unknown>> = {}): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "openbao-synth-"));
    const project = parseDocument(fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8"));
    project.set("main", path.join(projectDir, "index.ts"));
    project.setIn(["config", "engine", "default"], engine);
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), project.toString());
    for (const stack of ["region1", "region2"]) {
        const file = parseDocument(fs.readFileSync(path.join(projectDir, `Pulumi.${stack}.yaml`), "utf8")).toJS() as {
            config: Record<string, unknown>;
        };
        file.config["openova-vault:vaultCaCertFile"] = path.join(projectDir, String(file.config["openova-vault:vaultCaCertFile"]));
        for (const [key, value] of Object.entries(perStack[stack] ?? {})) {
            file.config[`openova-vault:${key}`] = value;
        }
        fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), stringify(file));
    }
    return dir;
}

async function synthOf(dir: string): Promise<{ out: string; stderr: string }> {
    const out = path.join(dir, "out");
    const run = await runCli(synthMain, ["--project", dir, "--out", out]);
    if (run.code !== 0) {
        throw new Error(run.stderr);
    }
    return { out, stderr: run.stderr };
}

const resourcesOf = (out: string, stack: string) =>
    JSON.parse(fs.readFileSync(path.join(out, stack, "resources.json"), "utf8")) as Resource[];

/** The Vault provider's resources of a stack, by URN, with their inputs. */
const vaultProviderResources = (resources: readonly Resource[]) =>
    Object.fromEntries(resources.filter((r) => r.type.startsWith("vault:")).map((r) => [r.urn, r.inputs]));

describe("the committed stacks with engine openbao", () => {
    let vault: string;
    let openbao: string;
    let openbaoRun: { out: string; stderr: string };

    beforeAll(async () => {
        vault = (await synthOf(projectWith("vault"))).out;
        openbaoRun = await synthOf(projectWith("openbao"));
        openbao = openbaoRun.out;
    });

    const serverChart = (stack: string) =>
        resourcesOf(openbao, stack).find((r) => r.type === "kubernetes:helm.sh/v4:Chart" && r.inputs.chart === "openbao");

    // The schema is optional (tools/schemas/fetchSchemas.ts): without network or a copy this one is skipped, by name.
    (schemaCached(chartSchemaFile("openbao")) ? it : it.skip).each(["region1", "region2"])(
        "%s: the openbao/openbao chart's values, valid against its own schema",
        (stack) => {
            const validate = chartValidator("openbao");
            expect(validate(serverChart(stack)?.inputs.values) ? [] : validate.errors).toEqual([]);
        },
    );

    it.each(["region1", "region2"])("%s: the openbao/openbao chart at its pin, with its server configuration", (stack) => {
        const charts = resourcesOf(openbao, stack).filter((r) => r.type === "kubernetes:helm.sh/v4:Chart");
        const server = serverChart(stack);
        expect(charts.map((r) => r.inputs.chart).sort()).toEqual(["external-secrets", "openbao"]);
        expect(server?.inputs).toMatchObject({
            name: "openbao",
            version: "0.29.2",
            repositoryOpts: { repo: "https://openbao.github.io/openbao-helm" },
        });
        const config = hclOf((server?.inputs.values as { server: { ha: { raft: { config: string } } } }).server.ha.raft.config);
        expect(Object.keys(config).sort()).toEqual(["audit", "listener", "service_registration", "storage", "telemetry", "ui"]);
    });

    it.each(["region1", "region2"])(
        "%s: the same Vault provider resources as with Vault, but the audit devices, which OpenBao's configuration declares",
        (stack) => {
            const withVault = vaultProviderResources(resourcesOf(vault, stack));
            const withOpenBao = vaultProviderResources(resourcesOf(openbao, stack));
            const audit = Object.keys(withVault).filter((urn) => urn.includes("vault:index/audit:Audit"));
            // With Vault, the replicator's audit stream too; OpenBao's replicator finds writes by its scan.
            expect(audit.map((urn) => urn.split("::").at(-1)).sort()).toEqual([
                `${stack}-replicator-audit`,
                `${stack}-setup-audit-file`,
                `${stack}-setup-audit-stdout`,
            ]);
            expect(withOpenBao).toEqual(Object.fromEntries(Object.entries(withVault).filter(([urn]) => !audit.includes(urn))));
            // The mount, auth methods, policies, roles and JWT mounts.
            expect(Object.keys(withOpenBao).length).toBeGreaterThan(8);
        },
    );

    it("replicates the same secrets: the ESO objects differ only in the local stores' in-cluster address", () => {
        const eso = (out: string) =>
            resourcesOf(out, "region1")
                .filter((r) => r.type.startsWith("kubernetes:external-secrets.io/"))
                .map((r) => JSON.stringify(r.inputs));
        expect(eso(openbao)).toEqual(
            eso(vault).map((text) => text.replaceAll("https://vault-active.vault.svc", "https://openbao-active.vault.svc")),
        );
        expect(eso(openbao).join("\n")).toContain("https://openbao-active.vault.svc:8200");
    });

    it("names OpenBao's pods and CLI where the snapshot job and the certificate need them, and warns about nothing new", () => {
        const region1 = resourcesOf(openbao, "region1");
        const certificate = region1.find((r) => r.type === "kubernetes:cert-manager.io/v1:Certificate");
        expect((certificate?.inputs.spec as { dnsNames: string[] }).dnsNames).toContain("*.openbao-internal.vault.svc");
        const cronJob = JSON.stringify(region1.find((r) => r.name === "region1-snapshots-cronjob")?.inputs);
        expect(cronJob).toContain("bao operator raft snapshot save");
        expect(cronJob).toContain("quay.io/openbao/openbao:2.6.2");
        expect(openbaoRun.stderr).not.toMatch(/warn/i);
    });
});

describe("a mixed estate: one region on Vault, its peer on OpenBao", () => {
    it("is allowed: each region connects to the other exactly as when both run the same engine", async () => {
        // The engine is project-wide; a stack may still override it (moving regions over one by one).
        // Replication crosses regions only through the peer's public address, its KV v2 and auth API.
        const same = (await synthOf(projectWith("vault"))).out;
        const mixed = (await synthOf(projectWith("vault", { region2: { engine: "openbao" } }))).out;
        const peerSide = (out: string, stack: string) =>
            resourcesOf(out, stack)
                .filter(
                    (r) => r.name.includes("-store-region") || r.type.startsWith("vault:jwt/") || r.type === "vault:index/policy:Policy",
                )
                .map((r) => [r.urn, r.inputs]);
        for (const stack of ["region1", "region2"]) {
            expect(peerSide(mixed, stack)).toEqual(peerSide(same, stack));
            const outputs = JSON.parse(fs.readFileSync(path.join(mixed, stack, "outputs.json"), "utf8")) as { connectedPeers: string[] };
            expect(outputs.connectedPeers).toEqual([stack === "region1" ? "region2" : "region1"]);
        }
        const charts = (stack: string) =>
            resourcesOf(mixed, stack)
                .filter((r) => r.type === "kubernetes:helm.sh/v4:Chart" && r.inputs.chart !== "external-secrets")
                .map((r) => r.inputs.chart);
        expect([charts("region1"), charts("region2")]).toEqual([["vault"], ["openbao"]]);
    });
});
