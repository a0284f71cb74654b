import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chartwright, isApiError } from '../src/index.js';
import type { BacktestProgress } from '../src/types.js';
import { type EmbeddedApp, startEmbeddedApp } from './support/embedded.js';

// Real hourly bars cut from the shipped files (the repository's own copy: CI may clone it anywhere).
const MARKET = path.resolve(import.meta.dirname, '../../market/test/fixtures/history');

describe('cw.backtests against the embedded app [postgres] [jetstream] [redis]', () => {
  let app: EmbeddedApp;
  beforeAll(async () => {
    app = await startEmbeddedApp({
      RATE_LIMIT_FREE_PER_MIN: '1000',
      MARKET_DATA: 'file',
      MARKET_DATA_DIR: MARKET,
    });
  }, 120_000);
  afterAll(async () => {
    await app?.close();
  });

  it('creates a backtest, follows it to the end, reads its trades and equity curve, lists and deletes it', async () => {
    const anonymous = new Chartwright({ baseUrl: app.url });
    const email = `sdk-bt-${Date.now()}@example.com`;
    const session = await anonymous.auth.signup({ email, password: 'long enough password' });
    if (!('token' in session)) throw new Error('signup asked for verification');
    const cw = anonymous.withCredentials({ token: session.token });

    const created = await cw.backtests.create({
      symbol: 'BINANCE:ETHUSDT',
      interval: '1h',
      from: '2020-06-01T00:00:00Z',
      to: '2020-06-15T00:00:00Z',
      step: 8,
      analyst: 'builtin',
    });
    expect(created.status).toBe('queued');
    const seen: BacktestProgress[] = [];
    const done = await cw.backtests.wait(created.id, { onProgress: (p) => seen.push(p) });
    expect(done.status).toBe('completed');
    expect(seen.at(-1)).toMatchObject({ status: 'completed', done: created.progress.total });
    expect(done.trades).toHaveLength(created.progress.total);
    expect(done.scorecard.signals).toBe(done.trades.length);
    expect(done.baselines?.random.seed).toEqual(expect.any(Number));

    const svg = await cw.backtests.equity(created.id, 'svg');
    expect(svg.contentType).toContain('image/svg+xml');
    expect(new TextDecoder().decode(svg.bytes)).toContain('<svg');

    const ids: string[] = [];
    for await (const b of cw.backtests.iterate({ limit: 1 })) ids.push(b.id);
    expect(ids).toEqual([created.id]);

    await cw.backtests.delete(created.id);
    const gone = await cw.backtests.get(created.id).catch((e) => e);
    expect(isApiError(gone, 'NOT_FOUND')).toBe(true);
  }, 120_000);
});
