import Fluent
import Foundation
import Vapor
import VigilCore

/// Making newsroom accounts and changing their roles: one implementation for the admin's page
/// and for `vigil user`. Every change is audited; a change of roles ends the account's sessions
/// (the next log-in gets the new role's rules), and losing the roles that publish revokes the
/// API tokens the account made.
enum NewsroomAccounts {
    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    /// Sets `roles` on the account at `email`; refuses to leave the organisation without an admin.
    static func setRoles(email: String, roles: Set<NewsroomRole>, by actor: AuditActor, log: SecurityLog?,
                         on db: any Database) async throws -> (SupporterModel, revoked: Int) {
        try await db.writeTransaction { db in
            guard let s = try await SupporterModel.query(on: db).filter(\.$email == email.lowercased()).first() else {
                throw Problem(description: "There is no account with the address \(email).")
            }
            return try await setRoles(s, roles: roles, by: actor, log: log, inTransaction: db)
        }
    }

    /// Whether an admin other than `account` can still manage accounts: one holding the role
    /// with a password (an invited admin who never chose one cannot yet). The one "last admin"
    /// rule, for role changes and for erasing one's own account. On the command line an admin
    /// still to choose a password counts (`withPassword: false`): the server's operator is
    /// setting accounts up and can always make another.
    static func hasOtherAdmin(than account: UUID, withPassword: Bool = true, on db: any Database) async throws -> Bool {
        try await SupporterModel.query(on: db).filter(\.$role, .custom("LIKE"), "%admin%").filter(\.$id != account).all()
            .contains { $0.roles.contains(.admin) && (!withPassword || $0.passwordHash != nil) }
    }

    static func setRoles(_ s: SupporterModel, roles: Set<NewsroomRole>, by actor: AuditActor, log: SecurityLog?,
                         inTransaction db: any Database) async throws -> (SupporterModel, revoked: Int) {
        let before = s.roles
        if before == roles { return (s, 0) }
        if before.contains(.admin), !roles.contains(.admin) {
            if try await !hasOtherAdmin(than: s.id!, withPassword: actor != .commandLine, on: db) {
                throw Problem(description: "This is the last admin: make another account admin first, so that someone can still manage accounts.")
            }
        }
        s.setRoles(roles); s.updatedAt = Date()
        try await s.update(on: db)
        try await SessionModel.query(on: db).filter(\.$supporterID == s.id!).delete()
        var revoked = 0
        if !roles.contains(.publisher) { revoked = try await APIToken.revoke(madeBy: s.id!, on: db) }
        let subject = "account:\(s.id!.uuidString.lowercased())"
        try await Audit.record("role.changed", actor: actor, subject: subject,
                               detail: ["from": NewsroomRole.stored(before), "to": NewsroomRole.stored(roles), "tokens_revoked": String(revoked)], on: db)
        log?.record("account.role-changed", account: s.id, ["role": s.role, "tokens_revoked": String(revoked)])
        return (s, revoked)
    }

    /// The invitation's address and name, cleaned, or what is wrong with them.
    static func check(email raw: String, name: String, roles: Set<NewsroomRole>) throws -> (email: String, name: String) {
        let email = raw.trimmingCharacters(in: .whitespaces).lowercased()
        if let p = EmailAddress.problem(email) { throw Problem(description: "The e-mail address \(p).") }
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= 80, !name.hasControlCharacter else {
            throw Problem(description: "Give the person's name, in at most 80 characters.")
        }
        guard !roles.isEmpty else { throw Problem(description: "Give at least one role: editor, publisher or admin.") }
        return (email, name)
    }

    /// Makes an account with `roles` at `email`, or gives them to the account already there.
    /// A new account gets a link to choose its password (valid 72 hours), mailed and returned
    /// (the command line prints it); an existing one is told by mail of its new roles.
    static func invite(email raw: String, name: String, roles: Set<NewsroomRole>, language: String = "en", by actor: AuditActor,
                       mailer: Mailer, url: @escaping @Sendable (Endpoint) -> String, log: SecurityLog?,
                       on db: any Database) async throws -> (created: Bool, link: String?) {
        let (email, name) = try check(email: raw, name: name, roles: roles)
        return try await db.writeTransaction { db in
            // An existing, confirmed account with a password gets the roles. One nobody confirmed
            // (anyone can sign up with any address) is taken over by the invitation: its password,
            // pending links and sessions are dropped, and the address gets the link to choose one.
            if let s = try await SupporterModel.query(on: db).filter(\.$email == email).first(), s.emailVerifiedAt != nil, s.passwordHash != nil {
                if s.roles.union(roles) == s.roles { return (false, nil) }
                _ = try await setRoles(s, roles: s.roles.union(roles), by: actor, log: log, inTransaction: db)
                try await mailer.enqueue("newsroom_roles", to: s.email, language: s.language,
                                         values: ["name": s.displayName, "roles": NewsroomRole.stored(s.roles), "url": url(.newsroom)],
                                         supporter: s.id, on: db)
                return (false, nil)
            }
            let row: SupporterModel
            if let unconfirmed = try await SupporterModel.query(on: db).filter(\.$email == email).first() {
                row = unconfirmed
                row.displayName = name; row.passwordHash = nil; row.emailVerifiedAt = nil
                row.totpSecret = nil; row.totpEnrolledAt = nil; row.totpLastStep = nil
                row.setRoles(row.roles.union(roles)); row.updatedAt = Date()
                try await row.update(on: db)
                try await AuthTokenModel.query(on: db).filter(\.$supporterID == row.id!).delete()
                try await SessionModel.query(on: db).filter(\.$supporterID == row.id!).delete()
                try await RecoveryCodeModel.query(on: db).filter(\.$supporterID == row.id!).delete()
            } else {
                row = SupporterModel()
                row.email = email; row.displayName = name; row.language = language; row.setRoles(roles)
                row.createdAt = Date(); row.updatedAt = row.createdAt
                try await row.create(on: db)
            }
            let link = try await passwordLink(for: row.id!, url: url, on: db)
            try await mailer.enqueue("newsroom_invite", to: email, language: language,
                                     values: ["name": name, "roles": NewsroomRole.stored(roles), "url": link], supporter: row.id, on: db)
            try await Audit.record("account.created", actor: actor, subject: "account:\(row.id!.uuidString.lowercased())",
                                   detail: ["roles": NewsroomRole.stored(roles)], on: db)
            log?.record("account.created", account: row.id, ["role": row.role])
            return (true, link)
        }
    }

    /// A single-use link to choose a password, valid 72 hours.
    static func passwordLink(for id: UUID, url: @Sendable (Endpoint) -> String, on db: any Database) async throws -> String {
        let token = Auth.randomToken()
        let t = AuthTokenModel()
        t.tokenHash = Auth.hash(token); t.supporterID = id; t.purpose = "reset"
        t.expiresAt = Date().addingTimeInterval(72 * 3600)
        try await t.create(on: db)
        return url(.withToken(.passwordResetForm, token))
    }

    /// Forgets an account's second factor and its password (an admin's reset): audited, its
    /// sessions and tokens end, and the owner gets a link to choose a password, after which
    /// they set up a new second factor.
    static func resetSecondFactor(email: String? = nil, id: UUID? = nil, by actor: AuditActor, mailer: Mailer,
                                  url: @escaping @Sendable (Endpoint) -> String, log: SecurityLog?,
                                  on db: any Database) async throws -> SupporterModel {
        try await db.writeTransaction { db in
            let found: SupporterModel?
            if let id { found = try await SupporterModel.find(id, on: db) } else {
                found = try await SupporterModel.query(on: db).filter(\.$email == (email ?? "").lowercased()).first()
            }
            guard let s = found, s.isNewsroom else { throw Problem(description: "There is no newsroom account like that.") }
            if case .account(let admin) = actor, admin == s.id {
                throw Problem(description: "Ask another admin to reset your own second factor.")
            }
            let had = s.hasSecondFactor
            try await SecondFactor.clear(s, on: db)
            try await Audit.record("second-factor.reset", actor: actor, subject: "account:\(s.id!.uuidString.lowercased())",
                                   detail: ["was_enrolled": had ? "yes" : "no"], on: db)
            let link = try await passwordLink(for: s.id!, url: url, on: db)
            try await mailer.enqueue("second_factor_reset", to: s.email, language: s.language, values: ["name": s.displayName, "url": link],
                                     supporter: s.id, on: db)
            log?.record("second-factor.reset", account: s.id)
            return s
        }
    }
}
