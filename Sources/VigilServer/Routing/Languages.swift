import Foundation
import Vapor
import VigilCore

/// The languages the site speaks: those offered in its interface (a working language with a
/// catalogue in `Resources/Locales`), the organisation's working languages (the newsroom lists
/// documents that lack a translation into one of them), and the default.
struct SiteLanguages: Sendable {
    /// In the order `VIGIL_LANGUAGES` gives (else the default first, then by tag).
    let offered: [String]
    let working: [String]
    let defaultLanguage: String

    /// The name of the cookie the language switcher sets.
    static let cookie = "vigil_lang"

    /// `VIGIL_LANGUAGES` (default: every catalogue) and `VIGIL_DEFAULT_LANGUAGE` (default: English
    /// when offered, else the first), checked against the catalogues.
    init(configuration: VigilConfiguration, catalogue: Catalogue) throws {
        var working = configuration.workingLanguages ?? catalogue.languages.filter { $0 != PseudoLocale.tag }
        if configuration.pseudoLocale { working.append(PseudoLocale.tag) }
        var offered = working.filter { catalogue.contains($0) }
        guard !offered.isEmpty else {
            throw VigilConfiguration.Problem(description: "VIGIL_LANGUAGES names no language with a catalogue in Resources/Locales "
                + "(there are: \(catalogue.languages.joined(separator: ", "))).")
        }
        let chosen = configuration.defaultLanguage
            ?? (configuration.pseudoLocale ? PseudoLocale.tag : (offered.contains("en") ? "en" : offered[0]))
        guard offered.contains(chosen) else {
            throw VigilConfiguration.Problem(description: "VIGIL_DEFAULT_LANGUAGE is \(chosen), which is not among the languages offered "
                + "(\(offered.joined(separator: ", "))): add it to VIGIL_LANGUAGES, or give a catalogue for it in Resources/Locales.")
        }
        if configuration.workingLanguages == nil {
            offered = [chosen] + offered.filter { $0 != chosen }
        }
        self.offered = offered
        self.working = working.filter { $0 != PseudoLocale.tag }
        self.defaultLanguage = chosen
    }

    init(offered: [String], working: [String]? = nil, defaultLanguage: String) {
        self.offered = offered
        self.working = working ?? offered
        self.defaultLanguage = defaultLanguage
    }

    func offers(_ tag: String) -> Bool { offered.contains(tag) }

    /// The best offered language for an `Accept-Language` header (RFC 9110 §12.5.4 q-values), or nil.
    func negotiate(acceptLanguage header: String?) -> String? {
        guard let header else { return nil }
        var ranked: [(tag: String, q: Double, order: Int)] = []
        for (i, part) in header.split(separator: ",").prefix(30).enumerated() {
            let pieces = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let tag = pieces.first, !tag.isEmpty, tag.count < 40 else { continue }
            var q = 1.0
            for p in pieces.dropFirst() where p.hasPrefix("q=") { q = Double(p.dropFirst(2)) ?? 0 }
            if q > 0, q <= 1 { ranked.append((tag, q, i)) }
        }
        let lowered = Dictionary(offered.map { ($0.lowercased(), $0) }, uniquingKeysWith: { a, _ in a })
        for r in ranked.sorted(by: { $0.q != $1.q ? $0.q > $1.q : $0.order < $1.order }) {
            let tag = r.tag.lowercased()
            if tag == "*" { return defaultLanguage }
            if let l = lowered[tag] { return l }
            // "fr-CA" → "fr"; "zh-Hant-TW" → "zh-Hant" → "zh".
            var parts = tag.split(separator: "-")
            while parts.count > 1 {
                parts.removeLast()
                if let l = lowered[parts.joined(separator: "-")] { return l }
            }
        }
        return nil
    }

    /// The language of a request whose address has none: the signed-in supporter's choice, else
    /// the switcher's cookie, else `Accept-Language`, else the default.
    func choose(for req: Request) -> String {
        if let l = req.currentSession?.supporter.language, offers(l) { return l }
        if let l = req.cookies[Self.cookie]?.string, offers(l) { return l }
        return negotiate(acceptLanguage: req.headers.first(name: .acceptLanguage)) ?? defaultLanguage
    }
}

/// Takes the language off the front of a page's address (`/fr/urgent-actions` → `/urgent-actions`,
/// `/fr` → `/`) before Vapor looks the route up, and notes it on the request. Only offered
/// languages are taken: `/xx/…` is an address like any other, and not found. (Vapor finds the
/// route before its middleware runs, so this wraps the whole responder.)
struct LanguagePrefixResponder: Responder {
    let languages: SiteLanguages
    /// The top-level names in `Public/` (`css`, …): static files have one address.
    let publicNames: Set<String>
    let inner: any Responder

    func respond(to req: Request) -> EventLoopFuture<Response> {
        let path = req.url.path
        if path.utf8.count > 1, path.hasPrefix("/") {
            let rest = path.dropFirst()
            let first = rest.prefix { $0 != "/" }
            let remainder = rest.dropFirst(first.count)
            let next = remainder.dropFirst().prefix { $0 != "/" }
            if languages.offers(String(first)), !publicNames.contains(String(next)) {
                req.url.path = remainder.isEmpty ? "/" : String(remainder)
                req.storage[AddressLanguageKey.self] = String(first)
            }
        }
        return inner.respond(to: req)
    }
}

struct AddressLanguageKey: StorageKey { typealias Value = String }
private struct AnswerLanguageKey: StorageKey { typealias Value = String }

extension Request {
    /// The language the address named (`/fr/…`), if any.
    var addressLanguage: String? { storage[AddressLanguageKey.self] }

    /// The language this request is answered in: its address's, else the one the router chose
    /// (a form's `lang`, the supporter's choice, the cookie, `Accept-Language`, the default).
    var answerLanguage: String {
        get {
            if let l = storage[AnswerLanguageKey.self] ?? addressLanguage { return l }
            return application.vigilServices.languages.choose(for: self)
        }
        set { storage[AnswerLanguageKey.self] = newValue }
    }

    /// The catalogue of `answerLanguage`.
    var strings: Strings { application.vigilServices.catalogue.strings(for: answerLanguage) }
}
