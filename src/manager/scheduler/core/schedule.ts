import { isRunnable, STATE_MESSAGE, type Task } from '../../../types';
import { isoTime } from '../../../lib/time';
import { MinHeap } from '../../../lib/min-heap';
import { addTask, hostPortsOf, type NodeInfo } from './nodeinfo';
import { noSuitableNode, Pipeline } from './filters';

export const ASSIGNED_MESSAGE = STATE_MESSAGE.assigned ?? 'scheduler assigned task to node';
export const PENDING_MESSAGE = STATE_MESSAGE.pending ?? 'pending task scheduling';

export interface ScheduleResult {
  /** Tasks to write (assigned, explained, or shut down); unchanged tasks are not listed. */
  updates: Task[];
  /** How many tasks remain pending for want of a node. */
  unplaced: number;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The value a spread descriptor (`node.labels.zone`, `engine.labels.x`) reads on a node. */
export function spreadValue(descriptor: string, n: NodeInfo): string {
  const d = descriptor.trim();
  const lower = d.toLowerCase();
  if (lower.startsWith('node.labels.')) return n.node.Spec.Labels?.[d.slice('node.labels.'.length)] ?? '';
  if (lower.startsWith('engine.labels.')) return n.node.Description?.Engine?.Labels?.[d.slice('engine.labels.'.length)] ?? '';
  return '';
}

const serviceLoad = (ns: readonly NodeInfo[], sid: string): number => ns.reduce((s, n) => s + (n.activeByService.get(sid) ?? 0), 0);

/**
 * Ranks the nodes that passed the filters: placement preferences first (at each level, the branch of
 * nodes sharing a label value that holds the fewest tasks of the service), then the node with the
 * fewest tasks of the service, then the fewest tasks overall, then the node ID for determinism.
 */
export function pickNode(t: Task, candidates: readonly NodeInfo[]): NodeInfo | undefined {
  let pool = [...candidates];
  for (const pref of t.Spec.Placement?.Preferences ?? []) {
    const d = pref.Spread?.SpreadDescriptor;
    if (!d || pool.length <= 1) continue;
    const groups = new Map<string, NodeInfo[]>();
    for (const n of pool) {
      const v = spreadValue(d, n);
      const g = groups.get(v);
      if (g) g.push(n);
      else groups.set(v, [n]);
    }
    let best: { v: string; load: number; ns: NodeInfo[] } | null = null;
    for (const [v, ns] of groups) {
      const load = serviceLoad(ns, t.ServiceID);
      if (!best || load < best.load || (load === best.load && cmp(v, best.v) < 0)) best = { v, load, ns };
    }
    pool = best!.ns;
  }
  let best: NodeInfo | undefined;
  for (const n of pool) {
    if (!best) {
      best = n;
      continue;
    }
    const a = n.activeByService.get(t.ServiceID) ?? 0;
    const b = best.activeByService.get(t.ServiceID) ?? 0;
    if (a < b || (a === b && (n.active < best.active || (n.active === best.active && cmp(n.node.ID, best.node.ID) < 0)))) best = n;
  }
  return best;
}

/**
 * Schedules the pending tasks of one service in one pass. Tasks without a node get the best node
 * that passes the filters; tasks that already name a node (global services) are checked against it.
 * Placed tasks become ASSIGNED and are accounted in `infos` at once, so later tasks of the batch see
 * them. A task that fits nowhere keeps PENDING with Docker's explanation in Status.Err (written only
 * when it changes). A pending task no longer wanted (DesiredState past RUNNING) is marked SHUTDOWN.
 *
 * Tasks that the filters see alike (same service, spec and host ports) and that have no placement
 * preferences are placed through one ranking of their group (TaskGroup): the filters run over the
 * nodes once per group, not once per task (1,000 nodes × 100,000 tasks were 10^8 filter checks and
 * most of a leader's CPU), with the same choice as ranking every node for every task.
 */
export function scheduleTasks(tasks: readonly Task[], infos: ReadonlyMap<string, NodeInfo>, now: number): ScheduleResult {
  const ts = isoTime(now);
  const out: ScheduleResult = { updates: [], unplaced: 0 };
  const ordered = tasks
    .filter((t) => t.Status.State === 'pending')
    .sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0) || cmp(a.NodeID ?? '', b.NodeID ?? '') || cmp(a.ID, b.ID));
  const all = [...infos.values()].sort((a, b) => cmp(a.node.ID, b.node.ID));
  const groups = new Map<string, TaskGroup>();
  for (const t of ordered) {
    if (!isRunnable(t.DesiredState)) {
      out.updates.push({ ...t, UpdatedAt: ts, Status: { ...withoutErr(t.Status), State: 'shutdown', Message: STATE_MESSAGE.shutdown ?? 'shutdown', Timestamp: ts } });
      continue;
    }
    let chosen: NodeInfo | undefined;
    let group: TaskGroup | undefined;
    if (t.NodeID) {
      const info = infos.get(t.NodeID);
      if (info && new Pipeline(t).passes(info)) chosen = info;
    } else if (!t.Spec.Placement?.Preferences?.length) {
      const key = groupKey(t);
      group = groups.get(key);
      if (!group) groups.set(key, (group = new TaskGroup(t, all)));
      chosen = group.pick();
    } else {
      const pipeline = new Pipeline(t);
      chosen = pickNode(t, all.filter((n) => pipeline.passes(n)));
    }
    if (chosen) {
      const placed: Task = {
        ...t,
        NodeID: chosen.node.ID,
        UpdatedAt: ts,
        Status: { ...withoutErr(t.Status), State: 'assigned', Message: ASSIGNED_MESSAGE, Timestamp: ts },
      };
      addTask(chosen, placed);
      group?.placed(chosen);
      out.updates.push(placed);
      continue;
    }
    out.unplaced++;
    // the explanation counts every node's first failing filter for this task
    const pipeline = new Pipeline(t);
    for (const n of t.NodeID ? [infos.get(t.NodeID)].filter((x) => x !== undefined) : all) pipeline.passes(n);
    const err = noSuitableNode(pipeline.explain());
    if (t.Status.Err === err && t.Status.Message === PENDING_MESSAGE) continue;
    out.updates.push({ ...t, UpdatedAt: ts, Status: { ...t.Status, Err: err, Message: PENDING_MESSAGE, Timestamp: ts } });
  }
  return out;
}

const specTexts = new WeakMap<object, string>();

/** What the filters read of a task: its service (max replicas per node), its spec and its host ports. */
function groupKey(t: Task): string {
  let spec = specTexts.get(t.Spec);
  if (spec === undefined) specTexts.set(t.Spec, (spec = JSON.stringify(t.Spec)));
  return `${t.ServiceID}\n${hostPortsOf(t).join(',')}\n${spec}`;
}

interface Ranked {
  node: NodeInfo;
  /** The node's load when it was queued: tasks of the service, then all tasks. */
  ofService: number;
  active: number;
}

/**
 * The nodes that passed a task group's filters, by pickNode's order (fewest tasks of the service,
 * fewest tasks, node ID) in a binary heap. Placing a task only ever adds load to one node and only
 * that node's filters can change, so a node's entry is re-ranked when it comes up with a load it no
 * longer has (another group placed on it) and dropped when it no longer passes: the node taken is
 * the one ranking every passing node for each task would take.
 */
class TaskGroup {
  private readonly pipeline: Pipeline;
  private readonly sid: string;
  private readonly heap = new MinHeap<Ranked>(
    (a, b) => a.ofService < b.ofService || (a.ofService === b.ofService && (a.active < b.active || (a.active === b.active && a.node.node.ID < b.node.node.ID))),
  );

  constructor(t: Task, nodes: readonly NodeInfo[]) {
    this.pipeline = new Pipeline(t);
    this.sid = t.ServiceID;
    for (const n of nodes) if (this.pipeline.passes(n)) this.queue(n);
  }

  pick(): NodeInfo | undefined {
    for (;;) {
      const top = this.heap.pop();
      if (!top) return undefined;
      const n = top.node;
      if ((n.activeByService.get(this.sid) ?? 0) !== top.ofService || n.active !== top.active) {
        this.queue(n); // loaded since it was queued: rank it again
        continue;
      }
      if (this.pipeline.passes(n)) return n;
      // it no longer fits (resources, ports, max replicas): load only grows within a pass
    }
  }

  /** The node `pick` returned took a task: queue it again at its new load. */
  placed(n: NodeInfo): void {
    this.queue(n);
  }

  private queue(n: NodeInfo): void {
    this.heap.push({ node: n, ofService: n.activeByService.get(this.sid) ?? 0, active: n.active });
  }
}

function withoutErr<T extends { Err?: string }>(s: T): T {
  const c = { ...s };
  delete c.Err;
  return c;
}
