import { parseArgs } from 'node:util'

/** What one `pnpm bench` run does. */
export interface BenchOptions {
  /** Rows of the generated source table. */
  readonly rows: number
  /** Skip the 1/2/4 persister-replica runs (a quick run). */
  readonly skipReplicas: boolean
  /** Persister replica counts to measure (each a full load into an emptied target). */
  readonly replicas: readonly number[]
  /** Also measure a reload that sends every row (`--reload rows`: the behaviour before diffed reloads). */
  readonly reloadRows: boolean
  /** Run every service process with `--cpu-prof` and summarise where their CPU went. */
  readonly cpuProf: boolean
  /** Where `<timestamp>.json` (and profiles) go. */
  readonly outDir: string
  /** Keep the bench databases and the NATS namespace after the run (to look at them). */
  readonly keep: boolean
  /** NATS namespace of the run (deprovisioned first). */
  readonly namespace: string
  /** The run's databases are `<dbPrefix>_src` and `<dbPrefix>_tgt` (dropped and created). */
  readonly dbPrefix: string
}

export const USAGE = `usage: pnpm bench [--rows N] [--skip-replicas] [--replicas 1,2,4] [--reload-rows] [--cpu-prof] [--dist] [--out DIR] [--keep]
                  [--namespace bench] [--db-prefix sisporta_bench]
       pnpm bench --report bench/results/<timestamp>.json     (print an earlier run's table)

  --rows N          rows in the generated ERP-like table (default 1000000)
  --skip-replicas   skip the full loads with 1, 2 and 4 persister replicas
  --replicas LIST   persister replica counts to measure (default 1,2,4)
  --reload-rows     after the diffed reloads, also measure a reload that sends every row (--reload rows)
  --cpu-prof        profile every service process (node --cpu-prof) and print where CPU went
  --out DIR         where results/<timestamp>.json goes (default bench/results)
  --dist            run the services compiled (dist/, as the images do; \`pnpm build\` first) instead of
                    from TypeScript sources through tsx, which adds ~40-60 MB RSS to every process
  --keep            leave the bench databases and the NATS namespace in place
  --namespace NS    NATS namespace of the run, deprovisioned first (default bench)
  --db-prefix P     databases P_src and P_tgt, dropped and created (default sisporta_bench)

Tuning knobs are read from the environment, passed to every process as they are and recorded in
the result: SISPORTA_BATCH_SIZE, SISPORTA_IN_FLIGHT, SISPORTA_PERSISTER_CONCURRENCY,
SISPORTA_MAX_BATCH_BYTES, SISPORTA_GATEWAY_MAX_IN_FLIGHT, SISPORTA_DELETE_CHUNK, SISPORTA_COMPARE_ROWS
(source rows per compared key range of a diffed reload and of verify), SISPORTA_HEAP_MB
(every service and the extract run under the 128 MB heap cap as the images do; 0 for V8's own
default), NODE_OPTIONS, MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_.
`

export class BenchUsageError extends Error {
  readonly code = 'SIS_BENCH_USAGE'
}

/**
 * Parses `pnpm bench` arguments.
 *
 * @example
 * parseBenchArgs(['--rows', '20000', '--skip-replicas'], '/repo/bench/results')
 * // { rows: 20000, skipReplicas: true, replicas: [], reloadRows: false, cpuProf: false, outDir: '/repo/bench/results', keep: false, namespace: 'bench', dbPrefix: 'sisporta_bench' }
 */
export function parseBenchArgs (argv: readonly string[], defaultOutDir: string): BenchOptions {
  let values
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        rows: { type: 'string', default: '1000000' },
        'skip-replicas': { type: 'boolean', default: false },
        replicas: { type: 'string', default: '1,2,4' },
        'reload-rows': { type: 'boolean', default: false },
        'cpu-prof': { type: 'boolean', default: false },
        out: { type: 'string', default: defaultOutDir },
        keep: { type: 'boolean', default: false },
        namespace: { type: 'string', default: 'bench' },
        'db-prefix': { type: 'string', default: 'sisporta_bench' },
        help: { type: 'boolean', short: 'h', default: false }
      },
      strict: true,
      allowPositionals: false
    }))
  } catch (err) {
    throw new BenchUsageError((err as Error).message)
  }
  if (values.help === true) throw new BenchUsageError('')
  const rows = Number(values.rows)
  if (!Number.isSafeInteger(rows) || rows < 1000 || rows > 100_000_000) {
    throw new BenchUsageError(`--rows must be an integer between 1000 and 100000000, got '${values.rows}'`)
  }
  const replicas = String(values.replicas).split(',').map((s) => Number(s.trim()))
  if (replicas.some((n) => !Number.isInteger(n) || n < 1 || n > 16)) {
    throw new BenchUsageError(`--replicas must be a comma-separated list of integers 1..16, got '${values.replicas}'`)
  }
  const namespace = String(values.namespace)
  if (!/^[a-z][a-z0-9_]{0,31}$/.test(namespace)) throw new BenchUsageError(`--namespace must match [a-z][a-z0-9_]{0,31}, got '${namespace}'`)
  const dbPrefix = String(values['db-prefix'])
  if (!/^[a-z][a-z0-9_]{0,50}$/.test(dbPrefix)) throw new BenchUsageError(`--db-prefix must match [a-z][a-z0-9_]{0,50}, got '${dbPrefix}'`)
  const skipReplicas = values['skip-replicas'] === true
  return {
    rows,
    skipReplicas,
    replicas: skipReplicas ? [] : replicas,
    reloadRows: values['reload-rows'] === true,
    cpuProf: values['cpu-prof'] === true,
    outDir: String(values.out),
    keep: values.keep === true,
    namespace,
    dbPrefix
  }
}
