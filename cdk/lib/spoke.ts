import { Aws, CfnOutput, Fn } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import * as patterns from './patterns';
import { ACCOUNT_ID, Checks, EVENT_BUS_ARN, REGION, ROLE_ARN, ZONE_ID } from './validate';

/**
 * A spoke / consumer account's settings: spoke-template.yaml's parameters, by the same names and
 * with the same defaults. One per account and region (a stack per account, or a CDK StackSet).
 */
export interface AutopilotSpokeProps {
  /** The hub's associator role (the hub construct's `associatorRole.roleArn`). */
  readonly hubRoleArn: string;
  /** The hub's default event bus, which accepts this account's EC2 CloudTrail events. */
  readonly hubEventBusArn: string;
  /** Must match the hub's spokeRoleName. @default 'privatelink-autopilot-spoke' */
  readonly spokeRoleName?: string;
  /** The provider's auditor role; none: the auditor does not read this account. @default none */
  readonly auditorRoleArn?: string;
  /** The provider's acceptor role, which reads this account's endpoint of a held connection. @default none */
  readonly acceptorRoleArn?: string;
  /** Must match the provider's consumerReadRoleName. @default 'privatelink-autopilot-reader' */
  readonly consumerReadRoleName?: string;
  /** IAM is global: create the roles in one region's stack only. @default true */
  readonly createRole?: boolean;
  /** The regions the hub serves in this account; the roles may read there only. @default this stack's region */
  readonly servedRegions?: string[];
  /** The hub's hosted zone ids the spoke role may associate VPCs with. @default any zone the hub authorizes */
  readonly hubZoneIds?: string[];
  /** The account owning the Resolver rules shared here. @default the hub's account (from hubRoleArn) */
  readonly resolverRuleOwnerAccountId?: string;
}

/**
 * privatelink-autopilot in a spoke / consumer account: spoke-template.yaml as a construct. The role
 * the hub's zone associator assumes, the read-only role the provider's auditor and acceptor assume,
 * and the rule that forwards VPC and endpoint events to the hub's event bus.
 */
export class AutopilotSpoke extends Construct {
  readonly spokeRole?: iam.Role;
  readonly readerRole?: iam.Role;
  readonly forwardRule: events.Rule;

  constructor(scope: Construct, id: string, props: AutopilotSpokeProps) {
    super(scope, id);
    const c = new Checks('AutopilotSpoke');
    c.pattern('hubRoleArn', props.hubRoleArn, ROLE_ARN, 'an IAM role ARN');
    c.pattern('hubEventBusArn', props.hubEventBusArn, EVENT_BUS_ARN, 'an event bus ARN');
    c.pattern('auditorRoleArn', props.auditorRoleArn || undefined, ROLE_ARN, 'an IAM role ARN');
    c.pattern('acceptorRoleArn', props.acceptorRoleArn || undefined, ROLE_ARN, 'an IAM role ARN');
    c.pattern('resolverRuleOwnerAccountId', props.resolverRuleOwnerAccountId || undefined, ACCOUNT_ID, 'a 12-digit account id');
    c.each('servedRegions', props.servedRegions, REGION, 'a region name');
    c.each('hubZoneIds', props.hubZoneIds, ZONE_ID, 'a hosted zone id (Z...)');
    c.done();

    const partition = Aws.PARTITION;
    const servedRegions = props.servedRegions?.length ? props.servedRegions : [Aws.REGION];
    const inServedRegions = { StringEquals: { 'aws:RequestedRegion': servedRegions } };
    const ruleOwner = props.resolverRuleOwnerAccountId || Fn.select(4, Fn.split(':', props.hubRoleArn));
    const zones = props.hubZoneIds?.length
      ? props.hubZoneIds.map((z) => `arn:*:route53:::hostedzone/${z}`)
      : [`arn:${partition}:route53:::hostedzone/*`];

    if (props.createRole ?? true) {
      this.spokeRole = new iam.Role(this, 'SpokeRole', {
        roleName: props.spokeRoleName ?? 'privatelink-autopilot-spoke',
        description: 'Lets the hub associate this account\'s VPCs with its private hosted zones and Resolver rules',
        assumedBy: new iam.ArnPrincipal(props.hubRoleArn),
        inlinePolicies: {
          'associate-with-hub-zones': new iam.PolicyDocument({
            statements: [
              // Only works while the hub has authorized the pair.
              new iam.PolicyStatement({
                sid: 'AssociateAsVpcOwner',
                actions: ['route53:AssociateVPCWithHostedZone'],
                resources: zones,
              }),
              new iam.PolicyStatement({
                sid: 'ReadVpcs',
                actions: ['ec2:DescribeVpcs'],
                resources: ['*'],
                conditions: inServedRegions,
              }),
              // The rule owner's rules only, shared here through AWS RAM.
              new iam.PolicyStatement({
                sid: 'ResolverRulesAsVpcOwner',
                actions: ['route53resolver:AssociateResolverRule', 'route53resolver:DisassociateResolverRule'],
                resources: [`arn:${partition}:route53resolver:*:${ruleOwner}:resolver-rule/*`],
                conditions: inServedRegions,
              }),
              new iam.PolicyStatement({
                sid: 'ReadRuleAssociations',
                actions: ['route53resolver:ListResolverRuleAssociations'],
                resources: ['*'],
                conditions: inServedRegions,
              }),
            ],
          }),
        },
      });
      new CfnOutput(this, 'SpokeRoleArn', { value: this.spokeRole.roleArn });

      const readers = [props.auditorRoleArn, props.acceptorRoleArn].filter((a): a is string => !!a);
      if (readers.length > 0) {
        this.readerRole = new iam.Role(this, 'ReaderRole', {
          roleName: props.consumerReadRoleName ?? 'privatelink-autopilot-reader',
          description: "Lets the provider's AZ auditor and connection acceptor read this account's endpoints and subnets",
          assumedBy: new iam.CompositePrincipal(...readers.map((a) => new iam.ArnPrincipal(a))),
          inlinePolicies: {
            'read-endpoints-and-subnets': new iam.PolicyDocument({
              statements: [
                new iam.PolicyStatement({
                  sid: 'ReadOnly',
                  actions: ['ec2:DescribeAvailabilityZones', 'ec2:DescribeVpcEndpoints', 'ec2:DescribeSubnets'],
                  resources: ['*'],
                  conditions: inServedRegions,
                }),
              ],
            }),
          },
        });
      }
    }

    // The hub's bus accepts from other accounts only EC2's CloudTrail events: forward nothing else.
    const forwardRole = new iam.Role(this, 'ForwardRole', {
      assumedBy: new iam.ServicePrincipal('events.amazonaws.com').withConditions({
        StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
      }),
    });
    this.forwardRule = new events.Rule(this, 'ForwardVpcEvents', {
      description: 'Forward VPC and endpoint creation, and tag changes on them, to the privatelink-autopilot hub',
      eventPattern: patterns.FORWARDED,
      targets: [
        new targets.EventBus(events.EventBus.fromEventBusArn(this, 'HubBus', props.hubEventBusArn), {
          role: forwardRole,
        }),
      ],
    });
  }
}
