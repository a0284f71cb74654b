import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Bar, type BarsResult, splitSymbol } from '../bars.js';
import { MarketDataError } from '../errors.js';
import { type BarsRequest, type MarketDataProvider, requestedBars } from './provider.js';

/**
 * Bars from files in a folder. For `EXCHANGE:TICKER` at interval `I` it tries, in order,
 * `EXCHANGE_TICKER_I`, `TICKER_I`, `EXCHANGE_TICKER`, `TICKER`, each with `.csv` then `.json`.
 * CSV has a `time,open,high,low,close,volume` header; JSON is an array of such objects (or
 * `{bars: [...]}`, or Binance-style arrays). `time` may be ms or s since the epoch, or ISO 8601.
 * The file is served as-is: its bars are not resampled to the requested interval.
 */
export class FileProvider implements MarketDataProvider {
  constructor(private readonly dir: string) {}

  async getBars(req: BarsRequest): Promise<BarsResult> {
    const { exchange, ticker } = splitSymbol(req.symbol);
    const safe = (s: string) => /^[A-Za-z0-9][A-Za-z0-9._!-]*$/.test(s) && !s.includes('..');
    if (!safe(ticker) || (exchange && !safe(exchange))) {
      throw new MarketDataError('UNKNOWN_SYMBOL', `No data file for ${req.symbol}`);
    }
    const stems = exchange
      ? [
          `${exchange}_${ticker}_${req.interval}`,
          `${ticker}_${req.interval}`,
          `${exchange}_${ticker}`,
          ticker,
        ]
      : [`${ticker}_${req.interval}`, ticker];
    for (const stem of stems) {
      for (const ext of ['csv', 'json'] as const) {
        const name = `${stem}.${ext}`;
        let text: string;
        try {
          text = await readFile(join(this.dir, name), 'utf8');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw new MarketDataError('UPSTREAM_ERROR', `Cannot read ${name}`, { cause: err });
        }
        const end = req.end;
        const bars = (ext === 'csv' ? parseCsv(text, name) : parseJson(text, name))
          .filter((b) => end === undefined || b.time <= end)
          .sort((a, b) => a.time - b.time);
        return { bars: bars.slice(-requestedBars(req)), source: `file:${name}`, synthetic: false };
      }
    }
    throw new MarketDataError('UNKNOWN_SYMBOL', `No data file for ${req.symbol}`);
  }
}

const FIELDS = ['time', 'open', 'high', 'low', 'close', 'volume'] as const;

function parseTime(v: unknown, where: string): number {
  if (typeof v === 'number' || (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v.trim()))) {
    const n = Number(v);
    // Seconds since the epoch stay below 1e11 until the year 5138.
    return n < 1e11 ? n * 1000 : n;
  }
  const t = typeof v === 'string' ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(t)) throw new MarketDataError('UPSTREAM_ERROR', `${where}: invalid time ${String(v)}`);
  return t;
}

function toBar(values: Record<string, unknown>, where: string): Bar {
  const bar = { time: parseTime(values.time, where) } as Bar;
  for (const f of FIELDS.slice(1)) {
    const n = Number(values[f] ?? (f === 'volume' ? 0 : Number.NaN));
    if (!Number.isFinite(n)) throw new MarketDataError('UPSTREAM_ERROR', `${where}: invalid ${f}`);
    bar[f] = n;
  }
  return bar;
}

export function parseCsv(text: string, name = 'csv'): Bar[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = (lines.shift() ?? '').split(',').map((h) => h.trim().toLowerCase());
  const timeCol = header.findIndex((h) => h === 'time' || h === 'timestamp' || h === 'date');
  if (timeCol < 0 || !['open', 'high', 'low', 'close'].every((f) => header.includes(f))) {
    throw new MarketDataError('UPSTREAM_ERROR', `${name}: header must be time,open,high,low,close,volume`);
  }
  return lines.map((line, i) => {
    const cells = line.split(',');
    const values: Record<string, unknown> = {};
    header.forEach((h, j) => {
      values[j === timeCol ? 'time' : h] = cells[j]?.trim();
    });
    return toBar(values, `${name} line ${i + 2}`);
  });
}

export function parseJson(text: string, name = 'json'): Bar[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new MarketDataError('UPSTREAM_ERROR', `${name}: invalid JSON`, { cause: err });
  }
  const rows = Array.isArray(data) ? data : (data as { bars?: unknown })?.bars;
  if (!Array.isArray(rows)) throw new MarketDataError('UPSTREAM_ERROR', `${name}: expected an array of bars`);
  return rows.map((row, i) => {
    const values = Array.isArray(row)
      ? Object.fromEntries(FIELDS.map((f, j) => [f, row[j]]))
      : (row as Record<string, unknown>);
    return toBar(values, `${name} row ${i}`);
  });
}
