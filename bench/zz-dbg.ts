import { RaftTestCluster, nodeObj } from '../test/harness/raft-nodes';
import { RaftDiskStorage } from '../src/manager/consensus';
import { GrpcRaftTransport } from '../src/manager/consensus';
const stats: Record<string, number[]> = {};
const rec = (k: string, v: number) => (stats[k] ??= []).push(v);
const op = RaftDiskStorage.prototype.persist;
RaftDiskStorage.prototype.persist = async function (p) { const t0 = performance.now(); await op.call(this, p); rec(p.entries.length ? 'persist-entries' : 'persist-hs', performance.now() - t0); };
const pump = (GrpcRaftTransport.prototype as any).clientFor;
(GrpcRaftTransport.prototype as any).clientFor = function (p: any) { const c = pump.call(this, p); if (!c.__w) { c.__w = 1; const u = c.unary.bind(c); c.unary = async (...a: any[]) => { const t0 = performance.now(); try { return await u(...a); } finally { rec('rpc', performance.now() - t0); } }; } return c; };
(async () => {
  const cl = new RaftTestCluster({ tickMs: 100, electionTick: 10 });
  await cl.init();
  const a = await cl.bootstrap(); await cl.join(a); await cl.join(a);
  const l = await cl.waitLeader();
  for (const k of Object.keys(stats)) delete stats[k];
  const xs: number[] = [];
  for (let i = 0; i < 300; i++) { const t0 = performance.now(); await l.store.update((tx) => tx.create('node', nodeObj('x' + i))); xs.push(performance.now() - t0); }
  xs.sort((p, q) => p - q); console.log('3-node p50', xs[150].toFixed(2), 'p90', xs[270].toFixed(2));
  for (const [k, v] of Object.entries(stats)) { v.sort((p, q) => p - q); console.log(k, v.length, 'p50', v[v.length >> 1].toFixed(2), 'p90', v[Math.floor(v.length * 0.9)].toFixed(2)); }
  await cl.destroy(); process.exit(0);
})();
