/**
 * Files a stack's config names (the CA file, `vaultCaCertFile`), read as `pulumi up` reads them: the
 * program runs in the project directory (where Pulumi.yaml is), so a relative path is relative to
 * it, whatever directory the bootstrap was started from.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** @returns a reader for files named in config, relative to `projectDir`; it throws like `fs.readFileSync` */
export function projectFileReader(projectDir: string): (file: string) => string {
    return (file) => fs.readFileSync(path.resolve(projectDir, file), "utf8");
}
