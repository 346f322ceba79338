import { createInterface } from 'node:readline/promises'
import { readSettings } from '@sisporta/config'
import { STREAM_NAME_PATTERN } from '@sisporta/contracts'
import {
  dropDeadLetters, listDeadLetters, replayDeadLetters, showDeadLetter, allDeadLetters,
  type DeadLetter, type DeadLetterFilter, type DeadLetterSummary, type LetterOutcome, type LetterSelection
} from '@sisporta/nats'
import type { Command, OptionValues } from './command.js'
import { cliLogger, openRegistry } from './context.js'
import { UsageError, WorkFailed } from '../usage-error.js'

const USAGE = 'usage: sisporta dlq list [--stream NAME] [--load ID] [--limit N] [--after N] [--json] | show N [--json] | ' +
  'replay N [N …] | replay --all | --stream NAME | --load ID [--json] | drop N [N …] | drop --all | --stream NAME | --load ID [--yes] [--json]'

/**
 * `sisporta dlq list|show|replay|drop`: batches (or rows of batches) the persisters gave up on,
 * through the library functions the web console uses too (`@sisporta/nats` dead-letters).
 *
 * - `list` pages through the letters (`--limit`, `--after`), filtered by `--stream` / `--load`;
 * - `show N` names the offending rows first (keys, column, MySQL's error), hints the fix, then
 *   prints the rows;
 * - `replay` / `drop` take numbers, or `--all`, `--stream S`, `--load L`; they print one line per
 *   letter and a summary, and exit 1 when any letter was refused (it is kept). Dropping by filter
 *   is destructive: it asks on a terminal, and needs `--yes` without one (exit 2).
 */
export const dlqCommand: Command = {
  options: {
    stream: { type: 'string' },
    load: { type: 'string' },
    all: { type: 'boolean', default: false },
    yes: { type: 'boolean', default: false },
    limit: { type: 'string' },
    after: { type: 'string' },
    json: { type: 'boolean', default: false }
  },
  async run (values, positionals) {
    const [action, ...rest] = positionals
    if (!['list', 'show', 'replay', 'drop'].includes(action ?? '')) throw new UsageError(USAGE)
    const filter = filterOf(values)
    const json = values.json === true
    if (action === 'list' && rest.length > 0) throw new UsageError(`dlq list takes no numbers (got '${rest[0]}'); ${USAGE}`)
    if (action === 'show' && rest.length !== 1) throw new UsageError('dlq show: give one dead letter\'s number (from sisporta dlq list), e.g. sisporta dlq show 3')
    const selection = action === 'replay' || action === 'drop' ? selectionOf(action, rest, values, filter) : undefined
    if (action === 'drop' && selection !== undefined && 'filter' in selection && values.yes !== true && process.stdin.isTTY !== true) {
      throw new UsageError(`dlq drop ${describeSelection(selection)}: not on a terminal, so nobody can confirm: add --yes to drop those dead letters for good`)
    }
    const settings = readSettings()
    const { nc, names, registry, close } = await openRegistry(settings, cliLogger(settings))
    try {
      const deps = { nc, names, registry }
      if (action === 'list') {
        const page = await listDeadLetters(deps, filter, { ...pageOf(values) })
        if (json) process.stdout.write(`${JSON.stringify(page.next === undefined ? page.letters : { letters: page.letters, next: page.next }, null, 2)}\n`)
        else if (page.letters.length === 0) process.stdout.write('no dead letters\n')
        else {
          for (const l of page.letters) process.stdout.write(`${listLine(l)}\n`)
          if (page.next !== undefined) process.stdout.write(`… more: sisporta dlq list --after ${page.next}\n`)
        }
        return 0
      }
      if (action === 'show') {
        const seq = seqOf(rest[0]!, 'show')
        const letter = await showDeadLetter(deps, seq)
        if (letter === undefined) throw new WorkFailed('SIS_CLI_DLQ_UNKNOWN', `no dead letter #${seq} in ${names.dlqStream} (sisporta dlq list shows the numbers)`)
        process.stdout.write(json ? `${JSON.stringify({ ...letter, hint: hintFor(letter) }, null, 2)}\n` : describeLetter(letter))
        return 0
      }
      if (action === 'drop' && 'filter' in selection! && values.yes !== true) {
        const count = (await allDeadLetters(deps, selection.filter)).length
        if (count === 0) {
          process.stdout.write('no dead letters match: nothing dropped\n')
          return 0
        }
        const prompt = createInterface({ input: process.stdin, output: process.stdout })
        const answer = await prompt.question(`Drop ${count} dead letter(s) (${describeSelection(selection)}) for good? Their rows are not applied. [y/N] `).finally(() => { prompt.close() })
        if (!/^y(es)?$/i.test(answer.trim())) {
          process.stdout.write('not confirmed: nothing dropped\n')
          return 1
        }
      }
      const outcomes = action === 'replay' ? await replayDeadLetters(deps, selection!) : await dropDeadLetters(deps, selection!)
      return report(action as 'replay' | 'drop', outcomes, json)
    } finally {
      await close()
    }
  }
}

function report (action: 'replay' | 'drop', outcomes: readonly LetterOutcome[], json: boolean): number {
  const done = outcomes.filter((o) => o.outcome !== 'refused').length
  const refused = outcomes.length - done
  if (json) {
    process.stdout.write(`${JSON.stringify({ [action === 'replay' ? 'replayed' : 'dropped']: done, refused, outcomes }, null, 2)}\n`)
  } else {
    for (const o of outcomes) {
      const what = o.letter === undefined ? `dead letter #${o.seq}` : `dead letter #${o.seq} (stream ${o.letter.stream}, load ${o.letter.loadId}, batch ${o.letter.batch}, ${o.letter.rows} rows)`
      process.stdout.write(o.outcome === 'refused' ? `${what} refused: ${o.code}: ${o.reason}\n` : `${what} ${o.outcome}\n`)
    }
    const verb = action === 'replay' ? 'replayed' : 'dropped'
    process.stdout.write(outcomes.length === 0 ? 'no dead letters match: nothing done\n' : `${done} ${verb}, ${refused} refused\n`)
  }
  return refused > 0 ? 1 : 0
}

function listLine (l: DeadLetterSummary): string {
  const part = l.batchRows !== undefined ? ` of ${l.batchRows}` : ''
  const keys = l.keys !== undefined && l.keys.length > 0 ? ` keys ${l.keys.slice(0, 3).map(describeKey).join('; ')}${l.keys.length > 3 ? '; …' : ''}` : ''
  return `#${l.seq} ${l.time} stream ${l.stream} load ${l.loadId} batch ${l.batch} (${l.rows}${part} rows, ${l.deliveries} deliveries)${keys}: ${l.reason}`
}

/** `sisporta dlq show N` for people: the offending rows first, then what to do, then the rows. */
function describeLetter (l: DeadLetter): string {
  const lines: string[] = [`dead letter #${l.seq} — stream ${l.stream}, load ${l.loadId}, batch ${l.batch}, dead-lettered ${l.time} after ${l.deliveries} delivery(ies)`]
  if (l.keys !== undefined && l.keys.length > 0) {
    lines.push(`offending rows (${l.rows} in this letter${l.batchRows !== undefined ? ` of the batch's ${l.batchRows}; ${l.applied ?? l.batchRows - l.rows} were applied` : ''}):`)
    for (const key of l.keys) lines.push(`  ${describeKey(key)}`)
    if (l.keys.length < l.rows) lines.push(`  … ${l.rows - l.keys.length} more row(s) in the body below`)
  } else {
    lines.push(`rows: ${l.rows} (the whole batch)`)
  }
  if (l.column !== undefined) lines.push(`column: ${l.column}`)
  lines.push(`error: ${l.reason}`, '', `what to do: ${hintFor(l)}`, '', 'body:', JSON.stringify(l.body, null, 2), '')
  return `${lines.join('\n')}`
}

/** What an operator does about a letter, from what its reason says. */
function hintFor (l: DeadLetterSummary): string {
  const r = l.reason
  const then = `then \`sisporta dlq replay ${l.seq}\` (applied into load ${l.loadId} even though it failed), or run a new full load (\`sisporta extract --stream ${l.stream}\`) and \`sisporta dlq drop ${l.seq}\``
  if (/SIS_PERSIST_TARGET_TYPE|doesn't exist|does not exist|Unknown column|NoSuchTable|run `sisporta migrate`/i.test(r)) {
    return `the target table is missing, lacks a column or cannot hold the stream's values: run \`sisporta migrate\` (it creates what is missing and prints the ALTER TABLE for what it cannot change), ${then}`
  }
  if (/Data too long|too long for the column|Out of range|out of the column's range|Incorrect string value|rounded or truncated|not valid in its character set|SIS_PERSIST_VALUE_CHANGED/i.test(r)) {
    const column = l.column === undefined ? 'the column' : `column '${l.column}'`
    return `${column} cannot hold these values: widen it (or make it utf8mb4; \`sisporta migrate\` prints the ALTER TABLE for a column the config declares wider), ${then}`
  }
  if (/SIS_PERSIST_FOREIGN_KEY|refers to a row missing from table/.test(r)) return `load the parent rows first (declare the parent stream in this stream's dependsOn), ${then}`
  if (/SIS_PERSIST_BAD_BODY|SIS_PERSIST_BAD_HEADERS|SIS_PERSIST_UNKNOWN_STREAM|SIS_PERSIST_LOAD_UNTRUSTED/.test(r)) {
    return `the message itself was refused (not the target): replaying it changes nothing; check the extractor's version and config, run a new full load, and \`sisporta dlq drop ${l.seq}\``
  }
  return `fix what the error names in the target (a trigger, a constraint…), ${then}`
}

function describeKey (key: Record<string, unknown>): string {
  return Object.entries(key).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ')
}

function filterOf (values: OptionValues): DeadLetterFilter {
  const filter: { stream?: string, loadId?: number } = {}
  if (typeof values.stream === 'string') {
    if (!STREAM_NAME_PATTERN.test(values.stream)) throw new UsageError(`dlq: --stream '${values.stream}' is not a stream name`)
    filter.stream = values.stream
  }
  if (typeof values.load === 'string') filter.loadId = positive(values.load, '--load')
  return filter
}

function pageOf (values: OptionValues): { limit?: number, after?: number } {
  return {
    ...(typeof values.limit === 'string' ? { limit: positive(values.limit, '--limit') } : {}),
    ...(typeof values.after === 'string' ? { after: positive(values.after, '--after') } : {})
  }
}

function selectionOf (action: string, rest: readonly string[], values: OptionValues, filter: DeadLetterFilter): LetterSelection {
  const byFilter = values.all === true || filter.stream !== undefined || filter.loadId !== undefined
  if (rest.length > 0 && byFilter) throw new UsageError(`dlq ${action}: give numbers or --all / --stream / --load, not both`)
  if (rest.length > 0) return { seqs: rest.map((raw) => seqOf(raw, action)) }
  if (!byFilter) throw new UsageError(`dlq ${action}: give the dead letters' numbers (from sisporta dlq list), e.g. sisporta dlq ${action} 3 4, or --all, --stream NAME, --load ID`)
  if (values.all === true && (filter.stream !== undefined || filter.loadId !== undefined)) throw new UsageError(`dlq ${action}: --all means every letter; leave out --stream / --load, or --all`)
  return { filter }
}

function describeSelection (selection: LetterSelection): string {
  if ('seqs' in selection) return selection.seqs.map((s) => `#${s}`).join(' ')
  const parts = [selection.filter.stream !== undefined ? `--stream ${selection.filter.stream}` : '', selection.filter.loadId !== undefined ? `--load ${selection.filter.loadId}` : ''].filter((p) => p !== '')
  return parts.length === 0 ? '--all' : parts.join(' ')
}

function seqOf (raw: string, action: string): number {
  const seq = Number(raw)
  if (!/^\d{1,15}$/.test(raw) || seq < 1) throw new UsageError(`dlq ${action}: '${raw}' is not a dead letter's number (from sisporta dlq list), e.g. sisporta dlq ${action} 3`)
  return seq
}

function positive (raw: string, option: string): number {
  const n = Number(raw)
  if (!/^\d{1,15}$/.test(raw) || n < 1) throw new UsageError(`dlq: ${option} '${raw}' is not a positive integer`)
  return n
}
