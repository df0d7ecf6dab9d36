import Foundation
import Testing

/// A Prometheus text exposition read by an independent parser: Debian's python3-prometheus-client
/// (`prometheus_client.parser.text_string_to_metric_families`), as a scraper would read it.
public enum PrometheusParser {
    /// One metric family: its type and samples, keyed `name{label="value",…}` (labels sorted).
    public struct Family: Sendable {
        public var type: String
        public var samples: [String: Double]
    }

    static let script = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        out = {}
        for family in text_string_to_metric_families(open(sys.argv[1]).read()):
            samples = {}
            for s in family.samples:
                labels = ','.join('%s="%s"' % (k, v) for k, v in sorted(s.labels.items()))
                samples['%s{%s}' % (s.name, labels)] = s.value
            out[family.name] = {'type': family.type, 'samples': samples}
        print(json.dumps(out))
        """

    /// The families of `text`; records an issue (and returns none) when the parser refuses it.
    public static func parse(_ text: String) throws -> [String: Family] {
        let scratch = try Scratch(prefix: "pushctl-metrics")
        let file = try scratch.write("metrics.txt", text)
        let result = try runProcess(python, ["-c", script, file])
        #expect(result.status == 0, "prometheus_client refused the exposition: \(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: [String: Any]])
        return json.mapValues { Family(type: $0["type"] as? String ?? "", samples: $0["samples"] as? [String: Double] ?? [:]) }
    }
}
