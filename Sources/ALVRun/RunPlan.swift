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
    /// What `{{env.NAME}}` reads in every unit of the run (`--env`); nothing else of any environment is read.
    public var env: [String: String]

    public init(profile: ALVProfile?, steps: [Step], target: String, env: [String: String] = [:]) {
        self.profile = profile
        self.steps = steps
        self.target = target
        self.env = env
    }

    /// Per step, the metric names of request types and flow steps that expect or capture (whose responses are checks).
    public var checkedMetricNames: [Set<String>] {
        steps.map { step in
            Set(step.vector.requestTypes.flatMap { type in type.flowSteps.filter(\.isChecked).map { type.metricName(ofStep: $0) } })
        }
    }

    /// Every `{{env.NAME}}` the plan's vectors read that `env` does not give: where it is read, and the name.
    public var missingEnvironment: [(vector: String, path: String, name: String)] {
        var missing: [(vector: String, path: String, name: String)] = []
        for step in steps {
            for reference in step.vector.environmentReferences where env[reference.name] == nil {
                missing.append((step.vector.vectorID, reference.path, reference.name))
            }
        }
        return missing
    }
}
