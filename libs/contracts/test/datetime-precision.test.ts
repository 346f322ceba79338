import t from 'tap'
import { checkWireValue, createBatchChecker, mysqlIdentifierProblem, type StreamConfig } from '@sisporta/contracts'

t.test('wire types – a datetime keeps the fractional digits its column declares, trailing zeros aside', async (t) => {
  const p0 = { type: 'datetime' as const, precision: 0 }
  t.equal(checkWireValue(p0, '2024-02-29T23:59:59'), undefined, 'no fraction')
  t.equal(checkWireValue(p0, '2024-02-29T23:59:59.000000'), undefined, 'zeros only: the same instant')
  t.match(checkWireValue(p0, '2024-02-29T23:59:59.5'), /'2024-02-29T23:59:59\.5' has fractional seconds beyond the column's 0 digits \(datetime precision 0\)/)
  t.match(checkWireValue(p0, '2024-02-29T23:59:59.000001'), /beyond the column's 0 digits/, 'the last microsecond counts')
  const p3 = { type: 'datetime' as const, precision: 3 }
  t.equal(checkWireValue(p3, '2024-02-29T23:59:59.123'), undefined)
  t.equal(checkWireValue(p3, '2024-02-29T23:59:59.123000'), undefined)
  t.equal(checkWireValue(p3, '2024-02-29T23:59:59.1'), undefined, 'fewer digits are fine')
  t.match(checkWireValue(p3, '2024-02-29T23:59:59.1234'), /beyond the column's 3 digits \(datetime precision 3\)/)
  t.match(checkWireValue({ type: 'datetime', precision: 1 }, '2024-02-29T23:59:59.15'), /beyond the column's 1 digit \(/)
  t.equal(checkWireValue({ type: 'datetime', precision: 6 }, '2024-02-29T23:59:59.999999'), undefined)
  t.equal(checkWireValue({ type: 'datetime' }, '2024-02-29T23:59:59.999999'), undefined, 'no precision: any of the wire\'s six digits')
  t.match(checkWireValue(p0, '2024-02-30T00:00:00'), /is not a datetime/, 'the format is checked first')
})

t.test('batch check – a datetime beyond its declared precision names row and column, the default keeps six digits', async (t) => {
  const invoices: StreamConfig = {
    name: 'invoices',
    source: { table: 'Invoice' },
    target: { table: 'Invoice', key: ['InvoiceId'] },
    columns: [
      { name: 'InvoiceId', from: 'InvoiceId', type: 'int' },
      { name: 'InvoiceDate', from: 'InvoiceDate', type: 'datetime', precision: 0 },
      { name: 'Paid At', from: 'PaidAt', type: 'datetime' }
    ],
    deletes: 'hard',
    maxDeleteRatio: 0.2
  }
  for (const form of ['text', 'utf8-bytes'] as const) {
    const check = createBatchChecker(invoices, form)
    t.equal(check({ columns: ['InvoiceId', 'InvoiceDate', 'Paid At'], rows: [[1, '2024-01-01T10:00:00', '2024-01-01T10:00:00.123456'], [2, '2024-01-01T10:00:00.000', null]] }), undefined, `${form}: whole seconds and microseconds`)
    t.same(check({ columns: ['InvoiceId', 'InvoiceDate'], rows: [[1, '2024-01-01T10:00:00'], [2, '2024-01-01T10:00:00.25']] }), {
      row: 1, column: 'InvoiceDate', message: "row 1, column 'InvoiceDate' (datetime): '2024-01-01T10:00:00.25' has fractional seconds beyond the column's 0 digits (datetime precision 0); it would be rounded or cut"
    }, `${form}: row and column named`)
  }
})

t.test('names – a target identifier is 1 to 64 BMP characters, no control character, no trailing space', async (t) => {
  for (const ok of ['Album', 'InvoiceLine', '2024', 'a$b', 'Preço Unitário', 'we`ird', ' x', 'x'.repeat(64), '名前']) t.equal(mysqlIdentifierProblem(ok), undefined, ok)
  t.equal(mysqlIdentifierProblem(''), 'is empty')
  t.match(mysqlIdentifierProblem('x'.repeat(65)), /longer than 64/)
  t.match(mysqlIdentifierProblem('a😀'), /above U\+FFFF/)
  t.match(mysqlIdentifierProblem('a\u0000'), /control character/)
  t.match(mysqlIdentifierProblem('a\u0085b'), /control character/)
  t.match(mysqlIdentifierProblem('Name '), /ends with a space/)
})
