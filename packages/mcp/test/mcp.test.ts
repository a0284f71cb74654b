import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedApp, startEmbeddedApp } from '../../sdk/test/support/embedded.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/main.ts');

/** Analysing another user's chart is a tool error with the API's NOT_FOUND, as over REST. */
async function expectNotFound(client: Client, other: Awaited<ReturnType<EmbeddedApp['user']>>) {
  const theirs = await other.client.charts.generate({ symbol: 'BINANCE:ETHUSDT', interval: '1h' });
  const refused = await client.callTool({ name: 'analyze_chart', arguments: { chartId: theirs.chartId } });
  expect(refused.isError).toBe(true);
  expect(JSON.parse((refused.content as { text: string }[])[0]!.text)).toMatchObject({ code: 'NOT_FOUND' });
}

describe('the MCP server over stdio and Streamable HTTP, against the embedded app [postgres] [jetstream]', () => {
  let app: EmbeddedApp;
  beforeAll(async () => {
    app = await startEmbeddedApp();
  }, 120_000);
  afterAll(async () => {
    await app?.close();
  });

  it('lists the tools, generates a chart as image content, analyses it, and refuses another user’s chart', async () => {
    const alice = await app.user();
    const bob = await app.user();
    const key = await alice.client.apiKeys.create('mcp');
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ['--conditions=development', '--import', 'tsx', MAIN],
      env: {
        ...(process.env as Record<string, string>),
        CHARTWRIGHT_URL: app.url,
        CHARTWRIGHT_API_KEY: key.key,
      },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'mcp-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(
        [
          'analyze_chart',
          'compare_charts',
          'generate_chart',
          'get_scorecard',
          'get_analysis',
          'get_backtest',
          'list_charts',
          'run_backtest',
          'list_drawings',
          'list_studies',
          'multi_timeframe_analysis',
        ].sort(),
      );
      const generate = tools.find((t) => t.name === 'generate_chart')!;
      expect(generate.inputSchema.properties).toHaveProperty('studies');
      expect(generate.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
      expect(tools.find((t) => t.name === 'list_studies')!.annotations).toMatchObject({ readOnlyHint: true });

      const studies = await client.callTool({ name: 'list_studies', arguments: {} });
      const catalogue = JSON.parse((studies.content as { text: string }[])[0]!.text);
      const rsi = catalogue.find((s: { name: string }) => s.name === 'Relative Strength Index');
      expect(rsi.inputs[0]).toMatchObject({ key: 'period', default: 14 });

      const chart = await client.callTool({
        name: 'generate_chart',
        arguments: {
          symbol: 'BINANCE:BTCUSDT',
          interval: '4h',
          studies: [{ name: 'Relative Strength Index', input: { period: 14 } }],
        },
      });
      expect(chart.isError).toBeFalsy();
      const [image, info] = chart.content as [
        { type: string; data: string; mimeType: string },
        { text: string },
      ];
      expect(image.type).toBe('image');
      expect(image.mimeType).toBe('image/png');
      expect([...Buffer.from(image.data, 'base64').subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
      const { chartId, url } = JSON.parse(info.text);
      expect(url).toContain('/v1/files/');

      const analysis = await client.callTool({ name: 'analyze_chart', arguments: { chartId } });
      expect(analysis.isError).toBeFalsy();
      expect(analysis.structuredContent).toMatchObject({ status: 'completed', chartId });
      const got = await client.callTool({
        name: 'get_analysis',
        arguments: { analysisId: (analysis.structuredContent as { id: string }).id },
      });
      expect(JSON.parse((got.content as { text: string }[])[0]!.text).recommendation).toMatch(
        /LONG|SHORT|NEUTRAL/,
      );

      const mtf = await client.callTool({
        name: 'multi_timeframe_analysis',
        arguments: { symbol: 'BINANCE:BTCUSDT', intervals: ['1D', '4h'] },
      });
      expect(mtf.isError, JSON.stringify(mtf.content)).toBeFalsy();
      expect(mtf.structuredContent).toMatchObject({ status: 'completed', symbol: 'BINANCE:BTCUSDT' });
      const run = mtf.structuredContent as { items: unknown[]; confluence: { agreement: number } };
      expect(run.items).toHaveLength(2);
      expect(run.confluence.agreement).toBeGreaterThanOrEqual(0);
      const oneInterval = await client.callTool({
        name: 'multi_timeframe_analysis',
        arguments: { symbol: 'BINANCE:BTCUSDT', intervals: ['1D'] },
      });
      expect(oneInterval.isError).toBe(true);

      await expectNotFound(client, bob);

      // A backtest ending in the future is the API's 400 naming `to`, as a tool error.
      const backtest = await client.callTool({
        name: 'run_backtest',
        arguments: {
          symbol: 'BINANCE:BTCUSDT',
          interval: '1h',
          from: '2020-01-01T00:00:00Z',
          to: '2099-01-01T00:00:00Z',
          step: 24,
          analyst: 'builtin',
        },
      });
      expect(backtest.isError).toBe(true);
      const refusal = JSON.parse((backtest.content as { text: string }[])[0]!.text);
      expect(refusal).toMatchObject({ code: 'VALIDATION_ERROR', details: [{ field: 'to' }] });
    } finally {
      await client.close();
    }
  }, 120_000);

  it('serves the same tools at /mcp on the gateway over Streamable HTTP, as the API key’s user', async () => {
    const alice = await app.user();
    const bob = await app.user();
    const key = await alice.client.apiKeys.create('mcp-http');
    const endpoint = new URL('/mcp', app.url);

    const anonymous = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ success: false, error: { code: 'UNAUTHORIZED' } });
    const get = await fetch(endpoint, { headers: { 'x-api-key': key.key } });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');

    const client = new Client({ name: 'mcp-http-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(endpoint, { requestInit: { headers: { 'x-api-key': key.key } } }),
    );
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['compare_charts', 'get_scorecard']));
      expect(tools.find((t) => t.name === 'compare_charts')!.annotations).toMatchObject({
        readOnlyHint: false,
      });
      expect(tools.find((t) => t.name === 'get_scorecard')!.annotations).toMatchObject({
        readOnlyHint: true,
      });
      expect(tools.find((t) => t.name === 'compare_charts')!.inputSchema.properties).toHaveProperty(
        'symbols',
      );

      const chart = await client.callTool({
        name: 'generate_chart',
        arguments: { symbol: 'BINANCE:BTCUSDT', interval: '1h' },
      });
      expect(chart.isError).toBeFalsy();
      const [image] = chart.content as [{ type: string; data: string; mimeType: string }];
      expect(image.type).toBe('image');
      expect([...Buffer.from(image.data, 'base64').subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
      const { chartId } = chart.structuredContent as { chartId: string };
      // The chart is Alice's: the MCP tools act with the key's user.
      await expect(alice.client.charts.get(chartId)).resolves.toBeTruthy();
      await expect(bob.client.charts.get(chartId)).rejects.toMatchObject({ code: 'NOT_FOUND' });

      const analysis = await client.callTool({ name: 'analyze_chart', arguments: { chartId } });
      expect(analysis.isError).toBeFalsy();
      expect(analysis.structuredContent).toMatchObject({ status: 'completed', chartId });

      const compared = await client.callTool({
        name: 'compare_charts',
        arguments: { symbols: ['BINANCE:BTCUSDT', 'BINANCE:ETHUSDT'], interval: '1h' },
      });
      expect(compared.isError).toBeFalsy();
      expect((compared.content as { type: string }[])[0]!.type).toBe('image');

      const scorecard = await client.callTool({ name: 'get_scorecard', arguments: {} });
      expect(scorecard.isError).toBeFalsy();
      expect(scorecard.structuredContent).toHaveProperty('wins');

      await expectNotFound(client, bob);
    } finally {
      await client.close();
    }
  }, 120_000);
});
