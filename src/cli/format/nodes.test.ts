import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatNodeTable, type ApiNode } from './nodes';

function node(id: string, host: string, extra: Partial<ApiNode> = {}): ApiNode {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Role: 'worker', Availability: 'active' },
    Description: { Hostname: host, Platform: {}, Resources: {}, Engine: { EngineVersion: '27.0.3' } },
    Status: { State: 'ready', Addr: '127.0.0.1' },
    ...extra,
  };
}

test('node ls: self marked with *, states capitalised, sorted by hostname', () => {
  const nodes = [
    node('bbbbbbbbbbbbbbbbbbbbbbbbb', 'worker-1', { Status: { State: 'down', Addr: '' }, Spec: { Role: 'worker', Availability: 'drain' } }),
    node('aaaaaaaaaaaaaaaaaaaaaaaaa', 'manager-1', { Spec: { Role: 'manager', Availability: 'active' }, ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: '127.0.0.1:2377' } }),
    node('ccccccccccccccccccccccccc', 'manager-2', { Spec: { Role: 'manager', Availability: 'pause' }, ManagerStatus: { Reachability: 'reachable', Addr: '127.0.0.2:2377' } }),
  ];
  const want = [
    'ID                            HOSTNAME    STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION',
    'aaaaaaaaaaaaaaaaaaaaaaaaa *   manager-1   Ready     Active         Leader           27.0.3',
    'ccccccccccccccccccccccccc     manager-2   Ready     Pause          Reachable        27.0.3',
    'bbbbbbbbbbbbbbbbbbbbbbbbb     worker-1    Down      Drain                           27.0.3',
    '',
  ].join('\n');
  assert.equal(formatNodeTable(nodes, 'aaaaaaaaaaaaaaaaaaaaaaaaa'), want);
});
