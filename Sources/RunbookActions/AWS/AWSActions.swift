import RunbookEngine

/// The AWS step actions, all sharing one lazily created client.
public enum AWSActions {
    /// Every AWS action, using `provider`'s client.
    public static func all(provider: AWSClientProvider) -> [any StepAction] {
        [
            CreateNetworkAction(provider: provider), DeleteNetworkAction(provider: provider),
            CreateDBParameterGroupAction(provider: provider), DeleteDBParameterGroupAction(provider: provider),
            CreateDBSubnetGroupAction(provider: provider), DeleteDBSubnetGroupAction(provider: provider),
            CreateDBInstanceAction(provider: provider), CreateDBInstanceReadReplicaAction(provider: provider),
            DescribeDBInstanceAction(provider: provider), AssertDBInstanceAction(provider: provider),
            LocateDeploymentAction(provider: provider), LocateStandbyAction(provider: provider), SetDeploymentRoleAction(provider: provider), SetDBParametersAction(provider: provider),
            ManageMasterPasswordAction(provider: provider), SetMultiAZAction(provider: provider),
            RebootDBInstanceAction(provider: provider), PromoteReadReplicaAction(provider: provider), DeleteDBInstanceAction(provider: provider),
            RetireDBInstanceAction(provider: provider), DeleteRetiredDBInstancesAction(provider: provider),
            CreateDBSnapshotAction(provider: provider), DescribeDBSnapshotAction(provider: provider), DeleteDBSnapshotAction(provider: provider),
            FindLatestSnapshotAction(provider: provider), CopyDBSnapshotAction(provider: provider),
            RestoreDBInstanceFromSnapshotAction(provider: provider), SetDeletionProtectionAction(provider: provider),
            StartBackupReplicationAction(provider: provider), StopBackupReplicationAction(provider: provider),
            PutMetricAlarmAction(provider: provider), DeleteAlarmsAction(provider: provider), GetReplicaLagAction(provider: provider),
            CreateTopicAction(provider: provider), DeleteTopicAction(provider: provider),
            CreateRoleAction(provider: provider), DeleteRoleAction(provider: provider),
            CreateHostedZoneAction(provider: provider), DeleteHostedZoneAction(provider: provider),
            CreateHealthCheckAction(provider: provider), DeleteHealthCheckAction(provider: provider),
            UpsertRecordAction(provider: provider), GetRecordAction(provider: provider), DeleteRecordAction(provider: provider),
        ]
    }
}
