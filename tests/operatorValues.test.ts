import {
    EXTERNAL_SECRETS_DEFAULTS,
    externalSecretsHelmValues,
    resolveExternalSecretsOptions,
} from "../components/eso/operatorValues";
import { EXTERNAL_SECRETS_CHART, EXTERNAL_SECRETS_IMAGE } from "../components/common/versions";

describe("resolveExternalSecretsOptions", () => {
    it("applies every default", () => {
        expect(resolveExternalSecretsOptions({})).toEqual(EXTERNAL_SECRETS_DEFAULTS);
        expect(EXTERNAL_SECRETS_DEFAULTS.chartVersion).toBe(EXTERNAL_SECRETS_CHART.version);
        expect(EXTERNAL_SECRETS_DEFAULTS.imageTag).toBe(EXTERNAL_SECRETS_IMAGE.tag);
    });

    it.each([
        [{ replicas: 0 }, "replicas 0 is not a whole number from 1 to 5"],
        [{ namespace: "external_secrets" }, 'namespace "external_secrets" is not a DNS label'],
        [{ chartVersion: "2.9" }, 'chartVersion "2.9" is not a semantic version'],
        [{ imageTag: "" }, 'imageTag "" is not a pinned image tag'],
        [{ imageTag: "latest" }, 'imageTag "latest" is not a pinned image tag'],
        [{ namespace: "kube-system" }, 'namespace "kube-system" is not a DNS label other than default and kube-*'],
    ])("rejects %j early", (options, message) => {
        expect(() => resolveExternalSecretsOptions(options)).toThrow(message);
    });
});

describe("externalSecretsHelmValues", () => {
    it("installs the CRDs with the chart, elects a leader and caches Vault tokens", () => {
        const values = externalSecretsHelmValues(resolveExternalSecretsOptions({}));
        expect(values.installCRDs).toBe(true);
        expect(values.leaderElect).toBe(true);
        expect(values.replicaCount).toBe(2);
        // The chart renders extraArgs as `--<key>=<value>`: --enable-vault-token-cache=true.
        expect(values.extraArgs).toEqual({ "enable-vault-token-cache": true });
        expect(values.podDisruptionBudget).toEqual({ enabled: true, minAvailable: 1 });
    });

    it("pins one image for the controller, webhook and cert controller", () => {
        const values = externalSecretsHelmValues(resolveExternalSecretsOptions({ imageTag: "v2.9.1" }));
        const image = { repository: EXTERNAL_SECRETS_IMAGE.repository, tag: "v2.9.1" };
        expect([values.image, values.webhook.image, values.certController.image]).toEqual([image, image, image]);
    });

    it("has no disruption budget for a single replica, which it would block from ever being evicted", () => {
        expect(externalSecretsHelmValues(resolveExternalSecretsOptions({ replicas: 1 })).podDisruptionBudget.enabled).toBe(false);
    });
});
