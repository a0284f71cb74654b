import { type Kysely, sql } from 'kysely';
import type { ChartDb } from '../db/schema.js';
import type { DailyAllowance } from './client.js';

/** chart-img.com's daily allowance in chart-service's database: one counter row per account and day. */
export class PostgresDailyAllowance implements DailyAllowance {
  constructor(private readonly db: Kysely<ChartDb>) {}

  async take(account: string, day: string, limit: number): Promise<boolean> {
    // One statement: replicas racing for the last request cannot both get it.
    const row = await this.db
      .insertInto('chart_img_usage')
      .values({ account, day, requests: 1 })
      .onConflict((oc) =>
        oc
          .columns(['account', 'day'])
          .doUpdateSet({ requests: sql`chart_img_usage.requests + 1` })
          .where('chart_img_usage.requests', '<', limit),
      )
      .returning('requests')
      .executeTakeFirst();
    return row !== undefined && row.requests <= limit;
  }

  async spend(account: string, day: string, limit: number): Promise<void> {
    await this.db
      .insertInto('chart_img_usage')
      .values({ account, day, requests: limit })
      .onConflict((oc) =>
        oc
          .columns(['account', 'day'])
          .doUpdateSet({ requests: sql`greatest(chart_img_usage.requests, ${limit})` }),
      )
      .execute();
  }
}
