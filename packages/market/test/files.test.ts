import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MarketDataError } from '../src/errors.js';
import { parseFileName } from '../src/files/names.js';
import { FileProvider } from '../src/providers/file.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
/** Trimmed, unedited copies of the shipped CryptoDataDownload files (plus their URL line). */
const market = path.join(fixtures, 'market');
const iso = (t: number) => new Date(t).toISOString();

describe('FileProvider on CryptoDataDownload files as downloaded', () => {
  it('reads newest-first rows in both timestamp formats, keeping the first row of a duplicated hour', async () => {
    const warned: string[] = [];
    const fp = new FileProvider(market, { onWarning: (m) => warned.push(m) });
    const r = await fp.getBars({ symbol: 'BINANCE:BTCUSDT', interval: '1h', limit: 1000 });
    expect(r).toMatchObject({ source: 'file:Binance_BTCUSDT_1h.csv', synthetic: false });
    // 15 days of hours; the 296 `.0`-second rows repeat hours the ms rows already have.
    expect(r.bars).toHaveLength(360);
    expect(iso(r.bars[0]!.time)).toBe('2020-11-08T00:00:00.000Z');
    expect(iso(r.bars.at(-1)!.time)).toBe('2020-11-22T23:00:00.000Z');
    for (let i = 1; i < r.bars.length; i++) expect(r.bars[i]!.time - r.bars[i - 1]!.time).toBe(3_600_000);
    // 2020-11-20 07:00 is in the file twice; the first (ms) row says 18212, the second 18143.03.
    expect(r.bars.find((b) => iso(b.time) === '2020-11-20T07:00:00.000Z')!.close).toBe(18212);
    expect(r.warnings).toEqual(['Binance_BTCUSDT_1h.csv: 296 rows skipped among these bars (296 duplicate)']);
    const { report } = await fp.series('BINANCE:BTCUSDT', '1h');
    expect(report).toMatchObject({ format: 'cryptodatadownload', rows: 656, bars: 360, gaps: 0 });
    expect(report.skipped).toEqual({ 'non-positive': 0, 'high-below-low': 0, duplicate: 296, spike: 0 });
    expect(warned).toEqual([
      'Binance_BTCUSDT_1h.csv: 360 bars from 656 rows; skipped 296 (296 duplicate); 0 gaps (0 missing bars)',
    ]);
  });

  it('skips the oldest bar with its absurd high, and counts it', async () => {
    const fp = new FileProvider(path.join(fixtures, 'cdd-oldest'));
    const r = await fp.getBars({ symbol: 'BINANCE:BTCUSDT', interval: '1h', limit: 100 });
    // 2017-08-17 04:00: open and high 16199.91, close 4308.83.
    expect(iso(r.bars[0]!.time)).toBe('2017-08-17T05:00:00.000Z');
    expect(r.bars).toHaveLength(47);
    expect(Math.max(...r.bars.map((b) => b.high))).toBeLessThan(4500);
    const { report } = await fp.series('BINANCE:BTCUSDT', '1h');
    expect(report.skipped.spike).toBe(1);
    // The warning names the skip when the bars reach back to it, not otherwise.
    expect(r.warnings).toEqual(['Binance_BTCUSDT_1h.csv: 1 rows skipped among these bars (1 spike)']);
    const later = await fp.getBars({ symbol: 'BINANCE:BTCUSDT', interval: '1h', limit: 10 });
    expect(later.warnings).toBeUndefined();
  });

  it('resamples 1h to 4h as computed by hand from the file', async () => {
    const fp = new FileProvider(market);
    const r = await fp.getBars({
      symbol: 'BINANCE:BTCUSDT',
      interval: '4h',
      end: Date.parse('2020-11-21T00:00:00Z'),
      limit: 6,
    });
    expect(r.warnings?.[0]).toBe('Binance_BTCUSDT_1h.csv: 1h bars resampled to 4h');
    const at = (t: string) => r.bars.find((b) => iso(b.time) === t)!;
    // Hours 00..03 of 2020-11-21.
    const a = at('2020-11-21T00:00:00.000Z');
    expect(a).toMatchObject({ open: 18655.66, high: 18965.9, low: 18620.46, close: 18659.48 });
    expect(a.volume).toBeCloseTo(3624.052497 + 3723.708654 + 5050.324286 + 3151.550503, 6);
    // Hours 04..07 of 2020-11-20, each in the file twice: the ms rows count.
    const b = at('2020-11-20T04:00:00.000Z');
    expect(b).toMatchObject({ open: 17955.06, high: 18404.68, low: 17941.66, close: 18212 });
    expect(b.volume).toBeCloseTo(5089.809664 + 2816.692881 + 2523.079494 + 6097.86638, 6);
    expect(iso(r.bars.at(-1)!.time)).toBe('2020-11-21T00:00:00.000Z');
    expect(r.bars.map((x) => iso(x.time).slice(11, 13))).toEqual(['04', '08', '12', '16', '20', '00']);
  });

  it('serves 1D from the daily file and resamples ETH hours to days', async () => {
    const fp = new FileProvider(market);
    const btc = await fp.getBars({ symbol: 'BINANCE:BTCUSDT', interval: '1D', limit: 3 });
    expect(btc.source).toBe('file:Binance_BTCUSDT_d.csv');
    expect(btc.bars.map((b) => iso(b.time).slice(0, 10))).toEqual(['2020-11-20', '2020-11-21', '2020-11-22']);
    const eth = await fp.getBars({ symbol: 'binance:ethusdt', interval: '1D', limit: 100 });
    expect(eth.source).toBe('file:Binance_ETHUSDT_1h.csv');
    expect(eth.bars).toHaveLength(15);
    await expect(fp.getBars({ symbol: 'BINANCE:BTCUSDT', interval: '15m' })).rejects.toMatchObject({
      code: 'UNSUPPORTED_INTERVAL',
    });
    await expect(fp.getBars({ symbol: 'BINANCE:DOGEUSDT', interval: '1h' })).rejects.toMatchObject({
      code: 'UNKNOWN_SYMBOL',
    });
  });

  it('gives the bars after an instant (start), for following a signal', async () => {
    const fp = new FileProvider(market);
    const r = await fp.getBars({
      symbol: 'BINANCE:BTCUSDT',
      interval: '1h',
      start: Date.parse('2020-11-22T20:30:00Z'),
      limit: 10,
    });
    expect(r.bars.map((b) => iso(b.time).slice(11, 13))).toEqual(['21', '22', '23']);
    const span = await fp.getBars({
      symbol: 'BINANCE:BTCUSDT',
      interval: '1h',
      start: Date.parse('2020-11-10T00:00:00Z'),
      end: Date.parse('2020-11-10T05:00:00Z'),
      limit: 50_000,
    });
    expect(span.bars).toHaveLength(6);
  });
});

describe('FileProvider: parse once, then windows by binary search', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cw-files-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('answers windows of a 36,000-bar file without reading it again, until it changes', async () => {
    const start = Date.UTC(2017, 7, 17);
    const rows: string[] = [];
    for (let i = 36_000 - 1; i >= 0; i--) {
      const p = 4000 + i / 10;
      rows.push(`${start + i * 3_600_000},x,BTC/USDT,${p},${p + 5},${p - 5},${p + 1},1.5,6000,10`);
    }
    const file = path.join(dir, 'Binance_BTCUSDT_1h.csv');
    const header = 'unix,date,symbol,open,high,low,close,Volume BTC,Volume USDT,tradecount';
    await writeFile(file, `https://www.CryptoDataDownload.com\n${header}\n${rows.join('\n')}\n`);
    const fp = new FileProvider(dir);
    await fp.getBars({ symbol: 'BINANCE:BTCUSDT', interval: '1h' });
    expect(fp.parses).toBe(1);

    const t0 = performance.now();
    for (let k = 0; k < 200; k++) {
      const end = start + (500 + k * 150) * 3_600_000;
      const r = await fp.getBars({ symbol: 'BINANCE:BTCUSDT', interval: '1h', limit: 450, end });
      expect(r.bars).toHaveLength(450);
      expect(r.bars.at(-1)!.time).toBe(end);
    }
    const perWindow = (performance.now() - t0) / 200;
    expect(fp.parses).toBe(1);
    // A stat and a binary search, far below a parse of the whole file.
    expect(perWindow).toBeLessThan(20);

    // The file changes: it is read again.
    await writeFile(file, `${header}\n${rows.slice(0, 100).join('\n')}\n`);
    await utimes(file, new Date(), new Date(Date.now() + 5_000));
    const fresh = await fp.getBars({ symbol: 'BINANCE:BTCUSDT', interval: '1h', limit: 1000 });
    expect(fp.parses).toBe(2);
    expect(fresh.bars).toHaveLength(100);
  });
});

describe('FileProvider: other layouts and bad rows', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cw-files-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads a Yahoo CSV, skipping its null rows', async () => {
    await writeFile(
      path.join(dir, 'NASDAQ_AAPL_1D.csv'),
      [
        'Date,Open,High,Low,Close,Adj Close,Volume',
        '2024-01-02,187.15,188.44,183.89,185.64,184.94,82488700',
        '2024-01-03,184.22,185.88,183.43,184.25,183.55,58414500',
        '2024-01-04,null,null,null,null,null,null',
        '2024-01-05,181.99,182.76,180.17,181.18,180.50,62303300',
        '2024-01-08,182.09,185.60,181.50,185.56,184.86,59144500',
      ].join('\n'),
    );
    const warned: string[] = [];
    const fp = new FileProvider(dir, { onWarning: (m) => warned.push(m) });
    const r = await fp.getBars({ symbol: 'NASDAQ:AAPL', interval: '1D' });
    expect(r.bars.map((b) => iso(b.time).slice(0, 10))).toEqual([
      '2024-01-02',
      '2024-01-03',
      '2024-01-05',
      '2024-01-08',
    ]);
    expect(r.bars[0]).toEqual({
      time: Date.UTC(2024, 0, 2),
      open: 187.15,
      high: 188.44,
      low: 183.89,
      close: 185.64,
      volume: 82488700,
    });
    const { report } = await fp.series('NASDAQ:AAPL', '1D');
    expect(report).toMatchObject({ format: 'yahoo', unparseable: 1 });
    // The weekend is not a gap; the null row's day is.
    expect(report.gaps).toBe(1);
    expect(warned[0]).toContain('skipped 1 (1 unparseable)');
  });

  it('reads Binance klines as CSV (no header) and JSON, resampling 1m to 5m', async () => {
    const t0 = Date.UTC(2024, 4, 1);
    const klines = Array.from({ length: 10 }, (_, i) => [
      t0 + i * 60_000,
      `${100 + i}.00000000`,
      `${102 + i}.00000000`,
      `${99 + i}.00000000`,
      `${101 + i}.00000000`,
      '2.00000000',
      t0 + (i + 1) * 60_000 - 1,
      '200.0',
      7,
      '1.0',
      '100.0',
      '0',
    ]);
    await writeFile(path.join(dir, 'BTCUSDT-1m.csv'), 'not a data file name');
    await writeFile(path.join(dir, 'BINANCE_SOLUSDT_1m.csv'), klines.map((k) => k.join(',')).join('\n'));
    await writeFile(path.join(dir, 'BINANCE_XRPUSDT_1m.json'), JSON.stringify(klines));
    const fp = new FileProvider(dir);
    for (const symbol of ['BINANCE:SOLUSDT', 'BINANCE:XRPUSDT']) {
      const r = await fp.getBars({ symbol, interval: '5m' });
      expect(r.bars).toEqual([
        { time: t0, open: 100, high: 106, low: 99, close: 105, volume: 10 },
        { time: t0 + 300_000, open: 105, high: 111, low: 104, close: 110, volume: 10 },
      ]);
    }
    expect((await fp.series('BINANCE:XRPUSDT', '1m')).report.format).toBe('binance-klines-json');
  });

  it('skips and counts unparseable, crossed, non-positive and duplicate rows, and finds gaps', async () => {
    const h = (n: number) => Date.UTC(2024, 0, 1, n);
    await writeFile(
      path.join(dir, 'TEST_BAD_1h.csv'),
      [
        'time,open,high,low,close,volume',
        `${h(0)},10,11,9,10.5,1`,
        `${h(1)},10,11,9,abc,1`,
        `${h(2)},10,9,11,10,1`,
        `${h(3)},0,11,9,10,1`,
        `${h(4)},10,11,9,10.5,1`,
        `${h(4)},10,12,9,10.5,1`,
        `${h(5)},10,11,9,10.5,1`,
        `${h(9)},10,11,9,10.5,1`,
        'garbage',
      ].join('\n'),
    );
    const fp = new FileProvider(dir);
    const r = await fp.getBars({ symbol: 'TEST:BAD', interval: '1h' });
    expect(r.bars.map((b) => new Date(b.time).getUTCHours())).toEqual([0, 4, 5, 9]);
    const { report } = await fp.series('TEST:BAD', '1h');
    expect(report).toMatchObject({ rows: 9, bars: 4, unparseable: 2, gaps: 2, missingBars: 6 });
    expect(report.skipped).toEqual({ 'non-positive': 1, 'high-below-low': 1, duplicate: 1, spike: 0 });
    expect(r.warnings).toEqual([
      'TEST_BAD_1h.csv: 3 rows skipped among these bars (1 high-below-low, 1 non-positive, 1 duplicate)',
      `TEST_BAD_1h.csv: 6 bars missing among these bars (3 after ${iso(h(0))}, 3 after ${iso(h(5))})`,
    ]);
  });

  it('answers a bad file with an error, and reads it once it is fixed', async () => {
    const file = path.join(dir, 'TEST_BROKEN_1h.json');
    await writeFile(file, '{"bars": [1, 2');
    const fp = new FileProvider(dir);
    const err = await fp.getBars({ symbol: 'TEST:BROKEN', interval: '1h' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MarketDataError);
    expect(err).toMatchObject({ code: 'UPSTREAM_ERROR' });
    await writeFile(path.join(dir, 'TEST_EMPTY_1h.csv'), 'time,open,high,low,close\n1,x,y,z,w\n');
    await expect(fp.getBars({ symbol: 'TEST:EMPTY', interval: '1h' })).rejects.toMatchObject({
      code: 'UPSTREAM_ERROR',
    });
    await writeFile(
      file,
      JSON.stringify({ bars: [{ time: '2024-01-01T00:00:00Z', open: 1, high: 2, low: 1, close: 2 }] }),
    );
    await utimes(file, new Date(), new Date(Date.now() + 5_000));
    expect((await fp.getBars({ symbol: 'TEST:BROKEN', interval: '1h' })).bars).toHaveLength(1);
  });
});

describe('parseFileName', () => {
  it('reads exchange, ticker and interval the ways tools write them', () => {
    expect(parseFileName('Binance_BTCUSDT_d.csv')).toMatchObject({
      exchange: 'Binance',
      ticker: 'BTCUSDT',
      interval: '1D',
    });
    expect(parseFileName('Binance_BTCUSDT_1h.csv')).toMatchObject({ interval: '1h' });
    expect(parseFileName('Binance_BTCUSDT_minute.csv')).toMatchObject({ interval: '1m' });
    expect(parseFileName('SPY_1M.csv')).toMatchObject({ exchange: null, ticker: 'SPY', interval: '1M' });
    expect(parseFileName('BTCUSDT.json')).toMatchObject({
      exchange: null,
      ticker: 'BTCUSDT',
      interval: null,
    });
    expect(parseFileName('README.md')).toBeNull();
    expect(parseFileName('a_b_c_d.csv')).toBeNull();
  });
});
