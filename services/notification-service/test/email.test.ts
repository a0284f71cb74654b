import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { QuotaThresholdReached, UserRegistered } from '@chartwright/contracts';
import {
  createLogger,
  makeEvent,
  newId,
  openDatabase,
  publishEvent,
  type RunningService,
} from '@chartwright/kit';
import { eventually, testEngines } from '@chartwright/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NotificationDb } from '../src/db/schema.js';
import { notificationService } from '../src/index.js';
import { completed } from './events.js';
import { startSmtp } from './smtp.js';
import { type Receiver, SECRET, type Stack, startReceiver, startStack } from './support.js';

const { pairs } = await testEngines(afterAll);
// The real PostgreSQL and NATS where they answer.
const [, tdb, tb] = pairs[0]!;

describe('email over SMTP', () => {
  let dir: string;
  let stack: Stack;
  // temp@ is refused once with 451, then accepted; hard@ always gets 550.
  const smtpPromise = startSmtp((to, n) =>
    to.startsWith('temp-') && n === 1 ? 451 : to.startsWith('hard-') ? 550 : undefined,
  );
  let smtp: Awaited<typeof smtpPromise>;

  let receiver: Receiver;

  beforeAll(async () => {
    smtp = await smtpPromise;
    receiver = await startReceiver(() => 503);
    dir = await mkdtemp(path.join(tmpdir(), 'cw-mail-'));
    stack = await startStack(
      tb.bus,
      tdb,
      dir,
      {
        SMTP_URL: smtp.url,
        EMAIL_FROM: 'Chartwright <alerts@chartwright.test>',
        EMAIL_RETRY_SCHEDULE: '1,1',
        PUBLIC_URL: 'https://api.chartwright.test',
        NOTIFICATION_POLL_INTERVAL_MS: '200',
        WEBHOOKS_ALLOW_PRIVATE: 'true',
        WEBHOOKS_ALLOW_HTTP: 'true',
        WEBHOOK_RETRY_SCHEDULE: '1,1,1,1,1,1',
        // About 2 s: long enough for a first failure, short enough for a test.
        WEBHOOK_DISABLE_AFTER_HOURS: '0.0005',
      },
      notificationService(),
    );
  });
  afterAll(async () => {
    await stack?.close();
    await smtp?.close();
    await receiver?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('preferences: defaults, partial changes, and 400 naming the field', async () => {
    const { token } = await stack.signup(`prefs-${newId()}@example.com`);
    const get = await stack.call(token, 'GET', '/v1/user/notifications');
    expect(get.json().data).toEqual({
      email: { analysisCompleted: false, analysisFailed: false, quotaWarnings: true, webhookDisabled: true },
    });
    const put = await stack.call(token, 'PUT', '/v1/user/notifications', {
      email: { analysisCompleted: true },
    });
    expect(put.statusCode, put.body).toBe(200);
    expect(put.json().data.email).toMatchObject({ analysisCompleted: true, quotaWarnings: true });
    for (const [body, field] of [
      [{ email: { analysisCompleted: 'yes' } }, 'email.analysisCompleted'],
      [{ email: { newsletter: true } }, 'email'],
      [{}, 'email'],
    ] as const) {
      const res = await stack.call(token, 'PUT', '/v1/user/notifications', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().error.code).toBe('VALIDATION_ERROR');
      expect(res.json().error.message).toContain(field);
    }
    expect((await stack.call(undefined, 'GET', '/v1/user/notifications')).statusCode).toBe(401);
  });

  it('a completed analysis mails its subject, text and HTML parts and a working unsubscribe link', async () => {
    const email = `mail-${newId()}@example.com`;
    const { token, user } = await stack.signup(email);
    await stack.call(token, 'PUT', '/v1/user/notifications', { email: { analysisCompleted: true } });
    const chartId = newId();
    await stack.chartOf(user.id, chartId);
    const res = await stack.call(token, 'POST', `/v1/charts/${chartId}/analyze`, {});
    expect(res.statusCode, res.body).toBe(200);
    const a = res.json().data.analysis;

    const mail = await eventually(() => smtp.mails.find((m) => m.to.includes(email)), 15_000);
    expect(mail.subject).toBe(`BINANCE:ETHUSDT 1h — ${a.recommendation} (confidence ${a.confidence})`);
    expect(mail.headers.from).toBe('Chartwright <alerts@chartwright.test>');
    expect(mail.text).toContain(`Recommendation: ${a.recommendation}`);
    expect(mail.html).toContain('<table>');
    expect(mail.html).toContain(`<td>${a.recommendation}</td>`);
    const link = /https:\/\/api\.chartwright\.test(\/v1\/notifications\/unsubscribe\?token=[\w.-]+)/.exec(
      mail.text,
    )?.[1];
    expect(link).toBeDefined();
    expect(mail.headers['list-unsubscribe']).toBe(`<https://api.chartwright.test${link}>`);
    expect(mail.headers['list-unsubscribe-post']).toBe('List-Unsubscribe=One-Click');

    // A tampered token is refused; the real one works without a login.
    const bad = await stack.call(undefined, 'GET', `${link!.slice(0, -2)}xx`);
    expect(bad.statusCode).toBe(400);
    const unsub = await stack.call(undefined, 'GET', link!);
    expect(unsub.statusCode, unsub.body).toBe(200);
    expect(unsub.json().data).toMatchObject({
      unsubscribed: 'analysisCompleted',
      email: { analysisCompleted: false },
    });
    expect(
      (await stack.call(token, 'GET', '/v1/user/notifications')).json().data.email.analysisCompleted,
    ).toBe(false);
  });

  it('escapes what users and models wrote in the HTML part', async () => {
    const email = `esc-${newId()}@example.com`;
    const { token, user } = await stack.signup(email);
    await stack.call(token, 'PUT', '/v1/user/notifications', { email: { analysisCompleted: true } });
    await publishEvent(
      tb.bus,
      completed(user.id, { symbol: 'X<img src=x>', analysisText: '<script>alert(1)</script> & "q"' }),
    );
    const mail = await eventually(() => smtp.mails.find((m) => m.to.includes(email)), 15_000);
    expect(mail.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;');
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).not.toContain('<img');
    expect(mail.text).toContain('<script>alert(1)</script>');
  });

  it('an endpoint failing for WEBHOOK_DISABLE_AFTER_HOURS is disabled and its owner mailed', async () => {
    const email = `off-${newId()}@example.com`;
    const { token, user } = await stack.signup(email);
    const created = await stack.call(token, 'POST', '/v1/webhooks', {
      url: `${receiver.base}/down`,
      events: ['*'],
    });
    const ep = created.json().data;
    await publishEvent(tb.bus, completed(user.id));
    const off = await eventually(async () => {
      const w = (await stack.call(token, 'GET', `/v1/webhooks/${ep.id}`)).json().data;
      return !w.enabled && w;
    }, 15_000);
    expect(off.disabledReason).toMatch(/failed for/);
    const [d] = (await stack.call(token, 'GET', `/v1/webhooks/${ep.id}/deliveries`)).json().data.deliveries;
    expect(d).toMatchObject({ status: 'failed', lastError: 'endpoint disabled', nextAttemptAt: null });
    const mail = await eventually(() => smtp.mails.find((m) => m.to.includes(email)), 15_000);
    expect(mail.subject).toBe('A webhook endpoint was disabled');
    expect(mail.text).toContain(`${receiver.base}/down`);
    // Enabling it again is the owner's call, and restarts the clock.
    const on = await stack.call(token, 'PATCH', `/v1/webhooks/${ep.id}`, { enabled: true });
    expect(on.json().data).toMatchObject({ enabled: true, disabledReason: null });
  });

  it('an SMTP 4xx is retried until accepted; a 5xx is recorded as failed', async () => {
    const db = openDatabase<NotificationDb>(tdb.target, 'notification');
    try {
      for (const kind of ['temp', 'hard']) {
        const email = `${kind}-${newId()}@example.com`;
        const { token, user } = await stack.signup(email);
        await stack.call(token, 'PUT', '/v1/user/notifications', { email: { analysisCompleted: true } });
        await publishEvent(tb.bus, completed(user.id));
        const row = await eventually(
          () =>
            db.db
              .selectFrom('emails')
              .selectAll()
              .where('to_address', '=', email)
              .where('status', '!=', 'pending')
              .executeTakeFirst(),
          15_000,
        );
        if (kind === 'temp') {
          expect(row).toMatchObject({ status: 'sent', attempts: 2 });
          expect(smtp.tries(email)).toBe(2);
          expect(smtp.mails.filter((m) => m.to.includes(email))).toHaveLength(1);
        } else {
          expect(row).toMatchObject({ status: 'failed', attempts: 1 });
          expect(row.last_error).toMatch(/SMTP 550/);
          expect(smtp.tries(email)).toBe(1);
        }
      }
    } finally {
      await db.destroy();
    }
  });
});

describe('email without SMTP_URL (the embedded default)', () => {
  let dir: string;
  let service: RunningService;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cw-eml-'));
    service = await notificationService()({
      bus: tb.bus,
      database: tdb.target,
      logger: createLogger('test', 'silent'),
      env: { NODE_ENV: 'test', SIGNING_SECRET: SECRET, DATA_DIR: dir, NOTIFICATION_POLL_INTERVAL_MS: '200' },
    });
  });
  afterAll(async () => {
    await service?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes each mail as an .eml file under DATA_DIR/mail (a quota warning, on by default)', async () => {
    const userId = newId();
    const email = `eml-${newId()}@example.com`;
    await publishEvent(
      tb.bus,
      makeEvent(
        UserRegistered,
        { userId, email, name: null, plan: 'free', role: 'user' },
        { source: 'test' },
      ),
    );
    const now = new Date();
    await publishEvent(
      tb.bus,
      makeEvent(
        QuotaThresholdReached,
        {
          userId,
          plan: 'free',
          resource: 'analyses',
          threshold: 80,
          used: 4,
          limit: 5,
          periodStart: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString(),
          resetAt: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString(),
          reachedAt: now.toISOString(),
        },
        { source: 'test' },
      ),
    );
    const mailDir = path.join(dir, 'mail');
    const [file] = await eventually(async () => {
      const files = (await readdir(mailDir).catch(() => [])).filter((f) => f.endsWith('.eml'));
      return files.length > 0 && files;
    }, 15_000);
    const raw = await readFile(path.join(mailDir, file!), 'utf8');
    expect(raw).toContain(`To: ${email}`);
    expect(raw).toMatch(/Subject: .*80/);
    expect(raw).toMatch(
      /List-Unsubscribe:\s+<http:\/\/127.0.0.1:3000\/v1\/notifications\/unsubscribe\?token=/,
    );
    expect(raw).toContain('multipart/alternative');
  });
});
