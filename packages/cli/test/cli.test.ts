import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedApp, startEmbeddedApp } from '../../sdk/test/support/embedded.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/main.ts');

describe('the chartwright binary against the embedded app [postgres] [jetstream]', () => {
  let app: EmbeddedApp;
  let home: string;
  beforeAll(async () => {
    app = await startEmbeddedApp({ RATE_LIMIT_FREE_PER_MIN: '1000' });
    home = await mkdtemp(path.join(tmpdir(), 'cw-cli-'));
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  /** Runs the real CLI as a child process, piped (not a terminal). */
  const cli = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--conditions=development', '--import', 'tsx', MAIN, ...args],
        { env: { ...process.env, XDG_CONFIG_HOME: home, CHARTWRIGHT_URL: app.url, ...env } },
        (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  it('signup → generate --out → analyze → list → export, with --json shapes and exit codes', async () => {
    const email = `cli-${Date.now()}@example.com`;
    const signup = await cli(['signup', '--email', email, '--password', 'long enough password']);
    expect(signup.code, signup.stderr).toBe(0);
    expect(signup.stdout).toContain(`Signed up as ${email}`);
    const saved = JSON.parse(await readFile(path.join(home, 'chartwright/credentials.json'), 'utf8'));
    expect(saved.token).toBeTruthy();
    expect((await stat(path.join(home, 'chartwright/credentials.json'))).mode & 0o777).toBe(0o600);

    const gen = await cli([
      'generate',
      '--json',
      '--symbol',
      'BINANCE:BTCUSDT',
      '--interval',
      '4h',
      '--study',
      'Relative Strength Index:period=14',
      '--drawing',
      'Horizontal Line:price=60000',
      '--out',
      path.join(home, 'chart.png'),
    ]);
    expect(gen.code, gen.stderr).toBe(0);
    const chart = JSON.parse(gen.stdout);
    expect(chart).toMatchObject({
      chartId: expect.any(String),
      url: expect.any(String),
      file: path.join(home, 'chart.png'),
    });
    const png = await readFile(path.join(home, 'chart.png'));
    expect([...png.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);

    // Piped: no progress on stderr, the result on stdout.
    const analyze = await cli(['analyze', chart.chartId]);
    expect(analyze.code, analyze.stderr).toBe(0);
    expect(analyze.stderr).toBe('');
    expect(analyze.stdout).toMatch(/^analysis\s+[0-9a-f-]{36}$/m);
    expect(analyze.stdout).toMatch(/^recommendation\s+(LONG|SHORT|NEUTRAL)$/m);
    const analysisJson = await cli(['analyze', chart.chartId, '--json']);
    expect(JSON.parse(analysisJson.stdout)).toMatchObject({ status: 'completed', chartId: chart.chartId });

    const table = await cli(['charts']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+SYMBOL\s+INTERVAL\s+STATUS\s+ANALYSES\s+CREATED$/);
    expect(table.stdout).toContain(chart.chartId);
    const list = JSON.parse((await cli(['charts', '--json'])).stdout);
    expect(list.charts.map((c: { id: string }) => c.id)).toEqual([chart.chartId]);
    expect(list.pagination).toMatchObject({ total: 1, hasMore: false });
    const analyses = JSON.parse((await cli(['analyses', 'list', '--json', '--chart', chart.chartId])).stdout);
    expect(analyses.analyses).toHaveLength(2);

    // Export: written where the server has the route, else a clear API error (exit 2).
    const exported = await cli([
      'export',
      chart.chartId,
      '--format',
      'png',
      '--out',
      path.join(home, 'export.png'),
    ]);
    if (exported.code === 0) expect((await stat(path.join(home, 'export.png'))).size).toBeGreaterThan(0);
    else {
      expect(exported.code).toBe(2);
      expect(exported.stderr).toMatch(/^error: NOT_FOUND: this server has no export yet/);
    }
  }, 150_000);

  it('mtf analyses a symbol on several intervals and prints their confluence; --no-wait prints the run id', async () => {
    // A pro user (50 analyses a month) by API key.
    const user = await app.user();
    const env = { CHARTWRIGHT_API_KEY: (await user.client.apiKeys.create('cli-mtf')).key };
    const run = await cli(['mtf', 'BINANCE:BTCUSDT', '1D', '4h'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^run\s+[0-9a-f-]{36}$/m);
    expect(run.stdout).toMatch(/^status\s+completed$/m);
    expect(run.stdout).toMatch(/^1D\s+(LONG|SHORT|NEUTRAL)/m);
    expect(run.stdout).toMatch(/^recommendation\s+(LONG|SHORT|NEUTRAL)$/m);
    expect(run.stdout).toMatch(/^agreement\s+(0|1|0\.\d+)$/m);
    const started = await cli(['mtf', 'BINANCE:ETHUSDT', '1h', '4h', '--no-wait', '--json'], env);
    expect(started.code, started.stderr).toBe(0);
    expect(JSON.parse(started.stdout)).toMatchObject({ id: expect.any(String), status: 'running' });
    const refused = await cli(['mtf', 'BINANCE:BTCUSDT', '1h', '1h'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/VALIDATION_ERROR/);
  }, 120_000);

  it('exits 1 on usage errors, 2 with the code on API errors, 3 when the API does not answer', async () => {
    const usage = await cli(['generate', '--symbol', 'BINANCE:BTCUSDT']);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toContain("required option '--interval <interval>' not specified");
    expect((await cli(['frobnicate'])).code).toBe(1);

    const apiError = await cli(['charts', 'get', '00000000-0000-4000-8000-000000000000']);
    expect(apiError.code).toBe(2);
    expect(apiError.stderr).toMatch(/^error: NOT_FOUND: /);
    const invalid = await cli(['generate', '--symbol', 'nope!', '--interval', '4h']);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/^error: VALIDATION_ERROR: /);

    const future = await cli([
      'backtest',
      ...['--symbol', 'BINANCE:BTCUSDT', '--interval', '1h', '--from', '2020-01-01', '--to', '2099-01-01'],
    ]);
    expect(future.code).toBe(2);
    expect(future.stderr).toMatch(/^error: VALIDATION_ERROR: .*future/);

    const down = await cli(['charts'], { CHARTWRIGHT_URL: 'http://127.0.0.1:9' });
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/^error: NETWORK: /);

    // An API key from the environment wins over the saved token.
    const wrongKey = await cli(['charts'], { CHARTWRIGHT_API_KEY: 'cw_not_a_real_key' });
    expect(wrongKey.code).toBe(2);
    expect(wrongKey.stderr).toMatch(/^error: (UNAUTHORIZED|INVALID_TOKEN): /);
  }, 120_000);
});
