/**
 * The analysis pipeline with the built-in analyst in the distributed stack (gateway, quota-service
 * and analysis-service as separate processes on PostgreSQL, NATS JetStream and s3rver): analyses
 * per second and p50 / p95 from request to result, each request waiting for its result.
 *
 *   node --conditions=development --import tsx e2e/bench/analyses.ts [count=400] [concurrency=8]
 *
 * Bounded: at most `count` analyses and 60 s of measuring. Target: >= 50/s and p50 <= 100 ms.
 * With PROFILE_DIR set, each service writes a V8 CPU profile there (open it in Chrome DevTools).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { QuotaSetPlan } from '@chartwright/contracts';
import { callRpc, createLogger, newId, openBus, publishEvent } from '@chartwright/kit';
import { chartGeneratedEvent, eventually } from '@chartwright/kit/testing';
import { api, createStack } from '../test/support.js';
import { cpuPerItem, sampleCpu } from './cpu.js';

const COUNT = Math.min(5_000, Number(process.argv[2] ?? 400));
const CONCURRENCY = Math.min(64, Number(process.argv[3] ?? 8));
const WARM_UP = 30;
const MAX_MS = 60_000;
const PROFILE_DIR = process.env.PROFILE_DIR;
const nodeArgs = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(PROFILE_DIR)}`] : [];

const stack = await createStack();
const tmp = await mkdtemp(path.join(tmpdir(), 'cw-bench-analysis-'));
const bus = await openBus({
  natsUrl: stack.env.NATS_URL,
  name: 'bench',
  logger: createLogger('bench', 'silent'),
  prefix: stack.env.BUS_PREFIX,
});
try {
  const fast = { RATE_LIMIT_FREE_PER_MIN: '1000000', RATE_LIMIT_GENERAL_PER_MIN: '1000000' };
  const quota = await stack.start('quota-service', { DATABASE_POOL_MAX: '8' }, { nodeArgs });
  const analysis = await stack.start(
    'analysis-service',
    { ANALYSIS_TMP_DIR: tmp, ANALYSIS_CONCURRENCY: '16', DATABASE_POOL_MAX: '10' },
    { nodeArgs },
  );
  const gateway = await stack.start(
    'gateway',
    { ...fast, DATABASE_POOL_MAX: '8' },
    { port: stack.gatewayPort, nodeArgs },
  );

  const inbox = async () =>
    (await stack.query(`select 1 from quota.inbox where consumer = 'quota-users'`)).length;
  const signup = await api(gateway.url, 'POST', '/v1/auth/signup', {
    body: { email: 'bench@example.com', password: 'long enough pw' },
  });
  const token = signup.body.data.token as string;
  const userId = signup.body.data.user.id as string;
  await eventually(async () => (await inbox()) === 1);
  await callRpc(bus, QuotaSetPlan, { userId, plan: 'enterprise' });

  // One chart, its PNG in s3rver, announced as chart-service would.
  const chartId = newId();
  const objectKey = `users/${userId}/charts/${chartId}.png`;
  await fetch(`${stack.s3.endpoint}/${stack.s3.bucket}`, { method: 'PUT' });
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    randomBytes(60_000),
  ]);
  await fetch(`${stack.s3.endpoint}/${stack.s3.bucket}/${objectKey}`, {
    method: 'PUT',
    headers: { 'content-type': 'image/png' },
    body: png,
  });
  await publishEvent(
    bus,
    chartGeneratedEvent({
      chartId,
      userId,
      objectKey,
      size: png.length,
      symbol: 'BINANCE:BTCUSDT',
      interval: '4h',
      range: '3M',
      source: 'bench',
    }),
  );

  const analyse = async () => {
    const t = performance.now();
    const res = await api(gateway.url, 'POST', `/v1/charts/${chartId}/analyze`, { token, body: {} });
    if (res.status !== 200) throw new Error(`analyze answered ${res.status}: ${JSON.stringify(res.body)}`);
    return performance.now() - t;
  };

  await eventually(() => analyse().then(() => true), 10_000, 100);
  for (let i = 0; i < WARM_UP; i++) await analyse();

  const pids = {
    gateway: gateway.child.pid,
    'quota-service': quota.child.pid,
    'analysis-service': analysis.child.pid,
    'bench client + s3rver': process.pid,
  };
  const latencies: number[] = [];
  let next = 0;
  const cpuBefore = sampleCpu(pids);
  const started = performance.now();
  const worker = async () => {
    while (next < COUNT && performance.now() - started < MAX_MS) {
      next++;
      latencies.push(await analyse());
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = (performance.now() - started) / 1000;
  const cpu = cpuPerItem(cpuBefore, sampleCpu(pids), latencies.length);

  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;
  const rate = latencies.length / elapsed;
  const [phase] = await stack.query<Record<string, number>>(
    `select avg(extract(epoch from downloading_at - created_at) * 1000)::int as queued,
            avg(extract(epoch from analysing_at - downloading_at) * 1000)::int as download,
            avg(extract(epoch from completed_at - analysing_at) * 1000)::int as analyse
       from analysis.analyses`,
  );
  const rows = await stack.query<{ status: string; n: number }>(
    `select status, count(*)::int as n from analysis.analyses group by status`,
  );
  console.log(
    [
      `analyses (built-in analyst, distributed: gateway + quota-service + analysis-service, PostgreSQL, JetStream, s3rver)`,
      `  ${latencies.length} analyses, concurrency ${CONCURRENCY}, ${elapsed.toFixed(2)} s`,
      `  throughput ${rate.toFixed(1)} analyses/s (target >= 50)`,
      `  request -> result: p50 ${pct(50).toFixed(1)} ms (target <= 100), p95 ${pct(95).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`,
      `  inside analysis-service (avg ms): queued ${phase?.queued}, download ${phase?.download}, analyse + save ${phase?.analyse}`,
      `  CPU per analysis (ms): ${cpu}`,
      `  stored: ${rows.map((r) => `${r.status} ${r.n}`).join(', ')}`,
    ].join('\n'),
  );
  // A profile is written on a clean exit only.
  if (PROFILE_DIR) await Promise.all(stack.processes.map((p) => p.stop('SIGTERM')));
} finally {
  await bus.close();
  await stack.close();
  await rm(tmp, { recursive: true, force: true });
}
