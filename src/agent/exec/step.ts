import type { ContainerStatus, TaskState, TaskStatus } from '../../types';
import { isBefore, isTerminal, rank, STATE_MESSAGE } from '../../types';
import { isoTime } from '../../lib/time';

// The per-task step machine of the agent (swarmkit's exec.Do, rewritten as a pure decision).
//
// A task manager holds the task's last reported status and a bag of *facts* it learnt from the
// runtime (prepare succeeded, the container started, it exited with code N, it turned unhealthy…).
// `decide` looks at the desired state, the status and the facts and names ONE next action. The
// task manager performs it (if it is a runtime operation), records what happened as facts, and asks
// again. Statuses only move forward along the ladder; `decide` never proposes a step backwards.

export type StepAction =
  /** Report ACCEPTED (no runtime call). */
  | 'accept'
  /** controller.prepare(); on success set facts.prepared. */
  | 'prepare'
  /** controller.start(); on success set facts.started. */
  | 'start'
  /** Wait for the runtime: exit, health change or a new desired state (controller.wait in the background). */
  | 'wait'
  /** controller.shutdown(graceMs); on success set facts.stopped. */
  | 'shutdown'
  /** controller.terminate() (after a failed shutdown); on success set facts.stopped. */
  | 'terminate'
  /** controller.remove(); on success set facts.removed. */
  | 'remove'
  /** controller.inspect(): an object found sets facts.prepared (and started when it runs), none sets facts.absent. */
  | 'inspect'
  /** Report `status` (no runtime call). */
  | 'report'
  /** Nothing to do until something changes. */
  | 'none';

export type Health = 'starting' | 'healthy' | 'unhealthy';

/** What the task manager knows from the runtime. Every field is optional: absent = not known / not yet. */
export interface StepFacts {
  prepared?: boolean;
  started?: boolean;
  /** Set once the container/process exited (controller.wait resolved). */
  exit?: { exitCode: number; error?: string };
  /** Last health the runtime reported, if it runs a health check. */
  health?: Health;
  /** True once a health check was seen to turn unhealthy (sticky: the exit that follows is its fault). */
  unhealthy?: boolean;
  /** shutdown/terminate completed. */
  stopped?: boolean;
  /** shutdown failed once: the next stop attempt is `terminate`. */
  shutdownFailed?: boolean;
  removed?: boolean;
  /** The runtime was asked and has no object for the task. */
  absent?: boolean;
  /** A fatal runtime failure (prepare/start/wait failed): becomes REJECTED or FAILED with this Err. */
  error?: string;
  /** Container ID, PID, exit code as last inspected. */
  container?: ContainerStatus;
}

export interface StepInput {
  desired: TaskState;
  status: TaskStatus;
  facts: StepFacts;
  /** True when the task's spec (or the image, as the runtime reported) defines a health check. */
  healthCheck: boolean;
  /** Milliseconds since the epoch, for the Timestamp of a reported status. */
  now: number;
}

export interface Step {
  action: StepAction;
  /** For `accept`/`report`: the status to report. */
  status?: TaskStatus;
}

/** Docker's error text for a container stopped because its health check failed (moby's ErrContainerUnhealthy). */
export const UNHEALTHY_ERR = 'dockerexec: unhealthy container';
/** Docker's error text when a task's container vanished while the task was running. */
export const DESTROYED_ERR = 'dockerexec: container destroyed';
/** Default StopGracePeriod: 10 s, as in Docker. */
export const DEFAULT_STOP_GRACE_MS = 10_000;

export const nonZeroExitErr = (code: number): string => `task: non-zero exit (${code})`;

/** Grace period for a graceful stop, from ContainerSpec.StopGracePeriod (ns). */
export function stopGraceMs(stopGracePeriodNs: number | undefined): number {
  if (stopGracePeriodNs === undefined || !Number.isFinite(stopGracePeriodNs) || stopGracePeriodNs < 0) return DEFAULT_STOP_GRACE_MS;
  return Math.floor(stopGracePeriodNs / 1_000_000);
}

/** True when a HealthConfig's Test enables a check (absent, empty or ["NONE"] disables it). */
export function hasHealthTest(test: string[] | undefined): boolean {
  return !!test && test.length > 0 && test[0] !== 'NONE';
}

const msg = (s: TaskState): string => STATE_MESSAGE[s] ?? s;

function status(input: StepInput, state: TaskState, message: string, err?: string): TaskStatus {
  const out: TaskStatus = { Timestamp: isoTime(input.now), State: state, Message: message };
  if (err !== undefined && err !== '') out.Err = err;
  const cs = input.facts.container;
  if (cs && (cs.ContainerID !== undefined || cs.PID !== undefined || cs.ExitCode !== undefined)) out.ContainerStatus = { ...cs };
  if (input.status.PortStatus) out.PortStatus = input.status.PortStatus;
  return out;
}

const report = (s: TaskStatus): Step => ({ action: 'report', status: s });

/** swarmkit's rule for fatal errors: before STARTING the task is REJECTED, from STARTING on it FAILED. The Message stays. */
export function fatalStatus(input: StepInput, err: string): TaskStatus {
  const state: TaskState = isBefore(input.status.State, 'starting') ? 'rejected' : 'failed';
  return status(input, state, input.status.Message || msg(input.status.State), err);
}

/** The status a finished container/process leads to. */
export function exitStatus(input: StepInput, exit: { exitCode: number; error?: string }): TaskStatus {
  const base = { ...input, facts: { ...input.facts, container: { ...input.facts.container, ExitCode: exit.exitCode } } };
  if (input.facts.unhealthy) {
    const err = exit.exitCode !== 0 ? `${nonZeroExitErr(exit.exitCode)}: ${UNHEALTHY_ERR}` : UNHEALTHY_ERR;
    return fatalStatus(base, err);
  }
  if (exit.exitCode === 0 && !exit.error) return status(base, 'complete', msg('complete'));
  return fatalStatus(base, exit.error || nonZeroExitErr(exit.exitCode));
}

/**
 * The next step for one task. Rules (swarmkit's):
 *  - a terminal status never changes; with desired REMOVE the runtime object is removed afterwards;
 *  - desired past COMPLETE (shutdown, remove, …): stop the runtime (graceful), then report SHUTDOWN;
 *  - a fatal error → REJECTED before STARTING, FAILED after; an exit → COMPLETE (0) or FAILED;
 *  - a health check turning unhealthy stops the container; its exit is reported FAILED with UNHEALTHY_ERR;
 *  - otherwise climb ASSIGNED → ACCEPTED → PREPARING → READY → STARTING → RUNNING, stopping at the
 *    desired state (READY for a restart waiting out its delay); with a health check STARTING lasts
 *    until the runtime says healthy.
 */
export function decide(input: StepInput): Step {
  const { desired, facts } = input;
  const cur = input.status.State;

  if (isTerminal(cur)) {
    if (desired === 'remove' && !facts.removed) return { action: 'remove' };
    return { action: 'none' };
  }

  // Desired COMPLETE (a job's task) runs like RUNNING until the task exits by itself.
  if (rank(desired) > rank('complete')) {
    if (facts.stopped) return report(status(input, 'shutdown', msg('shutdown')));
    // Before PREPARING was reported the runtime usually has nothing, but not surely: a daemon killed
    // moments after it started the task comes back with statuses (its state file, the manager's view)
    // behind the runtime's own record. Ask the runtime once rather than leave such a process running.
    if (isBefore(cur, 'preparing') && !facts.prepared && !facts.started) {
      return facts.absent ? report(status(input, 'shutdown', msg('shutdown'))) : { action: 'inspect' };
    }
    return { action: facts.shutdownFailed ? 'terminate' : 'shutdown' };
  }

  if (facts.error !== undefined) return report(fatalStatus(input, facts.error));
  if (facts.exit) return report(exitStatus(input, facts.exit));

  if (facts.unhealthy && (cur === 'starting' || cur === 'running')) {
    // Stop it; the exit that follows is reported as an unhealthy failure.
    if (!facts.stopped) return { action: facts.shutdownFailed ? 'terminate' : 'shutdown' };
    return { action: 'wait' };
  }

  // Climb towards the desired state, never past it.
  if (!isBefore(cur, desired)) return { action: cur === 'running' || facts.started ? 'wait' : 'none' };

  switch (cur) {
    case 'new':
    case 'pending':
    case 'allocated':
    case 'assigned':
      return { action: 'accept', status: status(input, 'accepted', msg('accepted')) };
    case 'accepted':
      return report(status(input, 'preparing', msg('preparing')));
    case 'preparing':
      if (!facts.prepared) return { action: 'prepare' };
      return report(status(input, 'ready', msg('ready')));
    case 'ready':
      return report(status(input, 'starting', msg('starting')));
    case 'starting':
      if (!facts.started) return { action: 'start' };
      if (input.healthCheck && facts.health !== 'healthy') return { action: 'wait' };
      return report(status(input, 'running', msg('running')));
    case 'running':
      return { action: 'wait' };
    default:
      return { action: 'none' };
  }
}

/** True when `next` may replace `cur` as a task's observed status (never backwards; same state only if it says something new). */
export function isForward(cur: TaskStatus, next: TaskStatus): boolean {
  if (isBefore(next.State, cur.State)) return false;
  if (next.State !== cur.State) return true;
  return (
    next.Message !== cur.Message ||
    (next.Err ?? '') !== (cur.Err ?? '') ||
    JSON.stringify(next.ContainerStatus ?? {}) !== JSON.stringify(cur.ContainerStatus ?? {})
  );
}
