/** Prints rows as an aligned table, or the value as JSON with `--json`. */
export function print(json: boolean, value: unknown, rows?: Record<string, unknown>[]): void {
  if (json || !rows) {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const columns = Object.keys(rows[0]!);
  const cells = rows.map((r) => columns.map((c) => cell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${[line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n')}\n`);
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (Array.isArray(v)) return v.join(',');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Key-value lines for one object. */
export function printRecord(json: boolean, value: Record<string, unknown>): void {
  if (json) {
    print(true, value);
    return;
  }
  const width = Math.max(...Object.keys(value).map((k) => k.length));
  for (const [k, v] of Object.entries(value))
    if (v !== undefined) process.stdout.write(`${k.padEnd(width)}  ${cell(v)}\n`);
}
