import { addrOfCidr, ipOfCidr } from '../../../lib/ipam';
import type { Network, Node, NodeNetworkEntry, Service, Task, VipEntry } from '../../../types';
import { networksByNode, OVERLAY_ENCRYPTED_OPTION, OVERLAY_VNI_OPTION } from '../../../types';
import { isReadyBackend } from './ingress';

// What each node must program for its swarm networks: the networks its tasks are on (and `ingress`
// everywhere, the routing mesh reaches docker tasks over it), the other nodes there (VXLAN peers) and
// the VIPs of those networks with their ready backends. Computed once for all nodes from one read.

export interface NetViewInput {
  networks: Network[];
  services: Service[];
  tasks: Task[];
  nodes: Map<string, Node>;
}

export interface NodeNetworks {
  networks: NodeNetworkEntry[];
  vips: VipEntry[];
}

/** Every node's networks and VIPs. Nodes without any (no ingress network, no tasks) map to empty lists. */
export function nodeNetworkViews(input: NetViewInput): Map<string, NodeNetworks> {
  const byNode = networksByNode(input.tasks);
  const ingress = input.networks.find((n) => n.Spec.Ingress);
  const nets = new Map(input.networks.map((n) => [n.ID, n]));
  // network → nodes on it (ingress: every node)
  const members = new Map<string, Set<string>>();
  for (const [node, ids] of byNode) {
    for (const id of ids) {
      if (!nets.has(id)) continue;
      let set = members.get(id);
      if (!set) members.set(id, (set = new Set()));
      set.add(node);
    }
  }
  if (ingress) members.set(ingress.ID, new Set(input.nodes.keys()));
  // Each network's peer addresses once, not once per node: with ingress on every node, asking every
  // node's members for each node was N² lookups and sorts per recompute (45 % of a leader's CPU
  // while 1,000 nodes joined).
  const peerAddrs = new Map<string, string[]>();
  const addrsOf = (id: string): string[] => {
    let addrs = peerAddrs.get(id);
    if (!addrs) peerAddrs.set(id, (addrs = upAddrs(members.get(id) ?? new Set(), input.nodes)));
    return addrs;
  };
  const vipsByNet = vipTable(input);
  const out = new Map<string, NodeNetworks>();
  for (const nodeId of input.nodes.keys()) {
    const ids = new Set(byNode.get(nodeId) ?? []);
    if (ingress) ids.add(ingress.ID);
    const entries: NodeNetworkEntry[] = [];
    const vips: VipEntry[] = [];
    for (const id of [...ids].sort()) {
      const n = nets.get(id);
      const e = n && entryOf(n, nodeId, addrsOf(id), input.nodes);
      if (!e) continue;
      entries.push(e);
      vips.push(...(vipsByNet.get(id) ?? []));
    }
    out.set(nodeId, { networks: entries, vips });
  }
  return out;
}

/** The addresses of a network's members that are up, each once, sorted. */
function upAddrs(members: Set<string>, nodes: Map<string, Node>): string[] {
  const addrs = new Set<string>();
  for (const id of members) {
    const node = nodes.get(id);
    const addr = node?.Status.Addr;
    if (node && addr && node.Status.State !== 'down') addrs.add(addr);
  }
  return [...addrs].sort();
}

/** A node's entry for a network; its peers are the members' addresses other than its own (`addrs`: upAddrs). */
function entryOf(n: Network, nodeId: string, addrs: string[], nodes: Map<string, Node>): NodeNetworkEntry | undefined {
  const cfg = n.IPAMOptions.Configs?.[0];
  if (!cfg) return undefined;
  const self = nodes.get(nodeId)?.Status.Addr;
  const e: NodeNetworkEntry = {
    id: n.ID,
    name: n.Spec.Name,
    subnet: cfg.Subnet,
    gateway: cfg.Gateway,
    vni: n.internal?.vni ?? Number(n.DriverState.Options[OVERLAY_VNI_OPTION] ?? 0),
    ingress: !!n.Spec.Ingress,
    encrypted: OVERLAY_ENCRYPTED_OPTION in (n.Spec.DriverConfiguration?.Options ?? {}) || OVERLAY_ENCRYPTED_OPTION in n.DriverState.Options,
    peers: self ? addrs.filter((a) => a !== self) : [...addrs],
  };
  const own = n.internal?.nodeAddrs?.[nodeId];
  if (own) e.nodeAddr = own;
  return e;
}

/**
 * Network ID → the VIPs on it, each with the addresses of its service's ready tasks there. Not for
 * `ingress`: the routing mesh balances published ports itself, and no task resolves names there.
 */
export function vipTable(input: NetViewInput): Map<string, VipEntry[]> {
  const ready = new Map<string, Task[]>();
  for (const t of input.tasks) {
    if (!isReadyBackend(t, input.nodes.get(t.NodeID ?? ''))) continue;
    const list = ready.get(t.ServiceID) ?? [];
    list.push(t);
    ready.set(t.ServiceID, list);
  }
  const ingressId = input.networks.find((n) => n.Spec.Ingress)?.ID;
  const out = new Map<string, VipEntry[]>();
  for (const s of input.services) {
    for (const v of s.Endpoint?.VirtualIPs ?? []) {
      if (v.NetworkID === ingressId || ipOfCidr(v.Addr) === undefined) continue;
      const backends = (ready.get(s.ID) ?? [])
        .flatMap((t) => (t.NetworksAttachments ?? []).filter((a) => a.Network.ID === v.NetworkID).flatMap((a) => a.Addresses.map(addrOfCidr)))
        .sort();
      const list = out.get(v.NetworkID) ?? [];
      list.push({ networkId: v.NetworkID, serviceId: s.ID, serviceName: s.Spec.Name, vip: addrOfCidr(v.Addr), backends });
      out.set(v.NetworkID, list);
    }
  }
  for (const list of out.values()) list.sort((a, b) => (a.vip < b.vip ? -1 : a.vip > b.vip ? 1 : 0));
  return out;
}
