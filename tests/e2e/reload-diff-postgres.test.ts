import t from 'tap'
import type pg from 'pg'
import { testPostgresDatabase } from '@sisporta/testkit'
import { startPipeline } from '../support/pipeline.js'
import { RELOAD_DIFF_CONFIG, RELOAD_DIFF_ENV, fillScenarioSource, runReloadDiffScenario, type ScenarioSource } from '../support/reload-diff-scenario.js'

// Diffed reloads and `sisporta verify` end to end from a PostgreSQL source (the scenario:
// tests/support/reload-diff-scenario.ts). PostgreSQL spells values its own way: a bare
// `numeric` prints `1.5` as written (the target's scale is 6), a timestamp prints no trailing
// zeros of its fraction, jsonb prints its own normalised text.

function postgresSource (sql: pg.Client): ScenarioSource {
  return {
    run: async (statement) => { await sql.query(statement) },
    ids: async (statement) => (await sql.query<{ id: number }>(statement)).rows.map((r) => Number(r.id))
  }
}

t.test('diffed reloads and verify from a PostgreSQL source', async (t) => {
  const pgdb = await testPostgresDatabase(t, 'sisporta_e2e_pg')
  await pgdb.sql.query('CREATE TABLE items (id INT NOT NULL PRIMARY KEY, name VARCHAR(100) NOT NULL, amount NUMERIC NULL, changed_at TIMESTAMP(3) NULL, doc JSONB NULL)')
  await pgdb.sql.query('CREATE TABLE odd_values (id INT NOT NULL PRIMARY KEY, amount NUMERIC NULL, at TIMESTAMP(6) NULL, doc JSON NULL)')
  await fillScenarioSource(postgresSource(pgdb.sql))
  const p = await startPipeline(t, { configYaml: RELOAD_DIFF_CONFIG, env: RELOAD_DIFF_ENV, sourceUrl: pgdb.url })
  // verify and the delete guard act on the target alone: reload-diff.test.ts covers them
  await runReloadDiffScenario(t, p, postgresSource(pgdb.sql), { verifyAndGuard: false })
})
