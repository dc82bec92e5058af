import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MinHeap } from './min-heap';

test('every pop hands out the smallest item the heap holds, with pushes and pops interleaved', () => {
  let seed = 5;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), Math.floor((seed / 0x80000000) * n));
  for (let round = 0; round < 50; round++) {
    const h = new MinHeap<number>((a, b) => a < b);
    const model: number[] = [];
    for (let step = 0; step < 80; step++) {
      if (rnd(3) > 0 || model.length === 0) {
        const x = rnd(20);
        h.push(x);
        model.push(x);
      } else {
        const min = Math.min(...model);
        model.splice(model.indexOf(min), 1);
        assert.equal(h.pop(), min, `round ${round}, step ${step}`);
      }
      assert.equal(h.size, model.length);
      assert.equal(h.peek(), model.length ? Math.min(...model) : undefined);
    }
    assert.deepEqual(h.clear().sort((a, b) => a - b), model.sort((a, b) => a - b));
    assert.equal(h.pop(), undefined);
  }
});
