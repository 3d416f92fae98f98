/// Metrics in the Prometheus data model: what `meshctl metrics` prints as the text exposition
/// format (version 0.0.4), and `--json` as these values.
///
/// Schema of `--json` (stable): `[{"name": String, "help": String, "type": "counter" | "gauge",
/// "samples": [{"labels": {String: String}, "value": Double}]}]`, families sorted by name.
public struct MetricFamily: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case counter, gauge }
    public struct Sample: Codable, Sendable, Equatable {
        public var labels: [String: String]
        public var value: Double
        public init(labels: [String: String] = [:], value: Double) {
            self.labels = labels
            self.value = value
        }
    }
    public var name: String
    public var help: String
    public var type: Kind
    public var samples: [Sample]

    public init(name: String, help: String, type: Kind, samples: [Sample]) {
        self.name = name
        self.help = help
        self.type = type
        self.samples = samples
    }
}

/// Renders metric families in the Prometheus text format.
public enum PrometheusText {
    public static func render(_ families: [MetricFamily]) -> String {
        var out = ""
        for f in families.sorted(by: { $0.name < $1.name }) {
            out += "# HELP \(f.name) \(escapeHelp(f.help))\n"
            out += "# TYPE \(f.name) \(f.type.rawValue)\n"
            for s in f.samples {
                out += f.name
                if !s.labels.isEmpty {
                    out += "{" + s.labels.sorted { $0.key < $1.key }
                        .map { "\($0.key)=\"\(escapeLabel($0.value))\"" }.joined(separator: ",") + "}"
                }
                out += " \(number(s.value))\n"
            }
        }
        return out
    }

    /// Label values escape backslash, double quote and newline.
    static func escapeLabel(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    /// Help text escapes backslash and newline.
    static func escapeHelp(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    /// Integers without a fraction (counters are whole), others as Swift prints them.
    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }
}
