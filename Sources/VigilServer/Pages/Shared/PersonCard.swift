import Foundation
import VigilCore

/// A person at risk as a page shows them: on a document, as they were on its date; on the
/// case page, as they are now.
struct PersonCard: Encodable, Sendable {
    /// A name in its own script, marked with its language (and direction) for screen readers and fonts.
    struct OriginalName: Encodable, Sendable { var text: String; var lang: String; var dir: String }
    var name: String
    var nameOriginal: OriginalName?
    var role: String?
    var pronouns: String?
    var status: String
    var statusLabel: String
    var charges: String
    var sentences: [String]

    init(_ p: Person, strings: Strings) {
        name = p.name
        if let text = p.nameOriginal, let lang = p.nameOriginalLanguage {
            nameOriginal = OriginalName(text: text, lang: lang, dir: LanguageTag.isRightToLeft(lang) ? "rtl" : "ltr")
        }
        role = p.role
        pronouns = p.pronouns
        status = p.status.rawValue
        statusLabel = strings["status_\(p.status.rawValue)"]
        charges = p.charges.joined(separator: "; ")
        sentences = p.sentences.map { Self.sentenceText($0, strings: strings) }
    }

    /// "12 years (first instance) — Southern District Military Court, 12 November 2019".
    static func sentenceText(_ s: Sentence, strings: Strings) -> String {
        let term = s.termText(language: strings.language, strings: strings.table)
        var parts = [term.prefix(1).uppercased() + term.dropFirst()]
        if let stage = s.stage { parts.append("(\(strings["stage_\(stage.rawValue)"]))") }
        if let court = s.court { parts.append("— \(court)") }
        if let date = s.date { parts.append(", \(Format.date(date))") }
        return parts.joined(separator: " ").replacingOccurrences(of: " ,", with: ",")
    }

    static let example = PersonCard(
        Person(id: "emir-usein-kuku", name: "Emir-Usein Kuku", nameOriginal: "Эмир-Усеин Куку", nameOriginalLanguage: "ru", pronouns: "he/him", role: "Human rights defender", status: .imprisoned,
               charges: ["Membership of a banned organisation"],
               sentences: [Sentence(term: .years(12, months: 0), court: "Southern District Military Court", date: PartialDate("2019-11-12"),
                                    stage: .firstInstance)]),
        strings: Strings(language: "en", table: [:]))
}
