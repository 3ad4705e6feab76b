/**
 * The synth diff: what changes between two offline synths (`npm run synth`) of the same project, say
 * the base and head commits of a pull request, rendered as Markdown for a PR comment.
 *
 * Pure functions over the synth's files as read from disk (`resources.json`, `outputs.json`,
 * `manifests.yaml` per stack): {@link diffSynth} compares, {@link renderMarkdown} renders; the line
 * diffs (of texts, and of lists) are jsdiff's (the `diff` package). Values are shown exactly as the
 * synth wrote them: secrets are "[secret]" there and stay so here.
 */
import {
    type ChangeObject,
    OMIT_HEADERS,
    type StructuredPatch,
    type StructuredPatchHunk,
    diffArrays,
    formatPatch,
    structuredPatch,
} from "diff";
import { parse } from "yaml";

/** The hidden line that marks the PR comment, so the workflow updates its own comment instead of adding one. */
export const SYNTH_DIFF_MARKER = "<!-- openova-vault synth-diff -->";

/** GitHub's limit on the body of an issue or pull-request comment, in characters. */
export const GITHUB_COMMENT_LIMIT = 65_536;

/** A resource as `resources.json` lists it. */
export interface SynthResourceRecord {
    readonly type: string;
    readonly name: string;
    readonly urn: string;
    readonly custom?: boolean;
    readonly parent?: string;
    readonly provider?: string;
    readonly dependsOn?: readonly string[];
    readonly options?: Readonly<Record<string, unknown>>;
    readonly inputs?: unknown;
}

/** One stack's synth files, parsed (`manifests` is the text of `manifests.yaml`). */
export interface StackFiles {
    readonly resources: readonly SynthResourceRecord[];
    readonly outputs: Readonly<Record<string, unknown>>;
    readonly manifests: string;
}

/** A synth output directory: the files of each stack, by stack name. */
export type SynthTree = ReadonlyMap<string, StackFiles>;

/**
 * One changed value. `undefined` on a side means absent there. `reference` values are URNs shown in
 * short form (type and name), not JSON.
 */
export interface ValueChange {
    readonly path: string;
    readonly before: unknown;
    readonly after: unknown;
    readonly reference?: true;
}

/** A resource, identified for display. */
export interface ResourceRef {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
}

export interface ResourceChange extends ResourceRef {
    /** Input paths as written (`values.server.ha.replicas`), then `[parent]`, `[provider]`, `[dependsOn]` and `[options.<name>]`. */
    readonly changes: readonly ValueChange[];
}

/** One document of `manifests.yaml`: its key and its text (the comment naming its resource, and the object). */
export interface ManifestDocument {
    /** `apiVersion kind namespace/name` (`(patch)` for a patch, `#2`... for repeats), unique in the file. */
    readonly key: string;
    readonly text: string;
}

export interface ManifestChanges {
    readonly added: readonly ManifestDocument[];
    readonly removed: readonly ManifestDocument[];
    readonly changed: readonly { readonly key: string; readonly before: string; readonly after: string }[];
    /** The file's header (the Helm charts, what it cannot show), when it changed. */
    readonly header?: { readonly before: string; readonly after: string };
}

/** How many things a stack declares (for a stack that exists on one side only). */
export interface StackCounts {
    readonly resources: number;
    readonly outputs: number;
    readonly manifests: number;
}

/** A stack synthesized on one side only. */
export interface OneSidedStack {
    readonly stack: string;
    readonly status: "added" | "removed";
    readonly counts: StackCounts;
}

/** A stack synthesized on both sides. */
export interface ComparedStack {
    readonly stack: string;
    readonly status: "changed" | "unchanged";
    readonly added: readonly ResourceRef[];
    readonly removed: readonly ResourceRef[];
    readonly changed: readonly ResourceChange[];
    readonly outputs: readonly ValueChange[];
    readonly manifests: ManifestChanges;
}

export type StackDiff = OneSidedStack | ComparedStack;

const isCompared = (diff: StackDiff): diff is ComparedStack => diff.status === "changed" || diff.status === "unchanged";

export interface SynthDiff {
    readonly stacks: readonly StackDiff[];
}

/** Plain code-unit order: the same on every machine, unlike `localeCompare`. */
export function compareStrings(a: string, b: string): number {
    return a < b ? -1 : a > b ? 1 : 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Object keys sorted at every depth (a local copy of the synth's: this module stays free of Pulumi). */
function sortKeys(value: unknown): unknown {
    if (Array.isArray(value)) {
        return value.map(sortKeys);
    }
    if (isRecord(value)) {
        return Object.fromEntries(
            Object.keys(value)
                .sort(compareStrings)
                .map((k) => [k, sortKeys(value[k])]),
        );
    }
    return value;
}

// ---------------------------------------------------------------------------------------------------
// Line diffs (jsdiff)

/**
 * The most edits (lines or list items removed plus added) a diff looks for. jsdiff's time grows with
 * the length of the texts times this: beyond it, what lies between the common first and last lines is
 * shown as removed then added, which is how a reader takes a change that large anyway.
 */
export const MAX_EDIT_LENGTH = 1_000;

/** The lines of a text, without the empty string after a final newline. */
export function textLines(text: string): string[] {
    if (text === "") {
        return [];
    }
    const lines = text.split("\n");
    return lines[lines.length - 1] === "" ? lines.slice(0, -1) : lines;
}

/** How many leading and trailing items `a` and `b` share (not overlapping). */
function commonEnds<T>(a: readonly T[], b: readonly T[]): { prefix: number; suffix: number } {
    let prefix = 0;
    while (prefix < a.length && prefix < b.length && a[prefix] === b[prefix]) {
        prefix++;
    }
    let suffix = 0;
    while (suffix < a.length - prefix && suffix < b.length - prefix && a[a.length - 1 - suffix] === b[b.length - 1 - suffix]) {
        suffix++;
    }
    return { prefix, suffix };
}

/**
 * An edit script turning `a` into `b` (runs kept, removed, added), from jsdiff's `diffArrays`; past
 * {@link MAX_EDIT_LENGTH}, the common ends kept and the rest removed then added.
 */
export function sequenceEdits(a: readonly string[], b: readonly string[]): ChangeObject<string[]>[] {
    const edits = diffArrays([...a], [...b], { maxEditLength: MAX_EDIT_LENGTH });
    if (edits !== undefined) {
        return edits;
    }
    const { prefix, suffix } = commonEnds(a, b);
    const run = (value: string[], added: boolean, removed: boolean): ChangeObject<string[]>[] =>
        value.length === 0 ? [] : [{ value, added, removed, count: value.length }];
    return [
        ...run(a.slice(0, prefix), false, false),
        ...run(a.slice(prefix, a.length - suffix), false, true),
        ...run(b.slice(prefix, b.length - suffix), true, false),
        ...run(a.slice(a.length - suffix), false, false),
    ];
}

/** A text's lines, each with its newline (the last may have none), as jsdiff counts them. */
function linesWithEnds(text: string): string[] {
    return text === "" ? [] : (text.match(/[^\n]*\n|[^\n]+$/g) ?? []);
}

/**
 * The one hunk of a diff too large to align ({@link MAX_EDIT_LENGTH}): `context` common lines, the
 * rest of `before` removed, the rest of `after` added, `context` common lines.
 */
function rewriteHunk(before: string, after: string, context: number): StructuredPatchHunk {
    const a = linesWithEnds(before);
    const b = linesWithEnds(after);
    const { prefix, suffix } = commonEnds(a, b);
    const from = Math.max(0, prefix - context);
    const trailing = a.slice(a.length - suffix, a.length - suffix + context);
    const marked = [
        ...a.slice(from, prefix).map((line) => ` ${line}`),
        ...a.slice(prefix, a.length - suffix).map((line) => `-${line}`),
        ...b.slice(prefix, b.length - suffix).map((line) => `+${line}`),
        ...trailing.map((line) => ` ${line}`),
    ];
    // As jsdiff writes lines: without their newline, and a marker after a last line that has none.
    const lines = marked.flatMap((line) => (line.endsWith("\n") ? [line.slice(0, -1)] : [line, "\\ No newline at end of file"]));
    return {
        oldStart: from + 1,
        oldLines: prefix - from + (a.length - suffix - prefix) + trailing.length,
        newStart: from + 1,
        newLines: prefix - from + (b.length - suffix - prefix) + trailing.length,
        lines,
    };
}

/**
 * A unified diff of two texts (jsdiff's hunks, `context` lines around each change) under `---`/`+++`
 * header lines, or "" when the texts are the same. `undefined` for a side means the text does not
 * exist there (the header then says `/dev/null`).
 */
export function unifiedDiff(
    before: string | undefined,
    after: string | undefined,
    labels: { before: string; after: string },
    context = 3,
): string {
    const a = before ?? "";
    const b = after ?? "";
    if (a === b) {
        return "";
    }
    const patch: StructuredPatch = structuredPatch("", "", a, b, undefined, undefined, { context, maxEditLength: MAX_EDIT_LENGTH }) ?? {
        oldFileName: "",
        newFileName: "",
        oldHeader: undefined,
        newHeader: undefined,
        hunks: [rewriteHunk(a, b, context)],
    };
    if (patch.hunks.length === 0) {
        return "";
    }
    // The header is written here, not by jsdiff, which quotes names holding quotes or non-ASCII.
    const header = `--- ${before === undefined ? "/dev/null" : labels.before}\n+++ ${after === undefined ? "/dev/null" : labels.after}\n`;
    return header + formatPatch(patch, OMIT_HEADERS);
}

/** Structural equality of JSON values (key order ignored). */
export function deepEqual(a: unknown, b: unknown): boolean {
    if (a === b) {
        return true;
    }
    if (Array.isArray(a) && Array.isArray(b)) {
        return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
    }
    if (isRecord(a) && isRecord(b)) {
        const keys = Object.keys(a);
        return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
    }
    return false;
}

/** A JSON value with object keys sorted at every depth, as one line: equal values give equal keys. */
function canonical(value: unknown): string {
    return JSON.stringify(sortKeys(value)) ?? "undefined";
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** `parent.key`, `parent["odd/key"]` or `parent[3]`. */
export function childPath(parent: string, key: string | number): string {
    if (typeof key === "number") {
        return `${parent}[${key}]`;
    }
    if (IDENTIFIER.test(key)) {
        return parent === "" ? key : `${parent}.${key}`;
    }
    return `${parent}[${JSON.stringify(key)}]`;
}

/**
 * Every leaf that differs between two JSON values, as paths (objects by key, arrays aligned on their
 * equal items, so an inserted item is one change, not a shift of every later one). A value whose type
 * changes, or an item or key present on one side only, is one change with the whole value.
 */
export function valueChanges(before: unknown, after: unknown, path = ""): ValueChange[] {
    if (deepEqual(before, after)) {
        return [];
    }
    if (isRecord(before) && isRecord(after)) {
        const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort(compareStrings);
        return keys.flatMap((k) => valueChanges(before[k], after[k], childPath(path, k)));
    }
    if (Array.isArray(before) && Array.isArray(after)) {
        return arrayChanges(before, after, path);
    }
    return [{ path: path === "" ? "(value)" : path, before, after }];
}

function arrayChanges(before: readonly unknown[], after: readonly unknown[], path: string): ValueChange[] {
    const out: ValueChange[] = [];
    let removed: { value: unknown; index: number }[] = [];
    let added: { value: unknown; index: number }[] = [];
    const flush = () => {
        // A run of removals and additions: pair them up as changed items, the rest are removed or added.
        const paired = Math.min(removed.length, added.length);
        for (let i = 0; i < paired; i++) {
            out.push(...valueChanges(removed[i].value, added[i].value, childPath(path, added[i].index)));
        }
        for (const item of removed.slice(paired)) {
            out.push({ path: childPath(path, item.index), before: item.value, after: undefined });
        }
        for (const item of added.slice(paired)) {
            out.push({ path: childPath(path, item.index), before: undefined, after: item.value });
        }
        removed = [];
        added = [];
    };
    // Aligned on the items' canonical JSON, so equal items match whatever their key order.
    let i = 0;
    let j = 0;
    for (const edit of sequenceEdits(before.map(canonical), after.map(canonical))) {
        if (edit.removed) {
            removed.push(...edit.value.map(() => ({ value: before[i], index: i++ })));
        } else if (edit.added) {
            added.push(...edit.value.map(() => ({ value: after[j], index: j++ })));
        } else {
            flush();
            i += edit.count;
            j += edit.count;
        }
    }
    flush();
    return out;
}

/** What changed in a resource besides its inputs: parent, provider, explicit dependencies, options. */
function resourceFieldChanges(before: SynthResourceRecord, after: SynthResourceRecord): ValueChange[] {
    const out: ValueChange[] = [];
    for (const field of ["parent", "provider"] as const) {
        if (before[field] !== after[field]) {
            out.push({ path: `[${field}]`, before: before[field], after: after[field], reference: true });
        }
    }
    const was = new Set(before.dependsOn ?? []);
    const is = new Set(after.dependsOn ?? []);
    for (const urn of [...was].filter((u) => !is.has(u)).sort(compareStrings)) {
        out.push({ path: "[dependsOn]", before: urn, after: undefined, reference: true });
    }
    for (const urn of [...is].filter((u) => !was.has(u)).sort(compareStrings)) {
        out.push({ path: "[dependsOn]", before: undefined, after: urn, reference: true });
    }
    const options = valueChanges(before.options ?? {}, after.options ?? {});
    out.push(...options.map((c) => ({ ...c, path: `[${childPath("options", c.path.replace(/^\(value\)$/, ""))}]` })));
    return out;
}

const ref = (r: SynthResourceRecord): ResourceRef => ({ urn: r.urn, type: r.type, name: r.name });
const byUrn = (a: { urn: string }, b: { urn: string }) => compareStrings(a.urn, b.urn);

function header(lines: readonly string[]): { header: string; documents: string[] } {
    const documents: string[][] = [];
    const head: string[] = [];
    for (const line of lines) {
        if (line === "---") {
            documents.push([]);
        } else if (documents.length === 0) {
            head.push(line);
        } else {
            documents[documents.length - 1].push(line);
        }
    }
    return { header: head.join("\n"), documents: documents.map((d) => `${d.join("\n")}\n`) };
}

/**
 * The top of a document that identifies its object: the top-level `apiVersion`, `kind` and `metadata`
 * lines. Parsing only these is several times faster than parsing whole objects (a ConfigMap of
 * scripts, a chart's values), which matters with thousands of objects.
 */
function identifyingLines(text: string): string {
    const head: string[] = [];
    let inMetadata = false;
    for (const line of textLines(text)) {
        if (line.startsWith("#")) {
            continue;
        }
        if (line !== "" && line[0] !== " ") {
            inMetadata = line.startsWith("metadata:");
            if (/^(apiVersion|kind|metadata):/.test(line)) {
                head.push(line);
            }
        } else if (inMetadata) {
            head.push(line);
        }
    }
    return head.join("\n");
}

function parseObject(text: string): Record<string, unknown> | undefined {
    try {
        const object = parse(text) as unknown;
        return isRecord(object) ? object : undefined;
    } catch {
        return undefined;
    }
}

/** `apiVersion kind namespace/name` of a document's object, or undefined when it does not parse as one. */
function objectKey(text: string): string | undefined {
    const head = parseObject(identifyingLines(text));
    const object = head !== undefined && typeof head.kind === "string" && isRecord(head.metadata) ? head : parseObject(text);
    if (object === undefined) {
        return undefined;
    }
    const metadata = isRecord(object.metadata) ? object.metadata : {};
    const name = typeof metadata.name === "string" ? metadata.name : "(no name)";
    const namespace = typeof metadata.namespace === "string" ? `${metadata.namespace}/` : "";
    return `${String(object.apiVersion)} ${String(object.kind)} ${namespace}${name}`;
}

/**
 * The documents of a `manifests.yaml` (as the synth writes it: a comment header, then each object as
 * `---`, comment lines, YAML), keyed by object. A patch (its comment says so) is keyed apart from the
 * object it patches; an object declared twice gets `#2`, `#3`... in file order.
 */
export function parseManifests(text: string): { header: string; documents: ManifestDocument[] } {
    const { header: head, documents } = header(textLines(text));
    const seen = new Map<string, number>();
    const parsed = documents.map((doc, index) => {
        const lines = textLines(doc);
        const comment = lines.filter((line) => line.startsWith("#"));
        const base = objectKey(doc) ?? `document ${index + 1}`;
        const key = comment.some((line) => line.startsWith("# patch")) ? `${base} (patch)` : base;
        const count = (seen.get(key) ?? 0) + 1;
        seen.set(key, count);
        return { key: count === 1 ? key : `${key} #${count}`, text: doc };
    });
    return { header: head, documents: parsed };
}

function manifestChanges(before: string, after: string): ManifestChanges {
    const a = parseManifests(before);
    const b = parseManifests(after);
    const was = new Map(a.documents.map((d) => [d.key, d.text]));
    const is = new Map(b.documents.map((d) => [d.key, d.text]));
    const byKey = (x: { key: string }, y: { key: string }) => compareStrings(x.key, y.key);
    return {
        added: b.documents.filter((d) => !was.has(d.key)).sort(byKey),
        removed: a.documents.filter((d) => !is.has(d.key)).sort(byKey),
        changed: a.documents
            .filter((d) => is.has(d.key) && is.get(d.key) !== d.text)
            .map((d) => ({ key: d.key, before: d.text, after: is.get(d.key) ?? "" }))
            .sort(byKey),
        ...(a.header !== b.header ? { header: { before: a.header, after: b.header } } : {}),
    };
}

function counts(files: StackFiles): StackCounts {
    return {
        resources: files.resources.length,
        outputs: Object.keys(files.outputs).length,
        manifests: parseManifests(files.manifests).documents.length,
    };
}

/** Compares one stack's files at base and head. */
export function diffStack(stack: string, base: StackFiles, head: StackFiles): ComparedStack {
    const was = new Map(base.resources.map((r) => [r.urn, r]));
    const is = new Map(head.resources.map((r) => [r.urn, r]));
    const added = head.resources
        .filter((r) => !was.has(r.urn))
        .map(ref)
        .sort(byUrn);
    const removed = base.resources
        .filter((r) => !is.has(r.urn))
        .map(ref)
        .sort(byUrn);
    const changed = base.resources
        .flatMap((r): ResourceChange[] => {
            const other = is.get(r.urn);
            if (other === undefined) {
                return [];
            }
            const changes = [...valueChanges(r.inputs ?? {}, other.inputs ?? {}), ...resourceFieldChanges(r, other)];
            return changes.length > 0 ? [{ ...ref(other), changes }] : [];
        })
        .sort(byUrn);
    const outputs = valueChanges(base.outputs, head.outputs);
    const manifests = manifestChanges(base.manifests, head.manifests);
    const same =
        added.length +
            removed.length +
            changed.length +
            outputs.length +
            manifests.added.length +
            manifests.removed.length +
            manifests.changed.length ===
            0 && manifests.header === undefined;
    return { stack, status: same ? "unchanged" : "changed", added, removed, changed, outputs, manifests };
}

/** Compares two synth trees, stack by stack, in stack-name order. */
export function diffSynth(base: SynthTree, head: SynthTree): SynthDiff {
    const stacks = [...new Set([...base.keys(), ...head.keys()])].sort(compareStrings);
    return {
        stacks: stacks.map((stack): StackDiff => {
            const a = base.get(stack);
            const b = head.get(stack);
            if (a === undefined) {
                return { stack, status: "added", counts: counts(b as StackFiles) };
            }
            if (b === undefined) {
                return { stack, status: "removed", counts: counts(a) };
            }
            return diffStack(stack, a, b);
        }),
    };
}

// ---------------------------------------------------------------------------------------------------
// Rendering

/** A value as one short line: JSON, cut at `max` characters with an ellipsis and the full length. */
export function formatValue(value: unknown, max = 100): string {
    if (value === undefined) {
        return "(absent)";
    }
    // JSON.stringify gives undefined only for functions and symbols, which parsed JSON never holds.
    const text = JSON.stringify(value) ?? typeof value;
    const chars = Array.from(text);
    return chars.length <= max ? text : `${chars.slice(0, max).join("")}… (${chars.length} chars)`;
}

/** A URN (or provider reference, `<urn>::<id>`) as its resource's type and name. */
export function shortUrn(urn: string): string {
    const parts = urn.split("::");
    if (parts.length < 4 || !parts[0].startsWith("urn:pulumi:")) {
        return urn;
    }
    const type = parts[2].split("$").pop() ?? parts[2];
    return `${type} ${parts.slice(3).join("::")}`;
}

function isMultiline(value: unknown): boolean {
    return typeof value === "string" && value.includes("\n");
}

/** A change whose sides are texts of several lines: shown as a diff of their lines, not as one line. */
function isTextChange(change: ValueChange): boolean {
    const textOrAbsent = (v: unknown) => v === undefined || typeof v === "string";
    return (
        !change.reference &&
        (isMultiline(change.before) || isMultiline(change.after)) &&
        textOrAbsent(change.before) &&
        textOrAbsent(change.after)
    );
}

function changeLine(change: ValueChange, maxValue: number): string {
    if (isTextChange(change)) {
        const lines = (v: unknown) => (typeof v === "string" ? `${textLines(v).length} lines` : "(absent)");
        return `${change.path}: text, ${lines(change.before)} → ${lines(change.after)} (diff below)`;
    }
    const show = (v: unknown) =>
        v === undefined ? "(absent)" : change.reference && typeof v === "string" ? shortUrn(v) : formatValue(v, maxValue);
    if (change.reference && (change.before === undefined || change.after === undefined) && change.path === "[dependsOn]") {
        return change.before === undefined ? `[dependsOn] + ${show(change.after)}` : `[dependsOn] - ${show(change.before)}`;
    }
    return `${change.path}: ${show(change.before)} → ${show(change.after)}`;
}

/**
 * Text diffs of the changes that are multi-line texts, one after the other. A value's missing final
 * newline is not marked (most values have none) unless it is all that changed.
 */
function textDiffs(changes: readonly ValueChange[]): string {
    const text = (v: unknown) => (typeof v === "string" ? v : undefined);
    const withNewline = (v: string | undefined) => (v === undefined || v === "" || v.endsWith("\n") ? v : `${v}\n`);
    return changes
        .filter(isTextChange)
        .map((c) => {
            const labels = { before: `base ${c.path}`, after: `head ${c.path}` };
            const [before, after] = [text(c.before), text(c.after)];
            return unifiedDiff(withNewline(before), withNewline(after), labels) || unifiedDiff(before, after, labels);
        })
        .join("");
}

/** A fence of backticks longer than any run of backticks in `texts` (at least three). */
export function fenceFor(...texts: string[]): string {
    const longest = Math.max(0, ...texts.flatMap((t) => (t.match(/`+/g) ?? []).map((run) => run.length)));
    return "`".repeat(Math.max(3, longest + 1));
}

/** `text` as a fenced code block, each line indented by `indent`. */
function fenced(text: string, info = "", indent = ""): string {
    const fence = fenceFor(text);
    const body = textLines(text).map((line) => (line === "" ? "" : `${indent}${line}`));
    return [`${indent}${fence}${info}`, ...body, `${indent}${fence}`].join("\n") + "\n";
}

/** Inline code that survives backticks in `text`. */
export function code(text: string): string {
    const fence = "`".repeat(Math.max(1, ...(text.match(/`+/g) ?? []).map((run) => run.length + 1)));
    const pad = fence.length > 1 || text.startsWith("`") || text.endsWith("`") ? " " : "";
    return `${fence}${pad}${text}${pad}${fence}`;
}

function escapeHtml(text: string): string {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** What an optional piece of the comment shows. */
type Item = "added" | "removed" | "changed" | "output" | "manifest";

/**
 * When not everything fits, the order in which optional chunks are shown (each step in document
 * order, stopping at the first that does not fit, so lists stay contiguous): what a merge would
 * delete first, then the changes to existing resources (named, then in detail), the outputs, the
 * added resources, and the manifests' diffs (the resources say the same) last.
 */
const FIT_STEPS: readonly (readonly [Item, "brief" | "full"])[] = [
    ["removed", "full"],
    ["changed", "brief"],
    ["output", "brief"],
    ["changed", "full"],
    ["output", "full"],
    ["added", "full"],
    ["manifest", "brief"],
    ["manifest", "full"],
];

/**
 * A piece of the comment. Required pieces are always shown; the others in full when everything fits,
 * else in their `brief` form (or left out) so that the comment stays within the limit.
 */
interface Chunk {
    readonly full: string;
    readonly brief?: string;
    readonly required?: true;
    /** What it shows: for the truncation note, and the order of {@link FIT_STEPS}. */
    readonly item?: Item;
}

function resourceLabel(r: ResourceRef): string {
    return `${code(r.name)} · ${code(r.type)}`;
}

function stackSummary(diff: StackDiff): string {
    if (!isCompared(diff)) {
        const c = diff.counts;
        const what = `${plural(c.resources, "resource")}, ${plural(c.outputs, "output")}, ${plural(c.manifests, "Kubernetes object")}`;
        return diff.status === "added" ? `new stack (${what} at head)` : `stack removed (${what} at base)`;
    }
    if (diff.status === "unchanged") {
        return "no changes";
    }
    const outputs = diff.outputs.length === 0 ? "outputs unchanged" : `outputs changed (${plural(diff.outputs.length, "change")})`;
    return `${diff.added.length} added, ${diff.removed.length} removed, ${diff.changed.length} changed resources; ${outputs}`;
}

function stackChunks(diff: StackDiff, maxValue: number): Chunk[] {
    const chunks: Chunk[] = [{ full: `#### Stack ${code(diff.stack)}: ${stackSummary(diff)}\n\n`, required: true }];
    if (diff.status !== "changed") {
        return chunks;
    }
    const list = (title: string, items: readonly ResourceRef[], item: Item) => {
        if (items.length > 0) {
            chunks.push({ full: `**${title}**\n\n`, required: true });
            chunks.push(...items.map((r): Chunk => ({ full: `- ${resourceLabel(r)}\n`, item })));
            chunks.push({ full: "\n", required: true });
        }
    };
    list(`Added resources (${diff.added.length})`, diff.added, "added");
    list(`Removed resources (${diff.removed.length})`, diff.removed, "removed");
    if (diff.changed.length > 0) {
        chunks.push({ full: `**Changed resources (${diff.changed.length})**\n\n`, required: true });
        for (const r of diff.changed) {
            const lines = r.changes.map((c) => changeLine(c, maxValue)).join("\n");
            const texts = textDiffs(r.changes);
            const title = `- ${resourceLabel(r)}: ${plural(r.changes.length, "change")}`;
            chunks.push({
                full: `${title}\n${fenced(lines, "", "  ")}${texts === "" ? "" : fenced(texts, "diff", "  ")}`,
                brief: `${title} (details left out to fit the comment)\n`,
                item: "changed",
            });
        }
        chunks.push({ full: "\n", required: true });
    }
    if (diff.outputs.length > 0) {
        const lines = diff.outputs.map((c) => changeLine(c, maxValue)).join("\n");
        const texts = textDiffs(diff.outputs);
        chunks.push({
            full: `**Changed outputs**\n\n${fenced(lines)}${texts === "" ? "" : fenced(texts, "diff")}\n`,
            brief: `**Changed outputs**: ${diff.outputs.map((c) => code(c.path)).join(", ")} (values left out to fit the comment)\n\n`,
            item: "output",
        });
    }
    const m = diff.manifests;
    const total = m.added.length + m.removed.length + m.changed.length;
    if (total > 0 || m.header !== undefined) {
        const docs: { full: string; brief: string }[] = [];
        if (m.header !== undefined) {
            docs.push({
                full: unifiedDiff(`${m.header.before}\n`, `${m.header.after}\n`, {
                    before: "base manifests.yaml header",
                    after: "head manifests.yaml header",
                }),
                brief: "# manifests.yaml header changed (diff left out to fit the comment)\n",
            });
        }
        for (const d of m.added) {
            docs.push({
                full: unifiedDiff(undefined, d.text, { before: "", after: `head ${d.key}` }),
                brief: `# added: ${d.key} (left out to fit the comment)\n`,
            });
        }
        for (const d of m.removed) {
            docs.push({
                full: unifiedDiff(d.text, undefined, { before: `base ${d.key}`, after: "" }),
                brief: `# removed: ${d.key} (left out to fit the comment)\n`,
            });
        }
        for (const d of m.changed) {
            docs.push({
                full: unifiedDiff(d.before, d.after, { before: `base ${d.key}`, after: `head ${d.key}` }),
                brief: `# changed: ${d.key} (diff left out to fit the comment)\n`,
            });
        }
        const fence = fenceFor(...docs.flatMap((d) => [d.full, d.brief]));
        const summary = `Kubernetes manifests: ${m.added.length} added, ${m.removed.length} removed, ${m.changed.length} changed`;
        chunks.push({ full: `<details><summary>${escapeHtml(summary)}</summary>\n\n${fence}diff\n`, required: true });
        chunks.push(...docs.map((d): Chunk => ({ full: d.full, brief: d.brief, item: "manifest" })));
        chunks.push({ full: `${fence}\n\n</details>\n\n`, required: true });
    }
    return chunks;
}

export interface RenderOptions {
    /** What the two sides are, for the title: a ref and commit, or a directory. */
    readonly baseLabel: string;
    readonly headLabel: string;
    /** The longest the comment may be, in UTF-16 code units (never more than {@link GITHUB_COMMENT_LIMIT}). Default 65,000. */
    readonly maxLength?: number;
    /** The longest a value is shown before it is cut. Default 100. */
    readonly maxValueLength?: number;
    /** The command that shows everything, for the truncation note. */
    readonly fullCommand?: string;
}

/** Room kept for the truncation note. */
const NOTE_RESERVE = 600;

/**
 * Chooses, for each chunk, full, brief or left out so that the total stays within `limit`: everything
 * in full if it fits; otherwise the required chunks, then the others in the order of {@link FIT_STEPS}
 * while there is room.
 */
function fit(chunks: readonly Chunk[], limit: number): { text: string[]; shortened: Map<Item, number>; omitted: Map<Item, number> } {
    const full = chunks.map((c) => c.full);
    const length = (parts: readonly string[]) => parts.reduce((n, p) => n + p.length, 0);
    const shortened = new Map<Item, number>();
    const omitted = new Map<Item, number>();
    if (length(full) <= limit) {
        return { text: full, shortened, omitted };
    }
    const budget = limit - NOTE_RESERVE;
    const text = chunks.map((c) => (c.required ? c.full : ""));
    let total = length(text);
    for (const [kind, form] of FIT_STEPS) {
        for (let i = 0; i < chunks.length; i++) {
            const c = chunks[i];
            if (c.item !== kind) {
                continue;
            }
            const wanted = form === "brief" ? (c.brief ?? c.full) : c.full;
            if (text[i] === wanted) {
                continue;
            }
            if ((form === "full" && c.brief !== undefined && text[i] === "") || total - text[i].length + wanted.length > budget) {
                break;
            }
            total += wanted.length - text[i].length;
            text[i] = wanted;
        }
    }
    chunks.forEach((c, i) => {
        if (c.item === undefined) {
            return; // required: always shown in full
        }
        const counts = text[i] === "" ? omitted : text[i] !== c.full ? shortened : undefined;
        counts?.set(c.item, (counts.get(c.item) ?? 0) + 1);
    });
    return { text, shortened, omitted };
}

const ITEM_NAMES: Record<Item, [string, string]> = {
    added: ["added resource", "added resources"],
    removed: ["removed resource", "removed resources"],
    changed: ["changed resource", "changed resources"],
    output: ["output section", "output sections"],
    manifest: ["manifest diff", "manifest diffs"],
};

function countList(counts: Map<Item, number>): string {
    const order = Object.keys(ITEM_NAMES);
    return [...counts]
        .sort(([a], [b]) => order.indexOf(a) - order.indexOf(b))
        .map(([what, n]) => plural(n, ITEM_NAMES[what][0], ITEM_NAMES[what][1]))
        .join(", ");
}

/** `body`, cut to `limit` with a note, when even its required parts do not fit (thousands of stacks). */
function withinLimit(body: string, limit: number): string {
    if (body.length <= limit) {
        return body;
    }
    const cut = "\n\n… cut here: the comment limit was reached even without details.\n";
    return body.slice(0, limit - cut.length) + cut;
}

/** The PR comment for a synth diff: Markdown, starting with {@link SYNTH_DIFF_MARKER}, at most `maxLength` long. */
export function renderMarkdown(diff: SynthDiff, options: RenderOptions): string {
    const limit = Math.min(options.maxLength ?? 65_000, GITHUB_COMMENT_LIMIT);
    const maxValue = options.maxValueLength ?? 100;
    const title = `${SYNTH_DIFF_MARKER}\n### Synth diff: ${code(options.baseLabel)} → ${code(options.headLabel)}\n\n`;
    const changed = diff.stacks.filter((s) => s.status !== "unchanged");
    if (diff.stacks.length === 0) {
        return `${title}No stacks: neither side has synth output.\n`;
    }
    if (changed.length === 0) {
        const names = diff.stacks.map((s) => code(s.stack)).join(", ");
        return withinLimit(`${title}No changes: every stack (${names}) synthesizes the same at both.\n`, limit);
    }
    const intro =
        `${plural(changed.length, "stack")} of ${diff.stacks.length} changed. What each stack's program declares, run offline by ` +
        "`npm run synth` at both commits; secrets show as `[secret]`, Helm charts are compared by their values (not rendered), " +
        "and `pulumi preview` remains the word on what a cluster would do.\n\n";
    const chunks: Chunk[] = [{ full: title + intro, required: true }, ...diff.stacks.flatMap((s) => stackChunks(s, maxValue))];
    const { text, shortened, omitted } = fit(chunks, limit);
    if (shortened.size > 0 || omitted.size > 0) {
        const parts = [
            ...(shortened.size > 0 ? [`shortened ${countList(shortened)}`] : []),
            ...(omitted.size > 0 ? [`left out ${countList(omitted)}`] : []),
        ];
        const how = options.fullCommand === undefined ? "" : ` Run ${code(options.fullCommand)} for the whole diff.`;
        const note = `> [!NOTE]\n> Truncated to fit GitHub's comment limit (${GITHUB_COMMENT_LIMIT.toLocaleString("en-US")} characters): ${parts.join("; ")}.${how}\n\n`;
        text[0] = title + note + intro;
    }
    return withinLimit(text.join("").replace(/\n+$/, "\n"), limit);
}
