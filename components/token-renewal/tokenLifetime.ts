/**
 * The lifetime of every long-lived Vault token this project issues (the peer tokens of token peer
 * auth, Prometheus's metrics token): one set of numbers, which the tokens, their renewer, its alert
 * and the policy pack all follow. No Pulumi resources here.
 *
 * How Vault treats them (Vault's `vault/token_store.go` `handleCreateCommon` and
 * `sdk/framework/lease.go` `CalculateTTL`; https://developer.hashicorp.com/vault/docs/concepts/tokens):
 * - a periodic token's TTL is its period, and every renewal sets it back to the period, capped by the
 *   token mount's max TTL (32 days unless tuned), so the 30-day period needs no tuning;
 * - an explicit max TTL on a periodic token is its hard end, counted from its creation: renewals then
 *   grant at most what is left until then ("TTL value is capped accordingly"), and once it has passed
 *   Vault refuses to renew ("past the max TTL, cannot renew"). Vault caps an explicit max TTL at the
 *   mount's max TTL only for tokens without a period, so a one-year cap needs no tuning either; it
 *   cannot be changed after the token is created.
 *
 * So a token renewed by accessor every few hours never expires before its cap, and the TTL a renewal
 * grants says how far the cap is: less than {@link TOKEN_RENEWAL_WARNING_SECONDS} only in the last 30
 * days (the warning is at most the period). The renewer turns that into a failed Job, which alerts.
 */
import { z } from "zod";
import { option } from "../common/options";

const HOUR = 60 * 60;
const DAY = 24 * HOUR;

/** The period of every long-lived token: each renewal gives it this long again. */
export const TOKEN_PERIOD_HOURS = 720;

/** The explicit maximum lifetime of every long-lived token, from its creation: one year. */
export const TOKEN_MAX_LIFETIME_HOURS = 8760;

/** Within this long of its maximum lifetime, a token's renewal fails the renewer's Job (an alert): time to rotate it. */
export const TOKEN_RENEWAL_WARNING_SECONDS = 30 * DAY;

/** How long a token stays valid with no renewal at all (its period), in seconds. */
export const TOKEN_PERIOD_SECONDS = TOKEN_PERIOD_HOURS * HOUR;

/** The explicit maximum lifetime in seconds. */
export const TOKEN_MAX_LIFETIME_SECONDS = TOKEN_MAX_LIFETIME_HOURS * HOUR;

/**
 * What every long-lived token shares, for `vault.Token`: an orphan (it must outlive the Vault
 * provider's own 20-minute child token, which would otherwise revoke it with itself), periodic,
 * renewable, with an explicit maximum lifetime. The renewer (`tokenRenewer.ts`) renews it by accessor;
 * nothing depends on `pulumi refresh`.
 */
export const LONG_LIVED_TOKEN = {
    noParent: true,
    period: `${TOKEN_PERIOD_HOURS}h`,
    explicitMaxTtl: `${TOKEN_MAX_LIFETIME_HOURS}h`,
    renewable: true,
} as const;

/** The most generations a token may have gone through: more is a typo. */
export const MAX_TOKEN_GENERATION = 1000;

/** A token's generation: raising it issues a new token beside the old one (rotation). */
export const tokenGeneration = z.int().min(1).max(MAX_TOKEN_GENERATION);

/** The generation of the metrics token, as an option of the monitoring settings. */
export const metricsTokenGenerationOption = option(tokenGeneration.default(1), {
    description:
        "Generation of the token Prometheus scrapes Vault with (authenticated metrics only). Raising it issues a new token beside the old one and puts it in the Secret Prometheus reads: the yearly rotation the token's maximum lifetime asks for (an alert says when).",
    allowed: `a whole number from 1 to ${MAX_TOKEN_GENERATION}`,
    example: "2",
});

/**
 * The metadata every long-lived token carries (Vault's audit log and `vault token lookup -accessor`
 * show it): who issued it, what for, its generation. A new generation is a new token (metadata is
 * fixed at creation), which is how rotation works.
 */
export function tokenMetadata(args: {
    readonly issuedBy: string;
    readonly purpose: string;
    readonly generation: number;
    readonly usedBy?: string;
}): Record<string, string> {
    return {
        "issued-by": args.issuedBy,
        ...(args.usedBy === undefined ? {} : { "used-by": args.usedBy }),
        purpose: args.purpose,
        generation: String(args.generation),
    };
}

// The renewer's warning relies on the TTL a renewal grants being below the warning only near the cap.
if (TOKEN_RENEWAL_WARNING_SECONDS > TOKEN_PERIOD_SECONDS || TOKEN_PERIOD_SECONDS >= TOKEN_MAX_LIFETIME_SECONDS) {
    throw new Error(
        "token lifetime: the renewal warning must not exceed the period, and the period must be shorter than the maximum lifetime",
    );
}
