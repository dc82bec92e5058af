import { parseMetricsAddr } from '../metrics/server';

// Its own file so that the daemon's flag parsing (node/config.ts) checks the address without loading
// the dashboard, which is loaded only when asked for.

/** `--dashboard-addr host:port` (port 0 picks one; no host: every address), as `--metrics-addr` reads it. */
export function parseDashboardAddr(addr: string): { host: string; port: number } {
  try {
    return parseMetricsAddr(addr);
  } catch {
    throw new Error(`invalid --dashboard-addr: want host:port, got ${JSON.stringify(addr)}`);
  }
}
