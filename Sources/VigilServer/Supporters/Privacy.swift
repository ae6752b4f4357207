import Fluent
import Foundation
import SQLKit
import Vapor
import VigilCore

/// "Download my data", "delete my account", the privacy page, and the retention rule that
/// makes old action reports anonymous.
struct PrivacyController: UsesServices {
    let services: VigilServices

    func register(_ r: Router) {
        r.on(.privacy, use: privacy)
        r.on(.accountExport, use: export)
        r.on(.accountDeleteForm, use: deleteForm)
        r.on(.accountDelete, use: delete)
    }

    var pages: PrivatePage { PrivatePage(views: views, strings: strings, auth: auth) }

    func privacy(req: Request) async throws -> Response {
        try pages.render(req, "privacy", title: strings["privacy_title"],
                         content: PrivacyPage(retention: req.application.vigil.reportRetentionMonths, version: PrivacyNotice.version))
    }

    /// Everything linked to the account, as JSON.
    func export(req: Request) async throws -> Response {
        guard let me = req.currentSession else { throw Abort.redirect(to: Endpoint.loginForm.path) }
        let s = me.supporter
        let iso = ISO8601DateFormatter()
        let sessions = try await SessionModel.query(on: req.db).filter(\.$supporterID == s.id!).all()
        let follows = try await FollowModel.query(on: req.db).filter(\.$supporterID == s.id!).all()
        let reports = try await ActionReportModel.query(on: req.db).filter(\.$supporterID == s.id!).all()
        let mail = try await OutboxMessageModel.query(on: req.db).filter(\.$toAddress == s.email).all()
        let exporter = s.id!
        try await req.db.writeTransaction { db in
            try await Audit.record("data.exported", actor: .account(exporter), subject: "account:" + exporter.uuidString.lowercased(),
                                   detail: ["format": "vigil.personal-data/1"], on: db)
        }
        var account = JSONObjectBuilder()
        account.set("email", s.email); account.set("display_name", s.displayName); account.set("country", s.country)
        account.set("language", s.language); account.set("role", s.role); account.set("time_zone", s.timeZone); account.set("created_at", iso.string(from: s.createdAt))
        account.set("email_verified_at", s.emailVerifiedAt.map(iso.string(from:)))
        let value: JSONValue = .object([
            "format": .string("vigil.personal-data/1"),
            "account": account.value,
            "sessions": .array(sessions.map { .object(["device": .string($0.device), "created_at": .string(iso.string(from: $0.createdAt)),
                                                       "last_seen_at": .string(iso.string(from: $0.lastSeenAt))]) }),
            "follows": .array(follows.map { .object(["kind": .string($0.subjectKind), "value": .string($0.subjectValue),
                                                     "frequency": .string($0.digest ? "weekly" : "each"),
                                                     "language": $0.language.map { .string($0) } ?? .null,
                                                     "since": .string(iso.string(from: $0.createdAt)),
                                                     "consent": EmailFollows.consentJSON(text: $0.consentText, version: $0.consentVersion, at: $0.consentAt)]) }),
            // Follows of cases by this address without the account (before it, or beside it).
            "email_follows": try await EmailFollows.export(email: s.email, on: req.db)["email_follows"] ?? .array([]),
            "action_reports": .array(reports.map { r in
                var o = JSONObjectBuilder()
                o.set("document", r.documentID); o.set("target", r.targetID); o.set("channel", r.channel)
                o.set("reported_at", iso.string(from: r.createdAt))
                return o.value
            }),
            "mail": .array(mail.map { .object(["subject": .string($0.subject), "status": .string($0.status),
                                               "queued_at": .string(iso.string(from: $0.createdAt))]) }),
        ])
        return Response(status: .ok, headers: ["Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store",
                                               "Content-Disposition": "attachment; filename=\"my-vigil-data.json\""],
                        body: .init(string: value.serialized()))
    }

    func deleteForm(req: Request) async throws -> Response {
        guard req.currentSession != nil else { throw Abort.redirect(to: Endpoint.loginForm.path) }
        return try pages.render(req, "account-delete", title: strings["delete_title"], content: AccountDeletePage())
    }

    struct DeleteForm: Content { var csrf: String?; var password: String? }

    func delete(req: Request) async throws -> Response {
        guard let me = req.currentSession else { throw Abort.redirect(to: Endpoint.loginForm.path) }
        let form = try req.content.decode(DeleteForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        // The one limited re-authentication: a stolen session cannot guess the password here either.
        guard try await passwords.reauthenticate(req, me, form.password) else {
            return try pages.render(req, "account-delete", title: strings["delete_title"], status: .unauthorized,
                                    content: AccountDeletePage(errors: [strings["delete_wrong_password"]]))
        }
        // The organisation's last admin cannot leave it without one.
        if me.supporter.roles.contains(.admin), try await !NewsroomAccounts.hasOtherAdmin(than: me.supporter.id!, on: req.db) {
            return try pages.render(req, "account-delete", title: strings["delete_title"], status: .conflict,
                                    content: AccountDeletePage(errors: [strings["delete_last_admin"]]))
        }
        try await Self.erase(supporter: me.supporter, on: req.db)
        req.securityLog.record("account.erased", account: me.supporter.id, ["by": "owner"])
        let r = try pages.message(req, title: strings["delete_done_title"], text: strings["delete_done_text"])
        r.cookies[auth.sessionCookie] = auth.cookie("", maxAge: 0)
        r.headers.replaceOrAdd(name: "Clear-Site-Data", value: "\"cookies\"")
        return r
    }

    /// Erases a supporter's personal data everywhere; their action reports stay, anonymous, so
    /// counts stay. The API tokens they made are revoked (and no longer name them); mail to every
    /// address the account ever had goes. On SQLite the freed pages are overwritten
    /// (`secure_delete`) and the journal is checkpointed, so the file keeps no copy of the address.
    static func erase(supporter: SupporterModel, on db: any Database) async throws {
        let id = supporter.id!, email = supporter.email
        try await db.writeTransaction { db in
            try await ActionReportModel.query(on: db).filter(\.$supporterID == id).set(\.$supporterID, to: nil).update()
            try await SessionModel.query(on: db).filter(\.$supporterID == id).delete()
            try await AuthTokenModel.query(on: db).filter(\.$supporterID == id).delete()
            try await FollowModel.query(on: db).filter(\.$supporterID == id).delete()
            try await APIToken.revoke(madeBy: id, on: db)
            try await APITokenModel.query(on: db).filter(\.$createdBy == id).set(\.$createdBy, to: nil).update()
            if supporter.emailVerifiedAt != nil {
                // Whoever erases a confirmed account owns its address: its e-mail follows and
                // every mail to it go too.
                try await EmailFollowModel.query(on: db).filter(\.$email == email).delete()
                try await OutboxMessageModel.query(on: db).group(.or) { $0.filter(\.$toAddress == email).filter(\.$supporterID == id) }.delete()
            } else {
                // Nobody proved the address of an unconfirmed account (anyone can sign up with
                // someone else's): only what the account itself made goes, never the e-mail
                // follows or mail of the address's real owner.
                try await OutboxMessageModel.query(on: db).filter(\.$supporterID == id).delete()
            }
            try await SupporterModel.query(on: db).filter(\.$id == id).delete()
            // By id only: the audit log never holds the address, so it survives the erasure unchanged.
            try await Audit.record("account.erased", actor: .system, subject: "account:" + id.uuidString.lowercased(), on: db)
        }
        if db.isSQLite, let sql = db as? any SQLDatabase {
            // Best effort: a reader holding an old snapshot makes the checkpoint partial; the next one finishes it.
            _ = try? await sql.raw("PRAGMA wal_checkpoint(TRUNCATE)").all()
        }
    }

    /// Makes action reports older than `months` anonymous. Returns how many.
    @discardableResult
    static func applyRetention(months: Int, on db: any Database, now: Date = Date()) async throws -> Int {
        guard months > 0 else { return 0 }
        let cutoff = Calendar(identifier: .gregorian).date(byAdding: .month, value: -months, to: now) ?? now
        return try await db.writeTransaction { db in
            let old = try await ActionReportModel.query(on: db).filter(\.$supporterID != nil).filter(\.$createdAt < cutoff).count()
            try await ActionReportModel.query(on: db).filter(\.$supporterID != nil).filter(\.$createdAt < cutoff).set(\.$supporterID, to: nil).update()
            return old
        }
    }
}

/// The privacy notice (`/privacy`) in force. Consent records name its version: raise it whenever
/// the notice's words change, so that each consent says which words it was given under.
enum PrivacyNotice {
    static let version = "2026-1"
}
