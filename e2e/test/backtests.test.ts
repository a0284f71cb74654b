import path from 'node:path';
import { eventually } from '@chartwright/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createStack, type Stack } from './support.js';

/*
 * Issue 14's backtest durability, with services as separate processes: the analysis-service
 * process running a backtest is killed (SIGKILL: no shutdown, its lease stays taken), a new one
 * starts, takes the job over once the lease lapses, resumes after the last saved step, and the
 * backtest ends with exactly the trades of a run nobody interrupted.
 */

// Real hourly bars cut from the shipped files (the repository's own copy: CI may clone it anywhere).
const MARKET = path.resolve(import.meta.dirname, '../../packages/market/test/fixtures/history');
/** Every hour of about five weeks: some 850 steps of the built-in analyst. */
const BACKTEST = {
  symbol: 'BINANCE:BTCUSDT',
  interval: '1h',
  from: '2020-03-01T00:00:00Z',
  to: '2020-04-05T00:00:00Z',
  step: 1,
  analyst: 'builtin',
};

describe('a backtest survives a SIGKILL of its worker [postgres] [jetstream] [s3rver]', () => {
  let stack: Stack;
  let url: string;
  let token: string;
  const env = {
    MARKET_DATA: 'file',
    MARKET_DATA_DIR: MARKET,
    QUOTA_PLANS_JSON: JSON.stringify({ free: { analyses: 100 } }),
    RATE_LIMIT_FREE_PER_MIN: '1000',
    BACKTEST_LEASE_MS: '2000',
    BACKTEST_POLL_MS: '200',
  };

  beforeAll(async () => {
    stack = await createStack();
    for (const s of ['quota-service', 'analysis-service']) await stack.start(s, env);
    url = (await stack.start('gateway', env, { port: stack.gatewayPort })).url;
    const body = { email: 'durable@example.com', password: 'long enough pw' };
    expect((await api(url, 'POST', '/v1/auth/signup', { body })).status).toBe(201);
    token = (await api(url, 'POST', '/v1/auth/login', { body })).body.data.token;
  });
  afterAll(async () => {
    await stack?.close();
  });

  const get = async (id: string) => {
    const res = await api(url, 'GET', `/v1/backtests/${id}`, { token });
    expect(res.status).toBe(200);
    return res.body.data;
  };
  const create = async () => {
    const res = await api(url, 'POST', '/v1/backtests', { token, body: BACKTEST });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.data.id as string;
  };
  const completed = (id: string) =>
    eventually(
      async () => {
        const b = await get(id);
        expect(b.status).not.toBe('failed');
        return b.status === 'completed' ? b : undefined;
      },
      180_000,
      250,
    );

  it('resumes after the last saved step and ends with the trades of an uninterrupted run', async () => {
    const interrupted = await create();
    const atKill = await eventually(
      async () => {
        const b = await get(interrupted);
        return b.progress.done >= 100 ? b : undefined;
      },
      60_000,
      50,
    );
    const worker = stack.processes.find((p) => p.name === 'analysis-service')!;
    await worker.stop('SIGKILL');
    stack.processes.splice(stack.processes.indexOf(worker), 1);
    // Nobody answers for analysis-service now: its table says where the job stands.
    const [row] = await stack.query<{
      status: string;
      leased_by: string | null;
      done: number;
      steps: string;
    }>(
      `select status, leased_by, done, (select count(*) from analysis.backtest_trades where backtest_id = $1) as steps
         from analysis.backtests where id = $1`,
      [interrupted],
    );
    expect(row).toMatchObject({ status: 'running' });
    expect(row!.leased_by).not.toBeNull();
    expect(row!.done).toBeGreaterThanOrEqual(atKill.progress.done);
    expect(row!.done, 'killed before the end').toBeLessThan(atKill.progress.total);
    expect(Number(row!.steps)).toBe(row!.done);

    await stack.start('analysis-service', env);
    const resumed = await completed(interrupted);
    const clean = await completed(await create());

    expect(resumed.progress).toEqual(clean.progress);
    expect(resumed.trades).toHaveLength(resumed.progress.total);
    expect(resumed.trades.map((t: { step: number }) => t.step)).toEqual(
      Array.from({ length: resumed.progress.total }, (_, i) => i),
    );
    expect(resumed.trades).toEqual(clean.trades);
    expect(resumed.scorecard).toEqual(clean.scorecard);
    expect(resumed.baselines.buyAndHold).toEqual(clean.baselines.buyAndHold);
    // One analysis each, charged once.
    expect(resumed.analysesCharged).toBe(1);
    await eventually(async () => {
      const q = await api(url, 'GET', '/v1/user/quota', { token });
      return q.body.data.quota.analyses.used === 2;
    });
  }, 300_000);

  it('gives the lease up on a graceful stop, so a new process resumes at once', async () => {
    const id = await create();
    await eventually(async () => (await get(id)).progress.done >= 50, 60_000, 50);
    const worker = stack.processes.find((p) => p.name === 'analysis-service')!;
    expect(await worker.stop('SIGTERM')).toBe(0);
    stack.processes.splice(stack.processes.indexOf(worker), 1);
    const [row] = await stack.query<{
      status: string;
      leased_by: string | null;
      done: number;
      total: number;
    }>('select status, leased_by, done, total from analysis.backtests where id = $1', [id]);
    expect(row).toMatchObject({ status: 'running', leased_by: null });
    expect(row!.done).toBeLessThan(row!.total);
    await stack.start('analysis-service', env);
    const done = await completed(id);
    expect(done.trades.map((t: { step: number }) => t.step)).toEqual(
      Array.from({ length: done.progress.total }, (_, i) => i),
    );
  }, 300_000);
});
