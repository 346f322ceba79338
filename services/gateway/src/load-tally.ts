/** Loads one gateway process keeps a tally of at once (the oldest is forgotten first). */
const MAX_LOADS = 1000
/** Distinct batch numbers remembered per load; past this only the highest number is kept. */
const MAX_BATCHES_PER_LOAD = 200_000

interface Tally {
  /** Highest batch number accepted. */
  maxBatch: number
  /** Rows of the distinct batches accepted (while `numbers` is complete). */
  rows: number
  /** Distinct batch numbers accepted, or `undefined` once there were too many to keep. */
  numbers: Set<number> | undefined
}

/**
 * What this gateway process accepted of each open load: the highest batch number and the rows
 * of the distinct batches. A seal is checked against it — only one way, because several gateway
 * replicas share the load's batches and each sees a part: a seal may state more than one
 * replica saw, never less. A seal stating 3 batches after this process accepted batch 7, or
 * fewer rows than the distinct batches it accepted hold, contradicts what was sent, and sealing
 * it would only make a load that can never be applied.
 *
 * @example
 * const tally = new LoadTally()
 * tally.accepted('products', 42, 7, 2000)
 * tally.contradiction('products', 42, { batches: 3, rows: 6000 }) // 'batch 7 was accepted, …'
 */
export class LoadTally {
  readonly #loads = new Map<string, Tally>()

  /** Records one batch accepted (published, or found already on the bus). */
  accepted (stream: string, loadId: number, batch: number, rows: number): void {
    const key = `${stream}.${loadId}`
    let tally = this.#loads.get(key)
    if (tally === undefined) {
      if (this.#loads.size >= MAX_LOADS) this.#loads.delete(this.#loads.keys().next().value!)
      tally = { maxBatch: -1, rows: 0, numbers: new Set() }
      this.#loads.set(key, tally)
    }
    tally.maxBatch = Math.max(tally.maxBatch, batch)
    if (tally.numbers === undefined || tally.numbers.has(batch)) return
    if (tally.numbers.size >= MAX_BATCHES_PER_LOAD) {
      tally.numbers = undefined
      return
    }
    tally.numbers.add(batch)
    tally.rows += rows
  }

  /** Why a seal with these counts contradicts what this process accepted, or `undefined`. */
  contradiction (stream: string, loadId: number, seal: { batches: number, rows: number }): string | undefined {
    if (seal.rows < seal.batches) return `${seal.batches} batches cannot hold ${seal.rows} rows: every batch holds at least one`
    const tally = this.#loads.get(`${stream}.${loadId}`)
    if (tally === undefined) return undefined
    if (tally.maxBatch >= seal.batches) return `batch ${tally.maxBatch} was accepted, but the seal states ${seal.batches} batches (0..${seal.batches - 1})`
    if (tally.numbers !== undefined && tally.rows > seal.rows) return `the ${tally.numbers.size} batches accepted by this gateway hold ${tally.rows} rows, but the seal states ${seal.rows}`
    return undefined
  }

  /** Forgets a load (sealed, or no longer open). */
  forget (stream: string, loadId: number): void {
    this.#loads.delete(`${stream}.${loadId}`)
  }
}
