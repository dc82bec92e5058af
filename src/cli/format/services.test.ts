import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatServiceTable, type ApiService } from './services';

function svc(id: string, name: string, mode: ApiService['Spec']['Mode'], image: string, ports: ApiService['Endpoint']['Ports'] = []): ApiService {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Name: name, TaskTemplate: { ContainerSpec: { Image: image } }, Mode: mode },
    Endpoint: { Spec: {}, Ports: ports },
  };
}

test('service ls: short IDs, modes, replicas, image without digest, ports', () => {
  const services = [
    svc('zzzzzzzzzzzzzzzzzzzzzzzzz', 'web', { Replicated: { Replicas: 3 } }, 'nginx:alpine@sha256:0123', [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }]),
    svc('yyyyyyyyyyyyyyyyyyyyyyyyy', 'agent', { Global: {} }, 'busybox:latest'),
  ];
  const counts = new Map([
    ['zzzzzzzzzzzzzzzzzzzzzzzzz', { running: 2, desired: 3 }],
    ['yyyyyyyyyyyyyyyyyyyyyyyyy', { running: 1, desired: 1 }],
  ]);
  const want = [
    'ID             NAME      MODE         REPLICAS   IMAGE            PORTS',
    'yyyyyyyyyyyy   agent     global       1/1        busybox:latest   ',
    'zzzzzzzzzzzz   web       replicated   2/3        nginx:alpine     *:8080->80/tcp',
    '',
  ].join('\n');
  assert.equal(formatServiceTable(services, counts), want);
});

test('service ls: jobs show their run as the docker CLI does', () => {
  const services = [
    svc('aaaaaaaaaaaaaaaaaaaaaaaaa', 'batch', { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 5 } }, 'busybox'),
    svc('bbbbbbbbbbbbbbbbbbbbbbbbb', 'everywhere', { GlobalJob: {} }, 'busybox'),
  ];
  const counts = new Map([
    ['aaaaaaaaaaaaaaaaaaaaaaaaa', { running: 2, desired: 2, completed: 3 }],
    ['bbbbbbbbbbbbbbbbbbbbbbbbb', { running: 1, desired: 1, completed: 2 }],
  ]);
  const rows = formatServiceTable(services, counts).split('\n');
  assert.match(rows[1]!, /batch\s+replicated job\s+2\/2 \(3\/5 completed\)\s+busybox/);
  assert.match(rows[2]!, /everywhere\s+global job\s+1\/1 \(2\/3 completed\)\s+busybox/);
});
