import type { StreamConfig, WireType, WireValue } from '@sisporta/contracts'
import { checkAfter } from './convert-rows.js'
import { SourceError } from './errors.js'
import type { MatchedColumns, SourceColumnFacts } from './match-columns.js'
import type { KeyValues } from './source-dialect.js'

/** How one key column's wire value goes back into a page query (each engine adds how it compares). */
export interface KeyParameter {
  readonly toParameter: (value: Exclude<WireValue, null>) => unknown
}

/** An engine's rules for key columns (in its `…-values.ts`). */
export interface KeyColumnRules<Info extends SourceColumnFacts, Parameter extends KeyParameter> {
  /** Why a source column cannot drive keyset pagination read as `type`; undefined when it can. */
  keyProblem (type: WireType, info: Info): string | undefined
  /** How a key column's wire value goes back into a page query as a parameter. */
  createKeyParameter (type: WireType, info: Info): Parameter
}

/**
 * One key parameter per `target.key` column (`keyIndexes`, positions in `stream.columns`), in
 * key order. A column the engine cannot page on (a float, JSON, a number read from text) fails
 * with `SIS_SRC_KEY`, naming the stream, the column, its source type and the reason.
 *
 * @example
 * const keyParameters = prepareKeyParameters(stream, introspection, keyColumnIndexes(stream), {
 *   keyProblem: mysqlKeyProblem, createKeyParameter: createMysqlKeyParameter
 * })
 */
export function prepareKeyParameters<Info extends SourceColumnFacts, Parameter extends KeyParameter> (
  stream: StreamConfig,
  matched: MatchedColumns<Info>,
  keyIndexes: readonly number[],
  rules: KeyColumnRules<Info, Parameter>
): Parameter[] {
  return keyIndexes.map((i) => {
    const column = stream.columns[i]!
    const info = matched.columns[i]!
    const problem = rules.keyProblem(column.type, info)
    if (problem !== undefined) {
      throw new SourceError('SIS_SRC_KEY', `stream '${stream.name}': key column '${column.name}' (from ${matched.description.columns[i]!.from} ${info.columnType}, type ${column.type}): ${problem}`, { stream: stream.name, column: column.name })
    }
    return rules.createKeyParameter(column.type, info)
  })
}

/**
 * The key values of `readPage`'s `after` as page-query parameters, in key order: checked first
 * (as many as key columns, none NULL: `SIS_SRC_ARGUMENT`), then each through its column's
 * `toParameter`.
 *
 * @example
 * afterParameters(stream, prepared.keyParameters, ['D0001', 7]) // ['D0001', '7']
 */
export function afterParameters (stream: StreamConfig, keyParameters: readonly KeyParameter[], after: KeyValues): unknown[] {
  return checkAfter(stream, keyParameters.length, after).map((value, k) => keyParameters[k]!.toParameter(value))
}
