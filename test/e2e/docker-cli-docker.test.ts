import { spawnSync } from 'node:child_process';
import { engineTestOptions, testEngine } from '../harness/engine';
import { singleNodeFlows } from './flows';

// The docker runtime: tasks are containers of a real Docker Engine (started by .ci/run).
const engine = testEngine();
singleNodeFlows(
  {
    runtime: 'docker',
    image: engine?.image ?? 'shoal-busybox:test',
    engine: engine?.host,
    async killTask(_d, cid) {
      const r = spawnSync('docker', ['-H', engine!.host, 'kill', cid], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`docker kill failed: ${r.stderr}`);
    },
  },
  engineTestOptions().skip,
);
