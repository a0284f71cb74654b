import { INTERVALS, type Interval } from '@chartwright/contracts';

/** What a data file's name says it holds: `Binance_BTCUSDT_1h.csv` → Binance, BTCUSDT, 1h. */
export interface FileName {
  name: string;
  exchange: string | null;
  ticker: string;
  /** `null` when the name carries no interval: the file is served as-is for any interval. */
  interval: Interval | null;
  ext: 'csv' | 'json';
}

/**
 * Suffixes other tools write (CryptoDataDownload: `_minute`, `_1h`, `_d`). `1m`/`1M` stay case
 * sensitive (minute vs month); the rest are matched without case.
 */
const ALIASES: Record<string, Interval> = {
  minute: '1m',
  '1min': '1m',
  hour: '1h',
  hourly: '1h',
  '1h': '1h',
  '4h': '4h',
  d: '1D',
  '1d': '1D',
  day: '1D',
  daily: '1D',
  w: '1W',
  '1w': '1W',
  weekly: '1W',
  monthly: '1M',
};

function intervalToken(token: string): Interval | null {
  if ((INTERVALS as readonly string[]).includes(token)) return token as Interval;
  return ALIASES[token.toLowerCase()] ?? null;
}

const PART = /^[A-Za-z0-9][A-Za-z0-9.!-]*$/;

/** Reads `[EXCHANGE_]TICKER[_INTERVAL].csv|json`; any other name is not a data file (`null`). */
export function parseFileName(name: string): FileName | null {
  const m = /^(.+)\.(csv|json)$/i.exec(name);
  if (!m) return null;
  const ext = m[2]!.toLowerCase() as 'csv' | 'json';
  const parts = m[1]!.split('_');
  const last = parts[parts.length - 1]!;
  const interval = parts.length > 1 ? intervalToken(last) : null;
  if (interval) parts.pop();
  if (parts.length > 2 || !parts.every((p) => PART.test(p))) return null;
  const [a, b] = parts as [string, string | undefined];
  return b === undefined
    ? { name, exchange: null, ticker: a, interval, ext }
    : { name, exchange: a, ticker: b, interval, ext };
}
