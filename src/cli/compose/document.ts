// A Compose file as YAML: its plain data plus a way back from a key path to the line it came from,
// so every later error (schema, conversion) can name the file, the line and the key. Pure: the
// text comes in as a string.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type ScalarTag } from 'yaml';

export type Dict = Record<string, unknown>;
export type KeyPath = readonly (string | number)[];

/** A user error in the Compose input (bad YAML, schema, variables, references). */
export class ComposeError extends Error {}

export interface ComposeFile {
  /** The name as given on the command line (`-c docker-compose.yml`), used in messages. */
  file: string;
  data: Dict;
  /** 1-based line of the key (or list item) at `path`, or of its nearest ancestor that exists. */
  lineOf(path: KeyPath): number | undefined;
}

/** `services.web.ports[0]` — the key path as the messages print it. */
export function keyText(path: KeyPath): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out || '(root)';
}

/** `mode: 0440` is octal in Compose files (the docker CLI's YAML reads it so); YAML 1.2 would say 440. */
const LEGACY_OCTAL: ScalarTag = {
  identify: (v) => typeof v === 'number',
  default: true,
  tag: 'tag:yaml.org,2002:int',
  format: 'OCT',
  test: /^0[0-7]+$/,
  resolve: (s) => parseInt(s, 8),
};

/** Parses one file; YAML errors become ComposeErrors with file:line. */
export function parseCompose(file: string, text: string): ComposeFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, merge: true, prettyErrors: false, customTags: (tags) => [LEGACY_OCTAL, ...tags] });
  const first = doc.errors[0];
  if (first) {
    const line = first.linePos?.[0]?.line ?? lines.linePos(first.pos[0]).line;
    throw new ComposeError(`${file}:${line}: yaml: ${first.message.split('\n')[0]}`);
  }
  const data = doc.toJS({ maxAliasCount: 1000 }) as unknown;
  if (data === null || data === undefined) throw new ComposeError(`${file}: empty compose file`);
  if (typeof data !== 'object' || Array.isArray(data)) throw new ComposeError(`${file}:1: top-level object must be a mapping`);
  const lineAt = (n: Node | undefined | null): number | undefined => (n?.range ? lines.linePos(n.range[0]).line : undefined);
  return {
    file,
    data: data as Dict,
    lineOf(path: KeyPath): number | undefined {
      let node: unknown = doc.contents;
      let line = lineAt(doc.contents as Node);
      for (const seg of path) {
        if (isMap(node)) {
          const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
          if (!pair) return line;
          line = lineAt(pair.key as Node) ?? line;
          node = pair.value;
        } else if (isSeq(node) && typeof seg === 'number') {
          const item = node.items[seg];
          if (!item) return line;
          line = lineAt(item as Node) ?? line;
          node = item;
        } else return line;
      }
      return line;
    },
  };
}
