import { singleNodeFlows } from './flows';

// The process runtime: tasks are child processes of the host; the image is recorded only.
singleNodeFlows({
  runtime: 'process',
  image: 'busybox',
  async killTask(_d, _cid, pid) {
    if (!pid) throw new Error('process task without PID');
    process.kill(pid, 'SIGKILL');
  },
});
