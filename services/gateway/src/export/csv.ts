/** Leading characters a spreadsheet may run as a formula (OWASP's CSV injection list). */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV cell (RFC 4180): text that a spreadsheet would take for a formula gets a leading `'`,
 * and a cell with a quote, comma or line break is quoted, its quotes doubled.
 */
export function csvCell(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV record, CRLF-terminated as RFC 4180 says. */
export const csvRow = (cells: readonly (string | number | boolean | null | undefined)[]): string =>
  `${cells.map(csvCell).join(',')}\r\n`;

/**
 * The CSV text of pages read one after another: the header, then each page's rows as it arrives,
 * so only one page is in memory at a time. `first` was read before the answer started (its errors
 * are answered as JSON); `next` reads the page after a cursor.
 */
export async function* csvPages<Row, Cursor>(
  header: readonly string[],
  first: { rows: Row[]; next: Cursor | null },
  next: (cursor: Cursor) => Promise<{ rows: Row[]; next: Cursor | null }>,
  cells: (row: Row) => (string | number | boolean | null)[],
): AsyncGenerator<string> {
  yield csvRow(header);
  let page = first;
  for (;;) {
    yield page.rows.map((r) => csvRow(cells(r))).join('');
    if (!page.next) return;
    page = await next(page.next);
  }
}
