import { Type, type Static } from '@sinclair/typebox'
import { WIRE_TYPES } from './wire-types.js'
import { MYSQL_IDENTIFIER_PATTERN } from './names.js'

/** Stream names: they go into subjects, scopes, KV keys and metric labels. */
const Identifier = Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$', description: 'a lower-case identifier [a-z][a-z0-9_]* of at most 63 characters' })
/** Target table and column names: any MySQL identifier (see MYSQL_IDENTIFIER_PATTERN), always quoted. */
const TargetIdentifier = Type.String({
  pattern: MYSQL_IDENTIFIER_PATTERN.source,
  description: 'a MySQL name: 1 to 64 characters, none a control character or above U+FFFF, no trailing space'
})
/** A source or target object name: `table`, `schema.table` or `db.schema.table`, as the engine spells it. */
const ObjectName = Type.String({ minLength: 1, maxLength: 384, pattern: '^[^;\'"`\\[\\]\\s]+(\\.[^;\'"`\\[\\]\\s]+){0,2}$' })
const ColumnName = Type.String({ minLength: 1, maxLength: 128, pattern: '^[^;\'"`\\[\\]\\.]+$' })

export const ColumnMappingSchema = Type.Object({
  /** Target column (any MySQL column name, as the target table spells it). */
  name: TargetIdentifier,
  /** Source column (or alias of a `query:` stream). */
  from: ColumnName,
  type: Type.Union(WIRE_TYPES.map((t) => Type.Literal(t))),
  /**
   * decimal: total digits, 1–65 (default 38). datetime: fractional-second digits, 0–6 (default
   * 6), as the target's DATETIME(n): a value with a non-zero digit beyond them is refused.
   */
  precision: Type.Optional(Type.Integer({ minimum: 0, maximum: 65 })),
  /** decimal: digits after the point (default 10 when the target table is created by sisporta). */
  scale: Type.Optional(Type.Integer({ minimum: 0, maximum: 30 })),
  /** string: maximum characters; binary: maximum bytes. */
  length: Type.Optional(Type.Integer({ minimum: 1, maximum: 16777215 })),
  /** Whether NULL is allowed (key columns never are). Default true. */
  nullable: Type.Optional(Type.Boolean()),
  /**
   * datetime only, never on a key: `truncate` reads a SQL Server datetime2(7) / datetimeoffset(7)
   * value cut to the microsecond (its 7th fractional digit dropped, never rounded; the values cut
   * are counted and logged once per load). Without it such a column is refused before the load.
   */
  fraction: Type.Optional(Type.Literal('truncate'))
}, { additionalProperties: false })

export const StreamSourceSchema = Type.Object({
  /** Source table (`dbo.Produtos`, `erp.products`), or … */
  table: Type.Optional(ObjectName),
  /** … a query whose result set is the stream (wrapped for keyset pagination). */
  query: Type.Optional(Type.String({ minLength: 1 })),
  /** Optional rowversion / updated-at / increasing column (used by incremental loads). */
  version: Type.Optional(ColumnName),
  /** SQL Server only: read with NOLOCK (dirty reads). Off unless asked for. */
  nolock: Type.Optional(Type.Boolean()),
  /**
   * SQL Server only: load the table although Row-Level Security filters its rows or Dynamic Data
   * Masking masks mapped columns for the source login (a full load then deletes or overwrites
   * target rows with what the login sees). Off: such a stream is refused (`SIS_SRC_FILTERED`).
   */
  allowFiltered: Type.Optional(Type.Boolean()),
  /**
   * How a full load after the first ships the source: `diff` (the default) compares row hashes
   * with the target range by range and sends only what differs; `rows` sends every row, every
   * time (docs/reloads.md).
   */
  reload: Type.Optional(Type.Union([Type.Literal('rows'), Type.Literal('diff')]))
}, { additionalProperties: false })

export const StreamTargetSchema = Type.Object({
  /** Target table (any MySQL table name, case as written). */
  table: TargetIdentifier,
  /** Target columns that identify a row (the primary key of the target table). */
  key: Type.Array(TargetIdentifier, { minItems: 1 })
}, { additionalProperties: false })

/** An interval: `30s`, `15m`, `6h`, `1d`. */
export const DurationSchema = Type.String({ pattern: '^[1-9][0-9]*(s|m|h|d)$', description: 'an interval such as 30s, 15m, 6h, 1d' })

/** `^[1-9][0-9]*(s|m|h|d)$`: what {@link DurationSchema} accepts (an interval rather than a cron expression). */
export const DURATION_PATTERN = /^[1-9][0-9]*(s|m|h|d)$/

/**
 * When a load runs: a cron expression (`0 2 * * *`, five fields, or six with seconds first, or
 * a nickname like `@daily`) or an interval (`30s`, `15m`, `6h`, `1d`: due that long after the
 * last load). Which one it is, and whether it is valid, is checked with the rest of the config
 * (`SIS_CFG_SCHEDULE`). See docs/schedules.md.
 */
export const ScheduleSpecSchema = Type.String({ minLength: 1, maxLength: 200, description: 'a cron expression such as "0 2 * * *" or an interval such as 30s, 15m, 6h, 1d' })

export const StreamScheduleSchema = Type.Object({
  /** Run a full load on this schedule (`sisporta extractor` daemon). */
  full: Type.Optional(ScheduleSpecSchema),
  /** Refused by the config check until incremental loads exist. */
  incremental: Type.Optional(ScheduleSpecSchema),
  /** IANA time zone of the cron expressions (`Europe/Lisbon`); default UTC. */
  timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  /** A random delay in [0, jitter) before each scheduled run, so streams on one cron tick spread out. */
  jitter: Type.Optional(DurationSchema)
}, { additionalProperties: false })

export const StreamConfigSchema = Type.Object({
  name: Identifier,
  source: StreamSourceSchema,
  target: StreamTargetSchema,
  columns: Type.Array(ColumnMappingSchema, { minItems: 1 }),
  /** What reconciliation does with target rows a full load no longer contains. */
  deletes: Type.Optional(Type.Union([Type.Literal('hard'), Type.Literal('soft'), Type.Literal('none')])),
  /** A full load that would delete more than this share of the table is held for an operator. */
  maxDeleteRatio: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  /** Rows per batch for this stream (overrides SISPORTA_BATCH_SIZE). */
  batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 50000 })),
  /** When the extractor daemon loads this stream on its own. */
  schedule: Type.Optional(StreamScheduleSchema),
  /**
   * Streams whose target rows this stream's target rows refer to (foreign keys): the extractor
   * daemon has their loads applied before it loads this stream, and the reconciler lets this
   * stream's deletes go first when theirs are refused by a foreign key.
   */
  dependsOn: Type.Optional(Type.Array(Identifier, { uniqueItems: true }))
}, { additionalProperties: false })

export const ConfigFileSchema = Type.Object({
  streams: Type.Array(StreamConfigSchema, { minItems: 1 })
}, { additionalProperties: false })

export type ColumnMapping = Static<typeof ColumnMappingSchema>
export type StreamConfigInput = Static<typeof StreamConfigSchema>
export type ConfigFileInput = Static<typeof ConfigFileSchema>

/** A stream after validation, with defaults applied. Frozen. */
export interface StreamConfig {
  readonly name: string
  readonly source: Readonly<Static<typeof StreamSourceSchema>>
  readonly target: { readonly table: string, readonly key: readonly string[] }
  readonly columns: readonly Readonly<ColumnMapping>[]
  readonly deletes: 'hard' | 'soft' | 'none'
  readonly maxDeleteRatio: number
  readonly batchSize?: number
  readonly schedule?: Readonly<Static<typeof StreamScheduleSchema>>
  /** Names of the streams this one depends on (its foreign keys point at their targets). */
  readonly dependsOn?: readonly string[]
}

/** Milliseconds of a {@link DurationSchema} string. */
export function durationMs (duration: string): number {
  const n = Number(duration.slice(0, -1))
  const unit = duration.slice(-1)
  return n * (unit === 's' ? 1000 : unit === 'm' ? 60_000 : unit === 'h' ? 3_600_000 : 86_400_000)
}

export interface SisportaConfig {
  /** The file the config was read from (for messages). */
  readonly file: string
  readonly streams: readonly StreamConfig[]
  stream(name: string): StreamConfig | undefined
}

export const STREAM_DEFAULTS = Object.freeze({ deletes: 'hard' as const, maxDeleteRatio: 0.2 })
