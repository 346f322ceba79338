import t from 'tap'
import { quoteName, trimQuery, wrapQuery } from '../src/sql-text.js'

t.test('sql text – a query stream is wrapped as a derived table, without its trailing semicolons', async (t) => {
  t.equal(wrapQuery('SELECT 1'), '(\nSELECT 1\n) AS q')
  t.equal(wrapQuery('SELECT 1 AS a;'), '(\nSELECT 1 AS a\n) AS q')
  t.equal(trimQuery('  SELECT 1 -- one\n ;; \n'), 'SELECT 1 -- one')
})

t.test('sql text – names are quoted with the closing character doubled; empty, NUL and too long are refused', async (t) => {
  t.equal(quoteName('a`b', '`', '`'), '`a``b`')
  t.equal(quoteName('Preço [unit]', '[', ']', { maxLength: 128 }), '[Preço [unit]]]')
  t.equal(quoteName('x'.repeat(128), '[', ']', { maxLength: 128 }), `[${'x'.repeat(128)}]`)
  t.throws(() => quoteName('', '"', '"'), { code: 'SIS_SRC_ARGUMENT', message: 'invalid identifier ""' })
  t.throws(() => quoteName('a\u0000b', '"', '"'), { code: 'SIS_SRC_ARGUMENT' })
  t.throws(() => quoteName('x'.repeat(129), '[', ']', { maxLength: 128, engine: 'SQL Server' }), { code: 'SIS_SRC_ARGUMENT', message: /^invalid SQL Server identifier "x+"$/ })
})
