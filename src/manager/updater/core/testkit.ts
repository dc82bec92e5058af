import { isoTime } from '../../../lib/time';
import { isRunnable, isTerminal, newTask, type Node, type Service, type ServiceSpec, type Task, type TaskState, type UpdateConfig } from '../../../types';
import { planUpdate, type UpdateMemo, type UpdatePlan } from './planner';

// Test helpers for the planner: a tiny in-memory world (one service, its tasks, nodes) with a fake
// agent that moves tasks to where they are wanted. Used by the unit and golden tests only.

export const SEC = 1_000_000_000;

export function mkService(opts: {
  id?: string;
  replicas?: number;
  global?: boolean;
  image?: string;
  update?: UpdateConfig;
  rollback?: UpdateConfig;
}): Service {
  const spec: ServiceSpec = {
    Name: 'web',
    TaskTemplate: { ContainerSpec: { Image: opts.image ?? 'nginx:1' } },
    Mode: opts.global ? { Global: {} } : { Replicated: { Replicas: opts.replicas ?? 3 } },
    ...(opts.update ? { UpdateConfig: opts.update } : {}),
    ...(opts.rollback ? { RollbackConfig: opts.rollback } : {}),
  };
  return {
    ID: opts.id ?? 'svc',
    Version: { Index: 1 },
    CreatedAt: isoTime(0),
    UpdatedAt: isoTime(0),
    Spec: spec,
    Endpoint: { Spec: { Mode: 'vip' } },
    internal: { specVersion: 1 },
  };
}

/** What `docker service update --image IMAGE` does to the World's service. */
export const img = (w: World, image: string): void => w.updateSpec((s) => (s.TaskTemplate.ContainerSpec = { Image: image }));

export function mkNode(id: string, state: Node['Status']['State'] = 'ready'): Node {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: isoTime(0),
    UpdatedAt: isoTime(0),
    Spec: { Role: 'worker', Availability: 'active' },
    Description: { Hostname: id, Platform: { OS: 'linux', Architecture: 'x86_64' }, Resources: {}, Engine: { EngineVersion: 'test' } },
    Status: { State: state, Addr: '10.0.0.1' },
  };
}

export class World {
  tasks = new Map<string, Task>();
  nodes = new Map<string, Node>();
  memo: UpdateMemo | undefined;
  now = 1_000_000;
  private seq = 0;
  /** Images whose tasks fail when started (the fake agent reports FAILED). */
  failImages = new Set<string>();
  /** When set, tasks report this health once running. */
  health: Task['internal']['health'] | undefined;
  lastPlan: UpdatePlan | undefined;

  constructor(
    public service: Service,
    nodeCount = 3,
  ) {
    for (let i = 1; i <= nodeCount; i++) this.nodes.set(`n${i}`, mkNode(`n${i}`));
  }

  newId = (): string => `t${++this.seq}`;

  /** Running tasks for the current spec, as the orchestrator and agents would leave them. */
  seed(): this {
    const nodes = [...this.nodes.keys()];
    if (this.service.Spec.Mode.Global) {
      for (const n of nodes) this.put({ ...newTask({ id: this.newId(), service: this.service, nodeId: n, now: this.now }), Status: this.status('running') });
    } else {
      const r = this.service.Spec.Mode.Replicated?.Replicas ?? 1;
      for (let slot = 1; slot <= r; slot++) {
        const t = newTask({ id: this.newId(), service: this.service, slot, now: this.now });
        this.put({ ...t, NodeID: nodes[(slot - 1) % nodes.length], Status: this.status('running') });
      }
    }
    return this;
  }

  status(state: TaskState): Task['Status'] {
    return { Timestamp: isoTime(this.now), State: state, Message: state };
  }

  put(t: Task): void {
    this.tasks.set(t.ID, t);
  }

  task(id: string): Task {
    const t = this.tasks.get(id);
    if (!t) throw new Error(`no task ${id}`);
    return t;
  }

  setState(id: string, state: TaskState): void {
    const t = this.task(id);
    this.put({ ...t, Status: this.status(state) });
  }

  /** What the control API does on `docker service update`: PreviousSpec ← Spec, new spec, version+1. */
  updateSpec(mut: (s: ServiceSpec) => void): void {
    const s = structuredClone(this.service);
    s.PreviousSpec = structuredClone(s.Spec);
    mut(s.Spec);
    s.internal = { specVersion: s.internal.specVersion + 1, previousSpecVersion: s.internal.specVersion };
    this.service = s;
  }

  /** What the control API does on `docker service rollback`. */
  manualRollback(): void {
    const s = structuredClone(this.service);
    if (!s.PreviousSpec) throw new Error('no previous spec');
    const cur = s.Spec;
    s.Spec = s.PreviousSpec;
    s.PreviousSpec = cur;
    s.UpdateStatus = { State: 'rollback_started', StartedAt: isoTime(this.now), Message: 'manually requested rollback' };
    s.internal = { specVersion: s.internal.specVersion + 1, previousSpecVersion: s.internal.specVersion };
    this.service = s;
  }

  plan(): UpdatePlan {
    return planUpdate({ service: this.service, tasks: [...this.tasks.values()], nodes: this.nodes, now: this.now, newId: this.newId, ...(this.memo ? { memo: this.memo } : {}) });
  }

  /** Plans and applies the plan, as the loop does. */
  step(): UpdatePlan {
    const p = this.plan();
    if (p.service) this.service = p.service;
    for (const t of p.create) this.put(t);
    for (const t of p.update) this.put(t);
    this.memo = p.memo;
    this.lastPlan = p;
    return p;
  }

  /**
   * The fake agents and scheduler: every task wanted running is placed and started (or fails when its
   * image is in `failImages`); every task wanted stopped is shut down. READY-wanted tasks are placed
   * and prepared but not started. Returns whether anything moved.
   */
  agent(): boolean {
    let moved = false;
    const nodes = [...this.nodes.keys()];
    for (const t of [...this.tasks.values()]) {
      if (isTerminal(t.Status.State)) continue;
      let n: Task = t;
      if (!n.NodeID && isRunnable(n.DesiredState)) n = { ...n, NodeID: nodes[((n.Slot ?? 1) - 1) % nodes.length] };
      if (!isRunnable(n.DesiredState)) {
        n = { ...n, Status: this.status('shutdown') };
      } else if (n.DesiredState === 'running' && n.Status.State !== 'running') {
        const img = n.Spec.ContainerSpec?.Image ?? '';
        n = { ...n, Status: this.status(this.failImages.has(img) ? 'failed' : 'running') };
        if (this.health && n.Status.State === 'running') n = { ...n, internal: { ...n.internal, health: this.health } };
      } else if (n.DesiredState === 'ready' && n.Status.State !== 'ready') {
        n = { ...n, Status: this.status('ready') };
      }
      if (n !== t) {
        this.put(n);
        moved = true;
      }
    }
    return moved;
  }

  /** The restart supervisor's part, simplified: a failed runnable task is replaced from the current spec. */
  restarter(): boolean {
    let moved = false;
    for (const t of [...this.tasks.values()]) {
      if (!isRunnable(t.DesiredState) || !isTerminal(t.Status.State)) continue;
      this.put({ ...t, DesiredState: 'shutdown' });
      const r = newTask({ id: this.newId(), service: this.service, ...(t.Slot ? { slot: t.Slot } : { nodeId: t.NodeID }), now: this.now });
      this.put(r);
      moved = true;
    }
    return moved;
  }

  /** Runs plan/agent rounds, jumping the clock to the planner's wake-up when idle. Returns a trace. */
  run(opts: { maxSteps?: number; until?: (w: World) => boolean; restarts?: boolean } = {}): string[] {
    const trace: string[] = [];
    for (let i = 0; i < (opts.maxSteps ?? 200); i++) {
      const p = this.step();
      const wrote = !!p.service || p.create.length > 0 || p.update.length > 0;
      if (p.events.length > 0) trace.push(`${((this.now - 1_000_000) / 1000).toFixed(1)}s ${p.events.join('; ')}${p.service ? ` => ${this.describeStatus()}` : ''}`);
      if (opts.until?.(this)) break;
      const moved = this.agent();
      const restarted = opts.restarts ? this.restarter() : false;
      if (!wrote && !moved && !restarted) {
        if (p.wakeAt === undefined) break;
        this.now = p.wakeAt;
      }
    }
    return trace;
  }

  describeStatus(): string {
    const s = this.service.UpdateStatus;
    return s ? `${s.State} "${s.Message ?? ''}"` : 'no status';
  }

  /** Runnable tasks per slot, as `slot:image:observed/desired` (for assertions). */
  summary(): string[] {
    return [...this.tasks.values()]
      .filter((t) => isRunnable(t.DesiredState))
      .sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0) || (a.NodeID ?? '').localeCompare(b.NodeID ?? '') || a.ID.localeCompare(b.ID))
      .map((t) => `${t.Slot ?? t.NodeID}:${t.Spec.ContainerSpec?.Image}:${t.Status.State}/${t.DesiredState}`);
  }
}
