// The built-in analyst replayed over the shipped hourly history (not a test):
//   pnpm bench:backtest                 BTCUSDT 1h, 2019-01-01..2021-01-01, step 24: steps/s and the scorecard
//   pnpm bench:backtest --table         the README's table: BTC and ETH 1h, 2018-01-01..2021-06-01, step 24
//   pnpm bench:backtest --rest          also the same run as a REST backtest job of the embedded app (PGlite, in-process bus)
// MARKET_DATA_DIR points at the CryptoDataDownload files (default: ../shared/data/market from the repo).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSelfContainedApp } from '@chartwright/kit/testing';
import { FileProvider, intervalMs } from '@chartwright/market';
import type { Scorecard } from '@chartwright/outcomes';
import { replayBuiltin } from '../src/backtest/replay.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const dir = process.env.MARKET_DATA_DIR ?? path.resolve(root, '../shared/data/market');
const provider = new FileProvider(dir);
const table = process.argv.includes('--table');
const rest = process.argv.includes('--rest');
const SEED = 42;

async function run(symbol: string, from: string, to: string, step: number) {
  const fromMs = Date.parse(from);
  const toMs = Date.parse(to);
  // The warm-up before `from` and the horizon after `to`.
  const { bars } = await provider.getBars({
    symbol,
    interval: '1h',
    start: fromMs - 500 * intervalMs('1h'),
    end: toMs + 100 * intervalMs('1h'),
    limit: 50_000,
  });
  const started = performance.now();
  const result = await replayBuiltin({
    bars,
    symbol,
    interval: '1h',
    from: fromMs,
    to: toMs,
    step,
    seed: SEED,
  });
  const seconds = (performance.now() - started) / 1000;
  return { symbol, result, seconds };
}

const pct = (x: number | null) => (x === null ? '—' : `${(x * 100).toFixed(1)} %`);
const num = (x: number | null, d = 2) => (x === null ? '—' : x.toFixed(d));
const row = (name: string, c: Scorecard) =>
  `| ${name} | ${c.wins + c.losses + c.expired} | ${c.wins}/${c.losses}/${c.expired} | ${pct(c.winRate)} | ${num(c.avgR)} | ${num(c.profitFactor)} | ${num(c.maxDrawdownR, 1)} | ${pct(c.longShare)} | ${pct(c.directionAccuracy)} | ${num(c.brierScore, 3)} |`;

if (table) {
  console.log(
    '| run | trades | won/lost/expired | win rate | avg R | profit factor | max DD (R) | long share | direction accuracy | Brier |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const symbol of ['BINANCE:BTCUSDT', 'BINANCE:ETHUSDT']) {
    const { result } = await run(symbol, '2018-01-01T00:00:00Z', '2021-06-01T00:00:00Z', 24);
    const t = symbol.split(':')[1];
    console.log(
      row(`${t} built-in (${result.steps} steps, ${result.scorecard.noTrade} no trade)`, result.scorecard),
    );
    console.log(row(`${t} random (seed ${result.random.seed})`, result.random.scorecard));
    console.log(
      `| ${t} buy-and-hold | — | — | — | — | — | — | — | return ${pct(result.buyAndHoldReturn)} | — |`,
    );
  }
} else {
  // Same run twice: the first warms up the JIT and the file index, the second is the figure.
  await run('BINANCE:BTCUSDT', '2019-01-01T00:00:00Z', '2021-01-01T00:00:00Z', 24);
  const { result, seconds } = await run(
    'BINANCE:BTCUSDT',
    '2019-01-01T00:00:00Z',
    '2021-01-01T00:00:00Z',
    24,
  );
  const c = result.scorecard;
  console.log(
    `built-in analyst, BTCUSDT 1h 2019-01-01..2021-01-01 step 24: ${result.steps} steps in ${seconds.toFixed(2)} s = ${(result.steps / seconds).toFixed(0)} steps/s`,
  );
  console.log(
    `  analyst: ${c.wins} won, ${c.losses} lost, ${c.expired} expired, ${c.noTrade} no trade; win rate ${pct(c.winRate)}, avg R ${num(c.avgR)}, direction accuracy ${pct(c.directionAccuracy)}`,
  );
  const r = result.random.scorecard;
  console.log(
    `  random baseline (seed ${result.random.seed}): ${r.wins} won, ${r.losses} lost, ${r.expired} expired; win rate ${pct(r.winRate)}, avg R ${num(r.avgR)}`,
  );
  console.log(`  buy-and-hold: ${pct(result.buyAndHoldReturn)}`);
}

/**
 * The same backtest as a durable REST job: the embedded app (every service in one process, PGlite
 * and the in-process bus) with MARKET_DATA=file; steps/s from the job's own start and finish
 * (the database's times), so the app's boot and the polling are not counted.
 */
async function restJob(from: string, to: string, step: number) {
  const app = await startSelfContainedApp({ MARKET_DATA: 'file', MARKET_DATA_DIR: dir });
  const base = app.url;
  const call = async (method: string, url: string, body?: unknown, token?: string) => {
    const res = await fetch(base + url, {
      method,
      headers: {
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = (await res.json()) as { data: any };
    if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(json)}`);
    return json.data;
  };
  try {
    const { token } = await call('POST', '/v1/auth/signup', {
      email: 'bench@example.com',
      password: 'bench password 123',
    });
    const created = await call(
      'POST',
      '/v1/backtests',
      { symbol: 'BINANCE:BTCUSDT', interval: '1h', from, to, step, analyst: 'builtin' },
      token,
    );
    for (;;) {
      const b = await call('GET', `/v1/backtests/${created.id}`, undefined, token);
      if (b.status === 'failed' || b.status === 'cancelled') throw new Error(`the backtest ${b.status}`);
      if (b.status === 'completed') {
        const seconds = (Date.parse(b.finishedAt) - Date.parse(b.startedAt)) / 1000;
        return { steps: b.progress.total as number, seconds, scorecard: b.scorecard as Scorecard };
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await app.stop();
  }
}

if (rest) {
  const job = await restJob('2019-01-01T00:00:00Z', '2021-01-01T00:00:00Z', 24);
  const inProcess = (await run('BINANCE:BTCUSDT', '2019-01-01T00:00:00Z', '2021-01-01T00:00:00Z', 24)).result;
  console.log(
    `REST backtest job (embedded app): ${job.steps} steps in ${job.seconds.toFixed(2)} s = ${(job.steps / job.seconds).toFixed(0)} steps/s (loading the bars, analysing, saving the trades, the baselines)`,
  );
  const same = JSON.stringify(job.scorecard) === JSON.stringify(inProcess.scorecard);
  console.log(`  its scorecard ${same ? 'equals' : 'DIFFERS FROM'} the in-process replay's`);
}
