import Fluent
import Foundation
import Vapor

/// `/dev/outbox`: the queued mail, readable in the browser, so that a laptop without an SMTP
/// server still shows what would be sent. Registered only with `VIGIL_DEV_OUTBOX=1` and no mail
/// transport, and it answers only loopback clients that came through no proxy: mail holds
/// password-reset links, and whoever reads them owns the accounts.
struct DevOutboxController: UsesServices {
    let services: VigilServices

    func register(_ r: Router) {
        r.on(.devOutbox, use: list)
    }

    /// A loopback peer, with no sign of a proxy in between.
    static func isLocal(_ req: Request) -> Bool {
        guard let peer = req.remoteAddress?.ipAddress else { return false }
        let address = ClientAddress.normalise(peer)
        guard address.hasPrefix("127.") || address == "::1" else { return false }
        return req.headers.first(name: "X-Forwarded-For") == nil && req.headers.first(name: "Forwarded") == nil
            && req.headers.first(name: "X-Real-IP") == nil
    }

    func list(req: Request) async throws -> Response {
        guard Self.isLocal(req) else { throw Abort(.notFound) }
        // No form and no session: rendered as is, without the CSRF cookie of PrivatePage.
        let page = Page(page: PageFrame(title: "Mail outbox", description: "Development outbox", strings: strings),
                        content: try await DevOutboxPage.load(on: req.db))
        let html = try views.render("dev-outbox", page, strings: strings)
        return Response(status: .ok, headers: ["Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"], body: .init(string: html))
    }
}
