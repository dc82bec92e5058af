/** What the dispatcher and its batched writes log through (the daemon passes a pino child). */
export interface DispatcherLogger {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}
