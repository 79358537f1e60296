import { Aws, CfnOutput, CustomResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { AutopilotCode } from './code';
import * as patterns from './patterns';
import {
  ACCOUNT_ID,
  Checks,
  KMS_KEY_ARN,
  ORGANIZATION_ID,
  PARAMETER_NAME,
  SECRET_ARN,
  SERVICE_ID,
  SNS_TOPIC_ARN,
} from './validate';

export type SlackSeverity = 'info' | 'warning' | 'critical';

/**
 * The hub (provider) stack's settings: template.yaml's parameters, by the same names and with the
 * same defaults (docs/configuration.md says what each does).
 */
export interface AutopilotHubProps {
  /** Endpoint service ids (vpce-svc-...) the acceptor manages; each gets a connection notification. */
  readonly managedServiceIds: string[];
  /** @default '/privatelink-autopilot/connection-policy' */
  readonly policyParameterName?: string;
  /** Decide and notify without accepting or rejecting anything. @default true */
  readonly dryRun?: boolean;
  /** @default rate(15 minutes) */
  readonly sweepSchedule?: events.Schedule;
  /** @default 24 */
  readonly decisionMemoryHours?: number;
  /** Accounts that forward their EC2 CloudTrail events and run the spoke construct. @default none */
  readonly eventSenderAccountIds?: string[];
  /** Every account of this AWS Organizations id is trusted as well. @default none */
  readonly trustedOrganizationId?: string;
  /** A customer managed key (key ARN) for the topics, queues and tables. @default AWS managed and default keys */
  readonly kmsKeyArn?: string;
  /** @default '/privatelink-autopilot/zone-rules' */
  readonly zoneRulesParameterName?: string;
  /** @default 'privatelink-autopilot-spoke' */
  readonly spokeRoleName?: string;
  /** @default 'privatelink-autopilot-reader' */
  readonly consumerReadRoleName?: string;
  /** @default 5 */
  readonly auditPeriodMinutes?: number;
  /** @default 0.5 */
  readonly auditRateShare?: number;
  /** @default each target group's health check interval times its healthy threshold count */
  readonly findingGraceSeconds?: number;
  /** Operators (role or user ARNs) who may publish to the alert topic, for `autopilot ... --apply`. @default none */
  readonly alertPublisherArns?: string[];
  /** @default 0.5 */
  readonly route53RateShare?: number;
  /** @default rate(1 hour) */
  readonly zoneSweepSchedule?: events.Schedule;
  /** A Secrets Manager secret with a Slack webhook URL or bot token. @default no Slack notifier */
  readonly slackSecretArn?: string;
  /** Bot token only: the channel per severity, e.g. `critical=#oncall,default=#privatelink`. @default none */
  readonly slackChannels?: string;
  /** @default 'info' */
  readonly slackMinSeverity?: SlackSeverity;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetentionDays?: logs.RetentionDays;
  /** The topic the stack's alarms notify. @default the stack's own alarm topic */
  readonly alarmTopicArn?: string;
  /** The window a function's errors and throttles are counted over. @default 900 */
  readonly alarmPeriodSeconds?: number;
  /** @default 3 */
  readonly errorAlarmThreshold?: number;
  /** @default 10 */
  readonly throttleAlarmThreshold?: number;
  /** No scheduled sweep finished for this long: the acceptor's heartbeat alarm. @default 1800 */
  readonly sweepHeartbeatSeconds?: number;
  /** No scheduled reconcile finished for this long: the associator's heartbeat alarm. @default 7200 */
  readonly reconcileHeartbeatSeconds?: number;
  /** No scheduled audit invocation finished for this long: the auditor's heartbeat alarm. @default 600 */
  readonly auditHeartbeatSeconds?: number;
  /** Where the functions' code comes from. @default AutopilotCode.fromSource() */
  readonly code?: AutopilotCode;
  /**
   * What happens to the decisions, findings and deliveries tables when they leave the stack.
   * template.yaml deletes them; `RemovalPolicy.RETAIN` keeps them (and lets a stack that
   * replaces this one import them). @default RemovalPolicy.DESTROY
   */
  readonly tableRemovalPolicy?: RemovalPolicy;
}

const CHECKOV_LOGS = [
  { id: 'CKV_AWS_158', comment: 'CloudWatch Logs encrypts at rest by default; the logs hold ids and decisions, never a secret' },
];
const CHECKOV_TABLE = {
  id: 'CKV_AWS_119',
  comment: "Encrypted at rest by DynamoDB's default key; kmsKeyArn switches it to a customer managed key",
};
const NO_VPC = (what: string) => ({ id: 'CKV_AWS_117', comment: `Calls only ${what} over HTTPS; nothing in a VPC to reach` });
const NO_SECRET_ENV = {
  id: 'CKV_AWS_173',
  comment: 'The environment holds names, ARNs and flags, no secret; Lambda encrypts it at rest',
};
const ON_FAILURE_DLQ = {
  id: 'CKV_AWS_116',
  comment: 'Failed asynchronous invocations go to FailedInvocations through EventInvokeConfig OnFailure',
};

function skip(construct: Construct, checks: { id: string; comment: string }[]): void {
  (construct.node.defaultChild as unknown as { addMetadata(k: string, v: unknown): void }).addMetadata('checkov', {
    skip: checks,
  });
}

/**
 * privatelink-autopilot in the provider / hub account: template.yaml as a construct. Accepts or
 * rejects endpoint connection requests against the policy, associates trusted spokes' VPCs with
 * the hub's private hosted zones and Resolver rules, audits AZ and cross-zone set-ups, and
 * announces every decision on the alert topic (and in Slack when `slackSecretArn` is given).
 */
export class AutopilotHub extends Construct {
  /** Every decision and finding (AWS Chatbot's custom notification format). */
  readonly alertTopic: sns.Topic;
  /** EC2 publishes the managed services' connection requests here. */
  readonly connectionNotificationTopic: sns.Topic;
  /** Invocations that failed after their retries. */
  readonly failedInvocations: sqs.Queue;
  /** Decisions announced, the outbox, the associator's journal and Route 53's rate buckets. */
  readonly decisionsTable: dynamodb.Table;
  /** The auditor's open findings. */
  readonly findingsTable: dynamodb.Table;
  /** The Slack notifier's delivery claims (with `slackSecretArn` only). */
  readonly deliveriesTable?: dynamodb.Table;
  readonly acceptor: lambda.Function;
  readonly associator: lambda.Function;
  readonly auditor: lambda.Function;
  readonly notifySlack?: lambda.Function;
  /** The stack's alarms notify here (the stack's own topic, unless `alarmTopicArn` names one). */
  readonly alarmTopic: sns.ITopic;
  /** The spoke construct's `hubRoleArn`. */
  readonly associatorRole: iam.Role;
  /** The spoke construct's `auditorRoleArn`. */
  readonly auditorRole: iam.Role;
  /** The spoke construct's `acceptorRoleArn`. */
  readonly acceptorRole: iam.IRole;

  constructor(scope: Construct, id: string, props: AutopilotHubProps) {
    super(scope, id);
    const settings = checked(props);
    const code = props.code ?? AutopilotCode.fromSource();
    const key = settings.kmsKeyArn ? kms.Key.fromKeyArn(this, 'StackKey', settings.kmsKeyArn) : undefined;
    const tableRemoval = props.tableRemovalPolicy ?? RemovalPolicy.DESTROY;
    const partition = Aws.PARTITION;
    const region = Aws.REGION;
    const account = Aws.ACCOUNT_ID;

    // --- where decisions go ---------------------------------------------------------------
    this.alertTopic = new sns.Topic(this, 'AlertTopic', { displayName: 'PrivateLink autopilot', masterKey: key });
    if (!key) {
      // Published to only by the functions (IAM roles of this account): the AWS managed key serves.
      (this.alertTopic.node.defaultChild as sns.CfnTopic).kmsMasterKeyId = 'alias/aws/sns';
    }

    // SSE-SQS unless kmsKeyArn is given: EventBridge and SNS cannot use the AWS managed SQS key.
    const queue = (name: string) => {
      const q = new sqs.Queue(this, name, {
        retentionPeriod: Duration.days(14),
        encryption: key ? sqs.QueueEncryption.KMS : sqs.QueueEncryption.SQS_MANAGED,
        encryptionMasterKey: key,
        enforceSSL: true,
      });
      if (!key) {
        skip(q, [{ id: 'CKV_AWS_27', comment: 'Encrypted at rest with SSE-SQS (SqsManagedSseEnabled); kmsKeyArn switches it to a customer managed key' }]);
      }
      return q;
    };
    this.failedInvocations = queue('FailedInvocations');
    this.failedInvocations.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeDeadLetters',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.failedInvocations.queueArn],
        conditions: { StringEquals: { 'aws:SourceAccount': account } },
      }),
    );

    const table = (name: string, ttl: boolean, pitr: boolean) => {
      const t = new dynamodb.Table(this, name, {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        timeToLiveAttribute: ttl ? 'expires_at' : undefined,
        pointInTimeRecoverySpecification: pitr ? { pointInTimeRecoveryEnabled: true } : undefined,
        encryption: key ? dynamodb.TableEncryption.CUSTOMER_MANAGED : undefined,
        encryptionKey: key,
        removalPolicy: tableRemoval,
      });
      return t;
    };
    // The outbox and the associator's journal: what was applied but not yet announced. Lost,
    // those changes are never announced; restored, the next run announces them.
    this.decisionsTable = table('DecisionsTable', true, true);
    skip(this.decisionsTable, [CHECKOV_TABLE]);
    // The open findings: lost, each resolution goes unannounced and every open one is announced again.
    this.findingsTable = table('FindingsTable', false, true);
    skip(this.findingsTable, [CHECKOV_TABLE]);

    const logGroup = (name: string) => {
      const group = new logs.LogGroup(this, name, {
        retention: settings.logRetentionDays,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      skip(group, CHECKOV_LOGS);
      return group;
    };
    const fn = (
      name: string,
      binary: string,
      options: lambda.FunctionOptions,
      checkov: { id: string; comment: string }[],
    ) => {
      const f = code._function(this, name, {
        binary,
        samLogicalId: name,
        options: {
          memorySize: 128,
          timeout: Duration.seconds(60),
          loggingFormat: lambda.LoggingFormat.JSON,
          applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
          systemLogLevelV2: lambda.SystemLogLevel.WARN,
          logGroup: logGroup(`${name}Logs`),
          ...options,
        },
      });
      const cfn = f.node.defaultChild as lambda.CfnFunction;
      cfn.addMetadata('BuildProperties', { Binary: binary });
      cfn.addMetadata('checkov', { skip: checkov });
      return f;
    };
    // Retried twice, then kept in FailedInvocations (the role's grant is added with it).
    const onFailure = (f: lambda.Function) => {
      new lambda.CfnEventInvokeConfig(this, `${f.node.id}EventInvokeConfig`, {
        functionName: f.functionName,
        qualifier: '$LATEST',
        maximumRetryAttempts: 2,
        destinationConfig: { onFailure: { destination: this.failedInvocations.queueArn } },
      });
    };
    const keepFailedInvocations = new iam.PolicyStatement({
      sid: 'KeepFailedInvocations',
      actions: ['sqs:SendMessage'],
      resources: [this.failedInvocations.queueArn],
    });
    const announce = new iam.PolicyStatement({
      sid: 'Announce',
      actions: ['sns:Publish'],
      resources: [this.alertTopic.topicArn],
    });
    const lambdaTarget = (f: lambda.Function, retries: number | undefined, deadLetters: boolean) =>
      new targets.LambdaFunction(f, {
        retryAttempts: retries,
        deadLetterQueue: deadLetters ? this.failedInvocations : undefined,
      });
    const serviceArns = settings.managedServiceIds.map((s) => `arn:*:ec2:*:*:vpc-endpoint-service/${s}`);
    const inThisRegion = { StringEquals: { 'aws:RequestedRegion': region } };

    // --- what triggers the acceptor: EC2's connection notifications ------------------------
    // Published to by vpce.amazonaws.com, which cannot use the AWS managed SNS key.
    this.connectionNotificationTopic = new sns.Topic(this, 'ConnectionNotificationTopic', {
      displayName: 'PrivateLink endpoint connection requests',
      masterKey: key,
    });
    if (!key) {
      skip(this.connectionNotificationTopic, [
        { id: 'CKV_AWS_26', comment: 'Published to by vpce.amazonaws.com, which cannot use the AWS managed SNS key: encrypted only with kmsKeyArn' },
      ]);
    }
    const notificationTopicPolicy = new sns.TopicPolicy(this, 'ConnectionNotificationTopicPolicy', {
      topics: [this.connectionNotificationTopic],
    });
    notificationTopicPolicy.document.addStatements(
      new iam.PolicyStatement({
        sid: 'VpcEndpointServiceNotifications',
        principals: [new iam.ServicePrincipal('vpce.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.connectionNotificationTopic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': account } },
      }),
    );

    // One EC2 connection notification per managed service, kept by a custom resource.
    const connectionNotificationsFunction = fn(
      'ConnectionNotificationsFunction',
      'connection-notifications',
      {
        description: 'Keeps one EC2 connection notification per managed endpoint service (custom resource)',
        // Lambda's longest, for one create call per new service.
        timeout: Duration.seconds(900),
      },
      [
        NO_VPC('AWS APIs and the CloudFormation response URL'),
        {
          id: 'CKV_AWS_116',
          comment: 'Invoked only by CloudFormation, synchronously; a failure fails the stack operation, nothing to queue',
        },
        { id: 'CKV_AWS_115', comment: "Invoked only by CloudFormation, once per change of this stack's custom resource" },
      ],
    );
    connectionNotificationsFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadNotifications',
        actions: ['ec2:DescribeVpcEndpointConnectionNotifications'],
        resources: ['*'],
      }),
    );
    connectionNotificationsFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'NotifyManagedServicesOnly',
        actions: ['ec2:CreateVpcEndpointConnectionNotification'],
        resources: serviceArns,
        conditions: inThisRegion,
      }),
    );
    // A service that left managedServiceIds must lose its notification.
    connectionNotificationsFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'RemoveNotifications',
        actions: ['ec2:DeleteVpcEndpointConnectionNotifications'],
        resources: ['*'],
      }),
    );
    skip(connectionNotificationsFunction.role!.node.findChild('DefaultPolicy'), [
      {
        id: 'CKV_AWS_111',
        comment: 'A service that left managedServiceIds must lose its notification, so deletion cannot be scoped to the current list; the function deletes only what is on its own topic',
      },
    ]);
    const connectionNotifications = new CustomResource(this, 'ConnectionNotifications', {
      serviceToken: connectionNotificationsFunction.functionArn,
      resourceType: 'Custom::ConnectionNotifications',
      serviceTimeout: Duration.seconds(960),
      properties: {
        TopicArn: this.connectionNotificationTopic.topicArn,
        ServiceIds: settings.managedServiceIds,
        ConnectionEvents: ['Connect'],
      },
    });
    connectionNotifications.node.addDependency(notificationTopicPolicy);

    // --- who may put events on the default bus: the trusted accounts' EC2 CloudTrail events --
    const defaultBus = `arn:${partition}:events:${region}:${account}:event-bus/default`;
    const cloudTrailOnly = {
      'ForAllValues:StringEquals': { 'events:source': ['aws.ec2'] },
      StringEquals: { 'events:detail-type': ['AWS API Call via CloudTrail'] },
    };
    if (settings.eventSenderAccountIds.length > 0) {
      new events.CfnEventBusPolicy(this, 'EventSendersBusPolicy', {
        statementId: 'privatelink-autopilot-senders',
        statement: {
          Effect: 'Allow',
          Principal: { AWS: settings.eventSenderAccountIds },
          Action: 'events:PutEvents',
          Resource: defaultBus,
          Condition: cloudTrailOnly,
        },
      });
    }
    if (settings.trustedOrganizationId) {
      new events.CfnEventBusPolicy(this, 'OrganizationBusPolicy', {
        statementId: 'privatelink-autopilot-organization',
        statement: {
          Effect: 'Allow',
          Principal: '*',
          Action: 'events:PutEvents',
          Resource: defaultBus,
          Condition: {
            ...cloudTrailOnly,
            StringEquals: {
              'aws:PrincipalOrgID': settings.trustedOrganizationId,
              'events:detail-type': ['AWS API Call via CloudTrail'],
            },
          },
        },
      });
    }

    // --- the acceptor -----------------------------------------------------------------------
    this.acceptor = fn(
      'AcceptEndpointConnections',
      'accept-endpoint-connections',
      {
        description: 'Accepts or rejects PrivateLink endpoint connection requests against the policy',
        // One at a time: a notification, a forwarded event and the sweep about the same request
        // never race each other into announcing it twice.
        reservedConcurrentExecutions: 1,
        environment: {
          POLICY_PARAMETER: settings.policyParameterName,
          DRY_RUN: String(settings.dryRun),
          ALERT_TOPIC_ARN: this.alertTopic.topicArn,
          DECISIONS_TABLE: this.decisionsTable.tableName,
          DECISION_MEMORY_HOURS: String(settings.decisionMemoryHours),
          CONSUMER_ROLE_NAME: settings.consumerReadRoleName,
          HOME_ACCOUNT_ID: account,
        },
      },
      [NO_VPC('AWS APIs'), NO_SECRET_ENV, ON_FAILURE_DLQ],
    );
    this.acceptorRole = this.acceptor.role!;
    onFailure(this.acceptor);
    this.acceptor.addToRolePolicy(keepFailedInvocations);
    this.connectionNotificationTopic.addSubscription(new subscriptions.LambdaSubscription(this.acceptor));
    new events.Rule(this, 'AcceptEndpointConnectionsSweep', {
      description: 'Sweep every pending connection of the managed endpoint services',
      schedule: settings.sweepSchedule,
      targets: [lambdaTarget(this.acceptor, 2, false)],
    });
    new events.Rule(this, 'AcceptEndpointConnectionsConsumerCreateVpcEndpoint', {
      eventPattern: patterns.CONSUMER_CREATE_VPC_ENDPOINT,
      targets: [lambdaTarget(this.acceptor, 2, true)],
    });
    new events.Rule(this, 'AcceptEndpointConnectionsConsumerEndpointTags', {
      eventPattern: patterns.CONSUMER_ENDPOINT_TAGS,
      targets: [lambdaTarget(this.acceptor, 2, true)],
    });
    for (const statement of [
      new iam.PolicyStatement({
        sid: 'ReadConnections',
        actions: ['ec2:DescribeVpcEndpointConnections', 'ec2:DescribeVpcEndpoints'],
        resources: ['*'],
      }),
      new iam.PolicyStatement({
        sid: 'DecideManagedServicesOnly',
        actions: ['ec2:AcceptVpcEndpointConnections', 'ec2:RejectVpcEndpointConnections'],
        resources: serviceArns,
        conditions: inThisRegion,
      }),
      new iam.PolicyStatement({
        sid: 'ReadPolicy',
        actions: ['ssm:GetParameter'],
        resources: [`arn:${partition}:ssm:${region}:${account}:parameter${settings.policyParameterName}`],
      }),
      new iam.PolicyStatement({
        sid: 'RememberDecisionsAndClaims',
        actions: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [this.decisionsTable.tableArn],
      }),
      announce,
    ]) {
      this.acceptor.addToRolePolicy(statement);
    }

    // --- the private hosted zone associator ---------------------------------------------------
    // An explicit role, so spoke roles can trust exactly this one.
    this.associatorRole = lambdaRole(this, 'AssociatorRole', `privatelink-autopilot-associator-${region}`, {
      'associate-private-zones': new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({ sid: 'ListZones', actions: ['route53:ListHostedZones'], resources: ['*'] }),
          new iam.PolicyStatement({
            sid: 'ShareZones',
            actions: [
              'route53:GetHostedZone',
              'route53:ListTagsForResources',
              'route53:AssociateVPCWithHostedZone',
              'route53:DisassociateVPCFromHostedZone',
              'route53:CreateVPCAssociationAuthorization',
              'route53:DeleteVPCAssociationAuthorization',
              'route53:ListVPCAssociationAuthorizations',
              'route53:GetHostedZoneLimit',
            ],
            resources: [`arn:${partition}:route53:::hostedzone/*`],
          }),
          new iam.PolicyStatement({ sid: 'ReadOwnVpcs', actions: ['ec2:DescribeVpcs'], resources: ['*'] }),
          new iam.PolicyStatement({
            sid: 'ResolverRulesOfOwnVpcs',
            actions: ['route53resolver:AssociateResolverRule', 'route53resolver:DisassociateResolverRule'],
            resources: [`arn:${partition}:route53resolver:*:*:resolver-rule/*`],
          }),
          new iam.PolicyStatement({
            sid: 'ListResolverState',
            actions: ['route53resolver:ListResolverRuleAssociations', 'route53resolver:ListResolverEndpoints'],
            resources: ['*'],
          }),
          new iam.PolicyStatement({
            sid: 'ReadRules',
            actions: ['ssm:GetParameter'],
            resources: [`arn:${partition}:ssm:${region}:${account}:parameter${settings.zoneRulesParameterName}`],
          }),
          new iam.PolicyStatement({
            sid: 'RememberAnnouncements',
            actions: [
              'dynamodb:BatchGetItem',
              'dynamodb:BatchWriteItem',
              'dynamodb:PutItem',
              'dynamodb:GetItem',
              'dynamodb:UpdateItem',
            ],
            resources: [this.decisionsTable.tableArn],
          }),
          announce,
          keepFailedInvocations,
        ],
      }),
    });
    reachRoles(this, this.associatorRole, settings, 'Associator', 'Spokes', settings.spokeRoleName, [
      'reach-trusted-spokes',
      'ReachTrustedSpokes',
      'reach-spokes-in-organization',
      'ReachSpokesInOrganization',
    ]);
    this.associator = fn(
      'AssociatePrivateZones',
      'associate-private-zones',
      {
        description: "Associates VPCs of trusted accounts with the hub's private hosted zones",
        role: this.associatorRole,
        timeout: Duration.seconds(300),
        // Route 53's rates are per account: every invocation draws its tokens from buckets kept
        // in the decisions table, so two at a time share one rate.
        reservedConcurrentExecutions: 2,
        environment: {
          RULES_PARAMETER: settings.zoneRulesParameterName,
          HUB_ACCOUNT_ID: account,
          SPOKE_ROLE_NAME: settings.spokeRoleName,
          ROUTE53_RATE_SHARE: String(settings.route53RateShare),
          DRY_RUN: String(settings.dryRun),
          ALERT_TOPIC_ARN: this.alertTopic.topicArn,
          DECISIONS_TABLE: this.decisionsTable.tableName,
          DECISION_MEMORY_HOURS: String(settings.decisionMemoryHours),
        },
      },
      [NO_VPC('AWS APIs'), NO_SECRET_ENV, ON_FAILURE_DLQ],
    );
    onFailure(this.associator);
    new events.Rule(this, 'AssociatePrivateZonesReconcile', {
      description: 'Reconcile every VPC of the trusted accounts against the zone rules',
      schedule: settings.zoneSweepSchedule,
      targets: [lambdaTarget(this.associator, 2, false)],
    });
    new events.Rule(this, 'AssociatePrivateZonesVpcChanges', {
      eventPattern: patterns.VPC_CHANGES,
      targets: [lambdaTarget(this.associator, 2, true)],
    });

    // --- the availability-zone auditor ----------------------------------------------------------
    // An explicit role, so consumer read roles can trust exactly this one.
    this.auditorRole = lambdaRole(this, 'AuditorRole', `privatelink-autopilot-auditor-${region}`, {
      'audit-availability-zones': new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'ReadProvider',
            actions: [
              'ec2:DescribeAvailabilityZones',
              'ec2:DescribeVpcEndpointServiceConfigurations',
              'ec2:DescribeVpcEndpointConnections',
              'ec2:DescribeInstances',
              'ec2:DescribeSubnets',
              'ec2:DescribeVpcEndpoints',
              'elasticloadbalancing:DescribeLoadBalancers',
              'elasticloadbalancing:DescribeLoadBalancerAttributes',
              'elasticloadbalancing:DescribeTargetGroups',
              'elasticloadbalancing:DescribeTargetGroupAttributes',
              'elasticloadbalancing:DescribeTargetHealth',
            ],
            resources: ['*'],
          }),
          new iam.PolicyStatement({
            sid: 'RememberFindings',
            actions: ['dynamodb:Scan', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:UpdateItem'],
            resources: [this.findingsTable.tableArn],
          }),
          announce,
          keepFailedInvocations,
        ],
      }),
    });
    reachRoles(this, this.acceptorRole, settings, 'Acceptor', 'Consumers', settings.consumerReadRoleName, [
      'read-trusted-consumers',
      'ReadTrustedConsumers',
      'read-consumers-in-organization',
      'ReadConsumersInOrganization',
    ]);
    reachRoles(this, this.auditorRole, settings, 'Auditor', 'Consumers', settings.consumerReadRoleName, [
      'read-trusted-consumers',
      'ReadTrustedConsumers',
      'read-consumers-in-organization',
      'ReadConsumersInOrganization',
    ]);
    this.auditor = fn(
      'AuditAvailabilityZones',
      'audit-availability-zones',
      {
        description: 'Finds endpoint services and consumer endpoints whose AZ set-up drops or misroutes traffic',
        role: this.auditorRole,
        timeout: Duration.seconds(120),
        // One audit at a time: two runs must not both open (or both resolve) the same finding.
        reservedConcurrentExecutions: 1,
        environment: {
          ALERT_TOPIC_ARN: this.alertTopic.topicArn,
          FINDINGS_TABLE: this.findingsTable.tableName,
          HOME_ACCOUNT_ID: account,
          CONSUMER_ROLE_NAME: settings.consumerReadRoleName,
          EVENT_SENDER_ACCOUNT_IDS: settings.eventSenderAccountIds.join(','),
          AUDIT_RATE_SHARE: String(settings.auditRateShare),
          AUDIT_PERIOD_MINUTES: String(settings.auditPeriodMinutes),
          FINDING_GRACE_SECONDS: settings.findingGraceSeconds === undefined ? '' : String(settings.findingGraceSeconds),
        },
      },
      [NO_VPC('AWS APIs'), NO_SECRET_ENV, ON_FAILURE_DLQ],
    );
    onFailure(this.auditor);
    new events.Rule(this, 'AuditAvailabilityZonesAudit', {
      // Each minute the audit goes on where it stopped; a pass through every service begins
      // once per auditPeriodMinutes.
      description: 'Carry the audit of every endpoint service and its consumers on',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [lambdaTarget(this.auditor, undefined, false)],
    });
    new events.Rule(this, 'AuditAvailabilityZonesEndpointChanges', {
      eventPattern: patterns.ENDPOINT_CHANGES,
      targets: [lambdaTarget(this.auditor, undefined, true)],
    });
    new events.Rule(this, 'AuditAvailabilityZonesLoadBalancerChanges', {
      eventPattern: patterns.LOAD_BALANCER_CHANGES,
      targets: [lambdaTarget(this.auditor, undefined, true)],
    });

    // --- the Slack notifier (optional: AWS Chatbot can take the alert topic as it is) ----------
    let slackDeadLetters: sqs.Queue | undefined;
    if (settings.slackSecretArn) {
      const deadLetters = queue('SlackDeadLetters');
      slackDeadLetters = deadLetters;
      this.deliveriesTable = table('DeliveriesTable', true, false);
      skip(this.deliveriesTable, [
        CHECKOV_TABLE,
        {
          id: 'CKV_AWS_28',
          comment: 'Short-lived delivery claims and thread ids; lost, a message may be posted twice or a resolution unthreaded',
        },
      ]);
      const environment: Record<string, string> = {
        SLACK_SECRET_ARN: settings.slackSecretArn,
        SLACK_MIN_SEVERITY: settings.slackMinSeverity,
        DELIVERIES_TABLE: this.deliveriesTable.tableName,
      };
      if (settings.slackChannels) environment.SLACK_CHANNELS = settings.slackChannels;
      this.notifySlack = fn(
        'NotifySlack',
        'notify-slack',
        {
          description: "Posts the alert topic's notifications to Slack as Block Kit messages",
          // Below the claim lease of a delivery (180 s).
          timeout: Duration.seconds(60),
          // Slack allows about one message per second per channel.
          reservedConcurrentExecutions: 2,
          environment,
          // A message still failing after Lambda's two retries is kept here, with the error.
          deadLetterQueue: deadLetters,
          retryAttempts: 2,
        },
        [
          NO_VPC('AWS APIs and Slack'),
          {
            id: 'CKV_AWS_173',
            comment: 'The environment holds names, ARNs and flags; the Slack token is read from Secrets Manager',
          },
        ],
      );
      this.alertTopic.addSubscription(new subscriptions.LambdaSubscription(this.notifySlack, { deadLetterQueue: deadLetters }));
      this.notifySlack.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'ReadSlackSecret',
          actions: ['secretsmanager:GetSecretValue'],
          resources: [settings.slackSecretArn],
        }),
      );
      this.notifySlack.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'PostOnce',
          actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
          resources: [this.deliveriesTable.tableArn],
        }),
      );
      new CfnOutput(this, 'SlackDeadLettersQueueUrl', {
        description: 'Alerts that could not be posted to Slack after retries (inspect, then redrive)',
        value: deadLetters.queueUrl,
      });
    }

    // --- who may publish to the alert topic ----------------------------------------------------
    // A message there is posted to chat as it says: only the stack's own functions (and the
    // operators in alertPublisherArns) may publish, not every principal of the account.
    const alertTopicPolicy = new sns.TopicPolicy(this, 'AlertTopicPolicy', { topics: [this.alertTopic] });
    alertTopicPolicy.document.addStatements(
      new iam.PolicyStatement({
        sid: 'ThisAccountPublishes',
        principals: [new iam.ArnPrincipal(`arn:${partition}:iam::${account}:root`)],
        actions: ['sns:Publish'],
        resources: [this.alertTopic.topicArn],
      }),
      new iam.PolicyStatement({
        sid: 'OnlyTheStacksPublishers',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['sns:Publish'],
        resources: [this.alertTopic.topicArn],
        conditions: {
          ArnNotEquals: {
            'aws:PrincipalArn': [
              this.acceptorRole.roleArn,
              this.associatorRole.roleArn,
              this.auditorRole.roleArn,
              ...settings.alertPublisherArns,
            ],
          },
        },
      }),
      new iam.PolicyStatement({
        sid: 'TlsOnly',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['sns:Publish'],
        resources: [this.alertTopic.topicArn],
        conditions: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );

    // --- the stack's own alarms -----------------------------------------------------------------
    // CloudWatch cannot use the AWS managed SNS key (the alert topic's): the alarms have a topic
    // of their own, encrypted with kmsKeyArn when given.
    if (settings.alarmTopicArn) {
      this.alarmTopic = sns.Topic.fromTopicArn(this, 'AlarmTopic', settings.alarmTopicArn);
    } else {
      const topic = new sns.Topic(this, 'AlarmTopic', { displayName: 'PrivateLink autopilot alarms', masterKey: key });
      if (!key) {
        skip(topic, [
          {
            id: 'CKV_AWS_26',
            comment: 'Published to by CloudWatch, which cannot use the AWS managed SNS key; encrypted with kmsKeyArn when given. Alarm names and states, no secret',
          },
        ]);
      }
      const policy = new sns.TopicPolicy(this, 'AlarmTopicPolicy', { topics: [topic] });
      policy.document.addStatements(
        new iam.PolicyStatement({
          sid: 'ThisAccountsAlarms',
          principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['sns:Publish'],
          resources: [topic.topicArn],
          conditions: {
            StringEquals: { 'aws:SourceAccount': account },
            ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:${Aws.STACK_NAME}-*` },
          },
        }),
        new iam.PolicyStatement({
          sid: 'TlsOnly',
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: ['sns:Publish'],
          resources: [topic.topicArn],
          conditions: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
      this.alarmTopic = topic;
    }
    // The stack's own alarms in Slack too, opened and resolved in one thread like findings (an
    // alarmTopicArn of the operator's own is theirs to subscribe).
    if (this.notifySlack && !settings.alarmTopicArn) {
      (this.alarmTopic as sns.Topic).addSubscription(
        new subscriptions.LambdaSubscription(this.notifySlack, { deadLetterQueue: slackDeadLetters }),
      );
    }
    const notify = new actions.SnsAction(this.alarmTopic);
    const alarms = new Map<string, cloudwatch.Alarm>();
    const alarm = (
      id: string,
      name: string,
      description: string,
      metric: cloudwatch.MetricProps,
      threshold: number,
      comparison: cloudwatch.ComparisonOperator,
      missing: cloudwatch.TreatMissingData,
    ): cloudwatch.Alarm => {
      const a = new cloudwatch.Alarm(this, id, {
        alarmName: `${Aws.STACK_NAME}-${name}`,
        alarmDescription: description,
        metric: new cloudwatch.Metric(metric),
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: comparison,
        treatMissingData: missing,
      });
      a.addAlarmAction(notify);
      a.addOkAction(notify);
      alarms.set(id, a);
      return a;
    };
    const functions: [string, string, lambda.Function | undefined][] = [
      ['AcceptEndpointConnections', 'acceptor', this.acceptor],
      ['AssociatePrivateZones', 'associator', this.associator],
      ['AuditAvailabilityZones', 'auditor', this.auditor],
      ['ConnectionNotificationsFunction', 'connection-notifications', connectionNotificationsFunction],
      ['NotifySlack', 'slack', this.notifySlack],
    ];
    for (const [id, name, f] of functions) {
      if (!f) continue;
      const metric = (metricName: string) => ({
        namespace: 'AWS/Lambda',
        metricName,
        dimensionsMap: { FunctionName: f.functionName },
        statistic: 'Sum',
        period: Duration.seconds(settings.alarmPeriodSeconds),
      });
      alarm(
        `${id}ErrorsAlarm`,
        `${name}-errors`,
        'The function failed: its log group has the errors (docs/operations.md, Alarms).',
        metric('Errors'),
        settings.errorAlarmThreshold,
        cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        cloudwatch.TreatMissingData.NOT_BREACHING,
      );
      alarm(
        `${id}ThrottlesAlarm`,
        `${name}-throttles`,
        "Invocations throttled beyond the reserved concurrency's bursts (docs/operations.md, Alarms).",
        metric('Throttles'),
        settings.throttleAlarmThreshold,
        cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        cloudwatch.TreatMissingData.NOT_BREACHING,
      );
    }
    const queues: [string, string, sqs.IQueue | undefined, string][] = [
      [
        'FailedInvocations',
        'failed-invocations',
        this.failedInvocations,
        'Invocations failed after their retries wait in FailedInvocations: read them, fix the cause, redrive (docs/operations.md, Alarms).',
      ],
      [
        'SlackDeadLetters',
        'slack-dead-letters',
        slackDeadLetters,
        'Alerts Slack did not take wait in SlackDeadLetters: read them, fix the cause, redrive (docs/operations.md, Alarms).',
      ],
    ];
    for (const [id, name, q, description] of queues) {
      if (!q) continue;
      alarm(
        `${id}Alarm`,
        name,
        description,
        {
          namespace: 'AWS/SQS',
          metricName: 'ApproximateNumberOfMessagesVisible',
          dimensionsMap: { QueueName: q.queueName },
          statistic: 'Maximum',
          period: Duration.seconds(300),
        },
        1,
        cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        cloudwatch.TreatMissingData.NOT_BREACHING,
      );
    }
    for (const [id, job, seconds, what] of [
      ['SweepHeartbeatAlarm', 'acceptor', settings.sweepHeartbeatSeconds, 'sweep'],
      ['ReconcileHeartbeatAlarm', 'associator', settings.reconcileHeartbeatSeconds, 'reconcile'],
      ['AuditHeartbeatAlarm', 'auditor', settings.auditHeartbeatSeconds, 'audit'],
    ] as const) {
      // No data is no run: a job that stopped running is caught as surely as one that fails.
      alarm(
        id,
        `${what}-heartbeat`,
        `No scheduled ${what} finished in the window: the schedule is disabled, the function fails or cannot start (docs/operations.md, Alarms).`,
        {
          namespace: 'PrivateLinkAutopilot',
          metricName: 'ScheduledRunSucceeded',
          dimensionsMap: { Job: job },
          statistic: 'Sum',
          period: Duration.seconds(seconds),
        },
        1,
        cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        cloudwatch.TreatMissingData.BREACHING,
      );
    }

    // One row per job: its work, its function, its alarms (docs/operations.md, Alarms).
    const row = (job: string, f: lambda.Function, y: number, work: string[], alarmIds: string[]) => {
      const widgets: object[] = [];
      if (work.length > 0) {
        widgets.push({
          type: 'metric',
          x: 0,
          y,
          width: 9,
          height: 6,
          properties: {
            title: `${job}: work`,
            region: region,
            stat: 'Sum',
            period: 300,
            metrics: work.map((m) => ['PrivateLinkAutopilot', m, 'Job', job]),
          },
        });
      }
      widgets.push({
        type: 'metric',
        x: work.length > 0 ? 9 : 0,
        y,
        width: work.length > 0 ? 9 : 18,
        height: 6,
        properties: {
          title: `${job}: function`,
          region: region,
          stat: 'Sum',
          period: 300,
          metrics: ['Invocations', 'Errors', 'Throttles'].map((m) => ['AWS/Lambda', m, 'FunctionName', f.functionName]),
        },
      });
      widgets.push({
        type: 'alarm',
        x: 18,
        y,
        width: 6,
        height: 6,
        properties: { title: `${job}: alarms`, alarms: alarmIds.map((id) => alarms.get(id)!.alarmArn) },
      });
      return widgets;
    };
    const widgets: object[] = [
      {
        type: 'text',
        x: 0,
        y: 0,
        width: 24,
        height: 2,
        properties: {
          markdown:
            '# privatelink-autopilot\nOne row per job: its work (the metrics its runs write, namespace PrivateLinkAutopilot), its function, its alarms. What each alarm means and what to do: docs/operations.md, Alarms.',
        },
      },
      ...row('acceptor', this.acceptor, 2, ['Decisions', 'ConnectionsHeld', 'DecisionsFailed', 'ScheduledRunSucceeded'], [
        'AcceptEndpointConnectionsErrorsAlarm',
        'AcceptEndpointConnectionsThrottlesAlarm',
        'SweepHeartbeatAlarm',
        'FailedInvocationsAlarm',
        'ConnectionNotificationsFunctionErrorsAlarm',
        'ConnectionNotificationsFunctionThrottlesAlarm',
      ]),
      ...row(
        'associator',
        this.associator,
        8,
        ['ZoneChanges', 'RuleChanges', 'AccountsUnreachable', 'OnPremisesGaps', 'ScheduledRunSucceeded'],
        ['AssociatePrivateZonesErrorsAlarm', 'AssociatePrivateZonesThrottlesAlarm', 'ReconcileHeartbeatAlarm'],
      ),
      ...row(
        'auditor',
        this.auditor,
        14,
        ['FindingsOpened', 'FindingsResolved', 'FindingsStillOpen', 'ServicesUndecided', 'ScheduledRunSucceeded'],
        ['AuditAvailabilityZonesErrorsAlarm', 'AuditAvailabilityZonesThrottlesAlarm', 'AuditHeartbeatAlarm'],
      ),
    ];
    if (this.notifySlack) {
      widgets.push(
        ...row('slack', this.notifySlack, 20, [], ['NotifySlackErrorsAlarm', 'NotifySlackThrottlesAlarm', 'SlackDeadLettersAlarm']),
      );
    }
    new cloudwatch.CfnDashboard(this, 'Dashboard', {
      dashboardName: `${Aws.STACK_NAME}-${region}`,
      dashboardBody: Stack.of(this).toJsonString({ widgets }),
    });

    // --- the optional customer managed key ------------------------------------------------------
    // SNS, SQS and DynamoDB use it with the caller's credentials.
    if (settings.kmsKeyArn) {
      const roles = [this.acceptorRole, this.associatorRole, this.auditorRole];
      if (this.notifySlack) roles.push(this.notifySlack.role!);
      new iam.Policy(this, 'StackKeyUse', {
        policyName: 'use-stack-key',
        roles,
        statements: [
          new iam.PolicyStatement({
            sid: 'UseStackKey',
            actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
            resources: [settings.kmsKeyArn],
          }),
        ],
      });
    }

    const output = (name: string, value: string, description?: string) => new CfnOutput(this, name, { value, description });
    output('AlertTopicArn', this.alertTopic.topicArn, 'Subscribe AWS Chatbot, email or the Slack notifier here');
    output('ConnectionNotificationTopicArn', this.connectionNotificationTopic.topicArn);
    output('FailedInvocationsQueueUrl', this.failedInvocations.queueUrl, 'Invocations that failed after retries (inspect, then redrive)');
    output('AcceptEndpointConnectionsArn', this.acceptor.functionArn);
    output('DecisionsTableName', this.decisionsTable.tableName);
    output('AssociatorRoleArn', this.associatorRole.roleArn, "Pass to the spoke construct as hubRoleArn");
    output('AuditorRoleArn', this.auditorRole.roleArn, 'Pass to the spoke construct as auditorRoleArn');
    output('AcceptorRoleArn', this.acceptorRole.roleArn, 'Pass to the spoke construct as acceptorRoleArn');
    output('AlarmTopicArn', this.alarmTopic.topicArn, "The stack's alarms (errors, throttles, failure queues, heartbeats) notify here");
  }
}

/** A function's role of its own (AWSLambdaBasicExecutionRole and one inline policy). */
function lambdaRole(scope: Construct, id: string, roleName: string, inlinePolicies: Record<string, iam.PolicyDocument>) {
  return new iam.Role(scope, id, {
    roleName,
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaBasicExecutionRole')],
    inlinePolicies,
  });
}

/** sts:AssumeRole on the role of that name in the trusted accounts and the organization only: a
 * policy of its own for each, made only when it has someone to reach. */
function reachRoles(
  scope: Construct,
  role: iam.IRole,
  settings: Settings,
  who: string,
  whom: string,
  roleName: string,
  [accountsPolicy, accountsSid, organizationPolicy, organizationSid]: string[],
): void {
  const resources = [`arn:${Aws.PARTITION}:iam::*:role/${roleName}`];
  if (settings.eventSenderAccountIds.length > 0) {
    new iam.Policy(scope, `${who}${whom}InTrustedAccounts`, {
      policyName: accountsPolicy,
      roles: [role],
      statements: [
        new iam.PolicyStatement({
          sid: accountsSid,
          actions: ['sts:AssumeRole'],
          resources,
          conditions: { StringEquals: { 'aws:ResourceAccount': settings.eventSenderAccountIds } },
        }),
      ],
    });
  }
  if (settings.trustedOrganizationId) {
    new iam.Policy(scope, `${who}${whom}InOrganization`, {
      policyName: organizationPolicy,
      roles: [role],
      statements: [
        new iam.PolicyStatement({
          sid: organizationSid,
          actions: ['sts:AssumeRole'],
          resources,
          conditions: { StringEquals: { 'aws:ResourceOrgID': settings.trustedOrganizationId } },
        }),
      ],
    });
  }
}

type Optional = 'trustedOrganizationId' | 'kmsKeyArn' | 'findingGraceSeconds' | 'slackSecretArn' | 'slackChannels' | 'alarmTopicArn';
type Settings = Required<Omit<AutopilotHubProps, 'code' | 'tableRemovalPolicy' | Optional>> & Pick<AutopilotHubProps, Optional>;

const HEARTBEAT_SECONDS = [300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** The props with template.yaml's defaults, checked as its parameters are. */
function checked(props: AutopilotHubProps): Settings {
  const s: Settings = {
    managedServiceIds: props.managedServiceIds,
    policyParameterName: props.policyParameterName ?? '/privatelink-autopilot/connection-policy',
    dryRun: props.dryRun ?? true,
    sweepSchedule: props.sweepSchedule ?? events.Schedule.rate(Duration.minutes(15)),
    decisionMemoryHours: props.decisionMemoryHours ?? 24,
    eventSenderAccountIds: props.eventSenderAccountIds ?? [],
    trustedOrganizationId: props.trustedOrganizationId || undefined,
    kmsKeyArn: props.kmsKeyArn || undefined,
    zoneRulesParameterName: props.zoneRulesParameterName ?? '/privatelink-autopilot/zone-rules',
    spokeRoleName: props.spokeRoleName ?? 'privatelink-autopilot-spoke',
    consumerReadRoleName: props.consumerReadRoleName ?? 'privatelink-autopilot-reader',
    auditPeriodMinutes: props.auditPeriodMinutes ?? 5,
    auditRateShare: props.auditRateShare ?? 0.5,
    findingGraceSeconds: props.findingGraceSeconds,
    alertPublisherArns: props.alertPublisherArns ?? [],
    route53RateShare: props.route53RateShare ?? 0.5,
    zoneSweepSchedule: props.zoneSweepSchedule ?? events.Schedule.rate(Duration.hours(1)),
    slackSecretArn: props.slackSecretArn || undefined,
    slackChannels: props.slackChannels || undefined,
    slackMinSeverity: props.slackMinSeverity ?? 'info',
    logRetentionDays: props.logRetentionDays ?? logs.RetentionDays.ONE_MONTH,
    alarmTopicArn: props.alarmTopicArn || undefined,
    alarmPeriodSeconds: props.alarmPeriodSeconds ?? 900,
    errorAlarmThreshold: props.errorAlarmThreshold ?? 3,
    throttleAlarmThreshold: props.throttleAlarmThreshold ?? 10,
    sweepHeartbeatSeconds: props.sweepHeartbeatSeconds ?? 1800,
    reconcileHeartbeatSeconds: props.reconcileHeartbeatSeconds ?? 7200,
    auditHeartbeatSeconds: props.auditHeartbeatSeconds ?? 600,
  };
  const c = new Checks('AutopilotHub');
  if (!Array.isArray(s.managedServiceIds) || s.managedServiceIds.length === 0) {
    c.fail('managedServiceIds must name at least one endpoint service (vpce-svc-...)');
  }
  c.each('managedServiceIds', s.managedServiceIds, SERVICE_ID, 'an endpoint service id (vpce-svc-...)');
  c.pattern('policyParameterName', s.policyParameterName, PARAMETER_NAME, 'an SSM parameter name (/...)');
  c.pattern('zoneRulesParameterName', s.zoneRulesParameterName, PARAMETER_NAME, 'an SSM parameter name (/...)');
  c.atLeast('decisionMemoryHours', s.decisionMemoryHours, 1);
  c.atLeast('auditPeriodMinutes', s.auditPeriodMinutes, 1);
  if (s.findingGraceSeconds !== undefined) c.atLeast('findingGraceSeconds', s.findingGraceSeconds, 0);
  c.each('eventSenderAccountIds', s.eventSenderAccountIds, ACCOUNT_ID, 'a 12-digit account id');
  c.pattern('trustedOrganizationId', s.trustedOrganizationId, ORGANIZATION_ID, 'an organization id (o-...)');
  c.pattern('kmsKeyArn', s.kmsKeyArn, KMS_KEY_ARN, 'a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)');
  c.pattern('slackSecretArn', s.slackSecretArn, SECRET_ARN, 'a Secrets Manager secret ARN');
  c.share('auditRateShare', s.auditRateShare);
  c.share('route53RateShare', s.route53RateShare);
  c.oneOf('slackMinSeverity', s.slackMinSeverity, ['info', 'warning', 'critical'] as const);
  c.oneOf('logRetentionDays', s.logRetentionDays as number, LOG_RETENTION_DAYS);
  c.pattern('alarmTopicArn', s.alarmTopicArn, SNS_TOPIC_ARN, 'an SNS topic ARN');
  c.oneOf('alarmPeriodSeconds', s.alarmPeriodSeconds, [60, 300, 900, 1800, 3600]);
  c.atLeast('errorAlarmThreshold', s.errorAlarmThreshold, 1);
  c.atLeast('throttleAlarmThreshold', s.throttleAlarmThreshold, 1);
  for (const name of ['sweepHeartbeatSeconds', 'reconcileHeartbeatSeconds', 'auditHeartbeatSeconds'] as const) {
    c.oneOf(name, s[name], HEARTBEAT_SECONDS);
  }
  if (s.slackChannels && !s.slackSecretArn) c.fail('slackChannels is given without slackSecretArn');
  c.done();
  return s;
}

