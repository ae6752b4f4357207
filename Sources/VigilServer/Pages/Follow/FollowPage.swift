import Fluent
import Foundation
import Vapor
import VigilCore

/// `/follow?case=…` (or `country`, `theme`): how often and in which language to hear of it.
struct FollowPage: TemplateModel {
    /// What is followed: `case`, `country` or `theme` (the name of the hidden field), and its id.
    var kind: String
    var value: String
    /// The case's title, the country's name or the theme, in words.
    var label: String
    var languages: [LanguageOption]

    static let example = FollowPage(kind: "case", value: "crimean-tatar-defenders-kuku", label: "Crimean Tatar defenders",
                                    languages: [.example])

    /// The form for `subject`, the supporter's own language chosen. 404 for a case that does not exist.
    static func load(_ subject: FollowSubject, language: String, on db: any Database, catalogue: Catalogue) async throws -> FollowPage {
        FollowPage(kind: subject.kind, value: subject.value, label: try await label(subject, on: db),
                   languages: LanguageOption.all(catalogue, selected: language))
    }

    /// What is followed, in words. Throws 404 for a case that does not exist.
    static func label(_ s: FollowSubject, on db: any Database) async throws -> String {
        switch s {
        case .case(let id):
            guard let c = try await CaseModel.find(id, on: db) else { throw Abort(.notFound, reason: "There is no such case.") }
            return c.title
        case .country(let c): return Format.countryName(c)
        case .theme(let t): return SitePageInputs.themeLabel(t)
        }
    }
}
