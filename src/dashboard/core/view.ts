// What the web dashboard shows, decided from the Engine API objects the backend returns: rows for
// nodes, services and tasks, the patch between two views that the page applies live, and the specs
// the page's actions send back through the backend. Pure: no clock, no I/O; the HTTP/SSE layer
// (../server.ts) fetches, calls these, and writes.
import type { Node, NodeAvailability, NodeSpec, PortConfig, Service, ServiceSpec, Task } from '../../types';
import { stableEqual } from '../../types/dirty';
import { isRunnable } from '../../types/task-state';
import { invalidArgument } from '../../lib/errors';
import { updateProgress } from '../../metrics/core/cluster';

export interface NodeRow {
  id: string;
  hostname: string;
  role: string;
  /** Status.State: ready, down, unknown, disconnected. */
  status: string;
  message: string;
  availability: string;
  /** `docker node ls` MANAGER STATUS: Leader, Reachable, Unreachable, or '' for a worker. */
  managerStatus: string;
  leader: boolean;
  addr: string;
  engineVersion: string;
  nanoCpus: number;
  memoryBytes: number;
  /** Tasks wanted running on the node. */
  tasks: number;
}

export interface UpdateRow {
  /** UpdateStatus.State: updating, paused, completed, rollback_started, … */
  state: string;
  message: string;
  /** Tasks wanted running that run the current spec, out of `total` (the progress bar). */
  updated: number;
  total: number;
  startedAt: string;
  completedAt: string;
}

export interface ServiceRow {
  id: string;
  name: string;
  /** As `docker service ls` prints it: replicated, global, replicated job, global job. */
  mode: string;
  running: number;
  desired: number;
  /** Jobs only: tasks that completed. */
  completed?: number;
  image: string;
  /** `docker service ls` PORTS entries: `*:8080->80/tcp` (ingress), `8080->80/tcp (host)`. */
  ports: string[];
  update?: UpdateRow;
  /** The page may offer scale (replicated and replicated-job services, as `docker service scale`). */
  scalable: boolean;
  /** The service has a previous spec to roll back to. */
  canRollback: boolean;
  updatedAt: string;
}

export interface TaskRow {
  id: string;
  serviceId: string;
  serviceName: string;
  /** `docker service ps` NAME: `web.2` (replicated) or `web.<node id>` (global). */
  name: string;
  slot: number;
  nodeId: string;
  /** The node's hostname, or its ID when the node is gone. */
  node: string;
  image: string;
  desiredState: string;
  state: string;
  /** When the task reached its current state (Status.Timestamp). */
  since: string;
  message: string;
  error: string;
  exitCode?: number;
  /** A replaced task of its slot (`docker service ps` prints these as `\_ web.2`). */
  history: boolean;
}

/** Everything the page shows. `error`: why the cluster could not be read (not a manager, no leader). */
export interface DashboardView {
  nodes: NodeRow[];
  services: ServiceRow[];
  tasks: TaskRow[];
  error?: string;
}

export const EMPTY_VIEW: DashboardView = { nodes: [], services: [], tasks: [] };

/** A service from `listServices(…, withStatus=true)`. */
export type ServiceWithStatus = Service & { ServiceStatus?: { RunningTasks: number; DesiredTasks: number; CompletedTasks: number } };

export function nodeRow(n: Node, tasks: readonly Task[]): NodeRow {
  const ms = n.ManagerStatus;
  const managerStatus = ms ? (ms.Leader ? 'Leader' : ms.Reachability === 'reachable' ? 'Reachable' : ms.Reachability === 'unreachable' ? 'Unreachable' : 'Unknown') : '';
  return {
    id: n.ID,
    hostname: n.Description?.Hostname ?? '',
    role: n.Spec.Role,
    status: n.Status.State,
    message: n.Status.Message ?? '',
    availability: n.Spec.Availability,
    managerStatus,
    leader: !!ms?.Leader,
    addr: n.Status.Addr,
    engineVersion: n.Description?.Engine?.EngineVersion ?? '',
    nanoCpus: n.Description?.Resources?.NanoCPUs ?? 0,
    memoryBytes: n.Description?.Resources?.MemoryBytes ?? 0,
    tasks: tasks.filter((t) => t.NodeID === n.ID && isRunnable(t.DesiredState)).length,
  };
}

export function modeName(spec: ServiceSpec): string {
  const m = spec.Mode;
  if (m.Global) return 'global';
  if (m.ReplicatedJob) return 'replicated job';
  if (m.GlobalJob) return 'global job';
  return 'replicated';
}

/** The image without its pinned digest, as `docker service ls` prints it. */
export function imageName(image: string | undefined): string {
  return (image ?? '').replace(/@sha256:[0-9a-f]+$/, '');
}

export function portText(p: PortConfig): string {
  const proto = p.Protocol ?? 'tcp';
  const published = p.PublishedPort ? String(p.PublishedPort) : '';
  return p.PublishMode === 'host' ? `${published}->${p.TargetPort}/${proto} (host)` : `*:${published}->${p.TargetPort}/${proto}`;
}

export function serviceRow(s: ServiceWithStatus, tasks: readonly Task[]): ServiceRow {
  const mode = modeName(s.Spec);
  const st = s.ServiceStatus;
  const row: ServiceRow = {
    id: s.ID,
    name: s.Spec.Name,
    mode,
    running: st?.RunningTasks ?? 0,
    desired: st?.DesiredTasks ?? 0,
    image: imageName(s.Spec.TaskTemplate?.ContainerSpec?.Image),
    // the allocator's ports (auto-assigned published ports filled in), else the spec's until it ran
    ports: (s.Endpoint?.Ports ?? s.Spec.EndpointSpec?.Ports ?? []).map(portText),
    scalable: !!(s.Spec.Mode.Replicated || s.Spec.Mode.ReplicatedJob),
    canRollback: !!s.PreviousSpec,
    updatedAt: s.UpdatedAt,
  };
  if (mode.endsWith('job')) row.completed = st?.CompletedTasks ?? 0;
  const progress = updateProgress(s, tasks);
  if (progress && s.UpdateStatus) {
    row.update = {
      state: progress.state,
      message: s.UpdateStatus.Message ?? '',
      updated: progress.updated,
      total: progress.total,
      startedAt: s.UpdateStatus.StartedAt ?? '',
      completedAt: s.UpdateStatus.CompletedAt ?? '',
    };
  }
  return row;
}

/**
 * Task rows in `docker service ps` order: by service name, then slot (global: node), newest first
 * within a slot; every task but the newest of its slot is history.
 */
export function taskRows(tasks: readonly Task[], nodeNames: ReadonlyMap<string, string>): TaskRow[] {
  const slotKey = (t: Task) => `${t.ServiceID}/${t.Slot ? `s${t.Slot}` : `n${t.NodeID ?? ''}`}`;
  const sorted = [...tasks].sort(
    (a, b) =>
      a.internal.serviceName.localeCompare(b.internal.serviceName) ||
      a.ServiceID.localeCompare(b.ServiceID) ||
      (a.Slot ?? 0) - (b.Slot ?? 0) ||
      // a replicated slot moves between nodes; a global task's slot is its node
      (a.Slot ? 0 : (a.NodeID ?? '').localeCompare(b.NodeID ?? '')) ||
      b.CreatedAt.localeCompare(a.CreatedAt) ||
      a.ID.localeCompare(b.ID),
  );
  const seen = new Set<string>();
  return sorted.map((t) => {
    const key = slotKey(t);
    const history = seen.has(key);
    seen.add(key);
    const svc = t.internal.serviceName;
    const row: TaskRow = {
      id: t.ID,
      serviceId: t.ServiceID,
      serviceName: svc,
      name: t.Slot ? `${svc}.${t.Slot}` : `${svc}.${t.NodeID ?? ''}`,
      slot: t.Slot ?? 0,
      nodeId: t.NodeID ?? '',
      node: t.NodeID ? (nodeNames.get(t.NodeID) ?? t.NodeID) : '',
      image: imageName(t.Spec.ContainerSpec?.Image),
      desiredState: t.DesiredState,
      state: t.Status.State,
      since: t.Status.Timestamp,
      message: t.Status.Message,
      error: t.Status.Err ?? '',
      history,
    };
    const code = t.Status.ContainerStatus?.ExitCode;
    if (code !== undefined) row.exitCode = code;
    return row;
  });
}

/** The whole view from one read of nodes, services (with their status counts) and tasks. */
export function buildView(input: { nodes: readonly Node[]; services: readonly ServiceWithStatus[]; tasks: readonly Task[] }): DashboardView {
  const names = new Map(input.nodes.map((n) => [n.ID, n.Description?.Hostname ?? n.ID]));
  const byService = new Map<string, Task[]>();
  for (const t of input.tasks) {
    const list = byService.get(t.ServiceID);
    if (list) list.push(t);
    else byService.set(t.ServiceID, [t]);
  }
  const nodes = input.nodes.map((n) => nodeRow(n, input.tasks));
  // managers first, then by hostname (`docker node ls` sorts by hostname)
  nodes.sort((a, b) => Number(b.role === 'manager') - Number(a.role === 'manager') || a.hostname.localeCompare(b.hostname) || a.id.localeCompare(b.id));
  const services = input.services.map((s) => serviceRow(s, byService.get(s.ID) ?? []));
  services.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  return { nodes, services, tasks: taskRows(input.tasks, names) };
}

/** The view when the cluster cannot be read: the last rows stay (marked stale by the error). */
export function failedView(last: DashboardView, error: string): DashboardView {
  return { ...last, error };
}

interface Keyed {
  id: string;
}

/** One collection's change: rows added or changed (whole rows), ids removed, and the new order. */
export interface CollectionPatch<T> {
  set: T[];
  remove: string[];
  /** The ids in display order, present only when the order changed. */
  order?: string[];
}

/** What changed between two views; the page applies it to its copy (see static/app.js `applyPatch`). */
export interface ViewPatch {
  nodes?: CollectionPatch<NodeRow>;
  services?: CollectionPatch<ServiceRow>;
  tasks?: CollectionPatch<TaskRow>;
  /** Present when the error changed; '' clears it. */
  error?: string;
}

function diffRows<T extends Keyed>(prev: readonly T[], next: readonly T[]): CollectionPatch<T> | undefined {
  const before = new Map(prev.map((r) => [r.id, r]));
  const nextIds = new Set(next.map((r) => r.id));
  const set = next.filter((r) => !stableEqual(before.get(r.id), r));
  const remove = prev.filter((r) => !nextIds.has(r.id)).map((r) => r.id);
  const kept = prev.map((r) => r.id).filter((id) => nextIds.has(id));
  const order = next.map((r) => r.id);
  // unchanged when the kept ids lead in the same order: the new rows follow them in `set`'s order
  const orderChanged = kept.some((id, i) => order[i] !== id);
  if (set.length === 0 && remove.length === 0 && !orderChanged) return undefined;
  const p: CollectionPatch<T> = { set, remove };
  if (orderChanged) p.order = order;
  return p;
}

/** The patch from `prev` to `next`, or undefined when nothing the page shows changed. */
export function diffView(prev: DashboardView, next: DashboardView): ViewPatch | undefined {
  const p: ViewPatch = {};
  const nodes = diffRows(prev.nodes, next.nodes);
  const services = diffRows(prev.services, next.services);
  const tasks = diffRows(prev.tasks, next.tasks);
  if (nodes) p.nodes = nodes;
  if (services) p.services = services;
  if (tasks) p.tasks = tasks;
  if ((prev.error ?? '') !== (next.error ?? '')) p.error = next.error ?? '';
  return Object.keys(p).length ? p : undefined;
}

/** The same patch applied to a view (what the page does; tests check the two agree). */
export function applyPatch(view: DashboardView, p: ViewPatch): DashboardView {
  const apply = <T extends Keyed>(rows: readonly T[], c: CollectionPatch<T> | undefined): T[] => {
    if (!c) return [...rows];
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const id of c.remove) byId.delete(id);
    for (const r of c.set) byId.set(r.id, r);
    const order = c.order ?? [...rows.map((r) => r.id).filter((id) => byId.has(id)), ...c.set.map((r) => r.id).filter((id) => !rows.some((r) => r.id === id))];
    return order.map((id) => byId.get(id)!).filter(Boolean);
  };
  const out: DashboardView = { nodes: apply(view.nodes, p.nodes), services: apply(view.services, p.services), tasks: apply(view.tasks, p.tasks) };
  const error = p.error !== undefined ? p.error : view.error;
  if (error) out.error = error;
  return out;
}

// ---- actions: the specs the page's buttons send through the backend ----

/** `docker service scale NAME=N`: the service's spec with N replicas (replicated) or completions (replicated job). */
export function scaledSpec(service: Service, replicas: unknown): ServiceSpec {
  if (typeof replicas !== 'number' || !Number.isSafeInteger(replicas) || replicas < 0) {
    throw invalidArgument(`invalid replicas value ${JSON.stringify(replicas)}: want a non-negative integer`);
  }
  const spec = structuredCloneJson(service.Spec);
  if (spec.Mode.Replicated) spec.Mode.Replicated.Replicas = replicas;
  else if (spec.Mode.ReplicatedJob) spec.Mode.ReplicatedJob.TotalCompletions = replicas;
  // the docker CLI's text for a global service
  else throw invalidArgument('scale can only be used with replicated or replicated-job mode');
  return spec;
}

const AVAILABILITIES: readonly NodeAvailability[] = ['active', 'pause', 'drain'];

/** `docker node update --availability X`: the node's spec with that availability. */
export function availabilitySpec(node: Node, availability: unknown): NodeSpec {
  if (typeof availability !== 'string' || !AVAILABILITIES.includes(availability as NodeAvailability)) {
    throw invalidArgument(`invalid availability ${JSON.stringify(availability)}: want active, pause or drain`);
  }
  return { ...structuredCloneJson(node.Spec), Availability: availability as NodeAvailability };
}

/** A deep copy of plain JSON data (specs are JSON). */
function structuredCloneJson<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** One server-sent event frame (`event:` and `data:` lines); data is JSON on one line. */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
