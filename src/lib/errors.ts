// The error kinds every layer uses. The API maps each kind to one HTTP status (src/api/errors.ts),
// so a component only says what went wrong, never how it is shown.

export type ErrorKind =
  | 'NotFound'
  | 'InvalidArgument'
  | 'Conflict'
  | 'Unavailable'
  | 'FailedPrecondition'
  | 'PermissionDenied'
  | 'Unimplemented'
  | 'Internal';

/**
 * What a caller decides on beyond the kind (retry, forward, wait), as a code rather than a text to
 * match: the message stays Docker's text for users, the reason is for code. It crosses shoal.Control
 * in the gRPC trailers (src/rpc/errors.ts), so a follower sees the leader's reason.
 * - `not-leader`: this manager is not the Raft leader (a leader is known); the write never reached the log.
 * - `no-leader`: no leader is known (quorum lost), Docker's "does not have a leader".
 * - `leader-starting`: this manager just became the leader and its dispatcher is not running yet:
 *   try it again soon (its address comes with the error).
 * - `leadership-transfer`: the leader is handing over; the write never reached the log.
 * - `proposal-overwritten`: a new leader's entry took the proposal's index; certainly not in the log.
 * - `lost-leadership`: the leader stepped down with the proposal pending; its outcome is unknown.
 * - `conf-change-pending`: another membership change is still unapplied.
 * - `not-sent`: the RPC found no connection to the other side, so the call was never sent.
 * - `not-forwardable`: a forwarded control call named an operation outside the control-API contract.
 */
export type ErrorReason =
  | 'not-leader'
  | 'no-leader'
  | 'leader-starting'
  | 'leadership-transfer'
  | 'proposal-overwritten'
  | 'lost-leadership'
  | 'conf-change-pending'
  | 'not-sent'
  | 'not-forwardable';

const ERROR_REASONS: ReadonlySet<string> = new Set<ErrorReason>([
  'not-leader',
  'no-leader',
  'leader-starting',
  'leadership-transfer',
  'proposal-overwritten',
  'lost-leadership',
  'conf-change-pending',
  'not-sent',
  'not-forwardable',
]);

/** A reason read from the wire, when it is one we know. */
export const parseErrorReason = (v: unknown): ErrorReason | undefined => (typeof v === 'string' && ERROR_REASONS.has(v) ? (v as ErrorReason) : undefined);

export class ShoalError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly reason?: ErrorReason,
    /** With `not-leader`: the leader's address (host:port), for a caller that goes there next. */
    readonly leaderAddr?: string,
  ) {
    super(message);
    this.name = kind;
  }
}

export const notFound = (msg: string) => new ShoalError('NotFound', msg);
export const invalidArgument = (msg: string) => new ShoalError('InvalidArgument', msg);
export const conflict = (msg: string) => new ShoalError('Conflict', msg);
export const unavailable = (msg: string) => new ShoalError('Unavailable', msg);
export const failedPrecondition = (msg: string) => new ShoalError('FailedPrecondition', msg);
export const permissionDenied = (msg: string) => new ShoalError('PermissionDenied', msg);
export const unimplemented = (msg: string) => new ShoalError('Unimplemented', msg);
export const internal = (msg: string) => new ShoalError('Internal', msg);

export function hasReason(err: unknown, reason: ErrorReason): err is ShoalError {
  return err instanceof ShoalError && err.reason === reason;
}

/** The leader's address a refusal names (a follower's `not-leader`, a new leader's `leader-starting`), if any. */
export function leaderHintOf(err: unknown): string | undefined {
  return (hasReason(err, 'not-leader') || hasReason(err, 'leader-starting')) && err.leaderAddr ? err.leaderAddr : undefined;
}

export function isKind(err: unknown, kind: ErrorKind): err is ShoalError {
  return err instanceof ShoalError && err.kind === kind;
}

/** Docker's text when a manager has no leader (quorum lost). */
export const NO_LEADER_MESSAGE =
  "rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.";

/** A manager without a leader: Docker's text, with its reason. */
export const noLeader = (): ShoalError => new ShoalError('Unavailable', NO_LEADER_MESSAGE, 'no-leader');

/** Docker's text for swarm endpoints on a node that is not a manager. */
export const NOT_A_MANAGER_MESSAGE =
  'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';

export const NOT_A_MANAGER_WORKER_MESSAGE =
  'This node is not a swarm manager. Worker nodes can\'t be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.';
