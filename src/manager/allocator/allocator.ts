import type { ReadTx, StoreEvent, WatchFilter } from '../../store';
import type { Network, Service, Task } from '../../types';
import { isRunnable } from '../../types';
import { StoreLoop, type StoreLoopDeps } from '../store-loop';
import { allocateTask } from './core/allocate';
import { AllocationState, holdsAddresses } from './core/state';

export type AllocatorDeps = StoreLoopDeps;

/**
 * Gives services their endpoints (VIPs, published ports), tasks their network addresses, and each
 * node its own address on `ingress`, then hands wanted NEW tasks on to the scheduler (NEW → PENDING),
 * in one store write per batch of events. Its state is derived from the store: rebuilt at start and
 * after a failed write, then kept current by what it commits and by the releases events show.
 */
export class Allocator extends StoreLoop<AllocatorDeps> {
  protected readonly filter: WatchFilter = { kinds: ['task', 'service', 'network', 'node'] };
  private state: AllocationState | null = null;
  private dirtyTasks = new Set<string>();
  private dirtyServices = new Set<string>();
  private nodesChanged = false;

  protected onEvent(e: StoreEvent): boolean {
    const st = this.state;
    switch (e.kind) {
      case 'task': {
        const t = e.object as Task;
        if (e.action === 'delete') {
          if (holdsAddresses(t)) st?.releaseTask(t);
          if (holdsAddresses(t) && t.NodeID && t.NetworksAttachments?.length) this.nodesChanged = true;
          return this.nodesChanged;
        }
        const old = e.old as Task | undefined;
        if (old && holdsAddresses(old) && !holdsAddresses(t)) st?.releaseTask(t);
        // A node joins a network with its first task there and leaves it with its last: its own address follows.
        if (t.NetworksAttachments?.length && (old?.NodeID !== t.NodeID || (old && holdsAddresses(old) !== holdsAddresses(t)))) this.nodesChanged = true;
        if (t.Status.State === 'new') this.dirtyTasks.add(t.ID);
        return this.dirtyTasks.size > 0 || this.nodesChanged;
      }
      case 'service': {
        const s = e.object as Service;
        if (e.action === 'delete') {
          st?.releaseService(s);
          return false;
        }
        this.dirtyServices.add(s.ID);
        return true;
      }
      case 'network': {
        const n = e.object as Network;
        if (e.action === 'delete') st?.removeNetwork(n.ID);
        else if (e.action === 'create') st?.addNetwork(n);
        // A new or removed network may change what services need (ingress most of all).
        if (e.action !== 'update') this.full = true;
        return e.action !== 'update';
      }
      case 'node':
        if (e.action === 'update') return false;
        this.nodesChanged = true;
        return true;
    }
    return false;
  }

  protected async flush(): Promise<undefined> {
    const { store, clock } = this.deps;
    let full = false;
    if (this.full || !this.state) {
      this.full = false;
      full = true;
      this.state = store.read((tx) => AllocationState.build({ networks: tx.find('network'), services: tx.find('service'), tasks: tx.find('task') }));
    }
    const state = this.state;
    const serviceIds = full ? store.read((tx) => tx.find('service').map((s) => s.ID)) : [...this.dirtyServices];
    const taskIds = full ? store.read((tx) => tx.find('task', (t) => t.Status.State === 'new').map((t) => t.ID)) : [...this.dirtyTasks];
    const nodes = full || this.nodesChanged;
    this.dirtyServices.clear();
    this.dirtyTasks.clear();
    this.nodesChanged = false;
    if (serviceIds.length === 0 && taskIds.length === 0 && !nodes) return;
    try {
      await store.update((tx) => {
        const networks = new Map(tx.find('network').map((n) => [n.ID, n]));
        if (nodes) this.allocateNodeAddresses(tx, networks);
        for (const id of serviceIds) {
          const s = tx.get('service', id);
          if (!s) continue;
          const ep = state.serviceEndpoint(s, networks);
          if (ep && JSON.stringify(ep) !== JSON.stringify(s.Endpoint)) {
            s.Endpoint = ep;
            tx.update('service', s);
          }
        }
        const now = clock.now();
        for (const id of taskIds) {
          const t = tx.get('task', id);
          if (!t || t.Status.State !== 'new' || !isRunnable(t.DesiredState)) continue;
          const s = tx.get('service', t.ServiceID);
          const attachments = s ? state.taskAttachments(t, s, networks) : [];
          if (!attachments) continue; // no address left on one of its networks: stays NEW
          const next = allocateTask(t, now);
          if (!next) continue;
          if (attachments.length) next.NetworksAttachments = attachments;
          // The agent gives a process task a port of its node for each of these (PORT, PORT_<target>).
          if (s?.Endpoint?.Ports?.length) next.internal = { ...next.internal, ports: s.Endpoint.Ports };
          tx.update('task', next);
        }
      });
    } catch (e) {
      // What was taken for the failed write is not in the store: derive the state again next time.
      this.state = null;
      throw e;
    }
  }

  private allocateNodeAddresses(tx: ReadTx & { shared: ReadTx; update: (k: 'network', n: Network) => void }, networks: Map<string, Network>): void {
    if (!this.state) return;
    // shared reads: the pass only looks (a copy of every task took a new leader 0.4 s at 100,000 tasks)
    const nodeIds = tx.shared.find('node').map((n) => n.ID);
    for (const n of this.state.nodeAddressUpdates(networks.values(), nodeIds, () => tx.shared.find('task'))) {
      tx.update('network', n);
      networks.set(n.ID, n);
    }
  }
}
