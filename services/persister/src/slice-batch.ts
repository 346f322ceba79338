import type { BatchToApply } from './apply-batch.js'
import type { RenderedRows } from './render-rows.js'

/**
 * Rows `first` … `end - 1` of a batch as a batch of their own (same load, number and mode), for
 * bisection: parsed rows are sliced, rendered SQL tuples are cut at their row boundaries
 * (`rowEnds`) without rendering anything again.
 *
 * @example
 * sliceBatch({ loadId: 7, batch: 0, mode: 'full', body: { columns: ['id'], rows: [[1], [2], [3]] } }, 1, 3)
 * // { loadId: 7, batch: 0, mode: 'full', body: { columns: ['id'], rows: [[2], [3]] } }
 */
export function sliceBatch (batch: BatchToApply, first: number, end: number): BatchToApply {
  const head = { loadId: batch.loadId, batch: batch.batch, mode: batch.mode }
  if ('body' in batch) return { ...head, body: { columns: batch.body.columns, rows: batch.body.rows.slice(first, end) } }
  return { ...head, rendered: sliceRendered(batch.rendered, first, end) }
}

function sliceRendered (rendered: RenderedRows, first: number, end: number): RenderedRows {
  // tuples are separated by one comma: a row starts one byte past the end of the one before
  const start = first === 0 ? 0 : rendered.rowEnds[first - 1]! + 1
  const stop = rendered.rowEnds[end - 1]!
  const rowEnds = new Uint32Array(end - first)
  for (let r = first; r < end; r++) rowEnds[r - first] = rendered.rowEnds[r]! - start
  const bytes = rendered.bytes.subarray(start, stop)
  return { columns: rendered.columns, rowCount: end - first, bytes, length: bytes.length, rowEnds }
}
