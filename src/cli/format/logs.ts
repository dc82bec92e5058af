// Docker's multiplexed stream (decoded by lib/stdstream) and the `service logs` line prefix.

export { Demuxer, type Frame } from '../../lib/stdstream';

/** Splits a chunk stream into lines (keeping the newline), holding back a partial last line. */
export class LineSplitter {
  private rest = '';
  push(text: string): string[] {
    const s = this.rest + text;
    const lines: string[] = [];
    let start = 0;
    for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', start)) {
      lines.push(s.slice(start, i + 1));
      start = i + 1;
    }
    this.rest = s.slice(start);
    return lines;
  }
  flush(): string[] {
    const r = this.rest;
    this.rest = '';
    return r ? [r] : [];
  }
}

export interface LogLine {
  timestamp?: string;
  details: Record<string, string>;
  message: string;
}

/** Parses `[timestamp ]details message` (details: `k=v,k=v`, URL-encoded values). */
export function parseLogLine(line: string, timestamps: boolean): LogLine | null {
  const parts: string[] = [];
  let rest = line;
  for (let i = 0; i < (timestamps ? 2 : 1); i++) {
    const sp = rest.indexOf(' ');
    if (sp < 0) return null;
    parts.push(rest.slice(0, sp));
    rest = rest.slice(sp + 1);
  }
  const detailText = parts[timestamps ? 1 : 0]!;
  const details: Record<string, string> = {};
  if (detailText) {
    for (const kv of detailText.split(',')) {
      const eq = kv.indexOf('=');
      if (eq < 0) return null;
      details[decodeURIComponent(kv.slice(0, eq))] = decodeURIComponent(kv.slice(eq + 1));
    }
  }
  return { ...(timestamps ? { timestamp: parts[0] } : {}), details, message: rest };
}

/** `name.slot.taskid@node` padded so slots of different widths align, then `    | `. */
export function logPrefix(args: { serviceName: string; slot: number; taskId: string; nodeName: string; maxSlotDigits: number; noTrunc?: boolean; noTaskIds?: boolean }): string {
  let name = `${args.serviceName}.${args.slot}`;
  if (!args.noTaskIds) name += `.${args.noTrunc ? args.taskId : args.taskId.slice(0, 12)}`;
  const pad = Math.max(0, args.maxSlotDigits - String(args.slot).length);
  return `${name}@${args.nodeName}${' '.repeat(pad)}    | `;
}
