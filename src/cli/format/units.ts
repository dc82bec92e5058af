// Sizes and CPUs as the docker CLI parses and prints them.

const BINARY: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** go-units RAMInBytes: "512m", "1g", "1.5GiB", "100" → bytes (binary multiples). */
export function parseMemory(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?\s*$/i.exec(s);
  if (!m) throw new Error(`invalid size: '${s}'`);
  const unit = m[2]!.toLowerCase();
  return Math.floor(Number(m[1]) * BINARY[unit]!);
}

/** "0.5" CPUs → 500000000 NanoCPUs, as --limit-cpu / --reserve-cpu take them. */
export function parseCpus(s: string): number {
  const v = Number(s);
  if (!Number.isFinite(v) || v < 0 || s.trim() === '') throw new Error(`invalid argument "${s}": failed to parse ${s} as a rational number`);
  return Math.round(v * 1e9);
}

/** go-units BytesSize: 1536 → "1.5KiB", 16e9 → "14.9GiB" (4 significant digits). */
export function bytesSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}
