import type { Labels, Meta } from './common';

// Swarm networks as the Engine API's swarm types shape them (`swarm.Network`: what a task's
// NetworksAttachments and the store hold). `/networks` answers with the Engine's network resource,
// converted from this in src/api/convert/networks.ts.

export interface IPAMConfig {
  Subnet: string;
  Range?: string;
  Gateway: string;
}

export interface IPAMOptions {
  Driver: { Name?: string; Options?: Record<string, string> };
  Configs?: IPAMConfig[];
}

export interface NetworkSpec {
  Name: string;
  Labels: Labels;
  DriverConfiguration?: { Name?: string; Options?: Record<string, string> };
  IPv6Enabled?: boolean;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  IPAMOptions?: IPAMOptions;
  Scope: 'swarm';
}

export interface Network extends Meta {
  Spec: NetworkSpec;
  /** The driver's state: overlay with its VXLAN ID (`com.docker.network.driver.overlay.vxlanid_list`). */
  DriverState: { Name: string; Options: Record<string, string> };
  /** The subnets as allocated (the spec's, or ones taken from the default pool). */
  IPAMOptions: IPAMOptions;
  /** Internal, never shown by the API. */
  internal: NetworkInternal;
}

export interface NetworkInternal {
  vni: number;
  /**
   * Each node's own address on this network (node ID → "10.0.0.2/24"): the source of the routing
   * mesh's connections and the node's DNS address on it (Docker's `ingress-sbox` / `lb-<net>` endpoints).
   */
  nodeAddrs: Record<string, string>;
}

/** One network a task is attached to, with its addresses (CIDR notation), as the Engine API shows it. */
export interface NetworkAttachment {
  Network: Omit<Network, 'internal'>;
  Addresses: string[];
}

/** The Engine API's NetworkCreateRequest, as far as swarm networks use it. */
export interface NetworkCreateRequest {
  Name: string;
  Driver?: string;
  Scope?: string;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  ConfigOnly?: boolean;
  ConfigFrom?: { Network?: string };
  EnableIPv6?: boolean;
  IPAM?: { Driver?: string; Config?: { Subnet?: string; IPRange?: string; Gateway?: string; AuxiliaryAddresses?: Record<string, string> }[]; Options?: Record<string, string> };
  Options?: Record<string, string>;
  Labels?: Record<string, string>;
}

export const OVERLAY_VNI_OPTION = 'com.docker.network.driver.overlay.vxlanid_list';
export const INGRESS_NETWORK_NAME = 'ingress';

/** The networks a service's tasks attach to: the task template's list wins over the deprecated service-level one. */
export function serviceNetworkTargets(spec: { Networks?: { Target: string }[]; TaskTemplate: { Networks?: { Target: string }[] } }): string[] {
  const list = spec.TaskTemplate.Networks?.length ? spec.TaskTemplate.Networks : (spec.Networks ?? []);
  return list.map((n) => n.Target);
}

/**
 * Where a task is reached for one of its service's published ports, when not at its own network
 * address: on the process runtime, a port of its node the agent gave it (`PORT`, `PORT_<target>`).
 */
export interface TaskEndpoint {
  Protocol: 'tcp' | 'udp';
  TargetPort: number;
  /** The port on the task's node. */
  Port: number;
}

/** One ready task behind a published port. */
export interface IngressBackend {
  taskId: string;
  host: string;
  port: number;
}

/** A port published in ingress mode, as every node's routing mesh serves it. */
export interface IngressEntry {
  serviceId: string;
  serviceName: string;
  protocol: 'tcp' | 'udp';
  publishedPort: number;
  targetPort: number;
  /** PROXY protocol towards the tasks (service label `com.shoal.mesh.proxy-protocol`). */
  proxyProtocol?: 'v1' | 'v2';
  backends: IngressBackend[];
}

/**
 * One swarm network's service-discovery records, as every node's embedded DNS server answers them
 * for tasks on that network (docs/design/dns.md).
 */
export interface NetworkNames {
  networkId: string;
  networkName: string;
  /** Docker resolves through user networks first, ingress last. */
  ingress: boolean;
  /** Lower-case name → IPv4 addresses (service, `tasks.<service>`, aliases, task names). */
  records: Record<string, string[]>;
  /** IPv4 address → the task's container name, for PTR answers (`<name>.<network>`). */
  ptr: Record<string, string>;
}

/** A swarm network as one node programs it (a bridge and a VXLAN device on the docker runtime). */
export interface NodeNetworkEntry {
  id: string;
  name: string;
  subnet: string;
  gateway: string;
  vni: number;
  ingress: boolean;
  /** `--opt encrypted` was asked for; this kernel cannot honour it (no IPsec ESP, no WireGuard). */
  encrypted: boolean;
  /** This node's own address on the network ("10.0.0.2/24"); absent until the allocator gave one. */
  nodeAddr?: string;
  /** Underlay addresses of the other nodes on the network: the VXLAN peers, sorted. */
  peers: string[];
}

/** A service's virtual IP on one network and the addresses of its ready tasks there. */
export interface VipEntry {
  networkId: string;
  serviceId: string;
  serviceName: string;
  /** The VIP, without prefix length. */
  vip: string;
  /** Ready task addresses on the network, without prefix length, sorted. */
  backends: string[];
}

/** The network state the dispatcher sends a node beside its assignments. */
export interface NodeNetworkView {
  ingress: IngressEntry[];
  /** The swarm networks this node has tasks on, and `ingress` on every node. Absent from older managers. */
  networks?: NodeNetworkEntry[];
  /** The VIPs of the networks this node's tasks are on. */
  vips?: VipEntry[];
  /** The name table, one entry per swarm network (absent from older managers). */
  names?: NetworkNames[];
}

/** `docker network create --opt encrypted` (Docker accepts it with or without a value). */
export const OVERLAY_ENCRYPTED_OPTION = 'encrypted';

export const PROXY_PROTOCOL_LABEL = 'com.shoal.mesh.proxy-protocol';
