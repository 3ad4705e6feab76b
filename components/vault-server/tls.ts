/**
 * TLS for a region's Vault, end to end: the servers' listener serves a certificate (issued by
 * cert-manager, or from a Secret the operator provides), Raft peers verify each other with its CA,
 * the ingress passes TLS through to the servers (no plaintext hop behind it), and every client (the
 * local store, the snapshot job, the Vault provider, peer regions) verifies the server. Pure: option
 * checks, the cert-manager Certificate, the names it must cover, and the ingress annotations.
 */
import { MAX_MOUNTED_SECRET_NAME, USERCONFIG_PATH, isMountableSecretName } from "./seal";
import { isDnsSubdomain } from "../common/predicates";

/** Where the servers' certificate comes from, or `none` (plain HTTP, which needs {@link VaultTlsOptions.allowPlaintext}). */
export const TLS_SOURCES = ["cert-manager", "secret", "none"] as const;
export type TlsSource = (typeof TLS_SOURCES)[number];

/** cert-manager issuer kinds. */
export const ISSUER_KINDS = ["ClusterIssuer", "Issuer"] as const;
export type IssuerKind = (typeof ISSUER_KINDS)[number];

/** Defaults for every optional {@link VaultTlsOptions} field. */
export const TLS_DEFAULTS = {
    source: "cert-manager",
    issuerKind: "ClusterIssuer",
    issuerName: "vault-ca-issuer",
    /** The Secret cert-manager writes (and the servers mount) when the source is cert-manager. */
    certificateSecret: "vault-server-tls",
} as const;

export interface VaultTlsOptions {
    /**
     * Where the servers' certificate comes from. Default `cert-manager`. `secret`: a
     * `kubernetes.io/tls` Secret in Vault's namespace with `tls.crt`, `tls.key` and `ca.crt`.
     * `none`: no TLS at all, only with {@link allowPlaintext}.
     */
    readonly source?: TlsSource;
    /** The cert-manager issuer's kind. Default `ClusterIssuer`. */
    readonly issuerKind?: IssuerKind;
    /**
     * The cert-manager issuer's name. Default `vault-ca-issuer`. It must sign in-cluster names
     * (`*.vault-internal`, `vault-active.<namespace>.svc`), so it is a private CA (a CA or Vault
     * issuer), not a public ACME one.
     */
    readonly issuerName?: string;
    /** With `source: secret`: the Secret's name. */
    readonly secretName?: string;
    /** Must be true for `source: none`: a deliberate acknowledgement that secrets then cross the network in plaintext. */
    readonly allowPlaintext?: boolean;
}

/** {@link VaultTlsOptions} resolved: either TLS from a Secret the servers mount, or none. */
export type ResolvedVaultTls =
    | {
          readonly enabled: true;
          readonly source: "cert-manager" | "secret";
          /** The Secret with `tls.crt`, `tls.key` and `ca.crt` that the servers mount. */
          readonly secretName: string;
          readonly issuer?: { readonly kind: IssuerKind; readonly name: string };
      }
    | { readonly enabled: false };

/** Problems with the TLS options (each naming the option under `tls.` and the fix); empty when usable. */
export function tlsProblems(options: VaultTlsOptions | undefined): string[] {
    const source = options?.source ?? TLS_DEFAULTS.source;
    const problems: string[] = [];
    if (!(TLS_SOURCES as readonly string[]).includes(source)) {
        return [`tls.source ${JSON.stringify(source)} is not one of ${TLS_SOURCES.join(", ")}`];
    }
    if (options?.issuerKind !== undefined && !(ISSUER_KINDS as readonly string[]).includes(options.issuerKind)) {
        problems.push(`tls.issuerKind ${JSON.stringify(options.issuerKind)} is not one of ${ISSUER_KINDS.join(", ")}`);
    }
    if (options?.issuerName !== undefined && !isDnsSubdomain(options.issuerName)) {
        problems.push(`tls.issuerName ${JSON.stringify(options.issuerName)} is not a Kubernetes object name`);
    }
    if (options?.secretName !== undefined && !isMountableSecretName(options.secretName)) {
        problems.push(`tls.secretName ${JSON.stringify(options.secretName)} is not a Secret name the chart can mount (a DNS label of at most ${MAX_MOUNTED_SECRET_NAME} characters)`);
    }
    if (source !== "cert-manager" && (options?.issuerKind !== undefined || options?.issuerName !== undefined)) {
        problems.push(`tls.source is ${source}, so tls.issuerKind and tls.issuerName have no effect: remove them or set tls.source to cert-manager`);
    }
    if (source === "secret" && options?.secretName === undefined) {
        problems.push("tls.source is secret, but tls.secretName (a kubernetes.io/tls Secret in Vault's namespace with tls.crt, tls.key and ca.crt) is not set");
    }
    if (source !== "secret" && options?.secretName !== undefined) {
        problems.push(`tls.secretName is set, but tls.source is ${source}: set tls.source to secret or remove tls.secretName`);
    }
    if (source === "none" && options?.allowPlaintext !== true) {
        problems.push("tls.source is none, which sends every secret over the network in plaintext: set tls.allowPlaintext to true to accept that, or use TLS");
    }
    if (source !== "none" && options?.allowPlaintext !== undefined) {
        problems.push(`tls.allowPlaintext is set, but tls.source is ${source} (TLS is on): remove tls.allowPlaintext`);
    }
    return problems;
}

/** @throws Error listing {@link tlsProblems} when there are any. */
export function resolveTlsOptions(options: VaultTlsOptions | undefined): ResolvedVaultTls {
    const problems = tlsProblems(options);
    if (problems.length > 0) {
        throw new Error(problems.join("; "));
    }
    const source = options?.source ?? TLS_DEFAULTS.source;
    if (source === "none") {
        return { enabled: false };
    }
    if (source === "secret") {
        return { enabled: true, source, secretName: options?.secretName as string };
    }
    return {
        enabled: true,
        source,
        secretName: TLS_DEFAULTS.certificateSecret,
        issuer: { kind: options?.issuerKind ?? TLS_DEFAULTS.issuerKind, name: options?.issuerName ?? TLS_DEFAULTS.issuerName },
    };
}

/** The warning every run prints while TLS is off. */
export function plaintextWarning(region: string): string {
    return `TLS is off for the Vault of ${region} (vault.tls.source is none): tokens and secrets cross the network in plaintext. Use TLS in any environment that holds real secrets.`;
}

/** Where the servers mount the certificate Secret (the chart's `extraVolumes` convention). */
export function tlsMountPath(secretName: string): string {
    return `${USERCONFIG_PATH}/${secretName}`;
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
    const pods = [`*.${args.releaseName}-internal`, `*.${args.releaseName}-internal.${args.namespace}`, `*.${args.releaseName}-internal.${args.namespace}.svc`];
    return { dnsNames: [args.host, ...inCluster, ...pods], ipAddresses: ["127.0.0.1"] };
}

/** Lifetime and renewal of a cert-manager certificate (Go durations). */
export const CERTIFICATE_LIFETIME = { duration: "2160h", renewBefore: "720h" } as const;

/**
 * The cert-manager `Certificate` for the servers: ECDSA P-256, a new key on every renewal, 90 days,
 * renewed 30 days before it expires. Vault reads its listener certificate at start and on SIGHUP,
 * so a renewed certificate is served after the next restart or `kill -HUP` (README, "TLS").
 */
export function serverCertificate(args: {
    readonly namespace: string;
    readonly host: string;
    readonly releaseName: string;
    readonly secretName: string;
    readonly issuer: { readonly kind: IssuerKind; readonly name: string };
    readonly labels: Readonly<Record<string, string>>;
}): { apiVersion: string; kind: string; metadata: { name: string; namespace: string; labels: Record<string, string> }; spec: Record<string, unknown> } {
    const names = certificateNames(args);
    return {
        apiVersion: "cert-manager.io/v1",
        kind: "Certificate",
        metadata: { name: args.secretName, namespace: args.namespace, labels: { ...args.labels } },
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
            issuerRef: { group: "cert-manager.io", kind: args.issuer.kind, name: args.issuer.name },
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
