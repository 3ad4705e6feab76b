/**
 * TLS for a region's Vault, end to end: the servers' listener serves a certificate (issued by
 * cert-manager, or from a Secret the operator provides), Raft peers verify each other with its CA,
 * the ingress passes TLS through to the servers (no plaintext hop behind it), and every client (the
 * local store, the snapshot job, the Vault provider, peer regions) verifies the server. The options,
 * the cert-manager Certificate, the names it must cover, and the ingress annotations.
 */
import { z } from "zod";
import { oneOf, option, options, ruleIssue, text, rules } from "../common/options";
import { isDnsSubdomain } from "../common/predicates";
import { ENGINE_FACTS, type EngineFacts } from "../common/engine";
import { MAX_MOUNTED_SECRET_NAME, isMountableSecretName } from "./seal";

/** Where the servers' certificate comes from, or `none` (plain HTTP, which needs `allowPlaintext`). */
export const TLS_SOURCES = ["cert-manager", "secret", "none"] as const;
export type TlsSource = (typeof TLS_SOURCES)[number];

/** cert-manager issuer kinds. */
export const ISSUER_KINDS = ["ClusterIssuer", "Issuer"] as const;
export type IssuerKind = (typeof ISSUER_KINDS)[number];

/** cert-manager's API group and version: the servers' Certificate, and the issuer kinds it references. */
export const CERT_MANAGER_API = { group: "cert-manager.io", version: "v1" } as const;

/**
 * What Pulumi waits for after creating or updating the Certificate: its `Ready` condition (cert-manager's
 * `CertificateConditionReady`), so a run reports success only once the certificate is issued and its
 * Secret exists for the servers to mount. The `pulumi.com/waitFor` annotation is read by the Kubernetes
 * provider since v4.18.0 (pulumi/pulumi-kubernetes CHANGELOG.md, 4.18.0; `provider/pkg/metadata/overrides.go`
 * `ReadyCondition` at v4.32.0); it fails the run after the provider's default 10 minutes.
 */
export const CERTIFICATE_AWAIT = { "pulumi.com/waitFor": "condition=Ready" } as const;

/** The Secret cert-manager writes (and the servers mount) when the source is cert-manager. */
export const CERTIFICATE_SECRET = "vault-server-tls";

const DEFAULT_ISSUER = { kind: "ClusterIssuer", name: "vault-ca-issuer" } as const;

/** TLS on the servers' listener, end to end. */
export const tlsOptions = options({
    source: option(oneOf(TLS_SOURCES).default("cert-manager"), {
        description:
            "Where the servers' certificate comes from: `cert-manager` (a Certificate from the issuer below), `secret` (a `kubernetes.io/tls` Secret in Vault's namespace with `tls.crt`, `tls.key` and `ca.crt`), or `none` (plain HTTP, only with allowPlaintext).",
        example: "cert-manager",
    }),
    issuerKind: option(oneOf(ISSUER_KINDS).optional(), {
        description: "The cert-manager issuer's kind (source cert-manager).",
        example: "ClusterIssuer",
        defaultText: DEFAULT_ISSUER.kind,
    }),
    issuerName: option(text(isDnsSubdomain).optional(), {
        description:
            "The cert-manager issuer that signs the servers' certificate (source cert-manager). It must sign in-cluster names (`*.vault-internal`, `vault-active.<namespace>.svc`; `openbao-` with OpenBao), so it is a private CA, not a public ACME issuer.",
        allowed: "a Kubernetes object name",
        example: "vault-ca-issuer",
        defaultText: DEFAULT_ISSUER.name,
    }),
    secretName: option(text(isMountableSecretName).optional(), {
        description: "With source secret: the Secret holding `tls.crt`, `tls.key` and `ca.crt`, in Vault's namespace.",
        allowed: `a Secret name the chart can mount (a DNS label of at most ${MAX_MOUNTED_SECRET_NAME} characters)`,
        example: "vault-tls",
        defaultText: "(required with source secret)",
    }),
    allowPlaintext: option(z.boolean().optional(), {
        description:
            "Must be true with source none: a deliberate acknowledgement that tokens and secrets then cross the network in plaintext.",
        allowed: "{values}; true only with source none",
        example: "true",
        defaultText: "false",
    }),
}).check(
    rules((tls, ctx) => {
        if (tls.source !== "cert-manager" && (tls.issuerKind !== undefined || tls.issuerName !== undefined)) {
            ruleIssue(
                ctx,
                [tls.issuerName !== undefined ? "issuerName" : "issuerKind"],
                `has no effect with source ${tls.source}: remove it, or set source to cert-manager`,
            );
        }
        if (tls.source === "secret" && tls.secretName === undefined) {
            ruleIssue(
                ctx,
                ["secretName"],
                "is not set, but source is secret: name a kubernetes.io/tls Secret in Vault's namespace with tls.crt, tls.key and ca.crt",
            );
        }
        if (tls.source !== "secret" && tls.secretName !== undefined) {
            ruleIssue(ctx, ["secretName"], `is set, but source is ${tls.source}: set source to secret, or remove secretName`);
        }
        if (tls.source === "none" && tls.allowPlaintext !== true) {
            ruleIssue(
                ctx,
                ["source"],
                "is none, which sends every secret over the network in plaintext: set allowPlaintext to true to accept that, or use TLS",
            );
        }
        if (tls.source !== "none" && tls.allowPlaintext !== undefined) {
            ruleIssue(ctx, ["allowPlaintext"], `is set, but source is ${tls.source} (TLS is on): remove allowPlaintext`);
        }
    }),
);

export type VaultTlsOptions = z.input<typeof tlsOptions>;

/** The TLS options resolved: either TLS from a Secret the servers mount, or none. */
export type ResolvedVaultTls =
    | {
          readonly enabled: true;
          readonly source: "cert-manager" | "secret";
          /** The Secret with `tls.crt`, `tls.key` and `ca.crt` that the servers mount. */
          readonly secretName: string;
          readonly issuer?: { readonly kind: IssuerKind; readonly name: string };
      }
    | { readonly enabled: false };

/** What the validated options mean for the servers. */
export function resolvedTls(tls: z.output<typeof tlsOptions>): ResolvedVaultTls {
    if (tls.source === "none") {
        return { enabled: false };
    }
    if (tls.source === "secret") {
        return { enabled: true, source: "secret", secretName: tls.secretName ?? "" };
    }
    return {
        enabled: true,
        source: "cert-manager",
        secretName: CERTIFICATE_SECRET,
        issuer: { kind: tls.issuerKind ?? DEFAULT_ISSUER.kind, name: tls.issuerName ?? DEFAULT_ISSUER.name },
    };
}

/** The warning every run prints while TLS is off. */
export function plaintextWarning(region: string): string {
    return `TLS is off for the Vault of ${region} (vault.tls.source is none): tokens and secrets cross the network in plaintext. Use TLS in any environment that holds real secrets.`;
}

/** Where the servers mount the certificate Secret (the chart's `extraVolumes` convention, under the engine's userconfig path). */
export function tlsMountPath(secretName: string, engine: EngineFacts = ENGINE_FACTS.vault): string {
    return `${engine.paths.userconfig}/${secretName}`;
}

/**
 * Every name the servers' certificate must cover: the public host (peers and the ingress pass-through),
 * the services (`vault`, `vault-active` for the local store and the snapshot job), each pod behind
 * the headless `vault-internal` (Raft `retry_join`), and 127.0.0.1 (the CLI inside a pod).
 */
export function certificateNames(args: { readonly host: string; readonly namespace: string; readonly releaseName: string }): {
    dnsNames: string[];
    ipAddresses: string[];
} {
    const services = [args.releaseName, `${args.releaseName}-active`, `${args.releaseName}-internal`];
    const inCluster = services.flatMap((service) => [service, `${service}.${args.namespace}`, `${service}.${args.namespace}.svc`]);
    const pods = [
        `*.${args.releaseName}-internal`,
        `*.${args.releaseName}-internal.${args.namespace}`,
        `*.${args.releaseName}-internal.${args.namespace}.svc`,
    ];
    return { dnsNames: [args.host, ...inCluster, ...pods], ipAddresses: ["127.0.0.1"] };
}

/** Lifetime and renewal of a cert-manager certificate (Go durations). */
export const CERTIFICATE_LIFETIME = { duration: "2160h", renewBefore: "720h" } as const;

/**
 * The cert-manager `Certificate` for the servers: ECDSA P-256, a new key on every renewal, 90 days,
 * renewed 30 days before it expires. Vault reads its listener certificate at start and on SIGHUP,
 * which the `tls-reloader` sidecar sends each server after a renewal (tlsReload.ts). Pulumi waits
 * until it is issued ({@link CERTIFICATE_AWAIT}).
 */
export function serverCertificate(args: {
    readonly namespace: string;
    readonly host: string;
    readonly releaseName: string;
    readonly secretName: string;
    readonly issuer: { readonly kind: IssuerKind; readonly name: string };
    readonly labels: Readonly<Record<string, string>>;
}): {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
    spec: Record<string, unknown>;
} {
    const names = certificateNames(args);
    return {
        apiVersion: `${CERT_MANAGER_API.group}/${CERT_MANAGER_API.version}`,
        kind: "Certificate",
        metadata: { name: args.secretName, namespace: args.namespace, labels: { ...args.labels }, annotations: { ...CERTIFICATE_AWAIT } },
        spec: {
            secretName: args.secretName,
            // No commonName: the names are in dnsNames, and cert-manager refuses a commonName over 64
            // bytes, which a long vault.<region>.<domain> would exceed.
            dnsNames: names.dnsNames,
            ipAddresses: names.ipAddresses,
            duration: CERTIFICATE_LIFETIME.duration,
            renewBefore: CERTIFICATE_LIFETIME.renewBefore,
            privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
            // ECDSA keys sign; "key encipherment" applies to RSA key exchange only.
            usages: ["server auth", "digital signature"],
            issuerRef: { group: CERT_MANAGER_API.group, kind: args.issuer.kind, name: args.issuer.name },
        },
    };
}

/**
 * Ingress annotations that make a controller pass TLS through to the servers, by IngressClass: the
 * client's TLS session ends at Vault, so there is no plaintext hop and nothing to re-encrypt. A
 * class not listed here needs `vault.ingressAnnotations` with its own pass-through setting.
 */
export const TLS_PASSTHROUGH_ANNOTATIONS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
    // Cilium's ingress controller: passes the TLS stream on by SNI (needs Cilium's ingress enabled).
    cilium: { "ingress.cilium.io/tls-passthrough": "enabled" },
    // ingress-nginx: the controller must run with --enable-ssl-passthrough.
    nginx: { "nginx.ingress.kubernetes.io/ssl-passthrough": "true" },
    // HAProxy Kubernetes Ingress Controller.
    haproxy: { "haproxy.org/ssl-passthrough": "true" },
};

/**
 * The pass-through annotations of a known IngressClass, or undefined. Own keys only, so a class named
 * like an `Object.prototype` member (`constructor`) is not mistaken for a known one.
 */
export function passthroughAnnotations(ingressClassName: string): Readonly<Record<string, string>> | undefined {
    return Object.hasOwn(TLS_PASSTHROUGH_ANNOTATIONS, ingressClassName) ? TLS_PASSTHROUGH_ANNOTATIONS[ingressClassName] : undefined;
}
