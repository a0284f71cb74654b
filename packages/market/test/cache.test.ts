import { describe, expect, it } from 'vitest';
import type { BarsResult } from '../src/bars.js';
import { CachedProvider } from '../src/providers/cached.js';
import type { BarsRequest, MarketDataProvider } from '../src/providers/provider.js';

function counting(delayMs = 10) {
  const calls: BarsRequest[] = [];
  let fail = false;
  const inner: MarketDataProvider = {
    async getBars(req) {
      calls.push(req);
      await new Promise((r) => setTimeout(r, delayMs));
      if (fail) throw new Error('boom');
      const bars = [{ time: calls.length, open: 1, high: 1, low: 1, close: 1, volume: 1 }];
      return { bars, source: 'test', synthetic: false } satisfies BarsResult;
    },
  };
  return { inner, calls, setFail: (f: boolean) => (fail = f) };
}

describe('CachedProvider', () => {
  it('serves repeats from cache until the TTL passes', async () => {
    let now = 0;
    const { inner, calls } = counting();
    const cached = new CachedProvider(inner, { ttlMs: 30_000, now: () => now });
    const req = { symbol: 'BINANCE:BTCUSDT', interval: '1h', limit: 100 } as const;
    const a = await cached.getBars(req);
    now = 29_000;
    await cached.getBars(req);
    expect(calls).toHaveLength(1);
    a.bars[0]!.close = 999; // callers own their copy
    expect((await cached.getBars(req)).bars[0]!.close).toBe(1);
    now = 30_001;
    await cached.getBars(req);
    expect(calls).toHaveLength(2);
    // A different limit or interval is a different entry; range resolves to a limit.
    await cached.getBars({ ...req, limit: 168 });
    await cached.getBars({ symbol: req.symbol, interval: '1h', range: '7D' });
    expect(calls).toHaveLength(3);
  });

  it('shares one upstream call between concurrent identical requests', async () => {
    const { inner, calls } = counting(30);
    const cached = new CachedProvider(inner);
    const req = { symbol: 'BINANCE:ETHUSDT', interval: '4h' } as const;
    const results = await Promise.all(Array.from({ length: 10 }, () => cached.getBars(req)));
    expect(calls).toHaveLength(1);
    expect(new Set(results.map((r) => r.bars[0]!.time))).toEqual(new Set([1]));
  });

  it('does not cache failures, and one caller aborting does not fail the others', async () => {
    const { inner, calls, setFail } = counting(30);
    const cached = new CachedProvider(inner);
    const req = { symbol: 'A:B', interval: '1h' } as const;
    setFail(true);
    await expect(cached.getBars(req)).rejects.toThrow('boom');
    setFail(false);
    const ac = new AbortController();
    const aborted = cached.getBars({ ...req, signal: ac.signal });
    const other = cached.getBars(req);
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'ABORTED' });
    await expect(other).resolves.toMatchObject({ source: 'test' });
    expect(calls).toHaveLength(2);
  });

  it('stays within its size bound, evicting the least recently used', async () => {
    const { inner, calls } = counting(0);
    const cached = new CachedProvider(inner, { maxEntries: 2 });
    const get = (symbol: string) => cached.getBars({ symbol, interval: '1h' });
    await get('A:A');
    await get('B:B');
    await get('A:A'); // A becomes most recent
    await get('C:C'); // evicts B
    expect(cached.size).toBe(2);
    await get('A:A');
    expect(calls).toHaveLength(3);
    await get('B:B');
    expect(calls).toHaveLength(4);
  });
});
