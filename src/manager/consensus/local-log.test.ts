import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { MemoryStore } from '../../store';
import type { Node } from '../../types';
import { LocalLog } from './local-log';

const node = (id: string, label = ''): Node => ({
  ID: id,
  Version: { Index: 0 },
  CreatedAt: '',
  UpdatedAt: '',
  Spec: { Role: 'worker', Availability: 'active', Labels: { l: label } },
  Description: { Hostname: id, Platform: {}, Resources: {}, Engine: { EngineVersion: '1' } },
  Status: { State: 'ready', Addr: '127.0.0.1' },
});

function open(dir: string, interval?: number) {
  const store = new MemoryStore({ propose: () => Promise.reject(new Error('unset')) });
  const log = new LocalLog(dir, store, interval);
  store.setProposer(log);
  log.load();
  return { store, log };
}

test('every committed write survives a restart, across snapshots and compaction', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-log-'));
  try {
    const a = open(dir, 4);
    for (let i = 0; i < 10; i++) await a.store.update((tx) => tx.create('node', node(`n${i}`)));
    await a.store.update((tx) => {
      const n = tx.get('node', 'n3')!;
      n.Spec.Labels = { l: 'changed' };
      tx.update('node', n);
      tx.delete('node', 'n5');
    });
    await a.log.close();
    const b = open(dir, 4);
    assert.equal(b.store.index, 11);
    const nodes = b.store.view((tx) => tx.find('node'));
    assert.equal(nodes.length, 9);
    assert.equal(b.store.view((tx) => tx.get('node', 'n3'))!.Spec.Labels!.l, 'changed');
    assert.equal(b.store.view((tx) => tx.get('node', 'n3'))!.Version.Index, 11);
    // the log keeps going after a restart with increasing indexes
    await b.store.update((tx) => tx.create('node', node('n10')));
    assert.equal(b.store.index, 12);
    await b.log.close();
    const c = open(dir, 4);
    assert.equal(c.store.view((tx) => tx.find('node')).length, 10);
    await c.log.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
