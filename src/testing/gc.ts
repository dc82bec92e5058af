// Full garbage collections on demand, for tests that show an object is no longer held (WeakRef). The same way the
// daemon's heap trim gets V8's gc function (node/heap-trim.ts), without --expose-gc on the command line.
import v8 from 'node:v8';
import vm from 'node:vm';

let gcFunction: (() => void) | undefined;

/** Runs full collections, with turns of the event loop between them (finalizers and weak references settle there). */
export async function collectGarbage(rounds = 2): Promise<void> {
  if (!gcFunction) {
    v8.setFlagsFromString('--expose-gc');
    gcFunction = vm.runInNewContext('gc') as () => void;
    v8.setFlagsFromString('--no-expose-gc');
  }
  for (let i = 0; i < rounds; i++) {
    gcFunction();
    await new Promise((r) => setTimeout(r, 10));
  }
}
