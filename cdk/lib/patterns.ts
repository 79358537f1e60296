/**
 * The EventBridge patterns of template.yaml and spoke-template.yaml (the parity test holds them
 * equal). Every CloudTrail rule takes successful calls only (no errorCode): a failed call changed
 * nothing.
 */
import * as events from 'aws-cdk-lib/aws-events';

const CLOUDTRAIL = { source: ['aws.ec2'], detailType: ['AWS API Call via CloudTrail'] };

/** Endpoints to an endpoint service only (`com.amazonaws.vpce.…`), in either request shape: an
 * endpoint to an AWS service (`com.amazonaws.<region>.s3`) wakes nothing. */
const ENDPOINT_TO_A_SERVICE = [
  { eventName: ['CreateVpcEndpoint'], requestParameters: { serviceName: [{ prefix: 'com.amazonaws.vpce.' }] } },
  {
    eventName: ['CreateVpcEndpoint'],
    requestParameters: { CreateVpcEndpointRequest: { ServiceName: [{ prefix: 'com.amazonaws.vpce.' }] } },
  },
];

function ec2(detail: Record<string, unknown>): events.EventPattern {
  return {
    ...CLOUDTRAIL,
    detail: { eventSource: ['ec2.amazonaws.com'], errorCode: [{ exists: false }], ...detail },
  };
}

function tagsOn(...prefixes: string[]) {
  return { resourcesSet: { items: { resourceId: prefixes.map((prefix) => ({ prefix })) } } };
}

/** The acceptor: a consumer's new endpoint to a service. */
export const CONSUMER_CREATE_VPC_ENDPOINT = ec2({ $or: ENDPOINT_TO_A_SERVICE });

/** The acceptor: a consumer's tags on its endpoints (the provider's API does not show them). */
export const CONSUMER_ENDPOINT_TAGS = ec2({
  eventName: ['CreateTags', 'DeleteTags'],
  requestParameters: tagsOn('vpce-'),
});

/** The associator: a new VPC, or tags changed on one. */
export const VPC_CHANGES = ec2({
  $or: [{ eventName: ['CreateVpc'] }, { eventName: ['CreateTags', 'DeleteTags'], requestParameters: tagsOn('vpc-') }],
});

/** The auditor: endpoints and endpoint services changed. */
export const ENDPOINT_CHANGES = ec2({
  $or: [
    {
      eventName: [
        'ModifyVpcEndpoint',
        'CreateVpcEndpointServiceConfiguration',
        'ModifyVpcEndpointServiceConfiguration',
      ],
    },
    ...ENDPOINT_TO_A_SERVICE,
  ],
});

/** The auditor: load balancers and target groups changed. */
export const LOAD_BALANCER_CHANGES: events.EventPattern = {
  source: ['aws.elasticloadbalancing'],
  detailType: ['AWS API Call via CloudTrail'],
  detail: {
    eventSource: ['elasticloadbalancing.amazonaws.com'],
    errorCode: [{ exists: false }],
    eventName: [
      'ModifyLoadBalancerAttributes',
      'ModifyTargetGroupAttributes',
      'SetSubnets',
      'RegisterTargets',
      'DeregisterTargets',
    ],
  },
};

/** A spoke forwards exactly what a hub rule takes from a consumer or spoke account. */
export const FORWARDED = ec2({
  $or: [
    { eventName: ['CreateVpc', 'ModifyVpcEndpoint'] },
    ...ENDPOINT_TO_A_SERVICE,
    { eventName: ['CreateTags', 'DeleteTags'], requestParameters: tagsOn('vpc-', 'vpce-') },
  ],
});
