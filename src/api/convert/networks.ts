import type { Network, Service, Task } from '../../types';
import { isTerminal, OVERLAY_ENCRYPTED_OPTION } from '../../types';
import { parseGoDuration } from '../../lib/duration';
import { invalidArgument } from '../../lib/errors';
import { NS_PER_MS } from '../../lib/time';

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
  Services?: Record<string, NetworkServiceInfo>;
}

/** The filters `GET /networks` accepts (moby's acceptedNetworkFilters). */
const NETWORK_FILTERS = new Set(['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type']);

/** moby's checks of `GET /networks` filters, with its texts (400). */
export function validateNetworkFilters(f: Record<string, string[]>): void {
  for (const k of Object.keys(f)) if (!NETWORK_FILTERS.has(k)) throw invalidArgument(`invalid filter '${k}'`);
  for (const v of f.type ?? []) if (v !== 'builtin' && v !== 'custom') throw invalidArgument(`invalid filter: 'type'='${v}'`);
  for (const v of f.dangling ?? []) if (!['true', 'false', '1', '0'].includes(v.toLowerCase())) throw invalidArgument(`invalid filter 'dangling=${v}'`);
}

/** The filters `POST /networks/prune` accepts (moby's prune filters). */
const PRUNE_FILTERS = new Set(['until', 'label', 'label!']);

/**
 * moby's `until` value (timetypes.GetTimestamp): a UNIX timestamp (seconds, optional fraction), a Go
 * duration before `nowMs` ("24h", "1h30m"), or a date (RFC 3339, "2006-01-02", "2006-01-02T15:04:05"). Epoch ms.
 */
export function parseUntil(v: string, nowMs: number): number {
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  if (/^[\d.]+[a-zµ]/.test(s)) {
    try {
      return nowMs - parseGoDuration(s) / NS_PER_MS;
    } catch (e) {
      throw invalidArgument((e as Error).message);
    }
  }
  const t = /^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?)?$/.test(s) ? Date.parse(/T.*(Z|[+-]\d\d:\d\d)$/.test(s) || !s.includes('T') ? s : `${s}Z`) : NaN;
  if (Number.isNaN(t)) throw invalidArgument(`invalid value for until: ${v}: want a timestamp, a duration (e.g. 24h) or a date`);
  return t;
}

/** moby's checks of `POST /networks/prune` filters; the `until` cut-off in epoch ms, if one is given. */
export function validatePruneFilters(f: Record<string, string[]>, nowMs: number): number | undefined {
  for (const k of Object.keys(f)) if (!PRUNE_FILTERS.has(k)) throw invalidArgument(`invalid filter '${k}'`);
  const until = f.until ?? [];
  if (until.length > 1) throw invalidArgument('more than one until filter specified');
  return until.length ? parseUntil(until[0]!, nowMs) : undefined;
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

/** One service's entry in `network inspect --verbose` (moby's network.ServiceInfo). */
export interface NetworkServiceInfo {
  VIP: string;
  Ports: string[];
  LocalLBIndex: number;
  Tasks: { Name: string; EndpointID: string; EndpointIP: string; Info: Record<string, string> }[];
}

export interface VerboseInput {
  services: Service[];
  tasks: Task[];
  /** Node ID → its address (Docker's `Host IP`). */
  nodeAddr: (nodeId: string) => string | undefined;
  endpointId: (key: string) => string;
}

const bareIp = (cidr: string | undefined): string => (cidr ?? '').split('/')[0] ?? '';

/**
 * The `Services` section Docker shows for a swarm network with `verbose=true`: per service with tasks
 * on the network, its VIP there, its ingress ports (libnetwork's "Target: T, Publish: P" lines, on
 * `ingress` only) and every live task's address and node. Docker builds it from its gossip table;
 * here it comes from the store, which holds the same facts. LocalLBIndex is a per-node load
 * balancer slot in Docker's kernel IPVS; this mesh has none, so it numbers services from 256 as Docker does.
 */
export function networkServices(n: Network, input: VerboseInput): Record<string, NetworkServiceInfo> {
  const out: Record<string, NetworkServiceInfo> = {};
  const byId = new Map(input.services.map((s) => [s.ID, s]));
  let lb = 256;
  for (const t of input.tasks) {
    if (t.DesiredState !== 'running' || isTerminal(t.Status.State)) continue;
    const att = (t.NetworksAttachments ?? []).find((a) => a.Network.ID === n.ID);
    const s = byId.get(t.ServiceID);
    if (!att || !s) continue;
    let info = out[s.Spec.Name];
    if (!info) {
      const vip = (s.Endpoint?.VirtualIPs ?? []).find((v) => v.NetworkID === n.ID);
      const ports = n.Spec.Ingress ? (s.Endpoint?.Ports ?? []).filter((p) => (p.PublishMode ?? 'ingress') === 'ingress') : [];
      info = { VIP: bareIp(vip?.Addr), Ports: ports.map((p) => `Target: ${p.TargetPort}, Publish: ${p.PublishedPort ?? 0}`), LocalLBIndex: ++lb, Tasks: [] };
      out[s.Spec.Name] = info;
    }
    const slot = t.Slot !== undefined && t.Slot !== 0 ? String(t.Slot) : (t.NodeID ?? '');
    info.Tasks.push({
      Name: `${s.Spec.Name}.${slot}.${t.ID}`,
      EndpointID: input.endpointId(`${n.ID}/${t.ID}`),
      EndpointIP: bareIp(att.Addresses[0]),
      Info: { 'Host IP': input.nodeAddr(t.NodeID ?? '') ?? '' },
    });
  }
  return out;
}
