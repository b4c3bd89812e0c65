import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SdkCallRecord, SdkPrincipal } from '../../lambda/adapters/sdk-call-log';
import { PROJECT_ROOT } from '../../lib/functions';
import { sdkCallLogDir } from '../support/sdk-call-log';
import { type Check, expandToChecks, readRecording } from './checks';
import { type DeployedStack, deployedStack, type PolicyDocument } from './deployed-stack';
import { allowStatements, type Caller, evaluate, KEY_POLICY, namesPrincipal, type Verdict } from './evaluate';
import { LEGACY_VERIFIER_ARN } from './legacy-verifier';
import { operatorPolicy, renderForReadme } from './operator-policy';

type FunctionPrincipal = Exclude<SdkPrincipal, 'operator'>;

const README = join(PROJECT_ROOT, 'README.md');

/**
 * Granted to a function but made by no SDK call of its code, each with the reason it is needed. Every
 * other grant must be exercised by a recorded call (least privilege, the other way round).
 */
const GRANTS_WITHOUT_SDK_CALLS: readonly { principal: FunctionPrincipal; action: string; reason: string }[] = [
  ...(['token', 'jwks', 'metadata', 'rotateKeys'] as const).flatMap((principal) => [
    {
      principal,
      action: 'logs:CreateLogStream',
      reason: 'Lambda creates the log stream of each instance with the function role',
    },
    {
      principal,
      action: 'logs:PutLogEvents',
      reason: 'Lambda writes what the function prints to its log group with the function role',
    },
    // Granted by CDK only with `tracing` on: the runtime sends the segments, no SDK call of the code.
    {
      principal,
      action: 'xray:PutTraceSegments',
      reason: "Lambda's X-Ray daemon sends the function's trace segments with the function role",
    },
    {
      principal,
      action: 'xray:PutTelemetryRecords',
      reason: "Lambda's X-Ray daemon reports its telemetry with the function role",
    },
  ]),
];

/**
 * The authorization proof. The suites that ran before this file (the `suite` project; this one runs after
 * it) recorded every AWS SDK call the functions and the operator CLI made against DynamoDB Local and the
 * KMS emulator, which ignore IAM. Here each call is expanded into the permissions AWS checks for it, mapped
 * onto the resources of the synthesized template, and evaluated by an IAM policy simulator against the
 * calling function's role and, for KMS keys, the key policy.
 */
let stack: DeployedStack;
let records: SdkCallRecord[];
let verdicts: Verdict[];
let operatorVerdicts: Verdict[];
let policy: PolicyDocument;

beforeAll(async () => {
  // With lazy migration on, so that the token function's Invoke of the verifier (and its creation of the
  // users it vouches for) are judged, and a grant of them that no call uses would show.
  stack = deployedStack({ legacyVerifierFunctionArn: LEGACY_VERIFIER_ARN });
  records = readRecording(sdkCallLogDir());
  const checks = distinct(expandToChecks(records, stack));
  verdicts = [];
  for (const check of checks) {
    if (check.principal === 'operator') continue;
    verdicts.push(await evaluate(check, functionCaller(stack, check.principal), stack.account));
  }
  policy = operatorPolicy(checks, stack);
  const operator: Caller = {
    name: 'operator (the README policy)',
    arn: `arn:${stack.partition}:iam::${stack.account}:role/ropc-operator`,
    sessionArn: `arn:${stack.partition}:sts::${stack.account}:assumed-role/ropc-operator/operator`,
    policies: [{ name: 'operator', document: policy }],
  };
  operatorVerdicts = [];
  for (const check of checks) {
    if (check.principal === 'operator') operatorVerdicts.push(await evaluate(check, operator, stack.account));
  }
}, 120_000);

describe('IAM authorization of every recorded SDK call', () => {
  it('has a recording of the whole suite to judge', () => {
    const principals = new Set(records.map((record) => record.principal));
    expect(
      [...principals].sort(),
      `the recording in ${sdkCallLogDir()} lacks calls of some principals: run the whole suite (npm test), not this file alone`,
    ).toEqual(['jwks', 'operator', 'rotateKeys', 'token']);
  });

  it('allows every call each function makes, by its role and the key policy', () => {
    const denied = verdicts.filter((verdict) => !verdict.allowed);
    expect(denied.map(describeDenial), 'calls the deployed stack would refuse').toEqual([]);
    const proven = (list: Verdict[]) =>
      new Set(list.map(({ check }) => `${check.principal} ${check.action} ${check.label}`)).size;
    console.info(
      `IAM proof: ${records.length} recorded calls; distinct (role, action, resource) allowed: ${proven(verdicts)} for the functions, ` +
        `${proven(operatorVerdicts)} for the operator`,
    );
  });

  it("evaluates every call on a key rotation created under that key's policy: the first key's", () => {
    const onRotated = [...verdicts, ...operatorVerdicts].filter(
      (verdict) => verdict.check.label === 'a rotated signing key',
    );
    expect(onRotated.map((verdict) => verdict.check.keyPolicy)).toEqual(onRotated.map(() => stack.signingKey.policy));
    const allowed = new Set(
      onRotated.filter((verdict) => verdict.allowed).map(({ check }) => `${check.principal} ${check.action}`),
    );
    for (const call of ['token kms:Sign', 'jwks kms:GetPublicKey', 'rotateKeys kms:CreateAlias']) {
      expect([...allowed], call).toContain(call);
    }
  });

  it('grants each function no action that its calls do not need', () => {
    const unused: string[] = [];
    for (const principal of Object.keys(stack.roles) as FunctionPrincipal[]) {
      const role = stack.roles[principal];
      const granted = [
        ...allowStatements(role.policies),
        ...allowStatements([{ name: KEY_POLICY, document: stack.signingKey.policy }]).filter(({ statement }) =>
          namesPrincipal(statement, role.arn),
        ),
        ...allowStatements([{ name: KEY_POLICY, document: stack.mfaKey.policy }]).filter(({ statement }) =>
          namesPrincipal(statement, role.arn),
        ),
      ];
      const used = verdicts.filter((verdict) => verdict.check.principal === principal && verdict.allowed);
      for (const { ref, actions } of granted) {
        for (const action of actions) {
          const exercised = used.some(
            (verdict) => sameAction(verdict.check.action, action) && verdict.grantedBy.includes(ref),
          );
          const listed = GRANTS_WITHOUT_SDK_CALLS.some(
            (grant) => grant.principal === principal && sameAction(grant.action, action),
          );
          if (!exercised && !listed)
            unused.push(`${principal}: ${action} granted by ${ref} is used by no recorded call`);
        }
      }
    }
    expect(
      unused,
      'grants that no call needs (remove them, or list them in GRANTS_WITHOUT_SDK_CALLS with the reason)',
    ).toEqual([]);
  });
});

describe('operator permissions', () => {
  it('lets an operator with the README policy make every call ropc-admin was recorded making', () => {
    expect(operatorVerdicts.length).toBeGreaterThan(0);
    expect(operatorVerdicts.filter((verdict) => !verdict.allowed).map(describeDenial)).toEqual([]);
  });

  it('is the policy the README shows', () => {
    const expected = renderForReadme(policy, stack);
    const readme = readFileSync(README, 'utf8');
    const shown = /<!-- operator-policy -->\n```json\n([\s\S]*?)\n```/.exec(readme)?.[1];
    if (shown !== expected && process.env.UPDATE_README === '1') {
      writeFileSync(README, readme.replace(/(<!-- operator-policy -->\n```json\n)[\s\S]*?(\n```)/, `$1${expected}$2`));
      return;
    }
    expect(
      shown,
      'README.md "Operator permissions" is out of date (UPDATE_README=1 npx vitest run --project iam rewrites it)',
    ).toBe(expected);
  });
});

function functionCaller(stack: DeployedStack, principal: FunctionPrincipal): Caller {
  const role = stack.roles[principal];
  return {
    name: `${principal} function (role ${role.logicalId})`,
    arn: role.arn,
    sessionArn: role.sessionArn,
    policies: role.policies,
  };
}

function describeDenial(verdict: Verdict): string {
  const { check } = verdict;
  const context = Object.keys(check.context).length === 0 ? '' : ` with ${JSON.stringify(check.context)}`;
  return `${verdict.caller.name}: ${check.call} on ${check.label}${context} is ${verdict.decision}: ${verdict.missing}`;
}

function sameAction(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** One check per principal, action, resource, context and key policy: the recording repeats calls. */
function distinct(checks: readonly Check[]): Check[] {
  const seen = new Map<string, Check>();
  for (const check of checks) {
    const resource = check.label === 'a rotated signing key' ? check.label : check.resource;
    const key = JSON.stringify([
      check.principal,
      check.action,
      resource,
      sorted(check.context),
      check.keyPolicy ?? null,
    ]);
    if (!seen.has(key)) seen.set(key, check);
  }
  return [...seen.values()];
}

function sorted(record: Readonly<Record<string, unknown>>): [string, unknown][] {
  return Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
}
