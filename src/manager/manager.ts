import path from 'node:path';
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { Clock, Rng } from '../lib/ports';
import { MemoryStore, type Change } from '../store';
import { ControlApi } from './controlapi';
import { LocalLog } from './consensus/local-log';

export interface ManagerDeps {
  dataDir: string;
  clock: Clock;
  rng: Rng;
  logger: Logger;
  newJoinToken: (role: 'worker' | 'manager') => string;
}

/** A leader component: one loop, one store watch. */
interface Component {
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

/**
 * Composition root of the manager role: the store and its log, the control API, and the leader's
 * components. It only wires; each component owns its loop and talks to the others through the store.
 */
export class Manager {
  readonly store: MemoryStore;
  readonly controlapi: ControlApi;
  private log: LocalLog;
  private components: Component[] = [];

  constructor(private deps: ManagerDeps) {
    const dir = path.join(deps.dataDir, 'manager');
    fs.mkdirSync(dir, { recursive: true });
    this.store = new MemoryStore({ propose: () => Promise.reject(new Error('manager not open')) });
    this.log = new LocalLog(dir, this.store);
    this.store.setProposer(this.log);
    this.controlapi = new ControlApi({ store: this.store, clock: deps.clock, rng: deps.rng, newJoinToken: deps.newJoinToken });
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
    const { store, clock, rng, logger } = this.deps;
    void store;
    void clock;
    void rng;
    void logger;
    for (const c of this.components) await c.start();
  }

  async stop(): Promise<void> {
    for (const c of [...this.components].reverse()) await c.stop();
    await this.log.close();
  }
}
