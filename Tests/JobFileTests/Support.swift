import JobFile
import YAML

/// Loads a job from text as if it were the file /jobs/test.yaml.
func loadJob(_ text: String, environment: [String: String] = [:]) -> Result<Job, JobFileErrors> {
    JobLoader.load(bytes: Array(text.utf8), path: "/jobs/test.yaml", environment: environment)
}

/// The problems of an invalid job as `LINE:COLUMN: MESSAGE`; empty when the job is valid.
func problems(_ text: String, environment: [String: String] = [:]) -> [String] {
    switch loadJob(text, environment: environment) {
    case .success: []
    case .failure(let e): e.problems.map { "\($0.location.line):\($0.location.column): \($0.message)" }
    }
}

/// A valid job with one registry `prod` and one image; `registry` and `image` replace those blocks.
func job(
    registry: String = "    url: https://registry.example.com",
    image: String = """
      - source: oci:build/app:1.0
        repository: team/app
        tags: ["1.0"]
        targets: [prod]
    """,
    extra: String = ""
) -> String {
    """
    version: 1
    name: test
    \(extra)registries:
      prod:
    \(registry)
    images:
    \(image)
    """
}
