import type { Node } from './node';
import type { Service } from './service';
import type { Task } from './task';
import { nodeMatchesConstraints, taskConstraints } from './constraints';

// Whether a task still matches its service's task template. The update supervisor replaces the
// tasks that do not; a clean task only needs its recorded spec version brought up to date.

/**
 * Deep structural equality for plain JSON-like data. A property whose value is `undefined` counts as
 * absent, so `{a: 1, b: undefined}` equals `{a: 1}`; key order never matters, array order does.
 */
export function stableEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  const aa = Array.isArray(a);
  if (aa !== Array.isArray(b)) return false;
  if (aa) {
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!stableEqual(x[i], y[i])) return false;
    return true;
  }
  // Loops rather than Object.keys().filter().every(): every committed task is compared (the store's
  // sharing, the dirty checks), and the arrays and closures were most of the cost (issue 15).
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let defined = 0;
  for (const k in x) {
    if (!Object.prototype.hasOwnProperty.call(x, k) || x[k] === undefined) continue;
    if (!Object.prototype.hasOwnProperty.call(y, k) || !stableEqual(x[k], y[k])) return false;
    defined++;
  }
  for (const k in y) if (Object.prototype.hasOwnProperty.call(y, k) && y[k] !== undefined) defined--;
  return defined === 0;
}

/**
 * True when the task's spec differs from the service's current `Spec.TaskTemplate` (deep, stable
 * comparison). `ForceUpdate` lives inside the template, so `docker service update --force` makes
 * every task dirty; a change of replicas or of UpdateConfig makes none dirty.
 *
 * As in swarmkit, when only `Placement` differs and the task's node (pass it as `node`) satisfies
 * the new constraints, the task is not dirty: it may stay where it is.
 */
export function isTaskDirty(
  task: Pick<Task, 'Spec'> & Partial<Pick<Task, 'Status' | 'internal' | 'NetworksAttachments'>>,
  service: Pick<Service, 'Spec'>,
  node?: Node,
  /**
   * Whether a spec object equals this service's template, for callers that ask about many tasks of one
   * service version: the store shares one spec object among them, so 100,000 tasks cost one comparison.
   */
  sameAsTemplate?: Map<Task['Spec'], boolean>,
): boolean {
  const want = service.Spec.TaskTemplate;
  if (hostPortsChanged(task, service) || unreachableIngressPort(task, service)) return true;
  let same = sameAsTemplate?.get(task.Spec);
  if (same === undefined) {
    same = stableEqual(task.Spec, want);
    sameAsTemplate?.set(task.Spec, same);
  }
  if (same) return false;
  if (!node || stableEqual(task.Spec.Placement, want.Placement)) return true;
  if (!stableEqual({ ...want, Placement: task.Spec.Placement }, task.Spec)) return true;
  return !nodeMatchesConstraints(taskConstraints(want), node);
}

/** "tcp/80/8080" per host-mode port (published 0: the engine picks one), sorted. */
function hostPortKeys(ports: readonly { Protocol?: string; TargetPort?: number; PublishedPort?: number; PublishMode?: string }[] | undefined): string[] {
  return (ports ?? [])
    .filter((p) => p.PublishMode === 'host')
    .map((p) => `${p.Protocol ?? 'tcp'}/${p.TargetPort ?? 0}/${p.PublishedPort ?? 0}`)
    .sort();
}

/**
 * Host-mode ports are bound by the task's container when it is created, so a task allocated with
 * other host-mode ports than the service now publishes must be replaced to bind them, as swarmkit
 * replaces a task whose endpoint differs. (Ingress ports are not the task's: the mesh follows them.)
 * A task not allocated yet (`new`) gets the service's ports when it is.
 */
function hostPortsChanged(task: Partial<Pick<Task, 'Status' | 'internal'>>, service: Pick<Service, 'Spec'>): boolean {
  if (!task.internal || !task.Status || task.Status.State === 'new') return false;
  const want = hostPortKeys(service.Spec.EndpointSpec?.Ports);
  const have = hostPortKeys(task.internal.ports);
  return want.length !== have.length || want.some((k, i) => k !== have[i]);
}

/**
 * A port published in ingress mode is reached at the task's `ingress` address (docker runtime; the
 * process runtime's node ports are handed out with it too). A task allocated while its service
 * published nothing in ingress mode has no such address and cannot be reached until it is replaced;
 * a task that has one stays (the mesh follows `--publish-add`/`--publish-rm`). Services cannot publish
 * in ingress mode without an `ingress` network, so the replacement gets the address.
 */
function unreachableIngressPort(task: Partial<Pick<Task, 'Status' | 'internal' | 'NetworksAttachments'>>, service: Pick<Service, 'Spec'>): boolean {
  if (!task.internal || !task.Status || task.Status.State === 'new') return false;
  if (!(service.Spec.EndpointSpec?.Ports ?? []).some((p) => (p.PublishMode ?? 'ingress') === 'ingress')) return false;
  return !(task.NetworksAttachments ?? []).some((a) => a.Network.Spec.Ingress);
}
