// `docker service ls` rows.
import type { Service } from '../../types';
import { formatTable } from './table';
import { formatServicePorts, imageNoDigest, truncId } from './text';

export type ApiService = Omit<Service, 'internal'> & { ServiceStatus?: { RunningTasks: number; DesiredTasks: number; CompletedTasks?: number } };

export const SERVICE_HEADER = ['ID', 'NAME', 'MODE', 'REPLICAS', 'IMAGE', 'PORTS'];

export function serviceModeText(s: ApiService): string {
  const m = s.Spec.Mode;
  if (m.Global) return 'global';
  if (m.ReplicatedJob) return 'replicated job';
  if (m.GlobalJob) return 'global job';
  return 'replicated';
}

export interface ServiceCounts {
  running: number;
  desired: number;
  /** Jobs: tasks of the current iteration that completed. */
  completed?: number;
}

/**
 * REPLICAS: `running/desired` (`3/3`); Docker adds `(max N per node)` when set. Jobs show their run
 * instead (the docker CLI's formatter): `running/desired (completed/total completed)`, total being
 * TotalCompletions, or for a global job the tasks still to complete plus those completed.
 */
export function replicasText(s: ApiService, c: ServiceCounts): string {
  const { running, desired } = c;
  const completed = c.completed ?? 0;
  const m = s.Spec.Mode;
  if (m.ReplicatedJob) return `${running}/${desired} (${completed}/${m.ReplicatedJob.TotalCompletions ?? 0} completed)`;
  if (m.GlobalJob) return `${running}/${desired} (${completed}/${desired + completed} completed)`;
  const max = s.Spec.TaskTemplate.Placement?.MaxReplicas;
  return `${running}/${desired}${max ? ` (max ${max} per node)` : ''}`;
}

export function formatServiceTable(services: readonly ApiService[], counts: Map<string, ServiceCounts>): string {
  const sorted = [...services].sort((a, b) => (a.Spec.Name < b.Spec.Name ? -1 : a.Spec.Name > b.Spec.Name ? 1 : 0));
  const rows = sorted.map((s) => {
    const c = counts.get(s.ID) ?? { running: 0, desired: 0 };
    return [
      truncId(s.ID),
      s.Spec.Name,
      serviceModeText(s),
      replicasText(s, c),
      imageNoDigest(s.Spec.TaskTemplate.ContainerSpec?.Image ?? ''),
      formatServicePorts(s.Endpoint?.Ports),
    ];
  });
  return formatTable(SERVICE_HEADER, rows);
}
