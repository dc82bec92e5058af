// Preloaded into the daemon by `bench/memory.ts --breakdown` (node -r): on SIGUSR2 it writes what the
// process's memory is made of to $SHOAL_MEMORY_PROBE_OUT: process.memoryUsage(), V8's heap spaces and
// the modules loaded (count and source bytes per npm package / per top-level folder of Shoal), and the
// garbage collections so far (count and pause). Only the
// breakdown run loads it; the measured runs start the daemon exactly as bin/shoal.js does.
import fs from 'node:fs';
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import v8 from 'node:v8';

export interface ProbeReport {
  memory: NodeJS.MemoryUsage;
  spaces: { name: string; usedMiB: number; committedMiB: number }[];
  modules: number;
  sourceMiB: number;
  byOwner: Record<string, { modules: number; bytes: number }>;
  /** Garbage collections since the process started: young-generation (scavenges) and full (mark-compact), with their total pause. */
  gc: { minor: number; major: number; pauseMs: number };
}

const gc = { minor: 0, major: 0, pauseMs: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gc.minor++;
    else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.major++;
    gc.pauseMs += e.duration;
  }
}).observe({ type: 'gc' });

/** Who a loaded file belongs to: its npm package, `shoal:<folder>` for Shoal's own, `other` else. */
export function ownerOf(file: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (pkg) return pkg[1]!;
  const own = /\/dist\/src\/([^/]+)\//.exec(file);
  return own ? `shoal:${own[1]}` : 'other';
}

function report(): ProbeReport {
  const byOwner: ProbeReport['byOwner'] = {};
  let bytes = 0;
  const files = Object.keys(require.cache);
  for (const f of files) {
    let size = 0;
    try {
      size = fs.statSync(f).size;
    } catch {
      /* not a file */
    }
    bytes += size;
    const o = (byOwner[ownerOf(f)] ??= { modules: 0, bytes: 0 });
    o.modules++;
    o.bytes += size;
  }
  const MiB = 2 ** 20;
  return {
    memory: process.memoryUsage(),
    spaces: v8.getHeapSpaceStatistics().map((s) => ({ name: s.space_name, usedMiB: s.space_used_size / MiB, committedMiB: s.space_size / MiB })),
    modules: files.length,
    sourceMiB: bytes / MiB,
    byOwner,
    gc: { ...gc },
  };
}

const out = process.env.SHOAL_MEMORY_PROBE_OUT;
if (out) process.on('SIGUSR2', () => fs.writeFileSync(out, JSON.stringify(report())));
