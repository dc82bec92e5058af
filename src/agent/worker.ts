import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { AssignmentsMessage, Task, TaskEndpoint, TaskStatus, TaskStatusUpdate } from '../types';
import { isAtLeast, referencedIds } from '../types';
import type { Executor, TaskController } from './executor/types';
import type { Clock } from '../lib/ports';
import { TaskManager, errText, type AgentLogger } from './task-manager';
import { stopGraceMs, type Health } from './exec/step';
import { writeFileDurable } from '../sys/durable-file';
import { DependencyStore } from './dependencies';
import { openState, sealState } from '../sys/state-key';

// The worker reconciles the agent's assignment set with the task managers it runs, and keeps that
// set (with the last status of each task) on disk, so a restarted daemon re-adopts its tasks
// instead of restarting them, and they keep running while no manager is reachable.

export interface WorkerOptions {
  dataDir: string;
  executor: Executor;
  /** Every status change of every task (the agent batches and sends them). */
  report: (u: TaskStatusUpdate) => void;
  clock: Clock;
  logger?: AgentLogger;
  /** Retry delay for failed runtime steps (ms). */
  retryMs?: number;
  /**
   * Status changes are written to the state file at most this often (ms; default 100). A burst of
   * task starts makes hundreds of changes a second; one write covers all of them.
   */
  saveDelayMs?: number;
  /** Drain hold of mesh backends before their stop (TaskManagerOptions.drainDelayMs). */
  drainDelayMs?: number;
  /** Whether every node's mesh let go of a task (TaskManagerOptions.meshDrained). */
  meshDrained?: (taskId: string, waitMs: number) => Promise<boolean>;
}

interface StateFile {
  version: 1;
  tasks: Task[];
}

export const WORKER_STATE_FILE = 'tasks.json';

export class Worker {
  private managers = new Map<string, TaskManager>();
  /** Tasks whose runtime objects are being removed right now. */
  private removing = new Set<string>();
  private chain: Promise<void> = Promise.resolve();
  private saveTimer: NodeJS.Timeout | null = null;
  private saving: Promise<void> = Promise.resolve();
  private closed = false;
  private dirReady = false;
  private readonly dir: string;
  /** Secrets and configs for this node's tasks: memory only. */
  readonly dependencies = new DependencyStore();

  constructor(private readonly opts: WorkerOptions) {
    this.dir = path.join(opts.dataDir, 'worker');
  }

  /** Loads the persisted assignment set and re-adopts its tasks. */
  async init(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    this.dirReady = true;
    let state: StateFile | undefined;
    let plain = false;
    try {
      const { text, sealed } = openState(this.opts.dataDir, await fs.readFile(path.join(this.dir, WORKER_STATE_FILE)));
      state = JSON.parse(text) as StateFile;
      plain = !sealed;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.logger?.warn({ err: errText(err) }, 'worker: state file unreadable, starting empty');
    }
    for (const t of state?.tasks ?? []) {
      // A task not yet prepared that needs secrets or configs waits for the session's first message:
      // they are kept in memory only, so none are here yet, and that message names the task again
      // if it is still this node's.
      if (!isAtLeast(t.Status.State, 'preparing') && hasDependencies(t)) continue;
      this.startManager(t, true);
    }
    // written in plain text by an older release: seal it now rather than at the next change
    if (plain) await this.saveNow();
  }

  /** Applies one assignment message. Messages are applied one at a time, in order. */
  assign(msg: AssignmentsMessage): Promise<void> {
    const run = () => this.apply(msg);
    this.chain = this.chain.then(run, run);
    return this.chain;
  }

  taskController(taskId: string): TaskController | undefined {
    return this.managers.get(taskId)?.controller;
  }

  /** The tasks currently assigned, with their local statuses. */
  tasks(): Task[] {
    return [...this.managers.values()].map((m) => m.snapshot());
  }

  /** The latest status of every task (re-sent on each new session). */
  statuses(): TaskStatusUpdate[] {
    return [...this.managers.values()].map((m) => ({ taskId: m.id, status: m.currentStatus, ...(m.healthState ? { health: m.healthState } : {}) }));
  }

  /** Stops driving tasks (they keep running) and writes the state file. */
  async close(): Promise<void> {
    this.closed = true;
    await this.chain.catch(() => undefined);
    await Promise.all([...this.managers.values()].map((m) => m.close()));
    await this.saveNow();
  }

  private async apply(msg: AssignmentsMessage): Promise<void> {
    if (this.closed) return;
    this.dependencies.learn(msg);
    if (msg.type === 'complete') {
      const keep = new Set(msg.updateTasks.map((t) => t.ID));
      for (const id of [...this.managers.keys()]) if (!keep.has(id)) await this.removeTask(id);
    }
    for (const t of msg.updateTasks) this.upsert(t);
    for (const id of msg.removeTasks) await this.removeTask(id);
    if (msg.type === 'complete') await this.removeOrphans();
    this.dependencies.forget(msg);
    if (msg.updateSecrets || msg.updateConfigs || msg.removeSecrets || msg.removeConfigs) {
      // IDs only: what this node was given, for operators and tests (never the data)
      this.opts.logger?.info(this.dependencies.held(), 'worker: secrets and configs held');
    }
    this.scheduleSave();
  }

  private upsert(t: Task): void {
    const m = this.managers.get(t.ID);
    if (m) m.update(t);
    else this.startManager(t, isAtLeast(t.Status.State, 'preparing'));
  }

  private startManager(t: Task, adopt: boolean): void {
    const m = new TaskManager({
      task: t,
      controller: this.opts.executor.controller(t, this.dependencies),
      report: (taskId: string, status: TaskStatus, health?: Health, endpoints?: TaskEndpoint[]) => this.onStatus(taskId, status, health, endpoints),
      clock: this.opts.clock,
      logger: this.opts.logger,
      retryMs: this.opts.retryMs,
      ...(this.opts.drainDelayMs !== undefined ? { drainDelayMs: this.opts.drainDelayMs } : {}),
      ...(this.opts.meshDrained ? { meshDrained: this.opts.meshDrained } : {}),
      adopt,
    });
    this.managers.set(t.ID, m);
    m.start();
  }

  private onStatus(taskId: string, status: TaskStatus, health?: Health, endpoints?: TaskEndpoint[]): void {
    if (!this.managers.has(taskId)) return;
    this.scheduleSave();
    this.opts.report({ taskId, status, ...(health ? { health } : {}), ...(endpoints?.length ? { endpoints } : {}) });
  }

  /**
   * Forgets a task: stops its manager, then (in the background, so a long stop grace period does not
   * hold up the assignment stream) stops and removes its runtime object.
   */
  private async removeTask(id: string): Promise<void> {
    const m = this.managers.get(id);
    if (!m) return;
    this.managers.delete(id);
    this.removing.add(id);
    this.scheduleSave();
    await m.close();
    const c = m.controller;
    const cleanup = async () => {
      try {
        const rt = await c.inspect();
        if (rt?.running) await c.shutdown(stopGraceMs(m.persistentView().Spec.ContainerSpec?.StopGracePeriod));
        if (rt) await c.remove();
      } catch (err) {
        this.opts.logger?.warn({ err: errText(err), taskId: id }, 'worker: removing runtime object failed');
      } finally {
        this.removing.delete(id);
      }
    };
    void cleanup();
  }

  /** Removes runtime objects of tasks the manager no longer assigns to this node. */
  private async removeOrphans(): Promise<void> {
    let ids: string[];
    try {
      ids = await this.opts.executor.listTaskIds();
    } catch (err) {
      this.opts.logger?.warn({ err: errText(err) }, 'worker: listing runtime objects failed');
      return;
    }
    for (const id of ids) {
      if (this.managers.has(id) || this.removing.has(id)) continue;
      const c = this.opts.executor.controller(orphanStub(id, this.opts.clock.now()));
      try {
        await c.terminate();
        await c.remove();
        this.opts.logger?.info({ taskId: id }, 'worker: removed orphaned runtime object');
      } catch (err) {
        this.opts.logger?.warn({ err: errText(err), taskId: id }, 'worker: removing orphan failed');
      }
    }
  }

  private scheduleSave(): void {
    if (this.saveTimer || this.closed) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      void this.saveNow();
    }, this.opts.saveDelayMs ?? 100);
  }

  /** Writes the state file atomically (temp file + rename), one write at a time. */
  saveNow(): Promise<void> {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = null;
    }
    const write = async () => {
      // serialized at once, so the live objects can be used without copying them first
      const state: StateFile = { version: 1, tasks: [...this.managers.values()].map((m) => m.persistentView()) };
      // sealed: task specs carry environment values (sys/state-key)
      const data = sealState(this.opts.dataDir, JSON.stringify(state));
      const file = path.join(this.dir, WORKER_STATE_FILE);
      try {
        if (!this.dirReady) {
          await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
          this.dirReady = true;
        }
        await writeFileDurable(file, data, { mode: 0o600 });
      } catch (err) {
        this.opts.logger?.error({ err: errText(err) }, 'worker: saving state failed');
      }
    };
    this.saving = this.saving.then(write, write);
    return this.saving;
  }
}

function hasDependencies(t: Task): boolean {
  const ids = referencedIds(t.Spec);
  return ids.secrets.length > 0 || ids.configs.length > 0;
}

/** A minimal task naming only an ID: enough for an executor to find and remove its runtime object. */
function orphanStub(id: string, now: number): Task {
  const ts = new Date(now).toISOString();
  return {
    ID: id,
    Version: { Index: 0 },
    CreatedAt: ts,
    UpdatedAt: ts,
    Labels: {},
    Spec: {},
    ServiceID: '',
    Status: { Timestamp: ts, State: 'orphaned', Message: 'orphaned' },
    DesiredState: 'remove',
    internal: { specVersion: 0, serviceName: '' },
  };
}
