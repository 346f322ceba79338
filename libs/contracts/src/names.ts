/**
 * Every NATS name sisporta uses, derived from one namespace so that several deployments (or
 * test runs) can share a NATS server without seeing each other.
 *
 * @example
 * const n = busNames('sisporta')
 * n.batchSubject('products') // 'sisporta.batch.products'
 * n.batchStream              // 'SISPORTA_BATCHES'
 */
export const NAMESPACE_PATTERN = /^[a-z][a-z0-9_]{0,31}$/
export const STREAM_NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/

/** Longest MySQL table or column name, in characters. */
export const MYSQL_IDENTIFIER_MAX = 64

/**
 * What sisporta accepts as a target table or column name: what MySQL and MariaDB accept as a
 * quoted identifier, minus control characters. 1 to 64 characters of Unicode's Basic
 * Multilingual Plane (MySQL refuses NUL and characters above U+FFFF: here, any UTF-16 surrogate),
 * no control character (U+0000–U+001F, U+007F–U+009F: they would make messages and logs
 * ambiguous, and no real schema has one), not ending with a space (MySQL refuses that). So
 * `Album`, `InvoiceLine`, `2024_sales`, `Preço Unitário`, `a$b` and even `` we`ird `` are names;
 * sisporta quotes every one (backticks, a backtick doubled) wherever it writes SQL.
 *
 * Case is kept as written: MySQL compares column names without case, and table names with or
 * without case depending on `lower_case_table_names`; sisporta uses the name as the config
 * spells it.
 */
export const MYSQL_IDENTIFIER_PATTERN = /^[^\u0000-\u001f\u007f-\u009f\ud800-\udfff]{0,63}[^\u0000-\u001f\u007f-\u009f\ud800-\udfff ]$/

/**
 * Why `name` is not a target table or column name sisporta accepts (see
 * {@link MYSQL_IDENTIFIER_PATTERN}), or `undefined` when it is one.
 *
 * @example
 * mysqlIdentifierProblem('InvoiceLine') // undefined
 * mysqlIdentifierProblem('Name ')       // 'ends with a space (MySQL refuses that)'
 */
export function mysqlIdentifierProblem (name: string): string | undefined {
  if (name.length === 0) return 'is empty'
  if (name.length > MYSQL_IDENTIFIER_MAX) return `is longer than ${MYSQL_IDENTIFIER_MAX} characters`
  if (/[\ud800-\udfff]/.test(name)) return 'has a character outside the Basic Multilingual Plane (above U+FFFF), which MySQL refuses in names'
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'has a control character'
  if (name.endsWith(' ')) return 'ends with a space (MySQL refuses that)'
  return undefined
}

export interface BusNames {
  readonly namespace: string
  /** Subject one stream's batches are published on. */
  batchSubject(stream: string): string
  /** Wildcard over every stream's batches (the JetStream stream's subject filter). */
  readonly batchSubjects: string
  /** JetStream stream holding the batches (work queue for the persisters). */
  readonly batchStream: string
  /** Durable pull consumer shared by every persister replica. */
  readonly persisterConsumer: string
  /** Subject one stream's dead letters are published on. */
  dlqSubject(stream: string): string
  readonly dlqSubjects: string
  /**
   * Subject of one stream's range comparisons (diffed reloads, `sisporta verify`): a NATS
   * request from the gateway, answered by one persister of the queue group {@link compareQueue}.
   */
  compareSubject(stream: string): string
  readonly compareSubjects: string
  readonly compareQueue: string
  /** JetStream stream that keeps dead-lettered batches until replayed or dropped. */
  readonly dlqStream: string
  /** KV bucket holding the load registry (one key per load, plus the id sequence). */
  readonly loadsBucket: string
}

export function busNames (namespace: string): BusNames {
  if (!NAMESPACE_PATTERN.test(namespace)) {
    throw new TypeError(`namespace '${namespace}' must match ${NAMESPACE_PATTERN} (lower-case letters, digits, '_')`)
  }
  const upper = namespace.toUpperCase()
  return Object.freeze({
    namespace,
    batchSubject: (stream: string) => `${namespace}.batch.${stream}`,
    batchSubjects: `${namespace}.batch.>`,
    batchStream: `${upper}_BATCHES`,
    persisterConsumer: `${namespace}_persister`,
    dlqSubject: (stream: string) => `${namespace}.dlq.${stream}`,
    dlqSubjects: `${namespace}.dlq.>`,
    compareSubject: (stream: string) => `${namespace}.compare.${stream}`,
    compareSubjects: `${namespace}.compare.>`,
    compareQueue: `${namespace}_comparers`,
    dlqStream: `${upper}_DLQ`,
    loadsBucket: `${namespace}_loads`
  })
}

/** Headers carried by every batch message on the bus (the payload is the HTTP batch body). */
export const BatchHeaders = Object.freeze({
  /** JetStream de-duplication id: `<stream>.<loadId>.<batch>`. */
  MsgId: 'Nats-Msg-Id',
  Stream: 'Sisporta-Stream',
  Load: 'Sisporta-Load',
  Batch: 'Sisporta-Batch',
  Mode: 'Sisporta-Mode',
  Rows: 'Sisporta-Rows',
  /** On dead letters: why the batch was given up on. */
  Reason: 'Sisporta-Reason',
  /** On dead letters: how many times it was delivered. */
  Deliveries: 'Sisporta-Deliveries',
  /**
   * On a replayed batch: the sequence of the dead letter it replays (`sisporta dlq replay N`).
   * Only the operator's identity sets it (the gateway builds its headers from scratch); the
   * persister then applies it into a load that ended failed or abandoned (docs/dead-letters.md).
   */
  Replay: 'Sisporta-Replay',
  /** On a dead letter (and its replay) that holds only some rows of its batch: the rows of the whole batch. */
  BatchRows: 'Sisporta-Batch-Rows',
  /** On a dead letter from bisection: the offending rows' keys, JSON (`[{"sku":"A1"}]`), cut to fit a header. */
  Keys: 'Sisporta-Keys',
  /** On a dead letter from bisection: the column MySQL named, when it named one. */
  Column: 'Sisporta-Column',
  /** On a dead letter from bisection: rows of the batch that were applied (the letter holds the rest). */
  Applied: 'Sisporta-Applied'
} as const)

/** The JetStream de-duplication id of one batch. */
export function batchMsgId (stream: string, loadId: number, batch: number): string {
  return `${stream}.${loadId}.${batch}`
}
