import Foundation
import Testing
import VigilCore
@testable import VigilDocuments

/// Dates in words are made by formatters kept per language (making one cost about 200 µs): the
/// same words as a formatter made for each date, from many threads at once.
@Suite("Dates in words")
struct DateTextTests {
    /// The words a formatter made for this date alone gives (the way before formatters were kept).
    static func alone(_ d: PartialDate, language: String) -> String {
        guard language != "en", d.precision != .year else { return DateText.text(d, language: language) }
        let f = DateFormatter()
        f.calendar = Calendar(identifier: .gregorian)
        f.timeZone = TimeZone(identifier: "UTC")
        f.locale = Locale(identifier: "\(language)@numbers=latn")
        f.setLocalizedDateFormatFromTemplate(d.precision == .month ? "MMMMy" : "dMMMMy")
        var c = DateComponents()
        c.year = d.year; c.month = d.month ?? 1; c.day = d.day ?? 1; c.hour = 12
        return f.string(from: f.calendar.date(from: c)!)
    }

    static let languages = ["fr", "es", "ru", "ar", "zh-Hans", "fa", "uk", "de", "tr", "ja"]
    static let dates = ["2019-11-12", "2026-02-28", "2024-02-29", "2026-12", "1998-01", "2026", "2000-12-31"].map { PartialDate($0)! }

    @Test func keptFormattersSayWhatFreshOnesSay() async throws {
        for language in Self.languages {
            for d in Self.dates {
                #expect(DateText.text(d, language: language) == Self.alone(d, language: language), "\(d) in \(language)")
            }
        }
        #expect(DateText.text(PartialDate("2026-11-30")!, language: "fr") == "30 novembre 2026")
        // From many tasks at once, in every language: each answer as alone.
        let expected = Dictionary(uniqueKeysWithValues: Self.languages.flatMap { l in Self.dates.map { ("\(l)|\($0)", Self.alone($0, language: l)) } })
        let mismatches = await withTaskGroup(of: Int.self) { group in
            for t in 0..<16 {
                group.addTask {
                    var bad = 0
                    for i in 0..<400 {
                        let l = Self.languages[(i + t) % Self.languages.count], d = Self.dates[(i * 7 + t) % Self.dates.count]
                        if DateText.text(d, language: l) != expected["\(l)|\(d)"] { bad += 1 }
                    }
                    return bad
                }
            }
            return await group.reduce(0, +)
        }
        #expect(mismatches == 0)
    }
}
