/** The part of a stream its place among the others depends on. */
export interface DependentStream {
  readonly name: string
  readonly dependsOn?: readonly string[]
}

/**
 * The streams in dependency order: every stream after each stream it `dependsOn` (parents
 * first), and otherwise in the order given. Loading in this order inserts parent rows before the
 * child rows that refer to them; deleting goes the other way round (children first).
 *
 * Throws a plain `Error` naming the cycle if there is one; the config check
 * (`checkDependencies`) reports cycles and unknown names as `SIS_CFG_DEPENDS_ON` before any
 * caller gets here. Unknown names are ignored here.
 *
 * @example
 * dependencyOrder([{ name: 'tracks', dependsOn: ['albums'] }, { name: 'albums' }]).map((s) => s.name)
 * // ['albums', 'tracks']
 */
export function dependencyOrder<S extends DependentStream> (streams: readonly S[]): S[] {
  const byName = new Map(streams.map((s) => [s.name, s]))
  const ordered: S[] = []
  const done = new Set<string>()
  const visiting: string[] = []
  const visit = (stream: S): void => {
    if (done.has(stream.name)) return
    const at = visiting.indexOf(stream.name)
    if (at >= 0) throw new Error(`streams depend on each other in a cycle: ${[...visiting.slice(at), stream.name].join(' → ')}`)
    visiting.push(stream.name)
    for (const parent of stream.dependsOn ?? []) {
      const p = byName.get(parent)
      if (p !== undefined) visit(p)
    }
    visiting.pop()
    done.add(stream.name)
    ordered.push(stream)
  }
  for (const stream of streams) visit(stream)
  return ordered
}

/**
 * The streams that declare `dependsOn: [name]`: their target rows refer to `name`'s, so their
 * deletes go before `name`'s.
 *
 * @example
 * dependentsOf([{ name: 'tracks', dependsOn: ['albums'] }, { name: 'albums' }], 'albums').map((s) => s.name) // ['tracks']
 */
export function dependentsOf<S extends DependentStream> (streams: readonly S[], name: string): S[] {
  return streams.filter((s) => s.dependsOn?.includes(name) === true)
}
