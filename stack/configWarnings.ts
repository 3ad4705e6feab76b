/**
 * What a valid config may still get wrong, said on every run: a single Vault server, a chart or image
 * pinned apart from its pair, TLS off, backups that stay in the cluster, an API open to all, settings that have no
 * effect, a seal the engine is phasing out.
 */
import { engineFacts } from "../components/common/engine";
import { EXTERNAL_SECRETS_CHART, EXTERNAL_SECRETS_IMAGE } from "../components/common/versions";
import { plaintextWarning } from "../components/vault-server/tls";
import { OFFSITE_TARGETS } from "../components/snapshots/offsite";
import type { StackOptions } from "./config";

/**
 * Warns when a chart or image version is overridden on its own: the pinned pair (chart and its
 * appVersion) is what the project was written and tested against.
 */
function versionWarnings(
    group: "vault" | "externalSecrets",
    set: { readonly chartVersion?: string; readonly imageTag?: string },
    pinned: { readonly chartVersion: string; readonly imageTag: string },
    qualified: (path: readonly PropertyKey[]) => string,
): string[] {
    const chartChanged = set.chartVersion !== undefined && set.chartVersion !== pinned.chartVersion;
    const imageChanged = set.imageTag !== undefined && set.imageTag !== pinned.imageTag;
    if (chartChanged && !imageChanged) {
        return [
            `${qualified([group, "chartVersion"])} is ${set.chartVersion} but the image stays at the pinned ${pinned.imageTag}; set ${qualified([group, "imageTag"])} to the chart's appVersion.`,
        ];
    }
    if (imageChanged && !chartChanged) {
        return [
            `${qualified([group, "imageTag"])} is ${set.imageTag} but the chart stays at the pinned ${pinned.chartVersion}, whose appVersion is ${pinned.imageTag}; check the chart supports that image, or set ${qualified([group, "chartVersion"])} too.`,
        ];
    }
    return [];
}

/** The warnings about a self-hosted Vault's servers, which a region with a managed backend does not run. */
function vaultServerWarnings(values: StackOptions, region: string, qualified: (path: readonly PropertyKey[]) => string): string[] {
    const warnings: string[] = [];
    if (values.vault.replicas === 1) {
        warnings.push(`${qualified(["vault", "replicas"])} is 1: this region's Vault has no failover; use 3 or 5 servers in production.`);
    }
    const engine = engineFacts(values.engine);
    warnings.push(...versionWarnings("vault", values.vault, { chartVersion: engine.chart.version, imageTag: engine.image.tag }, qualified));
    const seal = values.vault.seal.type;
    if (Object.hasOwn(engine.deprecatedSeals, seal)) {
        warnings.push(`${qualified(["vault", "seal", "type"])} is ${seal}: ${engine.deprecatedSeals[seal]}.`);
    }
    if (values.vault.tls.source === "none") {
        warnings.push(plaintextWarning(region));
    }
    if (values.vault.allowedSourceRanges === undefined) {
        warnings.push(
            `${qualified(["vault", "allowedSourceRanges"])} is not set: the ${engine.product} API and UI of ${region} are open to everyone who reaches its ingress. List the peer regions' egress addresses and your operators' ranges (docs/security.md, "Who can reach Vault").`,
        );
    }
    const snapshots = values.vault.snapshots;
    if (!snapshots.enabled) {
        warnings.push(
            `${qualified(["vault", "snapshots", "enabled"])} is false: the ${engine.product} of ${region} has no backups at all; losing its cluster loses every secret written there since (docs/backup-restore.md).`,
        );
    } else if (snapshots.offsite.target === undefined) {
        warnings.push(
            `${qualified(["vault", "snapshots", "offsite", "target"])} is not set: the ${engine.product} snapshots of ${region} stay in its cluster and are lost with it. Set it to ${OFFSITE_TARGETS.join(", ")} with a bucket and a workload identity (docs/backup-restore.md, "Off-site copies").`,
        );
    }
    return warnings;
}

/** The warnings of a valid config. */
export function configWarnings(values: StackOptions, region: string, qualified: (path: readonly PropertyKey[]) => string): string[] {
    const warnings: string[] = values.backend.type === "vault" ? vaultServerWarnings(values, region, qualified) : [];
    const issuer = values.serviceAccountIssuer;
    const issuerHost = issuer === undefined ? "" : new URL(issuer.url).hostname;
    if (values.peerAuth === "jwt" && issuer?.discovery === true && /(\.svc|\.cluster\.local|^kubernetes\.default)$/.test(issuerHost)) {
        warnings.push(
            `${qualified(["serviceAccountIssuer", "url"])} is ${issuer.url}, an in-cluster name, but with discovery the peers' Vaults fetch its keys from there: they cannot reach it, so their pulumi up fails when writing the JWT mount. Use serviceAccountIssuer.jwksFile, or a public issuer.`,
        );
    }
    if (values.monitoring.prometheusRules && !values.monitoring.serviceMonitor) {
        warnings.push(
            `${qualified(["monitoring", "prometheusRules"])} is true but ${qualified(["monitoring", "serviceMonitor"])} is not: the alerts need Vault's and ESO's metrics scraped (and kube-state-metrics); scrape them yourself, or set serviceMonitor.`,
        );
    }
    if (values.peerAuth === "token" && issuer !== undefined) {
        warnings.push(`${qualified(["serviceAccountIssuer"])} is set, but ${qualified(["peerAuth"])} is token, so no peer uses it.`);
    }
    const eso = values.externalSecrets;
    if (eso.install) {
        warnings.push(
            ...versionWarnings(
                "externalSecrets",
                eso,
                { chartVersion: EXTERNAL_SECRETS_CHART.version, imageTag: EXTERNAL_SECRETS_IMAGE.tag },
                qualified,
            ),
        );
    } else {
        const pinned = { replicas: 2, chartVersion: EXTERNAL_SECRETS_CHART.version, imageTag: EXTERNAL_SECRETS_IMAGE.tag } as const;
        const ignored = (["replicas", "chartVersion", "imageTag"] as const).filter((name) => eso[name] !== pinned[name]);
        if (ignored.length > 0) {
            warnings.push(
                `${qualified(["externalSecrets", "install"])} is false, so ${ignored.map((name) => qualified(["externalSecrets", name])).join(", ")} ${ignored.length === 1 ? "has" : "have"} no effect: this stack does not install ESO.`,
            );
        }
    }
    return warnings;
}
