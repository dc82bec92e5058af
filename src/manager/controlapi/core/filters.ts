import type { Labels, Node, Service, Task } from '../../../types';
import { modeName } from '../../../types';

// The Engine API's list filters. Values of one key are OR-ed; different keys are AND-ed.
export type Filters = Record<string, string[]>;

const any = (vals: string[] | undefined, pred: (v: string) => boolean): boolean => !vals || vals.length === 0 || vals.some(pred);

export function labelMatches(labels: Labels | undefined, filter: string): boolean {
  const eq = filter.indexOf('=');
  if (eq < 0) return labels !== undefined && filter in labels;
  return labels?.[filter.slice(0, eq)] === filter.slice(eq + 1);
}

/** Every label filter must match (Docker ANDs label filters). */
const allLabels = (labels: Labels | undefined, vals: string[] | undefined): boolean => (vals ?? []).every((f) => labelMatches(labels, f));

export function serviceMatches(s: Service, f: Filters): boolean {
  return (
    any(f.id, (v) => s.ID.startsWith(v)) &&
    any(f.name, (v) => s.Spec.Name.startsWith(v)) &&
    any(f.mode, (v) => v === modeName(s.Spec.Mode)) &&
    allLabels(s.Spec.Labels, f.label)
  );
}

export function nodeMatches(n: Node, f: Filters): boolean {
  return (
    any(f.id, (v) => n.ID.startsWith(v)) &&
    any(f.name, (v) => (n.Spec.Name ?? n.Description.Hostname).startsWith(v) || n.Description.Hostname.startsWith(v)) &&
    any(f.role, (v) => n.Spec.Role === v.toLowerCase()) &&
    any(f.membership, (v) => v.toLowerCase() === 'accepted') &&
    allLabels(n.Description.Engine?.Labels, f.label) &&
    allLabels(n.Spec.Labels, f['node.label'])
  );
}

/** Task name as Docker shows it: `<service>.<slot>` or `<service>.<node id>` for global tasks. */
export const taskName = (t: Task): string => `${t.internal.serviceName}.${t.Slot ?? t.NodeID ?? ''}`;

/**
 * Task filters other than service/node (those are resolved to IDs by the caller and passed as
 * `serviceIds`/`nodeIds`). `upToDate` maps each service ID to its current spec version.
 */
export function taskMatches(
  t: Task,
  f: Filters,
  resolved: { serviceIds?: Set<string>; nodeIds?: Set<string>; specVersions: Map<string, number>; serviceLabels?: Map<string, Labels> },
): boolean {
  if (resolved.serviceIds && !resolved.serviceIds.has(t.ServiceID)) return false;
  if (resolved.nodeIds && !resolved.nodeIds.has(t.NodeID ?? '')) return false;
  if (!any(f.id, (v) => t.ID.startsWith(v))) return false;
  if (!any(f.name, (v) => taskName(t).startsWith(v) || `${taskName(t)}.${t.ID}`.startsWith(v))) return false;
  // dockerd upper-cases the value to swarmkit's enum name: `Running` and `running` are the same state.
  if (!any(f['desired-state'], (v) => t.DesiredState === v.toLowerCase() || (v.toLowerCase() === 'accepted' && t.DesiredState === 'ready'))) return false;
  // swarmkit matches a task's label filter against its service's labels (ServiceAnnotations), which
  // is how `docker stack ps` finds a stack's tasks by com.docker.stack.namespace. Shoal keeps no copy
  // per task: the service's current labels (a task of a removed service: its own labels).
  if (!allLabels(resolved.serviceLabels?.get(t.ServiceID) ?? t.Labels, f.label)) return false;
  if (f['_up-to-date']?.some((v) => v === 'true' || v === '1')) {
    if (t.internal.specVersion !== resolved.specVersions.get(t.ServiceID)) return false;
  }
  return true;
}
