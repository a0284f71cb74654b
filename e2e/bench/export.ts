/**
 * PDF export of a chart with 10 analyses (issue 13's "within 2 s"), in the embedded app (every
 * service in one process, PGlite, the in-process bus) on the shipped market files. Not a test:
 *
 *   pnpm bench:export [runs=10]
 *
 * The baseline, measured in the same run on the same chart: its PNG export (the stored image as a
 * download, through the same route, auth and rate limit), so the ratio is what building the report
 * costs over serving a file, whatever else the machine is doing.
 */
import path from 'node:path';
import { REPO_ROOT, startSelfContainedApp } from '@chartwright/kit/testing';

const RUNS = Math.max(1, Math.min(50, Number(process.argv[2] ?? 10)));
const TARGET_MS = 2_000;
const marketDir = process.env.MARKET_DATA_DIR ?? path.resolve(REPO_ROOT, '../shared/data/market');
const ADMIN = { email: 'admin@example.com', password: 'bench admin password' };

const app = await startSelfContainedApp({
  MARKET_DATA: 'file',
  MARKET_DATA_DIR: marketDir,
  ADMIN_EMAIL: ADMIN.email,
  ADMIN_PASSWORD: ADMIN.password,
});
const base = app.url;

async function call(method: string, url: string, token?: string, body?: unknown) {
  const res = await fetch(base + url, {
    method,
    headers: {
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  return res;
}
const json = async (res: Response) => ((await res.json()) as { data: any }).data;

/** Milliseconds of each of `RUNS` downloads of `url`, read to the end. */
async function timed(url: string, token: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    await (await call('GET', url, token)).arrayBuffer();
    out.push(performance.now() - started);
  }
  return out.sort((a, b) => a - b);
}
const median = (xs: number[]) => xs[Math.floor(xs.length / 2)]!;

try {
  const admin = (await json(await call('POST', '/v1/auth/login', undefined, ADMIN))).token as string;
  const user = await json(
    await call('POST', '/v1/auth/signup', undefined, {
      email: 'bench@example.com',
      password: 'bench password 123',
    }),
  );
  await call('PATCH', `/v1/admin/users/${user.user.id}/plan`, admin, { plan: 'pro' });
  const token = user.token as string;
  for (const deadline = Date.now() + 10_000; ; ) {
    if ((await json(await call('GET', '/v1/user/quota', token))).plan === 'pro') break;
    if (Date.now() > deadline) throw new Error('the plan change did not reach quota-service');
    await new Promise((r) => setTimeout(r, 100));
  }

  const chart = await json(
    await call('POST', '/v1/charts/generate', token, {
      symbol: 'BINANCE:BTCUSDT',
      interval: '1h',
      range: '7D',
      end: '2021-03-01T00:00:00Z',
      studies: [
        { name: 'Relative Strength Index', input: { period: 14 } },
        { name: 'Moving Average', input: { period: 20 } },
      ],
      drawings: [{ name: 'Horizontal Line', input: { price: 50_000 } }],
    }),
  );
  const styles = ['scalping', 'day_trading', 'swing_trading', 'position_trading'];
  for (let i = 0; i < 10; i++) {
    await call('POST', `/v1/charts/${chart.chartId}/analyze?wait=30`, token, {
      options: { tradingStyle: styles[i % 4] },
    });
  }
  const pdfUrl = `/v1/charts/${chart.chartId}/export?format=pdf`;
  const pngUrl = `/v1/charts/${chart.chartId}/export?format=png`;
  // Warm-up: fonts, the report's code paths, the image cache.
  const pdfBytes = (await (await call('GET', pdfUrl, token)).arrayBuffer()).byteLength;
  await (await call('GET', pngUrl, token)).arrayBuffer();

  const pdf = await timed(pdfUrl, token);
  const png = await timed(pngUrl, token);
  const pdfMs = median(pdf);
  const pngMs = median(png);
  console.log(`PDF of a chart with 10 analyses (${pdfBytes} bytes), ${RUNS} runs:`);
  console.log(
    `  pdf  median ${pdfMs.toFixed(0)} ms, min ${pdf[0]!.toFixed(0)} ms, max ${pdf.at(-1)!.toFixed(0)} ms`,
  );
  console.log(`  png  median ${pngMs.toFixed(1)} ms (baseline: the stored image through the same route)`);
  console.log(
    `  ratio pdf/png ${(pdfMs / pngMs).toFixed(1)}x; target ≤ ${TARGET_MS} ms: ${pdfMs <= TARGET_MS ? 'met' : 'NOT met'}`,
  );
} finally {
  await app.stop();
}
