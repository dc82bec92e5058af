// gRPC status <-> the ShoalError kinds of src/lib/errors.ts.
import * as grpc from '@grpc/grpc-js';
import { parseErrorReason, ShoalError, type ErrorKind, type ErrorReason } from '../lib/errors';

/** The trailer that carries a ShoalError's reason code across a call (see ErrorReason). */
export const REASON_METADATA_KEY = 'shoal-error-reason';
/** The trailer that carries a `not-leader` error's leader address. */
export const LEADER_ADDR_METADATA_KEY = 'shoal-leader-addr';

const KIND_TO_CODE: Record<ErrorKind, grpc.status> = {
  NotFound: grpc.status.NOT_FOUND,
  InvalidArgument: grpc.status.INVALID_ARGUMENT,
  Conflict: grpc.status.ALREADY_EXISTS,
  Unavailable: grpc.status.UNAVAILABLE,
  FailedPrecondition: grpc.status.FAILED_PRECONDITION,
  PermissionDenied: grpc.status.PERMISSION_DENIED,
  Unimplemented: grpc.status.UNIMPLEMENTED,
  Internal: grpc.status.INTERNAL,
};

function codeToKind(code: grpc.status): ErrorKind {
  switch (code) {
    case grpc.status.NOT_FOUND:
      return 'NotFound';
    case grpc.status.INVALID_ARGUMENT:
    case grpc.status.OUT_OF_RANGE:
      return 'InvalidArgument';
    case grpc.status.ALREADY_EXISTS:
    case grpc.status.ABORTED:
      return 'Conflict';
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
    case grpc.status.CANCELLED:
    case grpc.status.RESOURCE_EXHAUSTED:
      return 'Unavailable';
    case grpc.status.FAILED_PRECONDITION:
      return 'FailedPrecondition';
    case grpc.status.PERMISSION_DENIED:
    case grpc.status.UNAUTHENTICATED:
      return 'PermissionDenied';
    case grpc.status.UNIMPLEMENTED:
      return 'Unimplemented';
    default:
      return 'Internal';
  }
}

/** Go's names for the codes, as Docker prints them ("rpc error: code = InvalidArgument desc = …"). */
const GO_NAMES: Record<number, string> = {
  0: 'OK',
  1: 'Canceled',
  2: 'Unknown',
  3: 'InvalidArgument',
  4: 'DeadlineExceeded',
  5: 'NotFound',
  6: 'AlreadyExists',
  7: 'PermissionDenied',
  8: 'ResourceExhausted',
  9: 'FailedPrecondition',
  10: 'Aborted',
  11: 'OutOfRange',
  12: 'Unimplemented',
  13: 'Internal',
  14: 'Unavailable',
  15: 'DataLoss',
  16: 'Unauthenticated',
};

/** An error received from (or to be sent to) the other side of an RPC. */
export class RpcError extends ShoalError {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
    reason?: ErrorReason,
    leaderAddr?: string,
  ) {
    super(codeToKind(code), details, reason, leaderAddr);
  }
  /** The text Docker shows for an RPC failure. */
  get rpcText(): string {
    return `rpc error: code = ${GO_NAMES[this.code] ?? this.code} desc = ${this.details}`;
  }
}

export function rpcError(code: grpc.status, details: string, reason?: ErrorReason): RpcError {
  return new RpcError(code, details, reason);
}

/** What a handler's thrown error becomes on the wire. */
export function toStatus(err: unknown): grpc.StatusObject & { message: string } {
  let code: grpc.status;
  let details: string;
  if (err instanceof RpcError) {
    code = err.code;
    details = err.details;
  } else if (err instanceof ShoalError) {
    code = KIND_TO_CODE[err.kind];
    details = err.message;
  } else {
    code = grpc.status.UNKNOWN;
    details = err instanceof Error ? err.message : String(err);
  }
  const metadata = new grpc.Metadata();
  // `not-sent` speaks of this side's own outgoing call: the caller's call was sent.
  if (err instanceof ShoalError && err.reason && err.reason !== 'not-sent') metadata.set(REASON_METADATA_KEY, err.reason);
  if (err instanceof ShoalError && err.leaderAddr) metadata.set(LEADER_ADDR_METADATA_KEY, err.leaderAddr);
  return { code, details, message: details, metadata };
}

/**
 * grpc-js's own failure for a call that found no connection (the channel never reached READY before
 * the call failed fast), so the call never left this process. grpc-js gives it no code of its own
 * (UNAVAILABLE, like a connection dropped mid-call, whose outcome is unknown): this is the one place
 * its text is read, to give it the `not-sent` reason.
 */
const NOT_SENT_DETAILS = 'No connection established';

/** A grpc-js client error as an RpcError (kind mapped, details kept, the other side's reason code read from the trailers). */
export function fromGrpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  const e = err as Partial<grpc.ServiceError>;
  if (e && typeof e.code === 'number') {
    const details = e.details ?? e.message ?? '';
    const md = e.metadata instanceof grpc.Metadata ? e.metadata : undefined;
    let reason = parseErrorReason(md?.get(REASON_METADATA_KEY)[0]);
    if (!reason && e.code === grpc.status.UNAVAILABLE && details.startsWith(NOT_SENT_DETAILS)) reason = 'not-sent';
    const leader = md?.get(LEADER_ADDR_METADATA_KEY)[0];
    return new RpcError(e.code, details, reason, typeof leader === 'string' && leader ? leader : undefined);
  }
  return new RpcError(grpc.status.UNKNOWN, err instanceof Error ? err.message : String(err));
}
