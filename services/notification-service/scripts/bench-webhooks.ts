/**
 * Webhook delivery benchmark (not a test): notification-service as its own process on the local
 * PostgreSQL and NATS JetStream, `analysis.completed` events published by this script, a local
 * receiver counting what arrives.
 *
 *   pnpm bench:webhooks [events] [rate/s] [users]
 *
 * Prints, for a paced phase (`rate` events a second) the latency from publication to receipt
 * (p50, p95, p99), and for a burst (all at once) the events delivered per second, beside a
 * same-run baseline: the same signed POSTs sent straight from this process to the receiver.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebhookCreate } from '@chartwright/contracts';
import { callRpc, createLogger, JetStreamBus, newId, publishEvent } from '@chartwright/kit';
import {
  createTestDatabase,
  detectInfra,
  freePort,
  startServiceProcess,
  uniqueName,
} from '@chartwright/kit/testing';
import pg from 'pg';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { completed } from '../test/events.js';

const EVENTS = Number(process.argv[2] ?? 3000);
const RATE = Number(process.argv[3] ?? 500);
const USERS = Number(process.argv[4] ?? 50);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

// The receiver: notes when each analysis arrived.
const arrived = new Map<string, number>();
let verifyFailures = 0;
const secrets = new Map<string, string>();
const receiver = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = performance.now();
    const body = Buffer.concat(chunks).toString();
    const id = JSON.parse(body).data.analysisId as string;
    const user = req.url!.slice(1);
    // Spot-check signatures (verifying all would measure this script).
    if (arrived.size % 100 === 0) {
      try {
        new StandardWebhook(secrets.get(user)!).verify(body, req.headers as Record<string, string>);
      } catch {
        verifyFailures++;
      }
    }
    if (!arrived.has(id)) arrived.set(id, at);
    res.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

const infra = await detectInfra();
if (!infra.postgresUrl || !infra.natsUrl) throw new Error('bench:webhooks needs PostgreSQL and NATS');
const db = (await createTestDatabase())!;
const prefix = uniqueName('B').toUpperCase();
const bus = await JetStreamBus.connect({
  servers: infra.natsUrl,
  name: prefix,
  logger: createLogger('bench', 'silent'),
  streamPrefix: `${prefix}_`,
});
await bus.ensureStreams();
const service = await startServiceProcess(
  'notification-service',
  {
    DATABASE_URL: db.url,
    NATS_URL: infra.natsUrl,
    BUS_PREFIX: prefix,
    WEBHOOKS_ALLOW_PRIVATE: 'true',
    WEBHOOKS_ALLOW_HTTP: 'true',
    LOG_LEVEL: 'warn',
  },
  { port: await freePort() },
);

try {
  const users = Array.from({ length: USERS }, () => newId());
  for (const userId of users) {
    const ep = await callRpc(bus, WebhookCreate, {
      userId,
      url: `${base}/${userId}`,
      events: ['analysis.completed'],
    });
    secrets.set(userId, ep.secret);
  }

  // Baseline: the same signed POSTs straight to the receiver, 64 at a time (the service's cap).
  const agent = new http.Agent({ keepAlive: true });
  const sample = JSON.stringify({
    type: 'analysis.completed',
    timestamp: new Date().toISOString(),
    data: completed(users[0]!).data,
  });
  const signer = new StandardWebhook(secrets.get(users[0]!)!);
  const baseStart = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next++ < EVENTS) {
        const msgId = newId();
        const body = sample.replace(/"analysisId":"[^"]+"/, `"analysisId":"${msgId}"`);
        await new Promise<void>((resolve, reject) => {
          const r = http.request(`${base}/${users[0]}`, {
            method: 'POST',
            agent,
            headers: {
              'content-type': 'application/json',
              'webhook-id': msgId,
              'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
              'webhook-signature': signer.sign(msgId, new Date(), body),
            },
          });
          r.on('response', (res) => res.resume().on('end', resolve));
          r.on('error', reject);
          r.end(body);
        });
      }
    }),
  );
  const baselineRate = EVENTS / ((performance.now() - baseStart) / 1000);
  agent.destroy();
  arrived.clear();

  async function phase(label: string, rate: number | null) {
    const sentAt = new Map<string, number>();
    const start = performance.now();
    const perTick = rate ? Math.max(1, Math.round(rate / 100)) : 50;
    for (let i = 0; i < EVENTS; i += perTick) {
      if (rate) {
        const due = start + (i / rate) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      await Promise.all(
        Array.from({ length: Math.min(perTick, EVENTS - i) }, async (_, k) => {
          const e = completed(users[(i + k) % users.length]!);
          sentAt.set(e.data.analysisId, performance.now());
          await publishEvent(bus, e);
        }),
      );
    }
    const published = performance.now();
    const deadline = published + 120_000;
    while ([...sentAt.keys()].some((id) => !arrived.has(id)) && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const ids = [...sentAt.keys()].filter((id) => arrived.has(id));
    const latencies = ids.map((id) => arrived.get(id)! - sentAt.get(id)!);
    const last = Math.max(...ids.map((id) => arrived.get(id)!));
    const rateDelivered = ids.length / ((last - start) / 1000);
    console.log(
      `${label}: ${ids.length}/${EVENTS} delivered in ${((last - start) / 1000).toFixed(2)} s → ${rateDelivered.toFixed(0)} events/s` +
        ` (published at ${(EVENTS / ((published - start) / 1000)).toFixed(0)}/s); publish→receipt p50 ${pct(latencies, 50).toFixed(1)} ms,` +
        ` p95 ${pct(latencies, 95).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms`,
    );
    // Where the time went: deliveries written (the event consumer) and settled (the loop).
    const pgc = new pg.Client({ connectionString: db.url });
    await pgc.connect();
    const { rows } = await pgc.query(
      `select count(*)::int n, extract(epoch from max(created_at) - min(created_at)) c, extract(epoch from max(succeeded_at) - min(created_at)) s
       from notification.deliveries where event_type = 'analysis.completed' and created_at >= now() - interval '1 second' * $1`,
      [(performance.now() - start) / 1000 + 1],
    );
    await pgc.end();
    console.log(
      `  deliveries written at ${(rows[0].n / rows[0].c).toFixed(0)}/s by the event consumer, settled at ${(rows[0].n / rows[0].s).toFixed(0)}/s`,
    );
    return { rateDelivered, p50: pct(latencies, 50) };
  }

  console.log(
    `\nwebhooks bench: ${EVENTS} events, ${USERS} users with one endpoint each, local PostgreSQL + NATS\n`,
  );
  console.log(
    `baseline (signed POSTs straight from this process, 64 at a time): ${baselineRate.toFixed(0)} events/s`,
  );
  const paced = await phase(`paced at ${RATE}/s`, RATE);
  arrived.clear();
  const burst = await phase('burst (all at once)', null);
  console.log(
    `\nsummary: ${burst.rateDelivered.toFixed(0)} events/s delivered (${((burst.rateDelivered / baselineRate) * 100).toFixed(0)} % of the baseline), ` +
      `p50 ${paced.p50.toFixed(1)} ms at ${RATE}/s; targets ≥ 500 events/s, p50 ≤ 50 ms; signature spot checks failed: ${verifyFailures}\n`,
  );
} finally {
  await service.stop();
  receiver.closeAllConnections();
  receiver.close();
  await bus.deleteStreams();
  await bus.close();
  await db.drop();
}
