import { AddressBlock, ipOfCidr, parseCidr, parseIp } from '../../../lib/ipam';
import { IngressPorts, isIngress } from '../../../lib/ingress-ports';
import type { Endpoint, Network, NetworkAttachment, PortConfig, Service, Task } from '../../../types';
import { holdsAddresses, networksByNode, serviceNetworkTargets } from '../../../types';

// What the allocator has handed out: addresses per network, ingress ports. Derived from the store:
// `build` replays the networks, services, tasks and nodes it holds (at every leader start and after a
// failed write); afterwards the loop keeps it current with what it commits and what is released.

export interface StoreContents {
  networks: Network[];
  services: Service[];
  tasks: Task[];
}

export { holdsAddresses };

export class AllocationState {
  private readonly blocks = new Map<string, AddressBlock>();
  readonly ports = new IngressPorts();

  static build(c: StoreContents): AllocationState {
    const s = new AllocationState();
    for (const n of c.networks) s.addNetwork(n);
    for (const svc of c.services) s.reserveService(svc);
    for (const t of c.tasks) if (holdsAddresses(t)) s.reserveTask(t);
    return s;
  }

  addNetwork(n: Network): void {
    const cfg = n.IPAMOptions.Configs?.[0];
    const subnet = cfg && parseCidr(cfg.Subnet);
    if (!cfg || !subnet) return;
    const gw = parseIp(cfg.Gateway) ?? subnet.base + 1;
    const block = new AddressBlock(subnet, gw, (cfg.Range && parseCidr(cfg.Range)) || subnet);
    this.blocks.set(n.ID, block);
    for (const a of Object.values(n.internal?.nodeAddrs ?? {})) this.reserveAddr(n.ID, a);
  }

  removeNetwork(id: string): void {
    this.blocks.delete(id);
  }

  private reserveAddr(netId: string, cidr: string): void {
    const ip = ipOfCidr(cidr);
    if (ip !== undefined) this.blocks.get(netId)?.reserve(ip);
  }

  private releaseAddr(netId: string, cidr: string): void {
    const ip = ipOfCidr(cidr);
    if (ip !== undefined) this.blocks.get(netId)?.release(ip);
  }

  reserveService(s: Service): void {
    for (const v of s.Endpoint?.VirtualIPs ?? []) this.reserveAddr(v.NetworkID, v.Addr);
    for (const p of s.Endpoint?.Ports ?? []) if (isIngress(p) && p.PublishedPort) this.ports.reserve(p.Protocol, p.PublishedPort, s.ID);
  }

  releaseService(s: Service): void {
    for (const v of s.Endpoint?.VirtualIPs ?? []) this.releaseAddr(v.NetworkID, v.Addr);
    for (const p of s.Endpoint?.Ports ?? []) if (isIngress(p) && p.PublishedPort) this.ports.release(p.Protocol, p.PublishedPort, s.ID);
  }

  reserveTask(t: Task): void {
    for (const a of t.NetworksAttachments ?? []) for (const addr of a.Addresses) this.reserveAddr(a.Network.ID, addr);
  }

  releaseTask(t: Task): void {
    for (const a of t.NetworksAttachments ?? []) for (const addr of a.Addresses) this.releaseAddr(a.Network.ID, addr);
  }

  private allocateAddr(netId: string): string | undefined {
    const b = this.blocks.get(netId);
    const ip = b?.allocate();
    return ip === undefined ? undefined : b!.cidrOf(ip);
  }

  /**
   * The endpoint a service should have: its VIPs (one per network in vip mode, kept across updates)
   * and its published ports (ingress ones taken from the cluster's port space, dynamic ones from
   * 30000–32767 and kept across updates). Undefined when it cannot be allocated yet (a network without
   * addresses left, no dynamic port left); the state is left as it was then.
   */
  serviceEndpoint(s: Service, networks: Map<string, Network>): Endpoint | undefined {
    const spec = s.Spec.EndpointSpec ?? { Mode: 'vip' };
    const wanted = this.serviceNetworks(s, networks);
    const old = s.Endpoint ?? { Spec: spec };
    const undo: (() => void)[] = [];
    const fail = () => {
      for (const u of undo.reverse()) u();
      return undefined;
    };
    // Ports first: a port that cannot be had leaves the service as it was.
    const ports: PortConfig[] = [];
    const oldPorts = old.Ports ?? [];
    const kept = new Set<PortConfig>();
    for (const p of spec.Ports ?? []) {
      const base: PortConfig = { Protocol: p.Protocol ?? 'tcp', TargetPort: p.TargetPort, PublishMode: p.PublishMode ?? 'ingress' };
      if (p.Name) base.Name = p.Name;
      if (!isIngress(base)) {
        ports.push({ ...base, PublishedPort: p.PublishedPort ?? 0 });
        continue;
      }
      if (p.PublishedPort) {
        const had = this.ports.ownerOf(base.Protocol, p.PublishedPort) === s.ID;
        if (!this.ports.reserve(base.Protocol, p.PublishedPort, s.ID)) return fail();
        if (!had) undo.push(() => this.ports.release(base.Protocol, p.PublishedPort!, s.ID));
        ports.push({ ...base, PublishedPort: p.PublishedPort });
        continue;
      }
      const prev = oldPorts.find((o) => !kept.has(o) && isIngress(o) && (o.Protocol ?? 'tcp') === base.Protocol && o.TargetPort === p.TargetPort && o.PublishedPort && this.ports.ownerOf(base.Protocol, o.PublishedPort) === s.ID && !(spec.Ports ?? []).some((q) => q.PublishedPort === o.PublishedPort));
      if (prev) {
        kept.add(prev);
        ports.push({ ...base, PublishedPort: prev.PublishedPort });
        continue;
      }
      const port = this.ports.allocateDynamic(base.Protocol, s.ID);
      if (port === undefined) return fail();
      undo.push(() => this.ports.release(base.Protocol, port, s.ID));
      ports.push({ ...base, PublishedPort: port });
    }
    const vips: { NetworkID: string; Addr: string }[] = [];
    if ((spec.Mode ?? 'vip') === 'vip') {
      for (const id of wanted) {
        const had = (old.VirtualIPs ?? []).find((v) => v.NetworkID === id);
        if (had) {
          vips.push(had);
          continue;
        }
        const addr = this.allocateAddr(id);
        if (!addr) return fail();
        undo.push(() => this.releaseAddr(id, addr));
        vips.push({ NetworkID: id, Addr: addr });
      }
    }
    // Release what the new endpoint no longer holds.
    for (const v of old.VirtualIPs ?? []) if (!vips.some((x) => x.NetworkID === v.NetworkID && x.Addr === v.Addr)) this.releaseAddr(v.NetworkID, v.Addr);
    for (const p of oldPorts) {
      if (isIngress(p) && p.PublishedPort && !ports.some((x) => isIngress(x) && x.Protocol === (p.Protocol ?? 'tcp') && x.PublishedPort === p.PublishedPort)) {
        this.ports.release(p.Protocol, p.PublishedPort, s.ID);
      }
    }
    const ep: Endpoint = { Spec: spec };
    if (ports.length) ep.Ports = ports;
    if (vips.length) ep.VirtualIPs = vips;
    return ep;
  }

  /** The networks a service's tasks join: its own, and `ingress` when it publishes a port in ingress mode. */
  serviceNetworks(s: Service, networks: Map<string, Network>): string[] {
    const ids = serviceNetworkTargets(s.Spec).filter((id) => networks.has(id));
    const ingress = [...networks.values()].find((n) => n.Spec.Ingress);
    if (ingress && (s.Spec.EndpointSpec?.Ports ?? []).some(isIngress)) ids.unshift(ingress.ID);
    return [...new Set(ids)];
  }

  /** A task's attachments, one address on each of its service's networks; undefined when an address cannot be had. */
  taskAttachments(t: Task, s: Service, networks: Map<string, Network>): NetworkAttachment[] | undefined {
    const out: NetworkAttachment[] = [];
    for (const id of this.serviceNetworks(s, networks)) {
      const addr = this.allocateAddr(id);
      if (!addr) {
        for (const a of out) for (const x of a.Addresses) this.releaseAddr(a.Network.ID, x);
        return undefined;
      }
      const { internal: _i, ...net } = networks.get(id)!;
      out.push({ Network: net, Addresses: [addr] });
    }
    return out;
  }

  /**
   * Each node's own address on a network (Docker's `ingress-sbox` / `lb-<net>` endpoints): kept for
   * the nodes in `nodeIds`, released for the others, taken for the new ones. A node for which no
   * address is left is left out until one frees (its tasks there still run; the mesh and DNS on that
   * node wait for it).
   */
  nodeAddresses(n: Network, nodeIds: Iterable<string>): Record<string, string> {
    const cur = n.internal.nodeAddrs ?? {};
    const wanted = new Set(nodeIds);
    const next: Record<string, string> = {};
    for (const [id, addr] of Object.entries(cur)) {
      if (wanted.has(id)) next[id] = addr;
      else this.releaseAddr(n.ID, addr);
    }
    for (const id of [...wanted].sort()) {
      if (next[id]) continue;
      const addr = this.allocateAddr(n.ID);
      if (addr) next[id] = addr;
    }
    return next;
  }

  /**
   * The networks whose node addresses must change: `ingress` has one for every node, every other
   * network one for each node with a task on it that holds its addresses. Returns updated copies.
   * `tasks` is read only when such another network has addresses here (a scan of every task).
   */
  nodeAddressUpdates(networks: Iterable<Network>, nodeIds: string[], tasks: () => Iterable<Task>): Network[] {
    let members: Map<string, string[]> | undefined;
    const membersOf = (networkId: string): string[] => {
      if (!members) {
        members = new Map();
        for (const [node, ids] of networksByNode(tasks())) for (const id of ids) members.set(id, [...(members.get(id) ?? []), node]);
      }
      return members.get(networkId) ?? [];
    };
    const out: Network[] = [];
    for (const n of networks) {
      if (!this.blocks.has(n.ID)) continue;
      const want = n.Spec.Ingress ? nodeIds : membersOf(n.ID);
      const addrs = this.nodeAddresses(n, want);
      if (sameRecord(addrs, n.internal.nodeAddrs ?? {})) continue;
      out.push({ ...n, internal: { ...n.internal, nodeAddrs: addrs } });
    }
    return out;
  }

  /** What is taken, in a comparable form (the property tests compare the live state with a rebuild). */
  summary(): { addrs: Record<string, number[]>; ports: [string, string][] } {
    const addrs: Record<string, number[]> = {};
    for (const [id, b] of [...this.blocks.entries()].sort(([a], [b2]) => a.localeCompare(b2))) addrs[id] = b.taken();
    return { addrs, ports: this.ports.entries() };
  }
}

function sameRecord(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
