import type { AssignmentsMessage, Config, Secret, Task } from '../../../types';
import { isAtLeast, isTerminal, referencedIds } from '../../../types';

// Which tasks a node's agent must know, and what changed since the last message of its stream.

/**
 * A task belongs in a node's assignment set when it is on that node, the scheduler has assigned it
 * (observed state ≥ ASSIGNED), and the agent still has something to do or keep for it. Terminal
 * tasks stay in the set (the agent keeps their exited containers for `docker service logs`, as
 * Docker does for task history) until they are deleted, except a terminal task whose desired state
 * is REMOVE: the agent has acknowledged it and removed its runtime object, so it leaves the set
 * (the agent then forgets it; the task reaper deletes it).
 */
export function isAssignable(t: Task, nodeId: string): boolean {
  if (t.NodeID !== nodeId) return false;
  if (!isAtLeast(t.Status.State, 'assigned')) return false;
  if (isTerminal(t.Status.State) && t.DesiredState === 'remove') return false;
  return true;
}

/** The fields an agent acts on. A change in anything else (Status, Version, UpdatedAt, internal) was the agent's own report. */
function agentView(t: Task): unknown {
  return [t.DesiredState, t.NodeID, t.ServiceID, t.Slot, t.Name, t.Labels, t.Spec, t.NetworksAttachments, t.JobIteration];
}

/** True when `b` differs from `a` only in what the agent itself reported (no need to send it back). */
export function equivalentForAgent(a: Task, b: Task): boolean {
  return JSON.stringify(agentView(a)) === JSON.stringify(agentView(b));
}

/** Where the dispatcher finds a secret or config by ID (the store; undefined once removed). */
export interface DependencyLookup {
  secret(id: string): Secret | undefined;
  config(id: string): Config | undefined;
}

/**
 * A task needs its secrets and configs on its node until it stops: a terminal task never starts
 * again (a restart is a new task), so its node may forget them.
 */
const needsDependencies = (t: Task): boolean => !isTerminal(t.Status.State);

export interface TaskChange {
  action: 'create' | 'update' | 'delete';
  task: Task;
}

/**
 * The assignment state of one session's stream: what the agent was last told. `complete()` makes the
 * first message; `apply()` turns a batch of store changes into an incremental message (or null when
 * nothing the agent needs changed).
 */
export class AssignmentSet {
  private known = new Map<string, Task>();
  /** Secret and config IDs the agent was sent and not told to forget. */
  private sentSecrets = new Set<string>();
  private sentConfigs = new Set<string>();

  constructor(readonly nodeId: string) {}

  complete(tasks: Task[], deps?: DependencyLookup): AssignmentsMessage {
    this.known.clear();
    this.sentSecrets.clear();
    this.sentConfigs.clear();
    const updateTasks: Task[] = [];
    for (const t of tasks) {
      if (!isAssignable(t, this.nodeId)) continue;
      this.known.set(t.ID, t);
      updateTasks.push(t);
    }
    updateTasks.sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0));
    return { type: 'complete', updateTasks, removeTasks: [], ...(deps ? this.dependencies(deps) : {}) };
  }

  /**
   * What the agent must learn or forget so that it holds exactly the secrets and configs of the
   * tasks it runs: never another node's, never one no task there needs.
   */
  private dependencies(deps: DependencyLookup): Pick<AssignmentsMessage, 'updateSecrets' | 'updateConfigs' | 'removeSecrets' | 'removeConfigs'> {
    const wantSecrets = new Set<string>();
    const wantConfigs = new Set<string>();
    for (const t of this.known.values()) {
      if (!needsDependencies(t)) continue;
      const ids = referencedIds(t.Spec);
      for (const id of ids.secrets) wantSecrets.add(id);
      for (const id of ids.configs) wantConfigs.add(id);
    }
    const diff = <T>(want: Set<string>, sent: Set<string>, get: (id: string) => T | undefined) => {
      const add: T[] = [];
      const remove: string[] = [];
      for (const id of [...want].sort()) {
        if (sent.has(id)) continue;
        const o = get(id);
        // removed from the store meanwhile: the task will fail on the node without it
        if (!o) continue;
        sent.add(id);
        add.push(o);
      }
      for (const id of [...sent]) {
        if (want.has(id)) continue;
        sent.delete(id);
        remove.push(id);
      }
      return { add, remove };
    };
    const s = diff(wantSecrets, this.sentSecrets, (id) => deps.secret(id));
    const c = diff(wantConfigs, this.sentConfigs, (id) => deps.config(id));
    return {
      ...(s.add.length ? { updateSecrets: s.add } : {}),
      ...(c.add.length ? { updateConfigs: c.add } : {}),
      ...(s.remove.length ? { removeSecrets: s.remove.sort() } : {}),
      ...(c.remove.length ? { removeConfigs: c.remove.sort() } : {}),
    };
  }

  /** The IDs of the secrets and configs the agent holds (tests, diagnostics). */
  sentDependencies(): { secrets: string[]; configs: string[] } {
    return { secrets: [...this.sentSecrets].sort(), configs: [...this.sentConfigs].sort() };
  }

  apply(changes: TaskChange[], deps?: DependencyLookup): AssignmentsMessage | null {
    // Last change per task wins; order of first appearance is kept.
    const last = new Map<string, TaskChange>();
    for (const c of changes) {
      last.delete(c.task.ID);
      last.set(c.task.ID, c);
    }
    const updateTasks: Task[] = [];
    const removeTasks: string[] = [];
    for (const [id, c] of last) {
      const prev = this.known.get(id);
      if (c.action !== 'delete' && isAssignable(c.task, this.nodeId)) {
        this.known.set(id, c.task);
        // States up to ASSIGNED are set by the manager, so such tasks always go out; later ones only
        // when something other than the agent's own status report changed.
        if (prev && isAtLeast(c.task.Status.State, 'accepted') && equivalentForAgent(prev, c.task)) continue;
        updateTasks.push(c.task);
      } else if (prev) {
        this.known.delete(id);
        removeTasks.push(id);
      }
    }
    const d = deps ? this.dependencies(deps) : {};
    if (updateTasks.length === 0 && removeTasks.length === 0 && Object.keys(d).length === 0) return null;
    return { type: 'incremental', updateTasks, removeTasks, ...d };
  }

  has(taskId: string): boolean {
    return this.known.has(taskId);
  }

  get size(): number {
    return this.known.size;
  }
}
