import t from 'tap'
import { connect, nanos } from 'nats'
import { busNames } from '@sisporta/contracts'
import { deprovisionBus, provisionBus, DEFAULT_DLQ_MAX_AGE_SEC } from '@sisporta/nats'
import { randomId, TEST_NATS_URL } from '@sisporta/testkit'

t.test('provision – the dead-letter stream is created with a max age, and an operator\'s other max age is kept with a warning', async (t) => {
  const nc = await connect({ servers: TEST_NATS_URL })
  const names = busNames(`t_${randomId()}`)
  t.teardown(async () => {
    await deprovisionBus(nc, names).catch(() => {})
    await nc.close()
  })
  await provisionBus(nc, names, { maxDeliver: 5 })
  const jsm = await nc.jetstreamManager()
  t.equal((await jsm.streams.info(names.dlqStream)).config.max_age, nanos(DEFAULT_DLQ_MAX_AGE_SEC * 1000), 'default: 30 days')
  t.equal((await jsm.streams.info(names.batchStream)).config.max_age, 0, 'the batch stream has no max age (a work queue)')

  // an operator keeps dead letters for a year
  const info = await jsm.streams.info(names.dlqStream)
  await jsm.streams.update(names.dlqStream, { ...info.config, max_age: nanos(365 * 86400 * 1000) })
  const warnings: Array<Record<string, unknown>> = []
  const log = { info: () => {}, warn: (obj: object, msg?: string) => { warnings.push({ ...obj, msg }) } }
  await provisionBus(nc, names, { maxDeliver: 5, dlqMaxAgeSec: 7 * 86400, log })
  t.equal((await jsm.streams.info(names.dlqStream)).config.max_age, nanos(365 * 86400 * 1000), 'not rewritten')
  const warning = warnings.find((l) => l.object === `stream ${names.dlqStream}` && l.setting === 'max_age')
  t.match(warning, { existing: nanos(365 * 86400 * 1000), wanted: nanos(7 * 86400 * 1000), msg: /max_age 31536000 s, not 604800 s .*SISPORTA_DLQ_MAX_AGE.*left as it is/ })

  await deprovisionBus(nc, names)
  await provisionBus(nc, names, { maxDeliver: 5, dlqMaxAgeSec: 0 })
  t.equal((await jsm.streams.info(names.dlqStream)).config.max_age, 0, '0: kept forever')
})
