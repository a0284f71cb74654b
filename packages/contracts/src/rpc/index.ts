import { z } from 'zod';
import { Plan, QuotaKind } from '../events/index.js';
import { ErrorCode } from '../rest/common.js';
import { RPC_SENDERS, type ServiceName } from './senders.js';

export * from './senders.js';

/** Every request/reply answer: `{ok: true, data}` or `{ok: false, error}`. */
export const RpcError = z.object({
  code: ErrorCode,
  message: z.string(),
  details: z.unknown().optional(),
});
export type RpcError = z.infer<typeof RpcError>;

export type RpcReply<T> = { ok: true; data: T } | { ok: false; error: RpcError };
export const rpcReply = <T extends z.ZodType>(data: T) =>
  z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), data }),
    z.object({ ok: z.literal(false), error: RpcError }),
  ]);

/** A request/reply pair: the subject and both schemas. */
export interface RpcDefinition<Req extends z.ZodType = z.ZodType, Res extends z.ZodType = z.ZodType> {
  readonly subject: string;
  readonly request: Req;
  readonly response: Res;
  /** `rpcReply(response)`, built once: zod compiles a schema on its first parse. */
  readonly reply: ReturnType<typeof rpcReply<Res>>;
  /** Who may send it (`RPC_SENDERS`). */
  readonly senders: readonly ServiceName[];
}
export const defineRpc = <Req extends z.ZodType, Res extends z.ZodType>(
  subject: string,
  request: Req,
  response: Res,
): RpcDefinition<Req, Res> => ({
  subject,
  request,
  response,
  reply: rpcReply(response),
  senders: RPC_SENDERS[subject] ?? [],
});

const Id = z.uuid();

/**
 * The work's idempotency key (the gateway's per-`Idempotency-Key` work id): stored with what is
 * created, in the same transaction, so a retry answers what the first attempt made, charged once.
 */
export const WorkKey = z.string().min(1).max(200).optional();

export const QuotaSnapshot = z.object({
  userId: Id,
  plan: Plan,
  charts: z.object({ used: z.number().int(), limit: z.number().int().nullable() }),
  analyses: z.object({ used: z.number().int(), limit: z.number().int().nullable() }),
  periodStart: z.iso.datetime({ offset: true }),
  resetAt: z.iso.datetime({ offset: true }),
});
export type QuotaSnapshot = z.infer<typeof QuotaSnapshot>;

export const QuotaReserve = defineRpc(
  'svc.quota.reserve',
  z.object({
    userId: Id,
    kind: QuotaKind,
    amount: z.number().int().min(1).max(1000),
    reservationId: Id,
    /** Seconds after which an uncommitted reservation is released. */
    ttlSeconds: z.number().int().min(1).max(86_400).optional(),
  }),
  z.object({ reservationId: Id, granted: z.boolean(), quota: QuotaSnapshot }),
);

export const QuotaSettle = z.object({ reservationId: Id });
export const QuotaCommit = defineRpc('svc.quota.commit', QuotaSettle, z.object({ state: z.string() }));
export const QuotaRelease = defineRpc('svc.quota.release', QuotaSettle, z.object({ state: z.string() }));
export const QuotaGet = defineRpc('svc.quota.get', z.object({ userId: Id }), QuotaSnapshot);

export const UsageDay = z.object({
  date: z.iso.date(),
  requests: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  chartsGenerated: z.number().int().nonnegative(),
  analysesPerformed: z.number().int().nonnegative(),
  tokensUsed: z.number().int().nonnegative(),
});
export type UsageDay = z.infer<typeof UsageDay>;

export const QuotaUsage = defineRpc(
  'svc.quota.usage',
  z.object({ userId: Id, from: z.iso.date(), to: z.iso.date() }),
  z.object({ from: z.iso.date(), to: z.iso.date(), days: z.array(UsageDay) }),
);

export const QuotaSetPlan = defineRpc(
  'svc.quota.set_plan',
  z.object({ userId: Id, plan: Plan }),
  QuotaSnapshot,
);
