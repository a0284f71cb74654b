import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import {
  AnalysisExportPage,
  AnalysisExportQuery,
  type AnalysisExportRow,
  AnalysisGet,
  AnalysisListForChart,
  type AnalysisRecord,
  ChartExportPage,
  ChartExportQuery,
  type ChartExportRow,
  ChartGet,
  ChartRender,
  type ExportCursor,
  HistoryExportQuery,
} from '@chartwright/contracts';
import { callRpc } from '@chartwright/kit';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireCaller } from '../auth/authenticate.js';
import type { GatewayContext } from '../context.js';
import { ApiError } from '../errors.js';
import { csvPages } from '../export/csv.js';
import { buildReport, type ReportInput, reportFilename } from '../export/pdf.js';
import { toAnalysisDetail } from './analyses.js';

const IdParams = z.object({ id: z.uuid() });
const READ_TIMEOUT_MS = 10_000;
const RENDER_TIMEOUT_MS = 30_000;
/** Rows per page read from a service while a CSV streams: one page (~300 KB) in memory at a time. */
const CSV_PAGE = 1000;
/** A report prints at most this many of a chart's analyses, newest first. */
const REPORT_ANALYSES = 50;

const ANALYSIS_COLUMNS = [
  'id',
  'createdAt',
  'chartId',
  'symbol',
  'interval',
  'model',
  'trend',
  'recommendation',
  'entryPrice',
  'stopLoss',
  'takeProfit',
  'riskRewardRatio',
  'confidence',
] as const;
const CHART_COLUMNS = [
  'id',
  'createdAt',
  'symbol',
  'symbols',
  'interval',
  'renderer',
  'format',
  'width',
  'height',
  'synthetic',
  'status',
  'analysesCount',
] as const;

const download = (reply: FastifyReply, contentType: string, filename: string) =>
  reply
    .header('content-type', contentType)
    .header('content-disposition', `attachment; filename="${filename}"`)
    .header('cache-control', 'private, no-store')
    .header('x-content-type-options', 'nosniff');

/** `from`/`to` as instants: a bare date is its first instant, UTC. */
const instant = (v: string | undefined) => (v ? new Date(Date.parse(v)).toISOString() : undefined);

/**
 * Exports: a chart as PDF report, SVG, PNG or JSON; an analysis as PDF or JSON; the caller's
 * analyses and charts as CSV, streamed page by page. Exports use the general rate limit only and
 * count against no quota.
 */
export async function exportRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();

  /** The chart's stored image bytes (PNG, or a re-rendered PNG for an SVG chart); null if not ours yet. */
  const chartPng = async (userId: string, chartId: string, found: Awaited<ReturnType<typeof getChart>>) => {
    if (found.chart.format === 'svg' && found.chart.renderer === 'builtin') {
      const png = await callRpc(
        ctx.bus,
        ChartRender,
        { userId, chartId, format: 'png' },
        { timeoutMs: RENDER_TIMEOUT_MS },
      );
      return Buffer.from(png.data, 'base64');
    }
    if (!found.image.objectKey) return null;
    const object = await ctx.objects.get(found.image.objectKey);
    return object ? buffer(object.body) : null;
  };
  const getChart = (userId: string, chartId: string) =>
    callRpc(ctx.bus, ChartGet, { userId, chartId }, { timeoutMs: READ_TIMEOUT_MS });
  const chartAnalyses = async (userId: string, chartId: string): Promise<AnalysisRecord[]> => {
    const { analyses } = await callRpc(
      ctx.bus,
      AnalysisListForChart,
      { userId, chartId, limit: REPORT_ANALYSES },
      { timeoutMs: READ_TIMEOUT_MS },
    );
    return Promise.all(
      analyses.map((a) =>
        callRpc(ctx.bus, AnalysisGet, { userId, analysisId: a.id }, { timeoutMs: READ_TIMEOUT_MS }),
      ),
    );
  };
  const report = async (chart: ReportInput['chart'], image: Buffer | null, analyses: AnalysisRecord[]) =>
    buildReport({ chart, image, analyses });

  r.get(
    '/v1/charts/:id/export',
    {
      schema: {
        tags: ['exports'],
        summary: 'Download a chart: a PDF report with its analyses, SVG, PNG or JSON',
        description:
          '`pdf`: title, image, settings and every analysis (signal, levels, key levels, text), page numbers and a ' +
          'disclaimer. `svg`: drawn again from the stored config and bars (built-in charts only; a chart-img.com chart is ' +
          '409). `png`: the stored image. `json`: the chart with its analyses. Sent as an attachment named ' +
          '`<TICKER>-<interval>-<yyyy-mm-dd>.<format>`. Counts against no quota.',
        params: IdParams,
        querystring: ChartExportQuery,
        produces: ['application/pdf', 'image/svg+xml', 'image/png', 'application/json'],
        // SVG of a chart-img.com chart.
        errors: ['CONFLICT'],
        redirects: true,
      },
    },
    async (req, reply) => {
      const caller = requireCaller(req);
      const chartId = req.params.id;
      const { format } = req.query;
      const found = await getChart(caller.id, chartId);
      const { chart } = found;
      const name = reportFilename(chart.symbol, chart.interval, chart.createdAt, format);
      switch (format) {
        case 'svg': {
          const svg = await callRpc(
            ctx.bus,
            ChartRender,
            { userId: caller.id, chartId, format: 'svg' },
            { timeoutMs: RENDER_TIMEOUT_MS },
          );
          return download(reply, 'image/svg+xml', name).send(svg.data);
        }
        case 'png': {
          const png = await chartPng(caller.id, chartId, found);
          if (png) return download(reply, 'image/png', name).send(png);
          // chart-img.com's link until storage-service has copied the image.
          if (found.image.externalUrl) return reply.redirect(found.image.externalUrl, 302);
          throw new ApiError('NOT_FOUND', 'Chart image not found');
        }
        case 'json': {
          const analyses = await chartAnalyses(caller.id, chartId);
          const body = { chart, analyses: analyses.map(toAnalysisDetail) };
          return download(reply, 'application/json; charset=utf-8', name).send(JSON.stringify(body, null, 2));
        }
        case 'pdf': {
          const [image, analyses] = await Promise.all([
            chartPng(caller.id, chartId, found),
            chartAnalyses(caller.id, chartId),
          ]);
          return download(reply, 'application/pdf', name).send(await report(chart, image, analyses));
        }
      }
    },
  );

  r.get(
    '/v1/analyses/:id/export',
    {
      schema: {
        tags: ['exports'],
        summary: 'Download an analysis: a PDF report with its chart, or JSON',
        description:
          'The chart report for this one analysis (`pdf`), or the analysis record (`json`), as an attachment named ' +
          '`<TICKER>-<interval>-<yyyy-mm-dd>.<format>` after the analysis. Counts against no quota.',
        params: IdParams,
        querystring: AnalysisExportQuery,
        produces: ['application/pdf', 'application/json'],
      },
    },
    async (req, reply) => {
      const caller = requireCaller(req);
      const analysis = await callRpc(
        ctx.bus,
        AnalysisGet,
        { userId: caller.id, analysisId: req.params.id },
        { timeoutMs: READ_TIMEOUT_MS },
      );
      const name = reportFilename(analysis.symbol, analysis.interval, analysis.createdAt, req.query.format);
      if (req.query.format === 'json')
        return download(reply, 'application/json; charset=utf-8', name).send(
          JSON.stringify({ analysis: toAnalysisDetail(analysis) }, null, 2),
        );
      const found = await getChart(caller.id, analysis.chartId);
      const image = await chartPng(caller.id, analysis.chartId, found);
      return download(reply, 'application/pdf', name).send(await report(found.chart, image, [analysis]));
    },
  );

  const history = <Row>(
    path: string,
    summary: string,
    file: string,
    columns: readonly string[],
    page: (q: {
      userId: string;
      from?: string;
      to?: string;
      symbol?: string;
      after?: ExportCursor;
      limit: number;
    }) => Promise<{ rows: Row[]; next: ExportCursor | null }>,
    cells: (row: Row) => (string | number | boolean | null)[],
  ) =>
    r.get(
      path,
      {
        schema: {
          tags: ['exports'],
          summary,
          description:
            'CSV (RFC 4180, CRLF) with one header row, newest first, streamed from the database a page at a time. ' +
            "Cells starting with `=`, `+`, `-`, `@`, tab or carriage return get a leading `'` so spreadsheets do not " +
            'run them. `from` (inclusive) and `to` (exclusive) bound the creation time; `symbol` matches part of it.',
          querystring: HistoryExportQuery,
          produces: ['text/csv'],
        },
      },
      async (req, reply) => {
        const caller = requireCaller(req);
        const q = {
          userId: caller.id,
          from: instant(req.query.from),
          to: instant(req.query.to),
          symbol: req.query.symbol,
          limit: CSV_PAGE,
        };
        // The first page before the answer starts: a failure is still a JSON error.
        const first = await page(q);
        const body = Readable.from(csvPages(columns, first, (after) => page({ ...q, after }), cells));
        const today = new Date().toISOString().slice(0, 10);
        return download(reply, 'text/csv; charset=utf-8', `${file}-${today}.csv`).send(body);
      },
    );

  history<AnalysisExportRow>(
    '/v1/analyses/export',
    "The caller's analyses as CSV",
    'analyses',
    ANALYSIS_COLUMNS,
    (q) => callRpc(ctx.bus, AnalysisExportPage, q, { timeoutMs: READ_TIMEOUT_MS }),
    (a) => ANALYSIS_COLUMNS.map((c) => a[c]),
  );
  history<ChartExportRow>(
    '/v1/charts/export',
    "The caller's charts as CSV",
    'charts',
    CHART_COLUMNS,
    (q) => callRpc(ctx.bus, ChartExportPage, q, { timeoutMs: READ_TIMEOUT_MS }),
    (c) => CHART_COLUMNS.map((k) => (k === 'symbols' ? c.symbols.join(' ') : c[k])),
  );
}
