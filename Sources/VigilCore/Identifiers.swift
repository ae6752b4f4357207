import Foundation

/// A date known to the day, the month or only the year (`2019-11-12`, `2019-11`, `2019`).
/// The precision is kept and shown as given.
public struct PartialDate: Hashable, Sendable, Comparable, CustomStringConvertible {
    public enum Precision: Int, Sendable { case year, month, day }
    public let year: Int
    public let month: Int?
    public let day: Int?

    public var precision: Precision {
        day != nil ? .day : (month != nil ? .month : .year)
    }

    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count),
              parts[0].count == 4, let y = Int(parts[0]), (1000...9999).contains(y)
        else { return nil }
        var m: Int? = nil, d: Int? = nil
        if parts.count >= 2 {
            guard parts[1].count == 2, let mm = Int(parts[1]), (1...12).contains(mm) else { return nil }
            m = mm
        }
        if parts.count == 3 {
            guard parts[2].count == 2, let dd = Int(parts[2]), dd >= 1,
                  dd <= PartialDate.daysIn(month: m!, year: y) else { return nil }
            d = dd
        }
        guard parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) else { return nil }
        year = y; month = m; day = d
    }

    public init(year: Int, month: Int? = nil, day: Int? = nil) {
        self.year = year; self.month = month; self.day = month == nil ? nil : day
    }

    /// The calendar day in UTC, for a date known to the day.
    public init(_ date: Date) {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        let c = cal.dateComponents([.year, .month, .day], from: date)
        self.init(year: c.year!, month: c.month!, day: c.day!)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    public var description: String {
        var s = String(format: "%04d", year)
        if let month { s += String(format: "-%02d", month) }
        if let day { s += String(format: "-%02d", day) }
        return s
    }

    /// The first day the date can mean, as `YYYY-MM-DD` (for ordering and ranges).
    public var earliest: String {
        String(format: "%04d-%02d-%02d", year, month ?? 1, day ?? 1)
    }

    /// The last day the date can mean.
    public var latest: String {
        let m = month ?? 12
        return String(format: "%04d-%02d-%02d", year, m, day ?? PartialDate.daysIn(month: m, year: year))
    }

    public static func < (a: PartialDate, b: PartialDate) -> Bool {
        (a.earliest, a.precision.rawValue) < (b.earliest, b.precision.rawValue)
    }
}

/// An urgent action's number, `126/19`: a serial and the two-digit year of issue.
public struct UANumber: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let serial: Int
    public let year: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        self.init(parts: parts[0], parts[1])
    }

    /// Parses the URL form, `126-19`.
    public init?(slug: String) {
        let parts = slug.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        self.init(parts: parts[0], parts[1])
    }

    private init?(parts a: Substring, _ b: Substring) {
        guard (1...4).contains(a.count), a.allSatisfy({ $0.isASCII && $0.isNumber }),
              b.count == 2, b.allSatisfy({ $0.isASCII && $0.isNumber }),
              let s = Int(a), s >= 1, let y = Int(b) else { return nil }
        serial = s; year = y
    }

    public var description: String { "\(serial)/\(String(format: "%02d", year))" }
    public var slug: String { "\(serial)-\(String(format: "%02d", year))" }
    /// "UA 126/19"
    public var label: String { "UA \(description)" }

    /// Sort key: newer years first is done by callers; this orders by (year, serial).
    public var sortKey: String { String(format: "%02d%05d", year, serial) }

    public static func < (a: UANumber, b: UANumber) -> Bool { (a.year, a.serial) < (b.year, b.serial) }
}

/// Amnesty-style AI Index: `EUR 46/1098/2019`.
public enum AIIndex {
    public static func isValid(_ s: String) -> Bool {
        let u = Array(s.unicodeScalars)
        guard u.count == 15 || u.count == 16 else { return false }
        func upper(_ i: Int) -> Bool { ("A"..."Z").contains(u[i]) }
        func digit(_ i: Int) -> Bool { ("0"..."9").contains(u[i]) }
        guard upper(0), upper(1), upper(2), u[3] == " ", digit(4), digit(5), u[6] == "/" else { return false }
        let middle = u.count == 15 ? 3 : 4
        for i in 7..<(7 + middle) where !digit(i) { return false }
        let slash = 7 + middle
        guard u[slash] == "/" else { return false }
        for i in (slash + 1)..<u.count where !digit(i) { return false }
        return u.count - slash - 1 == 4
    }
}

/// Stable identifiers of cases, people, targets and documents: lower-case slugs.
public enum Slug {
    public static func problem(_ s: String) -> String? { issue(s)?.english }

    public static func issue(_ s: String) -> Message? {
        guard !s.isEmpty else { return IssueText.notEmpty }
        guard s.count <= 128 else { return Message("issue_slug_too_long", "must be at most 128 characters") }
        let ok = s.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        guard ok, s.first != "-", s.last != "-" else {
            return Message("issue_slug", "must be a slug of lower-case letters a-z, digits and hyphens (\"{value}\" is not)", texts: ["value": s])
        }
        return nil
    }
}
