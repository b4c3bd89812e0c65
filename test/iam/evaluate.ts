import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { Check } from './checks';
import type { PolicyDocument, PolicyStatement } from './deployed-stack';

/** Who makes a check's call, as IAM sees it: the session ARN and the policies attached to its identity. */
export interface Caller {
  readonly name: string;
  /** The role (or user) ARN that resource policies name. */
  readonly arn: string;
  readonly sessionArn: string;
  readonly policies: readonly { readonly name: string; readonly document: PolicyDocument }[];
}

/** A statement, named as the evaluator reports it decisive: `<policy>#<Sid or 1-based index>`. */
export type StatementRef = string;

export interface Verdict {
  readonly check: Check;
  readonly caller: Caller;
  readonly allowed: boolean;
  readonly decision: string;
  /** The Allow statements that granted it, in the identity's policies and in the resource policy. */
  readonly grantedBy: readonly StatementRef[];
  /** Why it was refused, in words, when it was. */
  readonly missing?: string;
}

export const KEY_POLICY = 'key policy';

/**
 * Evaluates one check with @cloud-copilot/iam-simulate in strict mode: the identity policies of the caller
 * and, for a KMS key, its key policy (which KMS requires to allow the call itself or to let the account's
 * IAM policies decide). Every condition key a statement reads must be in the check's context, or the
 * statement does not apply.
 */
export async function evaluate(check: Check, caller: Caller, account: string): Promise<Verdict> {
  const result = await runSimulation(
    {
      request: {
        principal: caller.sessionArn,
        action: check.action,
        resource: { resource: check.resource, accountId: account },
        contextVariables: { ...check.context },
      },
      identityPolicies: caller.policies.map((policy) => ({ name: policy.name, policy: policy.document })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: check.keyPolicy,
    },
    { simulationMode: 'Strict' },
  );
  if (result.resultType === 'error') {
    throw new Error(`the IAM simulator refused ${check.action} on ${check.resource}: ${JSON.stringify(result.errors)}`);
  }
  if (result.resultType !== 'single') throw new Error(`${check.action} on ${check.resource} matched several resources`);
  const analysis = result.result.analysis as unknown as {
    identityAnalysis?: { result: string; allowStatements: { policyId?: string; explain: { identifier: string } }[] };
    resourceAnalysis?: { result: string; allowStatements: { explain: { identifier: string } }[] };
  };
  const identityAllows = (analysis.identityAnalysis?.allowStatements ?? []).map(
    (s) => `${s.policyId}#${s.explain.identifier}`,
  );
  const resourceAllows = (analysis.resourceAnalysis?.allowStatements ?? []).map(
    (s) => `${KEY_POLICY}#${s.explain.identifier}`,
  );
  const allowed = result.overallResult === 'Allowed';
  return {
    check,
    caller,
    allowed,
    decision: result.overallResult,
    grantedBy: allowed ? [...identityAllows, ...resourceAllows] : [],
    missing: allowed ? undefined : missingGrant(check, identityAllows.length > 0, resourceAllows.length > 0),
  };
}

function missingGrant(check: Check, identityAllows: boolean, keyPolicyAllows: boolean): string {
  const grant = `${check.action} on ${check.resource}`;
  if (check.keyPolicy === undefined) return `no statement of the role's policies allows ${grant}`;
  if (!identityAllows && !keyPolicyAllows) {
    return `neither the role's policies nor the key policy allow ${grant}`;
  }
  if (identityAllows) {
    return `the role's policies allow ${grant}, but the key policy neither allows it for the role nor lets the account's IAM policies decide it`;
  }
  return `the key policy lets IAM decide ${grant}, but no statement of the role's policies allows it`;
}

/** Every Allow statement of a set of policies, as the evaluator names them, with its actions. */
export function allowStatements(policies: readonly { readonly name: string; readonly document: PolicyDocument }[]): {
  ref: StatementRef;
  statement: PolicyStatement;
  actions: string[];
}[] {
  return policies.flatMap((policy) =>
    policy.document.Statement.map((statement, index) => ({
      ref: `${policy.name}#${statement.Sid ?? String(index + 1)}`,
      statement,
      actions: [statement.Action].flat() as string[],
    })).filter(({ statement }) => statement.Effect === 'Allow'),
  );
}

/** Whether a key-policy statement names `arn` as a principal. */
export function namesPrincipal(statement: PolicyStatement, arn: string): boolean {
  const principal = statement.Principal as { AWS?: string | string[] } | undefined;
  return [principal?.AWS ?? []].flat().includes(arn);
}
