import Foundation
import NIOConcurrencyHelpers

/// A small registry of counters, gauges and histograms, written in the Prometheus text
/// exposition format, version 0.0.4 (`text/plain; version=0.0.4`). Each family has a fixed list
/// of label names; every series is one list of label values. Label values must come from small,
/// known sets (route names, status codes, formats): never a path, an address or anything a
/// visitor typed, so that no personal data reaches a metric and the number of series stays small.
final class MetricsRegistry: Sendable {
    private let families = NIOLockedValueBox<[any MetricFamily]>([])

    /// The content type of `render()`.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    func counter(_ name: String, _ help: String, labels: [String] = []) -> MetricsCounter {
        add(MetricsCounter(name: name, help: help, labelNames: labels))
    }

    func gauge(_ name: String, _ help: String, labels: [String] = []) -> MetricsGauge {
        add(MetricsGauge(name: name, help: help, labelNames: labels))
    }

    func histogram(_ name: String, _ help: String, labels: [String] = [], buckets: [Double]) -> MetricsHistogram {
        add(MetricsHistogram(name: name, help: help, labelNames: labels, buckets: buckets))
    }

    private func add<F: MetricFamily>(_ family: F) -> F {
        precondition(Self.isValidName(family.name), "\(family.name) is not a metric name")
        for label in family.labelNames {
            precondition(Self.isValidName(label) && !label.hasPrefix("__") && !label.contains(":") && label != "le",
                         "\(label) is not a label name")
        }
        families.withLockedValue { all in
            precondition(!all.contains { $0.name == family.name }, "\(family.name) is registered twice")
            all.append(family)
        }
        return family
    }

    /// Every family, in the order registered: `# HELP`, `# TYPE`, then its series.
    func render() -> String {
        var out = ""
        for family in families.withLockedValue({ $0 }) {
            out += "# HELP \(family.name) \(Self.escapeHelp(family.help))\n"
            out += "# TYPE \(family.name) \(family.type)\n"
            family.write(into: &out)
        }
        return out
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return false }
        return name.utf8.allSatisfy { b in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) || b == UInt8(ascii: "_") || b == UInt8(ascii: ":")
        }
    }

    /// A label value: backslash, double quote and line feed escaped.
    static func escapeLabelValue(_ value: String) -> String {
        guard value.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return value }
        var out = ""
        for c in value.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A `# HELP` text: backslash and line feed escaped.
    static func escapeHelp(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// A sample value: integers without a fraction, `+Inf`, `-Inf`, `NaN`.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == .infinity { return "+Inf" }
        if value == -.infinity { return "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// `{a="1",b="2"}`, or nothing when there are no labels.
    static func labelText(_ names: [String], _ values: [String], extra: (String, String)? = nil) -> String {
        var pairs = zip(names, values).map { "\($0)=\"\(escapeLabelValue($1))\"" }
        if let (name, value) = extra { pairs.append("\(name)=\"\(escapeLabelValue(value))\"") }
        return pairs.isEmpty ? "" : "{" + pairs.joined(separator: ",") + "}"
    }
}

protocol MetricFamily: AnyObject, Sendable {
    var name: String { get }
    var help: String { get }
    var type: String { get }
    var labelNames: [String] { get }
    func write(into out: inout String)
}

/// Series of one family, kept under the family's own lock.
final class SeriesTable<Value: Sendable>: Sendable {
    private let box: NIOLockedValueBox<[[String]: Value]>

    init(_ initial: [[String]: Value] = [:]) { box = NIOLockedValueBox(initial) }

    func update(_ labels: [String], initial: @autoclosure () -> Value, _ change: (inout Value) -> Void) {
        box.withLockedValue { table in
            if table[labels] == nil { table[labels] = initial() }
            change(&table[labels]!)
        }
    }

    func set(_ labels: [String], _ value: Value?) { box.withLockedValue { $0[labels] = value } }
    func get(_ labels: [String]) -> Value? { box.withLockedValue { $0[labels] } }

    /// Every series, sorted by its label values (a stable output).
    var sorted: [([String], Value)] {
        box.withLockedValue { $0.map { ($0.key, $0.value) } }.sorted { $0.0.lexicographicallyPrecedes($1.0) }
    }
}

/// A value that only goes up (`…_total`).
final class MetricsCounter: MetricFamily {
    let name: String, help: String, labelNames: [String]
    var type: String { "counter" }
    private let series: SeriesTable<Double>

    init(name: String, help: String, labelNames: [String]) {
        self.name = name; self.help = help; self.labelNames = labelNames
        // A counter without labels shows 0 before its first event.
        series = SeriesTable(labelNames.isEmpty ? [[]: 0] : [:])
    }

    func inc(_ labels: String..., by amount: Double = 1) { inc(labels: labels, by: amount) }

    func inc(labels: [String], by amount: Double = 1) {
        precondition(labels.count == labelNames.count, "\(name) takes \(labelNames.count) labels")
        guard amount >= 0 else { return }
        series.update(labels, initial: 0) { $0 += amount }
    }

    func value(_ labels: String...) -> Double { series.get(labels) ?? 0 }

    func write(into out: inout String) {
        for (labels, value) in series.sorted {
            out += name + MetricsRegistry.labelText(labelNames, labels) + " " + MetricsRegistry.format(value) + "\n"
        }
    }
}

/// A value that goes up and down, or is read when scraped.
final class MetricsGauge: MetricFamily {
    let name: String, help: String, labelNames: [String]
    var type: String { "gauge" }
    private let series: SeriesTable<Double>

    init(name: String, help: String, labelNames: [String]) {
        self.name = name; self.help = help; self.labelNames = labelNames
        series = SeriesTable(labelNames.isEmpty ? [[]: 0] : [:])
    }

    func set(_ value: Double, _ labels: String...) {
        precondition(labels.count == labelNames.count, "\(name) takes \(labelNames.count) labels")
        series.set(labels, value)
    }

    func add(_ amount: Double, _ labels: String...) {
        precondition(labels.count == labelNames.count, "\(name) takes \(labelNames.count) labels")
        series.update(labels, initial: 0) { $0 += amount }
    }

    /// Takes the series out of the output (a value that could not be read).
    func remove(_ labels: String...) { series.set(labels, nil) }

    func value(_ labels: String...) -> Double? { series.get(labels) }

    func write(into out: inout String) {
        for (labels, value) in series.sorted {
            out += name + MetricsRegistry.labelText(labelNames, labels) + " " + MetricsRegistry.format(value) + "\n"
        }
    }
}

/// Observations counted into buckets: `…_bucket{le="…"}` (cumulative, ending with `+Inf`),
/// `…_sum` and `…_count`.
final class MetricsHistogram: MetricFamily {
    struct Data: Sendable {
        /// Observations per bucket (not cumulative); the last one is `+Inf`.
        var counts: [UInt64]
        var sum: Double = 0
        var count: UInt64 = 0
    }

    let name: String, help: String, labelNames: [String]
    /// Upper bounds, ascending, without `+Inf`.
    let buckets: [Double]
    var type: String { "histogram" }
    private let series: SeriesTable<Data>

    init(name: String, help: String, labelNames: [String], buckets: [Double]) {
        let bounds = buckets.filter { $0.isFinite }.sorted()
        precondition(!bounds.isEmpty && Set(bounds).count == bounds.count, "\(name): buckets must be distinct and finite")
        self.name = name; self.help = help; self.labelNames = labelNames; self.buckets = bounds
        series = SeriesTable(labelNames.isEmpty ? [[]: Data(counts: Array(repeating: 0, count: bounds.count + 1))] : [:])
    }

    func observe(_ value: Double, _ labels: String...) { observe(value, labels: labels) }

    func observe(_ value: Double, labels: [String]) {
        precondition(labels.count == labelNames.count, "\(name) takes \(labelNames.count) labels")
        guard !value.isNaN else { return }
        // The first bucket whose bound is at least the value (`le` is inclusive).
        var index = buckets.count
        for (i, bound) in buckets.enumerated() where value <= bound { index = i; break }
        let size = buckets.count + 1
        series.update(labels, initial: Data(counts: Array(repeating: 0, count: size))) { data in
            data.counts[index] += 1
            data.sum += value
            data.count += 1
        }
    }

    func data(_ labels: String...) -> Data? { series.get(labels) }

    func write(into out: inout String) {
        for (labels, data) in series.sorted {
            var cumulative: UInt64 = 0
            for (i, bound) in buckets.enumerated() {
                cumulative += data.counts[i]
                out += name + "_bucket" + MetricsRegistry.labelText(labelNames, labels, extra: ("le", MetricsRegistry.format(bound)))
                    + " \(cumulative)\n"
            }
            out += name + "_bucket" + MetricsRegistry.labelText(labelNames, labels, extra: ("le", "+Inf")) + " \(data.count)\n"
            let plain = MetricsRegistry.labelText(labelNames, labels)
            out += name + "_sum" + plain + " " + MetricsRegistry.format(data.sum) + "\n"
            out += name + "_count" + plain + " \(data.count)\n"
        }
    }
}
