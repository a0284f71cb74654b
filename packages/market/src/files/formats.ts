import type { Bar } from '../bars.js';
import { MarketDataError } from '../errors.js';

/** The layouts a data file may have; detected from its content, not its name. */
export type FileFormat =
  | 'cryptodatadownload'
  | 'binance-klines-csv'
  | 'binance-klines-json'
  | 'yahoo'
  | 'csv'
  | 'json';

/** A row as read, in file order; `line` is 1-based (CSV) or the array index (JSON). */
export interface RawBar extends Bar {
  line: number;
}

export interface ParsedRows {
  format: FileFormat;
  rows: RawBar[];
  /** Rows that are not bars: unreadable numbers or times, `null` rows. */
  unparseable: number;
}

/**
 * A time as ms since the epoch: numbers are seconds (below 1e11, i.e. before the year 5138),
 * ms, or µs (above 1e14, Binance's newer dumps); strings are ISO 8601, where a zone-less
 * `2021-06-10 00:00:00` is UTC.
 */
export function parseTime(v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  if (Number.isFinite(n)) {
    if (n < 1e11) return Math.round(n * 1000);
    return n > 1e14 ? Math.floor(n / 1000) : n;
  }
  if (typeof v !== 'string') return Number.NaN;
  const s = v.trim();
  // Date.parse reads a date-time without a zone as local time; files mean UTC.
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(:\d{2}(\.\d+)?)?)$/.exec(s);
  return Date.parse(m ? `${m[1]}T${m[2]}Z` : s);
}

// Number('') and Number(' ') are 0: an empty cell must not pass for a price.
const num = (v: unknown): number =>
  typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;

function bar(
  time: unknown,
  o: unknown,
  h: unknown,
  l: unknown,
  c: unknown,
  v: unknown,
  line: number,
): RawBar {
  return {
    time: parseTime(time),
    open: num(o),
    high: num(h),
    low: num(l),
    close: num(c),
    // A file without volumes still draws; a present but unreadable volume spoils the row.
    volume: v === undefined ? 0 : num(v),
    line,
  };
}

const readable = (b: RawBar) =>
  Number.isFinite(b.time) &&
  Number.isFinite(b.open) &&
  Number.isFinite(b.high) &&
  Number.isFinite(b.low) &&
  Number.isFinite(b.close) &&
  Number.isFinite(b.volume);

function finish(format: FileFormat, all: RawBar[]): ParsedRows {
  const rows = all.filter(readable);
  return { format, rows, unparseable: all.length - rows.length };
}

const cellsOf = (line: string) =>
  line.includes('"') ? line.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1')) : line.split(',');

/** Header names that hold the bar's time, best first (CryptoDataDownload has both `unix` and `date`). */
const TIME_COLUMNS = ['unix', 'timestamp', 'open time', 'open_time', 'opentime', 'time', 'date', 'datetime'];

/**
 * CSV of bars, any of: CryptoDataDownload (`unix,date,symbol,open,high,low,close,Volume BTC,…`,
 * maybe after a URL line), Yahoo (`Date,Open,High,Low,Close,Adj Close,Volume`), Binance klines
 * without a header (`openTime,open,high,low,close,volume,closeTime,…`), or
 * `time,open,high,low,close[,volume]`. Lines before the header (a URL, a note) are skipped.
 */
export function parseCsvRows(text: string, name: string): ParsedRows {
  const lines = text.split(/\r?\n/);
  let i = 0;
  while (i < lines.length && lines[i]!.trim() === '') i++;
  const first = lines[i] ?? '';
  if (/^\s*\d/.test(first) && cellsOf(first).length >= 6) {
    const all: RawBar[] = [];
    for (let j = i; j < lines.length; j++) {
      if (lines[j]!.trim() === '') continue;
      const c = cellsOf(lines[j]!);
      all.push(bar(c[0], c[1], c[2], c[3], c[4], c[5] ?? '', j + 1));
    }
    return finish('binance-klines-csv', all);
  }
  let header: string[] | undefined;
  for (let tries = 0; i < lines.length && tries < 5; i++, tries++) {
    const cells = cellsOf(lines[i]!).map((h) => h.toLowerCase());
    if (['open', 'high', 'low', 'close'].every((f) => cells.includes(f))) {
      header = cells;
      break;
    }
  }
  const timeName = header && TIME_COLUMNS.find((t) => header.includes(t));
  if (!header || !timeName) {
    throw new MarketDataError(
      'UPSTREAM_ERROR',
      `${name}: no header with a time column and open, high, low, close`,
    );
  }
  const col = (n: string) => header.indexOf(n);
  const [t, o, h, l, c] = [col(timeName), col('open'), col('high'), col('low'), col('close')];
  // `Volume BTC` (base asset) before `Volume USDT`: CryptoDataDownload names them by asset.
  const v = header.findIndex((x) => x === 'volume' || x.startsWith('volume '));
  const format: FileFormat =
    timeName === 'unix' ? 'cryptodatadownload' : header.includes('adj close') ? 'yahoo' : 'csv';
  const all: RawBar[] = [];
  for (let j = i + 1; j < lines.length; j++) {
    const line = lines[j]!;
    if (line.trim() === '') continue;
    const cells = cellsOf(line);
    all.push(bar(cells[t], cells[o], cells[h], cells[l], cells[c], v < 0 ? undefined : cells[v], j + 1));
  }
  return finish(format, all);
}

/** JSON: Binance klines (arrays), or objects with `time|openTime|timestamp|date`, bare or as `{bars}`. */
export function parseJsonRows(text: string, name: string): ParsedRows {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new MarketDataError('UPSTREAM_ERROR', `${name}: invalid JSON`, { cause: err });
  }
  const rows = Array.isArray(data) ? data : (data as { bars?: unknown } | null)?.bars;
  if (!Array.isArray(rows)) throw new MarketDataError('UPSTREAM_ERROR', `${name}: expected an array of bars`);
  const klines = rows.some((r) => Array.isArray(r));
  const all = rows.map((r: unknown, i): RawBar => {
    if (Array.isArray(r)) return bar(r[0], r[1], r[2], r[3], r[4], r[5] ?? '', i);
    if (!r || typeof r !== 'object') return bar(Number.NaN, 0, 0, 0, 0, 0, i);
    const o = r as Record<string, unknown>;
    const time = o.time ?? o.openTime ?? o.timestamp ?? o.date;
    return bar(time, o.open, o.high, o.low, o.close, o.volume, i);
  });
  return finish(klines ? 'binance-klines-json' : 'json', all);
}
