// Go's time.Duration text, as the docker CLI sends it and the Engine API reads it.

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Parses a Go duration ("10s", "1m30s", "500ms", "0") into nanoseconds; throws on bad input. */
export function parseGoDuration(s: string): number {
  const text = s.trim();
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let pos = 0;
  let neg = false;
  if (text.startsWith('-') || text.startsWith('+')) {
    neg = text[0] === '-';
    pos = 1;
  }
  let total = 0;
  let any = false;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw new Error(`time: invalid duration "${s}"`);
    total += Number(m[1]) * UNIT_NS[m[2]!]!;
    pos = re.lastIndex;
    any = true;
  }
  if (!any) throw new Error(`time: invalid duration "${s}"`);
  return Math.round(neg ? -total : total);
}
