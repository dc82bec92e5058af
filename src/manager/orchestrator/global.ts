import { isGlobal, type Node, type Service } from '../../types';
import type { StoreEvent, WatchFilter } from '../../store';
import { newId } from '../../lib/ids';
import { StoreLoop } from '../store-loop';
import { reconcilePasses, removeTasksOfDeletedServices, skipInvalidSpec, type LoopDeps } from './loop';
import { reconcileGlobal } from './core/global';

const nodeShape = (n: Node) =>
  JSON.stringify([n.Status.State, n.Spec.Availability, n.Spec.Role, n.Spec.Labels ?? {}, n.Description?.Hostname, n.Description?.Platform, n.Description?.Engine?.Labels ?? {}, n.Status.Addr]);

/**
 * The global orchestrator: one task per eligible node for each global service. Reacts to global
 * service changes and deletion, and to any node change that can alter eligibility.
 */
export class GlobalOrchestrator extends StoreLoop<LoopDeps> {
  protected readonly filter: WatchFilter = { kinds: ['service', 'node'] };
  private dirty = new Set<string>();
  private deleted = new Set<string>();

  constructor(deps: LoopDeps) {
    super(deps);
  }

  protected onEvent(e: StoreEvent): boolean {
    if (e.kind === 'node') {
      const n = e.object as Node;
      const old = e.old as Node | undefined;
      if (e.action === 'update' && old && nodeShape(old) === nodeShape(n)) return false;
      this.full = true;
      return true;
    }
    const s = e.object as Service;
    if (!isGlobal(s)) return false;
    if (e.action === 'delete') {
      this.deleted.add(s.ID);
      return true;
    }
    const old = e.old as Service | undefined;
    if (old && old.internal.specVersion === s.internal.specVersion) return false;
    this.dirty.add(s.ID);
    return true;
  }

  protected async flush(): Promise<undefined> {
    const { store, clock, rng } = this.deps;
    const deleted = [...this.deleted];
    this.deleted.clear();
    const ids = this.take(this.dirty, () => store.read((tx) => tx.find('service', isGlobal).map((s) => s.ID)));
    await removeTasksOfDeletedServices(store, deleted, () => clock.now());
    // In writes of MAX_TASKS_PER_WRITE (reconcilePasses): a global service's first pass on 5,000 nodes
    // was 5,000 tasks in one write, over the Raft entry limit ("raft message is too large"), retried for ever.
    const again = await reconcilePasses(store, ids, (tx, sid) => {
      const service = tx.get('service', sid);
      if (!service || skipInvalidSpec(tx, service, clock.now(), this.deps.logger)) return undefined;
      return reconcileGlobal({ service, tasks: tx.shared.tasksByService(sid), nodes: tx.shared.find('node'), now: clock.now(), newId: () => newId(rng) });
    });
    for (const sid of again) this.dirty.add(sid);
    if (again.length > 0) this.kick();
    return undefined;
  }
}
