// `docker service ps` / `docker node ps` rows.
import type { Task } from '../../types';
import { humanDuration } from './duration';
import { naturalCompare } from './objects';
import { formatTable } from './table';
import { capitalize, formatTaskPorts, imageNoDigest, truncId } from './text';

export type ApiTask = Omit<Task, 'internal'>;

/** `web.1` for a replicated task, `web.<nodeID>` for a global one. */
export function taskName(serviceName: string, t: Pick<ApiTask, 'Slot' | 'NodeID'>): string {
  return t.Slot && t.Slot > 0 ? `${serviceName}.${t.Slot}` : `${serviceName}.${t.NodeID ?? ''}`;
}

/** CURRENT STATE: `Running 5 seconds ago` (the duration lower-cased, as Docker prints it). */
export function currentStateText(state: string, timestamp: string | undefined, nowMs: number): string {
  const at = timestamp ? Date.parse(timestamp) : NaN;
  const ago = Number.isNaN(at) ? '' : ` ${humanDuration(Math.max(0, nowMs - at)).toLowerCase()} ago`;
  return capitalize(state) + ago;
}

/** ERROR column: the error quoted, cut to 30 characters with an ellipsis. */
export function errorText(err: string | undefined): string {
  if (!err) return '';
  const max = 30;
  const chars = [...err];
  const cut = chars.length > max ? chars.slice(0, max - 1).join('') + '…' : err;
  return `"${cut}"`;
}

/**
 * The docker CLI's order: by task name (`web.1`, `web.<nodeID>`) in natural order (`web.2` before `web.10`), the most
 * recently created first within one name (a slot's history). Names come from service names, so the order does not
 * depend on service IDs.
 */
export function sortTasks<T extends ApiTask>(tasks: readonly T[], serviceNames: ReadonlyMap<string, string>): T[] {
  const nameOf = (t: T) => taskName(serviceNames.get(t.ServiceID) ?? t.ServiceID, t);
  return [...tasks].sort((a, b) => naturalCompare(nameOf(a), nameOf(b)) || Date.parse(b.CreatedAt) - Date.parse(a.CreatedAt));
}

export interface TaskTableContext {
  serviceNames: Map<string, string>;
  nodeNames: Map<string, string>;
  nowMs: number;
}

export const TASK_HEADER = ['ID', 'NAME', 'IMAGE', 'NODE', 'DESIRED STATE', 'CURRENT STATE', 'ERROR', 'PORTS'];

/** The whole `service ps` table; history rows of a slot are indented ` \_ web.1`. */
export function formatTaskTable(tasks: readonly ApiTask[], ctx: TaskTableContext): string {
  let prev = '';
  const rows = sortTasks(tasks, ctx.serviceNames).map((t) => {
    const name = taskName(ctx.serviceNames.get(t.ServiceID) ?? t.ServiceID, t);
    const shown = name === prev ? ` \\_ ${name}` : name;
    prev = name;
    return [
      truncId(t.ID),
      shown,
      imageNoDigest(t.Spec.ContainerSpec?.Image ?? ''),
      ctx.nodeNames.get(t.NodeID ?? '') ?? t.NodeID ?? '',
      capitalize(t.DesiredState),
      currentStateText(t.Status.State, t.Status.Timestamp, ctx.nowMs),
      errorText(t.Status.Err),
      formatTaskPorts(t.Status.PortStatus?.Ports),
    ];
  });
  return formatTable(TASK_HEADER, rows);
}
