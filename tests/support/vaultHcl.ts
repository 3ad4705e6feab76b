/**
 * Reads a Vault policy document the way Vault does: with HashiCorp's HCL v1 library (Vault's policy
 * parser, `vault/policy.go`, calls `hcl.Parse`; HCL v1 reads a document that starts with `{` as JSON),
 * here compiled to JavaScript by the `js-hcl-parser` package.
 */
import { parse } from "js-hcl-parser";

/** One path stanza as Vault reads it. */
export interface ParsedPathRule {
    readonly capabilities: readonly string[];
    readonly allowed_parameters?: Readonly<Record<string, readonly unknown[]>>;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** HCL v1 decodes every block as a list of objects; a document written once has one of each. */
function single(value: unknown, what: string): Record<string, unknown> {
    const list = Array.isArray(value) ? value : [value];
    if (list.length !== 1 || !isRecord(list[0])) {
        throw new Error(`${what} is ${JSON.stringify(value)}, not one object`);
    }
    return list[0];
}

/**
 * @returns the path rules of `text`, keyed by path
 * @throws when HCL v1 cannot parse it, or it holds anything but path stanzas
 */
export function parseVaultPolicy(text: string): Record<string, ParsedPathRule> {
    const output = parse(text);
    if (output.startsWith("unable to")) {
        throw new Error(output);
    }
    const document = JSON.parse(output) as Record<string, unknown>;
    const extra = Object.keys(document).filter((key) => key !== "path");
    if (extra.length > 0) {
        throw new Error(`stanzas other than path: ${extra.join(", ")}`);
    }
    const rules: Record<string, ParsedPathRule> = {};
    for (const entry of Array.isArray(document.path) ? document.path : [document.path]) {
        for (const [path, body] of Object.entries(single(entry, "a path entry"))) {
            const rule = single(body, `the body of ${path}`);
            rules[path] = {
                capabilities: rule.capabilities as string[],
                ...(rule.allowed_parameters === undefined
                    ? {}
                    : {
                          allowed_parameters: single(rule.allowed_parameters, `allowed_parameters of ${path}`) as Record<string, unknown[]>,
                      }),
            };
        }
    }
    return rules;
}
