import ALVHTTPClient
import Foundation

/// An AWS Auto Scaling group over the Query API (`Version=2011-01-01`, form-encoded POSTs), signed with
/// SigV4 by libcurl. Throttling, 5xx answers and transport errors are retried with exponential back-off and
/// jitter (at most `attempts` tries); other errors (bad credentials, a missing group) are not.
public final class AutoScalingClient: InstanceProvider {
    public let group: String
    public let region: String
    public let endpoint: String
    private let credentials: AWSCredentials
    private let http = HTTPClient(timeoutMs: 10_000, connectTimeoutMs: 3_000, maxBodyBytes: 16 << 20)
    public var attempts = 4
    public var baseDelay = 0.5
    public var onRetry: ((ProviderFailure, Int, Double) -> Void)?

    public init(group: String, region: String, endpoint: String?, credentials: AWSCredentials) {
        self.group = group
        self.region = region
        self.endpoint = endpoint ?? "https://autoscaling.\(region).amazonaws.com"
        self.credentials = credentials
    }

    public var label: String { "aws-asg \(group) (\(region))" }

    public func describe() throws(ProviderFailure) -> GroupState {
        let root = try call("DescribeAutoScalingGroups", ["AutoScalingGroupNames.member.1": group])
        guard let member = root.at("DescribeAutoScalingGroupsResult", "AutoScalingGroups")?.all("member").first(where: { $0["AutoScalingGroupName"]?.text == group }) else {
            throw ProviderFailure(action: "DescribeAutoScalingGroups", code: "GroupNotFound", message: "no Auto Scaling group named \(group) in \(region)", retryable: false)
        }
        let instances = (member["Instances"]?.all("member") ?? []).compactMap { m -> GroupInstance? in
            guard let id = m["InstanceId"]?.text, !id.isEmpty else { return nil }
            let state = m["LifecycleState"]?.text ?? "Unknown"
            // Pending and InService machines are coming up or up; Terminating*, Detaching, Standby are not.
            return GroupInstance(id: id, state: state, usable: state.hasPrefix("Pending") || state == "InService")
        }
        return GroupState(desired: member["DesiredCapacity"].flatMap { Int($0.text) }, instances: instances)
    }

    public func setCapacity(_ instances: Int) throws(ProviderFailure) {
        _ = try call("SetDesiredCapacity", ["AutoScalingGroupName": group, "DesiredCapacity": String(instances), "HonorCooldown": "false"])
    }

    public func terminate(_ instance: String) throws(ProviderFailure) {
        _ = try call("TerminateInstanceInAutoScalingGroup", ["InstanceId": instance, "ShouldDecrementDesiredCapacity": "true"])
    }

    /// The activities the group reports, newest first (description, cause, status).
    public func activities() throws(ProviderFailure) -> [(description: String, cause: String, status: String)] {
        let root = try call("DescribeScalingActivities", ["AutoScalingGroupName": group])
        return (root.at("DescribeScalingActivitiesResult", "Activities")?.all("member") ?? []).map {
            ($0["Description"]?.text ?? "", $0["Cause"]?.text ?? "", $0["StatusCode"]?.text ?? "")
        }
    }

    /// One action with retries. - Returns: the answer's root element.
    func call(_ action: String, _ parameters: [String: String]) throws(ProviderFailure) -> XMLElement {
        try retrying(attempts: attempts, baseDelay: baseDelay, jitter: true, onRetry: onRetry) { () throws(ProviderFailure) in try once(action, parameters) }
    }

    private func once(_ action: String, _ parameters: [String: String]) throws(ProviderFailure) -> XMLElement {
        let form = (["Action": action, "Version": "2011-01-01"].merging(parameters) { $1 })
            .sorted { $0.key < $1.key }
            .map { "\(Self.formEscape($0.key))=\(Self.formEscape($0.value))" }
            .joined(separator: "&")
        let signing = HTTPClient.AWSSigning(region: region, service: "autoscaling", accessKeyID: credentials.accessKeyID, secretAccessKey: credentials.secretAccessKey, sessionToken: credentials.sessionToken)
        let response: HTTPClient.Response
        do {
            response = try http.post(endpoint + (endpoint.hasSuffix("/") ? "" : "/"), body: Array(form.utf8), headers: ["Content-Type: application/x-www-form-urlencoded; charset=utf-8"], signing: signing)
        } catch {
            throw ProviderFailure(action: action, code: "Unreachable", message: error.message, retryable: true)
        }
        let root = XMLElement.parse(response.text)
        guard (200..<300).contains(response.status) else {
            // <ErrorResponse><Error>…</Error></ErrorResponse>, or <Response><Errors><Error>… (EC2-style).
            let detail = root?.at("Error") ?? root?.at("Errors", "Error")
            let code = detail?["Code"]?.text ?? "HTTP\(response.status)"
            let message = detail?["Message"]?.text ?? String(response.text.prefix(200))
            let retryable = response.status >= 500 || ["Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable", "InternalFailure"].contains(code)
            throw ProviderFailure(action: action, code: code, message: message, retryable: retryable)
        }
        guard let root else { throw ProviderFailure(action: action, code: "BadAnswer", message: "the answer is not XML: \(response.text.prefix(120))", retryable: true) }
        return root
    }

    /// RFC 3986 unreserved characters stay; everything else is percent-encoded (what SigV4 expects).
    static func formEscape(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if byte < 128 && (c.isLetter || c.isNumber || "-_.~".contains(c)) { out.append(c) } else { out += String(format: "%%%02X", byte) }
        }
        return out
    }
}
