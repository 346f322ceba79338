import t from 'tap'
import { WIRE_TYPES, checkWireValue, type WireColumnSpec } from '@sisporta/contracts'

// checkWireValue reads decimal, bigint, date and datetime character by character. The
// reference here is the regular-expression version it replaced: same verdicts, same messages.
const DECIMAL = /^-?(\d+)(?:\.(\d+))?$/
const BIGINT = /^-?\d{1,19}$/
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/

function validDate (y: number, m: number, d: number): boolean {
  if (y < 1 || m < 1 || m > 12 || d < 1) return false
  const days = [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
  return d <= days[m - 1]!
}
const truncate = (s: string): string => s.length > 40 ? `${s.slice(0, 40)}…` : s

function reference (spec: WireColumnSpec, value: string): string | undefined {
  switch (spec.type) {
    case 'bigint': {
      if (!BIGINT.test(value)) return `expected a string of digits (bigint), got string '${truncate(value)}'`
      const n = BigInt(value)
      return n > 9223372036854775807n || n < -9223372036854775808n ? `${value} is outside the 64-bit integer range` : undefined
    }
    case 'decimal': {
      const m = DECIMAL.exec(value)
      if (m === null) return `'${truncate(value)}' is not a decimal (expected -?digits[.digits])`
      if (spec.scale !== undefined && (m[2]?.length ?? 0) > spec.scale) return `'${value}' has more than ${spec.scale} digits after the point`
      if (spec.precision !== undefined) {
        const intDigits = m[1]!.replace(/^0+(?=\d)/, '').replace(/^0$/, '').length
        if (intDigits > spec.precision - (spec.scale ?? 0)) return `'${value}' has more than ${spec.precision - (spec.scale ?? 0)} digits before the point`
      }
      return undefined
    }
    case 'date': {
      const m = DATE.exec(value)
      return m === null || !validDate(+m[1]!, +m[2]!, +m[3]!) ? `'${truncate(value)}' is not a date 'YYYY-MM-DD'` : undefined
    }
    case 'datetime': {
      const m = DATETIME.exec(value)
      return m === null || !validDate(+m[1]!, +m[2]!, +m[3]!) || +m[4]! > 23 || +m[5]! > 59 || +m[6]! > 59
        ? `'${truncate(value)}' is not a datetime 'YYYY-MM-DDTHH:MM:SS[.ffffff]' without zone`
        : undefined
  }
  }
  throw new Error(`no reference for ${spec.type}`)
}

const SPECS: WireColumnSpec[] = [
  { type: 'decimal' }, { type: 'decimal', precision: 5, scale: 2 }, { type: 'decimal', precision: 3, scale: 0 },
  { type: 'decimal', scale: 1 }, { type: 'decimal', precision: 4 }, { type: 'decimal', precision: 38, scale: 10 }, { type: 'decimal', precision: 2, scale: 2 },
  { type: 'bigint' }, { type: 'date' }, { type: 'datetime' }
]
const SEEDS = [
  '0', '-0', '000', '007.50', '123.45', '123.456', '999.99', '1000.00', '-1.', '.5', '1.5.5', '1e5', '+1', ' 1', '1\n', '-', '',
  '9223372036854775807', '-9223372036854775808', '9223372036854775808', '-9223372036854775809', '0000000000000000001', '12345678901234567890',
  '2024-02-29', '2023-02-29', '1900-02-29', '2000-02-29', '0000-01-01', '0001-01-01', '2024-04-31', '2024-13-01', '2024-1-01', '2024-01-01\n',
  '2024-12-31T23:59:59', '2024-12-31T23:59:59.123456', '2024-12-31T23:59:59.1234567', '2024-12-31T23:59:59.', '2024-12-31T24:00:00',
  '2024-12-31T23:60:00', '2024-12-31T23:59:60', '2024-12-31 23:59:59', '2024-12-31T23:59:59Z', '2024-12-31t23:59:59',
  '１２３', '٣', '1é', 'ção'.repeat(20)
]
const ALPHABET = ['0', '1', '2', '5', '9', '-', '.', 'T', ':', ' ', 'Z', '\n', 'é', '１']

/** Deterministic variations of the seeds: characters inserted, removed and replaced. */
function * variations (): Generator<string> {
  let state = 7
  const next = (n: number): number => { state = (state * 1103515245 + 12345) & 0x7fffffff; return state % n }
  for (const seed of SEEDS) yield seed
  for (let i = 0; i < 20000; i++) {
    const chars = [...SEEDS[next(SEEDS.length)]!]
    for (let k = next(3); k >= 0; k--) {
      const at = next(chars.length + 1)
      const ch = ALPHABET[next(ALPHABET.length)]!
      const op = next(3)
      if (op === 0) chars.splice(at, 0, ch)
      else if (op === 1) chars.splice(at, 1)
      else chars[at] = ch
    }
    yield chars.join('')
  }
}

t.test('wire types – decimal, bigint, date and datetime give the verdicts and messages of their patterns', async (t) => {
  let checked = 0
  const differences: string[] = []
  for (const value of variations()) {
    for (const spec of SPECS) {
      checked++
      const got = checkWireValue(spec, value)
      const want = reference(spec, value)
      if (got !== want && differences.length < 10) differences.push(`${JSON.stringify(spec)} ${JSON.stringify(value)}: got ${got}, want ${want}`)
    }
  }
  t.same(differences, [], `${checked} checks`)
  t.equal(checkWireValue({ type: 'decimal', precision: 5, scale: 2 }, '000123.45'), undefined, 'leading zeros are not significant')
  t.equal(checkWireValue({ type: 'decimal', precision: 5, scale: 2 }, '1234.5'), '\'1234.5\' has more than 3 digits before the point')
  t.equal(checkWireValue({ type: 'date' }, '2023-02-29'), '\'2023-02-29\' is not a date \'YYYY-MM-DD\'')
  t.equal(checkWireValue({ type: 'bigint' }, '-9223372036854775809'), '-9223372036854775809 is outside the 64-bit integer range')
})

t.test('wire types – a value and its UTF-8 bytes form get the same verdict', async (t) => {
  // every text here is one the gateway may read as bytes: valid UTF-8, no \u escape
  const texts = [
    'ção', 'çãoo', 'açú', 'açúc', '😀😀😀', '😀😀😀😀', 'é😀a', 'ÂÂ', 'Â©', '日本語', '日本語x', '\u0080\u00bf\u00c0\u00ff', 'x', '',
    '１２', '1٣', '2024-0é-01', '2024-02-29', '2024-02-29T10:00:00.5', '12.5é', '12.50', '-9223372036854775808', 'AAAé', 'AAA=',
    '0123456789abcdef0123456789abcdé', '01234567-89ab-cdef-0123-456789abcdef', 'a'.repeat(38) + 'ç', 'ç'.repeat(40), 'a\tb\n'
  ]
  const specs: WireColumnSpec[] = [
    ...WIRE_TYPES.map((type) => ({ type })),
    ...[1, 2, 3, 4, 5, 39, 40].map((length) => ({ type: 'string' as const, length })),
    { type: 'binary', length: 3 }, { type: 'decimal', precision: 5, scale: 2 }
  ]
  const differences: string[] = []
  let accepted = 0
  for (const text of texts) {
    const bytes = Buffer.from(text, 'utf8').toString('latin1')
    for (const spec of specs) {
      const exact = checkWireValue(spec, text)
      const asBytes = checkWireValue(spec, bytes, 'utf8-bytes')
      if (exact === undefined) accepted++
      if ((exact === undefined) !== (asBytes === undefined)) differences.push(`${JSON.stringify(spec)} ${JSON.stringify(text)}: ${exact} / ${asBytes}`)
    }
  }
  t.same(differences, [])
  t.ok(accepted > 50, `${accepted} acceptances among the verdicts compared`)
  const code = { type: 'string', length: 3 } as const
  t.equal(checkWireValue(code, Buffer.from('ção').toString('latin1'), 'utf8-bytes'), undefined, '5 bytes, 3 characters')
  t.equal(checkWireValue(code, Buffer.from('çãoo').toString('latin1'), 'utf8-bytes'), 'longer than 3 characters')
  t.equal(checkWireValue(code, Buffer.from('ção').toString('latin1')), 'longer than 3 characters', 'read as text, the bytes are 5 characters')
})
