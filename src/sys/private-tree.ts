// Nothing under a data dir is for other local accounts: files 0600, directories 0700 (the Raft log,
// snapshots, keys, worker state, task logs). The daemon runs with umask 077 so that every file it or a
// library creates is private from the start; `tightenTree` brings a data dir written by an older
// release (0644 files in 0755 directories) to the same modes at startup.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The umask the daemon runs with. */
export const PRIVATE_UMASK = 0o077;
/** The umask a task process gets, as runc gives a container's init. */
export const TASK_UMASK = 0o022;

/** Clears group and other permission bits on `dir` and everything below it (symlinks are not followed). Returns how many entries changed. */
export function tightenTree(dir: string): number {
  let changed = 0;
  const visit = (p: string) => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return; // removed meanwhile
    }
    if (st.isSymbolicLink()) return;
    if ((st.mode & 0o077) !== 0) {
      fs.chmodSync(p, st.mode & 0o7700);
      changed++;
    }
    if (st.isDirectory()) for (const n of fs.readdirSync(p)) visit(path.join(p, n));
  };
  visit(dir);
  return changed;
}

/** Runs `fork` (a synchronous spawn) under the task umask, so a task's own files get the modes a container's would. */
export function withTaskUmask<T>(fork: () => T): T {
  const prev = process.umask(TASK_UMASK);
  try {
    return fork();
  } finally {
    process.umask(prev);
  }
}
