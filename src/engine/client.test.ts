import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { engineTestOptions, requireEngine } from '../../test/harness/engine';
import { isKind } from '../lib/errors';
import { EngineClient, encodeQuery, parseEngineHost, readText } from './client';
import { EngineError } from './errors';
import { demux, jsonLines, parseRfc3339, timedLines } from './stream';
import type { LogFrame } from './types';

async function* chunksOf(...bufs: Buffer[]): AsyncGenerator<Buffer> {
  for (const b of bufs) yield b;
}

const frame = (stream: number, s: string) => {
  const d = Buffer.from(s);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(d.length, 4);
  return Buffer.concat([h, d]);
};

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('engine stream helpers (no engine)', () => {
  test('demux splits frames across arbitrary chunk boundaries', async () => {
    const bytes = Buffer.concat([frame(1, 'hello\n'), frame(2, 'oops\n'), frame(1, 'x')]);
    const pieces = [bytes.subarray(0, 3), bytes.subarray(3, 11), bytes.subarray(11, 20), bytes.subarray(20)];
    const frames = await all(demux(chunksOf(...pieces)));
    assert.deepEqual(
      frames.map((f) => [f.stream, f.data.toString()]),
      [
        ['stdout', 'hello\n'],
        ['stderr', 'oops\n'],
        ['stdout', 'x'],
      ],
    );
  });

  test('timedLines parses RFC3339Nano prefixes and joins lines split over frames', async () => {
    const frames: LogFrame[] = [
      { stream: 'stdout', data: Buffer.from('2024-01-02T03:04:05.123456789Z hel') },
      { stream: 'stderr', data: Buffer.from('2024-01-02T03:04:06.5Z err\n') },
      { stream: 'stdout', data: Buffer.from('lo\n2024-01-02T03:04:07Z tail') },
    ];
    const lines = await all(timedLines((async function* () { yield* frames; })()));
    assert.deepEqual(
      lines.map((l) => [l.stream, l.time, l.data.toString()]),
      [
        ['stderr', Date.UTC(2024, 0, 2, 3, 4, 6, 500), 'err\n'],
        ['stdout', Date.UTC(2024, 0, 2, 3, 4, 5, 123), 'hello\n'],
        ['stdout', Date.UTC(2024, 0, 2, 3, 4, 7), 'tail\n'],
      ],
    );
    assert.ok(Number.isNaN(parseRfc3339('nonsense')));
  });

  test('jsonLines, encodeQuery and parseEngineHost', async () => {
    const objs = await all(jsonLines<{ a: number }>(chunksOf(Buffer.from('{"a":1}\n{"a"'), Buffer.from(':2}\n'))));
    assert.deepEqual(objs, [{ a: 1 }, { a: 2 }]);
    assert.equal(encodeQuery({ all: true, x: undefined, filters: { label: ['a=b'] } }), '?all=1&filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D');
    assert.deepEqual(parseEngineHost('unix:///run/d.sock'), { socketPath: '/run/d.sock' });
    assert.deepEqual(parseEngineHost('tcp://127.0.0.1:2375'), { hostname: '127.0.0.1', port: 2375 });
    assert.throws(() => parseEngineHost('ftp://x'));
  });

  test('an unreachable engine is Unavailable with the CLI words', async () => {
    const c = new EngineClient({ host: 'unix:///nonexistent/shoal-test.sock' });
    await assert.rejects(c.ping(), (e: unknown) => isKind(e, 'Unavailable') && /Cannot connect to the Docker daemon at unix:\/\/\/nonexistent/.test((e as Error).message));
    await c.close();
  });
});

describe('engine client against a real engine', engineTestOptions(), () => {
  let c: EngineClient;
  let image: string;
  const made: string[] = [];
  const label = `shoal.test.run=${randomBytes(6).toString('hex')}`;

  before(() => {
    const e = requireEngine();
    c = new EngineClient({ host: e.host });
    image = e.image;
  });

  after(async () => {
    if (!c) return;
    for (const id of made) await c.containerRemove(id, { force: true }).catch(() => undefined);
    await c.close();
  });

  async function create(cmd: string[], extra: Record<string, unknown> = {}): Promise<string> {
    const [k, v] = label.split('=');
    const { Id } = await c.containerCreate({ Image: image, Cmd: cmd, Labels: { [k]: v }, ...extra });
    made.push(Id);
    return Id;
  }

  test('ping, negotiate, version, info', async () => {
    const p = await c.ping();
    assert.equal(p.ok, true);
    assert.match(p.apiVersion ?? '', /^1\.\d+$/);
    assert.equal(await c.negotiate(), '1.41');
    const v = await c.version();
    assert.match(v.Version, /^\d+\.\d+/);
    const info = await c.info();
    assert.ok(info.NCPU > 0);
    assert.ok(info.MemTotal > 0);
    assert.equal(info.OSType, 'linux');
  });

  test('image inspect: present and absent', async () => {
    const img = await c.imageInspect(image);
    assert.match(img.Id, /^sha256:[0-9a-f]{64}$/);
    const byId = await c.imageInspect(img.Id);
    assert.equal(byId.Id, img.Id);
    await assert.rejects(c.imageInspect('shoal-no-such-image:nope'), (e: unknown) => isKind(e, 'NotFound') && /No such image/.test((e as Error).message));
  });

  test('image pull from a registry that is not there: an EngineError with the engine\'s text', async () => {
    // port 1 on loopback: nothing listens, the engine's dial is refused at once
    await assert.rejects(c.imagePull('127.0.0.1:1/shoal-none', '1'), (e: unknown) => e instanceof EngineError && /127\.0\.0\.1:1/.test(e.message));
  });

  test('create → start → wait → inspect → logs (demuxed, timestamps, tail)', async () => {
    const id = await create(['sh', '-c', 'echo out1; echo err1 >&2; echo out2; exit 5']);
    await c.containerStart(id);
    const w = await c.containerWait(id);
    assert.equal(w.StatusCode, 5);
    const ins = await c.containerInspect(id);
    assert.equal(ins.State.Running, false);
    assert.equal(ins.State.ExitCode, 5);
    const frames = await all(await c.containerLogs(id, {}));
    const out = frames.filter((f) => f.stream === 'stdout').map((f) => f.data.toString()).join('');
    const err = frames.filter((f) => f.stream === 'stderr').map((f) => f.data.toString()).join('');
    assert.equal(out, 'out1\nout2\n');
    assert.equal(err, 'err1\n');
    const timed = await all(timedLines(await c.containerLogs(id, { timestamps: true, tail: 1 })));
    assert.equal(timed.length, 1);
    assert.ok(timed[0].time > Date.now() - 3_600_000);
    // a second start of a finished container restarts it, a start of a running one is a no-op (304)
    await c.containerStart(id);
  });

  test('TTY containers give raw logs', async () => {
    const id = await create(['echo', 'tty-line'], { Tty: true });
    await c.containerStart(id);
    await c.containerWait(id);
    const frames = await all(await c.containerLogs(id, {}));
    assert.match(frames.map((f) => f.data.toString()).join(''), /tty-line\r?\n/);
  });

  test('follow streams until the container exits', async () => {
    const id = await create(['sh', '-c', 'for i in 1 2 3; do echo n$i; sleep 0.1; done']);
    await c.containerStart(id);
    const frames = await all(await c.containerLogs(id, { follow: true }));
    assert.equal(frames.map((f) => f.data.toString()).join(''), 'n1\nn2\nn3\n');
  });

  test('list by label; stop, kill, remove; conflicts and not-founds carry the engine message', async () => {
    const a = await create(['sleep', '60']);
    const b = await create(['sleep', '60'], { StopSignal: 'SIGKILL' });
    await c.containerStart(a);
    await c.containerStart(b);
    const listed = await c.containerList({ all: true, labels: [label] });
    const ids = listed.map((x) => x.Id);
    assert.ok(ids.includes(a) && ids.includes(b));
    assert.equal((await c.containerList({ labels: [`${label}-other`] })).length, 0);
    await assert.rejects(c.containerRemove(a), (e: unknown) => isKind(e, 'Conflict') && /running/.test((e as Error).message));
    await c.containerStop(b, 5);
    assert.equal((await c.containerInspect(b)).State.ExitCode, 137);
    await c.containerStop(b, 5); // already stopped: 304 is fine
    await c.containerKill(a, 'SIGKILL');
    assert.equal((await c.containerWait(a)).StatusCode, 137);
    await assert.rejects(c.containerKill(a), (e: unknown) => isKind(e, 'Conflict') && /is not running/.test((e as Error).message));
    await c.containerRemove(a, { force: true });
    await assert.rejects(c.containerInspect(a), (e: unknown) => isKind(e, 'NotFound') && /No such container/.test((e as Error).message));
  });

  test('events stream sees container start and die', async () => {
    const ac = new AbortController();
    const id = await create(['true']);
    const events = await c.events({ filters: { type: ['container'], container: [id] } }, ac.signal);
    const seen: string[] = [];
    const reading = (async () => {
      for await (const ev of events) {
        seen.push(ev.Action);
        if (ev.Action === 'die') {
          assert.equal(ev.Actor.Attributes.exitCode, '0');
          ac.abort();
        }
      }
    })();
    await c.containerStart(id);
    await reading;
    assert.ok(seen.includes('start'));
    assert.ok(seen.includes('die'));
  });

  test('raw request passthrough and upgraded exec stream (101)', async () => {
    const id = await create(['sleep', '60']);
    await c.containerStart(id);
    const res = await c.request({
      method: 'POST',
      path: c.versioned(`/containers/${id}/exec`),
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ Cmd: ['sh', '-c', 'cat; echo done'], AttachStdin: true, AttachStdout: true, AttachStderr: true }),
    });
    assert.equal(res.statusCode, 201);
    const execId = (JSON.parse(await readText(res.body)) as { Id: string }).Id;
    const up = await c.upgrade({
      method: 'POST',
      path: c.versioned(`/exec/${execId}/start`),
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ Detach: false, Tty: false }),
    });
    assert.equal(up.statusCode, 101);
    assert.match(up.rawHead.toString(), /^HTTP\/1\.1 101/);
    up.socket.write('ping\n');
    up.socket.end(); // half-close: cat sees EOF, the output still comes back
    const chunks: Buffer[] = [up.head];
    up.socket.resume();
    for await (const ch of up.socket) chunks.push(ch as Buffer);
    const frames = await all(demux(chunksOf(Buffer.concat(chunks))));
    assert.equal(frames.map((f) => f.data.toString()).join(''), 'ping\ndone\n');
    await c.containerKill(id);
  });
});
