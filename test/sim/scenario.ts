// Golden scenarios: a small line-oriented script driving a scripted (lossless, round-by-round)
// cluster, with the same driver and invariant checker as the randomized simulation.
//
//   nodes 1 2 3                       initial voters
//   option preVote=true checkQuorum=false electionTick=10 ...   (before start)
//   log <id> term=T [vote=V] [commit=C] <entry terms...>         hand-built log (before start)
//   bootstrap                         start every node bootstrapping the cluster (else: start from the logs)
//   campaign <id> | tick <n> <ids…|all> | deliver [rounds] | settle
//   propose <id> <text> | propose-fail <id> <text> | conf <id> add|remove <node> | conf-fail <id> add|remove <node>
//   transfer <leader> <to> | read <id> <ctx> | compact <id> | newnode <id>
//   partition 1 2 | 3 | isolate <id> | heal | crash <id> | restart <id>
//   expect leader <id> | role <id> <role> | term <id> <op> <n> | commit <id> <op> <n> | applied <id> <op> <n>
//   expect log <id> <terms...> | logs-equal <ids...> | voters <id> <ids...> | first-index <id> <op> <n>
//   expect read <id> <ctx> <op> <n> | no-read <id> <ctx> | snapshot-installed <id> | same-state <ids...>
// `tick n ids` ticks the nodes once, then settles; repeated n times.

import { ShoalError } from '../../src/lib/errors';
import { MemoryStorage, type Entry } from '../../src/raft';
import { Cluster, defaultClusterOptions, type ClusterOptions } from './cluster';

export class ScenarioError extends Error {}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = (s: string): string => Buffer.from(enc(s)).toString('hex');

function cmp(op: string, a: number, b: number): boolean {
  switch (op) {
    case '=':
      return a === b;
    case '>=':
      return a >= b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '<':
      return a < b;
    default:
      throw new ScenarioError(`unknown comparison ${op}`);
  }
}

export function runScenario(text: string, name = 'scenario'): Cluster {
  const opts: ClusterOptions = { ...defaultClusterOptions(), scripted: true, maxInflightMsgs: 256, maxEntriesPerMsg: 64 };
  let voters: number[] = [];
  const logs = new Map<number, MemoryStorage>();
  let bootstrap = false;
  let cl: Cluster | undefined;

  const ensure = (): Cluster => {
    if (cl) return cl;
    const c = new Cluster(opts, 1, voters);
    cl = c;
    for (const id of voters) {
      if (bootstrap) c.createNode(id, { peers: voters });
      else c.createNode(id, { storage: logs.get(id) ?? new MemoryStorage({ voters }) });
    }
    return c;
  };
  const node = (c: Cluster, s: string) => c.mustNode(Number(s));
  const raft = (c: Cluster, s: string) => {
    const r = node(c, s).rn?.raft;
    if (!r) throw new ScenarioError(`node ${s} is down`);
    return r;
  };
  const settle = (c: Cluster): void => {
    for (let i = 0; c.net.size() > 0; i++) {
      if (i > 10000) throw new ScenarioError('settle: messages never stop');
      c.deliverRound();
    }
  };
  const expectDropped = (fn: () => void, what: string): void => {
    try {
      fn();
    } catch (e) {
      if (e instanceof ShoalError) return;
      throw e;
    }
    throw new ScenarioError(`${what}: expected the proposal to be refused`);
  };

  const lines = text.split('\n');
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln].replace(/#.*/, '').trim();
    if (!line) continue;
    const [cmd, ...a] = line.split(/\s+/);
    const where = `${name}:${ln + 1}: ${line}`;
    try {
      switch (cmd) {
        case 'nodes':
          voters = a.map(Number);
          break;
        case 'option':
          for (const kv of a) {
            const [k, v] = kv.split('=');
            if (!(k in opts)) throw new ScenarioError(`unknown option ${k}`);
            (opts as unknown as Record<string, unknown>)[k] = v === 'true' ? true : v === 'false' ? false : Number(v);
          }
          break;
        case 'log': {
          const id = Number(a[0]);
          const kv = new Map<string, number>();
          const terms: number[] = [];
          for (const x of a.slice(1)) {
            if (x.includes('=')) kv.set(x.split('=')[0], Number(x.split('=')[1]));
            else terms.push(Number(x));
          }
          const st = new MemoryStorage({ voters });
          const ents: Entry[] = terms.map((t, i) => ({ term: t, index: i + 1, type: 'normal', data: enc(`i${i + 1}t${t}`) }));
          st.append(ents);
          st.setHardState({ term: kv.get('term') ?? 0, vote: kv.get('vote') ?? 0, commit: kv.get('commit') ?? 0 });
          logs.set(id, st);
          break;
        }
        case 'bootstrap':
          bootstrap = true;
          ensure();
          break;
        case 'start':
          ensure();
          break;
        case 'campaign': {
          const c = ensure();
          c.call(Number(a[0]), (rn) => rn.campaign());
          break;
        }
        case 'tick': {
          const c = ensure();
          const n = Number(a[0]);
          const ids = a[1] === 'all' ? null : a.slice(1).map(Number);
          for (let i = 0; i < n; i++) {
            for (const id of ids ?? c.liveIds()) c.tick(id);
            settle(c);
          }
          break;
        }
        case 'deliver': {
          const c = ensure();
          for (let i = 0; i < Number(a[0] ?? 1); i++) c.deliverRound();
          break;
        }
        case 'settle':
          settle(ensure());
          break;
        case 'propose': {
          const c = ensure();
          const idx = c.call(Number(a[0]), (rn) => rn.propose(enc(a.slice(1).join(' '))));
          if (idx === undefined) throw new ScenarioError('node down');
          break;
        }
        case 'propose-fail': {
          const c = ensure();
          expectDropped(() => c.call(Number(a[0]), (rn) => rn.propose(enc(a.slice(1).join(' ')))), where);
          break;
        }
        case 'conf':
        case 'conf-fail': {
          const c = ensure();
          const type = a[1] === 'add' ? 'addNode' : a[1] === 'remove' ? 'removeNode' : undefined;
          if (!type) throw new ScenarioError(`conf: add or remove, not ${a[1]}`);
          const fn = () => c.call(Number(a[0]), (rn) => rn.proposeConfChange({ type, nodeId: Number(a[2]) }));
          if (cmd === 'conf') fn();
          else expectDropped(fn, where);
          break;
        }
        case 'transfer': {
          const c = ensure();
          c.call(Number(a[0]), (rn) => rn.transferLeadership(Number(a[1])));
          break;
        }
        case 'read': {
          const c = ensure();
          node(c, a[0]).reads.set(hex(a[1]), c.checker.maxCommitted);
          c.call(Number(a[0]), (rn) => rn.readIndex(enc(a[1])));
          break;
        }
        case 'compact':
          ensure().compact(Number(a[0]));
          break;
        case 'newnode':
          ensure().createNode(Number(a[0]));
          break;
        case 'partition': {
          const groups: number[][] = [[]];
          for (const x of a) {
            if (x === '|') groups.push([]);
            else groups[groups.length - 1].push(Number(x));
          }
          ensure().net.partition(groups);
          break;
        }
        case 'isolate': {
          const c = ensure();
          const id = Number(a[0]);
          c.net.partition([[id], [...c.nodes.keys()].filter((x) => x !== id)]);
          break;
        }
        case 'heal':
          ensure().net.heal();
          break;
        case 'crash':
          ensure().crash(Number(a[0]));
          break;
        case 'restart':
          ensure().restart(Number(a[0]));
          break;
        case 'expect':
          expect(ensure(), a);
          break;
        default:
          throw new ScenarioError(`unknown command ${cmd}`);
      }
    } catch (e) {
      const err = e as Error;
      throw new ScenarioError(`${where}\n  ${err.message}\n  trace:\n    ${cl ? cl.trace.slice(-30).join('\n    ') : ''}`);
    }
  }
  return ensure();

  function expect(c: Cluster, a: string[]): void {
    const [what, id] = a;
    const fail = (msg: string): never => {
      throw new ScenarioError(`expect ${a.join(' ')}: ${msg}`);
    };
    switch (what) {
      case 'leader': {
        const r = raft(c, id);
        if (r.role !== 'leader') fail(`node ${id} is ${r.role} (term ${r.term}, leader ${r.lead})`);
        return;
      }
      case 'role': {
        const r = raft(c, id);
        if (r.role !== a[2]) fail(`node ${id} is ${r.role}`);
        return;
      }
      case 'term':
      case 'commit':
      case 'applied':
      case 'first-index': {
        const r = raft(c, id);
        const n = node(c, id);
        const got = what === 'term' ? r.term : what === 'commit' ? r.log.committed : what === 'applied' ? n.applied : r.log.firstIndex();
        if (!cmp(a[2], got, Number(a[3]))) fail(`got ${got}`);
        return;
      }
      case 'log': {
        const r = raft(c, id);
        const got: number[] = [];
        for (let i = r.log.firstIndex(); i <= r.log.lastIndex(); i++) got.push(r.log.term(i));
        if (got.join(' ') !== a.slice(2).join(' ')) fail(`got ${got.join(' ')}`);
        return;
      }
      case 'logs-equal': {
        const ids = a.slice(1);
        const dump = (s: string): string => {
          const r = raft(c, s);
          const out: string[] = [];
          for (let i = r.log.firstIndex(); i <= r.log.lastIndex(); i++) out.push(`${i}:${r.log.term(i)}`);
          return out.join(' ');
        };
        const first = dump(ids[0]);
        for (const s of ids.slice(1)) if (dump(s) !== first) fail(`node ${s} has ${dump(s)}, node ${ids[0]} has ${first}`);
        return;
      }
      case 'voters': {
        const got = raft(c, id).confState().voters.join(' ');
        const want = a.slice(2).map(Number).sort((x, y) => x - y).join(' ');
        if (got !== want) fail(`got ${got}`);
        return;
      }
      case 'read':
      case 'no-read': {
        const n = node(c, id);
        const r = n.completedReads.find((x) => x.ctx === hex(a[2]));
        if (what === 'no-read') {
          if (r) fail(`read answered at ${r.index}`);
          return;
        }
        if (!r) fail('read not answered');
        else if (!cmp(a[3], r.index, Number(a[4]))) fail(`read index ${r.index}`);
        return;
      }
      case 'snapshot-installed':
        if (!c.trace.some((l) => l.includes(`snapshot-installed ${id} `))) fail('no snapshot installed');
        return;
      case 'same-state': {
        const ids = a.slice(1).map((s) => node(c, s));
        for (const n of ids) {
          if (n.applied !== ids[0].applied || n.hash !== ids[0].hash) fail(`node ${n.id} applied ${n.applied} (hash ${n.hash}), node ${ids[0].id} applied ${ids[0].applied} (hash ${ids[0].hash})`);
        }
        return;
      }
      default:
        fail('unknown expectation');
    }
  }
}
