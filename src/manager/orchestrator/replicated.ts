import { isGlobal, isReplicated, replicasOf, type Service } from '../../types';
import type { StoreEvent, WatchFilter } from '../../store';
import { newId } from '../../lib/ids';
import { StoreLoop } from '../store-loop';
import { MAX_TASKS_PER_PASS, reconcilePasses, removeTasksOfDeletedServices, skipInvalidSpec, type LoopDeps } from './loop';
import { reconcileReplicated } from './core/replicated';

/**
 * The replicated orchestrator: keeps slots 1..Replicas filled and removes surplus slots. It reacts to
 * service creation, spec/replica changes and deletion (not to task events: failures are the restart
 * supervisor's). On start it also marks for removal tasks whose service no longer exists.
 */
export class ReplicatedOrchestrator extends StoreLoop<LoopDeps> {
  protected readonly filter: WatchFilter = { kinds: ['service'] };
  private dirty = new Set<string>();
  private deleted = new Set<string>();

  constructor(deps: LoopDeps) {
    super(deps);
  }

  protected onEvent(e: StoreEvent): boolean {
    const s = e.object as Service;
    if (e.action === 'delete') {
      if (isGlobal(s)) return false;
      this.deleted.add(s.ID);
      this.dirty.delete(s.ID);
      return true;
    }
    if (!isReplicated(s)) return false;
    const old = e.old as Service | undefined;
    if (old && isReplicated(old) && old.internal.specVersion === s.internal.specVersion && replicasOf(old) === replicasOf(s)) return false;
    this.dirty.add(s.ID);
    return true;
  }

  protected async flush(): Promise<undefined> {
    const { store, clock, rng } = this.deps;
    const full = this.full;
    this.full = false;
    const deleted = [...this.deleted];
    this.deleted.clear();
    let ids = [...this.dirty];
    this.dirty.clear();
    if (full) {
      const all = store.read((tx) => tx.find('service'));
      ids = all.filter(isReplicated).map((s) => s.ID);
      const live = new Set(all.map((s) => s.ID));
      const orphans = store.read((tx) => tx.find('task', (t) => !live.has(t.ServiceID) && t.DesiredState !== 'remove'));
      for (const sid of new Set(orphans.map((t) => t.ServiceID))) deleted.push(sid);
    }
    await removeTasksOfDeletedServices(store, deleted, () => clock.now());
    const capped = await reconcilePasses(store, ids, (tx, sid) => {
      const service = tx.get('service', sid);
      if (!service || skipInvalidSpec(tx, service, clock.now(), this.deps.logger)) return undefined;
      const nodes = new Map(tx.shared.find('node').map((n) => [n.ID, n]));
      return reconcileReplicated({ service, tasks: tx.shared.tasksByService(sid), nodes, now: clock.now(), newId: () => newId(rng), limit: MAX_TASKS_PER_PASS });
    });
    // A pass stopped at its bound: the service is looked at again in the next pass.
    for (const sid of capped) this.dirty.add(sid);
    if (capped.length > 0) this.kick();
    return undefined;
  }
}
