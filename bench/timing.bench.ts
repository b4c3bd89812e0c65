import { createHash, pbkdf2Sync, randomBytes, randomUUID } from 'node:crypto';
import { argon2id, bcrypt } from 'hash-wasm';
import { registerClient, registerUser } from '../lambda/accounts';
import { createDocumentClient } from '../lambda/adapters/aws-clients';
import { DynamoClientStore } from '../lambda/adapters/client-store';
import { DynamoUserStore } from '../lambda/adapters/user-store';
import { DEFAULT_SCRYPT_PARAMS, hashPassword } from '../lambda/passwords';
import { startLocalStack } from '../local/stack';
import { LOCAL_CREDENTIALS } from '../local/state';
import { type Bench, round, stats } from './lib';

const SAMPLES = 40;
const SECRET = 'bench-secret';

/**
 * Imported users' hashes at the parameters their systems typically used: a wrong password for one of them
 * must cost what it costs a scrypt user (the hasher runs a scrypt beside the legacy check), or the timing
 * would tell imported accounts, and the cheap ones, apart.
 */
const LEGACY_KINDS: readonly { readonly kind: string; readonly hash: (password: string) => Promise<string> }[] = [
  {
    kind: 'bcrypt cost 10',
    hash: (password) => bcrypt({ password, salt: randomBytes(16), costFactor: 10, outputType: 'encoded' }),
  },
  {
    kind: 'argon2id m=65536,t=3,p=4',
    hash: (password) =>
      argon2id({
        password,
        salt: randomBytes(16),
        memorySize: 65536,
        iterations: 3,
        parallelism: 4,
        hashLength: 32,
        outputType: 'encoded',
      }),
  },
  {
    kind: 'passlib pbkdf2-sha256 29000',
    hash: async (password) => {
      const salt = randomBytes(16);
      const ab64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '').replaceAll('+', '.');
      return `$pbkdf2-sha256$29000$${ab64(salt)}$${ab64(pbkdf2Sync(password, salt, 29000, 32, 'sha256'))}`;
    },
  },
  {
    kind: 'Django pbkdf2_sha256 600000',
    hash: async (password) => {
      const salt = randomBytes(16).toString('hex').slice(0, 22);
      return `pbkdf2_sha256$600000$${salt}$${pbkdf2Sync(password, salt, 600000, 32, 'sha256').toString('base64')}`;
    },
  },
  {
    kind: 'LDAP {SSHA}',
    hash: async (password) => {
      const salt = randomBytes(8);
      return `{SSHA}${Buffer.concat([createHash('sha1').update(password).update(salt).digest(), salt]).toString('base64')}`;
    },
  },
];

/**
 * Whether a response's timing tells an attacker anything: unknown user, wrong password (of a scrypt user and
 * of an imported user of each legacy kind) and a locked account, interleaved, against the local stack
 * (DynamoDB Local, KMS emulator) at the production scrypt parameters. The goal is a ratio of 1.00 ± 0.05
 * between the scrypt cases, and 1.00 ± 0.10 from each legacy kind to a scrypt user's wrong password.
 */
export const timingBench: Bench = {
  name: 'timing',
  async run() {
    const stack = await startLocalStack({ config: { scrypt: DEFAULT_SCRYPT_PARAMS }, logSink: () => undefined });
    try {
      const db = createDocumentClient({
        region: stack.region,
        dynamodbEndpoint: stack.dynamodbEndpoint,
        credentials: LOCAL_CREDENTIALS,
      });
      const random = { bytes: (length: number) => randomBytes(length), uuid: randomUUID };
      // A back end trusted with X-End-User-IP lets each sample come from its own IP, so the per-IP
      // budget does not turn the unknown-user and wrong-password samples into locked ones.
      await registerClient(
        { clients: new DynamoClientStore(db, stack.tables.clients), clock: Date.now, random },
        {
          clientId: 'bench',
          secret: SECRET,
          isPublic: false,
          scopes: ['read'],
          grantTypes: ['password', 'refresh_token'],
          trustEndUserIp: true,
        },
      );
      const users = { users: new DynamoUserStore(db, stack.tables.users), clock: Date.now, random };
      // One scrypt run at the production parameters, shared by every user.
      const hash = await hashPassword('the right password', DEFAULT_SCRYPT_PARAMS);
      const names = Array.from({ length: SAMPLES + 1 }, (_, i) => `user-${i}`);
      for (const username of names) await registerUser(users, { username, passwordHash: hash, scopes: ['read'] });
      // Each legacy kind: SAMPLES users for the wrong passwords (one each, so no user reaches its hourly
      // ceiling), sharing one hash, and one more whose right password shows that the hash verifies.
      const legacyNames = new Map<string, string[]>();
      for (const [index, { kind, hash: legacyHash }] of LEGACY_KINDS.entries()) {
        const passwordHash = await legacyHash('the right password');
        const kindNames = Array.from({ length: SAMPLES + 1 }, (_, i) => `legacy-${index}-${i}`);
        for (const username of kindNames) await registerUser(users, { username, passwordHash, scopes: ['read'] });
        legacyNames.set(kind, kindNames);
      }
      db.destroy();

      let ipCounter = 0;
      const nextIp = () => `10.${(++ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
      const attempt = async (username: string, password: string, ip: string) => {
        const start = performance.now();
        const response = await fetch(stack.tokenEndpoint, {
          method: 'POST',
          headers: {
            Authorization: `Basic ${Buffer.from(`bench:${SECRET}`).toString('base64')}`,
            'Content-Type': 'application/x-www-form-urlencoded',
            'X-End-User-IP': ip,
          },
          body: new URLSearchParams({ grant_type: 'password', username, password }),
        });
        const body = await response.text();
        return { ms: performance.now() - start, status: response.status, body };
      };

      // Lock one account from one IP: 15 failures put the backoff at its 15-minute cap, and each refused
      // attempt counts as one more failure, so it stays locked for the whole run.
      const locked = names[SAMPLES]!;
      const lockedIp = '192.0.2.1';
      for (let i = 0; i < 15; i++) await attempt(locked, 'wrong', lockedIp);
      for (let i = 0; i < 3; i++) await attempt('warm-up', 'x', nextIp());

      for (const [kind, kindNames] of legacyNames) {
        const result = await attempt(kindNames[SAMPLES]!, 'the right password', nextIp());
        if (result.status !== 200) throw new Error(`${kind}: the right password answered ${result.status}`);
      }

      const legacyCase = (kind: string) => `wrong password, ${kind} user`;
      const samples: Record<string, number[]> = {
        'unknown user': [],
        'wrong password': [],
        'locked (right password)': [],
        ...Object.fromEntries(LEGACY_KINDS.map(({ kind }) => [legacyCase(kind), []])),
      };
      const bodies = new Set<string>();
      for (let i = 0; i < SAMPLES; i++) {
        type Run = [kind: string, run: () => ReturnType<typeof attempt>];
        const runs: Run[] = [
          ['unknown user', () => attempt(`nobody-${randomUUID()}`, 'the right password', nextIp())],
          ['wrong password', () => attempt(names[i]!, 'the wrong password', nextIp())],
          ['locked (right password)', () => attempt(locked, 'the right password', lockedIp)],
          ...[...legacyNames].map(
            ([kind, kindNames]): Run => [
              legacyCase(kind),
              () => attempt(kindNames[i]!, 'the wrong password', nextIp()),
            ],
          ),
        ];
        // Rotate the order each round so no kind always runs first.
        for (let k = 0; k < runs.length; k++) {
          const [kind, run] = runs[(i + k) % runs.length]!;
          const result = await run();
          if (result.status !== 400) throw new Error(`${kind} answered ${result.status}`);
          bodies.add(result.body);
          samples[kind]!.push(result.ms);
        }
      }
      const reference = stats(samples['wrong password']!).p50;
      const rows = Object.entries(samples).map(([kind, values]) => {
        const s = stats(values);
        return [kind, s.n, round(s.p50, 1), round(s.mean, 1), round(s.p90, 1), round(s.p50 / reference, 3)];
      });
      return {
        name: `response timing of refused password grants (scrypt N=2^${Math.log2(DEFAULT_SCRYPT_PARAMS.N)}, local stack)`,
        columns: ['case', 'n', 'median ms', 'mean ms', 'p90 ms', 'median ratio to wrong password'],
        rows,
        notes: [
          `distinct response bodies across all cases: ${bodies.size} (goal 1)`,
          'goal: the scrypt cases within 1.00 ± 0.05 of each other, every legacy kind within 1.00 ± 0.10',
        ],
        data: samples,
      };
    } finally {
      await stack.stop();
    }
  },
};
