import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffTables, indexTable } from './diff';
import type { PublishedPortTable } from './types';

const t = (port: number, ids: string[], extra: Partial<PublishedPortTable> = {}): PublishedPortTable => ({
  protocol: 'tcp',
  port,
  backends: ids.map((id, i) => ({ id, host: '10.0.0.9', port: 30000 + i })),
  ...extra,
});

test('the same table twice is no change (apply is idempotent)', () => {
  const table = [t(80, ['a', 'b']), t(53, ['c'], { protocol: 'udp' })];
  assert.deepEqual(diffTables(indexTable(table), table), { open: [], close: [], update: [] });
  // backend order does not matter
  const reordered = { ...table[0], backends: [...table[0].backends].reverse() };
  assert.deepEqual(diffTables(indexTable(table), [reordered, table[1]]).update, []);
});

test('new ports open, gone ports close, changed ones update in place', () => {
  const cur = indexTable([t(80, ['a']), t(81, ['a']), t(82, ['a'])]);
  const d = diffTables(cur, [t(80, ['a']), t(81, ['a', 'b']), t(90, ['x']), t(82, ['a'], { proxyProtocol: 'v2' })]);
  assert.deepEqual(d.open.map((x) => x.port), [90]);
  assert.deepEqual(d.close, []);
  assert.deepEqual(d.update.map((x) => x.port).sort(), [81, 82]);
  assert.deepEqual(diffTables(cur, [t(80, ['a'])]).close.sort(), ['tcp/81', 'tcp/82']);
});

test('tcp and udp on the same number are two ports; a moved backend is an update', () => {
  const cur = indexTable([t(53, ['a'])]);
  const d = diffTables(cur, [t(53, ['a']), t(53, ['a'], { protocol: 'udp' })]);
  assert.deepEqual(d.open.map((x) => `${x.protocol}/${x.port}`), ['udp/53']);
  const moved = t(53, ['a']);
  moved.backends[0].port = 1;
  assert.equal(diffTables(cur, [moved]).update.length, 1);
});
