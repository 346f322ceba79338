import type { StreamConfig } from '@sisporta/contracts'

/** The part of a stream's config that deleting absent rows needs. */
export interface DeleteTarget {
  /** Target table. */
  readonly table: string
  readonly deletes: 'hard' | 'soft' | 'none'
}

export function deleteTarget (stream: StreamConfig): DeleteTarget {
  return { table: stream.target.table, deletes: stream.deletes }
}
