// Convergence of a service from its tasks (the REPLICAS count when the daemon sends no ServiceStatus). Pure.
import type { ApiService } from './services';
import type { ApiTask } from './tasks';

export interface Convergence {
  running: number;
  desired: number;
  /** All wanted tasks run, none too many, no update in flight. */
  converged: boolean;
  /** Set when the update stopped and will not finish by itself. */
  failed?: string;
}

export function convergence(s: ApiService, tasks: readonly ApiTask[]): Convergence {
  const mine = tasks.filter((t) => t.ServiceID === s.ID);
  const wanted = mine.filter((t) => t.DesiredState === 'running');
  const running = wanted.filter((t) => t.Status.State === 'running').length;
  const desired = s.Spec.Mode.Global ? Math.max(wanted.length, 1) : (s.Spec.Mode.Replicated?.Replicas ?? 1);
  const st = s.UpdateStatus?.State;
  if (st === 'paused' || st === 'rollback_paused') return { running, desired, converged: false, failed: s.UpdateStatus?.Message || `update ${st}` };
  const updating = st === 'updating' || st === 'rollback_started';
  // tasks of the old spec still on their way down
  const stopping = mine.filter((t) => t.DesiredState !== 'running' && t.Status.State === 'running').length;
  return { running, desired, converged: !updating && running === desired && wanted.length === desired && stopping === 0 };
}

