/**
 * An example CDK app: the hub in the provider account, a spoke in a consumer account.
 *
 *   cdk synth                                    # builds the functions with cargo-lambda
 *   cdk synth -c code=../.aws-sam/build          # takes make build's arm64 bootstraps
 *   cdk deploy PrivateLinkAutopilotHub           # then PrivateLinkAutopilotSpoke, with the spoke's credentials
 *
 * The accounts and region are context values (`-c hubAccount=… -c spokeAccount=… -c region=…`).
 * With SKIP_BUNDLING=1 the templates are synthesized without building the functions (as `make
 * test` does, offline): such an assembly is for reading, not for deploying.
 */
import { App, BootstraplessSynthesizer, Stack } from 'aws-cdk-lib';
import { AutopilotCode, AutopilotHub, AutopilotSpoke } from '../lib';

const app = new App({
  postCliContext: process.env.SKIP_BUNDLING === '1' ? { 'aws:cdk:bundling-stacks': [] } : {},
});
const context = (key: string, fallback: string): string => app.node.tryGetContext(key) ?? fallback;
const region = context('region', 'eu-west-1');
const hubAccount = context('hubAccount', '111111111111');
const spokeAccount = context('spokeAccount', '222222222222');
const code = app.node.tryGetContext('code');

const hubStack = new Stack(app, 'PrivateLinkAutopilotHub', { env: { account: hubAccount, region } });
new AutopilotHub(hubStack, 'Autopilot', {
  managedServiceIds: [context('serviceId', 'vpce-svc-0123456789abcdef0')],
  eventSenderAccountIds: [spokeAccount],
  code: code ? AutopilotCode.fromDirectory(code) : AutopilotCode.fromSource(),
});

// The spoke names the hub's role and bus by their ARNs: they live in another account, where a
// CDK cross-stack reference cannot reach. It has no assets: synthesized without a bootstrap
// stack, its template deploys as a StackSet's into accounts that were never bootstrapped.
const spokeStack = new Stack(app, 'PrivateLinkAutopilotSpoke', {
  env: { account: spokeAccount, region },
  synthesizer: new BootstraplessSynthesizer(),
});
new AutopilotSpoke(spokeStack, 'Autopilot', {
  hubRoleArn: `arn:aws:iam::${hubAccount}:role/privatelink-autopilot-associator-${region}`,
  hubEventBusArn: `arn:aws:events:${region}:${hubAccount}:event-bus/default`,
});
