/**
 * The gateway's hot path: authenticated `GET /v1/user` under autocannon (`-c 50`), against a bare
 * Fastify hello-world measured in the same run, so the ratio holds on a busy machine.
 *
 *   pnpm bench:gateway [seconds] [connections]
 *
 * 1. a bare Fastify hello-world (its own process);
 * 2. the distributed stack: gateway and quota-service as processes on PostgreSQL, NATS JetStream
 *    and Redis (rate limits raised), as in e2e/test;
 * 3. the embedded product (one process, PGlite and the in-process bus).
 * Prints req/s, p50/p99 latency and non-2xx answers for each, and the ratios to the bare server.
 * `BENCH_PROFILE=1` writes CPU profiles (`node --cpu-prof`) of the gateway processes to
 * `.bench-profiles/`. Targets (issue 10): ≥ 10,000 req/s, ≥ 0.15× bare, p99 ≤ 20 ms, no non-2xx.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, REPO_ROOT, type ServiceProcess, startServiceProcess } from '@chartwright/kit/testing';
import autocannon from 'autocannon';
import { api, createStack } from '../test/support.js';

const SECONDS = Number(process.argv[2] ?? 8);
const CONNECTIONS = Number(process.argv[3] ?? 50);
const PROFILE = process.env.BENCH_PROFILE === '1';
const profileArgs = PROFILE
  ? ['--cpu-prof', `--cpu-prof-dir=${path.join(REPO_ROOT, '.bench-profiles')}`]
  : [];
const RAISED = {
  RATE_LIMIT_GENERAL_PER_MIN: '1000000',
  RATE_LIMIT_AUTH_PER_MIN: '1000000',
  LOG_LEVEL: 'warn',
};

interface Figures {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function load(name: string, url: string, headers: Record<string, string> = {}): Promise<Figures> {
  // A short warm-up (JIT, caches, pools), then the measured run.
  await autocannon({ url, connections: CONNECTIONS, duration: 2, headers });
  const r = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, headers });
  return {
    name,
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}

const line = (f: Figures, bare?: Figures) =>
  `${f.name.padEnd(34)} ${f.rps.toFixed(0).padStart(7)} req/s  p50 ${String(f.p50).padStart(3)} ms  p99 ${String(f.p99).padStart(3)} ms  non-2xx ${f.non2xx}  errors ${f.errors}${bare ? `  ratio ${(f.rps / bare.rps).toFixed(3)}` : ''}`;

/** A user and their token on a running gateway. */
async function token(base: string): Promise<string> {
  const signup = await api(base, 'POST', '/v1/auth/signup', {
    body: { email: `bench-${Date.now()}@example.com`, password: 'bench password 1' },
  });
  if (signup.status !== 201) throw new Error(`signup failed: ${JSON.stringify(signup.body)}`);
  return signup.body.data.token as string;
}

const BARE = `import Fastify from 'fastify';
const app = Fastify();
app.get('/', async () => ({ hello: 'world' }));
app.get('/health', async () => 'ok');
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
`;

/** The baseline as its own process; its script sits in e2e/bench so `fastify` resolves. */
async function bareFastify(): Promise<ServiceProcess> {
  const entry = path.join(REPO_ROOT, 'e2e', 'bench', `.bare-fastify-${process.pid}.mjs`);
  writeFileSync(entry, BARE);
  try {
    return await startServiceProcess('bare-fastify', {}, { port: await freePort(), entry });
  } finally {
    rmSync(entry, { force: true });
  }
}

const results: Figures[] = [];
console.log(`cores: ${availableParallelism()}; autocannon -c ${CONNECTIONS} -d ${SECONDS}`);

const bare = await bareFastify();
let bareFigures: Figures;
try {
  bareFigures = await load('bare Fastify hello-world', `${bare.url}/`);
  console.log(line(bareFigures));
} finally {
  await bare.stop();
}

const stack = await createStack();
try {
  await stack.start('quota-service', RAISED);
  const gateway = await stack.start('gateway', RAISED, { nodeArgs: profileArgs });
  const t = await token(gateway.url);
  const f = await load('distributed GET /v1/user (JWT)', `${gateway.url}/v1/user`, {
    authorization: `Bearer ${t}`,
  });
  results.push(f);
  console.log(line(f, bareFigures));
  // SIGTERM so a CPU profile is written.
  await gateway.stop('SIGTERM');
} finally {
  await stack.close();
}

const dataDir = mkdtempSync(path.join(tmpdir(), 'cw-bench-embedded-'));
try {
  const embedded = await startServiceProcess(
    'embedded',
    {
      ...RAISED,
      DATA_DIR: dataDir,
      DATABASE_URL: '',
      NATS_URL: '',
      REDIS_URL: '',
      S3_BUCKET: '',
      S3_ENDPOINT: '',
    },
    {
      port: await freePort(),
      entry: path.join(REPO_ROOT, 'apps', 'embedded', 'src', 'main.ts'),
      nodeArgs: profileArgs,
      timeoutMs: 120_000,
    },
  );
  try {
    const t = await token(embedded.url);
    const f = await load('embedded GET /v1/user (JWT)', `${embedded.url}/v1/user`, {
      authorization: `Bearer ${t}`,
    });
    results.push(f);
    console.log(line(f, bareFigures));
  } finally {
    await embedded.stop('SIGTERM');
  }
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}

const [dist] = results;
if (dist) {
  const ok =
    dist.rps >= 10_000 &&
    dist.rps / bareFigures.rps >= 0.15 &&
    dist.p99 <= 20 &&
    dist.non2xx === 0 &&
    dist.errors === 0;
  console.log(
    `\ntarget (distributed: ≥ 10,000 req/s, ≥ 0.15× bare, p99 ≤ 20 ms, no non-2xx): ${ok ? 'met' : 'NOT met'}`,
  );
}
if (PROFILE) console.log(`CPU profiles in ${path.join(REPO_ROOT, '.bench-profiles')}`);
