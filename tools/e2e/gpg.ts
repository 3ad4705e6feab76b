/**
 * The operators' PGP keys of the end-to-end lane, with GnuPG in batch mode: made without a passphrase
 * in the lane's own GnuPG home, exported (the public half only) as the bootstrap reads a key, and used
 * to decrypt what Vault encrypted to them. Nothing here prints a key or a decrypted value.
 */
import { run } from "./exec";

/** The GnuPG batch parameters of one key: RSA (which Vault's PGP encryption takes), no passphrase, never expiring. */
export function keyParameters(name: string, email: string): string {
    return [
        "%no-protection",
        "Key-Type: RSA",
        "Key-Length: 3072",
        "Key-Usage: sign",
        "Subkey-Type: RSA",
        "Subkey-Length: 3072",
        "Subkey-Usage: encrypt",
        `Name-Real: ${name}`,
        `Name-Email: ${email}`,
        "Expire-Date: 0",
        "%commit",
        "",
    ].join("\n");
}

const gpg = (
    home: string,
    args: readonly string[],
    options: { input?: string | Buffer; env?: NodeJS.ProcessEnv; allowFailure?: boolean } = {},
) => run("gpg", ["--batch", "--quiet", "--homedir", home, ...args], options);

/** Makes the key of `email` in `home` unless it is there. */
export async function ensureKey(home: string, name: string, email: string, env?: NodeJS.ProcessEnv): Promise<void> {
    const listed = await gpg(home, ["--list-keys", email], { env, allowFailure: true });
    if (listed.code !== 0) {
        await gpg(home, ["--gen-key"], { input: keyParameters(name, email), env });
    }
}

/** The public key of `email`, as `gpg --export <id> | base64` writes it (what `npm run bootstrap -- --pgp-keys` reads). */
export async function publicKeyBase64(home: string, email: string, env?: NodeJS.ProcessEnv): Promise<string> {
    const { stdoutBytes } = await gpg(home, ["--export", email], { env });
    if (stdoutBytes.length === 0) {
        throw new Error(`gpg has no key ${email} in ${home}`);
    }
    return stdoutBytes.toString("base64");
}

/** Decrypts a value Vault encrypted to one of the keys in `home` (base64 of the binary message, as Vault returns it). */
export async function decryptBase64(home: string, encrypted: string, env?: NodeJS.ProcessEnv): Promise<string> {
    const { stdout } = await gpg(home, ["--decrypt"], { input: Buffer.from(encrypted, "base64"), env });
    return stdout.trim();
}
