import type { StreamConfig } from '@sisporta/contracts'

/**
 * Each dialect's cache of what it worked out for a stream (its introspection, page SQL and
 * converters): one describe per stream, shared by concurrent callers. What failed is not kept —
 * the next call describes again — and a dialect forgets a stream whose read failed, since the
 * source schema may have moved under it.
 *
 * @example
 * readonly #prepared = new PreparedStreams<PreparedStream>()
 * const prepared = await this.#prepared.get(stream, () => describeAndPlan(stream))
 */
export class PreparedStreams<Prepared> {
  readonly #prepared = new WeakMap<StreamConfig, Promise<Prepared>>()

  /** The stream's prepared state, from `prepare` when there is none yet (or the last one failed). */
  get (stream: StreamConfig, prepare: () => Promise<Prepared>): Promise<Prepared> {
    let prepared = this.#prepared.get(stream)
    if (prepared === undefined) {
      const preparing = prepare()
      // a failed describe is not remembered: the next call asks again
      preparing.catch(() => { if (this.#prepared.get(stream) === preparing) this.#prepared.delete(stream) })
      this.#prepared.set(stream, preparing)
      prepared = preparing
    }
    return prepared
  }

  /** Forgets the stream: the next `get` prepares it again. */
  forget (stream: StreamConfig): void {
    this.#prepared.delete(stream)
  }
}
