import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { immediateStore } from '../store/testing/immediate';
import { parseExposition } from '../testing/prometheus';
import { NodeMetrics } from './metrics';

const DASHBOARD = path.resolve(__dirname, '..', '..', '..', 'docs', 'grafana-dashboard.json');

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
}

test('docs/grafana-dashboard.json is importable and every metric its queries use is one a manager exposes', async () => {
  const dash = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as { __inputs: { name: string }[]; panels: Panel[]; templating: { list: { query: { query: string } }[] } };
  assert.deepEqual(dash.__inputs.map((i) => i.name), ['DS_PROMETHEUS'], 'one Prometheus data source chosen at import');
  const store = immediateStore();
  const metrics = new NodeMetrics({
    engine: { version: '1', commit: 'c', architecture: 'x86_64', kernel: 'k', os: 'linux', osType: 'linux', daemonId: 'd', ncpu: 1, memTotal: 1 },
    manager: () => ({
      isLeader: () => true,
      read: (fn) => store.read((tx) => fn(tx as never)),
      taskStates: () => store.taskCountsByState(),
      services: () => [],
      raft: () => ({ term: 1, leader: 1, commit: 1, applied: 1 }),
      dispatcherSessions: () => 0,
    }),
    mesh: () => [],
  });
  const families = parseExposition((await metrics.render()).body);
  const known = (name: string) => families.has(name) || families.has(name.replace(/_(bucket|sum|count)$/, ''));
  const exprs = [...dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)), ...dash.templating.list.map((v) => v.query.query)];
  const used = new Set(exprs.flatMap((e) => e.match(/\b(?:swarm|shoal|engine)_[a-z_]+/g) ?? []));
  assert.ok(used.size >= 20, `the dashboard covers the metrics (${used.size} used)`);
  // labelled families with no series yet (no service, no mesh port) still announce HELP/TYPE
  const missing = [...used].filter((n) => !known(n));
  assert.deepEqual(missing, [], 'every metric the dashboard queries exists');
  for (const p of dash.panels) if (p.type !== 'row') assert.ok((p.targets ?? []).length > 0, `panel ${p.title} has a query`);
  metrics.close();
});
