import { readFileSync } from 'node:fs'

/**
 * A service's parsed JSON log lines (pino), from the log file a pipeline service writes (its
 * file holds only its own output); lines that are not JSON are skipped.
 *
 * @example
 * logLines(join(p.dir, 'extractor.log')).filter((l) => l.stream === 'albums')
 */
export function logLines (file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').split('\n').flatMap((line) => {
    try { return [JSON.parse(line) as Record<string, unknown>] } catch { return [] }
  })
}
