/**
 * The restore's adapter to the off-site stores: reads a snapshot, and the `.sha256` the snapshot job
 * wrote beside it, with the cloud's own CLI on the operator's machine and the operator's own
 * credentials there (an SSO session, say): `aws s3 cp`, `gcloud storage cp`, `az storage blob
 * download --auth-mode login`; or a local file (`file:///`). Nothing is written but a temporary copy
 * in a directory only the user can read, removed before it returns. Thin on purpose: the restore's
 * decisions are in restore.ts, tested with fakes; this one is tested against fake CLIs.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { SnapshotSource } from "./ports";

/** Runs a CLI without a shell. @throws Error with the CLI's own message */
function run(env: NodeJS.ProcessEnv, command: string, args: readonly string[]): Promise<void> {
    return new Promise((resolve, reject) => {
        execFile(command, [...args], { env, timeout: 30 * 60_000, maxBuffer: 1 << 20 }, (error, _stdout, stderr) => {
            if (error === null) {
                resolve();
                return;
            }
            const message = (stderr || error.message).trim().split("\n").slice(-3).join(" ");
            reject(
                new Error(
                    `${command} failed: ${(error as { code?: unknown }).code === "ENOENT" ? `${command} is not installed` : message}`,
                ),
            );
        });
    });
}

/** How to copy one object of a store to a local file. */
function downloader(env: NodeJS.ProcessEnv, uri: string): ((key: string, file: string) => Promise<void>) & { readonly key: string } {
    const s3 = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
    const gs = /^gs:\/\/([^/]+)\/(.+)$/.exec(uri);
    const blob = /^https:\/\/([a-z0-9]+)\.blob\.core\.windows\.net\/([^/]+)\/(.+)$/.exec(uri);
    if (s3 !== null) {
        return Object.assign(
            (key: string, file: string) => run(env, "aws", ["s3", "cp", "--only-show-errors", `s3://${s3[1]}/${key}`, file]),
            {
                key: s3[2],
            },
        );
    }
    if (gs !== null) {
        return Object.assign(
            (key: string, file: string) => run(env, "gcloud", ["--quiet", "storage", "cp", `gs://${gs[1]}/${key}`, file]),
            {
                key: gs[2],
            },
        );
    }
    if (blob !== null) {
        const [, account, container] = blob;
        return Object.assign(
            (key: string, file: string) =>
                run(env, "az", [
                    "storage",
                    "blob",
                    "download",
                    "--auth-mode",
                    "login",
                    "--account-name",
                    account,
                    "--container-name",
                    container,
                    "--name",
                    key,
                    "--file",
                    file,
                    "--no-progress",
                    "--only-show-errors",
                    "--output",
                    "none",
                ]),
            { key: blob[3] },
        );
    }
    throw new Error(`${uri} is not an s3://, gs://, https://<account>.blob.core.windows.net/ or file:/// URI`);
}

/** The hash in a `.sha256` file as sha256sum writes it (`<hex>  <name>`), or undefined. */
function hashIn(text: string): string | undefined {
    return /^([0-9a-f]{64})\b/.exec(text.trim())?.[1];
}

export class CliSnapshotSource implements SnapshotSource {
    /** @param env the CLIs' environment (their PATH and the operator's cloud login) */
    constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

    async fetch(uri: string): Promise<{ readonly bytes: Uint8Array; readonly sha256?: string }> {
        if (uri.startsWith("file:///")) {
            const file = decodeURIComponent(uri.slice("file://".length));
            const bytes = fs.readFileSync(file);
            const sum = fs.existsSync(`${file}.sha256`) ? hashIn(fs.readFileSync(`${file}.sha256`, "utf8")) : undefined;
            return { bytes, ...(sum === undefined ? {} : { sha256: sum }) };
        }
        const download = downloader(this.env, uri);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vault-restore-"));
        try {
            fs.chmodSync(dir, 0o700);
            const file = path.join(dir, "snapshot");
            await download(download.key, file);
            const bytes = fs.readFileSync(file);
            // The job writes the .sha256 beside each copy; an older copy, or a store that lost it, has none.
            let sum: string | undefined;
            try {
                await download(`${download.key}.sha256`, `${file}.sha256`);
                sum = hashIn(fs.readFileSync(`${file}.sha256`, "utf8"));
            } catch {
                sum = undefined;
            }
            return { bytes, ...(sum === undefined ? {} : { sha256: sum }) };
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }
}
