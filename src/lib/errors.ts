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

export class ShoalError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
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

export function isKind(err: unknown, kind: ErrorKind): err is ShoalError {
  return err instanceof ShoalError && err.kind === kind;
}

/** Docker's text when a manager has no leader (quorum lost). */
export const NO_LEADER_MESSAGE =
  "rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.";

/** Docker's text for swarm endpoints on a node that is not a manager. */
export const NOT_A_MANAGER_MESSAGE =
  'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';

export const NOT_A_MANAGER_WORKER_MESSAGE =
  'This node is not a swarm manager. Worker nodes can\'t be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.';
