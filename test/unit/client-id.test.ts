import { beforeEach, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../bin/admin/errors';
import { clientIdCell, printable, quotedClientId, validateClientId } from '../../bin/admin/validate';
import { InvalidClientRegistrationError, registerClient } from '../../lambda/accounts';
import { readClientCredentials } from '../../lambda/oauth/client-auth';
import { CLIENT_ID_RULE, isClientId, MAX_CLIENT_ID_LENGTH } from '../../lambda/oauth/client-id';
import { InvalidClientError } from '../../lambda/oauth/errors';
import { handleTokenRequest } from '../../lambda/oauth/token-endpoint';
import { basic, MemoryClientStore, type MemoryDeps, memoryDeps, seed, tokenRequest } from '../support/memory';

/** An id with a space, a colon, '%', '+', both quotes and '~'. */
const PUNCTUATED = `a b:c%d+e"f'g~h`;

const ACCEPTED: [string, string][] = [
  ['one character', 'a'],
  ['128 characters', 'x'.repeat(128)],
  ['a space', 'acme web'],
  ['a space alone', ' '],
  ['a colon', 'acme:web'],
  ['a tilde', '~'],
  [
    'every printable ASCII character',
    Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join(''),
  ],
  ['%, +, quotes and ~', PUNCTUATED],
];

const REFUSED: [string, string][] = [
  ['the empty string', ''],
  ['129 characters', 'x'.repeat(129)],
  ['a tab', 'acme\tweb'],
  ['a newline', 'acme\n'],
  ['NUL', 'acme\0'],
  ['DEL', 'acme\x7f'],
  ['a non-ASCII letter', 'acmé'],
  ['a non-breaking space', 'acme\u00a0web'],
  ['an emoji', 'app😀'],
];

describe('the client-id rule: 1 to 128 VSCHARs (RFC 6749 Appendix A, %x20-7E)', () => {
  it('allows at most 128 characters', () => {
    expect(MAX_CLIENT_ID_LENGTH).toBe(128);
  });

  it.each(ACCEPTED)('accepts %s', (_case, id) => {
    expect(isClientId(id)).toBe(true);
    expect(validateClientId(id)).toBe(id);
  });

  it.each(REFUSED)('refuses %s', (_case, id) => {
    expect(isClientId(id)).toBe(false);
    expect(() => validateClientId(id)).toThrow(UsageError);
  });

  it('states the rule, and what is wrong, in the CLI message', () => {
    const message = (id: string) => {
      try {
        validateClientId(id);
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    expect(CLIENT_ID_RULE).toMatch(/^1 to 128 printable ASCII characters .*%x20-7E/);
    expect(message('')).toBe(`invalid client ID "": it is empty; a client ID is ${CLIENT_ID_RULE}`);
    expect(message('x'.repeat(129))).toMatch(/: it is 129 characters long; a client ID is 1 to 128 /);
    expect(message('a\tb')).toBe(`invalid client ID "a\\tb": it contains U+0009; a client ID is ${CLIENT_ID_RULE}`);
    expect(message('a\nb')).toMatch(/^invalid client ID "a\\nb": it contains U\+000A; /);
    expect(message('a\x7fb')).toMatch(/^invalid client ID "a\\u007fb": it contains U\+007F; /);
    expect(message('acmé')).toMatch(/^invalid client ID "acmé": it contains "é" \(U\+00E9\); /);
    expect(message('app😀')).toMatch(/it contains "😀" \(U\+1F600\); /);
    for (const [, id] of REFUSED) expect(/\p{Cc}/u.test(message(id))).toBe(false);
  });
});

describe('client ids in CLI output', () => {
  it('quotes an id in messages as a JSON string, in full', () => {
    expect(quotedClientId('acme:web app')).toBe('"acme:web app"');
    expect(quotedClientId(PUNCTUATED)).toBe(JSON.stringify(PUNCTUATED));
    expect(quotedClientId('y'.repeat(128))).toBe(`"${'y'.repeat(128)}"`);
    expect(quotedClientId('bad\nid')).toBe('"bad\\nid"');
  });

  it('shows a one-word id as it is in a table cell, and quotes one with a space or a leading quote', () => {
    expect(clientIdCell('e2e-app')).toBe('e2e-app');
    expect(clientIdCell('acme:web')).toBe('acme:web');
    expect(clientIdCell('a"b')).toBe('a"b');
    expect(clientIdCell('acme:web app')).toBe('"acme:web app"');
    expect(clientIdCell(' ')).toBe('" "');
    expect(clientIdCell('"quoted"')).toBe('"\\"quoted\\""');
  });
});

describe('printable', () => {
  it('escapes every control and format character, not only those JSON escapes', () => {
    expect(printable('a\tb\nc')).toBe('a\\tb\\nc');
    expect(printable('del\x7f c1\u0085')).toBe('del\\u007f c1\\u0085');
    expect(printable('bidi\u202eoverride\u2028')).toBe('bidi\\u202eoverride\\u2028');
    expect(printable('tag\u{e0041}')).toBe('tag\\udb40\\udc41');
    expect(printable('acme:web app "é"')).toBe('acme:web app \\"é\\"');
  });
});

describe('registering a client', () => {
  const ports = () => ({
    clients: new MemoryClientStore(),
    clock: () => Date.UTC(2026, 10, 28),
    random: { bytes: (length: number) => new Uint8Array(length) },
  });
  const client = (clientId: string) => ({
    clientId,
    isPublic: true,
    scopes: ['read'],
    grantTypes: ['password'] as const,
  });

  it.each(ACCEPTED)('registers an id with %s', async (_case, id) => {
    const p = ports();
    expect(await registerClient(p, client(id))).toEqual({ clientId: id });
    expect(await p.clients.getClient(id)).toMatchObject({ clientId: id });
  });

  it.each(REFUSED)('refuses an id with %s and registers nothing', async (_case, id) => {
    const p = ports();
    const error = await registerClient(p, client(id)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidClientRegistrationError);
    expect((error as Error).message).toBe(
      `client ${JSON.stringify(id)} cannot be registered: a client id is ${CLIENT_ID_RULE}`,
    );
    expect(p.clients.clients.size).toBe(0);
  });
});

describe('reading client credentials (RFC 6749 §2.3.1)', () => {
  const header = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`;
  const NONE = new Map<string, string>();

  it('form-decodes the id and the secret inside Basic: + and %20 are spaces, %3A a colon', () => {
    for (const encoded of ['acme%3Aweb+app', 'acme%3Aweb%20app', 'acme%3aweb+app']) {
      expect(readClientCredentials(header(`${encoded}:s%3Acr+t`), NONE)).toEqual({
        method: 'client_secret_basic',
        clientId: 'acme:web app',
        secret: 's:cr t',
      });
    }
  });

  it('decodes an id with a space, a colon, %, +, quotes and ~', () => {
    expect(readClientCredentials(header('a+b%3Ac%25d%2Be%22f%27g%7Eh:pw'), NONE)).toMatchObject({
      clientId: PUNCTUATED,
    });
    expect(readClientCredentials(header('a+b%3Ac%25d%2Be"f\'g~h:pw'), NONE)).toMatchObject({ clientId: PUNCTUATED });
  });

  it('splits at the first unencoded colon', () => {
    expect(readClientCredentials(header('acme:web app:secret'), NONE)).toMatchObject({
      clientId: 'acme',
      secret: 'web app:secret',
    });
  });

  it('refuses a raw % that starts no escape, as invalid_client', () => {
    expect(() => readClientCredentials(header('100%:pw'), NONE)).toThrow(InvalidClientError);
  });

  it('takes a client_id form parameter as it was decoded', () => {
    expect(readClientCredentials(undefined, new Map([['client_id', PUNCTUATED]]))).toEqual({
      method: 'none',
      clientId: PUNCTUATED,
    });
  });
});

describe('POST /token with such client ids', () => {
  let deps: MemoryDeps;
  const alice = { grant_type: 'password', username: 'alice', password: 'correct horse' };
  const SECRET = 'acme secret: 100% "real"';

  beforeEach(async () => {
    deps = memoryDeps();
    await seed(deps);
    const p = { clients: deps.clients, clock: deps.clock, random: { bytes: (n: number) => new Uint8Array(n) } };
    await registerClient(p, {
      clientId: 'acme:web app',
      secret: SECRET,
      isPublic: false,
      scopes: ['read'],
      grantTypes: ['password', 'refresh_token'],
    });
    await registerClient(p, { clientId: PUNCTUATED, isPublic: true, scopes: ['read'], grantTypes: ['password'] });
  });

  const call = (...args: Parameters<typeof tokenRequest>) => handleTokenRequest(tokenRequest(...args), deps);
  const clientIdOf = (body: string) =>
    JSON.parse(
      Buffer.from((JSON.parse(body) as { access_token: string }).access_token.split('.')[1]!, 'base64url').toString(),
    ).client_id;

  it('authenticates with client_secret_basic, the id and secret form-urlencoded', async () => {
    const response = await call(alice, { authorization: basic('acme:web app', SECRET) });
    expect(response.status).toBe(200);
    expect(clientIdOf(response.body)).toBe('acme:web app');
  });

  it('authenticates with client_secret_post', async () => {
    const response = await call({ ...alice, client_id: 'acme:web app', client_secret: SECRET });
    expect(response.status).toBe(200);
    expect(clientIdOf(response.body)).toBe('acme:web app');
  });

  it('authenticates a public client by its client_id parameter', async () => {
    const response = await call({ ...alice, client_id: PUNCTUATED });
    expect(response.status).toBe(200);
    expect(clientIdOf(response.body)).toBe(PUNCTUATED);
  });

  it.each(REFUSED)(
    'answers a client_id with %s as an unknown client, without looking it up',
    async (_case, clientId) => {
      const lookup = vi.spyOn(deps.clients, 'getClient');
      const posted = await call({ ...alice, client_id: clientId });
      expect(posted.status).toBe(401);
      expect(JSON.parse(posted.body)).toMatchObject({ error: 'invalid_client' });
      if (clientId !== '') {
        const viaBasic = await call(alice, { authorization: basic(clientId, 'whatever') });
        expect(viaBasic.status).toBe(401);
        expect(JSON.parse(viaBasic.body)).toMatchObject({ error: 'invalid_client' });
        expect(viaBasic.headers['WWW-Authenticate']).toMatch(/^Basic /);
      }
      expect(lookup).not.toHaveBeenCalled();
      const failures = deps.logger.entries.filter((entry) => entry.event === 'client_authentication_failed');
      for (const entry of failures) expect(entry.fields).toMatchObject({ reason: 'unknown_client' });
    },
  );
});
