import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Interval } from '@chartwright/contracts';
import { addBars, type BarsResult, intervalMonths, intervalMs, splitSymbol } from '../bars.js';
import { MarketDataError } from '../errors.js';
import { type CleanBars, cleanBars, type SkipReason } from '../files/clean.js';
import { type FileFormat, type ParsedRows, parseCsvRows, parseJsonRows } from '../files/formats.js';
import { type FileName, parseFileName } from '../files/names.js';
import { BarSeries } from '../files/series.js';
import { aggregateBars } from './aggregate.js';
import { type BarsRequest, type MarketDataProvider, requestedBars } from './provider.js';

export interface FileProviderOptions {
  /** Told once per parse of a file with skipped rows or gaps (the service logs it). */
  onWarning?: (message: string) => void;
}

/** A file as parsed and checked: what it holds and what was left out. */
export interface FileReport {
  name: string;
  format: FileFormat;
  /** Data rows in the file. */
  rows: number;
  bars: number;
  unparseable: number;
  skipped: Record<SkipReason, number>;
  gaps: number;
  missingBars: number;
  from: string | null;
  to: string | null;
}

/** The bars of one symbol at one interval, from its file, indexed. */
export interface FileSeries {
  series: BarSeries;
  /** `file:<name>`, as bar windows name it. */
  source: string;
  report: FileReport;
}

interface Loaded {
  stamp: string;
  file: FileName;
  clean: CleanBars;
  report: FileReport;
  /** The file's own bars, and those resampled to coarser intervals, built on first use. */
  series: Map<string, BarSeries>;
}

const iso = (t: number) => new Date(t).toISOString();

/**
 * Bars from a folder of files, read as they are downloaded: CryptoDataDownload CSVs
 * (`Binance_BTCUSDT_1h.csv`, `Binance_BTCUSDT_d.csv`), Binance klines as CSV or JSON, Yahoo CSVs,
 * or `time,open,high,low,close,volume`. The layout is told from the content; the name says
 * `[EXCHANGE_]TICKER[_INTERVAL]` (exchange and ticker without case). A coarser interval is
 * resampled from the finest file that divides it (1h → 4h, 1D); a name without an interval is
 * served as-is for any interval.
 *
 * A file is parsed once and kept, cleaned and indexed, until its size or mtime changes, so a
 * window of a long history costs a `stat` and a binary search. Bad rows are skipped and counted
 * (see {@link cleanBars}); a result's `warnings` name the skipped rows and gaps inside its bars.
 */
export class FileProvider implements MarketDataProvider {
  readonly #dir: string;
  readonly #onWarning: (message: string) => void;
  readonly #files = new Map<string, { stamp: string; loaded: Promise<Loaded> }>();
  #parses = 0;

  constructor(dir: string, opts: FileProviderOptions = {}) {
    this.#dir = dir;
    this.#onWarning = opts.onWarning ?? (() => {});
  }

  /** How many times a file was read and parsed (tests check that windows reuse the parse). */
  get parses(): number {
    return this.#parses;
  }

  async getBars(req: BarsRequest): Promise<BarsResult> {
    const { series, source, loaded, resampled } = await this.#resolve(req.symbol, req.interval);
    const bars = series.window({ limit: requestedBars(req), start: req.start, end: req.end });
    let warnings: string[] = [];
    if (bars.length) {
      // Rows skipped just before the first bar (e.g. the file's first row) belong to it too.
      const before = series.bars[series.lowerBound(bars[0]!.time) - 1];
      const from = before ? addBars(before.time, req.interval, 1) : Number.NEGATIVE_INFINITY;
      warnings = this.#warnings(loaded, from, bars.at(-1)!.time, req.interval);
    }
    if (resampled)
      warnings.unshift(`${loaded.file.name}: ${loaded.file.interval} bars resampled to ${req.interval}`);
    return { bars, source, synthetic: false, ...(warnings.length ? { warnings } : {}) };
  }

  /** The whole indexed series (for backtests and outcome checks over long spans). */
  async series(symbol: string, interval: Interval): Promise<FileSeries> {
    const { series, source, loaded } = await this.#resolve(symbol, interval);
    return { series, source, report: loaded.report };
  }

  async #resolve(symbol: string, interval: Interval) {
    const file = await this.#pick(symbol, interval);
    const loaded = await this.#load(file);
    const resampled = file.interval !== null && file.interval !== interval;
    let series = loaded.series.get(resampled ? interval : 'own');
    if (!series) {
      series = new BarSeries(
        resampled
          ? aggregateBars(loaded.clean.bars, interval, perBar(file.interval!, interval))
          : loaded.clean.bars,
      );
      loaded.series.set(resampled ? interval : 'own', series);
    }
    if (series.length === 0)
      throw new MarketDataError('UPSTREAM_ERROR', `${file.name} holds no usable bars for ${symbol}`);
    return { series, source: `file:${file.name}`, loaded, resampled };
  }

  /** The file for `symbol` at `interval`: its own, else one to resample, else one without interval. */
  async #pick(symbol: string, interval: Interval): Promise<FileName> {
    const { exchange, ticker } = splitSymbol(symbol);
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch (err) {
      throw new MarketDataError(
        'UPSTREAM_ERROR',
        `Cannot list the market data folder: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    const same = (a: string | null, b: string) => a !== null && a.toLowerCase() === b.toLowerCase();
    const files = names
      .map(parseFileName)
      .filter(
        (f): f is FileName =>
          f !== null && same(f.ticker, ticker) && (f.exchange === null || same(f.exchange, exchange)),
      )
      // A name with the exchange wins over one without; then CSV over JSON, as before.
      .sort(
        (a, b) => Number(b.exchange !== null) - Number(a.exchange !== null) || a.ext.localeCompare(b.ext),
      );
    const own = files.find((f) => f.interval === interval);
    if (own) return own;
    const finer = files
      .filter((f) => f.interval !== null && divides(f.interval, interval))
      .sort((a, b) => intervalMs(b.interval!) - intervalMs(a.interval!))[0];
    if (finer) return finer;
    const any = files.find((f) => f.interval === null);
    if (any) return any;
    if (files.length)
      throw new MarketDataError(
        'UNSUPPORTED_INTERVAL',
        `The data files for ${symbol} hold ${[...new Set(files.map((f) => f.interval))].join(', ')} bars; ${interval} cannot be made from them`,
      );
    throw new MarketDataError('UNKNOWN_SYMBOL', `No data file for ${symbol}`);
  }

  async #load(file: FileName): Promise<Loaded> {
    const path = join(this.#dir, file.name);
    let stamp: string;
    try {
      const s = await stat(path);
      stamp = `${s.size}:${s.mtimeMs}`;
    } catch (err) {
      throw new MarketDataError('UPSTREAM_ERROR', `Cannot read ${file.name}`, { cause: err });
    }
    const hit = this.#files.get(path);
    if (hit && hit.stamp === stamp) return hit.loaded;
    const loaded = this.#parse(path, file, stamp);
    this.#files.set(path, { stamp, loaded });
    // A failed parse is not kept: the next request tries again (the file may be fixed by then).
    loaded.catch(() => {
      if (this.#files.get(path)?.loaded === loaded) this.#files.delete(path);
    });
    return loaded;
  }

  async #parse(path: string, file: FileName, stamp: string): Promise<Loaded> {
    this.#parses++;
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new MarketDataError('UPSTREAM_ERROR', `Cannot read ${file.name}`, { cause: err });
    }
    const parsed: ParsedRows =
      file.ext === 'csv' ? parseCsvRows(text, file.name) : parseJsonRows(text, file.name);
    const clean = cleanBars(parsed.rows, file.interval, { closedWeekends: parsed.format === 'yahoo' });
    const skipped = { 'non-positive': 0, 'high-below-low': 0, duplicate: 0, spike: 0 } as Record<
      SkipReason,
      number
    >;
    for (const s of clean.skipped) skipped[s.reason]++;
    const report: FileReport = {
      name: file.name,
      format: parsed.format,
      rows: parsed.rows.length + parsed.unparseable,
      bars: clean.bars.length,
      unparseable: parsed.unparseable,
      skipped,
      gaps: clean.gaps.length,
      missingBars: clean.gaps.reduce((n, g) => n + g.missing, 0),
      from: clean.bars[0] ? iso(clean.bars[0].time) : null,
      to: clean.bars.at(-1) ? iso(clean.bars.at(-1)!.time) : null,
    };
    const left = report.rows - report.bars;
    if (left || report.gaps) {
      const reasons = [
        ...(report.unparseable ? [`${report.unparseable} unparseable`] : []),
        ...Object.entries(skipped)
          .filter(([, n]) => n)
          .map(([r, n]) => `${n} ${r}`),
      ];
      this.#onWarning(
        `${file.name}: ${report.bars} bars from ${report.rows} rows; skipped ${left}${reasons.length ? ` (${reasons.join(', ')})` : ''}; ${report.gaps} gaps (${report.missingBars} missing bars)`,
      );
    }
    return { stamp, file, clean, report, series: new Map() };
  }

  /** Skipped rows and gaps inside the span of the returned bars. */
  #warnings(loaded: Loaded, first: number, last: number, interval: Interval): string[] {
    const end = addBars(last, interval, 1);
    const out: string[] = [];
    const skipped = loaded.clean.skipped.filter((s) => s.time >= first && s.time < end);
    if (skipped.length) {
      const by = new Map<string, number>();
      for (const s of skipped) by.set(s.reason, (by.get(s.reason) ?? 0) + 1);
      const what = [...by].map(([r, n]) => `${n} ${r}`).join(', ');
      out.push(`${loaded.file.name}: ${skipped.length} rows skipped among these bars (${what})`);
    }
    const gaps = loaded.clean.gaps.filter((g) => g.before > first && g.after < end);
    if (gaps.length) {
      const missing = gaps.reduce((n, g) => n + g.missing, 0);
      const where = gaps
        .slice(0, 3)
        .map((g) => `${g.missing} after ${iso(g.after)}`)
        .join(', ');
      out.push(
        `${loaded.file.name}: ${missing} bars missing among these bars (${where}${gaps.length > 3 ? ', …' : ''})`,
      );
    }
    return out;
  }
}

/** Whether bars of `to` can be made of whole bars of `from`. */
function divides(from: Interval, to: Interval): boolean {
  const fromMonths = intervalMonths(from);
  const toMonths = intervalMonths(to);
  if (toMonths)
    return fromMonths ? toMonths > fromMonths && toMonths % fromMonths === 0 : intervalMs(from) <= 86_400_000;
  if (fromMonths) return false;
  const a = intervalMs(from);
  const b = intervalMs(to);
  return b > a && b % a === 0;
}

/** Source bars in one full target bar; a first bucket with fewer is dropped (its open is wrong). */
function perBar(from: Interval, to: Interval): number {
  const fromMonths = intervalMonths(from);
  const toMonths = intervalMonths(to);
  if (toMonths && fromMonths) return toMonths / fromMonths;
  if (toMonths) return Math.floor((28 * 86_400_000 * toMonths) / intervalMs(from));
  return Math.round(intervalMs(to) / intervalMs(from));
}
