/**
 * Turns a program module's exports into stack outputs, as `pulumi up` does, but as plain JSON data a
 * worker can send to the runner and the CLI can write deterministically.
 *
 * Where Pulumi's own stack-output code (`runtime/stack.ts` in the SDK) gives something unhelpful for
 * values that are not data, the synth deliberately differs, and says so in a warning where a value is
 * changed or left out:
 * - a Resource becomes `{ "urn": ... }` (Pulumi exports every output property of it);
 * - a Date becomes its ISO 8601 string (Pulumi exports `{}`);
 * - an undefined export is left out with a warning, as Pulumi does; nested `undefined` is left out of
 *   objects and becomes `null` in arrays, as in JSON;
 * - functions and symbols are left out, with a warning (Pulumi exports `{}`);
 * - a bigint becomes its decimal string and a non-finite number `null`, with a warning;
 * - an object that contains itself is cut at the repetition, with a warning.
 */
import * as pulumi from "@pulumi/pulumi";

/** A stack output as the synth shows it: plain JSON data, and whether Pulumi treats it as secret. */
export interface ResolvedOutput {
    readonly value: unknown;
    readonly secret: boolean;
}

/** Every export of a program as stack outputs, and what the conversion had to change. */
export interface ResolvedExports {
    readonly outputs: Record<string, ResolvedOutput>;
    readonly warnings: string[];
}

/** Marks a value that has no place in the output (an undefined property, a function). */
const OMIT = Symbol("omit");
type Plain = unknown;

/** State of converting one export. */
interface Walk {
    /** Whether any Output met on the way was secret: then Pulumi treats the whole export as secret. */
    secret: boolean;
    readonly warnings: string[];
    /** The objects being converted, outermost first, to stop at cycles. */
    readonly ancestors: object[];
}

/**
 * `Output#promise` is internal in the SDK's typings, but the SDK's own stack-output code reads exports
 * with it. Unlike `apply`, it rejects when the output failed (a `requireOutput` of a missing output,
 * say), so a failed export fails the run instead of hanging it.
 */
interface OutputInternals {
    promise(): Promise<unknown>;
}

async function settle(output: pulumi.Output<unknown>): Promise<{ value: unknown; secret: boolean }> {
    const internals = output as unknown as Partial<OutputInternals>;
    const value =
        typeof internals.promise === "function"
            ? internals.promise()
            : new Promise<unknown>((resolve) => output.apply((v) => resolve(v)));
    const [resolved, secret] = await Promise.all([value, pulumi.isSecret(output)]);
    return { value: resolved, secret };
}

async function plainObject(value: object, at: string, walk: Walk): Promise<Plain> {
    if (walk.ancestors.includes(value)) {
        walk.warnings.push(`stack output ${at} refers back to an object that contains it; left out there`);
        return OMIT;
    }
    walk.ancestors.push(value);
    try {
        if (Array.isArray(value)) {
            const items: Plain[] = [];
            for (const [i, item] of (value as unknown[]).entries()) {
                const converted = await plain(item, `${at}[${i}]`, walk);
                items.push(converted === OMIT ? null : converted);
            }
            return items;
        }
        const out: Record<string, Plain> = {};
        for (const [key, item] of Object.entries(value)) {
            const converted = await plain(item, `${at}.${key}`, walk);
            if (converted !== OMIT) {
                out[key] = converted;
            }
        }
        return out;
    } finally {
        walk.ancestors.pop();
    }
}

/** `value` as JSON data (see the module comment), or {@link OMIT}. */
async function plain(value: unknown, at: string, walk: Walk): Promise<Plain> {
    if (pulumi.Output.isInstance(value)) {
        const settled = await settle(value);
        walk.secret ||= settled.secret;
        return plain(settled.value, at, walk);
    }
    if (value instanceof Promise) {
        return plain(await (value as Promise<unknown>), at, walk);
    }
    switch (typeof value) {
        case "undefined":
            return OMIT;
        case "string":
        case "boolean":
            return value;
        case "number":
            if (Number.isFinite(value)) {
                return value;
            }
            walk.warnings.push(`stack output ${at} is ${value}, which JSON cannot hold; shown as null`);
            return null;
        case "bigint":
            walk.warnings.push(`stack output ${at} is a bigint; shown as the string "${value}"`);
            return value.toString();
        case "function":
        case "symbol":
            walk.warnings.push(`stack output ${at} is a ${typeof value}; left out`);
            return OMIT;
        default:
            break;
    }
    if (value === null) {
        return null;
    }
    if (pulumi.Resource.isInstance(value)) {
        return { urn: (await settle(value.urn)).value };
    }
    if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) {
            walk.warnings.push(`stack output ${at} is an invalid Date; shown as null`);
            return null;
        }
        return value.toISOString();
    }
    return plainObject(value as object, at, walk);
}

/**
 * What a program exports as its stack outputs, as Pulumi's Node.js runtime finds them: the module's
 * exports, or, when the module exports a function (`export = async () => { ... }`), what that
 * function returns (awaited). Anything but an object gives no outputs.
 * @throws whatever the entrypoint function throws (a RunError for rejected config, say)
 */
export async function programExports(moduleExports: unknown): Promise<Record<string, unknown>> {
    const exported: unknown = typeof moduleExports === "function" ? await (moduleExports as () => unknown)() : moduleExports;
    return typeof exported === "object" && exported !== null && !Array.isArray(exported) ? (exported as Record<string, unknown>) : {};
}

/**
 * Resolves a program module's exports the way Pulumi turns them into stack outputs: every export,
 * deeply unwrapped, with its secretness (an export is secret when any Output in it is), as plain
 * JSON data. Exports are resolved one after another, so warnings come in a stable order.
 * @throws whatever a failed Output of an export failed with
 */
export async function resolveExports(program: Record<string, unknown>): Promise<ResolvedExports> {
    const outputs: Record<string, ResolvedOutput> = {};
    const warnings: string[] = [];
    for (const name of Object.keys(program)) {
        if (name === "__esModule" || name === "default") {
            continue;
        }
        const walk: Walk = { secret: false, warnings, ancestors: [] };
        const warned = warnings.length;
        const value = await plain(program[name], name, walk);
        if (value === OMIT) {
            if (warnings.length === warned) {
                warnings.push(`stack output ${name} is undefined; Pulumi leaves it out of the stack outputs`);
            }
            continue;
        }
        outputs[name] = { value, secret: walk.secret };
    }
    return { outputs, warnings };
}
