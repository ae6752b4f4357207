import Fluent
import Foundation
import Vapor

/// `/newsroom/audit` and `/newsroom/audit.csv`: the audit log, for admins only.
struct AuditController: UsesServices {
    let services: VigilServices

    func register(_ r: Router) {
        r.on(.newsroomAudit, use: page)
        r.on(.newsroomAuditCSV, use: csv)
    }

    var pages: PrivatePage { PrivatePage(views: views, strings: strings, auth: auth) }

    func page(req: Request) async throws -> Response {
        try await NewsroomAccess.require(req, .admin)
        let route = req.endpoint
        let filter = NewsroomAuditPage.filter(route.query)
        let before = route.query["before"].flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil }
        let page = try await NewsroomAuditPage.load(filter, before: before, on: req.db, strings: strings)
        return try pages.render(req, "newsroom-audit", title: strings["audit_title"],
                                status: page.errors.isEmpty ? .ok : .badRequest, content: page)
    }

    /// Every entry the filter selects, oldest first, streamed a page at a time. The export itself
    /// goes into the log (who exported, how many entries) once it has been written out.
    func csv(req: Request) async throws -> Response {
        let me = try await NewsroomAccess.require(req, .admin)
        let filter = NewsroomAuditPage.filter(req.endpoint.query)
        guard filter.problems.isEmpty else {
            throw Abort(.badRequest, reason: filter.problems.map { strings["audit_filter_bad_\($0)"] }.joined(separator: " "))
        }
        let db = req.db, admin = me.supporter.id!
        let day = Audit.timestamp(Date()).prefix(10)
        let response = Response(status: .ok, headers: [
            "Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store",
            "Content-Disposition": "attachment; filename=\"vigil-audit-\(day).csv\"",
        ])
        response.body = .init(asyncStream: { writer in
            do {
                var count = 0
                try await writer.write(.buffer(ByteBuffer(string: Audit.csvLine(Audit.csvHeader))))
                try await Audit.forEach(filter, on: db) { page in
                    count += page.count
                    try await writer.write(.buffer(ByteBuffer(string: page.map(Audit.csvRow).joined())))
                }
                let exported = count
                try await db.writeTransaction { db in
                    try await Audit.record("audit.exported", actor: .account(admin), detail: ["entries": String(exported)], on: db)
                }
                try await writer.write(.end)
            } catch {
                try await writer.write(.error(error))
            }
        })
        return response
    }
}
