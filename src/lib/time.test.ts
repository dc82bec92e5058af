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
