import {
  DEFAULT_EMAIL_PREFERENCES,
  type EmailPreferences,
  type EmailTopic,
  type NotificationPreferences,
  type UnsubscribeResponse,
  type UpdateNotificationPreferences,
} from '@chartwright/contracts';
import { newId, ServiceError } from '@chartwright/kit';
import type { Kysely, Selectable, Transaction } from 'kysely';
import { Batcher } from './batch.js';
import type { AppContext } from './context.js';
import type { EmailTable, NotificationDb, PreferenceTable } from './db/schema.js';
import { DueLoop } from './loop.js';
import { MailError } from './mailer.js';
import { type MailContent, webhookDisabledMail } from './messages.js';
import { UnsubscribeTokens } from './signing.js';

const toPreferences = (row: Selectable<PreferenceTable> | undefined): EmailPreferences =>
  row
    ? {
        analysisCompleted: row.analysis_completed,
        analysisFailed: row.analysis_failed,
        quotaWarnings: row.quota_warnings,
        webhookDisabled: row.webhook_disabled,
      }
    : { ...DEFAULT_EMAIL_PREFERENCES };

type Db = Kysely<NotificationDb> | Transaction<NotificationDb>;

/**
 * Mail: preferences, signed unsubscribe links, and a queue in PostgreSQL that a loop sends from
 * (SMTP 4xx retried with backoff, 5xx recorded as failed).
 */
export class Email {
  readonly loop: DueLoop<Selectable<EmailTable>>;
  private readonly tokens: UnsubscribeTokens;

  constructor(private readonly ctx: AppContext) {
    this.tokens = new UnsubscribeTokens(ctx.config.signingSecret);
    this.loop = new DueLoop<Selectable<EmailTable>>({
      name: 'email',
      concurrency: 4,
      perKey: 4,
      intervalMs: ctx.config.pollIntervalMs,
      keyOf: () => 'smtp',
      claim: (max) => this.claim(max),
      release: async (items) => {
        await ctx.db
          .updateTable('emails')
          .set({ locked_until: null })
          .where(
            'id',
            'in',
            items.map((i) => i.id),
          )
          .execute();
      },
      run: (m) => this.send(m),
      logger: ctx.logger,
    });
  }

  /** `user.registered`: where this user's mail goes. */
  async recordRecipient(userId: string, email: string, name: string | null): Promise<void> {
    await this.ctx.db
      .insertInto('recipients')
      .values({ user_id: userId, email, name })
      .onConflict((oc) => oc.column('user_id').doUpdateSet({ email, name }))
      .execute();
  }

  async preferences(userId: string, db: Db = this.ctx.db): Promise<EmailPreferences> {
    if (db === this.ctx.db) return this.lookups.add(userId);
    return toPreferences(
      await db.selectFrom('preferences').selectAll().where('user_id', '=', userId).executeTakeFirst(),
    );
  }

  /** Every event asks; under load one query answers many. */
  private readonly lookups = new Batcher<string, EmailPreferences>(async (userIds) => {
    const rows = await this.ctx.db
      .selectFrom('preferences')
      .selectAll()
      .where('user_id', 'in', [...new Set(userIds)])
      .execute();
    const byUser = new Map(rows.map((r) => [r.user_id, r]));
    return userIds.map((u) => toPreferences(byUser.get(u)));
  });

  async getPreferences(userId: string): Promise<NotificationPreferences> {
    return { email: await this.preferences(userId) };
  }

  /** Changes the settings named; the others keep their values (or defaults). */
  async setPreferences(userId: string, req: UpdateNotificationPreferences): Promise<NotificationPreferences> {
    return this.ctx.db.transaction().execute(async (trx) => {
      const current = await trx
        .selectFrom('preferences')
        .selectAll()
        .where('user_id', '=', userId)
        .forUpdate()
        .executeTakeFirst();
      const next = { ...toPreferences(current), ...stripUndefined(req.email) };
      await this.write(trx, userId, next);
      return { email: next };
    });
  }

  private async write(db: Db, userId: string, p: EmailPreferences): Promise<void> {
    const values = {
      analysis_completed: p.analysisCompleted,
      analysis_failed: p.analysisFailed,
      quota_warnings: p.quotaWarnings,
      webhook_disabled: p.webhookDisabled,
      updated_at: this.ctx.clock(),
    };
    await db
      .insertInto('preferences')
      .values({ user_id: userId, ...values })
      .onConflict((oc) => oc.column('user_id').doUpdateSet(values))
      .execute();
  }

  /** A signed link's token: turns that one setting off, no login needed. */
  async unsubscribe(token: string): Promise<UnsubscribeResponse> {
    const t = this.tokens.verify(token);
    if (!t)
      throw new ServiceError('VALIDATION_ERROR', 'token: not a valid unsubscribe token', [
        { field: 'token', in: 'querystring', message: 'not a valid unsubscribe token' },
      ]);
    const { email } = await this.setPreferences(t.userId, { email: { [t.topic]: false } });
    return { unsubscribed: t.topic, email };
  }

  unsubscribeUrl(userId: string, topic: EmailTopic): string {
    return `${this.ctx.config.publicUrl}/v1/notifications/unsubscribe?token=${this.tokens.issue(userId, topic)}`;
  }

  /**
   * Queues a mail about `topic` if the user wants it; `dedupeKey` (the event id and kind) makes a
   * redelivered event queue none. Throws while the recipient is unknown (its `user.registered`
   * is still on the way), so the event is retried.
   */
  async queue(
    db: Db,
    userId: string,
    topic: EmailTopic,
    dedupeKey: string,
    build: (unsubscribeUrl: string) => MailContent,
  ): Promise<boolean> {
    const prefs = await this.preferences(userId, db);
    if (!prefs[topic]) return false;
    const to = await db
      .selectFrom('recipients')
      .select('email')
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!to) throw new Error(`no address known yet for user ${userId}`);
    const url = this.unsubscribeUrl(userId, topic);
    const content = build(url);
    // RFC 8058 one-click: mail clients POST to the link.
    return this.insert(db, userId, to.email, dedupeKey, content, {
      'List-Unsubscribe': `<${url}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    });
  }

  /** One queued mail, unless `dedupeKey` was queued before; the loop is woken outside a transaction. */
  private async insert(
    db: Db,
    userId: string,
    to: string,
    dedupeKey: string,
    content: MailContent,
    headers: Record<string, string>,
  ): Promise<boolean> {
    const res = await db
      .insertInto('emails')
      .values({
        id: newId(),
        dedupe_key: dedupeKey,
        user_id: userId,
        to_address: to,
        subject: content.subject,
        text: content.text,
        html: content.html,
        headers: JSON.stringify(headers) as never,
        status: 'pending',
        next_attempt_at: this.ctx.clock(),
        locked_until: null,
        last_error: null,
        file_path: null,
        sent_at: null,
      })
      .onConflict((oc) => oc.column('dedupe_key').doNothing())
      .executeTakeFirst();
    const queued = Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
    if (queued && db === this.ctx.db) this.loop.kick();
    return queued;
  }

  /**
   * Queues a mail about the account itself (sign-up confirmation, a sign-up with a taken address):
   * no preference turns it off, and it goes to the address the event names. `dedupeKey` makes a
   * redelivered event queue none.
   */
  queueAccountMail(userId: string, to: string, dedupeKey: string, content: MailContent): Promise<boolean> {
    return this.insert(this.ctx.db, userId, to, dedupeKey, content, {});
  }

  /** The link in a sign-up confirmation mail (a gateway route). */
  verifyUrl(token: string): string {
    return `${this.ctx.config.publicUrl}/v1/auth/verify?token=${encodeURIComponent(token)}`;
  }

  loginUrl(): string {
    return `${this.ctx.config.publicUrl}/docs#/auth`;
  }

  queueWebhookDisabled(
    trx: Transaction<NotificationDb>,
    ep: { id: string; url: string; user_id: string },
    hours: number,
    lastError: string | null,
  ): Promise<boolean> {
    return this.queue(trx, ep.user_id, 'webhookDisabled', `webhook-disabled:${ep.id}:${newId()}`, (url) =>
      webhookDisabledMail(ep, hours, lastError, url),
    ).catch((err) => {
      // No known address must not keep the endpoint enabled.
      this.ctx.logger.warn({ err, endpoint: ep.id }, 'webhook-disabled mail not queued');
      return false;
    });
  }

  private async claim(max: number): Promise<Selectable<EmailTable>[]> {
    const now = this.ctx.clock();
    return this.ctx.db
      .updateTable('emails')
      .set({ locked_until: new Date(now.getTime() + 120_000) })
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('emails')
          .select('id')
          .where('status', '=', 'pending')
          .where('next_attempt_at', '<=', now)
          .where((w) => w.or([w('locked_until', 'is', null), w('locked_until', '<', now)]))
          .orderBy('next_attempt_at')
          .limit(max)
          .forUpdate()
          .skipLocked(),
      )
      .returningAll()
      .execute();
  }

  private async send(m: Selectable<EmailTable>): Promise<void> {
    const now = this.ctx.clock();
    try {
      const { path } = await this.ctx.mailer.send({
        id: m.id,
        from: this.ctx.config.email.from,
        to: m.to_address,
        subject: m.subject,
        text: m.text,
        html: m.html,
        headers: m.headers,
      });
      await this.ctx.db
        .updateTable('emails')
        .set((eb) => ({
          status: 'sent',
          attempts: eb('attempts', '+', 1),
          sent_at: now,
          next_attempt_at: null,
          locked_until: null,
          last_error: null,
          file_path: path ?? null,
        }))
        .where('id', '=', m.id)
        .execute();
    } catch (err) {
      const temporary = err instanceof MailError ? err.temporary : true;
      const wait = temporary ? this.ctx.config.email.retryScheduleSeconds[m.attempts] : undefined;
      const next = wait === undefined ? null : new Date(now.getTime() + wait * 1000);
      const message = String((err as Error)?.message ?? err).slice(0, 1000);
      await this.ctx.db
        .updateTable('emails')
        .set((eb) => ({
          status: next ? 'pending' : 'failed',
          attempts: eb('attempts', '+', 1),
          next_attempt_at: next,
          locked_until: null,
          last_error: message,
        }))
        .where('id', '=', m.id)
        .execute();
      if (next) {
        this.ctx.logger.warn({ err, email: m.id, retryAt: next }, 'mail not sent; will retry');
        const ms = next.getTime() - now.getTime();
        if (ms < this.ctx.config.pollIntervalMs) setTimeout(() => this.loop.kick(), ms).unref();
      } else this.ctx.logger.error({ err, email: m.id, to: m.to_address }, 'mail failed for good');
    }
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
