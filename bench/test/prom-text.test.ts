import t from 'tap'
import { histogramDelta, parsePromText, sumOf } from '../src/prom-text.js'
import { parseBenchArgs } from '../src/options.js'

const before = parsePromText(`# HELP x_seconds help
# TYPE x_seconds histogram
x_seconds_bucket{le="0.1",stream="a"} 10
x_seconds_bucket{le="1",stream="a"} 10
x_seconds_bucket{le="+Inf",stream="a"} 10
x_seconds_sum{stream="a"} 0.5
x_seconds_count{stream="a"} 10
`)
const after = parsePromText(`x_seconds_bucket{le="0.1",stream="a"} 60
x_seconds_bucket{le="1",stream="a"} 110
x_seconds_bucket{le="+Inf",stream="a"} 110
x_seconds_sum{stream="a"} 30.5
x_seconds_count{stream="a"} 110
rss_bytes{service="p"} 1048576
`)

t.test('histogram delta – counts only what was observed between the scrapes', async (t) => {
  const h = histogramDelta(before, after, 'x_seconds')!
  t.equal(h.count, 100)
  t.equal(h.mean, 0.3)
  t.equal(h.p50, 0.1, 'half of the 100 new observations are ≤ 0.1 s')
  t.ok(h.p99 > 0.9 && h.p99 <= 1, 'p99 interpolated inside the 0.1–1 s bucket')
  t.equal(histogramDelta(after, after, 'x_seconds'), undefined, 'nothing observed: undefined')
  t.equal(histogramDelta([], after, 'x_seconds', { stream: 'b' }), undefined, 'label filter')
})

t.test('prom text – labels and values', async (t) => {
  t.equal(sumOf(after, 'rss_bytes'), 1048576)
  t.equal(sumOf(after, 'rss_bytes', { service: 'q' }), 0)
})

t.test('bench options – defaults, quick run, bad input', async (t) => {
  const d = parseBenchArgs([], '/out')
  t.equal(d.rows, 1_000_000)
  t.same(d.replicas, [1, 2, 4])
  t.equal(d.namespace, 'bench')
  t.equal(d.dbPrefix, 'sisporta_bench')
  const q = parseBenchArgs(['--rows', '20000', '--skip-replicas'], '/out')
  t.equal(q.rows, 20000)
  t.same(q.replicas, [])
  t.equal(q.reloadRows, false, 'no reload sending every row unless asked')
  t.equal(parseBenchArgs(['--reload-rows'], '/out').reloadRows, true, '--reload-rows')
  t.throws(() => parseBenchArgs(['--rows', 'many'], '/out'), { code: 'SIS_BENCH_USAGE' })
  t.throws(() => parseBenchArgs(['--replicas', '0'], '/out'), { code: 'SIS_BENCH_USAGE' })
  t.throws(() => parseBenchArgs(['--namespace', 'Bad-NS'], '/out'), { code: 'SIS_BENCH_USAGE' })
  t.throws(() => parseBenchArgs(['--unknown'], '/out'), { code: 'SIS_BENCH_USAGE' })
})
