/**
 * Key material (unseal keys, recovery keys, root and admin tokens) as the bootstrap holds it: in
 * memory only, in an object that prints as `[sensitive]` however it is printed (string, JSON,
 * `util.inspect`, an error message), because the value is not one of its properties. Only
 * {@link Sensitive.reveal} gives it out: to the Vault API, to the Automation API's process
 * environment, and to the operator's terminal.
 */
import { inspect } from "node:util";

const values = new WeakMap<Sensitive, string>();

export const REDACTED = "[sensitive]";

export class Sensitive {
    constructor(value: string) {
        values.set(this, value);
    }

    /** The value itself. Call it only where it must leave memory. */
    reveal(): string {
        return values.get(this) ?? "";
    }

    toString(): string {
        return REDACTED;
    }

    toJSON(): string {
        return REDACTED;
    }

    [inspect.custom](): string {
        return REDACTED;
    }
}
