import type { FailureAction, Service, UpdateConfig, UpdateOrder, UpdateState, UpdateStatus } from '../../../types';

// The rolling-update parameters in effect for one service, with Docker's defaults, and the status
// texts Docker shows (`docker service inspect`, and the CLI's `service update` progress, which exits
// on `paused` / `rollback_paused` printing the message).

const NS_PER_MS = 1_000_000;

export interface EffectiveConfig {
  /** Tasks replaced at once; 0 in the spec means all at once (Infinity here). */
  parallelism: number;
  delayMs: number;
  failureAction: FailureAction;
  monitorMs: number;
  maxFailureRatio: number;
  order: UpdateOrder;
}

export const DEFAULT_MONITOR_MS = 5000;

/** UpdateConfig (or RollbackConfig) with defaults: parallelism 1, delay 0, pause, monitor 5 s, ratio 0, stop-first. */
export function effectiveConfig(c: UpdateConfig | undefined): EffectiveConfig {
  const p = c?.Parallelism ?? 1;
  return {
    parallelism: p <= 0 ? Infinity : p,
    delayMs: Math.max(0, (c?.Delay ?? 0) / NS_PER_MS),
    failureAction: c?.FailureAction ?? 'pause',
    monitorMs: c?.Monitor === undefined ? DEFAULT_MONITOR_MS : Math.max(0, c.Monitor / NS_PER_MS),
    maxFailureRatio: c?.MaxFailureRatio ?? 0,
    order: c?.Order ?? 'stop-first',
  };
}

/** The config of the current run: RollbackConfig while rolling back, else UpdateConfig. */
export function configFor(service: Service, rollingBack: boolean): EffectiveConfig {
  return effectiveConfig(rollingBack ? service.Spec.RollbackConfig : service.Spec.UpdateConfig);
}

export const isRollbackState = (s: UpdateState | undefined): boolean => s === 'rollback_started' || s === 'rollback_paused';
export const isPausedState = (s: UpdateState | undefined): boolean => s === 'paused' || s === 'rollback_paused';
export const isActiveState = (s: UpdateState | undefined): boolean => s === 'updating' || s === 'rollback_started';
export const isFinishedState = (s: UpdateState | undefined): boolean => s === 'completed' || s === 'rollback_completed';

export const MSG_IN_PROGRESS = 'update in progress';
export const MSG_COMPLETED = 'update completed';
export const MSG_ROLLBACK_COMPLETED = 'rollback completed';
export const msgPaused = (taskId: string): string => `update paused due to failure or early termination of task ${taskId}`;
export const msgRollbackPaused = (taskId: string): string => `rollback paused due to failure or early termination of task ${taskId}`;
export const msgRolledBack = (taskId: string): string => `update rolled back due to failure or early termination of task ${taskId}`;

export function startedStatus(nowIso: string): UpdateStatus {
  return { State: 'updating', StartedAt: nowIso, Message: MSG_IN_PROGRESS };
}

export function completedStatus(prev: UpdateStatus, nowIso: string): UpdateStatus {
  const rollback = prev.State === 'rollback_started';
  return {
    ...prev,
    State: rollback ? 'rollback_completed' : 'completed',
    Message: rollback ? MSG_ROLLBACK_COMPLETED : MSG_COMPLETED,
    CompletedAt: nowIso,
  };
}
