import Fluent
import Foundation
import Vapor
import VigilCore

/// `/report?document=…`: "I sent a letter" — the officials the document names, how the supporter
/// acted, and the totals so far. Every visit gets its own idempotency key, so the page is never
/// cached.
struct ReportPage: TemplateModel {
    struct Official: Encodable, Sendable {
        var id: String
        /// The official's title and organisation.
        var title: String
    }

    struct Channel: Encodable, Sendable {
        var value: String
        var label: String
        var checked: Bool
    }

    struct ChannelTotal: Encodable, Sendable {
        var label: String
        var n: Int
    }

    /// The idempotency key of this visit.
    var key: String
    /// The document's id, and its title, language, direction and address.
    var document: String
    var docTitle: String
    var docLang: String
    var docDir: String
    var docHref: String
    /// "UA 126/19".
    var number: String
    var targets: [Official]
    var channels: [Channel]
    /// "3 actions reported so far.", and by channel (the channels with reports).
    var total: String
    var byChannel: [ChannelTotal]
    /// After a report: thanks (a new one) or "already counted" (a repeated post).
    var thanks: String?

    static let example = ReportPage(
        key: "q3v1M2x9lYwq4hJ8s0aTQk", document: "ua-126-19-0-en", docTitle: "Crimean Tatar activists face long prison terms",
        docLang: "en", docDir: "ltr", docHref: "/urgent-actions/126-19/initial", number: "UA 126/19",
        targets: [Official(id: "ru-prosecutor-general", title: "Prosecutor General, Prosecutor General's Office of the Russian Federation")],
        channels: [Channel(value: "letter", label: "Letter", checked: true)],
        total: "3 actions reported so far.", byChannel: [ChannelTotal(label: "Letter", n: 3)],
        thanks: "Thank you. Your action has been counted.")

    /// The form for the document `id`: 404 when there is no such document or it asks for no action.
    /// `thanks` is the `thanks` of the address (`new` or `seen`) after a report.
    static func load(document id: String?, thanks: String?, on db: any Database, strings: Strings) async throws -> ReportPage {
        guard let id, Slug.problem(id) == nil, let row = try await SiteData(db: db).documents(ids: [id]).first else {
            throw Abort(.notFound, reason: "There is no such document.")
        }
        let doc = row.document
        guard let ta = doc.takeAction, !ta.targets.isEmpty else { throw Abort(.notFound, reason: "This document asks for no action.") }
        let targets = try await Store(db: db).targets(ids: ta.targets.map(\.target))
        let totals = try await ReportTotals.of(documents: [doc.id], on: db)
        return ReportPage(
            key: Auth.randomToken(), document: doc.id, docTitle: doc.title, docLang: doc.language,
            docDir: LanguageTag.isRightToLeft(doc.language) ? "rtl" : "ltr",
            docHref: Endpoint.document(row.number, doc).path, number: row.number.label,
            targets: targets.map { Official(id: $0.id, title: [$0.title, $0.organisation].compactMap { $0 }.joined(separator: ", ")) },
            channels: ActionChannel.allCases.enumerated().map { i, c in
                Channel(value: c.rawValue, label: strings["channel_\(c.rawValue)"], checked: i == 0)
            },
            total: strings.format(totals.total == 1 ? "report_total_one" : "report_total_many", ["n": String(totals.total)]),
            byChannel: ActionChannel.allCases.compactMap { c in
                totals.byChannel[c.rawValue].map { ChannelTotal(label: strings["channel_\(c.rawValue)"], n: $0) }
            },
            thanks: thanks == "new" ? strings["report_thanks"] : (thanks == "seen" ? strings["report_seen"] : nil))
    }
}
