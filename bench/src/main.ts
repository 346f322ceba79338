import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CLI_ENTRY, cliNodeArgs } from '@sisporta/cli'
import { BenchUsageError, USAGE, parseBenchArgs } from './options.js'
import { formatReport } from './report.js'
import { runBench, type BenchResult } from './run-bench.js'

// `pnpm bench [--rows N] [--skip-replicas] …`: runs the benchmark, prints the table, writes
// bench/results/<timestamp>.json. Exit 0 on a completed run (whether or not the bars are met),
// 1 when the run failed, 2 on bad usage.
const RESULTS_DIR = fileURLToPath(new URL('../results', import.meta.url))

try {
  const argv = process.argv.slice(2)
  if (argv.includes('--dist') && cliNodeArgs().length > 0) process.exit(await rerunOnDist(argv.filter((a) => a !== '--dist')))
  if (argv[0] === '--report') {
    // re-prints the table of an earlier run from its JSON
    if (argv[1] === undefined) throw new BenchUsageError('--report needs the path of a results file')
    process.stdout.write(`${formatReport(JSON.parse(readFileSync(argv[1], 'utf8')) as BenchResult)}\n`)
    process.exit(0)
  }
  const options = parseBenchArgs(argv, RESULTS_DIR)
  const result = await runBench(options, (line) => { process.stdout.write(`${line}\n`) })
  mkdirSync(options.outDir, { recursive: true })
  const file = join(options.outDir, `${result.startedAt.replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`)
  process.stdout.write(`${formatReport(result)}\n\nresults: ${file}\n`)
} catch (err) {
  if (err instanceof BenchUsageError) {
    if (err.message !== '') process.stderr.write(`bench: ${err.message}\n\n`)
    ;(err.message === '' ? process.stdout : process.stderr).write(USAGE)
    process.exitCode = err.message === '' ? 0 : 2
  } else {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`)
    process.exitCode = 1
  }
}

/**
 * `--dist`: the services as the images run them, compiled JavaScript without tsx. This process
 * resolved the workspace to TypeScript sources; a child without the `sisporta-src` condition
 * resolves it to dist/ (so `launchService` starts `node cli/dist/main.js …`).
 */
async function rerunOnDist (argv: string[]): Promise<number> {
  const dist = CLI_ENTRY.replace(/src\/main\.ts$/, 'dist/main.js')
  if (!existsSync(dist)) throw new BenchUsageError(`--dist needs compiled packages (${dist} is missing): run \`pnpm build\` first`)
  const child = spawn(process.execPath, ['--import=tsx', fileURLToPath(import.meta.url), ...argv], { stdio: 'inherit' })
  return await new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1)))
}
