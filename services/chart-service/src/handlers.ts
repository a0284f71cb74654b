import {
  ChartBulkGenerate,
  ChartCompare,
  ChartDelete,
  ChartExportPage,
  ChartGenerate,
  ChartGenerateSet,
  ChartGet,
  ChartList,
  ChartRender,
  ChartRenderBars,
  TemplateCreate,
  TemplateDelete,
  TemplateGet,
  TemplateList,
} from '@chartwright/contracts';
import { handle, type RpcRoute } from '@chartwright/kit';
import type { Charts } from './charts.js';
import type { ChartExports } from './exports.js';

/** Each request/reply contract chart-service answers, and the use case that answers it. */
export const handlers = (charts: Charts, exports: ChartExports): RpcRoute[] => [
  handle(ChartCompare, (req) => charts.compare(req.userId, req.request, req.idempotencyKey)),
  handle(ChartRender, (req) => exports.render(req.userId, req.chartId, req.format)),
  handle(ChartExportPage, (req) => exports.page(req)),
  handle(ChartRenderBars, (req) => exports.renderBars(req)),
  handle(ChartGenerate, (req) => charts.generate(req.userId, req.request, req.idempotencyKey)),
  handle(ChartGenerateSet, (req) => charts.generateSet(req.userId, req.requests, req.idempotencyKey)),
  handle(ChartBulkGenerate, (req) => charts.bulk(req.userId, req.requests, req.idempotencyKey)),
  handle(ChartList, ({ userId, ...q }) => charts.list(userId, q)),
  handle(ChartGet, (req) => charts.get(req.userId, req.chartId)),
  handle(ChartDelete, async (req) => {
    await charts.delete(req.userId, req.chartId);
    return { deleted: true as const };
  }),
  handle(TemplateCreate, ({ userId, ...req }) => charts.createTemplate(userId, req)),
  handle(TemplateList, ({ userId, ...q }) => charts.listTemplates(userId, q)),
  handle(TemplateGet, (req) => charts.getTemplate(req.userId, req.templateId)),
  handle(TemplateDelete, async (req) => {
    await charts.deleteTemplate(req.userId, req.templateId);
    return { deleted: true as const };
  }),
];
