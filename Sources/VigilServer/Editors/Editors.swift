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

    /// The editor's session, or: log in first (anonymous) / 403 (a supporter).
    func requireEditor(_ req: Request) throws -> CurrentSession {
        guard let me = req.currentSession else { throw Abort.redirect(to: Endpoint.loginForm.path) }
        guard me.supporter.isEditor else { throw Abort(.forbidden, reason: strings["editor_only"]) }
        return me
    }

    func page(req: Request) async throws -> Response {
        _ = try requireEditor(req)
        return try await render(req)
    }

    /// The editor page, with what was wrong with a form when there was something.
    func render(_ req: Request, status: HTTPStatus = .ok, errors: [String] = []) async throws -> Response {
        let page = try await EditorPage.load(on: req.db, strings: strings, errors: errors)
        return try pages.render(req, "editor", title: strings["editor_title"], status: status, content: page)
    }

    struct TokenForm: Content { var csrf: String?; var label: String?; var current: String?; var scope: String? }

    func createToken(req: Request) async throws -> Response {
        let me = try requireEditor(req)
        let form = try req.content.decode(TokenForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        let label = (form.label ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !label.isEmpty, label.count <= 80, !label.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return try await render(req, status: .unprocessableEntity, errors: [strings["editor_label_bad"]])
        }
        // A token publishes in the organisation's name: ask for the password again.
        guard try await passwords.reauthenticate(req, me, form.current) else {
            return try await render(req, status: .unauthorized, errors: [strings["change_wrong_password"]])
        }
        let scope = form.scope ?? "import"
        guard APIToken.scopes.contains(scope) else {
            return try await render(req, status: .unprocessableEntity, errors: [strings["editor_scope_bad"]])
        }
        let days = req.application.vigil.tokenLifetimeDays
        let (token, id) = try await req.db.writeTransaction { db in
            try await APIToken.create(role: "editor", scope: scope, days: days, label: label, createdBy: me.supporter.id, on: db)
        }
        req.securityLog.record("token.created", account: me.supporter.id, ["token": id.uuidString.lowercased(), "role": "editor", "scope": scope])
        // Shown once, on a page no cache keeps.
        return try pages.render(req, "editor-token", title: strings["editor_token_title"],
                                content: EditorTokenPage(label: label, token: token, base: baseURL))
    }

    func revokeToken(req: Request) async throws -> Response {
        let me = try requireEditor(req)
        try auth.checkCSRF(req, token: try req.content.decode(AccountController.CSRFForm.self).csrf)
        guard let id = req.endpoint[.uuid].flatMap(UUID.init(uuidString:)) else { throw Abort(.notFound, reason: "There is no such token.") }
        try await req.db.writeTransaction { db in
            guard let t = try await APITokenModel.find(id, on: db), t.role == "editor" else {
                throw Abort(.notFound, reason: "There is no such editor token (admin tokens are revoked with `vigil token revoke`).")
            }
            if t.revokedAt == nil { t.revokedAt = Date(); try await t.update(on: db) }
        }
        req.securityLog.record("token.revoked", account: me.supporter.id, ["token": id.uuidString.lowercased()])
        return req.redirect(to: Endpoint.editor.path, redirectType: .normal)
    }
}

/// `vigil editor grant|revoke|list`: who may use `/editor`.
struct EditorCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Argument(name: "action", help: "grant | revoke | list")
        var action: String
        @Option(name: "email", help: "For grant and revoke: the account's e-mail address.")
        var email: String?
    }
    var help: String {
        "Makes an account an editor (`editor grant --email E`) or a supporter again (`editor revoke --email E`; the API tokens "
            + "they made are revoked too); `editor list` shows the editors. Either way their sessions end, so the next log-in "
            + "gets the session rules of the new role (editors: 30 minutes idle, never remembered)."
    }

    func run(using context: CommandContext, signature: Signature) async throws {
        let db = context.application.db
        switch signature.action {
        case "list":
            for s in try await SupporterModel.query(on: db).filter(\.$role == "editor").sort(\.$email).all() {
                context.console.print("\(s.email)  \(s.displayName)\(s.emailVerifiedAt == nil ? "  (address not confirmed)" : "")")
            }
        case "grant", "revoke":
            guard let raw = signature.email, EmailAddress.problem(raw.lowercased()) == nil else {
                throw CommandProblem(description: "Give --email with the address of an existing account.")
            }
            let email = raw.lowercased()
            let message = try await Self.setRole(email: email, editor: signature.action == "grant", on: db,
                                                 log: context.application.securityLog)
            context.console.print(message)
        default:
            throw CommandProblem(description: "Unknown action \"\(signature.action)\": use grant, revoke or list.")
        }
    }

    static func setRole(email: String, editor: Bool, on db: any Database, log: SecurityLog? = nil) async throws -> String {
        try await db.writeTransaction { db in
            guard let s = try await SupporterModel.query(on: db).filter(\.$email == email).first() else {
                throw CommandProblem(description: "There is no account with the address \(email); sign up at /signup first.")
            }
            s.role = editor ? "editor" : "supporter"; s.updatedAt = Date()
            try await s.update(on: db)
            try await SessionModel.query(on: db).filter(\.$supporterID == s.id!).delete()
            var revoked = 0
            if !editor { revoked = try await APIToken.revoke(madeBy: s.id!, on: db) }
            log?.record("account.role-changed", account: s.id, ["role": s.role, "tokens_revoked": String(revoked)])
            return editor ? "\(email) is now an editor; their sessions have ended."
                : "\(email) is a supporter again; their sessions have ended and \(revoked) API token(s) they made are revoked."
        }
    }
}
