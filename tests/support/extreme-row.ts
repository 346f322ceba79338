import type { Test } from 'tap'
import type { Connection } from 'mysql2/promise'

/** A row at the edges of every wire type, inserted next to the generated ones. */
export const EXTREME_PRODUCT: (string | number | Buffer)[] = [
  'P999999', 'Ünïcødé 🧑🏽‍🚀 e\u0301 𝄞 – "quotes" \'apostrophes\' \\backslash', 'x'.repeat(70_000) + ' fim 🚀', 'extremos',
  '999999999999999.9999', '-9999999999999999999999999999.9999999999', '9223372036854775807', -2147483648, 1.7976931348623157e308, 0,
  '1000-01-01', '9999-12-31 23:59:59.999999', 'ffffffff-ffff-4fff-afff-ffffffffffff',
  Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37) % 256)), JSON.stringify({ 'ключ': ['значение', 1.5, null, true], nested: { emoji: '🚀' } })
]

/** Asserts the extreme row arrived in the target's `products` table exactly. */
export async function checkExtremeProduct (t: Test, target: Connection): Promise<void> {
  const [rows] = await target.query('SELECT name, description, price, avg_cost, stock, units, weight, active, launched_on, updated_at, guid, HEX(thumbnail) AS thumb, attributes FROM products WHERE sku = ?', ['P999999']) as unknown as [Record<string, unknown>[]]
  const row = rows[0]!
  t.equal(row.name, EXTREME_PRODUCT[1])
  t.equal(row.description, EXTREME_PRODUCT[2])
  t.equal(row.price, '999999999999999.9999')
  t.equal(row.avg_cost, '-9999999999999999999999999999.9999999999')
  t.equal(row.stock, '9223372036854775807')
  t.equal(row.units, -2147483648)
  t.equal(row.weight, 1.7976931348623157e308)
  t.equal(row.active, 0)
  t.equal(row.launched_on, '1000-01-01')
  t.equal(row.updated_at, '9999-12-31 23:59:59.999999')
  t.equal(row.guid, 'ffffffff-ffff-4fff-afff-ffffffffffff')
  t.equal(row.thumb, (EXTREME_PRODUCT[13] as Buffer).toString('hex').toUpperCase())
  t.same(typeof row.attributes === 'string' ? JSON.parse(row.attributes) : row.attributes, JSON.parse(EXTREME_PRODUCT[14] as string))
}
