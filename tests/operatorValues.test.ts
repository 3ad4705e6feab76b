import * as pulumi from "@pulumi/pulumi";
import { EXTERNAL_SECRETS_CHART, EXTERNAL_SECRETS_IMAGE } from "../components/common/versions";
import { ExternalSecretsOperator } from "../components/eso/externalSecretsOperator";
import { type ExternalSecretsOptions, externalSecretsHelmValues, externalSecretsOptions } from "../components/eso/operatorValues";

/** The properties `run` refuses, as the InputPropertiesError it throws names them. */
function refusals(run: () => unknown): { propertyPath: string; reason: string }[] {
    try {
        run();
    } catch (error) {
        if (pulumi.InputPropertiesError.isInstance(error)) {
            return error.errors;
        }
        throw error;
    }
    throw new Error("not refused");
}

describe("externalSecretsOptions", () => {
    it("applies every default", () => {
        expect(externalSecretsOptions.parse({})).toEqual({
            namespace: "external-secrets",
            replicas: 2,
            chartVersion: EXTERNAL_SECRETS_CHART.version,
            imageTag: EXTERNAL_SECRETS_IMAGE.tag,
        });
    });

    it.each<[ExternalSecretsOptions, string, string]>([
        [{ replicas: 0 }, "replicas", "is 0, but it must be a whole number from 1 to 5"],
        [{ replicas: 6 }, "replicas", "is 6, but it must be a whole number from 1 to 5"],
        [{ replicas: 1.5 }, "replicas", "is 1.5, but it must be a whole number"],
        [{ namespace: "external_secrets" }, "namespace", 'is "external_secrets", but it must be a namespace name (a DNS label)'],
        [{ chartVersion: "2.9" }, "chartVersion", 'is "2.9", but it must be a semantic version'],
        [{ imageTag: "" }, "imageTag", 'is "", but it must be a pinned image tag'],
        [{ imageTag: "latest" }, "imageTag", 'is "latest", but it must be a pinned image tag'],
        [{ namespace: "kube-system" }, "namespace", "other than default, kube-*"],
    ])("the operator refuses %j before registering anything, naming the property", (options, propertyPath, reason) => {
        // Nothing is registered: the component throws before it exists, so no Pulumi runtime is needed.
        const errors = refusals(() => new ExternalSecretsOperator("eso", options));
        expect(errors).toEqual([{ propertyPath, reason: expect.stringContaining(reason) as unknown }]);
    });

    it("refuses an option it does not have, listing the ones it has", () => {
        const misspelt = { replica: 2 } as unknown as ExternalSecretsOptions;
        expect(refusals(() => new ExternalSecretsOperator("eso", misspelt))).toEqual([
            {
                propertyPath: "replica",
                reason: expect.stringMatching(/^is not an option of ExternalSecretsOperator \(known: .*replicas/) as unknown,
            },
        ]);
    });

    it("reports every wrong property at once, in its message too", () => {
        const attempt = () => new ExternalSecretsOperator("eso", { replicas: 0, imageTag: "latest" });
        expect(refusals(attempt).map((e) => e.propertyPath)).toEqual(["replicas", "imageTag"]);
        expect(attempt).toThrow(/^ExternalSecretsOperator: replicas is 0.*; imageTag is "latest"/);
    });
});

describe("externalSecretsHelmValues", () => {
    it("installs the CRDs with the chart and elects a leader", () => {
        const values = externalSecretsHelmValues(externalSecretsOptions.parse({}));
        expect(values.installCRDs).toBe(true);
        expect(values.leaderElect).toBe(true);
        expect(values.replicaCount).toBe(2);
        expect(values.podDisruptionBudget).toEqual({ enabled: true, minAvailable: 1 });
    });

    it("turns the Vault token cache on with the chart's own setting, and no extra argument repeats its flags", () => {
        const values = externalSecretsHelmValues(externalSecretsOptions.parse({}));
        // Chart 2.9.0 renders vault.enableTokenCache as --enable-vault-token-cache=true, with --vault-token-cache-size
        // from vault.tokenCacheSize (left at the chart's default), and then every extraArgs entry as --<key>=<value>
        // (templates/deployment.yaml at helm-chart-2.9.0): an entry for either flag would pass it twice.
        expect(values.vault).toEqual({ enableTokenCache: true });
        const extraArgs = Object.keys((values as { extraArgs?: Record<string, unknown> }).extraArgs ?? {});
        expect(extraArgs.filter((flag) => flag.includes("vault-token-cache"))).toEqual([]);
    });

    it("pins one image for the controller, webhook and cert controller", () => {
        const values = externalSecretsHelmValues(externalSecretsOptions.parse({ imageTag: "v2.9.1" }));
        const image = { repository: EXTERNAL_SECRETS_IMAGE.repository, tag: "v2.9.1" };
        expect([values.image, values.webhook.image, values.certController.image]).toEqual([image, image, image]);
    });

    it("has no disruption budget for a single replica, which it would block from ever being evicted", () => {
        expect(externalSecretsHelmValues(externalSecretsOptions.parse({ replicas: 1 })).podDisruptionBudget.enabled).toBe(false);
        expect(externalSecretsHelmValues(externalSecretsOptions.parse({ replicas: 3 })).replicaCount).toBe(3);
    });
});
