import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BacktestCreate, BacktestGet, BacktestTrades } from '@chartwright/contracts';
import { callRpc, createLogger, newId, openDatabase, type RunningService } from '@chartwright/kit';
import { eventually, testEngines } from '@chartwright/kit/testing';
import { FolderObjectStore } from '@chartwright/object-store';
import { startQuotaService } from '@chartwright/quota-service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuiltinAnalyst } from '../src/analyst/builtin.js';
import type { AnalysisDb } from '../src/db/schema.js';
import { analysisService } from '../src/index.js';

const { pairs } = await testEngines(afterAll);
const logger = createLogger('test', 'silent');
// Real hourly bars cut from the shipped files (the repository's own copy: CI may clone it anywhere).
const MARKET = path.resolve(import.meta.dirname, '../../../packages/market/test/fixtures/history');

describe.each(pairs)('backtests shared by two analysis-service replicas [%s]', (_name, tdb, tb) => {
  const services: RunningService[] = [];
  let dataDir: string;
  const db = openDatabase<AnalysisDb>(tdb.target, 'analysis');

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'analysis-backtests-'));
    const env = {
      ANALYSIS_TMP_DIR: path.join(dataDir, 'tmp'),
      MARKET_DATA: 'file',
      MARKET_DATA_DIR: MARKET,
      BACKTEST_CONCURRENCY: '1',
      BACKTEST_POLL_MS: '50',
      QUOTA_PLANS_JSON: JSON.stringify({ free: { analyses: 100 } }),
    };
    const rt = { bus: tb.bus, database: tdb.target, logger, env };
    services.push(await startQuotaService(rt));
    const objects = new FolderObjectStore(path.join(dataDir, 'objects'));
    for (let i = 0; i < 2; i++)
      services.push(await analysisService({ objects, analyst: new BuiltinAnalyst() })(rt));
  });
  afterAll(async () => {
    for (const s of services.reverse()) await s.stop();
    await db.destroy();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('runs each job on one replica at a time, both replicas taking jobs, every job to the same trades', async () => {
    const userId = newId();
    const request = {
      symbol: 'BINANCE:BTCUSDT',
      interval: '1h' as const,
      from: '2020-02-01T00:00:00Z',
      to: '2020-02-15T00:00:00Z',
      step: 1,
      analyst: 'builtin' as const,
    };
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await callRpc(tb.bus, BacktestCreate, { userId, request })).id);
    // Who holds each running job, as often as it can be read.
    const holders = new Map<string, Set<string>>();
    const watching = (async () => {
      for (;;) {
        const rows = await db.db
          .selectFrom('backtests')
          .select(['id', 'status', 'leased_by'])
          .where('id', 'in', ids)
          .execute();
        for (const r of rows)
          if (r.status === 'running' && r.leased_by)
            holders.set(r.id, (holders.get(r.id) ?? new Set()).add(r.leased_by));
        if (rows.every((r) => r.status === 'completed')) return;
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await eventually(() => watching.then(() => true), 60_000);

    // One holder per job (nobody took a job over from a live worker), and both replicas worked.
    for (const id of ids) expect(holders.get(id)?.size ?? 1).toBe(1);
    expect(new Set([...holders.values()].flatMap((s) => [...s])).size).toBe(2);

    const trades = await Promise.all(
      ids.map(async (backtestId) => {
        const b = await callRpc(tb.bus, BacktestGet, { userId, backtestId });
        expect(b).toMatchObject({ status: 'completed', analysesCharged: 1 });
        expect(b.progress.done).toBe(b.progress.total);
        const page = await callRpc(tb.bus, BacktestTrades, { userId, backtestId, offset: 0, limit: 1000 });
        expect(page.trades.map((t) => t.step)).toEqual(Array.from({ length: b.progress.total }, (_, i) => i));
        return page.trades;
      }),
    );
    for (const t of trades.slice(1)) expect(t).toEqual(trades[0]);
    // Another user sees none of them.
    await expect(
      callRpc(tb.bus, BacktestGet, { userId: newId(), backtestId: ids[0]! }),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  }, 90_000);
});
