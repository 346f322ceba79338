import t from 'tap'
import { parseConfig } from '@sisporta/config'

/** A one-stream config whose `schedule` is `schedule` (a YAML flow mapping). */
function withSchedule (schedule: string): string {
  return `
streams:
  - name: products
    schedule: ${schedule}
    source: { table: dbo.Produtos }
    target: { table: products, key: [sku] }
    columns:
      - { name: sku, from: ProdCode, type: string }
`
}

function bad (schedule: string): unknown {
  try {
    parseConfig(withSchedule(schedule), 'sisporta.yaml', {})
  } catch (err) {
    return err
  }
  return undefined
}

t.test('schedule config – cron expressions, intervals, time zones and jitter are accepted', async (t) => {
  for (const schedule of [
    '{ full: "0 2 * * *" }',
    '{ full: "0 2 * * *", timezone: Europe/Lisbon, jitter: 10m }',
    '{ full: "*/15 6-20 * * MON-FRI", timezone: America/Sao_Paulo }',
    '{ full: "30 0 2 * * *" }',
    '{ full: "@daily", jitter: 1h }',
    '{ full: 6h }',
    '{ full: 30s, jitter: 10s }',
    '{ full: 1d }'
  ]) {
    t.doesNotThrow(() => parseConfig(withSchedule(schedule), 'sisporta.yaml', {}), schedule)
  }
  const products = parseConfig(withSchedule('{ full: "0 2 * * *", timezone: Europe/Lisbon, jitter: 10m }'), 'sisporta.yaml', {}).stream('products')!
  t.same(products.schedule, { full: '0 2 * * *', timezone: 'Europe/Lisbon', jitter: '10m' })
})

t.test('schedule config – an invalid cron expression names the stream and the key', async (t) => {
  t.match(bad('{ full: "61 2 * * *" }'), { code: 'SIS_CFG_SCHEDULE', exitCode: 2, message: /^sisporta\.yaml: stream 'products', key 'schedule\.full': '61 2 \* \* \*' is neither an interval \(30s, 15m, 6h, 1d\) nor a cron expression \(minute hour day-of-month month day-of-week, or six fields with seconds first\): Invalid value for minute: 61/ })
  t.match(bad('{ full: "0 2 * *" }'), { code: 'SIS_CFG_SCHEDULE', message: /key 'schedule\.full'.*exactly five, six, or seven/ })
  t.match(bad('{ full: 6 hours }'), { code: 'SIS_CFG_SCHEDULE', message: /key 'schedule\.full': '6 hours' is neither an interval/ })
  t.match(bad('{ full: 0h }'), { code: 'SIS_CFG_SCHEDULE', message: /key 'schedule\.full'/ }, 'a zero interval is no interval')
  t.match(bad('{ full: "0 0 2 * * * 2030" }'), { code: 'SIS_CFG_SCHEDULE', message: /key 'schedule\.full'/ }, 'no year field')
  t.match(bad('{ full: "0 0 30 2 *" }'), { code: 'SIS_CFG_SCHEDULE', message: /key 'schedule\.full'/ }, 'the 30th of February')
})

t.test('schedule config – an unknown time zone names the key', async (t) => {
  t.match(bad('{ full: "0 2 * * *", timezone: Mars/Olympus }'), { code: 'SIS_CFG_SCHEDULE', exitCode: 2, message: /^sisporta\.yaml: stream 'products', key 'schedule\.timezone': 'Mars\/Olympus' is not a time zone/ })
  t.match(bad('{ full: 6h, timezone: UTC }'), { code: 'SIS_CFG_SCHEDULE', message: /key 'schedule\.timezone': only a cron expression has a time zone/ })
  t.match(bad('{ timezone: UTC }'), { code: 'SIS_CFG_SCHEDULE', message: /key 'schedule\.timezone': there is no 'schedule\.full'/ })
})

t.test('schedule config – jitter is a duration shorter than the time between two runs', async (t) => {
  t.match(bad('{ full: "0 2 * * *", jitter: soon }'), { code: 'SIS_CFG_INVALID', exitCode: 2, message: /stream 'products', key 'schedule\.jitter': expected an interval such as 30s, 15m, 6h, 1d \(got "soon"\)/ })
  t.match(bad('{ full: "*/5 * * * *", jitter: 5m }'), { code: 'SIS_CFG_SCHEDULE', message: /key 'schedule\.jitter': 5m is not shorter than the 5m between two runs of '\*\/5 \* \* \* \*'/ })
  t.match(bad('{ full: "0 2,3 * * *", jitter: 2h }'), { code: 'SIS_CFG_SCHEDULE', message: /key 'schedule\.jitter': 2h is not shorter than the 1h between two runs/ }, 'the shortest gap counts')
  t.match(bad('{ full: 1h, jitter: 1h }'), { code: 'SIS_CFG_SCHEDULE', message: /key 'schedule\.jitter'/ })
  t.match(bad('{ jitter: 1m }'), { code: 'SIS_CFG_SCHEDULE', message: /key 'schedule\.jitter': there is no 'schedule\.full'/ })
})

t.test('schedule config – schedule.incremental is refused until incremental loads exist', async (t) => {
  t.match(bad('{ full: 1d, incremental: 5m }'), { code: 'SIS_CFG_SCHEDULE', exitCode: 2, message: /^sisporta\.yaml: stream 'products', key 'schedule\.incremental': incremental loads do not exist yet/ })
  t.match(bad('{ incremental: "*/5 * * * *" }'), { code: 'SIS_CFG_SCHEDULE', message: /key 'schedule\.incremental'/ })
})
