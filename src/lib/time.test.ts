import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isoTime } from './time';

test('isoTime: RFC 3339 with nanoseconds as Go prints it, milliseconds kept, any year toISOString takes', () => {
  assert.equal(isoTime(0), '1970-01-01T00:00:00.000000000Z');
  assert.equal(isoTime(Date.UTC(2026, 11, 4, 5, 30, 31, 7)), '2026-12-04T05:30:31.007000000Z');
  assert.equal(isoTime(Date.UTC(12345, 0, 1)), '+012345-01-01T00:00:00.000000000Z');
  assert.equal(isoTime(-1), '1969-12-31T23:59:59.999000000Z');
  assert.throws(() => isoTime(Number.NaN), RangeError);
});

test('isoTime: the same text as Date gives, for times in one second, across seconds, fractions and the ends of its range', () => {
  const reference = (ms: number) => new Date(ms).toISOString().slice(0, -1) + '000000Z';
  const base = Date.UTC(2026, 11, 4, 23, 59, 59, 0);
  const times = [base, base + 1, base + 9, base + 10, base + 99, base + 100, base + 999, base + 1000, base - 1, base + 0.9, base - 0.5];
  times.push(-1.5, -999, -1000, -1001, -0, 8.64e15, -8.64e15, 8.64e15 + 0.5);
  // the second formatted last must not leak into another: alternate between two seconds
  for (let i = 0; i < 50; i++) times.push(i % 2 === 0 ? base + i : base + 86_400_000 + i);
  for (const t of times) assert.equal(isoTime(t), reference(t), `isoTime(${t})`);
  for (const bad of [8.64e15 + 1, -8.64e15 - 1, Infinity]) assert.throws(() => isoTime(bad), RangeError);
});
