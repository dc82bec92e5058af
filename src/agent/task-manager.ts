import type { ContainerStatus, Task, TaskEndpoint, TaskStatus } from '../types';
import type { TaskController, ExitResult, RuntimeStatus } from './executor/types';
import type { Clock } from '../lib/ports';
import { decide, isForward, stopGraceMs, hasHealthTest, DESTROYED_ERR, type StepFacts, type Health } from './exec/step';
import { isAtLeast, isTerminal } from '../types';
import { sleepUnlessAborted } from '../sys/sleep';
import { cloneData } from '../lib/clone';

// One task manager per assigned task: drives its controller one step at a time as the step machine
// (./exec/step.ts) decides, and reports every status change through a callback. Controller errors
// become statuses (REJECTED/FAILED) or retries; nothing here throws into the daemon.

export interface AgentLogger {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

export interface TaskManagerOptions {
  task: Task;
  controller: TaskController;
  /** Called for every new status (and health change) of the task. */
  report: (taskId: string, status: TaskStatus, health?: Health, endpoints?: TaskEndpoint[]) => void;
  clock: Clock;
  logger?: AgentLogger;
  /** Delay before retrying a failed shutdown/terminate/remove (ms). Default 1000. */
  retryMs?: number;
  /**
   * True when the task may already have a runtime object (daemon restart, or a manager that says it
   * is past PREPARING): the controller is inspected first so a running task is re-adopted, not restarted.
   */
  adopt?: boolean;
  /**
   * How long a running task with ingress-published ports is held before it is signalled to stop (ms;
   * default DEFAULT_MESH_DRAIN_MS). Its desired state already took it out of the ingress table the
   * dispatcher sends every node; the hold lets every node's mesh get that table before the process
   * stops listening, so no new connection reaches a dying task. Connections already open finish.
   */
  drainDelayMs?: number;
  /**
   * Resolves true once every node's routing mesh acknowledged a table without the task (waiting up to `waitMs`),
   * false when that cannot be known: the hold then lasts its whole bound. Absent: the hold is the bound.
   */
  meshDrained?: (taskId: string, waitMs: number) => Promise<boolean>;
}

const MAX_OP_RETRIES = 5;
/**
 * Default bound of the drain hold (`shoal daemon --mesh-drain-ms`). The hold ends before it once every node's mesh
 * acknowledged the task's removal (usually tens of ms); without acknowledgements it lasts the whole bound.
 */
export const DEFAULT_MESH_DRAIN_MS = 5000;
/**
 * After every node acknowledged: a connection balanced to the task just before its node's map changed is on its way
 * (a SYN in flight, a request not read yet); the task keeps serving it this long before it is signalled.
 */
export const MESH_DRAIN_SETTLE_MS = 250;

/** True when the task is a backend of the routing mesh (some published port in ingress mode). */
export function isMeshBackend(task: Task): boolean {
  return (task.internal?.ports ?? []).some((p) => (p.PublishMode ?? 'ingress') === 'ingress' && !!p.PublishedPort);
}

export class TaskManager {
  private task: Task;
  private status: TaskStatus;
  private health?: Health;
  /** Where the runtime says the task is reached for its published ports (reported with every status). */
  private endpoints?: TaskEndpoint[];
  private readonly facts: StepFacts = {};
  private wake: (() => void) | null = null;
  private dirty = false;
  private closed = false;
  private waitAbort: AbortController | null = null;
  private waiting = false;
  private unsubscribeHealth?: () => void;
  private loop: Promise<void> | null = null;
  private retries = 0;
  /** Set once the drain hold before the first stop was served (a retried stop does not wait again). */
  private drained = false;
  private endDrain?: () => void;

  constructor(private readonly opts: TaskManagerOptions) {
    this.task = cloneData(opts.task);
    this.status = cloneData(opts.task.Status);
  }

  get id(): string {
    return this.task.ID;
  }

  get controller(): TaskController {
    return this.opts.controller;
  }

  /** The task with its latest local status. */
  snapshot(): Task {
    const t = cloneData(this.task);
    t.Status = cloneData(this.status);
    if (this.health) t.internal = { ...t.internal, health: this.health };
    return t;
  }

  /**
   * Like snapshot() but sharing this manager's objects instead of copying them: only for immediate
   * serialization (the worker's state file), never to be kept or changed.
   */
  persistentView(): Task {
    return { ...this.task, Status: this.status, ...(this.health ? { internal: { ...this.task.internal, health: this.health } } : {}) };
  }

  get currentStatus(): TaskStatus {
    return this.status;
  }

  get healthState(): Health | undefined {
    return this.health;
  }

  /** True once the task is terminal and nothing is left to do for it. */
  get idle(): boolean {
    return isTerminal(this.status.State) && (this.task.DesiredState !== 'remove' || !!this.facts.removed);
  }

  start(): void {
    if (this.loop) return;
    this.unsubscribeHealth = this.opts.controller.onHealth?.((h) => this.onHealth(h));
    this.loop = this.run().catch((err) => this.opts.logger?.error({ err, taskId: this.id }, 'task manager crashed'));
  }

  /** A new version of the task from the manager: only DesiredState (and a more advanced status) matter. */
  update(task: Task): void {
    if (task.ID !== this.task.ID) return;
    const desiredChanged = task.DesiredState !== this.task.DesiredState;
    this.task = { ...cloneData(task), Status: this.task.Status };
    // A status the manager set beyond ours (e.g. ORPHANED) is adopted, never one behind it.
    if (isTerminal(task.Status.State) && !isTerminal(this.status.State) && isForward(this.status, task.Status)) this.status = cloneData(task.Status);
    if (desiredChanged) this.poke();
  }

  /** Stops driving the task. The runtime object is left as it is (running tasks keep running). */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribeHealth?.();
    this.waitAbort?.abort();
    this.endDrain?.();
    this.poke();
    await this.loop;
  }

  private poke(): void {
    this.dirty = true;
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private sleep(ms?: number): Promise<void> {
    if (this.dirty || this.closed) {
      this.dirty = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let t: NodeJS.Timeout | undefined;
      this.wake = () => {
        if (t) clearTimeout(t);
        this.dirty = false;
        resolve();
      };
      if (ms !== undefined) t = setTimeout(() => this.poke(), ms);
    });
  }

  private onHealth(h: Health): void {
    if (this.closed) return;
    if (h === this.facts.health) return;
    this.facts.health = h;
    if (h === 'unhealthy' && (this.status.State === 'starting' || this.status.State === 'running')) this.facts.unhealthy = true;
    this.health = h;
    // Health rides along with the current status so the manager learns it (internal.health).
    if (!isTerminal(this.status.State)) this.opts.report(this.id, this.status, h, this.endpoints);
    this.poke();
  }

  private setStatus(s: TaskStatus): void {
    if (!isForward(this.status, s)) return;
    this.status = s;
    this.opts.report(this.id, s, this.health, this.endpoints);
  }

  private healthCheck(): boolean {
    return hasHealthTest(this.task.Spec.ContainerSpec?.HealthCheck?.Test) || this.facts.health !== undefined;
  }

  private async adopt(): Promise<void> {
    const st = this.status.State;
    if (isTerminal(st) || !isAtLeast(st, 'preparing')) return;
    let rt;
    try {
      rt = await this.opts.controller.inspect();
    } catch (err) {
      this.opts.logger?.warn({ err, taskId: this.id }, 'inspect failed on adoption');
      return;
    }
    if (!rt) {
      // Nothing exists: before STARTING we simply prepare again; a started task vanished.
      if (isAtLeast(st, 'starting')) this.facts.error = DESTROYED_ERR;
      return;
    }
    this.facts.prepared = true;
    this.facts.container = { ContainerID: rt.containerId, PID: rt.pid, ExitCode: rt.exitCode };
    if (rt.health) this.facts.health = rt.health;
    if (rt.running || isAtLeast(st, 'starting')) this.facts.started = true;
    if (rt.health === 'unhealthy' && rt.running) this.facts.unhealthy = true;
    if (rt.health) this.health = rt.health;
    if (rt.endpoints) this.endpoints = rt.endpoints;
  }

  /**
   * Holds the stop of a running mesh backend until every node's mesh let go of it (then a short settle), at most the
   * drain bound; only a close() cuts it short. A task stopped because its health check failed is held too: it left
   * the table when it turned unhealthy.
   */
  private async drainFromMesh(): Promise<void> {
    const ms = this.opts.drainDelayMs ?? DEFAULT_MESH_DRAIN_MS;
    if (this.drained || ms <= 0 || this.status.State !== 'running' || !isMeshBackend(this.task)) return;
    this.drained = true;
    this.opts.logger?.debug({ taskId: this.id, ms }, 'holding the stop while the mesh drains the task');
    const cut = new AbortController();
    this.endDrain = () => cut.abort();
    const started = this.opts.clock.now();
    try {
      const acked = this.opts.meshDrained ? await raceAbort(this.opts.meshDrained(this.id, ms), cut.signal) : false;
      const waited = this.opts.clock.now() - started;
      const left = ms - waited;
      if (acked) this.opts.logger?.debug({ taskId: this.id, waitedMs: waited }, 'every node acknowledged the task left its mesh');
      else if (this.opts.meshDrained) this.opts.logger?.warn({ taskId: this.id, waitedMs: waited, boundMs: ms }, 'not every node acknowledged the task left its mesh: holding the stop for the whole drain bound');
      await sleepUnlessAborted(acked ? Math.min(MESH_DRAIN_SETTLE_MS, Math.max(0, left)) : Math.max(0, left), cut.signal);
    } finally {
      this.endDrain = undefined;
    }
  }

  private async refreshContainer(): Promise<void> {
    try {
      const rt = await this.opts.controller.inspect();
      if (!rt) return;
      this.facts.container = containerStatusOf(rt);
      if (rt.health && this.facts.health === undefined) this.facts.health = rt.health;
      if (rt.endpoints) this.endpoints = rt.endpoints;
    } catch {
      /* facts stay as they were */
    }
  }

  private ensureWaiting(): void {
    if (this.waiting || this.facts.exit) return;
    this.waiting = true;
    const ac = new AbortController();
    this.waitAbort = ac;
    this.opts.controller.wait(ac.signal).then(
      (r: ExitResult) => {
        this.waiting = false;
        if (ac.signal.aborted) return;
        this.facts.exit = r;
        this.poke();
      },
      (err: unknown) => {
        this.waiting = false;
        if (ac.signal.aborted || this.closed) return;
        this.facts.error = errText(err);
        this.poke();
      },
    );
  }

  private async run(): Promise<void> {
    if (this.opts.adopt) await this.adopt();
    while (!this.closed) {
      const step = decide({ desired: this.task.DesiredState, status: this.status, facts: this.facts, healthCheck: this.healthCheck(), now: this.opts.clock.now() });
      if (step.action === 'accept' || step.action === 'report') {
        if (step.status) this.setStatus(step.status);
        continue;
      }
      if (step.action === 'none') {
        this.waitAbort?.abort();
        await this.sleep();
        continue;
      }
      if (step.action === 'wait') {
        this.ensureWaiting();
        await this.sleep();
        continue;
      }
      const c = this.opts.controller;
      try {
        switch (step.action) {
          case 'prepare':
            await c.prepare();
            this.facts.prepared = true;
            await this.refreshContainer();
            break;
          case 'start':
            await c.start();
            this.facts.started = true;
            await this.refreshContainer();
            break;
          case 'shutdown':
            await this.drainFromMesh();
            // closed during the hold: the worker stops the runtime object itself (removeTask)
            if (this.closed) break;
            await c.shutdown(stopGraceMs(this.task.Spec.ContainerSpec?.StopGracePeriod));
            this.facts.stopped = true;
            break;
          case 'terminate':
            await c.terminate();
            this.facts.stopped = true;
            break;
          case 'remove':
            this.waitAbort?.abort();
            await c.remove();
            this.facts.removed = true;
            break;
          case 'inspect': {
            const rt = await c.inspect();
            if (!rt) {
              this.facts.absent = true;
              break;
            }
            this.facts.prepared = true;
            if (rt.running) this.facts.started = true;
            this.facts.container = containerStatusOf(rt);
            break;
          }
        }
        this.retries = 0;
      } catch (err) {
        if (this.closed) break;
        const text = errText(err);
        this.opts.logger?.warn({ err: text, taskId: this.id, action: step.action }, 'task controller step failed');
        if (step.action === 'prepare' || step.action === 'start') {
          this.facts.error = text;
        } else if (step.action === 'shutdown') {
          this.facts.shutdownFailed = true;
        } else if (++this.retries >= MAX_OP_RETRIES) {
          // terminate/remove keep failing: give up on this step; the task is reported as it is.
          if (step.action === 'terminate') this.facts.stopped = true;
          // not known whether the runtime has an object: stop as if it had (a stop of nothing ends in SHUTDOWN too)
          else if (step.action === 'inspect') this.facts.prepared = true;
          else this.facts.removed = true;
          this.retries = 0;
        } else {
          await this.sleep(this.opts.retryMs ?? 1000);
        }
      }
    }
  }
}

/** What an inspection says of the task's container or process, as a status reports it (an exit code only once it ended). */
function containerStatusOf(rt: RuntimeStatus): ContainerStatus {
  return { ContainerID: rt.containerId, PID: rt.pid, ...(rt.exitCode !== undefined && !rt.running ? { ExitCode: rt.exitCode } : {}) };
}

export function errText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** `p`, or false as soon as `signal` aborts (the hold was cut short: what `p` says no longer matters). */
function raceAbort(p: Promise<boolean>, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => resolve(false);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, () => resolve(false)).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
