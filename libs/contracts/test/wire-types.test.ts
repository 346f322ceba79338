import t from 'tap'
import { checkWireValue } from '@sisporta/contracts'

t.test('wire types – decimal keeps its declared scale', async (t) => {
  t.equal(checkWireValue({ type: 'decimal', precision: 5, scale: 2 }, '123.45'), undefined)
  t.match(checkWireValue({ type: 'decimal', precision: 5, scale: 2 }, '123.456'), /more than 2 digits after the point/)
})
