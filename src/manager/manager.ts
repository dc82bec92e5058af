import path from 'node:path';
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { Clock, Rng } from '../lib/ports';
import { MemoryStore, type Change } from '../store';
import { ControlApi } from './controlapi';
import { LocalLog } from './consensus/local-log';
import { Allocator } from './allocator';
import { ConstraintEnforcer, GlobalOrchestrator, ReplicatedOrchestrator, RestartSupervisor, TaskReaper } from './orchestrator';
import { Scheduler } from './scheduler';
import { Dispatcher, type DispatcherOptions } from './dispatcher/dispatcher';
import { UpdateSupervisor } from './updater/updater';

export interface ManagerDeps {
  dataDir: string;
  clock: Clock;
  rng: Rng;
  logger: Logger;
  newJoinToken: (role: 'worker' | 'manager') => string;
  /** Manager addresses agents may reconnect to. */
  managers: () => string[];
  /** Passed to the dispatcher: how long a node whose connection dropped may take to reconnect before it is marked down. */
  disconnectGraceMs?: DispatcherOptions['disconnectGraceMs'];
}

/** A leader component: one loop, one store watch. */
interface Component {
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

/**
 * Composition root of the manager role: the store and its log, the control API, the dispatcher
 * and the leader's components. It only wires; each component owns its loop and talks to the
 * others through the store.
 */
export class Manager {
  readonly store: MemoryStore;
  readonly controlapi: ControlApi;
  readonly dispatcher: Dispatcher;
  private log: LocalLog;
  private components: Component[];

  constructor(deps: ManagerDeps) {
    const dir = path.join(deps.dataDir, 'manager');
    fs.mkdirSync(dir, { recursive: true });
    this.store = new MemoryStore({ propose: () => Promise.reject(new Error('manager not open')) });
    this.log = new LocalLog(dir, this.store);
    this.store.setProposer(this.log);
    const { clock, rng, logger } = deps;
    const store = this.store;
    const onError = (component: string) => (err: unknown) => logger.warn({ err, component }, 'component error (retrying)');
    this.controlapi = new ControlApi({ store, clock, rng, newJoinToken: deps.newJoinToken });
    this.dispatcher = new Dispatcher({ store, clock, logger: logger.child({ component: 'dispatcher' }),
      managers: deps.managers,
      disconnectGraceMs: deps.disconnectGraceMs,
    });
    // Order matters only for start-up: task producers first, then the scheduler, then the dispatcher.
    this.components = [
      new Allocator({ store, clock, onError: onError('allocator') }),
      new ReplicatedOrchestrator({ store, clock, rng, onError: onError('replicated-orchestrator') }),
      new GlobalOrchestrator({ store, clock, rng, onError: onError('global-orchestrator') }),
      new RestartSupervisor({ store, clock, rng, onError: onError('restart-supervisor') }),
      new UpdateSupervisor({ store, clock, rng, logger: logger.child({ component: 'updater' }) }),
      new ConstraintEnforcer({ store, clock, rng, onError: onError('constraint-enforcer') }),
      new TaskReaper({ store, clock, rng, onError: onError('task-reaper') }),
      new Scheduler({ store, clock, onError: onError('scheduler') }),
      this.dispatcher,
    ];
  }

  /** Replays the durable state into the store. */
  open(): void {
    this.log.load();
  }

  /** Writes the first objects of a new cluster. */
  async bootstrap(changes: Change[]): Promise<void> {
    await this.log.propose(changes);
  }

  async start(): Promise<void> {
    for (const c of this.components) await c.start();
  }

  async stop(): Promise<void> {
    for (const c of [...this.components].reverse()) await c.stop();
    await this.log.close();
  }
}
