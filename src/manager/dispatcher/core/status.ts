import type { Task, TaskStatusUpdate } from '../../../types';
import { isBefore } from '../../../types';

// Applying agents' status reports to tasks: only the reporting node's tasks, never backwards.

/** Keeps the latest update per task (later entries win), in order of first appearance. */
export function coalesceUpdates<U extends { taskId: string }>(updates: U[]): U[] {
  const m = new Map<string, U>();
  for (const u of updates) m.set(u.taskId, u);
  return [...m.values()];
}

export type StatusVerdict = 'apply' | 'unknown-task' | 'wrong-node' | 'backwards' | 'unchanged';

/** Whether an agent's update may be written to `task` (the store's current copy). */
export function judgeStatusUpdate(task: Task | undefined, nodeId: string, u: TaskStatusUpdate): StatusVerdict {
  if (!task) return 'unknown-task';
  if (task.NodeID !== nodeId) return 'wrong-node';
  if (isBefore(u.status.State, task.Status.State)) return 'backwards';
  const same =
    u.status.State === task.Status.State &&
    u.status.Message === task.Status.Message &&
    (u.status.Err ?? '') === (task.Status.Err ?? '') &&
    JSON.stringify(u.status.ContainerStatus ?? {}) === JSON.stringify(task.Status.ContainerStatus ?? {}) &&
    (u.status.PortStatus === undefined || JSON.stringify(u.status.PortStatus) === JSON.stringify(task.Status.PortStatus ?? {})) &&
    (u.health === undefined || u.health === task.internal.health) &&
    (u.endpoints === undefined || JSON.stringify(u.endpoints) === JSON.stringify(task.internal.endpoints));
  return same ? 'unchanged' : 'apply';
}

/** The task after an accepted update (a copy). */
export function withStatus(task: Task, u: TaskStatusUpdate, updatedAt: string): Task {
  const t: Task = { ...task, Status: { ...u.status }, UpdatedAt: updatedAt };
  // `internal` is the old version's own object unless this report changes it: the store then keeps it
  // as it is instead of copying it (storedVersion), at every status report
  if (u.health !== undefined || u.endpoints !== undefined) t.internal = { ...task.internal };
  if (!t.Status.PortStatus && task.Status.PortStatus) t.Status.PortStatus = task.Status.PortStatus;
  if (u.health !== undefined) t.internal.health = u.health;
  if (u.endpoints !== undefined) {
    t.internal.endpoints = u.endpoints;
    // Host-mode ports show in `docker service ps` PORTS, as the engine's port bindings do in Docker.
    const host = (t.internal.ports ?? []).filter((p) => p.PublishMode === 'host');
    const ports = host
      .map((p) => ({ p, e: u.endpoints!.find((e) => e.Protocol === (p.Protocol ?? 'tcp') && e.TargetPort === p.TargetPort) }))
      .filter((x) => x.e)
      .map(({ p, e }) => ({ Protocol: p.Protocol ?? 'tcp', TargetPort: p.TargetPort, PublishedPort: e!.Port, PublishMode: 'host' as const }));
    if (ports.length) t.Status.PortStatus = { Ports: ports };
  }
  return t;
}
