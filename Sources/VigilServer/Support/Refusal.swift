import Foundation
import Vapor
import VigilCore

/// A request refused for a reason its sender can read: a status, the catalogue key of the
/// sentence (`Resources/Locales`) and its placeholder values. `reason` is the English, for logs,
/// the command line and tests; `VigilErrorMiddleware` answers in the request's language (the
/// API's `reason`, the error page's message). Every human-readable refusal goes through one of
/// these (`RefusalSourceTests` fails on a new `Abort(…, reason: "literal")`).
struct Refusal: AbortError, CustomStringConvertible {
    var status: HTTPResponseStatus
    var message: Message
    var headers: HTTPHeaders

    /// `values` are inserted as they are (ids, numbers, lists of allowed values); `terms` are
    /// themselves translated first (a VigilCore problem, a JSON type name).
    init(_ status: HTTPResponseStatus, _ key: String, _ values: [String: String] = [:], terms: [String: Message] = [:],
         headers: HTTPHeaders = [:]) {
        self.status = status
        self.message = .catalogue(key, values, terms: terms)
        self.headers = headers
    }

    var reason: String { message.english }
    var description: String { reason }
}

extension Message {
    /// A message of the site's catalogues, its English from `en.json`.
    static func catalogue(_ key: String, _ values: [String: String] = [:], terms: [String: Message] = [:]) -> Message {
        Message(key, Localized.english.table[key] ?? EnglishFallback.table[key] ?? key, texts: values, terms)
    }
}

/// `en.json` read from Vigil's home, for code that runs before the site's catalogues are loaded
/// (a unit test of a form reader): its messages still say their English.
private enum EnglishFallback {
    static let table: [String: String] = {
        guard case .success(let home) = VigilHome.current else { return [:] }
        return (try? Strings.load(directory: home.locales))?.table ?? [:]
    }()
}

extension Strings {
    /// A message in this language (English where this catalogue lacks a key).
    func text(_ message: Message) -> String {
        message.text { table[$0] }
    }

    /// An issue's message in this language.
    func text(_ issue: ValidationIssue) -> String { text(issue.phrase) }

    /// What `ValidationError.description` says, in this language.
    func summary(_ error: ValidationError) -> String {
        let list = error.issues.map { "\($0.path): \(text($0))" }.joined(separator: "; ")
        return plural("error_validation_summary", error.issues.count, ["list": list])
    }
}
