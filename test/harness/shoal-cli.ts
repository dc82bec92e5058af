// Runs bin/shoal.js (a separate process) against a daemon, and compares it with the real docker CLI
// on the same daemon: the same stdout, stderr and exit status, line by line.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { runDocker } from './daemon';

const SHOAL = path.resolve(__dirname, '..', '..', '..', 'bin', 'shoal.js');

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** `shoal -H host args…` with no DOCKER_HOST/SHOAL_HOST leaking in from the environment. */
export function runShoal(host: string, args: string[], o: { input?: string; timeoutMs?: number } = {}): CliResult {
  const r = spawnSync(process.execPath, [SHOAL, '-H', host, ...args], { encoding: 'utf8', timeout: o.timeoutMs ?? 60_000, input: o.input, env: { ...process.env, DOCKER_HOST: '', SHOAL_HOST: '' } });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** Like runShoal, but throws with the output when the command fails. */
export function shoalOk(host: string, args: string[], o: { input?: string; timeoutMs?: number } = {}): string {
  const r = runShoal(host, args, o);
  if (r.status !== 0) throw new Error(`shoal ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/**
 * Runs the same command through both CLIs and asserts the same stdout, stderr and exit status, line
 * by line, after `norm` (for what may tick between the two runs, such as "5 seconds ago").
 */
export function sameAsDocker(host: string, args: string[], o: { input?: string; norm?: (s: string) => string } = {}): CliResult {
  const s = runShoal(host, args, { input: o.input });
  const k = runDocker(host, args, { input: o.input });
  const norm = (x: string) => (o.norm ? o.norm(x) : x).split('\n');
  assert.deepEqual(norm(s.stdout), norm(k.stdout), `stdout of ${args.join(' ')}`);
  assert.deepEqual(s.stderr.split('\n'), k.stderr.split('\n'), `stderr of ${args.join(' ')}`);
  assert.equal(s.status, k.status, `exit status of ${args.join(' ')}`);
  return s;
}
