import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startChartService } from '@chartwright/chart-service';
import { type TestBus, type TestDatabase, testEngines } from '@chartwright/kit/testing';
import { startStorageService } from '@chartwright/storage-service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, signup, startHarness } from './harness.js';

const { pairs } = await testEngines(afterAll);
/** Trimmed, unedited copies of the shipped Binance files. */
const MARKET = path.resolve(import.meta.dirname, '../../../packages/market/test/fixtures/market');

describe.each(pairs)('historical charts over REST [%s]', (_name, db: TestDatabase, tb: TestBus) => {
  let h: Harness;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'cw-gw-history-'));
    h = await startHarness(
      tb.bus,
      db,
      {
        DATA_DIR: dataDir,
        SIGNING_SECRET: 'gateway-history-tests-signing-secret-32-bytes',
        PUBLIC_URL: 'https://api.chartwright.test',
        MARKET_DATA: 'file',
        MARKET_DATA_DIR: MARKET,
      },
      [startStorageService, startChartService],
    );
  });
  afterAll(async () => {
    await h?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('draws the real bars up to end, and answers 400 naming end outside the data', async () => {
    const { token } = await signup(h.app, 'history@example.com');
    const generate = (payload: unknown) =>
      h.app.inject({
        method: 'POST',
        url: '/v1/charts/generate',
        payload: payload as never,
        headers: { authorization: `Bearer ${token}` },
      });
    const res = await generate({ symbol: 'BINANCE:BTCUSDT', interval: '4h', end: '2020-11-21T10:30:00Z' });
    expect(res.statusCode).toBe(201);
    const body = res.json().data;
    expect(body.metadata.synthetic).toBe(false);
    expect(body.warnings).toContain('Binance_BTCUSDT_1h.csv: 1h bars resampled to 4h');
    const got = await h.app.inject({
      method: 'GET',
      url: `/v1/charts/${body.chartId}`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(got.json().data.chart.config.end).toBe('2020-11-21T10:30:00Z');

    for (const end of ['2099-01-01T00:00:00Z', '2019-01-01T00:00:00Z']) {
      const bad = await generate({ symbol: 'BINANCE:BTCUSDT', interval: '1h', end });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.details).toMatchObject([{ field: 'end' }]);
    }
    const notDate = await generate({ symbol: 'BINANCE:BTCUSDT', interval: '1h', end: 'yesterday' });
    expect(notDate.statusCode).toBe(400);
    expect(JSON.stringify(notDate.json().error.details)).toContain('end');
  });
});
