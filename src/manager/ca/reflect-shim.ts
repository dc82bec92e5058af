// @peculiar/x509 resolves its services through tsyringe, which refuses to load unless the
// Reflect metadata API exists. No polyfill package is installed, so this provides the four calls
// tsyringe makes (defineMetadata, getMetadata, getOwnMetadata, hasOwnMetadata) with a WeakMap.
// It only fills the API in when absent, so a real polyfill loaded earlier wins.
type Store = Map<unknown, Map<unknown, unknown>>;
const stores = new WeakMap<object, Store>();

function own(target: object, property: unknown, create: boolean): Map<unknown, unknown> | undefined {
  let byProp = stores.get(target);
  if (!byProp) {
    if (!create) return undefined;
    byProp = new Map();
    stores.set(target, byProp);
  }
  let m = byProp.get(property);
  if (!m && create) {
    m = new Map();
    byProp.set(property, m);
  }
  return m;
}

const R = Reflect as unknown as Record<string, unknown>;
if (typeof R.getMetadata !== 'function') {
  R.defineMetadata = (key: unknown, value: unknown, target: object, property?: unknown) => {
    own(target, property, true)!.set(key, value);
  };
  R.getOwnMetadata = (key: unknown, target: object, property?: unknown) => own(target, property, false)?.get(key);
  R.hasOwnMetadata = (key: unknown, target: object, property?: unknown) => own(target, property, false)?.has(key) ?? false;
  R.getMetadata = (key: unknown, target: object, property?: unknown) => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t)) {
      const m = own(t, property, false);
      if (m?.has(key)) return m.get(key);
    }
    return undefined;
  };
  R.metadata = (key: unknown, value: unknown) => (target: object, property?: unknown) => {
    own(target, property, true)!.set(key, value);
  };
}

export {};
