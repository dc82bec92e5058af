import { conflict, failedPrecondition, invalidArgument, notFound } from '../../lib/errors';
import { newId } from '../../lib/ids';
import { isIngress, portKey } from '../../lib/ingress-ports';
import { isoTime } from '../../lib/time';
import type { ReadTx } from '../../store';
import type { Network, NetworkCreateRequest, Service, ServiceSpec } from '../../types';
import type { ControlApiDeps } from './deps';
import { labelMatches, type Filters } from './core/filters';
import { buildNetwork, checkNetworkRemovable, validateNetworkCreate } from './core/networks';
import { resolveRef } from './core/resolve';
import { grpcText } from './core/validate';

/**
 * The swarm's networks through the control API: create (subnet and VXLAN ID chosen in the same
 * transaction), list, get, remove, prune. The allocator gives addresses to services and tasks.
 */
export class NetworkControl {
  constructor(private deps: Pick<ControlApiDeps, 'store' | 'clock' | 'rng'>) {}

  private get store() {
    return this.deps.store;
  }

  async createNetwork(req: NetworkCreateRequest): Promise<string> {
    validateNetworkCreate(req);
    const id = newId(this.deps.rng);
    await this.store.update((tx) => {
      const existing = tx.find('network');
      if (existing.some((n) => n.Spec.Name === req.Name)) throw conflict(`network with name ${req.Name} already exists`);
      if (req.Ingress) {
        const ing = existing.find((n) => n.Spec.Ingress);
        if (ing) throw conflict(grpcText('AlreadyExists', `ingress network (${ing.ID}) is already present`));
      }
      const cluster = tx.find('cluster')[0];
      const net = buildNetwork(req, {
        id,
        now: isoTime(this.deps.clock.now()),
        existing,
        pools: cluster?.DefaultAddrPool?.length ? cluster.DefaultAddrPool : ['10.0.0.0/8'],
        subnetSize: cluster?.SubnetSize || 24,
      });
      tx.create('network', net);
    });
    return id;
  }

  listNetworks(f: Filters): Network[] {
    return this.store.read((tx) => {
      const nets = tx.find('network', (n) => networkMatches(n, f));
      const dangling = f.dangling?.[0]?.toLowerCase();
      if (dangling === undefined) return nets;
      // moby's `dangling`: true lists the networks nothing uses (never a predefined one; on a swarm
      // that is none of these), false the ones in use.
      const want = dangling === 'true' || dangling === '1';
      const services = tx.find('service');
      return nets.filter((n) => inUse(tx, n, services) !== want);
    });
  }

  getNetwork(ref: string): Network {
    return this.store.read((tx) => resolveNetwork(tx, ref));
  }

  async removeNetwork(ref: string): Promise<void> {
    await this.store.update((tx) => {
      const n = resolveNetwork(tx, ref);
      checkNetworkRemovable(n, tx.find('service'), tx.find('task', (t) => (t.NetworksAttachments ?? []).some((a) => a.Network.ID === n.ID)));
      tx.delete('network', n.ID);
    });
  }

  /**
   * Removes every swarm network no service or task uses (never `ingress`); the names removed. Filters:
   * `label` (all must match), `label!` (none may match), `until` (created before, epoch ms: the API
   * normalizes what clients send).
   */
  async pruneNetworks(f: Filters): Promise<string[]> {
    const removed: string[] = [];
    const until = f.until?.length ? Number(f.until[0]) : undefined;
    const wanted = (o: Network) =>
      !o.Spec.Ingress &&
      networkMatches(o, { label: f.label ?? [] }) &&
      !(f['label!'] ?? []).some((l) => labelMatches(o.Spec.Labels, l)) &&
      (until === undefined || Date.parse(o.CreatedAt) < until);
    await this.store.update((tx) => {
      const services = tx.find('service');
      for (const n of tx.find('network', wanted)) {
        if (inUse(tx, n, services)) continue;
        tx.delete('network', n.ID);
        removed.push(n.Spec.Name);
      }
    });
    return removed;
  }
}

/** True when a service or a live task uses the network (what makes `network rm` refuse it). */
function inUse(tx: ReadTx, n: Network, services: Service[]): boolean {
  const tasks = tx.find('task', (t) => (t.NetworksAttachments ?? []).some((a) => a.Network.ID === n.ID));
  try {
    checkNetworkRemovable(n, services, tasks);
    return false;
  } catch {
    return true;
  }
}

export function resolveNetwork(tx: ReadTx, ref: string): Network {
  try {
    return resolveRef(tx.find('network'), ref, (n) => n.Spec.Name, 'network');
  } catch (e) {
    // moby's text for a network the swarm does not know.
    if (e instanceof Error && e.name === 'NotFound') throw notFound(`network ${ref} not found`);
    throw e;
  }
}

export function networkMatches(n: Network, f: Filters): boolean {
  const any = (vals: string[] | undefined, pred: (v: string) => boolean) => !vals || vals.length === 0 || vals.some(pred);
  return (
    any(f.id, (v) => n.ID.startsWith(v)) &&
    any(f.name, (v) => n.Spec.Name.includes(v)) &&
    any(f.driver, (v) => v === 'overlay') &&
    any(f.scope, (v) => v === 'swarm') &&
    // moby's "builtin" is the engine's predefined networks (bridge, host, none): every swarm network is "custom".
    any(f.type, (v) => v === 'custom') &&
    (f.label ?? []).every((l) => labelMatches(n.Spec.Labels, l))
  );
}

/**
 * What the daemon does before a service spec reaches the store: network references (names or ID
 * prefixes, as the CLI sends them) become network IDs, and published ports are checked against the
 * other services' as swarmkit's controlapi does, with its texts.
 */
export function resolveServiceNetworks(tx: ReadTx, spec: ServiceSpec): void {
  const resolve = (list: { Target: string }[] | undefined) => {
    for (const a of list ?? []) {
      const n = resolveNetwork(tx, a.Target);
      if (n.Spec.Ingress) throw invalidArgument(grpcText('InvalidArgument', 'Service cannot be explicitly attached to the ingress network "ingress"'));
      a.Target = n.ID;
    }
  };
  resolve(spec.TaskTemplate.Networks);
  resolve(spec.Networks);
}

/**
 * swarmkit's create/update checks of published ports: conflicts with other services' ports (texts
 * below), then, as swarmkit does right after, that an ingress network exists when a port is
 * published in ingress mode (it can be removed, and recreated with `network create --ingress`).
 */
export function checkPortConflicts(tx: ReadTx, spec: ServiceSpec, serviceId: string | undefined): void {
  checkConflicts(tx, spec, serviceId);
  if ((spec.EndpointSpec?.Ports ?? []).some(isIngress) && !tx.find('network', (n) => !!n.Spec.Ingress).length) {
    throw failedPrecondition(grpcText('FailedPrecondition', 'service needs ingress network, but no ingress network is present'));
  }
}

function checkConflicts(tx: ReadTx, spec: ServiceSpec, serviceId: string | undefined): void {
  const mine = (spec.EndpointSpec?.Ports ?? []).filter((p) => p.PublishedPort);
  if (mine.length === 0) return;
  const ingress = new Set(mine.filter(isIngress).map((p) => portKey(p.Protocol, p.PublishedPort!)));
  const host = new Set(mine.filter((p) => !isIngress(p)).map((p) => portKey(p.Protocol, p.PublishedPort!)));
  for (const s of tx.find('service')) {
    if (s.ID === serviceId) continue;
    for (const p of publishedPortsOf(s)) {
      if (!p.PublishedPort) continue;
      const k = portKey(p.Protocol, p.PublishedPort);
      if (!isIngress(p)) {
        if (ingress.has(k)) throw invalidArgument(grpcText('InvalidArgument', `port '${p.PublishedPort}' is already in use by service '${s.Spec.Name}' (${s.ID}) as a host-published port`));
      } else if (ingress.has(k) || host.has(k)) {
        throw invalidArgument(grpcText('InvalidArgument', `port '${p.PublishedPort}' is already in use by service '${s.Spec.Name}' (${s.ID}) as an ingress port`));
      }
    }
  }
}

/** The ports a service holds: as allocated where the allocator has run, else as its spec asks. */
export function publishedPortsOf(s: Service) {
  return s.Endpoint?.Ports ?? s.Spec.EndpointSpec?.Ports ?? [];
}
