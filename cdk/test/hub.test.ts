import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AutopilotCode, AutopilotHub, AutopilotHubProps } from '../lib';

const SERVICE = 'vpce-svc-0123456789abcdef0';

/** A hub stack synthesized offline: bundling skipped, as CDK users test. */
function hub(props: Partial<AutopilotHubProps> = {}): Template {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Hub', { env: { account: '111111111111', region: 'eu-west-1' } });
  new AutopilotHub(stack, 'Autopilot', { managedServiceIds: [SERVICE], ...props });
  return Template.fromStack(stack);
}

function error(props: Partial<AutopilotHubProps>): string {
  try {
    hub(props);
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail(`no error for ${JSON.stringify(props)}`);
}

test('the defaults deploy four arm64 functions and no Slack notifier', () => {
  const t = hub();
  t.resourceCountIs('AWS::Lambda::Function', 4);
  t.allResourcesProperties('AWS::Lambda::Function', {
    Architectures: ['arm64'],
    Runtime: 'provided.al2023',
    Handler: 'bootstrap',
    MemorySize: 128,
    LoggingConfig: Match.objectLike({ LogFormat: 'JSON', ApplicationLogLevel: 'INFO', SystemLogLevel: 'WARN' }),
  });
  t.hasResourceProperties('AWS::Lambda::Function', {
    Environment: { Variables: Match.objectLike({ DRY_RUN: 'true', DECISION_MEMORY_HOURS: '24' }) },
    ReservedConcurrentExecutions: 1,
  });
  t.resourceCountIs('AWS::Events::EventBusPolicy', 0);
  t.resourceCountIs('AWS::DynamoDB::Table', 2);
  t.hasResourceProperties('AWS::SNS::Topic', { DisplayName: 'PrivateLink autopilot', KmsMasterKeyId: 'alias/aws/sns' });
  t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(15 minutes)' });
  t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 hour)' });
});

test('slackSecretArn adds the notifier, its table and dead letters', () => {
  const t = hub({
    slackSecretArn: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:slack-AbCdEf',
    slackMinSeverity: 'critical',
  });
  t.resourceCountIs('AWS::Lambda::Function', 5);
  t.resourceCountIs('AWS::DynamoDB::Table', 3);
  t.hasResourceProperties('AWS::Lambda::Function', {
    Environment: { Variables: Match.objectLike({ SLACK_MIN_SEVERITY: 'critical' }) },
    DeadLetterConfig: Match.anyValue(),
  });
  t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'lambda', RedrivePolicy: Match.anyValue() });
});

test('trusted accounts and an organization open the bus and the roles to them only', () => {
  const t = hub({ eventSenderAccountIds: ['222222222222'], trustedOrganizationId: 'o-abcdefghij' });
  t.resourceCountIs('AWS::Events::EventBusPolicy', 2);
  t.hasResourceProperties('AWS::Events::EventBusPolicy', {
    Statement: Match.objectLike({ Principal: { AWS: ['222222222222'] } }),
  });
  t.hasResourceProperties('AWS::IAM::Policy', {
    PolicyName: 'reach-spokes-in-organization',
    PolicyDocument: {
      Statement: [Match.objectLike({ Condition: { StringEquals: { 'aws:ResourceOrgID': 'o-abcdefghij' } } })],
    },
  });
});

test('a customer managed key encrypts the topics, queues and tables, and the roles may use it', () => {
  const key = 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab';
  const t = hub({ kmsKeyArn: key });
  t.allResourcesProperties('AWS::SNS::Topic', { KmsMasterKeyId: key });
  t.allResourcesProperties('AWS::SQS::Queue', { KmsMasterKeyId: key });
  t.allResourcesProperties('AWS::DynamoDB::Table', { SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: key } });
  t.hasResourceProperties('AWS::IAM::Policy', { PolicyName: 'use-stack-key' });
});

test('the tables are deleted with the stack unless told to stay', () => {
  hub().allResources('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  hub({ tableRemovalPolicy: RemovalPolicy.RETAIN }).allResources('AWS::DynamoDB::Table', {
    DeletionPolicy: 'Retain',
    UpdateReplacePolicy: 'Retain',
  });
});

test('bad props fail the synth with every problem named, as the template parameters would', () => {
  const message = error({
    eventSenderAccountIds: ['222222222222', '12345'],
    trustedOrganizationId: 'org-1',
    auditRateShare: 1.5,
    decisionMemoryHours: 0,
    policyParameterName: 'no-slash',
  });
  for (const expected of [
    'eventSenderAccountIds[1] "12345" is not a 12-digit account id',
    'trustedOrganizationId "org-1" is not an organization id',
    'auditRateShare 1.5 is not a share',
    'decisionMemoryHours 0 is not a whole number of at least 1',
    'policyParameterName "no-slash" is not an SSM parameter name',
  ]) {
    assert.ok(message.includes(expected), `${expected}\nnot in\n${message}`);
  }
  assert.match(error({ managedServiceIds: [] }), /managedServiceIds must name at least one endpoint service/);
  assert.match(error({ slackMinSeverity: 'loud' as never }), /slackMinSeverity "loud" is not one of info, warning, critical/);
  assert.match(error({ slackChannels: 'default=#x' }), /slackChannels is given without slackSecretArn/);
});

test('prebuilt code is taken from make build or cargo lambda build, and its absence is named', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autopilot-code-'));
  assert.match(
    error({ code: AutopilotCode.fromDirectory(dir) }),
    /no bootstrap for connection-notifications .*run `make build`/,
  );
  // make build's layout (by logical id) for some, cargo lambda's (by binary) for the others
  for (const d of ['ConnectionNotificationsFunction', 'accept-endpoint-connections', 'AssociatePrivateZones', 'audit-availability-zones']) {
    fs.mkdirSync(path.join(dir, d));
    fs.writeFileSync(path.join(dir, d, 'bootstrap'), 'binary');
  }
  const t = hub({ code: AutopilotCode.fromDirectory(dir) });
  t.resourceCountIs('AWS::Lambda::Function', 4);
  t.allResourcesProperties('AWS::Lambda::Function', { Architectures: ['arm64'], Runtime: 'provided.al2023' });
});

test('every function, failure queue and scheduled job has its alarm, told to the alarm topic', () => {
  const t = hub();
  // four functions (errors, throttles), one queue, three heartbeats
  t.resourceCountIs('AWS::CloudWatch::Alarm', 4 * 2 + 1 + 3);
  t.hasResourceProperties('AWS::CloudWatch::Alarm', {
    MetricName: 'ScheduledRunSucceeded',
    Dimensions: [{ Name: 'Job', Value: 'associator' }],
    Period: 7200,
    TreatMissingData: 'breaching',
    AlarmActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }],
  });
  const routed = hub({ alarmTopicArn: 'arn:aws:sns:eu-west-1:111111111111:oncall', sweepHeartbeatSeconds: 3600 });
  routed.allResourcesProperties('AWS::CloudWatch::Alarm', {
    AlarmActions: ['arn:aws:sns:eu-west-1:111111111111:oncall'],
    OKActions: ['arn:aws:sns:eu-west-1:111111111111:oncall'],
  });
  routed.resourcePropertiesCountIs('AWS::SNS::Topic', { DisplayName: 'PrivateLink autopilot alarms' }, 0);
  assert.match(error({ sweepHeartbeatSeconds: 1000 }), /sweepHeartbeatSeconds 1000 is not one of 300, 600/);
});
