import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeMatchesConstraints, parseConstraints, type Constraint } from './constraints';
import type { Node } from './node';

const node: Node = {
  ID: 'abc123',
  Version: { Index: 1 },
  CreatedAt: '',
  UpdatedAt: '',
  Spec: { Role: 'worker', Availability: 'active', Labels: { zone: 'EU-1', Disk: 'ssd' } },
  Description: { Hostname: 'Node-1', Platform: { OS: 'linux', Architecture: 'x86_64' }, Resources: {}, Engine: { EngineVersion: '27', Labels: { gpu: 'yes' } } },
  Status: { State: 'ready', Addr: '10.1.2.3' },
};

const m = (...exprs: string[]) => {
  const r = parseConstraints(exprs);
  assert.ok('constraints' in r, JSON.stringify(r));
  return nodeMatchesConstraints((r as { constraints: Constraint[] }).constraints, node);
};

test('parse errors use Docker wording', () => {
  assert.deepEqual(parseConstraints(['node.role=manager']), { error: 'constraint expected one operator from ==, !=' });
  assert.deepEqual(parseConstraints(['node role==x']), { error: "key 'node role' is invalid" });
  assert.deepEqual(parseConstraints(['node.role==x{']), { error: "value 'x{' is invalid" });
});

test('matching: keys and values case-insensitive, label names case-sensitive, missing label is empty', () => {
  assert.equal(m('node.id==ABC123'), true);
  assert.equal(m('node.hostname==node-1'), true);
  assert.equal(m('Node.Role == worker'), true);
  assert.equal(m('node.role!=worker'), false);
  assert.equal(m('node.platform.os==Linux', 'node.platform.arch==x86_64'), true);
  assert.equal(m('node.labels.zone==eu-1'), true);
  assert.equal(m('node.labels.Zone==eu-1'), false);
  assert.equal(m('node.labels.disk!=ssd'), true); // no label "disk": reads as ""
  assert.equal(m('node.labels.Disk!=ssd'), false);
  assert.equal(m('engine.labels.gpu==YES'), true);
  assert.equal(m('node.ip==10.1.2.3'), true);
  assert.equal(m('node.ip==10.1.0.0/16'), true);
  assert.equal(m('node.ip!=10.1.0.0/16'), false);
  assert.equal(m('node.whatever==x'), false);
});
