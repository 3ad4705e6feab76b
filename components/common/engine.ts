/**
 * The engine a project runs in every region: HashiCorp Vault, or OpenBao, its open-source fork
 * (Linux Foundation, MPL-2.0). Both serve the same HTTP API for what this project uses (KV v2,
 * Kubernetes and JWT auth, policies, tokens, Raft), so the Vault provider, ESO and the replication are
 * the same for both; what differs is how the server is packaged and named. Every such fact is in one
 * table, {@link ENGINE_FACTS}, and the builders take the row of the engine they build for.
 *
 * The sources of each OpenBao fact are listed in docs/design.md, "OpenBao differences".
 */
import { z } from "zod";
import { option } from "./options";
import { OPENBAO_CHART, OPENBAO_IMAGE, VAULT_CHART, VAULT_IMAGE } from "./versions";

/** The engines a project can run. */
export const ENGINES = ["vault", "openbao"] as const;
export type Engine = (typeof ENGINES)[number];

/** What differs between the engines: the chart, the image, the names the chart and the image use, and a few behaviours. */
export interface EngineFacts {
    readonly engine: Engine;
    /** The product's name, as messages and docs say it. */
    readonly product: string;
    /** Its license (SPDX). */
    readonly license: string;
    /** The official chart, pinned (`components/common/versions.ts`). */
    readonly chart: {
        readonly repository: string;
        readonly chart: string;
        readonly version: string;
        readonly valuesSchema: { readonly url: string; readonly sha256: string };
    };
    /** The server image, pinned; `registry` when the chart names it apart from the repository. */
    readonly image: { readonly registry?: string; readonly repository: string; readonly tag: string };
    /**
     * The Helm release name. The chart names its objects after its "fullname", which is the release
     * name when that contains the chart's name (and no `fullnameOverride` is set, which this project
     * never sets): pods `<release>-0..n`, the headless service `<release>-internal` that Raft peers use,
     * and `<release>-active` in front of the leader.
     */
    readonly releaseName: string;
    /** The chart's name for the server container, and the `app.kubernetes.io/name` of its pods (the chart's name). */
    readonly serverContainer: string;
    readonly appName: string;
    /** The CLI, which is also the server's process name (`<cli> server`). */
    readonly cli: string;
    /** Prefix of the environment variables the CLI reads and the chart sets (`<prefix>ADDR`, `<prefix>CACERT`, `<prefix>K8S_POD_NAME`, ...). */
    readonly envPrefix: "VAULT_" | "BAO_";
    /** The environment variables the CLI takes a token from, the first set winning (OpenBao's CLI falls back to `VAULT_*`). */
    readonly tokenVariables: readonly string[];
    /** Where the chart mounts the data volume, the audit volume, and the Secrets of `server.extraVolumes`. */
    readonly paths: { readonly data: string; readonly audit: string; readonly userconfig: string };
    /**
     * Where audit devices are declared: through the API (`sys/audit`, the Vault provider's
     * `vault.Audit`), or in the server configuration (`audit` stanzas), because the engine refuses
     * to create them through the API by default.
     */
    readonly auditDevices: "api" | "config";
    /** Whether the server configuration knows `disable_mlock` (OpenBao removed mlock and the option). */
    readonly mlockOption: boolean;
    /**
     * How an operator who has revoked every root token makes a new one: with a quorum of the unseal
     * (or recovery) keys alone, or only with a token that may (the engine disabled the
     * unauthenticated root generation).
     */
    readonly rootGeneration: "keys" | "token";
    /** Auto-unseal seals of this project that the engine still has built in but has announced it will remove, with what to do. */
    readonly deprecatedSeals: Readonly<Record<string, string>>;
    /** Extra seal parameters for a seal type that uses workload identity (e.g. how it must authenticate). */
    readonly workloadIdentitySealParameters: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/** The facts of each engine. */
export const ENGINE_FACTS: Readonly<Record<Engine, EngineFacts>> = {
    vault: {
        engine: "vault",
        product: "Vault",
        license: "BUSL-1.1",
        chart: VAULT_CHART,
        image: VAULT_IMAGE,
        releaseName: "vault",
        serverContainer: "vault",
        appName: "vault",
        cli: "vault",
        envPrefix: "VAULT_",
        tokenVariables: ["VAULT_TOKEN"],
        paths: { data: "/vault/data", audit: "/vault/audit", userconfig: "/vault/userconfig" },
        auditDevices: "api",
        mlockOption: true,
        rootGeneration: "keys",
        deprecatedSeals: {},
        workloadIdentitySealParameters: {},
    },
    openbao: {
        engine: "openbao",
        product: "OpenBao",
        license: "MPL-2.0",
        chart: OPENBAO_CHART,
        image: OPENBAO_IMAGE,
        releaseName: "openbao",
        serverContainer: "openbao",
        appName: "openbao",
        cli: "bao",
        envPrefix: "BAO_",
        // openbao v2.6.2 api/env.go ReadBaoVariable: BAO_<name>, else VAULT_<name>.
        tokenVariables: ["BAO_TOKEN", "VAULT_TOKEN"],
        paths: { data: "/openbao/data", audit: "/openbao/audit", userconfig: "/openbao/userconfig" },
        // Since OpenBao 2.3 `sys/audit` refuses new devices unless the server sets
        // unsafe_allow_api_audit_creation; since 2.4 the configuration declares them.
        auditDevices: "config",
        mlockOption: false,
        // Since OpenBao 2.5 sys/generate-root/* is off unless a listener sets
        // disable_unauthed_generate_root_endpoints = false; 2.6's generate-root needs a token.
        rootGeneration: "token",
        // OpenBao 2.6 release notes, "Deprecations": removed from the binary in 2.7, kept as plugins.
        deprecatedSeals: Object.fromEntries(
            ["awskms", "gcpckms", "azurekeyvault"].map((type) => [
                type,
                `OpenBao 2.6 deprecated its built-in ${type} seal: 2.7 removes it from the server, which then needs the ${type} KMS plugin (openbao/openbao-plugins) to unseal. Keep imageTag at 2.6.x until the image carries the plugin`,
            ]),
        ),
        // openbao/go-kms-wrapping wrappers/azurekeyvault v2.4.0: without auth_method, a client_id alone
        // selects the managed identity (IMDS), not the federated token AKS Workload Identity injects.
        workloadIdentitySealParameters: { azurekeyvault: { auth_method: "workload_identity" } },
    },
};

/** The facts of `engine`. */
export function engineFacts(engine: Engine = "vault"): EngineFacts {
    return ENGINE_FACTS[engine];
}

/** The image reference of the engine's server image at `tag`, as the chart renders it. */
export function engineImage(facts: EngineFacts, tag: string): string {
    const repository = facts.image.registry === undefined ? facts.image.repository : `${facts.image.registry}/${facts.image.repository}`;
    return `${repository}:${tag}`;
}

/** The engine option: one for the whole project, so every region runs the same server. */
export const engineOption = option(z.enum(ENGINES).default("vault"), {
    description:
        "The secrets engine every region runs: `vault` (HashiCorp Vault, BUSL-1.1) or `openbao` (OpenBao, MPL-2.0, the Linux Foundation fork), each from its official chart at the version this project pins. Both are configured the same way through the Vault provider; docs/design.md lists what differs.",
    example: "openbao",
    projectWide: true,
});
