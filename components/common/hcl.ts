/**
 * Just enough HCL writing for the documents this project generates (Vault server config, Vault
 * policies). Strings are quoted here, in one place, so no generated document can be broken or
 * extended by a value that contains a quote, a newline or a template sequence.
 *
 * The output is the common subset of HCL 1 (which Vault parses) and HCL 2 (which the tests parse
 * with HashiCorp's own parser): quoted strings with backslash escapes, numbers, booleans, tuples
 * and labelled blocks.
 */

/**
 * An HCL quoted-string literal for `value`.
 *
 * Vault reads its server config and policies with HCL version 1, which has no escape for a template
 * sequence: HCL 2 reads `$${` as a literal `${`, HCL 1 keeps both dollars. No value this project writes
 * needs `${` or `%{`, so a value containing one is refused rather than written in a form the two
 * versions read differently.
 * @throws Error if `value` contains `${` or `%{`.
 */
export function hclString(value: string): string {
    if (value.includes("${") || value.includes("%{")) {
        throw new Error(`cannot write ${JSON.stringify(value)} as an HCL string: it contains a template sequence ("\${" or "%{")`);
    }
    let out = '"';
    for (const char of value) {
        const code = char.codePointAt(0) ?? 0;
        if (char === '"' || char === "\\") {
            out += `\\${char}`;
        } else if (char === "\n") {
            out += "\\n";
        } else if (char === "\r") {
            out += "\\r";
        } else if (char === "\t") {
            out += "\\t";
        } else if (code < 0x20 || code === 0x7f || code === 0x2028 || code === 0x2029) {
            out += `\\u${code.toString(16).padStart(4, "0")}`;
        } else {
            out += char;
        }
    }
    return `${out}"`;
}

/** An HCL value: strings quoted, numbers and booleans as literals, lists of those as tuples. */
export type HclValue = string | number | boolean | readonly (string | number | boolean)[];

function hclValue(value: HclValue): string {
    if (typeof value === "string") {
        return hclString(value);
    }
    if (typeof value === "number" || typeof value === "boolean") {
        return String(value);
    }
    return `[${value.map((item) => hclValue(item)).join(", ")}]`;
}

/** A block body: attributes first (aligned, as `terraform fmt` would), then nested blocks. */
export interface HclBody {
    readonly attributes?: Readonly<Record<string, HclValue>>;
    readonly blocks?: readonly HclBlock[];
}

/** A block such as `storage "raft" { ... }`: a type, optional labels, a body. */
export interface HclBlock extends HclBody {
    readonly type: string;
    readonly labels?: readonly string[];
}

const INDENT = "  ";

function renderBody(body: HclBody, depth: number): string[] {
    const pad = INDENT.repeat(depth);
    const lines: string[] = [];
    const attributes = Object.entries(body.attributes ?? {});
    const width = Math.max(0, ...attributes.map(([name]) => name.length));
    for (const [name, value] of attributes) {
        lines.push(`${pad}${name.padEnd(width)} = ${hclValue(value)}`);
    }
    for (const block of body.blocks ?? []) {
        if (lines.length > 0) {
            lines.push("");
        }
        lines.push(...renderBlock(block, depth));
    }
    return lines;
}

function renderBlock(block: HclBlock, depth: number): string[] {
    const pad = INDENT.repeat(depth);
    const head = [block.type, ...(block.labels ?? []).map(hclString)].join(" ");
    const inner = renderBody(block, depth + 1);
    if (inner.length === 0) {
        return [`${pad}${head} {}`];
    }
    return [`${pad}${head} {`, ...inner, `${pad}}`];
}

/** Renders a whole document: top-level attributes, then each block separated by a blank line. */
export function renderHcl(document: HclBody): string {
    return `${renderBody(document, 0).join("\n")}\n`;
}
