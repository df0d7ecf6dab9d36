import Foundation
import TestSupport
import Testing

/// The scheduling examples of docs/replication.md stay consistent with the CLI and the job they run.
@Suite(.serialized) struct ReplicationExamplesTests {
    /// The pushctl arguments of a command line in an example (everything after `pushctl`, up to a redirection).
    func pushctlArguments(_ line: String) -> [String] {
        let words = line.split(separator: " ").map(String.init)
        guard let start = words.firstIndex(where: { $0 == "pushctl" || $0.hasSuffix("bin/pushctl") }) else { return [] }
        return Array(words[(start + 1)...].prefix { !$0.hasPrefix(">") && !$0.hasPrefix("2>") })
    }

    func read(_ path: String) throws -> String {
        try String(contentsOfFile: packageRoot + "/" + path, encoding: .utf8)
    }

    @Test func replicationJobValidates() throws {
        let r = try pushctl("validate", "jobs/replicate.yaml")
        #expect(r.status == 0, "\(r.stderr)")
        let plan = try pushctl("plan", "--offline", "jobs/replicate.yaml")
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("selector: match '3\\.[0-9]+', semver '>=3.18', latest 3"))
    }

    @Test func crontabAndSystemdRunApplyWithPlainOutputAndAStateFile() throws {
        let cronLine = try #require(try read("examples/cron/crontab").split(separator: "\n").first { !$0.hasPrefix("#") && !$0.isEmpty })
        let fields = cronLine.split(separator: " ", omittingEmptySubsequences: true)
        #expect(fields.count > 5 && fields[0] == "15" && fields[1] == "2", "\(cronLine)")
        #expect(cronLine.hasSuffix(">> /var/log/pushctl/replicate.log 2>&1"))
        #expect(!cronLine.contains("flock"), "pushctl has its own lock")
        let service = try read("examples/cron/pushctl-replicate.service")
        let execStart = try #require(service.split(separator: "\n").first { $0.hasPrefix("ExecStart=") })
        #expect(service.contains("SuccessExitStatus=3"))
        let timer = try read("examples/cron/pushctl-replicate.timer")
        #expect(timer.contains("OnCalendar=*-*-* 02:15:00"))
        for arguments in [pushctlArguments(String(cronLine)), pushctlArguments(String(execStart))] {
            #expect(
                arguments == ["apply", "--output", "plain", "--state", "/var/lib/pushctl/replicate.db", "jobs/replicate.yaml"],
                "\(arguments)")
        }
    }

    @Test func kubernetesCronJobRunsThreeIndexedShardsIntoOnePostgresLedger() throws {
        let script = """
            import json, sys, yaml
            doc = yaml.safe_load(open(sys.argv[1]))
            spec = doc['spec']['jobTemplate']['spec']
            container = spec['template']['spec']['containers'][0]
            print(json.dumps({'kind': doc['kind'], 'mode': spec['completionMode'], 'completions': spec['completions'],
                              'parallelism': spec['parallelism'], 'command': container['command'], 'args': container['args'],
                              'policy': doc['spec']['concurrencyPolicy']}))
            """
        let r = try run(python, ["-c", script, packageRoot + "/examples/kubernetes/cronjob.yaml"])
        #expect(r.status == 0, "\(r.stderr)")
        struct Shape: Decodable {
            var kind: String, mode: String, completions: Int, parallelism: Int, command: [String], args: [String], policy: String
        }
        let shape = try JSONDecoder().decode(Shape.self, from: Data(r.stdout.utf8))
        #expect(shape.kind == "CronJob" && shape.mode == "Indexed" && shape.policy == "Forbid")
        #expect(shape.completions == 3 && shape.parallelism == 3)
        #expect(shape.command == ["pushctl"])
        #expect(
            shape.args == [
                "apply", "--output=plain", "--shard=$(JOB_COMPLETION_INDEX)/3",
                "--state=postgres://pushctl@postgres.platform.svc:5432/pushctl?sslmode=verify-full", "jobs/replicate.yaml"
            ])
        // Each index gives a shard pushctl accepts (it checks the job file first: a missing one is exit 2, a bad shard a usage error).
        for index in 0..<3 {
            let args = shape.args.map { $0.replacingOccurrences(of: "$(JOB_COMPLETION_INDEX)", with: "\(index)") }
                .map { $0.hasPrefix("--state=") ? "--state=/nonexistent-dir-\(UUID().uuidString)/s.db" : $0 }
                .map { $0 == "jobs/replicate.yaml" ? "/nonexistent-\(UUID().uuidString).yaml" : $0 }
            let check = try run(pushctlBinary, args)
            #expect(check.status == 2, "\(check.stderr)")
            #expect(check.stderr.contains("cannot read job file"), "shard \(index)/3 was not accepted: \(check.stderr)")
        }
    }
}
