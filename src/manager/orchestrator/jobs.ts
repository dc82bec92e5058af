import { isGlobalJob, isJob, isTerminal, type Service, type Task } from '../../types';
import type { StoreEvent, WatchFilter } from '../../store';
import { newId } from '../../lib/ids';
import { StoreLoop } from '../store-loop';
import { MAX_TASKS_PER_PASS, reconcilePasses, skipInvalidSpec, type LoopDeps } from './loop';
import { reconcileGlobalJob, reconcileReplicatedJob } from './core/jobs';

/**
 * The jobs orchestrator (replicated-job and global-job, one loop as in swarmkit): starts tasks until
 * the job's iteration is done. It reacts to job service changes, to a job task that stops (a slot
 * frees for the next task) and to node changes (global jobs). Deleted services are the replicated
 * orchestrator's (it removes the tasks of every deleted non-global service, jobs included).
 */
export class JobsOrchestrator extends StoreLoop<LoopDeps> {
  protected readonly filter: WatchFilter = { kinds: ['service', 'task', 'node'] };
  private dirty = new Set<string>();

  constructor(deps: LoopDeps) {
    super(deps);
  }

  protected onEvent(e: StoreEvent): boolean {
    if (e.kind === 'node') {
      // a node joining, leaving or changing availability can change where a global job runs
      this.full = true;
      return true;
    }
    if (e.kind === 'task') {
      const t = e.object as Task;
      const old = e.old as Task | undefined;
      if (!t.JobIteration) return false;
      // only a task that stops or goes away can free room for the next one
      if (e.action === 'create' || (e.action === 'update' && old && isTerminal(old.Status.State) === isTerminal(t.Status.State) && old.DesiredState === t.DesiredState)) return false;
      this.dirty.add(t.ServiceID);
      return true;
    }
    const s = e.object as Service;
    if (e.action === 'delete' || !isJob(s)) return false;
    this.dirty.add(s.ID);
    return true;
  }

  protected async flush(): Promise<undefined> {
    const { store, clock, rng } = this.deps;
    const ids = this.take(this.dirty, () => store.read((tx) => tx.find('service', isJob).map((s) => s.ID)));
    const capped = await reconcilePasses(store, ids, (tx, sid) => {
      const service = tx.get('service', sid);
      if (!service || !isJob(service) || skipInvalidSpec(tx, service, clock.now(), this.deps.logger)) return undefined;
      const input = { service, tasks: tx.shared.tasksByService(sid), now: clock.now(), newId: () => newId(rng), limit: MAX_TASKS_PER_PASS };
      return isGlobalJob(service) ? reconcileGlobalJob({ ...input, nodes: tx.shared.find('node') }) : reconcileReplicatedJob(input);
    });
    for (const sid of capped) this.dirty.add(sid);
    if (capped.length > 0) this.kick();
    return undefined;
  }
}
