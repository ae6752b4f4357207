import Fluent
import Foundation
import VigilCore

/// `/newsroom`: what needs the newsroom's attention — open urgent actions whose deadline passes
/// within 7 days, documents of open actions that lack a translation into a working language —
/// and the tools the account's roles open.
struct NewsroomHomePage: TemplateModel {
    struct Deadline: Encodable, Sendable {
        /// "UA 77/26", the case's title, the action's newsroom page, and the last day (ISO date and in words).
        var label: String
        var title: String
        var href: String
        var deadline: String
        var deadlineText: String
    }

    struct Untranslated: Encodable, Sendable {
        var label: String
        var title: String
        var href: String
        /// The document's language (its tag, for `lang`, and its name), and the working languages
        /// it has no translation into ("Spanish, French").
        var language: String
        var languageName: String
        var missing: String
    }

    /// An urgent action withdrawn for safety: off the public site until it is republished.
    struct Withdrawn: Encodable, Sendable {
        var label: String
        var title: String
        /// The action's newsroom page (its reason, redaction and republication).
        var href: String
        var since: Moment
    }

    /// An item of the editorial workflow (`Drafts`), in one of the home's lists.
    struct Work: Encodable, Sendable {
        var title: String
        var href: String
        /// When it was last changed, is scheduled, or was published.
        var when: Moment
        /// Why a schedule was missed, how late a publication went out.
        var note: String
    }

    /// The time zone this account sees times in: the form that changes it, the zone in use, and
    /// the choices (the organisation's, then every IANA zone).
    struct ZoneChoice: Encodable, Sendable {
        struct Option: Encodable, Sendable {
            var value: String
            var label: String
            var selected: Bool
        }
        var action: String
        var current: String
        var options: [Option]
    }

    var errors: [String] = []
    var notice: String?
    var name: String
    /// The account's roles, in words.
    var roles: String
    var tools: [LabelledLink]
    var deadlines: [Deadline]
    var untranslated: [Untranslated]
    var withdrawn: [Withdrawn]
    /// My drafts; waiting for review (publishers); scheduled in the next 7 days; schedules
    /// missed; published late (last 14 days); published without review, waiting for review.
    var myDrafts: [Work]
    var forReview: [Work]
    var scheduled: [Work]
    var missed: [Work]
    var late: [Work]
    var afterReview: [Work]
    /// The working languages (VIGIL_LANGUAGES), e.g. "en, es, fr".
    var languages: String
    var zone: ZoneChoice

    static let example = NewsroomHomePage(
        errors: ["Choose a time zone from the list."], notice: "Times are now shown in Europe/Madrid.",
        name: "Ana", roles: "editor, publisher", tools: [LabelledLink(href: "/newsroom/tokens", label: "API tokens")],
        deadlines: [Deadline(label: "UA 77/26", title: "Egypt: Lawyer held for defending detainees", href: "/newsroom/urgent-actions/77-26",
                             deadline: "2026-12-05", deadlineText: "5 December 2026")],
        untranslated: [Untranslated(label: "UA 77/26", title: "Lawyer held for defending detainees", href: "/urgent-actions/77-26/initial",
                                    language: "en", languageName: "English", missing: "Spanish, French")],
        withdrawn: [Withdrawn(label: "UA 12/25", title: "Belarus: Journalist detained", href: "/newsroom/urgent-actions/12-25",
                              since: .example)],
        myDrafts: [work], forReview: [work], scheduled: [work], missed: [work], late: [work], afterReview: [work],
        languages: "English, Spanish, French",
        zone: ZoneChoice(action: "/newsroom/time-zone", current: "Europe/Madrid",
                         options: [.init(value: "", label: "The organisation's: Europe/London", selected: false),
                                   .init(value: "Europe/Madrid", label: "Europe/Madrid", selected: true)]))
    static let work = Work(title: "Lawyer held incommunicado", href: "/newsroom/drafts/7b0c3f8e-1f7e-4a59-9d1e-1c2b3d4e5f60",
                           when: .example, note: "Published 3 h 5 min late")

    /// At most this many rows in each list; the full lists are the public list's filters.
    static let limit = 50

    static func load(for s: SupporterModel, on db: any Database, strings t: Strings, languages: [String], today: PartialDate,
                     now: Date = Date(), errors: [String] = [], notice: String? = nil) async throws -> NewsroomHomePage {
        let organisation = ActionClock.current.timeZone
        let zone = s.timeZone.flatMap(ActionClock.zone(named:)) ?? organisation
        let zoneChoice = ZoneChoice(
            action: Endpoint(.newsroomTimeZone).path, current: zone.identifier,
            options: [.init(value: "", label: t.format("newsroom_zone_organisation", ["zone": organisation.identifier]), selected: s.timeZone == nil)]
                + TimeZone.knownTimeZoneIdentifiers.sorted().map { .init(value: $0, label: $0, selected: $0 == s.timeZone) })
        var tools: [LabelledLink] = []
        let roles = s.roles
        if !roles.isDisjoint(with: [.publisher, .admin]) { tools.append(LabelledLink(href: Endpoint.editor.path, label: t["editor_title"])) }
        if roles.contains(.admin) {
            tools.append(LabelledLink(href: Endpoint.newsroomAccounts.path, label: t["accounts_title"]))
            tools.append(LabelledLink(href: Endpoint(.newsroomAudit).path, label: t["audit_title"]))
        }
        tools.append(LabelledLink(href: Endpoint(.newsroomUrgentActions).path, label: t["newsroom_ua_title"]))
        if !roles.isDisjoint(with: [.editor, .publisher]) { tools.append(LabelledLink(href: Endpoint(.newsroomDrafts).path, label: t["drafts_title"])) }
        tools.append(LabelledLink(href: Endpoint.secondFactorForm.path, label: t["second_factor_title"]))

        let todayText = today.description
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let start = utc.date(from: DateComponents(year: today.year, month: today.month ?? 1, day: today.day ?? 1))!
        let week = utc.dateComponents([.year, .month, .day], from: utc.date(byAdding: .day, value: 7, to: start)!)
        let weekText = PartialDate(year: week.year!, month: week.month, day: week.day).description
        let soon = try await UrgentActionModel.query(on: db).filter(\.$status == "open").filter(\.$withdrawnAt == nil)
            .filter(\.$deadlineLast >= todayText).filter(\.$deadlineLast <= weekText)
            .sort(\.$deadlineLast).limit(limit).all()
        let open = try await UrgentActionModel.query(on: db).filter(\.$status == "open").filter(\.$withdrawnAt == nil)
            .group(.or) { $0.filter(\.$deadlineLast == nil).filter(\.$deadlineLast >= todayText) }
            .sort(\.$sortKey, .descending).limit(limit).all()
        let pulled = try await UrgentActionModel.query(on: db).filter(\.$withdrawnAt != nil).sort(\.$withdrawnAt, .descending).limit(limit).all()
        let caseIDs = Set(soon.map(\.caseID) + pulled.map(\.caseID))
        let cases = try await CaseModel.query(on: db).filter(\.$id ~~ caseIDs.sorted()).all()
        let titles = Dictionary(uniqueKeysWithValues: cases.map { ($0.id!, $0.title) })
        let deadlines = soon.compactMap { ua -> Deadline? in
            guard let n = UANumber(ua.number), let last = ua.deadlineLast, let d = PartialDate(last) else { return nil }
            return Deadline(label: n.label, title: titles[ua.caseID] ?? "", href: Endpoint.newsroomUrgentAction(n).path,
                            deadline: last, deadlineText: Format.date(d))
        }

        var untranslated: [Untranslated] = []
        if !open.isEmpty {
            let docs = try await DocumentModel.query(on: db).filter(\.$urgentActionID ~~ open.compactMap(\.id)).all()
            var translated: [String: Set<String>] = [:]
            for d in docs { if let of = d.translationOf { translated[of, default: []].insert(d.language) } }
            let order = Dictionary(uniqueKeysWithValues: open.enumerated().map { ($1.id!, $0) })
            for d in docs.filter({ $0.translationOf == nil }).sorted(by: { (order[$0.urgentActionID] ?? 0, $0.sequence) < (order[$1.urgentActionID] ?? 0, $1.sequence) }) {
                let have = translated[d.id!, default: []].union([d.language])
                let missing = languages.filter { !have.contains($0) }
                guard !missing.isEmpty, let n = UANumber(slug: d.urgentActionID), let kind = DocumentKind(rawValue: d.kind) else { continue }
                untranslated.append(Untranslated(label: n.label, title: d.title,
                                                 href: Endpoint(.document, [n.slug, Endpoint.part(kind: kind, sequence: d.sequence)]).path,
                                                 language: d.language, languageName: Format.languageName(d.language),
                                                 missing: Localized.strings.list(missing.map { Format.languageName($0) })))
                if untranslated.count == limit { break }
            }
        }
        // The editorial workflow's lists.
        func work(_ items: [DraftItemModel], when: (DraftItemModel) -> Date?, note: (DraftItemModel) -> String = { _ in "" }) -> [Work] {
            items.map { i in
                Work(title: i.title, href: NewsroomDraftsController.href(i),
                     when: Moment(when(i) ?? i.updatedAt, zone: zone), note: note(i))
            }
        }
        let mine = try await DraftItemModel.query(on: db).filter(\.$createdBy == s.id!).filter(\.$state == DraftState.draft.rawValue)
            .sort(\.$updatedAt, .descending).limit(limit).all()
        let publisher = roles.contains(.publisher)
        let inReview = publisher ? try await DraftItemModel.query(on: db).filter(\.$state == DraftState.inReview.rawValue)
            .sort(\.$updatedAt).limit(limit).all() : []
        let graceful = now.addingTimeInterval(-Drafts.lateAfter)
        let upcoming = try await DraftItemModel.query(on: db).filter(\.$state == DraftState.scheduled.rawValue)
            .filter(\.$scheduledAt >= graceful).filter(\.$scheduledAt <= now.addingTimeInterval(7 * 86400)).sort(\.$scheduledAt).limit(limit).all()
        let overdue = try await DraftItemModel.query(on: db).filter(\.$state == DraftState.scheduled.rawValue)
            .filter(\.$scheduledAt < graceful).sort(\.$scheduledAt).limit(limit).all()
        let wentLate = try await DraftItemModel.query(on: db).filter(\.$lateSeconds != nil)
            .filter(\.$publishedAt >= now.addingTimeInterval(-14 * 86400)).sort(\.$publishedAt, .descending).limit(limit).all()
        let unreviewed = try await DraftItemModel.query(on: db).filter(\.$emergency == true).sort(\.$publishedAt).limit(limit).all()

        return NewsroomHomePage(errors: errors, notice: notice, name: s.displayName, roles: t.list(roles.sorted().map { t["role_\($0.rawValue)"] }),
                                tools: tools, deadlines: deadlines, untranslated: untranslated,
                                withdrawn: pulled.compactMap { ua in
                                    guard let n = UANumber(ua.number), let at = ua.withdrawnAt else { return nil }
                                    return Withdrawn(label: n.label, title: titles[ua.caseID] ?? "", href: Endpoint.newsroomUrgentAction(n).path,
                                                     since: Moment(at, zone: zone))
                                },
                                myDrafts: work(mine, when: { $0.updatedAt }), forReview: work(inReview, when: { $0.updatedAt }),
                                scheduled: work(upcoming, when: { $0.scheduledAt }),
                                missed: work(overdue, when: { $0.scheduledAt }, note: { $0.lastError ?? t["newsroom_missed_waiting"] }),
                                late: work(wentLate, when: { $0.publishedAt }, note: { i in
                                    t.format("newsroom_late_by", ["duration": NewsroomDraftsController.duration(i.lateSeconds ?? 0, t)]) }),
                                afterReview: work(unreviewed, when: { $0.publishedAt }),
                                languages: t.list(languages.map { Format.languageName($0) }), zone: zoneChoice)
    }
}
