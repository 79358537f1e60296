import { Token } from 'aws-cdk-lib';

/** Props checked as template.yaml's parameters are (AllowedPattern, AllowedValues, MinValue):
 * a wrong value fails `cdk synth` with the prop's name, before anything is deployed. A token
 * (a CfnParameter's value, say) is checked by CloudFormation instead. */
export class Checks {
  private readonly errors: string[] = [];

  constructor(private readonly construct: string) {}

  pattern(name: string, value: string | undefined, pattern: RegExp, what: string): void {
    if (value === undefined || Token.isUnresolved(value)) return;
    if (!pattern.test(value)) this.errors.push(`${name} ${JSON.stringify(value)} is not ${what}`);
  }

  each(name: string, values: string[] | undefined, pattern: RegExp, what: string): void {
    if (values === undefined || Token.isUnresolved(values)) return;
    values.forEach((v, i) => this.pattern(`${name}[${i}]`, v, pattern, what));
  }

  atLeast(name: string, value: number | undefined, min: number): void {
    if (value === undefined || Token.isUnresolved(value)) return;
    if (!Number.isInteger(value) || value < min) this.errors.push(`${name} ${value} is not a whole number of at least ${min}`);
  }

  share(name: string, value: number | undefined): void {
    if (value === undefined || Token.isUnresolved(value)) return;
    if (!(value > 0 && value <= 1)) this.errors.push(`${name} ${value} is not a share (0 < share <= 1)`);
  }

  oneOf<T>(name: string, value: T | undefined, allowed: readonly T[]): void {
    if (value === undefined || Token.isUnresolved(value)) return;
    if (!allowed.includes(value)) this.errors.push(`${name} ${JSON.stringify(value)} is not one of ${allowed.join(', ')}`);
  }

  fail(message: string): void {
    this.errors.push(message);
  }

  /** Throws every problem found at once. */
  done(): void {
    if (this.errors.length > 0) {
      throw new Error(`${this.construct}: ${this.errors.join('; ')}`);
    }
  }
}

export const ACCOUNT_ID = /^[0-9]{12}$/;
export const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/;
export const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key\/[a-zA-Z0-9-]+$/;
export const PARAMETER_NAME = /^\/[A-Za-z0-9_.\-/]+$/;
export const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:.+$/;
export const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$/;
export const ROLE_ARN = /^arn:aws[a-z-]*:iam::[0-9]{12}:role\/.+$/;
export const EVENT_BUS_ARN = /^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus\/.+$/;
export const SERVICE_ID = /^vpce-svc-[0-9a-f]+$/;
export const ZONE_ID = /^Z[A-Z0-9]+$/;
export const REGION = /^[a-z]{2}(-[a-z]+)+-[0-9]+$/;
