import t from 'tap'
import { wireToSql } from '../src/index.js'

t.test('wire to sql – converts each wire type to the parameter MySQL stores exactly', async (t) => {
  t.equal(wireToSql('string', 'Ação 🚀'), 'Ação 🚀')
  t.equal(wireToSql('int', -2147483648), -2147483648)
  t.equal(wireToSql('bigint', '9223372036854775807'), '9223372036854775807', 'bigint stays a string (no float rounding)')
  t.equal(wireToSql('decimal', '-1234567890123456789012345678.1234567890'), '-1234567890123456789012345678.1234567890')
  t.equal(wireToSql('float', 0.1), 0.1)
  t.equal(wireToSql('bool', true), 1)
  t.equal(wireToSql('bool', false), 0)
  t.equal(wireToSql('date', '2024-02-29'), '2024-02-29')
  t.equal(wireToSql('datetime', '2024-02-29T23:59:59.123456'), '2024-02-29 23:59:59.123456')
  t.equal(wireToSql('datetime', '1999-12-31T00:00:00'), '1999-12-31 00:00:00')
  t.equal(wireToSql('uuid', '123e4567-e89b-12d3-a456-426614174000'), '123e4567-e89b-12d3-a456-426614174000')
  t.same(wireToSql('binary', 'AAH/'), Buffer.from([0, 1, 255]))
  t.equal(wireToSql('json', { a: [1, 'x', null], b: { c: true } }), '{"a":[1,"x",null],"b":{"c":true}}')
  t.equal(wireToSql('json', 'text'), '"text"', 'a JSON string is stored as JSON text')
})

t.test('wire to sql – null is NULL for every type', async (t) => {
  for (const type of ['string', 'int', 'bigint', 'decimal', 'float', 'bool', 'date', 'datetime', 'uuid', 'binary', 'json'] as const) {
    t.equal(wireToSql(type, null), null, type)
  }
})

t.test('wire to sql – refuses a value of the wrong JavaScript type', async (t) => {
  t.throws(() => wireToSql('string', { toString: 'x' }), { code: 'SIS_PERSIST_BAD_VALUE' }, 'an object would be rendered as SQL by the driver')
  t.throws(() => wireToSql('decimal', 12.5), { code: 'SIS_PERSIST_BAD_VALUE' })
  t.throws(() => wireToSql('int', '12'), { code: 'SIS_PERSIST_BAD_VALUE' })
  t.throws(() => wireToSql('float', Number.NaN), { code: 'SIS_PERSIST_BAD_VALUE' })
  t.throws(() => wireToSql('bool', 1), { code: 'SIS_PERSIST_BAD_VALUE' })
})
