import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { settingsFromContext } from './context';
import { TokenServiceStack } from './token-service-stack';

/**
 * Adds the service to a CDK app the way `cdk synth`/`cdk deploy` build it: settings from the context
 * (cdk.json, `-c key=value`; a key that is neither a setting nor CDK's own stops the synthesis), the
 * account and region of the CLI's credentials when there are any, and cdk-nag's AwsSolutions checks,
 * which fail the synthesis on any finding not acknowledged with a reason.
 */
export function addTokenService(app: App): TokenServiceStack {
  const { stackName, settings } = settingsFromContext(app.node);
  const stack = new TokenServiceStack(app, stackName, {
    ...settings,
    description: 'ropc-token-service: OAuth 2.0 password-grant token endpoint (API Gateway, Lambda, DynamoDB, KMS)',
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}
