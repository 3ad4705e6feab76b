/**
 * Who may reach a region's Vault through its ingress (`vault.allowedSourceRanges`), and whether the
 * client's address reaches Vault's audit log (`vault.proxyProtocolRanges`), per ingress class: what
 * each class can enforce while it passes TLS through, how, and why not where it cannot.
 *
 * Sources, per class:
 * - cilium: Cilium's ingress is a per-node Envoy; traffic that enters it carries the reserved
 *   `ingress` identity, and a policy that selects that identity is enforced against the original
 *   source (the client's address) as the traffic enters Envoy (cilium/cilium
 *   Documentation/network/servicemesh/ingress-reference.rst, "Cilium's ingress config and
 *   CiliumNetworkPolicy"; the example examples/kubernetes/servicemesh/policy/allow-ingress-cidr.yaml
 *   selects `reserved:ingress` with fromCIDRSet). The backend port, not the node port, is what
 *   such a policy's toPorts match (cilium/proxy PR 351, "Enforce ingress policy for Ingress"). A
 *   policy on the Vault pods themselves cannot: they only see the `ingress` identity. With TLS
 *   pass-through Envoy opens a new TCP stream to the backend, so the backend sees Envoy's address
 *   (same page, "TLS Passthrough and source IP visibility"), and Cilium's ingress has no setting to
 *   send PROXY protocol.
 * - nginx (ingress-nginx): `nginx.ingress.kubernetes.io/allowlist-source-range` (alias
 *   `whitelist-source-range`; internal/ingress/annotations/ipallowlist/main.go at controller-v1.15.1)
 *   is applied by NGINX to HTTP; with `ssl-passthrough` the connection is handed to a TCP proxy in
 *   front of NGINX, and "using SSL Passthrough invalidates all the other annotations set on an
 *   Ingress object" (docs/user-guide/nginx-configuration/annotations.md, "SSL Passthrough"). That
 *   proxy never sends PROXY protocol to a pass-through backend (internal/ingress/controller/nginx.go:
 *   `ProxyProtocol: false`, "TODO: Allow PassthroughBackends to specify they support proxy-protocol").
 * - haproxy (HAProxy Kubernetes Ingress Controller): `haproxy.org/allow-list` becomes a `tcp-request
 *   content reject` rule in the TCP-mode SSL pass-through frontend, scoped to the Ingress
 *   (haproxytech/kubernetes-ingress pkg/ingress/ingress.go `addRules`, pkg/haproxy/rules/reqDeny.go);
 *   `haproxy.org/send-proxy-protocol` sets `send-proxy` on the backend's servers, in TCP mode too
 *   (pkg/annotations/service/sendProxy.go; documentation/annotations.md).
 *
 * Either controller Deployment (nginx, haproxy) sees the client's address only when its Service
 * keeps it (`externalTrafficPolicy: Local`, or PROXY protocol from the load balancer in front of it);
 * otherwise it sees node addresses, and an allow-list would refuse everyone outside the nodes.
 */
import { CILIUM_INGRESS_CLASS } from "./networkPolicy";

/** How a class enforces the allowed source ranges, or why it cannot. */
export type SourceRangeEnforcement =
    | { readonly by: "policy" }
    | { readonly by: "annotation"; readonly annotation: string; readonly withPassthrough: boolean; readonly whyNot?: string };

/** What each known ingress class can do with source ranges. */
export const SOURCE_RANGE_ENFORCEMENT: Readonly<Record<string, SourceRangeEnforcement>> = {
    [CILIUM_INGRESS_CLASS]: { by: "policy" },
    nginx: {
        by: "annotation",
        annotation: "nginx.ingress.kubernetes.io/allowlist-source-range",
        withPassthrough: false,
        whyNot: "ingress-nginx hands a pass-through connection to a TCP proxy in front of NGINX, which ignores every other annotation of the Ingress (its allow-list included)",
    },
    haproxy: { by: "annotation", annotation: "haproxy.org/allow-list", withPassthrough: true },
};

/** How a class sends PROXY protocol to Vault on TLS pass-through, or why it cannot. */
export const PROXY_PROTOCOL_SUPPORT: Readonly<
    Record<string, { readonly annotations: Readonly<Record<string, string>> } | { readonly whyNot: string }>
> = {
    [CILIUM_INGRESS_CLASS]: {
        whyNot: "Cilium's ingress opens a new TCP stream to the backend on TLS pass-through and has no setting to send PROXY protocol, so Vault sees Envoy's address",
    },
    nginx: {
        whyNot: "ingress-nginx's pass-through proxy never sends PROXY protocol to a backend (its pass-through backends are built with ProxyProtocol false), so Vault sees the controller's address",
    },
    // PROXY protocol version 1: what Vault's listener documentation describes for proxy_protocol_behavior.
    haproxy: { annotations: { "haproxy.org/send-proxy-protocol": "proxy-v1" } },
};

/** A class's entry in a table, by own key only (a class named like an Object.prototype member is not known). */
function entry<T>(table: Readonly<Record<string, T>>, ingressClassName: string): T | undefined {
    return Object.hasOwn(table, ingressClassName) ? table[ingressClassName] : undefined;
}

/** How `ingressClassName` enforces source ranges, with TLS pass-through on or off; undefined when it cannot. */
export function sourceRangeEnforcement(ingressClassName: string, passthrough: boolean): SourceRangeEnforcement | undefined {
    const found = entry(SOURCE_RANGE_ENFORCEMENT, ingressClassName);
    return found === undefined || (found.by === "annotation" && passthrough && !found.withPassthrough) ? undefined : found;
}

/** Why `ingressClassName` cannot enforce source ranges (with pass-through as given), for the error. */
export function sourceRangeRefusal(ingressClassName: string, passthrough: boolean): string {
    const found = entry(SOURCE_RANGE_ENFORCEMENT, ingressClassName);
    const enforcing = Object.entries(SOURCE_RANGE_ENFORCEMENT)
        .filter(([, how]) => how.by === "policy" || !passthrough || how.withPassthrough)
        .map(([cls]) => cls);
    const reason =
        found?.by === "annotation" && found.whyNot !== undefined
            ? `${found.whyNot}`
            : `this project does not know how class ${ingressClassName} enforces source ranges`;
    return `is set, but the ingress class ${ingressClassName} cannot enforce it${passthrough ? " while it passes TLS through" : ""}: ${reason}. Use a class that can (${enforcing.join(", ")}), or remove allowedSourceRanges and restrict the ranges in front of the ingress (its load balancer's source ranges or a firewall)`;
}

/** The annotations that make `ingressClassName` send PROXY protocol on pass-through, or why it cannot. */
export function proxyProtocolSupport(
    ingressClassName: string,
): { readonly annotations: Readonly<Record<string, string>> } | { readonly whyNot: string } {
    return (
        entry(PROXY_PROTOCOL_SUPPORT, ingressClassName) ?? {
            whyNot: `this project does not know how class ${ingressClassName} sends PROXY protocol on TLS pass-through`,
        }
    );
}

/** An IPv4 or IPv6 address as a number, with its width in bits; undefined when it is not one. */
function parseAddress(address: string): { value: bigint; bits: 32 | 128 } | undefined {
    if (/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) {
        const parts = address.split(".").map(Number);
        if (parts.some((part) => part > 255) || address.split(".").some((part) => part.length > 1 && part.startsWith("0"))) {
            return undefined;
        }
        return { value: parts.reduce((sum, part) => (sum << 8n) + BigInt(part), 0n), bits: 32 };
    }
    if (!/^[0-9a-fA-F:]+$/.test(address) || address.split("::").length > 2) {
        return undefined;
    }
    const [head, tail] = address.includes("::") ? address.split("::") : [address, undefined];
    const headGroups = head === "" ? [] : head.split(":");
    const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":");
    const missing = 8 - headGroups.length - tailGroups.length;
    if ((tail === undefined && missing !== 0) || (tail !== undefined && missing < 1)) {
        return undefined;
    }
    const groups = [...headGroups, ...Array.from({ length: tail === undefined ? 0 : missing }, () => "0"), ...tailGroups];
    if (groups.some((group) => !/^[0-9a-fA-F]{1,4}$/.test(group))) {
        return undefined;
    }
    return { value: groups.reduce((sum, group) => (sum << 16n) + BigInt(`0x${group}`), 0n), bits: 128 };
}

/** Why `value` is not a CIDR this project takes (an address, '/', a prefix length, no host bits set), or undefined. */
export function cidrProblem(value: string): string | undefined {
    const match = /^([^/]+)\/(\d{1,3})$/.exec(value);
    const address = match === null ? undefined : parseAddress(match[1]);
    if (match === null || address === undefined) {
        return "is not an IPv4 or IPv6 address with a prefix length, such as 203.0.113.0/24 or 2001:db8::/32";
    }
    const length = Number(match[2]);
    if (length > address.bits) {
        return `has a prefix length above ${address.bits}`;
    }
    const hostBits = BigInt(address.bits - length);
    if (address.value & ((1n << hostBits) - 1n)) {
        const network = (address.value >> hostBits) << hostBits;
        return `has host bits set: the network is ${formatAddress(network, address.bits)}/${length}`;
    }
    return undefined;
}

/** Whether `value` is a CIDR (see {@link cidrProblem}). */
export function isCidr(value: string): boolean {
    return cidrProblem(value) === undefined;
}

/** Whether a (valid) CIDR is IPv6. */
export function isIpv6Cidr(value: string): boolean {
    return value.includes(":");
}

function formatAddress(value: bigint, bits: 32 | 128): string {
    if (bits === 32) {
        return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join(".");
    }
    return Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(":");
}
