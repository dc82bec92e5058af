// Convergence of a service as `docker service create/update/scale` report it. Pure.
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

export const progressLine = (c: Convergence, rollingBack = false): string =>
  `overall progress: ${rollingBack ? 'rolling back update: ' : ''}${c.running} out of ${c.desired} tasks\n`;

export interface JobProgress {
  completed: number;
  total: number;
  done: boolean;
}

/**
 * A job's run as the CLI follows it (cli/command/service/progress): tasks of the current iteration;
 * a replicated job is done at TotalCompletions completed, a global job when every node given a task
 * completed it.
 */
export function jobProgress(s: ApiService, tasks: readonly ApiTask[]): JobProgress {
  const iteration = s.JobStatus?.JobIteration.Index ?? 0;
  const mine = tasks.filter((t) => t.ServiceID === s.ID && (t.JobIteration?.Index ?? 0) === iteration);
  const job = s.Spec.Mode.ReplicatedJob;
  if (job) {
    const completed = new Set(mine.filter((t) => t.Status.State === 'complete').map((t) => t.Slot ?? 0)).size;
    const total = job.TotalCompletions ?? job.MaxConcurrent ?? 1;
    return { completed, total, done: completed >= total };
  }
  const nodes = new Set(mine.map((t) => t.NodeID ?? ''));
  const completed = new Set(mine.filter((t) => t.Status.State === 'complete').map((t) => t.NodeID ?? '')).size;
  return { completed, total: nodes.size, done: nodes.size > 0 && completed === nodes.size };
}

export const jobProgressLine = (p: JobProgress): string => `job progress: ${p.completed} out of ${p.total} complete\n`;
