import { randomBytes } from 'node:crypto'
import { nkeys } from 'nats'

// NATS identities for tests, made with the nkeys library that nats.js ships (no `nsc` needed):
// nkey seeds, and a decentralised-auth chain (operator → account → user JWTs) with the user's
// creds file, as `nsc generate creds` writes it.

interface KeyPair {
  getPublicKey(): string
  getSeed(): Uint8Array
  sign(data: Uint8Array): Uint8Array
}

const kp = nkeys as {
  createOperator(): KeyPair
  createAccount(): KeyPair
  createUser(): KeyPair
}

export function userNkey (): { seed: string, publicKey: string } {
  const user = kp.createUser()
  return { seed: new TextDecoder().decode(user.getSeed()), publicKey: user.getPublicKey() }
}

function b64url (data: Uint8Array | string): string {
  return Buffer.from(typeof data === 'string' ? new TextEncoder().encode(data) : data).toString('base64url')
}

/** A JWT as nats-server reads them: ed25519-nkey signed by `signer`. */
function jwt (signer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }))
  const claims = b64url(JSON.stringify({
    jti: randomBytes(20).toString('hex').toUpperCase(),
    iat: Math.floor(Date.now() / 1000),
    iss: signer.getPublicKey(),
    name,
    sub: subject,
    nats: { ...nats, version: 2 }
  }))
  return `${header}.${claims}.${b64url(signer.sign(new TextEncoder().encode(`${header}.${claims}`)))}`
}

/**
 * An operator, one account and one user of it: the server config for operator mode (memory
 * resolver, the account preloaded) and the user's creds file.
 */
export function operatorChain (): { serverConfig: string, creds: string, accountPublicKey: string } {
  const operator = kp.createOperator()
  const account = kp.createAccount()
  const user = kp.createUser()
  const operatorJwt = jwt(operator, operator.getPublicKey(), 'test-operator', { type: 'operator' })
  const unlimited = { subs: -1, data: -1, payload: -1 }
  const accountJwt = jwt(operator, account.getPublicKey(), 'test-account', { type: 'account', limits: { ...unlimited, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 } })
  const userJwt = jwt(account, user.getPublicKey(), 'test-user', { type: 'user', pub: {}, sub: {}, ...unlimited })
  const serverConfig = `operator: ${operatorJwt}\nresolver: MEMORY\nresolver_preload: {\n  ${account.getPublicKey()}: ${accountJwt}\n}\n`
  const creds = `-----BEGIN NATS USER JWT-----
${userJwt}
------END NATS USER JWT------

************************* IMPORTANT *************************
NKEY Seed printed below can be used to sign and prove identity.
NKEYs are sensitive and should be treated as secrets.

-----BEGIN USER NKEY SEED-----
${new TextDecoder().decode(user.getSeed())}
------END USER NKEY SEED------

*************************************************************
`
  return { serverConfig, creds, accountPublicKey: account.getPublicKey() }
}
