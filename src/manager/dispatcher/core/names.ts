import type { Network, NetworkAttachmentConfig, NetworkNames, Node, Service, Task } from '../../../types';
import { containerName } from '../../../types';
import { isReadyBackend } from './ingress';

// The name table: for every swarm network, the names a task on it resolves through its node's
// embedded DNS server (docs/design/dns.md). It follows what libnetwork registers per network
// (service_common.go addEndpointNameResolution / addContainerNameResolution):
// - `<service>` and each network alias → the service's VIP on the network (vip mode) or the task
//   addresses (dnsrr); like Docker, only while at least one task is up on the network;
// - `tasks.<service>` and `tasks.<alias>` → the task addresses;
// - each task's container name `<service>.<slot>.<taskId>`, its container's short ID and its plain
//   hostname → its address (Docker's DNSNames; `<service>.<slot>` alone is NOT a name Docker answers).
// "Up" is the routing mesh's readiness, so a task leaves DNS and the balancers together.
// Names are stored lower-case: libnetwork lower-cases every query.

function bare(cidr: string): string {
  const i = cidr.indexOf('/');
  return i < 0 ? cidr : cidr.slice(0, i);
}

function specNetworks(s: Service): NetworkAttachmentConfig[] {
  return s.Spec.TaskTemplate.Networks?.length ? s.Spec.TaskTemplate.Networks : (s.Spec.Networks ?? []);
}

/** The names a task is known by besides its service's: container name, short container ID, hostname. */
export function taskDnsNames(t: Task): string[] {
  const out = [containerName(t)];
  const cid = t.Status.ContainerStatus?.ContainerID;
  if (cid && /^[0-9a-f]{12,}$/.test(cid)) out.push(cid.slice(0, 12));
  const host = t.Spec.ContainerSpec?.Hostname;
  // A templated hostname is expanded on the node; only a literal one is known here.
  if (host && !host.includes('{{')) out.push(host);
  return out;
}

class Records {
  private readonly map = new Map<string, Set<string>>();
  add(name: string, addrs: Iterable<string>): void {
    const key = name.toLowerCase();
    let set = this.map.get(key);
    if (!set) this.map.set(key, (set = new Set()));
    for (const a of addrs) set.add(a);
  }
  toObject(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const k of [...this.map.keys()].sort()) out[k] = [...this.map.get(k)!].sort(compareAddr);
    return out;
  }
}

function compareAddr(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 4; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return a < b ? -1 : a > b ? 1 : 0;
}

function networkNames(n: Network, services: Service[], tasksOf: Map<string, Task[]>, nodes: Map<string, Node>): NetworkNames {
  const records = new Records();
  const ptr: Record<string, string> = {};
  for (const s of services) {
    const up: { task: Task; addr: string }[] = [];
    for (const t of tasksOf.get(s.ID) ?? []) {
      if (!isReadyBackend(t, nodes.get(t.NodeID ?? ''))) continue;
      const att = t.NetworksAttachments?.find((a) => a.Network.ID === n.ID);
      const addr = att?.Addresses[0];
      if (addr) up.push({ task: t, addr: bare(addr) });
    }
    if (up.length === 0) continue;
    const addrs = up.map((u) => u.addr);
    const entry = specNetworks(s).find((e) => e.Target === n.ID || e.Target === n.Spec.Name);
    const names = [s.Spec.Name, ...(entry?.Aliases ?? [])];
    const vip = s.Endpoint?.Spec?.Mode === 'dnsrr' ? undefined : s.Endpoint?.VirtualIPs?.find((v) => v.NetworkID === n.ID)?.Addr;
    for (const name of names) {
      records.add(name, vip ? [bare(vip)] : addrs);
      records.add(`tasks.${name}`, addrs);
    }
    for (const u of up) {
      for (const name of taskDnsNames(u.task)) records.add(name, [u.addr]);
      ptr[u.addr] = containerName(u.task);
    }
  }
  return { networkId: n.ID, networkName: n.Spec.Name, ingress: !!n.Spec.Ingress, records: records.toObject(), ptr };
}

/** The name table of every swarm network, sorted by network name. */
export function namesTable(networks: Network[], services: Service[], tasks: Task[], nodes: Map<string, Node>): NetworkNames[] {
  const tasksOf = new Map<string, Task[]>();
  for (const t of tasks) {
    const list = tasksOf.get(t.ServiceID);
    if (list) list.push(t);
    else tasksOf.set(t.ServiceID, [t]);
  }
  const sorted = [...services].sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0));
  return [...networks]
    .sort((a, b) => (a.Spec.Name < b.Spec.Name ? -1 : a.Spec.Name > b.Spec.Name ? 1 : 0))
    .map((n) => networkNames(n, sorted, tasksOf, nodes));
}
