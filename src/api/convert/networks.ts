import type { Network } from '../../types';
import { OVERLAY_ENCRYPTED_OPTION } from '../../types';

// Swarm networks as `/networks` shows them (the Engine's network resource), from the store's
// `swarm.Network` shape, the way moby's daemon converts them.

export interface NetworkPeer {
  Name: string;
  IP: string;
}

export interface NetworkResource {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'swarm';
  Driver: string;
  EnableIPv4: boolean;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: { Subnet: string; IPRange?: string; Gateway: string }[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
  Peers?: NetworkPeer[];
}

/** Beside `encrypted`, shown by `network inspect`: what this kernel cannot do, said plainly (networking.md §2.3). */
export const ENCRYPTION_NOTICE_OPTION = 'com.shoal.network.encryption';
export const ENCRYPTION_NOTICE = 'NOT encrypted: this kernel has neither IPsec ESP nor WireGuard; traffic between nodes on this network is sent in the clear';

function encryptionNotice(opts: Record<string, string>): Record<string, string> {
  return OVERLAY_ENCRYPTED_OPTION in opts ? { ...opts, [ENCRYPTION_NOTICE_OPTION]: ENCRYPTION_NOTICE } : opts;
}

/** A MAC address derived from an IPv4 address, as libnetwork makes them (02:42 + the four octets). */
export function macOfIp(ip: string): string {
  return ['02', '42', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}

/**
 * `local`: the answering node's view: its own endpoint on the network (the `ingress-sbox` of
 * `ingress`, shown as Docker shows it) and the peers (nodes with an address on the network).
 */
export function networkOnWire(n: Network, local?: { nodeId: string; endpointId: (name: string) => string; peers: NetworkPeer[] }): NetworkResource {
  const containers: NetworkResource['Containers'] = {};
  const mine = local && n.internal?.nodeAddrs?.[local.nodeId];
  if (mine) {
    const sbox = n.Spec.Ingress ? 'ingress-sbox' : `lb-${n.Spec.Name}`;
    containers[sbox] = {
      Name: n.Spec.Ingress ? 'ingress-endpoint' : `${n.Spec.Name}-endpoint`,
      EndpointID: local.endpointId(`${n.ID}/${local.nodeId}`),
      MacAddress: macOfIp(mine.split('/')[0] ?? ''),
      IPv4Address: mine,
      IPv6Address: '',
    };
  }
  const out: NetworkResource = {
    Name: n.Spec.Name,
    Id: n.ID,
    Created: n.CreatedAt,
    Scope: 'swarm',
    Driver: n.DriverState?.Name ?? 'overlay',
    EnableIPv4: true,
    EnableIPv6: !!n.Spec.IPv6Enabled,
    IPAM: {
      Driver: n.IPAMOptions?.Driver?.Name ?? 'default',
      Options: n.IPAMOptions?.Driver?.Options ?? null,
      Config: (n.IPAMOptions?.Configs ?? []).map((c) => ({ Subnet: c.Subnet, ...(c.Range ? { IPRange: c.Range } : {}), Gateway: c.Gateway })),
    },
    Internal: !!n.Spec.Internal,
    Attachable: !!n.Spec.Attachable,
    Ingress: !!n.Spec.Ingress,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: encryptionNotice(n.DriverState?.Options ?? {}),
    Labels: n.Spec.Labels ?? {},
  };
  if (local && local.peers.length) out.Peers = local.peers;
  return out;
}
