import { jobIterationOf, type Service, type Task } from '../../../types';

/**
 * `GET /services?status=true` for a job, as swarmkit's ListServiceStatuses counts it: only tasks of the
 * current iteration; Desired is MaxConcurrent for a replicated job, and for a global job the tasks still
 * to complete (the CLI shows "running/desired (completed/desired+completed completed)").
 */
export function jobCounts(s: Service, tasks: readonly Task[]): { RunningTasks: number; DesiredTasks: number; CompletedTasks: number } {
  const iteration = jobIterationOf(s);
  let running = 0;
  let completed = 0;
  let pending = 0;
  for (const t of tasks) {
    if (t.JobIteration?.Index !== iteration) continue;
    if (t.Status.State === 'running') running++;
    if (t.Status.State === 'complete') completed++;
    else if (t.DesiredState === 'complete') pending++;
  }
  const desired = s.Spec.Mode.ReplicatedJob ? (s.Spec.Mode.ReplicatedJob.MaxConcurrent ?? 1) : pending;
  return { RunningTasks: running, DesiredTasks: desired, CompletedTasks: completed };
}
