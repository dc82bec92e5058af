// Automatic renewal of this node's certificate: at a random point between 50% and 80% of its
// validity (swarmkit's window, so nodes never stampede the CA), again after every renewal, and on
// demand (role change). A manager signs its own new certificate with the cluster's CA key; a worker
// asks a manager's NodeCA, presenting its current certificate. Failures retry after a bounded delay.
import type { Logger } from 'pino';
import { certInfo, createKeyAndCSR, issueNodeCertificate } from '../manager/ca/pki';
import { renewalDelay } from '../manager/ca/core/policy';
import { renewCertificate } from '../manager/ca/join';
import { signingMaterial, withChain } from '../manager/ca/rotation';
import type { NodeCredentials, NodeSecurity } from '../manager/ca/keystore';
import type { Manager } from '../manager/manager';
import { systemClock, systemRng } from './system';

/** setTimeout overflows above 2^31-1 ms: long waits are taken in slices of at most a day. */
const MAX_SLICE_MS = 24 * 3600_000;
const RETRY_MS = 30_000;

export interface CertRenewerOptions {
  security: NodeSecurity;
  /** Produces new credentials from the current ones (throws on failure). */
  renew: (current: NodeCredentials) => Promise<NodeCredentials>;
  logger: Logger;
}

export class CertRenewer {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private inFlight: Promise<void> | null = null;
  private dueAt = 0;

  constructor(private readonly opts: CertRenewerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.scheduleFromCert();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** When the next renewal is planned (ms since the epoch), for diagnostics and tests. */
  get nextRenewalAt(): number {
    return this.dueAt;
  }

  /** Renews now (e.g. the node's role changed); resolves when done or failed. */
  renewNow(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    this.inFlight = (async () => {
      try {
        const cur = this.opts.security.load();
        if (!cur) return;
        const next = await this.opts.renew(cur);
        if (!this.running) return;
        this.opts.security.save(next);
        const info = certInfo(next.certPem);
        this.opts.logger.info({ notAfter: new Date(info.notAfter).toISOString(), role: info.role }, 'node certificate renewed');
        this.scheduleFromCert();
      } catch (err) {
        this.opts.logger.warn({ err }, `certificate renewal failed, retrying in ${RETRY_MS / 1000}s`);
        this.schedule(systemClock.now() + RETRY_MS);
      } finally {
        this.inFlight = null;
      }
    })();
    return this.inFlight;
  }

  private scheduleFromCert(): void {
    const cur = this.opts.security.load();
    if (!cur) return;
    const info = certInfo(cur.certPem);
    const now = systemClock.now();
    this.schedule(now + renewalDelay(systemRng, now, info.notBefore, info.notAfter));
  }

  private schedule(at: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.dueAt = at;
    const wait = Math.max(0, Math.min(MAX_SLICE_MS, at - systemClock.now()));
    this.timer = setTimeout(() => {
      this.timer = null;
      if (systemClock.now() >= this.dueAt) void this.renewNow();
      else this.schedule(this.dueAt);
    }, wait);
    this.timer.unref();
  }
}

/** A manager signs its own renewed certificate (fresh key) with the cluster CA; its role comes from the store. */
export async function renewWithClusterCA(cur: NodeCredentials, manager: Manager): Promise<NodeCredentials> {
  const c = manager.controlapi.getCluster();
  const id = certInfo(cur.certPem).nodeId;
  const role = manager.store.view((tx) => tx.get('node', id))?.Spec.Role ?? 'manager';
  const { keyPem, csrPem } = await createKeyAndCSR(id);
  // During a root rotation the new key signs, with the cross-signed root as intermediate.
  const m = signingMaterial(c);
  const certPem = await issueNodeCertificate(m.ca, { csrPem }, id, role, c.ID, {
    expiryMs: Math.floor((c.Spec.CAConfig?.NodeCertExpiry ?? 0) / 1e6),
  });
  return { keyPem, certPem: withChain(certPem, m.chain), caPem: m.trustRoot };
}

/** A worker asks the managers it knows, in turn, presenting its current certificate. */
export async function renewThroughManagers(cur: NodeCredentials, managers: string[]): Promise<NodeCredentials> {
  let last: unknown = new Error('no manager known');
  for (const m of managers) {
    try {
      const r = await renewCertificate(m, cur);
      return { keyPem: r.keyPem, certPem: r.certPem, caPem: r.caPem };
    } catch (e) {
      last = e;
    }
  }
  throw last;
}
