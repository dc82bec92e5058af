// Golden Raft scenarios (test/sim/scenarios/*.txt), run by the scripted driver in scenario.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runScenario } from './scenario';

// Compiled to dist/test/sim; the scripts stay in the source tree.
const dir = [path.join(__dirname, 'scenarios'), path.join(__dirname, '..', '..', '..', 'test', 'sim', 'scenarios')].find((d) =>
  fs.existsSync(d),
);

test('scenario directory exists', () => {
  assert.ok(dir, 'test/sim/scenarios not found');
});

for (const f of dir ? fs.readdirSync(dir).filter((x) => x.endsWith('.txt')).sort() : []) {
  test(`scenario ${f}`, () => {
    runScenario(fs.readFileSync(path.join(dir as string, f), 'utf8'), f);
  });
}
