import { updateFlows } from './updates';

// Issue 5 flows on the process runtime: tasks are child processes; the image is recorded only, so the
// "failing image" is a command that exits non-zero.
updateFlows({
  runtime: 'process',
  image: 'busybox:latest',
  image2: 'busybox:v2',
  failing: ['--args', "sh -c 'exit 3'"],
  failingErr: /^task: non-zero exit \(3\)$/,
  shareDir: () => [],
});
