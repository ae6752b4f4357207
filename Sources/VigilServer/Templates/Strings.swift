import Foundation
import VigilCore
import VigilDocuments

/// The UI strings of one language, from `Resources/Locales/{lang}.json`. English is complete;
/// another language falls back to English string by string.
public struct Strings: Sendable {
    public let language: String
    let table: [String: String]
    /// The strings a template can name (`t.*`): counted messages are not among them. Made once
    /// (every rendered page passes it; made per page it was 7% of an uncached search's CPU).
    let templateValue: TemplateValue

    init(language: String, table: [String: String]) {
        self.language = language
        self.table = table
        self.templateValue = .object(table.filter { PluralRules.split($0.key) == nil }.mapValues { .string($0) })
    }

    public subscript(_ key: String) -> String { table[key] ?? key }

    public func format(_ key: String, _ values: [String: String]) -> String {
        Placeholders.fill(self[key], values)
    }

    /// A counted message: `base#one`, `base#few`, … by the CLDR category of `n` in this language
    /// (`#other` when the catalogue lacks that category), with `{n}` the number as written here.
    public func plural(_ base: String, _ n: Int, _ values: [String: String] = [:]) -> String {
        let category = PluralRules.category(n, language: language)
        let template = table["\(base)#\(category.rawValue)"] ?? table["\(base)#other"] ?? base
        var values = values
        values["n"] = number(n)
        return Placeholders.fill(template, values)
    }

    /// Text of either direction set apart (Unicode FSI … PDI), for places where no element can
    /// carry its `dir`, like an `<option>`: "Public Prosecutor" in an Arabic sentence stays whole.
    public static func isolated(_ s: String) -> String { "\u{2068}" + s + "\u{2069}" }

    /// Items as a list in this language ("Russia, Ukraine"; "روسيا، أوكرانيا").
    public func list(_ items: [String]) -> String { items.joined(separator: table["doc_list_separator"] ?? ", ") }

    /// A whole number as this language writes it ("12,345", "12 345", "12.345"), in Western digits.
    public func number(_ n: Int) -> String {
        Self.numberFormatters.with(language) { $0.string(from: NSNumber(value: n)) } ?? String(n)
    }

    private static let numberFormatters = PerLanguage<NumberFormatter> { language in
        let f = NumberFormatter()
        f.locale = Locale(identifier: "\(language)@numbers=latn")
        f.numberStyle = .decimal
        f.maximumFractionDigits = 0
        return f
    }

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

    /// The words printed around a document in its own language when a catalogue has them
    /// (`doc_*` keys), else in English.
    func documentLabels(for language: String) -> DocumentLabels {
        let t = strings(for: language)
        // English too comes from its catalogue: an organisation that rewords en.json sees it in print.
        return DocumentLabels(language: t.language, strings: t.table)
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
    /// "2019", "November 2019", "12 November 2019" (in the page's language: "12 de noviembre de
    /// 2019", "12 ноября 2019 г."): the precision as given.
    /// In the pseudo-locale, dates and the names of languages and countries are the English ones,
    /// marked like every other word of the interface.
    static func date(_ d: PartialDate, in uiLanguage: String = Localized.language) -> String {
        if uiLanguage == PseudoLocale.tag { return PseudoLocale.transform(DateText.text(d, language: "en")) }
        return DateText.text(d, language: uiLanguage)
    }

    static func languageName(_ tag: String, in uiLanguage: String = Localized.language) -> String {
        if tag == PseudoLocale.tag { return PseudoLocale.transform("Pseudo-locale") }
        if uiLanguage == PseudoLocale.tag { return PseudoLocale.transform(languageName(tag, in: "en")) }
        return Locale(identifier: uiLanguage).localizedString(forIdentifier: tag) ?? tag
    }

    /// The language's own name for itself ("русский", "العربية").
    static func nativeLanguageName(_ tag: String) -> String {
        languageName(tag, in: tag)
    }

    static func countryName(_ code: String, in uiLanguage: String = Localized.language) -> String {
        if uiLanguage == PseudoLocale.tag { return PseudoLocale.transform(countryName(code, in: "en")) }
        if code == "XK" { return uiLanguage == "en" ? "Kosovo" : (Locale(identifier: uiLanguage).localizedString(forRegionCode: "XK") ?? "Kosovo") }
        return Locale(identifier: uiLanguage).localizedString(forRegionCode: code) ?? code
    }

    /// The days from one `yyyy-MM-dd` date to another; nil when either is not such a date.
    /// Counted, not parsed by a `DateFormatter`, which cost about 400 µs a call to make: once for
    /// every card of an open action on every page rendered.
    static func daysBetween(_ from: String, _ to: String) -> Int? {
        guard let a = dayNumber(from), let b = dayNumber(to) else { return nil }
        return b - a
    }

    /// The days from 1970-01-01 to a `yyyy-MM-dd` date of the Gregorian calendar (Howard
    /// Hinnant's `days_from_civil`); nil when the text is not such a date.
    static func dayNumber(_ text: String) -> Int? {
        let u = Array(text.utf8)
        guard u.count == 10, u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-") else { return nil }
        func number(_ r: Range<Int>) -> Int? {
            var n = 0
            for i in r {
                guard u[i] >= UInt8(ascii: "0"), u[i] <= UInt8(ascii: "9") else { return nil }
                n = n * 10 + Int(u[i] - UInt8(ascii: "0"))
            }
            return n
        }
        guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10) else { return nil }
        return dayNumber(year: y, month: m, day: d)
    }

    /// The days from 1970-01-01 to a day of the Gregorian calendar (years 1 to 9999: the count
    /// below divides by 400 toward zero, wrong before the year 0 ends); nil when there is no such day.
    static func dayNumber(year y: Int, month m: Int, day d: Int) -> Int? {
        guard (1...9999).contains(y), (1...12).contains(m) else { return nil }
        let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...lengths[m - 1]).contains(d) else { return nil }
        let year = m <= 2 ? y - 1 : y                      // years from March, so that February ends them
        let era = year / 400                               // (years here are never negative)
        let yearOfEra = year - era * 400
        let dayOfYear = (153 * ((m + 9) % 12) + 2) / 5 + d - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

/// The language a request is answered in, for the code that runs while it is answered: the
/// catalogue its pages take their words from, the prefix of the addresses they print
/// (`Endpoint.path`), and the language of dates, numbers and country names (`Format`). The router
/// sets it around every handler; outside a request (jobs, commands) it is unset and English.
enum Localized {
    @TaskLocal static var current: Strings?
    /// The languages the site offers (each has addresses of its own).
    @TaskLocal static var offered: [String] = []

    static var language: String { current?.language ?? "en" }

    /// The catalogue being answered in; English outside a request.
    static var strings: Strings { current ?? english }

    /// What the catalogues fall back to: set once at start (`SiteResources.load`).
    nonisolated(unsafe) static var english = Strings(language: "en", table: [:])
}

/// One value per language, made once on first use (formatters are costly to make), used under a
/// lock (a formatter is not safe to share between threads).
final class PerLanguage<Value>: @unchecked Sendable {
    private let make: (String) -> Value
    private var values: [String: Value] = [:]
    private let lock = NSLock()

    init(_ make: @escaping (String) -> Value) { self.make = make }

    func with<R>(_ language: String, _ body: (Value) -> R) -> R {
        lock.lock(); defer { lock.unlock() }
        if let v = values[language] { return body(v) }
        let v = make(language)
        values[language] = v
        return body(v)
    }
}

extension Catalogue {
    /// What is wrong with a language's catalogue against English: a key English lacks, a key it
    /// lacks, a placeholder that differs from English's, a counted message without every CLDR
    /// category of the language (or with one it does not have). Empty when the catalogue is whole.
    static func problems(language: String, own: [String: String], english: [String: String]) -> [String] {
        var problems: [String] = []
        func names(_ s: String) -> Set<String> { Placeholders.names(s) }
        let englishPlurals = Set(english.keys.compactMap { PluralRules.split($0)?.base })
        let categories = Set(PluralRules.categories(language))
        for key in own.keys.sorted() {
            if let (base, category) = PluralRules.split(key) {
                guard englishPlurals.contains(base) else { problems.append("\(language): \(key) is not an English key"); continue }
                guard categories.contains(category) else {
                    problems.append("\(language): \(key): \(language) has no plural category \(category.rawValue)"); continue
                }
                // Zero, one and two may say the number in words ("يومان").
                var expected = names(english[base + "#other"] ?? "")
                if [.zero, .one, .two].contains(category) { expected.remove("{n}") }
                let mine = names(own[key]!)
                if !expected.isSubset(of: mine) || !mine.isSubset(of: names(english[base + "#other"] ?? "")) {
                    problems.append("\(language): \(key) has the placeholders \(mine.sorted()), English \(names(english[base + "#other"] ?? "").sorted())")
                }
                continue
            }
            guard let en = english[key] else { problems.append("\(language): \(key) is not an English key"); continue }
            if names(own[key]!) != names(en) {
                problems.append("\(language): \(key) has the placeholders \(names(own[key]!).sorted()), English \(names(en).sorted())")
            }
        }
        for key in english.keys.sorted() where PluralRules.split(key) == nil && own[key] == nil {
            problems.append("\(language): \(key) is missing")
        }
        for base in englishPlurals.sorted() {
            for c in PluralRules.categories(language) where own["\(base)#\(c.rawValue)"] == nil {
                problems.append("\(language): \(base)#\(c.rawValue) is missing (\(language) counts with \(PluralRules.categories(language).map(\.rawValue).joined(separator: ", ")))")
            }
        }
        return problems
    }
}

/// The pseudo-locale (`VIGIL_PSEUDO_LOCALE=1`): English with every letter accented and each
/// string 40% longer inside brackets — "⟦Ŀöĝ îñ ~~~~⟧" — its placeholders kept, so that a string
/// that is not from the catalogue stands out as plain English, and a layout that cannot take a
/// longer language breaks where it shows.
enum PseudoLocale {
    static let tag = "en-XA"

    static let accents: [Character: Character] = {
        let plain = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        let marked = Array("åƀçđéƒĝĥîĵķĺɱñöþǫŕšţûṽŵẋýžÅƁÇĐÉƑĜĤÎĴĶĻṀÑÖÞǪŔŠŢÛṼŴẊÝŽ")
        return Dictionary(uniqueKeysWithValues: zip(plain, marked))
    }()

    static func transform(_ s: String) -> String {
        guard !s.isEmpty else { return s }
        var out = ""
        var word = ""
        func flush() {
            // Addresses and paths stay as they are; so do placeholders.
            if word.contains("://") || word.hasPrefix("mailto:") || word.hasPrefix("/") || word.contains("@") {
                out += word
            } else {
                var inPlaceholder = false
                for c in word {
                    if c == "{" { inPlaceholder = true }
                    out.append(inPlaceholder ? c : (accents[c] ?? c))
                    if c == "}" { inPlaceholder = false }
                }
            }
            word = ""
        }
        for c in s {
            if c.isWhitespace { flush(); out.append(c) } else { word.append(c) }
        }
        flush()
        let padding = max(1, Int((Double(s.count) * 0.4).rounded(.up)) - 2)
        return "⟦" + out + " " + String(repeating: "~", count: padding) + "⟧"
    }
}

extension Catalogue {
    /// This catalogue and the pseudo-locale, made from English.
    func addingPseudoLocale() -> Catalogue {
        let pseudo = Strings(language: PseudoLocale.tag, table: english.table.mapValues(PseudoLocale.transform))
        return Catalogue(english: english, others: byLanguage.values.filter { $0.language != "en" } + [pseudo])
    }
}
