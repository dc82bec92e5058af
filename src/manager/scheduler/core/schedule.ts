import { isRunnable, STATE_MESSAGE, type Task } from '../../../types';
import { isoTime } from '../../../lib/time';
import { addTask, type NodeInfo } from './nodeinfo';
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
 */
export function scheduleTasks(tasks: readonly Task[], infos: ReadonlyMap<string, NodeInfo>, now: number): ScheduleResult {
  const ts = isoTime(now);
  const out: ScheduleResult = { updates: [], unplaced: 0 };
  const ordered = tasks
    .filter((t) => t.Status.State === 'pending')
    .sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0) || cmp(a.NodeID ?? '', b.NodeID ?? '') || cmp(a.ID, b.ID));
  const all = [...infos.values()].sort((a, b) => cmp(a.node.ID, b.node.ID));
  for (const t of ordered) {
    if (!isRunnable(t.DesiredState)) {
      out.updates.push({ ...t, UpdatedAt: ts, Status: { ...withoutErr(t.Status), State: 'shutdown', Message: STATE_MESSAGE.shutdown ?? 'shutdown', Timestamp: ts } });
      continue;
    }
    const pipeline = new Pipeline(t);
    let chosen: NodeInfo | undefined;
    if (t.NodeID) {
      const info = infos.get(t.NodeID);
      if (info && pipeline.passes(info)) chosen = info;
    } else {
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
      out.updates.push(placed);
      continue;
    }
    out.unplaced++;
    const err = noSuitableNode(pipeline.explain());
    if (t.Status.Err === err && t.Status.Message === PENDING_MESSAGE) continue;
    out.updates.push({ ...t, UpdatedAt: ts, Status: { ...t.Status, Err: err, Message: PENDING_MESSAGE, Timestamp: ts } });
  }
  return out;
}

function withoutErr<T extends { Err?: string }>(s: T): T {
  const c = { ...s };
  delete c.Err;
  return c;
}
