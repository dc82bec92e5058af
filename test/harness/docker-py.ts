// docker-py step scripts (test/e2e/py/*_steps.py): whether docker-py is there, and one step run
// against a daemon, its JSON output parsed. CI (CI=true) must have docker-py: a missing one fails there.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { TestDaemon } from './daemon';

const PY_DIR = path.resolve(__dirname, '..', '..', '..', 'test', 'e2e', 'py');

export type StepJson = Record<string, any>;

/** A skip reason when docker-py is not importable (outside CI); undefined when it is. */
export function dockerPySkip(): string | undefined {
  const ok = spawnSync('python3', ['-c', 'import docker'], { timeout: 20_000 }).status === 0;
  if (!ok && process.env.CI === 'true') throw new Error('docker-py is not importable by python3, and CI=true requires this suite to run');
  return ok ? undefined : 'docker-py is not installed for python3';
}

/** Runs `python3 test/e2e/py/<script> <socket> <step> [arg]` and parses what it prints; throws with the daemon log on failure. */
export function pyStepRunner(script: string, daemon: () => TestDaemon, opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}) {
  return (name: string, arg?: string): StepJson => {
    const d = daemon();
    const r = spawnSync('python3', [path.join(PY_DIR, script), d.sock, name, ...(arg ? [arg] : [])], {
      encoding: 'utf8',
      timeout: opts.timeoutMs ?? 60_000,
      ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
    });
    if (r.status !== 0) throw new Error(`docker-py step ${name} failed (${r.status}):\n${r.stdout}\n${r.stderr}\n--- daemon log ---\n${d.log()}`);
    return JSON.parse(r.stdout) as StepJson;
  };
}
