/**
 * Files a stack's config names, read as `pulumi up` reads them: the CA of this region's Vault, and,
 * with JWT peer auth, this cluster's service-account token issuer (its signing keys from a JWKS file,
 * or OIDC discovery), which the stack publishes for its peers.
 */
import * as crypto from "node:crypto";
import { z } from "zod";
import { option, options, ruleIssue, text, rules } from "../components/common/options";

/** What a region publishes about its cluster's service-account tokens. */
export interface PublishedIdentity {
    readonly issuer: string;
    readonly publicKeys: readonly string[];
    readonly discoveryCaCert: string;
}

/** How files named in config are read (injected, so that parsing stays pure). */
export interface IdentityFiles {
    readonly readFile?: (path: string) => string;
}

/** This region's cluster as a token issuer, for the peers' JWT mounts. */
export const serviceAccountIssuerOptions = options({
    url: option(
        text((v) => /^https:\/\/[^\s"]+$/.test(v)),
        {
            description:
                "The `iss` claim of the cluster's service-account tokens; `kubectl get --raw /.well-known/openid-configuration` shows it as issuer.",
            allowed: "an https:// URL",
            example: "https://oidc.region1.example.com",
            defaultText: "(required with peerAuth jwt)",
        },
    ),
    jwksFile: option(text((v) => v.trim() !== "").optional(), {
        description:
            "The cluster's signing keys, saved with `kubectl get --raw /openid/v1/jwks`; peers' Vaults check tokens with them offline. Refresh it when the cluster rotates its key.",
        allowed: "the path of a readable JWKS JSON file with at least one public key",
        example: "identity/region1-jwks.json",
        defaultText: "(one of jwksFile or discovery)",
    }),
    discovery: option(z.boolean().default(false), {
        description: "Peers' Vaults fetch the keys from the issuer's OIDC discovery document (the issuer must be reachable from them).",
        allowed: "{values}; true needs no jwksFile",
        example: "true",
    }),
    discoveryCaFile: option(text((v) => v.trim() !== "").optional(), {
        description: "CA of the issuer's discovery endpoint.",
        allowed: "the path of a readable PEM file with at least one CERTIFICATE (discovery only)",
        example: "certs/oidc-ca.pem",
        defaultText: "the system's trusted CAs",
    }),
}).check(
    rules((issuer, ctx) => {
        if (issuer.discovery === (issuer.jwksFile !== undefined)) {
            ruleIssue(
                ctx,
                ["jwksFile"],
                issuer.discovery
                    ? "is set, and so is discovery: use one"
                    : "is not set, and discovery is off, so the peers' Vaults have no key to check this cluster's tokens with: kubectl get --raw /openid/v1/jwks > identity/<region>-jwks.json and name that file, or set discovery",
            );
        }
        if (!issuer.discovery && issuer.discoveryCaFile !== undefined) {
            ruleIssue(ctx, ["discoveryCaFile"], "is set, but discovery is off: remove it");
        }
    }),
);

/** A file named in config, or why it cannot be read (phrased to follow the key and its value). */
function readConfigFile(path: string, files: IdentityFiles): string | { problem: string } {
    if (files.readFile === undefined) {
        return { problem: "but no file can be read here" };
    }
    try {
        return files.readFile(path);
    } catch (error) {
        return { problem: `but it cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
    }
}

/** A CA file's PEM text, or why it cannot be used. */
export function readCaCert(path: string, files: IdentityFiles): string | { problem: string } {
    const text = readConfigFile(path, files);
    if (typeof text !== "string") {
        return text;
    }
    if (!/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(text)) {
        return { problem: "but it holds no PEM certificate (-----BEGIN CERTIFICATE-----)" };
    }
    if (/PRIVATE KEY-----/.test(text)) {
        return { problem: "but it holds a private key: give the CA certificate only" };
    }
    return text;
}

/** The public keys of a JWKS file as PEM (what Vault's `jwt_validation_pubkeys` takes), or why it cannot be used. */
function readJwks(path: string, files: IdentityFiles): string[] | string {
    const text = readConfigFile(path, files);
    if (typeof text !== "string") {
        return text.problem;
    }
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch {
        parsed = undefined;
    }
    const keys = typeof parsed === "object" && parsed !== null ? (parsed as { keys?: unknown }).keys : undefined;
    if (!Array.isArray(keys) || keys.length === 0) {
        return 'but it is not a JWKS document with keys ({"keys": [...]})';
    }
    const pems: string[] = [];
    for (const jwk of keys) {
        if (typeof jwk !== "object" || jwk === null || "d" in jwk) {
            return "but it holds something other than public keys";
        }
        try {
            pems.push(
                crypto
                    .createPublicKey({ key: jwk as crypto.JsonWebKey, format: "jwk" })
                    .export({ type: "spki", format: "pem" })
                    .toString(),
            );
        } catch (error) {
            return `but a key in it is not a usable public key (${(error as Error).message})`;
        }
    }
    return pems;
}

/** The identity to publish, from validated options and the files they name; or, per key, what is wrong. */
export function publishedIdentity(
    issuer: z.output<typeof serviceAccountIssuerOptions>,
    files: IdentityFiles,
): { published?: PublishedIdentity; problems: [string, string, string][] } {
    const set = (part: string, value: string) => `pulumi config set --path serviceAccountIssuer.${part} ${value} -s {stack}`;
    const problems: [string, string, string][] = [];
    let publicKeys: string[] = [];
    if (issuer.jwksFile !== undefined) {
        const keys = readJwks(issuer.jwksFile, files);
        if (typeof keys === "string") {
            problems.push([
                "jwksFile",
                `is ${JSON.stringify(issuer.jwksFile)}, ${keys}`,
                set("jwksFile", "<path of kubectl get --raw /openid/v1/jwks output>"),
            ]);
        } else {
            publicKeys = keys;
        }
    }
    let discoveryCaCert = "";
    if (issuer.discoveryCaFile !== undefined) {
        const ca = readCaCert(issuer.discoveryCaFile, files);
        if (typeof ca === "string") {
            discoveryCaCert = ca;
        } else {
            problems.push([
                "discoveryCaFile",
                `is ${JSON.stringify(issuer.discoveryCaFile)}, ${ca.problem}`,
                set("discoveryCaFile", "<path of the CA's PEM file>"),
            ]);
        }
    }
    return problems.length > 0 ? { problems } : { published: { issuer: issuer.url, publicKeys, discoveryCaCert }, problems };
}
