/**
 * Reads a Pulumi project the way the Pulumi CLI does before it runs a program: the project file, the
 * stack files beside it, and each stack's config with the project's defaults applied, encoded as the
 * `project:key` to string map a program receives.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

/** A placeholder for `secure:` config values, which cannot be decrypted offline. */
export const OFFLINE_SECRET = "offline-synth-placeholder";

export interface ProjectFile {
    readonly dir: string;
    readonly name: string;
    /** Absolute path of the program's entry module. */
    readonly program: string;
    /** Project-level config declarations and values, keyed as written. */
    readonly config: Readonly<Record<string, unknown>>;
    /** Directory holding the stack files (`stackConfigDir`, or the project directory). */
    readonly stackDir: string;
    /** Stacks that have a `Pulumi.<stack>.yaml`, sorted. */
    readonly stacks: readonly string[];
}

export interface StackConfig {
    /** `project:key` (or `provider:key`) to the string the program receives; objects and arrays as JSON. */
    readonly config: Record<string, string>;
    /** Keys whose values are secret (`secure:` in the stack file, or `secret: true` in the schema). */
    readonly secretKeys: string[];
}

function readYaml(file: string): unknown {
    return parse(fs.readFileSync(file, "utf8")) as unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reads `Pulumi.yaml` in `dir` and lists the stack files beside it. */
export function readProject(dir: string): ProjectFile {
    const file = path.join(dir, "Pulumi.yaml");
    if (!fs.existsSync(file)) {
        throw new Error(`no Pulumi.yaml in ${dir}`);
    }
    const project = readYaml(file);
    if (!isRecord(project) || typeof project.name !== "string") {
        throw new Error(`${file} has no project name`);
    }
    let main = typeof project.main === "string" ? project.main : undefined;
    const packageJson = path.join(dir, "package.json");
    if (main === undefined && fs.existsSync(packageJson)) {
        const pkg = JSON.parse(fs.readFileSync(packageJson, "utf8")) as { main?: unknown };
        main = typeof pkg.main === "string" ? pkg.main : undefined;
    }
    const stackDir = typeof project.stackConfigDir === "string" ? path.resolve(dir, project.stackConfigDir) : dir;
    const stacks = fs
        .readdirSync(stackDir)
        .map((name) => /^Pulumi\.(.+)\.ya?ml$/.exec(name)?.[1])
        .filter((name): name is string => name !== undefined)
        .sort();
    return {
        dir,
        name: project.name,
        program: path.resolve(dir, main ?? "index.ts"),
        config: isRecord(project.config) ? project.config : {},
        stackDir,
        stacks,
    };
}

function stackFile(project: ProjectFile, stack: string): string {
    const yaml = path.join(project.stackDir, `Pulumi.${stack}.yaml`);
    return fs.existsSync(yaml) ? yaml : path.join(project.stackDir, `Pulumi.${stack}.yml`);
}

function encode(value: unknown): string {
    return typeof value === "string" ? value : JSON.stringify(value);
}

function isSecure(value: unknown): boolean {
    return isRecord(value) && Object.keys(value).length === 1 && typeof value.secure === "string";
}

/** Replaces `secure:` values (at any depth) with {@link OFFLINE_SECRET}; reports whether any was found. */
function withoutCiphertext(value: unknown): { value: unknown; secret: boolean } {
    if (isSecure(value)) {
        return { value: OFFLINE_SECRET, secret: true };
    }
    if (Array.isArray(value)) {
        const items = value.map(withoutCiphertext);
        return { value: items.map((i) => i.value), secret: items.some((i) => i.secret) };
    }
    if (isRecord(value)) {
        const entries = Object.entries(value).map(([k, v]) => [k, withoutCiphertext(v)] as const);
        return {
            value: Object.fromEntries(entries.map(([k, v]) => [k, v.value])),
            secret: entries.some(([, v]) => v.secret),
        };
    }
    return { value, secret: false };
}

/**
 * A stack's config as the CLI passes it to the program: the project's declared defaults and values,
 * overridden by the stack file. Un-namespaced project keys belong to the project namespace.
 */
export function readStackConfig(project: ProjectFile, stack: string): StackConfig {
    const config: Record<string, string> = {};
    const secretKeys: string[] = [];
    const qualify = (key: string) => (key.includes(":") ? key : `${project.name}:${key}`);

    for (const [key, declaration] of Object.entries(project.config)) {
        const qualified = qualify(key);
        if (isRecord(declaration) && ("type" in declaration || "default" in declaration || "value" in declaration)) {
            const value = "value" in declaration ? declaration.value : declaration.default;
            if (value !== undefined) {
                config[qualified] = encode(value);
            }
            if (declaration.secret === true) {
                secretKeys.push(qualified);
            }
        } else if (declaration !== undefined && declaration !== null) {
            config[qualified] = encode(declaration);
        }
    }

    const file = stackFile(project, stack);
    const stackYaml = fs.existsSync(file) ? readYaml(file) : undefined;
    const stackConfig = isRecord(stackYaml) && isRecord(stackYaml.config) ? stackYaml.config : {};
    for (const [key, raw] of Object.entries(stackConfig)) {
        const qualified = qualify(key);
        const { value, secret } = withoutCiphertext(raw);
        if (value !== undefined && value !== null) {
            config[qualified] = encode(value);
        }
        if (secret) {
            secretKeys.push(qualified);
        }
    }
    return { config, secretKeys: [...new Set(secretKeys)].sort() };
}
