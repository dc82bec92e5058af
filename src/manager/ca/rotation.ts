// Root CA rotation (`docker swarm ca --rotate`), driven by the store as swarmkit's CA server does:
//  1. The cluster spec asks for it (CAConfig.ForceRotate incremented, or a SigningCACert/Key that is
//     not the current root). A new root is made (or the given one taken) and cross-signed by the old
//     key; the cluster records it under `internal.rotation` and RootRotationInProgress = true.
//  2. While rotating, certificates are signed by the new key and carry the cross-signed certificate
//     as an intermediate (so nodes that trust only the old root accept them); nodes are told to trust
//     old + new root, and to renew while their certificate's issuer is not the new key (CATarget, sent
//     with every session and heartbeat). Nodes report their issuer and trust root in their description.
//  3. When every node in the store reports the new issuer key, the new root becomes the cluster's root:
//     TLSInfo switches, join tokens get the new digest (old tokens stop working), RootRotationInProgress
//     goes back to false, and nodes are told to trust the new root alone.
import type { Logger } from 'pino';
import type { MemoryStore } from '../../store';
import type { Cluster, Node } from '../../types';
import type { CATarget } from '../../rpc/protocol';
import { invalidArgument } from '../../lib/errors';
import { caDigest, certInfo, crossSign, createRotationCA, keyMatchesCert, publicKeyB64, splitPemBundle, tlsInfoOf, type RootCA } from './pki';
import { forEachGuarded, LoopGuard, runInBackground } from '../../sys/loop-guard';

export interface RotationState {
  /** The new root (PEM) and its key. */
  caCert: string;
  caKey: string;
  /** The new root's certificate signed by the old root's key. */
  crossSigned: string;
}

/** The cluster's internal CA fields, with the rotation state kept beside the root. */
export interface CAInternal {
  rootCACert: string;
  rootCAKey: string;
  rotation?: RotationState;
  /** The last CAConfig.ForceRotate acted upon. */
  forceRotate?: number;
}

export const caInternal = (c: Cluster): CAInternal => c.internal as CAInternal;

const samePem = (a: string | undefined, b: string | undefined) => (a ?? '').trim() === (b ?? '').trim();

export interface SigningMaterial {
  /** Signs node certificates now. */
  ca: Required<RootCA>;
  /** Intermediates to send after the leaf ('' when none). */
  chain: string;
  /** The roots every node should trust now. */
  trustRoot: string;
  /** The root joining nodes fetch and pin (the join tokens' digest). */
  joinRoot: string;
}

export function signingMaterial(c: Cluster): SigningMaterial {
  const i = caInternal(c);
  const rot = i.rotation;
  if (!rot) return { ca: { certPem: i.rootCACert, keyPem: i.rootCAKey }, chain: '', trustRoot: i.rootCACert, joinRoot: i.rootCACert };
  return {
    ca: { certPem: rot.caCert, keyPem: rot.caKey },
    chain: rot.crossSigned,
    trustRoot: i.rootCACert.trimEnd() + '\n' + rot.caCert,
    joinRoot: i.rootCACert,
  };
}

/** What a node should trust, who should have signed its certificate, and its role. */
export function caTarget(c: Cluster, role?: 'worker' | 'manager'): CATarget {
  const m = signingMaterial(c);
  return { trustRoot: m.trustRoot, issuerPublicKey: publicKeyB64(m.ca.certPem), ...(role ? { role } : {}) };
}

export { withChain } from './service';

/**
 * Checks a rotation request before it is stored: a given signing certificate must come with its key
 * (external CAs are not supported) and be a CA certificate matching that key.
 */
export async function validateCAConfig(spec: Cluster['Spec'], current: Cluster): Promise<void> {
  const cert = spec.CAConfig?.SigningCACert ?? '';
  const key = spec.CAConfig?.SigningCAKey ?? '';
  if (!cert && key) throw invalidArgument('rpc error: code = InvalidArgument desc = if a signing CA key is provided, the signing CA cert must also be provided');
  const ci = caInternal(current);
  // The current root, or the one a running rotation moves to (the CLI sends the spec back as read).
  if (!cert || samePem(cert, ci.rootCACert) || samePem(cert, ci.rotation?.caCert)) return;
  if (!key) throw invalidArgument('rpc error: code = InvalidArgument desc = rotating to a CA certificate without its key (external CA) is not supported');
  try {
    const first = splitPemBundle(cert)[0] ?? cert;
    if (!certInfo(first).isCA) throw new Error('not a CA certificate');
    if (!(await keyMatchesCert(key, first))) throw new Error('the key does not match the certificate');
  } catch (e) {
    throw invalidArgument(`rpc error: code = InvalidArgument desc = invalid signing CA cert or key: ${(e as Error).message}`);
  }
}

export interface RootRotatorOptions {
  store: MemoryStore;
  /** A new join token for the given root CA. */
  newJoinToken: (digest: Uint8Array) => string;
  now: () => number;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

/** The manager's rotation loop: one store watch (cluster and nodes), one reconcile at a time. */
export class RootRotator {
  private watch: ReturnType<MemoryStore['watch']> | null = null;
  private running: Promise<void> | null = null;
  private again = false;

  constructor(private readonly opts: RootRotatorOptions) {}

  start(): void {
    if (this.watch) return;
    const w = (this.watch = this.opts.store.watch({ kinds: ['cluster', 'node'] }));
    const guard = new LoopGuard({ name: 'root CA rotation', log: this.opts.logger });
    runInBackground(
      'root CA rotation',
      (async () => {
        await guard.step(() => this.kick());
        await forEachGuarded(w, () => (w.drain(), this.kick()), guard);
      })(),
      this.opts.logger,
    );
  }

  stop(): void {
    this.watch?.close();
    this.watch = null;
  }

  /** Runs reconcile now, or once more after the one in progress. */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.reconcile();
        } catch (err) {
          this.opts.logger?.error({ err }, 'root rotation step failed');
        }
      } while (this.again && this.watch);
    })().finally(() => (this.running = null));
  }

  /**
   * Reconciles now and waits for it, so a rotation asked for by a spec update has started (and
   * RootRotationInProgress is true) before the update is answered, as Docker's CLI then polls it.
   */
  async settle(): Promise<void> {
    this.kick();
    while (this.running) await this.running;
  }

  /** One step: start a requested rotation, or finish one whose nodes all hold new certificates. */
  async reconcile(): Promise<void> {
    const store = this.opts.store;
    // it runs on every node change and only looks until its update (which reads its own copy): no copies
    const c = store.read((tx) => tx.find('cluster'))[0];
    if (!c) return;
    const i = caInternal(c);
    if (!i.rotation) {
      const ca = c.Spec.CAConfig ?? ({} as Cluster['Spec']['CAConfig']);
      const force = ca.ForceRotate ?? 0;
      const given =
        ca.SigningCACert && ca.SigningCAKey && !samePem(ca.SigningCACert, i.rootCACert) ? { certPem: ca.SigningCACert, keyPem: ca.SigningCAKey } : null;
      if (!given && force === (i.forceRotate ?? 0)) return;
      const old = { certPem: i.rootCACert, keyPem: i.rootCAKey };
      let rotation: RotationState;
      if (given) {
        rotation = { caCert: given.certPem.trimEnd() + '\n', caKey: given.keyPem, crossSigned: await crossSign(old, given.certPem, { now: this.opts.now() }) };
      } else {
        const r = await createRotationCA(old, { now: this.opts.now() });
        rotation = { caCert: r.newCA.certPem, caKey: r.newCA.keyPem, crossSigned: r.crossSignedPem };
      }
      await store.update((tx) => {
        const cur = tx.find('cluster')[0];
        if (!cur || caInternal(cur).rotation || cur.Version.Index !== c.Version.Index) return; // changed meanwhile: the watch runs us again
        const ci = caInternal(cur);
        ci.rotation = rotation;
        ci.forceRotate = force;
        cur.RootRotationInProgress = true;
        // The key never stays in the spec (Docker redacts it too).
        if (cur.Spec.CAConfig) delete cur.Spec.CAConfig.SigningCAKey;
        cur.UpdatedAt = new Date(this.opts.now()).toISOString();
        tx.update('cluster', cur);
      });
      this.opts.logger?.info({ reason: given ? 'signing CA given' : 'force rotate' }, 'root CA rotation started');
      return;
    }
    const newKey = publicKeyB64(i.rotation.caCert);
    const nodes: readonly Node[] = store.read((tx) => tx.find('node'));
    const pending = nodes.filter((n) => n.Description?.TLSInfo?.CertIssuerPublicKey !== newKey);
    if (pending.length > 0) return;
    const rot = i.rotation;
    await store.update((tx) => {
      const cur = tx.find('cluster')[0];
      const ci = cur && caInternal(cur);
      if (!cur || !ci?.rotation || ci.rotation.caCert !== rot.caCert) return;
      ci.rootCACert = rot.caCert;
      ci.rootCAKey = rot.caKey;
      delete ci.rotation;
      cur.TLSInfo = tlsInfoOf(rot.caCert);
      cur.RootRotationInProgress = false;
      const digest = caDigest(rot.caCert);
      cur.JoinTokens = { Worker: this.opts.newJoinToken(digest), Manager: this.opts.newJoinToken(digest) };
      cur.UpdatedAt = new Date(this.opts.now()).toISOString();
      tx.update('cluster', cur);
    });
    this.opts.logger?.info({ nodes: nodes.length }, 'root CA rotation finished: every node holds a certificate from the new root');
  }
}
