import type { AssignmentsMessage, Config, Secret } from '../types';
import type { TaskDependencies } from './executor/types';

/**
 * The secrets and configs the dispatcher sent this node, kept in memory only (never in the worker's
 * state file): a `complete` message replaces the set, an incremental one patches it. After a daemon
 * restart the set is empty until the first message of the new session, which carries every one the
 * node's tasks still need.
 */
export class DependencyStore implements TaskDependencies {
  private secrets = new Map<string, Secret>();
  private configs = new Map<string, Config>();

  /** Adds what the message brings; `complete` drops everything not in it. Call before the tasks are applied. */
  learn(msg: AssignmentsMessage): void {
    if (msg.type === 'complete') {
      this.secrets.clear();
      this.configs.clear();
    }
    for (const s of msg.updateSecrets ?? []) this.secrets.set(s.ID, s);
    for (const c of msg.updateConfigs ?? []) this.configs.set(c.ID, c);
  }

  /** Forgets what the message says no task needs. Call after the tasks were applied. */
  forget(msg: AssignmentsMessage): void {
    for (const id of msg.removeSecrets ?? []) this.secrets.delete(id);
    for (const id of msg.removeConfigs ?? []) this.configs.delete(id);
  }

  secret(id: string): Secret | undefined {
    return this.secrets.get(id);
  }

  config(id: string): Config | undefined {
    return this.configs.get(id);
  }

  /** IDs held now (tests, diagnostics). */
  held(): { secrets: string[]; configs: string[] } {
    return { secrets: [...this.secrets.keys()].sort(), configs: [...this.configs.keys()].sort() };
  }
}
