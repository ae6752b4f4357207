import Foundation
import VigilCore
import VigilDocuments

/// The letter builder's languages: for each official, the language the letter will be in and why
/// (the official's preferred language when the model letter is translated into it); the
/// languages to choose from; and, next to the model letter, what that text is.
extension DocumentPage {
    /// One choice of the letter builder's language `<select>`; an empty value lets the server
    /// take each official's preferred language.
    struct LetterLanguageChoice: Encodable, Sendable {
        var value: String
        var label: String
        var selected: Bool
    }

    /// "Russian, the official's preferred language".
    static func letterReason(_ choice: LetterLanguage, strings: Strings) -> String {
        let name = { (tag: String) in Format.languageName(tag, in: strings.language) }
        switch choice.reason {
        case .preferred: return strings.format("letter_reason_preferred", ["language": name(choice.language)])
        case .alsoPreferred: return strings.format("letter_reason_also_preferred", ["language": name(choice.language)])
        case .noTranslation(let preferred):
            return strings.format("letter_reason_no_translation", ["language": name(choice.language), "preferred": name(preferred)])
        case .noPreference: return strings.format("letter_reason_no_preference", ["language": name(choice.language)])
        }
    }

    static func describeLetterLanguages(_ ta: inout TakeAction, document doc: Document, chain: [Document], targets: [Target],
                                        strings: Strings) {
        let name = { (tag: String) in Format.languageName(tag, in: strings.language) }
        let available = LetterLanguage.versions(of: doc, in: chain).map(\.language)
        var choices: [LetterLanguage] = []
        for i in ta.targets.indices {
            guard let target = targets.first(where: { $0.id == ta.targets[i].id }) else { continue }
            let choice = LetterLanguage.choose(for: target, available: available, documentLanguage: doc.language)
            choices.append(choice)
            let reason = letterReason(choice, strings: strings)
            ta.targets[i].letterOption = strings.format("letter_target_option", ["official": Strings.isolated(target.title), "language": name(choice.language)])
            ta.targets[i].letterSentence = ta.targets.count == 1
                ? strings.format("letter_will_be", ["reason": reason])
                : strings.format("letter_to_will_be", ["official": target.title, "reason": reason])
        }
        let defaults = Set(choices.map(\.language))
        // Only a real choice is offered: two languages or more.
        if available.count > 1 {
            let allPreferred = choices.allSatisfy { if case .noTranslation = $0.reason { false } else if case .noPreference = $0.reason { false } else { true } }
            var options: [LetterLanguageChoice] = []
            if defaults.count > 1 {
                options.append(LetterLanguageChoice(value: "", label: strings["letter_language_each"], selected: true))
            }
            for language in available {
                let isDefault = defaults.count == 1 && defaults.contains(language)
                let label = isDefault && allPreferred
                    ? strings.format("letter_language_option_preferred", ["language": name(language)]) : name(language)
                options.append(LetterLanguageChoice(value: language, label: label, selected: isDefault))
            }
            ta.letterLanguages = options
        }
        guard ta.letter != nil, let first = choices.first else { return }
        if defaults == [doc.language] {
            ta.letterNote = strings["letter_text_same"]
        } else if defaults.count == 1 {
            ta.letterNote = strings.format("letter_text_other", ["reason": letterReason(first, strings: strings), "page_language": name(doc.language)])
        } else {
            ta.letterNote = strings.format("letter_text_mixed", ["page_language": name(doc.language)])
        }
    }
}
