// Keeps this node's TLS identity where the cluster's CA wants it (CATarget): the trust root it
// should hold (old + new root during a rotation, the new one after), the key that should have
// signed its certificate (renew otherwise: root rotation) and its role (renew otherwise: the
// certificate's OU follows promotion/demotion). Workers get the target with every session and
// heartbeat; a manager computes it from its store. After a change the agent reconnects, so new
// TLS material is used and the node's description reports its new TLS facts.
import type { Logger } from 'pino';
import type { CATarget } from '../rpc/protocol';
import type { NodeSecurity } from '../manager/ca/keystore';
import { certInfo, nodeTLSInfo } from '../manager/ca/pki';
import { caTarget } from '../manager/ca/rotation';
import type { Manager } from '../manager/manager';
import type { Node } from '../types';
import type { CertRenewer } from './certs';
import { forEachGuarded, LoopGuard, runInBackground } from '../sys/loop-guard';

/** After a renewal attempt, the same target does not trigger another one this soon. */
const RENEW_SPACING_MS = 3000;

export class CAFollower {
  private pending: CATarget | null = null;
  private busy = false;
  private lastRenew = { at: 0, key: '' };

  constructor(
    private readonly o: {
      security: NodeSecurity;
      renewer: () => CertRenewer | undefined;
      /** Called after the trust root or the certificate changed. */
      changed: () => void;
      logger: Logger;
    },
  ) {}

  /** Where this follower logs (the store follow-up of followStoreCA logs there too). */
  get logger(): Logger {
    return this.o.logger;
  }

  apply(t: CATarget): void {
    if (!t || typeof t.trustRoot !== 'string' || typeof t.issuerPublicKey !== 'string') return;
    this.pending = t;
    if (!this.busy) void this.run();
  }

  private async run(): Promise<void> {
    this.busy = true;
    try {
      while (this.pending) {
        const t = this.pending;
        this.pending = null;
        await this.once(t).catch((err: unknown) => this.o.logger.warn({ err }, 'following the cluster CA failed'));
      }
    } finally {
      this.busy = false;
    }
  }

  private async once(t: CATarget): Promise<void> {
    const cur = this.o.security.load();
    if (!cur) return;
    let changed = false;
    if (t.trustRoot && cur.caPem !== t.trustRoot) {
      this.o.security.save({ ...cur, caPem: t.trustRoot });
      this.o.logger.info({}, 'trust root updated from the cluster CA');
      changed = true;
    }
    const issuer = (await nodeTLSInfo(cur.certPem, t.trustRoot || cur.caPem)).CertIssuerPublicKey;
    const role = certInfo(cur.certPem).role;
    const why = issuer !== t.issuerPublicKey ? 'root rotation' : t.role && role !== t.role ? `role ${role} -> ${t.role}` : '';
    const key = `${t.issuerPublicKey}/${t.role ?? ''}`;
    const renewer = this.o.renewer();
    if (why && renewer && !(this.lastRenew.key === key && Date.now() - this.lastRenew.at < RENEW_SPACING_MS)) {
      this.lastRenew = { at: Date.now(), key };
      this.o.logger.info({ reason: why }, 'renewing the node certificate');
      await renewer.renewNow();
      const after = this.o.security.load();
      if (after && after.certPem !== cur.certPem) changed = true;
    }
    if (changed) this.o.changed();
  }
}

/**
 * On a manager the CA target comes from the store: rotation state and this node's role. A role
 * change in the store (promotion/demotion) renews the certificate so its OU follows. Returns the
 * function that stops following.
 */
export function followStoreCA(manager: Manager, nodeId: string, follower: CAFollower): () => void {
  const watch = manager.store.watch({ kinds: ['cluster', 'node'], match: (e) => e.kind === 'cluster' || (e.object as Node).ID === nodeId });
  const apply = () => {
    const c = manager.store.view((tx) => tx.find('cluster'))[0];
    let role = manager.store.view((tx) => tx.get('node', nodeId))?.Spec.Role;
    // A demoted manager keeps its manager certificate until Raft has let it go (then it runs as a worker).
    if (role === 'worker' && manager.members().some((m) => m.nodeId === nodeId)) role = 'manager';
    if (c) follower.apply(caTarget(c, role));
  };
  const guard = new LoopGuard({ name: 'cluster CA follow', log: follower.logger });
  runInBackground(
    'cluster CA follow',
    (async () => {
      await guard.step(apply);
      await forEachGuarded(watch, () => (watch.drain(), apply()), guard);
    })(),
    follower.logger,
  );
  return () => watch.close();
}
