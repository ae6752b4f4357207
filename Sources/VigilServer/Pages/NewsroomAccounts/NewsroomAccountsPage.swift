import Fluent
import Foundation
import VigilCore

/// `/newsroom/accounts` (admins): every newsroom account with its roles and second factor, a
/// form to change the roles or reset the second factor, and a form to invite someone.
struct NewsroomAccountsPage: TemplateModel {
    struct Account: Encodable, Sendable {
        var id: String
        var name: String
        var email: String
        var editor: Bool
        var publisher: Bool
        var admin: Bool
        /// In words: "editor, publisher".
        var roles: String
        /// Enrolled (with since when) or not yet.
        var secondFactor: Bool
        var since: Moment?
        /// The signed-in admin's own row: its second factor is reset by another admin.
        var me: Bool
        var rolesAction: String
        var resetAction: String
    }

    var errors: [String] = []
    var notice: String?
    var accounts: [Account]

    static let example = NewsroomAccountsPage(
        errors: ["Give the person's name, in at most 80 characters."], notice: "The roles are changed; their sessions have ended.",
        accounts: [Account(id: "6f9619ff-8b86-d011-b42d-00c04fc964ff", name: "Ana", email: "ana@example.org", editor: true, publisher: true,
                           admin: false, roles: "editor, publisher", secondFactor: true, since: .example, me: false,
                           rolesAction: "/newsroom/accounts/6f9619ff-8b86-d011-b42d-00c04fc964ff/roles",
                           resetAction: "/newsroom/accounts/6f9619ff-8b86-d011-b42d-00c04fc964ff/second-factor")])

    static func load(on db: any Database, me: UUID, strings t: Strings, errors: [String], notice: String?, zone: TimeZone) async throws -> NewsroomAccountsPage {
        let rows = try await SupporterModel.query(on: db).filter(\.$role != "supporter").sort(\.$displayName).sort(\.$email).limit(1000).all()
        return NewsroomAccountsPage(errors: errors, notice: notice, accounts: rows.filter(\.isNewsroom).map { s in
            let id = s.id!.uuidString.lowercased(), roles = s.roles
            return Account(id: id, name: s.displayName, email: s.email, editor: roles.contains(.editor), publisher: roles.contains(.publisher),
                           admin: roles.contains(.admin), roles: t.list(roles.sorted().map { t["role_\($0.rawValue)"] }),
                           secondFactor: s.hasSecondFactor, since: s.totpEnrolledAt.map { Moment($0, zone: zone) }, me: s.id == me,
                           rolesAction: Endpoint(.changeRoles, [id]).path, resetAction: Endpoint(.resetSecondFactor, [id]).path)
        })
    }
}
