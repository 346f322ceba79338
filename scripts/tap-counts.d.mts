// Types of scripts/tap-counts.mjs, for the TypeScript test that checks it.
export type Directive = { kind: 'SKIP' | 'TODO', reason: string } | null
export interface TapTotals { passed: string[], failed: string[], skipped: string[], todo: string[] }
export function parseResult (rest: string): { name: string, directive: Directive }
export function createTapCounter (): { line(line: string): void, finish(exit: number | string | null): TapTotals }
export function summaryLine (totals: TapTotals): string
