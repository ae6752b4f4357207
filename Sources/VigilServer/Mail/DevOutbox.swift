import Fluent
import Foundation
import Vapor

/// `/dev/outbox`: the queued mail, readable in the browser — registered only in the development
/// environment, so that a laptop without an SMTP server still shows what would be sent.
struct DevOutboxController: RouteCollection {
    let views: ViewRenderer
    let strings: Strings

    func boot(routes: any RoutesBuilder) throws {
        routes.get("dev", "outbox", use: list)
    }

    func list(req: Request) async throws -> Response {
        let rows = try await OutboxMessageModel.query(on: req.db).sort(\.$createdAt, .descending).limit(200).all()
        let iso = ISO8601DateFormatter()
        let page = PrivatePage.frame(title: "Mail outbox", description: "Development outbox", strings: strings)
        let messages: [TemplateValue] = rows.map { r in
            ["subject": .string(r.subject), "to": .string(r.toAddress), "status": .string(r.status), "attempts": .string(String(r.attempts)),
             "created": .string(iso.string(from: r.createdAt)), "error": r.lastError.template, "text": .string(r.textBody)]
        }
        let html = try views.render("dev-outbox", ["page": page, "messages": .list(messages), "t": strings.templateValue])
        return Response(status: .ok, headers: ["Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"], body: .init(string: html))
    }
}
