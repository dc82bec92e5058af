// V8's full collection on demand, without --expose-gc on the command line (the global `gc` when it was given):
// the daemon's heap trim (node/heap-trim.ts) and tests that show an object is no longer held (testing/gc.ts).
import v8 from 'node:v8';
import vm from 'node:vm';

let gcFunction: (() => void) | undefined;

/** Runs one full garbage collection now, on this thread. */
export function collectGarbageNow(): void {
  if (!gcFunction) {
    const global = (globalThis as { gc?: () => void }).gc;
    if (global) gcFunction = global;
    else {
      v8.setFlagsFromString('--expose-gc');
      gcFunction = vm.runInNewContext('gc') as () => void;
      v8.setFlagsFromString('--no-expose-gc');
    }
  }
  gcFunction();
}
