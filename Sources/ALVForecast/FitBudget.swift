import Foundation

/// A deadline for model fitting, bound around a call (`FitBudget.$deadline.withValue`): the optimisers
/// (Nelder–Mead, ARIMA's stepwise search) stop early once it has passed, and the caller that set it
/// throws the result away. Monotonic nanoseconds (`DispatchTime.uptimeNanoseconds`).
public enum FitBudget {
    @TaskLocal public static var deadline: UInt64?

    /// Whether the bound deadline has passed.
    public static var expired: Bool {
        guard let deadline else { return false }
        return DispatchTime.now().uptimeNanoseconds > deadline
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}

/// How one `auto` candidate fared: scored in the backtest, or left out (and why), with the seconds it took.
public struct CandidateOutcome: Sendable, Equatable {
    public var name: String
    /// `scored`, `skipped` (the budget said so) or `failed` (it could not be fitted).
    public var status: String
    public var seconds: Double
    /// Backtest mean absolute error, when scored.
    public var meanAbsoluteError: Double?
    public var reason: String?

    public init(name: String, status: String, seconds: Double, meanAbsoluteError: Double? = nil, reason: String? = nil) {
        self.name = name
        self.status = status
        self.seconds = seconds
        self.meanAbsoluteError = meanAbsoluteError
        self.reason = reason
    }
}
