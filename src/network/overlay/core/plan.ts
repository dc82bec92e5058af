import type { NodeNetworkEntry, VipEntry } from '../../../types';

// The overlay's decisions, pure: what `ip`/`bridge` commands bring a node's devices for one swarm
// network from what they are to what the network view asks, the engine network that puts task
// containers on the bridge, and the nftables rules that give a container its networks' VIPs. The
// executor (../overlay.ts) reads the current state, runs these, and nothing else.

export const OVERLAY_MTU = 1450;
export const VXLAN_PORT = 4789;
/** The head-end replication entry: every broadcast and unknown frame goes to each peer. */
export const ZERO_MAC = '00:00:00:00:00:00';
/** Label on the engine networks Shoal creates: the swarm network's ID. */
export const ENGINE_NETWORK_LABEL = 'com.shoal.network.id';
const BRIDGE_PREFIX = 'shb';
const VXLAN_PREFIX = 'shv';

/** Interface names are at most 15 bytes: a prefix and the network ID's first 8 characters. */
export function deviceNames(networkId: string): { bridge: string; vxlan: string } {
  const id = networkId.slice(0, 8);
  return { bridge: `${BRIDGE_PREFIX}${id}`, vxlan: `${VXLAN_PREFIX}${id}` };
}

/**
 * Shoal marks its devices with this alias (and the network ID): only devices so marked are ever
 * changed or removed, whatever else on the host is named alike.
 */
export const DEVICE_ALIAS_PREFIX = 'shoal-overlay:';

/** The 8-character ID part of one of Shoal's device names (marked with its alias), or undefined for any other device. */
export function idOfDevice(name: string, alias: string | undefined): string | undefined {
  if (!alias?.startsWith(DEVICE_ALIAS_PREFIX)) return undefined;
  return name.startsWith(BRIDGE_PREFIX) || name.startsWith(VXLAN_PREFIX) ? name.slice(3) : undefined;
}

/** What a node has for one network, as read from `ip -j` and `bridge -j`. */
export interface LinkState {
  bridge?: { mtu: number; up: boolean; addrs: string[] };
  vxlan?: { vni: number; local?: string; port?: number; master?: string; mtu: number; up: boolean };
  /** Peers of the all-zero FDB entries on the VXLAN device. */
  fdb: string[];
}

export type Command = string[];

/**
 * The commands that make the devices match the entry: a bridge with the node's own address (and no
 * other: never the gateway, see networking.md §2.3), a VXLAN device of the network's VNI from the
 * node's underlay address, enslaved to it, and one all-zero FDB entry per peer. Without `prune`
 * (a task's attachment, before the view names the network) nothing is taken away.
 */
export function linkPlan(e: NodeNetworkEntry, localAddr: string, have: LinkState, prune = true): Command[] {
  const { bridge, vxlan } = deviceNames(e.id);
  const out: Command[] = [];
  const mtu = String(OVERLAY_MTU);
  const alias = `${DEVICE_ALIAS_PREFIX}${e.id}`;
  if (!have.bridge) out.push(['ip', 'link', 'add', bridge, 'mtu', mtu, 'type', 'bridge'], ['ip', 'link', 'set', bridge, 'alias', alias]);
  else if (have.bridge.mtu !== OVERLAY_MTU) out.push(['ip', 'link', 'set', bridge, 'mtu', mtu]);
  const v = have.vxlan;
  const vxlanOk = v && v.vni === e.vni && v.local === localAddr && (v.port ?? VXLAN_PORT) === VXLAN_PORT;
  if (v && !vxlanOk) out.push(['ip', 'link', 'del', vxlan]);
  if (!vxlanOk) {
    out.push(['ip', 'link', 'add', vxlan, 'mtu', mtu, 'type', 'vxlan', 'id', String(e.vni), 'local', localAddr, 'dstport', String(VXLAN_PORT)], ['ip', 'link', 'set', vxlan, 'alias', alias]);
  }
  if (!vxlanOk || v.master !== bridge || v.mtu !== OVERLAY_MTU) out.push(['ip', 'link', 'set', vxlan, 'master', bridge, 'mtu', mtu]);
  if (!vxlanOk || !v.up) out.push(['ip', 'link', 'set', vxlan, 'up']);
  if (!have.bridge?.up) out.push(['ip', 'link', 'set', bridge, 'up']);
  const addrs = have.bridge?.addrs ?? [];
  if (prune) for (const a of addrs) if (a !== e.nodeAddr) out.push(['ip', 'addr', 'del', a, 'dev', bridge]);
  if (e.nodeAddr && !addrs.includes(e.nodeAddr)) out.push(['ip', 'addr', 'add', e.nodeAddr, 'dev', bridge]);
  const fdb = vxlanOk ? have.fdb : [];
  if (prune) for (const p of fdb) if (!e.peers.includes(p)) out.push(['bridge', 'fdb', 'del', ZERO_MAC, 'dev', vxlan, 'dst', p]);
  for (const p of e.peers) if (!fdb.includes(p)) out.push(['bridge', 'fdb', 'append', ZERO_MAC, 'dev', vxlan, 'dst', p]);
  return out;
}

/** Removing both devices (the bridge's ports go with it). */
export function teardownPlan(networkId: string, have: { bridge: boolean; vxlan: boolean }): Command[] {
  const { bridge, vxlan } = deviceNames(networkId);
  const out: Command[] = [];
  if (have.vxlan) out.push(['ip', 'link', 'del', vxlan]);
  if (have.bridge) out.push(['ip', 'link', 'del', bridge]);
  return out;
}

/**
 * The engine network on the bridge. `Internal` and `inhibit_ipv4`: every node's bridge is one L2
 * segment over VXLAN, so if each held the gateway address they would all answer ARP for it across the
 * tunnel; instead no bridge has the gateway, containers get no default route through it, and the
 * bridge carries only the node's own address.
 */
export function engineNetworkSpec(e: NodeNetworkEntry): { Name: string; Driver: string; CheckDuplicate: boolean; Internal: boolean; IPAM: { Driver: string; Config: { Subnet: string; Gateway: string }[] }; Options: Record<string, string>; Labels: Record<string, string> } {
  return {
    Name: engineNetworkName(e),
    Driver: 'bridge',
    CheckDuplicate: true,
    Internal: true,
    IPAM: { Driver: 'default', Config: [{ Subnet: e.subnet, Gateway: e.gateway }] },
    Options: {
      'com.docker.network.bridge.name': deviceNames(e.id).bridge,
      'com.docker.network.bridge.inhibit_ipv4': 'true',
      'com.docker.network.bridge.enable_ip_masquerade': 'false',
      'com.docker.network.driver.mtu': String(OVERLAY_MTU),
    },
    Labels: { [ENGINE_NETWORK_LABEL]: e.id },
  };
}

/** Docker's name for the per-node network that gives swarm task containers their way out. */
export const EGRESS_NETWORK = 'docker_gwbridge';
/** Label on the egress network when Shoal made it (only then does a leave remove it). */
export const EGRESS_LABEL = 'com.shoal.gwbridge';

/**
 * The egress network as Docker's swarm makes `docker_gwbridge`: a bridge with masquerading and no
 * inter-container traffic (containers of different networks must not meet there).
 */
export function egressNetworkSpec(): { Name: string; Driver: string; CheckDuplicate: boolean; Options: Record<string, string>; Labels: Record<string, string> } {
  return {
    Name: EGRESS_NETWORK,
    Driver: 'bridge',
    CheckDuplicate: true,
    Options: {
      'com.docker.network.bridge.name': EGRESS_NETWORK,
      'com.docker.network.bridge.enable_icc': 'false',
      'com.docker.network.bridge.enable_ip_masquerade': 'true',
    },
    Labels: { [EGRESS_LABEL]: '' },
  };
}

/** The engine network's name: the swarm network's, as a container's `NetworkSettings` show it. */
export function engineNetworkName(e: { name: string }): string {
  return e.name;
}

/** The nftables table Shoal owns inside a task container's network namespace. */
export const VIP_TABLE = 'shoal_vip';

/**
 * The rule set that gives a container the VIPs of its networks: DNAT of every packet to a VIP (any
 * port, TCP and UDP alike, as IPVS does for Docker's VIPs) to one ready backend picked at random per
 * connection; a VIP without ready backends refuses at once. Replaces the table whole (atomic in nft).
 */
export function vipRuleset(vips: VipEntry[]): string {
  const nat: string[] = [];
  const refuse: string[] = [];
  for (const v of [...vips].sort((a, b) => (a.vip < b.vip ? -1 : a.vip > b.vip ? 1 : 0))) {
    const b = v.backends;
    if (b.length === 0) refuse.push(`    ip daddr ${v.vip} reject`);
    else if (b.length === 1) nat.push(`    ip daddr ${v.vip} dnat to ${b[0]}`);
    else nat.push(`    ip daddr ${v.vip} dnat to numgen random mod ${b.length} map { ${b.map((x, i) => `${i} : ${x}`).join(', ')} }`);
  }
  return [
    `table ip ${VIP_TABLE} {}`,
    `delete table ip ${VIP_TABLE}`,
    `table ip ${VIP_TABLE} {`,
    '  chain vip {',
    '    type nat hook output priority -100; policy accept;',
    ...nat,
    '  }',
    '  chain none {',
    '    type filter hook output priority 0; policy accept;',
    ...refuse,
    '  }',
    '}',
    '',
  ].join('\n');
}
