import Fluent
import Foundation
import VigilCore

/// `/newsroom/urgent-actions/{number}` (every newsroom role): one urgent action as the newsroom
/// sees it — its documents and translations, where it stands, whether it is withdrawn for safety
/// and why (the reason is internal: no public page shows it) — and, for publishers, the forms
/// that withdraw, redact and republish it (`Withdrawal`, through `Publisher`).
struct NewsroomUrgentActionPage: TemplateModel {
    struct Translation: Encodable, Sendable {
        /// The language's tag (for `lang`) and name, the translated title, its public page
        /// (nil while the action is withdrawn).
        var language: String
        var languageName: String
        var title: String
        var href: String?
        /// The document's id (the newsroom's forms name it), and whether its original changed
        /// after it was translated (known for translations made or published in the newsroom).
        var id: String
        var outdated: Bool
    }

    /// The newsroom's writing forms, for editors and publishers: where they post, the action's
    /// number, and the working languages a document can be translated into.
    struct Writing: Encodable, Sendable {
        var create: String
        var open: String
        var number: String
        var languages: [LanguageChoice]
    }

    struct LanguageChoice: Encodable, Sendable {
        var tag: String
        var name: String
    }

    struct Doc: Encodable, Sendable {
        /// "Urgent Action", "Urgent Action update 2", "Urgent Action outcome".
        var kind: String
        var language: String
        var languageName: String
        var title: String
        /// ISO date and in words.
        var published: String
        var publishedText: String
        /// The public page; nil while the action is withdrawn.
        var href: String?
        var id: String
        var translations: [Translation]
    }

    /// Withdrawn for safety: since when (ISO 8601) and the internal reason.
    struct Withdrawn: Encodable, Sendable {
        var since: Moment
        var reason: String
    }

    /// The publisher's forms: where each posts (nil when it does not apply: withdraw while
    /// published, republish and redact while withdrawn) and what was typed before a refusal.
    struct Forms: Encodable, Sendable {
        var withdraw: String?
        var republish: String?
        var redact: String?
        var reason: String
        var from: String
        var to: String
        /// Limits of the fields ("500", "200").
        var reasonMax: String
        var redactMax: String
    }

    /// What was typed into the forms, kept when the page is shown again after a refusal.
    struct Typed: Sendable {
        var reason = ""
        var from = ""
        var to = NewsroomUrgentActionPage.withheld
    }

    var errors: [String] = []
    var notice: String?
    /// "UA 126/19", its case's title and public page.
    var label: String
    var caseTitle: String
    var caseHref: String
    /// The stored status in words, where it stands today in words and as a key (`deadline-passed`).
    var status: String
    var standing: String
    var standingKey: String
    /// The deadline in force, as written (`2019-11-14`, `2019-11`) and in words; empty when none.
    var deadline: String
    var deadlineText: String
    var withdrawn: Withdrawn?
    var documents: [Doc]
    /// Only for publishers.
    var forms: Forms?
    /// Only for editors and publishers.
    var writing: Writing?

    /// What a redaction writes by default.
    static let withheld = "[name withheld]"

    static let example = NewsroomUrgentActionPage(
        errors: ["Say why the urgent action is withdrawn."], notice: "UA 126/19 is withdrawn.",
        label: "UA 126/19", caseTitle: "Emir-Usein Kuku and five co-defendants", caseHref: "/cases/crimean-tatar-defenders-kuku",
        status: "Closed", standing: "Closed", standingKey: "closed", deadline: "2019-11-14", deadlineText: "14 November 2019",
        withdrawn: Withdrawn(since: .example, reason: "Naming one of the men endangers his family."),
        documents: [Doc(kind: "Urgent Action", language: "en", languageName: "English", title: "Six Crimean Tatar men on trial",
                        published: "2019-10-03", publishedText: "3 October 2019", href: "/urgent-actions/126-19/initial", id: "ua-126-19-0-en",
                        translations: [Translation(language: "ru", languageName: "Russian", title: "Шестеро крымских татар под судом",
                                                   href: "/urgent-actions/126-19/initial/ru", id: "ua-126-19-0-ru", outdated: true)])],
        forms: Forms(withdraw: "/newsroom/urgent-actions/126-19/withdraw", republish: "/newsroom/urgent-actions/126-19/republish",
                     redact: "/newsroom/urgent-actions/126-19/redact", reason: "Naming one of the men endangers his family.",
                     from: "Emir-Usein Kuku", to: withheld, reasonMax: "500", redactMax: "200"),
        writing: Writing(create: "/newsroom/drafts", open: "/newsroom/edit", number: "126/19",
                         languages: [LanguageChoice(tag: "es", name: "Spanish")]))

    /// The page of the urgent action `number`, or nil when there is none. At most this many documents.
    static let documentLimit = 1000

    static func load(_ number: UANumber, publisher: Bool, writer: Bool = false, languages: [String] = [], on db: any Database, strings t: Strings, today: String,
                     errors: [String] = [], notice: String? = nil, typed: Typed = Typed(), zone: TimeZone) async throws -> NewsroomUrgentActionPage? {
        guard let ua = try await UrgentActionModel.find(number.slug, on: db) else { return nil }
        let kase = try await CaseModel.find(ua.caseID, on: db)
        let rows = try await DocumentModel.query(on: db).filter(\.$urgentActionID == ua.id!).sort(\.$sequence).sort(\.$language)
            .limit(documentLimit).all()
        let isWithdrawn = ua.withdrawnAt != nil
        let status = UrgentActionStatus(rawValue: ua.status) ?? .open
        let deadline = UrgentAction.deadline(ofRows: rows.map { ($0.sequence, $0.deadline.flatMap(PartialDate.init), $0.translationOf != nil) })
            ?? ua.deadline.flatMap(PartialDate.init)
        let standing = ActionStanding.of(status: status, deadline: deadline, today: today)
        var translations: [String: [DocumentModel]] = [:]
        for d in rows { if let of = d.translationOf { translations[of, default: []].append(d) } }
        func link(_ d: DocumentModel, _ kind: DocumentKind) -> String? {
            isWithdrawn ? nil : Endpoint.showing(number, kind: kind, sequence: d.sequence, language: d.language,
                                                  isTranslation: d.translationOf != nil).path
        }
        // Translations made or published in the newsroom know the original they were made from.
        let translationIDs = rows.filter { $0.translationOf != nil }.compactMap(\.id)
        let outdated = translationIDs.isEmpty ? [] : try await NewsroomDraftsController.outdated(
            DraftItemModel.query(on: db).filter(\.$kind == DraftKind.document.rawValue).filter(\.$subject ~~ translationIDs).all(), on: db)
        let documents = rows.filter { $0.translationOf == nil }.compactMap { d -> Doc? in
            guard let kind = DocumentKind(rawValue: d.kind) else { return nil }
            let words = kind == .update ? "\(t["kind_update"]) \(d.sequence)" : t["kind_\(kind.rawValue)"]
            return Doc(kind: words, language: d.language, languageName: Format.languageName(d.language), title: d.title,
                       published: d.published, publishedText: PartialDate(d.published).map { Format.date($0) } ?? d.published,
                       href: link(d, kind), id: d.id!,
                       translations: (translations[d.id!] ?? []).sorted { $0.language < $1.language }.map {
                           Translation(language: $0.language, languageName: Format.languageName($0.language), title: $0.title, href: link($0, kind),
                                       id: $0.id!, outdated: outdated.contains($0.id!))
                       })
        }
        return NewsroomUrgentActionPage(
            errors: errors, notice: notice, label: number.label, caseTitle: kase?.title ?? "", caseHref: Endpoint.kase(ua.caseID).path,
            status: t["status_\(status.rawValue)"], standing: t["status_\(standing.rawValue)"], standingKey: standing.rawValue,
            deadline: deadline?.description ?? "", deadlineText: deadline.map { Format.date($0) } ?? "",
            withdrawn: ua.withdrawnAt.map { Withdrawn(since: Moment($0, zone: zone), reason: ua.withdrawnReason ?? "") },
            documents: documents,
            forms: publisher ? Forms(withdraw: isWithdrawn ? nil : Endpoint(.withdrawUrgentAction, [number.slug]).path,
                                     republish: isWithdrawn ? Endpoint(.republishUrgentAction, [number.slug]).path : nil,
                                     redact: isWithdrawn ? Endpoint(.redactUrgentAction, [number.slug]).path : nil,
                                     reason: typed.reason, from: typed.from, to: typed.to,
                                     reasonMax: String(Withdrawal.maxReason), redactMax: String(Withdrawal.maxRedaction)) : nil,
            writing: writer ? Writing(create: Endpoint(.createDraft).path, open: Endpoint(.editPublished).path, number: number.description,
                                      languages: languages.map { LanguageChoice(tag: $0, name: Format.languageName($0)) }) : nil)
    }
}
