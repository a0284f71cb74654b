import {
  QuotaCommit,
  QuotaGet,
  type QuotaKind,
  QuotaRelease,
  QuotaReserve,
  QuotaSetPlan,
  QuotaUsage,
  type ServiceName,
} from '@chartwright/contracts';
import { handle, type RpcRoute, ServiceError } from '@chartwright/kit';
import type { Quotas } from './quotas.js';

/** On a locked-down NATS a service reserves and releases only the quota of its own work. */
const KIND_OF_SENDER: Partial<Record<ServiceName, QuotaKind>> = {
  'chart-service': 'charts',
  'analysis-service': 'analyses',
};
const refuseKind = (sender: ServiceName | undefined, kind: QuotaKind | undefined) => {
  if (sender && kind && KIND_OF_SENDER[sender] !== kind)
    throw new ServiceError('FORBIDDEN', `${sender} may not reserve or release ${kind} quota`);
};

/** Each request/reply contract quota-service answers, and the use case that answers it. */
export const handlers = (quotas: Quotas): RpcRoute[] => [
  handle(QuotaReserve, async (req, _headers, _signal, sender) => {
    refuseKind(sender, req.kind);
    return quotas.reserve(req);
  }),
  handle(QuotaCommit, async (req) => ({ state: await quotas.commit(req.reservationId) })),
  handle(QuotaRelease, async (req, _headers, _signal, sender) => {
    if (sender) refuseKind(sender, await quotas.kindOf(req.reservationId));
    return { state: await quotas.release(req.reservationId) };
  }),
  handle(QuotaGet, (req) => quotas.snapshot(req.userId)),
  handle(QuotaSetPlan, (req) => quotas.setPlan(req.userId, req.plan)),
  handle(QuotaUsage, (req) => quotas.usage(req)),
];
