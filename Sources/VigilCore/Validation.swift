import Foundation

/// One problem found in input, named by its JSON path (`$.cases[0].people[2].name`).
public struct ValidationIssue: Hashable, Sendable, CustomStringConvertible {
    public let path: String
    public let message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): \(message)" }
}

/// Every problem found in one piece of input. Thrown only when non-empty.
public struct ValidationError: Error, Sendable, CustomStringConvertible {
    public let issues: [ValidationIssue]
    public init(_ issues: [ValidationIssue]) { self.issues = issues }
    public var description: String {
        issues.count == 1
            ? "1 problem: \(issues[0])"
            : "\(issues.count) problems: " + issues.map(\.description).joined(separator: "; ")
    }
}

/// Collects issues while a tree of JSON is read.
public final class Diagnostics: @unchecked Sendable {
    public private(set) var issues: [ValidationIssue] = []
    public init() {}
    public func add(_ path: String, _ message: String) {
        issues.append(ValidationIssue(path: path, message: message))
    }
    public var isEmpty: Bool { issues.isEmpty }
    public func throwIfAny() throws {
        if !issues.isEmpty { throw ValidationError(issues) }
    }
}

/// Reads one JSON object, recording each missing, mistyped or unknown member.
public struct ObjectReader {
    public let path: String
    let members: [String: JSONValue]
    let diagnostics: Diagnostics
    private var known: Set<String> = []

    /// Returns nil (and records an issue) when `value` is not an object.
    public init?(_ value: JSONValue?, path: String, diagnostics: Diagnostics) {
        guard let value else {
            diagnostics.add(path, "is required")
            return nil
        }
        guard case .object(let members) = value else {
            diagnostics.add(path, "must be an object, not \(value.typeName)")
            return nil
        }
        self.path = path
        self.members = members
        self.diagnostics = diagnostics
    }

    public func child(_ key: String) -> String { "\(path).\(key)" }

    public mutating func raw(_ key: String) -> JSONValue? {
        known.insert(key)
        if case .null? = members[key] { return nil }
        return members[key]
    }

    public mutating func has(_ key: String) -> Bool {
        known.insert(key)
        if let v = members[key], v != .null { return true }
        return false
    }

    public mutating func string(_ key: String, required: Bool = false, allowEmpty: Bool = false, maxLength: Int = 100_000) -> String? {
        guard let value = raw(key) else {
            if required { diagnostics.add(child(key), "is required") }
            return nil
        }
        guard case .string(let s) = value else {
            diagnostics.add(child(key), "must be a string, not \(value.typeName)")
            return nil
        }
        let trimmed = s.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty && !allowEmpty {
            diagnostics.add(child(key), "must not be empty")
            return nil
        }
        if s.count > maxLength {
            diagnostics.add(child(key), "is too long (\(s.count) characters; at most \(maxLength))")
            return nil
        }
        if s.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\t" && $0 != "\r" }) {
            diagnostics.add(child(key), "must not contain control characters")
            return nil
        }
        return s
    }

    public mutating func int(_ key: String, required: Bool = false, range: ClosedRange<Int>) -> Int? {
        guard let value = raw(key) else {
            if required { diagnostics.add(child(key), "is required") }
            return nil
        }
        guard case .number(let n) = value, n.rounded() == n, abs(n) < 1e15 else {
            diagnostics.add(child(key), "must be a whole number, not \(value.typeName)")
            return nil
        }
        let i = Int(n)
        guard range.contains(i) else {
            diagnostics.add(child(key), "must be between \(range.lowerBound) and \(range.upperBound)")
            return nil
        }
        return i
    }

    public mutating func bool(_ key: String) -> Bool? {
        guard let value = raw(key) else { return nil }
        guard case .bool(let b) = value else {
            diagnostics.add(child(key), "must be true or false, not \(value.typeName)")
            return nil
        }
        return b
    }

    /// Reads an array, calling `each` with the element and its path.
    public mutating func array<T>(_ key: String, required: Bool = false, maxCount: Int = 10_000, _ each: (JSONValue, String) -> T?) -> [T] {
        guard let value = raw(key) else {
            if required { diagnostics.add(child(key), "is required") }
            return []
        }
        guard case .array(let items) = value else {
            diagnostics.add(child(key), "must be an array, not \(value.typeName)")
            return []
        }
        if items.count > maxCount {
            diagnostics.add(child(key), "has too many items (\(items.count); at most \(maxCount))")
            return []
        }
        return items.enumerated().compactMap { i, item in each(item, "\(child(key))[\(i)]") }
    }

    /// Like `array`, keeping each element's path beside it.
    public mutating func locatedArray<T>(_ key: String, maxCount: Int = 100_000, _ each: (JSONValue, String) -> T?) -> [(T, String)] {
        array(key, maxCount: maxCount) { item, path in each(item, path).map { ($0, path) } }
    }

    public mutating func strings(_ key: String, required: Bool = false, validate: ((String) -> String?)? = nil) -> [String] {
        let d = diagnostics
        return array(key, required: required) { item, path in
            guard case .string(let s) = item, !s.trimmingCharacters(in: .whitespaces).isEmpty else {
                d.add(path, "must be a non-empty string, not \(item.typeName)")
                return nil
            }
            if let validate, let problem = validate(s) {
                d.add(path, problem)
                return nil
            }
            return s
        }
    }

    /// Reads an object whose values are strings (e.g. salutations by language).
    public mutating func stringMap(_ key: String, allowNullValues: Bool = false, validateKey: ((String) -> String?)? = nil) -> [String: String] {
        guard let value = raw(key) else { return [:] }
        guard case .object(let members) = value else {
            diagnostics.add(child(key), "must be an object, not \(value.typeName)")
            return [:]
        }
        var result: [String: String] = [:]
        for (k, v) in members {
            let path = "\(child(key)).\(k)"
            if let validateKey, let problem = validateKey(k) {
                diagnostics.add(path, problem)
                continue
            }
            switch v {
            case .string(let s) where !s.trimmingCharacters(in: .whitespaces).isEmpty:
                result[k] = s
            case .null where allowNullValues:
                continue
            default:
                diagnostics.add(path, "must be a non-empty string, not \(v.typeName)")
            }
        }
        return result
    }

    public mutating func date(_ key: String, required: Bool = false, dayPrecision: Bool = false) -> PartialDate? {
        guard let s = string(key, required: required) else { return nil }
        guard let date = PartialDate(s) else {
            diagnostics.add(child(key), "must be a date as YYYY-MM-DD, YYYY-MM or YYYY, not \"\(s)\"")
            return nil
        }
        if dayPrecision && date.precision != .day {
            diagnostics.add(child(key), "must be a full date (YYYY-MM-DD)")
            return nil
        }
        return date
    }

    public mutating func enumValue<E: RawRepresentable & CaseIterable>(_ key: String, _ type: E.Type, required: Bool = false) -> E? where E.RawValue == String {
        guard let s = string(key, required: required) else { return nil }
        guard let e = E(rawValue: s) else {
            let allowed = E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            diagnostics.add(child(key), "must be one of \(allowed), not \"\(s)\"")
            return nil
        }
        return e
    }

    /// Records every member that was never asked for: unknown fields are refused.
    public func finish() {
        for key in members.keys.sorted() where !known.contains(key) {
            diagnostics.add(child(key), "is not a known field")
        }
    }
}
