import t from 'tap'
import {
  ConversionFailure, describeSourceValue, isWireDate, numberToDecimalText, parseJsonExact, shortestFloat32, toInt32,
  toInt64Text, toUuidText, toWireDateTime
} from '../src/wire-convert.js'
import { createMysqlValueConverter, type MysqlColumnInfo } from '../src/mysql/mysql-values.js'

const info = (dataType: string, extra: Partial<MysqlColumnInfo> = {}): MysqlColumnInfo =>
  ({ dataType, columnType: dataType, nullable: true, unsigned: false, binary: false, ...extra })

t.test('wire convert – JSON numbers that a double cannot hold are refused', async (t) => {
  t.same(parseJsonExact('{"a": [1, 2.5, -0, 1e3, 0.30000000000000004], "s": "9007199254740993"}'), { a: [1, 2.5, -0, 1000, 0.30000000000000004], s: '9007199254740993' })
  t.same(parseJsonExact('"text with \\" quote and 12345678901234567890"'), 'text with " quote and 12345678901234567890')
  t.throws(() => parseJsonExact('{"id": 9007199254740993}'), ConversionFailure)
  t.throws(() => parseJsonExact('[0.1000000000000000055511151231257827]'), /cannot hold exactly/)
  t.throws(() => parseJsonExact('{bad'), /not valid JSON/)
})

t.test('wire convert – numbers as plain decimals, floats as their shortest single-precision value', async (t) => {
  t.equal(numberToDecimalText(1e21), '1000000000000000000000')
  t.equal(numberToDecimalText(1.5e-7), '0.00000015')
  t.equal(numberToDecimalText(-2.5), '-2.5')
  t.equal(shortestFloat32(Math.fround(0.1)), 0.1)
  t.equal(shortestFloat32(Math.fround(3.14159)), 3.14159)
  t.equal(shortestFloat32(0.1), 0.1, 'a double that is no float32 is left alone')
})

t.test('wire convert – integers, uuids, dates', async (t) => {
  t.equal(toInt32('42.000'), 42)
  t.throws(() => toInt32('42.5'), /not an integer/)
  t.throws(() => toInt32(2147483648), /32-bit/)
  t.equal(toInt64Text('9223372036854775807'), '9223372036854775807')
  t.throws(() => toInt64Text('18446744073709551615'), /64-bit/)
  t.equal(toInt64Text(9007199254740992), '9007199254740992')
  t.equal(toUuidText('A0EEBC999C0B4EF8BB6D6BB9BD380A11'), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')
  t.throws(() => toUuidText(Buffer.alloc(15)), /15 bytes/)
  t.equal(isWireDate('2024-02-29'), true)
  t.equal(isWireDate('2023-02-29'), false)
  t.equal(isWireDate('0000-00-00'), false)
  t.equal(toWireDateTime('2024-01-02 03:04:05.120'), '2024-01-02T03:04:05.120')
  t.equal(toWireDateTime('2024-01-02T03:04:05'), '2024-01-02T03:04:05')
  t.equal(toWireDateTime('0000-00-00 00:00:00'), undefined)
  t.equal(toWireDateTime('2024-01-02 24:00:00'), undefined)
  t.equal(toWireDateTime('2024-01-02 03:04:05.'), undefined)
  t.equal(describeSourceValue(Buffer.from([0xde, 0xad])), '0xdead')
})

t.test('mysql values – converters by wire type', async (t) => {
  t.equal(createMysqlValueConverter('date', info('datetime'))('2024-05-01 00:00:00.000'), '2024-05-01', 'midnight date-time to date')
  t.throws(() => createMysqlValueConverter('date', info('datetime'))('2024-05-01 10:00:00'), /would lose it/)
  t.equal(createMysqlValueConverter('datetime', info('date'))('2024-05-01'), '2024-05-01T00:00:00')
  t.throws(() => createMysqlValueConverter('datetime', info('datetime'))('0000-00-00 00:00:00'), /not a valid date-time/)
  t.equal(createMysqlValueConverter('decimal', info('float'))(Math.fround(0.1)), '0.1')
  t.equal(createMysqlValueConverter('decimal', info('bigint'))('-12'), '-12')
  t.throws(() => createMysqlValueConverter('decimal', info('varchar'))('1e5'), /not a decimal/)
  t.equal(createMysqlValueConverter('bool', info('bit', { binary: true }))(Buffer.from([0, 1])), true, 'BIT(16) holding 1')
  t.equal(createMysqlValueConverter('bool', info('decimal'))('0.00'), false)
  t.equal(createMysqlValueConverter('int', info('bit', { binary: true }))(Buffer.from([1, 0])), 256)
  t.equal(createMysqlValueConverter('string', info('int'))(7), '7')
  t.equal(createMysqlValueConverter('binary', info('varchar'))('ç'), 'w6c=')
  t.equal(createMysqlValueConverter('json', info('int'))(5), 5)
  t.equal(createMysqlValueConverter('float', info('decimal'))('12.5'), 12.5)
  t.throws(() => createMysqlValueConverter('string', info('geometry'))({ x: 1, y: 2 }), /unexpected object/)
})
