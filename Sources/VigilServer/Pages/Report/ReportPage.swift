import Fluent
import Foundation
import Vapor
import VigilCore

/// `/report?document=…`: "I sent a letter" — the officials the document names, how the supporter
/// acted, the tick "tell me what happens", and the totals so far. Every visit gets its own
/// idempotency key, so the page is never cached.
///
/// After a report (`thanks=new|seen`) the page is the thanks: the totals (the whole urgent action
/// first), and next steps — follow the case, other open actions, report a different action on
/// purpose (`again=1`) — but no counting form. When the same browser reported the same official
/// and channel less than a day ago, the post answers with `ask`: "Did you send another one?".
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

    /// "Did you send another one?": what was posted, to post again with `confirm_again=1`.
    struct Ask: Encodable, Sendable {
        /// The officials reported again, in words, and how.
        var officials: [String]
        var channelLabel: String
        /// The posted values.
        var channel: String
        var targets: [String]
        var follow: Bool
        var email: String
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
    /// "7 actions reported for UA 126/19." first, then "3 of them for this document.", and by channel.
    var uaTotal: String
    var total: String
    var byChannel: [ChannelTotal]
    /// After a report: thanks (a new one) or "already counted" (a repeated post). The page then has no form.
    var thanks: String?
    /// The supporter already follows the case (logged in): no tick, a sentence instead.
    var following: Bool
    /// After a report that asked to follow: "You are following…" or "Check your e-mail…".
    var followNote: String?
    /// Next steps: the personal follow page of the case, the open urgent actions, this form again on purpose.
    var followHref: String
    /// The action is closed or its deadline passed: the form stays, for a letter sent in time,
    /// under a notice that nobody is asked to write any more.
    var lateNotice: String?
    var openHref: String
    var againHref: String
    /// The question before counting the same action twice from one browser within a day.
    var ask: Ask?

    static let example = ReportPage(
        key: "q3v1M2x9lYwq4hJ8s0aTQk", document: "ua-126-19-0-en", docTitle: "Crimean Tatar activists face long prison terms",
        docLang: "en", docDir: "ltr", docHref: "/urgent-actions/126-19/initial", number: "UA 126/19",
        targets: [Official(id: "ru-prosecutor-general", title: "Prosecutor General, Prosecutor General's Office of the Russian Federation")],
        channels: [Channel(value: "letter", label: "Letter", checked: true)],
        uaTotal: "7 actions reported for UA 126/19.", total: "3 of them for this document.", byChannel: [ChannelTotal(label: "Letter", n: 3)],
        thanks: "Thank you — your action is counted.", following: true,
        followNote: "You are following this case: we will e-mail you when there is an update or an outcome.",
        followHref: "/follow?case=crimean-tatar-defenders-kuku",
        lateNotice: "UA 126/19 is closed: supporters are no longer asked to write. If you sent your letter before, you can still count it.",
        openHref: "/urgent-actions?status=open",
        againHref: "/report?document=ua-126-19-0-en&again=1",
        ask: Ask(officials: ["Prosecutor General, Prosecutor General's Office of the Russian Federation"], channelLabel: "Letter",
                 channel: "letter", targets: ["ru-prosecutor-general"], follow: true, email: "ana@example.org"))

    /// The form for the document `id`: 404 when there is no such document or it asks for no action.
    /// `thanks` is the `thanks` of the address (`new` or `seen`) after a report, `followed` what
    /// became of its tick (`on`: following; `mail`: a confirmation mail was sent); `again` asks for
    /// the form after a report. `supporter`: who is logged in, if anyone.
    static func load(document id: String?, thanks: String? = nil, followed: String? = nil, again: Bool = false, supporter: UUID? = nil,
                     ask: Ask? = nil, on db: any Database, strings: Strings) async throws -> ReportPage {
        if let id, Slug.problem(id) == nil { try await Withdrawal.check(document: id, on: db) }
        guard let id, Slug.problem(id) == nil, let row = try await SiteData(db: db).documents(ids: [id]).first else {
            throw Refusal(.notFound, "refusal_there_no_such_document")
        }
        let doc = row.document
        guard let ta = doc.takeAction, !ta.targets.isEmpty else { throw Refusal(.notFound, "refusal_document_asks_for_no_action") }
        let targets = try await Store(db: db).targets(ids: ta.targets.map(\.target))
        let totals = try await ReportTotals.of(documents: [doc.id], on: db)
        let uaDocuments = try await DocumentModel.query(on: db).filter(\.$urgentActionID == row.number.slug).all().compactMap(\.id)
        let uaTotals = try await ReportTotals.of(documents: uaDocuments.isEmpty ? [doc.id] : uaDocuments, on: db)
        let following: Bool
        if let supporter {
            following = try await FollowModel.query(on: db).filter(\.$supporterID == supporter).filter(\.$subjectKind == "case")
                .filter(\.$subjectValue == row.caseID).first() != nil
        } else {
            following = false
        }
        let showThanks = !again && (thanks == "new" || thanks == "seen")
        let followNote: String? = switch followed {
        case "on" where showThanks: strings["report_followed_on"]
        case "mail" where showThanks: strings["report_followed_mail"]
        default: following ? strings["report_following"] : nil
        }
        return ReportPage(
            key: Auth.randomToken(), document: doc.id, docTitle: doc.title, docLang: doc.language,
            docDir: LanguageTag.isRightToLeft(doc.language) ? "rtl" : "ltr",
            docHref: Endpoint.document(row.number, doc).path, number: row.number.label,
            targets: targets.map { Official(id: $0.id, title: [$0.title, $0.organisation].compactMap { $0 }.joined(separator: ", ")) },
            channels: ActionChannel.allCases.enumerated().map { i, c in
                Channel(value: c.rawValue, label: strings["channel_\(c.rawValue)"], checked: i == 0)
            },
            uaTotal: strings.plural("report_ua_first", uaTotals.total, ["ua": row.number.label]),
            total: strings.plural("report_doc_second", totals.total),
            byChannel: ActionChannel.allCases.compactMap { c in
                totals.byChannel[c.rawValue].map { ChannelTotal(label: strings["channel_\(c.rawValue)"], n: $0) }
            },
            thanks: showThanks ? (thanks == "new" ? strings["report_thanks"] : strings["report_seen"]) : nil,
            following: following, followNote: followNote,
            followHref: Endpoint.follow(case: row.caseID).path,
            lateNotice: row.standing == .open ? nil
                : strings.format(row.standing == .closed ? "report_late_closed" : "report_late_passed", ["ua": row.number.label]),
            openHref: Endpoint.urgentActions(["status": ActionStanding.open.rawValue]).path,
            againHref: Endpoint.reportForm(document: doc.id, again: true).path,
            ask: ask)
    }
}
