// A proposal larger than swarmkit's MaxTransactionBytes is refused before it reaches the log, with
// swarmkit's text; the store is unchanged and the member goes on accepting normal writes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { MemoryStore } from '../../store';
import { nodeFixture } from '../../testing/fixtures';
import { isKind } from '../../lib/errors';
import { MAX_TRANSACTION_BYTES, REQUEST_TOO_LARGE_MESSAGE } from './errors';
import { RaftConsensus } from './raft-consensus';

test('a 15 MB label spec is refused with swarmkit’s text; the log does not grow; normal writes go on', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-propsize-'));
  const store = new MemoryStore({ propose: () => Promise.reject(new Error('unset')) });
  const c = new RaftConsensus({
    dir,
    raftId: 1,
    store,
    transport: { bind: () => undefined, setPeer: () => undefined, removePeer: () => undefined, send: () => undefined, close: () => Promise.resolve() },
    tickMs: 20,
    electionTick: 10,
  });
  store.setProposer(c);
  try {
    await c.bootstrap({ members: [{ raftId: 1, addr: '', nodeId: 'a' }] });
    for (let end = Date.now() + 5_000; !c.isLeader(); await new Promise((r) => setTimeout(r, 10))) if (Date.now() > end) throw new Error('no leader');
    await store.update((tx) => tx.create('node', nodeFixture({ ID: 'small' })));
    const before = c.status().applied;
    const huge = nodeFixture({ ID: 'huge' });
    huge.Spec.Labels = { big: 'x'.repeat(15 * 1024 * 1024) };
    await assert.rejects(
      store.update((tx) => tx.create('node', huge)),
      (e: unknown) => isKind(e, 'InvalidArgument') && (e as Error).message === REQUEST_TOO_LARGE_MESSAGE,
    );
    // just under the limit is fine
    const fits = nodeFixture({ ID: 'fits' });
    fits.Spec.Labels = { big: 'x'.repeat(MAX_TRANSACTION_BYTES - 4096) };
    await store.update((tx) => tx.create('node', fits));
    assert.equal(store.read((tx) => tx.get('node', 'huge')), undefined);
    assert.ok(store.read((tx) => tx.get('node', 'fits')));
    assert.equal(c.status().applied, before + 1, 'only the write that fits reached the log');
  } finally {
    await c.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
