#!/usr/bin/env node
import { writeFile } from 'node:fs/promises';
import {
  ApiError,
  Chartwright,
  ChartwrightError,
  ConnectionError,
  type GenerateChartRequest,
} from '@chartwright/sdk';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { credentialsPath, forgetCredentials, loadCredentials, saveCredentials } from './config.js';
import { print, printRecord } from './output.js';

/** Exit codes: 0 ok, 1 usage, 2 the API answered an error (its code printed), 3 no answer. */
const EXIT = { usage: 1, api: 2, network: 3 } as const;
const DEFAULT_URL = 'http://127.0.0.1:3000';

class UsageError extends Error {}

/** `Name:key=value,key=value` → `{name, input}`; numbers and booleans as such. */
export function parseItem(spec: string): { name: string; input: Record<string, string | number | boolean> } {
  const at = spec.indexOf(':');
  const name = (at < 0 ? spec : spec.slice(0, at)).trim();
  if (!name) throw new InvalidArgumentError('expected "Name:key=value,..."');
  const input: Record<string, string | number | boolean> = {};
  if (at >= 0)
    for (const pair of spec.slice(at + 1).split(',')) {
      if (!pair.trim()) continue;
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new InvalidArgumentError(`"${pair}" is not key=value`);
      const raw = pair.slice(eq + 1).trim();
      input[pair.slice(0, eq).trim()] =
        raw === 'true'
          ? true
          : raw === 'false'
            ? false
            : raw !== '' && !Number.isNaN(Number(raw))
              ? Number(raw)
              : raw;
    }
  return { name, input };
}

const collect = (value: string, previous: ReturnType<typeof parseItem>[] = []) => [
  ...previous,
  parseItem(value),
];
const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('must be an integer');
  return n;
};

async function client(cmd: Command): Promise<Chartwright> {
  const opts = cmd.optsWithGlobals<{ url?: string }>();
  const c = await loadCredentials();
  return new Chartwright({ baseUrl: opts.url ?? c.url ?? DEFAULT_URL, apiKey: c.apiKey, token: c.token });
}
const json = (cmd: Command) => Boolean(cmd.optsWithGlobals<{ json?: boolean }>().json);

/** A route a newer server has: its absence is said plainly instead of a bare 404. */
/** A date as the API's ISO 8601 instant (`2020-01-01` is its first instant, UTC); else as given, for the API to refuse. */
const instant = (v: string) => {
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? v : d.toISOString();
};

async function needsRoute<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof ApiError && err.code === 'NOT_FOUND' && err.message.startsWith('no route '))
      throw new ApiError(
        404,
        'NOT_FOUND',
        `this server has no ${what} yet (${err.message})`,
        undefined,
        err.headers,
        err.request,
      );
    throw err;
  }
}

export function buildProgram(): Command {
  const program = new Command('chartwright')
    .description('The Chartwright API from the command line.')
    .version('0.1.0')
    .option('--url <url>', 'the API (default: saved by login, $CHARTWRIGHT_URL, or http://127.0.0.1:3000)')
    .option('--json', 'print JSON instead of tables')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('signup')
    .description('create an account and save its token')
    .requiredOption('--email <email>')
    .requiredOption('--password <password>')
    .option('--name <name>')
    .action(async (o, cmd: Command) => {
      const cw = await client(cmd);
      const s = await cw.auth.signup({ email: o.email, password: o.password, name: o.name });
      if (!('token' in s)) {
        // The server confirms the address first: nothing to save until the link is followed.
        if (json(cmd)) print(true, s);
        else process.stdout.write(`Check ${s.email} for a verification link, then run: chartwright login\n`);
        return;
      }
      const file = await saveCredentials({ url: cw.transport.options.baseUrl, token: s.token });
      if (json(cmd)) print(true, { user: s.user, expiresAt: s.expiresAt, saved: file });
      else process.stdout.write(`Signed up as ${s.user.email} (${s.user.plan}); token saved to ${file}\n`);
    });

  program
    .command('login')
    .description('save a token (email and password) or an API key')
    .option('--email <email>')
    .option('--password <password>')
    .option('--api-key <key>')
    .action(async (o, cmd: Command) => {
      const cw = await client(cmd);
      const url = cw.transport.options.baseUrl;
      if (o.apiKey) {
        const user = await cw.withCredentials({ apiKey: o.apiKey }).user.get();
        const file = await saveCredentials({ url, apiKey: o.apiKey });
        if (json(cmd)) print(true, { user, saved: file });
        else process.stdout.write(`Logged in as ${user.email}; key saved to ${file}\n`);
        return;
      }
      if (!o.email || !o.password) throw new UsageError('login needs --email and --password, or --api-key');
      const s = await cw.auth.login({ email: o.email, password: o.password });
      const file = await saveCredentials({ url, token: s.token });
      if (json(cmd)) print(true, { expiresAt: s.expiresAt, saved: file });
      else process.stdout.write(`Logged in as ${o.email}; token saved to ${file}\n`);
    });

  program
    .command('logout')
    .description('forget the saved credentials')
    .action(async () => {
      await forgetCredentials();
      process.stdout.write(`Removed ${credentialsPath()}\n`);
    });

  const keys = program.command('keys').description('API keys (need a login token)');
  keys.command('list', { isDefault: true }).action(async (_o, cmd: Command) => {
    const list = await (await client(cmd)).apiKeys.list();
    print(
      json(cmd),
      list,
      list.map((k) => ({
        id: k.id,
        name: k.name,
        prefix: k.prefix,
        created: k.createdAt,
        lastUsed: k.lastUsedAt,
      })),
    );
  });
  keys
    .command('create <name>')
    .description('create a key; its secret is printed once')
    .action(async (name: string, _o, cmd: Command) => {
      const key = await (await client(cmd)).apiKeys.create(name);
      printRecord(json(cmd), key);
    });
  keys.command('revoke <id>').action(async (id: string, _o, cmd: Command) => {
    print(json(cmd), await (await client(cmd)).apiKeys.revoke(id), []);
  });

  program
    .command('generate')
    .description('generate a chart')
    .requiredOption('--symbol <symbol>', 'e.g. BINANCE:BTCUSDT')
    .requiredOption('--interval <interval>', 'e.g. 1h, 4h, 1D')
    .option('--range <range>', 'e.g. 1M, 3M, 1Y')
    .option('--theme <theme>', 'light or dark')
    .option('--style <style>', 'candle, bar, line, area, hollowCandle, heikinAshi')
    .option('--width <px>', 'image width', int)
    .option('--height <px>', 'image height', int)
    .addOption(new Option('--format <format>', 'image format').choices(['png', 'svg']))
    .option('--study <spec>', 'a study, e.g. "Relative Strength Index:period=14" (repeatable)', collect)
    .option('--drawing <spec>', 'a drawing, e.g. "Horizontal Line:price=65000" (repeatable)', collect)
    .option('--out <file>', 'write the image to this file')
    .action(async (o, cmd: Command) => {
      const cw = await client(cmd);
      const config = {
        symbol: o.symbol,
        interval: o.interval,
        range: o.range,
        theme: o.theme,
        style: o.style,
        width: o.width,
        height: o.height,
        format: o.format,
        studies: o.study,
        drawings: o.drawing,
      } as GenerateChartRequest;
      const chart = await cw.charts.generate(config);
      if (o.out) await writeFile(o.out, (await cw.charts.image(chart.chartId)).bytes);
      if (json(cmd)) print(true, { ...chart, ...(o.out ? { file: o.out } : {}) });
      else
        printRecord(false, {
          chart: chart.chartId,
          url: chart.url,
          file: o.out,
          quota: chart.quota ? `${chart.quota.used}/${chart.quota.limit ?? '∞'}` : undefined,
        });
    });

  program
    .command('analyze <chartId>')
    .description('analyse a chart with AI and wait for the result (progress on a terminal)')
    .option('--prompt <text>', 'what to focus on')
    .option('--trading-style <style>', 'scalping, day_trading, swing or position')
    .option('--no-wait', 'only start it; print the analysis id')
    .action(async (chartId: string, o, cmd: Command) => {
      const cw = await client(cmd);
      const body = {
        ...(o.prompt ? { prompt: o.prompt } : {}),
        ...(o.tradingStyle ? { options: { tradingStyle: o.tradingStyle } } : {}),
      };
      if (!o.wait) {
        const accepted = await cw.analyses.request(chartId, body);
        return printRecord(json(cmd), accepted);
      }
      const tty = Boolean(process.stderr.isTTY) && !json(cmd);
      const analysis = await cw.analyses.analyze(chartId, body, {
        onProgress: tty ? (s) => process.stderr.write(`\r${s.status}…`.padEnd(20)) : undefined,
      });
      if (tty) process.stderr.write('\r'.padEnd(21, ' ') + '\r');
      if (json(cmd)) return print(true, analysis);
      printRecord(false, {
        analysis: analysis.id,
        recommendation: analysis.recommendation,
        trend: analysis.trend,
        confidence: analysis.confidence,
        entry: analysis.entryPrice,
        stop: analysis.stopLoss,
        target: analysis.takeProfit,
        summary: analysis.analysisText,
      });
    });

  program
    .command('mtf <symbol> <intervals...>')
    .description(
      'analyse a symbol on 2 to 4 intervals and print how they agree (e.g. mtf BINANCE:BTCUSDT 1D 4h 1h)',
    )
    .option('--prompt <text>', 'what to focus on')
    .option('--trading-style <style>', 'scalping, day_trading, swing_trading or position_trading')
    .option('--no-wait', 'only start it; print the run id')
    .action(async (symbol: string, intervals: string[], o, cmd: Command) => {
      const cw = await client(cmd);
      const body = {
        symbol,
        intervals: intervals as never,
        ...(o.prompt ? { prompt: o.prompt } : {}),
        ...(o.tradingStyle ? { tradingStyle: o.tradingStyle } : {}),
      };
      if (!o.wait) return printRecord(json(cmd), await cw.multiTimeframe.start(body));
      const run = await cw.multiTimeframe.analyze(body);
      if (json(cmd)) return print(true, run);
      const c = run.confluence;
      printRecord(false, {
        run: run.id,
        status: run.status,
        ...Object.fromEntries(
          run.items.map((i) => [i.interval, `${i.recommendation ?? i.status} (${i.trend ?? '-'})`]),
        ),
        recommendation: c?.recommendation,
        agreement: c?.agreement,
        entry: c?.entryPrice,
        stop: c?.stopLoss,
        target: c?.takeProfit,
        summary: c?.summary,
      });
    });

  const charts = program.command('charts').description("the caller's charts");
  charts
    .command('list', { isDefault: true })
    .option('--limit <n>', 'how many', int, 20)
    .option('--symbol <symbol>')
    .action(async (o, cmd: Command) => {
      const page = await (await client(cmd)).charts.list({ limit: o.limit, symbol: o.symbol });
      print(
        json(cmd),
        page,
        page.charts.map((c) => ({
          id: c.id,
          symbol: c.symbol,
          interval: c.interval,
          status: c.status,
          analyses: c.analysesCount,
          created: c.createdAt,
        })),
      );
    });
  charts.command('get <id>').action(async (id: string, _o, cmd: Command) => {
    const detail = await (await client(cmd)).charts.get(id);
    if (json(cmd)) print(true, detail);
    else printRecord(false, { ...detail.chart, analyses: detail.analyses.length } as Record<string, unknown>);
  });
  charts.command('delete <id>').action(async (id: string, _o, cmd: Command) => {
    printRecord(json(cmd), await (await client(cmd)).charts.delete(id));
  });

  const analyses = program.command('analyses').description("the caller's analyses");
  analyses
    .command('list', { isDefault: true })
    .option('--limit <n>', 'how many', int, 20)
    .option('--chart <id>', "one chart's")
    .action(async (o, cmd: Command) => {
      const page = await (await client(cmd)).analyses.list({ limit: o.limit, chartId: o.chart });
      print(
        json(cmd),
        page,
        page.analyses.map((a) => ({
          id: a.id,
          chart: a.chartId,
          symbol: a.symbol,
          status: a.status,
          recommendation: a.recommendation,
          confidence: a.confidence,
          created: a.createdAt,
        })),
      );
    });
  analyses.command('get <id>').action(async (id: string, _o, cmd: Command) => {
    printRecord(json(cmd), (await (await client(cmd)).analyses.get(id)) as Record<string, unknown>);
  });

  program
    .command('export <id>')
    .description('download a chart (or with --analysis, an analysis) as a report or data file')
    .addOption(new Option('--format <format>').choices(['pdf', 'svg', 'png', 'json']).default('pdf'))
    .option('--analysis', 'the id is an analysis')
    .requiredOption('--out <file>', 'where to write it')
    .action(async (id: string, o, cmd: Command) => {
      const cw = await client(cmd);
      const file = await needsRoute('export', () =>
        o.analysis ? cw.analyses.export(id, o.format) : cw.charts.export(id, o.format),
      );
      await writeFile(o.out, file.bytes);
      const out = { file: o.out, contentType: file.contentType, bytes: file.bytes.length };
      printRecord(json(cmd), out);
    });

  program
    .command('compare')
    .description('one chart comparing several symbols')
    .requiredOption('--symbols <list>', 'comma-separated, e.g. BINANCE:BTCUSDT,BINANCE:ETHUSDT')
    .requiredOption('--interval <interval>')
    .option('--range <range>')
    .action(async (o, cmd: Command) => {
      const cw = await client(cmd);
      const result = await needsRoute('chart comparison', () =>
        cw.request<Record<string, unknown>>('POST', '/v1/charts/compare', {
          body: { symbols: String(o.symbols).split(','), interval: o.interval, range: o.range },
        }),
      );
      printRecord(json(cmd), result);
    });

  program
    .command('backtest')
    .description('backtest an analyst on history (a job on the server; --wait follows it to the end)')
    .requiredOption('--symbol <symbol>')
    .requiredOption('--interval <interval>')
    .requiredOption('--from <date>')
    .requiredOption('--to <date>')
    .option('--step <bars>', 'bars between analyses', int, 24)
    .option('--analyst <name>', 'builtin or anthropic', 'builtin')
    .option('--trading-style <style>', 'scalping, day_trading, swing_trading or position_trading')
    .option('--wait', 'wait for the end and print the scorecard and baselines')
    .action(async (o, cmd: Command) => {
      const cw = await client(cmd);
      const created = await needsRoute('backtests', () =>
        cw.backtests.create({
          symbol: o.symbol,
          interval: o.interval,
          from: instant(o.from),
          to: instant(o.to),
          step: o.step,
          analyst: o.analyst,
          tradingStyle: o.tradingStyle,
        }),
      );
      if (!o.wait) return printRecord(json(cmd), created);
      const { trades, ...done } = await cw.backtests.wait(created.id);
      printRecord(json(cmd), { ...done, tradeCount: trades.length });
    });

  const webhooks = program.command('webhooks').description('webhook endpoints');
  webhooks.command('list', { isDefault: true }).action(async (_o, cmd: Command) => {
    const list = await (await client(cmd)).webhooks.list();
    print(
      json(cmd),
      list,
      list.map((w) => ({ id: w.id, url: w.url, events: w.events, enabled: w.enabled })),
    );
  });
  webhooks
    .command('create')
    .requiredOption('--url <url>')
    .requiredOption('--events <list>', 'comma-separated, e.g. analysis.completed')
    .option('--description <text>')
    .action(async (o, cmd: Command) => {
      const created = await (await client(cmd)).webhooks.create({
        url: o.url,
        events: String(o.events).split(',') as never,
        description: o.description,
      });
      printRecord(json(cmd), created as Record<string, unknown>);
    });
  webhooks.command('delete <id>').action(async (id: string, _o, cmd: Command) => {
    await (await client(cmd)).webhooks.delete(id);
    printRecord(json(cmd), { id, deleted: true });
  });

  return program;
}

/** Runs the CLI and answers its exit code. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError)
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0
        ? 0
        : EXIT.usage;
    if (err instanceof UsageError || err instanceof InvalidArgumentError) {
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof ApiError) {
      process.stderr.write(`error: ${err.code}: ${err.message}\n`);
      return EXIT.api;
    }
    if (err instanceof ConnectionError) {
      process.stderr.write(`error: NETWORK: ${err.message}\n`);
      return EXIT.network;
    }
    if (err instanceof ChartwrightError) {
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT.api;
    }
    throw err;
  }
}

process.exitCode = await run(process.argv);
