import http from 'node:http';
import https from 'node:https';
import type {
  DeliveryListQuery,
  DeliveryListResponse,
  WebhookDelivery,
  WebhookDeliveryDetail,
} from '@chartwright/contracts';
import { newId, ServiceError } from '@chartwright/kit';
import { DownloadError, postChecked } from '@chartwright/safe-download';
import { type Selectable, sql } from 'kysely';
import { Batcher } from './batch.js';
import type { AppContext } from './context.js';
import type { DeliveryTable } from './db/schema.js';
import type { Email } from './email.js';
import { DueLoop } from './loop.js';
import { webhookDeliveries, webhookDuration } from './metrics.js';
import { webhookBody } from './payloads.js';
import { webhookHeaders } from './signing.js';
import type { Webhooks } from './webhooks.js';

const USER_AGENT = 'Chartwright-Webhooks/1.0';
/** How long a claimed delivery is held: its attempt's timeout plus a margin. */
const leaseMs = (timeoutMs: number) => timeoutMs + 30_000;

/** A claimed delivery with what its attempt needs from the endpoint. */
interface Claimed {
  id: string;
  endpoint_id: string;
  user_id: string;
  body: string;
  attempts: number;
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
}

const CLAIMED = [
  'd.id',
  'd.endpoint_id',
  'd.user_id',
  'd.body',
  'd.attempts',
  'e.url',
  'e.secret',
  'e.previous_secret',
  'e.previous_secret_expires_at',
] as const;

interface Success {
  c: Claimed;
  at: Date;
  status: number;
  answer: string | null;
  durationMs: number;
}

const toDelivery = (d: Selectable<DeliveryTable>): WebhookDelivery => ({
  id: d.id,
  eventType: d.event_type,
  eventId: d.event_id,
  status: d.status,
  attempts: d.attempts,
  lastStatusCode: d.last_status_code,
  lastError: d.last_error,
  nextAttemptAt: d.status === 'pending' && d.next_attempt_at ? d.next_attempt_at.toISOString() : null,
  createdAt: d.created_at.toISOString(),
  succeededAt: d.succeeded_at?.toISOString() ?? null,
});

/**
 * Webhook deliveries: one row per (endpoint, event), its schedule in PostgreSQL. A loop claims
 * due rows (`FOR UPDATE SKIP LOCKED`, so replicas share them) within a global and a per-endpoint
 * cap, sends each signed, and records the attempt and the next one's time.
 */
export class Deliveries {
  readonly loop: DueLoop<Claimed>;
  private readonly agents = {
    http: new http.Agent({ keepAlive: true }),
    https: new https.Agent({ keepAlive: true }),
  };

  constructor(
    private readonly ctx: AppContext,
    private readonly webhooks: Webhooks,
    private readonly email: Email,
  ) {
    webhookDeliveries();
    const w = ctx.config.webhooks;
    this.loop = new DueLoop<Claimed>({
      name: 'webhooks',
      concurrency: w.concurrency,
      perKey: w.endpointConcurrency,
      intervalMs: ctx.config.pollIntervalMs,
      keyOf: (c) => c.endpoint_id,
      claim: (max, busy) => this.claim(max, busy),
      release: (items) => this.release(items.map((i) => i.id)),
      run: (c) => this.attempt(c),
      logger: ctx.logger,
    });
  }

  stop(): Promise<void> {
    return this.loop.stop().finally(() => {
      this.agents.http.destroy();
      this.agents.https.destroy();
    });
  }

  /**
   * One delivery per enabled endpoint of `userId` subscribed to `type`, in one statement. The
   * (endpoint, event id) key makes a redelivered event add none.
   */
  async fanOut(
    event: { id: string; type: string; time: string },
    userId: string,
    data: unknown,
  ): Promise<number> {
    const n = await this.fanOuts.add({
      userId,
      eventId: event.id,
      type: event.type,
      body: webhookBody(event.type, event.time, data),
    });
    return n;
  }

  /** Events' fan-outs in one statement: a row of `unnest`ed arrays per event, joined to its user's endpoints. */
  private readonly fanOuts = new Batcher<
    { userId: string; eventId: string; type: string; body: string },
    number
  >(async (items) => {
    const now = this.ctx.clock();
    const lease = new Date(now.getTime() + leaseMs(this.ctx.config.webhooks.timeoutMs));
    // Written already held by this process, so the first attempt needs no claim of its own.
    const rows: (Claimed & { event_id: string })[] = await this.ctx.db
      .with('ins', (qc) =>
        qc
          .insertInto('deliveries')
          .columns([
            'id',
            'endpoint_id',
            'user_id',
            'event_id',
            'event_type',
            'body',
            'status',
            'next_attempt_at',
            'locked_until',
          ])
          .expression((eb) =>
            eb
              .selectFrom('endpoints as e')
              .innerJoin(
                this.ctx.db
                  .selectNoFrom([
                    sql<string>`unnest(${items.map((i) => i.userId)}::uuid[])`.as('user_id'),
                    sql<string>`unnest(${items.map((i) => i.eventId)}::text[])`.as('event_id'),
                    sql<string>`unnest(${items.map((i) => i.type)}::text[])`.as('event_type'),
                    sql<string>`unnest(${items.map((i) => i.body)}::text[])`.as('body'),
                  ])
                  .as('v'),
                'v.user_id',
                'e.user_id',
              )
              .select([
                sql<string>`gen_random_uuid()`.as('id'),
                'e.id as endpoint_id',
                'e.user_id',
                'v.event_id',
                'v.event_type',
                'v.body',
                sql<string>`'pending'`.as('status'),
                sql<Date>`${now}::timestamptz`.as('next_attempt_at'),
                sql<Date>`${lease}::timestamptz`.as('locked_until'),
              ])
              .where('e.enabled', '=', true)
              .where((w) =>
                w.or([
                  w(sql`e.events`, '@>', sql`jsonb_build_array(v.event_type)`),
                  w(sql`e.events`, '@>', sql`'["*"]'::jsonb`),
                ]),
              ),
          )
          .onConflict((oc) => oc.columns(['endpoint_id', 'event_id']).doNothing())
          .returning(['id', 'endpoint_id', 'user_id', 'body', 'attempts', 'event_id']),
      )
      .selectFrom('ins')
      .innerJoin('endpoints as e', 'e.id', 'ins.endpoint_id')
      .select([
        'ins.id',
        'ins.endpoint_id',
        'ins.user_id',
        'ins.body',
        'ins.attempts',
        'ins.event_id',
        'e.url',
        'e.secret',
        'e.previous_secret',
        'e.previous_secret_expires_at',
      ])
      .execute();
    // What does not fit in the free slots goes back to the loop.
    const rest = this.loop.offer(rows);
    if (rest.length) {
      await this.release(rest.map((r) => r.id));
      this.loop.soon();
    }
    const counts = new Map<string, number>();
    for (const r of rows) counts.set(r.event_id, (counts.get(r.event_id) ?? 0) + 1);
    return items.map((i) => counts.get(i.eventId) ?? 0);
  });

  private async claim(max: number, busy: string[]): Promise<Claimed[]> {
    const now = this.ctx.clock();
    const lease = new Date(now.getTime() + leaseMs(this.ctx.config.webhooks.timeoutMs));
    return this.ctx.db
      .updateTable('deliveries as d')
      .from('endpoints as e')
      .set({ locked_until: lease })
      .whereRef('e.id', '=', 'd.endpoint_id')
      .where('d.id', 'in', (eb) =>
        eb
          .selectFrom('deliveries as q')
          .innerJoin('endpoints as qe', 'qe.id', 'q.endpoint_id')
          .select('q.id')
          .where('q.status', '=', 'pending')
          .where('q.next_attempt_at', '<=', now)
          .where((w) => w.or([w('q.locked_until', 'is', null), w('q.locked_until', '<', now)]))
          .where('qe.enabled', '=', true)
          .$if(busy.length > 0, (q) => q.where('q.endpoint_id', 'not in', busy))
          .orderBy('q.next_attempt_at')
          .limit(max)
          .forUpdate('q')
          .skipLocked(),
      )
      .returning(CLAIMED)
      .execute();
  }

  private async release(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.ctx.db.updateTable('deliveries').set({ locked_until: null }).where('id', 'in', ids).execute();
  }

  /** Sends one attempt and records it: success, the next try's time, or failure for good. */
  private async attempt(c: Claimed): Promise<void> {
    const w = this.ctx.config.webhooks;
    const at = this.ctx.clock();
    const started = performance.now();
    let status: number | null = null;
    let error: string | null = null;
    let answer: string | null = null;
    if (Buffer.byteLength(c.body) > w.maxBodyBytes) {
      error = `body larger than ${w.maxBodyBytes} bytes`;
    } else {
      const secrets = [c.secret];
      if (c.previous_secret && c.previous_secret_expires_at && c.previous_secret_expires_at > at)
        secrets.push(c.previous_secret);
      try {
        const res = await postChecked(c.url, c.body, {
          allowHttp: w.allowHttp,
          allowPrivateAddresses: w.allowPrivate,
          timeoutMs: w.timeoutMs,
          maxResponseBytes: w.maxResponseBytes,
          resolver: this.ctx.resolver,
          agents: this.agents,
          headers: {
            ...webhookHeaders(c.id, at, c.body, secrets),
            'content-type': 'application/json',
            'user-agent': USER_AGENT,
          },
        });
        status = res.status;
        answer = res.body.subarray(0, 1024).toString('utf8');
        if (status < 200 || status > 299)
          error = status >= 300 && status < 400 ? `redirect ${status} (not followed)` : `status ${status}`;
      } catch (err) {
        error =
          err instanceof DownloadError
            ? `${err.code}: ${err.message}`
            : String((err as Error)?.message ?? err);
      }
    }
    const durationMs = Math.round(performance.now() - started);
    webhookDeliveries().add(1, {
      outcome: error === null ? 'succeeded' : status === null ? 'error' : 'rejected',
    });
    webhookDuration().record(durationMs / 1000, { outcome: error === null ? 'succeeded' : 'failed' });
    await this.settle(c, at, { status, error, answer, durationMs }).catch((err) => {
      // The endpoint (and its deliveries) may have been deleted meanwhile: nothing to record.
      this.ctx.logger.warn({ err, delivery: c.id }, 'delivery attempt not recorded');
    });
  }

  private async settle(
    c: Claimed,
    at: Date,
    r: { status: number | null; error: string | null; answer: string | null; durationMs: number },
  ): Promise<void> {
    const db = this.ctx.db;
    const attemptRow = {
      delivery_id: c.id,
      at,
      status_code: r.status,
      duration_ms: r.durationMs,
      error: r.error?.slice(0, 1000) ?? null,
      response_body: r.answer,
    };
    if (r.error === null) {
      await this.successes.add({ c, at, status: r.status ?? 0, answer: r.answer, durationMs: r.durationMs });
      return;
    }
    const schedule = this.ctx.config.webhooks.retryScheduleSeconds;
    const wait = schedule[c.attempts]; // after attempt number c.attempts + 1
    const next = wait === undefined ? null : new Date(at.getTime() + wait * 1000);
    const ep = await db
      .with('att', (qc) => qc.insertInto('delivery_attempts').values(attemptRow))
      .with('del', (qc) =>
        qc
          .updateTable('deliveries')
          .set((eb) => ({
            status: next ? 'pending' : 'failed',
            attempts: eb('attempts', '+', 1),
            next_attempt_at: next,
            locked_until: null,
            last_status_code: r.status,
            last_error: r.error?.slice(0, 1000) ?? null,
          }))
          .where('id', '=', c.id),
      )
      .updateTable('endpoints')
      .set((eb) => ({ failing_since: eb.fn.coalesce('failing_since', sql<Date>`${at}::timestamptz`) }))
      .where('id', '=', c.endpoint_id)
      .returning(['failing_since', 'enabled'])
      .executeTakeFirst();
    if (next) this.kickAt(next);
    if (
      ep?.enabled &&
      ep.failing_since &&
      at.getTime() - ep.failing_since.getTime() >= this.ctx.config.webhooks.disableAfterMs
    )
      await this.disableFailing(c.endpoint_id, r.error);
  }

  /**
   * Successes recorded together: attempts, deliveries and endpoints in one statement for a
   * batch. Should it fail (an endpoint deleted meanwhile), each is recorded on its own.
   */
  private readonly successes = new Batcher<Success, void>(async (items) => {
    try {
      await this.recordSuccesses(items);
    } catch {
      for (const item of items)
        await this.recordSuccesses([item]).catch((err) =>
          this.ctx.logger.warn({ err, delivery: item.c.id }, 'delivery success not recorded'),
        );
    }
    return items.map(() => undefined);
  });

  private async recordSuccesses(items: Success[]): Promise<void> {
    const endpoints = [...new Set(items.map((i) => i.c.endpoint_id))];
    await this.ctx.db
      .with('v', (qc) =>
        qc.selectNoFrom([
          sql<string>`unnest(${items.map((i) => i.c.id)}::uuid[])`.as('id'),
          sql<Date>`unnest(${items.map((i) => i.at.toISOString())}::timestamptz[])`.as('at'),
          sql<number>`unnest(${items.map((i) => i.status)}::int[])`.as('code'),
          sql<number>`unnest(${items.map((i) => i.durationMs)}::int[])`.as('dur'),
          sql<string | null>`unnest(${items.map((i) => i.answer)}::text[])`.as('resp'),
        ]),
      )
      .with('att', (qc) =>
        qc
          .insertInto('delivery_attempts')
          .columns(['delivery_id', 'at', 'status_code', 'duration_ms', 'error', 'response_body'])
          .expression((eb) =>
            eb
              .selectFrom('v')
              .select([
                'v.id',
                'v.at',
                'v.code',
                'v.dur',
                sql<string | null>`null::text`.as('error'),
                'v.resp',
              ])
              .where((w) =>
                w.exists(w.selectFrom('deliveries as x').select('x.id').whereRef('x.id', '=', 'v.id')),
              ),
          ),
      )
      .with('ep', (qc) =>
        qc
          .updateTable('endpoints')
          .set({ failing_since: null })
          .where('id', 'in', endpoints)
          .where('failing_since', 'is not', null),
      )
      .updateTable('deliveries')
      .from('v')
      .set((eb) => ({
        status: 'succeeded',
        attempts: eb('deliveries.attempts', '+', 1),
        succeeded_at: eb.ref('v.at'),
        next_attempt_at: null,
        locked_until: null,
        last_status_code: eb.ref('v.code'),
        last_error: null,
      }))
      .whereRef('deliveries.id', '=', 'v.id')
      .execute();
  }

  /** Short waits (tests' schedules) should not wait for the next poll. */
  private kickAt(when: Date): void {
    const ms = when.getTime() - this.ctx.clock().getTime();
    if (ms < this.ctx.config.pollIntervalMs) setTimeout(() => this.loop.kick(), Math.max(0, ms)).unref();
  }

  /**
   * Failing with no success for WEBHOOK_DISABLE_AFTER_HOURS: the endpoint is disabled, what was
   * pending for it is failed, and its owner is mailed (in the same transaction).
   */
  private async disableFailing(endpointId: string, lastError: string | null): Promise<void> {
    const hours = Math.round(this.ctx.config.webhooks.disableAfterMs / 3_600_000);
    await this.ctx.db.transaction().execute(async (trx) => {
      const ep = await trx
        .updateTable('endpoints')
        .set({
          enabled: false,
          disabled_reason: `every delivery failed for ${hours} hours`,
          updated_at: this.ctx.clock(),
        })
        .where('id', '=', endpointId)
        .where('enabled', '=', true)
        .returning(['id', 'url', 'user_id'])
        .executeTakeFirst();
      if (!ep) return;
      await trx
        .updateTable('deliveries')
        .set({ status: 'failed', next_attempt_at: null, last_error: 'endpoint disabled' })
        .where('endpoint_id', '=', endpointId)
        .where('status', '=', 'pending')
        .execute();
      await this.email.queueWebhookDisabled(trx, ep, hours, lastError);
      this.ctx.logger.warn(
        { endpoint: ep.id, user: ep.user_id },
        'webhook endpoint disabled after failing too long',
      );
    });
    this.email.loop.kick();
  }

  async list(userId: string, webhookId: string, q: DeliveryListQuery): Promise<DeliveryListResponse> {
    await this.webhooks.own(userId, webhookId);
    const base = this.ctx.db
      .selectFrom('deliveries')
      .where('endpoint_id', '=', webhookId)
      .$if(q.status !== undefined, (b) => b.where('status', '=', q.status!));
    const [rows, total] = await Promise.all([
      base
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(q.limit)
        .offset(q.offset)
        .execute(),
      base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
    ]);
    const n = Number(total.n);
    return {
      deliveries: rows.map(toDelivery),
      pagination: { total: n, limit: q.limit, offset: q.offset, hasMore: q.offset + rows.length < n },
    };
  }

  private async ownDelivery(webhookId: string, deliveryId: string) {
    const d = await this.ctx.db
      .selectFrom('deliveries')
      .selectAll()
      .where('id', '=', deliveryId)
      .where('endpoint_id', '=', webhookId)
      .executeTakeFirst();
    if (!d) throw new ServiceError('NOT_FOUND', 'delivery not found');
    return d;
  }

  async get(userId: string, webhookId: string, deliveryId: string): Promise<WebhookDeliveryDetail> {
    await this.webhooks.own(userId, webhookId);
    const d = await this.ownDelivery(webhookId, deliveryId);
    const attempts = await this.ctx.db
      .selectFrom('delivery_attempts')
      .selectAll()
      .where('delivery_id', '=', deliveryId)
      .orderBy('id')
      .execute();
    return {
      ...toDelivery(d),
      attemptsLog: attempts.map((a) => ({
        at: a.at.toISOString(),
        statusCode: a.status_code,
        durationMs: a.duration_ms,
        error: a.error,
        responseBody: a.response_body,
      })),
    };
  }

  /** Attempts a delivery again now, whatever its state; answers it after the attempt. */
  async retry(userId: string, webhookId: string, deliveryId: string): Promise<WebhookDelivery> {
    await this.webhooks.own(userId, webhookId);
    await this.ownDelivery(webhookId, deliveryId);
    const claimed = await this.claimOne(deliveryId);
    if (!claimed)
      throw new ServiceError('CONFLICT', 'an attempt of this delivery is in progress; try again shortly');
    await this.attempt(claimed);
    return toDelivery(await this.ownDelivery(webhookId, deliveryId));
  }

  /** Sends a `webhook.test` event to the endpoint now; answers its delivery after the attempt. */
  async test(userId: string, webhookId: string): Promise<WebhookDelivery> {
    const ep = await this.webhooks.own(userId, webhookId);
    const id = newId();
    const at = this.ctx.clock();
    const eventId = newId();
    const body = webhookBody('webhook.test', at.toISOString(), {
      webhookId: ep.id,
      message: 'This is a test event from Chartwright.',
    });
    await this.ctx.db
      .insertInto('deliveries')
      .values({
        id,
        endpoint_id: ep.id,
        user_id: userId,
        event_id: eventId,
        event_type: 'webhook.test',
        body,
        status: 'pending',
        next_attempt_at: at,
        locked_until: new Date(at.getTime() + leaseMs(this.ctx.config.webhooks.timeoutMs)),
        last_status_code: null,
        last_error: null,
        succeeded_at: null,
      })
      .execute();
    await this.attempt({
      id,
      endpoint_id: ep.id,
      user_id: userId,
      body,
      attempts: 0,
      url: ep.url,
      secret: ep.secret,
      previous_secret: ep.previous_secret,
      previous_secret_expires_at: ep.previous_secret_expires_at,
    });
    return toDelivery(await this.ownDelivery(ep.id, id));
  }

  /** Takes one delivery for an attempt now, unless an attempt holds it. */
  private async claimOne(deliveryId: string): Promise<Claimed | undefined> {
    const now = this.ctx.clock();
    return this.ctx.db
      .updateTable('deliveries as d')
      .from('endpoints as e')
      .set({ locked_until: new Date(now.getTime() + leaseMs(this.ctx.config.webhooks.timeoutMs)) })
      .whereRef('e.id', '=', 'd.endpoint_id')
      .where('d.id', '=', deliveryId)
      .where((w) => w.or([w('d.locked_until', 'is', null), w('d.locked_until', '<', now)]))
      .returning(CLAIMED)
      .executeTakeFirst();
  }
}
