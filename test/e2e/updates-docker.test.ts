import { spawnSync } from 'node:child_process';
import { engineTestOptions, testEngine } from '../harness/engine';
import { updateFlows } from './updates';

// Issue 5 flows on the docker runtime: tasks are containers of a real Docker Engine (started by .ci/run).
// The "new version" is a second tag of the test image; the failing image is one the engine lacks
// (prepare fails: REJECTED "No such image").
const engine = testEngine();
const image = engine?.image ?? 'shoal-busybox:test';
const image2 = `${image.split(':')[0]}:v2`;
if (engine) {
  const r = spawnSync('docker', ['-H', engine.host, 'tag', image, image2], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`docker tag ${image} ${image2} failed: ${r.stderr}`);
}
updateFlows(
  {
    runtime: 'docker',
    image,
    image2,
    engine: engine?.host,
    failing: ['--image', 'shoal-nosuch:missing'],
    failingErr: /No such image: shoal-nosuch:missing/,
    shareDir: (dir) => ['--mount', `type=bind,source=${dir},target=${dir}`],
  },
  engineTestOptions().skip,
);
