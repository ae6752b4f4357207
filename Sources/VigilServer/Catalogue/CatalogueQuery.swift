import Fluent
import Foundation
import Synchronization
import SQLKit
import Vapor
import VigilCore
import VigilDocuments

/// The one query over what is published — documents, urgent actions, cases and targets — used
/// by the site's list and search, the feeds, the letter-writing pack and every API list. A query
/// string is parsed once, here, and checked: an unknown or repeated parameter, or a value that
/// cannot be, is refused with a message naming it. The filters become SQL in one place
/// (`conditions`), so the site and the API cannot disagree about what a filter means.
struct CatalogueQuery: Sendable, Equatable {
    enum Key: String, CaseIterable, Sendable {
        case q, country, region, theme, status, kind, outcome, language
        case caseID = "case"
        case updatedSince = "updated_since"
        case page, limit, cursor, paper, view
    }

    /// How much of each item an API list gives: `summary` (the default: documents without their
    /// text, each with the address of the whole) or `full` (as `GET` of each item gives it).
    enum View: String, CaseIterable, Sendable { case summary, full }

    /// The filters of the site's list (and its pack and feeds).
    static let siteKeys: Set<Key> = [.q, .country, .region, .theme, .status, .kind, .outcome, .language, .page]

    var q = ""
    var country: String?
    var region: String?
    var theme: String?
    /// Where the urgent action stands (`ActionStanding`): `open` (can be acted on today),
    /// `deadline-passed` or `closed`. For cases: `open` and `closed` are the case's own status,
    /// `deadline-passed` an open case with no urgent action open today.
    var status: ActionStanding?
    /// The organisation's date, against which deadlines are read.
    var today = ActionClock.current.today()
    var kind: DocumentKind?
    var outcome: OutcomeResult?
    var language: String?
    var caseID: String?
    var updatedSince: Date?
    /// The site's pages, from 1.
    var page = 1
    /// The API's pages: at most `limit` items after `cursor`.
    var limit = 20
    var cursor: [String]?
    var paper: PaperSize?
    var view = View.summary

    init(status: ActionStanding? = nil, kind: DocumentKind? = nil) {
        self.status = status; self.kind = kind
    }

    /// Parses and checks a query string; only the keys in `allowed` are accepted.
    init(_ query: String?, allowed: Set<Key>) throws {
        var values: [Key: String] = [:]
        for part in (query ?? "").split(separator: "&") {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let rawKey = String(kv[0]).replacingOccurrences(of: "+", with: " ")
            let name = rawKey.removingPercentEncoding ?? rawKey
            guard let key = Key(rawValue: name), allowed.contains(key) else {
                let accepted = allowed.map(\.rawValue).sorted().joined(separator: ", ")
                throw Refusal(.badRequest, "refusal_unknown_query_parameter_page_accepts", ["name": "\(name.prefix(100))", "parameters": "\(accepted)"])
            }
            let raw = kv.count > 1 ? String(kv[1]).replacingOccurrences(of: "+", with: " ") : ""
            guard let value = raw.removingPercentEncoding else {
                throw Refusal(.badRequest, "refusal_query_parameter_not_correctly_percent", ["name": "\(name)"])
            }
            guard values[key] == nil else { throw Refusal(.badRequest, "refusal_query_parameter_given_twice", ["name": "\(name)"]) }
            // No control character reaches a query (PostgreSQL refuses a NUL in text: a region
            // filter holding one answered 500 there). In a search, one is a space; elsewhere no
            // stored value can hold one, so it is refused.
            let hasControl = value.hasControlCharacter
            if hasControl && key != .q {
                throw Refusal(.badRequest, "refusal_query_parameter_control_character", ["name": "\(name)"])
            }
            let cleaned = hasControl ? String(String.UnicodeScalarView(value.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 })) : value
            let trimmed = cleaned.trimmingCharacters(in: .whitespaces)
            if !trimmed.isEmpty { values[key] = trimmed }
        }
        q = String((values[.q] ?? "").prefix(200))
        if let c = values[.country] {
            if let p = CountryCode.issue(c) { throw Refusal(.badRequest, "refusal_country_problem", terms: ["problem": p]) }
            country = c
        }
        region = values[.region].map { String($0.prefix(200)) }
        theme = try Self.slug(values[.theme], "theme")
        caseID = try Self.slug(values[.caseID], "case")
        status = try Self.oneOf(values[.status], "status", ActionStanding.self)
        kind = try Self.oneOf(values[.kind], "kind", DocumentKind.self)
        outcome = try Self.oneOf(values[.outcome], "outcome", OutcomeResult.self)
        if let l = values[.language] {
            if let p = LanguageTag.issue(l) { throw Refusal(.badRequest, "refusal_language_problem", terms: ["problem": p]) }
            language = l
        }
        if let v = values[.updatedSince] { updatedSince = try Self.date(v) }
        if let p = values[.page] {
            guard let n = Int(p), (1...10_000).contains(n) else { throw Refusal(.badRequest, "refusal_page_must_whole_number_from") }
            page = n
        }
        if let l = values[.limit] {
            guard let n = Int(l), (1...100).contains(n) else { throw Refusal(.badRequest, "refusal_limit_must_whole_number_from") }
            limit = n
        }
        if let c = values[.cursor] {
            guard let decoded = Cursor.decode(c) else {
                throw Refusal(.badRequest, "refusal_cursor_not_valid_pass_next")
            }
            cursor = decoded
        }
        paper = try Self.oneOf(values[.paper]?.lowercased(), "paper", PaperSize.self)
        view = try Self.oneOf(values[.view], "view", View.self) ?? .summary
    }

    static func slug(_ v: String?, _ key: String) throws -> String? {
        guard let v else { return nil }
        if let p = Slug.issue(v) { throw Refusal(.badRequest, "refusal_parameter_problem", ["key": key], terms: ["problem": p]) }
        return v
    }

    static func oneOf<E: RawRepresentable & CaseIterable>(_ v: String?, _ key: String, _ type: E.Type) throws -> E? where E.RawValue == String {
        guard let v else { return nil }
        guard let e = E(rawValue: v) else {
            throw Refusal(.badRequest, "refusal_parameter_one_of", ["key": "\(key)", "values": "\(E.allCases.map(\.rawValue).joined(separator: ", "))"])
        }
        return e
    }

    /// `updated_since`: an ISO 8601 date (`2026-01-31`) or date-time (`2026-01-31T12:00:00Z`).
    static func date(_ v: String) throws -> Date {
        let parsed = isoFormatters.withLock { f -> Date? in
            if let d = f.full.date(from: v) { return d }
            if let d = f.fractional.date(from: v) { return d }
            if v.count == 10, let d = f.day.date(from: v) { return d }
            return nil
        }
        guard let parsed else { throw Refusal(.badRequest, "refusal_updated_since_must_iso_8601") }
        return parsed
    }

    /// The formatters `date` reads with, made once: making the three cost about 250 µs, on
    /// every API request that names `updated_since` (a client keeping in step asks that way),
    /// even one answered from the cache. Used under the lock, one thread at a time.
    private static let isoFormatters = Mutex<(full: ISO8601DateFormatter, fractional: ISO8601DateFormatter, day: ISO8601DateFormatter)>({
        let fractional = ISO8601DateFormatter(), day = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        day.formatOptions = [.withFullDate]
        return (ISO8601DateFormatter(), fractional, day)
    }())

    /// The site's list filters as query values (for links: `Endpoint.urgentActions`).
    var siteValues: [String: String] {
        var d: [String: String] = [:]
        if !q.isEmpty { d["q"] = q }
        d["country"] = country; d["region"] = region; d["theme"] = theme; d["status"] = status?.rawValue
        d["kind"] = kind?.rawValue; d["outcome"] = outcome?.rawValue; d["language"] = language
        if page > 1 { d["page"] = String(page) }
        return d
    }

    var hasSearch: Bool { !q.trimmingCharacters(in: .whitespaces).isEmpty }

    /// How many of the site list's filters are set (a kind and an outcome count as one: the
    /// outcomes page links to both together). The site links to lists of one filter; more are
    /// combinations a visitor makes, of which there are millions.
    var filterCount: Int {
        [country, region, theme, status?.rawValue, language].count { $0 != nil } + (kind != nil || outcome != nil ? 1 : 0)
    }

    /// Whether any filter but the search words is set: whether a list of documents has conditions.
    var hasFilters: Bool { filters(.documents).any }

    /// The query as checked, in one spelling: a cache key for the API's lists, so that `&&`,
    /// percent-encoded names, `limit=0100` or another order name the same entry, not new ones.
    var canonicalKey: String {
        Self.key(conditionParts + [String(page), String(limit), view.rawValue] + (cursor ?? []))
    }

    /// The list's conditions alone, in one spelling (not which page, how many, or how shown): a
    /// cache key for what all the list's pages share, such as how many entries it has.
    var conditionsKey: String { Self.key(conditionParts) }

    private var conditionParts: [String] {
        [today, q, country ?? "", region ?? "", theme ?? "", status?.rawValue ?? "", kind?.rawValue ?? "",
         outcome?.rawValue ?? "", language ?? "", caseID ?? "", updatedSince.map { String($0.timeIntervalSince1970) } ?? ""]
    }

    /// Each part's `%` and `|` escaped, so that no two queries' parts join to one key (with `|`
    /// written `||`, ["a|", "b"] and ["a", "|b"] both made `a|||b`).
    private static func key(_ parts: [String]) -> String {
        parts.map { $0.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "|", with: "%7C") }.joined(separator: "|")
    }

    // MARK: - SQL

    /// What a list is of; each reads its rows under fixed aliases.
    enum Subject: Sendable {
        /// `documents d JOIN urgent_actions u JOIN cases c`
        case documents
        /// `urgent_actions u JOIN cases c`
        case urgentActions
        /// `cases c`
        case cases
        /// `targets t`
        case targets
    }

    /// The `FROM` clause of a subject.
    static func from(_ subject: Subject) -> SQLQueryString {
        "FROM \(tables(subject))"
    }

    /// `d.urgent_action_id NOT IN …`: a document `d` that is listed, without the joins of
    /// `tables(.documents)` (whose conditions refer to its action and case). The same documents:
    /// every document has its action, and every action its case. The withdrawn actions are read
    /// once, from their own index (almost always empty), where the joins looked up each
    /// document's action and case (3 of a search statement's 9 ms on PostgreSQL, for 500 hits).
    static let listedDocument: SQLQueryString =
        "d.urgent_action_id NOT IN (SELECT id FROM urgent_actions WHERE withdrawn_at IS NOT NULL)"

    /// The tables of a subject, joined, as `from` names them (to follow another table).
    static func tables(_ subject: Subject) -> SQLQueryString {
        switch subject {
        // Withdrawn urgent actions (`Withdrawal`) and their documents are in no list.
        case .documents: "documents d JOIN urgent_actions u ON u.id = d.urgent_action_id AND u.withdrawn_at IS NULL JOIN cases c ON c.id = u.case_id"
        case .urgentActions: "urgent_actions u JOIN cases c ON c.id = u.case_id AND u.withdrawn_at IS NULL"
        case .cases: "cases c"
        case .targets: "targets t"
        }
    }

    /// `AND …` on an urgent action `u` that stands as `standing` on `today`: the SQL form of
    /// `ActionStanding.of(status:deadline:today:)` (a test checks they agree).
    static func standing(_ standing: ActionStanding, today: String) -> SQLQueryString {
        switch standing {
        case .open: " AND u.status = 'open' AND (u.deadline_last IS NULL OR u.deadline_last >= \(bind: today))"
        case .deadlinePassed: " AND u.status = 'open' AND u.deadline_last < \(bind: today)"
        case .closed: " AND u.status = 'closed'"
        }
    }

    /// The filters as `AND …` conditions on `subject` (search words are matched separately,
    /// by the search index). Every filter means the same on every list.
    func conditions(_ subject: Subject) -> SQLQueryString { filters(subject).sql }

    /// The conditions of `conditions`, and whether there are any.
    private func filters(_ subject: Subject) -> (sql: SQLQueryString, any: Bool) {
        var sql: SQLQueryString = "", any = false
        // Every condition is added here, so that `hasFilters` cannot miss one. Some come in
        // parts (an `EXISTS (…` with the conditions inside it, then its `)`): each part is added
        // the same way, and the first already says there is a filter.
        func and(_ condition: SQLQueryString) { sql += condition; any = true }
        if subject == .targets {
            if let country { and(" AND t.country = \(bind: country)") }
            if let updatedSince { and(" AND t.updated_at >= \(bind: updatedSince)") }
            return (sql, any)
        }
        // Case-level filters: every other subject reads its case as `c`.
        if let country { and(" AND EXISTS (SELECT 1 FROM case_countries x WHERE x.case_id = c.id AND x.country = \(bind: country))") }
        if let theme { and(" AND EXISTS (SELECT 1 FROM case_themes x WHERE x.case_id = c.id AND x.theme = \(bind: theme))") }
        if let region { and(" AND c.region = \(bind: region)") }
        if let caseID { and(" AND c.id = \(bind: caseID)") }
        if let status {
            if subject == .cases {
                switch status {
                case .open, .closed: and(" AND c.status = \(bind: status.rawValue)")
                case .deadlinePassed:
                    and(" AND c.status = 'open' AND NOT EXISTS (SELECT 1 FROM urgent_actions u WHERE u.case_id = c.id AND u.withdrawn_at IS NULL")
                    and(Self.standing(.open, today: today))
                    and(")")
                }
            } else {
                and(Self.standing(status, today: today))
            }
        }
        // Document-level filters: the row itself, or some document of the urgent action.
        if kind != nil || outcome != nil || language != nil {
            switch subject {
            case .documents:
                if let kind { and(" AND d.kind = \(bind: kind.rawValue)") }
                if let outcome { and(" AND d.outcome = \(bind: outcome.rawValue)") }
                if let language { and(" AND d.language = \(bind: language)") }
            case .urgentActions, .cases:
                and(subject == .cases
                    ? " AND EXISTS (SELECT 1 FROM documents d JOIN urgent_actions u ON u.id = d.urgent_action_id WHERE u.case_id = c.id AND u.withdrawn_at IS NULL"
                    : " AND EXISTS (SELECT 1 FROM documents d WHERE d.urgent_action_id = u.id")
                if let kind { and(" AND d.kind = \(bind: kind.rawValue)") }
                if let outcome { and(" AND d.outcome = \(bind: outcome.rawValue)") }
                if let language { and(" AND d.language = \(bind: language)") }
                and(")")
            case .targets:
                break
            }
        }
        if let updatedSince {
            switch subject {
            case .documents: and(" AND d.updated_at >= \(bind: updatedSince)")
            case .urgentActions: and(" AND u.updated_at >= \(bind: updatedSince)")
            case .cases: and(" AND c.updated_at >= \(bind: updatedSince)")
            case .targets: break
            }
        }
        return (sql, any)
    }
}

/// Opaque page cursors: base64url of the sort key of the last item on the page.
enum Cursor {
    static func encode(_ parts: [String]) -> String {
        let json = JSONValue.array(parts.map { .string($0) }).serialized(pretty: false)
        return Data(json.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
    static func decode(_ s: String) -> [String]? {
        guard s.count <= 1024 else { return nil }
        var b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b.count % 4 != 0 { b += "=" }
        guard let data = Data(base64Encoded: b), let v = try? JSONValue.parse(data), let a = v.arrayValue,
              !a.isEmpty, a.count <= 4 else { return nil }
        let parts = a.compactMap(\.stringValue)
        // The parts are bound into queries: a NUL inside one answered 500 on PostgreSQL.
        return parts.count == a.count && !parts.contains(where: \.hasControlCharacter) ? parts : nil
    }
}
