// `npm run bench`: every benchmark under bench/ that can run here, one after the other. A bench whose
// prerequisites are missing is skipped with the reason. Extra arguments go to every bench
// (e.g. `npm run bench -- --reps 1`); `--list` only shows what would run.
//   single-node     docker runtime beside real Swarm on two realswarm hosts of its own (as root; else on
//                   SHOAL_TEST_ENGINE, see scripts/ci-engine.sh, with Swarm's column n/a) and process runtime
//   multinode       B6b beside real Swarm on three realswarm hosts (as root; else Swarm's column n/a)
//   rolling-update  B3 through bench.py (docker runtime when SHOAL_TEST_ENGINE is set)
//   raft, failover, mesh-proxy (the routing mesh's proxy on loopback),
//   mesh (between network namespaces, as root; process-runtime daemons)
//   memory          the manager's RSS/USS idle, with 100 process tasks and after, beside node's own floor
//   session-memory  what one idle agent session costs the manager holding it, layer by layer
//   heartbeat-cost  the CPU of one heartbeat on both sides: a call, a message on a stream, one without answer
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { hostsUnavailableReason } from '../test/harness/hosts';
import { prerequisites } from './single-node';

interface Job {
  name: string;
  script: string;
  args: string[];
  /** Why it cannot run here, or undefined. */
  skip?: string;
}

/** The benches besides single-node, in the order they run. Other files in bench/ are helpers (kill-task, raft-node, mesh-load). */
const OTHER_BENCHES = ['rolling-update', 'raft', 'multinode', 'failover', 'mesh-proxy', 'mesh', 'metrics', 'scale', 'memory', 'session-memory', 'heartbeat-cost'];

function jobs(extra: string[]): Job[] {
  const list: Job[] = [];
  const single = path.join(__dirname, 'single-node.js');
  for (const runtime of ['docker', 'process'] as const) {
    list.push({ name: `single-node (${runtime} runtime)`, script: single, args: ['--runtime', runtime, ...extra], skip: prerequisites(runtime) });
  }
  // bench.py-based benches need what single-node needs on their default runtime
  const pyPrereq = prerequisites(process.env.SHOAL_TEST_ENGINE ? 'docker' : 'process');
  for (const name of OTHER_BENCHES) {
    const script = path.join(__dirname, `${name}.js`);
    const skip = !fs.existsSync(script) ? `bench/${name}.ts does not exist` : name === 'rolling-update' ? pyPrereq : name === 'mesh' ? hostsUnavailableReason() : undefined;
    list.push({ name, script, args: extra, skip });
  }
  return list;
}

function main(): void {
  const list = process.argv.includes('--list');
  const extra = process.argv.slice(2).filter((a) => a !== '--list');
  if (list) {
    for (const j of jobs(extra)) console.log(`${j.name}: ${j.skip ? `skip (${j.skip})` : `node ${path.relative(process.cwd(), j.script)} ${j.args.join(' ')}`}`);
    return;
  }
  const summary: string[] = [];
  let failed = 0;
  for (const j of jobs(extra)) {
    if (j.skip) {
      console.log(`\n### ${j.name}: skipped (${j.skip})`);
      summary.push(`${j.name}: skipped (${j.skip})`);
      continue;
    }
    console.log(`\n### ${j.name}`);
    const r = spawnSync(process.execPath, [j.script, ...j.args], { stdio: 'inherit' });
    const ok = r.status === 0;
    if (!ok) failed++;
    summary.push(`${j.name}: ${ok ? 'done' : `failed (${r.status ?? r.signal})`}`);
  }
  console.log('\n### summary\n' + summary.map((s) => `  ${s}`).join('\n'));
  process.exit(failed ? 1 : 0);
}

main();
