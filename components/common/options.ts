/**
 * Options as schemas. Each component declares its options once, as a zod schema beside the builder
 * that uses them: the type, the default (`.default()`), the rule (a refinement with the predicate the
 * builder relies on) and, in `.meta()`, a description, what is allowed and an example. Everything else
 * is derived: the TypeScript types (`z.input`/`z.output`), the component's validation of its args, the
 * stack config's validation and error messages, `docs/configuration.md` and the config block of
 * `Pulumi.yaml`.
 */
import * as pulumi from "@pulumi/pulumi";
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";

/** What the docs and error messages say about one option. */
export interface OptionDoc {
    /** What the option does. */
    readonly description: string;
    /** What is allowed, phrased to follow "must be". */
    readonly allowed: string;
    /** A valid value as config text, for the docs and for the fix command of an error. */
    readonly example: string;
    /** The default in words, where it is derived rather than a value ("the stack name"). */
    readonly defaultText?: string;
    /** Set once for the whole project, in Pulumi.yaml (the same in every region). */
    readonly projectWide?: boolean;
}

declare module "zod" {
    // Lets `.meta()` carry an option's documentation with its types checked.
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface GlobalMeta extends Partial<OptionDoc> {}
}

/** Where an option's `allowed` text names its values, for an enum or a list of one: filled in by {@link option}. */
export const VALUES = "{values}";

/** An option's documentation as declared: `allowed` may be left out, or say {@link VALUES}, when the schema lists the values. */
export type OptionDocInput = Omit<OptionDoc, "allowed"> & { readonly allowed?: string };

/** `a`, `a or b`, `a, b or c`. */
export function either(values: readonly string[]): string {
    return values.length <= 1 ? (values[0] ?? "") : `${values.slice(0, -1).join(", ")} or ${values[values.length - 1]}`;
}

/** The values an option takes when its schema lists them (an enum, a boolean), or those of its list's items. */
export function listedValues(schema: z.ZodType): readonly string[] | undefined {
    const outer = core(schema);
    const target = def(outer).type === "array" && def(outer).element !== undefined ? core(def(outer).element as z.ZodType) : outer;
    const d = def(target);
    return d.type === "enum" ? Object.values(d.entries ?? {}) : d.type === "boolean" ? ["true", "false"] : undefined;
}

/**
 * `schema` documented as an option. For an option whose schema lists its values (an enum, a boolean,
 * a list of either), the schema is the one source of them: `allowed` is left out (it becomes the
 * values, `a, b or c`) or names them as {@link VALUES} within more text; writing them by hand throws.
 */
export function option<S extends z.ZodType>(schema: S, doc: OptionDocInput): S {
    const values = listedValues(schema);
    const given = doc.allowed;
    const problem =
        values === undefined
            ? given === undefined || given.includes(VALUES)
                ? `its schema lists no values, so say what is allowed`
                : undefined
            : given !== undefined && !given.includes(VALUES)
              ? `its schema lists its values (${values.join(", ")}): leave allowed out, or write ${VALUES} where they go`
              : undefined;
    if (problem !== undefined) {
        throw new Error(`option "${doc.description.slice(0, 60)}...": ${problem}`);
    }
    const allowed = values === undefined ? (given as string) : (given ?? VALUES).replace(VALUES, either(values));
    return schema.meta({ ...doc, allowed });
}

/** An object of options: its fields' defaults apply when it is left out. */
export function options<Shape extends z.core.$ZodLooseShape>(shape: Shape) {
    return z.strictObject(shape);
}

/** A string that passes `check`. */
export function text(check: (value: string) => boolean) {
    return z.string().refine(check);
}

/** A list whose items are all different. */
export function distinct<T extends z.ZodType>(item: T) {
    return z.array(item).refine((list) => new Set(list).size === list.length);
}

/** A string from a fixed list. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
    return z.enum(values);
}

/**
 * Rules across options, as a check for `.check(rules(...))`. They run only once every option has
 * passed its own rule, so a wrong value is reported once, not again by every rule that reads it.
 */
export function rules<T>(fn: (value: T, ctx: z.RefinementCtx<T>) => void) {
    return z.superRefine(fn, { when: (payload) => payload.issues.length === 0 });
}

/** The one fix of a rule, where there is one: remove the option, or set it to `set` (config text). */
export type RuleFix = "remove" | { readonly set: string };

/**
 * A rule across options: reported at `path` with `message` as it is (the message names the options
 * involved and the fix), not with the option's "allowed" text. With `fix`, the config's error prints
 * that command alone; without, it offers both removing the option and setting it.
 */
export function ruleIssue(ctx: z.RefinementCtx, path: readonly PropertyKey[], message: string, fix?: RuleFix): void {
    ctx.addIssue({ code: "custom", path: [...path], message, params: { rule: true, ...(fix === undefined ? {} : { fix }) } });
}

// ---------------------------------------------------------------------------------------------------
// Walking a schema: what the docs, the config's coercion and the error messages need.

/** The zod definition kinds this project's option schemas are built from. */
type Def = z.core.$ZodTypeDef & {
    readonly innerType?: z.ZodType;
    readonly in?: z.ZodType;
    readonly out?: z.ZodType;
    readonly shape?: Record<string, z.ZodType>;
    readonly element?: z.ZodType;
    readonly valueType?: z.ZodType;
    readonly options?: readonly z.ZodType[];
    readonly defaultValue?: unknown;
    readonly entries?: Record<string, string>;
};

function def(schema: z.ZodType): Def {
    return schema._zod.def;
}

/** The documentation on `schema` or on any wrapper between it and its core type. */
export function docOf(schema: z.ZodType): Partial<OptionDoc> {
    let doc: Partial<OptionDoc> = {};
    for (let current: z.ZodType | undefined = schema; current !== undefined; current = wrapped(current)) {
        doc = { ...(z.globalRegistry.get(current) as Partial<OptionDoc> | undefined), ...doc };
    }
    return doc;
}

/** The schema inside a wrapper (optional, default, a union with a Pulumi Output, a pipe), if it is one. */
function wrapped(schema: z.ZodType): z.ZodType | undefined {
    const d = def(schema);
    switch (d.type) {
        case "optional":
        case "nullable":
        case "default":
        case "prefault":
        case "readonly":
        case "nonoptional":
            return d.innerType;
        case "pipe":
            return d.in?._zod.def.type === "transform" ? d.out : d.in;
        case "union": {
            const members = (d.options ?? []).filter((member) => def(member).type !== "custom");
            return members.length === 1 ? members[0] : undefined;
        }
        default:
            return undefined;
    }
}

/** `schema` without its wrappers. */
export function core(schema: z.ZodType): z.ZodType {
    let current = schema;
    for (let inner = wrapped(current); inner !== undefined; inner = wrapped(current)) {
        current = inner;
    }
    return current;
}

/** The default value of an option, if it has one (a `.default()` or `.prefault()` on the way to its core). */
export function defaultOf(schema: z.ZodType): { readonly value: unknown } | undefined {
    for (let current: z.ZodType | undefined = schema; current !== undefined; current = wrapped(current)) {
        const d = def(current);
        if (d.type === "default" || d.type === "prefault") {
            return { value: typeof d.defaultValue === "function" ? (d.defaultValue as () => unknown)() : d.defaultValue };
        }
    }
    return undefined;
}

/**
 * The fields of an object option. For a union of objects (a discriminated union such as a region's
 * backend, whose fields depend on its `type`), the fields of every member: each name once, as the
 * first member that documents it declares it.
 */
export function fieldsOf(schema: z.ZodType): Readonly<Record<string, z.ZodType>> {
    const d = def(core(schema));
    if (d.type === "object") {
        return d.shape ?? {};
    }
    const members = d.type === "union" ? (d.options ?? []) : [];
    if (members.length === 0 || !members.every((member) => def(core(member)).type === "object")) {
        return {};
    }
    const merged: Record<string, z.ZodType> = {};
    for (const member of members) {
        for (const [name, field] of Object.entries(fieldsOf(member))) {
            if (!Object.hasOwn(merged, name) || (docOf(merged[name]).description === undefined && docOf(field).description !== undefined)) {
                merged[name] = field;
            }
        }
    }
    return merged;
}

/** The item schema of a list option, the value schema of a map option. */
function itemOf(schema: z.ZodType): z.ZodType | undefined {
    const d = def(core(schema));
    return d.type === "array" ? d.element : d.type === "record" ? d.valueType : undefined;
}

/** The kind of value an option takes, as the docs and Pulumi.yaml name it. */
export function kindOf(schema: z.ZodType): "string" | "integer" | "number" | "boolean" | "array" | "object" {
    const d = def(core(schema));
    switch (d.type) {
        case "number":
            return (d as { format?: string }).format?.includes("int") ? "integer" : "number";
        case "boolean":
            return "boolean";
        case "array":
            return "array";
        case "object":
        case "record":
            return "object";
        case "union":
            return Object.keys(fieldsOf(schema)).length > 0 ? "object" : "string";
        default:
            return "string";
    }
}

/** The schema of the option at `path` (list indices and map keys included), or undefined. */
export function schemaAt(root: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
    let current: z.ZodType | undefined = root;
    for (const part of path) {
        if (current === undefined) {
            return undefined;
        }
        const fields = fieldsOf(current);
        current = typeof part === "string" && Object.hasOwn(fields, part) ? fields[part] : itemOf(current);
    }
    return current;
}

/** The option names directly under the object at `path`. */
export function knownKeys(root: z.ZodType, path: readonly PropertyKey[]): string[] {
    const at = schemaAt(root, path);
    return at === undefined ? [] : Object.keys(fieldsOf(at));
}

/**
 * The options under `schema` whose value in `value` is not their default, each with its path from
 * `path`: an object option is looked into field by field, so the deepest option set is named
 * (`vault.snapshots.enabled`, not `vault`). An option with no default counts as set when it has a value.
 */
export function optionsSet(
    schema: z.ZodType,
    value: unknown,
    path: readonly PropertyKey[] = [],
): { readonly path: readonly PropertyKey[]; readonly value: unknown }[] {
    const fields = fieldsOf(schema);
    if (def(core(schema)).type === "object" && typeof value === "object" && value !== null && !Array.isArray(value)) {
        return Object.entries(fields).flatMap(([name, field]) =>
            optionsSet(field, (value as Record<string, unknown>)[name], [...path, name]),
        );
    }
    const fallback = schema.safeParse(undefined);
    return isDeepStrictEqual(value, fallback.success ? fallback.data : undefined) ? [] : [{ path, value }];
}

/**
 * Stack config arrives as text where YAML or `pulumi config set --path` leaves it so: numbers and
 * booleans are accepted as `"3"` and `"true"` where the schema expects a number or a boolean.
 */
export function coerce(schema: z.ZodType, value: unknown): unknown {
    const kind = kindOf(schema);
    if (typeof value === "string" && (kind === "integer" || kind === "number") && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) {
        return Number(value);
    }
    if (typeof value === "string" && kind === "boolean" && (value === "true" || value === "false")) {
        return value === "true";
    }
    if (Array.isArray(value)) {
        const item = itemOf(schema);
        return item === undefined ? value : value.map((v) => coerce(item, v));
    }
    if (typeof value === "object" && value !== null) {
        const fields = fieldsOf(schema);
        const item = itemOf(schema);
        return Object.fromEntries(
            Object.entries(value).map(([k, v]) => {
                const field = Object.hasOwn(fields, k) ? fields[k] : item;
                return [k, field === undefined ? v : coerce(field, v)];
            }),
        );
    }
    return value;
}

/** One documented option, as a row of the docs. */
export interface OptionRow extends OptionDoc {
    /** Dotted path (`vault.tls.source`); list items are `replicatedSecrets[].name`. */
    readonly key: string;
    readonly kind: ReturnType<typeof kindOf>;
    /** The default as the docs show it; undefined when the option is required. */
    readonly defaultShown?: string;
}

/** Every documented option under `schema`, depth first, in declaration order. */
export function optionRows(schema: z.ZodType, prefix = ""): OptionRow[] {
    const rows: OptionRow[] = [];
    for (const [name, field] of Object.entries(fieldsOf(schema))) {
        const key = `${prefix}${name}`;
        const doc = docOf(field);
        if (doc.description !== undefined) {
            const fallback = defaultOf(field);
            const optional = field.safeParse(undefined).success;
            const defaultShown = doc.defaultText ?? (fallback !== undefined ? shown(fallback.value) : optional ? "none" : undefined);
            rows.push({
                key,
                kind: kindOf(field),
                description: doc.description,
                allowed: doc.allowed ?? "",
                example: doc.example ?? "",
                ...(doc.projectWide ? { projectWide: true } : {}),
                ...(defaultShown === undefined ? {} : { defaultShown }),
            });
        }
        const item = itemOf(field);
        if (Object.keys(fieldsOf(field)).length > 0) {
            rows.push(...optionRows(field, `${key}.`));
        } else if (item !== undefined && Object.keys(fieldsOf(item)).length > 0) {
            rows.push(...optionRows(item, `${key}[].`));
        }
    }
    return rows;
}

function shown(value: unknown): string {
    if (typeof value === "string") {
        return value;
    }
    if (Array.isArray(value)) {
        return `[${value.map(shown).join(", ")}]`;
    }
    if (typeof value === "object" && value !== null) {
        const entries = Object.entries(value);
        return entries.length === 0 ? "{}" : `{${entries.map(([k, v]) => `${k}: ${shown(v)}`).join(", ")}}`;
    }
    return String(value);
}

// ---------------------------------------------------------------------------------------------------
// Validating a component's args.

/** A path as the docs spell it: `tls.source`, `replicatedSecrets[0].name`. */
export function pathText(path: readonly PropertyKey[]): string {
    return path.reduce<string>(
        (out, part, i) => (typeof part === "number" ? `${out}[${part}]` : `${out}${i === 0 ? "" : "."}${String(part)}`),
        "",
    );
}

/** Why one issue failed, phrased to follow the option's path: "is 4, but it must be an odd ...". */
export function issueReason(
    root: z.ZodType,
    issue: z.core.$ZodIssue,
    input: unknown,
    show: (path: readonly PropertyKey[], value: unknown) => string = (_path, value) => shownInError(value),
): string {
    if (issue.code === "custom" && (issue.params as { rule?: boolean } | undefined)?.rule === true) {
        return issue.message;
    }
    const value = valueAt(input, issue.path);
    // A list's item or a map's value is described by the list or map it belongs to.
    let allowed: string | undefined;
    for (let depth = issue.path.length; depth >= 0 && allowed === undefined; depth--) {
        allowed = docOf(schemaAt(root, issue.path.slice(0, depth)) ?? z.never()).allowed;
        if (depth < issue.path.length && typeof issue.path[depth] !== "number" && allowed !== undefined) {
            allowed = undefined; // a field's parent object says nothing about the field
            break;
        }
    }
    const is = value === undefined ? "is not set" : `is ${show(issue.path, value)}`;
    return allowed === undefined ? `${is}: ${issue.message}` : `${is}, but it must be ${allowed}`;
}

/** A value as an error shows it: JSON, but a resource by its type and name, and an Output as one (neither is data). */
function shownInError(value: unknown): string {
    if (pulumi.Resource.isInstance(value)) {
        const { __pulumiType: type, __name: name } = value as unknown as { __pulumiType?: string; __name?: string };
        return `a ${type ?? "Pulumi"} resource (${name ?? "unnamed"})`;
    }
    return pulumi.Output.isInstance(value) ? "an Output" : JSON.stringify(value);
}

/** The value at `path` in `root`, if there is one. */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
    let current: unknown = root;
    for (const part of path) {
        if (current === null || typeof current !== "object") {
            return undefined;
        }
        current = (current as Record<PropertyKey, unknown>)[part];
    }
    return current;
}

/**
 * Validates a component's args against its option schema and applies the defaults.
 * @throws pulumi.InputPropertiesError naming each wrong property (`vault.replicas`), what it is and
 *   what is allowed, before the component registers anything.
 */
export function parseOptions<S extends z.ZodType>(
    component: string,
    schema: S,
    args: unknown,
    prefix: readonly PropertyKey[] = [],
): z.output<S> {
    const result = schema.safeParse(args);
    if (result.success) {
        return result.data;
    }
    const errors = result.error.issues.flatMap((issue) => {
        const path = [...prefix, ...issue.path];
        if (issue.code === "unrecognized_keys") {
            const known = knownKeys(schema, issue.path);
            return issue.keys.map((key) => ({
                propertyPath: pathText([...path, key]),
                reason: `is not an option of ${component}${issue.path.length > 0 ? `'s ${pathText(path)}` : ""} (known: ${known.join(", ")})`,
            }));
        }
        return [{ propertyPath: pathText(path), reason: issueReason(schema, issue, args) }];
    });
    return refuseArgs(component, errors);
}

/**
 * Refuses a component's args before it registers anything, naming each wrong property (`vault.replicas`)
 * and why, in one error a program or the synth shows as one line per property.
 * @throws pulumi.InputPropertiesError always
 */
export function refuseArgs(component: string, errors: readonly { readonly propertyPath: string; readonly reason: string }[]): never {
    throw new pulumi.InputPropertiesError({
        message: `${component}: ${errors.map((e) => `${e.propertyPath} ${e.reason}`).join("; ")}`,
        errors: [...errors],
    });
}

/** An arg that a platform may pass as another resource's output; checked with `schema` once known. */
export function input<S extends z.ZodType>(schema: S) {
    return z.union([z.custom<pulumi.Output<z.output<S>>>((value) => pulumi.Output.isInstance(value)), schema]);
}

/**
 * An {@link input} arg, parsed with the rest of the args by {@link parseOptions}, as an Output: a plain
 * value has been checked there and is passed on as it is; another resource's output is checked with
 * `schema` once its value is known (the one check it gets).
 */
export function checkedInput<T>(
    component: string,
    propertyPath: string,
    schema: z.ZodType<T>,
    value: pulumi.Output<T> | T,
): pulumi.Output<T> {
    if (!pulumi.Output.isInstance(value)) {
        // A plain value is no Output, so pulumi.output gives it back as it is; its type says so.
        return pulumi.output(value) as pulumi.Output<T>;
    }
    return value.apply((resolved) => {
        const result = schema.safeParse(resolved);
        if (!result.success) {
            throw new pulumi.InputPropertyError({
                propertyPath,
                reason: `${component}: ${issueReason(schema, result.error.issues[0], resolved)}`,
            });
        }
        return result.data;
    });
}
