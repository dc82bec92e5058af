// Full garbage collections on demand, for tests that show an object is no longer held (WeakRef).
import { collectGarbageNow } from '../sys/gc';

/** Runs full collections, with turns of the event loop between them (finalizers and weak references settle there). */
export async function collectGarbage(rounds = 2): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    collectGarbageNow();
    await new Promise((r) => setTimeout(r, 10));
  }
}
