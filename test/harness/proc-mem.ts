// A process's memory as the kernel counts it, from /proc (Linux): what benches print for the daemon.
import fs from 'node:fs';

export interface ProcMemory {
  /** Resident set now (VmRSS), MiB: private pages plus the shared ones it touched (node's binary, libc). */
  rssMiB: number;
  /** Peak resident set since start (VmHWM), MiB. */
  hwmMiB: number;
  /** Unique set (smaps_rollup Private_Clean + Private_Dirty), MiB: what the process alone holds. */
  ussMiB: number;
}

const kB = (text: string, key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);

/** RSS, peak RSS and USS of a live process; throws when it is gone. */
export function procMemory(pid: number): ProcMemory {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return { rssMiB: kB(status, 'VmRSS') / 1024, hwmMiB: kB(status, 'VmHWM') / 1024, ussMiB: (kB(rollup, 'Private_Clean') + kB(rollup, 'Private_Dirty')) / 1024 };
}

/** Resident MiB per mapping kind (`/proc/<pid>/smaps`): anonymous memory (V8 heap, malloc), each mapped file, [heap], [stack]. */
export function residentByMapping(pid: number): Map<string, { rssMiB: number; privateMiB: number }> {
  const out = new Map<string, { rssMiB: number; privateMiB: number }>();
  let cur: { rssMiB: number; privateMiB: number } | undefined;
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const name = head[1] || '[anon]';
      cur = out.get(name) ?? { rssMiB: 0, privateMiB: 0 };
      out.set(name, cur);
      continue;
    }
    const m = /^(Rss|Private_Clean|Private_Dirty):\s+(\d+) kB/.exec(line);
    if (!m || !cur) continue;
    if (m[1] === 'Rss') cur.rssMiB += Number(m[2]) / 1024;
    else cur.privateMiB += Number(m[2]) / 1024;
  }
  return out;
}
