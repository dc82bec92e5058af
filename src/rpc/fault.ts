// TEST FAULT INJECTOR (never enabled in production): a silent network partition on loopback.
// When a daemon runs with `--test-fault-file PATH`, every RPC this process *sends* to an address
// listed in that JSON file ({"drop": ["127.0.0.10", "127.0.0.11:2377", "*"]}) is dropped silently:
// unary calls and new streams never reach the peer and fail only at their deadline (or hang until
// cancelled), and messages still arriving on streams opened before the partition are discarded.
// Tests rewrite the file to partition and heal; it is re-read at most every 100 ms.
import fs from 'node:fs';

let faultFile: string | null = null;
let cache: { at: number; drop: string[] } = { at: 0, drop: [] };

/** Enables the injector (called once by the daemon when `--test-fault-file` is given). */
export function setTestFaultFile(file: string | null): void {
  faultFile = file;
  cache = { at: 0, drop: [] };
}

function dropList(): string[] {
  if (!faultFile) return [];
  const now = Date.now();
  if (now - cache.at < 100) return cache.drop;
  let drop: string[] = [];
  try {
    const parsed = JSON.parse(fs.readFileSync(faultFile, 'utf8')) as { drop?: unknown };
    if (Array.isArray(parsed.drop)) drop = parsed.drop.filter((x): x is string => typeof x === 'string');
  } catch {
    drop = []; // missing or half-written file: no partition
  }
  cache = { at: now, drop };
  return drop;
}

/** True when traffic to `address` ("host:port") is currently dropped by the test fault injector. */
export function faultDrops(address: string): boolean {
  const drop = dropList();
  if (drop.length === 0) return false;
  const host = address.replace(/^(dns:|ipv4:)/, '').replace(/:\d+$/, '');
  return drop.some((d) => d === '*' || d === address || d === host);
}
