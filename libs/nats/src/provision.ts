import { setTimeout as sleep } from 'node:timers/promises'
import { isDeepStrictEqual } from 'node:util'
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, nanos, type ConsumerConfig, type JetStreamManager, type NatsConnection, type StreamConfig as JsStreamConfig } from 'nats'
import type { BusNames } from '@sisporta/contracts'
import type { BusLogger } from './connect-bus.js'
import { BusError, isPermissionDenied } from './errors.js'

export interface ProvisionOptions {
  /** Deliveries of a batch before the persister dead-letters it (sets the consumer's max_deliver, with one to spare). */
  maxDeliver: number
  /** How long JetStream remembers a batch id for de-duplication (ms), when the batch stream is created. */
  duplicateWindowMs?: number
  /** How long the persister has to apply one batch before it is redelivered (ms), when the consumer is created. */
  ackWaitMs?: number
  /**
   * Replicas of the batch stream, the dead-letter stream and the registry bucket when
   * provisioning creates them (SISPORTA_JETSTREAM_REPLICAS: 1 on a single server, 3 or 5 in a
   * cluster). An existing object's replicas are never changed (an operator may have moved them
   * with `nats stream edit --replicas`); a different count is logged as a warning.
   */
  replicas?: number
  /**
   * Longest a dead letter is kept (seconds, default 30 days; 0 forever): the dead-letter
   * stream's `max_age` when provisioning creates it. An existing stream's `max_age` is never
   * changed (an operator may have set it); a different one is logged as a warning.
   */
  dlqMaxAgeSec?: number
  /**
   * Most bytes the dead-letter stream holds (default 1 GiB; 0 no limit), when provisioning
   * creates it. The stream discards *new* letters when full: storing a dead letter then fails,
   * the persister hands the batch back and logs an error, so no letter is ever dropped silently.
   */
  dlqMaxBytes?: number
  /** Told what this identity may not change (info) and what it waits for or leaves as it is (warn). */
  log?: BusLogger
  /**
   * How long to wait (ms, default 60 s) for what is missing and this identity may not create:
   * services of one release start together, and the provisioning one may be a moment behind.
   */
  waitMs?: number
}

/** What provisioning did with one object: made or changed it, found it as wanted, found it and may not change it, or could not make it. */
type Outcome = 'changed' | 'in place' | 'kept' | 'missing'

/** How long dead letters are kept unless SISPORTA_DLQ_MAX_AGE says otherwise: 30 days. */
export const DEFAULT_DLQ_MAX_AGE_SEC = 30 * 86400

/** How many bytes of dead letters are kept unless SISPORTA_DLQ_MAX_BYTES says otherwise: 1 GiB. */
export const DEFAULT_DLQ_MAX_BYTES = 1024 ** 3

/**
 * Who decides each setting sisporta asks for, once the object exists.
 *
 * - `sisporta`: correctness depends on it. A difference is changed back (with a warning), or, by
 *   an identity that may not, used as it is (info). Subjects: a batch published to a subject no
 *   stream takes is lost. `discard: new`: with `old`, a stream at a limit drops its oldest batch
 *   or dead letter silently; with `new`, storing fails and is retried. The consumer's
 *   `max_deliver` must stay above the persister's own limit (SISPORTA_MAX_DELIVER), or the server
 *   stops delivering a batch before the persister dead-letters it; its `filter_subject` decides
 *   which batches the persisters see. The bucket refuses rollup headers (one message could purge
 *   the registry).
 * - `fixed`: sisporta's design rests on it and NATS cannot change it on an existing object
 *   (retention, ack and deliver policy). A difference stops the service with
 *   `SIS_BUS_INCOMPATIBLE`: the object must be removed and provisioned again.
 * - `operator`: a sizing or durability choice. Provisioning sets it when it creates the object;
 *   afterwards a difference is logged as a warning naming the setting, both values and the
 *   environment variable, and left as it is: replicas, limits, storage, the de-duplication
 *   window, the largest message, the consumer's ack wait (the persister reads it back) and
 *   pending limit.
 */
const OWNERS: Readonly<Record<string, 'sisporta' | 'fixed' | 'operator'>> = Object.freeze({
  subjects: 'sisporta',
  discard: 'sisporta',
  max_deliver: 'sisporta',
  filter_subject: 'sisporta',
  allow_rollup_hdrs: 'sisporta',
  retention: 'fixed',
  ack_policy: 'fixed',
  deliver_policy: 'fixed',
  num_replicas: 'operator',
  max_age: 'operator',
  max_bytes: 'operator',
  storage: 'operator',
  duplicate_window: 'operator',
  max_msg_size: 'operator',
  ack_wait: 'operator',
  max_ack_pending: 'operator'
})

/** The environment variable behind an operator's setting, for the warning. */
const SETTING_VARIABLE: Readonly<Record<string, string>> = Object.freeze({
  num_replicas: 'SISPORTA_JETSTREAM_REPLICAS',
  max_age: 'SISPORTA_DLQ_MAX_AGE',
  max_bytes: 'SISPORTA_DLQ_MAX_BYTES',
  max_deliver: 'SISPORTA_MAX_DELIVER',
  ack_wait: 'SISPORTA_ACK_WAIT'
})

const PROVISIONER_HINT = 'start the reconciler first (its NATS identity provisions the bus, deploy/nats/sisporta-permissions.conf), or run one service once with the admin identity'

/**
 * Creates the JetStream streams, the persister's durable consumer and the load registry's KV
 * bucket when they are missing. Idempotent: every service calls it at start-up, so whichever may
 * provision does, and the others find everything in place.
 *
 * An existing object is compared with what sisporta would create, setting by setting (see
 * {@link OWNERS}): what sisporta's correctness rests on (subjects, discard policy, max_deliver,
 * the consumer's filter, the bucket's rollup refusal) is changed back; what NATS cannot change
 * (retention, ack and deliver policy) stops the service with `SIS_BUS_INCOMPATIBLE` (exit 2);
 * what an operator may tune (replicas, limits, storage, windows, ack wait) is logged as a
 * warning and never rewritten — `nats stream edit --replicas 3` survives every restart.
 *
 * On a NATS with per-service permissions (deploy/nats) only some identities may create or change
 * these objects. Another one checks that each exists, logs at info what it may not change, and
 * goes on; what is missing it waits for (`waitMs`), then fails with `SIS_BUS_NOT_PROVISIONED`
 * saying who must provision. An identity that may not even read them fails with
 * `SIS_BUS_PERMISSION` (a namespace the permissions were not written for). Both exit 2.
 *
 * The bucket refuses rollup headers: with them, any identity allowed to write one key could wipe
 * the whole registry with a single `Nats-Rollup: all` message (sisporta never purges a key).
 *
 * @example
 * await provisionBus(nc, busNames('sisporta'), { maxDeliver: 5, replicas: 3, log })
 */
export async function provisionBus (nc: NatsConnection, names: BusNames, options: ProvisionOptions): Promise<void> {
  const jsm = await guard(async () => await nc.jetstreamManager(), 'use JetStream ($JS.API.INFO)', names)
  const replicas = options.replicas ?? 1
  const dlqMaxBytes = options.dlqMaxBytes ?? DEFAULT_DLQ_MAX_BYTES
  const streams: Array<Partial<JsStreamConfig> & { name: string }> = [{
    name: names.batchStream,
    subjects: [names.batchSubjects],
    // Work queue: a batch is removed once a persister acked it; the bus is not the archive.
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.New,
    duplicate_window: nanos(options.duplicateWindowMs ?? 60 * 60_000),
    num_replicas: replicas,
    max_msg_size: 64 * 1024 * 1024
  }, {
    name: names.dlqStream,
    subjects: [names.dlqSubjects],
    retention: RetentionPolicy.Limits,
    max_age: nanos((options.dlqMaxAgeSec ?? DEFAULT_DLQ_MAX_AGE_SEC) * 1000),
    max_bytes: dlqMaxBytes === 0 ? -1 : dlqMaxBytes,
    // Full: refuse the new letter (the persister naks the batch and says so), never drop an old one.
    discard: DiscardPolicy.New,
    storage: StorageType.File,
    num_replicas: replicas,
    max_msg_size: 64 * 1024 * 1024
  }]
  const consumer: Partial<ConsumerConfig> & { durable_name: string } = {
    durable_name: names.persisterConsumer,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(options.ackWaitMs ?? 60_000),
    // One delivery more than the persister's own limit, so the persister (not the server) decides to dead-letter.
    max_deliver: options.maxDeliver + 1,
    max_ack_pending: 1000,
    filter_subject: names.batchSubjects
  }
  const deadline = Date.now() + (options.waitMs ?? 60_000)
  const told = new Set<string>()
  for (let round = 1; ; round++) {
    // differences are told once, not every second of a wait
    const log = round === 1 ? options.log : undefined
    const outcomes = new Map<string, Outcome>()
    for (const stream of streams) outcomes.set(`stream ${stream.name}`, await ensureStream(jsm, stream, names, log))
    outcomes.set(`consumer ${names.persisterConsumer}`, outcomes.get(`stream ${names.batchStream}`) === 'missing'
      ? 'missing'
      : await ensureConsumer(jsm, names.batchStream, consumer, names, log))
    outcomes.set(`bucket ${names.loadsBucket}`, await ensureBucket(nc, jsm, names, replicas, log))
    for (const [what, outcome] of outcomes) {
      if (outcome === 'kept' && !told.has(what)) {
        told.add(what)
        options.log?.info({ object: what }, `NATS ${what} exists; this service's NATS identity may not change it, so it is used as it is`)
      }
    }
    const missing = [...outcomes].filter(([, o]) => o === 'missing').map(([what]) => what)
    if (missing.length === 0) return
    if (Date.now() >= deadline) {
      throw new BusError('SIS_BUS_NOT_PROVISIONED', `NATS ${missing.join(', ')} of namespace '${names.namespace}' ${missing.length === 1 ? 'does' : 'do'} not exist and this service's NATS identity may not create ${missing.length === 1 ? 'it' : 'them'}: ${PROVISIONER_HINT}`, { exitCode: 2 })
    }
    if (round === 1) options.log?.warn({ missing, waitMs: options.waitMs ?? 60_000 }, `waiting for NATS ${missing.join(', ')}, which this service's NATS identity may not create: ${PROVISIONER_HINT}`)
    await sleep(Math.min(1000, Math.max(0, deadline - Date.now())))
  }
}

async function ensureStream (jsm: JetStreamManager, wanted: Partial<JsStreamConfig> & { name: string }, names: BusNames, log: BusLogger | undefined): Promise<Outcome> {
  let current: JsStreamConfig | undefined
  try {
    current = (await guard(async () => await jsm.streams.info(wanted.name), `read NATS stream ${wanted.name}`, names)).config
  } catch (err) {
    if (!isNotFound(err, 'stream')) throw err
  }
  if (current !== undefined) {
    const changes = reconcile(`stream ${wanted.name}`, current, wanted, log)
    if (changes === undefined) return 'in place'
    return await change(`stream ${wanted.name}`, current, changes, async (c) => await jsm.streams.update(wanted.name, c as Partial<JsStreamConfig>), log)
  }
  try {
    await jsm.streams.add(wanted)
    return 'changed'
  } catch (err) {
    if (isPermissionDenied(err)) return 'missing'
    // Another service provisioned it between our two calls.
    if (/already in use|already exists/i.test((err as Error).message)) return 'in place'
    throw replicasError(err, wanted.num_replicas)
  }
}

async function ensureConsumer (jsm: JetStreamManager, stream: string, config: Partial<ConsumerConfig> & { durable_name: string }, names: BusNames, log: BusLogger | undefined): Promise<Outcome> {
  let current: ConsumerConfig | undefined
  try {
    current = (await guard(async () => await jsm.consumers.info(stream, config.durable_name), `read NATS consumer ${config.durable_name}`, names)).config
  } catch (err) {
    if (!isNotFound(err, 'consumer')) throw err
  }
  if (current === undefined) {
    try {
      await jsm.consumers.add(stream, config)
      return 'changed'
    } catch (err) {
      if (isPermissionDenied(err)) return 'missing'
      if (!/consumer already exists|consumer name already in use/i.test((err as Error).message)) throw err
      current = (await jsm.consumers.info(stream, config.durable_name)).config
    }
  }
  const changes = reconcile(`consumer ${config.durable_name}`, current, config, log)
  if (changes === undefined) return 'in place'
  return await change(`consumer ${config.durable_name}`, current, changes, async (c) => await jsm.consumers.update(stream, config.durable_name, c as Partial<ConsumerConfig>), log)
}

async function ensureBucket (nc: NatsConnection, jsm: JetStreamManager, names: BusNames, replicas: number, log: BusLogger | undefined): Promise<Outcome> {
  const stream = `KV_${names.loadsBucket}`
  let current: JsStreamConfig | undefined
  try {
    current = (await guard(async () => await jsm.streams.info(stream), `read NATS bucket ${names.loadsBucket}`, names)).config
  } catch (err) {
    if (!isNotFound(err, 'stream')) throw err
  }
  let outcome: Outcome = 'in place'
  if (current === undefined) {
    try {
      // nats.js lays the bucket out (subjects, history, direct gets); the rollup setting follows.
      await nc.jetstream().views.kv(names.loadsBucket, { history: 1, replicas })
      outcome = 'changed'
    } catch (err) {
      if (isPermissionDenied(err)) return 'missing'
      throw replicasError(err, replicas)
    }
    current = (await jsm.streams.info(stream)).config
  }
  const changes = reconcile(`bucket ${names.loadsBucket}`, current, { num_replicas: replicas, allow_rollup_hdrs: false }, outcome === 'changed' ? undefined : log)
  if (changes === undefined) return outcome
  const closed = await change(`bucket ${names.loadsBucket}`, current, changes, async (c) => await jsm.streams.update(stream, c as Partial<JsStreamConfig>), outcome === 'changed' ? undefined : log)
  if (closed === 'kept') log?.warn({ bucket: names.loadsBucket }, `the NATS bucket ${names.loadsBucket} still accepts rollup headers (one message can then purge it), and this service's NATS identity may not change that: ${PROVISIONER_HINT}`)
  return closed === 'kept' && outcome === 'in place' ? 'kept' : 'changed'
}

/**
 * Compares an existing object's config with what sisporta asks for, by {@link OWNERS}: returns
 * the changes sisporta makes (undefined: none), warns about an operator's differences, and
 * throws `SIS_BUS_INCOMPATIBLE` for one NATS cannot change.
 */
function reconcile (what: string, current: object, wanted: object, log: BusLogger | undefined): Record<string, unknown> | undefined {
  const have = current as Record<string, unknown>
  const changes: Record<string, unknown> = {}
  for (const [setting, value] of Object.entries(wanted)) {
    const existing = have[setting]
    if (isDeepStrictEqual(existing, value)) continue
    const owner = OWNERS[setting]
    if (owner === 'fixed') {
      throw new BusError('SIS_BUS_INCOMPATIBLE', `NATS ${what} has ${setting} ${JSON.stringify(existing)}, but sisporta needs ${JSON.stringify(value)} and NATS cannot change it on an existing object: remove it (nats ${what.startsWith('consumer') ? 'consumer rm' : 'stream rm'} …, after its messages are applied) and start a service again to provision it`, { exitCode: 2 })
    }
    if (owner === 'operator') {
      const variable = SETTING_VARIABLE[setting]
      log?.warn({ object: what, setting, existing, wanted: value },
        `NATS ${what} has ${setting} ${show(setting, existing)}, not ${show(setting, value)} as sisporta would create it${variable !== undefined ? ` (${variable})` : ''}: left as it is (an operator's choice); change it with the nats CLI if that is wanted`)
      continue
    }
    if (setting === 'subjects' && Array.isArray(existing) && Array.isArray(value)) {
      // sisporta's subjects must be taken; subjects an operator added stay
      const missing = value.filter((s) => !existing.includes(s))
      if (missing.length === 0) continue
      changes[setting] = [...existing, ...missing]
    } else {
      changes[setting] = value
    }
  }
  return Object.keys(changes).length === 0 ? undefined : changes
}

/** Runs {@link reconcile}'s changes (when this identity may) and warns about each one made. */
async function change (what: string, current: object, changes: Record<string, unknown>, update: (changes: Record<string, unknown>) => Promise<unknown>, log: BusLogger | undefined): Promise<Outcome> {
  const outcome = await orKept(async () => { await update(changes) })
  if (outcome !== 'changed') return outcome
  for (const [setting, value] of Object.entries(changes)) {
    const existing = (current as Record<string, unknown>)[setting]
    log?.warn({ object: what, setting, existing, wanted: value }, `NATS ${what} had ${setting} ${show(setting, existing)}; sisporta needs ${show(setting, value)} and set it back`)
  }
  return outcome
}

/** A setting's value for a message: durations in seconds, no-limit as such. */
function show (setting: string, value: unknown): string {
  if (typeof value === 'number' && (setting === 'max_age' || setting === 'duplicate_window' || setting === 'ack_wait')) return value === 0 ? 'none' : `${value / 1e9} s`
  if (typeof value === 'number' && value < 0) return 'none (-1)'
  return JSON.stringify(value) ?? String(value)
}

/** A server that cannot hold that many replicas (one server, or fewer nodes than replicas) says so in terms of the setting. */
function replicasError (err: unknown, replicas: number | undefined): unknown {
  if (replicas === undefined || replicas <= 1 || !/replicas|insufficient resources|no suitable peers/i.test((err as Error).message ?? '')) return err
  return new BusError('SIS_BUS_REPLICAS', `NATS cannot place ${replicas} replicas (SISPORTA_JETSTREAM_REPLICAS=${replicas}): ${(err as Error).message}. A single server holds 1; a cluster needs at least as many JetStream nodes as replicas`, { exitCode: 2, cause: err })
}

/** Runs a change this identity may not be allowed to make: 'kept' when it was refused. */
async function orKept (run: () => Promise<void>): Promise<Outcome> {
  try {
    await run()
    return 'changed'
  } catch (err) {
    if (isPermissionDenied(err)) return 'kept'
    throw err
  }
}

/** Runs a read this service cannot do without: refused means the identity does not fit the namespace. */
async function guard<T> (read: () => Promise<T>, what: string, names: BusNames): Promise<T> {
  try {
    return await read()
  } catch (err) {
    if (!isPermissionDenied(err)) throw err
    throw new BusError('SIS_BUS_PERMISSION', `this service's NATS identity may not ${what}: its permissions must be those of deploy/nats/sisporta-permissions.conf written for SISPORTA_NAMESPACE '${names.namespace}'`, { exitCode: 2 })
  }
}

function isNotFound (err: unknown, what: 'stream' | 'consumer'): boolean {
  return new RegExp(`${what} not found`, 'i').test((err as Error).message ?? '')
}

/** Removes everything {@link provisionBus} created (tests and `sisporta demo` clean-up). */
export async function deprovisionBus (nc: NatsConnection, names: BusNames): Promise<void> {
  const jsm = await nc.jetstreamManager()
  for (const stream of [names.batchStream, names.dlqStream, `KV_${names.loadsBucket}`]) {
    try {
      await jsm.streams.delete(stream)
    } catch (err) {
      if (!/stream not found/i.test((err as Error).message)) throw err
    }
  }
}
