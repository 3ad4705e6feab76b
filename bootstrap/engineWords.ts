/**
 * What the bootstrap says about a region's servers, in the words of the region's engine (its
 * `openova-vault:engine`): Vault and `vault`, or OpenBao and `bao` (components/common/engine.ts).
 */
import { type Engine, ENGINE_FACTS, engineFacts } from "../components/common/engine";

/** The product a message about these engines names: `Vault`, `OpenBao`, or both when the regions differ. */
export function productOf(engines: Iterable<Engine>): string {
    const products = [...new Set([...engines].map((engine) => engineFacts(engine).product))];
    return products.length === 0 ? ENGINE_FACTS.vault.product : products.join(" and ");
}

/** `a Vault`, `an OpenBao`: the product with its indefinite article. */
export function aProduct(product: string): string {
    return `${/^[AEIOU]/.test(product) ? "an" : "a"} ${product}`;
}

/** How to revoke a token by hand: `VAULT_TOKEN=<it> vault token revoke -self`, or OpenBao's. */
export function revokeCommand(engine: Engine): string {
    const facts = engineFacts(engine);
    return `${facts.tokenVariables[0]}=<it> ${facts.cli} token revoke -self`;
}

/**
 * How an operator makes a new admin token once the root tokens are revoked (`with ...`, to follow "make one"). Vault makes a root token
 * from a quorum of the unseal keys (the recovery keys with auto-unseal); OpenBao 2.6 no longer does
 * for an unauthenticated caller (its `operator generate-root` calls the authenticated
 * `sys/generate-root-token`, and `sys/generate-root` is off by default since 2.5), so a new token
 * comes from a token that may create one.
 */
export function newAdminTokenHint(engine: Engine, autoUnseal: boolean): string {
    const facts = engineFacts(engine);
    const keys = autoUnseal ? "recovery" : "unseal";
    return facts.rootGeneration === "keys"
        ? `with \`${facts.cli} operator generate-root\` and the ${keys} keys`
        : `with \`${facts.cli} token create\` and another admin token (${facts.product} makes no root token from the ${keys} keys alone)`;
}

/**
 * What to have before revoking the root token of an engine that makes no new one from the keys
 * (OpenBao), to follow "once": another admin credential.
 */
export function keptRootTokenAdvice(engines: readonly Engine[]): string {
    const clis = [...new Set(engines.map((engine) => engineFacts(engine).cli))];
    return `you have another admin credential: a token made from it with ${clis.map((cli) => `\`${cli} token create\``).join(" or ")}, or an admin auth method (${productOf(engines)} makes no root token from the unseal keys alone)`;
}
