import ALVModel

/// What a run executes: one vector, or a profile's vectors in sequence, against a target.
public struct RunPlan: Sendable {
    public struct Step: Sendable {
        public var vector: LoadVector
        /// Where the vector's relative data files resolve.
        public var dataDirectory: String?

        public init(vector: LoadVector, dataDirectory: String?) {
            self.vector = vector
            self.dataDirectory = dataDirectory
        }
    }

    public var profile: ALVProfile?
    public var steps: [Step]
    public var target: String

    public init(profile: ALVProfile?, steps: [Step], target: String) {
        self.profile = profile
        self.steps = steps
        self.target = target
    }
}
