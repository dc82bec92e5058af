// Golden files of the tests: committed under src/ and read from there (never from dist/), written only
// when asked for with UPDATE_GOLDEN=1 — a missing golden file fails, so a test can never pass by
// snapshotting whatever the code does today.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

/** The source directory of a compiled test's directory: <repo>/dist/src/x/y → <repo>/src/x/y. */
export function sourceDirOf(compiledDir: string): string {
  const parts = compiledDir.split(path.sep);
  const i = parts.lastIndexOf('dist');
  if (i < 0) return compiledDir; // run from the sources already
  return [...parts.slice(0, i), ...parts.slice(i + 1)].join(path.sep);
}

/** Asserts `text` equals the golden file; with UPDATE_GOLDEN=1 (re)writes it instead. */
export function assertGolden(file: string, text: string): void {
  const name = path.basename(file);
  if (process.env.UPDATE_GOLDEN === '1') {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    return;
  }
  if (!fs.existsSync(file)) assert.fail(`golden ${name} is missing (${file}); write it with UPDATE_GOLDEN=1 after checking the output`);
  assert.equal(text, fs.readFileSync(file, 'utf8'), `golden ${name} differs (UPDATE_GOLDEN=1 to accept)`);
}
