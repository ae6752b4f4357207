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
                                             on: req.db, strings: strings)
        return try PrivatePage(views: views, strings: strings, auth: auth).render(req, "report", title: strings["report_title"],
                                                                                 description: page.docTitle, content: page)
    }

    struct ReportForm: Content {
        var csrf: String?; var document: String?; var channel: String?; var key: String?; var targets: [String]?; var target: String?
    }

    func submit(req: Request) async throws -> Response {
        let form = try req.content.decode(ReportForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        // One small read on the hot path: the document and the officials it names.
        guard let documentID = form.document, Slug.problem(documentID) == nil else { throw Abort(.notFound, reason: "There is no such document.") }
        let sql = req.db as! any SQLDatabase
        let rows = try await sql.raw("""
            SELECT d.id AS id, t.target_id AS target FROM documents d LEFT JOIN document_targets t ON t.document_id = d.id
            WHERE d.id = \(bind: documentID)
            """).all()
        guard !rows.isEmpty else { throw Abort(.notFound, reason: "There is no such document.") }
        let named = rows.compactMap { try? $0.decode(column: "target", as: String?.self) }
        guard !named.isEmpty else { throw Abort(.badRequest, reason: "This document asks for no action.") }
        guard let channel = form.channel.flatMap(ActionChannel.init(rawValue:)) else {
            throw Abort(.badRequest, reason: "Choose how you acted: \(ActionChannel.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        let chosen = (form.targets ?? []) + (form.target.map { [$0] } ?? [])
        guard !chosen.isEmpty else { throw Abort(.badRequest, reason: "Choose at least one official you wrote to.") }
        let allowed = Set(named)
        guard chosen.allSatisfy(allowed.contains), chosen.count <= allowed.count else {
            throw Abort(.badRequest, reason: "Choose officials named in this document.")
        }
        let key = form.key ?? ""
        let check = ActionReport(documentID: documentID, targetID: nil, channel: channel, idempotencyKey: key, anonymous: req.currentSession == nil)
        if let problem = check.problems().first { throw Abort(.badRequest, reason: "\(problem.path): \(problem.message)") }
        let supporter = req.currentSession?.supporter.id
        // The rate-limit hit and every official's report join the same group commit.
        let outcome = try await req.application.reportBatcher.submit(ReportRequest(
            reports: Set(chosen).sorted().map {
                PendingReport(documentID: documentID, targetID: $0, channel: channel, key: "\(key):\($0):\(channel.rawValue)", supporterID: supporter)
            },
            rateRule: req.rateRule("report:ip:\(clientRateAddress(req, trustedProxies: req.application.vigil.trustedProxies))", limit: 120, window: 60)))
        switch outcome {
        case .limited(let wait):
            throw RateLimit.refusal(wait: wait, reason: "Too many reports at once; wait \(wait) seconds.")
        case .recorded(let anyNew):
            // Post/redirect/get: a reload does not post again, and a repeated post is counted once.
            return req.redirect(to: Endpoint.reportForm(document: documentID, thanks: anyNew ? "new" : "seen").path, redirectType: .normal)
        }
    }

    func undo(req: Request) async throws -> Response {
        guard let me = req.currentSession else { throw Abort.redirect(to: Endpoint.loginForm.path) }
        try auth.checkCSRF(req, token: try req.content.decode(AccountController.CSRFForm.self).csrf)
        guard let id = req.endpoint[.uuid].flatMap(UUID.init(uuidString:)) else { throw Abort(.notFound) }
        try await req.db.writeTransaction { db in
            guard let r = try await ActionReportModel.find(id, on: db), r.supporterID == me.supporter.id else {
                throw Abort(.notFound, reason: "There is no such report of yours.")
            }
            try await r.delete(on: db)
            try await ReportTotals.bump(document: r.documentID, channel: r.channel, by: -1, on: db as! any SQLDatabase)
        }
        return req.redirect(to: Endpoint.account.path, redirectType: .normal)
    }

    func uaTotals(req: Request) async throws -> Response {
        let raw = req.endpoint[.number] ?? ""
        guard let number = UANumber(slug: raw) else { throw Abort(.badRequest, reason: "\"\(raw)\" is not an urgent action number; write UA 126/19 as 126-19.") }
        let docs = try await Store(db: req.db).documents(urgentActionIDs: [number.slug]).map(\.document.id)
        guard !docs.isEmpty else { throw Abort(.notFound, reason: "There is no \(number.label).") }
        var perDocument: [String: JSONValue] = [:]
        for d in docs { perDocument[d] = try await ReportTotals.of(documents: [d], on: req.db).json }
        guard case .object(var o) = try await ReportTotals.of(documents: docs, on: req.db).json else { throw Abort(.internalServerError) }
        o["urgent_action"] = .string(number.description)
        o["documents"] = .object(perDocument)
        return jsonResponse(.object(o))
    }

    /// Counts for every document, for partner sections to pull.
    func allTotals(req: Request) async throws -> Response {
        let all = try await ReportTotals.all(on: req.db)
        return jsonResponse(.object(["documents": .object(all.mapValues(\.json))]))
    }
}
