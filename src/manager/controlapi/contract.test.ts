// The control-API contract's wiring: each typed operation forwards under its own name with its own
// arguments and runs its own local implementation, and only the contract's names are forwardable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONTROL_OPERATIONS, controlClient, isControlOperation, localControl, type ControlOperation, type LocalControl } from './contract';
import type { ControlApi } from './controlapi';
import type { NetworkControl } from './networks';
import type { SecretControl } from './secrets';

/** Distinct arguments per position, so a swapped or dropped argument shows. */
const ARGS = ['a0', 'a1', 'a2', 'a3'];

test('every operation of the client forwards under its own name and runs its own local implementation, arguments intact', async () => {
  const localCalls: { name: string; args: unknown[] }[] = [];
  const recorder = new Proxy({} as LocalControl, {
    get: (_t, name) => (...args: unknown[]) => {
      localCalls.push({ name: String(name), args });
      return `ran ${String(name)}`;
    },
  });
  const forwarded: { op: string; args: unknown[] }[] = [];
  const client = controlClient(async (op, args, local) => {
    forwarded.push({ op, args: [...args] });
    return local(recorder);
  });
  assert.deepEqual(Object.keys(client).sort(), [...CONTROL_OPERATIONS].sort());
  for (const op of CONTROL_OPERATIONS) {
    const fn = client[op] as (...a: unknown[]) => Promise<unknown>;
    const args = ARGS.slice(0, fn.length);
    assert.equal(await fn(...args), `ran ${op}`);
    assert.deepEqual(forwarded.at(-1), { op, args }, op);
    assert.deepEqual(localCalls.at(-1), { name: op, args }, op);
  }
});

test('the leader\'s implementation calls the control API method of the same name (updateSwarm: the wired swarm update)', async () => {
  const seen: string[] = [];
  const record = () =>
    new Proxy({}, {
      get: (_t, name) => (..._a: unknown[]) => {
        seen.push(String(name));
        return undefined;
      },
    });
  const local = localControl({
    controlapi: record() as ControlApi,
    networks: record() as NetworkControl,
    secrets: record() as SecretControl,
    updateSwarm: () => void seen.push('updateSwarm'),
  });
  assert.deepEqual(Object.keys(local).sort(), [...CONTROL_OPERATIONS].sort());
  for (const op of CONTROL_OPERATIONS) {
    await (local[op] as (...a: unknown[]) => unknown)(...ARGS);
    assert.equal(seen.at(-1), op);
  }
});

test('only the contract\'s operations are forwardable: not internal methods, not prototype names', () => {
  const ops: ControlOperation[] = ['createService', 'updateSwarm', 'listNodes', 'pruneNetworks', 'removeConfig'];
  for (const op of ops) assert.equal(isControlOperation(op), true, op);
  for (const name of ['createNode', 'updateCluster', 'liveTasksOnNode', 'constructor', '__proto__', 'toString', '', 42, null]) assert.equal(isControlOperation(name), false, String(name));
  assert.equal(CONTROL_OPERATIONS.length, 28);
});
