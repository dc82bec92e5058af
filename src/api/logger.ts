/** pino-compatible subset the API server logs through. */
export interface ApiLogger {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

export const silentLogger: ApiLogger = { debug() {}, info() {}, warn() {}, error() {} };
