import Fluent
import Foundation
import VigilCore

/// `/newsroom/urgent-actions` (every newsroom role): a form to find an urgent action by its
/// number, and the latest urgent actions — withdrawn ones too — each linking to its newsroom page.
struct NewsroomUrgentActionsPage: TemplateModel {
    struct Row: Encodable, Sendable {
        /// "UA 126/19", the case's title, the action's newsroom page.
        var label: String
        var title: String
        var href: String
        /// The stored status ("Open", "Closed") and where it stands today ("Deadline passed").
        var status: String
        var standing: String
        /// `open`, `deadline-passed`, `closed`: for styling.
        var standingKey: String
        /// Withdrawn for safety, and since when.
        var withdrawn: Bool
        var withdrawnSince: Moment?
    }

    var errors: [String] = []
    /// What was typed into the find form.
    var number: String = ""
    var actions: [Row]
    /// How many the list shows at most ("50").
    var limit: String

    static let example = NewsroomUrgentActionsPage(
        errors: ["There is no UA 999/19."], number: "999/19",
        actions: [Row(label: "UA 126/19", title: "Emir-Usein Kuku and five co-defendants", href: "/newsroom/urgent-actions/126-19",
                      status: "Closed", standing: "Closed", standingKey: "closed", withdrawn: true, withdrawnSince: .example)],
        limit: "50")

    /// At most this many actions in the list; older ones are found by number.
    static let limit = 50

    static func load(on db: any Database, strings t: Strings, today: String, errors: [String] = [], number: String = "", zone: TimeZone) async throws -> NewsroomUrgentActionsPage {
        let rows = try await UrgentActionModel.query(on: db).sort(\.$sortKey, .descending).sort(\.$id).limit(limit).all()
        let caseIDs = Set(rows.map(\.caseID)).sorted()
        let cases = caseIDs.isEmpty ? [] : try await CaseModel.query(on: db).filter(\.$id ~~ caseIDs).all()
        let titles = Dictionary(uniqueKeysWithValues: cases.map { ($0.id!, $0.title) })
        return NewsroomUrgentActionsPage(errors: errors, number: number, actions: rows.compactMap { ua in
            guard let n = UANumber(ua.number) else { return nil }
            let status = UrgentActionStatus(rawValue: ua.status) ?? .open
            let standing = ActionStanding.of(status: status, deadline: ua.deadline.flatMap(PartialDate.init), today: today)
            return Row(label: n.label, title: titles[ua.caseID] ?? "", href: Endpoint.newsroomUrgentAction(n).path,
                       status: t["status_\(status.rawValue)"], standing: t["status_\(standing.rawValue)"], standingKey: standing.rawValue,
                       withdrawn: ua.withdrawnAt != nil, withdrawnSince: ua.withdrawnAt.map { Moment($0, zone: zone) })
        }, limit: String(limit))
    }

    /// A number as people write it: `126/19`, `UA 126/19`, `126-19`; nil when it is none.
    static func parse(_ raw: String) -> UANumber? {
        var s = raw.trimmingCharacters(in: .whitespaces)
        if s.uppercased().hasPrefix("UA") { s = String(s.dropFirst(2)).trimmingCharacters(in: .whitespaces) }
        guard !s.isEmpty, s.count <= 20 else { return nil }
        return UANumber(s) ?? UANumber(slug: s)
    }
}
