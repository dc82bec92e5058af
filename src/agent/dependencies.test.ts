import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Secret, Task } from '../types';
import { ProcessExecutor } from './executor/process';
import { Worker, WORKER_STATE_FILE } from './worker';
import { taskFixture } from '../testing/fixtures';
import { waitFor } from '../testing/wait';

// The worker with the real process runtime: secrets arrive with the assignment message, the task
// reads its file, nothing of the secret reaches the worker's state file, and the node forgets it.

const clock = { now: () => Date.now() };
const MARK = 'sekret-value-42';

const secret: Secret = { ID: 'sec1', Version: { Index: 1 }, CreatedAt: '', UpdatedAt: '', Spec: { Name: 'pw', Data: Buffer.from(MARK).toString('base64') } };

function taskUsingSecret(id: string, out: string, state: Task['Status']['State'] = 'assigned'): Task {
  const script = `require('fs').writeFileSync(${JSON.stringify(out)}, require('fs').readFileSync(process.env.SHOAL_SECRETS_DIR + '/pw')); setInterval(() => {}, 1000)`;
  return taskFixture({
    ID: id,
    Spec: { ContainerSpec: { Image: 'busybox', Command: [process.execPath, '-e', script], Secrets: [{ SecretID: 'sec1', SecretName: 'pw', File: { Name: 'pw', UID: '0', GID: '0', Mode: 0o400 } }] } },
    NodeID: 'n',
    Status: { Timestamp: '', State: state, Message: '' },
  });
}

test('worker: secrets from the assignment stream, in memory only, files for the task, forgotten with it', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-deps-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const out = path.join(dataDir, 'read-back');
  const executor = new ProcessExecutor({ dataDir, hostname: 'h', pollMs: 50 });
  const w = new Worker({ dataDir, executor, report: () => undefined, clock, saveDelayMs: 10 });
  await w.init();
  const task = taskUsingSecret('t1', out);
  await w.assign({ type: 'complete', updateTasks: [task], removeTasks: [], updateSecrets: [secret] });
  await waitFor('the task read its secret', () => fs.existsSync(out) && fs.readFileSync(out, 'utf8') === MARK);
  assert.deepEqual(w.dependencies.held(), { secrets: ['sec1'], configs: [] });
  const dir = executor.filesDir('t1');
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  assert.equal(fs.statSync(path.join(dir, 'secrets', 'pw')).mode & 0o777, 0o400);
  await w.saveNow();
  const stateFile = fs.readFileSync(path.join(dataDir, 'worker', WORKER_STATE_FILE), 'utf8');
  assert.ok(stateFile.includes('"SecretID":"sec1"'), 'the reference is kept');
  assert.ok(!stateFile.includes(MARK) && !stateFile.includes(secret.Spec.Data!), 'the data is not');
  for (const f of fs.readdirSync(path.join(dataDir, 'tasks', 't1'))) {
    const p = path.join(dataDir, 'tasks', 't1', f);
    if (fs.statSync(p).isFile()) assert.ok(!fs.readFileSync(p, 'utf8').includes(MARK), p);
  }

  await w.assign({ type: 'incremental', updateTasks: [], removeTasks: ['t1'], removeSecrets: ['sec1'] });
  assert.deepEqual(w.dependencies.held(), { secrets: [], configs: [] });
  await waitFor('the task dir removed', () => !fs.existsSync(dir));
  await w.close();
});

test('worker restart: a task not yet prepared that needs secrets waits for the new session', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-deps-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dataDir, 'worker'), { recursive: true });
  const out = path.join(dataDir, 'read-back');
  const task = taskUsingSecret('t2', out);
  fs.writeFileSync(path.join(dataDir, 'worker', WORKER_STATE_FILE), JSON.stringify({ version: 1, tasks: [task] }));
  const executor = new ProcessExecutor({ dataDir, hostname: 'h', pollMs: 50 });
  const reports: string[] = [];
  const w = new Worker({ dataDir, executor, report: (u) => reports.push(u.status.State), clock });
  await w.init();
  assert.deepEqual(w.tasks(), [], 'not started without its secret (it would be rejected)');
  await w.assign({ type: 'complete', updateTasks: [task], removeTasks: [], updateSecrets: [secret] });
  await waitFor('started once the session brought the secret', () => fs.existsSync(out) && fs.readFileSync(out, 'utf8') === MARK);
  assert.ok(!reports.includes('rejected'));
  await w.assign({ type: 'complete', updateTasks: [], removeTasks: [] });
  assert.deepEqual(w.dependencies.held(), { secrets: [], configs: [] }, 'a complete message without it drops it');
  await waitFor('removed', () => !fs.existsSync(executor.filesDir('t2')));
  await w.close();
});

test('a task running as another user (root daemon) reads its secret in a directory it owns', { skip: process.getuid?.() === 0 ? undefined : 'needs root (setuid tasks)' }, async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-deps-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  fs.chmodSync(dataDir, 0o755);
  const outDir = path.join(dataDir, 'out');
  fs.mkdirSync(outDir, { mode: 0o777 });
  fs.chmodSync(outDir, 0o777);
  const out = path.join(outDir, 'read-back');
  const executor = new ProcessExecutor({ dataDir, hostname: 'h', pollMs: 50 });
  const w = new Worker({ dataDir, executor, report: () => undefined, clock });
  await w.init();
  const task = taskUsingSecret('t3', out);
  task.Spec.ContainerSpec!.User = '4321:4321';
  task.Spec.ContainerSpec!.Dir = outDir;
  task.Spec.ContainerSpec!.Secrets![0]!.File = { Name: 'pw', UID: '4321', GID: '4321', Mode: 0o400 };
  await w.assign({ type: 'complete', updateTasks: [task], removeTasks: [], updateSecrets: [secret] });
  await waitFor('the task read its secret as uid 4321', () => fs.existsSync(out) && fs.readFileSync(out, 'utf8') === MARK, 10_000);
  const dir = executor.filesDir('t3');
  assert.equal(fs.statSync(dir).uid, 4321);
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  assert.equal(fs.statSync(path.dirname(dir)).mode & 0o777, 0o711, 'the daemon directory can be passed, not listed');
  assert.equal(fs.statSync(path.join(dir, 'secrets', 'pw')).uid, 4321);
  await w.assign({ type: 'complete', updateTasks: [], removeTasks: [] });
  await waitFor('removed', () => !fs.existsSync(dir));
  await w.close();
});
