// The generated bash completion, sourced in a real bash and asked the way bash's completion asks
// (COMP_WORDS/COMP_CWORD, then the function fills COMPREPLY).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../main';

async function script(shell: string): Promise<string> {
  let out = '';
  const code = await run(['completion', shell], { out: { write: (s) => void (out += s) }, err: { write: () => {} }, env: {} });
  assert.equal(code, 0);
  return out;
}

/** Completes each word list (the last word is the one being typed); one line of candidates per list. */
function complete(file: string, lines: string[][]): string[] {
  const calls = lines.map((words) => `t ${words.map((w) => `'${w}'`).join(' ')}`).join('\n');
  const body = `source '${file}'\nt() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _shoal; echo "\${COMPREPLY[*]}"; }\n${calls}\n`;
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', body], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  return r.stdout.split('\n').slice(0, lines.length);
}

test('bash completion from the command tree: nouns, verbs with aliases, flags after global options', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-completion-'));
  const file = path.join(dir, 'shoal.bash');
  fs.writeFileSync(file, await script('bash'));
  const got = complete(file, [
    ['shoal', ''],
    ['shoal', 'se'],
    ['shoal', 'service', 'l'],
    ['shoal', '-H', 'unix:///x.sock', 'service', 'ps', '--no'],
    ['shoal', 'node', 'ls', '--f'],
    ['shoal', 'stack', 'rm', ''],
    ['shoal', 'service', 'update', '--rollback-'],
    ['shoal', 'nosuch', 'x'],
  ]);
  assert.deepEqual(got, [
    'version info swarm node service network secret config stack completion daemon',
    'service secret',
    'ls list logs',
    '--no-resolve --no-trunc',
    '--filter --format',
    '',
    '--rollback-parallelism --rollback-delay --rollback-failure-action --rollback-monitor --rollback-max-failure-ratio --rollback-order',
    '',
  ]);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('zsh script loads bashcompinit and carries the same tables; an unknown shell is an error', async () => {
  const z = await script('zsh');
  assert.match(z, /^#compdef shoal\n/);
  assert.match(z, /bashcompinit/);
  assert.ok(z.endsWith(await script('bash')));
  let err = '';
  assert.equal(await run(['completion', 'fish'], { out: { write: () => {} }, err: { write: (s) => void (err += s) }, env: {} }), 1);
  assert.match(err, /unsupported shell "fish"/);
});
