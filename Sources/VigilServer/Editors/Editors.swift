import Fluent
import Foundation
import SQLKit
import Vapor
import VigilCore

/// `/editor`: what an editor does in the browser — make and revoke the API tokens their tools
/// publish with, and see that mail and reports flow. Editors log in at `/login` like supporters;
/// their sessions end after 30 idle minutes and are never remembered.
struct EditorController: UsesServices {
    let services: VigilServices

    func register(_ r: Router) {
        r.on(.editor, use: page)
        r.on(.createToken, use: createToken)
        r.on(.revokeToken, use: revokeToken)
    }

    var pages: PrivatePage { PrivatePage(views: views, strings: strings, auth: auth) }

    /// A publisher's or admin's session with its second factor (`NewsroomAccess`): publishers
    /// make tokens that publish; admins see and revoke every token.
    func requireEditor(_ req: Request) async throws -> CurrentSession {
        try await NewsroomAccess.require(req, .publisher, .admin)
    }

    func page(req: Request) async throws -> Response {
        _ = try await requireEditor(req)
        return try await render(req)
    }

    /// The editor page, with what was wrong with a form when there was something.
    func render(_ req: Request, status: HTTPStatus = .ok, errors: [String] = []) async throws -> Response {
        guard let me = req.currentSession else { throw Abort(.unauthorized) }
        let page = try await EditorPage.load(on: req.db, for: me.supporter, strings: strings, errors: errors, zone: req.newsroomZone)
        return try pages.render(req, "editor", title: strings["editor_title"], status: status, content: page)
    }

    struct TokenForm: Content { var csrf: String?; var label: String?; var current: String?; var scope: String? }

    func createToken(req: Request) async throws -> Response {
        let me = try await requireEditor(req)
        let form = try req.content.decode(TokenForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        let label = (form.label ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !label.isEmpty, label.count <= 80, !label.hasControlCharacter else {
            return try await render(req, status: .unprocessableEntity, errors: [strings["editor_label_bad"]])
        }
        // A token publishes in the organisation's name: ask for the password again.
        guard me.supporter.roles.contains(.publisher) else {
            return try await render(req, status: .forbidden, errors: [strings["editor_publishers_only"]])
        }
        guard try await passwords.reauthenticate(req, me, form.current) else {
            return try await render(req, status: .unauthorized, errors: [strings["change_wrong_password"]])
        }
        let scope = form.scope ?? "import"
        guard APIToken.scopes.contains(scope) else {
            return try await render(req, status: .unprocessableEntity, errors: [strings["editor_scope_bad"]])
        }
        let days = req.application.vigil.tokenLifetimeDays
        let (token, id) = try await req.db.writeTransaction { db in
            let made = try await APIToken.create(role: "publisher", scope: scope, days: days, label: label, createdBy: me.supporter.id, on: db)
            try await Audit.record("token.created", actor: .account(me.supporter.id!), subject: "token:" + made.id.uuidString.lowercased(),
                                   detail: ["role": "publisher", "scope": scope, "days": String(days)], on: db)
            return made
        }
        req.securityLog.record("token.created", account: me.supporter.id, ["token": id.uuidString.lowercased(), "role": "publisher", "scope": scope])
        // Shown once, on a page no cache keeps.
        return try pages.render(req, "editor-token", title: strings["editor_token_title"],
                                content: EditorTokenPage(label: label, token: token, base: baseURL))
    }

    func revokeToken(req: Request) async throws -> Response {
        let me = try await requireEditor(req)
        try auth.checkCSRF(req, token: try req.content.decode(AccountController.CSRFForm.self).csrf)
        guard let id = req.endpoint[.uuid].flatMap(UUID.init(uuidString:)) else { throw Refusal(.notFound, "refusal_there_no_such_token") }
        try await req.db.writeTransaction { db in
            // Publishers revoke the tokens they made; admins any token made in the newsroom
            // (tokens made on the command line are revoked there, with `vigil token revoke`).
            guard let t = try await APITokenModel.find(id, on: db), let maker = t.createdBy,
                  maker == me.supporter.id || me.supporter.roles.contains(.admin) else {
                throw Refusal(.notFound, "refusal_there_no_such_token_yours")
            }
            if t.revokedAt == nil {
                t.revokedAt = Date(); try await t.update(on: db)
                try await Audit.record("token.revoked", actor: .account(me.supporter.id!), subject: "token:" + id.uuidString.lowercased(),
                                       detail: ["role": t.role], on: db)
            }
        }
        req.securityLog.record("token.revoked", account: me.supporter.id, ["token": id.uuidString.lowercased()])
        return req.redirect(to: Endpoint.editor.path, redirectType: .normal)
    }
}
