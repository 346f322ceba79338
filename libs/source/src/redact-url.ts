/**
 * A source URL with its password masked, for messages and logs: every engine's URLs carry
 * credentials as `scheme://user:password@host`.
 *
 * @example
 * redact('postgres://reader:s3cret@erp/erp') // 'postgres://reader:***@erp/erp'
 */
export function redact (url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@')
}
