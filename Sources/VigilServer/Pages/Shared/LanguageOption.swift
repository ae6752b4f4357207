import Foundation

/// One choice of a language `<select>` (the language of a supporter's e-mail): each language
/// named in itself, and marked in its own language.
struct LanguageOption: Encodable, Sendable {
    var value: String
    var label: String
    var lang: String
    var selected: Bool

    /// Every language of the catalogue, `selected` chosen.
    static func all(_ catalogue: Catalogue, selected: String) -> [LanguageOption] {
        catalogue.languages.map { LanguageOption(value: $0, label: Format.nativeLanguageName($0), lang: $0, selected: $0 == selected) }
    }

    static let example = LanguageOption(value: "fr", label: "français", lang: "fr", selected: true)
}
