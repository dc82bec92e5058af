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
