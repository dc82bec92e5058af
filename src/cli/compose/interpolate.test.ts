import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ComposeError } from './document';
import { interpolate, parseEnvFile, substitute } from './interpolate';

const env: Record<string, string> = { NAME: 'web', EMPTY: '', PORT: '8080' };
const lookup = (n: string) => env[n];
const sub = (s: string) => substitute(s, lookup, ['services', 'x', 'image']);

test('substitution forms', () => {
  const cases: [string, string][] = [
    ['$NAME', 'web'],
    ['${NAME}', 'web'],
    ['pre-${NAME}-post', 'pre-web-post'],
    ['${MISSING:-dflt}', 'dflt'],
    ['${EMPTY:-dflt}', 'dflt'],
    ['${EMPTY-dflt}', ''],
    ['${MISSING-dflt}', 'dflt'],
    ['${NAME:-dflt}', 'web'],
    ['${MISSING:-${NAME}x}', 'webx'],
    ['${NAME:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ['$$NAME', '$NAME'],
    ['cost $$5', 'cost $5'],
    ['${MISSING}', ''],
    ['$PORT:80', '8080:80'],
  ];
  for (const [input, want] of cases) assert.equal(sub(input), want, input);
});

test('required variables and bad syntax name the key', () => {
  assert.throws(() => sub('${MISSING:?set MISSING first}'), (e: Error) => e instanceof ComposeError && e.message === 'required variable MISSING is missing a value: set MISSING first');
  assert.throws(() => sub('${EMPTY:?no}'), /required variable EMPTY is missing a value: no/);
  assert.equal(sub('${EMPTY?no}'), '');
  assert.throws(() => sub('${NAME'), /^Error: invalid interpolation format for services\.x\.image: "\$\{NAME"; you may need to escape any \$ with another \$$/);
  assert.throws(() => sub('a $ b'), /invalid interpolation format for services\.x\.image/);
  assert.throws(() => sub('${}'), /invalid interpolation format/);
});

test('interpolate: values only, casts on typed paths, unset variables reported', () => {
  const unset: string[] = [];
  const out = interpolate(
    {
      services: {
        $KEY: { image: 'img:${TAG:-1}', deploy: { replicas: '${R}' }, ports: [{ target: '${PORT}' }], tty: '${T}', environment: ['A=${NOPE}'] },
      },
    },
    (n) => ({ R: '3', PORT: '80', T: 'yes' })[n],
    (n, where) => unset.push(`${n}@${where.join('.')}`),
  );
  assert.deepEqual(out, { services: { $KEY: { image: 'img:1', deploy: { replicas: 3 }, ports: [{ target: 80 }], tty: true, environment: ['A='] } } });
  assert.deepEqual(unset, ['NOPE@services.$KEY.environment.0']);
  assert.throws(() => interpolate({ services: { a: { tty: '${T}' } } }, () => 'maybe'), /invalid boolean for services\.a\.tty: "maybe"/);
});

test('.env files', () => {
  const text = ['# comment', '', 'A=1', 'export B = two ', 'C="quoted # not a comment\\n"', "D='single $x'", 'E=value # trailing', 'F=', 'BARE'].join('\n');
  assert.deepEqual(parseEnvFile(text, '.env'), { A: '1', B: 'two', C: 'quoted # not a comment\n', D: 'single $x', E: 'value', F: '' });
  assert.throws(() => parseEnvFile('OK=1\n1BAD=2\n', '/x/.env'), /^Error: \/x\/\.env:2: invalid variable name "1BAD"$/);
});
