/**
 * What each Vault server gets from its node: CPU and memory (the options, their rules and the chart's
 * `server.resources`), the Kubernetes quantities those options accept, and the servers' security context.
 */
import type { V1PodSecurityContext, V1ResourceRequirements, V1SecurityContext } from "@kubernetes/client-node" with {
    "resolution-mode": "import",
};
import * as pulumi from "@pulumi/pulumi";
import { parseOptions } from "../components/common/options";
import { isCpuQuantity, isMemoryQuantity, isStorageQuantity, quantityBytes } from "../components/common/quantities";
import {
    type VaultResourceOptions,
    resourceOptions,
    vaultResourceValues,
    vaultSecurityContextValues,
} from "../components/vault-server/resources";
import { vaultServerOptions } from "../components/vault-server/serverOptions";
import { chartValidator, loadChartSchema as loadSchema, undeclaredPaths } from "./support/vaultChartSchema";

const DEFAULTS = { cpuRequest: "500m", memoryRequest: "256Mi", memoryLimit: "1Gi" };

/** The properties a VaultServer refuses for these resources, as its InputPropertiesError names them. */
function refusals(resources: VaultResourceOptions): { propertyPath: string; reason: string }[] {
    try {
        parseOptions("VaultServer", vaultServerOptions, { resources });
    } catch (error) {
        if (pulumi.InputPropertiesError.isInstance(error)) {
            return error.errors;
        }
        throw error;
    }
    throw new Error("not refused");
}

describe("resourceOptions", () => {
    it("applies the defaults: 500m CPU and 256Mi requested, 1Gi memory limit, no CPU limit", () => {
        expect(resourceOptions.parse({})).toEqual(DEFAULTS);
        // Left out of the server options, resources still get every default.
        expect(vaultServerOptions.parse({}).resources).toEqual(DEFAULTS);
        expect(vaultResourceValues(resourceOptions.parse({}))).toEqual({
            requests: { cpu: "500m", memory: "256Mi" },
            limits: { memory: "1Gi" },
        });
    });

    it("keeps what is given", () => {
        const resolved = resourceOptions.parse({ cpuRequest: "2.5", memoryRequest: "1Gi", memoryLimit: "4Gi" });
        expect(vaultResourceValues(resolved)).toEqual({ requests: { cpu: "2.5", memory: "1Gi" }, limits: { memory: "4Gi" } });
    });

    it("never sets a CPU limit (throttling would delay Raft heartbeats)", () => {
        const values = vaultResourceValues(resourceOptions.parse({ cpuRequest: "4" }));
        expect(Object.keys(values.limits)).toEqual(["memory"]);
    });

    it.each<[VaultResourceOptions, string, string]>([
        [{ cpuRequest: "fast" }, "resources.cpuRequest", 'is "fast", but it must be a CPU quantity such as 500m, 1 or 2.5'],
        [{ cpuRequest: "0" }, "resources.cpuRequest", 'is "0", but it must be a CPU quantity'],
        [{ cpuRequest: "500M" }, "resources.cpuRequest", 'is "500M", but it must be a CPU quantity'],
        [
            { memoryRequest: "256" },
            "resources.memoryRequest",
            'is "256", but it must be a memory quantity with a unit such as 256Mi, 1Gi or 512M',
        ],
        [{ memoryRequest: "256m" }, "resources.memoryRequest", 'is "256m", but it must be a memory quantity'],
        [{ memoryLimit: "1gi" }, "resources.memoryLimit", 'is "1gi", but it must be a memory quantity with a unit'],
        [{ memoryLimit: "0Gi" }, "resources.memoryLimit", 'is "0Gi", but it must be a memory quantity'],
    ])("refuses %j, naming the property", (resources, propertyPath, reason) => {
        expect(refusals(resources)).toEqual([{ propertyPath, reason: expect.stringContaining(reason) as unknown }]);
    });

    it("reports every bad field at once", () => {
        expect(refusals({ cpuRequest: "x", memoryRequest: "y", memoryLimit: "z" }).map((e) => e.propertyPath)).toEqual([
            "resources.cpuRequest",
            "resources.memoryRequest",
            "resources.memoryLimit",
        ]);
    });

    it.each([
        ["2Gi", "1Gi"],
        ["1100M", "1Gi"],
        ["1025Mi", "1Gi"],
    ])("refuses a memory request of %s above a limit of %s (compared in bytes)", (memoryRequest, memoryLimit) => {
        expect(refusals({ memoryRequest, memoryLimit })).toEqual([
            {
                propertyPath: "resources.memoryRequest",
                reason: expect.stringContaining(`is ${memoryRequest}, more than memoryLimit ${memoryLimit}`) as unknown,
            },
        ]);
    });

    it.each([
        ["1Gi", "1Gi"],
        ["1024Mi", "1Gi"],
        ["1000M", "1Gi"],
    ])("accepts a memory request of %s with a limit of %s", (memoryRequest, memoryLimit) => {
        expect(resourceOptions.parse({ memoryRequest, memoryLimit })).toEqual({ ...DEFAULTS, memoryRequest, memoryLimit });
    });

    it("compares the defaults' request with a lower limit given alone", () => {
        expect(refusals({ memoryLimit: "128Mi" })).toEqual([
            {
                propertyPath: "resources.memoryRequest",
                reason: expect.stringContaining("is 256Mi, more than memoryLimit 128Mi") as unknown,
            },
        ]);
    });

    it("compares request and limit only once both are quantities (a wrong value is reported once)", () => {
        expect(refusals({ memoryRequest: "2Gi", memoryLimit: "lots" }).map((e) => e.propertyPath)).toEqual(["resources.memoryLimit"]);
    });
});

describe("isCpuQuantity", () => {
    it.each(["500m", "1", "2.5", "0.25", "0.001", "1000m", "16"])("accepts %s", (value) => {
        expect(isCpuQuantity(value)).toBe(true);
    });

    it.each(["", "0", "0m", "0.0", "500M", "1.5m", "0.0005", "-1", "1e3", " 1", "01", "500mi", "m", "1.", ".5"])("rejects %j", (value) => {
        expect(isCpuQuantity(value)).toBe(false);
    });
});

describe("isMemoryQuantity", () => {
    it.each(["256Mi", "1Gi", "512M", "1.5Gi", "1024Ki", "1G", "2Ti"])("accepts %s", (value) => {
        expect(isMemoryQuantity(value)).toBe(true);
    });

    it.each(["", "256", "256m", "1gi", "0Mi", "Mi", "1.Gi", "-1Gi", "01Gi", "256 Mi", "1GB"])("rejects %j", (value) => {
        expect(isMemoryQuantity(value)).toBe(false);
    });

    it("parses binary and decimal units to bytes", () => {
        expect(quantityBytes("256Mi")).toBe(256 * 2 ** 20);
        expect(quantityBytes("512M")).toBe(512e6);
        expect(quantityBytes("1.5Gi")).toBe(1.5 * 2 ** 30);
        expect(quantityBytes("256")).toBeUndefined();
    });
});

describe("isStorageQuantity", () => {
    it.each(["1Gi", "10Gi", "1.5Ti", "2G"])("accepts %s", (value) => {
        expect(isStorageQuantity(value)).toBe(true);
    });

    it.each(["", "100", "10", "512Mi", "999M", "10gi", "ten"])("rejects %j (a bare number is bytes; under 1Gi is a typo)", (value) => {
        expect(isStorageQuantity(value)).toBe(false);
    });
});

describe("vaultSecurityContextValues", () => {
    const context = vaultSecurityContextValues();

    it("repeats every default of the chart, which values here replace", () => {
        expect(context.pod).toMatchObject({ runAsNonRoot: true, runAsUser: 100, runAsGroup: 1000, fsGroup: 1000 });
        expect(context.container).toMatchObject({ allowPrivilegeEscalation: false });
    });

    it("adds the runtime's seccomp profile and drops every capability", () => {
        expect(context).toEqual({
            pod: { runAsNonRoot: true, runAsUser: 100, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: "RuntimeDefault" } },
            container: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
        });
    });

    it("leaves the root filesystem writable (the chart's start command writes /tmp/storageconfig.hcl)", () => {
        expect("readOnlyRootFilesystem" in context.container).toBe(false);
    });

    it("is a Kubernetes pod and container security context", () => {
        // Compile-time: the shapes fit @kubernetes/client-node's models.
        const pod: V1PodSecurityContext = context.pod;
        const container: V1SecurityContext = context.container;
        expect([pod, container]).toHaveLength(2);
    });
});

describe("the chart's values schema", () => {
    const values = {
        server: {
            resources: vaultResourceValues(resourceOptions.parse({})),
            statefulSet: { securityContext: vaultSecurityContextValues() },
        },
    };

    it("accepts the resources under server.resources and the security context under server.statefulSet.securityContext", () => {
        const validate = chartValidator();
        expect(validate(values) ? [] : validate.errors).toEqual([]);
        expect(undeclaredPaths(values, loadSchema())).toEqual([]);
        const resources: V1ResourceRequirements = values.server.resources;
        expect(resources.limits).toEqual({ memory: "1Gi" });
    });

    it("would catch values of the wrong type or at an undeclared path (so the check above can fail)", () => {
        const validate = chartValidator();
        expect(validate({ server: { resources: "500m", statefulSet: { securityContext: { pod: 1 } } } })).toBe(false);
        expect(validate.errors?.map((e) => e.instancePath).sort()).toEqual([
            "/server/resources",
            "/server/statefulSet/securityContext/pod",
        ]);
        expect(undeclaredPaths({ server: { resource: {}, statefulSet: { securityContexts: {} } } }, loadSchema())).toEqual([
            "server.resource",
            "server.statefulSet.securityContexts",
        ]);
    });
});
