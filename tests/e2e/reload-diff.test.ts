import t from 'tap'
import type { Connection } from 'mysql2/promise'
import { startPipeline } from '../support/pipeline.js'
import { RELOAD_DIFF_CONFIG, RELOAD_DIFF_ENV, fillScenarioSource, runReloadDiffScenario, type ScenarioSource } from '../support/reload-diff-scenario.js'

// Diffed reloads and `sisporta verify` end to end from a MariaDB source: the services as
// separate processes over real NATS and MariaDB (the scenario: tests/support/reload-diff-scenario.ts).

function mariadbSource (sql: Connection): ScenarioSource {
  return {
    run: async (statement) => { await sql.query(statement) },
    ids: async (statement) => {
      const [rows] = await sql.query(statement) as unknown as [{ id: number | string }[]]
      return rows.map((r) => Number(r.id))
    }
  }
}

t.test('diffed reloads and verify from a MariaDB source', async (t) => {
  const p = await startPipeline(t, {
    configYaml: RELOAD_DIFF_CONFIG,
    env: RELOAD_DIFF_ENV,
    fillSource: async (sql) => {
      // JSON is MariaDB's LONGTEXT with a validity check: the text is kept as written
      await sql.query('CREATE TABLE items (id INT NOT NULL PRIMARY KEY, name VARCHAR(100) NOT NULL, amount DECIMAL(12,4) NULL, changed_at DATETIME(3) NULL, doc JSON NULL)')
      await sql.query('CREATE TABLE odd_values (id INT NOT NULL PRIMARY KEY, amount DECIMAL(6,2) NULL, at DATETIME(3) NULL, doc JSON NULL)')
      await fillScenarioSource(mariadbSource(sql))
    }
  })
  await runReloadDiffScenario(t, p, mariadbSource(p.source))
})
