import Foundation
import VigilCore
import VigilDocuments

/// The UI strings of one language, from `Resources/Locales/{lang}.json`. English is complete;
/// another language falls back to English string by string.
public struct Strings: Sendable {
    public let language: String
    let table: [String: String]

    public subscript(_ key: String) -> String { table[key] ?? key }

    public func format(_ key: String, _ values: [String: String]) -> String {
        Placeholders.fill(self[key], values)
    }

    var templateValue: TemplateValue { .object(table.mapValues { .string($0) }) }

    public static func load(directory: String, language: String = "en") throws -> Strings {
        func read(_ lang: String) throws -> [String: String] {
            let path = (directory as NSString).appendingPathComponent("\(lang).json")
            guard let data = FileManager.default.contents(atPath: path) else { return [:] }
            guard let o = try JSONValue.parse(data).objectValue else { return [:] }
            return o.compactMapValues(\.stringValue)
        }
        let english = try read("en")
        guard !english.isEmpty else {
            throw Template.SyntaxError(description: "the English string catalogue is missing from \(directory)")
        }
        let own = language == "en" ? [:] : try read(language)
        return Strings(language: language, table: english.merging(own) { _, mine in mine })
    }
}

/// Every string catalogue in `Resources/Locales`: English (complete, the site's UI) and the
/// languages supporters can choose for their e-mail. A catalogue other than English need only hold
/// the strings of the mail it translates; anything missing falls back to English key by key.
public struct Catalogue: Sendable {
    public let english: Strings
    let byLanguage: [String: Strings]
    /// Languages a supporter can choose: English first, then by language tag.
    public let languages: [String]

    public init(english: Strings, others: [Strings]) {
        self.english = english
        var map = ["en": english]
        for s in others { map[s.language] = s }
        byLanguage = map
        languages = ["en"] + map.keys.filter { $0 != "en" }.sorted()
    }

    public func contains(_ tag: String) -> Bool { byLanguage[tag] != nil }

    /// The catalogue for a tag: exact, else its primary language ("pt-BR" → "pt"), else English.
    public func strings(for tag: String?) -> Strings {
        guard let tag else { return english }
        if let s = byLanguage[tag] { return s }
        if let primary = tag.split(separator: "-").first, let s = byLanguage[primary.lowercased()] { return s }
        return english
    }

    /// The best offered language for an `Accept-Language` header (RFC 9110 §12.5.4 q-values).
    public func negotiate(acceptLanguage header: String?) -> String {
        guard let header else { return "en" }
        var ranked: [(tag: String, q: Double, order: Int)] = []
        for (i, part) in header.split(separator: ",").prefix(30).enumerated() {
            let pieces = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let tag = pieces.first, !tag.isEmpty, tag.count < 40 else { continue }
            var q = 1.0
            for p in pieces.dropFirst() where p.hasPrefix("q=") { q = Double(p.dropFirst(2)) ?? 0 }
            if q > 0 { ranked.append((tag, q, i)) }
        }
        for r in ranked.sorted(by: { $0.q != $1.q ? $0.q > $1.q : $0.order < $1.order }) {
            let lower = r.tag.lowercased()
            if byLanguage[lower] != nil { return lower }
            if let primary = lower.split(separator: "-").first, byLanguage[String(primary)] != nil { return String(primary) }
        }
        return "en"
    }

    /// The words printed around a document in its own language when a catalogue has them
    /// (`doc_*` keys), else in English.
    func documentLabels(for language: String) -> DocumentLabels {
        let t = strings(for: language)
        return t.language == "en" ? .english : DocumentLabels(language: t.language, strings: t.table)
    }

    public static func load(directory: String) throws -> Catalogue {
        let english = try Strings.load(directory: directory)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let others = try files.filter { $0.hasSuffix(".json") && $0 != "en.json" }.sorted().map {
            let tag = String($0.dropLast(5))
            guard LanguageTag.problem(tag) == nil else {
                throw Template.SyntaxError(description: "\(directory)/\($0): the file name must be a language tag")
            }
            return try Strings.load(directory: directory, language: tag)
        }
        return Catalogue(english: english, others: others)
    }
}

enum Format {
    static let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                         "October", "November", "December"]

    /// "2019", "November 2019", "12 November 2019": the precision as given.
    static func date(_ d: PartialDate) -> String {
        switch d.precision {
        case .year: return String(d.year)
        case .month: return "\(months[d.month! - 1]) \(d.year)"
        case .day: return "\(d.day!) \(months[d.month! - 1]) \(d.year)"
        }
    }

    static func languageName(_ tag: String, in uiLanguage: String = "en") -> String {
        Locale(identifier: uiLanguage).localizedString(forIdentifier: tag) ?? tag
    }

    /// The language's own name for itself ("русский", "العربية").
    static func nativeLanguageName(_ tag: String) -> String {
        Locale(identifier: tag).localizedString(forIdentifier: tag) ?? tag
    }

    static func countryName(_ code: String, in uiLanguage: String = "en") -> String {
        if code == "XK" { return "Kosovo" }
        return Locale(identifier: uiLanguage).localizedString(forRegionCode: code) ?? code
    }

    static func daysBetween(_ from: String, _ to: String) -> Int? {
        let f = DateFormatter()
        f.calendar = Calendar(identifier: .gregorian)
        f.timeZone = TimeZone(identifier: "UTC")
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "yyyy-MM-dd"
        guard let a = f.date(from: from), let b = f.date(from: to) else { return nil }
        return Int((b.timeIntervalSince(a) / 86_400).rounded())
    }
}
