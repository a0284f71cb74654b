import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayContext } from '../context.js';
import { ApiError } from '../errors.js';

const TTL_MS = 24 * 60 * 60 * 1000;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

declare module 'fastify' {
  interface FastifyRequest {
    idempotency?: { key: string; userId: string };
  }
  interface FastifyContextConfig {
    /** The answer holds a secret shown once (a new API key): it is not kept for replays. */
    secretResponse?: boolean;
  }
}

/**
 * `Idempotency-Key` on POST: the same key with the same body replays the first response; with a
 * different body it is 422; while the first request still runs it is 409. Kept 24 hours.
 * 5xx answers are not kept, so the client can retry them. An answer holding a secret is not kept
 * either: its replay is 409, so the secret is never stored in plain text.
 */
export function registerIdempotency(app: FastifyInstance, ctx: GatewayContext): void {
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
    const inserted = await ctx.db
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
      })
      .onConflict((oc) =>
        // An expired key starts afresh.
        oc
          .columns(['user_id', 'key'])
          .doUpdateSet({
            request_hash: hash,
            state: 'running',
            status_code: null,
            response_body: null,
            response_type: null,
            expires_at: new Date(now.getTime() + TTL_MS),
          })
          .where('idempotency_keys.expires_at', '<', now),
      )
      .returning('key')
      .executeTakeFirst();
    if (inserted) {
      req.idempotency = { key, userId };
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
    if (prior.state === 'running')
      throw new ApiError('CONFLICT', 'a request with this Idempotency-Key is still in progress');
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

  app.addHook('onSend', async (req, reply, payload) => {
    const idem = req.idempotency;
    if (!idem) return payload;
    req.idempotency = undefined;
    if (reply.statusCode >= 500 || reply.statusCode === 429 || typeof payload !== 'string') {
      await ctx.db
        .deleteFrom('idempotency_keys')
        .where('user_id', '=', idem.userId)
        .where('key', '=', idem.key)
        .execute();
      return payload;
    }
    await ctx.db
      .updateTable('idempotency_keys')
      .set({
        state: 'done',
        status_code: reply.statusCode,
        response_body: req.routeOptions.config.secretResponse ? null : payload,
        response_type: String(reply.getHeader('content-type') ?? 'application/json; charset=utf-8'),
      })
      .where('user_id', '=', idem.userId)
      .where('key', '=', idem.key)
      .execute();
    return payload;
  });

  // A request that died before sending leaves nothing "running" forever.
  app.addHook('onResponse', async (req) => {
    const idem = req.idempotency;
    if (!idem) return;
    await ctx.db
      .deleteFrom('idempotency_keys')
      .where('user_id', '=', idem.userId)
      .where('key', '=', idem.key)
      .where('state', '=', 'running')
      .execute();
  });
}
