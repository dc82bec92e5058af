import { ShoalError, type ErrorKind } from '../lib/errors';

// The one map from Shoal error kinds to HTTP statuses. Docker's own mapping is followed:
// errdefs classes first, then swarmkit's gRPC codes (FailedPrecondition is 400 there).

const STATUS: Record<ErrorKind, number> = {
  NotFound: 404,
  InvalidArgument: 400,
  Conflict: 409,
  Unavailable: 503,
  FailedPrecondition: 400,
  PermissionDenied: 403,
  Unimplemented: 501,
  Internal: 500,
};

// A few Docker answers are fixed by their text, whatever kind a component chose for them:
// swarm-membership errors are errdefs.Unavailable (503) and a stale object version is a plain
// gRPC Unknown error (500: "rpc error: code = Unknown desc = update out of sequence").
const BY_MESSAGE: { re: RegExp; status: number }[] = [
  { re: /^This node is not a swarm manager\./, status: 503 },
  { re: /^This node is already part of a swarm\./, status: 503 },
  { re: /^This node is not part of a swarm/, status: 503 },
  { re: /update out of sequence/, status: 500 },
  // Lost quorum: Docker answers the swarmkit error as-is ("rpc error: code = Unknown desc = The swarm does not have a leader…"), a 500.
  { re: /The swarm does not have a leader\./, status: 500 },
];

/** An error may fix its own status (a body that stopped arriving is 408, not its kind's 400). */
export type WithHttpStatus = { httpStatus?: number };

export function statusOf(err: unknown): number {
  const own = (err as WithHttpStatus | undefined)?.httpStatus;
  if (typeof own === 'number') return own;
  const msg = err instanceof Error ? err.message : '';
  for (const { re, status } of BY_MESSAGE) if (re.test(msg)) return status;
  if (err instanceof ShoalError) return STATUS[err.kind] ?? 500;
  return 500;
}

export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The JSON body Docker sends for every error. */
export const errorBody = (err: unknown): string => JSON.stringify({ message: messageOf(err) });
