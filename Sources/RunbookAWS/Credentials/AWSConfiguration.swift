import Foundation

/// The services this client speaks, with their wire details.
public enum AWSService: String, Sendable, CaseIterable {
    case rds, ec2, route53, cloudwatch, sns, iam, sts
    case secretsManager = "secretsmanager"

    /// The SigV4 signing name (credential scope service).
    public var signingName: String {
        switch self {
        case .cloudwatch: return "monitoring"
        default: return rawValue
        }
    }

    /// The suffix of the service-specific endpoint variable `AWS_ENDPOINT_URL_<SUFFIX>`.
    public var endpointEnvironmentSuffix: String {
        switch self {
        case .rds: return "RDS"
        case .ec2: return "EC2"
        case .route53: return "ROUTE_53"
        case .cloudwatch: return "CLOUDWATCH"
        case .sns: return "SNS"
        case .iam: return "IAM"
        case .sts: return "STS"
        case .secretsManager: return "SECRETS_MANAGER"
        }
    }

    /// Global services are signed for us-east-1 whatever region the caller names.
    public var isGlobal: Bool { self == .route53 || self == .iam }

    /// The API version (sent as `Version` by the Query services; Route 53 and Secrets Manager do not send it).
    public var apiVersion: String {
        switch self {
        case .rds: return "2014-10-31"
        case .ec2: return "2016-11-15"
        case .route53: return "2013-04-01"
        case .cloudwatch: return "2010-08-01"
        case .sns: return "2010-03-31"
        case .iam: return "2010-05-08"
        case .sts: return "2011-06-15"
        case .secretsManager: return "2017-10-17"
        }
    }

    /// The AWS JSON protocol's target prefix (`X-Amz-Target: <prefix>.<Operation>`); nil for the Query and REST-XML services.
    public var jsonTargetPrefix: String? {
        switch self {
        case .secretsManager: return "secretsmanager"
        default: return nil
        }
    }

    func defaultEndpoint(region: String) -> String {
        switch self {
        case .route53: return "https://route53.amazonaws.com"
        case .iam: return "https://iam.amazonaws.com"
        case .cloudwatch: return "https://monitoring.\(region).amazonaws.com"
        default: return "https://\(rawValue).\(region).amazonaws.com"
        }
    }
}

/// Where credentials come from, resolved in the AWS CLI's order.
public enum AWSCredentialSource: Sendable {
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, or a profile's keys.
    case keys(AWSCredentials, origin: String)
    /// A profile with `role_arn` + `source_profile`: assume the role with the source's keys.
    case assumeRole(roleARN: String, sessionName: String, externalID: String?, source: AWSCredentials, origin: String)
}

/// Credentials, default region and endpoint overrides, resolved from the environment and the
/// shared config files. Its `description` never shows secrets.
public struct AWSConfiguration: Sendable, CustomStringConvertible {
    public var credentialSource: AWSCredentialSource
    /// Region from `AWS_REGION`, `AWS_DEFAULT_REGION` or the profile; a step's region overrides it.
    public var defaultRegion: String?
    /// The profile in use (`AWS_PROFILE` or `default`), if any profile was read.
    public var profile: String?
    /// `AWS_ENDPOINT_URL`: one endpoint for every service (a local emulator).
    public var globalEndpoint: String?
    /// `AWS_ENDPOINT_URL_<SERVICE>` overrides.
    public var serviceEndpoints: [AWSService: String] = [:]

    public var description: String {
        let source: String
        switch credentialSource {
        case let .keys(c, origin): source = "keys \(c.accessKeyID) from \(origin)"
        case let .assumeRole(role, _, _, c, origin): source = "assume \(role) with keys \(c.accessKeyID) from \(origin)"
        }
        return "AWSConfiguration(\(source), region: \(defaultRegion ?? "unset"), endpoint: \(globalEndpoint ?? "AWS"))"
    }

    /// The region to use: the caller's, else the configured default. Throws a one-line error naming what to set.
    public func region(_ requested: String?) throws -> String {
        if let requested, !requested.isEmpty { return requested }
        if let defaultRegion { return defaultRegion }
        throw AWSConfigurationError("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or `region` in the profile), or give the step a region")
    }

    /// The endpoint URL for a service in a region (override, else AWS's).
    public func endpoint(for service: AWSService, region: String) -> String {
        if let url = serviceEndpoints[service] { return url }
        if let url = globalEndpoint { return url }
        return service.defaultEndpoint(region: region)
    }

    /// Resolves configuration like the AWS CLI: environment keys, else `AWS_PROFILE` (or `default`)
    /// from `AWS_SHARED_CREDENTIALS_FILE` (default `~/.aws/credentials`) and `AWS_CONFIG_FILE`
    /// (default `~/.aws/config`), following `role_arn` + `source_profile`.
    ///
    /// - Parameter homeDirectory: the home directory for `~/.aws`; defaults to `HOME` in `environment`.
    public static func resolve(environment: [String: String], homeDirectory: String? = nil) throws -> AWSConfiguration {
        func env(_ key: String) -> String? {
            guard let v = environment[key]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        let home = homeDirectory ?? env("HOME") ?? NSHomeDirectory()
        let credentialsPath = env("AWS_SHARED_CREDENTIALS_FILE").map(expandTilde(home)) ?? "\(home)/.aws/credentials"
        let configPath = env("AWS_CONFIG_FILE").map(expandTilde(home)) ?? "\(home)/.aws/config"
        let credentialsFile = SharedConfigFile.load(path: credentialsPath, isConfigFile: false)
        let configFile = SharedConfigFile.load(path: configPath, isConfigFile: true)
        let explicitProfile = env("AWS_PROFILE")
        let profileName = explicitProfile ?? "default"

        func settings(_ name: String) -> [String: String]? {
            let a = configFile?.profiles[name]
            let b = credentialsFile?.profiles[name]
            if a == nil && b == nil { return nil }
            // The credentials file wins for keys, as in the CLI.
            return (a ?? [:]).merging(b ?? [:]) { _, fromCredentials in fromCredentials }
        }

        let profileSettings = settings(profileName)
        if explicitProfile != nil && profileSettings == nil {
            throw AWSConfigurationError("AWS profile '\(profileName)' not found in \(credentialsPath) or \(configPath): fix AWS_PROFILE or add the profile")
        }

        var endpoints: [AWSService: String] = [:]
        for service in AWSService.allCases {
            if let url = env("AWS_ENDPOINT_URL_\(service.endpointEnvironmentSuffix)") { endpoints[service] = url }
        }
        let region = env("AWS_REGION") ?? env("AWS_DEFAULT_REGION") ?? profileSettings?["region"]

        let source: AWSCredentialSource
        if let key = env("AWS_ACCESS_KEY_ID") {
            guard let secret = env("AWS_SECRET_ACCESS_KEY") else {
                throw AWSConfigurationError("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both")
            }
            source = .keys(AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: env("AWS_SESSION_TOKEN")), origin: "environment")
        } else if let profileSettings {
            source = try profileCredentials(profileName, profileSettings, settings: settings, visited: [])
        } else {
            throw AWSConfigurationError("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE naming a profile in ~/.aws/credentials")
        }
        return AWSConfiguration(credentialSource: source, defaultRegion: region, profile: profileSettings == nil ? nil : profileName,
                                globalEndpoint: env("AWS_ENDPOINT_URL"), serviceEndpoints: endpoints)
    }

    private static func profileCredentials(
        _ name: String, _ values: [String: String], settings: (String) -> [String: String]?, visited: Set<String>
    ) throws -> AWSCredentialSource {
        if let role = values["role_arn"] {
            guard let sourceName = values["source_profile"] else {
                throw AWSConfigurationError("AWS profile '\(name)' has role_arn but no source_profile: add source_profile (credential_source is not supported)")
            }
            if visited.contains(sourceName) {
                throw AWSConfigurationError("AWS profile '\(name)': source_profile chain loops through '\(sourceName)'")
            }
            guard let sourceValues = settings(sourceName) else {
                throw AWSConfigurationError("AWS profile '\(name)': source_profile '\(sourceName)' not found")
            }
            guard case let .keys(keys, _) = try profileCredentials(sourceName, sourceValues, settings: settings, visited: visited.union([name])) else {
                throw AWSConfigurationError("AWS profile '\(name)': source_profile '\(sourceName)' assumes a role itself; role chaining is not supported, point source_profile at a profile with keys")
            }
            return .assumeRole(roleARN: role, sessionName: values["role_session_name"] ?? "runbook-\(Int(Date().timeIntervalSince1970))",
                               externalID: values["external_id"], source: keys, origin: "profile \(name)")
        }
        guard let key = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] else {
            throw AWSConfigurationError("AWS profile '\(name)' has no aws_access_key_id/aws_secret_access_key: add them, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        }
        return .keys(AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: values["aws_session_token"]), origin: "profile \(name)")
    }

    private static func expandTilde(_ home: String) -> (String) -> String {
        { path in path.hasPrefix("~/") ? home + path.dropFirst() : path }
    }
}
