import {
  QuotaCommit,
  QuotaGet,
  QuotaRelease,
  QuotaReserve,
  QuotaSetPlan,
  QuotaUsage,
} from '@chartwright/contracts';
import { handle, type RpcRoute } from '@chartwright/kit';
import type { Quotas } from './quotas.js';

/** Each request/reply contract quota-service answers, and the use case that answers it. */
export const handlers = (quotas: Quotas): RpcRoute[] => [
  handle(QuotaReserve, (req) => quotas.reserve(req)),
  handle(QuotaCommit, async (req) => ({ state: await quotas.commit(req.reservationId) })),
  handle(QuotaRelease, async (req) => ({ state: await quotas.release(req.reservationId) })),
  handle(QuotaGet, (req) => quotas.snapshot(req.userId)),
  handle(QuotaSetPlan, (req) => quotas.setPlan(req.userId, req.plan)),
  handle(QuotaUsage, (req) => quotas.usage(req)),
];
