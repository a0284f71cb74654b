import type { preHandlerAsyncHookHandler } from 'fastify';

/** What the app builder hands route modules beyond the context. */
export interface RouteDeps {
  /** The per-plan limit for chart generation (design document: free 5/min, pro 50, enterprise 500). */
  generationRateLimit: preHandlerAsyncHookHandler;
  /** The same limits, counted separately, for analysis requests. */
  analysisRateLimit: preHandlerAsyncHookHandler;
}
