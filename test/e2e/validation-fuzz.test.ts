// Property test of the API edge (issue 9): malformed and out-of-range bodies for every write
// endpoint, generated from the Engine API shapes (src/api/validate/engine-schema.ts, itself generated
// from the swagger), sent to a real daemon (process runtime). For every request: a 4xx with a
// message, the daemon answers /_ping within 1 s, and the store is unchanged (services, nodes and
// the swarm keep their IDs and versions).
//
// In the normal suite it runs a fixed seed and a bounded count (about 10 s). A longer run by hand:
//   SHOAL_FUZZ_RUNS=5000 SHOAL_FUZZ_SEED=$RANDOM node --test dist/test/e2e/validation-fuzz.test.js
// A failure prints the seed and the shrunk counterexample; re-run with that seed to replay it.
//
// /swarm/leave takes no body and only a boolean `force` (any value is a boolean to dockerd), so it has
// nothing malformed to send; its neighbours' query parameters (filters, tail, since) are fuzzed instead.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TestDaemon, dockerAvailable, ping, waitFor } from '../harness/daemon';
import { call } from '../../src/api/testing/http';
import { ENGINE_SCHEMA, type BodyName } from '../../src/api/validate/engine-schema';
import { MAX_REPLICAS } from '../../src/types';

const skip = dockerAvailable() ? false : 'the docker CLI is not installed';
const RUNS = Number(process.env.SHOAL_FUZZ_RUNS ?? 120);
const SEED = Number(process.env.SHOAL_FUZZ_SEED ?? 20261202);

type Schema = Record<string, unknown>;
type Seg = string | number;
interface Leaf {
  path: Seg[];
  type: string;
  goType: string;
}

const defs = ENGINE_SCHEMA.definitions as unknown as Record<string, Schema>;
const deref = (s: Schema): Schema => (typeof s.$ref === 'string' ? defs[s.$ref.replace('#/definitions/', '')] : s);
const mainType = (s: Schema): string | undefined => (Array.isArray(s.type) ? (s.type as string[]).find((t) => t !== 'null') : (s.type as string | undefined));

/** Every typed position of a body, down to `maxDepth` levels (arrays at index 0, maps at key "k"). */
function leaves(s0: Schema, path: Seg[] = [], maxDepth = 9): Leaf[] {
  const s = deref(s0);
  const type = mainType(s);
  if (!type) return [];
  const out: Leaf[] = [];
  if (path.length > 0) out.push({ path, type: type === 'object' && !s.properties && s.additionalProperties ? 'map' : type, goType: String(s['x-go-type'] ?? '') });
  if (path.length >= maxDepth) return out;
  if (type === 'object') {
    for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, Schema>)) out.push(...leaves(v, [...path, k], maxDepth));
    if (s.additionalProperties && typeof s.additionalProperties === 'object') out.push(...leaves(s.additionalProperties as Schema, [...path, 'k'], maxDepth));
  } else if (type === 'array' && s.items) out.push(...leaves(s.items as Schema, [...path, 0], maxDepth));
  return out;
}

const BODY_LEAVES: Record<BodyName, Leaf[]> = Object.fromEntries(
  (Object.keys(ENGINE_SCHEMA.bodies) as BodyName[]).map((n) => [n, leaves((ENGINE_SCHEMA.bodies as unknown as Record<string, Schema>)[n])]),
) as Record<BodyName, Leaf[]>;

const UNSIGNED = new Set(['uint64', 'uint32', 'uint16']);

/** A JSON value Go's decoder refuses for a field of this type (never null: null is always accepted). */
function wrongValue(leaf: Leaf): fc.Arbitrary<unknown> {
  const str = fc.string({ maxLength: 8 });
  const obj = fc.dictionary(fc.constantFrom('a', 'B', 'x y'), fc.integer(), { minKeys: 1, maxKeys: 2 });
  const arr = fc.array(fc.integer(), { minLength: 0, maxLength: 2 });
  switch (leaf.type) {
    case 'string':
      return fc.oneof(fc.integer(), fc.boolean(), obj, arr);
    case 'boolean':
      return fc.oneof(str, fc.integer(), obj, arr);
    case 'number':
      return fc.oneof(str, fc.boolean(), obj, arr);
    case 'integer': {
      const outOfRange = UNSIGNED.has(leaf.goType)
        ? fc.integer({ min: -1e9, max: -1 })
        : fc.oneof(fc.constantFrom(1e19, -1e19, 1e300, -1e300), fc.double({ min: 1e19, max: 1e300, noNaN: true }));
      const fraction = fc.integer({ min: -1000, max: 1000 }).map((n) => n + 0.5);
      return fc.oneof(str, fc.boolean(), obj, arr, outOfRange, fraction);
    }
    case 'array':
      return fc.oneof(str, fc.integer(), obj, fc.boolean());
    case 'map':
      return fc.oneof(str, fc.integer(), fc.array(fc.integer(), { minLength: 1, maxLength: 2 }), fc.boolean());
    default:
      return fc.oneof(str, fc.integer(), fc.array(fc.integer(), { minLength: 0, maxLength: 2 }), fc.boolean());
  }
}

/** `base` with `value` put at `path`, creating what is missing on the way. */
function setAt(base: unknown, path: Seg[], value: unknown): unknown {
  const root = structuredClone(base) as Record<string | number, unknown>;
  let cur = root;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i];
    const nextIsIndex = typeof path[i + 1] === 'number';
    const have = cur[k];
    if (nextIsIndex ? !Array.isArray(have) : have === null || typeof have !== 'object' || Array.isArray(have)) cur[k] = nextIsIndex ? [] : {};
    if (nextIsIndex && (cur[k] as unknown[]).length === 0) (cur[k] as unknown[]).push({});
    cur = cur[k] as Record<string | number, unknown>;
  }
  cur[path[path.length - 1]] = value;
  return root;
}

interface Target {
  name: BodyName;
  path: () => string;
  base: () => unknown;
}

let d: TestDaemon;
let targets: Target[] = [];
const state = { service: { id: '', version: 0, spec: {} as unknown }, node: { id: '', version: 0, spec: {} as unknown }, swarm: { version: 0, spec: {} as unknown } };

async function refresh(): Promise<void> {
  const svc = (await d.api<{ ID: string; Version: { Index: number }; Spec: unknown }>('GET', '/v1.47/services/fuzz-keep')).body;
  state.service = { id: svc.ID, version: svc.Version.Index, spec: svc.Spec };
  const node = (await d.api<{ ID: string; Version: { Index: number }; Spec: unknown }[]>('GET', '/v1.47/nodes')).body[0];
  state.node = { id: node.ID, version: node.Version.Index, spec: node.Spec };
  const swarm = (await d.api<{ Version: { Index: number }; Spec: unknown }>('GET', '/v1.47/swarm')).body;
  state.swarm = { version: swarm.Version.Index, spec: swarm.Spec };
}

async function storeState(): Promise<string> {
  const services = (await d.api<{ ID: string; Version: { Index: number } }[]>('GET', '/v1.47/services')).body;
  const nodes = (await d.api<{ ID: string; Spec: unknown }[]>('GET', '/v1.47/nodes')).body;
  const swarm = (await d.api<{ Version: { Index: number } }>('GET', '/v1.47/swarm')).body;
  return JSON.stringify([services.map((s) => [s.ID, s.Version.Index]), nodes.map((n) => [n.ID, n.Spec]), swarm.Version.Index]);
}

const validService = { Name: 'fuzz-new', TaskTemplate: { ContainerSpec: { Image: 'busybox', Args: ['sleep', '1000'] } }, Mode: { Replicated: { Replicas: 1 } } };

/** Values that have the right JSON type but that Docker refuses (semantic checks), per body path. */
const semantic: fc.Arbitrary<{ name: BodyName; path: Seg[]; value: unknown }> = fc.oneof(
  fc.integer({ min: MAX_REPLICAS + 1, max: Number.MAX_SAFE_INTEGER }).map((v) => ({ name: 'ServiceSpec' as const, path: ['Mode', 'Replicated', 'Replicas'], value: v })),
  fc.constantFrom('node.labels.x===y', 'node.labels.x!==y', 'node.hostname==fz3=', 'a==b', '9x==y', 'node.role', 'node.id==<x>', 'node.labels.a==b;c').map((c) => ({
    name: 'ServiceSpec' as const,
    path: ['TaskTemplate', 'Placement', 'Constraints'],
    value: [c],
  })),
  fc.constantFrom('wat', '', 'BINDX', 'image').map((t) => ({ name: 'ServiceSpec' as const, path: ['TaskTemplate', 'ContainerSpec', 'Mounts'], value: [{ Type: t, Source: '/tmp', Target: '/x' }] })),
  fc.constantFrom('rel', './x', 'a/b', '~/x').map((s) => ({ name: 'ServiceSpec' as const, path: ['TaskTemplate', 'ContainerSpec', 'Mounts'], value: [{ Type: 'bind', Source: s, Target: '/x' }] })),
  fc.constantFrom('-bad', 'has space', 'x'.repeat(64), 'a..b!', 'ünï').map((n) => ({ name: 'ServiceSpec' as const, path: ['Name'], value: n })),
  fc.integer({ min: -1e12, max: -1 }).map((v) => ({ name: 'ServiceSpec' as const, path: ['UpdateConfig', 'Delay'], value: v })),
  fc.integer({ min: 1, max: 999_999 }).map((v) => ({ name: 'ServiceSpec' as const, path: ['TaskTemplate', 'Resources', 'Limits', 'NanoCPUs'], value: v })),
  fc.constantFrom('boss', '', 'MANAGERS').map((r) => ({ name: 'NodeSpec' as const, path: ['Role'], value: r })),
  fc.constantFrom('sleep', 'ACTIVE!', '').map((a) => ({ name: 'NodeSpec' as const, path: ['Availability'], value: a })),
);

/** Bodies that are not JSON objects at all. */
const rawBodies: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constantFrom('', '[]', '"x"', '1', 'null', 'true', '{', '{"Name":', '{"a":1}{', '{"a":1,}').map((s) => Buffer.from(s)),
  fc.integer({ min: 65, max: 5000 }).map((n) => Buffer.from('['.repeat(n) + ']'.repeat(n))),
  fc.integer({ min: 65, max: 5000 }).map((n) => Buffer.from('{"Name":' + '{"a":'.repeat(n) + '1' + '}'.repeat(n) + '}')),
  fc.uint8Array({ minLength: 1, maxLength: 6 }).map((b) => Buffer.concat([Buffer.from('{"Name":"'), Buffer.from([0xff, ...b]), Buffer.from('"}')])),
);

describe('API edge fuzz (issue 9)', { skip }, () => {
  before(async () => {
    d = new TestDaemon({ runtime: 'process' });
    await d.start();
    d.dockerOk(['swarm', 'init']);
    d.dockerOk(['service', 'create', '-d', '--name', 'fuzz-keep', 'busybox', 'sleep', '1000']);
    await waitFor(async () => (await d.runningTasks('fuzz-keep')).length === 1, 30_000, 'fuzz-keep runs');
    await refresh();
    targets = [
      { name: 'ServiceSpec', path: () => '/v1.47/services/create', base: () => validService },
      { name: 'ServiceSpec', path: () => `/v1.47/services/${state.service.id}/update?version=${state.service.version}`, base: () => state.service.spec },
      { name: 'NodeSpec', path: () => `/v1.47/nodes/${state.node.id}/update?version=${state.node.version}`, base: () => state.node.spec },
      { name: 'SwarmSpec', path: () => `/v1.47/swarm/update?version=${state.swarm.version}`, base: () => state.swarm.spec },
      { name: 'SwarmInitRequest', path: () => '/v1.47/swarm/init', base: () => ({ ListenAddr: '127.0.0.1:0', Spec: state.swarm.spec }) },
      { name: 'SwarmJoinRequest', path: () => '/v1.47/swarm/join', base: () => ({ RemoteAddrs: ['127.0.0.1:1'], JoinToken: 'SWMTKN-1-x' }) },
    ];
  });
  after(async () => {
    await d?.teardown();
  });

  async function expectRefused(path: string, body: Buffer | string | undefined, method = 'POST'): Promise<void> {
    const before = await storeState();
    const r = await call(d.sock, method, path, body);
    const text = r.body.toString();
    assert.ok(r.status >= 400 && r.status < 500, `${method} ${path} ${String(body).slice(0, 300)} → ${r.status} ${text}`);
    const msg = (JSON.parse(text) as { message?: string }).message;
    assert.ok(typeof msg === 'string' && msg.length > 0, `no message: ${text}`);
    // ping() gives up after 1 s: the bound the property asks for.
    assert.ok(await ping(d.sock), 'daemon answers /_ping within 1 s');
    assert.equal(await storeState(), before, `store changed by ${method} ${path}`);
  }

  test('a wrong JSON type or out-of-range number anywhere in a body answers 4xx', async () => {
    const arb = fc
      .integer({ min: 0, max: 5 })
      .chain((ti) => fc.integer({ min: 0, max: BODY_LEAVES[targetName(ti)].length - 1 }).chain((li) => fc.tuple(fc.constant(ti), fc.constant(li), wrongValue(BODY_LEAVES[targetName(ti)][li]))));
    await fc.assert(
      fc.asyncProperty(arb, async ([ti, li, value]) => {
        const t = targets[ti];
        const leaf = BODY_LEAVES[t.name][li];
        await expectRefused(t.path(), JSON.stringify(setAt(t.base(), leaf.path, value)));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test('values of the right type that Docker refuses answer 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(semantic, fc.boolean(), async (s, update) => {
        const t = s.name === 'NodeSpec' ? targets[2] : update ? targets[1] : targets[0];
        await expectRefused(t.path(), JSON.stringify(setAt(t.base(), s.path, s.value)));
      }),
      { seed: SEED, numRuns: Math.max(20, Math.floor(RUNS / 3)) },
    );
  });

  test('bodies that are not JSON objects answer 4xx on every write endpoint', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 5 }), rawBodies, async (ti, body) => {
        await expectRefused(targets[ti].path(), body);
      }),
      { seed: SEED, numRuns: Math.max(20, Math.floor(RUNS / 3)) },
    );
  });

  test('bad filters, tail and since on the list and log endpoints answer 4xx', async () => {
    const key = fc.string({ minLength: 1, maxLength: 10 }).filter((k) => !['id', 'name', 'label', 'mode', 'runtime', 'service', 'node', 'desired-state', '_up-to-date', 'role', 'membership', 'node.label'].includes(k));
    const q = fc.oneof(
      fc.tuple(fc.constantFrom('services', 'tasks', 'nodes'), key, fc.string({ maxLength: 6 })).map(([ep, k, v]) => `/v1.47/${ep}?filters=${encodeURIComponent(JSON.stringify({ [k]: { [v]: true } }))}`),
      fc.string({ minLength: 1, maxLength: 8 }).filter((s) => { try { JSON.parse(s); return false; } catch { return true; } }).map((s) => `/v1.47/tasks?filters=${encodeURIComponent(s)}`),
      fc.constantFrom('bogus', 'runing', 'RUN NING').map((v) => `/v1.47/tasks?filters=${encodeURIComponent(JSON.stringify({ 'desired-state': [v] }))}`),
      fc.oneof(fc.integer({ min: -1e6, max: -1 }).map(String), fc.constantFrom('x', '1.5', '1e3', ' 2')).map((t) => `/v1.47/services/fuzz-keep/logs?stdout=1&tail=${encodeURIComponent(t)}`),
      fc.constantFrom('yesterday', '1.2.3', 'abc').map((s) => `/v1.47/services/fuzz-keep/logs?stdout=1&since=${encodeURIComponent(s)}`),
    );
    await fc.assert(
      fc.asyncProperty(q, async (path) => {
        await expectRefused(path, undefined, 'GET');
      }),
      { seed: SEED, numRuns: Math.max(20, Math.floor(RUNS / 3)) },
    );
  });
});

function targetName(i: number): BodyName {
  return (['ServiceSpec', 'ServiceSpec', 'NodeSpec', 'SwarmSpec', 'SwarmInitRequest', 'SwarmJoinRequest'] as const)[i];
}
