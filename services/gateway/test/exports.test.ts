import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startAnalysisService } from '@chartwright/analysis-service';
import { startChartService } from '@chartwright/chart-service';
import { newId, openDatabase } from '@chartwright/kit';
import { eventually, testBuses, testDatabases } from '@chartwright/kit/testing';
import { startS3rver } from '@chartwright/object-store/testing';
import { startStorageService } from '@chartwright/storage-service';
import { XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvCell } from '../src/export/csv.js';
import { ADMIN, type Harness, signup, startHarness } from './harness.js';

// Real PostgreSQL and NATS where they answer (the embedded engines otherwise), and s3rver.
const databases = await testDatabases();
const buses = await testBuses();
const db = databases.find((d) => d.name === 'postgres') ?? databases[0]!;
const tb = buses.find((b) => b.name === 'jetstream') ?? buses[0]!;
afterAll(async () => {
  for (const b of buses) await b.cleanup();
  for (const d of databases) await d.close();
});

const HOUR = 3_600_000;
const END = Date.UTC(2026, 10, 30);

/** `time,open,high,low,close,volume` bars every hour up to `end`, a gentle wave around `base`. */
function csvBars(base: number, count: number, end: number, drift: number): string {
  const lines = ['time,open,high,low,close,volume'];
  let close = base;
  for (let i = count - 1; i >= 0; i--) {
    const open = close;
    close = open * (1 + drift + 0.01 * Math.sin(i / 3));
    lines.push(
      [
        end - i * HOUR,
        open,
        Math.max(open, close) * 1.002,
        Math.min(open, close) * 0.998,
        close,
        1000 + i,
      ].join(','),
    );
  }
  return lines.join('\n');
}

const pdfText = (pdf: Buffer) =>
  execFileSync('pdftotext', ['-layout', '-', '-'], { input: pdf }).toString('utf8');
const price = (v: number) => v.toLocaleString('en-US', { maximumFractionDigits: 8 });

describe(`exports, comparison [${db.name}+${tb.name}]`, () => {
  let h: Harness;
  let dir: string;
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  let admin: string;

  const call = (token: string, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
    h.app.inject({ method, url, payload: payload as never, headers: { authorization: `Bearer ${token}` } });
  const user = async () => {
    const u = await signup(h.app, `x-${newId()}@example.com`);
    await h.app.inject({
      method: 'PATCH',
      url: `/v1/admin/users/${u.user.id}/plan`,
      headers: { authorization: `Bearer ${admin}` },
      payload: { plan: 'pro' },
    });
    await eventually(async () => (await call(u.token, 'GET', '/v1/user/quota')).json().data.plan === 'pro');
    return u;
  };
  const quota = async (token: string) => (await call(token, 'GET', '/v1/user/quota')).json().data.quota;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cw-gw-exports-'));
    const market = path.join(dir, 'market');
    await mkdir(market);
    await writeFile(path.join(market, 'BINANCE_BTCUSDT.csv'), csvBars(60_000, 400, END, 0.001));
    await writeFile(path.join(market, 'BINANCE_ETHUSDT.csv'), csvBars(3_000, 400, END, 0.002));
    await writeFile(path.join(market, 'NASDAQ_AAPL.csv'), csvBars(200, 400, END, -0.001));
    await writeFile(path.join(market, 'FX_EURUSD.csv'), csvBars(1.1, 400, END, 0));
    // A year earlier: no bar in common with the others.
    await writeFile(path.join(market, 'OLD_COIN.csv'), csvBars(5, 400, END - 365 * 24 * HOUR, 0));
    s3 = await startS3rver();
    h = await startHarness(
      tb.bus,
      db,
      {
        ...s3.env(`exports-${newId().slice(0, 8)}`),
        MARKET_DATA: 'file',
        MARKET_DATA_DIR: market,
        ANALYSIS_TMP_DIR: path.join(dir, 'tmp'),
        RATE_LIMIT_FREE_PER_MIN: '1000',
        RATE_LIMIT_PRO_PER_MIN: '1000',
      },
      [startStorageService, startChartService, startAnalysisService],
    );
    admin = (await h.app.inject({ method: 'POST', url: '/v1/auth/login', payload: ADMIN })).json().data.token;
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('compares 2 symbols: one chart, listed with its symbols, analysed as relative strength, exported', async () => {
    const { token } = await user();
    const before = await quota(token);
    const res = await call(token, 'POST', '/v1/charts/compare', {
      symbols: ['BINANCE:BTCUSDT', 'BINANCE:ETHUSDT'],
      interval: '1h',
      range: '5D',
      width: 800,
      height: 450,
    });
    expect(res.statusCode, res.body).toBe(201);
    const data = res.json().data;
    expect(data).toMatchObject({
      chartId: expect.any(String),
      url: expect.any(String),
      metadata: { symbols: ['BINANCE:BTCUSDT', 'BINANCE:ETHUSDT'], renderer: 'builtin', synthetic: false },
      quota: { used: before.charts.used + 1 },
    });
    const chartId = data.chartId;

    // Listed with its symbols; found by its second symbol too.
    const list = (await call(token, 'GET', '/v1/charts?symbol=ETHUSDT')).json().data.charts;
    expect(list).toEqual([
      expect.objectContaining({
        id: chartId,
        symbol: 'BINANCE:BTCUSDT',
        symbols: ['BINANCE:BTCUSDT', 'BINANCE:ETHUSDT'],
      }),
    ]);

    const analysed = await call(token, 'POST', `/v1/charts/${chartId}/analyze?wait=20`, {});
    expect(analysed.statusCode, analysed.body).toBe(200);
    const a = analysed.json().data.analysis;
    expect(a).toMatchObject({
      recommendation: 'NEUTRAL',
      entryPrice: null,
      stopLoss: null,
      takeProfit: null,
      riskRewardRatio: null,
    });
    // ETH drifts up twice as fast as BTC on the same wave: stronger, correlated, beta about 1.
    expect(a.comparison.symbols.map((s: { symbol: string }) => s.symbol)).toEqual([
      'BINANCE:ETHUSDT',
      'BINANCE:BTCUSDT',
    ]);
    expect(a.comparison.symbols[0].returnPct).toBeGreaterThan(a.comparison.symbols[1].returnPct);
    expect(a.comparison.symbols.find((s: { symbol: string }) => s.symbol === 'BINANCE:BTCUSDT').beta).toBe(1);
    expect(a.comparison.correlations[0].correlation).toBeGreaterThan(0.9);
    expect(a.analysisText).toMatch(/1\. ETHUSDT .*2\. BTCUSDT/);

    // SVG: drawn again from the stored config and bars, parses as XML.
    const svg = await call(token, 'GET', `/v1/charts/${chartId}/export?format=svg`);
    expect(svg.statusCode, svg.body).toBe(200);
    expect(svg.headers['content-type']).toContain('image/svg+xml');
    expect(XMLValidator.validate(svg.body)).toBe(true);
    expect(svg.body).toContain('BINANCE:ETHUSDT');

    const pdf = await call(token, 'GET', `/v1/charts/${chartId}/export?format=pdf`);
    expect(pdf.statusCode, pdf.body).toBe(200);
    const text = pdfText(pdf.rawPayload);
    expect(text).toContain('BINANCE:BTCUSDT vs BINANCE:ETHUSDT');
    expect(text).toContain('NEUTRAL');
    expect(text).toContain('Relative strength');

    expect((await quota(token)).charts.used).toBe(before.charts.used + 1);
    const del = await call(token, 'DELETE', `/v1/charts/${chartId}`);
    expect(del.statusCode).toBe(200);
    expect((await call(token, 'GET', `/v1/charts/${chartId}/export?format=json`)).statusCode).toBe(404);
  }, 60_000);

  it('grid of 4 symbols renders; bad comparisons are 400 naming the problem', async () => {
    const { token } = await user();
    const grid = await call(token, 'POST', '/v1/charts/compare', {
      symbols: ['BINANCE:BTCUSDT', 'BINANCE:ETHUSDT', 'NASDAQ:AAPL', 'FX:EURUSD'],
      interval: '1h',
      layout: 'grid',
      format: 'svg',
    });
    expect(grid.statusCode, grid.body).toBe(201);

    const unknown = await call(token, 'POST', '/v1/charts/compare', {
      symbols: ['BINANCE:BTCUSDT', 'NYSE:NOPE'],
      interval: '1h',
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.message).toContain('NYSE:NOPE');

    const apart = await call(token, 'POST', '/v1/charts/compare', {
      symbols: ['BINANCE:BTCUSDT', 'OLD:COIN'],
      interval: '1h',
    });
    expect(apart.statusCode).toBe(400);
    expect(apart.json().error.message).toMatch(/do not overlap in time/);

    for (const symbols of [
      ['BINANCE:BTCUSDT'],
      ['BINANCE:BTCUSDT', 'BINANCE:BTCUSDT'],
      ['A:A', 'B:B', 'C:C', 'D:D', 'E:E'],
    ]) {
      const bad = await call(token, 'POST', '/v1/charts/compare', { symbols, interval: '1h' });
      expect(bad.statusCode, JSON.stringify(symbols)).toBe(400);
    }
    // Only the grid was charged.
    expect((await quota(token)).charts.used).toBe(1);
  }, 60_000);

  it('a PDF of a chart with 10 analyses: every recommendation and level as text, no quota used', async () => {
    const { token } = await user();
    const made = await call(token, 'POST', '/v1/charts/generate', {
      symbol: 'BINANCE:BTCUSDT',
      interval: '1h',
      range: '7D',
      studies: [
        { name: 'Relative Strength Index', input: { period: 14 } },
        { name: 'Moving Average', input: { period: 20 } },
      ],
      drawings: [{ name: 'Horizontal Line', input: { price: 61_000 } }],
    });
    expect(made.statusCode, made.body).toBe(201);
    const chartId = made.json().data.chartId;
    const styles = ['scalping', 'day_trading', 'swing_trading', 'position_trading'];
    const analyses = [];
    for (let i = 0; i < 10; i++) {
      const r = await call(token, 'POST', `/v1/charts/${chartId}/analyze?wait=20`, {
        options: { tradingStyle: styles[i % 4] },
      });
      expect(r.statusCode, r.body).toBe(200);
      analyses.push(r.json().data.analysis);
    }
    const before = await quota(token);

    // Its build time is a benchmark (`pnpm bench:export`), not a timed test.
    const pdf = await call(token, 'GET', `/v1/charts/${chartId}/export?format=pdf`);
    expect(pdf.statusCode, pdf.body).toBe(200);
    expect(pdf.headers['content-type']).toBe('application/pdf');
    const day = made.json().data.metadata.generatedAt.slice(0, 10);
    expect(pdf.headers['content-disposition']).toBe(`attachment; filename="BTCUSDT-1h-${day}.pdf"`);
    const text = pdfText(pdf.rawPayload);
    expect(text).toContain('BINANCE:BTCUSDT');
    expect(text).toContain('Relative Strength Index (period=14)');
    expect(text).toContain('Horizontal Line (price=61000)');
    expect(text).toContain('Not investment advice');
    expect(text).toMatch(/Page 1 of \d+/);
    for (const a of analyses) {
      expect(text).toContain(`Recommendation: ${a.recommendation}`);
      for (const level of [
        a.entryPrice,
        a.stopLoss,
        a.takeProfit,
        ...a.keyLevels.support,
        ...a.keyLevels.resistance,
      ])
        if (level !== null) expect(text).toContain(price(level));
    }
    // The first page renders.
    const file = path.join(dir, 'report');
    await writeFile(`${file}.pdf`, pdf.rawPayload);
    execFileSync('pdftoppm', ['-png', '-r', '60', '-f', '1', '-l', '1', `${file}.pdf`, file]);
    if (process.env.EXPORT_PNG_DIR) {
      await mkdir(process.env.EXPORT_PNG_DIR, { recursive: true });
      execFileSync('cp', [`${file}-1.png`, `${file}.pdf`, process.env.EXPORT_PNG_DIR]);
    }

    const png = await call(token, 'GET', `/v1/charts/${chartId}/export?format=png`);
    expect(png.statusCode).toBe(200);
    expect(png.rawPayload.subarray(1, 4).toString()).toBe('PNG');
    expect(png.headers['content-disposition']).toBe(`attachment; filename="BTCUSDT-1h-${day}.png"`);
    const json = await call(token, 'GET', `/v1/charts/${chartId}/export?format=json`);
    expect(json.json()).toMatchObject({ chart: { id: chartId }, analyses: expect.any(Array) });
    expect(json.json().analyses).toHaveLength(10);

    const one = await call(
      token,
      'GET',
      `/v1/analyses/${analyses[0] && (await firstAnalysisId(token, chartId))}/export?format=pdf`,
    );
    expect(one.statusCode, one.body).toBe(200);
    expect(pdfText(one.rawPayload)).toContain('Recommendation:');

    // Exports count against no quota.
    expect(await quota(token)).toEqual(before);
  }, 120_000);

  async function firstAnalysisId(token: string, chartId: string): Promise<string> {
    return (await call(token, 'GET', `/v1/analyses?chartId=${chartId}&limit=1`)).json().data.analyses[0].id;
  }

  it("answers 404 for another user's chart and analysis on every export route", async () => {
    const owner = await user();
    const other = await user();
    const made = await call(owner.token, 'POST', '/v1/charts/compare', {
      symbols: ['BINANCE:BTCUSDT', 'BINANCE:ETHUSDT'],
      interval: '1h',
    });
    const chartId = made.json().data.chartId;
    const r = await call(owner.token, 'POST', `/v1/charts/${chartId}/analyze?wait=20`, {});
    const analysisId = r.json().data.analysisId;
    for (const format of ['pdf', 'svg', 'png', 'json'])
      expect(
        (await call(other.token, 'GET', `/v1/charts/${chartId}/export?format=${format}`)).statusCode,
      ).toBe(404);
    for (const format of ['pdf', 'json'])
      expect(
        (await call(other.token, 'GET', `/v1/analyses/${analysisId}/export?format=${format}`)).statusCode,
      ).toBe(404);
    expect((await call(other.token, 'POST', `/v1/charts/${chartId}/analyze?wait=0`, {})).statusCode).toBe(
      404,
    );
    const csv = await call(other.token, 'GET', '/v1/analyses/export?format=csv');
    expect(csv.body).not.toContain(analysisId);
    const charts = await call(other.token, 'GET', '/v1/charts/export?format=csv');
    expect(charts.body).not.toContain(chartId);
    // The owner's export has them.
    expect((await call(owner.token, 'GET', '/v1/analyses/export?format=csv')).body).toContain(analysisId);
    expect((await call(owner.token, 'GET', '/v1/charts/export?format=csv')).body).toContain(chartId);
    // And a bad format is a 400.
    expect((await call(owner.token, 'GET', `/v1/charts/${chartId}/export?format=gif`)).statusCode).toBe(400);
  }, 60_000);

  it('documents the new routes in the OpenAPI document', async () => {
    const doc = (await h.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    for (const [p, method] of [
      ['/v1/charts/compare', 'post'],
      ['/v1/charts/{id}/export', 'get'],
      ['/v1/analyses/{id}/export', 'get'],
      ['/v1/analyses/export', 'get'],
      ['/v1/charts/export', 'get'],
    ] as const)
      expect(doc.paths[p]?.[method], p).toBeDefined();
    const formats = doc.paths['/v1/charts/{id}/export'].get.parameters.find(
      (x: { name: string }) => x.name === 'format',
    );
    expect(formats.schema.enum).toEqual(['pdf', 'svg', 'png', 'json']);
  });

  it('a chart-img.com chart cannot be exported as SVG (409)', async () => {
    const { token, user: u } = await user();
    const chartId = newId();
    const chartDb = openDatabase<any>(db.target, 'chart');
    try {
      await chartDb.db
        .insertInto('charts')
        .values({
          id: chartId,
          user_id: u.id,
          symbol: 'BINANCE:BTCUSDT',
          interval: '1h',
          theme: 'dark',
          config: JSON.stringify({ symbol: 'BINANCE:BTCUSDT', interval: '1h' }),
          renderer: 'chart-img',
          format: 'png',
          width: 800,
          height: 600,
          external_url: 'https://r2.chart-img.com/x.png',
          status: 'ready',
          synthetic: false,
        })
        .execute();
    } finally {
      await chartDb.destroy();
    }
    const res = await call(token, 'GET', `/v1/charts/${chartId}/export?format=svg`);
    expect(res.statusCode).toBe(409);
    expect(res.json().error.message).toContain('chart-img.com');
  });

  it('escapes formula-like cells in the CSV history (RFC 4180 quoting)', async () => {
    const { token, user: u } = await user();
    const analysisDb = openDatabase<any>(db.target, 'analysis');
    try {
      await analysisDb.db
        .insertInto('analyses')
        .values({
          id: newId(),
          chart_id: newId(),
          user_id: u.id,
          status: 'completed',
          trading_style: 'swing_trading',
          symbol: '=HYPERLINK("http://evil.example","x")',
          interval: '1h',
          model: '@SUM(1+1)',
          recommendation: 'LONG',
          confidence: 7,
          result: JSON.stringify({
            trend: '+bullish',
            entryPrice: 10,
            stopLoss: 9,
            takeProfit: 12,
            riskRewardRatio: 2,
          }),
        })
        .execute();
    } finally {
      await analysisDb.destroy();
    }
    const res = await call(token, 'GET', '/v1/analyses/export?format=csv&symbol=HYPERLINK');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    const [header, row, end] = res.body.split('\r\n');
    expect(header).toBe(
      'id,createdAt,chartId,symbol,interval,model,trend,recommendation,entryPrice,stopLoss,takeProfit,riskRewardRatio,confidence',
    );
    expect(row).toContain(
      `,"'=HYPERLINK(""http://evil.example"",""x"")",1h,'@SUM(1+1),'+bullish,LONG,10,9,12,2,7`,
    );
    expect(end).toBe('');
  });

  it.runIf(db.name === 'postgres')(
    'streams 100,000 analyses with bounded memory',
    async () => {
      const { token, user: u } = await user();
      const analysisDb = openDatabase<any>(db.target, 'analysis');
      try {
        // One statement: rows with a result each, a second apart.
        await analysisDb.db.executeQuery(
          (await import('kysely')).sql`
          insert into analyses (id, chart_id, user_id, status, trading_style, symbol, interval, model,
            recommendation, confidence, result, created_at, completed_at)
          select gen_random_uuid(), gen_random_uuid(), ${u.id}::uuid, 'completed', 'swing_trading',
            'BINANCE:BTCUSDT', '1h', 'chartwright-technical-v1', 'LONG', 1 + i % 10,
            jsonb_build_object('trend', 'bullish', 'entryPrice', 100 + i, 'stopLoss', 90 + i,
              'takeProfit', 120 + i, 'riskRewardRatio', 2),
            now() - make_interval(secs => i), now() - make_interval(secs => i)
          from generate_series(1, 100000) as i`.compile(analysisDb.db),
        );
      } finally {
        await analysisDb.destroy();
      }
      // Over a real socket: inject would gather the whole body in memory.
      await h.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = h.app.server.address() as AddressInfo;
      // What the export holds on to, not garbage V8 has not collected yet: a full collection
      // before each sample (the services and the client share this process).
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      gc();
      const rss0 = process.memoryUsage().rss;
      let peak = rss0;
      const sampler = setInterval(() => {
        gc();
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 1000);
      const started = performance.now();
      const res = await fetch(`http://127.0.0.1:${port}/v1/analyses/export?format=csv`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(200);
      let lines = 0;
      let bytes = 0;
      // Counted as bytes: decoding each chunk to text would make garbage of the client's own.
      for await (const chunk of res.body!) {
        bytes += chunk.length;
        for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
      }
      clearInterval(sampler);
      const growthMb = (peak - rss0) / 1024 / 1024;
      console.log(
        `CSV export: 100,000 rows, ${(bytes / 1e6).toFixed(1)} MB in ${Math.round(performance.now() - started)} ms, RSS growth ${growthMb.toFixed(1)} MB`,
      );
      expect(lines).toBe(100_001);
      expect(growthMb).toBeLessThan(50);
    },
    120_000,
  );
});

describe('csvCell', () => {
  it('prefixes formula starts and quotes per RFC 4180', () => {
    expect(csvCell('=1+1')).toBe("'=1+1");
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('-1')).toBe("'-1");
    expect(csvCell('@x')).toBe("'@x");
    expect(csvCell('\tx')).toBe("'\tx");
    expect(csvCell('\rx')).toBe(`"'\rx"`);
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('line\nbreak')).toBe('"line\nbreak"');
    expect(csvCell(null)).toBe('');
    expect(csvCell(12.5)).toBe('12.5');
    expect(csvCell('plain')).toBe('plain');
  });
});
