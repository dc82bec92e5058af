import type { AssignmentsMessage, Config, Secret, Task } from '../../../types';
import { isAtLeast, isTerminal, referencedIds } from '../../../types';
import { stableEqual } from '../../../types/dirty';

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

/**
 * True when `b` differs from `a` only in what the agent itself reported (Status, Version, UpdatedAt,
 * internal): no need to send it back. Compares the fields an agent acts on; the store shares a task's
 * unchanged spec, attachments and labels between its versions, so those usually compare by reference.
 */
export function equivalentForAgent(a: Task, b: Task): boolean {
  return (
    a.DesiredState === b.DesiredState &&
    a.NodeID === b.NodeID &&
    a.ServiceID === b.ServiceID &&
    a.Slot === b.Slot &&
    a.Name === b.Name &&
    a.JobIteration?.Index === b.JobIteration?.Index &&
    stableEqual(a.Spec, b.Spec) &&
    stableEqual(a.NetworksAttachments, b.NetworksAttachments) &&
    stableEqual(a.Labels, b.Labels)
  );
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
  /**
   * How many known tasks that still need their dependencies name each secret and config, kept as tasks
   * come and go: a batch then costs its own changes, not a walk over every task of the node (100 per node
   * at 100,000 tasks, for every status report).
   */
  private wantSecrets = new Map<string, number>();
  private wantConfigs = new Map<string, number>();
  /** What each counted task added to the wants. */
  private counted = new Map<string, { secrets: string[]; configs: string[] }>();
  /** The wants changed (or named something missing) since the last diff against what was sent. */
  private depsDirty = false;

  constructor(readonly nodeId: string) {}

  complete(tasks: Task[], deps?: DependencyLookup): AssignmentsMessage {
    this.known.clear();
    this.sentSecrets.clear();
    this.sentConfigs.clear();
    this.wantSecrets.clear();
    this.wantConfigs.clear();
    this.counted.clear();
    this.depsDirty = true;
    const updateTasks: Task[] = [];
    for (const t of tasks) {
      if (!isAssignable(t, this.nodeId)) continue;
      this.remember(t);
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
    if (!this.depsDirty) return {};
    this.depsDirty = false;
    const diff = <T>(want: Map<string, number>, sent: Set<string>, get: (id: string) => T | undefined) => {
      const add: T[] = [];
      const remove: string[] = [];
      for (const id of [...want.keys()].sort()) {
        if (sent.has(id)) continue;
        const o = get(id);
        // removed from the store meanwhile: the task will fail on the node without it (looked up again
        // with the next batch, as before the counts)
        if (!o) {
          this.depsDirty = true;
          continue;
        }
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
    const s = diff(this.wantSecrets, this.sentSecrets, (id) => deps.secret(id));
    const c = diff(this.wantConfigs, this.sentConfigs, (id) => deps.config(id));
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
        this.remember(c.task);
        // States up to ASSIGNED are set by the manager, so such tasks always go out; later ones only
        // when something other than the agent's own status report changed.
        if (prev && isAtLeast(c.task.Status.State, 'accepted') && equivalentForAgent(prev, c.task)) continue;
        updateTasks.push(c.task);
      } else if (prev) {
        this.forget(id);
        removeTasks.push(id);
      }
    }
    const d = deps ? this.dependencies(deps) : {};
    if (updateTasks.length === 0 && removeTasks.length === 0 && Object.keys(d).length === 0) return null;
    return { type: 'incremental', updateTasks, removeTasks, ...d };
  }

  /** Known from now on, its dependencies counted while it needs them. */
  private remember(t: Task): void {
    this.forget(t.ID);
    this.known.set(t.ID, t);
    if (!needsDependencies(t)) return;
    const ids = referencedIds(t.Spec);
    if (ids.secrets.length === 0 && ids.configs.length === 0) return;
    this.counted.set(t.ID, ids);
    for (const id of ids.secrets) this.depsDirty = bump(this.wantSecrets, id, 1) || this.depsDirty;
    for (const id of ids.configs) this.depsDirty = bump(this.wantConfigs, id, 1) || this.depsDirty;
  }

  private forget(taskId: string): void {
    this.known.delete(taskId);
    const ids = this.counted.get(taskId);
    if (!ids) return;
    this.counted.delete(taskId);
    for (const id of ids.secrets) this.depsDirty = bump(this.wantSecrets, id, -1) || this.depsDirty;
    for (const id of ids.configs) this.depsDirty = bump(this.wantConfigs, id, -1) || this.depsDirty;
  }

  has(taskId: string): boolean {
    return this.known.has(taskId);
  }

  get size(): number {
    return this.known.size;
  }
}

/** Adds `by` to a count (dropped at 0); true when the ID came or went. */
function bump(counts: Map<string, number>, id: string, by: 1 | -1): boolean {
  const n = (counts.get(id) ?? 0) + by;
  if (n > 0) counts.set(id, n);
  else counts.delete(id);
  return n === 0 || (by === 1 && n === 1);
}
