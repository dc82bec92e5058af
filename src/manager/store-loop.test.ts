// A store loop whose body throws is never silently dead: the error is reported (the manager logs it
// with its stack), the loop retries with a full rescan after a backoff that doubles to a bound, and
// an event handler that throws does not stop the watch pump.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { immediateStore } from '../store/testing/immediate';
import type { StoreEvent, WatchFilter } from '../store';
import { nodeFixture } from '../testing/fixtures';
import { waitFor } from '../testing/wait';
import { collectGarbage } from '../testing/gc';
import { StoreLoop, startInTurns, type StoreLoopDeps } from './store-loop';

class Flaky extends StoreLoop {
  protected readonly filter: WatchFilter = { kinds: ['node'] };
  marked = new Set<string>();
  flushes: string[][] = [];
  failFlushes = 0;
  throwOn = new Set<string>();
  protected onEvent(e: StoreEvent): boolean {
    if (this.throwOn.has(e.object.ID)) throw new Error(`handler boom ${e.object.ID}`);
    this.marked.add(e.object.ID);
    return true;
  }
  protected async flush(): Promise<number | undefined> {
    const keys = this.take(this.marked, () => this.deps.store.read((tx) => tx.find('node').map((n) => n.ID)));
    if (this.failFlushes > 0) {
      this.failFlushes--;
      throw new Error('flush boom');
    }
    this.flushes.push(keys.sort());
    return undefined;
  }
}

test('a flush that throws is reported and retried with a full rescan, after growing pauses', async () => {
  const store = immediateStore();
  const errors: unknown[] = [];
  const deps: StoreLoopDeps = { store, clock: { now: () => Date.now() }, onError: (e) => errors.push(e), retryMs: 5, maxRetryMs: 20 };
  const loop = new Flaky(deps);
  loop.failFlushes = 3;
  loop.start();
  try {
    await store.update((tx) => tx.create('node', nodeFixture({ ID: 'a' })));
    await waitFor('a successful flush after the failures', () => loop.flushes.some((f) => f.includes('a')), 5_000);
    assert.equal(errors.length, 3);
    assert.match((errors[0] as Error).stack ?? '', /flush boom/);
    // the loop is alive: later events still flush
    await store.update((tx) => tx.create('node', nodeFixture({ ID: 'b' })));
    await waitFor('the next flush', () => loop.flushes.some((f) => f.includes('b')), 5_000);
  } finally {
    await loop.stop();
  }
});

test('an event handler that throws is reported; the pump goes on and the next flush rescans', async () => {
  const store = immediateStore();
  const errors: unknown[] = [];
  const loop = new Flaky({ store, clock: { now: () => Date.now() }, onError: (e) => errors.push(e), retryMs: 5 });
  loop.start();
  try {
    await loop.idle();
    loop.flushes = [];
    loop.throwOn.add('bad');
    await store.update((tx) => tx.create('node', nodeFixture({ ID: 'bad' })));
    await waitFor('the handler error reported', () => errors.length === 1, 5_000);
    await waitFor('a rescan that finds the unmarked work', () => loop.flushes.some((f) => f.includes('bad')), 5_000);
    loop.throwOn.clear();
    await store.update((tx) => tx.create('node', nodeFixture({ ID: 'c' })));
    await waitFor('events still pumped', () => loop.flushes.some((f) => f.includes('c')), 5_000);
  } finally {
    await loop.stop();
  }
});

test('a new leader starts its components in turns: the loop polls for I/O between one first pass and the next', async () => {
  const store = immediateStore();
  const order: string[] = [];
  class Recorder extends StoreLoop {
    protected readonly filter: WatchFilter = { kinds: ['node'] };
    constructor(private readonly name: string) {
      super({ store, clock: { now: () => Date.now() } });
    }
    protected onEvent(): boolean {
      return false;
    }
    protected async flush(): Promise<undefined> {
      order.push(this.name);
      // what arrives while this pass runs (a request, a Raft message): it is read once the pass is over
      if (this.name === 'first') setImmediate(() => order.push('i/o'));
      return undefined;
    }
  }
  const loops = [new Recorder('first'), new Recorder('second'), new Recorder('third')];
  try {
    await startInTurns(loops);
    await Promise.all(loops.map((l) => l.idle()));
    // started together, all three first passes ran in one timers phase and the I/O came after them
    assert.deepEqual(order, ['first', 'i/o', 'second', 'third']);
  } finally {
    for (const l of loops) await l.stop();
  }
});

// The pump waited on `const r = await w.next()` and read the rest in its own frame: the suspended frame kept the
// last round's events, with the old versions they carry, until the next write (this failed then).
test('the watch pump keeps nothing of the events it handled while it waits for the next', async () => {
  const store = immediateStore();
  const loop = new Flaky({ store, clock: { now: () => Date.now() } });
  loop.start();
  try {
    await store.update((tx) => tx.create('node', { ...nodeFixture({ ID: 'a' }), Spec: { ...nodeFixture({ ID: 'a' }).Spec, Labels: { pad: 'x'.repeat(1 << 20) } } }));
    // the committed object itself, which the delete's event carries as its old version
    const gone = new WeakRef(store.read((tx) => tx.get('node', 'a'))!);
    await loop.idle();
    const flushed = loop.flushes.length;
    await store.update((tx) => tx.delete('node', 'a'));
    await waitFor('the delete handled', () => loop.flushes.length > flushed || undefined, 5_000);
    await loop.idle();
    await collectGarbage();
    assert.equal(gone.deref(), undefined, 'the deleted node is still held');
  } finally {
    await loop.stop();
  }
});
