// `docker service ls` rows.
import type { Service } from '../../types';
import { naturalCompare } from './objects';
import { formatList, type RowContext } from './template';
import { formatServicePorts, imageNoDigest, truncId } from './text';

export type ApiService = Omit<Service, 'internal'> & { ServiceStatus?: { RunningTasks: number; DesiredTasks: number; CompletedTasks?: number } };

/** The docker CLI's default `service ls` format and its column titles. */
export const SERVICE_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}\t{{.Ports}}';
export const SERVICE_HEADER = { ID: 'ID', Name: 'NAME', Mode: 'MODE', Replicas: 'REPLICAS', Image: 'IMAGE', Ports: 'PORTS' };

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
  const max = m.Replicated ? s.Spec.TaskTemplate.Placement?.MaxReplicas : 0;
  return `${running}/${desired}${max ? ` (max ${max} per node)` : ''}`;
}

/** One template row per service, in `sortorder.NaturalLess` order of the names. */
export function serviceRows(services: readonly ApiService[], counts: Map<string, ServiceCounts>): RowContext[] {
  return [...services]
    .sort((a, b) => naturalCompare(a.Spec.Name, b.Spec.Name))
    .map((s) => ({
      ID: truncId(s.ID),
      Name: s.Spec.Name,
      Mode: serviceModeText(s),
      Replicas: replicasText(s, counts.get(s.ID) ?? { running: 0, desired: 0 }),
      Image: imageNoDigest(s.Spec.TaskTemplate.ContainerSpec?.Image ?? ''),
      Ports: formatServicePorts(s.Endpoint?.Ports),
    }));
}

export const formatServiceTable = (services: readonly ApiService[], counts: Map<string, ServiceCounts>): string => formatList(SERVICE_TABLE, serviceRows(services, counts), SERVICE_HEADER);
