/**
 * HTML built by the console. Every value interpolated into {@link html} is escaped unless it is
 * itself {@link SafeHtml}: stream names, reasons and row values are data from the network, and
 * one place escaping them all is easier to trust than care at every call site.
 */
export class SafeHtml {
  readonly #text: string
  constructor (text: string) { this.#text = text }
  toString (): string { return this.#text }
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\'': '&#39;', '`': '&#96;' }

/**
 * Escapes text for an HTML element's content or a quoted attribute value.
 *
 * @example
 * escapeHtml('<img src=x onerror="alert(1)">') // '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
 */
export function escapeHtml (value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (c) => ESCAPES[c]!)
}

function piece (value: unknown): string {
  if (value === undefined || value === null || value === false) return ''
  if (value instanceof SafeHtml) return value.toString()
  if (Array.isArray(value)) return value.map(piece).join('')
  return escapeHtml(value)
}

/**
 * A template tag that escapes every interpolated value (arrays are joined, `undefined`, `null`
 * and `false` render nothing, {@link SafeHtml} is kept as is).
 *
 * @example
 * html`<td>${stream.name}</td>${rows.map((r) => html`<td>${r}</td>`)}`
 */
export function html (strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!
  for (let i = 0; i < values.length; i++) out += piece(values[i]) + strings[i + 1]!
  return new SafeHtml(out)
}
