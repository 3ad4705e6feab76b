/**
 * What a region needs from its cluster but does not install, derived from its options: a Kubernetes
 * release that serves ValidatingAdmissionPolicy (the store admission policies), cert-manager
 * and the issuer (TLS from cert-manager), the Secrets it mounts (TLS from a Secret, KMS credentials),
 * the IngressClass, Cilium's CRDs (for the CiliumNetworkPolicy), the StorageClasses of its volumes,
 * an existing snapshot claim, and the Prometheus Operator's CRDs (monitoring).
 *
 * Pure, as data: each prerequisite names the Kubernetes API read that shows it (one object, or a
 * list) and what falls short in what the read found. Whoever holds a Kubernetes client runs the reads
 * (the stack's preflight does, before the program declares anything: stack/preflight.ts), and
 * {@link prerequisiteProblems} turns the results into one line per missing prerequisite.
 */
import type { z } from "zod";
import { PROMETHEUS_OPERATOR_API, type ResolvedMonitoringOptions } from "../monitoring/monitoringSpecs";
import { snapshotStorageClass } from "../snapshots/snapshotSpecs";
import { CILIUM_INGRESS_CLASS, CILIUM_POLICY_API, needsCiliumPolicy } from "../vault-server/networkPolicy";
import { ADMISSION_POLICY_API, MINIMUM_KUBERNETES_VERSION } from "../stores/storeAdmission";
import { SEAL_RULES, resolvedSeal } from "../vault-server/seal";
import { CERT_MANAGER_API, resolvedTls } from "../vault-server/tls";
import type { ResolvedBackend } from "../backends/backendOptions";
import type { regionVaultOptions } from "./regionOptions";

/** A read of the Kubernetes API: one object by name, or every object of a resource when there is no name. */
export interface ClusterRead {
    /** The API group; empty for the core group (`/api/v1`). */
    readonly group: string;
    readonly version: string;
    /** The resource, plural and lowercase, e.g. `customresourcedefinitions`. */
    readonly resource: string;
    readonly namespace?: string;
    readonly name?: string;
}

/**
 * What a read found: the object (a list for a read without a name), nothing (HTTP 404), or a failure,
 * with the HTTP status when the API answered and without one when it did not answer at all.
 */
export type ReadResult =
    | { readonly status: "found"; readonly object: unknown }
    | { readonly status: "missing" }
    | { readonly status: "failed"; readonly code?: number; readonly message: string };

/** What is missing, and how to fix it. */
export interface Shortfall {
    readonly what: string;
    readonly fix: string;
}

/** One thing the region needs from its cluster. */
export interface Prerequisite {
    /** Unique within a region's list; the key of its read's result. */
    readonly id: string;
    readonly read: ClusterRead;
    /**
     * The read sees only the cluster's side of something it cannot see whole (a cloud identity, whose
     * other half is in the cloud), and some working setups look short from here: a shortfall, or a read
     * the API refused, is a warning, never a stop.
     */
    readonly advisory?: boolean;
    /** Prerequisites this one builds on (a CRD before objects of its kind): when one of them falls short, this one is not reported. */
    readonly after?: readonly string[];
    /** What falls short in what the read found (`undefined` when the object does not exist); `undefined` when the prerequisite is met. */
    readonly check: (found: unknown) => Shortfall | undefined;
}

/** The options that decide a region's prerequisites: a region's (or a stack's) options, validated. */
export interface PrerequisiteOptions {
    /** Where the region's secrets live (default: the self-hosted Vault); a managed backend needs none of the Vault servers' prerequisites. */
    readonly backend?: ResolvedBackend;
    readonly vault: Pick<
        z.output<typeof regionVaultOptions>,
        "namespace" | "tls" | "seal" | "ingressClassName" | "storageClass" | "snapshots" | "allowedSourceRanges"
    >;
    readonly monitoring: Pick<ResolvedMonitoringOptions, "serviceMonitor" | "prometheusRules">;
}

/** Marks a StorageClass as the cluster's default (and the beta annotation older clusters still set). */
export const DEFAULT_STORAGE_CLASS_ANNOTATIONS = [
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
] as const;

/** How to get each IngressClass this project knows how to pass TLS through (the classes of `TLS_PASSTHROUGH_ANNOTATIONS`). */
export const INGRESS_CONTROLLER_INSTALL: Readonly<Record<string, string>> = {
    [CILIUM_INGRESS_CLASS]:
        "enable Cilium's ingress controller (Helm value ingressController.enabled=true; https://docs.cilium.io/en/stable/network/servicemesh/ingress/)",
    nginx: "install ingress-nginx (https://kubernetes.github.io/ingress-nginx/deploy/), started with --enable-ssl-passthrough",
    haproxy: "install the HAProxy Kubernetes Ingress Controller (https://www.haproxy.com/documentation/kubernetes-ingress/)",
};

/** The name of a CustomResourceDefinition: `<plural>.<group>`. */
export function crdName(plural: string, group: string): string {
    return `${plural}.${group}`;
}

/** A product whose CRDs a region uses, and how to get it. */
interface Product {
    readonly name: string;
    readonly install: string;
    /** The option change that makes the region not need it. */
    readonly instead: string;
}

/** A CustomResourceDefinition that must exist and serve `api.version`. */
function crd(
    plural: string,
    api: { readonly group: string; readonly version: string },
    product: Product,
    why: string,
    after?: readonly string[],
): Prerequisite {
    const name = crdName(plural, api.group);
    return {
        id: `crd:${name}`,
        read: { group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions", name },
        ...(after === undefined ? {} : { after }),
        check: (found) => {
            if (found === undefined) {
                return {
                    what: `${product.name} is not installed: CustomResourceDefinition ${name} does not exist (${why})`,
                    fix: `${product.install}, or ${product.instead}`,
                };
            }
            const served = ((found as { spec?: { versions?: { name?: string; served?: boolean }[] } }).spec?.versions ?? [])
                .filter((v) => v.served === true)
                .map((v) => v.name);
            return served.includes(api.version)
                ? undefined
                : {
                      what: `CustomResourceDefinition ${name} does not serve ${api.version} (it serves ${served.join(", ") || "nothing"}), which this region uses (${why})`,
                      fix: `upgrade ${product.name} to a release that serves ${api.group}/${api.version}, or ${product.instead}`,
                  };
        },
    };
}

interface Condition {
    readonly type?: string;
    readonly status?: string;
    readonly reason?: string;
    readonly message?: string;
}

/** A Secret the servers mount or read, with the keys they use. */
function secret(namespace: string, name: string, keys: readonly string[], option: string, create: string): Prerequisite {
    return {
        id: `secret:${namespace}/${name}`,
        read: { group: "", version: "v1", resource: "secrets", namespace, name },
        check: (found) => {
            if (found === undefined) {
                return {
                    what: `Secret ${namespace}/${name} does not exist (${option}), so the Vault servers cannot start`,
                    fix: `create it in namespace ${namespace} with ${keys.join(", ")} (${create})`,
                };
            }
            const present = Object.keys((found as { data?: Record<string, unknown> }).data ?? {});
            const lacking = keys.filter((key) => !present.includes(key));
            return lacking.length === 0
                ? undefined
                : {
                      what: `Secret ${namespace}/${name} (${option}) lacks ${lacking.join(", ")}, which the Vault servers read`,
                      fix: `add ${lacking.join(", ")} to it (it must hold ${keys.join(", ")})`,
                  };
        },
    };
}

/** The StorageClasses of the cluster, each with whether it is a default. */
function storageClasses(found: unknown): { name: string; isDefault: boolean }[] {
    const items = (found as { items?: { metadata?: { name?: string; annotations?: Record<string, string> } }[] } | undefined)?.items ?? [];
    return items.map((item) => ({
        name: item.metadata?.name ?? "",
        isDefault: DEFAULT_STORAGE_CLASS_ANNOTATIONS.some((annotation) => item.metadata?.annotations?.[annotation] === "true"),
    }));
}

/** A StorageClass by name, or a default one (`name` undefined), for the volumes of the options named. */
function storageClass(name: string | undefined, options: readonly string[]): Prerequisite {
    const read: ClusterRead = { group: "storage.k8s.io", version: "v1", resource: "storageclasses" };
    const list = (classes: { name: string; isDefault: boolean }[]) =>
        classes.length === 0 ? "none" : classes.map((c) => `${c.name}${c.isDefault ? " (default)" : ""}`).join(", ");
    if (name !== undefined) {
        return {
            id: `storageclass:${name}`,
            read,
            check: (found) => {
                const classes = storageClasses(found);
                return classes.some((c) => c.name === name)
                    ? undefined
                    : {
                          what: `StorageClass ${name} does not exist (${options.join(", ")}; the cluster has ${list(classes)})`,
                          fix: `create it, or set ${options.join(" and ")} to one of the cluster's StorageClasses before the first deploy (a volume's class cannot change afterwards)`,
                      };
            },
        };
    }
    return {
        id: "storageclass:(default)",
        read,
        check: (found) => {
            const classes = storageClasses(found);
            return classes.some((c) => c.isDefault)
                ? undefined
                : {
                      what: `the cluster has no default StorageClass, and ${options.join(" and ")} ${options.length > 1 ? "are" : "is"} not set (StorageClasses: ${list(classes)}), so the volumes would never be provisioned`,
                      fix:
                          classes.length === 0
                              ? "install a storage provisioner with a StorageClass marked as the default"
                              : `mark one as the default (kubectl annotate storageclass <name> ${DEFAULT_STORAGE_CLASS_ANNOTATIONS[0]}=true), or set ${options.join(" and ")} before the first deploy`,
                  };
        },
    };
}

/**
 * The store admission policies (components/stores/storeAdmission.ts), which every region declares
 * whatever its backend: a cluster that does not serve their API answers 404 to the list.
 */
function admissionPolicies(): Prerequisite {
    const admissionApi = `${ADMISSION_POLICY_API.group}/${ADMISSION_POLICY_API.version}`;
    return {
        id: `api:${admissionApi}/validatingadmissionpolicies`,
        read: { ...ADMISSION_POLICY_API, resource: "validatingadmissionpolicies" },
        check: (found) =>
            found === undefined
                ? {
                      what: `the cluster does not serve ${admissionApi} ValidatingAdmissionPolicy (Kubernetes ${MINIMUM_KUBERNETES_VERSION} or later), which keeps each namespace to its own secrets through the stores this region shares`,
                      fix: `upgrade the cluster to Kubernetes ${MINIMUM_KUBERNETES_VERSION} or later`,
                  }
                : undefined,
    };
}

/** The EKS Pod Identity Agent's DaemonSet, as the EKS add-on `eks-pod-identity-agent` installs it. */
export const EKS_POD_IDENTITY_AGENT = { namespace: "kube-system", name: "eks-pod-identity-agent" } as const;

/** The node label GKE sets where the GKE metadata server runs, which it can only where Workload Identity is on for the cluster. */
export const GKE_METADATA_SERVER_LABEL = "iam.gke.io/gke-metadata-server-enabled";

/**
 * What a managed backend's identity needs in the cluster, where the cluster's API can show it, each
 * advisory (the other half of an identity is in the cloud, out of the preflight's sight). How ESO
 * reaches each backend (components/backends/backendStores.ts, from external-secrets v2.9.0) decides
 * what a missing piece would break:
 *
 * - AWS with `identity: pod-identity`: ESO's controller takes the default AWS credentials, which EKS
 *   Pod Identity serves through its agent on every node, the DaemonSet `kube-system/eks-pod-identity-agent`
 *   of the EKS add-on of that name (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-agent-setup.html;
 *   the DaemonSet as `kubectl -n kube-system get daemonset eks-pod-identity-agent` shows it in AWS's EKS
 *   workshop, https://www.eksworkshop.com/docs/security/amazon-eks-pod-identity/use-pod-identity).
 *   EKS Auto Mode has the agent built in, with no DaemonSet: hence a warning.
 * - GCP without `workloadIdentityPool`: ESO's `workloadIdentity` auth reads the cluster's project,
 *   location and name from the metadata server and trades a token of the identity ServiceAccount at
 *   the cluster's pool `<project>.svc.id.goog` (external-secrets `providers/v1/gcp/secretmanager/workload_identity.go`),
 *   which exists only with GKE Workload Identity on. Nodes that run the GKE metadata server carry
 *   `iam.gke.io/gke-metadata-server-enabled: "true"`, which GKE allows only where Workload Identity is
 *   on for the cluster (GKE's WorkloadMetadataConfig `GKE_METADATA`; the label as GKE's Workload Identity
 *   guide selects nodes with it, https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity).
 *   No such node: Workload Identity is most likely off; a cluster whose node pools have not moved to
 *   the GKE metadata server yet may still work, hence a warning.
 *
 * Not checked, because nothing the cluster's API shows would break them: AWS with IRSA and Azure,
 * where ESO requests the ServiceAccount's token itself (TokenRequest) and exchanges it with the cloud
 * (`providers/v1/aws/auth/auth.go`, `providers/v1/azure/keyvault/keyvault.go`), so EKS's pod identity
 * webhook and Azure Workload Identity's mutating webhook play no part (the trust is the cloud's:
 * the IAM OIDC provider, the federated credential); GCP with a pool (workload identity federation,
 * the pool's provider trusts the cluster's issuer); HCP Vault (its JWT mounts trust the cluster's
 * issuer; whether its address answers is for an HTTP request, which the preflight does not make).
 */
export function identityPrerequisites(backend: ResolvedBackend): Prerequisite[] {
    if (backend.type === "aws-secrets-manager" && backend.identity === "pod-identity") {
        const { namespace, name } = EKS_POD_IDENTITY_AGENT;
        return [
            {
                id: `daemonset:${namespace}/${name}`,
                read: { group: "apps", version: "v1", resource: "daemonsets", namespace, name },
                advisory: true,
                check: (found) =>
                    found === undefined
                        ? {
                              what: `DaemonSet ${namespace}/${name} does not exist: without the EKS Pod Identity Agent ESO's controller gets no credentials for ${backend.roleArn} (backend.identity pod-identity), unless this is EKS Auto Mode, which has the agent built in`,
                              fix: `install the EKS add-on (aws eks create-addon --cluster-name <cluster> --addon-name ${name}) and associate ${backend.roleArn} with ESO's service account, or set backend.identity to irsa`,
                          }
                        : undefined,
            },
        ];
    }
    if (backend.type === "gcp-secret-manager" && backend.workloadIdentityPool === undefined) {
        return [
            {
                id: `nodes:${GKE_METADATA_SERVER_LABEL}`,
                read: { group: "", version: "v1", resource: "nodes" },
                advisory: true,
                check: (found) => {
                    const nodes = (found as { items?: { metadata?: { labels?: Record<string, string> } }[] } | undefined)?.items ?? [];
                    return nodes.some((node) => node.metadata?.labels?.[GKE_METADATA_SERVER_LABEL] === "true")
                        ? undefined
                        : {
                              what: `no node is labelled ${GKE_METADATA_SERVER_LABEL}=true, so GKE Workload Identity is most likely off, and ESO could not act as ${backend.serviceAccount} (backend.workloadIdentityPool is not set, so ESO uses GKE Workload Identity)`,
                              fix: `enable Workload Identity on the cluster and its node pools (gcloud container clusters update <cluster> --workload-pool=<project>.svc.id.goog; node pools with --workload-metadata=GKE_METADATA), or set backend.workloadIdentityPool`,
                          };
                },
            },
        ];
    }
    return [];
}

/**
 * Every prerequisite of a region, in the order its lines are reported. Only what the options use:
 * cert-manager only with TLS from cert-manager, Cilium's CRD only with a CiliumNetworkPolicy, the
 * Prometheus Operator's CRDs only with monitoring objects.
 */
export function regionPrerequisites(options: PrerequisiteOptions): Prerequisite[] {
    const { vault, monitoring, backend = { type: "vault" } } = options;
    // A managed backend: no Vault servers, so none of their needs (cert-manager, Secrets, the
    // IngressClass, Cilium, StorageClasses, the snapshot claim, the Vault alerts); what ESO's stores and
    // their admission policies need stays.
    if (backend.type !== "vault") {
        return [admissionPolicies(), ...identityPrerequisites(backend)];
    }
    const prerequisites: Prerequisite[] = [admissionPolicies()];
    const namespace = vault.namespace;

    const tls = resolvedTls(vault.tls);
    if (tls.enabled && tls.source === "cert-manager" && tls.issuer !== undefined) {
        const certManager: Product = {
            name: "cert-manager",
            install: "install cert-manager with its CRDs (https://cert-manager.io/docs/installation/)",
            instead: "set vault.tls.source to secret (a certificate you provide)",
        };
        const why = "vault.tls.source is cert-manager";
        const certificates = crd("certificates", CERT_MANAGER_API, certManager, why);
        const { kind, name } = tls.issuer;
        const plural = kind === "ClusterIssuer" ? "clusterissuers" : "issuers";
        const issuers = crd(plural, CERT_MANAGER_API, certManager, why, [certificates.id]);
        const scoped = kind === "Issuer" ? { namespace } : {};
        const shown = kind === "Issuer" ? `${namespace}/${name}` : name;
        const describe = `kubectl describe ${kind.toLowerCase()} ${name}${kind === "Issuer" ? ` -n ${namespace}` : ""}`;
        prerequisites.push(certificates, issuers, {
            id: `issuer:${kind}/${shown}`,
            read: { group: CERT_MANAGER_API.group, version: CERT_MANAGER_API.version, resource: plural, ...scoped, name },
            after: [issuers.id],
            check: (found) => {
                if (found === undefined) {
                    return {
                        what: `${kind} ${shown} does not exist (vault.tls.issuerKind and vault.tls.issuerName), so the servers' certificate would never be issued`,
                        fix:
                            `create it${kind === "Issuer" ? ` in namespace ${namespace}` : ""}: a CA issuer whose Secret holds the private CA your Vault clients trust ` +
                            `(https://cert-manager.io/docs/configuration/ca/), or set vault.tls.issuerKind and vault.tls.issuerName to an issuer that exists`,
                    };
                }
                const ready = ((found as { status?: { conditions?: Condition[] } }).status?.conditions ?? []).find(
                    (c) => c.type === "Ready",
                );
                if (ready?.status === "True") {
                    return undefined;
                }
                const detail =
                    ready === undefined
                        ? "it has no Ready condition yet: cert-manager has not reconciled it"
                        : [ready.reason, ready.message?.replace(/\s+/g, " ")]
                              .filter((part) => part !== undefined && part !== "")
                              .join(": ") || `Ready is ${ready.status ?? "unknown"}`;
                return {
                    what: `${kind} ${shown} is not Ready (${detail}), so the servers' certificate would never be issued`,
                    fix:
                        `see ${describe}; for a CA issuer, the Secret its spec.ca.secretName names must exist ` +
                        `(${kind === "ClusterIssuer" ? "in cert-manager's namespace" : `in namespace ${namespace}`}) and hold tls.crt and tls.key`,
                };
            },
        });
    }
    if (tls.enabled && tls.source === "secret") {
        prerequisites.push(
            secret(
                namespace,
                tls.secretName,
                ["tls.crt", "tls.key", "ca.crt"],
                "vault.tls.secretName",
                `kubectl -n ${namespace} create secret generic ${tls.secretName} --type=kubernetes.io/tls --from-file=tls.crt=<cert> --from-file=tls.key=<key> --from-file=ca.crt=<CA>`,
            ),
        );
    }
    const seal = resolvedSeal(vault.seal);
    if (seal.type !== "shamir" && seal.credentials === "secret" && seal.credentialsSecret !== undefined) {
        const keys = SEAL_RULES[seal.type].secretKeys;
        prerequisites.push(
            secret(
                namespace,
                seal.credentialsSecret,
                keys,
                "vault.seal.credentialsSecret",
                `kubectl -n ${namespace} create secret generic ${seal.credentialsSecret} ${keys.map((key) => `--from-literal=${key}=<value>`).join(" ")}`,
            ),
        );
    }

    const ingressClass = vault.ingressClassName;
    prerequisites.push({
        id: `ingressclass:${ingressClass}`,
        read: { group: "networking.k8s.io", version: "v1", resource: "ingressclasses" },
        check: (found) => {
            const names = ((found as { items?: { metadata?: { name?: string } }[] } | undefined)?.items ?? []).map(
                (i) => i.metadata?.name ?? "",
            );
            if (names.includes(ingressClass)) {
                return undefined;
            }
            const install = Object.hasOwn(INGRESS_CONTROLLER_INSTALL, ingressClass)
                ? INGRESS_CONTROLLER_INSTALL[ingressClass]
                : `install the ingress controller of class ${ingressClass}`;
            return {
                what: `IngressClass ${ingressClass} does not exist (vault.ingressClassName; the cluster has ${names.length === 0 ? "none" : names.join(", ")}), so peers could not reach this Vault`,
                fix: `${install}, or set vault.ingressClassName to one of the cluster's classes`,
            };
        },
    });
    if (needsCiliumPolicy(ingressClass)) {
        prerequisites.push(
            crd(
                "ciliumnetworkpolicies",
                CILIUM_POLICY_API,
                {
                    name: "Cilium",
                    install:
                        "run Cilium as the cluster's network plugin (https://docs.cilium.io/en/stable/network/kubernetes/requirements/)",
                    instead: "set vault.ingressClassName to another ingress class",
                },
                `vault.ingressClassName is ${ingressClass}, so the servers get a CiliumNetworkPolicy`,
            ),
        );
    }

    if (needsCiliumPolicy(ingressClass) && vault.allowedSourceRanges !== undefined) {
        const name = crdName("ciliumclusterwidenetworkpolicies", CILIUM_POLICY_API.group);
        const why = "vault.allowedSourceRanges is set, so Cilium's ingress gets a CiliumClusterwideNetworkPolicy";
        const instead = "remove vault.allowedSourceRanges and restrict the ranges in front of the ingress";
        const base = crd(
            "ciliumclusterwidenetworkpolicies",
            CILIUM_POLICY_API,
            { name: "Cilium", install: "run Cilium 1.16 or later", instead },
            why,
        );
        prerequisites.push({
            ...base,
            // The policy turns no default-deny on (enableDefaultDeny false): a Cilium without that field
            // would drop it and deny everything else that enters its ingress.
            check: (found) => {
                const problem = base.check(found);
                if (problem !== undefined) {
                    return problem;
                }
                type Schema = { properties?: Record<string, Schema> };
                const versions =
                    (found as { spec?: { versions?: { name?: string; schema?: { openAPIV3Schema?: Schema } }[] } }).spec?.versions ?? [];
                const spec = versions.find((v) => v.name === CILIUM_POLICY_API.version)?.schema?.openAPIV3Schema?.properties?.spec;
                return spec?.properties?.enableDefaultDeny !== undefined
                    ? undefined
                    : {
                          what: `CustomResourceDefinition ${name} has no enableDefaultDeny (Cilium before 1.16): the source-range policy would turn default-deny on for Cilium's ingress and cut off every other Ingress of the cluster (${why})`,
                          fix: `upgrade Cilium to 1.16 or later, or ${instead}`,
                      };
            },
        });
    }

    // The servers' volumes, and the snapshot claim the region creates: one check per StorageClass.
    const classes = new Map<string | undefined, string[]>([[vault.storageClass, ["vault.storageClass"]]]);
    const snapshots = vault.snapshots;
    if (snapshots.enabled && snapshots.claimName === undefined) {
        const snapshotClass = snapshotStorageClass(snapshots, vault.storageClass);
        if (snapshotClass !== vault.storageClass) {
            classes.set(snapshotClass, [...(classes.get(snapshotClass) ?? []), "vault.snapshots.storageClass"]);
        }
    }
    for (const [name, options] of classes) {
        prerequisites.push(storageClass(name, options));
    }
    if (snapshots.enabled && snapshots.claimName !== undefined) {
        const claim = snapshots.claimName;
        prerequisites.push({
            id: `claim:${namespace}/${claim}`,
            read: { group: "", version: "v1", resource: "persistentvolumeclaims", namespace, name: claim },
            check: (found) =>
                found === undefined
                    ? {
                          what: `PersistentVolumeClaim ${namespace}/${claim} does not exist (vault.snapshots.claimName), so no snapshot could be written`,
                          fix: `create it in namespace ${namespace}, or remove vault.snapshots.claimName so that the stack creates a claim`,
                      }
                    : undefined,
        });
    }

    const prometheus: Product = {
        name: "the Prometheus Operator",
        install:
            "install the Prometheus Operator's CRDs (https://prometheus-operator.dev/docs/getting-started/installation/, or the kube-prometheus-stack chart)",
        instead: "set monitoring.serviceMonitor and monitoring.prometheusRules to false",
    };
    const monitors = monitoring.serviceMonitor
        ? crd("servicemonitors", PROMETHEUS_OPERATOR_API, prometheus, "monitoring.serviceMonitor is true")
        : undefined;
    if (monitors !== undefined) {
        prerequisites.push(monitors);
    }
    if (monitoring.prometheusRules) {
        prerequisites.push(
            crd("prometheusrules", PROMETHEUS_OPERATOR_API, prometheus, "monitoring.prometheusRules is true", monitors && [monitors.id]),
        );
    }
    return prerequisites;
}

/** The read's object, as a person names it: `customresourcedefinitions certificates.cert-manager.io`, `secrets vault/x`. */
export function describeRead(read: ClusterRead): string {
    const resource = read.group === "" ? read.resource : `${read.resource}.${read.group}`;
    const object = read.name === undefined ? "" : ` ${read.namespace === undefined ? "" : `${read.namespace}/`}${read.name}`;
    return `${resource}${object}`;
}

/**
 * One line per prerequisite that falls short, each naming what is missing and how to fix it; empty
 * when every one is met. A cluster that did not answer is one line (nothing else can be told), and
 * so are refused credentials; another failed read is a line naming the read.
 * @param where the cluster, as the lines name it, e.g. `stack "region1" (kubeconfig context "region1")`
 * @param results each prerequisite's read, by its id
 */
export function prerequisiteProblems(
    where: string,
    prerequisites: readonly Prerequisite[],
    results: ReadonlyMap<string, ReadResult>,
): string[] {
    return prerequisiteFindings(where, prerequisites, results).problems;
}

/**
 * {@link prerequisiteProblems}, and apart from them the warnings: one line per advisory prerequisite
 * that falls short or whose read the API refused.
 */
export function prerequisiteFindings(
    where: string,
    prerequisites: readonly Prerequisite[],
    results: ReadonlyMap<string, ReadResult>,
): { readonly problems: string[]; readonly warnings: string[] } {
    const resultOf = (p: Prerequisite): ReadResult => {
        const result = results.get(p.id);
        if (result === undefined) {
            throw new Error(`no result for the prerequisite ${p.id}`);
        }
        return result;
    };
    const failures = prerequisites.map(resultOf).filter((r): r is Extract<ReadResult, { status: "failed" }> => r.status === "failed");
    const unanswered = failures.find((r) => r.code === undefined);
    if (unanswered !== undefined) {
        return {
            problems: [
                `Cannot check the prerequisites of ${where}: the Kubernetes API did not answer (${unanswered.message}). ` +
                    "Fix: check that the kubeconfig context points at the region's cluster and that its API is reachable from here (network, VPN, credentials), then run again",
            ],
            warnings: [],
        };
    }
    if (failures.some((r) => r.code === 401)) {
        return {
            problems: [
                `Cannot check the prerequisites of ${where}: the Kubernetes API refused the kubeconfig's credentials (HTTP 401). ` +
                    "Fix: renew the credentials of that kubeconfig context (log in to the cluster again), then run again",
            ],
            warnings: [],
        };
    }
    const short = new Set<string>();
    const lines: string[] = [];
    const warnings: string[] = [];
    for (const prerequisite of prerequisites) {
        if (prerequisite.after?.some((id) => short.has(id))) {
            short.add(prerequisite.id);
            continue;
        }
        const result = resultOf(prerequisite);
        if (result.status === "failed") {
            short.add(prerequisite.id);
            const verb = prerequisite.read.name === undefined ? "list" : "get";
            (prerequisite.advisory === true ? warnings : lines).push(
                `Cannot check ${describeRead(prerequisite.read)} for ${where}: the Kubernetes API answered HTTP ${result.code} (${result.message}). ` +
                    `Fix: let the identity that runs Pulumi ${verb} ${describeRead({ ...prerequisite.read, name: undefined, namespace: undefined })}${prerequisite.read.namespace === undefined ? "" : ` in namespace ${prerequisite.read.namespace}`}, then run again`,
            );
            continue;
        }
        const shortfall = prerequisite.check(result.status === "found" ? result.object : undefined);
        if (shortfall !== undefined) {
            short.add(prerequisite.id);
            if (prerequisite.advisory === true) {
                warnings.push(`Check the identity for ${where}: ${shortfall.what}. Fix: ${shortfall.fix}`);
            } else {
                lines.push(`Missing prerequisite for ${where}: ${shortfall.what}. Fix: ${shortfall.fix}`);
            }
        }
    }
    return { problems: lines, warnings };
}
