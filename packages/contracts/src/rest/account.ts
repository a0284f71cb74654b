import { z } from 'zod';
import { Plan, Role } from '../events/index.js';
import { UsageDay } from '../rpc/index.js';
import { QuotaCounter } from './common.js';

export const Email = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email({ message: 'must be an email address' }))
  .transform((e) => e.toLowerCase());

export const Password = z
  .string()
  .min(10, 'must be at least 10 characters')
  .max(200, 'must be at most 200 characters');

export const SignupRequest = z.object({
  email: Email,
  password: Password,
  name: z.string().trim().min(1).max(100).optional(),
});
export type SignupRequest = z.infer<typeof SignupRequest>;

export const LoginRequest = z.object({
  email: Email,
  password: z.string().min(1).max(200),
});
export type LoginRequest = z.infer<typeof LoginRequest>;

export const User = z.object({
  id: z.uuid(),
  email: z.string(),
  name: z.string().nullable(),
  plan: Plan,
  role: Role,
  createdAt: z.iso.datetime({ offset: true }),
});
export type User = z.infer<typeof User>;

export const TokenResponse = z.object({
  token: z.string(),
  expiresAt: z.iso.datetime({ offset: true }),
});
export type TokenResponse = z.infer<typeof TokenResponse>;

export const SignupResponse = TokenResponse.extend({ user: User });
export type SignupResponse = z.infer<typeof SignupResponse>;

/**
 * The answer to a sign-up when addresses must be confirmed (SIGNUP_VERIFY_EMAIL): the same for a
 * new address and for one that already has an account, so it reveals neither.
 */
export const SignupAccepted = z.object({
  email: z.string(),
  verification: z.literal('sent'),
});
export type SignupAccepted = z.infer<typeof SignupAccepted>;

export const VerifyEmailQuery = z.object({ token: z.string().min(1).max(200) });
export type VerifyEmailQuery = z.infer<typeof VerifyEmailQuery>;

export const VerifyEmailResponse = z.object({ verified: z.literal(true), user: User });
export type VerifyEmailResponse = z.infer<typeof VerifyEmailResponse>;

export const CreateApiKeyRequest = z.object({ name: z.string().trim().min(1).max(100) });
export type CreateApiKeyRequest = z.infer<typeof CreateApiKeyRequest>;

export const ApiKey = z.object({
  id: z.uuid(),
  name: z.string(),
  /** The first characters of the key, to recognise it. */
  prefix: z.string(),
  createdAt: z.iso.datetime({ offset: true }),
  lastUsedAt: z.iso.datetime({ offset: true }).nullable(),
});
export type ApiKey = z.infer<typeof ApiKey>;

/** Returned once, at creation: `key` is never shown again. */
export const CreatedApiKey = ApiKey.extend({ key: z.string() });
export type CreatedApiKey = z.infer<typeof CreatedApiKey>;

export const ChangePlanRequest = z.object({ plan: Plan });
export type ChangePlanRequest = z.infer<typeof ChangePlanRequest>;

/** `GET /v1/user/quota` (design document). */
export const QuotaResponse = z.object({
  quota: z.object({
    charts: QuotaCounter,
    analyses: QuotaCounter,
    resetAt: z.iso.datetime({ offset: true }),
  }),
  plan: Plan,
});
export type QuotaResponse = z.infer<typeof QuotaResponse>;

export const UsageQuery = z.object({
  from: z.iso.date().optional(),
  to: z.iso.date().optional(),
});
export type UsageQuery = z.infer<typeof UsageQuery>;

export const UsageResponse = z.object({
  from: z.iso.date(),
  to: z.iso.date(),
  days: z.array(UsageDay),
});
export type UsageResponse = z.infer<typeof UsageResponse>;
