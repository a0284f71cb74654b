import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually } from '@chartwright/kit/testing';
import { type Bar, seededRandom } from '@chartwright/market';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createStack, type Stack } from './support.js';

/*
 * Issue 14's historical path, end to end over REST with every service a separate process:
 * charts with `end` → analyse → outcome resolved → scorecard agrees with the trades.
 *
 * The bars are constructed (a file in MARKET_DATA_DIR), so the test knows the future after every
 * `end`. It does not predict what the built-in analyst says: it reads the levels of each analysis
 * over REST and works out the outcome itself from the bars it wrote, with its own small reading of
 * the README's "Outcome tracking" rules (deliberately not `packages/outcomes`), then checks that
 * the service's outcome and the scorecard agree. The futures are built so that any sane levels are
 * reached: a big move one way then the other after most ends, and dead-flat bars after one.
 */

const H = 3_600_000;
/** In the past, so every `end` below is a historical chart. */
const T0 = Date.UTC(2024, 0, 1);
const SYMBOL = 'BINANCE:TESTUSDT';
/** swing_trading, the default trading style, is followed for 30 bars (README "Outcome tracking"). */
const HORIZON = 30;
/** "within 0.001 %" of the last close is an entry at the last close. */
const AT_CLOSE = 1e-5;
const ADMIN = { email: 'history-admin@example.com', password: 'history admin password' };

/** One stretch of bars: how many, the drift and the noise of a bar's close, the wicks' size. */
type Segment = { bars: number; drift: number; noise: number; wick: number; end?: string };

/** Hourly bars from T0, prices at 4 decimals as written to the file; `ends` are named bar indexes. */
function buildBars(segments: Segment[], seed: number) {
  const r = seededRandom(seed);
  const round = (p: number, how: (x: number) => number) => how(p * 1e4) / 1e4;
  const bars: Bar[] = [];
  const ends = new Map<string, number>();
  let close = 100;
  for (const s of segments) {
    for (let i = 0; i < s.bars; i++) {
      const open = close;
      close = round(open * (1 + s.drift + s.noise * (2 * r() - 1)), Math.round);
      const high = round(Math.max(open, close) * (1 + s.wick * r()), Math.ceil);
      const low = round(Math.min(open, close) * (1 - s.wick * r()), Math.floor);
      bars.push({ time: T0 + bars.length * H, open, high, low, close, volume: 1000 + Math.round(500 * r()) });
    }
    if (s.end) ends.set(s.end, bars.length - 1);
  }
  return { bars, ends };
}

const quiet = { bars: 1, drift: 0, noise: 0.0005, wick: 0.0005 };
const up = (bars: number) => ({ bars, drift: 0.04, noise: 0.005, wick: 0.003 });
const down = (bars: number) => ({ bars, drift: -0.03, noise: 0.005, wick: 0.003 });
const crash = (bars: number) => ({ bars, drift: -0.04, noise: 0.005, wick: 0.003 });
const rebound = (bars: number) => ({ bars, drift: 0.03, noise: 0.005, wick: 0.003 });

/**
 * Each `end` closes a long trend (or a flat stretch) and is followed by a quiet bar, then (for
 * most) a move of ±40 % or more within the horizon, so a trade on any levels a few ATRs wide is
 * decided: up then down after `rally`, down then up after `dump` and `crash`, and after `dead` the
 * bars barely move for more than the horizon, so a trade there expires.
 */
const { bars: BARS, ends: ENDS } = buildBars(
  [
    { bars: 500, drift: 0.002, noise: 0.004, wick: 0.003, end: 'rally' },
    quiet,
    up(12),
    down(40),
    { bars: 300, drift: -0.001, noise: 0.004, wick: 0.003, end: 'dump' },
    quiet,
    crash(12),
    rebound(40),
    { bars: 300, drift: 0.002, noise: 0.004, wick: 0.003, end: 'crash' },
    quiet,
    crash(12),
    rebound(40),
    { bars: 300, drift: 0, noise: 0.006, wick: 0.004, end: 'flat' },
    { bars: 60, drift: 0, noise: 0.002, wick: 0.002 },
    { bars: 300, drift: 0.002, noise: 0.004, wick: 0.003, end: 'dead' },
    { bars: 60, drift: 0, noise: 0.0002, wick: 0.0002 },
  ],
  7,
);

const CSV = `time,open,high,low,close,volume\n${BARS.map((b) => `${b.time},${b.open},${b.high},${b.low},${b.close},${b.volume}`).join('\n')}\n`;
const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

interface Levels {
  recommendation: 'LONG' | 'SHORT' | 'NEUTRAL';
  entryPrice: number | null;
  stopLoss: number | null;
  takeProfit: number | null;
}

interface Expected {
  status: 'won' | 'lost' | 'expired' | 'no_trade';
  filledAt: string | null;
  exitAt: string | null;
  exitPrice: number | null;
  rMultiple: number | null;
  barsHeld: number | null;
  forwardReturn: number;
  signalClose: number;
}

/**
 * The README's rules, read independently: a LONG/SHORT with stop < entry < target (mirrored for
 * SHORT) is a trade, anything else no trade; an entry at the last close fills on the next bar
 * (before it trades, so that bar's target counts), another on the first bar whose range reaches
 * it; after the fill, the stop wins any tie and any stop on a fill bar; the target on the bar after
 * the fill, or later, wins at the level; not done within the horizon: expired at the horizon bar's
 * close (no price when never filled). Forward return: the close `HORIZON` bars on over the
 * signal's close, − 1.
 */
function expectedOutcome(a: Levels, signalIndex: number): Expected {
  const close = BARS[signalIndex]!.close;
  const after = BARS.slice(signalIndex + 1, signalIndex + 1 + HORIZON);
  expect(after).toHaveLength(HORIZON); // the file holds the whole horizon of every end
  const forwardReturn = after.at(-1)!.close / close - 1;
  const none = { filledAt: null, exitAt: null, exitPrice: null, rMultiple: null, barsHeld: null };
  const { recommendation: side, entryPrice: entry, stopLoss: stop, takeProfit: target } = a;
  if (side === 'NEUTRAL' || entry === null || stop === null || target === null)
    return { status: 'no_trade', ...none, forwardReturn, signalClose: close };
  const long = side === 'LONG';
  if (!(long ? stop < entry && entry < target : target < entry && entry < stop))
    return { status: 'no_trade', ...none, forwardReturn, signalClose: close };
  const r = (exit: number) => (long ? (exit - entry) / (entry - stop) : (entry - exit) / (stop - entry));
  const atClose = Math.abs(entry - close) <= AT_CLOSE * close;
  let fill: number | null = null;
  for (const [i, bar] of after.entries()) {
    if (fill === null) {
      if (!atClose && !(bar.low <= entry && entry <= bar.high)) continue;
      fill = i;
    }
    const stopped = long ? bar.low <= stop : bar.high >= stop;
    const reached = long ? bar.high >= target : bar.low <= target;
    if (stopped || (reached && (i > fill || atClose)))
      return {
        status: stopped ? 'lost' : 'won',
        filledAt: iso(after[fill]!.time),
        exitAt: iso(bar.time),
        exitPrice: stopped ? stop : target,
        rMultiple: r(stopped ? stop : target),
        barsHeld: i - fill + 1,
        forwardReturn,
        signalClose: close,
      };
  }
  const last = after.at(-1)!;
  return {
    status: 'expired',
    filledAt: fill === null ? null : iso(after[fill]!.time),
    exitAt: iso(last.time),
    exitPrice: fill === null ? null : last.close,
    rMultiple: fill === null ? null : r(last.close),
    barsHeld: fill === null ? null : HORIZON - fill,
    forwardReturn,
    signalClose: close,
  };
}

type Outcome = Expected & Levels & { horizonBars: number; signalAt: string; confidence: number };

describe('the historical path over REST, services as separate processes [postgres] [jetstream] [s3rver]', () => {
  let stack: Stack;
  let dir: string;
  let url: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cw-e2e-history-'));
    await writeFile(path.join(dir, 'BINANCE_TESTUSDT_1h.csv'), CSV);
    stack = await createStack();
    const env = {
      MARKET_DATA: 'file',
      MARKET_DATA_DIR: dir,
      QUOTA_PLANS_JSON: JSON.stringify({ free: { charts: 100, analyses: 100 } }),
      RATE_LIMIT_FREE_PER_MIN: '1000',
      ANALYSIS_TMP_DIR: path.join(dir, 'analysis-tmp'),
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
    };
    for (const s of [
      'quota-service',
      'storage-service',
      'chart-service',
      'analysis-service',
      'outcome-service',
    ])
      await stack.start(s, env);
    url = (await stack.start('gateway', env, { port: stack.gatewayPort })).url;
  });
  afterAll(async () => {
    await stack?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const user = async (email: string) => {
    const signup = await api(url, 'POST', '/v1/auth/signup', { body: { email, password: 'long enough pw' } });
    expect(signup.status, JSON.stringify(signup.body)).toBe(201);
    const login = await api(url, 'POST', '/v1/auth/login', { body: { email, password: 'long enough pw' } });
    expect(login.status).toBe(200);
    return login.body.data.token as string;
  };

  /** A 1h chart of SYMBOL ending at bar `index`, analysed with `wait`; its analysis id and levels. */
  const analyseAt = async (token: string, index: number) => {
    const end = iso(BARS[index]!.time)!;
    const chart = await api(url, 'POST', '/v1/charts/generate', {
      token,
      body: { symbol: SYMBOL, interval: '1h', end, renderer: 'builtin' },
    });
    expect(chart.status, JSON.stringify(chart.body)).toBe(201);
    expect(chart.body.data.metadata.synthetic).toBe(false);
    const analysis = await api(url, 'POST', `/v1/charts/${chart.body.data.chartId}/analyze?wait=60`, {
      token,
      body: {},
    });
    expect(analysis.status, JSON.stringify(analysis.body)).toBe(200);
    const id = analysis.body.data.analysisId as string;
    const detail = await api(url, 'GET', `/v1/analyses/${id}`, { token });
    expect(detail.status).toBe(200);
    const a = detail.body.data.analysis;
    expect(a.status).toBe('completed');
    const levels: Levels = {
      recommendation: a.recommendation,
      entryPrice: a.entryPrice,
      stopLoss: a.stopLoss,
      takeProfit: a.takeProfit,
    };
    return { id, end, index, levels, confidence: a.confidence as number };
  };

  /** Polls the outcome until it is final (bounded: 30 s). */
  const finalOutcome = (token: string, id: string) =>
    eventually(
      async () => {
        const res = await api(url, 'GET', `/v1/analyses/${id}/outcome`, { token });
        return res.status === 200 && res.body.data.status !== 'open' ? (res.body.data as Outcome) : null;
      },
      30_000,
      200,
    );

  it('end → analyse → outcome resolved → scorecard agrees with the trades', async () => {
    const alice = await user('alice-history@example.com');
    const bob = await user('bob-history@example.com');

    const analyses = [];
    for (const name of ['rally', 'dump', 'crash', 'flat', 'dead'])
      analyses.push({ name, ...(await analyseAt(alice, ENDS.get(name)!)) });

    const trades: (Expected & Levels & { name: string })[] = [];
    for (const a of analyses) {
      const got = await finalOutcome(alice, a.id);
      const want = expectedOutcome(a.levels, a.index);
      const context = `${a.name} (end ${a.end}): ${JSON.stringify(a.levels)}`;
      expect(got, context).toMatchObject({
        analysisId: a.id,
        symbol: SYMBOL,
        interval: '1h',
        tradingStyle: 'swing_trading',
        horizonBars: HORIZON,
        signalAt: a.end,
        confidence: a.confidence,
        model: 'chartwright-technical-v1',
        ...a.levels,
        status: want.status,
        filledAt: want.filledAt,
        exitAt: want.exitAt,
        exitPrice: want.exitPrice,
        barsHeld: want.barsHeld,
        signalClose: want.signalClose,
      });
      expect(got.forwardReturn, context).toBeCloseTo(want.forwardReturn, 9);
      if (want.rMultiple === null) expect(got.rMultiple, context).toBeNull();
      else expect(got.rMultiple, context).toBeCloseTo(want.rMultiple, 9);
      trades.push({ ...want, ...a.levels, name: a.name });
    }
    // The data is built so that trades get decided: at least one won or lost must have happened.
    const decided = trades.filter((t) => t.status === 'won' || t.status === 'lost');
    expect(decided.length, JSON.stringify(trades)).toBeGreaterThan(0);

    // Bob's analysis of the same bars is his: not in Alice's scorecard, and hers not in his.
    const bobs = await analyseAt(bob, ENDS.get('rally')!);
    const bobOutcome = await finalOutcome(bob, bobs.id);
    expect((await api(url, 'GET', `/v1/analyses/${analyses[0]!.id}/outcome`, { token: bob })).status).toBe(
      404,
    );
    expect((await api(url, 'GET', `/v1/analyses/${bobs.id}/outcome`, { token: alice })).status).toBe(404);

    const card = await api(url, 'GET', `/v1/scorecard?symbol=${encodeURIComponent(SYMBOL)}&interval=1h`, {
      token: alice,
    });
    expect(card.status).toBe(200);
    const count = (s: Expected['status']) => trades.filter((t) => t.status === s).length;
    const wins = count('won');
    const losses = count('lost');
    const filled = trades.filter((t) => t.rMultiple !== null);
    const sides = trades.filter((t) => t.recommendation !== 'NEUTRAL');
    expect(card.body.data).toMatchObject({
      signals: trades.length,
      resolved: trades.length,
      open: 0,
      wins,
      losses,
      expired: count('expired'),
      noTrade: count('no_trade'),
      winRate: wins + losses ? wins / (wins + losses) : null,
      longShare: sides.length ? sides.filter((t) => t.recommendation === 'LONG').length / sides.length : null,
    });
    const c = card.body.data;
    expect(c.wins + c.losses + c.expired).toBe(c.resolved - c.noTrade);
    if (filled.length === 0) expect(c.avgR).toBeNull();
    else expect(c.avgR).toBeCloseTo(filled.reduce((s, t) => s + t.rMultiple!, 0) / filled.length, 9);

    // Bob's card holds his one analysis only; the same query for him says so.
    const bobCard = await api(url, 'GET', `/v1/scorecard?symbol=${encodeURIComponent(SYMBOL)}&interval=1h`, {
      token: bob,
    });
    expect(bobCard.status).toBe(200);
    expect(bobCard.body.data).toMatchObject({ signals: 1, resolved: 1 });
    expect(bobOutcome.status).toBe(trades[0]!.status);
    // Another interval holds none of Alice's.
    const other = await api(url, 'GET', `/v1/scorecard?symbol=${encodeURIComponent(SYMBOL)}&interval=4h`, {
      token: alice,
    });
    expect(other.body.data.signals).toBe(0);

    // The admin's card, by model, counts every user's: Alice's trades and Bob's one.
    const admin = (await api(url, 'POST', '/v1/auth/login', { body: ADMIN })).body.data.token;
    expect((await api(url, 'GET', '/v1/admin/scorecard', { token: alice })).status).toBe(403);
    const byModel = await api(url, 'GET', `/v1/admin/scorecard?symbol=${encodeURIComponent(SYMBOL)}`, {
      token: admin,
    });
    expect(byModel.status).toBe(200);
    expect(byModel.body.data.models).toEqual([
      {
        model: 'chartwright-technical-v1',
        scorecard: expect.objectContaining({
          signals: trades.length + 1,
          wins: wins + Number(bobOutcome.status === 'won'),
          losses: losses + Number(bobOutcome.status === 'lost'),
        }),
      },
    ]);

    // An `end` in the future is the caller's mistake, named.
    const future = await api(url, 'POST', '/v1/charts/generate', {
      token: alice,
      body: { symbol: SYMBOL, interval: '1h', end: iso(Date.now() + 30 * 86_400_000), renderer: 'builtin' },
    });
    expect(future.status).toBe(400);
    expect(future.body.error.code).toBe('VALIDATION_ERROR');
    expect(future.body.error.details).toMatchObject([{ field: 'end' }]);
  });
});
