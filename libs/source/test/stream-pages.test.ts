/**
 * streamPages stops a key that does not advance, driven by a scripted page reader (a source
 * whose key comparison is broken is exactly what no real server gives on purpose). The reader
 * refuses to be asked more than a few times, so a missing guard fails the test instead of
 * looping until the test runner's timeout.
 */
import t from 'tap'
import type { WireValue } from '@sisporta/contracts'
import { checkKeyAdvances, compareKeys, streamPages, type KeyValues, type SourceDialect, type WireRow } from '../src/index.js'
import { stream } from './fixtures.js'

const items = stream({
  source: { query: 'SELECT id, note FROM items' },
  key: ['id'],
  columns: [{ name: 'id', from: 'id', type: 'int' }, { name: 'note', from: 'note', type: 'string' }]
})

/** The most pages a test reader hands out before it calls the stream a loop. */
const MAX_READS = 8

/** A SourceDialect whose pages come from `pageAfter`; records every `after` it was asked with. */
function scriptedSource (pageAfter: (after: KeyValues | undefined, read: number) => WireRow[]): { dialect: SourceDialect, asked: Array<KeyValues | undefined> } {
  const asked: Array<KeyValues | undefined> = []
  const dialect: SourceDialect = {
    engine: 'scripted',
    describe: async () => { throw new Error('not used') },
    estimateRows: async () => undefined,
    close: async () => {},
    readPage: async (_stream, after) => {
      asked.push(after)
      if (asked.length > MAX_READS) throw new Error(`asked for ${asked.length} pages: the stream loops`)
      return pageAfter(after, asked.length)
    }
  }
  return { dialect, asked }
}

async function drain (dialect: SourceDialect, pageSize: number, options: Parameters<typeof streamPages>[3] = {}, s = items): Promise<WireRow[][]> {
  const pages: WireRow[][] = []
  for await (const page of streamPages(dialect, s, pageSize, options)) pages.push(page)
  return pages
}

for (const readAhead of [true, false]) {
  t.test(`stream pages – a page ending at the same key as the one before stops with SIS_SRC_KEY (readAhead ${String(readAhead)})`, async (t) => {
    // a query whose key is not unique or not ordered: the page after id 2 ends at id 2 again
    const { dialect, asked } = scriptedSource(() => [[1, 'a'], [2, 'b']])
    await t.rejects(drain(dialect, 2, { readAhead }), {
      code: 'SIS_SRC_KEY',
      exitCode: 1,
      message: /^stream 'items': the page read after key \{id: 2\} ends at key \{id: 2\}, which is the same key: .*target\.key \(id\).*forever/
    })
    t.ok(asked.length <= 3, `stopped after ${asked.length} reads`)
  })
}

t.test('stream pages – a page ending before the previous page\'s last key stops too', async (t) => {
  const { dialect } = scriptedSource((after) => after === undefined ? [[5, 'e'], [9, 'i']] : [[10, 'j'], [7, 'g']])
  await t.rejects(drain(dialect, 2), { code: 'SIS_SRC_KEY', message: /after key \{id: 9\} ends at key \{id: 7\}, which is before it/ })
})

t.test('stream pages – the first page must end after a resumed checkpoint', async (t) => {
  const { dialect } = scriptedSource(() => [[3, 'c'], [4, 'd']])
  await t.rejects(drain(dialect, 2, { after: [4] }), { code: 'SIS_SRC_KEY', message: /after key \{id: 4\} ends at key \{id: 4\}/ })
})

t.test('stream pages – keys that advance are read to the end, each page once', async (t) => {
  const { dialect, asked } = scriptedSource((after) => {
    const from = after === undefined ? 0 : Number(after[0])
    return Array.from({ length: Math.max(0, Math.min(2, 5 - from)) }, (_, i) => [from + i + 1, `n${from + i + 1}`])
  })
  const pages = await drain(dialect, 2)
  t.same(pages.map((p) => p.map((r) => r[0])), [[1, 2], [3, 4], [5]])
  t.same(asked, [undefined, [2], [4]], 'each page asked for once, after the previous last key')
})

t.test('stream pages – string keys are only refused when equal: their order is the source\'s collation', async (t) => {
  const codes = stream({ source: { table: 'codes' }, key: ['code'], columns: [{ name: 'code', from: 'code', type: 'string' }] })
  // pages ending at 'b' then 'D': ascending under a case-insensitive collation, backwards in JavaScript's order
  const pages = [[['A'], ['b']], [['C'], ['D']], [['e']]]
  const { dialect } = scriptedSource((_after, read) => pages[read - 1] ?? [])
  t.same((await drain(dialect, 2, {}, codes)).length, 3, 'read to the end')
  const stuck = scriptedSource(() => [['A'], ['B']])
  await t.rejects(drain(stuck.dialect, 2, {}, codes), { code: 'SIS_SRC_KEY', message: /after key \{code: 'B'\} ends at key \{code: 'B'\}/ })
})

t.test('compare keys – numbers and times by value, exactly; strings and uuids only for equality', async (t) => {
  const typed = stream({
    source: { table: 't' },
    key: ['n', 'big', 'amount', 'day', 'at', 'flag', 'code', 'id'],
    columns: [
      { name: 'n', from: 'n', type: 'int' },
      { name: 'big', from: 'big', type: 'bigint' },
      { name: 'amount', from: 'amount', type: 'decimal', precision: 38, scale: 10 },
      { name: 'day', from: 'day', type: 'date' },
      { name: 'at', from: 'at', type: 'datetime' },
      { name: 'flag', from: 'flag', type: 'bool' },
      { name: 'code', from: 'code', type: 'string' },
      { name: 'id', from: 'id', type: 'uuid' }
    ]
  })
  const base: WireValue[] = [7, '9007199254740993', '-0.5', '2024-02-29', '2024-02-29T10:00:00', false, 'b', '00000000-0000-0000-0000-00000000000b']
  const at = (k: number, v: WireValue): WireValue[] => base.map((x, i) => i === k ? v : x)
  t.equal(compareKeys(typed, base, base), 0, 'equal keys')
  const cases: Array<[number, WireValue, number | undefined, string]> = [
    [0, 10, 1, 'int 10 after 7 (not as text)'],
    [0, -8, -1, 'int -8 before 7'],
    [1, '9007199254740992', -1, 'bigints beyond 2^53 compared exactly'],
    [1, '10000000000000000000', 1, 'a longer bigint is larger'],
    [2, '-0.25', 1, '-0.25 after -0.5'],
    [2, '-0.50', 0, '-0.50 equals -0.5'],
    [2, '-1', -1, '-1 before -0.5'],
    [2, '12345678901234567890123456.0000000001', 1, 'a 36-digit decimal, exactly'],
    [3, '2024-03-01', 1, 'a later date'],
    [4, '2024-02-29T10:00:00.000001', 1, 'a microsecond later'],
    [4, '2024-02-29T09:59:59.999999', -1, 'a microsecond earlier'],
    [5, true, 1, 'true after false'],
    [6, 'A', undefined, 'strings: only the collation knows'],
    [7, '00000000-0000-0000-0000-00000000000a', undefined, 'uuids: only the source knows (SQL Server sorts them by their last bytes)']
  ]
  // each case: how the changed key compares with the base key
  for (const [k, v, expected, what] of cases) {
    const order = compareKeys(typed, at(k, v), base)
    t.equal(order === undefined ? undefined : Math.sign(order), expected, what)
  }
  t.equal(compareKeys(typed, at(0, 1), at(6, 'A')), -1, 'the first differing column decides, even when a later one is a string')
  t.throws(() => { checkKeyAdvances(typed, base, base) }, { code: 'SIS_SRC_KEY' })
  t.doesNotThrow(() => { checkKeyAdvances(typed, base, at(6, 'A')) }, 'a string key that differs may be ascending under the collation')
})
