import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SeededRng } from '../../../lib/ports';
import { Balancer } from './balancer';
import type { MeshBackend } from './types';

const be = (id: string, port = 1000): MeshBackend => ({ id, host: '10.0.0.1', port });

test('short connections go round robin: each backend in turn', () => {
  const b = new Balancer();
  b.setBackends([be('a'), be('b'), be('c')]);
  const picks: string[] = [];
  for (let i = 0; i < 7; i++) {
    const p = b.pick()!;
    b.acquire(p.id);
    b.release(p.id);
    picks.push(p.id);
  }
  assert.deepEqual(picks, ['a', 'b', 'c', 'a', 'b', 'c', 'a']);
});

test('held connections go to the backend with fewest active', () => {
  const b = new Balancer();
  b.setBackends([be('a'), be('b'), be('c')]);
  b.acquire('a');
  b.acquire('a');
  b.acquire('b');
  assert.equal(b.pick()!.id, 'c');
  b.acquire('c');
  assert.equal(b.pick()!.id, 'b'); // b and c tie at 1; the scan after c wraps round to b first
});

test('exclude skips backends already tried; none left is undefined', () => {
  const b = new Balancer();
  b.setBackends([be('a'), be('b')]);
  assert.equal(b.pick(new Set(['a']))!.id, 'b');
  assert.equal(b.pick(new Set(['a', 'b'])), undefined);
  b.setBackends([]);
  assert.equal(b.pick(), undefined);
});

test('a removed backend keeps its count until its last connection ends, and is never picked', () => {
  const b = new Balancer();
  b.setBackends([be('a'), be('b')]);
  b.acquire('a');
  const r = b.setBackends([be('b'), be('c')]);
  assert.deepEqual(r, { added: ['c'], removed: ['a'] });
  assert.equal(b.activeCounts().get('a'), 1);
  for (let i = 0; i < 4; i++) assert.notEqual(b.pick()!.id, 'a');
  b.release('a');
  assert.equal(b.activeCounts().has('a'), false);
});

test('duplicate IDs in a table count once', () => {
  const b = new Balancer();
  b.setBackends([be('a'), be('a', 2), be('b')]);
  assert.equal(b.list().length, 2);
});

test('an injected random breaks ties among the least loaded only', () => {
  const b = new Balancer({ rng: new SeededRng(7) });
  b.setBackends([be('a'), be('b'), be('c')]);
  b.acquire('b');
  for (let i = 0; i < 20; i++) assert.notEqual(b.pick()!.id, 'b');
});

// Property: under any sequence of table changes, opens and closes, a pick is always a current backend not excluded,
// with the fewest active connections among those; counts never go negative; held connections spread within one.
const op = fc.oneof(
  fc.record({ k: fc.constant('set' as const), ids: fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { maxLength: 5 }) }),
  fc.record({ k: fc.constant('open' as const) }),
  fc.record({ k: fc.constant('close' as const), i: fc.nat() }),
);

test('property: picks are current, least loaded, never removed', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), fc.boolean(), fc.integer(), (ops, random, seed) => {
      const b = new Balancer(random ? { rng: new SeededRng(seed) } : {});
      const open: string[] = [];
      let current: string[] = [];
      for (const o of ops) {
        if (o.k === 'set') {
          current = o.ids;
          b.setBackends(o.ids.map((id) => be(id)));
        } else if (o.k === 'open') {
          const p = b.pick();
          if (current.length === 0) {
            assert.equal(p, undefined);
            continue;
          }
          assert.ok(p && current.includes(p.id), `picked ${p?.id} not in ${current}`);
          const load = (id: string) => b.activeCounts().get(id) ?? 0;
          assert.equal(load(p.id), Math.min(...current.map(load)));
          b.acquire(p.id);
          open.push(p.id);
        } else if (open.length) {
          const [id] = open.splice(o.i % open.length, 1);
          b.release(id);
        }
        for (const n of b.activeCounts().values()) assert.ok(n >= 0);
      }
    }),
  );
});

test('property: held connections spread evenly (max - min <= 1) over a fixed set', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 50 }), (n, conns) => {
      const b = new Balancer();
      const ids = Array.from({ length: n }, (_, i) => `t${i}`);
      b.setBackends(ids.map((id) => be(id)));
      for (let i = 0; i < conns; i++) b.acquire(b.pick()!.id);
      const counts = ids.map((id) => b.activeCounts().get(id) ?? 0);
      assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, String(counts));
    }),
  );
});
