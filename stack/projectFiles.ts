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

/**
 * A problem with the project's files (a missing `Pulumi.yaml`, a YAML syntax error, a stack file whose
 * name is no stack name). The message is one line naming the file and the problem.
 */
export class ProjectError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ProjectError";
    }
}

/** Pulumi's rule for stack names, for error messages. */
export const STACK_NAME_RULE = 'letters, digits, "-", "_" and ".", at most 100 characters, and not "." or ".."';

/**
 * Whether `name` is a valid Pulumi stack name (the Pulumi service's rule: `[A-Za-z0-9_.-]{1,100}`,
 * so no `/`). The synth also rejects `.` and `..`: a stack name becomes a directory under `--out`.
 */
export function isValidStackName(name: string): boolean {
    return /^[A-Za-z0-9_.-]{1,100}$/.test(name) && name !== "." && name !== "..";
}

function readText(file: string): string {
    try {
        return fs.readFileSync(file, "utf8");
    } catch (error) {
        throw new ProjectError(`${file}: cannot read it: ${(error as Error).message}`);
    }
}

/** Parses one YAML document; a syntax error becomes a one-line {@link ProjectError}. */
function readYaml(file: string): unknown {
    try {
        return parse(readText(file)) as unknown;
    } catch (error) {
        if (error instanceof ProjectError) {
            throw error;
        }
        const problem = (error as Error).message.split("\n")[0].replace(/:$/, "");
        throw new ProjectError(`${file}: invalid YAML: ${problem}`);
    }
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The program's entry module as Pulumi finds it: `main` in Pulumi.yaml, else package.json's, else index.ts. */
function entryModule(dir: string, project: Record<string, unknown>): string {
    let main = typeof project.main === "string" ? project.main : undefined;
    const packageJson = path.join(dir, "package.json");
    if (main === undefined && fs.existsSync(packageJson)) {
        let pkg: { main?: unknown };
        try {
            pkg = JSON.parse(readText(packageJson)) as { main?: unknown };
        } catch (error) {
            throw error instanceof ProjectError ? error : new ProjectError(`${packageJson}: invalid JSON: ${(error as Error).message}`);
        }
        main = typeof pkg.main === "string" ? pkg.main : undefined;
    }
    return path.resolve(dir, main ?? "index.ts");
}

/** The stacks that have a `Pulumi.<stack>.yaml` in `stackDir`, sorted. @throws ProjectError for a file whose stack name is invalid */
function stackFiles(stackDir: string): string[] {
    const stacks: string[] = [];
    for (const file of fs.readdirSync(stackDir)) {
        const name = /^Pulumi\.(.+)\.ya?ml$/.exec(file)?.[1];
        if (name === undefined) {
            continue;
        }
        if (!isValidStackName(name)) {
            throw new ProjectError(
                `${path.join(stackDir, file)}: "${name}" is not a valid stack name (${STACK_NAME_RULE}); rename or remove the file`,
            );
        }
        stacks.push(name);
    }
    return [...new Set(stacks)].sort();
}

/** Reads `Pulumi.yaml` in `dir` and lists the stack files beside it. @throws ProjectError */
export function readProject(dir: string): ProjectFile {
    const file = path.join(dir, "Pulumi.yaml");
    if (!fs.existsSync(file)) {
        throw new ProjectError(`${file}: not found; --project must name a Pulumi project directory`);
    }
    const project = readYaml(file);
    if (!isRecord(project) || typeof project.name !== "string") {
        throw new ProjectError(`${file}: no project name (a top-level "name:")`);
    }
    const stackDir = typeof project.stackConfigDir === "string" ? path.resolve(dir, project.stackConfigDir) : dir;
    if (!fs.existsSync(stackDir)) {
        throw new ProjectError(`${file}: stackConfigDir ${stackDir} does not exist`);
    }
    const stacks = stackFiles(stackDir);
    return {
        dir,
        name: project.name,
        program: entryModule(dir, project),
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

/** The `config` mapping of a stack file's content (empty when there is none). @throws ProjectError */
function stackFileConfig(file: string, content: unknown): Record<string, unknown> {
    if (content === undefined || content === null) {
        return {};
    }
    if (!isRecord(content)) {
        throw new ProjectError(`${file}: expected a mapping (with a "config:" key) at the top level`);
    }
    if (content.config === undefined || content.config === null) {
        return {};
    }
    if (!isRecord(content.config)) {
        throw new ProjectError(`${file}: "config" must be a mapping of keys to values`);
    }
    return content.config;
}

/**
 * A stack's config as the CLI passes it to the program: the project's declared defaults and values,
 * overridden by the stack file. Un-namespaced project keys belong to the project namespace.
 * @throws ProjectError when the stack file is not valid YAML or not shaped like a stack file
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
    const stackConfig = stackFileConfig(file, fs.existsSync(file) ? readYaml(file) : undefined);
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
