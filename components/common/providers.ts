import * as vault from "@pulumi/vault";
import { z } from "zod";

/**
 * An arg that must be a Vault provider the caller made (never Pulumi's default one, which reads the
 * environment of whoever runs `pulumi up`): checked with the other args, so plain JavaScript that
 * passes something else is told at that arg's path.
 */
export const vaultProviderArg = z
    .custom<vault.Provider>((value) => value instanceof vault.Provider)
    .meta({ allowed: "a vault.Provider (never Pulumi's default one)" });
