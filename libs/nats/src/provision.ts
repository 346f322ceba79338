import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, nanos, type JetStreamManager, type NatsConnection, type StreamConfig as JsStreamConfig } from 'nats'
import type { BusNames } from '@sisporta/contracts'

export interface ProvisionOptions {
  /** Deliveries of a batch before the persister dead-letters it (sets the consumer's max_deliver, with one to spare). */
  maxDeliver: number
  /** How long JetStream remembers a batch id for de-duplication (ms). */
  duplicateWindowMs?: number
  /** How long the persister has to apply one batch before it is redelivered (ms). */
  ackWaitMs?: number
  /** Replicas of each JetStream stream (1 on a single server, 3 in a cluster). */
  replicas?: number
}

/**
 * Creates or updates the JetStream streams, the persister's durable consumer and the load
 * registry's KV bucket. Idempotent: every service calls it at start-up, so whichever starts
 * first provisions and the others find everything in place.
 *
 * @example
 * await provisionBus(nc, busNames('sisporta'), { maxDeliver: 5 })
 */
export async function provisionBus (nc: NatsConnection, names: BusNames, options: ProvisionOptions): Promise<void> {
  const jsm = await nc.jetstreamManager()
  const replicas = options.replicas ?? 1
  await ensureStream(jsm, {
    name: names.batchStream,
    subjects: [names.batchSubjects],
    // Work queue: a batch is removed once a persister acked it; the bus is not the archive.
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.New,
    duplicate_window: nanos(options.duplicateWindowMs ?? 60 * 60_000),
    num_replicas: replicas,
    max_msg_size: 64 * 1024 * 1024
  })
  await ensureStream(jsm, {
    name: names.dlqStream,
    subjects: [names.dlqSubjects],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: replicas,
    max_msg_size: 64 * 1024 * 1024
  })
  const consumer = {
    durable_name: names.persisterConsumer,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(options.ackWaitMs ?? 60_000),
    // One delivery more than the persister's own limit, so the persister (not the server) decides to dead-letter.
    max_deliver: options.maxDeliver + 1,
    max_ack_pending: 1000,
    filter_subject: names.batchSubjects
  }
  try {
    await jsm.consumers.add(names.batchStream, consumer)
  } catch (err) {
    if (!/consumer already exists|consumer name already in use/i.test((err as Error).message)) throw err
    await jsm.consumers.update(names.batchStream, names.persisterConsumer, consumer)
  }
  const js = nc.jetstream()
  await js.views.kv(names.loadsBucket, { history: 1, replicas })
}

async function ensureStream (jsm: JetStreamManager, config: Partial<JsStreamConfig> & { name: string }): Promise<void> {
  try {
    await jsm.streams.info(config.name)
    await jsm.streams.update(config.name, config)
  } catch (err) {
    if (!/stream not found/i.test((err as Error).message)) throw err
    try {
      await jsm.streams.add(config)
    } catch (addErr) {
      // Another service provisioned it between our two calls.
      if (!/already in use|already exists/i.test((addErr as Error).message)) throw addErr
    }
  }
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
