import t from 'tap'
import { createHash } from 'node:crypto'
import {
  ROW_HASH_BYTES, UNKNOWN_ROW_HASH, canonicalRowText, canonicalValue, isUnknownRowHash, rowHash,
  type HashColumn
} from '@sisporta/contracts'

/**
 * The canonical form is what the extractor (source rows) and the persister (target rows read
 * back) must agree on for a diffed reload to skip a row: equal values spelled differently get one
 * spelling, a value that would lose digits gets none (its row is then always sent).
 */

const cv = canonicalValue

t.test('row hash – one canonical spelling per value, whatever the driver printed', async (t) => {
  const d2: HashColumn = { type: 'decimal', precision: 9, scale: 2 }
  for (const spelling of ['1.5', '01.50', '1.50', '1.500', '001.5000000']) t.equal(cv(d2, spelling), '1.50', `decimal(9,2) ${spelling}`)
  for (const zero of ['0', '-0', '-0.00', '0.000', '00', '-000.0']) t.equal(cv(d2, zero), '0.00', `decimal(9,2) ${zero}: zero has no sign`)
  t.equal(cv(d2, '-1.5'), '-1.50', 'a negative value keeps its sign')
  t.equal(cv(d2, '-0.01'), '-0.01')
  t.equal(cv({ type: 'decimal', precision: 5, scale: 0 }, '012.000'), '12', 'scale 0: no point')
  t.equal(cv({ type: 'decimal' }, '1'), '1.0000000000', 'no scale declared: the default 10')
  t.equal(cv({ type: 'decimal', precision: 19, scale: 4 }, '-999999999999999.9999'), '-999999999999999.9999')

  const t6: HashColumn = { type: 'datetime', precision: 6 }
  for (const spelling of ['2026-01-02T03:04:05.12', '2026-01-02 03:04:05.12', '2026-01-02T03:04:05.120000', '2026-01-02 03:04:05.120', '2026-01-02T03:04:05.120000000']) {
    t.equal(cv(t6, spelling), '2026-01-02T03:04:05.120000', `datetime(6) ${spelling}`)
  }
  t.equal(cv(t6, '2026-01-02 03:04:05'), '2026-01-02T03:04:05.000000', 'no fraction: zeros to the precision')
  t.equal(cv({ type: 'datetime' }, '2026-01-02T03:04:05.5'), '2026-01-02T03:04:05.500000', 'no precision declared: 6')
  const t3: HashColumn = { type: 'datetime', precision: 3 }
  for (const spelling of ['2026-01-02T03:04:05.1', '2026-01-02 03:04:05.100', '2026-01-02T03:04:05.100000']) t.equal(cv(t3, spelling), '2026-01-02T03:04:05.100', `datetime(3) ${spelling}`)
  const t0: HashColumn = { type: 'datetime', precision: 0 }
  for (const spelling of ['2026-01-02T03:04:05', '2026-01-02 03:04:05.000000']) t.equal(cv(t0, spelling), '2026-01-02T03:04:05', `datetime(0) ${spelling}`)

  const uuid: HashColumn = { type: 'uuid' }
  t.equal(cv(uuid, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'), undefined, 'upper case: not the wire\'s spelling (a target edited to capitals is other text): no form, the row is sent')
  t.equal(cv(uuid, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'lower case')

  const binary: HashColumn = { type: 'binary' }
  t.equal(cv(binary, 'AAE='), 'AAE=')
  t.equal(cv(binary, 'AAF='), 'AAE=', 'non-zero padding bits: the same two bytes')
  t.equal(cv(binary, ''), '', 'no bytes')
  t.equal(cv(binary, '/+8A'), '/+8A')

  const bigint: HashColumn = { type: 'bigint' }
  t.equal(cv(bigint, '007'), '7')
  t.equal(cv(bigint, '-0'), '0')
  t.equal(cv(bigint, '-9223372036854775808'), '-9223372036854775808')
  t.equal(cv(bigint, '9223372036854775807'), '9223372036854775807')

  const float: HashColumn = { type: 'float' }
  t.equal(cv(float, -0), '0', '-0 is 0')
  t.equal(cv(float, 0), '0')
  t.equal(cv(float, 0.1), '0.1', 'the shortest text of the double')
  t.equal(cv(float, 1e300), '1e+300')
  t.equal(cv(float, 5e-324), '5e-324')

  t.equal(cv({ type: 'int' }, -2147483648), '-2147483648')
  t.equal(cv({ type: 'bool' }, true), 'true')
  t.equal(cv({ type: 'bool' }, false), 'false')
  t.equal(cv({ type: 'date' }, '2024-02-29'), '2024-02-29')
  t.equal(cv({ type: 'string' }, 'a  '), 'a  ', 'trailing blanks are part of a string')
  t.equal(cv({ type: 'string' }, ''), '')
  t.equal(cv({ type: 'json' }, { b: [1, 'x', null], a: true }), '{"b":[1,"x",null],"a":true}', 'an object: its JSON text, keys in their order')
  t.equal(cv({ type: 'json' }, [1, 2]), '[1,2]')
  t.equal(cv({ type: 'json' }, 'hello'), '"hello"', 'a JSON string: its JSON text, quoted')
  t.equal(cv({ type: 'json' }, 5), '5', 'a JSON number')
  t.equal(cv({ type: 'json' }, -0), '0')
  t.equal(cv({ type: 'json' }, false), 'false', 'a JSON boolean')
  t.not(cv({ type: 'json' }, '5'), cv({ type: 'json' }, 5), 'the JSON string "5" is not the number 5')
  t.not(cv({ type: 'json' }, '{"a":1}'), cv({ type: 'json' }, { a: 1 }), 'a JSON string holding an object\'s text is not the object')

  for (const type of ['string', 'int', 'bigint', 'decimal', 'float', 'bool', 'date', 'datetime', 'uuid', 'binary', 'json'] as const) {
    t.equal(cv({ type }, null), null, `${type}: SQL NULL is null`)
  }
})

t.test('row hash – a value whose digits would be cut, or that is no value of its type, has no canonical form', async (t) => {
  const d2: HashColumn = { type: 'decimal', precision: 9, scale: 2 }
  t.equal(cv(d2, '1.505'), undefined, 'a third decimal the column does not keep')
  t.equal(cv(d2, '1.5001'), undefined)
  t.equal(cv({ type: 'decimal', scale: 0 }, '1.5'), undefined)
  for (const bad of ['1.', '.5', '+1', '1e3', '1,5', ' 1', '']) t.equal(cv(d2, bad), undefined, `decimal '${bad}'`)
  t.equal(cv(d2, 1.5), undefined, 'a number, not a decimal string')

  const t6: HashColumn = { type: 'datetime', precision: 6 }
  t.equal(cv(t6, '2026-01-02T03:04:05.1234567'), undefined, 'a non-zero 7th digit at precision 6')
  t.equal(cv(t6, '2026-01-02T03:04:05.1234560'), '2026-01-02T03:04:05.123456', 'a zero 7th digit is no digit lost')
  t.equal(cv({ type: 'datetime', precision: 3 }, '2026-01-02T03:04:05.1234'), undefined)
  t.equal(cv({ type: 'datetime', precision: 0 }, '2026-01-02T03:04:05.5'), undefined)
  for (const bad of ['2026-01-02', '2026-01-02T03:04', '2026-01-02T03:04:05Z', '2026-01-02T03:04:05+01:00', '2026-01-02T03:04:05.']) t.equal(cv(t6, bad), undefined, `datetime '${bad}'`)

  t.equal(cv({ type: 'uuid' }, 'a0eebc999c0b4ef8bb6d6bb9bd380a11'), undefined, 'a uuid without dashes')
  t.equal(cv({ type: 'binary' }, 'AAE'), undefined, 'base64 without its padding')
  t.equal(cv({ type: 'binary' }, 'AA E='), undefined)
  t.equal(cv({ type: 'binary' }, 'AA-_'), undefined, 'base64url is not the wire\'s base64')
  t.equal(cv({ type: 'bigint' }, '1e3'), undefined)
  t.equal(cv({ type: 'bigint' }, '+7'), undefined)
  t.equal(cv({ type: 'bigint' }, '1'.repeat(21)), undefined)
  t.equal(cv({ type: 'int' }, 1.5), undefined)
  t.equal(cv({ type: 'int' }, 2 ** 53), undefined, 'beyond the safe integers')
  t.equal(cv({ type: 'float' }, Number.NaN), undefined)
  t.equal(cv({ type: 'float' }, Number.POSITIVE_INFINITY), undefined)
  t.equal(cv({ type: 'date' }, '2024-2-29'), undefined)
  t.equal(cv({ type: 'date' }, '2024-02-29T00:00:00'), undefined)

  // wrong JavaScript types
  const wrong: [HashColumn['type'], unknown][] = [
    ['string', 5], ['string', true], ['int', '5'], ['int', 5n], ['bigint', 7], ['bigint', 7n], ['decimal', 1.5],
    ['float', '1.5'], ['bool', 1], ['bool', 'true'], ['date', 20240229], ['datetime', new Date(0)],
    ['uuid', 5], ['binary', Buffer.from([1])], ['json', undefined], ['json', Number.NaN], ['json', 5n], ['string', undefined], ['int', {}]
  ]
  for (const [type, value] of wrong) t.equal(cv({ type }, value), undefined, `${type}: ${typeof value}`)
})

t.test('row hash – the row text is a JSON array of the canonical values; no text when one value has none or the lengths differ', async (t) => {
  const columns: HashColumn[] = [{ type: 'bigint' }, { type: 'bool' }, { type: 'decimal', scale: 2 }, { type: 'string' }]
  t.equal(canonicalRowText(columns, ['007', true, '1.5', 'x']), '["7","true","1.50","x"]')
  t.equal(canonicalRowText(columns, ['7', false, null, null]), '["7","false",null,null]', 'NULL is JSON null')
  t.equal(canonicalRowText(columns, ['7', true, '1.505', 'x']), undefined, 'one value without canonical form')
  t.equal(canonicalRowText(columns, ['7', true, '1.5']), undefined, 'a value short')
  t.equal(canonicalRowText(columns, ['7', true, '1.5', 'x', 'y']), undefined, 'a value too many')
  t.equal(rowHash(columns, ['7', true, '1.5']), UNKNOWN_ROW_HASH, 'length mismatch: the unknown hash')
  t.equal(rowHash(columns, ['7', true, '1.505', 'x']), UNKNOWN_ROW_HASH)
  t.ok(isUnknownRowHash(rowHash(columns, ['7', 1, '1.5', 'x'])), 'a wrong type: unknown')
  t.notOk(isUnknownRowHash(rowHash(columns, ['7', true, '1.5', 'x'])))
  t.equal(canonicalRowText([], []), '[]')
})

t.test('row hash – 8 bytes of SHA-256 of the canonical text: deterministic, equal for equal values, distinct for distinct rows', async (t) => {
  const columns: HashColumn[] = [
    { type: 'bigint' }, { type: 'string' }, { type: 'decimal', precision: 19, scale: 4 }, { type: 'datetime', precision: 3 },
    { type: 'uuid' }, { type: 'binary' }, { type: 'float' }, { type: 'bool' }
  ]
  const row = ['0042', 'Zoë', '12.5', '2026-01-02 03:04:05.1', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'AAF=', -0, true]
  const text = '["42","Zoë","12.5000","2026-01-02T03:04:05.100","a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","AAE=","0","true"]'
  t.equal(canonicalRowText(columns, row), text)
  const hash = rowHash(columns, row)
  t.equal(ROW_HASH_BYTES, 8)
  t.equal(hash.length, ROW_HASH_BYTES)
  t.same(hash, createHash('sha256').update(text, 'utf8').digest().subarray(0, 8), 'SHA-256 of the UTF-8 text, first 8 bytes')
  // pinned: a change of the canonical form changes every stored comparison — it must be deliberate
  t.equal(hash.toString('hex'), 'b0136a5d16a6d0e2', 'the pinned hash of this row')
  t.same(rowHash(columns, row), hash, 'deterministic')
  t.same(rowHash(columns, ['42', 'Zoë', '12.50', '2026-01-02T03:04:05.100000', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'AAE=', 0, true]), hash, 'the same values in other spellings')

  // distinct rows, distinct hashes — the key included
  const pairs: HashColumn[] = [{ type: 'bigint' }, { type: 'string' }, { type: 'string' }]
  const seen = new Map<string, string>()
  const rows: unknown[][] = [
    ['1', 'a', 'b'], ['2', 'a', 'b'], ['1', 'a', 'c'], ['1', 'ab', ''], ['1', '', 'ab'], ['1', 'a', null], ['1', 'a', 'null'],
    ['1', null, 'a'], ['1', 'a,b', 'c'], ['1', 'a', 'b,c'], ['-1', 'a', 'b'], ['1', 'A', 'b'], ['1', 'a ', 'b']
  ]
  for (const r of rows) {
    const hex = rowHash(pairs, r).toString('hex')
    t.notOk(seen.has(hex), `${JSON.stringify(r)} hashes apart from ${seen.get(hex) ?? 'every other row'}`)
    seen.set(hex, JSON.stringify(r))
  }
  t.not(rowHash(pairs, ['1', 'a', 'b']).toString('hex'), rowHash(pairs, ['2', 'a', 'b']).toString('hex'), 'same values, another key: another hash')
  t.same(rowHash(pairs, ['01', 'a', 'b']), rowHash(pairs, ['1', 'a', 'b']), 'the same key spelled otherwise: the same hash')
})

// The fast paths for values spelled canonically already (decimals, datetimes, bigints) must give
// exactly what the general rule gives: checked against that rule, written out here, on many
// spellings made at random.
t.test('canonical form – the fast paths agree with the general rule on random spellings', async (t) => {
  const referenceDecimal = (text: string, scale: number): string | undefined => {
    const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text)
    if (match === null) return undefined
    const [, sign, whole, fraction = ''] = match
    if (fraction.length > scale && !/^0*$/.test(fraction.slice(scale))) return undefined
    const intPart = whole!.replace(/^0+(?=\d)/, '')
    const fracPart = fraction.slice(0, scale).padEnd(scale, '0')
    const zero = /^0+$/.test(intPart) && /^0*$/.test(fracPart)
    return `${zero ? '' : sign!}${intPart}${scale > 0 ? `.${fracPart}` : ''}`
  }
  const referenceDatetime = (text: string, precision: number): string | undefined => {
    const match = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?$/.exec(text)
    if (match === null) return undefined
    const [, date, time, fraction = ''] = match
    if (fraction.length > precision && !/^0*$/.test(fraction.slice(precision))) return undefined
    return `${date!}T${time!}${precision > 0 ? `.${fraction.slice(0, precision).padEnd(precision, '0')}` : ''}`
  }
  let seed = 42
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n }
  const pick = (chars: string, length: number): string => Array.from({ length }, () => chars[rnd(chars.length)]!).join('')
  let checked = 0
  for (let i = 0; i < 20000; i++) {
    const scale = rnd(5)
    const decimal = `${rnd(4) === 0 ? '-' : ''}${pick('0001239', 1 + rnd(4))}${rnd(5) === 0 ? '' : `.${pick('00059', rnd(7))}`}${rnd(50) === 0 ? 'x' : ''}`
    t.equal(canonicalValue({ type: 'decimal', scale }, decimal), referenceDecimal(decimal, scale), `decimal ${decimal} at scale ${scale}`, { diagnostic: false })
    const precision = rnd(7)
    const datetime = `20${pick('0129', 2)}-0${pick('19', 1)}-1${pick('09', 1)}${rnd(2) === 0 ? 'T' : rnd(10) === 0 ? 'x' : ' '}1${pick('09', 1)}:3${pick('09', 1)}:0${pick('09', 1)}${rnd(4) === 0 ? '' : `.${pick('0007', 1 + rnd(8))}`}`
    t.equal(canonicalValue({ type: 'datetime', precision }, datetime), referenceDatetime(datetime, precision), `datetime ${datetime} at precision ${precision}`, { diagnostic: false })
    const bigint = `${rnd(3) === 0 ? '-' : ''}${pick('0012', 1 + rnd(20))}`
    t.equal(canonicalValue({ type: 'bigint' }, bigint), /^-?\d{1,20}$/.test(bigint) ? BigInt(bigint).toString() : undefined, `bigint ${bigint}`, { diagnostic: false })
    checked += 3
  }
  t.equal(checked, 60000)
})
