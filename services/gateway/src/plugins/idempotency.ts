import { createHash } from 'node:crypto';
import { newId } from '@chartwright/kit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ExpressionBuilder, sql } from 'kysely';
import type { GatewayContext } from '../context.js';
import type { GatewayDb } from '../db/schema.js';
import { ApiError } from '../errors.js';

const TTL_MS = 24 * 60 * 60 * 1000;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

declare module 'fastify' {
  interface FastifyRequest {
    idempotency?: {
      key: string;
      userId: string;
      /** This attempt: only the lease holder may renew or settle the key. */
      owner: string;
      /**
       * The work's idempotency key for the services (chart-service, analysis-service store it with
       * what they create): the same for every attempt of this key, new when an expired key is reused.
       */
      workId: string;
      renew: NodeJS.Timeout;
    };
  }
  interface FastifyContextConfig {
    /** The answer holds a secret shown once (a new API key): it is not kept for replays. */
    secretResponse?: boolean;
  }
}

type Eb = ExpressionBuilder<GatewayDb, 'idempotency_keys'>;

/**
 * `Idempotency-Key` on POST: the same key with the same request (method, route, path parameters,
 * query and body, per caller) replays the first answer; with another request it is 422; while an
 * attempt runs it is 409. Kept 24 hours.
 *
 * An attempt holds a lease on its key, renewed while it runs: a gateway that dies does not hold the
 * key beyond the lease, and the next retry takes it over. A 5xx, a timeout or an answer that was
 * never sent does not free the key either (the work may still complete downstream): it is
 * `pending`, and the next retry runs the request again with the same work id, which the services
 * resolve to what the first attempt created (or create it, once). A 429 did nothing: it frees the key.
 * An answer holding a secret is not kept: its replay is 409, so the secret is never stored.
 */
export function registerIdempotency(app: FastifyInstance, ctx: GatewayContext): void {
  const leaseMs = ctx.config.idempotencyLeaseMs;

  app.addHook('preHandler', async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.method !== 'POST') return;
    const key = req.headers['idempotency-key'];
    if (key === undefined || !req.caller) return;
    if (typeof key !== 'string' || !KEY_PATTERN.test(key)) {
      throw new ApiError('VALIDATION_ERROR', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
    }
    const userId = req.caller.id;
    const hash = createHash('sha256')
      .update(
        `${req.method} ${req.routeOptions.url ?? req.url}\n${JSON.stringify(req.params ?? {})}\n${JSON.stringify(req.query ?? {})}\n${JSON.stringify(req.body ?? null)}`,
      )
      .digest('hex');
    const now = new Date();
    const owner = newId();
    const leaseUntil = new Date(now.getTime() + leaseMs);
    const expired = (eb: Eb) => eb('idempotency_keys.expires_at', '<', now);
    // A new key, an expired one (starts afresh with new work), or the same request whose earlier
    // attempt died or ended without a known outcome (taken over, same work).
    const claimed = await ctx.db
      .insertInto('idempotency_keys')
      .values({
        user_id: userId,
        key,
        request_hash: hash,
        state: 'running',
        status_code: null,
        response_body: null,
        response_type: null,
        expires_at: new Date(now.getTime() + TTL_MS),
        lease_until: leaseUntil,
        owner,
        work_id: newId(),
      })
      .onConflict((oc) =>
        oc
          .columns(['user_id', 'key'])
          .doUpdateSet({
            request_hash: hash,
            state: 'running',
            status_code: null,
            response_body: null,
            response_type: null,
            lease_until: leaseUntil,
            owner,
            work_id: sql<string>`case when idempotency_keys.expires_at < ${now} or idempotency_keys.work_id is null
              then excluded.work_id else idempotency_keys.work_id end`,
            expires_at: sql<Date>`case when idempotency_keys.expires_at < ${now}
              then excluded.expires_at else idempotency_keys.expires_at end`,
            created_at: sql<Date>`case when idempotency_keys.expires_at < ${now}
              then excluded.created_at else idempotency_keys.created_at end`,
          })
          .where((eb) =>
            eb.or([
              expired(eb),
              eb.and([
                eb('idempotency_keys.request_hash', '=', hash),
                eb.or([
                  eb('idempotency_keys.state', '=', 'pending'),
                  eb.and([
                    eb('idempotency_keys.state', '=', 'running'),
                    eb.or([
                      eb('idempotency_keys.lease_until', 'is', null),
                      eb('idempotency_keys.lease_until', '<', now),
                    ]),
                  ]),
                ]),
              ]),
            ]),
          ),
      )
      .returning('work_id')
      .executeTakeFirst();
    if (claimed) {
      const renew = setInterval(
        () => {
          ctx.db
            .updateTable('idempotency_keys')
            .set({ lease_until: new Date(Date.now() + leaseMs) })
            .where('user_id', '=', userId)
            .where('key', '=', key)
            .where('owner', '=', owner)
            .where('state', '=', 'running')
            .execute()
            .catch((err) => req.log.warn({ err }, 'idempotency lease not renewed'));
        },
        Math.max(250, Math.floor(leaseMs / 3)),
      );
      renew.unref();
      req.idempotency = { key, userId, owner, workId: claimed.work_id!, renew };
      return;
    }
    const prior = await ctx.db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('user_id', '=', userId)
      .where('key', '=', key)
      .executeTakeFirst();
    if (!prior) throw new ApiError('CONFLICT', 'request with this Idempotency-Key is in progress; retry');
    if (prior.request_hash !== hash)
      throw new ApiError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request');
    if (prior.state !== 'done') {
      const left = prior.lease_until ? prior.lease_until.getTime() - Date.now() : leaseMs;
      reply.header('retry-after', String(Math.max(1, Math.ceil(left / 1000))));
      throw new ApiError('CONFLICT', 'a request with this Idempotency-Key is still in progress');
    }
    if (prior.response_body === null)
      throw new ApiError(
        'CONFLICT',
        'this request was already carried out with this Idempotency-Key; its answer held a secret that is not kept',
      );
    reply
      .code(prior.status_code ?? 200)
      .header('idempotent-replayed', 'true')
      .header('content-type', prior.response_type ?? 'application/json; charset=utf-8');
    return reply.send(prior.response_body);
  });

  const mine = (idem: NonNullable<FastifyRequest['idempotency']>) =>
    ctx.db
      .updateTable('idempotency_keys')
      .where('user_id', '=', idem.userId)
      .where('key', '=', idem.key)
      .where('owner', '=', idem.owner);

  /** The outcome is unknown: the next retry runs it again, resolved by the services. */
  const leavePending = (idem: NonNullable<FastifyRequest['idempotency']>) =>
    mine(idem).set({ state: 'pending', lease_until: new Date() }).where('state', '=', 'running').execute();

  app.addHook('onSend', async (req, reply, payload) => {
    const idem = req.idempotency;
    if (!idem) return payload;
    req.idempotency = undefined;
    clearInterval(idem.renew);
    if (reply.statusCode === 429) {
      // Refused before any work: the key is free again.
      await ctx.db
        .deleteFrom('idempotency_keys')
        .where('user_id', '=', idem.userId)
        .where('key', '=', idem.key)
        .where('owner', '=', idem.owner)
        .execute();
      return payload;
    }
    if (reply.statusCode >= 500 || typeof payload !== 'string') {
      await leavePending(idem);
      return payload;
    }
    await mine(idem)
      .set({
        state: 'done',
        status_code: reply.statusCode,
        response_body: req.routeOptions.config.secretResponse ? null : payload,
        response_type: String(reply.getHeader('content-type') ?? 'application/json; charset=utf-8'),
      })
      .execute();
    return payload;
  });

  // A request that ended before sending an answer: its work may have been done.
  app.addHook('onResponse', async (req) => {
    const idem = req.idempotency;
    if (!idem) return;
    req.idempotency = undefined;
    clearInterval(idem.renew);
    await leavePending(idem);
  });
}
