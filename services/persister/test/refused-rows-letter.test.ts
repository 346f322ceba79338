import t from 'tap'
import { PersistError, describeRefusal } from '../src/index.js'

// What a dead letter of bisected rows says about each row: MySQL's words and the column, without
// the "batch … of load …: row 0" of the one-row part it was refused in.

t.test('describe refusal – keeps MySQL\'s words and the column, drops the part\'s batch and row', async (t) => {
  t.same(describeRefusal(new PersistError('SIS_PERSIST_REJECTED', "batch 3 of load 7 (stream 'customers'): row 0, column 'name': Data too long for column 'name' (MySQL error 1406)")),
    { column: 'name', text: "Data too long for column 'name' (MySQL error 1406)" })
  t.same(describeRefusal(new PersistError('SIS_PERSIST_VALUE_CHANGED', "batch 0 of load 7 (stream 'orders'): row 0, column 'qty' (decimal(12,1)): the value would be rounded or truncated to fit the column — MySQL Note 1265: Data truncated for column 'qty'. Nothing of the batch is stored.")),
    { column: 'qty', text: "the value would be rounded or truncated to fit the column — MySQL Note 1265: Data truncated for column 'qty'." })
  t.same(describeRefusal(new PersistError('SIS_PERSIST_FOREIGN_KEY', "batch 1 of load 2 (stream 'tracks'): row 0 refers to a row missing from table 'Album' (constraint 'FK_TrackAlbumId': …) (MySQL error 1452)")),
    { text: "refers to a row missing from table 'Album' (constraint 'FK_TrackAlbumId': …) (MySQL error 1452)" })
  t.same(describeRefusal(new PersistError('SIS_PERSIST_REJECTED', "batch 0 of load 1 (stream 'customers'): city Kraków refused by a trigger")),
    { text: 'city Kraków refused by a trigger' })
  t.same(describeRefusal(new PersistError('SIS_PERSIST_REJECTED', "batch 1 of load 1 (stream 'shorts'): row 0, column 'label': Incorrect string value: '\\xE2\\x98\\x95' for column `db`.`shorts`.`label` at row 1")).column, 'label')
})
