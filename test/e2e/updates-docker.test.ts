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
    imageWithHealthcheck(dir) {
      // the test image plus a HEALTHCHECK (docker commit --change: no builder needed)
      const tag = `${image.split(':')[0]}:hc`;
      const e = engine!.host;
      const run = (args: string[]) => {
        const r = spawnSync('docker', ['-H', e, ...args], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`docker ${args.join(' ')} failed: ${r.stderr}`);
      };
      spawnSync('docker', ['-H', e, 'rm', '-f', 'shoal-hc-build'], { encoding: 'utf8' });
      run(['create', '--name', 'shoal-hc-build', image, 'true']);
      run(['commit', '--change', `HEALTHCHECK --interval=200ms --timeout=2s --retries=2 CMD test -f ${dir}/healthy`, 'shoal-hc-build', tag]);
      run(['rm', 'shoal-hc-build']);
      return tag;
    },
  },
  engineTestOptions().skip,
);
