/**
 * Runs a Pulumi program once under Pulumi's mock runtime (`pulumi.runtime.setMocks`), in this
 * process, and records what it declares: every resource (type, name, URN, parent, provider,
 * dependencies, the options a reviewer must see, and its inputs with secrets still marked), the
 * program's outputs and warnings, and which outputs of other stacks it read.
 *
 * This is the one module that reaches into the SDK beyond its public API. Each reach is listed in
 * {@link SDK_HOOKS}, and `tests/synth.test.ts` checks every one of them against the installed SDK, so
 * an SDK upgrade that moves one fails that test by name instead of changing the synth's output:
 * - the mock monitor's `registerResource` and `readResource`, to see what the public mock arguments
 *   leave out (parent, provider, dependencies, options), and its `newUrn`, to mint the URNs the engine
 *   mints (the mock prefixes only the parent's own type);
 * - `Resource.callsites` and the runtime's `debuggablePromise`, which capture a stack trace per resource
 *   and per internal promise: most of a large program's cost under mocks, and nothing the synth shows;
 * - `StackReference.prototype.getOutput`/`requireOutput`/`outputs`, to know which outputs a program read,
 *   so that a stack runs again only when one of those changed.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import type { MockMonitor, MockResourceArgs, MockResourceResult } from "@pulumi/pulumi/runtime/mocks";

/** One registered (or read) resource. */
export interface RecordedResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    /** True for custom resources (including providers and stack references), false for components. */
    readonly custom: boolean;
    readonly parent?: string;
    /** Provider reference (`<provider urn>::<id>`), when one was passed or inherited. */
    readonly provider?: string;
    /** URNs the resource waits for: its explicit `dependsOn` (components flattened by the SDK) and the resources its inputs come from. */
    readonly dependsOn: readonly string[];
    /** Resource options that change what the engine does with the resource, when set. */
    readonly options?: Readonly<Record<string, unknown>>;
    /** Inputs as the engine receives them; secret values keep Pulumi's secret marker. */
    readonly inputs: Record<string, unknown>;
}

/** The outputs of a stack as a stack reference sees them. */
export interface StackOutputs {
    readonly outputs: Readonly<Record<string, unknown>>;
    readonly secretOutputNames: readonly string[];
}

export interface RunRequest {
    readonly project: string;
    readonly stack: string;
    /** `namespace:key` to the string the program receives. */
    readonly config: Readonly<Record<string, string>>;
    readonly secretKeys: readonly string[];
    /** Absolute path of the program's entry module. */
    readonly program: string;
    /** The outputs of a referenced stack (by stack name), or undefined when there is no such stack. */
    readonly resolveStack: (stack: string, project: string) => StackOutputs | undefined;
    /** Outputs that real providers compute and programs read, keyed by resource type (in place of {@link PROVIDER_OUTPUTS} for that type). */
    readonly computedOutputs?: Readonly<Record<string, (args: MockResourceArgs) => Record<string, unknown>>>;
    /** Environment variables the program sees during the run (restored afterwards). */
    readonly environment?: Readonly<Record<string, string>>;
}

export interface RunResult {
    readonly resources: RecordedResource[];
    readonly outputs: Record<string, { readonly value: unknown; readonly secret: boolean }>;
    readonly warnings: string[];
    /** Per referenced stack, the output names read, or "all". */
    readonly reads: Map<string, Set<string> | "all">;
    /** Why the program failed, if it did (then the outputs are empty and the resources partial). */
    readonly error?: unknown;
}

/** Pulumi's organization for stacks of its self-managed backends, which the synth's stacks are. */
const ORGANIZATION = "organization";
const STACK_REFERENCE = "pulumi:pulumi:StackReference";
const ROOT_STACK_TYPE = "pulumi:pulumi:Stack";

/**
 * The URN the engine gives a resource: `urn:pulumi:<stack>::<project>::<qualified type>::<name>`,
 * where the qualified type is the chain of ancestor types joined by `$` (the root stack excluded).
 */
export function engineUrn(stack: string, project: string, parentUrn: string | undefined, type: string, name: string): string {
    const parentType = parentUrn ? parentUrn.split("::")[2] : undefined;
    const qualifiedType = parentType && parentType !== ROOT_STACK_TYPE ? `${parentType}$${type}` : type;
    return `urn:pulumi:${stack}::${project}::${qualifiedType}::${name}`;
}

/** The SDK internals this module relies on, each as a check that says what moved. */
export const SDK_HOOKS: readonly { readonly name: string; readonly present: () => boolean }[] = [
    { name: "MockMonitor.prototype.registerResource", present: () => typeof mockMonitorClass().prototype.registerResource === "function" },
    { name: "MockMonitor.prototype.readResource", present: () => typeof mockMonitorClass().prototype.readResource === "function" },
    { name: "MockMonitor.prototype.newUrn", present: () => typeof (mockMonitorClass().prototype as unknown as { newUrn?: unknown }).newUrn === "function" },
    { name: "Resource.callsites", present: () => typeof (pulumi.Resource as unknown as { callsites?: unknown }).callsites === "function" },
    { name: "runtime/debuggable debuggablePromise", present: () => typeof debuggableModule().debuggablePromise === "function" },
    { name: "StackReference.prototype.getOutput", present: () => typeof pulumi.StackReference.prototype.getOutput === "function" },
    { name: "StackReference.prototype.requireOutput", present: () => typeof pulumi.StackReference.prototype.requireOutput === "function" },
];

function mockMonitorClass(): typeof MockMonitor {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the class, not just its type
    return (require("@pulumi/pulumi/runtime/mocks") as { MockMonitor: typeof MockMonitor }).MockMonitor;
}

function debuggableModule(): { debuggablePromise: <T>(p: Promise<T>, ctx: unknown) => Promise<T> } {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- an SDK module's export is replaced, so it must be the module object itself
    return require("@pulumi/pulumi/runtime/debuggable") as { debuggablePromise: <T>(p: Promise<T>, ctx: unknown) => Promise<T> };
}

let installed = false;
/** The reads of the run in progress. */
let currentReads: Map<string, Set<string> | "all"> | undefined;

/** Installs the process-wide hooks once: no stack traces per resource, and read tracking on stack references. */
function installHooks(): void {
    if (installed) {
        return;
    }
    installed = true;
    (pulumi.Resource as unknown as { callsites: () => unknown[] }).callsites = () => [];
    debuggableModule().debuggablePromise = (promise) => promise;

    type Accessor = (this: pulumi.StackReference, name: pulumi.Input<string>) => pulumi.Output<unknown>;
    const proto = pulumi.StackReference.prototype as unknown as Record<"getOutput" | "requireOutput", Accessor>;
    const OUTPUTS = Symbol("outputs");
    let inside = 0;
    const note = (ref: pulumi.StackReference, name: string | undefined) => {
        const reads = currentReads;
        ref.name.apply((reference) => {
            const stack = reference.split("/").pop() ?? reference;
            const known = reads?.get(stack);
            if (reads !== undefined) {
                reads.set(stack, name === undefined || known === "all" ? "all" : (known ?? new Set<string>()).add(name));
            }
        });
    };
    for (const method of ["getOutput", "requireOutput"] as const) {
        const original = proto[method];
        proto[method] = function (this: pulumi.StackReference, name: pulumi.Input<string>) {
            note(this, typeof name === "string" ? name : undefined);
            inside++;
            try {
                return original.call(this, name);
            } finally {
                inside--;
            }
        };
    }
    // A program that reads `outputs` itself has read every output.
    Object.defineProperty(pulumi.StackReference.prototype, "outputs", {
        configurable: true,
        get(this: pulumi.StackReference & { [OUTPUTS]?: unknown }) {
            if (inside === 0) {
                note(this, undefined);
            }
            return this[OUTPUTS];
        },
        set(this: { [OUTPUTS]?: unknown }, value: unknown) {
            this[OUTPUTS] = value;
        },
    });
}

/** A referenced stack's outputs as the engine hands them over: secret ones carry Pulumi's secret marker. */
function markSecretOutputs(target: StackOutputs): Record<string, unknown> {
    const secret = new Set(target.secretOutputNames);
    return Object.fromEntries(
        Object.entries(target.outputs).map(([name, value]) => {
            const marked = { [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value };
            return [name, secret.has(name) ? marked : value];
        }),
    );
}

type Request = {
    getType(): string;
    getName(): string;
    getParent(): string;
    getProvider(): string;
    getDependenciesList(): string[];
};
type RegisterRequest = Request & {
    getCustom(): boolean;
    getObject(): unknown;
    getProtect(): boolean | undefined;
    getRetainondelete(): boolean | undefined;
    getDeletebeforereplace(): boolean | undefined;
    getIgnorechangesList(): string[];
    getReplaceonchangesList(): string[];
    getAdditionalsecretoutputsList(): string[];
    getTransformsList(): unknown[];
};
type Callback = (err: unknown, response: { getUrn(): string } | undefined) => void;

/** The options of a registration a reviewer must see (a resource that survives `destroy`, say). */
function recordedOptions(req: RegisterRequest): Record<string, unknown> {
    const list = (values: string[]) => (values.length > 0 ? [...values] : undefined);
    const options = {
        protect: req.getProtect() || undefined,
        retainOnDelete: req.getRetainondelete() || undefined,
        deleteBeforeReplace: req.getDeletebeforereplace() || undefined,
        ignoreChanges: list(req.getIgnorechangesList()),
        replaceOnChanges: list(req.getReplaceonchangesList()),
        additionalSecretOutputs: list(req.getAdditionalsecretoutputsList()),
        transforms: req.getTransformsList().length || undefined,
    };
    return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
}

/**
 * Outputs a provider computes that the program reads, as recognizable offline placeholders: Vault
 * issues a token (the program marks it secret), and names an auth mount's accessor (the namespace
 * policies' template names it), `auth_<type>_<8 hex digits>` as Vault does.
 */
const PROVIDER_OUTPUTS: Readonly<Record<string, (args: MockResourceArgs) => Record<string, unknown>>> = {
    "vault:index/token:Token": (args) => ({ clientToken: `synth-token-${args.name}` }),
    "vault:index/authBackend:AuthBackend": (args) => mountAccessor(args),
    "vault:jwt/authBackend:AuthBackend": (args) => mountAccessor(args),
};

/** An auth mount's accessor as Vault makes one up (`auth_<type>_<8 hex digits>`), from the resource's name so that runs agree. */
function mountAccessor(args: MockResourceArgs): Record<string, unknown> {
    return {
        accessor: `auth_${String((args.inputs as Record<string, unknown>).type)}_${createHash("sha256").update(args.name).digest("hex").slice(0, 8)}`,
    };
}

/** Runs the program once and records it; see the module comment. */
export async function runProgram(request: RunRequest): Promise<RunResult> {
    installHooks();
    const resources: RecordedResource[] = [];
    const reads = new Map<string, Set<string> | "all">();
    currentReads = reads;
    const inputsOf = new WeakMap<object, Record<string, unknown>>();
    let registering: object | undefined;
    /** Why the run failed, in the order found. */
    const failures: unknown[] = [];

    const newResource = (args: MockResourceArgs): MockResourceResult => {
        const inputs = args.inputs as Record<string, unknown>;
        if (registering !== undefined) {
            inputsOf.set(registering, inputs);
        }
        if (args.type === STACK_REFERENCE) {
            const reference = String(inputs.name);
            const parts = reference.split("/");
            const stack = parts[parts.length - 1];
            const project = parts.length >= 2 ? parts[parts.length - 2] : request.project;
            const target = request.resolveStack(stack, project);
            if (target === undefined) {
                // The run fails with this once it has drained (a failed registration here would surface
                // as a cascade of rejections instead).
                failures.push(new Error(`unknown stack "${reference}": no Pulumi.${stack}.yaml in project ${request.project}`));
                return { id: reference, state: { ...inputs, outputs: {}, secretOutputNames: [] } };
            }
            if (!reads.has(stack)) {
                reads.set(stack, new Set());
            }
            return { id: reference, state: { ...inputs, outputs: markSecretOutputs(target), secretOutputNames: target.secretOutputNames } };
        }
        const computed = (request.computedOutputs?.[args.type] ?? PROVIDER_OUTPUTS[args.type])?.(args) ?? {};
        return { id: args.custom ? `${args.name}-id` : undefined, state: { ...inputs, ...computed } };
    };

    pulumi.runtime.setAllConfig({ ...request.config }, [...request.secretKeys]);
    await pulumi.runtime.setMocks(
        {
            newResource,
            call: (args) => {
                throw new Error(`the offline synth has no mock for the function ${args.token}`);
            },
        },
        request.project,
        request.stack,
        false,
        ORGANIZATION,
    );
    const monitor = pulumi.runtime.getMonitor() as unknown as {
        newUrn: (parent: string, type: string, name: string) => string;
        registerResource: (req: RegisterRequest, callback: Callback) => void;
        readResource: (req: Request & { getProperties(): unknown }, callback: Callback) => void;
    };
    monitor.newUrn = (parent, type, name) => engineUrn(request.stack, request.project, parent, type, name);
    const record = (req: Request, custom: boolean, inputs: Record<string, unknown>, urn: string, options?: Record<string, unknown>) =>
        resources.push({
            urn,
            type: req.getType(),
            name: req.getName(),
            custom,
            ...(req.getParent() ? { parent: req.getParent() } : {}),
            ...(req.getProvider() ? { provider: req.getProvider() } : {}),
            dependsOn: [...req.getDependenciesList()].sort(),
            ...(options && Object.keys(options).length > 0 ? { options } : {}),
            inputs,
        });
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: RegisterRequest, callback: Callback) => {
        // The mock deserializes the inputs for newResource synchronously; they are kept from there.
        registering = req;
        try {
            return register(req, (err, response) => {
                if (!err && response) {
                    const inputs = inputsOf.get(req) ?? (pulumi.runtime.deserializeProperties(req.getObject() as never));
                    record(req, req.getCustom(), inputs, response.getUrn(), recordedOptions(req));
                }
                callback(err, response);
            });
        } finally {
            registering = undefined;
        }
    };
    const read = monitor.readResource.bind(monitor);
    monitor.readResource = (req: Request & { getProperties(): unknown }, callback: Callback) =>
        read(req, (err, response) => {
            if (!err && response) {
                record(req, true, pulumi.runtime.deserializeProperties(req.getProperties() as never), response.getUrn());
            }
            callback(err, response);
        });

    // Under mocks there is no engine, so pulumi.log.warn prints "warning: [runtime] <message>".
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
        const text = args.map(String).join(" ");
        const match = /^warning: \[runtime\] ([\s\S]*)$/.exec(text);
        if (match) {
            warnings.push(match[1]);
        } else {
            warn(...args);
        }
    };
    const saved = Object.fromEntries(Object.keys(request.environment ?? {}).map((name) => [name, process.env[name]]));
    Object.assign(process.env, request.environment);
    // A failed Output (a requireOutput of a missing output) surfaces as an unhandled rejection: during
    // the run, this run handles them, and no one else.
    const onRejection = (reason: unknown) => failures.push(reason);
    const others = process.listeners("unhandledRejection");
    process.removeAllListeners("unhandledRejection");
    process.on("unhandledRejection", onRejection);
    try {
        // A program module runs at load (top-level code) or exports a function; either way, afresh.
        delete require.cache[require.resolve(request.program)];
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- the program is loaded only once the mocks are in place
        const loaded: unknown = require(request.program);
        const exported: unknown = typeof loaded === "function" ? await (loaded as () => unknown)() : loaded;
        const outputs = resolveOutputs(exported);
        await pulumi.runtime.disconnect().catch((error: unknown) => failures.push(error));
        await new Promise((resolve) => setImmediate(resolve));
        if (failures.length > 0) {
            throw failures[0] instanceof Error ? failures[0] : new Error(String(failures[0]));
        }
        const unresolved = Object.entries(outputs).filter(([, o]) => o.settled === undefined).map(([name]) => name);
        if (unresolved.length > 0) {
            throw new Error(`stack output ${unresolved.join(", ")} never resolved`);
        }
        const settled = Object.entries(outputs).map(([name, o]) => [name, o.settled as { value: unknown; secret: boolean }] as const);
        return { resources, outputs: Object.fromEntries(settled), warnings, reads };
    } catch (error) {
        // Let whatever the program still had in flight finish before the next run replaces the mocks.
        await pulumi.runtime.disconnect().catch(() => undefined);
        return { resources, outputs: {}, warnings, reads, error };
    } finally {
        process.off("unhandledRejection", onRejection);
        for (const listener of others) {
            process.on("unhandledRejection", listener);
        }
        console.warn = warn;
        for (const [name, value] of Object.entries(saved)) {
            if (value === undefined) {
                delete process.env[name];
            } else {
                process.env[name] = value;
            }
        }
        currentReads = undefined;
    }
}

/** A program's exports as stack outputs, each settling once known: deeply resolved, secret when any Output in it is. */
function resolveOutputs(exported: unknown): Record<string, { settled?: { value: unknown; secret: boolean } }> {
    if (typeof exported !== "object" || exported === null) {
        return {};
    }
    const outputs: Record<string, { settled?: { value: unknown; secret: boolean } }> = {};
    for (const [name, value] of Object.entries(exported)) {
        if (name === "__esModule" || name === "default" || value === undefined) {
            continue;
        }
        const entry: { settled?: { value: unknown; secret: boolean } } = {};
        outputs[name] = entry;
        const output = pulumi.output(value);
        output.apply(async (resolved) => {
            entry.settled = { value: JSON.parse(JSON.stringify(resolved ?? null)) as unknown, secret: await pulumi.isSecret(output) };
        });
    }
    return outputs;
}
