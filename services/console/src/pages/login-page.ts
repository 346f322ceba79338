import { html, type SafeHtml } from '../html.js'
import { layout } from './layout.js'

/** Why the login page is shown: fixed texts, never echoed from the query string. */
export const LOGIN_REASONS = Object.freeze({
  expired: 'Your token has expired: issue a new one with sisporta token issue --admin.',
  invalid: 'That token was refused (see below): paste an admin token from sisporta token issue --admin.',
  'not-admin': 'That token is not an admin token (a stream token only loads data through the gateway): issue one with sisporta token issue --admin.',
  'signed-out': 'You are signed out.',
  required: 'Sign in with an admin token to open the console.'
} as const)

export type LoginReason = keyof typeof LOGIN_REASONS

export function isLoginReason (value: unknown): value is LoginReason {
  return typeof value === 'string' && Object.hasOwn(LOGIN_REASONS, value)
}

/** The login page: the operator pastes an admin token; `detail` is the verifier's reason (escaped). */
export function loginPage (options: { namespace: string, reason?: LoginReason | undefined, detail?: string | undefined }): SafeHtml {
  return layout({
    title: 'Sign in',
    page: 'login',
    namespace: options.namespace,
    body: html`<section class="login">
<h1>Sign in</h1>
${options.reason === undefined ? '' : html`<p class="notice" id="login-reason">${LOGIN_REASONS[options.reason]}</p>`}
${options.detail === undefined ? '' : html`<p class="error" id="login-error">${options.detail}</p>`}
<form method="post" action="/login">
  <label for="token">Admin token</label>
  <textarea id="token" name="token" rows="5" autocomplete="off" spellcheck="false" required placeholder="eyJ…"></textarea>
  <p class="hint">Issue one with <code>sisporta token issue --admin --ttl 8h</code>. It is kept in an HttpOnly cookie until it expires or you sign out.</p>
  <button type="submit">Sign in</button>
</form>
</section>`
  })
}
