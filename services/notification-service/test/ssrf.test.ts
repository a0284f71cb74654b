import { WebhookCreate, WebhookTest } from '@chartwright/contracts';
import {
  type ConfigError,
  callRpc,
  createLogger,
  type Database,
  newId,
  openDatabase,
  type RunningService,
  type ServiceError,
} from '@chartwright/kit';
import { testEngines } from '@chartwright/kit/testing';
import type { Resolver } from '@chartwright/safe-download';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NotificationDb } from '../src/db/schema.js';
import { loadNotificationConfig, notificationService } from '../src/index.js';
import { newWebhookSecret } from '../src/signing.js';
import { type Receiver, SECRET, startReceiver } from './support.js';

const { pairs } = await testEngines(afterAll);
// The real PostgreSQL and NATS where they answer.
const [, tdb, tb] = pairs[0]!;
const logger = createLogger('test', 'silent');

/** A resolver the test controls: names to addresses (no /etc/hosts, no real DNS). */
const dns = new Map<string, string>();
const resolver: Resolver = async (host) => {
  const address = dns.get(host);
  if (!address) throw new Error(`ENOTFOUND ${host}`);
  return [{ address, family: address.includes(':') ? 6 : 4 }];
};

let receiver: Receiver;
let target: Receiver;
let database: Database<NotificationDb>;
beforeAll(async () => {
  receiver = await startReceiver((p) =>
    p === '/redirect' ? { status: 302, headers: { location: `${target.base}/metadata` } } : 200,
  );
  target = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
  await target.close();
  await database?.destroy();
});

/** One notification-service at a time on the shared bus and schema (they answer one RPC queue). */
function instance(env: Record<string, string>) {
  let service: RunningService;
  beforeAll(async () => {
    service = await notificationService({ resolver })({
      bus: tb.bus,
      database: tdb.target,
      logger,
      // Leftover retries of an earlier instance never come due here.
      env: {
        NODE_ENV: 'test',
        SIGNING_SECRET: SECRET,
        WEBHOOK_RETRY_SCHEDULE: '3600',
        DATA_DIR: '/tmp/cw-ssrf',
        ...env,
      },
    });
    database ??= openDatabase<NotificationDb>(tdb.target, 'notification');
  });
  afterAll(() => service?.stop());
}

async function refusedAtCreation(url: string) {
  const err = (await callRpc(tb.bus, WebhookCreate, { userId: newId(), url, events: ['*'] }).then(
    () => undefined,
    (e) => e,
  )) as ServiceError | undefined;
  expect(err, url).toBeDefined();
  expect(err!.code, url).toBe('VALIDATION_ERROR');
  expect(err!.details, url).toEqual([expect.objectContaining({ field: 'url' })]);
  return err!.message;
}

/** An endpoint row written as if it had passed creation (an older rule, a DNS change). */
async function endpointRow(url: string) {
  const userId = newId();
  const id = newId();
  await database.db
    .insertInto('endpoints')
    .values({
      id,
      user_id: userId,
      url,
      events: JSON.stringify(['*']) as never,
      description: null,
      enabled: true,
      secret: newWebhookSecret(),
      previous_secret: null,
      previous_secret_expires_at: null,
      failing_since: null,
      disabled_reason: null,
    })
    .execute();
  return { userId, id };
}

const ownerOf = async (id: string) =>
  (await database.db.selectFrom('endpoints').select('user_id').where('id', '=', id).executeTakeFirstOrThrow())
    .user_id;

describe('webhook addresses: refused at creation and at delivery', () => {
  instance({ WEBHOOKS_ALLOW_HTTP: 'true' });

  it('refuses loopback, private, link-local, CGNAT and multicast hosts at creation, naming url', async () => {
    dns.set('internal.example', '10.0.0.1');
    for (const url of [
      'http://127.0.0.1/hook',
      'http://[::1]/hook',
      'http://169.254.169.254/latest/meta-data/',
      'https://internal.example/hook',
      'https://100.64.0.1/hook',
      'https://224.0.0.1/hook',
      'https://[::ffff:127.0.0.1]/hook',
    ])
      expect(await refusedAtCreation(url)).toMatch(/not a public address/);
    expect(await refusedAtCreation('https://nowhere.example/hook')).toMatch(/does not resolve/);
  });

  it('checks the address again at delivery, against what the host resolves to then', async () => {
    dns.set('internal.example', '10.0.0.1');
    dns.set('rebind.example', '93.184.216.34');
    // Public when created…
    const rebind = await callRpc(tb.bus, WebhookCreate, {
      userId: newId(),
      url: `http://rebind.example:${receiver.port}/rebind`,
      events: ['*'],
    });
    // …loopback when delivered to.
    dns.set('rebind.example', '127.0.0.1');
    const cases = [
      { userId: await ownerOf(rebind.id), id: rebind.id },
      await endpointRow(`http://127.0.0.1:${receiver.port}/literal`),
      await endpointRow(`http://[::1]:${receiver.port}/v6`),
      await endpointRow('http://169.254.169.254/latest/meta-data/'),
      await endpointRow(`http://internal.example:${receiver.port}/dns`),
    ];
    for (const c of cases) {
      const d = await callRpc(tb.bus, WebhookTest, { userId: c.userId, webhookId: c.id });
      expect(d.status).toBe('pending');
      expect(d.attempts).toBe(1);
      expect(d.lastStatusCode).toBeNull();
      expect(d.lastError).toMatch(/^PRIVATE_ADDRESS: .*not a public address/);
    }
    expect(receiver.received).toEqual([]);
  });
});

describe('redirects are not followed', () => {
  instance({ WEBHOOKS_ALLOW_HTTP: 'true', WEBHOOKS_ALLOW_PRIVATE: 'true' });

  it('a 302 to a private address is a failed attempt; the target is never asked', async () => {
    const ep = await callRpc(tb.bus, WebhookCreate, {
      userId: newId(),
      url: `${receiver.base}/redirect`,
      events: ['*'],
    });
    const owner = await database.db
      .selectFrom('endpoints')
      .select('user_id')
      .where('id', '=', ep.id)
      .executeTakeFirstOrThrow();
    const d = await callRpc(tb.bus, WebhookTest, { userId: owner.user_id, webhookId: ep.id });
    expect(d).toMatchObject({ status: 'pending', attempts: 1, lastStatusCode: 302 });
    expect(d.lastError).toMatch(/redirect 302 \(not followed\)/);
    expect(receiver.at('/redirect')).toHaveLength(1);
    expect(target.received).toEqual([]);
  });
});

describe('production', () => {
  instance({ NODE_ENV: 'production' });

  it('refuses WEBHOOKS_ALLOW_HTTP and WEBHOOKS_ALLOW_PRIVATE, naming them', () => {
    for (const v of ['WEBHOOKS_ALLOW_HTTP', 'WEBHOOKS_ALLOW_PRIVATE']) {
      let err: ConfigError | undefined;
      try {
        loadNotificationConfig({ NODE_ENV: 'production', SIGNING_SECRET: SECRET, [v]: 'true' });
      } catch (e) {
        err = e as ConfigError;
      }
      expect(err?.issues).toEqual([{ variable: v, problem: 'not allowed in production' }]);
    }
  });

  it('refuses an http URL at creation and at delivery', async () => {
    dns.set('public.example', '93.184.216.34');
    expect(await refusedAtCreation('http://public.example/hook')).toMatch(/must be an https URL/);
    const row = await endpointRow('http://public.example/hook');
    const d = await callRpc(tb.bus, WebhookTest, { userId: row.userId, webhookId: row.id });
    expect(d.lastError).toMatch(/^SCHEME_NOT_ALLOWED/);
  });
});
