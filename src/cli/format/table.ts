// Tables the way the docker CLI prints them: Go's text/tabwriter with minwidth 10, padding 3 and
// spaces. Every cell but the last of a row is padded to its column's width; the last is not.

const MIN_WIDTH = 10;
const PADDING = 3;

/** Display width of a cell: one column per code point (as tabwriter counts runes). */
const width = (s: string): number => [...s].length;

/** Renders `header` and `rows` as an aligned table; every line ends with a newline. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const cols = header.length;
  const widths: number[] = [];
  for (let c = 0; c < cols - 1; c++) {
    let w = MIN_WIDTH;
    for (const r of all) w = Math.max(w, width(r[c] ?? '') + PADDING);
    widths.push(w);
  }
  let out = '';
  for (const r of all) {
    let line = '';
    for (let c = 0; c < cols; c++) {
      const cell = r[c] ?? '';
      line += c < cols - 1 ? cell + ' '.repeat(widths[c]! - width(cell)) : cell;
    }
    out += line + '\n';
  }
  return out;
}
