#!/usr/bin/env node
// Waits until SQL Server accepts a login at SISPORTA_TEST_MSSQL_URL (Bitbucket's service
// container opens its port long before logins succeed), for at most SISPORTA_MSSQL_WAIT seconds
// (default 180). Exit 0 once `SELECT 1` answers; 1 with the last error otherwise. Never prints
// the password.
//
// Usage: node scripts/wait-for-mssql.mjs
import { createRequire } from 'node:module'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'

const url = process.env.SISPORTA_TEST_MSSQL_URL
if (url === undefined || url === '') {
  console.error('wait-for-mssql: SISPORTA_TEST_MSSQL_URL is not set')
  process.exit(1)
}
// mssql is a dependency of libs/source, not of the workspace root
const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '..', 'libs', 'source', 'package.json'))
const mssql = require('mssql')
const parsed = new URL(url)
const config = {
  server: parsed.hostname,
  port: Number(parsed.port || 1433),
  user: decodeURIComponent(parsed.username),
  password: decodeURIComponent(parsed.password),
  database: parsed.pathname.replace(/^\//, '') || 'master',
  options: { encrypt: true, trustServerCertificate: parsed.searchParams.get('trustServerCertificate') === 'true' },
  connectionTimeout: 5000
}
const deadline = Date.now() + Number(process.env.SISPORTA_MSSQL_WAIT ?? 180) * 1000
let last = 'no attempt'
for (let attempt = 1; Date.now() < deadline; attempt++) {
  try {
    const pool = await new mssql.ConnectionPool(config).connect()
    await pool.request().query('SELECT 1 AS ok')
    await pool.close()
    console.log(`wait-for-mssql: ${parsed.hostname}:${config.port} accepts logins (attempt ${attempt})`)
    process.exit(0)
  } catch (err) {
    last = String(err?.message ?? err).replaceAll(config.password, '***')
    await sleep(2000)
  }
}
console.error(`wait-for-mssql: no login at ${parsed.hostname}:${config.port} as ${config.user} within the wait; last error: ${last}`)
process.exit(1)
