import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTable } from './table';

test('columns are padded to max(10, widest + 3); the last column is not padded', () => {
  const out = formatTable(['ID', 'NAME', 'MODE'], [['abc', 'web', 'replicated'], ['abcdefghijkl', 'a-very-long-name', 'global']]);
  assert.equal(out, ['ID             NAME               MODE', 'abc            web                replicated', 'abcdefghijkl   a-very-long-name   global', ''].join('\n'));
});

test('empty last cells leave the padding of the column before (as tabwriter does)', () => {
  const out = formatTable(['A', 'PORTS'], [['x', '']]);
  assert.equal(out, 'A         PORTS\nx         \n');
});

test('a header-only table', () => {
  assert.equal(formatTable(['ID', 'NAME'], []), 'ID        NAME\n');
});
