import Foundation

/// A sentence for people: a catalogue key, its English template and the values of its
/// placeholders. VigilCore cannot see the catalogues (`Resources/Locales`), so it carries the
/// English (for the CLI, imports and logs) and the key the server translates it by. A value is
/// itself a message: verbatim text (an id, a number: `Message.text`) or a translatable term
/// ("a string" → "una cadena"), resolved first.
public struct Message: Hashable, Sendable, CustomStringConvertible {
    /// The catalogue key; nil for verbatim text.
    public let key: String?
    /// The English template (`{name}` placeholders), or the verbatim text.
    public let template: String
    public let values: [String: Message]

    public init(_ key: String, _ english: String, _ values: [String: Message] = [:]) {
        self.key = key
        self.template = english
        self.values = values
    }

    /// Text that is not translated (an id, a number, a value as sent).
    public static func text(_ s: String) -> Message { Message(verbatim: s) }

    private init(verbatim: String) {
        key = nil
        template = verbatim
        values = [:]
    }

    /// Verbatim values from plain strings.
    public init(_ key: String, _ english: String, texts: [String: String], _ values: [String: Message] = [:]) {
        self.init(key, english, values.merging(texts.mapValues(Message.text)) { m, _ in m })
    }

    /// The same message with `a` written `b` in its verbatim parts (a stand-in id put back).
    public func replacingText(_ a: String, with b: String) -> Message {
        guard key != nil else { return .text(template.replacingOccurrences(of: a, with: b)) }
        return Message(key!, template, values.mapValues { $0.replacingText(a, with: b) })
    }

    /// The message in English.
    public var english: String { text { _ in nil } }

    public var description: String { english }

    /// The message in a language: `lookup` gives a key's template there (nil: the English).
    public func text(_ lookup: (String) -> String?) -> String {
        guard let key else { return template }
        return Placeholders.fill(lookup(key) ?? template, values.mapValues { $0.text(lookup) })
    }
}

/// One problem found in input, named by its JSON path (`$.cases[0].people[2].name`).
public struct ValidationIssue: Hashable, Sendable, CustomStringConvertible {
    public let path: String
    /// In English.
    public let message: String
    /// The same, to translate (`Message.text(message)` for an issue made from English alone).
    public let phrase: Message
    public init(path: String, message: String) {
        self.path = path
        self.message = message
        self.phrase = .text(message)
    }
    public init(path: String, _ phrase: Message) {
        self.path = path
        self.message = phrase.english
        self.phrase = phrase
    }
    public var description: String { "\(path): \(message)" }

    /// The same issue at another path.
    public func at(_ path: String) -> ValidationIssue { ValidationIssue(path: path, phrase) }

    // Two issues are the same when they say the same thing at the same place.
    public static func == (a: ValidationIssue, b: ValidationIssue) -> Bool { a.path == b.path && a.message == b.message }
    public func hash(into h: inout Hasher) { h.combine(path); h.combine(message) }
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
    public func add(_ path: String, _ message: Message) {
        issues.append(ValidationIssue(path: path, message))
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
            diagnostics.add(path, IssueText.required)
            return nil
        }
        guard case .object(let members) = value else {
            diagnostics.add(path, Message("issue_must_be_object", "must be an object, not {type}", ["type": value.typeTerm]))
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
            if required { diagnostics.add(child(key), IssueText.required) }
            return nil
        }
        guard case .string(let s) = value else {
            diagnostics.add(child(key), Message("issue_must_be_string", "must be a string, not {type}", ["type": value.typeTerm]))
            return nil
        }
        // Empty once trimmed: white space alone (looked at until the first other character,
        // not trimmed into a copy). Too long: counted in characters only when its UTF-8 bytes,
        // never fewer, are more than the limit (a document's body is read in every import).
        if !allowEmpty && s.unicodeScalars.allSatisfy({ CharacterSet.whitespacesAndNewlines.contains($0) }) {
            diagnostics.add(child(key), IssueText.notEmpty)
            return nil
        }
        if s.utf8.count > maxLength && s.count > maxLength {
            diagnostics.add(child(key), Message("issue_too_long", "is too long ({count} characters; at most {max})", texts: ["count": String(s.count), "max": String(maxLength)]))
            return nil
        }
        if s.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\t" && $0 != "\r" }) {
            diagnostics.add(child(key), Message("issue_control_characters", "must not contain control characters"))
            return nil
        }
        return s
    }

    public mutating func int(_ key: String, required: Bool = false, range: ClosedRange<Int>) -> Int? {
        guard let value = raw(key) else {
            if required { diagnostics.add(child(key), IssueText.required) }
            return nil
        }
        guard case .number(let n) = value, n.rounded() == n, abs(n) < 1e15 else {
            diagnostics.add(child(key), Message("issue_must_be_whole_number", "must be a whole number, not {type}", ["type": value.typeTerm]))
            return nil
        }
        let i = Int(n)
        guard range.contains(i) else {
            diagnostics.add(child(key), Message("issue_between", "must be between {min} and {max}", texts: ["min": String(range.lowerBound), "max": String(range.upperBound)]))
            return nil
        }
        return i
    }

    public mutating func bool(_ key: String) -> Bool? {
        guard let value = raw(key) else { return nil }
        guard case .bool(let b) = value else {
            diagnostics.add(child(key), Message("issue_must_be_bool", "must be true or false, not {type}", ["type": value.typeTerm]))
            return nil
        }
        return b
    }

    /// Reads an array, calling `each` with the element and its path.
    public mutating func array<T>(_ key: String, required: Bool = false, maxCount: Int = 10_000, _ each: (JSONValue, String) -> T?) -> [T] {
        guard let value = raw(key) else {
            if required { diagnostics.add(child(key), IssueText.required) }
            return []
        }
        guard case .array(let items) = value else {
            diagnostics.add(child(key), Message("issue_must_be_array", "must be an array, not {type}", ["type": value.typeTerm]))
            return []
        }
        if items.count > maxCount {
            diagnostics.add(child(key), IssueText.tooManyItems(items.count, max: maxCount))
            return []
        }
        return items.enumerated().compactMap { i, item in each(item, "\(child(key))[\(i)]") }
    }

    /// The most elements `locatedArray` reads (a bundle's targets and cases).
    public static let maxLocatedItems = 100_000

    /// Like `array`, keeping each element's path beside it.
    public mutating func locatedArray<T>(_ key: String, maxCount: Int = maxLocatedItems, _ each: (JSONValue, String) -> T?) -> [(T, String)] {
        array(key, maxCount: maxCount) { item, path in each(item, path).map { ($0, path) } }
    }

    public mutating func strings(_ key: String, required: Bool = false, validate: ((String) -> Message?)? = nil) -> [String] {
        let d = diagnostics
        return array(key, required: required) { item, path in
            guard case .string(let s) = item, !s.trimmingCharacters(in: .whitespaces).isEmpty else {
                d.add(path, IssueText.nonEmptyString(item))
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
    public mutating func stringMap(_ key: String, allowNullValues: Bool = false, validateKey: ((String) -> Message?)? = nil) -> [String: String] {
        guard let value = raw(key) else { return [:] }
        guard case .object(let members) = value else {
            diagnostics.add(child(key), Message("issue_must_be_object", "must be an object, not {type}", ["type": value.typeTerm]))
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
                diagnostics.add(path, IssueText.nonEmptyString(v))
            }
        }
        return result
    }

    public mutating func date(_ key: String, required: Bool = false, dayPrecision: Bool = false) -> PartialDate? {
        guard let s = string(key, required: required) else { return nil }
        guard let date = PartialDate(s) else {
            diagnostics.add(child(key), Message("issue_date", "must be a date as YYYY-MM-DD, YYYY-MM or YYYY, not \"{value}\"", texts: ["value": s]))
            return nil
        }
        if dayPrecision && date.precision != .day {
            diagnostics.add(child(key), Message("issue_full_date", "must be a full date (YYYY-MM-DD)"))
            return nil
        }
        return date
    }

    public mutating func enumValue<E: RawRepresentable & CaseIterable>(_ key: String, _ type: E.Type, required: Bool = false) -> E? where E.RawValue == String {
        guard let s = string(key, required: required) else { return nil }
        guard let e = E(rawValue: s) else {
            let allowed = E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            diagnostics.add(child(key), Message("issue_one_of", "must be one of {allowed}, not \"{value}\"", texts: ["allowed": allowed, "value": s]))
            return nil
        }
        return e
    }

    /// Records every member that was never asked for: unknown fields are refused.
    public func finish() {
        for key in members.keys.sorted() where !known.contains(key) {
            diagnostics.add(child(key), Message("issue_unknown_field", "is not a known field"))
        }
    }
}

/// Messages several checks share.
public enum IssueText {
    public static let required = Message("issue_required", "is required")
    public static let notEmpty = Message("issue_not_empty", "must not be empty")
    public static func nonEmptyString(_ value: JSONValue) -> Message {
        Message("issue_must_be_nonempty_string", "must be a non-empty string, not {type}", ["type": value.typeTerm])
    }
    public static func tooManyItems(_ count: Int, max: Int) -> Message {
        Message("issue_too_many_items", "has too many items ({count}; at most {max})", texts: ["count": String(count), "max": String(max)])
    }
}
