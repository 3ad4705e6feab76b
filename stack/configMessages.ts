/**
 * How the stack's config speaks when something is wrong: one line per problem, naming the stack, the
 * key as `pulumi config` spells it, the value (never a secret one), what is allowed and the command
 * that fixes it; and the keys it does not read at all.
 */
import { z } from "zod";
import { type RuleFix, docOf, issueReason, kindOf, knownKeys, pathText, schemaAt } from "../components/common/options";
import { PROJECT, stackOptions } from "./config";
import { closest } from "../components/common/spelling";

/** Config keys of other namespaces that must never be set: they would put a credential in Git. */
export const FORBIDDEN_KEYS: Readonly<Record<string, string>> = {
    "vault:token":
        "the Vault admin token must come from the VAULT_TOKEN environment variable, never from stack config (which is committed)",
};

/** `openova-vault:<path>`, as `pulumi config` spells it. */
export function qualified(path: readonly PropertyKey[]): string {
    return `${PROJECT}:${pathText(path)}`;
}

/**
 * Keys outside the project's namespace. The program reads only `openova-vault:*`, so a key under a
 * misspelt project name is an error (with the key it was meant to be); keys of other namespaces
 * (a provider's, another project's) are a warning, since the stack's explicit providers ignore them.
 * Pulumi's own `pulumi:` keys are left alone.
 */
export function foreignKeys(rawConfig: Readonly<Record<string, string>>) {
    const errors: { key: string; reason: string; fix: string }[] = [];
    const warnings: string[] = [];
    for (const fullKey of Object.keys(rawConfig)) {
        const [namespace, ...rest] = fullKey.split(":");
        const name = rest.join(":");
        if (namespace === PROJECT || namespace === "pulumi" || fullKey in FORBIDDEN_KEYS) {
            continue;
        }
        if (closest(namespace, [PROJECT]) !== undefined) {
            errors.push({
                key: fullKey,
                reason: `is under the namespace ${namespace}, which this program does not read (did you mean ${PROJECT}:${name}?)`,
                fix: `pulumi config rm ${fullKey} -s {stack} && ${setCommand(keyPath(name), "<value>")}`,
            });
        } else {
            warnings.push(
                `${fullKey} is set, but this program reads only ${PROJECT}:* (its providers are explicit, so ${namespace}:* config is not used); remove it, or set the matching ${PROJECT} key.`,
            );
        }
    }
    return { errors, warnings };
}

/** A key as `pulumi config` spells it (`vault.replicas`, `replicatedSecrets[0].name`) as a path. */
export function keyPath(key: string): PropertyKey[] {
    return key.split(".").flatMap((part) => {
        const [name, ...indices] = part.split("[");
        return [name, ...indices.map((index) => (/^\d+\]$/.test(index) ? Number(index.slice(0, -1)) : `[${index}`))];
    });
}

/**
 * The command that sets the key at `path` to `value` (a placeholder such as `<value>` is left
 * unquoted): with `--path` for a nested key, which without it would be one flat key the program refuses.
 */
export function setCommand(path: readonly PropertyKey[], value: string): string {
    const name = pathText(path);
    const quoted = /^[\w.\-/]+$|^<[\w -]+>$/.test(value) ? value : `'${value}'`;
    const field = schemaAt(stackOptions, path);
    if (docOf(schemaAt(stackOptions, path.slice(0, 1)) ?? z.never()).projectWide) {
        return `edit the ${String(path[0])} default under config: in Pulumi.yaml (and remove any ${qualified(path.slice(0, 1))} from Pulumi.{stack}.yaml)`;
    }
    if (field !== undefined && kindOf(field) === "object" && knownKeys(stackOptions, path).length > 0) {
        const [first] = knownKeys(stackOptions, path);
        return `set its keys with --path, e.g. ${setCommand([...path, first], docOf(schemaAt(stackOptions, [...path, first]) ?? z.never()).example ?? "<value>")}`;
    }
    const spelled = path.some((part) => typeof part === "number") ? `'${name}'` : name;
    return `pulumi config set ${path.length > 1 ? "--path " : ""}${spelled} ${quoted} -s {stack}`;
}

/** One problem per issue: [qualified key, reason, fix]. */
export function describeIssue(
    issue: z.core.$ZodIssue,
    input: unknown,
    show: (path: readonly PropertyKey[], value: unknown) => string,
): [string, string, string][] {
    if (issue.code === "unrecognized_keys") {
        const known = knownKeys(stackOptions, issue.path);
        return issue.keys.map((unknownKey) => {
            const path = [...issue.path, unknownKey];
            const nested =
                issue.path.length === 0 && unknownKey.includes(".") && schemaAt(stackOptions, unknownKey.split(".")) !== undefined;
            if (nested) {
                return [
                    qualified(path),
                    `is a flat key, but ${unknownKey.split(".")[0]} is an object: nested keys are set with --path`,
                    `pulumi config rm ${unknownKey} -s {stack} && pulumi config set --path ${unknownKey} <value> -s {stack}`,
                ];
            }
            const suggestion = closest(unknownKey, known);
            const spelled = path.some((part) => typeof part === "number") ? `'${pathText(path)}'` : pathText(path);
            return [
                qualified(path),
                `is not a known key${suggestion ? ` (did you mean ${qualified([...issue.path, suggestion])}?)` : ""}; known keys${issue.path.length === 0 ? "" : ` of ${qualified(issue.path)}`}: ${known.join(", ")}`,
                `pulumi config rm ${path.length > 1 ? "--path " : ""}${spelled} -s {stack}`,
            ];
        });
    }
    const reason = issueReason(stackOptions, issue, input, show);
    const field = schemaAt(stackOptions, issue.path);
    const example = field === undefined ? "<value>" : (docOf(field).example ?? "<value>");
    const params = issue.code === "custom" ? (issue.params as { rule?: boolean; fix?: RuleFix } | undefined) : undefined;
    const rule = params?.rule === true;
    const spelledPath = issue.path.some((part) => typeof part === "number") ? `'${pathText(issue.path)}'` : pathText(issue.path);
    const remove = `pulumi config rm ${issue.path.length > 1 ? "--path " : ""}${spelledPath} -s {stack}`;
    // A rule says what is wrong with a combination: its own fix where it has one; else set what it says is
    // missing, or remove what it says is too much.
    const fix = !rule
        ? setCommand(issue.path, example)
        : params?.fix === "remove"
          ? remove
          : params?.fix !== undefined
            ? setCommand(issue.path, params.fix.set)
            : /^(is not set|lacks)/.test(issue.message)
              ? setCommand(issue.path, example)
              : `${remove}, or ${setCommand(issue.path, example)}; see docs/configuration.md`;
    return [[qualified(issue.path), reason, fix]];
}
