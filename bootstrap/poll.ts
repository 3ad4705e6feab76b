/** The bootstrap's one way to wait for something: ask, sleep, ask again, until a deadline on its clock. */
import type { Clock } from "./ports";

/**
 * Calls `attempt` every `pollMs` until it returns a value. Once `timeoutMs` have passed on the clock
 * (time spent in the calls included), `attempt` is told it is the last one, and must return a value
 * or throw.
 */
export async function poll<T>(
    clock: Clock,
    timing: { readonly timeoutMs: number; readonly pollMs: number },
    attempt: (last: boolean) => Promise<T | undefined>,
): Promise<T> {
    const started = clock.now();
    for (;;) {
        const last = clock.now() - started >= timing.timeoutMs;
        const result = await attempt(last);
        if (result !== undefined) {
            return result;
        }
        if (last) {
            throw new Error("poll: the last attempt returned nothing");
        }
        await clock.sleep(timing.pollMs);
    }
}
