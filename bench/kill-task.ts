// B4 helper for the process runtime (no engine to send POST /containers/{id}/kill to):
//   node dist/bench/kill-task.js <daemon socket> <container ID>
// finds the task whose ContainerStatus.ContainerID is the given one through the daemon's API and
// SIGKILLs its process, as `docker kill` does to a task container.
import { apiRequest } from '../test/harness/daemon';

interface TaskLike {
  Status?: { ContainerStatus?: { ContainerID?: string; PID?: number } };
}

async function main(): Promise<void> {
  const [sock, cid] = process.argv.slice(2);
  if (!sock || !cid) throw new Error('usage: kill-task <daemon socket> <container ID>');
  const r = await apiRequest<TaskLike[]>(sock, 'GET', '/v1.41/tasks');
  if (r.status !== 200) throw new Error(`GET /tasks: ${r.status}`);
  const t = r.body.find((x) => x.Status?.ContainerStatus?.ContainerID === cid);
  const pid = t?.Status?.ContainerStatus?.PID;
  if (!pid) throw new Error(`no task with container ${cid} and a PID`);
  process.kill(pid, 'SIGKILL');
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
