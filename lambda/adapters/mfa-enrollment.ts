import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { USER_MFA_ATTRIBUTES, USERS_TABLE } from '../../contract/tables';

/** What an enrollment stores on the user item (the secret already encrypted for the user). */
export interface MfaEnrollmentRecord {
  readonly userId: string;
  readonly secretCiphertext: Uint8Array;
  readonly enrolledAt: string;
  readonly recoveryCodeHashes: readonly string[];
}

export type EnrollOutcome = 'enrolled' | 'no_such_user' | 'already_enrolled';
export type DisableOutcome = 'disabled' | 'no_such_user' | 'not_enrolled';

const KEY = USERS_TABLE.partitionKey;
const { secret, enrolledAt, lastStep, recoveryCodeHashes } = USER_MFA_ATTRIBUTES;
const NAMES = { '#key': KEY, '#secret': secret, '#at': enrolledAt, '#step': lastStep, '#codes': recoveryCodeHashes };

/** The operator's writes of a user's second factor: one conditional UpdateItem each. */
export class DynamoMfaEnrollment {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Enrolls the user, whose id must still be `record.userId` (the secret is encrypted for it), unless
   * enrolled already (a second enrollment would silently invalidate the authenticator the user has; the
   * operator disables first). The same write ends the user's sessions: what was logged in with one
   * factor does not stay logged in once two are required.
   */
  async enroll(username: string, record: MfaEnrollmentRecord): Promise<EnrollOutcome> {
    const stored = await this.update(username, {
      UpdateExpression: 'SET #secret = :secret, #at = :at, #codes = :codes REMOVE #step ADD sessionEpoch :one',
      ConditionExpression: 'attribute_exists(#key) AND userId = :userId AND attribute_not_exists(#secret)',
      ExpressionAttributeNames: NAMES,
      ExpressionAttributeValues: {
        ':secret': record.secretCiphertext,
        ':at': record.enrolledAt,
        ':codes': new Set(record.recoveryCodeHashes),
        ':one': 1,
        ':userId': record.userId,
      },
    });
    if (stored === 'written') return 'enrolled';
    return stored === undefined || stored.userId?.S !== record.userId ? 'no_such_user' : 'already_enrolled';
  }

  /** Removes the second factor; a second step in flight then fails on the enrollment it read. */
  async disable(username: string): Promise<DisableOutcome> {
    const stored = await this.update(username, {
      UpdateExpression: 'REMOVE #secret, #at, #step, #codes',
      ConditionExpression: 'attribute_exists(#key) AND attribute_exists(#secret)',
      ExpressionAttributeNames: NAMES,
    });
    if (stored === 'written') return 'disabled';
    return stored === undefined ? 'no_such_user' : 'not_enrolled';
  }

  /** 'written', or the item as it stood when the condition refused the write (undefined: no such user). */
  private async update(
    username: string,
    expression: Pick<
      ConstructorParameters<typeof UpdateCommand>[0],
      'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
    >,
  ): Promise<'written' | Record<string, AttributeValue> | undefined> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [KEY]: username },
          ...expression,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'written';
    } catch (error) {
      if (!(error instanceof Error) || error.name !== 'ConditionalCheckFailedException') throw error;
      return (error as Error & { Item?: Record<string, AttributeValue> }).Item;
    }
  }
}
