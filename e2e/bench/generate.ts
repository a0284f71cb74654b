/**
 * End-to-end benchmark of `POST /v1/charts/generate` on the distributed stack: the five services as
 * separate processes on PostgreSQL, NATS JetStream, Redis and s3rver (as in e2e/test).
 * Chart: 1200×675 PNG, 300 bars, 3 studies, 2 drawings, synthetic market data.
 *
 *   node --conditions=development --import tsx e2e/bench/generate.ts [requests] [concurrency] [seconds]
 *
 * Prints p50/p95 latency one request at a time, then throughput and latency with `concurrency`
 * requests in flight. Each phase stops at `requests` or `seconds`, whichever comes first.
 */
import { availableParallelism } from 'node:os';
import { api, createStack } from '../test/support.js';

const REQUESTS = Number(process.argv[2] ?? 200);
const CONCURRENCY = Number(process.argv[3] ?? 4);
const SECONDS = Number(process.argv[4] ?? 60);
const ADMIN = { email: 'bench-admin@example.com', password: 'bench admin password' };

const HOUR = 3_600_000;
const now = Math.floor(Date.now() / HOUR) * HOUR;
const body = {
  symbol: 'BINANCE:BTCUSDT',
  interval: '1h',
  width: 1200,
  height: 675,
  theme: 'dark',
  studies: [
    { name: 'Volume' },
    { name: 'Bollinger Bands', input: { period: 20, stddev: 2 } },
    { name: 'Relative Strength Index', input: { period: 14 } },
  ],
  drawings: [
    { name: 'Horizontal Line', input: { price: 50_000 }, override: { text: 'Level' } },
    {
      name: 'Trend Line',
      input: {
        startDatetime: new Date(now - 200 * HOUR).toISOString(),
        startPrice: 45_000,
        endDatetime: new Date(now - 10 * HOUR).toISOString(),
        endPrice: 52_000,
      },
    },
  ],
};

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};
const fmt = (v: number) => v.toFixed(1);

const stack = await createStack();
try {
  const started = performance.now();
  for (const s of ['quota-service', 'storage-service', 'chart-service', 'analysis-service'])
    await stack.start(s);
  const gateway = await stack.start(
    'gateway',
    {
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      RATE_LIMIT_GENERAL_PER_MIN: '1000000',
      RATE_LIMIT_ENTERPRISE_PER_MIN: '1000000',
    },
    { port: stack.gatewayPort },
  );
  console.log(`stack up in ${fmt((performance.now() - started) / 1000)} s; cores: ${availableParallelism()}`);

  const signup = await api(gateway.url, 'POST', '/v1/auth/signup', {
    body: { email: 'bench@example.com', password: 'bench password 1' },
  });
  const token = signup.body.data.token as string;
  const admin = (await api(gateway.url, 'POST', '/v1/auth/login', { body: ADMIN })).body.data.token as string;
  const plan = await api(gateway.url, 'PATCH', `/v1/admin/users/${signup.body.data.user.id}/plan`, {
    token: admin,
    body: { plan: 'enterprise' },
  });
  if (plan.status !== 200) throw new Error(`could not set the plan: ${JSON.stringify(plan.body)}`);

  let failures = 0;
  const once = async (): Promise<number> => {
    const t = performance.now();
    const res = await api(gateway.url, 'POST', '/v1/charts/generate', { token, body });
    const ms = performance.now() - t;
    if (res.status !== 201) {
      failures++;
      if (failures <= 3) console.error(`generate failed: ${res.status} ${JSON.stringify(res.body)}`);
    }
    return ms;
  };

  for (let i = 0; i < 10; i++) await once();

  const deadline = (s: number) => performance.now() + s * 1000;
  const sequential: number[] = [];
  const endSeq = deadline(SECONDS);
  while (sequential.length < REQUESTS && performance.now() < endSeq) sequential.push(await once());
  console.log(
    `sequential      : ${sequential.length} requests  p50 ${fmt(pct(sequential, 50))} ms  p95 ${fmt(pct(sequential, 95))} ms  (target p50 ≤ 150 ms)`,
  );

  const loaded: number[] = [];
  const endLoad = deadline(SECONDS);
  let issued = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (issued < REQUESTS && performance.now() < endLoad) {
        issued++;
        loaded.push(await once());
      }
    }),
  );
  const rate = (loaded.length / (performance.now() - t0)) * 1000;
  console.log(
    `${CONCURRENCY} in flight     : ${loaded.length} requests  p50 ${fmt(pct(loaded, 50))} ms  p95 ${fmt(pct(loaded, 95))} ms  ${fmt(rate)} charts/s`,
  );
  if (failures) console.log(`failures: ${failures}`);
} finally {
  await stack.close();
}
