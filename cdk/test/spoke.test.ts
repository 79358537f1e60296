import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AutopilotSpoke, AutopilotSpokeProps } from '../lib';

const HUB = {
  hubRoleArn: 'arn:aws:iam::111111111111:role/privatelink-autopilot-associator-eu-west-1',
  hubEventBusArn: 'arn:aws:events:eu-west-1:111111111111:event-bus/default',
};

function spoke(props: Partial<AutopilotSpokeProps> = {}): Template {
  const app = new App();
  const stack = new Stack(app, 'Spoke', { env: { account: '222222222222', region: 'eu-west-1' } });
  new AutopilotSpoke(stack, 'Autopilot', { ...HUB, ...props });
  return Template.fromStack(stack);
}

test('the spoke role trusts the hub role and may use the hub account\'s Resolver rules only', () => {
  const t = spoke();
  t.hasResourceProperties('AWS::IAM::Role', {
    RoleName: 'privatelink-autopilot-spoke',
    AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { AWS: HUB.hubRoleArn } })] },
    Policies: [
      {
        PolicyName: 'associate-with-hub-zones',
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Sid: 'ResolverRulesAsVpcOwner',
              Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':route53resolver:*:111111111111:resolver-rule/*']] },
            }),
          ]),
        },
      },
    ],
  });
  // no auditor or acceptor: no reader role
  assert.equal(Object.keys(t.findResources('AWS::IAM::Role', { Properties: { RoleName: 'privatelink-autopilot-reader' } })).length, 0);
});

test('the reader role trusts the auditor and the acceptor, in the served regions', () => {
  const t = spoke({
    auditorRoleArn: 'arn:aws:iam::111111111111:role/privatelink-autopilot-auditor-eu-west-1',
    acceptorRoleArn: 'arn:aws:iam::111111111111:role/acceptor',
    servedRegions: ['eu-west-1', 'us-east-1'],
  });
  t.hasResourceProperties('AWS::IAM::Role', {
    RoleName: 'privatelink-autopilot-reader',
    Policies: [
      {
        PolicyName: 'read-endpoints-and-subnets',
        PolicyDocument: {
          Statement: [Match.objectLike({ Condition: { StringEquals: { 'aws:RequestedRegion': ['eu-west-1', 'us-east-1'] } } })],
        },
      },
    ],
  });
});

test('a second region\'s spoke makes no IAM role but forwarding\'s', () => {
  const t = spoke({ createRole: false });
  t.resourceCountIs('AWS::IAM::Role', 1);
  t.hasResourceProperties('AWS::Events::Rule', {
    Targets: [Match.objectLike({ Arn: HUB.hubEventBusArn })],
    EventPattern: Match.objectLike({ source: ['aws.ec2'], 'detail-type': ['AWS API Call via CloudTrail'] }),
  });
});

test('bad props fail the synth with the prop named', () => {
  assert.throws(
    () => spoke({ hubRoleArn: 'arn:aws:iam::1:user/x', hubZoneIds: ['zone'] }),
    /hubRoleArn "arn:aws:iam::1:user\/x" is not an IAM role ARN; hubZoneIds\[0\] "zone" is not a hosted zone id/,
  );
});
