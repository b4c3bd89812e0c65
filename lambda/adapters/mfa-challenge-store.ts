import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { MFA_CHALLENGES_TABLE, USER_MFA_ATTRIBUTES, USERS_TABLE } from '../../contract/tables';
import { MFA_TOKEN_MAX_FAILURES, type MfaChallenge } from '../mfa/mfa-token';
import type { ChallengeReservation, MfaChallengeStore, SecondFactorUse } from '../oauth/ports';
import { callDependency } from './aws-errors';
import { isUsableKey, num, str, strList } from './items';

const KEY = MFA_CHALLENGES_TABLE.partitionKey;
const TABLE = 'mfaChallenges';

/**
 * Pending second factors in DynamoDB, and the commit of a second step: the challenge's deletion and the
 * code's use on the user item, in one TransactWriteItems (lambda/oauth/ports.ts MfaChallengeStore).
 */
export class DynamoMfaChallengeStore implements MfaChallengeStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly usersTableName: string,
  ) {}

  async create(challenge: MfaChallenge): Promise<void> {
    await callDependency('dynamodb', () =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...challenge, scope: [...challenge.scope] },
          ConditionExpression: 'attribute_not_exists(#key)',
          ExpressionAttributeNames: { '#key': KEY },
        }),
      ),
    );
  }

  async get(tokenHash: string): Promise<MfaChallenge | undefined> {
    if (!isUsableKey(tokenHash)) return undefined;
    const { Item } = await callDependency('dynamodb', () =>
      this.db.send(new GetCommand({ TableName: this.tableName, Key: { [KEY]: tokenHash }, ConsistentRead: true })),
    );
    return Item === undefined ? undefined : toChallenge(Item);
  }

  async reserveAttempt(challenge: MfaChallenge, now: number): Promise<ChallengeReservation> {
    try {
      const { Attributes } = await callDependency('dynamodb', () =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { [KEY]: challenge.tokenHash },
            UpdateExpression: 'ADD failures :one',
            // mfaChallengeRefusal's rules (lambda/mfa/mfa-token.ts), in the write: no attempt past them is counted.
            ConditionExpression:
              'attribute_exists(#key) AND clientId = :client AND expiresAt > :now AND failures < :max',
            ExpressionAttributeNames: { '#key': KEY },
            ExpressionAttributeValues: {
              ':one': 1,
              ':client': challenge.clientId,
              ':now': now,
              ':max': MFA_TOKEN_MAX_FAILURES,
            },
            ReturnValues: 'ALL_NEW',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
      return { granted: true, challenge: toChallenge(Attributes ?? {}) };
    } catch (error) {
      if (!(error instanceof Error) || error.name !== 'ConditionalCheckFailedException') throw error;
      const stored = (error as Error & { Item?: Record<string, AttributeValue> }).Item;
      return { granted: false, stored: stored === undefined ? undefined : toChallenge(unmarshall(stored)) };
    }
  }

  async complete(challenge: MfaChallenge, enrolledAt: string, use: SecondFactorUse): Promise<'completed' | 'conflict'> {
    const { enrolledAt: enrolled, lastStep, recoveryCodeHashes } = USER_MFA_ATTRIBUTES;
    const userUpdate: {
      UpdateExpression: string;
      ConditionExpression: string;
      ExpressionAttributeNames: Record<string, string>;
      ExpressionAttributeValues: Record<string, unknown>;
    } =
      use.kind === 'totp'
        ? {
            UpdateExpression: 'SET #step = :step',
            // Later than the last accepted step, whichever token or request accepted it (RFC 6238 §5.2).
            ConditionExpression: '#enrolled = :enrolled AND (attribute_not_exists(#step) OR #step < :step)',
            ExpressionAttributeNames: { '#step': lastStep, '#enrolled': enrolled },
            ExpressionAttributeValues: { ':step': use.step, ':enrolled': enrolledAt },
          }
        : {
            // By value, from a set: of two uses of one code one finds it gone; two different codes both go.
            UpdateExpression: 'DELETE #codes :spent',
            ConditionExpression: '#enrolled = :enrolled AND contains(#codes, :code)',
            ExpressionAttributeNames: { '#codes': recoveryCodeHashes, '#enrolled': enrolled },
            ExpressionAttributeValues: { ':spent': new Set([use.hash]), ':code': use.hash, ':enrolled': enrolledAt },
          };
    try {
      await callDependency('dynamodb', () =>
        this.db.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Delete: {
                  TableName: this.tableName,
                  Key: { [KEY]: challenge.tokenHash },
                  ConditionExpression: 'attribute_exists(#key)',
                  ExpressionAttributeNames: { '#key': KEY },
                },
              },
              {
                Update: {
                  TableName: this.usersTableName,
                  Key: { [USERS_TABLE.partitionKey]: challenge.username },
                  ...userUpdate,
                },
              },
            ],
          }),
        ),
      );
      return 'completed';
    } catch (error) {
      // A condition failed (the token was used, the step or the code spent, the enrollment changed), or a
      // concurrent transaction on the same items won: either way this request is the one that lost.
      if (isLostRace(error)) return 'conflict';
      throw error;
    }
  }
}

function toChallenge(item: Record<string, unknown>): MfaChallenge {
  return {
    tokenHash: str(item, TABLE, KEY),
    clientId: str(item, TABLE, 'clientId'),
    userId: str(item, TABLE, 'userId'),
    username: str(item, TABLE, 'username'),
    scope: strList(item, TABLE, 'scope'),
    ...(item.sessionEpoch === undefined ? {} : { sessionEpoch: num(item, TABLE, 'sessionEpoch') }),
    issuedAt: num(item, TABLE, 'issuedAt'),
    expiresAt: num(item, TABLE, 'expiresAt'),
    failures: num(item, TABLE, 'failures'),
  };
}

/** Cancellation reasons that mean another request got there first; any other (throttling) is a fault. */
const LOST_RACE = new Set(['None', 'ConditionalCheckFailed', 'TransactionConflict']);

function isLostRace(error: unknown): boolean {
  if (!(error instanceof Error) || error.name !== 'TransactionCanceledException') return false;
  const reasons = (error as Error & { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.every((reason) => LOST_RACE.has(reason.Code ?? 'None'));
}
