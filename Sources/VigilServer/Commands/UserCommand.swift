import Fluent
import Foundation
import Vapor
import VigilCore

/// `vigil user create|role|list|reset-second-factor`: newsroom accounts from the command line —
/// the first admin, and scripts. The same rules and audit trail as the admin's page.
struct UserCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Argument(name: "action", help: "create | role | list | reset-second-factor")
        var action: String
        @Option(name: "email", help: "The account's e-mail address.")
        var email: String?
        @Option(name: "name", help: "For create: the person's name (default: the part of the address before @).")
        var name: String?
        @Option(name: "role", help: "For create and role: editor, publisher, admin, or several separated by commas (role: none takes every role away).")
        var role: String?
    }

    var help: String {
        "Newsroom accounts. `user create --email E --role editor|publisher|admin[,…] [--name N]` makes an account (or gives the roles "
            + "to the existing one) and prints a link to choose its password, valid 72 hours; `user role --email E --role R[,…]|none` sets "
            + "the roles; `user list` shows the newsroom accounts; `user reset-second-factor --email E` forgets a lost second factor. "
            + "Every change ends the account's sessions and is written to the audit log."
    }

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        let db = app.db
        let services = app.vigilServices
        do {
            switch signature.action {
            case "list":
                for s in try await SupporterModel.query(on: db).filter(\.$role != "supporter").sort(\.$email).all() where s.isNewsroom {
                    let sf = s.hasSecondFactor ? "second factor on" : "no second factor yet"
                    context.console.print("\(s.email)  \(NewsroomRole.stored(s.roles))  \(sf)\(s.emailVerifiedAt == nil ? "  (no password chosen yet)" : "")")
                }
            case "create":
                let email = try Self.email(signature.email)
                guard let raw = signature.role, let roles = NewsroomRole.parse(list: raw), !roles.isEmpty else {
                    throw CommandProblem(description: "Give --role editor, publisher or admin (several separated by commas).")
                }
                let name = signature.name ?? String(email.split(separator: "@").first ?? "")
                let (created, link) = try await NewsroomAccounts.invite(
                    email: email, name: name, roles: roles, by: .commandLine,
                    mailer: Mailer(catalogue: services.catalogue, mailFrom: services.configuration.mailFrom),
                    url: { services.url($0) }, log: app.securityLog, on: db)
                if created, let link {
                    let roles = try await SupporterModel.query(on: db).filter(\.$email == email).first()?.roles ?? roles
                    context.console.print("Invited \(email) (\(NewsroomRole.stored(roles))). To choose the password, open (once, within 72 hours):")
                    context.console.print(link)
                    context.console.output("The link is mailed to the address too. After the password, the account sets up its second factor at the first log-in.",
                                           style: .info, newLine: true)
                } else {
                    context.console.print("\(email) already had an account: it now has these roles too; its sessions have ended.")
                }
            case "role":
                let email = try Self.email(signature.email)
                guard let raw = signature.role, let roles = NewsroomRole.parse(list: raw) else {
                    throw CommandProblem(description: "Give --role editor, publisher, admin (several separated by commas) or none.")
                }
                let (s, revoked) = try await NewsroomAccounts.setRoles(email: email, roles: roles, by: .commandLine, log: app.securityLog, on: db)
                context.console.print("\(email) now has the roles: \(NewsroomRole.stored(s.roles)); its sessions have ended"
                                      + (revoked > 0 ? " and \(revoked) API token(s) it made are revoked." : "."))
            case "reset-second-factor":
                let email = try Self.email(signature.email)
                _ = try await NewsroomAccounts.resetSecondFactor(
                    email: email, by: .commandLine, mailer: Mailer(catalogue: services.catalogue, mailFrom: services.configuration.mailFrom),
                    url: { services.url($0) }, log: app.securityLog, on: db)
                context.console.print("The second factor and the password of \(email) are reset, its sessions and API tokens have ended; "
                                      + "the owner is mailed a link to choose a password, then sets up a new second factor.")
            default:
                throw CommandProblem(description: "Unknown action \"\(signature.action)\": use create, role, list or reset-second-factor.")
            }
        } catch let p as NewsroomAccounts.Problem {
            throw CommandProblem(description: p.description)
        }
    }

    static func email(_ raw: String?) throws -> String {
        guard let raw, EmailAddress.problem(raw.lowercased()) == nil else {
            throw CommandProblem(description: "Give --email with an e-mail address.")
        }
        return raw.lowercased()
    }
}
