import Foundation

/// CLDR plural categories for whole numbers (Unicode CLDR, "Language Plural Rules"), for the
/// languages Vigil's catalogues are written in and those most often added after them. A catalogue
/// holds a counted message as one key per category of its language: `days_left#one`,
/// `days_left#other` in English; `#zero`, `#one`, `#two`, `#few`, `#many`, `#other` in Arabic;
/// `#one`, `#few`, `#many`, `#other` in Russian.
public enum PluralRules {
    public enum Category: String, CaseIterable, Sendable, Comparable {
        case zero, one, two, few, many, other
        public static func < (a: Category, b: Category) -> Bool {
            allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
        }
    }

    /// How a language counts. Languages not listed count as English does (`one`, `other`).
    enum Rule {
        /// en, de, nl, sv, it (integers), …: 1 → one.
        case oneOther
        /// zh, ja, ko, vi, th, id, ms, …: one form.
        case otherOnly
        /// es, it, pt-PT, ca: 1 → one; a non-zero multiple of a million → many.
        case oneManyMillion
        /// fr, pt (Brazil): 0 and 1 → one; a non-zero multiple of a million → many.
        case zeroOneManyMillion
        /// ru, uk, be: one, few, many (integers), other (fractions).
        case eastSlavic
        /// pl: one, few, many, other.
        case polish
        /// cs, sk: one, few, many (fractions), other.
        case czech
        /// ar: zero, one, two, few, many, other.
        case arabic
        /// he: one, two, other (CLDR 42+).
        case hebrew
        /// fa, hi, bn, am, …: 0 and 1 → one.
        case zeroOne
        /// tr, az, el, hu, ka, …: one, other.
    }

    static func rule(_ language: String) -> Rule {
        let primary = language.split(separator: "-").first.map { $0.lowercased() } ?? ""
        switch primary {
        case "zh", "ja", "ko", "vi", "th", "id", "ms", "my", "lo", "km", "jv", "yo", "ig": return .otherOnly
        case "es", "it", "ca": return .oneManyMillion
        case "pt": return language.lowercased() == "pt-pt" ? .oneManyMillion : .zeroOneManyMillion
        case "fr": return .zeroOneManyMillion
        case "ru", "uk", "be": return .eastSlavic
        case "pl": return .polish
        case "cs", "sk": return .czech
        case "ar": return .arabic
        case "he", "iw": return .hebrew
        case "fa", "hi", "bn", "am", "zu", "gu", "kn", "mr": return .zeroOne
        default: return .oneOther
        }
    }

    /// Every category a catalogue in this language must give a counted message (CLDR's set,
    /// fractions' categories included, so that what translation tools expect is there).
    public static func categories(_ language: String) -> [Category] {
        switch rule(language) {
        case .oneOther, .zeroOne: return [.one, .other]
        case .otherOnly: return [.other]
        case .oneManyMillion, .zeroOneManyMillion: return [.one, .many, .other]
        case .eastSlavic, .polish, .czech: return [.one, .few, .many, .other]
        case .arabic: return [.zero, .one, .two, .few, .many, .other]
        case .hebrew: return [.one, .two, .other]
        }
    }

    /// The category of a whole number `n` in this language.
    public static func category(_ n: Int, language: String) -> Category {
        let n = n.magnitude
        let mod10 = n % 10, mod100 = n % 100
        switch rule(language) {
        case .oneOther: return n == 1 ? .one : .other
        case .otherOnly: return .other
        case .zeroOne: return n <= 1 ? .one : .other
        case .oneManyMillion: return n == 1 ? .one : (n != 0 && n % 1_000_000 == 0 ? .many : .other)
        case .zeroOneManyMillion: return n <= 1 ? .one : (n % 1_000_000 == 0 ? .many : .other)
        case .eastSlavic:
            if mod10 == 1 && mod100 != 11 { return .one }
            if (2...4).contains(mod10) && !(12...14).contains(mod100) { return .few }
            return .many
        case .polish:
            if n == 1 { return .one }
            if (2...4).contains(mod10) && !(12...14).contains(mod100) { return .few }
            return .many
        case .czech:
            if n == 1 { return .one }
            return (2...4).contains(n) ? .few : .other
        case .arabic:
            if n == 0 { return .zero }
            if n == 1 { return .one }
            if n == 2 { return .two }
            if (3...10).contains(mod100) { return .few }
            if (11...99).contains(mod100) { return .many }
            return .other
        case .hebrew:
            if n == 1 { return .one }
            if n == 2 { return .two }
            return .other
        }
    }

    /// The gettext `Plural-Forms` header for this language, with its forms in the order of
    /// `categories(_:)` less those whole numbers never reach (Russian's `other`), so that a PO
    /// file round-trips through Poedit or Weblate.
    public static func gettext(_ language: String) -> (header: String, categories: [Category]) {
        switch rule(language) {
        case .oneOther: return ("nplurals=2; plural=(n != 1);", [.one, .other])
        case .zeroOne: return ("nplurals=2; plural=(n > 1);", [.one, .other])
        case .otherOnly: return ("nplurals=1; plural=0;", [.other])
        case .oneManyMillion:
            return ("nplurals=3; plural=(n == 1 ? 0 : n != 0 && n % 1000000 == 0 ? 1 : 2);", [.one, .many, .other])
        case .zeroOneManyMillion:
            return ("nplurals=3; plural=(n == 0 || n == 1 ? 0 : n != 0 && n % 1000000 == 0 ? 1 : 2);", [.one, .many, .other])
        case .eastSlavic:
            return ("nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<12 || n%100>14) ? 1 : 2);",
                    [.one, .few, .many])
        case .polish:
            return ("nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<12 || n%100>14) ? 1 : 2);", [.one, .few, .many])
        case .czech: return ("nplurals=3; plural=(n==1 ? 0 : n>=2 && n<=4 ? 1 : 2);", [.one, .few, .other])
        case .arabic:
            return ("nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5);",
                    [.zero, .one, .two, .few, .many, .other])
        case .hebrew: return ("nplurals=3; plural=(n==1 ? 0 : n==2 ? 1 : 2);", [.one, .two, .other])
        }
    }

    /// The separator between a counted message's name and its category in a catalogue key.
    public static let separator: Character = "#"

    /// `days_left#few` → (`days_left`, .few); nil for an ordinary key.
    public static func split(_ key: String) -> (base: String, category: Category)? {
        guard let i = key.lastIndex(of: separator), let c = Category(rawValue: String(key[key.index(after: i)...])) else { return nil }
        return (String(key[..<i]), c)
    }
}
