import type { Logger } from 'pino';
import type { Clock, Rng } from '../../lib/ports';
import { newId } from '../../lib/ids';
import type { MemoryStore, StoreEvent, Watch } from '../../store';
import { isRunnable, specProblem, type Node, type Service, type Task } from '../../types';
import { nodeIsGone, planUpdate, type UpdateMemo, type UpdatePlan } from './core/planner';
import { isActiveState } from './core/config';
import { forEachGuarded } from '../../sys/loop-guard';

/** Timer functions; a simulation passes virtual ones. */
export interface UpdaterTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface UpdateSupervisorDeps {
  store: MemoryStore;
  clock: Clock;
  rng: Rng;
  logger?: Pick<Logger, 'info' | 'warn' | 'debug'>;
  timers?: UpdaterTimers;
}

const RETRY_MS = 500;

/**
 * The update supervisor (leader only): rolls out spec changes slot by slot and rolls them back.
 * One store watch (services, tasks, nodes); for every service touched it runs the pure planner
 * inside a store transaction and writes its decisions there, then sleeps until the next event or the
 * planner's wake-up time (delay, monitor window). See docs/design/updater.md.
 */
export class UpdateSupervisor {
  private watch: Watch | null = null;
  private memos = new Map<string, UpdateMemo>();
  private timers = new Map<string, unknown>();
  private pending = new Set<string>();
  private pumping: Promise<void> | null = null;
  private running = false;
  private readonly t: UpdaterTimers;

  constructor(private readonly deps: UpdateSupervisorDeps) {
    this.t = deps.timers ?? {
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const w = this.deps.store.watch({ kinds: ['service', 'task', 'node'] });
    this.watch = w;
    void this.consume(w);
    for (const s of this.deps.store.view((tx) => tx.find('service'))) this.mark(s.ID);
  }

  stop(): void {
    this.running = false;
    this.watch?.close();
    this.watch = null;
    for (const h of this.timers.values()) this.t.clearTimeout(h);
    this.timers.clear();
    this.pending.clear();
    this.memos.clear();
  }

  /** Resolves once no pass is queued or running (for tests and orderly shutdown). */
  async idle(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  private async consume(w: Watch): Promise<void> {
    await forEachGuarded(w, (e) => this.route(e), { name: 'update supervisor', log: this.deps.logger ? { error: (o, m) => this.deps.logger!.warn(o, m) } : undefined });
  }

  private route(e: StoreEvent): void {
    if (e.kind === 'service') {
      const s = e.object as Service;
      if (e.action === 'delete') this.forget(s.ID);
      else this.mark(s.ID);
    } else if (e.kind === 'task') {
      const t = e.object as Task;
      if (this.watchesTask(t)) this.mark(t.ServiceID);
    } else if (e.kind === 'node') {
      // A node going Down (or away) releases stop-first replacements waiting for a task on it; nothing
      // else of a node's status reaches a plan (nodeIsGone). Re-planning on every status change made a
      // new leader walk all of a service's tasks once per batch of sessions: its 1,000 nodes going
      // Unknown and back to Ready were a third of its CPU for half a minute at 100,000 tasks (issue 15).
      // Only a service with an update under way can have such a replacement: 100 nodes going Down at
      // 100,000 tasks re-planned the service over all its tasks once per node, 16 % of the leader's time
      // while their tasks were replaced (performance.md, "A node failure at 100,000 tasks").
      const wasGone = e.action === 'create' || nodeIsGone(e.old as Node | undefined);
      if (e.action === 'delete' || nodeIsGone(e.object as Node) !== wasGone) for (const [id, memo] of this.memos) if (updateUnderWay(memo)) this.mark(id);
    }
  }

  /**
   * Whether a task event can change what the planner decides for its service. A service with no
   * update under way (nothing tracked, not settling, no active UpdateStatus) has only clean tasks,
   * and every task made since (replicas, restarts) is made from its current spec: such events are
   * skipped, so 100,000 status reports do not each re-plan the service over all its tasks. A task of
   * another spec version (a node back with an old task) still gets the service looked at, if it is
   * still wanted: a task being removed or shut down never makes its slot dirty (the planner's
   * `updatable`). A scale bumps the spec version without touching the tasks, so without that test
   * every event of a 100,000 → 0 scale-down re-planned the service over all its tasks: 13 % of the
   * leader's time (performance.md, scale15).
   */
  private watchesTask(t: Task): boolean {
    const memo = this.memos.get(t.ServiceID);
    if (!memo || updateUnderWay(memo)) return true;
    return t.internal.specVersion !== memo.specVersion && isRunnable(t.DesiredState);
  }

  private forget(id: string): void {
    this.memos.delete(id);
    this.pending.delete(id);
    const h = this.timers.get(id);
    if (h !== undefined) this.t.clearTimeout(h);
    this.timers.delete(id);
  }

  private mark(id: string): void {
    if (!this.running) return;
    this.pending.add(id);
    this.pumping ??= this.pump();
  }

  private async pump(): Promise<void> {
    try {
      // let the events of one commit collect before planning
      await Promise.resolve();
      while (this.running && this.pending.size > 0) {
        const [id] = this.pending;
        this.pending.delete(id as string);
        await this.pass(id as string);
      }
    } finally {
      this.pumping = null;
      // a mark that arrived after the loop ended but before this point must not be lost
      if (this.running && this.pending.size > 0) this.pumping = this.pump();
    }
  }

  private async pass(id: string): Promise<void> {
    const { store, clock, rng, logger } = this.deps;
    const now = clock.now();
    let plan: UpdatePlan | undefined;
    try {
      await store.update((tx) => {
        plan = undefined;
        const service = tx.get('service', id);
        // A spec that fails validation (an old log's) is never rolled out; the orchestrator marks it.
        if (!service || specProblem(service.Spec) !== undefined) return;
        const nodes = new Map(tx.shared.find('node').map((n) => [n.ID, n] as const));
        plan = planUpdate({ service, tasks: tx.shared.tasksByService(id), nodes, now, newId: () => newId(rng), memo: this.memos.get(id) });
        if (plan.service) tx.update('service', plan.service);
        for (const t of plan.create) tx.create('task', t);
        for (const t of plan.update) tx.update('task', t);
      });
    } catch (err) {
      logger?.warn({ err, service: id }, 'update supervisor: write failed, retrying');
      this.schedule(id, now + RETRY_MS);
      return;
    }
    if (!this.running) return;
    if (!plan) {
      this.forget(id);
      return;
    }
    const before = this.memos.get(id)?.status;
    this.memos.set(id, plan.memo);
    if (plan.events.length > 0) logger?.debug({ service: id, events: plan.events }, 'update supervisor');
    const after = plan.memo.status;
    if (plan.service && after && after.State !== before?.State) {
      logger?.info({ service: id, state: after.State, message: after.Message }, 'service update status');
    }
    this.schedule(id, plan.wakeAt);
  }

  private schedule(id: string, at: number | undefined): void {
    const old = this.timers.get(id);
    if (old !== undefined) this.t.clearTimeout(old);
    this.timers.delete(id);
    if (at === undefined || !this.running) return;
    const h = this.t.setTimeout(() => {
      this.timers.delete(id);
      this.mark(id);
    }, Math.max(0, at - this.deps.clock.now()));
    this.timers.set(id, h);
  }
}

/** Whether the planner has anything in hand for the service: slots it tracks, a settling window, an active UpdateStatus. */
function updateUnderWay(memo: UpdateMemo): boolean {
  return memo.tracked.length > 0 || !!memo.settle || isActiveState(memo.status?.State);
}
