import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { barCountFor } from '../src/bars.js';
import { MarketDataError } from '../src/errors.js';
import { BinanceProvider } from '../src/providers/binance.js';
import { FileProvider } from '../src/providers/file.js';
import { RoutingProvider } from '../src/providers/routing.js';
import { SyntheticProvider } from '../src/providers/synthetic.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2025, 0, 1);

/** Binance's kline rows: numbers for times, strings for prices and volumes. */
function kline(openTime: number, ms: number, i: number): unknown[] {
  const o = 100 + i;
  return [
    openTime,
    o.toFixed(8),
    (o + 2).toFixed(8),
    (o - 1).toFixed(8),
    (o + 1).toFixed(8),
    '12.50000000',
    openTime + ms - 1,
    '1250.00000000',
    42,
    '6.00000000',
    '600.00000000',
    '0',
  ];
}

const INTERVAL_MS: Record<string, number> = { '15m': 15 * 60_000, '1h': HOUR, '1d': 24 * HOUR };

describe('BinanceProvider against a local server answering like Binance', () => {
  let server: Server;
  let baseUrl: string;
  const seen: URL[] = [];
  let mode: 'ok' | 'ratelimit' | 'banned' | 'slow' | 'error' = 'ok';

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push(url);
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      };
      if (url.pathname !== '/api/v3/klines') return json(404, {});
      if (mode === 'ratelimit')
        return json(429, { code: -1003, msg: 'Too many requests' }, { 'retry-after': '7' });
      if (mode === 'banned') return json(418, { code: -1003, msg: 'IP banned' });
      if (mode === 'error') return json(503, { code: -1001, msg: 'Internal error' });
      if (mode === 'slow') return void setTimeout(() => json(200, []), 500);
      const symbol = url.searchParams.get('symbol');
      if (symbol !== 'BTCUSDT') return json(400, { code: -1121, msg: 'Invalid symbol.' });
      const interval = url.searchParams.get('interval')!;
      const limit = Number(url.searchParams.get('limit'));
      const ms = INTERVAL_MS[interval];
      if (!ms) return json(400, { code: -1120, msg: 'Invalid interval.' });
      const rows = Array.from({ length: limit }, (_, i) => kline(T0 + i * ms, ms, i));
      json(200, rows);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  // Generous, so a busy machine does not time out; the slow case sets its own.
  const provider = (timeoutMs = 5_000) => new BinanceProvider({ baseUrl, timeoutMs });
  const failure = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MarketDataError);
    return err as MarketDataError;
  };

  it('fetches and parses klines, mapping the interval', async () => {
    mode = 'ok';
    const r = await provider().getBars({ symbol: 'BINANCE:BTCUSDT', interval: '1D', limit: 5 });
    expect(seen.at(-1)!.searchParams.get('interval')).toBe('1d');
    expect(seen.at(-1)!.searchParams.get('limit')).toBe('5');
    expect(r).toMatchObject({ source: 'binance', synthetic: false });
    expect(r.bars).toHaveLength(5);
    expect(r.bars[0]).toEqual({ time: T0, open: 100, high: 102, low: 99, close: 101, volume: 12.5 });
  });

  it('derives the bar count from the range', async () => {
    mode = 'ok';
    const r = await provider().getBars({ symbol: 'BINANCE:BTCUSDT', interval: '1h', range: '7D' });
    expect(r.bars).toHaveLength(168);
    expect(barCountFor('1Y', '1m')).toBe(1000);
    expect(barCountFor(undefined, '1h')).toBe(300);
  });

  it('aggregates intervals Binance lacks (45m from 15m)', async () => {
    mode = 'ok';
    const r = await provider().getBars({ symbol: 'BINANCE:BTCUSDT', interval: '45m', limit: 4 });
    expect(seen.at(-1)!.searchParams.get('interval')).toBe('15m');
    expect(r.bars).toHaveLength(4);
    for (const b of r.bars) expect(b.time % (45 * 60_000)).toBe(0);
    const b = r.bars[1]!;
    expect(b.volume).toBe(37.5);
    expect(b.close - b.open).toBe(3); // three 15m bars, each +1 open to open, last closes 1 above its open
  });

  it('maps Binance errors to typed codes', async () => {
    mode = 'ok';
    expect((await failure(provider().getBars({ symbol: 'BINANCE:NOPEUSDT', interval: '1h' }))).code).toBe(
      'UNKNOWN_SYMBOL',
    );
    expect((await failure(provider().getBars({ symbol: 'NASDAQ:AAPL', interval: '1h' }))).code).toBe(
      'UNKNOWN_SYMBOL',
    );
    mode = 'ratelimit';
    const limited = await failure(provider().getBars({ symbol: 'BINANCE:BTCUSDT', interval: '1h' }));
    expect(limited).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 7000 });
    mode = 'banned';
    expect((await failure(provider().getBars({ symbol: 'BINANCE:BTCUSDT', interval: '1h' }))).code).toBe(
      'RATE_LIMITED',
    );
    mode = 'error';
    const upstream = await failure(provider().getBars({ symbol: 'BINANCE:BTCUSDT', interval: '1h' }));
    expect(upstream.code).toBe('UPSTREAM_ERROR');
    expect(upstream.message).toContain('503');
    mode = 'slow';
    expect((await failure(provider(200).getBars({ symbol: 'BINANCE:BTCUSDT', interval: '1h' }))).code).toBe(
      'TIMEOUT',
    );
    const ac = new AbortController();
    const p = provider().getBars({ symbol: 'BINANCE:BTCUSDT', interval: '1h', signal: ac.signal });
    ac.abort();
    expect((await failure(p)).code).toBe('ABORTED');
  });

  it('reports an unreachable server as UPSTREAM_ERROR', async () => {
    const closed = new BinanceProvider({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 1000 });
    expect((await failure(closed.getBars({ symbol: 'BINANCE:BTCUSDT', interval: '1h' }))).code).toBe(
      'UPSTREAM_ERROR',
    );
  });
});

describe('FileProvider', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cw-market-'));
    await writeFile(
      join(dir, 'BTCUSDT.csv'),
      'time,open,high,low,close,volume\n2025-01-01T01:00:00Z,2,3,1,2.5,10\n2025-01-01T00:00:00Z,1,2,0.5,1.5,5\n',
    );
    await writeFile(
      join(dir, 'ETHUSDT_1D.json'),
      JSON.stringify([{ time: 1735689600, open: 1, high: 2, low: 0.5, close: 1.5, volume: 3 }]),
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads CSV (sorted) and JSON by symbol', async () => {
    const fp = new FileProvider(dir);
    const csv = await fp.getBars({ symbol: 'FILE:BTCUSDT', interval: '1h' });
    expect(csv).toMatchObject({ source: 'file:BTCUSDT.csv', synthetic: false });
    expect(csv.bars.map((b) => b.close)).toEqual([1.5, 2.5]);
    const json = await fp.getBars({ symbol: 'X:ETHUSDT', interval: '1D' });
    expect(json.bars[0]!.time).toBe(1735689600_000);
    const limited = await fp.getBars({ symbol: 'FILE:BTCUSDT', interval: '1h', limit: 1 });
    expect(limited.bars.map((b) => b.close)).toEqual([2.5]);
  });

  it('refuses unknown symbols and path tricks', async () => {
    const fp = new FileProvider(dir);
    await expect(fp.getBars({ symbol: 'FILE:NOPE', interval: '1h' })).rejects.toMatchObject({
      code: 'UNKNOWN_SYMBOL',
    });
    await expect(fp.getBars({ symbol: 'FILE:../etc', interval: '1h' })).rejects.toMatchObject({
      code: 'UNKNOWN_SYMBOL',
    });
  });
});

describe('SyntheticProvider', () => {
  const now = () => Date.UTC(2025, 5, 1, 12, 34);

  it('is deterministic per symbol, interval and seed, and labelled synthetic', async () => {
    const a = await new SyntheticProvider({ now }).getBars({
      symbol: 'DEMO:ABC',
      interval: '1h',
      limit: 200,
    });
    const b = await new SyntheticProvider({ now }).getBars({
      symbol: 'DEMO:ABC',
      interval: '1h',
      limit: 200,
    });
    const c = await new SyntheticProvider({ now, seed: 2 }).getBars({
      symbol: 'DEMO:ABC',
      interval: '1h',
      limit: 200,
    });
    expect(a).toMatchObject({ synthetic: true, source: 'synthetic' });
    expect(a.bars).toEqual(b.bars);
    expect(c.bars).not.toEqual(a.bars);
    // Longer requests only add older bars.
    const longer = await new SyntheticProvider({ now }).getBars({
      symbol: 'DEMO:ABC',
      interval: '1h',
      limit: 300,
    });
    expect(longer.bars.slice(-200)).toEqual(a.bars);
  });

  it('makes sane OHLCV bars on the interval grid, ending at the current bar', async () => {
    const { bars } = await new SyntheticProvider({ now }).getBars({
      symbol: 'X:Y',
      interval: '4h',
      limit: 1000,
    });
    expect(bars).toHaveLength(1000);
    expect(bars.at(-1)!.time).toBe(Date.UTC(2025, 5, 1, 12));
    for (const [i, b] of bars.entries()) {
      expect(b.high).toBeGreaterThanOrEqual(Math.max(b.open, b.close));
      expect(b.low).toBeLessThanOrEqual(Math.min(b.open, b.close));
      expect(b.low).toBeGreaterThan(0);
      expect(b.volume).toBeGreaterThan(0);
      if (i) expect(b.time - bars[i - 1]!.time).toBe(4 * HOUR);
    }
    // Volatility clustering: absolute returns are positively autocorrelated.
    const r = bars.slice(1).map((b, i) => Math.abs(Math.log(b.close / bars[i]!.close)));
    const mean = r.reduce((s, x) => s + x, 0) / r.length;
    let num = 0;
    let den = 0;
    for (let i = 1; i < r.length; i++) num += (r[i]! - mean) * (r[i - 1]! - mean);
    for (const x of r) den += (x - mean) ** 2;
    expect(num / den).toBeGreaterThan(0.05);
  });

  it('uses calendar months for monthly bars', async () => {
    const { bars } = await new SyntheticProvider({ now }).getBars({
      symbol: 'X:Y',
      interval: '3M',
      limit: 3,
    });
    expect(bars.map((b) => new Date(b.time).toISOString().slice(0, 10))).toEqual([
      '2024-10-01',
      '2025-01-01',
      '2025-04-01',
    ]);
  });
});

describe('RoutingProvider', () => {
  it('routes by exchange and falls back', async () => {
    const synthetic = new SyntheticProvider();
    const calls: string[] = [];
    const fake = {
      getBars: async () => {
        calls.push('binance');
        return { bars: [], source: 'binance', synthetic: false };
      },
    };
    const router = new RoutingProvider({ BINANCE: fake }, synthetic);
    await router.getBars({ symbol: 'BINANCE:BTCUSDT', interval: '1h' });
    expect(calls).toEqual(['binance']);
    expect((await router.getBars({ symbol: 'DEMO:X', interval: '1h', limit: 3 })).synthetic).toBe(true);
    await expect(new RoutingProvider({}).getBars({ symbol: 'A:B', interval: '1h' })).rejects.toMatchObject({
      code: 'UNKNOWN_SYMBOL',
    });
  });
});
