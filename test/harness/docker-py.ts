// What the docker-py suites share: whether docker-py is importable (CI must have it), one step of a
// step script run against a daemon's socket (its JSON output, or an error with the daemon's log), and
// the teardown that removes every service and waits for the tasks to go.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { waitFor, type TestDaemon } from './daemon';

export type PyJson = Record<string, any>;

export const PY_STEPS_DIR = path.resolve(__dirname, '..', '..', '..', 'test', 'e2e', 'py');

/** Why a docker-py suite must skip here (undefined: it runs); under CI=true a missing docker-py is an error. */
export function dockerPySkipReason(): string | undefined {
  const ok = spawnSync('python3', ['-c', 'import docker'], { timeout: 20_000 }).status === 0;
  if (!ok && process.env.CI === 'true') throw new Error('docker-py is not importable by python3, and CI=true requires this suite to run');
  return ok ? undefined : 'docker-py is not installed for python3 (`python3 -c "import docker"` fails)';
}

/** Runs `python3 <script> <socket> <step> [arg]` and parses what it prints. */
export function pyStep(script: string, d: TestDaemon, name: string, arg?: string, timeoutMs = 60_000): PyJson {
  const r = spawnSync('python3', [path.join(PY_STEPS_DIR, script), d.sock, name, ...(arg ? [arg] : [])], { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`docker-py step ${name} failed (${r.status}):\n${r.stdout}\n${r.stderr}${r.error ? String(r.error) : ''}\n--- daemon log ---\n${d.log()}`);
  return JSON.parse(r.stdout) as PyJson;
}

/** Removes every service and waits (bounded) for their tasks to be gone. */
export async function removeAllServices(d: TestDaemon): Promise<void> {
  const ls = d.docker(['service', 'ls', '-q']).stdout.trim();
  if (ls) d.docker(['service', 'rm', ...ls.split('\n')]);
  await waitFor(async () => ((await d.api<unknown[]>('GET', '/v1.47/tasks')).body as unknown[] | undefined)?.length === 0, 30_000, 'tasks gone').catch(() => undefined);
}
