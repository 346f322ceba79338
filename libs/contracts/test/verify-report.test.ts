import t from 'tap'
import { reportIsIdentical, streamControlProblem, verifyReportProblem, type VerifyReportRecord } from '../src/index.js'

const record: VerifyReportRecord = {
  stream: 'products', sourceRows: 2, targetRows: 3, ranges: 1, missing: 0, extra: 1, different: 0, reordered: 0, approximate: false,
  firstKeys: { missing: [], extra: [['A9']], different: [] }, seconds: 0.2,
  requestedAt: '2026-12-02T10:00:00.000Z', requestedBy: 'olga', reportedAt: '2026-12-02T10:00:05.000Z', reportedBy: 'extractor'
}

t.test('verify report – the record schema', async (t) => {
  t.equal(verifyReportProblem(record), undefined, 'a well-formed record')
  t.equal(reportIsIdentical(record), false, 'an extra row is a difference')
  t.equal(reportIsIdentical({ missing: 0, extra: 0, different: 0 }), true)
  t.match(verifyReportProblem({ ...record, missing: 1.5 }), /^\/missing: /, 'counts are whole')
  t.match(verifyReportProblem({ ...record, reportedAt: undefined }), /^\/reportedAt: /, 'a record says when the gateway took it')
  t.match(verifyReportProblem({ ...record, firstKeys: { ...record.firstKeys, extra: [[]] } }), /^\/firstKeys\/extra\/0: /, 'a key has values')
  t.match(verifyReportProblem({ ...record, requestedAt: 'yesterday' }), /^\/requestedAt: /)
})

t.test('stream control – a verify request has both its fields or none', async (t) => {
  t.equal(streamControlProblem({ stream: 'products', paused: false, verifyRequestedAt: '2026-12-02T10:00:00.000Z', verifyRequestedBy: 'olga' }), undefined)
  t.equal(streamControlProblem({ stream: 'products', paused: false, verifyRequestedAt: '2026-12-02T10:00:00.000Z' }), 'a verify request needs all of verifyRequestedAt, verifyRequestedBy')
})
