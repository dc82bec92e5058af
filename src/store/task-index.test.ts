import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRng } from '../lib/ports';
import { eachId, holdsId, TaskIndex } from './task-index';

test('a TaskIndex holds what a Map of Sets holds, in the same order, with no key left for none (random operations, oracle)', () => {
  const keys = ['a', 'b', 'c', 'd'];
  const ids = ['t0', 't1', 't2', 't3', 't4', 't5'];
  for (let seed = 1; seed <= 25; seed++) {
    const rng = new SeededRng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)]!;
    const maybe = (): string | undefined => (rng.next() < 0.2 ? undefined : pick(keys));
    const index = new TaskIndex<string>();
    // what the store's indexes were: a Set per key, kept when it empties
    const oracle = new Map<string, Set<string>>();
    const add = (k: string, id: string) => oracle.set(k, oracle.get(k) ?? new Set()).get(k)!.add(id);
    for (let step = 0; step < 400; step++) {
      const id = pick(ids);
      const op = rng.next();
      if (op < 0.45) {
        const k = pick(keys);
        index.add(k, id);
        add(k, id);
      } else if (op < 0.75) {
        const k = pick(keys);
        index.delete(k, id);
        oracle.get(k)?.delete(id);
      } else {
        const from = maybe();
        const to = maybe();
        index.move(id, from, to);
        if (from !== to) {
          if (from !== undefined) oracle.get(from)?.delete(id);
          if (to !== undefined) add(to, id);
        }
      }
      const at = `seed ${seed}, step ${step}`;
      for (const k of keys) {
        const want = [...(oracle.get(k) ?? [])];
        assert.deepEqual([...eachId(index.get(k))], want, `${at}: IDs under ${k}`);
        for (const i of ids) assert.equal(holdsId(index.get(k), i), want.includes(i), `${at}: ${k} holds ${i}`);
        // one task: its ID alone; none: no key
        assert.equal(typeof index.get(k) === 'string', want.length === 1, `${at}: ${k} as a string`);
        assert.equal(index.get(k) === undefined, want.length === 0, `${at}: ${k} gone`);
      }
      assert.equal(index.keyCount, [...oracle.values()].filter((s) => s.size > 0).length, `${at}: key count`);
    }
  }
});

test('a move to the key a task is under leaves its place in the order', () => {
  const index = new TaskIndex<number>();
  for (const id of ['t1', 't2', 't3']) index.add(1, id);
  index.move('t1', 1, 1);
  assert.deepEqual([...eachId(index.get(1))], ['t1', 't2', 't3']);
  index.move('t1', 1, 2);
  index.move('t1', 2, 1);
  assert.deepEqual([...eachId(index.get(1))], ['t2', 't3', 't1']);
  index.clear();
  assert.equal(index.keyCount, 0);
});
