// The rounds of one node's assignment stream after its complete set: what wakes the stream (its tasks' changes,
// a new network view, a log subscription) and the message each round makes. The dispatcher's generator waits,
// holds for the batch interval and yields; everything a round reads is taken here, in calls that return.
import type { AssignmentsMessage, LogSubscriptionMessage, NodeNetworkView } from '../../types';
import type { Watch } from '../../store';
import type { AssignmentSet, DependencyLookup, TaskChange } from './core/assignments';
import type { LogSubscriptionFeed } from './logbroker';

/** A node's network view as the ingress feed numbers it (IngressFeed.current). */
export interface NumberedView {
  version: number;
  view: NodeNetworkView;
  text: string;
}

/** What the rounds read from the dispatcher's network views (IngressFeed). */
export interface NetworkViews {
  readonly currentVersion: number;
  current(nodeId: string): NumberedView;
  subscribe(listener: () => void): () => void;
}

export interface AssignmentRoundsDeps {
  nodeId: string;
  /** The node's task events since the complete set was read (a watch keyed by node). */
  watch: Watch;
  set: AssignmentSet;
  /** The store's index when the complete set was read: events up to it are in the set already. */
  viewIndex: number;
  dependencies: DependencyLookup;
  views: NetworkViews;
  /** The view the complete set carried. */
  sent: NumberedView;
  /** The node's log subscriptions, if this stream carries them (LogBroker.feed). */
  logs?: LogSubscriptionFeed;
}

/**
 * Why the rounds are shaped so (node 20): a suspended generator or async function keeps the dead locals of its
 * last round until the next round overwrites them, and `Promise.race` leaves a reaction on every promise it joins
 * that keeps the race's result until that promise settles. So what a wait resolves with names only what woke it
 * (the watch's `ready`, never its events), the log feed is read once at a time and wakes the waiting round instead
 * of joining each race, and each message is made in a call that returns (dispatcher.test.ts, "a round keeps
 * nothing of the tasks it saw" and "its rounds leave nothing behind"; performance.md, eleventh stop).
 */
export class AssignmentRounds {
  private watchReady: Promise<'watch' | 'closed'> | null = null;
  private logs: LogSubscriptionFeed | undefined;
  private readingLog = false;
  private logsWaiting: LogSubscriptionMessage[] = [];
  private netMoved: (() => void) | null = null;
  private logCame: (() => void) | null = null;
  private net: NumberedView;
  private readonly unsubscribeNet: () => void;

  constructor(private readonly d: AssignmentRoundsDeps) {
    this.logs = d.logs;
    this.net = d.sent;
    this.unsubscribeNet = d.views.subscribe(() => this.netMoved?.());
  }

  /** Resolves once a round is due, or with 'closed' once the watch closed (the stream is stopping). */
  async due(): Promise<'round' | 'closed'> {
    this.watchReady ??= this.d.watch.ready().then((ok) => (ok ? ('watch' as const) : ('closed' as const)));
    if (this.logs && !this.readingLog) this.readLog(this.logs);
    // a subscription read while the last message was held or written goes out without another wait
    if (this.logsWaiting.length > 0) return 'round';
    const netChanged =
      this.d.views.currentVersion !== this.net.version ? ('net' as const) : new Promise<'net'>((resolve) => (this.netMoved = () => resolve('net')));
    const logsChanged = this.logs ? new Promise<'logs'>((resolve) => (this.logCame = () => resolve('logs'))) : undefined;
    const first = await Promise.race(logsChanged ? [this.watchReady, netChanged, logsChanged] : [this.watchReady, netChanged]);
    this.logCame = null;
    this.netMoved = null;
    if (first === 'closed') return 'closed';
    if (first === 'watch') this.watchReady = null;
    return 'round';
  }

  /** The round's message: the tasks' changes, the subscriptions read and a new view of the node's network, if any. */
  message(): AssignmentsMessage | null {
    const changes: TaskChange[] = this.d.watch
      .drain()
      .filter((e) => e.index > this.d.viewIndex)
      .map((e) => ({ action: e.action, task: e.object as TaskChange['task'] }));
    let msg = this.d.set.apply(changes, this.d.dependencies);
    if (this.logs) this.logsWaiting.push(...this.logs.drain());
    if (this.logsWaiting.length > 0) {
      msg = { ...(msg ?? emptyMessage()), logSubscriptions: this.logsWaiting };
      this.logsWaiting = [];
    }
    if (this.d.views.currentVersion !== this.net.version) {
      const cur = this.d.views.current(this.d.nodeId); // built only then: most rounds carry task changes alone
      // another node's change moves the version without changing this node's view
      if (cur.text !== this.net.text) msg = { ...(msg ?? emptyMessage()), network: cur.view, networkVersion: cur.version };
      this.net = cur;
    }
    return msg;
  }

  close(): void {
    this.unsubscribeNet();
    this.logs?.close();
    this.logs = undefined;
  }

  /** One read of the feed at a time, kept across rounds; it wakes the round that waits. */
  private readLog(feed: LogSubscriptionFeed): void {
    this.readingLog = true;
    void feed.next().then((r) => {
      this.readingLog = false;
      if (!r.done) this.logsWaiting.push(r.value);
      else if (this.logs === feed) this.logs = undefined; // ended: nothing more to wait for
      this.logCame?.();
    });
  }
}

const emptyMessage = (): AssignmentsMessage => ({ type: 'incremental', updateTasks: [], removeTasks: [] });
