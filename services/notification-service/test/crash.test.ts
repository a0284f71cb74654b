import { randomBytes } from 'node:crypto';
import { WebhookCreate } from '@chartwright/contracts';
import { callRpc, createLogger, JetStreamBus, newId, publishEvent } from '@chartwright/kit';
import {
  createTestDatabase,
  detectInfra,
  eventually,
  freePort,
  type ServiceProcess,
  startServiceProcess,
  uniqueName,
} from '@chartwright/kit/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completed } from './events.js';
import { type Receiver, startReceiver } from './support.js';

const infra = await detectInfra();

// notification-service as its own process, killed with SIGKILL while a retry waits in PostgreSQL.
describe.runIf(infra.postgresUrl && infra.natsUrl)(
  'notification-service process [postgres+jetstream]',
  () => {
    const prefix = uniqueName('N').toUpperCase();
    let db: { url: string; drop(): Promise<void> };
    let bus: JetStreamBus;
    let receiver: Receiver;
    let proc: ServiceProcess | undefined;
    let env: Record<string, string>;

    beforeAll(async () => {
      db = (await createTestDatabase())!;
      bus = await JetStreamBus.connect({
        servers: infra.natsUrl!,
        name: prefix,
        logger: createLogger('test', 'silent'),
        streamPrefix: `${prefix}_`,
      });
      await bus.ensureStreams();
      receiver = await startReceiver((_p, n) => (n === 1 ? 500 : 200));
      env = {
        DATABASE_URL: db.url,
        NATS_URL: infra.natsUrl!,
        BUS_PREFIX: prefix,
        DATABASE_POOL_MAX: '4',
        SIGNING_SECRET: randomBytes(32).toString('hex'),
        WEBHOOKS_ALLOW_PRIVATE: 'true',
        WEBHOOKS_ALLOW_HTTP: 'true',
        WEBHOOK_RETRY_SCHEDULE: '4',
        NOTIFICATION_POLL_INTERVAL_MS: '200',
      };
    });
    afterAll(async () => {
      await proc?.stop('SIGKILL');
      await receiver?.close();
      await bus?.deleteStreams();
      await bus?.close();
      await db?.drop();
    });

    const start = async () => startServiceProcess('notification-service', env, { port: await freePort() });

    it('a retry pending at a SIGKILL is delivered once after the restart, with the same webhook-id', {
      timeout: 90_000,
    }, async () => {
      proc = await start();
      const userId = newId();
      const ep = await callRpc(bus, WebhookCreate, { userId, url: `${receiver.base}/hook`, events: ['*'] });
      await publishEvent(bus, completed(userId));
      await eventually(() => receiver.received.length === 1, 15_000).catch((err) => {
        throw new Error(`${err}\n${proc?.output()}`);
      });
      // The first attempt failed (500) and is recorded; its retry waits 4 s in the database. Kill now.
      await eventually(async () => (await deliveryRows(ep.id))[0]?.attempts === 1, 10_000);
      expect(await proc.stop('SIGKILL')).toBeNull();
      proc = await start();
      await eventually(() => receiver.received.length >= 2, 20_000).catch((err) => {
        throw new Error(`${err}\n${proc?.output()}`);
      });
      // Long enough for any duplicate (a lost claim, a re-run of the event) to show.
      await new Promise((r) => setTimeout(r, 3_000));
      expect(receiver.received).toHaveLength(2);
      const [first, second] = receiver.received;
      expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
      expect(await deliveryRows(ep.id)).toEqual([{ status: 'succeeded', attempts: 2 }]);
    });

    async function deliveryRows(endpointId: string) {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ status: string; attempts: number }>(
          'select status, attempts from notification.deliveries where endpoint_id = $1',
          [endpointId],
        );
        return rows;
      } finally {
        await client.end();
      }
    }
  },
);
