/**
 * Where the migrations function runs: in the database's VPC, in private subnets with egress when
 * there are some, else isolated ones, where the AWS APIs it calls need interface endpoints.
 */
import { aws_ec2 as ec2 } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { acknowledge } from './nag.ts';
import { type DatabaseMigrationsProps, DatabaseMigrationsPropsError } from './props.ts';

/**
 * Interface endpoints for the APIs the function calls, in its subnets: Secrets Manager (unless it
 * signs IAM tokens locally), RDS (snapshots), CloudFormation (its stack's status) and Step
 * Functions (it starts, watches and stops the background migrations' executions).
 */
export function addInterfaceEndpoints(
  scope: Construct,
  props: DatabaseMigrationsProps,
  vpcSubnets: ec2.SubnetSelection,
): void {
  // Secrets Manager only when the function reads the secret; IAM authentication signs locally.
  const services = new Map<string, ec2.InterfaceVpcEndpointAwsService>();
  if (!props.iamAuthentication) {
    services.set('SecretsManagerEndpoint', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER);
  }
  services.set('RdsEndpoint', ec2.InterfaceVpcEndpointAwsService.RDS);
  services.set('CloudFormationEndpoint', ec2.InterfaceVpcEndpointAwsService.CLOUDFORMATION);
  services.set('StepFunctionsEndpoint', ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS);
  for (const [id, service] of services) {
    // Open to the VPC's CIDR: with private DNS the endpoint serves the whole VPC, and other
    // workloads there must not lose the service because this construct added it.
    const endpoint = new ec2.InterfaceVpcEndpoint(scope, id, {
      vpc: props.vpc,
      service,
      subnets: { ...vpcSubnets, onePerAz: true },
      privateDnsEnabled: true,
      open: true,
    });
    acknowledge(endpoint, [
      'EC23',
      'Ingress on 443 from the VPC CIDR only (a token cdk-nag cannot evaluate); the endpoint serves the VPC ' +
        'through private DNS and every call through it still needs IAM permission',
    ]);
  }
}

/** The function's subnets when the user names none. */
export function defaultSubnets(vpc: ec2.IVpc): ec2.SubnetSelection {
  if (vpc.privateSubnets.length > 0) return { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
  if (vpc.isolatedSubnets.length > 0) return { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
  throw new DatabaseMigrationsPropsError(
    'vpc has no private or isolated subnets; pass vpcSubnets to say where the function runs',
  );
}
