import type { KitTables } from '@chartwright/kit';
import type { Generated } from 'kysely';

export interface ObjectTable {
  key: string;
  owner_id: string;
  chart_id: string | null;
  size: number;
  sha256: string;
  content_type: string;
  created_at: Generated<Date>;
}

export interface StorageDb extends KitTables {
  objects: ObjectTable;
}
