import RunbookEngine

/// The AWS step actions, all sharing one lazily created client.
public enum AWSActions {
    /// Every AWS action, using `provider`'s client.
    public static func all(provider: AWSClientProvider) -> [any StepAction] {
        [
            CreateNetworkAction(provider: provider), CreateDBParameterGroupAction(provider: provider), CreateDBSubnetGroupAction(provider: provider),
            CreateDBInstanceAction(provider: provider), CreateDBInstanceReadReplicaAction(provider: provider),
            DescribeDBInstanceAction(provider: provider), AssertDBInstanceAction(provider: provider),
            LocateDeploymentAction(provider: provider), LocateStandbyAction(provider: provider), SetDeploymentRoleAction(provider: provider), SetDBParametersAction(provider: provider),
            ManageMasterPasswordAction(provider: provider), SetMultiAZAction(provider: provider),
            RebootDBInstanceAction(provider: provider), PromoteReadReplicaAction(provider: provider), DeleteDBInstanceAction(provider: provider),
            RetireDBInstanceAction(provider: provider), DeleteRetiredDBInstancesAction(provider: provider),
            CreateDBSnapshotAction(provider: provider), DescribeDBSnapshotAction(provider: provider),
            FindLatestSnapshotAction(provider: provider), CopyDBSnapshotAction(provider: provider),
            RestoreDBInstanceFromSnapshotAction(provider: provider), SetDeletionProtectionAction(provider: provider),
            StartBackupReplicationAction(provider: provider), StopBackupReplicationAction(provider: provider),
            PutMetricAlarmAction(provider: provider), DeleteAlarmsAction(provider: provider), GetReplicaLagAction(provider: provider),
            CreateTopicAction(provider: provider), CreateRoleAction(provider: provider),
            CreateHostedZoneAction(provider: provider), CreateHealthCheckAction(provider: provider),
            UpsertRecordAction(provider: provider), GetRecordAction(provider: provider), DeleteRecordAction(provider: provider),
        ] + deletes(provider: provider)
    }

    /// The deletes of one named resource each: a line per resource type.
    static func deletes(provider: AWSClientProvider) -> [any StepAction] {
        [
            DeleteResourceAction("aws.ec2.delete-network", "Delete a runbook-created VPC and its subnets (absent is fine)", noun: "VPC",
                                 deletion: .runbookCreated { ["vpc_id": $0.id] }) { try NetworkResource(provider, $0) },
            DeleteResourceAction("aws.rds.delete-db-parameter-group", "Delete a DB parameter group (absent is fine)", noun: "parameter group") {
                try DBParameterGroupResource(provider, $0)
            },
            DeleteResourceAction("aws.rds.delete-db-subnet-group", "Delete a DB subnet group (absent is fine)", noun: "subnet group",
                                 deletion: .anyOwnerWithUndo) { try DBSubnetGroupResource(provider, $0) },
            DeleteResourceAction("aws.rds.delete-db-snapshot", "Delete a DB snapshot (absent is fine)",
                                 inputs: [ActionInputSpec("snapshot_identifier", required: true), ActionInputSpec("identifier"), AWSStep.regionInput,
                                          ActionInputSpec("only_this_run", description: "true: refuse to delete a snapshot this run did not create")],
                                 noun: "snapshot", deletion: .refusingOthersIfAsked) { try DBSnapshotResource(provider, $0) },
            DeleteResourceAction("aws.sns.delete-topic", "Delete a runbook-created SNS topic (absent is fine)", noun: "SNS topic",
                                 deletion: .runbookCreated()) { try SNSTopicResource(provider, $0) },
            DeleteResourceAction("aws.iam.delete-role", "Detach policies from and delete an IAM role (absent is fine)",
                                 inputs: [ActionInputSpec("name", required: true)], noun: "IAM role") { try IAMRoleResource(provider, $0) },
            DeleteResourceAction("aws.route53.delete-hosted-zone", "Delete runbook-created hosted zones of a name, records first (absent is fine)",
                                 inputs: [ActionInputSpec("name", required: true)], noun: "hosted zone",
                                 deletion: .everyRunbookCreated) { try HostedZoneResource(provider, $0) },
            DeleteResourceAction("aws.route53.delete-health-check", "Delete runbook-created health checks by Name tag (absent is fine)",
                                 inputs: [ActionInputSpec("name", required: true)], noun: "health check",
                                 deletion: .everyRunbookCreated) { try HealthCheckResource(provider, $0) },
        ]
    }
}
