import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ContainerSpec } from '../../../types';
import { collect, makeTask, text, until } from '../testing/testutil';
import type { TaskController } from '../types';
import { HealthMonitor, probeOf } from './health';
import { ProcessExecutor, dockerArch, shoalVersion } from './executor';
import { isAlive, processContainerId, readState, writeState } from './state';

let dataDir: string;
let exec: ProcessExecutor;
const pids: number[] = [];

before(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-proc-'));
  exec = new ProcessExecutor({ dataDir, hostname: 'testhost', pollMs: 50 });
});

after(async () => {
  await exec.close();
  for (const p of pids) {
    try {
      process.kill(-p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const sh = (script: string, extra: Partial<ContainerSpec> = {}): ContainerSpec => ({
  Image: 'busybox:latest',
  Command: ['/bin/sh', '-c', script],
  ...extra,
});

async function run(spec: ContainerSpec, e: ProcessExecutor = exec): Promise<{ c: TaskController; id: string }> {
  const t = makeTask(spec);
  const c = e.controller(t);
  await c.prepare();
  await c.start();
  const st = await c.inspect();
  if (st?.pid) pids.push(st.pid);
  return { c, id: t.ID };
}

describe('process executor: lifecycle', () => {
  test('exit 0: wait resolves, inspect shows the container ID, pid and exit code', async () => {
    const { c, id } = await run(sh('exit 0'));
    const r = await c.wait();
    assert.deepEqual(r, { exitCode: 0 });
    const st = await c.inspect();
    assert.ok(st);
    assert.equal(st.running, false);
    assert.equal(st.exitCode, 0);
    assert.equal(st.containerId, processContainerId(id));
    assert.match(st.containerId ?? '', /^[0-9a-f]{64}$/);
    assert.ok(st.pid && st.pid > 0);
  });

  test('non-zero exit is reported in Docker words', async () => {
    const { c } = await run(sh('exit 3'));
    assert.deepEqual(await c.wait(), { exitCode: 3, error: 'task: non-zero exit (3)' });
  });

  test('argv is passed without a shell', async () => {
    const { c } = await run({ Image: 'x', Command: ['/bin/echo'], Args: ['a  b', '$HOME', '*'] });
    await c.wait();
    assert.equal(text(await collect(c.logs({ follow: false, tail: 'all', timestamps: false }))), 'a  b $HOME *\n');
  });

  test('killed behind our back with SIGKILL → 137', async () => {
    const { c } = await run(sh('sleep 60'));
    const st = await c.inspect();
    assert.equal(st?.running, true);
    process.kill(st?.pid as number, 'SIGKILL');
    assert.deepEqual(await c.wait(), { exitCode: 137, error: 'task: non-zero exit (137)' });
    assert.equal((await c.inspect())?.running, false);
  });

  test('the task runs in its own session and process group (a group signal to the daemon misses it)', async () => {
    const { c } = await run(sh('sleep 60'));
    const pid = (await c.inspect())?.pid as number;
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    assert.equal(Number(fields[2]), pid, 'process group = own pid');
    assert.equal(Number(fields[3]), pid, 'session = own pid');
    await c.terminate();
    assert.equal((await c.wait()).exitCode, 137);
  });

  test('shutdown sends SIGTERM to the group: exit 143', async () => {
    const { c } = await run(sh('sleep 60'));
    await c.shutdown(10_000);
    const r = await c.wait();
    // sh dies of SIGTERM (143)
    assert.equal(r.exitCode, 143);
  });

  test('shutdown kills after the grace period when the stop signal is ignored', async () => {
    const { c } = await run(sh('trap "" TERM; echo ready; while :; do sleep 0.05; done'));
    await until(async () => text(await collect(c.logs({ follow: false, tail: 'all', timestamps: false }))).includes('ready'));
    await c.shutdown(200);
    assert.equal((await c.wait()).exitCode, 137);
  });

  test('StopSignal is used for shutdown', async () => {
    const { c } = await run(sh('trap "exit 7" INT; echo ready; while :; do sleep 0.05; done', { StopSignal: 'SIGINT' }));
    await until(async () => text(await collect(c.logs({ follow: false, tail: 'all', timestamps: false }))).includes('ready'));
    await c.shutdown(10_000);
    assert.equal((await c.wait()).exitCode, 7);
  });

  test('start is idempotent and prepare is idempotent', async () => {
    const t = makeTask(sh('sleep 60'));
    const c = exec.controller(t);
    await c.prepare();
    await c.prepare();
    await c.start();
    const pid = (await c.inspect())?.pid as number;
    pids.push(pid);
    await c.start();
    assert.equal((await c.inspect())?.pid, pid);
    await c.terminate();
    await c.wait();
  });

  test('env: Env given, PATH from the daemon, cwd defaults to the task dir', async () => {
    const { c, id } = await run(sh('echo "$FOO|$PATH|$(pwd)"', { Env: ['FOO=bar baz'] }));
    await c.wait();
    const out = text(await collect(c.logs({ follow: false, tail: 'all', timestamps: false })));
    assert.equal(out, `bar baz|${process.env.PATH}|${fs.realpathSync(path.join(dataDir, 'tasks', id))}\n`);
  });

  test('Dir sets the working directory', async () => {
    const { c } = await run(sh('pwd', { Dir: '/tmp' }));
    await c.wait();
    assert.equal(text(await collect(c.logs({ follow: false, tail: 'all', timestamps: false }))), '/tmp\n');
  });

  test('no command → prepare fails; unknown executable → start fails like Docker', async () => {
    const c1 = exec.controller(makeTask({ Image: 'busybox' }));
    await assert.rejects(c1.prepare(), /no command/);
    const c2 = exec.controller(makeTask({ Image: 'busybox', Command: ['no-such-binary-shoal'] }));
    await c2.prepare();
    await assert.rejects(c2.start(), /exec: "no-such-binary-shoal": executable file not found in \$PATH/);
  });

  test('wait honours its abort signal', async () => {
    const { c } = await run(sh('sleep 60'));
    const ac = new AbortController();
    const p = c.wait(ac.signal);
    ac.abort();
    await assert.rejects(p, (e: Error) => e.name === 'AbortError');
    await c.terminate();
  });

  test('remove deletes the record and logs; listTaskIds follows', async () => {
    const { c, id } = await run(sh('echo hi; sleep 60'));
    assert.ok((await exec.listTaskIds()).includes(id));
    await c.remove();
    assert.equal(await c.inspect(), undefined);
    assert.ok(!(await exec.listTaskIds()).includes(id));
    assert.equal(fs.existsSync(path.join(dataDir, 'tasks', id)), false);
  });

  test('describe reports os, Docker arch words, CPUs, memory and the hostname given', async () => {
    const d = await exec.describe();
    assert.equal(d.hostname, 'testhost');
    assert.equal(d.os, 'linux');
    assert.equal(d.architecture, dockerArch(process.arch));
    if (process.arch === 'x64') assert.equal(d.architecture, 'x86_64');
    assert.equal(d.nanoCPUs, os.cpus().length * 1e9);
    assert.equal(d.memoryBytes, os.totalmem());
    assert.equal(d.engineVersion, shoalVersion());
    assert.notEqual(d.engineVersion, '0.0.0', 'found package.json');
    assert.match(d.engineVersion, /^\d+\.\d+\.\d+/);
  });
});

describe('process executor: logs', () => {
  test('stdout and stderr lines with times, tail and since', async () => {
    const before = Date.now();
    const { c } = await run(sh('echo one; echo two >&2; echo three; printf "no-newline"'));
    await c.wait();
    const all = await collect(c.logs({ follow: false, tail: 'all', timestamps: true }));
    const lines = all.map((l) => `${l.stream}:${l.data.toString()}`);
    assert.ok(lines.includes('stdout:one\n'));
    assert.ok(lines.includes('stderr:two\n'));
    assert.ok(lines.includes('stdout:three\n'));
    assert.ok(lines.includes('stdout:no-newline\n'), 'last partial line is flushed with a newline');
    assert.equal(all.length, 4);
    for (const l of all) assert.ok(l.time >= before - 1000 && l.time <= Date.now() + 1000);
    // stdout order is kept
    const out = all.filter((l) => l.stream === 'stdout').map((l) => l.data.toString());
    assert.deepEqual(out, ['one\n', 'three\n', 'no-newline\n']);
    const tail1 = await collect(c.logs({ follow: false, tail: 1, timestamps: false }));
    assert.equal(tail1.length, 1);
    assert.equal(tail1[0].data.toString(), all[3].data.toString());
    assert.equal((await collect(c.logs({ follow: false, tail: 0, timestamps: false }))).length, 0);
    const future = await collect(c.logs({ follow: false, tail: 'all', timestamps: false, since: Date.now() / 1000 + 3600 }));
    assert.equal(future.length, 0);
  });

  test('follow yields lines as they come and ends when the task exits', async () => {
    const { c } = await run(sh('for i in 1 2 3 4 5; do echo line$i; sleep 0.1; done'));
    const got = await collect(c.logs({ follow: true, tail: 'all', timestamps: false }));
    assert.equal(text(got), 'line1\nline2\nline3\nline4\nline5\n');
    assert.equal((await c.inspect())?.running, false);
  });

  test('follow stops when its signal aborts', async () => {
    const { c } = await run(sh('echo start; sleep 60'));
    const ac = new AbortController();
    const got: string[] = [];
    for await (const l of c.logs({ follow: true, tail: 'all', timestamps: false }, ac.signal)) {
      got.push(l.data.toString());
      ac.abort();
    }
    assert.deepEqual(got, ['start\n']);
    assert.equal((await c.inspect())?.running, true);
    await c.terminate();
  });
});

describe('process executor: daemon restart', () => {
  test('a new executor on the same data dir re-adopts a running task, its logs and its stop', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-proc-adopt-'));
    const e1 = new ProcessExecutor({ dataDir: dir, hostname: 'h', pollMs: 50 });
    const t = makeTask(sh('echo before; while :; do sleep 0.05; if [ -f stop-now ]; then echo after; exit 0; fi; done'));
    const c1 = e1.controller(t);
    await c1.prepare();
    await c1.start();
    const pid = (await c1.inspect())?.pid as number;
    pids.push(pid);
    await until(async () => text(await collect(c1.logs({ follow: false, tail: 'all', timestamps: false }))).includes('before'));
    await e1.close(); // the daemon goes away; the task stays
    assert.ok(isAlive(pid));

    const e2 = new ProcessExecutor({ dataDir: dir, hostname: 'h', pollMs: 50 });
    assert.deepEqual(await e2.listTaskIds(), [t.ID]);
    const c2 = e2.controller(t);
    const st = await c2.inspect();
    assert.equal(st?.running, true);
    assert.equal(st?.pid, pid);
    assert.equal(text(await collect(c2.logs({ follow: false, tail: 'all', timestamps: false }))), 'before\n');
    // output written after the restart is collected too, and follow ends with the task
    const follow = collect(c2.logs({ follow: true, tail: 'all', timestamps: false }));
    fs.writeFileSync(path.join(dir, 'tasks', t.ID, 'stop-now'), '');
    const r = await c2.wait();
    // an adopted process's real status is lost: reported as killed (137) when Shoal sent no signal
    assert.equal(r.exitCode, 137);
    assert.equal(text(await follow), 'before\nafter\n');
    await e2.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the PID is on disk before start() first yields: a daemon killed right after the fork leaves no unrecorded process', async () => {
    // Found by test/integration/chaos.test.ts (seed 16): a task process nobody recorded, beside the one a
    // restarted daemon started for the same task.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-proc-fork-'));
    const e1 = new ProcessExecutor({ dataDir: dir, hostname: 'h', pollMs: 50 });
    const t = makeTask(sh('sleep 30'));
    const c1 = e1.controller(t);
    await c1.prepare();
    const started = c1.start(); // runs synchronously up to its first await
    const onDisk: { pid?: number } = readState(path.join(dir, 'tasks', t.ID)) ?? {};
    await started;
    assert.ok(onDisk.pid, 'state.json names the process as soon as it is forked');
    pids.push(onDisk.pid);
    assert.equal((await c1.inspect())?.pid, onDisk.pid);
    await e1.close();
    // The next daemon adopts that very process instead of starting another.
    const e2 = new ProcessExecutor({ dataDir: dir, hostname: 'h', pollMs: 50 });
    const c2 = e2.controller(t);
    assert.deepEqual(await c2.inspect().then((x) => [x?.running, x?.pid]), [true, onDisk.pid]);
    await c2.start();
    assert.equal((await c2.inspect())?.pid, onDisk.pid);
    await c2.terminate();
    await e2.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a daemon killed between the fork and the PID record: the next one finds the process by its task ID', async () => {
    // Found by test/integration/chaos.test.ts in CI: a process whose task directory had been removed as an
    // orphan while it ran on, because no state file named its PID.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-proc-launch-'));
    const e1 = new ProcessExecutor({ dataDir: dir, hostname: 'h', pollMs: 50 });
    const t = makeTask(sh('sleep 30'));
    await e1.controller(t).prepare();
    await e1.close();
    // What a daemon killed mid-start leaves: the launch intent on disk, no PID, and the process running.
    const tdir = path.join(dir, 'tasks', t.ID);
    const st = readState(tdir)!;
    assert.ok(!fs.readFileSync(path.join(tdir, 'state.json')).includes(`SHOAL_TASK_ID=${t.ID}`), 'the environment is not on disk in plain text');
    assert.ok(st.env.includes(`SHOAL_TASK_ID=${t.ID}`), 'every process task carries its task ID');
    const child = spawn(st.argv[0]!, st.argv.slice(1), { env: Object.fromEntries(st.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])), detached: true, stdio: 'ignore' });
    child.unref();
    pids.push(child.pid!);
    writeState(tdir, { ...st, launching: true });
    const e2 = new ProcessExecutor({ dataDir: dir, hostname: 'h', pollMs: 50 });
    const c2 = e2.controller(t);
    assert.deepEqual(await c2.inspect().then((x) => [x?.running, x?.pid]), [true, child.pid]);
    await c2.terminate();
    assert.equal(isAlive(child.pid!), false, 'terminate reached the found process');
    await e2.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('an adopted task stopped by shutdown reports 128+signal; one that died while no daemon ran is settled', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-proc-adopt2-'));
    const e1 = new ProcessExecutor({ dataDir: dir, hostname: 'h', pollMs: 50 });
    const ta = makeTask(sh('sleep 60'));
    const tb = makeTask(sh('sleep 60'));
    const ca = e1.controller(ta);
    const cb = e1.controller(tb);
    for (const c of [ca, cb]) {
      await c.prepare();
      await c.start();
    }
    const pa = (await ca.inspect())?.pid as number;
    const pb = (await cb.inspect())?.pid as number;
    pids.push(pa, pb);
    await e1.close();
    process.kill(pb, 'SIGKILL');
    await until(() => !isAlive(pb));

    const e2 = new ProcessExecutor({ dataDir: dir, hostname: 'h', pollMs: 50 });
    const ca2 = e2.controller(ta);
    const cb2 = e2.controller(tb);
    assert.equal((await cb2.inspect())?.running, false);
    assert.deepEqual(await cb2.wait(), { exitCode: 137, error: 'task: non-zero exit (137)' });
    assert.equal((await ca2.inspect())?.running, true);
    await ca2.shutdown(10_000);
    assert.equal((await ca2.wait()).exitCode, 143);
    assert.equal(isAlive(pa), false);
    await e2.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('process executor: health checks', () => {
  test('CMD-SHELL check: starting → healthy → unhealthy, via onHealth and inspect', async () => {
    const flag = path.join(dataDir, `hc-ok-${Date.now()}`);
    const { c } = await run(
      sh('sleep 60', {
        HealthCheck: { Test: ['CMD-SHELL', `test -f ${flag}`], Interval: 50e6, Timeout: 2e9, Retries: 2 },
      }),
    );
    const seen: string[] = [];
    const off = c.onHealth?.((h) => seen.push(h));
    assert.ok(off);
    assert.equal((await c.inspect())?.health, 'starting');
    // with no flag file the check fails twice → unhealthy
    await until(async () => (await c.inspect())?.health === 'unhealthy', 20_000, 'unhealthy');
    fs.writeFileSync(flag, '');
    await until(async () => (await c.inspect())?.health === 'healthy', 20_000, 'healthy');
    await until(() => seen.includes('healthy'));
    assert.deepEqual(seen.filter((h, i) => h !== seen[i - 1]).slice(-2), ['unhealthy', 'healthy']);
    off?.();
    await c.terminate();
  });

  test('CMD check with a missing binary is a failure; NONE disables the check', async () => {
    const { c } = await run(sh('sleep 60', { HealthCheck: { Test: ['CMD', '/no/such/probe'], Interval: 50e6, Retries: 1 } }));
    await until(async () => (await c.inspect())?.health === 'unhealthy');
    await c.terminate();
    const { c: c2 } = await run(sh('sleep 60', { HealthCheck: { Test: ['NONE'] } }));
    assert.equal((await c2.inspect())?.health, undefined);
    await c2.terminate();
  });

  test('health rules: start period forgives failures until the first success; retries', () => {
    const changes: string[] = [];
    const m = new HealthMonitor({
      config: { Test: ['CMD', 'x'], Retries: 2, StartPeriod: 1000e6 },
      probe: { argv: ['x'] },
      env: { env: {}, cwd: '/' },
      startedAt: 0,
      onChange: (h) => changes.push(h),
    });
    m.record(false, 100);
    m.record(false, 200);
    m.record(false, 900);
    assert.equal(m.status, 'starting', 'failures in the start period do not count');
    m.record(false, 1500);
    assert.equal(m.status, 'starting');
    m.record(false, 1600);
    assert.equal(m.status, 'unhealthy');
    m.record(true, 1700);
    assert.equal(m.status, 'healthy');
    m.record(false, 1800);
    assert.equal(m.status, 'healthy');
    m.record(false, 1900);
    assert.equal(m.status, 'unhealthy');
    assert.deepEqual(changes, ['unhealthy', 'healthy', 'unhealthy']);
    assert.deepEqual(probeOf({ Test: ['CMD-SHELL', 'a && b'] }), { argv: ['/bin/sh', '-c', 'a && b'] });
    assert.equal(probeOf({ Test: ['NONE'] }), undefined);
    assert.equal(probeOf(undefined), undefined);
  });
});
