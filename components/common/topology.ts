/**
 * How regions find each other: every region's Vault is served at `vault.<region>.<domain>`, and a
 * region's peers are all the other regions.
 */

/** Public host name of a region's Vault. */
export function vaultHost(region: string, domain: string): string {
    return `vault.${region}.${domain}`;
}

/** Public address of a region's Vault, as peers and the Vault provider reach it. */
export function vaultAddress(region: string, domain: string): string {
    return `https://${vaultHost(region, domain)}`;
}

/** The other regions, in the order `regions` lists them. */
export function peersOf(region: string, regions: readonly string[]): string[] {
    return regions.filter((other) => other !== region);
}
