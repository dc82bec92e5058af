// TEST FAULT INJECTOR: a silent network partition on loopback, installed through src/rpc/drop-filter.ts.
// A daemon started by test/harness/daemon-main.ts with `--test-fault-file PATH` (TestDaemon's
// `faultFile`) drops every RPC it *sends* to an address listed in that JSON file
// ({"drop": ["127.0.0.10", "127.0.0.11:2377", "*"]}): unary calls and new streams never reach the
// peer and fail only at their deadline (or hang until cancelled), and messages still arriving on
// streams opened before the partition are discarded. Tests rewrite the file to partition and heal;
// it is re-read at most every 100 ms. The production daemon has no such flag.
import fs from 'node:fs';
import { setRpcDropFilter } from '../../src/rpc/drop-filter';

let cache: { at: number; drop: string[] } = { at: 0, drop: [] };

function dropList(file: string): string[] {
  const now = Date.now();
  if (now - cache.at < 100) return cache.drop;
  let drop: string[] = [];
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { drop?: unknown };
    if (Array.isArray(parsed.drop)) drop = parsed.drop.filter((x): x is string => typeof x === 'string');
  } catch {
    drop = []; // missing or half-written file: no partition
  }
  cache = { at: now, drop };
  return drop;
}

/** Makes this process drop RPCs to the addresses `file` lists (null: drop nothing again). */
export function setTestFaultFile(file: string | null): void {
  cache = { at: 0, drop: [] };
  if (!file) return setRpcDropFilter(null);
  setRpcDropFilter((address) => {
    const drop = dropList(file);
    if (drop.length === 0) return false;
    const host = address.replace(/^(dns:|ipv4:)/, '').replace(/:\d+$/, '');
    return drop.some((d) => d === '*' || d === address || d === host);
  });
}
