import Foundation

/// How a supporter acted on a target.
public enum ActionChannel: String, CaseIterable, Sendable {
    case letter, email, fax, call
    case socialPost = "social-post"
    case webForm = "web-form"
}

/// A supporter's account, as the domain sees it. Least data: an address to reach them,
/// a name to greet them, and the language and country they chose.
public struct Supporter: Hashable, Sendable {
    public var email: String
    public var displayName: String
    public var country: String?
    public var language: String

    public init(email: String, displayName: String, country: String? = nil, language: String = "en") {
        self.email = email; self.displayName = displayName; self.country = country; self.language = language
    }

    public func problems() -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        if let p = EmailAddress.issue(email) { issues.append(.init(path: "$.email", p)) }
        let name = displayName.trimmingCharacters(in: .whitespacesAndNewlines)
        if name.isEmpty { issues.append(.init(path: "$.display_name", IssueText.notEmpty)) }
        if name.count > 80 { issues.append(.init(path: "$.display_name", Message("issue_at_most_80", "must be at most 80 characters"))) }
        if let p = DisplayName.issue(displayName) { issues.append(.init(path: "$.display_name", p)) }
        if let c = country, let p = CountryCode.issue(c) { issues.append(.init(path: "$.country", p)) }
        if let p = LanguageTag.issue(language) { issues.append(.init(path: "$.language", p)) }
        return issues
    }
}

/// Names people give themselves, printed into e-mail and pages.
public enum DisplayName {
    /// Control characters (a newline would start a new mail line) and the bidi embedding,
    /// override and isolate controls (U+202A–U+202E, U+2066–U+2069: "moc.elpmaxe" tricks) are
    /// refused. Zero-width joiners and non-joiners (U+200C, U+200D) are not: Persian and many
    /// Indic names need them.
    public static func problem(_ name: String) -> String? { issue(name)?.english }

    public static func issue(_ name: String) -> Message? {
        for scalar in name.unicodeScalars {
            if scalar.properties.generalCategory == .control {
                return Message("issue_one_line", "must be on one line, without control characters")
            }
            if (0x202A...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value) {
                return Message("issue_bidi_controls", "must not contain text-direction control characters")
            }
        }
        return nil
    }
}

/// "I sent a letter to target T for document D": counted once per idempotency key.
public struct ActionReport: Hashable, Sendable {
    public var documentID: String
    public var targetID: String?
    public var channel: ActionChannel
    /// Chosen by the client; a retry or a double click carries the same key and counts once.
    public var idempotencyKey: String
    public var anonymous: Bool

    public init(documentID: String, targetID: String?, channel: ActionChannel, idempotencyKey: String, anonymous: Bool) {
        self.documentID = documentID; self.targetID = targetID; self.channel = channel
        self.idempotencyKey = idempotencyKey; self.anonymous = anonymous
    }

    public func problems() -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        if let p = Slug.issue(documentID) { issues.append(.init(path: "$.document", p)) }
        if let t = targetID, let p = Slug.issue(t) { issues.append(.init(path: "$.target", p)) }
        let k = idempotencyKey
        if k.count < 8 || k.count > 128 || !k.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7f }) {
            issues.append(.init(path: "$.idempotency_key", Message("issue_idempotency_key", "must be 8 to 128 printable ASCII characters")))
        }
        return issues
    }
}

/// What a supporter follows: a case, or everything about a country or a theme.
public enum FollowSubject: Hashable, Sendable {
    case `case`(String)
    case country(String)
    case theme(String)

    public var kind: String {
        switch self { case .case: "case"; case .country: "country"; case .theme: "theme" }
    }
    public var value: String {
        switch self { case .case(let v), .country(let v), .theme(let v): v }
    }

    public init?(kind: String, value: String) {
        switch kind {
        case "case" where Slug.problem(value) == nil: self = .case(value)
        case "country" where CountryCode.problem(value) == nil: self = .country(value)
        case "theme" where Slug.problem(value) == nil: self = .theme(value)
        default: return nil
        }
    }
}

/// A response received from a target, recorded against an urgent action.
public struct Reply: Hashable, Sendable {
    public var uaNumber: UANumber
    public var targetID: String?
    public var received: PartialDate
    public var summary: String

    public init(uaNumber: UANumber, targetID: String?, received: PartialDate, summary: String) {
        self.uaNumber = uaNumber; self.targetID = targetID; self.received = received; self.summary = summary
    }

    public func problems() -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        if summary.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            issues.append(.init(path: "$.summary", IssueText.notEmpty))
        }
        if let t = targetID, let p = Slug.issue(t) { issues.append(.init(path: "$.target", p)) }
        return issues
    }
}

/// Fills `{name}` placeholders of a catalogue string in one pass: a value is inserted as it is
/// and never read again, so a display name such as "{url}" stays that text instead of becoming
/// the link the message carries. An unknown placeholder stays as written.
public enum Placeholders {
    /// The placeholders a template names: `{n}`, `{ua}`.
    public static func names(_ template: String) -> Set<String> {
        var out: Set<String> = []
        var rest = template[...]
        while let open = rest.firstIndex(of: "{") {
            let after = rest.index(after: open)
            if let close = rest[after...].firstIndex(where: { !($0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_")) }),
               rest[close] == "}", close > after {
                out.insert(String(rest[open...close]))
                rest = rest[rest.index(after: close)...]
            } else {
                rest = rest[after...]
            }
        }
        return out
    }

    public static func fill(_ template: String, _ values: [String: String]) -> String {
        var out = ""
        out.reserveCapacity(template.utf8.count)
        var rest = template[...]
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            let after = rest.index(after: open)
            guard let close = rest[after...].firstIndex(where: { !($0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_")) }),
                  rest[close] == "}", close > after else {
                out.append("{")
                rest = rest[after...]
                continue
            }
            let name = String(rest[after..<close])
            if let value = values[name] { out += value } else { out += rest[open...close] }
            rest = rest[rest.index(after: close)...]
        }
        out += rest
        return out
    }
}

extension StringProtocol {
    /// Holds a control character (Unicode category Cc: NUL, line breaks, escape…). No value Vigil
    /// looks up or stores as one line may: PostgreSQL refuses a NUL in text, SQLite cuts at it.
    public var hasControlCharacter: Bool { unicodeScalars.contains { $0.properties.generalCategory == .control } }
}

extension StringProtocol {
    /// A control character other than the line breaks and tabs a text of several lines may hold.
    public var hasControlCharacterInText: Bool {
        unicodeScalars.contains { $0.properties.generalCategory == .control && $0 != "\n" && $0 != "\r" && $0 != "\t" }
    }
}
