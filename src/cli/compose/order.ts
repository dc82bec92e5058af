// `depends_on` for a stack, which `docker stack deploy` ignores: the order services are created in,
// and the rule that says when a dependency's condition holds, judged from its tasks as the Engine
// API lists them. Pure: the caller polls and passes the tasks in.
import type { ServiceSpec, Task } from '../../types';
import { ComposeError } from './document';
import type { DependsCondition } from './normalize';

type ApiTask = Omit<Task, 'internal'>;

/** Services in creation order: every dependency before its dependents, else by name. */
export function creationOrder<T extends { key: string; dependsOn: Record<string, DependsCondition> }>(services: readonly T[]): T[] {
  const byKey = new Map(services.map((s) => [s.key, s]));
  const done = new Set<string>();
  const out: T[] = [];
  const visit = (s: T, path: string[]) => {
    if (done.has(s.key)) return;
    if (path.includes(s.key)) throw new ComposeError(`dependency cycle detected: ${[...path.slice(path.indexOf(s.key)), s.key].join(' -> ')}`);
    for (const d of Object.keys(s.dependsOn).sort()) {
      const dep = byKey.get(d);
      if (dep) visit(dep, [...path, s.key]);
    }
    done.add(s.key);
    out.push(s);
  };
  for (const s of [...services].sort((a, b) => a.key.localeCompare(b.key))) visit(s, []);
  return out;
}

export interface DependencyState {
  ready: boolean;
  /** Set when the condition can no longer hold (a task that must complete failed for good). */
  failed?: string;
  /** `1/2 tasks healthy` — for the progress line and the timeout message. */
  progress: string;
}

const WORD: Record<DependsCondition, string> = { service_started: 'running', service_healthy: 'healthy', service_completed_successfully: 'completed' };

/** How many tasks the service wants: replicas, completions, or (global) one per node it runs on. */
function wanted(spec: ServiceSpec, tasks: readonly ApiTask[]): number {
  const m = spec.Mode;
  if (m.Replicated) return m.Replicated.Replicas ?? 1;
  if (m.ReplicatedJob) return m.ReplicatedJob.TotalCompletions ?? 1;
  return Math.max(1, new Set(tasks.filter((t) => t.DesiredState === 'running' || t.DesiredState === 'complete').map((t) => t.NodeID)).size);
}

/** The newest task of each slot (replicated) or node (global). */
function newestPerSlot(tasks: readonly ApiTask[]): ApiTask[] {
  const m = new Map<string, ApiTask>();
  for (const t of tasks) {
    const k = t.Slot ? `s${t.Slot}` : `n${t.NodeID ?? t.ID}`;
    const cur = m.get(k);
    if (!cur || Date.parse(t.CreatedAt) > Date.parse(cur.CreatedAt)) m.set(k, t);
  }
  return [...m.values()];
}

/**
 * Whether `condition` holds for a dependency with spec `spec` and these tasks. In swarm a task with
 * a health check is RUNNING only once healthy, so service_healthy is "every wanted task running"
 * for a service that has a check (the caller warns when it has none).
 */
export function dependencyState(condition: DependsCondition, spec: ServiceSpec, tasks: readonly ApiTask[]): DependencyState {
  const want = wanted(spec, tasks);
  if (condition === 'service_completed_successfully') {
    const latest = newestPerSlot(tasks);
    const complete = latest.filter((t) => t.Status.State === 'complete').length;
    const progress = `${complete}/${want} tasks ${WORD[condition]}`;
    const noRetry = spec.TaskTemplate.RestartPolicy?.Condition === 'none';
    const dead = latest.find((t) => t.Status.State === 'failed' || t.Status.State === 'rejected');
    if (dead && noRetry) {
      const code = dead.Status.ContainerStatus?.ExitCode;
      return { ready: false, progress, failed: `didn't complete successfully: ${code !== undefined ? `exit ${code}` : dead.Status.Err || dead.Status.State}` };
    }
    return { ready: complete >= want, progress };
  }
  const running = tasks.filter((t) => t.DesiredState === 'running' && t.Status.State === 'running').length;
  return { ready: running >= want, progress: `${running}/${want} tasks ${WORD[condition]}` };
}

export const conditionWord = (c: DependsCondition): string => WORD[c];
