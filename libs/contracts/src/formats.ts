import { FormatRegistry } from '@sinclair/typebox'

// TypeBox checks no string format unless told how: a schema with `format: 'date-time'` would
// refuse every value. Registered once, here, for every schema of the contracts.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/

if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (value) => DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)))
}
