import Foundation

/// One machine of a group, as its provider reports it.
public struct GroupInstance: Sendable, Equatable {
    public var id: String
    /// The provider's word for it (`Pending`, `InService`, `Terminating`, … for AWS; `running` for a CLI).
    public var state: String
    /// Whether it is up or coming up (workers on it may enrol).
    public var usable: Bool

    public init(id: String, state: String, usable: Bool) {
        self.id = id
        self.state = state
        self.usable = usable
    }
}

/// A group as last described: the size asked of the provider and the machines it has.
public struct GroupState: Sendable, Equatable {
    public var desired: Int?
    public var instances: [GroupInstance]

    public init(desired: Int?, instances: [GroupInstance]) {
        self.desired = desired
        self.instances = instances
    }
}

/// Why a provider call failed: the provider's code (`Throttling`, `ValidationError`, `InvalidClientTokenId`,
/// an exit status) and message, and whether trying again later may help.
public struct ProviderFailure: Error, CustomStringConvertible, Sendable, Equatable {
    public var action: String
    public var code: String
    public var message: String
    public var retryable: Bool

    public init(action: String, code: String, message: String, retryable: Bool) {
        self.action = action
        self.code = code
        self.message = message
        self.retryable = retryable
    }

    public var description: String { "\(action): \(code): \(message)" }
}

/// Runs `body`, trying a retryable failure again after `baseDelay` · 2^(attempt − 1) seconds (times a
/// random 0.5…1 with `jitter`, as AWS's SDKs do), at most `attempts` times in all.
func retrying<T>(attempts: Int, baseDelay: Double, jitter: Bool, onRetry: ((ProviderFailure, Int, Double) -> Void)?,
                 _ body: () throws(ProviderFailure) -> T) throws(ProviderFailure) -> T {
    var attempt = 1
    while true {
        do {
            return try body()
        } catch {
            guard error.retryable, attempt < attempts else { throw error }
            let delay = (jitter ? Double.random(in: 0.5...1) : 1) * baseDelay * pow(2, Double(attempt - 1))
            onRetry?(error, attempt, delay)
            Thread.sleep(forTimeInterval: delay)
            attempt += 1
        }
    }
}

/// A provider of machines the planner sizes: an AWS Auto Scaling group or a provider CLI. Calls block; the
/// instance group calls them on a thread of its own.
public protocol InstanceProvider: AnyObject {
    /// For events: `aws-asg alv-workers (eu-west-1)`.
    var label: String { get }
    func describe() throws(ProviderFailure) -> GroupState
    /// Sets the group's size (scale-out; scale-in goes through `terminate`, which chooses the machine).
    func setCapacity(_ instances: Int) throws(ProviderFailure)
    /// Removes one machine and lowers the size by one, so the provider starts no replacement.
    func terminate(_ instance: String) throws(ProviderFailure)
    /// Called before each retry of a failed call (code, attempt, seconds to wait).
    var onRetry: ((ProviderFailure, Int, Double) -> Void)? { get set }
}
