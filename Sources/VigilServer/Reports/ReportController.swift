import Crypto
import Fluent
import SQLKit
import Foundation
import Vapor
import VigilCore

/// "I sent a letter": `/report?document=ID` (a page of its own, never cached, so that every visit
/// gets its own idempotency key), totals in the API, and undo for one's own reports.
struct ReportController: UsesServices {
    let services: VigilServices

    func register(_ r: Router) {
        r.on(.reportForm, use: form)
        r.on(.report, use: submit)
        r.on(.undoReport, use: undo)
        r.on(.apiUrgentActionTotals, use: uaTotals)
        r.on(.apiTotals, use: allTotals)
    }

    func form(req: Request) async throws -> Response {
        let page = try await ReportPage.load(document: req.query[String.self, at: "document"], thanks: req.query[String.self, at: "thanks"],
                                             followed: req.query[String.self, at: "followed"], again: req.query[String.self, at: "again"] == "1",
                                             supporter: req.currentSession?.supporter.id, on: req.db, strings: strings)
        return try PrivatePage(views: views, strings: strings, auth: auth).render(req, "report", title: strings["report_title"],
                                                                                 description: page.docTitle, content: page)
    }

    struct ReportForm: Content {
        var csrf: String?; var document: String?; var channel: String?; var key: String?; var targets: [String]?; var target: String?
        /// "Tell me what happens" (`1`), and the address to write to when not logged in.
        var follow: String?; var email: String?
        /// `1`: the supporter says they sent another one, after being asked.
        var confirm_again: String?
    }

    func submit(req: Request) async throws -> Response {
        let form = try req.content.decode(ReportForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        // One small read on the hot path: the document and the officials it names.
        guard let documentID = form.document, Slug.problem(documentID) == nil else { throw Refusal(.notFound, "refusal_there_no_such_document") }
        let sql = req.db as! any SQLDatabase
        let rows = try await sql.raw("""
            SELECT d.id AS id, t.target_id AS target, CASE WHEN u.withdrawn_at IS NULL THEN 0 ELSE 1 END AS withdrawn FROM documents d
            JOIN urgent_actions u ON u.id = d.urgent_action_id LEFT JOIN document_targets t ON t.document_id = d.id
            WHERE d.id = \(bind: documentID)
            """).all()
        guard !rows.isEmpty else { throw Refusal(.notFound, "refusal_there_no_such_document") }
        // No reports on a withdrawn action (`Withdrawal`).
        if try rows[0].decode(column: "withdrawn", as: Int.self) != 0 { throw Withdrawal.gone }
        let named = rows.compactMap { try? $0.decode(column: "target", as: String?.self) }
        guard !named.isEmpty else { throw Refusal(.badRequest, "refusal_document_asks_for_no_action") }
        guard let channel = form.channel.flatMap(ActionChannel.init(rawValue:)) else {
            throw Refusal(.badRequest, "refusal_choose_how_you_acted", ["values": "\(ActionChannel.allCases.map(\.rawValue).joined(separator: ", "))"])
        }
        let chosen = (form.targets ?? []) + (form.target.map { [$0] } ?? [])
        guard !chosen.isEmpty else { throw Refusal(.badRequest, "refusal_choose_at_least_one_official") }
        let allowed = Set(named)
        guard chosen.allSatisfy(allowed.contains), chosen.count <= allowed.count else {
            throw Refusal(.badRequest, "refusal_choose_officials_named_document")
        }
        let key = form.key ?? ""
        let check = ActionReport(documentID: documentID, targetID: nil, channel: channel, idempotencyKey: key, anonymous: req.currentSession == nil)
        if let problem = check.problems().first { throw Refusal(.badRequest, "refusal_issue", ["path": problem.path], terms: ["message": problem.phrase]) }
        // "Tell me what happens": logged out, it needs an address we can write to — checked before anything is counted.
        let wantsFollow = form.follow == "1"
        var followEmail: String?
        if wantsFollow, req.currentSession == nil {
            guard let email = AccountController.normalisedEmail(form.email), !email.isEmpty, EmailAddress.problem(email) == nil else {
                throw Abort(.unprocessableEntity, reason: strings["report_follow_email_bad"])
            }
            followEmail = email
        }
        let officials = Set(chosen).sorted()
        let pending = officials.map {
            PendingReport(documentID: documentID, targetID: $0, channel: channel, key: "\(key):\($0):\(channel.rawValue)",
                          supporterID: req.currentSession?.supporter.id)
        }
        // The same official and channel reported from this browser within a day: ask before counting
        // (unless this is the very same form sent again, which is counted once anyway).
        let now = Int(Date().timeIntervalSince1970)
        let remembered = ReportedCookie.parse(req.cookies[ReportedCookie.name]?.string, now: now)
        let hashes = officials.map { ReportedCookie.hash(document: documentID, target: $0, channel: channel.rawValue, secret: secret) }
        let recent = Set(remembered.map(\.hash))
        if form.confirm_again != "1", hashes.contains(where: recent.contains) {
            let keys = pending.map(\.key)
            let seen = try await ActionReportModel.query(on: req.db).filter(\.$idempotencyKey ~~ keys).count()
            if seen < keys.count {
                return try await askAgain(req, documentID: documentID, channel: channel, officials: officials,
                                          follow: wantsFollow, email: form.email ?? "")
            }
        }
        // The rate-limit hit and every official's report join the same group commit.
        let outcome = try await req.application.reportBatcher.submit(ReportRequest(
            reports: pending,
            rateRule: req.rateRule("report:ip:\(clientRateAddress(req, trustedProxies: req.application.vigil.trustedProxies))", limit: 120, window: 60)))
        switch outcome {
        case .limited(let wait):
            throw RateLimit.refusal(wait: wait, key: "refusal_many_reports")
        case .recorded(let anyNew):
            let followed = wantsFollow ? try await followCase(req, documentID: documentID, email: followEmail) : nil
            // Post/redirect/get: a reload does not post again, and a repeated post is counted once.
            let response = req.redirect(to: Endpoint.reportForm(document: documentID, thanks: anyNew ? "new" : "seen", followed: followed).path,
                                        redirectType: .normal)
            let entries = remembered.filter { !hashes.contains($0.hash) } + hashes.map { ReportedCookie.Entry(hash: $0, at: now) }
            response.cookies[ReportedCookie.name] = ReportedCookie.cookie(entries, tls: auth.tls)
            return response
        }
    }

    /// "Did you send another one?": a page (200) whose form posts the same report again with
    /// `confirm_again=1`. Nothing is counted.
    func askAgain(_ req: Request, documentID: String, channel: ActionChannel, officials: [String], follow: Bool, email: String) async throws -> Response {
        var page = try await ReportPage.load(document: documentID, supporter: req.currentSession?.supporter.id, on: req.db, strings: strings)
        let titles = Dictionary(uniqueKeysWithValues: page.targets.map { ($0.id, $0.title) })
        page.ask = ReportPage.Ask(officials: officials.map { titles[$0] ?? $0 }, channelLabel: strings["channel_\(channel.rawValue)"],
                                  channel: channel.rawValue, targets: officials, follow: follow, email: String(email.prefix(254)))
        return try PrivatePage(views: views, strings: strings, auth: auth).render(req, "report", title: strings["report_again_title"],
                                                                                 description: page.docTitle, content: page)
    }

    /// The tick "Tell me what happens": logged in, the case is followed at once (idempotent);
    /// logged out, an e-mail follow starts with its confirmation mail. Returns the `followed` of
    /// the thanks page's address. The report is already counted: a refused follow (the client
    /// asked for too many confirmation mails) does not undo it and is not reported as done.
    func followCase(_ req: Request, documentID: String, email: String?) async throws -> String? {
        guard let doc = try await DocumentModel.find(documentID, on: req.db),
              let ua = try await UrgentActionModel.find(doc.urgentActionID, on: req.db),
              let kase = try await CaseModel.find(ua.caseID, on: req.db) else { return nil }
        if let me = req.currentSession {
            let existing = try await FollowController.existing(me.supporter.id!, .case(kase.id!), on: req.db)
            if existing == nil {
                try await FollowController.follow(.case(kase.id!), supporter: me.supporter.id!, digest: false, language: me.supporter.language,
                                                  consentText: strings["report_follow_tick"], on: req.db)
            }
            return "on"
        }
        guard let email else { return nil }
        do {
            try await EmailFollows(services: services).start(email: email, caseID: kase.id!, caseTitle: kase.title,
                                                             language: req.answerLanguage,
                                                             consentText: strings["report_follow_tick"], req: req)
        } catch let error as AbortError where error.status == .tooManyRequests {
            return nil
        }
        return "mail"
    }

    func undo(req: Request) async throws -> Response {
        guard let me = req.currentSession else { throw Abort.redirect(to: Endpoint.loginForm.path) }
        try auth.checkCSRF(req, token: try req.content.decode(AccountController.CSRFForm.self).csrf)
        guard let id = req.endpoint[.uuid].flatMap(UUID.init(uuidString:)) else { throw Abort(.notFound) }
        try await req.db.writeTransaction { db in
            guard let r = try await ActionReportModel.find(id, on: db), r.supporterID == me.supporter.id else {
                throw Refusal(.notFound, "refusal_there_no_such_report_yours")
            }
            try await r.delete(on: db)
            try await ReportTotals.bump(document: r.documentID, channel: r.channel, by: -1, on: db as! any SQLDatabase)
        }
        return req.redirect(to: Endpoint.account.path, redirectType: .normal)
    }

    func uaTotals(req: Request) async throws -> Response {
        let raw = req.endpoint[.number] ?? ""
        guard let number = UANumber(slug: raw) else { throw Refusal(.badRequest, "refusal_not_urgent_action_number_write", ["value": "\(raw)"]) }
        try await Withdrawal.check(number, on: req.db)
        let docs = try await Store(db: req.db).documents(urgentActionIDs: [number.slug]).map(\.document.id)
        guard !docs.isEmpty else { throw Refusal(.notFound, "refusal_there_no_ua", ["ua": "\(number.label)"]) }
        var perDocument: [String: JSONValue] = [:]
        for d in docs { perDocument[d] = try await ReportTotals.of(documents: [d], on: req.db).json }
        guard case .object(var o) = try await ReportTotals.of(documents: docs, on: req.db).json else { throw Abort(.internalServerError) }
        o["urgent_action"] = .string(number.description)
        o["documents"] = .object(perDocument)
        return jsonResponse(.object(o))
    }

    /// Counts for every document, for partner sections to pull.
    func allTotals(req: Request) async throws -> Response {
        var all = try await ReportTotals.all(on: req.db)
        // Not the documents of withdrawn actions (`Withdrawal`): their ids say what they were.
        for id in try await Withdrawal.withdrawnDocumentIDs(on: req.db) { all[id] = nil }
        return jsonResponse(.object(["documents": .object(all.mapValues(\.json))]))
    }
}

/// "Reported from this browser": the reports of the last day, remembered in the browser only
/// (never on the server), so that a second report of the same official and channel asks first.
/// The cookie holds no ids in clear: each entry is a keyed hash of document, official and channel
/// (HMAC with the server secret, 96 bits) and the time. It is untrusted input: bounded in size,
/// anything malformed is ignored.
enum ReportedCookie {
    static let name = "vigil-reported"
    static let life = 86_400
    static let maxEntries = 20
    /// Longer values are ignored whole.
    static let maxLength = 1_024

    struct Entry: Equatable { var hash: String; var at: Int }

    static func hash(document: String, target: String, channel: String, secret: ServerSecret) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(document)\u{0}\(target)\u{0}\(channel)".utf8), using: secret.key(for: "reported"))
        return String(Data(mac.prefix(12)).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_"))
    }

    /// The entries of the last day; nothing for a missing, oversized or malformed cookie.
    static func parse(_ raw: String?, now: Int) -> [Entry] {
        guard let raw, !raw.isEmpty, raw.utf8.count <= maxLength else { return [] }
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var out: [Entry] = []
        for part in raw.split(separator: ".", omittingEmptySubsequences: true).prefix(maxEntries) {
            let pair = part.split(separator: "~", omittingEmptySubsequences: false)
            guard pair.count == 2, pair[0].count == 16, pair[0].allSatisfy(alphabet.contains),
                  pair[1].count <= 12, pair[1].allSatisfy(\.isASCII), let at = Int(pair[1]), at > now - life, at <= now + 60 else { continue }
            out.append(Entry(hash: String(pair[0]), at: at))
        }
        return out
    }

    /// The cookie for `entries`, the newest kept: HttpOnly, SameSite=Lax, Secure behind TLS, sent only to `/report`, for a day.
    static func cookie(_ entries: [Entry], tls: Bool) -> HTTPCookies.Value {
        let kept = entries.sorted { $0.at > $1.at }.prefix(maxEntries)
        return HTTPCookies.Value(string: kept.map { "\($0.hash)~\($0.at)" }.joined(separator: "."), expires: nil, maxAge: life, domain: nil,
                                 path: Endpoint(.report).path, isSecure: tls, isHTTPOnly: true, sameSite: .lax)
    }
}
