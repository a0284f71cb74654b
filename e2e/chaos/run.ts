/**
 * `pnpm chaos`: the faults production brings, against the six services as processes on a
 * PostgreSQL cluster and a nats-server of their own (free ports, temp dirs, removed afterwards),
 * with s3rver as object store. Bounded load (by count and by time) runs throughout while it
 *   - kills -9 each service in turn and starts it again,
 *   - kills NATS and starts it again 5 s later,
 *   - stops PostgreSQL (fast) and starts it again 5 s later,
 *   - terminates sessions busy in a transaction, six times,
 *   - SIGTERMs every service at once,
 * then lets the work settle and prints invariants, each a count that should be 0. Every user has a
 * webhook for `analysis.completed` on a local receiver, so deliveries go through the faults too.
 *
 * Settings: CHAOS_USERS (8), CHAOS_WORKERS (4), CHAOS_MAX_OPS (3000), CHAOS_PAUSE_MS (3000).
 * Not part of `pnpm test`.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createLogger, JetStreamBus } from '@chartwright/kit';
import { type ServiceProcess, startPrivateNats, startPrivatePostgres } from '@chartwright/kit/testing';
import pg from 'pg';
import { createStack } from '../test/support.js';
import { faultyAnswers, Traffic, type User } from './traffic.js';

const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const USERS = num('CHAOS_USERS', 8);
const WORKERS = num('CHAOS_WORKERS', 4);
const MAX_OPS = num('CHAOS_MAX_OPS', 3_000);
const PAUSE_MS = num('CHAOS_PAUSE_MS', 3_000);
const SERVICES = [
  'quota-service',
  'storage-service',
  'chart-service',
  'analysis-service',
  'notification-service',
  'gateway',
];
/** Every service but the gateway, which starts last (it answers the load). */
const BACKENDS = SERVICES.filter((s) => s !== 'gateway');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const log = (msg: string) =>
  process.stdout.write(`[chaos ${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);

const tmp = mkdtempSync(path.join(os.tmpdir(), 'cw-chaos-'));
const analysisTmp = path.join(tmp, 'analysis-tmp');
const ENV = {
  RATE_LIMIT_FREE_PER_MIN: '100000',
  RATE_LIMIT_GENERAL_PER_MIN: '100000',
  QUOTA_PLANS_JSON: JSON.stringify({ free: { charts: 1_000_000, analyses: 1_000_000 } }),
  // Short lifetimes, so what a killed flow held is given back before the invariants are read.
  CHART_RESERVATION_TTL_SECONDS: '20',
  QUOTA_SWEEP_INTERVAL_MS: '2000',
  ANALYSIS_ACK_WAIT_MS: '5000',
  ANALYSIS_SWEEP_INTERVAL_MS: '5000',
  ANALYSIS_TMP_DIR: analysisTmp,
  SHUTDOWN_TIMEOUT_MS: '20000',
  // The webhook receiver is on loopback over http; retries come quickly so they settle in the run.
  WEBHOOKS_ALLOW_PRIVATE: 'true',
  WEBHOOKS_ALLOW_HTTP: 'true',
  WEBHOOK_RETRY_SCHEDULE: '1,2,5,10,20',
  NOTIFICATION_POLL_INTERVAL_MS: '500',
};

/** The analyses the receiver got a webhook for (a retry after a lost answer may repeat one). */
const delivered = new Set<string>();
const receiver = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => {
    body += d;
  });
  req.on('end', () => {
    try {
      const id = JSON.parse(body)?.data?.analysisId;
      if (typeof id === 'string') delivered.add(id);
    } catch {
      // not ours
    }
    res.writeHead(204).end();
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

const postgres = await startPrivatePostgres();
const nats = await startPrivateNats();
const stack = await createStack({ postgresUrl: postgres.url, natsUrl: nats.url });
log(
  `PostgreSQL on ${postgres.port}, NATS on ${nats.port}, database ${new URL(stack.databaseUrl).pathname.slice(1)}`,
);

const procs = new Map<string, ServiceProcess>();
/** Processes that exited without being told to: should stay empty. */
const died: string[] = [];
const expectedExit = new Set<ServiceProcess>();
async function start(name: string): Promise<ServiceProcess> {
  const p = await stack.start(name, ENV, {
    timeoutMs: 180_000,
    ...(name === 'gateway' ? { port: stack.gatewayPort } : {}),
  });
  procs.set(name, p);
  void p.exited.then((code) => {
    if (!expectedExit.has(p)) died.push(`${name} (exit ${code}): ${p.output().slice(-500)}`);
  });
  return p;
}
/**
 * When each service was killed -9, from the signal to the exit seen: what was in flight then
 * (or reached the dying process in between) may have been lost with it.
 */
const kills: { name: string; at: number; until: number }[] = [];
async function stop(name: string, signal: NodeJS.Signals) {
  const p = procs.get(name)!;
  expectedExit.add(p);
  const started = Date.now();
  const code = await p.stop(signal);
  if (signal === 'SIGKILL') kills.push({ name, at: started, until: Date.now() });
  return { code, ms: Date.now() - started };
}

const traffic = new Traffic(() => `http://127.0.0.1:${stack.gatewayPort}`);
const report: Record<string, number> = {};
const notes: string[] = [];
let exitCode = 0;

try {
  await Promise.all(BACKENDS.map(start));
  await start('gateway');
  log('six services up');
  const users: User[] = [];
  while (users.length < USERS) {
    const u = await traffic.signup();
    if (u && (await traffic.subscribe(u, hookUrl, ['analysis.completed']))) users.push(u);
    else await sleep(500);
  }

  let loadDone = false;
  const load = traffic.drive(users, { workers: WORKERS, until: () => loadDone, maxOps: MAX_OPS });
  const phase = async (name: string, fault: () => Promise<void>) => {
    traffic.phase = name;
    log(`fault: ${name}`);
    await fault();
    await sleep(PAUSE_MS);
  };

  await sleep(PAUSE_MS);
  for (const name of SERVICES) {
    await phase(`kill -9 ${name}`, async () => {
      await stop(name, 'SIGKILL');
      await start(name);
    });
  }
  await phase('NATS kill and restart', async () => {
    await nats.kill();
    await sleep(5_000);
    await nats.start();
  });
  await phase('PostgreSQL fast stop and start', async () => {
    await postgres.stop('fast');
    await sleep(5_000);
    await postgres.start();
    const back = Date.now();
    for (;;) {
      const ready = await Promise.all(
        [...procs.values()].map((p) =>
          fetch(`${p.url}/ready`).then(
            (r) => r.ok,
            () => false,
          ),
        ),
      );
      if (ready.every(Boolean)) break;
      if (Date.now() - back > 60_000) break;
      await sleep(100);
    }
    notes.push(`every service ready ${Date.now() - back} ms after PostgreSQL was back`);
  });
  await phase('terminate sessions in a transaction (x6)', async () => {
    const admin = new pg.Client({ connectionString: stack.databaseUrl });
    await admin.connect();
    let n = 0;
    for (let round = 0; round < 6; round++) {
      const until = Date.now() + 3_000;
      for (;;) {
        const r = await admin.query(
          `select pg_terminate_backend(pid) from pg_stat_activity
            where datname = current_database() and pid <> pg_backend_pid()
              and state in ('idle in transaction', 'active')`,
        );
        if (r.rowCount || Date.now() > until) {
          n += r.rowCount ?? 0;
          break;
        }
        await sleep(20);
      }
      await sleep(500);
    }
    await admin.end();
    notes.push(`${n} sessions terminated`);
  });
  await phase('SIGTERM of every service', async () => {
    const results = await Promise.all(SERVICES.map(async (s) => [s, await stop(s, 'SIGTERM')] as const));
    for (const [s, r] of results) notes.push(`SIGTERM ${s}: exit ${r.code} after ${r.ms} ms`);
    report['services not exiting 0 on SIGTERM'] = results.filter(([, r]) => r.code !== 0).length;
    await Promise.all(BACKENDS.map(start));
    await start('gateway');
  });
  loadDone = true;
  const ops = await load;
  log(`load done: ${ops} operations, ${traffic.outcomes.length} requests`);

  // Settle: analyses finish, outboxes drain, expired reservations are given back.
  traffic.phase = 'settle';
  const unfinished = () =>
    stack.query<{ n: string }>(
      `select count(*) as n from analysis.analyses where status not in ('completed', 'failed')`,
    );
  const outboxRows = async () => {
    let n = 0;
    for (const s of ['gateway', 'chart', 'analysis', 'storage', 'quota', 'notification'])
      n += Number((await stack.query<{ n: string }>(`select count(*) as n from ${s}.outbox`))[0]!.n);
    return n;
  };
  const pendingDeliveries = async () =>
    Number(
      (
        await stack.query<{ n: string }>(
          `select count(*) as n from notification.deliveries where status = 'pending'`,
        )
      )[0]!.n,
    );
  const settleUntil = Date.now() + 120_000;
  while (Date.now() < settleUntil) {
    const held = await stack.query<{ n: string }>(
      `select count(*) as n from quota.reservations where state = 'held' and kind = 'charts'`,
    );
    if (
      Number((await unfinished())[0]!.n) === 0 &&
      (await outboxRows()) === 0 &&
      Number(held[0]!.n) === 0 &&
      (await pendingDeliveries()) === 0
    )
      break;
    await sleep(1_000);
  }
  log('settled; checking');

  // Answers.
  const answered = traffic.outcomes;
  const inFlightAtKill = (o: { at: number; ms: number }, gatewayOnly: boolean) =>
    kills.some((k) => (!gatewayOnly || k.name === 'gateway') && o.at <= k.until && o.at + o.ms >= k.at);
  Object.assign(report, {
    'answers 500 (INTERNAL)': answered.filter((o) => o.status === 500).length,
    // A 504: the service answering was killed -9 with the request in hand, and NATS cannot tell.
    'answers 5xx other than 503 (504s at a kill -9 aside)': answered.filter(
      (o) =>
        typeof o.status === 'number' &&
        o.status > 500 &&
        o.status !== 503 &&
        !(o.status === 504 && inFlightAtKill(o, false)),
    ).length,
    '503 without Retry-After': answered.filter((o) => o.status === 503 && !o.retryAfter).length,
    'answers off the error envelope': answered.filter((o) => o.offEnvelope).length,
    'requests lost mid-flight (but at a gateway kill -9)': answered.filter(
      (o) => (o.status === 'lost' || o.status === 'timeout') && !inFlightAtKill(o, true),
    ).length,
    'processes that died on their own': died.length,
  });
  notes.push(
    `504s at a kill -9: ${answered.filter((o) => o.status === 504).length}; requests lost at a gateway kill -9: ${answered.filter((o) => o.status === 'lost' || o.status === 'timeout').length}`,
  );
  const faulty = faultyAnswers(answered);
  if (faulty.length) notes.push(`faulty answers (first 5): ${JSON.stringify(faulty.slice(0, 5))}`);

  // Every 201 chart exists and its image downloads, to its owner.
  const chartIds = [...traffic.charts.keys()];
  const known = new Set(
    (await stack.query<{ id: string }>(`select id from chart.charts where id = any($1)`, [chartIds])).map(
      (r) => r.id,
    ),
  );
  report['201 charts missing'] = chartIds.filter((id) => !known.has(id)).length;
  let notDownloading = 0;
  for (const [id, user] of traffic.charts) {
    const res = await fetch(`http://127.0.0.1:${stack.gatewayPort}/v1/charts/${id}/image`, {
      headers: { authorization: `Bearer ${user.token}` },
    }).catch(() => undefined);
    const body = res?.ok ? Buffer.from(await res.arrayBuffer()) : undefined;
    if (!body || body.length < 100) notDownloading++;
  }
  report['201 charts whose image does not download'] = notDownloading;

  // Every accepted analysis ends completed, or failed with a reason.
  const analysisIds = [...traffic.analyses.keys()];
  const rows = await stack.query<{ id: string; status: string; error_reason: string | null }>(
    `select id, status, error_reason from analysis.analyses where id = any($1)`,
    [analysisIds],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  report['accepted analyses missing'] = analysisIds.filter((id) => !byId.has(id)).length;
  report['accepted analyses not finished'] = rows.filter(
    (r) => r.status !== 'completed' && r.status !== 'failed',
  ).length;
  report['failed analyses without a reason'] = rows.filter(
    (r) => r.status === 'failed' && !r.error_reason,
  ).length;
  notes.push(
    `analyses: ${rows.filter((r) => r.status === 'completed').length} completed, ${rows.filter((r) => r.status === 'failed').length} failed of ${analysisIds.length} accepted`,
  );

  // Every completed analysis reached its owner's webhook, through one delivery that succeeded.
  const completed = rows.filter((r) => r.status === 'completed').map((r) => r.id);
  const deliveries = await stack.query<{ analysis_id: string; status: string }>(
    `select body::json->'data'->>'analysisId' as analysis_id, status from notification.deliveries
      where event_type = 'analysis.completed'`,
  );
  const deliveryOf = new Map<string, string[]>();
  for (const d of deliveries)
    deliveryOf.set(d.analysis_id, [...(deliveryOf.get(d.analysis_id) ?? []), d.status]);
  report['completed analyses without exactly one webhook delivery'] = completed.filter(
    (id) => deliveryOf.get(id)?.length !== 1,
  ).length;
  report['webhook deliveries not succeeded'] = deliveries.filter((d) => d.status !== 'succeeded').length;
  report['completed analyses the receiver never got'] = completed.filter((id) => !delivered.has(id)).length;
  notes.push(`webhooks: ${deliveries.length} deliveries, ${delivered.size} analyses received`);

  // Quota equals the work: per user, charts made and analyses completed (plus any still held).
  const mismatched = await stack.query<{ user_id: string }>(
    `select q.user_id from quota.user_quotas q
      where q.charts_used <> (select count(*) from chart.charts c where c.user_id = q.user_id)
                             + (select coalesce(sum(amount), 0) from quota.reservations r
                                 where r.user_id = q.user_id and r.kind = 'charts' and r.state = 'held')
         or q.analyses_used <> (select count(*) from analysis.analyses a where a.user_id = q.user_id and a.status = 'completed')
                             + (select coalesce(sum(amount), 0) from quota.reservations r
                                 where r.user_id = q.user_id and r.kind = 'analyses' and r.state = 'held')`,
  );
  report['users whose quota differs from their work'] = mismatched.length;

  // No idempotency key stuck: a key still "running" whose request is over (a lease that ran out
  // is not stuck, where the table has one).
  const leaseColumn = (
    await stack.query<{ column_name: string }>(
      `select column_name from information_schema.columns
        where table_schema = 'gateway' and table_name = 'idempotency_keys' and column_name like '%lease%'`,
    )
  )[0]?.column_name;
  const stuck = await stack.query<{ n: string }>(
    `select count(*) as n from gateway.idempotency_keys where state = 'running'${leaseColumn ? ` and ${leaseColumn} > now()` : ''}`,
  );
  report['idempotency keys stuck running'] = Number(stuck[0]!.n);

  // No temp file left by analyses.
  const leftovers = (dir: string): number => {
    let n = 0;
    try {
      for (const e of readdirSync(dir, { withFileTypes: true }))
        n += e.isDirectory() ? leftovers(path.join(dir, e.name)) : 1;
    } catch {
      // no folder: nothing left
    }
    return n;
  };
  report['temp files left'] = leftovers(analysisTmp);

  // DLQ and outboxes empty.
  const bus = await JetStreamBus.connect({
    servers: nats.url,
    name: 'chaos-check',
    logger: createLogger('chaos', 'silent'),
    streamPrefix: `${stack.env.BUS_PREFIX}_`,
  });
  report['dead letters'] = await bus.messagesIn('DLQ');
  await bus.close();
  report['outbox rows'] = await outboxRows();

  process.stdout.write('\n== chaos invariants (each should be 0) ==\n');
  for (const [k, v] of Object.entries(report)) process.stdout.write(`${String(v).padStart(6)}  ${k}\n`);
  process.stdout.write('\n== notes ==\n');
  const by = new Map<string, Map<string, number>>();
  for (const o of answered) {
    const m = by.get(o.phase) ?? new Map<string, number>();
    m.set(String(o.status), (m.get(String(o.status)) ?? 0) + 1);
    by.set(o.phase, m);
  }
  for (const [p, m] of by) {
    const slowest = Math.max(...answered.filter((o) => o.phase === p).map((o) => o.ms));
    process.stdout.write(
      `  ${p}: ${[...m].map(([s, n]) => `${s}×${n}`).join(' ')} (slowest ${slowest} ms)\n`,
    );
  }
  for (const n of notes) process.stdout.write(`  ${n}\n`);
  for (const d of died) process.stdout.write(`  died: ${d}\n`);
  exitCode = Object.values(report).some((v) => v !== 0) ? 1 : 0;
} catch (err) {
  process.stderr.write(`chaos run failed: ${(err as Error).stack ?? err}\n`);
  exitCode = 2;
} finally {
  for (const p of procs.values()) expectedExit.add(p);
  await stack.close().catch(() => undefined);
  await postgres.destroy().catch(() => undefined);
  await nats.destroy().catch(() => undefined);
  rmSync(tmp, { recursive: true, force: true });
  receiver.close();
}
process.exit(exitCode);
