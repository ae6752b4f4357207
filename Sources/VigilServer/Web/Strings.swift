import Foundation
import VigilCore

/// The UI strings of one language, from `Resources/Locales/{lang}.json`. English is complete;
/// another language falls back to English string by string.
public struct Strings: Sendable {
    public let language: String
    let table: [String: String]

    public subscript(_ key: String) -> String { table[key] ?? key }

    public func format(_ key: String, _ values: [String: String]) -> String {
        var s = self[key]
        for (k, v) in values { s = s.replacingOccurrences(of: "{\(k)}", with: v) }
        return s
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
