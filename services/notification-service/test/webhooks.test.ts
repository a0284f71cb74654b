import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeEvent, eventHeaders, newId, publishEvent } from '@chartwright/kit';
import { eventually, testEngines } from '@chartwright/kit/testing';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notificationService } from '../src/index.js';
import { completed } from './events.js';
import { type Receiver, type Stack, startReceiver, startStack } from './support.js';

const { pairs } = await testEngines(afterAll);

const verify = (secret: string, r: { body: string; headers: Record<string, string> }) =>
  new StandardWebhook(secret).verify(r.body, r.headers) as { type: string; timestamp: string; data: any };

describe.each(pairs)('webhooks [%s]', (_name, db, tb) => {
  let dir: string;
  let stack: Stack;
  let receiver: Receiver;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cw-notif-'));
    receiver = await startReceiver((p, n) => {
      if (p.startsWith('/flaky')) return n === 1 ? 500 : 200;
      if (p.startsWith('/hang')) return 'hang';
      if (p.startsWith('/down')) return 503;
      return 200;
    });
    stack = await startStack(
      tb.bus,
      db,
      dir,
      {
        WEBHOOKS_ALLOW_PRIVATE: 'true',
        WEBHOOKS_ALLOW_HTTP: 'true',
        WEBHOOK_RETRY_SCHEDULE: '1,1,1',
        NOTIFICATION_POLL_INTERVAL_MS: '200',
      },
      notificationService(),
    );
  });
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function endpoint(token: string, p: string, events: string[] = ['*']) {
    const res = await stack.call(token, 'POST', '/v1/webhooks', {
      url: `${receiver.base}${p}`,
      events,
      description: 'mine',
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().data as { id: string; secret: string; url: string };
  }

  it('delivers analysis.completed after a real analysis, signed per Standard Webhooks', async () => {
    const { token, user } = await stack.signup(`wh-${newId()}@example.com`);
    const p = `/ok/${newId()}`;
    const ep = await endpoint(token, p, ['analysis.completed']);
    expect(ep.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const listed = (await stack.call(token, 'GET', '/v1/webhooks')).json().data.webhooks;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      id: ep.id,
      events: ['analysis.completed'],
      description: 'mine',
      enabled: true,
    });
    expect(JSON.stringify(listed)).not.toContain('whsec_');
    expect(JSON.stringify((await stack.call(token, 'GET', `/v1/webhooks/${ep.id}`)).json())).not.toContain(
      'whsec_',
    );

    const chartId = newId();
    await stack.chartOf(user.id, chartId);
    const res = await stack.call(token, 'POST', `/v1/charts/${chartId}/analyze`, {});
    expect(res.statusCode, res.body).toBe(200);
    const analysis = res.json().data;

    const [got] = await eventually(() => receiver.at(p).length > 0 && receiver.at(p), 15_000);
    expect(got!.headers['content-type']).toBe('application/json');
    expect(got!.headers['user-agent']).toMatch(/Chartwright/);
    expect(got!.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
    const msg = verify(ep.secret, got!);
    expect(msg.type).toBe('analysis.completed');
    expect(msg.data).toEqual({
      analysisId: analysis.analysisId,
      chartId,
      symbol: 'BINANCE:ETHUSDT',
      interval: '1h',
      trend: analysis.analysis.trend,
      recommendation: analysis.analysis.recommendation,
      entryPrice: analysis.analysis.entryPrice,
      stopLoss: analysis.analysis.stopLoss,
      takeProfit: analysis.analysis.takeProfit,
      confidence: analysis.analysis.confidence,
      riskRewardRatio: analysis.analysis.riskRewardRatio,
      model: analysis.metadata.model,
      completedAt: expect.any(String),
    });
    // Another secret does not verify it.
    expect(() => verify(`whsec_${Buffer.alloc(32, 1).toString('base64')}`, got!)).toThrow();

    // The attempt's outcome is recorded just after the receiver has the delivery (in batches).
    const list = await eventually(async () => {
      const data = (await stack.call(token, 'GET', `/v1/webhooks/${ep.id}/deliveries`)).json().data;
      return data.deliveries[0]?.status === 'succeeded' && data;
    }, 10_000);
    expect(list.deliveries).toHaveLength(1);
    expect(list.deliveries[0]).toMatchObject({
      id: got!.headers['webhook-id'],
      eventType: 'analysis.completed',
      status: 'succeeded',
      attempts: 1,
      lastStatusCode: 200,
      lastError: null,
      nextAttemptAt: null,
    });
    expect(list.pagination).toEqual({ total: 1, limit: 50, offset: 0, hasMore: false });
  });

  it('rotate-secret: both secrets verify during the overlap; webhook.test, the detail and a manual retry', async () => {
    const { token } = await stack.signup(`rot-${newId()}@example.com`);
    const p = `/ok/${newId()}`;
    const ep = await endpoint(token, p);
    const rot = await stack.call(token, 'POST', `/v1/webhooks/${ep.id}/rotate-secret`);
    expect(rot.statusCode, rot.body).toBe(200);
    const { secret, previousSecretExpiresAt } = rot.json().data;
    expect(secret).not.toBe(ep.secret);
    expect(Date.parse(previousSecretExpiresAt) - Date.now()).toBeGreaterThan(23.9 * 3_600_000);

    const test = await stack.call(token, 'POST', `/v1/webhooks/${ep.id}/test`);
    expect(test.statusCode, test.body).toBe(200);
    const delivery = test.json().data.delivery;
    expect(delivery).toMatchObject({ eventType: 'webhook.test', status: 'succeeded', attempts: 1 });
    const [got] = receiver.at(p);
    expect(got!.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(verify(secret, got!).type).toBe('webhook.test');
    expect(verify(ep.secret, got!).data).toEqual({ webhookId: ep.id, message: expect.any(String) });

    const retry = await stack.call(token, 'POST', `/v1/webhooks/${ep.id}/deliveries/${delivery.id}/retry`);
    expect(retry.statusCode, retry.body).toBe(200);
    expect(retry.json().data.delivery).toMatchObject({ id: delivery.id, status: 'succeeded', attempts: 2 });
    const both = receiver.at(p);
    expect(both).toHaveLength(2);
    expect(both[1]!.headers['webhook-id']).toBe(both[0]!.headers['webhook-id']);

    const detail = (await stack.call(token, 'GET', `/v1/webhooks/${ep.id}/deliveries/${delivery.id}`)).json()
      .data.delivery;
    expect(detail.attemptsLog).toHaveLength(2);
    expect(detail.attemptsLog[0]).toMatchObject({ statusCode: 200, error: null, responseBody: 'answer 200' });
    expect(detail.attemptsLog[0].durationMs).toBeGreaterThanOrEqual(0);
  });

  it("another user's endpoint and deliveries are 404 on every route; bad bodies are 400 naming the field", async () => {
    const a = await stack.signup(`a-${newId()}@example.com`);
    const b = await stack.signup(`b-${newId()}@example.com`);
    const ep = await endpoint(a.token, `/ok/${newId()}`);
    const d = (await stack.call(a.token, 'POST', `/v1/webhooks/${ep.id}/test`)).json().data.delivery;
    const calls: ['GET' | 'POST' | 'PATCH' | 'DELETE', string, unknown?][] = [
      ['GET', `/v1/webhooks/${ep.id}`],
      ['PATCH', `/v1/webhooks/${ep.id}`, { enabled: false }],
      ['POST', `/v1/webhooks/${ep.id}/rotate-secret`],
      ['POST', `/v1/webhooks/${ep.id}/test`],
      ['GET', `/v1/webhooks/${ep.id}/deliveries`],
      ['GET', `/v1/webhooks/${ep.id}/deliveries/${d.id}`],
      ['POST', `/v1/webhooks/${ep.id}/deliveries/${d.id}/retry`],
      ['DELETE', `/v1/webhooks/${ep.id}`],
    ];
    for (const [method, url, body] of calls) {
      const res = await stack.call(b.token, method, url, body);
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json().error.code).toBe('NOT_FOUND');
    }
    expect((await stack.call(b.token, 'GET', '/v1/webhooks')).json().data.webhooks).toEqual([]);
    // Still there for its owner.
    expect((await stack.call(a.token, 'GET', `/v1/webhooks/${ep.id}`)).json().data.enabled).toBe(true);

    for (const [body, field] of [
      [{ url: 'not a url', events: ['*'] }, 'url'],
      [{ url: `${receiver.base}/x`, events: [] }, 'events'],
      [{ url: `${receiver.base}/x`, events: ['analysis.exploded'] }, 'events'],
      [{ url: `${receiver.base}/x` }, 'events'],
    ] as const) {
      const res = await stack.call(a.token, 'POST', '/v1/webhooks', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().error.code).toBe('VALIDATION_ERROR');
      expect(res.json().error.message).toContain(field);
    }
    const del = await stack.call(a.token, 'DELETE', `/v1/webhooks/${ep.id}`);
    expect(del.statusCode).toBe(200);
    expect((await stack.call(a.token, 'GET', `/v1/webhooks/${ep.id}`)).statusCode).toBe(404);
  });

  it('keeps at most WEBHOOK_MAX_ENDPOINTS (20) endpoints per user', async () => {
    const { token } = await stack.signup(`many-${newId()}@example.com`);
    for (let i = 0; i < 20; i++) await endpoint(token, `/ok/many-${i}`);
    const res = await stack.call(token, 'POST', '/v1/webhooks', {
      url: `${receiver.base}/ok/one-more`,
      events: ['*'],
    });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.message).toMatch(/at most 20/);
  });

  it('a 500 then a 200: two attempts with the same webhook-id', async () => {
    const { token, user } = await stack.signup(`flaky-${newId()}@example.com`);
    const p = `/flaky/${newId()}`;
    const ep = await endpoint(token, p, ['analysis.completed']);
    await publishEvent(tb.bus, completed(user.id));
    const got = await eventually(() => receiver.at(p).length >= 2 && receiver.at(p), 15_000);
    expect(got[0]!.headers['webhook-id']).toBe(got[1]!.headers['webhook-id']);
    verify(ep.secret, got[1]!);
    // Recorded just after the receiver has the second attempt.
    const d = await eventually(async () => {
      const [first] = (await stack.call(token, 'GET', `/v1/webhooks/${ep.id}/deliveries`)).json().data
        .deliveries;
      return first?.status === 'succeeded' && first;
    }, 10_000);
    expect(d).toMatchObject({ status: 'succeeded', attempts: 2, lastStatusCode: 200 });
    const detail = (await stack.call(token, 'GET', `/v1/webhooks/${ep.id}/deliveries/${d.id}`)).json().data
      .delivery;
    expect(detail.attemptsLog.map((a: { statusCode: number }) => a.statusCode)).toEqual([500, 200]);
  });

  it('an endpoint that keeps failing is failed after the schedule, and listed by status', async () => {
    const { token, user } = await stack.signup(`down-${newId()}@example.com`);
    const p = `/down/${newId()}`;
    const ep = await endpoint(token, p);
    await publishEvent(tb.bus, completed(user.id));
    // The schedule has three waits: four attempts, then failed.
    await eventually(async () => {
      const l = (await stack.call(token, 'GET', `/v1/webhooks/${ep.id}/deliveries?status=failed`)).json()
        .data;
      return l.deliveries.length === 1 && l.deliveries[0].attempts === 4;
    }, 20_000);
    expect(receiver.at(p)).toHaveLength(4);
    expect(
      (await stack.call(token, 'GET', `/v1/webhooks/${ep.id}/deliveries?status=pending`)).json().data
        .deliveries,
    ).toEqual([]);
  });

  it('a redelivered event (same id, published again) creates no second delivery', async () => {
    const { token, user } = await stack.signup(`dup-${newId()}@example.com`);
    const p = `/ok/${newId()}`;
    const ep = await endpoint(token, p);
    const e = completed(user.id);
    // A different Nats-Msg-Id gets past the bus's own de-duplication, as a redelivery would.
    for (let i = 0; i < 3; i++)
      await tb.bus.publish(e.type, encodeEvent(e), { msgId: `${e.id}-${i}`, headers: eventHeaders(e) });
    await eventually(() => receiver.at(p).length >= 1, 10_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(receiver.at(p)).toHaveLength(1);
    expect(
      (await stack.call(token, 'GET', `/v1/webhooks/${ep.id}/deliveries`)).json().data.pagination.total,
    ).toBe(1);
  });

  it("an endpoint that never answers does not hold up another user's deliveries", async () => {
    const slow = await stack.signup(`slow-${newId()}@example.com`);
    const fast = await stack.signup(`fast-${newId()}@example.com`);
    const hang = `/hang/${newId()}`;
    const p = `/ok/${newId()}`;
    await endpoint(slow.token, hang);
    await endpoint(fast.token, p);
    // More than the per-endpoint cap, all held open by the receiver.
    for (let i = 0; i < 12; i++) await publishEvent(tb.bus, completed(slow.user.id));
    await eventually(() => receiver.at(hang).length >= 4, 10_000);
    const sent = Date.now();
    await publishEvent(tb.bus, completed(fast.user.id));
    const [got] = await eventually(() => receiver.at(p).length > 0 && receiver.at(p), 5_000);
    expect(got!.at - sent).toBeLessThan(1_000);
    // The cap held: only four of the twelve reached the hanging endpoint.
    expect(receiver.at(hang)).toHaveLength(4);
  });
});
