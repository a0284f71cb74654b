import {
  AnalyzeRequest,
  ChartListQuery,
  CompareChartsRequest,
  CreateBacktestRequest,
  GenerateChartRequest,
  MultiTimeframeRequest,
  ScorecardQuery,
} from '@chartwright/contracts';
import { DRAWINGS, STUDIES } from '@chartwright/market';
import { ApiError, type Backtest, type Chartwright, ChartwrightError } from '@chartwright/sdk';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

const text = (value: unknown): CallToolResult['content'][number] => ({
  type: 'text',
  text: typeof value === 'string' ? value : JSON.stringify(value, null, 2),
});

/** An API failure as an MCP tool error carrying the API's code and message. */
async function tool(run: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof ApiError)
      return {
        isError: true,
        content: [text({ code: err.code, message: err.message, details: err.details })],
      };
    if (err instanceof ChartwrightError)
      return { isError: true, content: [text({ code: 'NETWORK', message: err.message })] };
    throw err;
  }
}

/** A tool that adds something (a chart, an analysis) and counts against a quota. */
const WRITES = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false };
const READS = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };

/** A chart and its image as tool content: the image, then the id, link, metadata and quota. */
async function chartContent(
  client: Chartwright,
  chart: { chartId: string; url: string; metadata?: unknown; quota?: unknown },
): Promise<CallToolResult> {
  const image = await client.charts.image(chart.chartId);
  const base64 = btoa(Array.from(image.bytes, (b) => String.fromCharCode(b)).join(''));
  return {
    content: [
      { type: 'image', data: base64, mimeType: image.contentType.split(';')[0]! },
      text({ chartId: chart.chartId, url: chart.url, metadata: chart.metadata, quota: chart.quota }),
    ],
    structuredContent: { chartId: chart.chartId, url: chart.url },
  };
}

/** A backtest as a tool answers it: its trades only when asked for (thousands of them). */
function backtestSummary(b: Backtest, includeTrades: boolean): Record<string, unknown> {
  const { trades, ...rest } = b;
  return includeTrades ? { ...rest, trades } : { ...rest, tradeCount: trades.length };
}

/** The catalogue a model needs to build a valid chart config: names, inputs and defaults. */
export function studyCatalogue() {
  return STUDIES.map((s) => ({
    name: s.name,
    aliases: s.aliases,
    pane: s.pane,
    inputs: s.inputs.map((i) => ({
      key: i.key,
      label: i.label,
      type: i.type,
      default: i.default,
      min: i.min,
      max: i.max,
      options: i.options,
      aliases: i.aliases,
    })),
  }));
}

export function drawingCatalogue() {
  return DRAWINGS.map((d) => ({
    name: d.name,
    input: z.toJSONSchema(d.schema, { io: 'input', unrepresentable: 'any' }),
    aliases: d.aliases,
  }));
}

/** The Chartwright tools, calling the REST API through `client` (its credentials are the caller's). */
export function createMcpServer(client: Chartwright): McpServer {
  const server = new McpServer({ name: 'chartwright', version: '0.1.0' });

  server.registerTool(
    'generate_chart',
    {
      title: 'Generate a chart',
      description:
        'Renders a trading chart (candles plus studies and drawings; see list_studies and list_drawings for valid names and inputs). Returns the image, the chart id and a signed link. Counts against the monthly chart quota.',
      inputSchema: GenerateChartRequest.shape,
      annotations: WRITES,
    },
    (args) =>
      tool(async () => {
        const chart = await client.charts.generate(args as never);
        return chartContent(client, chart);
      }),
  );

  server.registerTool(
    'analyze_chart',
    {
      title: 'Analyse a chart with AI',
      description:
        'Technical analysis of a generated chart: trend, signals, recommendation, entry, stop and target. Waits for the result. Counts against the monthly analysis quota.',
      inputSchema: { chartId: z.uuid(), ...AnalyzeRequest.shape },
      annotations: WRITES,
    },
    ({ chartId, ...body }) =>
      tool(async () => {
        const analysis = await client.analyses.analyze(chartId, body as never);
        return { content: [text(analysis)], structuredContent: analysis as Record<string, unknown> };
      }),
  );

  server.registerTool(
    'get_analysis',
    {
      title: 'Get an analysis',
      description: 'One analysis by id: its status and, once completed, the signal.',
      inputSchema: { analysisId: z.uuid() },
      annotations: READS,
    },
    ({ analysisId }) => tool(async () => ({ content: [text(await client.analyses.get(analysisId))] })),
  );

  server.registerTool(
    'list_charts',
    {
      title: 'List charts',
      description: "The caller's charts, newest first.",
      inputSchema: ChartListQuery.partial().shape,
      annotations: READS,
    },
    (query) => tool(async () => ({ content: [text(await client.charts.list(query as never))] })),
  );

  server.registerTool(
    'compare_charts',
    {
      title: 'Compare symbols on one chart',
      description:
        'Draws 2 to 4 symbols on one chart: `overlay` (default, % change from the first shared bar) or `grid` (a candle panel per symbol). Returns the image, the chart id and a signed link; analyze_chart on it reports relative strength, correlation and beta. Counts as one chart against the monthly quota.',
      inputSchema: CompareChartsRequest.shape,
      annotations: WRITES,
    },
    (args) =>
      tool(async () => {
        const chart = await client.request<{
          chartId: string;
          url: string;
          metadata?: unknown;
          quota?: unknown;
        }>('POST', '/v1/charts/compare', { body: args });
        return chartContent(client, chart);
      }),
  );

  server.registerTool(
    'multi_timeframe_analysis',
    {
      title: 'Analyse a symbol on several intervals',
      description:
        "Draws and analyses one symbol on 2 to 4 distinct intervals (e.g. 1D, 4h, 1h) and waits for their confluence: the lowest interval's direction, the share of intervals agreeing with it (0 to 1), and its entry, stop and target only when every higher interval agrees (otherwise NEUTRAL with no levels). Each interval counts as one chart and one analysis against the monthly quotas; when they cannot all be covered nothing is started.",
      inputSchema: MultiTimeframeRequest.shape,
      annotations: WRITES,
    },
    (args) =>
      tool(async () => {
        const run = await client.multiTimeframe.analyze(args as never);
        return { content: [text(run)], structuredContent: run as unknown as Record<string, unknown> };
      }),
  );

  server.registerTool(
    'get_scorecard',
    {
      title: 'Get the scorecard',
      description:
        "How the caller's analysed signals played out on later market data: wins, losses, expired, win rate and average R, optionally filtered by model, symbol, interval, trading style and period.",
      inputSchema: ScorecardQuery.shape,
      annotations: READS,
    },
    (query) =>
      tool(async () => {
        const scorecard = await client.request<Record<string, unknown>>('GET', '/v1/scorecard', { query });
        return { content: [text(scorecard)], structuredContent: scorecard };
      }),
  );

  server.registerTool(
    'run_backtest',
    {
      title: 'Backtest an analyst on history',
      description:
        'Replays the built-in analyst ("builtin") or the configured model ("anthropic") every `step` bars from `from` to `to` and follows each signal to its outcome. Waits for the end and returns the scorecard, the baselines (buy-and-hold, seeded random) and the trade count (get_backtest with includeTrades for the trades). At most 5,000 steps built-in, 200 with a model. Counts as one analysis built-in, one per step with a model.',
      inputSchema: CreateBacktestRequest.shape,
      annotations: WRITES,
    },
    (args) =>
      tool(async () => {
        const created = await client.backtests.create(args as never);
        const summary = backtestSummary(await client.backtests.wait(created.id), false);
        return { content: [text(summary)], structuredContent: summary };
      }),
  );

  server.registerTool(
    'get_backtest',
    {
      title: 'Get a backtest',
      description:
        'One backtest by id: status, progress, scorecard, baselines, and with includeTrades its trades.',
      inputSchema: { backtestId: z.uuid(), includeTrades: z.boolean().default(false) },
      annotations: READS,
    },
    ({ backtestId, includeTrades }) =>
      tool(async () => {
        const summary = backtestSummary(await client.backtests.get(backtestId), includeTrades);
        return { content: [text(summary)], structuredContent: summary };
      }),
  );

  server.registerTool(
    'list_studies',
    {
      title: 'List studies',
      description:
        'Indicators generate_chart accepts: name, inputs with their defaults and bounds. Use as `studies: [{name, input: {key: value}}]`.',
      annotations: READS,
    },
    async () => ({ content: [text(studyCatalogue())] }),
  );

  server.registerTool(
    'list_drawings',
    {
      title: 'List drawings',
      description:
        'Drawings generate_chart accepts: name and the JSON schema of its input. Use as `drawings: [{name, input}]`.',
      annotations: READS,
    },
    async () => ({ content: [text(drawingCatalogue())] }),
  );

  return server;
}
