/**
 * The openova-vault policy pack: `pulumi preview --policy-pack policy` (run from the project root)
 * loads this file, which serves the policies of `policies.ts` to the Pulumi engine. Constructing the
 * pack starts the analyzer's gRPC server, so nothing else (tests included) imports this file.
 */
import { PolicyPack } from "@pulumi/policy";
import { PACK_NAME, policyPackArgs } from "./policies";

new PolicyPack(PACK_NAME, policyPackArgs);
