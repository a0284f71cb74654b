import {
  AnalysisBacktestFinished,
  EventEnvelope,
  QuotaCommit,
  QuotaGet,
  QuotaRelease,
  QuotaReserve,
  QuotaSetPlan,
  QuotaThresholdReached,
  QuotaUsage,
  UsageBatchRecorded,
  UsageRecorded,
  UserPlanChanged,
  UserRegistered,
} from '@chartwright/contracts';
import { callRpc, createLogger, makeEvent, newId, publishEvent, type RunningService } from '@chartwright/kit';
import { eventually, testEngines, uniqueName } from '@chartwright/kit/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { nextReset, startQuotaService } from '../src/index.js';

const { pairs } = await testEngines(afterAll);
const logger = createLogger('test', 'silent');

// One pairing per engine: JetStream with PostgreSQL, the in-process bus with PGlite.

describe.each(pairs)('quota-service [%s]', (_name, tdb, tb) => {
  let service: RunningService;
  afterAll(async () => {
    await service?.stop();
  });

  it('starts, migrates, and creates a quota row on user.registered', async () => {
    service = await startQuotaService({
      bus: tb.bus,
      database: tdb.target,
      logger,
      env: { QUOTA_RESERVATION_TTL_SECONDS: '1', QUOTA_SWEEP_INTERVAL_MS: '100' },
    });
    const userId = newId();
    await publishEvent(
      tb.bus,
      makeEvent(
        UserRegistered,
        { userId, email: 'q@example.com', name: null, plan: 'pro', role: 'user' },
        { source: 'test' },
      ),
    );
    const snap = await eventually(async () => {
      const s = await callRpc(tb.bus, QuotaGet, { userId });
      return s.plan === 'pro' ? s : null;
    });
    expect(snap).toMatchObject({ charts: { used: 0, limit: 100 }, analyses: { used: 0, limit: 50 } });
    expect(snap.resetAt).toBe(nextReset(new Date()).toISOString());
  });

  it('keeps the newest plan when plan events arrive out of order, and a late signup event changes nothing', async () => {
    const userId = newId();
    const at = (offsetMs: number) => new Date(Date.now() - 60_000 + offsetMs);
    const changed = (plan: 'pro' | 'enterprise', previousPlan: 'free' | 'pro', time: Date) =>
      makeEvent(
        UserPlanChanged,
        { userId, previousPlan, plan, changedBy: newId() },
        { source: 'test', time },
      );
    // Made in this order: signup, free → pro, pro → enterprise. Delivered backwards.
    await publishEvent(tb.bus, changed('enterprise', 'pro', at(2_000)));
    await publishEvent(tb.bus, changed('pro', 'free', at(1_000)));
    await publishEvent(
      tb.bus,
      makeEvent(
        UserRegistered,
        { userId, email: `late-${userId}@example.com`, name: null, plan: 'free', role: 'user' },
        { source: 'test', time: at(0) },
      ),
    );
    // A marker behind them on the same consumer: once it is applied, so are they.
    const marker = newId();
    await publishEvent(
      tb.bus,
      makeEvent(
        UserRegistered,
        { userId: marker, email: `m-${marker}@example.com`, name: null, plan: 'pro', role: 'user' },
        { source: 'test' },
      ),
    );
    await eventually(async () => (await callRpc(tb.bus, QuotaGet, { userId: marker })).plan === 'pro');
    expect((await callRpc(tb.bus, QuotaGet, { userId })).plan).toBe('enterprise');
  });

  it('announces quota.threshold_reached at 80 % and 100 %, once per user, resource, threshold and month', async () => {
    const userId = newId();
    const seen: EventEnvelope[] = [];
    const sub = await tb.bus.consume(
      { stream: 'QUOTA', durable: uniqueName('thresholds'), filterSubject: 'quota.threshold_reached' },
      async (d) => {
        const e = EventEnvelope.parse(JSON.parse(Buffer.from(d.data).toString()));
        if ((e.data as { userId: string }).userId === userId) seen.push(e);
        d.ack();
      },
    );
    try {
      // Free plan: 5 charts a month; 80 % is reached by the 4th, 100 % by the 5th.
      for (let i = 1; i <= 5; i++) {
        const reservationId = newId();
        const r = await callRpc(tb.bus, QuotaReserve, { userId, kind: 'charts', amount: 1, reservationId });
        expect(r.granted).toBe(true);
        await callRpc(tb.bus, QuotaCommit, { reservationId });
        // A repeated commit (a redelivered chart.generated) announces nothing more.
        await callRpc(tb.bus, QuotaCommit, { reservationId });
        if (i === 3) expect(seen).toEqual([]);
      }
      await eventually(() => seen.length >= 2, 10_000);
      await new Promise((r) => setTimeout(r, 1_500));
      expect(seen.map((e) => QuotaThresholdReached.envelope.parse(e).data)).toEqual([
        expect.objectContaining({
          userId,
          plan: 'free',
          resource: 'charts',
          threshold: 80,
          used: 4,
          limit: 5,
        }),
        expect.objectContaining({
          userId,
          plan: 'free',
          resource: 'charts',
          threshold: 100,
          used: 5,
          limit: 5,
        }),
      ]);
    } finally {
      await sub.stop();
    }
  });

  it('grants exactly the remaining units to 200 concurrent reservations', async () => {
    const userId = newId();
    await callRpc(tb.bus, QuotaSetPlan, { userId, plan: 'pro' });
    // Bring usage to 90 of 100 so 10 remain.
    const setup = await callRpc(tb.bus, QuotaReserve, {
      userId,
      kind: 'charts',
      amount: 90,
      reservationId: newId(),
      ttlSeconds: 3600,
    });
    expect(setup.granted).toBe(true);
    const results = await Promise.all(
      Array.from({ length: 200 }, () =>
        callRpc(
          tb.bus,
          QuotaReserve,
          { userId, kind: 'charts', amount: 1, reservationId: newId(), ttlSeconds: 3600 },
          { timeoutMs: 30_000 },
        ),
      ),
    );
    expect(results.filter((r) => r.granted)).toHaveLength(10);
    const last = results.at(-1)!;
    expect(last.quota.charts.used).toBe(100);
  });

  it('grants a user not seen before exactly the free plan, however many ask at once', async () => {
    // No quota row yet: the reservations race to create it.
    for (let round = 0; round < 5; round++) {
      const userId = newId();
      const results = await Promise.all(
        Array.from({ length: 8 }, () =>
          callRpc(tb.bus, QuotaReserve, {
            userId,
            kind: 'charts',
            amount: 1,
            reservationId: newId(),
            ttlSeconds: 3600,
          }),
        ),
      );
      expect(results.filter((r) => r.granted)).toHaveLength(5);
      expect((await callRpc(tb.bus, QuotaGet, { userId })).charts).toEqual({ used: 5, limit: 5 });
    }
  });

  it('is idempotent by reservation id and gives units back after a dead flow times out', async () => {
    const userId = newId();
    const reservationId = newId();
    const a = await callRpc(tb.bus, QuotaReserve, {
      userId,
      kind: 'analyses',
      amount: 1,
      reservationId,
      ttlSeconds: 1,
    });
    const b = await callRpc(tb.bus, QuotaReserve, {
      userId,
      kind: 'analyses',
      amount: 1,
      reservationId,
      ttlSeconds: 1,
    });
    expect(a.granted && b.granted).toBe(true);
    expect(b.quota.analyses.used).toBe(1);
    // Nobody commits: the sweeper releases it after the TTL.
    const after = await eventually(
      async () => {
        const r = await callRpc(tb.bus, QuotaReserve, {
          userId,
          kind: 'analyses',
          amount: 3,
          reservationId: newId(),
          ttlSeconds: 3600,
        });
        return r.granted ? r : null;
      },
      10_000,
      200,
    );
    expect(after.quota.analyses.used).toBe(3);
    // The flow did finish, late (a backlog): its commit charges the unit again, past the limit,
    // once, and a release afterwards changes nothing.
    expect((await callRpc(tb.bus, QuotaCommit, { reservationId })).state).toBe('committed');
    expect((await callRpc(tb.bus, QuotaCommit, { reservationId })).state).toBe('committed');
    expect((await callRpc(tb.bus, QuotaRelease, { reservationId })).state).toBe('committed');
    expect((await callRpc(tb.bus, QuotaGet, { userId })).analyses.used).toBe(4);
  });

  it('writes the ledger from usage batches and single requests, each event once', async () => {
    const userId = newId();
    const at = new Date().toISOString();
    const day = at.slice(0, 10);
    const batch = makeEvent(
      UsageBatchRecorded,
      {
        userId,
        endpoint: '/v1/user',
        method: 'GET',
        statusCode: 200,
        count: 7,
        durationMsSum: 14,
        durationMsMax: 5,
        chartsGenerated: 0,
        analysesPerformed: 0,
        tokensUsed: 0,
        from: at,
        to: at,
      },
      { source: 'test' },
    );
    const failed = makeEvent(
      UsageBatchRecorded,
      {
        userId,
        endpoint: '/v1/charts/generate',
        method: 'POST',
        statusCode: 429,
        count: 2,
        durationMsSum: 2,
        durationMsMax: 1,
        chartsGenerated: 0,
        analysesPerformed: 0,
        tokensUsed: 0,
        from: at,
        to: at,
      },
      { source: 'test' },
    );
    const single = makeEvent(
      UsageRecorded,
      {
        userId,
        endpoint: '/v1/charts/generate',
        method: 'POST',
        statusCode: 201,
        durationMs: 3,
        chartsGenerated: 1,
        at,
      },
      { source: 'test' },
    );
    // The batch delivered twice (a redelivery) counts once.
    for (const e of [batch, failed, single, batch]) await publishEvent(tb.bus, e);
    const days = await eventually(async () => {
      const r = await callRpc(tb.bus, QuotaUsage, { userId, from: day, to: day });
      return r.days[0]?.requests === 10 ? r.days : null;
    });
    expect(days).toEqual([
      { date: day, requests: 10, errors: 2, chartsGenerated: 1, analysesPerformed: 0, tokensUsed: 0 },
    ]);
  });
  it("settles a backtest's reservation on analysis.backtest_finished: the analyses used are charged, the rest given back, once", async () => {
    const userId = newId();
    await publishEvent(
      tb.bus,
      makeEvent(
        UserRegistered,
        { userId, email: `bt-${userId}@example.com`, name: null, plan: 'pro', role: 'user' },
        { source: 'test' },
      ),
    );
    await eventually(async () => (await callRpc(tb.bus, QuotaGet, { userId })).plan === 'pro');
    const used = async () => (await callRpc(tb.bus, QuotaGet, { userId })).analyses.used;
    const reserve = async (amount: number) => {
      const reservationId = newId();
      const r = await callRpc(tb.bus, QuotaReserve, {
        userId,
        kind: 'analyses',
        amount,
        reservationId,
        ttlSeconds: 3_600,
      });
      expect(r.granted).toBe(true);
      return reservationId;
    };
    const finished = (reservationId: string, analysesUsed: number, status: 'completed' | 'cancelled') =>
      makeEvent(
        AnalysisBacktestFinished,
        {
          backtestId: newId(),
          userId,
          status,
          reservationId,
          analysesUsed,
          done: analysesUsed,
          total: 10,
          error: null,
          at: new Date().toISOString(),
        },
        { source: 'test' },
      );

    // A model backtest of 10 steps cancelled after 4: 10 held, 4 charged.
    const model = await reserve(10);
    expect(await used()).toBe(10);
    const cancelled = finished(model, 4, 'cancelled');
    await publishEvent(tb.bus, cancelled);
    await eventually(async () => (await used()) === 4);
    // Delivered again: nothing changes.
    await publishEvent(tb.bus, cancelled);
    // A backtest cancelled before its first step: all given back.
    const early = await reserve(3);
    expect(await used()).toBe(7);
    await publishEvent(tb.bus, finished(early, 0, 'cancelled'));
    await eventually(async () => (await used()) === 4);
    const state = await callRpc(tb.bus, QuotaRelease, { reservationId: model });
    expect(state.state).toBe('committed');
    expect(await used()).toBe(4);
  });
});
