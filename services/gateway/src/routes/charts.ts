import type { FastifyInstance } from 'fastify';
import type { GatewayContext } from '../context.js';
import type { RouteDeps } from './deps.js';

/** Placeholder until its feature lands. */
export async function chartRoutes(
  _app: FastifyInstance,
  _ctx: GatewayContext,
  _deps: RouteDeps,
): Promise<void> {}
