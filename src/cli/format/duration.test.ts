import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatGoDuration, humanDuration, parseGoDuration } from './duration';

test('humanDuration follows go-units wording', () => {
  const s = 1000;
  const cases: [number, string][] = [
    [0, 'Less than a second'],
    [999, 'Less than a second'],
    [1 * s, '1 second'],
    [5 * s, '5 seconds'],
    [59 * s, '59 seconds'],
    [60 * s, 'About a minute'],
    [119 * s, 'About a minute'],
    [120 * s, '2 minutes'],
    [59 * 60 * s, '59 minutes'],
    [60 * 60 * s, 'About an hour'],
    [89 * 60 * s, 'About an hour'],
    [90 * 60 * s, '2 hours'],
    [47 * 3600 * s, '47 hours'],
    [48 * 3600 * s, '2 days'],
    [14 * 24 * 3600 * s, '2 weeks'],
    [60 * 24 * 3600 * s, '2 months'],
    [2 * 365 * 24 * 3600 * s, '2 years'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms} ms`);
});

test('parseGoDuration reads Go durations into nanoseconds', () => {
  assert.equal(parseGoDuration('0'), 0);
  assert.equal(parseGoDuration('10s'), 10e9);
  assert.equal(parseGoDuration('1m30s'), 90e9);
  assert.equal(parseGoDuration('500ms'), 5e8);
  assert.equal(parseGoDuration('1.5h'), 5400e9);
  assert.equal(parseGoDuration('2us'), 2000);
  assert.throws(() => parseGoDuration('10'), /invalid duration "10"/);
  assert.throws(() => parseGoDuration('abc'), /invalid duration/);
});

test('formatGoDuration prints like time.Duration.String()', () => {
  assert.equal(formatGoDuration(0), '0s');
  assert.equal(formatGoDuration(5e9), '5s');
  assert.equal(formatGoDuration(90e9), '1m30s');
  assert.equal(formatGoDuration(3600e9), '1h0m0s');
  assert.equal(formatGoDuration(5e8), '500ms');
  assert.equal(formatGoDuration(1.5e9), '1.5s');
});
