/** keys list | rotate | revoke: the signing-key lifecycle (lambda/tokens/key-registry.ts). */
import { type KeyStatus, SigningKeyManager } from '../../lambda/adapters/key-manager';
import { DynamoSigningKeyStore } from '../../lambda/adapters/signing-key-store';
import { AlreadyRevokedError, DEFAULT_PROPAGATION_SECONDS, UnknownKeyError } from '../../lambda/tokens/key-registry';
import { arg, type CommandContext, type CommandHandler, type CommandResult, formatTable } from './command';
import { OperationalError, UsageError } from './errors';
import type { CommandId } from './spec';
import type { Target } from './target';

function manager(target: Target, context: CommandContext): SigningKeyManager {
  return new SigningKeyManager(target.kms(), new DynamoSigningKeyStore(target.db, target.tables.signingKeys), {
    deployment: target.deployment,
    bootstrapKeyId: target.signingKeyAlias,
    accessTokenTtl: target.accessTokenTtl,
    clock: () => context.now().getTime(),
  });
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "0", "90", "90s", "30m", "3h", "2d", or combinations such as "1h30m". */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const parts = [...trimmed.matchAll(/(\d+)([smhd])/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== trimmed) {
    throw new UsageError(`invalid duration "${text}": use seconds or a combination like 90s, 30m, 3h, 2d, 1h30m`);
  }
  return parts.reduce((total, part) => total + Number(part[1]) * UNITS[part[2]!]!, 0);
}

const iso = (seconds: number | undefined) =>
  seconds === undefined ? undefined : new Date(seconds * 1000).toISOString();

function keyJson({ key, phase }: KeyStatus): Record<string, unknown> {
  return {
    kid: key.kid,
    phase,
    state: key.state,
    key_arn: key.keyArn,
    alg: key.alg,
    created_at: iso(key.createdAt),
    signs_from: iso(key.signsFrom),
    retired_at: iso(key.retiredAt) ?? null,
    unpublish_after: iso(key.unpublishAfter) ?? null,
    revoked_at: iso(key.revokedAt) ?? null,
    deletion_scheduled_at: iso(key.deletionScheduledAt) ?? null,
  };
}

async function listKeys(context: CommandContext): Promise<CommandResult> {
  const statuses = await manager(await context.target(), context).list();
  const rows = statuses.map(({ key, phase }) => [
    phase,
    key.kid,
    key.keyArn,
    iso(key.createdAt) ?? '-',
    iso(key.signsFrom) ?? '-',
    iso(key.retiredAt) ?? '-',
    iso(key.unpublishAfter) ?? '-',
  ]);
  return {
    json: { keys: statuses.map(keyJson) },
    human: formatTable(['PHASE', 'KID', 'KMS KEY ARN', 'CREATED', 'SIGNS FROM', 'RETIRED', 'UNPUBLISH AFTER'], rows),
  };
}

async function rotateKeys(context: CommandContext): Promise<CommandResult> {
  const propagation =
    context.strings.propagation === undefined
      ? DEFAULT_PROPAGATION_SECONDS
      : parseDuration(context.strings.propagation);
  const result = await manager(await context.target(), context).rotate(propagation);
  return {
    json: {
      created: keyJson({ key: result.created, phase: propagation === 0 ? 'signing' : 'pending' }),
      scheduled_for_deletion: result.scheduledForDeletion,
    },
    human: [
      `Created signing key ${result.created.kid} (${result.created.keyArn}).`,
      `It is published now and signs from ${iso(result.created.signsFrom)}${propagation === 0 ? ' (at once)' : ''}.`,
      ...deletionLines(result.scheduledForDeletion),
    ].join('\n'),
    subject: result.created.kid,
  };
}

async function revokeKey(context: CommandContext): Promise<CommandResult> {
  const kid = arg(context, 'KID');
  let result: Awaited<ReturnType<SigningKeyManager['revoke']>>;
  try {
    result = await manager(await context.target(), context).revoke(kid);
  } catch (error) {
    if (error instanceof UnknownKeyError || error instanceof AlreadyRevokedError)
      throw new OperationalError(error.message);
    throw error;
  }
  return {
    json: {
      revoked: kid,
      created: result.created === undefined ? null : keyJson({ key: result.created, phase: 'signing' }),
      scheduled_for_deletion: result.scheduledForDeletion,
    },
    human: [
      `Revoked signing key ${kid}: its KMS key is disabled (nothing signs with it from now on) and it is no longer published.`,
      ...(result.created === undefined
        ? []
        : [`No other key was left: created ${result.created.kid}, which signs from now.`]),
      ...deletionLines(result.scheduledForDeletion),
    ].join('\n'),
  };
}

function deletionLines(kids: readonly string[]): string[] {
  return kids.length === 0 ? [] : [`Scheduled the KMS deletion of ${kids.join(', ')} (after the KMS waiting period).`];
}

export const KEY_COMMANDS: Record<Extract<CommandId, `keys ${string}`>, CommandHandler> = {
  'keys list': listKeys,
  'keys rotate': rotateKeys,
  'keys revoke': revokeKey,
};
