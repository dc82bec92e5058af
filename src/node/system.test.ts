import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemRng } from './system';

test('systemRng: pooled bytes are never handed out twice, across pool refills; large draws and next() work', () => {
  const seen = new Set<string>();
  // 4,096-byte pool: 1,000 draws of 16 bytes refill it several times, at offsets that do not divide it
  for (let i = 0; i < 1000; i++) {
    const b = systemRng.bytes(i % 7 === 0 ? 13 : 16);
    assert.equal(b.length, i % 7 === 0 ? 13 : 16);
    const hex = Buffer.from(b).toString('hex');
    assert.ok(!seen.has(hex), `draw ${i} repeats an earlier one`);
    seen.add(hex);
  }
  const big = systemRng.bytes(5000);
  assert.equal(big.length, 5000);
  assert.ok(big.some((x) => x !== 0));
  for (let i = 0; i < 100; i++) {
    const x = systemRng.next();
    assert.ok(x >= 0 && x < 1, String(x));
  }
});
