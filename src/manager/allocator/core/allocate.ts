import { handedToScheduler, isRunnable, type Task } from '../../../types';
import { isoTime } from '../../../lib/time';

/**
 * The allocator's decision for one task. For now it only hands wanted NEW tasks on to the scheduler
 * (NEW → PENDING, "pending task scheduling"); addresses, VIPs and published ports come later, and
 * will be read back from the store, never kept in a private mirror.
 */
export function allocateTask(t: Task, now: number): Task | null {
  if (t.Status.State !== 'new' || !isRunnable(t.DesiredState)) return null;
  return handedToScheduler(t, isoTime(now));
}
