import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { writeFileDurable, writeFileDurableSync } from './durable-file';

const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-durable-'));

test('writeFileDurableSync replaces the file whole, with the mode asked for, and leaves no temp file', () => {
  const dir = tmpDir();
  const f = path.join(dir, 'state.json');
  fs.writeFileSync(f, 'old contents that are longer than the new', { mode: 0o644 });
  const old = process.umask(0o077);
  try {
    writeFileDurableSync(f, '{"a":1}', { mode: 0o600 });
  } finally {
    process.umask(old);
  }
  assert.equal(fs.readFileSync(f, 'utf8'), '{"a":1}');
  assert.equal(fs.statSync(f).mode & 0o777, 0o600);
  writeFileDurableSync(path.join(dir, 'pub.crt'), 'x');
  assert.equal(fs.statSync(path.join(dir, 'pub.crt')).mode & 0o777, 0o600, 'private by default: nothing under a data dir is for other accounts');
  assert.deepEqual(fs.readdirSync(dir).sort(), ['pub.crt', 'state.json']);
  fs.rmSync(dir, { recursive: true });
});

test('writeFileDurable writes parts in order; a failed write leaves the old file and no temp file', async () => {
  const dir = tmpDir();
  const f = path.join(dir, 'snap');
  await writeFileDurable(f, [Buffer.from('head\n'), Buffer.from('body'), Buffer.alloc(0), Buffer.from('-tail')], { mode: 0o600 });
  assert.equal(fs.readFileSync(f, 'utf8'), 'head\nbody-tail');
  writeFileDurableSync(f, [Buffer.from('one,'), Buffer.from('two')]);
  assert.equal(fs.readFileSync(f, 'utf8'), 'one,two');
  assert.equal(fs.statSync(f).mode & 0o777, 0o600);
  // the target is a directory: the rename fails after the temp file was written
  const d = path.join(dir, 'adir');
  fs.mkdirSync(d);
  fs.writeFileSync(path.join(d, 'keep'), 'k');
  await assert.rejects(writeFileDurable(d, 'x'));
  assert.throws(() => writeFileDurableSync(d, 'x'));
  assert.deepEqual(fs.readdirSync(dir).sort(), ['adir', 'snap']);
  fs.rmSync(dir, { recursive: true });
});

test('writeFileDurable writes pieces as they are made, then its patches; a failure while making them leaves the old file and no temp file', async () => {
  const dir = tmpDir();
  const f = path.join(dir, 'snap');
  let made = 0;
  async function* pieces() {
    for (const p of ['size=?????\n', 'one,', 'two']) {
      made++;
      yield Buffer.from(p);
    }
  }
  await writeFileDurable(f, pieces(), { patches: () => [{ at: 5, bytes: Buffer.from(String(made).padEnd(5)) }] });
  assert.equal(fs.readFileSync(f, 'utf8'), 'size=3    \none,two');
  assert.equal(fs.statSync(f).mode & 0o777, 0o600);
  async function* failing() {
    yield Buffer.from('partial');
    throw new Error('the encoder failed');
  }
  await assert.rejects(writeFileDurable(f, failing()), /the encoder failed/);
  assert.equal(fs.readFileSync(f, 'utf8'), 'size=3    \none,two');
  assert.deepEqual(fs.readdirSync(dir), ['snap']);
  fs.rmSync(dir, { recursive: true });
});
