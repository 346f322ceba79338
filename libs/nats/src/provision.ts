import { setTimeout as sleep } from 'node:timers/promises'
import { isDeepStrictEqual } from 'node:util'
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, nanos, type ConsumerConfig, type JetStreamManager, type NatsConnection, type StreamConfig as JsStreamConfig } from 'nats'
import type { BusNames } from '@sisporta/contracts'
import type { BusLogger } from './connect-bus.js'
import { BusError, isPermissionDenied } from './errors.js'

export interface ProvisionOptions {
  /** Deliveries of a batch before the persister dead-letters it (sets the consumer's max_deliver, with one to spare). */
  maxDeliver: number
  /** How long JetStream remembers a batch id for de-duplication (ms). */
  duplicateWindowMs?: number
  /** How long the persister has to apply one batch before it is redelivered (ms). */
  ackWaitMs?: number
  /** Replicas of each JetStream stream (1 on a single server, 3 in a cluster). */
  replicas?: number
  /**
   * Longest a dead letter is kept (seconds, default 30 days; 0 forever): the dead-letter
   * stream's `max_age` when provisioning creates it. An existing stream's `max_age` is never
   * changed (an operator may have set it); a different one is logged as a warning.
   */
  dlqMaxAgeSec?: number
  /** Told what this identity may not change (info) and what it waits for (warn). */
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

const PROVISIONER_HINT = 'start the reconciler first (its NATS identity provisions the bus, deploy/nats/sisporta-permissions.conf), or run one service once with the admin identity'

/**
 * Creates or updates the JetStream streams, the persister's durable consumer and the load
 * registry's KV bucket. Idempotent: every service calls it at start-up, so whichever may
 * provision does, and the others find everything in place.
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
 * await provisionBus(nc, busNames('sisporta'), { maxDeliver: 5, log })
 */
export async function provisionBus (nc: NatsConnection, names: BusNames, options: ProvisionOptions): Promise<void> {
  const jsm = await guard(async () => await nc.jetstreamManager(), 'use JetStream ($JS.API.INFO)', names)
  const replicas = options.replicas ?? 1
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
    const outcomes = new Map<string, Outcome>()
    for (const stream of streams) outcomes.set(`stream ${stream.name}`, await ensureStream(jsm, stream, names, round === 1 ? options.log : undefined))
    outcomes.set(`consumer ${names.persisterConsumer}`, outcomes.get(`stream ${names.batchStream}`) === 'missing'
      ? 'missing'
      : await ensureConsumer(jsm, names.batchStream, consumer, names))
    outcomes.set(`bucket ${names.loadsBucket}`, await ensureBucket(nc, jsm, names, replicas, options.log))
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
  let config = wanted
  try {
    current = (await guard(async () => await jsm.streams.info(config.name), `read NATS stream ${config.name}`, names)).config
  } catch (err) {
    if (!isNotFound(err, 'stream')) throw err
  }
  if (current !== undefined) {
    if (wanted.max_age !== undefined && current.max_age !== wanted.max_age) {
      // a retention an operator chose is theirs: say so, never rewrite it
      log?.warn({ stream: config.name, maxAgeSec: current.max_age / 1e9, wantedMaxAgeSec: wanted.max_age / 1e9 },
        `NATS stream ${config.name} keeps messages ${current.max_age === 0 ? 'forever' : `for ${current.max_age / 1e9} s`}, not ${wanted.max_age === 0 ? 'forever' : `for ${wanted.max_age / 1e9} s`} as sisporta would create it (SISPORTA_DLQ_MAX_AGE): left as it is; change it with \`nats stream edit ${config.name} --max-age …\` if that is wanted`)
      config = { ...wanted, max_age: current.max_age }
    }
    if (matches(current, config)) return 'in place'
    return await orKept(async () => { await jsm.streams.update(config.name, config) })
  }
  try {
    await jsm.streams.add(config)
    return 'changed'
  } catch (err) {
    if (isPermissionDenied(err)) return 'missing'
    // Another service provisioned it between our two calls.
    if (/already in use|already exists/i.test((err as Error).message)) return 'in place'
    throw err
  }
}

async function ensureConsumer (jsm: JetStreamManager, stream: string, config: Partial<ConsumerConfig> & { durable_name: string }, names: BusNames): Promise<Outcome> {
  let current: ConsumerConfig | undefined
  try {
    current = (await guard(async () => await jsm.consumers.info(stream, config.durable_name), `read NATS consumer ${config.durable_name}`, names)).config
  } catch (err) {
    if (!isNotFound(err, 'consumer')) throw err
  }
  if (current !== undefined) {
    if (matches(current, config)) return 'in place'
    return await orKept(async () => { await jsm.consumers.update(stream, config.durable_name, config) })
  }
  try {
    await jsm.consumers.add(stream, config)
    return 'changed'
  } catch (err) {
    if (isPermissionDenied(err)) return 'missing'
    if (!/consumer already exists|consumer name already in use/i.test((err as Error).message)) throw err
    return await orKept(async () => { await jsm.consumers.update(stream, config.durable_name, config) })
  }
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
      throw err
    }
    current = (await jsm.streams.info(stream)).config
  }
  if (current.allow_rollup_hdrs !== true) return outcome
  const closed = await orKept(async () => { await jsm.streams.update(stream, { ...current, allow_rollup_hdrs: false }) })
  if (closed === 'kept') log?.warn({ bucket: names.loadsBucket }, `the NATS bucket ${names.loadsBucket} still accepts rollup headers (one message can then purge it), and this service's NATS identity may not change that: ${PROVISIONER_HINT}`)
  return closed === 'kept' && outcome === 'in place' ? 'kept' : 'changed'
}

/** Runs a change this identity may not be allowed to make: 'kept' when it was refused. */
async function orKept (change: () => Promise<void>): Promise<Outcome> {
  try {
    await change()
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

/** True when every setting sisporta asks for already has that value (so nothing needs changing). */
function matches (current: object, wanted: object): boolean {
  const have = current as Record<string, unknown>
  return Object.entries(wanted).every(([key, value]) => isDeepStrictEqual(have[key], value))
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
