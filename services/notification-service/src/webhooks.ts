import type {
  CreateWebhookRequest,
  RotatedSecret,
  UpdateWebhookRequest,
  Webhook,
} from '@chartwright/contracts';
import { newId, ServiceError } from '@chartwright/kit';
import { DownloadError, normaliseHostname, resolveChecked } from '@chartwright/safe-download';
import type { Selectable } from 'kysely';
import type { AppContext } from './context.js';
import type { EndpointTable } from './db/schema.js';
import { newWebhookSecret } from './signing.js';

/** Both secrets sign deliveries this long after a rotation. */
export const ROTATION_OVERLAP_MS = 24 * 3_600_000;

const urlError = (message: string) =>
  new ServiceError('VALIDATION_ERROR', `url: ${message}`, [{ field: 'url', in: 'body', message }]);

export const toWebhook = (e: Selectable<EndpointTable>): Webhook => ({
  id: e.id,
  url: e.url,
  events: e.events,
  description: e.description,
  enabled: e.enabled,
  disabledReason: e.disabled_reason,
  createdAt: e.created_at.toISOString(),
});

/** A user's webhook endpoints. Every method is scoped to the caller: another's is NOT_FOUND. */
export class Webhooks {
  constructor(private readonly ctx: AppContext) {}

  /**
   * https only (unless WEBHOOKS_ALLOW_HTTP), no credentials, and a host whose every address is
   * public. Checked again at each delivery against the address actually connected to.
   */
  async checkUrl(raw: string): Promise<void> {
    const { allowHttp, allowPrivate } = this.ctx.config.webhooks;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw urlError('must be a URL');
    }
    if (!(url.protocol === 'https:' || (url.protocol === 'http:' && allowHttp)))
      throw urlError(allowHttp ? 'must be an http(s) URL' : 'must be an https URL');
    if (url.username || url.password) throw urlError('must not carry credentials');
    try {
      await resolveChecked(normaliseHostname(url.hostname), {
        allowPrivateAddresses: allowPrivate,
        resolver: this.ctx.resolver,
        url: url.href,
      });
    } catch (err) {
      if (err instanceof DownloadError && err.code === 'PRIVATE_ADDRESS')
        throw urlError(`${err.message}; webhooks go to public addresses only`);
      if (err instanceof DownloadError && err.code === 'DNS_FAILED')
        throw urlError(`host ${url.hostname} does not resolve`);
      throw err;
    }
  }

  async create(userId: string, req: CreateWebhookRequest): Promise<Webhook & { secret: string }> {
    await this.checkUrl(req.url);
    const { count } = await this.ctx.db
      .selectFrom('endpoints')
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .where('user_id', '=', userId)
      .executeTakeFirstOrThrow();
    const max = this.ctx.config.webhooks.maxEndpoints;
    if (Number(count) >= max)
      throw new ServiceError('CONFLICT', `at most ${max} webhook endpoints per user; delete one first`);
    const row = await this.ctx.db
      .insertInto('endpoints')
      .values({
        id: newId(),
        user_id: userId,
        url: req.url,
        events: JSON.stringify(req.events) as never,
        description: req.description ?? null,
        enabled: true,
        secret: newWebhookSecret(),
        previous_secret: null,
        previous_secret_expires_at: null,
        failing_since: null,
        disabled_reason: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { ...toWebhook(row), secret: row.secret };
  }

  async list(userId: string): Promise<Webhook[]> {
    const rows = await this.ctx.db
      .selectFrom('endpoints')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at', 'desc')
      .execute();
    return rows.map(toWebhook);
  }

  /** The caller's endpoint row, or NOT_FOUND. */
  async own(userId: string, webhookId: string): Promise<Selectable<EndpointTable>> {
    const row = await this.ctx.db
      .selectFrom('endpoints')
      .selectAll()
      .where('id', '=', webhookId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!row) throw new ServiceError('NOT_FOUND', 'webhook not found');
    return row;
  }

  async get(userId: string, webhookId: string): Promise<Webhook> {
    return toWebhook(await this.own(userId, webhookId));
  }

  async update(userId: string, webhookId: string, req: UpdateWebhookRequest): Promise<Webhook> {
    await this.own(userId, webhookId);
    if (req.url !== undefined) await this.checkUrl(req.url);
    const row = await this.ctx.db
      .updateTable('endpoints')
      .set({
        ...(req.url !== undefined ? { url: req.url } : {}),
        ...(req.events !== undefined ? { events: JSON.stringify(req.events) as never } : {}),
        ...(req.description !== undefined ? { description: req.description } : {}),
        // Enabling again starts the failure clock afresh.
        ...(req.enabled !== undefined
          ? { enabled: req.enabled, disabled_reason: null, ...(req.enabled ? { failing_since: null } : {}) }
          : {}),
        updated_at: this.ctx.clock(),
      })
      .where('id', '=', webhookId)
      .where('user_id', '=', userId)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new ServiceError('NOT_FOUND', 'webhook not found');
    return toWebhook(row);
  }

  /** Deletes the endpoint and (by cascade) its deliveries: nothing pending is sent after this. */
  async delete(userId: string, webhookId: string): Promise<void> {
    const res = await this.ctx.db
      .deleteFrom('endpoints')
      .where('id', '=', webhookId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw new ServiceError('NOT_FOUND', 'webhook not found');
  }

  /** A new secret; the old one keeps signing (beside it) for 24 hours. */
  async rotateSecret(userId: string, webhookId: string): Promise<RotatedSecret> {
    const current = await this.own(userId, webhookId);
    const now = this.ctx.clock();
    const expires = new Date(now.getTime() + ROTATION_OVERLAP_MS);
    const row = await this.ctx.db
      .updateTable('endpoints')
      .set({
        secret: newWebhookSecret(),
        previous_secret: current.secret,
        previous_secret_expires_at: expires,
        updated_at: now,
      })
      .where('id', '=', webhookId)
      .where('user_id', '=', userId)
      // Two rotations at once: only the one that saw the current secret wins.
      .where('secret', '=', current.secret)
      .returning(['secret'])
      .executeTakeFirst();
    if (!row) throw new ServiceError('CONFLICT', 'the secret was rotated meanwhile; try again');
    return { secret: row.secret, previousSecretExpiresAt: expires.toISOString() };
  }
}
