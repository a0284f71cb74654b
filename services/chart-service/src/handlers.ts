import {
  ChartBulkGenerate,
  ChartDelete,
  ChartGenerate,
  ChartGet,
  ChartList,
  TemplateCreate,
  TemplateDelete,
  TemplateGet,
  TemplateList,
} from '@chartwright/contracts';
import { handle, type RpcRoute } from '@chartwright/kit';
import type { Charts } from './charts.js';

/** Each request/reply contract chart-service answers, and the use case that answers it. */
export const handlers = (charts: Charts): RpcRoute[] => [
  handle(ChartGenerate, (req) => charts.generate(req.userId, req.request, req.idempotencyKey)),
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
