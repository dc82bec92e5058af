import { ShoalError, type ErrorKind } from '../lib/errors';

/** The engine's HTTP status → Shoal's error kind. */
export function kindForStatus(status: number): ErrorKind {
  switch (status) {
    case 400:
      return 'InvalidArgument';
    case 401:
    case 403:
      return 'PermissionDenied';
    case 404:
      return 'NotFound';
    case 409:
      return 'Conflict';
    case 412:
      return 'FailedPrecondition';
    case 501:
      return 'Unimplemented';
    case 503:
      return 'Unavailable';
    default:
      return 'Internal';
  }
}

/** An error the engine answered, with its HTTP status kept for callers that need it. */
export class EngineError extends ShoalError {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(kindForStatus(statusCode), message);
  }
}

/** The engine's `{"message": "..."}` body, or the raw text when it is not JSON. */
export function engineMessage(status: number, body: string): string {
  const text = body.trim();
  if (text.startsWith('{')) {
    try {
      const m = (JSON.parse(text) as { message?: unknown }).message;
      if (typeof m === 'string') return m;
    } catch {
      /* not JSON after all */
    }
  }
  return text || `engine answered HTTP ${status}`;
}

/** Connection-level failures (no socket, refused, reset) → Unavailable, in the CLI's words. */
export function connectionError(host: string, err: unknown): Error {
  if (err instanceof ShoalError) return err;
  const e = err as { code?: string; message?: string; name?: string };
  if (e?.name === 'AbortError' && err instanceof Error) return err;
  return new ShoalError(
    'Unavailable',
    `Cannot connect to the Docker daemon at ${host}. Is the docker daemon running? (${e?.code ?? e?.message ?? String(err)})`,
  );
}
