import t from 'tap'
import { createDb } from '@sisporta/db'
import { prepareUpsert } from '../src/index.js'
import { items, shorts } from './helpers.js'

// Compiling needs the MySQL dialect only; no connection is opened.
const db = createDb('mysql://root@127.0.0.1:3306/unused', { poolSize: 1 })
t.teardown(() => db.destroy())

t.test('upsert statement – guards every non-key column with the load stamp, assigned last', async (t) => {
  const upsert = prepareUpsert(db, shorts, ['id', 'label'])
  const q = upsert("(1,'a',42),(2,NULL,42)")
  t.equal(q.sql,
    "INSERT INTO `shorts` (`id`, `label`, `_sisporta_load`) VALUES (1,'a',42),(2,NULL,42)" +
    ' ON DUPLICATE KEY UPDATE' +
    ' `label` = IF(VALUES(`_sisporta_load`) >= COALESCE(`_sisporta_load`, 0), VALUES(`label`), `label`),' +
    ' `_sisporta_load` = GREATEST(COALESCE(`_sisporta_load`, 0), VALUES(`_sisporta_load`))')
  t.same(q.parameters, [], 'the values are in the text (rendered by renderRows / transcodeRows)')
})

t.test('upsert statement – soft-delete streams clear the deletion mark of rows a newer load sends again', async (t) => {
  const q = prepareUpsert(db, items, ['id', 'name'])("(1,'x',7)")
  t.equal(q.sql,
    "INSERT INTO `items` (`id`, `name`, `_sisporta_load`) VALUES (1,'x',7)" +
    ' ON DUPLICATE KEY UPDATE' +
    ' `name` = IF(VALUES(`_sisporta_load`) >= COALESCE(`_sisporta_load`, 0), VALUES(`name`), `name`),' +
    ' `_sisporta_deleted_at` = IF(VALUES(`_sisporta_load`) >= COALESCE(`_sisporta_load`, 0), NULL, `_sisporta_deleted_at`),' +
    ' `_sisporta_load` = GREATEST(COALESCE(`_sisporta_load`, 0), VALUES(`_sisporta_load`))')
})
