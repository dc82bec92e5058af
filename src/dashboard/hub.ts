// The dashboard's live view: one copy of the cluster's rows per daemon, read again through the
// backend when the store says something changed (never on a timer), and handed to every open page as
// a patch. At most one read runs at a time; changes that arrive during it cause exactly one more.
import type { ClusterBackend } from '../api/backend';
import { messageOf } from '../api/errors';
import { buildView, diffView, EMPTY_VIEW, failedView, sseFrame, type DashboardView } from './core/view';

/** The backend calls the view reads (the Engine API's own, typed). */
export type ViewBackend = Pick<ClusterBackend, 'listNodes' | 'listServices' | 'listTasks'>;

/** "Something the dashboard shows changed": nodes, services or tasks in the manager's store. */
export interface ClusterChanges {
  subscribe(onChange: () => void): () => void;
}

export class ViewHub {
  private view: DashboardView = EMPTY_VIEW;
  /** The view matches the store as of the last change heard. */
  private fresh = false;
  private dirty = false;
  private reading: Promise<void> | undefined;
  private readonly pages = new Set<(frame: string) => void>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly backend: ViewBackend,
    changes: ClusterChanges,
  ) {
    this.unsubscribe = changes.subscribe(() => this.changed());
  }

  get pageCount(): number {
    return this.pages.size;
  }

  /** The view as of now (read first when a change was heard since the last read). */
  async current(): Promise<DashboardView> {
    // a read under way may have started before the last change: let it (and the one more it owes) finish
    if (this.reading) await this.reading;
    if (!this.fresh) await this.read();
    return this.view;
  }

  /**
   * A page joins: it is sent the whole view, then a patch after every change. Returns its leave
   * function. The view frame and the patches after it come from the same copy, so they compose.
   */
  async join(send: (frame: string) => void): Promise<() => void> {
    const view = await this.current();
    send(sseFrame('view', view));
    this.pages.add(send);
    return () => this.pages.delete(send);
  }

  close(): void {
    this.unsubscribe();
    this.pages.clear();
  }

  private changed(): void {
    this.fresh = false;
    // nobody watching: the next page to join reads it
    if (this.pages.size > 0) void this.read();
  }

  private read(): Promise<void> {
    if (this.reading) {
      this.dirty = true;
      return this.reading;
    }
    this.reading = (async () => {
      try {
        do {
          this.dirty = false;
          this.fresh = true;
          await this.readOnce();
        } while (this.dirty);
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  private async readOnce(): Promise<void> {
    let next: DashboardView;
    try {
      const [nodes, services, tasks] = await Promise.all([this.backend.listNodes({}), this.backend.listServices({}, true), this.backend.listTasks({})]);
      next = buildView({ nodes, services, tasks });
    } catch (err) {
      // not a manager (yet), no leader: the page says why and keeps the last rows
      next = failedView(this.view, messageOf(err));
      this.fresh = false;
    }
    const patch = diffView(this.view, next);
    this.view = next;
    if (!patch) return;
    const frame = sseFrame('patch', patch);
    for (const send of this.pages) send(frame);
  }
}
