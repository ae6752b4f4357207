import Fluent
import Foundation
import SQLKit
import VigilCore

/// `/editor`: the API tokens (every one, newest first) and whether mail and reports flow.
struct EditorPage: TemplateModel {
    struct Token: Encodable, Sendable {
        var label: String
        /// `editor` or `admin`.
        var role: String
        /// What it may do, in words.
        var scope: String
        /// When, and who made it (an editor, or the command line).
        var created: Moment
        var by: String
        /// Neither revoked nor expired; then `expires` (none for tokens made before expiry existed), else `state` says which.
        var active: Bool
        var expires: Moment?
        var state: String
        /// Not revoked yet and an editor token (admin tokens are revoked on the command line).
        var revocable: Bool
        var revokeAction: String
    }

    var errors: [String] = []
    var tokens: [Token]
    /// Mail waiting or being sent, failed, and sent in the last day.
    var mailPending: Int
    var mailFailed: Int
    var mailSent: Int
    /// Actions reported, in all.
    var reports: Int

    static let example = EditorPage(
        errors: ["Give the token a label of at most 80 characters."],
        tokens: [Token(label: "Import from the case tracker", role: "editor", scope: "Import bundles", created: .example,
                       by: "Ana", active: true, expires: .example, state: "Revoked", revocable: true,
                       revokeAction: "/editor/tokens/6F9619FF-8B86-D011-B42D-00C04FC964FF/revoke")],
        mailPending: 2, mailFailed: 0, mailSent: 31, reports: 1204)

    /// An admin sees every token; a publisher the ones they made.
    static func load(on db: any Database, for me: SupporterModel, strings: Strings, errors: [String] = [], now: Date = Date(), zone: TimeZone) async throws -> EditorPage {
        let admin = me.roles.contains(.admin)
        var query = APITokenModel.query(on: db).sort(\.$createdAt, .descending).limit(500)
        if !admin { query = query.filter(\.$createdBy == me.id!) }
        let tokens = try await query.all()
        let makers = try await SupporterModel.query(on: db).filter(\.$id ~~ tokens.compactMap(\.createdBy)).all()
        let names = Dictionary(uniqueKeysWithValues: makers.map { ($0.id!, $0.displayName) })
        let sql = db as! any SQLDatabase
        var mail: [String: Int] = [:]
        let dayAgo = now.addingTimeInterval(-86_400)
        for row in try await sql.raw("""
            SELECT status, COUNT(*) AS n FROM mail_outbox WHERE status <> 'sent' OR sent_at > \(bind: dayAgo) GROUP BY status
            """).all() {
            mail[try row.decode(column: "status", as: String.self)] = try row.decode(column: "n", as: Int.self)
        }
        return EditorPage(
            errors: errors,
            tokens: tokens.map { t in
                let expired = t.expiresAt.map { $0 <= now } ?? false
                return Token(label: t.label ?? "—", role: t.role, scope: strings["editor_scope_\(t.scope)"], created: Moment(t.createdAt, zone: zone),
                             by: t.createdBy.flatMap { names[$0] } ?? strings["editor_by_cli"], active: t.revokedAt == nil && !expired,
                             expires: t.expiresAt.map { Moment($0, zone: zone) },
                             state: strings[t.revokedAt != nil ? "editor_token_revoked" : "editor_token_expired"],
                             revocable: t.revokedAt == nil && t.createdBy != nil && (admin || t.createdBy == me.id),
                             revokeAction: Endpoint(.revokeToken, [t.id!.uuidString]).path)
            },
            mailPending: mail["pending", default: 0] + mail["sending", default: 0], mailFailed: mail["failed", default: 0],
            mailSent: mail["sent", default: 0], reports: try await ReportTotals.grandTotal(on: db))
    }
}
