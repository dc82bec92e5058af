// The segment files under the Raft log (wal.ts): framing, segments, torn tails, ordering of blocking
// and background appends, a background append written at once, deletion of old segments, rewrites.
// Real files in a temp dir.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SegmentedLog, type RecordAt } from './wal';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-wal-'));
const rec = (s: string) => Buffer.from(s, 'utf8');
const files = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.wal')).sort();

function reopen(dir: string, segmentBytes = 4096): { log: SegmentedLog; seen: string[]; at: RecordAt[] } {
  const log = new SegmentedLog(dir, { fsync: true, segmentBytes });
  const seen: string[] = [];
  const at: RecordAt[] = [];
  log.open((body, a) => {
    seen.push(body.toString('utf8'));
    at.push(a);
  });
  return { log, seen, at };
}

test('records come back in order across reopen; a full segment starts the next one with its header', async () => {
  const dir = tmp();
  try {
    let { log } = reopen(dir);
    const header = () => [rec('H')];
    for (let i = 0; i < 40; i++) await log.append([rec(`r${i}-`.padEnd(200, 'x'))], i % 2 ? 'blocking' : 'background', header).done;
    // parts of one body are written as one record
    const { at, done } = log.append([[rec('two '), rec('parts')]], 'background', header);
    await done;
    assert.equal(log.read(at[0]!).toString(), 'two parts');
    await log.close();
    assert.ok(files(dir).length >= 2, `more than one segment: ${files(dir).join(' ')}`);
    let seen: string[] = [];
    ({ log, seen } = reopen(dir));
    const bodies = seen.filter((s) => s !== 'H');
    assert.deepEqual(bodies.map((s) => s.split('-')[0]), [...Array.from({ length: 40 }, (_, i) => `r${i}`), 'two parts']);
    assert.equal(seen.filter((s) => s === 'H').length, files(dir).length, 'one header per segment, at its start');
    for (const f of files(dir)) assert.equal(fs.statSync(path.join(dir, f)).size, 4096, 'segments are preallocated');
    await log.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a torn last record is cut off and zeroed, and the next append takes its place', async () => {
  const dir = tmp();
  try {
    let { log } = reopen(dir);
    for (const s of ['a', 'b', 'c']) await log.append([rec(s.repeat(100))], 'blocking', () => []).done;
    await log.close();
    const file = path.join(dir, files(dir)[0]!);
    const buf = fs.readFileSync(file);
    buf[2 * 108 + 8 + 50] ^= 0xff; // inside c's body: its crc fails
    fs.writeFileSync(file, buf);
    // what a crash leaves beside: a rewrite's new segment not renamed yet, the next segment half zeroed
    for (const stray of ['0000000000000002.wal.tmp', 'next.wal.tmp']) fs.writeFileSync(path.join(dir, stray), rec('x'.repeat(100)));
    let seen: string[] = [];
    ({ log, seen } = reopen(dir));
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'strays removed, never read');
    assert.deepEqual(seen.map((s) => s[0]), ['a', 'b']);
    assert.ok(fs.readFileSync(file).subarray(2 * 108).every((b) => b === 0), 'the rest of the segment is zeroed');
    await log.append([rec('d')], 'blocking', () => []).done;
    await log.close();
    ({ log, seen } = reopen(dir));
    assert.deepEqual(seen, ['a'.repeat(100), 'b'.repeat(100), 'd']);
    await log.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bytes after a zero length are a torn write: cut off, and the segments after it (never acknowledged) deleted', async () => {
  const dir = tmp();
  try {
    let { log } = reopen(dir, 1024);
    for (let i = 0; i < 12; i++) await log.append([rec(String(i).repeat(300))], 'background', () => []).done;
    await log.close();
    const names = files(dir);
    assert.ok(names.length >= 3);
    // the second segment's second record lost its first sector: its length reads 0, its tail is there
    const second = path.join(dir, names[1]!);
    const buf = fs.readFileSync(second);
    buf.fill(0, 308, 316);
    fs.writeFileSync(second, buf);
    let seen: string[] = [];
    ({ log, seen } = reopen(dir, 1024));
    assert.deepEqual(files(dir), names.slice(0, 2));
    assert.equal(seen.length, 4, 'three records in the first segment, one in the second');
    await log.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('background appends and a blocking one after them: all on disk, in order, when the blocking one returns', async () => {
  const dir = tmp();
  try {
    const { log } = reopen(dir);
    const first = log.append([rec('background-1')], 'background', () => []);
    const second = log.append([rec('background-2')], 'background', () => []);
    log.append([rec('blocking-3')], 'blocking', () => []);
    // read the file as another process would, before any callback ran
    const raw = fs.readFileSync(path.join(dir, files(dir)[0]!)).toString('latin1');
    const order = ['background-1', 'background-2', 'blocking-3'].map((s) => raw.indexOf(s));
    assert.ok(order.every((i) => i > 0) && order[0]! < order[1]! && order[1]! < order[2]!, `order on disk: ${order.join(' ')}`);
    await Promise.all([first.done, second.done]);
    await log.close();
    const { log: again, seen } = reopen(dir);
    assert.deepEqual(seen, ['background-1', 'background-2', 'blocking-3']);
    await again.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a background append's bytes are in the file when it returns; only its sync goes to libuv's threads", async () => {
  const dir = tmp();
  const pool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  // keep every thread of the pool busy: a write sent there could not land before the read below
  const busy = Array.from({ length: pool }, () => new Promise((resolve) => crypto.pbkdf2('p', 's', 300_000, 32, 'sha256', resolve)));
  try {
    const { log } = reopen(dir);
    let durable = false;
    const { done } = log.append([rec('background-only')], 'background', () => []);
    void done.then(() => (durable = true));
    const raw = fs.readFileSync(path.join(dir, files(dir)[0]!)).toString('latin1');
    assert.ok(raw.includes('background-only'), 'written before append returned');
    assert.equal(durable, false, 'not acknowledged before its sync');
    await done;
    await log.close();
  } finally {
    await Promise.all(busy);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('old segments are deleted up to the one named, never the one appended to; a rewrite replaces them all', async () => {
  const dir = tmp();
  try {
    let { log } = reopen(dir, 1024);
    let n = 0;
    const header = () => [rec(`H${n}`)];
    for (; n < 10; n++) await log.append([rec(`r${n}`.padEnd(400, '.'))], 'background', header).done;
    const segs = log.segments();
    assert.ok(segs.length >= 4);
    log.deleteBefore(segs[2]!);
    assert.deepEqual(log.segments(), segs.slice(2));
    log.deleteBefore(Infinity);
    assert.deepEqual(log.segments(), segs.slice(-1), 'the current segment stays');
    const pending = log.append([rec('queued')], 'background', header);
    await log.rewrite(
      () => [rec('S'), rec('only')],
      (at) => assert.deepEqual(at.map((a) => a.len), [1, 4]),
    );
    await pending.done;
    assert.equal(log.segments().length, 1);
    assert.ok(log.segments()[0]! > segs[segs.length - 1]!);
    await log.append([rec('after')], 'blocking', header).done;
    await log.close();
    let seen: string[] = [];
    ({ log, seen } = reopen(dir, 1024));
    assert.deepEqual(seen, ['S', 'only', 'after']);
    await log.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a crash that keeps any prefix of the bytes written (the rest zeros or garbage) replays exactly the whole records before the cut', async () => {
  // a seeded generator: the same cases every run
  let seed = 20261205;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const dir = tmp();
  try {
    const { log } = reopen(dir, 2048);
    const written: string[] = [];
    for (let i = 0; i < 60; i++) {
      const body = `${i}:`.padEnd(20 + rand(300), String.fromCharCode(97 + (i % 26)));
      written.push(body);
      await log.append([rec(body)], i % 4 === 0 ? 'blocking' : 'background', () => []).done;
    }
    await log.close();
    const names = files(dir);
    const pristine = names.map((f) => fs.readFileSync(path.join(dir, f)));
    // where each record ends, as (segment, offset) in write order
    const ends: Array<[number, number]> = [];
    pristine.forEach((buf, s) => {
      for (let at = 0; at + 8 <= buf.length; ) {
        const len = buf.readUInt32LE(at);
        if (len === 0) break;
        at += 8 + len;
        ends.push([s, at]);
      }
    });
    assert.equal(ends.length, written.length);
    for (let c = 0; c < 40; c++) {
      const s = rand(names.length);
      const cut = rand(pristine[s]!.length);
      const garbage = c % 2 === 1;
      // the crash: segment s kept up to `cut`, then zeros or garbage; the segments after it never written
      names.forEach((f, i) => {
        const p = path.join(dir, f);
        if (i < s) fs.writeFileSync(p, pristine[i]!);
        else if (i > s) fs.rmSync(p, { force: true });
        else {
          const b = Buffer.from(pristine[i]!);
          for (let k = cut; k < b.length; k++) b[k] = garbage ? rand(256) : 0;
          fs.writeFileSync(p, b);
        }
      });
      const expected = ends.filter(([seg, end]) => seg < s || (seg === s && end <= cut)).length;
      const again = reopen(dir, 2048);
      assert.deepEqual(again.seen, written.slice(0, expected), `case ${c}: segment ${s} cut at ${cut}${garbage ? ' with garbage after' : ''}`);
      // and the log goes on from there
      await again.log.append([rec('next')], 'blocking', () => []).done;
      await again.log.close();
      const last = reopen(dir, 2048);
      assert.deepEqual(last.seen, [...written.slice(0, expected), 'next'], `case ${c}: an append after the cut`);
      await last.log.close();
      for (const f of files(dir)) if (!names.includes(f)) fs.rmSync(path.join(dir, f));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
