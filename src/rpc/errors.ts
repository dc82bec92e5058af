// gRPC status <-> the ShoalError kinds of src/lib/errors.ts.
import * as grpc from '@grpc/grpc-js';
import { ShoalError, type ErrorKind } from '../lib/errors';

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
  ) {
    super(codeToKind(code), details);
  }
  /** The text Docker shows for an RPC failure. */
  get rpcText(): string {
    return `rpc error: code = ${GO_NAMES[this.code] ?? this.code} desc = ${this.details}`;
  }
}

export function rpcError(code: grpc.status, details: string): RpcError {
  return new RpcError(code, details);
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
  return { code, details, message: details, metadata: new grpc.Metadata() };
}

/** A grpc-js client error as an RpcError (kind mapped, details kept). */
export function fromGrpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  const e = err as Partial<grpc.ServiceError>;
  if (e && typeof e.code === 'number') return new RpcError(e.code, e.details ?? e.message ?? '');
  return new RpcError(grpc.status.UNKNOWN, err instanceof Error ? err.message : String(err));
}
