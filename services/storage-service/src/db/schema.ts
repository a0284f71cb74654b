import type { KitTables } from '@chartwright/kit';
import type { ColumnType, Generated } from 'kysely';

export interface ObjectTable {
  key: string;
  owner_id: string;
  chart_id: string | null;
  /** bigint: read back as a string (pg) or bigint (PGlite). */
  size: ColumnType<number | string | bigint, number, number>;
  sha256: string;
  content_type: string;
  created_at: Generated<Date>;
}

export interface DeletedChartTable {
  chart_id: string;
  owner_id: string;
  deleted_at: Generated<Date>;
}

export interface StorageDb extends KitTables {
  objects: ObjectTable;
  deleted_charts: DeletedChartTable;
}
