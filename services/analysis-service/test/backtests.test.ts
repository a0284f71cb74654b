import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BacktestCreate, BacktestGet, BacktestTrades } from '@chartwright/contracts';
import { callRpc, createLogger, newId, openDatabase, type RunningService } from '@chartwright/kit';
import { eventually, testEngines } from '@chartwright/kit/testing';
import { FolderObjectStore } from '@chartwright/object-store';
import { startQuotaService } from '@chartwright/quota-service';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuiltinAnalyst } from '../src/analyst/builtin.js';
import type { AnalysisDb } from '../src/db/schema.js';
import { analysisService } from '../src/index.js';

const { pairs } = await testEngines(afterAll);
const logger = createLogger('test', 'silent');
// Real hourly bars cut from the shipped files (the repository's own copy: CI may clone it anywhere).
const MARKET = path.resolve(import.meta.dirname, '../../../packages/market/test/fixtures/history');

type Pair = (typeof pairs)[number];

/**
 * quota-service and `replicas` analysis-services on the file market data, for one describe: its
 * database handle for reading the tables directly, stopped and removed after it.
 */
function backtestServices(
  tdb: Pair[1],
  tb: Pair[2],
  replicas: number,
  extraEnv: Record<string, string> = {},
) {
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
      ...extraEnv,
    };
    const rt = { bus: tb.bus, database: tdb.target, logger, env };
    services.push(await startQuotaService(rt));
    const objects = new FolderObjectStore(path.join(dataDir, 'objects'));
    for (let i = 0; i < replicas; i++)
      services.push(await analysisService({ objects, analyst: new BuiltinAnalyst() })(rt));
  });
  afterAll(async () => {
    for (const s of services.reverse()) await s.stop();
    await db.destroy();
    await rm(dataDir, { recursive: true, force: true });
  });
  return db;
}

describe.each(pairs)('backtests shared by two analysis-service replicas [%s]', (_name, tdb, tb) => {
  const db = backtestServices(tdb, tb, 2);

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

// Terminating sessions needs the real server: PGlite has no other sessions to end.
describe.each(pairs.filter(([name]) => name.startsWith('postgres')))(
  'a backtest whose database sessions are terminated [%s]',
  (_name, tdb, tb) => {
    const db = backtestServices(tdb, tb, 1, {
      BACKTEST_LEASE_MS: '1000',
      ANALYSIS_MAX_ATTEMPTS: '20',
      ANALYSIS_RETRY_BACKOFF_MS: '50,100',
    });

    const settled = async (userId: string, backtestId: string) => {
      let status = '';
      await eventually(async () => {
        status = (await callRpc(tb.bus, BacktestGet, { userId, backtestId })).status;
        return status !== 'queued' && status !== 'running';
      }, 60_000);
      return status;
    };
    const allTrades = async (userId: string, backtestId: string) => {
      const out = [];
      for (let offset = 0; ; offset += 1000) {
        const page = await callRpc(tb.bus, BacktestTrades, { userId, backtestId, offset, limit: 1000 });
        out.push(...page.trades);
        if (page.trades.length < 1000) return out;
      }
    };

    it('pauses on the lost session and resumes, ending with the trades of an undisturbed run', async () => {
      const userId = newId();
      const request = {
        symbol: 'BINANCE:BTCUSDT',
        interval: '1h' as const,
        from: '2020-01-01T00:00:00Z',
        to: '2020-04-01T00:00:00Z',
        step: 1,
        analyst: 'builtin' as const,
      };
      const calm = (await callRpc(tb.bus, BacktestCreate, { userId, request })).id;
      expect(await settled(userId, calm)).toBe('completed');

      const disturbed = (await callRpc(tb.bus, BacktestCreate, { userId, request })).id;
      // End every session caught writing or reading the job's trades (a save of a batch of steps,
      // the resume point, the final read) while the job runs: bounded in count and time.
      let ended = 0;
      const stopAt = Date.now() + 30_000;
      while (ended < 12 && Date.now() < stopAt) {
        const row = await db.db
          .selectFrom('backtests')
          .select(['status', 'done', 'total'])
          .where('id', '=', disturbed)
          .executeTakeFirstOrThrow();
        if (row.status !== 'queued' && row.status !== 'running') break;
        const r = await sql<{ ok: boolean }>`select pg_terminate_backend(pid) as ok from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid()
            and state in ('active', 'idle in transaction') and query ilike '%backtest_trades%'`.execute(
          db.db,
        );
        ended += r.rows.filter((x) => x.ok).length;
        await new Promise((r) => setTimeout(r, 2));
      }
      console.log(`backtest under terminated sessions: ${ended} sessions ended`);
      expect(ended).toBeGreaterThan(0);
      expect(await settled(userId, disturbed)).toBe('completed');
      const b = await callRpc(tb.bus, BacktestGet, { userId, backtestId: disturbed });
      expect(b.progress.done).toBe(b.progress.total);
      const trades = await allTrades(userId, disturbed);
      expect(trades).toHaveLength(b.progress.total);
      expect(trades).toEqual(await allTrades(userId, calm));
    }, 120_000);
  },
);
