import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { analysisService } from '@chartwright/analysis-service';
// The service under test next to the gateway; imported by path as the gateway does not depend on it.
import {
  type Analyst,
  type AnalystAnswer,
  AnalystError,
  type AnalystInput,
  BuiltinAnalyst,
} from '@chartwright/analysis-service/analyst';
import { QuotaSetPlan } from '@chartwright/contracts';
import { callRpc, newId, publishEvent } from '@chartwright/kit';
import {
  chartGeneratedEvent,
  chartKnownToAnalysis,
  type TestBus,
  type TestDatabase,
  testEngines,
} from '@chartwright/kit/testing';
import { chartObjectKey, FolderObjectStore } from '@chartwright/object-store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, signup, startHarness } from './harness.js';

const { pairs } = await testEngines(afterAll);

const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(256)]);

class SwitchableAnalyst implements Analyst {
  inner: Analyst = new BuiltinAnalyst();
  get model() {
    return this.inner.model;
  }
  analyse(input: AnalystInput, signal?: AbortSignal): Promise<AnalystAnswer> {
    return this.inner.analyse(input, signal);
  }
}

interface SseEvent {
  id?: string;
  event: string;
  data: any;
}

function parseSse(body: string): SseEvent[] {
  return body
    .split('\n\n')
    .filter((block) => block.trim() && !block.startsWith(':'))
    .map((block) => {
      const e: SseEvent = { event: 'message', data: undefined };
      for (const line of block.split('\n')) {
        const [k, ...rest] = line.split(': ');
        const v = rest.join(': ');
        if (k === 'id') e.id = v;
        if (k === 'event') e.event = v;
        if (k === 'data') e.data = JSON.parse(v);
      }
      return e;
    });
}

describe.each(pairs)('analyses over REST [%s]', (_name, db: TestDatabase, tb: TestBus) => {
  let h: Harness;
  let dir: string;
  let objects: FolderObjectStore;
  const analyst = new SwitchableAnalyst();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'gw-analyses-'));
    objects = new FolderObjectStore(path.join(dir, 'objects'));
    h = await startHarness(
      tb.bus,
      db,
      { RATE_LIMIT_FREE_PER_MIN: '1000', ANALYSIS_TMP_DIR: path.join(dir, 'tmp') },
      [analysisService({ objects, analyst })],
    );
  });
  afterAll(async () => {
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function chartOf(userId: string) {
    const chartId = newId();
    const objectKey = chartObjectKey(userId, chartId, 'png');
    await objects.put(objectKey, PNG, 'image/png');
    await publishEvent(
      tb.bus,
      chartGeneratedEvent({
        chartId,
        userId,
        objectKey,
        size: PNG.length,
        symbol: 'BINANCE:ETHUSDT',
        interval: '1h',
        range: '1M',
        source: 'test',
      }),
    );
    await chartKnownToAnalysis(db.target, chartId);
    return chartId;
  }

  const call = (token: string, method: 'GET' | 'POST', url: string, payload?: unknown, headers = {}) =>
    h.app.inject({
      method,
      url,
      payload: payload as never,
      headers: { authorization: `Bearer ${token}`, ...headers },
    });

  it('analyses a chart and waits for the result, in the design document shape; quota down by one', async () => {
    const { token, user } = await signup(h.app, `a-${newId()}@example.com`);
    const chartId = await chartOf(user.id);
    const before = (await call(token, 'GET', '/v1/user/quota')).json().data.quota.analyses;

    const res = await call(token, 'POST', `/v1/charts/${chartId}/analyze`, {
      prompt: 'Analyze this chart for day trading opportunities.',
      options: { includeRiskManagement: true, tradingStyle: 'day_trading', confidenceThreshold: 3 },
    });
    expect(res.statusCode, res.body).toBe(200);
    const data = res.json().data;
    expect(Object.keys(data).sort()).toEqual(['analysis', 'analysisId', 'metadata', 'quota']);
    expect(Object.keys(data.analysis)).toEqual(
      expect.arrayContaining([
        'trend',
        'signals',
        'recommendation',
        'entryPrice',
        'stopLoss',
        'takeProfit',
        'confidence',
        'riskRewardRatio',
        'analysisText',
        'keyLevels',
      ]),
    );
    expect(data.metadata).toMatchObject({ model: 'chartwright-technical-v1', tokensUsed: 0 });
    expect(typeof data.metadata.processingTime).toBe('number');
    expect(data.quota).toEqual({
      used: before.used + 1,
      limit: before.limit,
      remaining: before.remaining - 1,
    });
    expect((await call(token, 'GET', '/v1/user/quota')).json().data.quota.analyses.used).toBe(
      before.used + 1,
    );

    const got = await call(token, 'GET', `/v1/analyses/${data.analysisId}`);
    expect(got.statusCode).toBe(200);
    expect(got.json().data.analysis).toMatchObject({
      id: data.analysisId,
      chartId,
      status: 'completed',
      trend: data.analysis.trend,
      recommendation: data.analysis.recommendation,
      analysisText: data.analysis.analysisText,
      options: { tradingStyle: 'day_trading', confidenceThreshold: 3 },
    });
    expect(await readdir(path.join(dir, 'tmp'))).toEqual([]);
  });

  it('answers 202 with a Location when asked not to wait, and streams progress as Server-Sent Events', async () => {
    const { token, user } = await signup(h.app, `b-${newId()}@example.com`);
    await callRpc(tb.bus, QuotaSetPlan, { userId: user.id, plan: 'pro' });
    const chartId = await chartOf(user.id);

    const quick = await call(token, 'POST', `/v1/charts/${chartId}/analyze?wait=0`, {});
    expect(quick.statusCode, quick.body).toBe(202);
    const id = quick.json().data.analysisId;
    expect(quick.json().data.status).toBe('queued');
    expect(quick.headers.location).toBe(`/v1/analyses/${id}`);

    const stream = await call(token, 'GET', `/v1/analyses/${id}/events`);
    expect(stream.statusCode).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
    const events = parseSse(stream.body);
    expect(events.map((e) => e.event)).toEqual(['queued', 'downloading', 'analysing', 'completed']);
    expect(events.at(-1)!.data).toMatchObject({
      analysisId: id,
      status: 'completed',
      metadata: { tokensUsed: 0 },
    });
    expect(events.at(-1)!.data.analysis.signals.length).toBeGreaterThan(0);

    // A finished analysis replays its steps at once.
    const replay = parseSse((await call(token, 'GET', `/v1/analyses/${id}/events`)).body);
    expect(replay).toEqual(events);

    const preferred = await call(
      token,
      'POST',
      `/v1/charts/${chartId}/analyze`,
      {},
      { prefer: 'respond-async' },
    );
    expect(preferred.statusCode).toBe(202);
    expect(preferred.headers['preference-applied']).toBe('respond-async');

    const list = await call(token, 'GET', `/v1/analyses?chartId=${chartId}&limit=1&offset=0`);
    expect(list.json().data.pagination).toEqual({ total: 2, limit: 1, offset: 0, hasMore: true });
    expect(list.json().data.analyses[0].id).toBe(preferred.json().data.analysisId);
    const page2 = await call(token, 'GET', `/v1/analyses?chartId=${chartId}&limit=1&offset=1`);
    expect(page2.json().data.analyses[0].id).toBe(id);
    expect(page2.json().data.pagination.hasMore).toBe(false);
  });

  it('answers a failed analysis with 502, its reason and id, and gives the quota back', async () => {
    const { token, user } = await signup(h.app, `c-${newId()}@example.com`);
    const chartId = await chartOf(user.id);
    analyst.inner = {
      model: 'broken',
      analyse: async () => {
        throw new AnalystError('AUTH', 'the model API refused the credentials');
      },
    };
    try {
      const res = await call(token, 'POST', `/v1/charts/${chartId}/analyze?wait=10`, {});
      expect(res.statusCode, res.body).toBe(502);
      const error = res.json().error;
      expect(error.code).toBe('UPSTREAM_ERROR');
      expect(error.message).toMatch(/refused the credentials/);
      expect(error.details).toMatchObject({ code: 'AUTH' });
      const events = parseSse(
        (await call(token, 'GET', `/v1/analyses/${error.details.analysisId}/events`)).body,
      );
      expect(events.at(-1)).toMatchObject({ event: 'failed', data: { error: { code: 'AUTH' } } });
    } finally {
      analyst.inner = new BuiltinAnalyst();
    }
    for (let i = 0; i < 50; i++) {
      const q = (await call(token, 'GET', '/v1/user/quota')).json().data.quota.analyses;
      if (q.used === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the failed analysis was not refunded');
  });

  it('ends open progress streams when the gateway shuts down, so its drain does not wait for them', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    analyst.inner = {
      model: 'slow',
      analyse: async (input) => {
        await released;
        return new BuiltinAnalyst().analyse(input);
      },
    };
    // A second gateway, on a real port, that will be shut down under an open stream.
    const other = await startHarness(tb.bus, db, { RATE_LIMIT_FREE_PER_MIN: '1000' });
    try {
      const { token, user } = await signup(h.app, `sse-${newId()}@example.com`);
      const chartId = await chartOf(user.id);
      const id = (await call(token, 'POST', `/v1/charts/${chartId}/analyze?wait=0`, {})).json().data
        .analysisId;
      const url = await other.app.listen({ port: 0, host: '127.0.0.1' });
      const res = await fetch(`${url}/v1/analyses/${id}/events`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes('event: queued')) text += new TextDecoder().decode((await reader.read()).value);
      const started = Date.now();
      await other.close();
      expect(Date.now() - started).toBeLessThan(5_000);
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
        text += new TextDecoder().decode(chunk.value);
      expect(text).toContain('retry: 1000');
    } finally {
      release();
      analyst.inner = new BuiltinAnalyst();
      await other.close().catch(() => undefined);
    }
  }, 30_000);

  it("never lets a user analyse or read another user's charts and analyses (404)", async () => {
    const alice = await signup(h.app, `alice-${newId()}@example.com`);
    const bob = await signup(h.app, `bob-${newId()}@example.com`);
    const chartId = await chartOf(alice.user.id);
    const mine = await call(alice.token, 'POST', `/v1/charts/${chartId}/analyze`, {});
    expect(mine.statusCode).toBe(200);
    const id = mine.json().data.analysisId;

    const analyse = await call(bob.token, 'POST', `/v1/charts/${chartId}/analyze`, {});
    expect(analyse.statusCode).toBe(404);
    expect(analyse.json().error.code).toBe('NOT_FOUND');
    expect((await call(bob.token, 'GET', `/v1/analyses/${id}`)).statusCode).toBe(404);
    const events = await call(bob.token, 'GET', `/v1/analyses/${id}/events`);
    expect(events.statusCode).toBe(404);
    expect(events.json().error.code).toBe('NOT_FOUND');
    const list = await call(bob.token, 'GET', `/v1/analyses?chartId=${chartId}`);
    expect(list.json().data).toMatchObject({ analyses: [], pagination: { total: 0 } });
    expect((await call(bob.token, 'GET', '/v1/user/quota')).json().data.quota.analyses.used).toBe(0);
    expect((await call(alice.token, 'GET', `/v1/analyses/${id}`)).statusCode).toBe(200);
  });
});
