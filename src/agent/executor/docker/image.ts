// Which local image a task's container is created from, pulling it first when the engine lacks it
// (as Docker's swarm executor does), with recent answers shared by the controllers of one executor.
import { EngineError, type EngineClient } from '../../../engine';
import { isKind, notFound, ShoalError } from '../../../lib/errors';
import type { Task } from '../../../types';
import { pullReference, splitDigest } from './spec';

/**
 * Recent image resolutions (reference → what to create from), kept for `ttlMs`, with concurrent
 * look-ups of one reference sharing a single engine round trip. Only successes are kept: a missing
 * image is looked up again by the next task.
 */
export class ImageResolutions {
  private entries = new Map<string, { at: number; value: Promise<string> }>();

  constructor(
    private readonly ttlMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  resolve(ref: string, lookup: () => Promise<string>): Promise<string> {
    const t = this.now();
    const e = this.entries.get(ref);
    if (e && t - e.at < this.ttlMs) return e.value;
    const value = lookup();
    this.entries.set(ref, { at: t, value });
    value.catch(() => {
      if (this.entries.get(ref)?.value === value) this.entries.delete(ref);
    });
    if (this.entries.size > 256) {
      for (const [k, v] of this.entries) if (t - v.at >= this.ttlMs) this.entries.delete(k);
    }
    return value;
  }
}

export interface ImageOptions {
  /** Shared by the controllers of one executor: a burst of tasks on one image resolves it once. */
  images?: ImageResolutions;
  /** Pull an image the engine lacks (default); false is Docker's DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1. */
  pull?: boolean;
  /** Told about a failed pull (Docker logs it and goes on to the create, which then fails). */
  onPullFailure?: (ref: string, err: Error) => void;
}

/**
 * The local image to create from: a reference present locally is used as given; `name@sha256:<d>`
 * whose digest is a local image's ID is used by that ID (or by `name` when it names the same
 * image). Otherwise the engine pulls it (by digest when the reference has one, with the
 * service's registry credentials) and it is looked up again; still missing (the pull failed, or
 * was not allowed) → "No such image: X", the text Docker's create gives after a failed pull.
 */
export function resolveTaskImage(engine: EngineClient, task: Task, opts: ImageOptions): Promise<string> {
  const ref = task.Spec.ContainerSpec?.Image ?? '';
  if (!ref) return Promise.reject(new ShoalError('InvalidArgument', 'ContainerSpec: image reference must be provided'));
  const lookup = () => lookupImage(engine, ref, task.Spec.ContainerSpec?.PullOptions?.RegistryAuth, opts);
  return opts.images ? opts.images.resolve(ref, lookup) : lookup();
}

async function lookupImage(engine: EngineClient, ref: string, registryAuth: string | undefined, opts: ImageOptions): Promise<string> {
  const local = await localImage(engine, ref);
  if (local) return local;
  const what = pullReference(ref);
  if (opts.pull !== false && what) {
    try {
      await engine.imagePull(what.fromImage, what.tag, { registryAuth });
    } catch (err) {
      // As Docker: a failed pull is only reported; the image may still be there (pulled meanwhile).
      opts.onPullFailure?.(ref, err instanceof Error ? err : new Error(String(err)));
    }
    const pulled = await localImage(engine, ref);
    if (pulled) return pulled;
  }
  throw notFound(`No such image: ${ref}`);
}

async function localImage(engine: EngineClient, ref: string): Promise<string | undefined> {
  const tryInspect = async (r: string) => {
    try {
      return await engine.imageInspect(r);
    } catch (err) {
      if (isKind(err, 'NotFound') || (err instanceof EngineError && err.statusCode === 400)) return undefined;
      throw err;
    }
  };
  if (await tryInspect(ref)) return ref;
  const { name, digest } = splitDigest(ref);
  if (digest) {
    const byId = await tryInspect(digest);
    if (byId && byId.Id === digest) {
      const byName = name ? await tryInspect(name) : undefined;
      return byName && byName.Id === byId.Id ? name : byId.Id;
    }
  }
  return undefined;
}
