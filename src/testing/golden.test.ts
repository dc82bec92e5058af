import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { assertGolden, sourceDirOf } from './golden';

test('sourceDirOf maps a compiled directory back into src/', () => {
  assert.equal(sourceDirOf(path.join('/r', 'dist', 'src', 'a', 'b')), path.join('/r', 'src', 'a', 'b'));
  assert.equal(sourceDirOf(path.join('/r', 'src', 'a')), path.join('/r', 'src', 'a'));
});

test('assertGolden fails on a missing file, writes it only with UPDATE_GOLDEN=1, then compares', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'golden-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const saved = process.env.UPDATE_GOLDEN;
  t.after(() => (saved === undefined ? delete process.env.UPDATE_GOLDEN : (process.env.UPDATE_GOLDEN = saved)));
  const file = path.join(dir, 'sub', 'x.golden');
  delete process.env.UPDATE_GOLDEN;
  assert.throws(() => assertGolden(file, 'a\n'), /golden x\.golden is missing/);
  assert.equal(fs.existsSync(file), false);
  process.env.UPDATE_GOLDEN = '1';
  assertGolden(file, 'a\n');
  delete process.env.UPDATE_GOLDEN;
  assertGolden(file, 'a\n');
  assert.throws(() => assertGolden(file, 'b\n'), /golden x\.golden differs/);
});
