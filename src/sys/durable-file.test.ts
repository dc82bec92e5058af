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

test('writeFileDurable writes each made piece before the next is made, with the event loop free between, then its patches; a failure while making one leaves the old file and no temp file', async () => {
  const dir = tmpDir();
  const f = path.join(dir, 'snap');
  // set by an immediate each maker queues: true at the next maker when the event loop ran in between
  let looped = false;
  const seen: { onDisk: string; looped: boolean }[] = [];
  const tmpText = () => {
    const t = fs.readdirSync(dir).find((n) => n.endsWith('.tmp'));
    return t ? fs.readFileSync(path.join(dir, t), 'utf8') : '';
  };
  // one reused buffer, as a snapshot's text pieces are: each piece must be written before the next overwrites it
  const scratch = Buffer.alloc(16);
  const made = ['size=?????\n', 'one,', 'two'].map((p) => () => {
    seen.push({ onDisk: tmpText(), looped });
    looped = false;
    setImmediate(() => (looped = true));
    return scratch.subarray(0, scratch.write(p));
  });
  await writeFileDurable(f, { made }, { patches: () => [{ at: 5, bytes: Buffer.from(String(seen.length).padEnd(5)) }] });
  assert.equal(fs.readFileSync(f, 'utf8'), 'size=3    \none,two');
  assert.deepEqual(seen.map((s) => s.onDisk), ['', 'size=?????\n', 'size=?????\none,']);
  assert.deepEqual(seen.map((s) => s.looped), [false, true, true], 'the event loop ran between pieces');
  assert.equal(fs.statSync(f).mode & 0o777, 0o600);
  const failing = [
    () => Buffer.from('partial'),
    () => {
      throw new Error('the encoder failed');
    },
  ];
  await assert.rejects(writeFileDurable(f, { made: failing }), /the encoder failed/);
  assert.equal(fs.readFileSync(f, 'utf8'), 'size=3    \none,two');
  assert.deepEqual(fs.readdirSync(dir), ['snap']);
  fs.rmSync(dir, { recursive: true });
});
