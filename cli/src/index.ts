/**
 * The CLI package's programmatic side, for the end-to-end tests and the benchmark: start
 * services as processes, build the demo ERP, compare a stream's source and target.
 */
export { launchService, runSisporta, freePort, CLI_ENTRY, cliNodeArgs, type RunningService, type CliResult } from './demo/launch-services.js'
export { compareStream, canonicalValue, targetAsSource, type StreamComparison } from './demo/compare-streams.js'
export { createDemoErp, changeDemoErp, demoConfigYaml, seededRandom, productRow, customerRow, priceRow, type Row } from './demo/demo-erp.js'
export { issueToken } from './commands/token.js'
export { heapNodeArgs, SERVICE_COMMANDS } from './heap-cap.js'
