/**
 * Runs Pulumi programs under Pulumi's own mock runtime (`pulumi.runtime.setMocks`) and records every
 * resource the program registers: type, name, URN, parent, provider, explicit dependencies and the
 * inputs exactly as the engine would receive them (secrets still marked as secrets).
 *
 * Used by the offline synth (one worker process per stack) and by the unit tests, so the two exercise
 * the same mock behaviour.
 */
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
    /**
     * URNs the resource waits for: its explicit `dependsOn` (components flattened by the SDK) and
     * the resources its inputs come from.
     */
    readonly dependsOn: readonly string[];
    /** Resource options that change what the engine does with the resource, when set. */
    readonly options?: RecordedOptions;
    /** Inputs as the engine receives them; secret values keep Pulumi's secret marker. */
    readonly inputs: Record<string, unknown>;
}

/** The resource options a reviewer needs to see (a resource that survives `destroy`, say). */
export interface RecordedOptions {
    readonly protect?: true;
    readonly retainOnDelete?: true;
    readonly deleteBeforeReplace?: true;
    readonly ignoreChanges?: readonly string[];
    readonly replaceOnChanges?: readonly string[];
    readonly additionalSecretOutputs?: readonly string[];
    readonly deletedWith?: string;
    /** How many resource transforms the registration carries (they run in the engine, on children too). */
    readonly transforms?: number;
}

/** The outputs of a stack as a stack reference sees them. */
export interface StackOutputs {
    readonly outputs: Readonly<Record<string, unknown>>;
    readonly secretOutputNames: readonly string[];
}

export interface RecordingOptions {
    readonly project: string;
    readonly stack: string;
    /**
     * What `pulumi.getOrganization()` returns. Default `organization`, the organization of stacks in
     * Pulumi's self-managed (DIY) backends.
     */
    readonly organization?: string;
    /** Run as `pulumi preview` would (unknown values stay unknown). Default false. */
    readonly preview?: boolean;
    /**
     * Resolves a stack reference (`org/project/stack`, `project/stack` or `stack`) to that stack's
     * outputs; `undefined` means the stack does not exist, which fails the program as Pulumi does.
     */
    readonly resolveStack?: (name: string) => StackOutputs | undefined;
    /**
     * Extra output properties for resources whose real provider computes outputs the program reads
     * (a token's `clientToken`, say); keyed by resource type.
     */
    readonly computedOutputs?: Readonly<Record<string, (args: MockResourceArgs) => Record<string, unknown>>>;
}

/** What one run recorded. Fill order follows registration; sort before comparing runs. */
export interface Recording {
    readonly resources: RecordedResource[];
    /** Names of stacks the program referenced. */
    readonly referencedStacks: Set<string>;
    /**
     * Which outputs the program read from each referenced stack, by stack name: the names it passed to
     * `getOutput`, `requireOutput` or the methods built on them, or `"all"` once it read `outputs`
     * itself (or passed a name that is not a plain string). Complete once {@link outputReads} resolves.
     */
    readonly stackReads: Map<string, Set<string> | "all">;
}

/** The reads of a recording, once every stack reference's name has resolved (after `disconnect()`). */
export async function outputReads(recording: Recording): Promise<ReadonlyMap<string, ReadonlySet<string> | "all">> {
    await Promise.all(pendingReads.get(recording) ?? []);
    return recording.stackReads;
}

/** The recording stack-reference reads go to: the latest started. */
let active: Recording | undefined;
const pendingReads = new WeakMap<Recording, Promise<void>[]>();

/** Notes that `name` (or, with `undefined`, every output) of the stack `ref` points at was read. */
function noteRead(ref: pulumi.StackReference, name: string | undefined): void {
    const recording = active;
    if (recording === undefined) {
        return;
    }
    const done = new Promise<void>((resolve) =>
        ref.name.apply((reference) => {
            const stack = referencedStackName(reference);
            const reads = recording.stackReads.get(stack);
            if (name === undefined) {
                recording.stackReads.set(stack, "all");
            } else if (reads !== "all") {
                recording.stackReads.set(stack, (reads ?? new Set<string>()).add(name));
            }
            resolve();
        }),
    );
    pendingReads.get(recording)?.push(done);
}

const OUTPUTS = Symbol("stack reference outputs");
let readsTracked = false;

/**
 * Wraps `StackReference`'s two accessors that every other read goes through (`getOutput` and
 * `requireOutput`; `getOutputDetails`, `getOutputValue` and `requireOutputValue` call them) to note
 * the names read, and turns `outputs` into an accessor that notes a read of everything when the
 * program (rather than those two methods) touches it. The runner then runs a stack again only when an
 * output it read has changed. Not tracked: a program that branches on `secretOutputNames` itself (the
 * SDK reads it after an `await` inside `getOutput`, where a program's read cannot be told apart), so
 * a change in which outputs are secret alone does not make a reader run again.
 */
function trackStackReferenceReads(): void {
    if (readsTracked) {
        return;
    }
    readsTracked = true;
    type Accessor = (this: pulumi.StackReference, name: pulumi.Input<string>) => pulumi.Output<unknown>;
    const proto = pulumi.StackReference.prototype as unknown as Record<"getOutput" | "requireOutput", Accessor> & { [OUTPUTS]?: unknown };
    let inside = 0;
    for (const method of ["getOutput", "requireOutput"] as const) {
        const original = proto[method];
        proto[method] = function (this: pulumi.StackReference, name: pulumi.Input<string>) {
            noteRead(this, typeof name === "string" ? name : undefined);
            inside++;
            try {
                return original.call(this, name);
            } finally {
                inside--;
            }
        };
    }
    Object.defineProperty(proto, "outputs", {
        configurable: true,
        get(this: pulumi.StackReference & { [OUTPUTS]?: unknown }) {
            if (inside === 0) {
                noteRead(this, undefined);
            }
            return this[OUTPUTS];
        },
        set(this: { [OUTPUTS]?: unknown }, value: unknown) {
            this[OUTPUTS] = value;
        },
    });
}

/** The stack name a reference points at: the last segment of `org/project/stack`. */
export function referencedStackName(reference: string): string {
    return reference.split("/").pop() ?? reference;
}

const STACK_REFERENCE = "pulumi:pulumi:StackReference";
const ROOT_STACK_TYPE = "pulumi:pulumi:Stack";
const DEFAULT_ORGANIZATION = "organization";

/**
 * A referenced stack's outputs as the engine hands them to a `StackReference`: outputs named in
 * `secretOutputNames` carry Pulumi's secret marker. The SDK then makes `ref.outputs` a secret Output
 * (it lifts a nested secret to the whole property) and `getOutput`/`requireOutput` of those names
 * secret, exactly as after a real engine's read, so a program cannot turn a peer's secret into
 * plain text by reading it.
 */
function markSecretOutputs(target: StackOutputs): Record<string, unknown> {
    const secret = new Set(target.secretOutputNames);
    return Object.fromEntries(
        Object.entries(target.outputs).map(([name, value]) => [
            name,
            secret.has(name) ? { [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value } : value,
        ]),
    );
}

/**
 * The URN the Pulumi engine gives a resource: `urn:pulumi:<stack>::<project>::<qualified type>::<name>`,
 * where the qualified type is the parent's qualified type (the whole chain of ancestor types), then
 * `$`, then the resource's own type; a resource without a parent, or whose parent is the root stack,
 * has just its own type (`Deployment.generateURN` and `resource.NewURN` in the engine).
 *
 * Pulumi's MockMonitor prefixes only the parent's own type (the last segment of the chain), so a
 * grandchild's mock URN differs from the one `pulumi up` would record; the recorder replaces the
 * monitor's URN minting with this function so the synth shows the engine's URNs.
 */
export function engineUrn(stack: string, project: string, parentUrn: string | undefined, type: string, name: string): string {
    const parentType = parentUrn ? parentUrn.split("::")[2] : undefined;
    const qualifiedType = parentType && parentType !== ROOT_STACK_TYPE ? `${parentType}$${type}` : type;
    return `urn:pulumi:${stack}::${project}::${qualifiedType}::${name}`;
}

/**
 * Installs the mocks for one program run. Call before the program is loaded; then load it, await its
 * outputs and `pulumi.runtime.disconnect()` so every registration has been recorded.
 */
export async function startRecording(options: RecordingOptions): Promise<Recording> {
    const recording: Recording = { resources: [], referencedStacks: new Set(), stackReads: new Map() };
    /** The registration the mock monitor is handling synchronously, and the inputs it deserialized per request. */
    let registering: object | undefined;
    const inputsOf = new WeakMap<object, Record<string, unknown>>();
    pendingReads.set(recording, []);
    active = recording;
    trackStackReferenceReads();

    const newResource = (args: MockResourceArgs): MockResourceResult => {
        // MockResourceArgs types inputs as `any`; they are the deserialized input object.
        const inputs = args.inputs as Record<string, unknown>;
        if (registering !== undefined) {
            inputsOf.set(registering, inputs);
        }
        if (args.type === STACK_REFERENCE) {
            const reference = String(inputs.name);
            const stack = referencedStackName(reference);
            recording.referencedStacks.add(stack);
            const target = options.resolveStack?.(reference);
            if (target === undefined) {
                throw new Error(`unknown stack "${reference}": no Pulumi.${stack}.yaml in this project`);
            }
            return {
                id: reference,
                state: { ...inputs, outputs: markSecretOutputs(target), secretOutputNames: target.secretOutputNames },
            };
        }
        const computed = options.computedOutputs?.[args.type]?.(args) ?? {};
        return { id: args.custom ? `${args.name}-id` : undefined, state: { ...inputs, ...computed } };
    };

    await pulumi.runtime.setMocks(
        {
            newResource,
            call: (args) => {
                throw new Error(`the offline synth has no mock for the function ${args.token}`);
            },
        },
        options.project,
        options.stack,
        options.preview ?? false,
        options.organization ?? DEFAULT_ORGANIZATION,
    );

    // setMocks installs a MockMonitor; wrap its two entry points to see what MockResourceArgs omit
    // (parent, provider reference, dependencies) together with the URN it assigns.
    const monitor = pulumi.runtime.getMonitor() as unknown as MockMonitor;
    // `newUrn` is private in the SDK's typings; every URN the mock monitor hands out comes from it.
    (monitor as unknown as { newUrn: (parent: string, type: string, name: string) => string }).newUrn = (parent, type, name) =>
        engineUrn(options.stack, options.project, parent, type, name);
    type Request = {
        getType(): string;
        getName(): string;
        getParent(): string;
        getProvider(): string;
        getDependenciesList(): string[];
    };
    type Callback = (err: unknown, response: { getUrn(): string } | undefined) => void;
    type RegisterRequest = Request & {
        getCustom(): boolean;
        getObject(): unknown;
        getProtect(): boolean | undefined;
        getRetainondelete(): boolean | undefined;
        getDeletebeforereplace(): boolean | undefined;
        getIgnorechangesList(): string[];
        getReplaceonchangesList(): string[];
        getAdditionalsecretoutputsList(): string[];
        getDeletedwith(): string;
        getTransformsList(): unknown[];
    };
    const recordedOptions = (req: RegisterRequest): RecordedOptions => {
        const list = (values: string[]) => (values.length > 0 ? [...values] : undefined);
        const options = {
            protect: req.getProtect() ? true : undefined,
            retainOnDelete: req.getRetainondelete() ? true : undefined,
            deleteBeforeReplace: req.getDeletebeforereplace() ? true : undefined,
            ignoreChanges: list(req.getIgnorechangesList()),
            replaceOnChanges: list(req.getReplaceonchangesList()),
            additionalSecretOutputs: list(req.getAdditionalsecretoutputsList()),
            deletedWith: req.getDeletedwith() || undefined,
            transforms: req.getTransformsList().length || undefined,
        } as const;
        return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    };
    const record = (
        req: Request,
        custom: boolean,
        inputs: Record<string, unknown>,
        response: { getUrn(): string },
        options?: RecordedOptions,
    ) => {
        recording.resources.push({
            urn: response.getUrn(),
            type: req.getType(),
            name: req.getName(),
            custom,
            ...(req.getParent() ? { parent: req.getParent() } : {}),
            ...(req.getProvider() ? { provider: req.getProvider() } : {}),
            dependsOn: [...req.getDependenciesList()].sort(),
            ...(options && Object.keys(options).length > 0 ? { options } : {}),
            inputs,
        });
    };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: RegisterRequest, callback: Callback) => {
        // The mock monitor deserializes the inputs for newResource before its first await, so they
        // are kept from there rather than deserialized a second time.
        registering = req;
        try {
            return register(req, (err: unknown, response: { getUrn(): string } | undefined) => {
                if (!err && response) {
                    const inputs = inputsOf.get(req) ?? pulumi.runtime.deserializeProperties(req.getObject() as never);
                    record(req, req.getCustom(), inputs, response, recordedOptions(req));
                }
                callback(err, response);
            });
        } finally {
            registering = undefined;
        }
    };
    const read = monitor.readResource.bind(monitor);
    monitor.readResource = (req: Request & { getProperties(): unknown }, callback: Callback) =>
        read(req, (err: unknown, response: { getUrn(): string } | undefined) => {
            if (!err && response) {
                record(req, true, pulumi.runtime.deserializeProperties(req.getProperties() as never), response);
            }
            callback(err, response);
        });

    return recording;
}
