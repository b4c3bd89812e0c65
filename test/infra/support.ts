import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import { App, CfnResource, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { addTokenService } from '../../lib/app';
import { PROJECT_ROOT } from '../../lib/functions';
import type { TokenServiceStack } from '../../lib/token-service-stack';

/** The feature flags and settings of cdk.json, as `cdk synth` sees them. */
export const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8'),
).context;

export interface SynthesizedService {
  readonly app: App;
  readonly stack: TokenServiceStack;
  readonly template: Template;
}

/**
 * The app as bin/app.ts builds it (cdk.json's context plus `extra`, cdk-nag attached), without bundling:
 * `aws:cdk:bundling-stacks: []` is CDK's own switch for that (code assets become placeholders, every
 * other property is the real one). test/infra/synth.test.ts bundles for real through the CLI.
 */
export function synthService(extra: Record<string, unknown> = {}): SynthesizedService {
  const app = new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], ...extra } });
  const stack = addTokenService(app);
  return { app, stack, template: Template.fromStack(stack) };
}

/** The logical id of an L1 construct, or of an L2 construct's L1 (never hard-coded in the tests). */
export function logicalId(construct: IConstruct): string {
  const element = CfnResource.isCfnResource(construct) ? construct : (construct.node.defaultChild as CfnElement);
  return Stack.of(construct).getLogicalId(element);
}

/** Every acknowledgment recorded under `root`: construct path, rule id, reason. */
export function acknowledgments(root: IConstruct): { path: string; id: string; reason: string }[] {
  const found: { path: string; id: string; reason: string }[] = [];
  for (const construct of root.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        found.push({ path: construct.node.path, id: id.replace(/^annotation::/i, ''), reason });
      }
    }
  }
  return found;
}

/** Removes every acknowledgment under `root`, to show what cdk-nag finds without them. */
export function dropAcknowledgments(root: IConstruct): void {
  for (const construct of root.node.findAll()) {
    const metadata = (construct.node as unknown as { _metadata?: { type: string }[] })._metadata;
    if (metadata === undefined) continue;
    for (let i = metadata.length - 1; i >= 0; i--) {
      if (metadata[i]?.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) metadata.splice(i, 1);
    }
  }
}

export type Resources = Record<
  string,
  { Type: string; Properties?: Record<string, any>; DeletionPolicy?: string; DependsOn?: string[] }
>;

export function resourcesOfType(template: Template, type: string): Resources {
  return template.findResources(type) as Resources;
}

/** IAM and key-policy statements, with Action and Resource always arrays. */
export interface Statement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action: string[];
  readonly Resource: unknown[];
  readonly Principal?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

export function statements(document: { Statement: any[] }): Statement[] {
  return document.Statement.map((statement) => ({
    ...statement,
    Action: [statement.Action].flat(),
    Resource: [statement.Resource].flat(),
  }));
}
