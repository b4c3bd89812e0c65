/**
 * The refresh-token storage as the service had it before a family became one item, kept here so that the
 * refresh-model benchmark can measure it beside the current one: one item per token under the token's hash,
 * indexed by `byUser` (every attribute, on userId), and each rotation one TransactWriteItems of three items
 * (mark the presented token rotated, put its successor, check that the family has no revocation marker).
 * The item shape, the minting and the write path are the previous adapter's and grant's, unchanged; only
 * what a rotation needs is here (no revocation).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { TableDefinition } from '../contract/tables';
import { callDependency } from '../lambda/adapters/aws-errors';
import { CorruptItemError, isUsableKey, num, optionalStr, str, strList } from '../lambda/adapters/items';
import { DependencyUnavailableError } from '../lambda/oauth/errors';
import type { TokenEndpointDeps } from '../lambda/oauth/grants/grant';
import type { RefreshToken, RefreshTokenState } from '../lambda/oauth/ports';
import type { Random } from '../lambda/tokens/ports';
import { hashRefreshToken } from '../lambda/tokens/refresh-token';

/** The refresh-token table as it was defined then: key tokenHash, TTL expiresAt, `byUser` on userId (ALL). */
export const PREVIOUS_REFRESH_TOKENS_TABLE: TableDefinition = {
  name: 'refreshTokens',
  partitionKey: 'tokenHash',
  ttlAttribute: 'expiresAt',
  globalSecondaryIndexes: [{ indexName: 'byUser', partitionKey: 'userId' }],
  retain: false,
};

const TTL = PREVIOUS_REFRESH_TOKENS_TABLE.ttlAttribute!;
const STATES: readonly RefreshTokenState[] = ['active', 'rotated', 'revoked'];

type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

/** A token then: 256 random bits, base64url, with no family id in it. */
export function generatePreviousRefreshToken(random: Random): string {
  return Buffer.from(random.bytes(32)).toString('base64url');
}

/** A new refresh token and the record to store for it: the first of a family, or the successor of `previous`. */
export function mintPreviousRefreshToken(
  deps: Pick<TokenEndpointDeps, 'settings' | 'random'>,
  subject: { clientId: string; userId: string; username: string },
  scope: readonly string[],
  now: number,
  previous?: RefreshToken,
): { token: string; record: RefreshToken } {
  const token = generatePreviousRefreshToken(deps.random);
  const familyExpiresAt = previous?.familyExpiresAt ?? now + deps.settings.refreshTokenAbsoluteTtl;
  return {
    token,
    record: {
      tokenHash: hashRefreshToken(token),
      familyId: previous?.familyId ?? deps.random.uuid(),
      clientId: subject.clientId,
      userId: subject.userId,
      username: subject.username,
      scope: [...scope],
      generation: previous === undefined ? 0 : previous.generation + 1,
      issuedAt: now,
      familyIssuedAt: previous === undefined ? now : (previous.familyIssuedAt ?? previous.issuedAt),
      idleExpiresAt: Math.min(now + deps.settings.refreshTokenIdleTtl, familyExpiresAt),
      familyExpiresAt,
      state: 'active',
    },
  };
}

/** The key of a family's revocation marker, in the same table as the tokens. */
export function previousFamilyMarkerKey(familyId: string): string {
  return `family#${familyId}`;
}

/** A token's item: the record, its scope as a list, and the TTL (the earlier of its idle and family expiry). */
export function previousTokenItem(token: RefreshToken): Record<string, unknown> {
  return { ...token, scope: [...token.scope], [TTL]: Math.min(token.idleExpiresAt, token.familyExpiresAt) };
}

/**
 * The one conditional write of a rotation then: `current` becomes rotated only if it is still active and
 * unexpired at `now`, `next` is stored only if new, and neither happens once the family carries its
 * revocation marker.
 */
export function previousRotationWrite(
  tableName: string,
  current: RefreshToken,
  next: RefreshToken,
  now: number,
): TransactItems {
  return [
    {
      Update: {
        TableName: tableName,
        Key: { tokenHash: current.tokenHash },
        UpdateExpression: 'SET #state = :rotated, successorHash = :next, rotatedAt = :now',
        ConditionExpression: '#state = :active AND idleExpiresAt > :now AND familyExpiresAt > :now',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':rotated': 'rotated', ':active': 'active', ':next': next.tokenHash, ':now': now },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
    {
      Put: {
        TableName: tableName,
        Item: previousTokenItem(next),
        ConditionExpression: 'attribute_not_exists(tokenHash)',
      },
    },
    {
      ConditionCheck: {
        TableName: tableName,
        Key: { tokenHash: previousFamilyMarkerKey(current.familyId) },
        ConditionExpression: 'attribute_not_exists(tokenHash)',
      },
    },
  ];
}

/** The token's successor could not be committed: the token is no longer active (or its family is revoked). */
export class PreviousRefreshTokenConflictError extends Error {
  constructor(readonly current: RefreshToken | undefined) {
    super('refresh token is no longer active');
    this.name = 'PreviousRefreshTokenConflictError';
  }
}

/** The previous adapter's read, create and rotate, as they were. */
export class PreviousRefreshTokenStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(tokenHash: string): Promise<RefreshToken | undefined> {
    if (!isUsableKey(tokenHash)) return undefined;
    const { Item } = await callDependency('dynamodb', () =>
      this.db.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { [PREVIOUS_REFRESH_TOKENS_TABLE.partitionKey]: tokenHash },
          ConsistentRead: true,
        }),
      ),
    );
    return Item === undefined ? undefined : toRefreshToken(Item);
  }

  async create(token: RefreshToken): Promise<void> {
    await callDependency('dynamodb', () =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: previousTokenItem(token),
          ConditionExpression: 'attribute_not_exists(tokenHash)',
        }),
      ),
    );
  }

  async rotate(current: RefreshToken, next: RefreshToken, now: number): Promise<void> {
    try {
      await callDependency('dynamodb', () =>
        this.db.send(
          new TransactWriteCommand({ TransactItems: previousRotationWrite(this.tableName, current, next, now) }),
        ),
      );
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (reasons === undefined) throw error;
      const first = reasons[0];
      if (first?.Code === 'ConditionalCheckFailed') {
        const old =
          first.Item === undefined ? await this.get(current.tokenHash) : toRefreshToken(unmarshall(first.Item));
        throw new PreviousRefreshTokenConflictError(old);
      }
      // The family was revoked while the token was still active.
      if (reasons[2]?.Code === 'ConditionalCheckFailed')
        throw new PreviousRefreshTokenConflictError({ ...current, state: 'revoked' });
      // Another transaction held the item: tell the client to retry; nothing was written.
      if (reasons.some((reason) => reason.Code === 'TransactionConflict')) {
        const latest = await this.get(current.tokenHash);
        if (latest !== undefined && latest.state !== 'active') throw new PreviousRefreshTokenConflictError(latest);
        throw new DependencyUnavailableError('dynamodb', { cause: error });
      }
      throw error;
    }
  }
}

function cancellationReasons(error: unknown): { Code?: string; Item?: Record<string, AttributeValue> }[] | undefined {
  if (!(error instanceof Error) || error.name !== 'TransactionCanceledException') return undefined;
  return (
    (error as Error & { CancellationReasons?: { Code?: string; Item?: Record<string, AttributeValue> }[] })
      .CancellationReasons ?? []
  );
}

function toRefreshToken(item: Record<string, unknown>): RefreshToken {
  const table = 'refreshTokens';
  const state = str(item, table, 'state') as RefreshTokenState;
  if (!STATES.includes(state)) throw new CorruptItemError(table, 'state');
  return {
    tokenHash: str(item, table, 'tokenHash'),
    familyId: str(item, table, 'familyId'),
    clientId: str(item, table, 'clientId'),
    userId: str(item, table, 'userId'),
    username: str(item, table, 'username'),
    scope: strList(item, table, 'scope'),
    generation: num(item, table, 'generation'),
    issuedAt: num(item, table, 'issuedAt'),
    ...(item.familyIssuedAt === undefined ? {} : { familyIssuedAt: num(item, table, 'familyIssuedAt') }),
    idleExpiresAt: num(item, table, 'idleExpiresAt'),
    familyExpiresAt: num(item, table, 'familyExpiresAt'),
    state,
    successorHash: optionalStr(item, table, 'successorHash'),
  };
}
