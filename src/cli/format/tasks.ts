// `docker service ps` / `docker node ps` / `docker stack ps` rows (the docker CLI's task formatter).
import type { Task } from '../../types';
import { humanDuration } from './duration';
import { naturalCompare } from './objects';
import { formatList, type RowContext } from './template';
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

/** ERROR column: the error quoted, cut to 30 characters with an ellipsis (not cut with --no-trunc). */
export function errorText(err: string | undefined, trunc = true): string {
  if (!err) return '';
  const max = 30;
  const chars = [...err];
  const cut = trunc && chars.length > max ? chars.slice(0, max - 1).join('') + '…' : err;
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
  /** Short IDs, images without digest, errors cut (the default; `--no-trunc` turns it off). */
  trunc?: boolean;
  /** History rows of a slot are indented ` \_ web.1` (table formats only). */
  indent?: boolean;
}

/** The docker CLI's default task format and its column titles. */
export const TASK_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}\t{{.Ports}}';
export const TASK_HEADER = { ID: 'ID', Name: 'NAME', Image: 'IMAGE', Node: 'NODE', DesiredState: 'DESIRED STATE', CurrentState: 'CURRENT STATE', Error: 'ERROR', Ports: 'PORTS' };

/** One template row per task, in the docker CLI's order. */
export function taskRows(tasks: readonly ApiTask[], ctx: TaskTableContext): RowContext[] {
  const trunc = ctx.trunc ?? true;
  let prev = '';
  return sortTasks(tasks, ctx.serviceNames).map((t) => {
    const name = taskName(ctx.serviceNames.get(t.ServiceID) ?? t.ServiceID, t);
    const shown = name === prev && (ctx.indent ?? true) ? ` \\_ ${name}` : name;
    prev = name;
    const image = t.Spec.ContainerSpec?.Image ?? '';
    return {
      ID: trunc ? truncId(t.ID) : t.ID,
      Name: shown,
      Image: trunc ? imageNoDigest(image) : image,
      Node: ctx.nodeNames.get(t.NodeID ?? '') ?? t.NodeID ?? '',
      DesiredState: capitalize(t.DesiredState),
      CurrentState: currentStateText(t.Status.State, t.Status.Timestamp, ctx.nowMs),
      Error: errorText(t.Status.Err, trunc),
      Ports: formatTaskPorts(t.Status.PortStatus?.Ports),
    };
  });
}

/** The whole default `service ps` table. */
export const formatTaskTable = (tasks: readonly ApiTask[], ctx: TaskTableContext): string => formatList(TASK_TABLE, taskRows(tasks, ctx), TASK_HEADER);
