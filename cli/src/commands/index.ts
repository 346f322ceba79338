import type { Command } from './command.js'

/**
 * Every command, loaded on demand: `sisporta token issue` should not pay for loading Fastify,
 * Kysely and the source drivers it never uses.
 */
export const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = Object.freeze({
  migrate: async () => (await import('./migrate.js')).migrateCommand,
  gateway: async () => (await import('./services.js')).gatewayCommand,
  persister: async () => (await import('./services.js')).persisterCommand,
  reconciler: async () => (await import('./services.js')).reconcilerCommand,
  extractor: async () => (await import('./services.js')).extractorCommand,
  console: async () => (await import('./services.js')).consoleCommand,
  extract: async () => (await import('./extract.js')).extractCommand,
  verify: async () => (await import('./verify.js')).verifyCommand,
  token: async () => (await import('./token.js')).tokenCommand,
  loads: async () => (await import('./loads.js')).loadsCommand,
  status: async () => (await import('./status.js')).statusCommand,
  dlq: async () => (await import('./dlq.js')).dlqCommand,
  streams: async () => (await import('./streams.js')).streamsCommand,
  teardown: async () => (await import('./teardown.js')).teardownCommand,
  demo: async () => (await import('../demo/demo-command.js')).demoCommand
})
