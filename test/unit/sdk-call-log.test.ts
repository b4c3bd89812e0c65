import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { DynamoDBDocumentClient, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { recordSdkCalls } from '../../lambda/adapters/sdk-call-log';

const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/** A KMS client whose calls are answered here, after the recorder has seen them: no network. */
function answeringClient(): KMSClient {
  const client = new KMSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  client.middlewareStack.add(
    () => async () => ({
      response: {},
      output: { KeyId: KEY_ARN, Signature: Uint8Array.from([7, 7, 7]), $metadata: {} },
    }),
    { step: 'initialize', priority: 'low', name: 'answer' },
  );
  return client;
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the SDK call log (the authorization proof reads it)', () => {
  it('records the principal, the command, resource names and IAM condition values, never the message or the answer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sdk-call-log-'));
    dirs.push(dir);
    const client = answeringClient();
    recordSdkCalls(client, 'kms', 'token', { ROPC_SDK_CALL_LOG: dir });
    const secret = Buffer.from('a digest that is nobody else’s business');
    await client.send(
      new SignCommand({
        KeyId: 'alias/x',
        Message: secret,
        MessageType: 'DIGEST',
        SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
      }),
    );
    const [file] = readdirSync(dir);
    const text = readFileSync(join(dir, file!), 'utf8');
    expect(
      text
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
    ).toEqual([
      {
        principal: 'token',
        service: 'kms',
        command: 'Sign',
        input: { KeyId: 'alias/x', MessageType: 'DIGEST', SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' },
        output: { KeyId: KEY_ARN },
      },
    ]);
    expect(text).not.toContain(secret.toString('base64'));
  });

  it('records nothing without a directory or a principal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sdk-call-log-'));
    dirs.push(dir);
    const client = answeringClient();
    recordSdkCalls(client, 'kms', 'token', {});
    recordSdkCalls(client, 'kms', undefined, { ROPC_SDK_CALL_LOG: dir });
    await client.send(
      new SignCommand({ KeyId: 'alias/x', Message: Buffer.from('m'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' }),
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it('never fails the call it records: a directory removed under it is made again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sdk-call-log-'));
    dirs.push(dir);
    const client = answeringClient();
    recordSdkCalls(client, 'kms', 'jwks', { ROPC_SDK_CALL_LOG: dir });
    const sign = () =>
      client.send(
        new SignCommand({ KeyId: KEY_ARN, Message: Buffer.from('m'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' }),
      );
    await sign();
    rmSync(dir, { recursive: true, force: true });
    await expect(sign()).resolves.toMatchObject({ KeyId: KEY_ARN });
    expect(
      readFileSync(join(dir, readdirSync(dir)[0]!), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(1);
  });

  it('records the names of the attributes a write touches, never their values', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sdk-call-log-'));
    dirs.push(dir);
    const base = new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    const db = DynamoDBDocumentClient.from(base);
    base.middlewareStack.add(() => async () => ({ response: {}, output: { $metadata: {} } }), {
      step: 'initialize',
      priority: 'low',
      name: 'answer',
    });
    recordSdkCalls(db, 'dynamodb', 'token', { ROPC_SDK_CALL_LOG: dir });
    const hash = '$scrypt$ln=17,r=8,p=1$c2FsdA$aGFzaA';
    await db.send(
      new UpdateCommand({
        TableName: 'users',
        Key: { username: 'alice@example.com' },
        UpdateExpression: 'SET passwordHash = :next',
        ConditionExpression: 'passwordHash = :previous',
        ExpressionAttributeValues: { ':next': hash, ':previous': 'old' },
      }),
    );
    await db.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: 'tokens',
              Key: { tokenHash: 'h' },
              UpdateExpression: 'SET #state = :rotated, rotatedAt = :now, list_item[0].inner = :x REMOVE #ttl',
              ConditionExpression: '#state = :active AND size(scope) > :zero AND attribute_exists(#key)',
              ExpressionAttributeNames: { '#state': 'state', '#ttl': 'expiresAt', '#key': 'tokenHash' },
              ExpressionAttributeValues: { ':rotated': 'r', ':now': 1, ':x': 2, ':active': 'a', ':zero': 0 },
            },
          },
        ],
      }),
    );
    const text = readFileSync(join(dir, readdirSync(dir)[0]!), 'utf8');
    const [update, transaction] = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(update.input).toEqual({ TableName: 'users', Attributes: ['passwordHash', 'username'] });
    expect(transaction.input.TransactItems).toEqual([
      {
        kind: 'Update',
        TableName: 'tokens',
        Attributes: ['expiresAt', 'list_item', 'rotatedAt', 'scope', 'state', 'tokenHash'],
      },
    ]);
    expect(text).not.toContain('alice@example.com');
    expect(text).not.toContain(hash);
  });
});
